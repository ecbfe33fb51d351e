package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetOptions configure a Parquet source. The zero value reads every
// column, decoding as many row groups at once as there are cores.
type ParquetOptions struct {
	// Columns, when set, reads only these top-level columns, in this order.
	// A name the file does not have is an error that lists the names it has.
	Columns []string
	// BatchRows is the largest number of rows in a batch. Zero means 65,536.
	// A batch never spans two row groups, so batches are smaller at the end
	// of each row group. A power of two is read as one row less (65,535),
	// which spares arrow-go's Parquet reader from doubling its buffers.
	BatchRows int
	// Parallelism is the number of row groups decoded at once, which also
	// bounds memory: no more than Parallelism row groups are decoded ahead
	// of the consumer. Zero means runtime.GOMAXPROCS(0).
	Parallelism int
	// Allocator allocates the batches. Nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// ParquetSource reads a Parquet file through arrow-go's pqarrow. Column types
// come from the Arrow schema stored in the file when there is one (so a
// column written as large_string or dictionary comes back as such) and from
// the Parquet logical types otherwise. Dictionary-encoded string and binary
// columns come out as plain arrays unless the stored schema says dictionary;
// the source reads their indices and decodes the values itself, which is
// faster than pqarrow's per-value path. Row groups are decoded concurrently
// and batches come out in file order.
//
// Parquet needs random access, so the file must be uncompressed on disk
// (Parquet compresses its pages itself); a .parquet.gz path is an error.
type ParquetSource struct {
	path string // the file's path, or the name given to ParquetReaderAt
	opts ParquetOptions

	// ra, when set, holds the file's bytes instead of path, and size is
	// their length.
	ra   io.ReaderAt
	size int64

	mu     sync.Mutex
	schema *arrow.Schema

	read  atomic.Int64
	total atomic.Int64

	// ahead counts the row groups started and not yet consumed by the last
	// call to Batches, and maxAhead its highest value (for tests).
	ahead, maxAhead atomic.Int64
}

// Parquet returns a source reading the Parquet file at path.
func Parquet(path string, opts ParquetOptions) *ParquetSource {
	s := &ParquetSource{path: path, opts: opts}
	s.total.Store(-1)
	return s
}

// ParquetReaderAt returns a source reading a Parquet file of size bytes
// through r, which must be safe for concurrent ReadAt calls (as *os.File,
// *bytes.Reader and io.SectionReader are): row groups are read at once by
// several goroutines. name identifies the file in errors. The source reads
// nothing until Schema or Batches is called, and may be read more than
// once; r must stay readable meanwhile.
func ParquetReaderAt(name string, r io.ReaderAt, size int64, opts ParquetOptions) *ParquetSource {
	s := &ParquetSource{path: name, opts: opts, ra: r, size: size}
	s.total.Store(-1)
	return s
}

// BytesRead implements ByteCounter: the bytes read from the file so far,
// metadata included.
func (s *ParquetSource) BytesRead() int64 { return s.read.Load() }

// TotalBytes implements ByteCounter: the file's size, once Schema or Batches
// has opened it, and -1 before.
func (s *ParquetSource) TotalBytes() int64 { return s.total.Load() }

// countingFile is a file read at offsets that adds the bytes it reads to n.
type countingFile struct {
	f *os.File
	n *atomic.Int64
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	k, err := c.f.ReadAt(p, off)
	c.n.Add(int64(k))
	return k, err
}

func (c countingFile) Read(p []byte) (int, error) {
	k, err := c.f.Read(p)
	c.n.Add(int64(k))
	return k, err
}

func (c countingFile) Seek(off int64, whence int) (int64, error) { return c.f.Seek(off, whence) }

// countingSection is countingFile for the bytes of a ParquetReaderAt.
type countingSection struct {
	r *io.SectionReader
	n *atomic.Int64
}

func (c countingSection) ReadAt(p []byte, off int64) (int, error) {
	k, err := c.r.ReadAt(p, off)
	c.n.Add(int64(k))
	return k, err
}

func (c countingSection) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

// openRandomAccess opens an uncompressed file for a format that needs
// random access.
func openRandomAccess(path, format string, counter *atomic.Int64, total *atomic.Int64) (*os.File, error) {
	if c := compression(path); c != "" {
		return nil, fmt.Errorf("pipeline: %s: %s files cannot be read %s-compressed: the format needs random access; decompress the file first", path, format, c)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("pipeline: open %s: is a directory", path)
	}
	total.Store(st.Size())
	return f, nil
}

func (s *ParquetSource) mem() memory.Allocator {
	if s.opts.Allocator != nil {
		return s.opts.Allocator
	}
	return memory.DefaultAllocator
}

// batchRows is the batch size asked of pqarrow. A power of two is lowered by
// one row: pqarrow sizes its buffers to the next power of two above what a
// batch may need, which for a batch of exactly 2^k rows is 2^(k+1), and
// reading 65,535 rows instead of 65,536 cuts the bytes allocated by a third.
func (s *ParquetSource) batchRows() int64 {
	n := int64(65536)
	if s.opts.BatchRows > 0 {
		n = int64(s.opts.BatchRows)
	}
	if n > 2 && n&(n-1) == 0 {
		n--
	}
	return n
}

func (s *ParquetSource) parallelism() int {
	if s.opts.Parallelism > 0 {
		return s.opts.Parallelism
	}
	return runtime.GOMAXPROCS(0)
}

// parquetFile is an open Parquet file with its projection resolved.
type parquetFile struct {
	f      *os.File // nil for a ParquetReaderAt
	pf     *file.Reader
	fr     *pqarrow.FileReader
	leaves []int         // leaf column indices to read, in output order
	schema *arrow.Schema // the schema of the batches the source yields
	// restamp is set when the reader's batches carry field metadata that
	// schema drops, or dictionary columns to decode, so batches are rebuilt
	// with schema.
	restamp bool
	// dict marks the output columns read as dictionaries and decoded to
	// plain strings or binaries.
	dict []bool
	mem  memory.Allocator
}

func (p *parquetFile) Close() error {
	if p.f == nil {
		return nil
	}
	return p.f.Close()
}

// input opens the bytes of the file for the Parquet reader; f is nil for a
// ParquetReaderAt.
func (s *ParquetSource) input() (parquet.ReaderAtSeeker, *os.File, error) {
	if s.ra != nil {
		s.total.Store(s.size)
		return countingSection{io.NewSectionReader(s.ra, 0, s.size), &s.read}, nil, nil
	}
	f, err := openRandomAccess(s.path, "Parquet", &s.read, &s.total)
	if err != nil {
		return nil, nil, err
	}
	return countingFile{f, &s.read}, f, nil
}

// open opens the file and resolves the projection. parallel makes pqarrow
// decode a row group's columns concurrently.
func (s *ParquetSource) open(parallel bool) (*parquetFile, error) {
	in, f, err := s.input()
	if err != nil {
		return nil, err
	}
	p := &parquetFile{f: f}
	mem := s.mem()
	pf, err := file.NewParquetReader(in, file.WithReadProps(parquet.NewReaderProperties(mem)))
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pipeline: %s: not a readable Parquet file: %w", s.path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: s.batchRows(), Parallel: parallel}, mem)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pipeline: %s: %w", s.path, err)
	}
	full, err := fr.Schema()
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("pipeline: %s: %w", s.path, err)
	}
	p.pf, p.fr, p.mem = pf, fr, mem
	fields := fr.Manifest.Fields
	order := make([]int, 0, len(fields))
	if len(s.opts.Columns) == 0 {
		for i := range fields {
			order = append(order, i)
		}
	} else {
		seen := make(map[string]bool, len(s.opts.Columns))
		for _, name := range s.opts.Columns {
			if seen[name] {
				p.Close()
				return nil, fmt.Errorf("pipeline: %s: column %q is listed twice in ParquetOptions.Columns", s.path, name)
			}
			seen[name] = true
			idx := full.FieldIndices(name)
			if len(idx) == 0 {
				p.Close()
				return nil, fmt.Errorf("%w: %s: no column %q; the file has %s", ErrSchema, s.path, name, fieldNames(full))
			}
			order = append(order, idx[0])
		}
	}
	out := make([]arrow.Field, 0, len(order))
	p.dict = make([]bool, len(order))
	for j, i := range order {
		p.leaves = appendLeaves(p.leaves, &fields[i])
		fd := full.Field(i)
		if stripped, changed := stripFieldID(fd.Metadata); changed {
			fd.Metadata = stripped
			p.restamp = true
		}
		if readAsDict(pf, &fields[i]) {
			p.dict[j] = true
			p.restamp = true
		}
		out = append(out, fd)
	}
	if len(p.leaves) == 0 {
		p.Close()
		return nil, fmt.Errorf("%w: %s: the file has no columns to read", ErrSchema, s.path)
	}
	md := full.Metadata()
	p.schema = arrow.NewSchema(out, &md)
	return p, nil
}

