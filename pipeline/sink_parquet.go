package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"golang.org/x/sync/errgroup"
)

// ParquetWriteOptions configure a Parquet sink. The zero value writes
// snappy-compressed, dictionary-encoded row groups of 1,048,576 rows, with
// one encoding goroutine per core.
type ParquetWriteOptions struct {
	// Compression names the codec of the data pages: "snappy" (the
	// default when empty), "zstd", "gzip", "lz4" (LZ4_RAW), "brotli" or
	// "none". Open fails for any other name.
	Compression string
	// CompressionLevel is passed to codecs that have levels (zstd, gzip,
	// brotli). Zero means the codec's default.
	CompressionLevel int
	// RowGroupRows is the number of rows in each row group but the last.
	// Zero means 1<<20; at most 1<<31-1 is used. A row group is held in
	// memory, encoded and compressed, until it is full.
	RowGroupRows int64
	// NoDictionary turns dictionary encoding off. By default every column
	// starts dictionary-encoded and falls back to plain encoding when its
	// dictionary grows past 1 MiB, as parquet writers do; string, binary,
	// float and 32- and 64-bit integer columns (dates, times and
	// timestamps included) then stay plain for the rest of the file.
	NoDictionary bool
	// Parallelism bounds the columns of a row group that are encoded and
	// compressed at once. Zero means runtime.GOMAXPROCS(0). Output is the
	// same byte for byte whatever its value.
	Parallelism int
	// Allocator allocates encoding buffers. Nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
}

// ParquetSink writes batches to a Parquet file through arrow-go's pqarrow
// encoders. The Arrow schema is stored in the file's metadata (as
// "ARROW:schema", like pqarrow and pyarrow do), so that a reader restores
// the exact Arrow types: unsigned and small integers, large strings,
// dictionaries, time units and zones. Three types have no Parquet
// counterpart and come back from arrow-go's reader in another unit, with
// the same values: date64 as date32, timestamp[s] as timestamp[ms] and
// time32[s] as time32[ms]. Types Parquet cannot hold at all (durations,
// intervals, unions) make Open fail, naming the column.
//
// Columns of a flat schema (no lists, structs or maps) are encoded
// concurrently: each column of the current row group has its own encoder
// and page buffer, and a batch's columns are handed to up to Parallelism
// goroutines. String, binary and integer columns are dictionary-encoded by
// the sink itself, which hashes several times faster than arrow-go's
// encoders, and handed to the column writer once per row group. A row
// group is held in memory until it is full: its compressed pages, and
// 4 bytes per row per dictionary-encoded column. The sink does not retain
// the batches it is given. Schemas with nested columns are written column
// after column by pqarrow's own FileWriter.
type ParquetSink struct {
	lc   sinkLife
	path string
	opts ParquetWriteOptions

	out     *sinkOutput
	mem     memory.Allocator
	par     int
	rgRows  int64 // RowGroupRows
	fw      *file.Writer
	rgw     file.BufferedRowGroupWriter // current row group, or nil
	rgCount int64                       // rows in rgw
	cols    []*parquetColumn

	nested *pqarrow.FileWriter // used instead of fw for nested schemas
}

// parquetColumn is the per-column state of the concurrent encoder; each is
// used by one goroutine at a time.
type parquetColumn struct {
	nullable bool
	ctx      context.Context // pqarrow write context with its scratch buffers
	def      []int16         // definition levels scratch
	ones     []int16         // all-present definition levels
	// dict dictionary-encodes the column, a row group at a time (see
	// columnDict); nil for types it does not handle, which arrow-go's
	// encoders dictionary-encode, or when dictionary encoding is off.
	dict columnDict
	// plain is set once the column's dictionary outgrew its limit: the
	// column is then written plain for the rest of the file.
	plain bool
}

// ToParquet returns a sink that writes a Parquet file to path. The file
// appears under its name only when Commit succeeds; its directory must
// exist.
func ToParquet(path string, opts ParquetWriteOptions) *ParquetSink {
	return &ParquetSink{path: path, opts: opts, lc: sinkLife{kind: "parquet sink", name: path}}
}

// parquetCodec maps a ParquetWriteOptions.Compression name to its codec.
func parquetCodec(name string) (compress.Compression, error) {
	switch strings.ToLower(name) {
	case "", "snappy":
		return compress.Codecs.Snappy, nil
	case "zstd":
		return compress.Codecs.Zstd, nil
	case "gzip":
		return compress.Codecs.Gzip, nil
	case "lz4", "lz4_raw":
		return compress.Codecs.Lz4Raw, nil
	case "brotli":
		return compress.Codecs.Brotli, nil
	case "none", "uncompressed":
		return compress.Codecs.Uncompressed, nil
	}
	return 0, fmt.Errorf("unknown compression %q: want snappy, zstd, gzip, lz4, brotli or none", name)
}

