package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"strings"

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
	// Zero means 1<<20. A row group is held in memory, encoded and
	// compressed, until it is full.
	RowGroupRows int64
	// NoDictionary turns dictionary encoding off. By default every column
	// starts dictionary-encoded and falls back to plain encoding when its
	// dictionary grows past 1 MiB, as parquet writers usually do.
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
// dictionaries, time units and zones.
//
// Columns of a flat schema (no lists, structs or maps) are encoded
// concurrently: each column of the current row group has its own encoder
// and page buffer, and a batch's columns are handed to up to Parallelism
// goroutines. Schemas with nested columns are written column after column
// by pqarrow's own FileWriter.
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
	// dict dictionary-encodes a string or binary column itself, a row group
	// at a time (see byteDict); nil for other columns or when dictionary
	// encoding is off.
	dict *byteDict
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
	s.rgRows = s.opts.RowGroupRows
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
			c.dict = newByteDict(f.Type, props.DictionaryPageSizeLimit())
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
	defer recoverTo(&err, "parquet encoder")
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
	one := func(i int) (err error) {
		defer recoverTo(&err, "parquet encoder")
		if err := fn(i); err != nil {
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
		if c.dict.add(arr) {
			return nil
		}
		// The dictionary outgrew its limit: write the row group's values
		// so far, and all that follow, plain.
		c.plain = true
		pending := c.dict.pending
		c.dict.pending = nil
		c.dict.reset()
		cw.FallbackToPlain()
		var err error
		for _, p := range pending {
			if err == nil {
				err = c.writeArrow(cw, p)
			}
			p.Release()
		}
		return err
	}
	if c.plain {
		cw.FallbackToPlain() // a new row group's writer starts with a dictionary
	}
	return c.writeArrow(cw, arr)
}

// flush writes what the dictionary encoder holds for the row group.
func (c *parquetColumn) flush(cw file.ColumnChunkWriter) error {
	if c.dict == nil || c.plain || c.dict.rows() == 0 {
		return nil
	}
	arr := c.dict.array()
	defer arr.Release()
	var def []int16
	if c.nullable {
		def = c.dict.def
	}
	err := pqarrow.WriteArrowToColumn(c.ctx, cw, arr, def, nil, c.nullable)
	c.dict.reset()
	return err
}