// readAsDict reports whether a column is better read as a dictionary and
// decoded afterwards, and if so makes the reader do so. That is the case for
// a top-level string or binary column whose first row group is dictionary
// encoded: pqarrow then decodes only the indices, and decodeDict turns them
// into plain values several times faster than pqarrow's own per-value
// appends.
func readAsDict(pf *file.Reader, field *pqarrow.SchemaField) bool {
	if !field.IsLeaf() || pf.NumRowGroups() == 0 {
		return false
	}
	var value arrow.DataType
	switch field.Field.Type.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		value = arrow.BinaryTypes.String
	case arrow.BINARY, arrow.LARGE_BINARY:
		value = arrow.BinaryTypes.Binary
	default:
		return false
	}
	cc, err := pf.MetaData().RowGroup(0).ColumnChunk(field.ColIndex)
	if err != nil || !slices.ContainsFunc(cc.Encodings(), func(e parquet.Encoding) bool {
		return e == parquet.Encodings.RLEDict || e == parquet.Encodings.PlainDict
	}) {
		return false
	}
	// The manifest's field decides which record reader pqarrow makes;
	// replace it with a copy rather than change the schema it points into.
	f := *field.Field
	f.Type = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: value}
	field.Field = &f
	return true
}

// decodeDict turns a dictionary array of strings or binaries into a plain
// array of type typ (string, large_string, binary or large_binary).
func decodeDict(mem memory.Allocator, arr arrow.Array, typ arrow.DataType) (arrow.Array, error) {
	d, ok := arr.(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("%w: expected a dictionary array, got %s", ErrParse, arr.DataType())
	}
	idxArr, ok := d.Indices().(*array.Int32)
	if !ok {
		return nil, fmt.Errorf("%w: dictionary indices of type %s", ErrParse, d.Indices().DataType())
	}
	var offs []int32
	var data []byte
	switch v := d.Dictionary().(type) {
	case *array.String:
		offs, data = v.ValueOffsets(), v.ValueBytes()
	case *array.Binary:
		offs, data = v.ValueOffsets(), v.ValueBytes()
	default:
		return nil, fmt.Errorf("%w: dictionary values of type %s", ErrParse, v.DataType())
	}
	n := idxArr.Len()
	idx := idxArr.Int32Values()
	ndict := int32(len(offs) - 1)
	base := offs[0]
	hasNulls := arr.NullN() > 0
	var total int64
	for i, k := range idx {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		if k < 0 || k >= ndict {
			return nil, fmt.Errorf("%w: dictionary index %d out of range [0, %d)", ErrParse, k, ndict)
		}
		total += int64(offs[k+1] - offs[k])
	}
	large := typ.ID() == arrow.LARGE_STRING || typ.ID() == arrow.LARGE_BINARY
	if !large && total > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d bytes of strings in one batch overflow %s offsets; lower BatchRows", ErrTooLarge, total, typ)
	}
	width := 4
	if large {
		width = 8
	}
	offBuf := memory.NewResizableBuffer(mem)
	offBuf.Resize((n + 1) * width)
	dataBuf := memory.NewResizableBuffer(mem)
	dataBuf.Resize(int(total))
	out := dataBuf.Bytes()
	var pos int64
	if large {
		o := arrow.Int64Traits.CastFromBytes(offBuf.Bytes())
		for i, k := range idx {
			o[i] = pos
			if hasNulls && arr.IsNull(i) {
				continue
			}
			pos += int64(copy(out[pos:], data[offs[k]-base:offs[k+1]-base]))
		}
		o[n] = pos
	} else {
		o := arrow.Int32Traits.CastFromBytes(offBuf.Bytes())
		for i, k := range idx {
			o[i] = int32(pos)
			if hasNulls && arr.IsNull(i) {
				continue
			}
			pos += int64(copy(out[pos:], data[offs[k]-base:offs[k+1]-base]))
		}
		o[n] = int32(pos)
	}
	var valid *memory.Buffer
	if hasNulls {
		valid = memory.NewResizableBuffer(mem)
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		ad := arr.Data()
		bitutil.CopyBitmap(ad.Buffers()[0].Bytes(), ad.Offset(), n, valid.Bytes(), 0)
	}
	ad := array.NewData(typ, n, []*memory.Buffer{valid, offBuf, dataBuf}, nil, arr.NullN(), 0)
	defer ad.Release()
	offBuf.Release()
	dataBuf.Release()
	if valid != nil {
		valid.Release()
	}
	return array.MakeFromData(ad), nil
}