// Open checks the options and the schema and creates the temporary file.
func (s *ParquetSink) Open(ctx context.Context, schema *arrow.Schema) error {
	if err := s.lc.beginOpen(ctx, schema); err != nil {
		return err
	}
	if err := s.open(schema); err != nil {
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	s.lc.opened(schema)
	return nil
}

func (s *ParquetSink) open(schema *arrow.Schema) error {
	codec, err := parquetCodec(s.opts.Compression)
	if err != nil {
		return err
	}
	s.mem = s.opts.Allocator
	if s.mem == nil {
		s.mem = memory.DefaultAllocator
	}
	s.par = s.opts.Parallelism
	if s.par <= 0 {
		s.par = runtime.GOMAXPROCS(0)
	}
	s.rgRows = min(s.opts.RowGroupRows, math.MaxInt32)
	if s.rgRows <= 0 {
		s.rgRows = 1 << 20
	}
	level := s.opts.CompressionLevel
	if level == 0 {
		level = compress.DefaultCompressionLevel
	}
	props := parquet.NewWriterProperties(
		parquet.WithAllocator(s.mem),
		parquet.WithCompression(codec),
		parquet.WithCompressionLevel(level),
		parquet.WithDictionaryDefault(!s.opts.NoDictionary),
		parquet.WithMaxRowGroupLength(s.rgRows),
		parquet.WithCreatedBy("kiln (arrow-go parquet "+arrow.PkgVersion+")"),
	)
	arrProps := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(s.mem), pqarrow.WithStoreSchema())
	pqSchema, err := pqarrow.ToParquet(schema, props, arrProps)
	if err != nil {
		// Name the column that Parquet cannot hold.
		for _, f := range schema.Fields() {
			if _, ferr := pqarrow.ToParquet(arrow.NewSchema([]arrow.Field{f}, nil), props, arrProps); ferr != nil {
				return fmt.Errorf("%w: column %q of type %s cannot be written to Parquet: %v", ErrSchema, f.Name, f.Type, ferr)
			}
		}
		return fmt.Errorf("%w: %v", ErrSchema, err)
	}
	flat := true
	for _, f := range schema.Fields() {
		if parquetNestedType(f.Type) {
			flat = false
		}
	}

	if s.out, err = createSinkOutput(s.path, false); err != nil {
		return err
	}
	if !flat {
		s.nested, err = pqarrow.NewFileWriter(schema, s.out.w, props, arrProps)
		if err != nil {
			s.out.abort()
			return err
		}
		return nil
	}

	md := metadata.NewKeyValueMetadata()
	sm := schema.Metadata()
	for i, k := range sm.Keys() {
		md.Append(k, sm.Values()[i])
	}
	md.Append("ARROW:schema", base64.StdEncoding.EncodeToString(serializeArrowSchema(schema, s.mem)))
	s.fw, err = file.NewParquetWriterWithError(s.out.w, pqSchema.Root(), file.WithWriterProps(props), file.WithWriteMetadata(md))
	if err != nil {
		s.out.abort()
		return err
	}
	s.cols = make([]*parquetColumn, schema.NumFields())
	for i, f := range schema.Fields() {
		c := &parquetColumn{nullable: f.Nullable, ctx: pqarrow.NewArrowWriteContext(context.Background(), &arrProps)}
		if !s.opts.NoDictionary {
			c.dict = newColumnDict(f.Type, props.DictionaryPageSizeLimit(), int(s.rgRows))
		}
		s.cols[i] = c
	}
	return nil
}

// serializeArrowSchema returns the IPC form of schema that Arrow readers expect
// under the ARROW:schema key.
func serializeArrowSchema(schema *arrow.Schema, mem memory.Allocator) []byte {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	w.Close()
	return buf.Bytes()
}

// parquetNestedType reports whether values of dt span more than one Parquet leaf
// column or need repetition levels.
func parquetNestedType(dt arrow.DataType) bool {
	switch dt := dt.(type) {
	case arrow.ExtensionType:
		return parquetNestedType(dt.StorageType())
	case *arrow.DictionaryType:
		return parquetNestedType(dt.ValueType)
	case arrow.NestedType:
		return true
	}
	return false
}

