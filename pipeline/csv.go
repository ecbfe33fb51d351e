package pipeline

import (
	"context"
	"fmt"
	"io"
	"iter"
	"runtime"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CSVOptions configure a CSV source. The zero value reads a comma-separated
// file with a header row, infers column types from the first 10,000 rows,
// and parses on every core.
type CSVOptions struct {
	// Schema, when set, fixes the column names and types instead of
	// inferring them. With a header row, the header's names must equal the
	// schema's, in order. Supported types: int8 to int64, uint8 to uint64,
	// float32, float64, bool, string, large_string, date32 and timestamp
	// (any unit; text with a zone offset is converted to UTC).
	Schema *arrow.Schema
	// NoHeader says the first row is data. Columns are then named
	// column_1, column_2, ... unless Schema names them.
	NoHeader bool
	// Delimiter separates fields. Zero means ','. It must be an ASCII
	// character other than '"', '\r' and '\n'.
	Delimiter rune
	// NullValues are the texts read as null, besides an empty unquoted
	// field, which is always null. A quoted field is never null. For
	// example []string{"NA", "NULL"}.
	NullValues []string
	// InferRows is how many data rows type inference looks at. Zero means
	// 10,000. A value later in the file that does not fit the inferred type
	// is a *ParseError naming the row; set Schema or raise InferRows then.
	InferRows int
	// TimestampLayouts are Go time layouts tried, after the ISO 8601 forms,
	// when inferring and parsing timestamps (for example
	// "01/02/2006 15:04"). Values without a zone are taken as UTC.
	TimestampLayouts []string
	// BatchRows is the largest number of rows in a batch. Zero means 65,536.
	// Batches are smaller at the end of the input and when rows are so long
	// that a batch would exceed 64 MiB of text.
	BatchRows int
	// Parallelism is the number of chunks parsed at once. Zero means
	// runtime.GOMAXPROCS(0).
	Parallelism int
	// MaxRecordBytes bounds the size of one record, so that a file with an
	// unterminated quote fails instead of being read into memory whole.
	// Zero means 64 MiB.
	MaxRecordBytes int
	// Allocator allocates the batches. Nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// blockSize is how much input the splitter reads at a time, and maxChunk
// the most text one chunk (one batch) holds unless a single record is
// larger.
const (
	blockSize = 8 << 20
	maxChunk  = 64 << 20
)

// CSVSource reads CSV text: RFC 4180 quoting (delimiters, quotes and newlines
// inside quoted fields), a UTF-8 byte order mark, CRLF line ends, blank lines
// (skipped), and gzip or zstd compression by file extension. The input is cut
// into chunks at record boundaries and the chunks are parsed on all cores;
// batches come out in input order.
type CSVSource struct {
	in   textInput
	opts CSVOptions

	mu     sync.Mutex // guards in and schema
	schema *arrow.Schema
}

// CSV returns a source reading the CSV file at path. A path ending in .gz or
// .zst is decompressed as it is read.
func CSV(path string, opts CSVOptions) *CSVSource {
	s := &CSVSource{opts: opts}
	s.in.init(path, nil, path)
	return s
}

// CSVReader returns a source reading CSV text from r; name identifies the
// input in errors. The reader is consumed by the first call to Batches, so
// the source can be read once.
func CSVReader(r io.Reader, name string, opts CSVOptions) *CSVSource {
	s := &CSVSource{opts: opts}
	s.in.init("", r, name)
	return s
}

// BytesRead implements ByteCounter. For a compressed file it counts
// compressed bytes.
func (s *CSVSource) BytesRead() int64 { return s.in.read.Load() }

// TotalBytes implements ByteCounter: the file's size on disk, or -1 for a
// reader.
func (s *CSVSource) TotalBytes() int64 { return s.in.total.Load() }

func (s *CSVSource) delim() (byte, error) {
	d := s.opts.Delimiter
	if d == 0 {
		return ',', nil
	}
	if d >= 0x80 || d == '"' || d == '\n' || d == '\r' {
		return 0, fmt.Errorf("pipeline: CSV delimiter %q: want an ASCII character other than a quote or a line end", d)
	}
	return byte(d), nil
}

func (s *CSVSource) parser() (*csvParser, error) {
	d, err := s.delim()
	if err != nil {
		return nil, err
	}
	p := &csvParser{delim: d}
	for _, v := range s.opts.NullValues {
		if v != "" {
			p.nulls = append(p.nulls, []byte(v))
		}
	}
	return p, nil
}

// Schema returns the explicit schema, or infers one from the first rows.
func (s *CSVSource) Schema(ctx context.Context) (*arrow.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	if s.opts.Schema != nil {
		for _, f := range s.opts.Schema.Fields() {
			if _, err := csvKind(f.Type); err != nil {
				return nil, fmt.Errorf("%s: column %q: %w", s.in.name, f.Name, err)
			}
		}
		s.schema = s.opts.Schema
		return s.schema, nil
	}
	sc, err := s.infer(ctx)
	if err != nil {
		return nil, err
	}
	s.schema = sc
	return sc, nil
}

// start reads past a byte order mark and the header, returning the header's
// fields (nil with NoHeader).
func (s *CSVSource) start(br *blockReader, p *csvParser) ([]string, error) {
	if err := br.skipBOM(); err != nil {
		return nil, s.in.ioErr(err)
	}
	if s.opts.NoHeader {
		return nil, nil
	}
	for {
		end, rows := scanRecords(br.buf, 1, p.delim)
		if rows == 1 || br.eof {
			if rows == 0 {
				end = len(br.buf)
			}
			if end == 0 {
				return nil, nil // empty input
			}
			fields, _, err := p.readRecord(br.buf[:end])
			if err != nil {
				return nil, &ParseError{Source: s.in.name, Row: 0, Offset: br.offset, Err: fmt.Errorf("header: %w", err)}
			}
			br.consume(end)
			return fields, nil
		}
		if len(br.buf) > s.maxRecord() {
			return nil, s.tooLarge(br.offset)
		}
		if err := br.more(); err != nil {
			return nil, s.in.ioErr(err)
		}
	}
}

func (s *CSVSource) maxRecord() int {
	if s.opts.MaxRecordBytes > 0 {
		return s.opts.MaxRecordBytes
	}
	return 64 << 20
}

func (s *CSVSource) tooLarge(off int64) error {
	return &ParseError{Source: s.in.name, Offset: off,
		Err: fmt.Errorf("%w: a record is longer than %d bytes (an unterminated quote?); see CSVOptions.MaxRecordBytes", ErrTooLarge, s.maxRecord())}
}

func (s *CSVSource) batchRows() int {
	if s.opts.BatchRows > 0 {
		return s.opts.BatchRows
	}
	return 65536
}

// nextChunk cuts the next chunk of whole records from br: up to want
// records, fewer at the end of input or when the text reaches maxChunk. It
// returns an empty chunk at the end of input.
func (s *CSVSource) nextChunk(br *blockReader, delim byte, want int) (data []byte, rows int, offset int64, err error) {
	for {
		end, n := scanRecords(br.buf, want, delim)
		switch {
		case n == want || (n > 0 && end >= maxChunk):
		case br.eof:
			if end < len(br.buf) {
				// The last record has no newline, or is an unterminated
				// quoted field, which the parser reports.
				end, n = len(br.buf), n+1
			}
		case n == 0 && len(br.buf) > s.maxRecord():
			return nil, 0, br.offset, s.tooLarge(br.offset)
		default:
			if err := br.more(); err != nil {
				return nil, 0, br.offset, s.in.ioErr(err)
			}
			continue
		}
		data, offset = br.buf[:end:end], br.offset
		br.consume(end)
		return data, n, offset, nil
	}
}

// names checks the header against the schema, or makes column names from
// the header.
func (s *CSVSource) names(header []string, schema *arrow.Schema) ([]string, error) {
	if schema != nil {
		if header != nil {
			if len(header) != schema.NumFields() {
				return nil, fmt.Errorf("%w: %s: header has %d columns, schema has %d", ErrSchema, s.in.name, len(header), schema.NumFields())
			}
			for i, h := range header {
				if h != schema.Field(i).Name {
					return nil, fmt.Errorf("%w: %s: header column %d is %q, schema says %q", ErrSchema, s.in.name, i+1, h, schema.Field(i).Name)
				}
			}
		}
		names := make([]string, schema.NumFields())
		for i, f := range schema.Fields() {
			names[i] = f.Name
		}
		return names, nil
	}
	seen := make(map[string]int, len(header))
	names := make([]string, len(header))
	for i, h := range header {
		if h == "" {
			h = "column_" + strconv.Itoa(i+1)
		}
		if j, dup := seen[h]; dup {
			return nil, fmt.Errorf("%w: %s: header names column %d and column %d both %q", ErrSchema, s.in.name, j+1, i+1, h)
		}
		seen[h] = i
		names[i] = h
	}
	return names, nil
}

// infer reads the header and the first InferRows rows and picks each
// column's type: the narrowest of bool, int64, float64, date32, timestamp and
// string that every non-null sampled value fits.
func (s *CSVSource) infer(ctx context.Context) (*arrow.Schema, error) {
	p, err := s.parser()
	if err != nil {
		return nil, err
	}
	r, done, err := s.in.openSample("CSV")
	if err != nil {
		return nil, err
	}
	defer done()
	br := &blockReader{r: r, size: s.in.blockBytes()}
	header, err := s.start(br, p)
	if err != nil {
		return nil, err
	}
	if header == nil && !s.opts.NoHeader {
		return nil, fmt.Errorf("%w: %s: empty input: no header to name the columns", ErrSchema, s.in.name)
	}
	want := s.opts.InferRows
	if want <= 0 {
		want = 10000
	}
	data, rows, _, err := s.nextChunk(br, p.delim, want)
	if err != nil {
		return nil, err
	}
	if header == nil {
		if rows == 0 {
			return nil, fmt.Errorf("%w: %s: empty input: nothing to infer a schema from", ErrSchema, s.in.name)
		}
		first, _, err := p.readRecord(data)
		if err != nil {
			return nil, &ParseError{Source: s.in.name, Row: 1, Offset: br.offset - int64(len(data)), Err: err}
		}
		header = make([]string, len(first))
	}
	names, err := s.names(header, nil)
	if err != nil {
		return nil, err
	}
	cols := make([]*csvCol, len(names))
	for i := range cols {
		cols[i], _ = newCSVCol(arrow.BinaryTypes.String, nil)
	}
	if _, cerr := p.parseChunk(data, names, cols, rows); cerr != nil {
		return nil, cerr.at(s.in.name, 1, br.offset-int64(len(data)))
	}
	ts := &tsParser{layouts: s.opts.TimestampLayouts}
	fields := make([]arrow.Field, len(names))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: names[i], Type: inferType(c, ts), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// inferType picks the type for a column parsed as strings.
func inferType(c *csvCol, ts *tsParser) arrow.DataType {
	isBool, isInt, isFloat, isDate, isTS := true, true, true, true, true
	zoned, naive, any := false, false, false
	for i := range c.n {
		if c.hasNull && c.valid[i>>3]&(1<<(i&7)) == 0 {
			continue
		}
		v := trimSpace(c.data[c.offs[i]:c.offs[i+1]])
		any = true
		if isBool {
			_, ok := parseBool(v)
			isBool = ok && len(v) > 1 // 1/0 alone read as integers
		}
		if isInt {
			_, err := parseInt(v)
			isInt = err == nil
		}
		if isFloat && !isInt {
			_, err := parseFloat(v)
			isFloat = err == nil
		}
		if isDate {
			_, ok := parseISODate(v)
			isDate = ok && len(v) == 10
		}
		if isTS {
			_, _, z, ok := ts.parse(v)
			isTS = ok
			zoned, naive = zoned || z, naive || !z
		}
		if !isBool && !isInt && !isFloat && !isDate && !isTS {
			break
		}
	}
	switch {
	case !any:
		return arrow.BinaryTypes.String
	case isBool:
		return arrow.FixedWidthTypes.Boolean
	case isInt:
		return arrow.PrimitiveTypes.Int64
	case isFloat:
		return arrow.PrimitiveTypes.Float64
	case isDate:
		return arrow.FixedWidthTypes.Date32
	case isTS && zoned && !naive:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case isTS && naive && !zoned:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	}
	return arrow.BinaryTypes.String
}

// csvChunk is a run of whole records and where it lies in the input.
type csvChunk struct {
	data   []byte
	rows   int   // records in data, blank lines included
	first  int64 // number of the first record, 1-based, blank lines included
	offset int64 // input offset of data[0]
}

// Batches parses the input on Parallelism goroutines and yields batches in
// input order.
func (s *CSVSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		schema, err := s.Schema(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		if err := s.stream(ctx, schema, yield); err != nil {
			yield(nil, err)
		}
	}
}

func (s *CSVSource) stream(ctx context.Context, schema *arrow.Schema, yield func(arrow.RecordBatch, error) bool) error {
	p, err := s.parser()
	if err != nil {
		return err
	}
	s.mu.Lock()
	r, closer, err := s.in.openStream("CSV")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer closer()
	br := &blockReader{r: r, size: s.in.blockBytes()}
	header, err := s.start(br, p)
	if err != nil {
		return err
	}
	if !s.opts.NoHeader && header == nil && s.opts.Schema == nil {
		return fmt.Errorf("%w: %s: empty input", ErrSchema, s.in.name)
	}
	// An explicit schema is checked against the header; an inferred one
	// was made from it.
	var names []string
	if s.opts.Schema != nil || header == nil {
		names, err = s.names(header, schema)
	} else {
		names, err = s.names(header, nil)
	}
	if err != nil {
		return err
	}
	if len(names) != schema.NumFields() {
		return fmt.Errorf("%w: %s: %d columns, schema has %d", ErrSchema, s.in.name, len(names), schema.NumFields())
	}
	mem := s.opts.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	par := s.opts.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	ts := &tsParser{layouts: s.opts.TimestampLayouts}
	want := s.batchRows()
	record := int64(1)
	next := func() (csvChunk, bool, error) {
		data, rows, off, err := s.nextChunk(br, p.delim, want)
		c := csvChunk{data: data, rows: rows, first: record, offset: off}
		record += int64(rows)
		return c, len(data) > 0, err
	}
	newParser := func() func(csvChunk) (arrow.RecordBatch, error) {
		wp := &csvParser{delim: p.delim, nulls: p.nulls}
		cols := make([]*csvCol, len(names))
		for i, f := range schema.Fields() {
			cols[i], _ = newCSVCol(f.Type, ts)
		}
		return func(c csvChunk) (arrow.RecordBatch, error) {
			n, cerr := wp.parseChunk(c.data, names, cols, c.rows)
			if cerr != nil {
				return nil, cerr.at(s.in.name, c.first, c.offset)
			}
			if n == 0 {
				return nil, nil // only blank lines
			}
			arrs := make([]arrow.Array, len(cols))
			for i, col := range cols {
				arrs[i] = col.finish(mem)
			}
			rec := array.NewRecordBatch(schema, arrs, int64(n))
			for _, a := range arrs {
				a.Release()
			}
			return rec, nil
		}
	}
	parseChunks(ctx, par, next, newParser, yield)
	return nil
}