// appendLeaves appends the leaf column indices under field.
func appendLeaves(dst []int, field *pqarrow.SchemaField) []int {
	if field.IsLeaf() {
		return append(dst, field.ColIndex)
	}
	for i := range field.Children {
		dst = appendLeaves(dst, &field.Children[i])
	}
	return dst
}

// stripFieldID drops the "PARQUET:field_id" entry pqarrow adds to every
// field when the file assigns no field ID (-1), so that a Parquet column has
// the same schema as the same column from any other source.
func stripFieldID(md arrow.Metadata) (arrow.Metadata, bool) {
	i := md.FindKey("PARQUET:field_id")
	if i < 0 || md.Values()[i] != "-1" {
		return md, false
	}
	var keys, vals []string
	for j, k := range md.Keys() {
		if j != i {
			keys = append(keys, k)
			vals = append(vals, md.Values()[j])
		}
	}
	return arrow.NewMetadata(keys, vals), true
}

// fieldNames lists a schema's column names for an error message.
func fieldNames(s *arrow.Schema) string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = fmt.Sprintf("%q", f.Name)
	}
	if len(names) == 0 {
		return "no columns"
	}
	return strings.Join(names, ", ")
}

// Schema reads the file's footer and returns the schema of the selected
// columns.
func (s *ParquetSource) Schema(ctx context.Context) (*arrow.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := s.open(false)
	if err != nil {
		return nil, err
	}
	p.Close()
	s.schema = p.schema
	return s.schema, nil
}