// Write encodes batch into the current row group, starting a new one each
// time RowGroupRows is reached.
func (s *ParquetSink) Write(ctx context.Context, batch arrow.RecordBatch) error {
	if err := s.lc.beginWrite(ctx, batch); err != nil {
		return err
	}
	var err error
	if s.nested != nil {
		err = s.writeNested(batch)
	} else {
		err = s.write(ctx, batch)
	}
	if err != nil {
		s.release()
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	return nil
}

func (s *ParquetSink) writeNested(batch arrow.RecordBatch) (err error) {
	defer recoverEncoder(&err, "parquet encoder")
	if !batch.Schema().Equal(s.lc.schema) {
		batch = array.NewRecordBatch(s.lc.schema, batch.Columns(), batch.NumRows())
		defer batch.Release()
	}
	return s.nested.WriteBuffered(batch)
}

func (s *ParquetSink) write(ctx context.Context, batch arrow.RecordBatch) error {
	n := batch.NumRows()
	for off := int64(0); off < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.rgw == nil {
			rgw, err := s.fw.AppendBufferedRowGroupChecked()
			if err != nil {
				return err
			}
			s.rgw, s.rgCount = rgw, 0
		}
		take := min(n-off, s.rgRows-s.rgCount)
		if err := s.encode(batch, off, take); err != nil {
			return err
		}
		s.rgCount += take
		off += take
		if s.rgCount == s.rgRows {
			if err := s.closeRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeRowGroup writes the buffered dictionary columns, then closes the
// row group, which copies its column chunks to the file.
func (s *ParquetSink) closeRowGroup() error {
	err := s.eachColumn(func(i int) error {
		cw, err := s.rgw.Column(i)
		if err != nil {
			return err
		}
		return s.cols[i].flush(cw)
	})
	if err == nil {
		err = s.rgw.Close()
		s.rgw = nil
	}
	return err
}

// eachColumn calls fn for every column, Parallelism at a time, turning
// panics into errors and naming the column in errors.
func (s *ParquetSink) eachColumn(fn func(i int) error) error {
	one := func(i int) error {
		err := func() (err error) {
			defer recoverEncoder(&err, "parquet encoder")
			return fn(i)
		}()
		if err != nil {
			return fmt.Errorf("column %q: %w", s.lc.schema.Field(i).Name, err)
		}
		return nil
	}
	if s.par == 1 || len(s.cols) == 1 {
		for i := range s.cols {
			if err := one(i); err != nil {
				return err
			}
		}
		return nil
	}
	var g errgroup.Group
	g.SetLimit(s.par)
	for i := range s.cols {
		g.Go(func() error { return one(i) })
	}
	return g.Wait()
}

// encode writes rows [off, off+size) of every column into the current row
// group, Parallelism columns at a time.
func (s *ParquetSink) encode(batch arrow.RecordBatch, off, size int64) error {
	whole := off == 0 && size == batch.NumRows()
	return s.eachColumn(func(i int) error {
		cw, err := s.rgw.Column(i)
		if err != nil {
			return err
		}
		arr := batch.Column(i)
		if !whole {
			arr = array.NewSlice(arr, off, off+size)
			defer arr.Release()
		}
		return s.cols[i].write(cw, arr)
	})
}

// write encodes arr into the column chunk, or buffers it in the column's
// dictionary encoder.
func (c *parquetColumn) write(cw file.ColumnChunkWriter, arr arrow.Array) error {
	if c.dict != nil && !c.plain {
		rows := c.dict.rowState()
		before := len(rows.idx)
		if c.dict.add(arr) {
			return nil
		}
		// The dictionary outgrew its limit: write the row group's values
		// so far, and all that follow, plain. The values so far are
		// rebuilt from the dictionary, a bounded slice at a time.
		consumed := len(rows.idx) - before
		c.plain = true
		cw.FallbackToPlain()
		const chunk = 1 << 16
		for from := 0; from < len(rows.idx); from += chunk {
			prev := c.dict.plainRows(from, min(from+chunk, len(rows.idx)))
			err := c.writeArrow(cw, prev)
			prev.Release()
			if err != nil {
				return err
			}
		}
		c.dict.reset()
		rest := array.NewSlice(arr, int64(consumed), int64(arr.Len()))
		defer rest.Release()
		return c.writeArrow(cw, rest)
	}
	if c.plain {
		cw.FallbackToPlain() // a new row group's writer starts with a dictionary
	}
	return c.writeArrow(cw, arr)
}

// flush writes what the dictionary encoder holds for the row group.
func (c *parquetColumn) flush(cw file.ColumnChunkWriter) error {
	if c.dict == nil || c.plain || len(c.dict.rowState().idx) == 0 {
		return nil
	}
	defer c.dict.reset()
	arr := c.dict.array()
	defer arr.Release()
	var def []int16
	if c.nullable {
		def = c.dict.rowState().levels(c.allPresent(len(c.dict.rowState().idx)))
	}
	if ok, err := writeDictDirect(cw, arr, def, c.dict.rowState().pageRows(cw.Properties().DataPageSize())); ok || err != nil {
		return err
	}
	return pqarrow.WriteArrowToColumn(c.ctx, cw, arr, def, nil, c.nullable)
}

// dictPutter is the part of arrow-go's parquet dictionary encoders that
// seeds them with a whole dictionary.
type dictPutter interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// pageFlusher is the part of arrow-go's column writers that ends the
// current data page.
type pageFlusher interface {
	FlushCurrentPage() error
}

// writeDictDirect writes a dictionary array whose every entry is used and
// distinct, as pqarrow's direct dictionary path does, with two differences
// that matter for speed. It skips the hash pass over the indices that
// pqarrow makes to find the entries the statistics must cover (here: all of
// them). And it ends a data page every pageRows rows: the column writer
// sizes pages by the raw bytes its own encoder saw, which are none here, so
// it would otherwise keep the whole row group as one page and encode it
// only when the row group is closed, on one goroutine. Page headers carry
// the counts of their rows; the dictionary's minimum and maximum, which are
// those of the chunk, go with the first page.
//
// It reports false, having written nothing, when the column writer is not
// dictionary-encoding.
func writeDictDirect(cw file.ColumnChunkWriter, arr *array.Dictionary, def []int16, pageRows int) (bool, error) {
	enc := cw.CurrentEncoder()
	if enc == nil || (enc.Encoding() != parquet.Encodings.PlainDict && enc.Encoding() != parquet.Encodings.RLEDict) {
		return false, nil
	}
	put, ok := enc.(dictPutter)
	if !ok || put.NumEntries() != 0 {
		return false, nil
	}
	dict, indices := arr.Dictionary(), arr.Indices()
	if err := put.PutDictionary(dict); err != nil {
		return true, err
	}
	if put.NumEntries() != dict.Len() {
		return true, fmt.Errorf("dictionary of %d values became %d entries", dict.Len(), put.NumEntries())
	}
	flusher, _ := cw.(pageFlusher)
	n := indices.Len()
	if flusher == nil || pageRows <= 0 {
		pageRows = n
	}
	for start := 0; start < n; start += pageRows {
		end := min(start+pageRows, n)
		chunk := indices
		if start > 0 || end < n {
			chunk = array.NewSlice(indices, int64(start), int64(end))
		}
		err := writeDictPage(cw, dict, chunk, def, start, end)
		if chunk != indices {
			chunk.Release()
		}
		if err == nil && flusher != nil && end < n {
			err = flusher.FlushCurrentPage()
		}
		if err != nil {
			return true, err
		}
	}
	return true, nil
}

// writeDictPage writes rows [start, end) of a dictionary column, whose
// indices are chunk, and counts them in the page statistics.
func writeDictPage(cw file.ColumnChunkWriter, dict, chunk arrow.Array, def []int16, start, end int) error {
	if st := cw.PageStatistics(); st != nil {
		st.IncNulls(int64(chunk.NullN()))
		st.IncNumValues(int64(chunk.Len() - chunk.NullN()))
		if start == 0 {
			if err := st.UpdateFromArrow(dict, false); err != nil {
				return err
			}
		}
	}
	if def != nil {
		def = def[start:end]
	}
	return cw.WriteDictIndices(chunk, def, nil)
}

// writeArrow encodes arr into its column chunk with the definition levels
// of a flat column: 1 for a value, 0 for a null, none for a required
// column.
func (c *parquetColumn) writeArrow(cw file.ColumnChunkWriter, arr arrow.Array) error {
	var def []int16
	if c.nullable {
		n := arr.Len()
		if arr.NullN() == 0 {
			def = c.allPresent(n)
		} else {
			if cap(c.def) < n {
				c.def = make([]int16, n)
			}
			def = c.def[:n]
			if arr.DataType().ID() == arrow.NULL {
				clear(def)
			} else {
				bits, offset := arr.NullBitmapBytes(), arr.Data().Offset()
				for i := range def {
					if bitutil.BitIsSet(bits, offset+i) {
						def[i] = 1
					} else {
						def[i] = 0
					}
				}
			}
		}
	}
	return pqarrow.WriteArrowToColumn(c.ctx, cw, arr, def, nil, c.nullable)
}

// columnDict dictionary-encodes one column for one row group. arrow-go's
// own dictionary encoders hash each value through interfaces (and, for
// strings, allocate on every lookup), which made dictionary encoding the
// larger part of the cost of writing Parquet; these hash into an
// open-addressing table over their own copy of the distinct values. At the
// end of the row group the column is handed to the column writer as one
// dictionary array (see writeDictDirect): dictionary page, then bit-packed
// indices. When the distinct values pass the dictionary page limit the
// encoder gives up and the column is written plain, as parquet writers do.
type columnDict interface {
	// add encodes the values of arr. It returns false when the dictionary
	// would pass its limit, having encoded the rows before the one that
	// did not fit.
	add(arr arrow.Array) bool
	// plainRows returns rows [from, to) of the row group so far as a plain
	// array of the column's physical values.
	plainRows(from, to int) arrow.Array
	// rowState returns the row state shared by the encoders.
	rowState() *dictRows
	// array returns the row group's values as a dictionary array over the
	// encoder's buffers, which stay valid until reset.
	array() *array.Dictionary
	// reset empties the encoder for the next row group.
	reset()
}

// dictRows is what every columnDict keeps per row of the row group.
type dictRows struct {
	rowGroup int     // rows in a full row group
	limit    int64   // dictionary page size limit
	size     int64   // dictionary page size so far
	raw      int64   // bytes of the values as plain encoding would write them
	idx      []int32 // per row: index of the value (0 for a null)
	nulls    []int32 // rows that are null
}

func (r *dictRows) rowState() *dictRows { return r }

func (r *dictRows) resetRows() {
	r.idx, r.nulls, r.size, r.raw = r.idx[:0], r.nulls[:0], 0, 0
}

// pageRows returns the rows of a data page of about pageSize raw bytes,
// the size arrow-go's own encoders aim at.
func (r *dictRows) pageRows(pageSize int64) int {
	if r.raw <= 0 || pageSize <= 0 {
		return len(r.idx)
	}
	return max(1, int(int64(len(r.idx))*pageSize/r.raw))
}

// reserve makes room for n more rows, growing to whole row groups at once
// rather than by appends.
func (r *dictRows) reserve(n, rowGroup int) {
	if need := len(r.idx) + n; need > cap(r.idx) {
		c := max(need, min(rowGroup, 1<<20), 2*cap(r.idx))
		idx := make([]int32, len(r.idx), c)
		copy(idx, r.idx)
		r.idx = idx
	}
}

// levels returns the definition levels of the row group: ones, zeros
// where rows are null.
func (r *dictRows) levels(ones []int16) []int16 {
	def := ones[:len(r.idx)]
	if len(r.nulls) == 0 {
		return def
	}
	def = make([]int16, len(r.idx))
	for i := range def {
		def[i] = 1
	}
	for _, i := range r.nulls {
		def[i] = 0
	}
	return def
}

// validity returns the validity bitmap of rows [from, to), or nil when
// none of them is null.
func (r *dictRows) validity(from, to int) (*memory.Buffer, int) {
	lo, _ := slices.BinarySearch(r.nulls, int32(from))
	hi, _ := slices.BinarySearch(r.nulls, int32(to))
	if lo == hi {
		return nil, 0
	}
	bits := make([]byte, bitutil.BytesForBits(int64(to-from)))
	bitutil.SetBitsTo(bits, 0, int64(to-from), true)
	for _, i := range r.nulls[lo:hi] {
		bitutil.ClearBit(bits, int(i)-from)
	}
	return memory.NewBufferBytes(bits), hi - lo
}

// indices returns the row indices as an Int32 array over r.idx.
func (r *dictRows) indices() arrow.Array {
	var validity *memory.Buffer
	if len(r.nulls) > 0 {
		bits := make([]byte, bitutil.BytesForBits(int64(len(r.idx))))
		bitutil.SetBitsTo(bits, 0, int64(len(r.idx)), true)
		for _, i := range r.nulls {
			bitutil.ClearBit(bits, int(i))
		}
		validity = memory.NewBufferBytes(bits)
	}
	data := array.NewData(arrow.PrimitiveTypes.Int32, len(r.idx), []*memory.Buffer{validity,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(r.idx))}, nil, len(r.nulls), 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// dictionaryOf wraps indices and dictionary values in a dictionary array.
func dictionaryOf(indices arrow.Array, values arrow.ArrayData) *array.Dictionary {
	defer indices.Release()
	dict := array.MakeFromData(values)
	defer dict.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: values.DataType()}
	return array.NewDictionaryArray(dt, indices, dict)
}

// newColumnDict returns an encoder for columns of type dt, or nil for
// types it does not handle (those are left to arrow-go's encoders). Only
// types whose Parquet physical values are their Arrow values are handled.
func newColumnDict(dt arrow.DataType, limit int64, rowGroup int) columnDict {
	d := newColumnDictOf(dt, limit)
	if d != nil {
		d.rowState().rowGroup = rowGroup
	}
	return d
}

func newColumnDictOf(dt arrow.DataType, limit int64) columnDict {
	switch dt := dt.(type) {
	case *arrow.StringType, *arrow.LargeStringType:
		return newByteDict(arrow.BinaryTypes.String, limit)
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return newByteDict(arrow.BinaryTypes.Binary, limit)
	case *arrow.Int64Type, *arrow.Time64Type:
		return newFixedDict[int64](arrow.PrimitiveTypes.Int64, limit)
	case *arrow.TimestampType:
		if dt.Unit != arrow.Second { // seconds are written as milliseconds
			return newFixedDict[int64](arrow.PrimitiveTypes.Int64, limit)
		}
	case *arrow.Int32Type, *arrow.Date32Type:
		return newFixedDict[int32](arrow.PrimitiveTypes.Int32, limit)
	case *arrow.Float64Type:
		// Floats are kept by their bits (so NaN payloads and -0 survive):
		// the same table as int64, over the same 8-byte buffer.
		return newFixedDict[int64](arrow.PrimitiveTypes.Float64, limit)
	case *arrow.Float32Type:
		return newFixedDict[int32](arrow.PrimitiveTypes.Float32, limit)
	}
	return nil
}

// allPresent returns n definition levels of 1.
func (c *parquetColumn) allPresent(n int) []int16 {
	if len(c.ones) < n {
		c.ones = make([]int16, n)
		for i := range c.ones {
			c.ones[i] = 1
		}
	}
	return c.ones[:n]
}

// byteDict is the columnDict of string and binary columns.
type byteDict struct {
	dictRows
	valueType arrow.DataType // of the dictionary: string or binary
	table     []dictSlot     // values of 8 bytes or more, by maphash
	short     []shortSlot    // values of up to 7 bytes, by their bytes
	shortN    int            // entries in short
	shift     uint           // 64 - log2(len(short))
	data      []byte         // distinct values, concatenated
	offsets   []int32        // len(distinct)+1
}

// shortSlot holds a value of up to 7 bytes packed with its length.
type shortSlot struct {
	key uint64 // bytes, little-endian, and (length+1)<<56; 0 means empty
	id  int32
}

type dictSlot struct {
	hash uint32 // high bits of the value's hash
	id   int32  // value index + 1; 0 means empty
}

var dictSeed = maphash.MakeSeed()

func newByteDict(vt arrow.DataType, limit int64) *byteDict {
	d := &byteDict{valueType: vt, table: make([]dictSlot, 1024), short: make([]shortSlot, 1024), shift: 64 - 10}
	d.limit = limit
	d.reset()
	return d
}

func (d *byteDict) reset() {
	d.resetRows()
	clear(d.table)
	clear(d.short)
	d.shortN = 0
	d.data = d.data[:0]
	d.offsets = append(d.offsets[:0], 0)
}

func (d *byteDict) add(arr arrow.Array) bool {
	var values []byte
	if b := arr.Data().Buffers()[2]; b != nil {
		values = b.Bytes()
	}
	switch a := arr.(type) {
	case *array.String:
		return addByteValues(d, arr, values, a.ValueOffsets())
	case *array.Binary:
		return addByteValues(d, arr, values, a.ValueOffsets())
	case *array.LargeString:
		return addByteValues(d, arr, values, a.ValueOffsets())
	case *array.LargeBinary:
		return addByteValues(d, arr, values, a.ValueOffsets())
	}
	return false
}

func addByteValues[T int32 | int64](d *byteDict, arr arrow.Array, values []byte, offsets []T) bool {
	n := arr.Len()
	nulls := arr.NullN() > 0
	bits, bitOff := arr.NullBitmapBytes(), arr.Data().Offset()
	d.reserve(n, d.rowGroup)
	for i := 0; i < n; i++ {
		if nulls && !bitutil.BitIsSet(bits, bitOff+i) {
			d.nulls = append(d.nulls, int32(len(d.idx)))
			d.idx = append(d.idx, 0)
			continue
		}
		start, end := int(offsets[i]), int(offsets[i+1])
		var id int32
		var ok bool
		if l := end - start; l < 8 {
			// Load the value as one word where the buffer allows.
			var key uint64
			if start+8 <= len(values) {
				key = binary.LittleEndian.Uint64(values[start:]) & (1<<(8*l) - 1)
			} else {
				for j, c := range values[start:end] {
					key |= uint64(c) << (8 * j)
				}
			}
			id, ok = d.insertShort(key|uint64(l+1)<<56, values[start:end])
		} else {
			id, ok = d.insert(values[start:end])
		}
		if !ok {
			return false
		}
		d.idx = append(d.idx, id)
		d.raw += int64(end-start) + 4
	}
	return true
}

// insert returns the index of v, a value of 8 bytes or more, adding it
// when it is new; false when the dictionary would pass its limit.
func (d *byteDict) insert(v []byte) (int32, bool) {
	h := maphash.Bytes(dictSeed, v)
	tag := uint32(h >> 32)
	mask := uint64(len(d.table) - 1)
	for p := h & mask; ; p = (p + 1) & mask {
		s := d.table[p]
		if s.id == 0 {
			if d.size+int64(len(v))+4 > d.limit || len(d.data)+len(v) > math.MaxInt32 {
				return 0, false
			}
			id := d.appendValue(v)
			d.table[p] = dictSlot{hash: tag, id: id + 1}
			if (int(id)+1-d.shortN)*2 > len(d.table) {
				d.grow()
			}
			return id, true
		}
		if s.hash == tag {
			if bytes.Equal(d.data[d.offsets[s.id-1]:d.offsets[s.id]], v) {
				return s.id - 1, true
			}
		}
	}
}

// appendValue adds v to the distinct values and returns its index.
func (d *byteDict) appendValue(v []byte) int32 {
	id := int32(len(d.offsets) - 1)
	d.data = append(d.data, v...)
	d.offsets = append(d.offsets, int32(len(d.data)))
	d.size += int64(len(v)) + 4
	return id
}

// insertShort is insert for values v of up to 7 bytes, which are compared
// and hashed as one integer: key holds the bytes, little-endian, and
// len(v)+1 in its top byte, so that it is never 0.
func (d *byteDict) insertShort(key uint64, v []byte) (int32, bool) {
	mask := uint64(len(d.short) - 1)
	for p := (key * 0x9E3779B97F4A7C15) >> d.shift; ; p = (p + 1) & mask {
		s := d.short[p]
		if s.key == key {
			return s.id, true
		}
		if s.key == 0 {
			if d.size+int64(len(v))+4 > d.limit {
				return 0, false
			}
			id := d.appendValue(v)
			d.short[p] = shortSlot{key: key, id: id}
			d.shortN++
			if d.shortN*2 > len(d.short) {
				d.growShort()
			}
			return id, true
		}
	}
}

// growShort doubles the table of short values.
func (d *byteDict) growShort() {
	old := d.short
	d.short = make([]shortSlot, 2*len(old))
	d.shift--
	mask := uint64(len(d.short) - 1)
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		p := (s.key * 0x9E3779B97F4A7C15) >> d.shift
		for d.short[p].key != 0 {
			p = (p + 1) & mask
		}
		d.short[p] = s
	}
}

// grow doubles the table.
func (d *byteDict) grow() {
	old := d.table
	d.table = make([]dictSlot, 2*len(old))
	mask := uint64(len(d.table) - 1)
	for _, s := range old {
		if s.id == 0 {
			continue
		}
		p := maphash.Bytes(dictSeed, d.data[d.offsets[s.id-1]:d.offsets[s.id]]) & mask
		for d.table[p].id != 0 {
			p = (p + 1) & mask
		}
		d.table[p] = s
	}
}

func (d *byteDict) plainRows(from, to int) arrow.Array {
	offsets := make([]int32, 1, to-from+1)
	var data []byte
	for _, id := range d.idx[from:to] {
		// Null rows hold index 0, whose value is harmless filler; an empty
		// dictionary only has null rows.
		if len(d.offsets) > 1 {
			data = append(data, d.data[d.offsets[id]:d.offsets[id+1]]...)
		}
		offsets = append(offsets, int32(len(data)))
	}
	valid, nulls := d.validity(from, to)
	values := array.NewData(d.valueType, to-from, []*memory.Buffer{valid,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data)}, nil, nulls, 0)
	defer values.Release()
	return array.MakeFromData(values)
}

func (d *byteDict) array() *array.Dictionary {
	values := array.NewData(d.valueType, len(d.offsets)-1, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.offsets)), memory.NewBufferBytes(d.data)}, nil, 0, 0)
	defer values.Release()
	return dictionaryOf(d.indices(), values)
}