// writeArrow encodes arr into its column chunk with the definition levels
// of a flat column: 1 for a value, 0 for a null, none for a required
// column.
func (c *parquetColumn) writeArrow(cw file.ColumnChunkWriter, arr arrow.Array) error {
	var def []int16
	if c.nullable {
		n := arr.Len()
		if arr.NullN() == 0 {
			if len(c.ones) < n {
				c.ones = make([]int16, n)
				for i := range c.ones {
					c.ones[i] = 1
				}
			}
			def = c.ones[:n]
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

// byteDict dictionary-encodes the values of a string or binary column for
// one row group. arrow-go's own dictionary encoder hashes each value through
// an interface and allocates on every lookup, which made string columns
// cost more than all others together; this one hashes with maphash into an
// open-addressing table over its own copy of the distinct values. At the
// end of the row group the column is handed to pqarrow as one dictionary
// array, which it writes through its direct dictionary path (dictionary
// page, then bit-packed indices). When the distinct values pass the
// dictionary page limit the encoder gives up and the column is written
// plain, as parquet writers do.
type byteDict struct {
	valueType arrow.DataType // of the dictionary: string or binary
	limit     int64          // dictionary page size limit
	size      int64          // dictionary page size so far (4+len per value)
	table     []dictSlot     // open addressing, power-of-two size
	data      []byte         // distinct values, concatenated
	offsets   []int32        // len(distinct)+1
	idx       []int32        // per row
	def       []int16        // per row: 1 value, 0 null
	nulls     int
	pending   []arrow.Array // the row group's arrays, until it is written
}

type dictSlot struct {
	hash uint32 // high bits of the hash, 0 for an empty slot's hash too
	id   int32  // value index + 1; 0 means empty
}

var dictSeed = maphash.MakeSeed()

// newByteDict returns an encoder for columns of type dt, or nil when dt is
// not a string or binary type.
func newByteDict(dt arrow.DataType, limit int64) *byteDict {
	var vt arrow.DataType
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		vt = arrow.BinaryTypes.String
	case arrow.BINARY, arrow.LARGE_BINARY:
		vt = arrow.BinaryTypes.Binary
	default:
		return nil
	}
	d := &byteDict{valueType: vt, limit: limit, table: make([]dictSlot, 1024)}
	d.reset()
	return d
}

func (d *byteDict) rows() int { return len(d.idx) }

// reset empties the encoder for the next row group.
func (d *byteDict) reset() {
	for _, p := range d.pending {
		p.Release()
	}
	d.pending = d.pending[:0]
	clear(d.table)
	d.data = d.data[:0]
	d.offsets = append(d.offsets[:0], 0)
	d.idx, d.def, d.nulls, d.size = d.idx[:0], d.def[:0], 0, 0
}

// add encodes the values of arr, a string or binary array, and keeps arr
// until the row group is written. It returns false, keeping arr all the
// same, when the dictionary passes its limit.
func (d *byteDict) add(arr arrow.Array) bool {
	arr.Retain()
	d.pending = append(d.pending, arr)
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
	for i := 0; i < n; i++ {
		if nulls && !bitutil.BitIsSet(bits, bitOff+i) {
			d.idx = append(d.idx, 0)
			d.def = append(d.def, 0)
			d.nulls++
			continue
		}
		id, ok := d.insert(values[offsets[i]:offsets[i+1]])
		if !ok {
			return false
		}
		d.idx = append(d.idx, id)
		d.def = append(d.def, 1)
	}
	return true
}

// insert returns the index of v, adding it when it is new; false when the
// dictionary would pass its limit.
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
			id := int32(len(d.offsets) - 1)
			d.data = append(d.data, v...)
			d.offsets = append(d.offsets, int32(len(d.data)))
			d.size += int64(len(v)) + 4
			d.table[p] = dictSlot{hash: tag, id: id + 1}
			if int(id+1)*2 > len(d.table) {
				d.grow()
			}
			return id, true
		}
		if s.hash == tag {
			lo, hi := d.offsets[s.id-1], d.offsets[s.id]
			if bytes.Equal(d.data[lo:hi], v) {
				return s.id - 1, true
			}
		}
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
		v := d.data[d.offsets[s.id-1]:d.offsets[s.id]]
		p := maphash.Bytes(dictSeed, v) & mask
		for d.table[p].id != 0 {
			p = (p + 1) & mask
		}
		d.table[p] = s
	}
}

// array returns the row group's values as a dictionary array over the
// encoder's buffers, which stay valid until reset.
func (d *byteDict) array() arrow.Array {
	nDict := len(d.offsets) - 1
	dictData := array.NewData(d.valueType, nDict, []*memory.Buffer{nil,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.offsets)), memory.NewBufferBytes(d.data)}, nil, 0, 0)
	defer dictData.Release()
	dict := array.MakeFromData(dictData)
	defer dict.Release()
	var validity *memory.Buffer
	if d.nulls > 0 {
		bits := make([]byte, bitutil.BytesForBits(int64(len(d.def))))
		for i, l := range d.def {
			if l != 0 {
				bitutil.SetBit(bits, i)
			}
		}
		validity = memory.NewBufferBytes(bits)
	}
	idxData := array.NewData(arrow.PrimitiveTypes.Int32, len(d.idx), []*memory.Buffer{validity,
		memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(d.idx))}, nil, d.nulls, 0)
	defer idxData.Release()
	indices := array.MakeFromData(idxData)
	defer indices.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: d.valueType}
	return array.NewDictionaryArray(dt, indices, dict)
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
	defer recoverTo(&err, "parquet encoder")
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