// rgItem is one batch, or the error that ended a row group.
type rgItem struct {
	rec arrow.RecordBatch
	err error
}

// Batches yields the file's batches in order. Up to Parallelism row groups
// are decoded concurrently, each by its own goroutine; a row group's slot is
// freed when the consumer has taken its last batch.
func (s *ParquetSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		s.read.Store(0)
		par := s.parallelism()
		p, err := s.open(false)
		if err != nil {
			yield(nil, err)
			return
		}
		nrg := p.pf.NumRowGroups()
		// With fewer row groups than workers, decode each row group's
		// columns concurrently instead.
		p.fr.Props.Parallel = nrg < par
		defer p.Close()
		s.mu.Lock()
		if s.schema == nil {
			s.schema = p.schema
		}
		s.mu.Unlock()
		s.stream(ctx, p, nrg, par, yield)
	}
}

func (s *ParquetSource) stream(ctx context.Context, p *parquetFile, nrg, par int, yield func(arrow.RecordBatch, error) bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.ahead.Store(0)
	s.maxAhead.Store(0)
	batch := s.batchRows()
	md := p.pf.MetaData()
	results := make([]chan rgItem, nrg)
	for i := range results {
		n := md.RowGroup(i).NumRows()
		results[i] = make(chan rgItem, (n+batch-1)/batch+1)
	}
	slots := make(chan struct{}, par)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // dispatcher: start row groups in order as slots free up
		defer wg.Done()
		for i := range nrg {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if n := s.ahead.Add(1); n > s.maxAhead.Load() {
				s.maxAhead.Store(n)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(results[i])
				s.decodeRowGroup(ctx, p, i, results[i])
			}()
		}
	}()
	defer func() {
		// Stop the workers and release whatever they decoded ahead.
		cancel()
		wg.Wait()
		for _, ch := range results {
			drainItems(ch)
		}
	}()
	for i := range nrg {
		for it := range results[i] {
			if it.err != nil {
				yield(nil, it.err)
				return
			}
			if err := ctx.Err(); err != nil {
				it.rec.Release()
				yield(nil, err)
				return
			}
			if !yield(it.rec, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
			return
		}
		s.ahead.Add(-1)
		<-slots
	}
}