// fixedDict is the columnDict of 32- and 64-bit integer columns (and the
// time types stored as such), and of float columns, whose values it keys by
// their bits.
type fixedDict[T int32 | int64] struct {
	dictRows
	valueType arrow.DataType // Int32, Int64, Float32 or Float64
	shift     uint           // 64 - log2(len(table))
	table     []int32        // value index + 1; 0 means empty
	values    []T            // distinct values
}

func newFixedDict[T int32 | int64](vt arrow.DataType, limit int64) *fixedDict[T] {
	d := &fixedDict[T]{valueType: vt, table: make([]int32, 1024), shift: 64 - 10}
	d.limit = limit
	d.reset()
	return d
}

func (d *fixedDict[T]) reset() {
	d.resetRows()
	clear(d.table)
	d.values = d.values[:0]
}

func (d *fixedDict[T]) add(arr arrow.Array) bool {
	n := arr.Len()
	if n == 0 {
		return true
	}
	off := arr.Data().Offset()
	vals := arrow.GetData[T](arr.Data().Buffers()[1].Bytes())[off : off+n]
	nulls := arr.NullN() > 0
	bits := arr.NullBitmapBytes()
	width := int64(unsafe.Sizeof(T(0)))
	nullsBefore := len(d.nulls)
	d.reserve(n, d.rowGroup)
	for i, v := range vals {
		if nulls && !bitutil.BitIsSet(bits, off+i) {
			d.nulls = append(d.nulls, int32(len(d.idx)))
			d.idx = append(d.idx, 0)
			continue
		}
		h := uint64(v) * 0x9E3779B97F4A7C15
		p := h >> d.shift
		mask := uint64(len(d.table) - 1)
		var id int32
		for {
			e := d.table[p]
			if e == 0 {
				if d.size+width > d.limit {
					return false
				}
				id = int32(len(d.values))
				d.values = append(d.values, v)
				d.size += width
				d.table[p] = id + 1
				if len(d.values)*2 > len(d.table) {
					d.grow()
				}
				break
			}
			if d.values[e-1] == v {
				id = e - 1
				break
			}
			p = (p + 1) & mask
		}
		d.idx = append(d.idx, id)
	}
	d.raw += int64(n-(len(d.nulls)-nullsBefore)) * width
	return true
}