// rebuild makes a batch of p.schema from one the reader made: the same
// columns, with dictionary columns decoded.
func (p *parquetFile) rebuild(rec arrow.RecordBatch) (arrow.RecordBatch, error) {
	cols := slices.Clone(rec.Columns())
	var made []arrow.Array
	defer func() {
		for _, a := range made {
			a.Release()
		}
	}()
	for j, c := range cols {
		if !p.dict[j] {
			continue
		}
		a, err := decodeDict(p.mem, c, p.schema.Field(j).Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", p.schema.Field(j).Name, err)
		}
		made = append(made, a)
		cols[j] = a
	}
	return array.NewRecordBatch(p.schema, cols, rec.NumRows()), nil
}

// drainItems releases the batches left in a channel whose writers are done.
func drainItems(ch chan rgItem) {
	for {
		select {
		case it, ok := <-ch:
			if !ok {
				return
			}
			if it.rec != nil {
				it.rec.Release()
			}
		default:
			return
		}
	}
}

// decodeRowGroup reads row group i into out, which has room for all its
// batches and an error.
func (s *ParquetSource) decodeRowGroup(ctx context.Context, p *parquetFile, i int, out chan<- rgItem) {
	fail := func(err error) {
		out <- rgItem{err: fmt.Errorf("pipeline: %s: row group %d: %w", s.path, i, err)}
	}
	defer func() {
		if r := recover(); r != nil {
			fail(fmt.Errorf("%w: %v", ErrParse, r))
		}
	}()
	if ctx.Err() != nil {
		return
	}
	rr, err := p.fr.GetRecordReader(ctx, p.leaves, []int{i})
	if err != nil {
		fail(err)
		return
	}
	defer rr.Release()
	for rr.Next() {
		if ctx.Err() != nil {
			return
		}
		rec := rr.RecordBatch()
		if p.restamp {
			var err error
			if rec, err = p.rebuild(rec); err != nil {
				fail(err)
				return
			}
		} else {
			rec.Retain()
		}
		out <- rgItem{rec: rec}
	}
	if err := rr.Err(); err != nil && !errors.Is(err, context.Canceled) {
		fail(err)
	}
}