// grow doubles the table.
func (d *fixedDict[T]) grow() {
	d.table = make([]int32, 2*len(d.table))
	d.shift--
	mask := uint64(len(d.table) - 1)
	for i, v := range d.values {
		p := (uint64(v) * 0x9E3779B97F4A7C15) >> d.shift
		for d.table[p] != 0 {
			p = (p + 1) & mask
		}
		d.table[p] = int32(i + 1)
	}
}

func (d *fixedDict[T]) plainRows(from, to int) arrow.Array {
	out := make([]T, to-from)
	if len(d.values) > 0 {
		for i, id := range d.idx[from:to] {
			out[i] = d.values[id]
		}
	}
	valid, nulls := d.validity(from, to)
	values := array.NewData(d.valueType, to-from, []*memory.Buffer{valid, memory.NewBufferBytes(arrow.GetBytes(out))}, nil, nulls, 0)
	defer values.Release()
	return array.MakeFromData(values)
}

func (d *fixedDict[T]) array() *array.Dictionary {
	values := array.NewData(d.valueType, len(d.values), []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.GetBytes(d.values))}, nil, 0, 0)
	defer values.Release()
	return dictionaryOf(d.indices(), values)
}

// Commit finishes the last row group, writes the footer and renames the
// file to its final name. A failed Commit removes the temporary file.
func (s *ParquetSink) Commit(ctx context.Context) error {
	if err := s.lc.beginCommit(ctx); err != nil {
		if s.lc.state == sinkOpen {
			s.release()
			s.lc.failed(err)
		}
		return err
	}
	if err := s.finish(); err != nil {
		s.release()
		return s.lc.failed(s.lc.errorf("commit: %w", err))
	}
	if err := s.out.commit(); err != nil {
		return s.lc.failed(s.lc.errorf("commit: %w", err))
	}
	s.lc.state = sinkCommitted
	return nil
}

// finish closes the row group and the Parquet writer, which writes the
// footer into the output buffer.
func (s *ParquetSink) finish() (err error) {
	defer recoverEncoder(&err, "parquet encoder")
	if s.nested != nil {
		err = s.nested.Close()
		s.nested = nil
		return err
	}
	if s.rgw != nil {
		if err = s.closeRowGroup(); err != nil {
			return err
		}
	}
	err = s.fw.Close()
	s.fw = nil
	return err
}

// Abort removes the temporary file and releases the encoders' memory. It
// may be called after a failed Open, Write or Commit.
func (s *ParquetSink) Abort() error {
	if ok, err := s.lc.beginAbort(); !ok {
		return err
	}
	return s.release()
}

// release discards the output and frees what the encoders hold: the
// writers are closed into a discarded buffer so that their pages and
// dictionaries go back to the allocator.
func (s *ParquetSink) release() error {
	err := s.out.abort()
	func() {
		defer func() { recover() }()
		if s.nested != nil {
			s.nested.Close()
			s.nested = nil
		}
		if s.rgw != nil {
			for i := range s.cols {
				if cw, err := s.rgw.Column(i); err == nil {
					cw.Close()
				}
			}
			s.rgw.Close()
			s.rgw = nil
		}
		if s.fw != nil {
			s.fw.Close()
			s.fw = nil
		}
	}()
	for _, c := range s.cols {
		if c.dict != nil {
			c.dict.reset()
		}
	}
	s.cols = nil
	return err
}
