package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"runtime"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// NDJSONOptions configure an NDJSON source. The zero value infers the
// schema from the first 1,000 lines and parses on every core.
type NDJSONOptions struct {
	// Schema, when set, fixes the columns instead of inferring them. Keys
	// are matched to columns by name; a missing key or a JSON null is a
	// null. Supported types: int8 to int64, uint8 to uint64, float32,
	// float64, bool, string, large_string, binary, large_binary (from JSON
	// strings), date32, date64 and timestamp (any unit; text with a zone
	// offset is converted to UTC, text without one is taken as UTC).
	Schema *arrow.Schema
	// InferRows is how many lines schema inference looks at. Zero means
	// 1,000. Columns are named by the keys seen in those lines, in the order
	// they first appear, and typed as the narrowest of int64, float64, bool,
	// date32, timestamp[us] and string that fits every non-null value.
	// Strings that are all ISO dates become date32; strings that are all ISO
	// timestamps become timestamp[us], with time zone "UTC" when every one
	// carries an offset (a mix of zoned and naive stays string). Nested
	// objects and arrays, and columns that mix kinds of JSON values, become
	// string columns holding the JSON text. A column that is always null in
	// the sample is a string column.
	InferRows int
	// RejectUnknownKeys makes a key that is not a column (with an inferred
	// schema: a key first seen after the sample) a *ParseError. By default
	// such keys are skipped, their values still checked to be valid JSON.
	RejectUnknownKeys bool
	// BatchRows is the largest number of rows in a batch. Zero means 65,536.
	// Batches are smaller at the end of the input and when lines are so
	// long that a batch would exceed 64 MiB of text.
	BatchRows int
	// Parallelism is the number of chunks of lines parsed at once. Zero
	// means runtime.GOMAXPROCS(0).
	Parallelism int
	// MaxLineBytes bounds the length of one line, so that a file without
	// line breaks fails instead of being read into memory whole. Zero means
	// 64 MiB. A longer line is an error wrapping ErrTooLarge.
	MaxLineBytes int
	// Allocator allocates the batches. Nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// NDJSONSource reads newline-delimited JSON: one JSON object per line (JSON
// Lines). Blank lines are skipped; a line that is not an object, a value of
// the wrong type, a key that appears twice in one object and invalid UTF-8
// are *ParseError values whose Row is the 1-based line number. Files ending
// in .gz or .zst are decompressed as they are read. Chunks of lines are
// parsed on all cores; batches come out in input order.
type NDJSONSource struct {
	in   textInput
	opts NDJSONOptions

	mu     sync.Mutex // guards in and schema
	schema *arrow.Schema
}

// NDJSON returns a source reading the NDJSON file at path. A path ending in
// .gz or .zst is decompressed as it is read.
func NDJSON(path string, opts NDJSONOptions) *NDJSONSource {
	s := &NDJSONSource{opts: opts}
	s.in.init(path, nil, path)
	return s
}

// NDJSONReader returns a source reading NDJSON from r; name identifies the
// input in errors. The reader is consumed by the first call to Batches, so
// the source can be read once.
func NDJSONReader(r io.Reader, name string, opts NDJSONOptions) *NDJSONSource {
	s := &NDJSONSource{opts: opts}
	s.in.init("", r, name)
	return s
}

// BytesRead implements ByteCounter. For a compressed file it counts
// compressed bytes.
func (s *NDJSONSource) BytesRead() int64 { return s.in.read.Load() }

// TotalBytes implements ByteCounter: the file's size on disk, or -1 for a
// reader.
func (s *NDJSONSource) TotalBytes() int64 { return s.in.total.Load() }

func (s *NDJSONSource) maxLine() int {
	if s.opts.MaxLineBytes > 0 {
		return s.opts.MaxLineBytes
	}
	return 64 << 20
}

func (s *NDJSONSource) batchRows() int {
	if s.opts.BatchRows > 0 {
		return s.opts.BatchRows
	}
	return 65536
}

// Schema returns the explicit schema, or infers one from the first lines.
func (s *NDJSONSource) Schema(ctx context.Context) (*arrow.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	if s.opts.Schema != nil {
		if _, err := newNDLayout(s.opts.Schema); err != nil {
			return nil, fmt.Errorf("%s: %w", s.in.name, err)
		}
		s.schema = s.opts.Schema
		return s.schema, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc, err := s.infer()
	if err != nil {
		return nil, err
	}
	s.schema = sc
	return sc, nil
}

// lineReader cuts input into chunks of whole lines.
type lineReader struct {
	br      blockReader
	line    int64 // 1-based number of the next line
	maxLine int
	bomDone bool
	name    string
}

// next returns up to want lines (fewer at the end of input or when the text
// reaches maxChunk), the number of the first and the input offset of the
// chunk. It returns an empty chunk at the end of input.
func (lr *lineReader) next(want int) (data []byte, first int64, n int, offset int64, err error) {
	br := &lr.br
	if !lr.bomDone {
		if err := br.skipBOM(); err != nil {
			return nil, 0, 0, 0, lr.ioErr(err)
		}
		lr.bomDone = true
	}
	end := 0 // length of the n whole lines found so far in br.buf
	for {
		for n < want && end < maxChunk {
			i := bytes.IndexByte(br.buf[end:], '\n')
			if i < 0 {
				break
			}
			if i > lr.maxLine {
				return nil, 0, 0, 0, lr.tooLarge(lr.line+int64(n), br.offset+int64(end))
			}
			end += i + 1
			n++
		}
		if n == want || end >= maxChunk {
			break
		}
		if br.eof {
			if end < len(br.buf) { // a last line without a newline
				if len(br.buf)-end > lr.maxLine {
					return nil, 0, 0, 0, lr.tooLarge(lr.line+int64(n), br.offset+int64(end))
				}
				end, n = len(br.buf), n+1
			}
			break
		}
		if len(br.buf)-end > lr.maxLine {
			return nil, 0, 0, 0, lr.tooLarge(lr.line+int64(n), br.offset+int64(end))
		}
		if err := br.more(); err != nil {
			return nil, 0, 0, 0, lr.ioErr(err)
		}
	}
	data, first, offset = br.buf[:end:end], lr.line, br.offset
	br.consume(end)
	lr.line += int64(n)
	return data, first, n, offset, nil
}

func (lr *lineReader) tooLarge(line, off int64) error {
	return &ParseError{Source: lr.name, Row: line, Offset: off,
		Err: fmt.Errorf("%w: a line is longer than %d bytes; see NDJSONOptions.MaxLineBytes", ErrTooLarge, lr.maxLine)}
}

func (lr *lineReader) ioErr(err error) error {
	return fmt.Errorf("pipeline: read %s: %w", lr.name, err)
}

// infer reads the first InferRows lines and derives a schema. The caller
// holds s.mu.
func (s *NDJSONSource) infer() (*arrow.Schema, error) {
	r, done, err := s.in.openSample("NDJSON")
	if err != nil {
		return nil, err
	}
	defer done()
	want := s.opts.InferRows
	if want <= 0 {
		want = 1000
	}
	lr := &lineReader{br: blockReader{r: r, size: min(s.in.blockBytes(), 1<<20)}, line: 1, maxLine: s.maxLine(), name: s.in.name}
	var inf ndInferrer
	inf.index = map[string]int{}
	for seen := 0; seen < want; {
		data, first, n, off, err := lr.next(want - seen)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		seen += n
		for ln := range n {
			i := bytes.IndexByte(data, '\n')
			line := data
			if i >= 0 {
				line, data = data[:i], data[i+1:]
			}
			if le := inf.line(line); le != nil {
				return nil, le.parseError(s.in.name, first+int64(ln), off)
			}
			off += int64(len(line)) + 1
		}
	}
	if inf.lines == 0 {
		return nil, fmt.Errorf("%w: %s: empty input: nothing to infer a schema from", ErrSchema, s.in.name)
	}
	if len(inf.cols) == 0 {
		return nil, fmt.Errorf("%w: %s: the first %d objects have no keys to make columns from", ErrSchema, s.in.name, inf.lines)
	}
	fields := make([]arrow.Field, len(inf.cols))
	for i := range inf.cols {
		fields[i] = arrow.Field{Name: inf.cols[i].name, Type: inf.cols[i].typ(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// Batches parses the input on Parallelism goroutines and yields batches in
// input order.
func (s *NDJSONSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		schema, err := s.Schema(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		layout, err := newNDLayout(schema)
		if err != nil {
			yield(nil, fmt.Errorf("%s: %w", s.in.name, err))
			return
		}
		layout.rejectUnknown = s.opts.RejectUnknownKeys
		s.mu.Lock()
		r, closer, err := s.in.openStream("NDJSON")
		s.mu.Unlock()
		if err != nil {
			yield(nil, err)
			return
		}
		defer closer()
		s.stream(ctx, r, schema, layout, yield)
	}
}

// ndChunk is a run of whole lines and where it lies in the input.
type ndChunk struct {
	data   []byte
	first  int64 // number of the chunk's first line
	lines  int
	offset int64
}

func (s *NDJSONSource) stream(ctx context.Context, r io.Reader, schema *arrow.Schema, layout *ndLayout, yield func(arrow.RecordBatch, error) bool) {
	mem := s.opts.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	par := s.opts.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	lr := &lineReader{br: blockReader{r: r, size: s.in.blockBytes()}, line: 1, maxLine: s.maxLine(), name: s.in.name}
	want := s.batchRows()

	next := func() (ndChunk, bool, error) {
		data, first, n, off, err := lr.next(want)
		return ndChunk{data: data, first: first, lines: n, offset: off}, n > 0, err
	}
	newParser := func() func(ndChunk) (arrow.RecordBatch, error) {
		p := newNDParser(layout)
		return func(c ndChunk) (arrow.RecordBatch, error) {
			return p.parseChunk(mem, schema, c, s.in.name)
		}
	}
	parseChunks(ctx, par, next, newParser, yield)
}

// Errors in NDJSON input; each is the cause of a *ParseError.
var (
	errNotObject    = errors.New("line is not a JSON object")
	errJSONSyntax   = errors.New("invalid JSON")
	errDupKey       = errors.New("key appears twice in the object")
	errUnknownKey   = errors.New("key is not a column of the schema (NDJSONOptions.RejectUnknownKeys)")
	errNullRequired = errors.New("null or missing value in a non-nullable column")
	errBadUTF8      = errors.New("invalid UTF-8 in a string")
	errTooDeep      = errors.New("JSON nested more than 1000 levels deep")
)

// ndError is a parse failure within one line.
type ndError struct {
	column string
	value  []byte
	pos    int // byte offset within the line
	err    error
}

func (e *ndError) parseError(source string, line, lineOffset int64) *ParseError {
	return &ParseError{Source: source, Row: line, Offset: lineOffset, Column: e.column, Value: clip(string(e.value)), Err: e.err}
}

// ndKind is how a column's values are read.
type ndKind uint8

const (
	ndInt ndKind = iota // any signed integer width
	ndUint
	ndFloat64
	ndFloat32
	ndBool
	ndString // string, large_string: JSON text for non-strings
	ndBinary // binary, large_binary: string contents
	ndDate32
	ndDate64
	ndTimestamp
)

// ndLayout is a schema prepared for parsing, shared by the parsers.
type ndLayout struct {
	names         []string
	kinds         []ndKind
	types         []arrow.DataType
	nullable      []bool
	index         map[string]int
	rejectUnknown bool
}

func newNDLayout(schema *arrow.Schema) (*ndLayout, error) {
	l := &ndLayout{index: make(map[string]int, schema.NumFields())}
	for i, f := range schema.Fields() {
		var k ndKind
		switch f.Type.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
			k = ndInt
		case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			k = ndUint
		case arrow.FLOAT64:
			k = ndFloat64
		case arrow.FLOAT32:
			k = ndFloat32
		case arrow.BOOL:
			k = ndBool
		case arrow.STRING, arrow.LARGE_STRING:
			k = ndString
		case arrow.BINARY, arrow.LARGE_BINARY:
			k = ndBinary
		case arrow.DATE32:
			k = ndDate32
		case arrow.DATE64:
			k = ndDate64
		case arrow.TIMESTAMP:
			k = ndTimestamp
		default:
			return nil, fmt.Errorf("%w: column %q: NDJSON cannot read type %s", ErrSchema, f.Name, f.Type)
		}
		if _, dup := l.index[f.Name]; dup {
			return nil, fmt.Errorf("%w: two columns named %q", ErrSchema, f.Name)
		}
		l.index[f.Name] = i
		l.names = append(l.names, f.Name)
		l.kinds = append(l.kinds, k)
		l.types = append(l.types, f.Type)
		l.nullable = append(l.nullable, f.Nullable)
	}
	return l, nil
}

// ndParser parses chunks of lines into batches. One parser is used by one
// goroutine.
type ndParser struct {
	l       *ndLayout
	b       []array.Builder
	ints    []*array.Int64Builder // typed views of b; nil where another type
	floats  []*array.Float64Builder
	bins    []*array.BinaryBuilder
	seen    []uint64 // row stamp of the last row that set each column
	stamp   uint64
	scratch []byte
}

func newNDParser(l *ndLayout) *ndParser {
	n := len(l.names)
	return &ndParser{l: l, b: make([]array.Builder, n), ints: make([]*array.Int64Builder, n),
		floats: make([]*array.Float64Builder, n), bins: make([]*array.BinaryBuilder, n), seen: make([]uint64, n)}
}

func (p *ndParser) parseChunk(mem memory.Allocator, schema *arrow.Schema, t ndChunk, source string) (arrow.RecordBatch, error) {
	for i, typ := range p.l.types {
		b := array.NewBuilder(mem, typ)
		b.Reserve(t.lines)
		p.b[i] = b
		p.ints[i], _ = b.(*array.Int64Builder)
		p.floats[i], _ = b.(*array.Float64Builder)
		switch bb := b.(type) {
		case *array.StringBuilder:
			p.bins[i] = bb.BinaryBuilder
		case *array.LargeStringBuilder:
			p.bins[i] = bb.BinaryBuilder
		case *array.BinaryBuilder:
			p.bins[i] = bb
		default:
			p.bins[i] = nil
		}
	}
	defer func() {
		for _, b := range p.b {
			b.Release()
		}
	}()
	data := t.data
	off := t.offset
	rows := 0
	for ln := range t.lines {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		blank, le := p.parseLine(line)
		if le != nil {
			return nil, le.parseError(source, t.first+int64(ln), off)
		}
		if !blank {
			rows++
		}
		off += int64(len(line)) + 1
	}
	if rows == 0 {
		return nil, nil
	}
	cols := make([]arrow.Array, len(p.b))
	for i, b := range p.b {
		cols[i] = b.NewArray()
	}
	rec := array.NewRecordBatch(schema, cols, int64(rows))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// isSpace reports JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// parseLine appends one row for an object line. It reports blank lines,
// which add no row. On error the builders hold a partial row; the chunk is
// then discarded.
func (p *ndParser) parseLine(b []byte) (blank bool, le *ndError) {
	i := skipSpace(b, 0)
	if i == len(b) {
		return true, nil
	}
	if b[i] != '{' {
		return false, &ndError{value: b[i:], pos: i, err: errNotObject}
	}
	p.stamp++
	set := 0
	next := 0 // the column expected next: keys usually come in schema order
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return false, synErr(b, i, "want a key string")
			}
			start := i + 1
			end, esc, err := scanString(b, i)
			if err != nil {
				return false, &ndError{value: b[start:min(end, len(b))], pos: i, err: err}
			}
			key := b[start : end-1]
			if esc {
				p.scratch, err = unescape(p.scratch[:0], key)
				if err != nil {
					return false, &ndError{value: key, pos: i, err: err}
				}
				key = p.scratch
			}
			col := -1
			if next < len(p.l.names) && p.l.names[next] == string(key) {
				col = next
			} else if c, ok := p.l.index[string(key)]; ok {
				col = c
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return false, synErr(b, i, "want ':' after a key")
			}
			i = skipSpace(b, i+1)
			if col < 0 {
				if p.l.rejectUnknown {
					return false, &ndError{column: string(key), pos: i, err: errUnknownKey}
				}
				end, err := skipValue(b, i, 0)
				if err != nil {
					return false, &ndError{column: string(key), value: b[i:min(end, len(b))], pos: i, err: err}
				}
				i = end
			} else {
				if p.seen[col] == p.stamp {
					return false, &ndError{column: p.l.names[col], pos: i, err: errDupKey}
				}
				p.seen[col] = p.stamp
				set++
				next = col + 1
				end, le := p.value(col, b, i)
				if le != nil {
					return false, le
				}
				i = end
			}
			i = skipSpace(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return false, synErr(b, i, "want ',' or '}' after a value")
		}
	}
	if i = skipSpace(b, i); i != len(b) {
		return false, synErr(b, i, "text after the object")
	}
	if set < len(p.l.names) {
		for c := range p.l.names {
			if p.seen[c] != p.stamp {
				if !p.l.nullable[c] {
					return false, &ndError{column: p.l.names[c], err: errNullRequired}
				}
				p.b[c].AppendNull()
			}
		}
	}
	return false, nil
}

func synErr(b []byte, i int, what string) *ndError {
	if i >= len(b) {
		return &ndError{pos: i, err: fmt.Errorf("%w: %s, got the end of the line", errJSONSyntax, what)}
	}
	return &ndError{value: b[i:], pos: i, err: fmt.Errorf("%w: %s", errJSONSyntax, what)}
}

// value parses the value at b[i] into column col and returns the index past
// it.
func (p *ndParser) value(col int, b []byte, i int) (int, *ndError) {
	fail := func(end int, err error) (int, *ndError) {
		return end, &ndError{column: p.l.names[col], value: b[i:min(max(end, i), len(b))], pos: i, err: err}
	}
	if i >= len(b) {
		return fail(i, fmt.Errorf("%w: want a value, got the end of the line", errJSONSyntax))
	}
	c := b[i]
	if c == 'n' {
		end, err := literal(b, i, "null")
		if err != nil {
			return fail(end, err)
		}
		if !p.l.nullable[col] {
			return fail(end, errNullRequired)
		}
		p.b[col].AppendNull()
		return end, nil
	}
	switch kind := p.l.kinds[col]; kind {
	case ndInt, ndUint:
		if c != '-' && (c < '0' || c > '9') {
			return p.typeErr(col, b, i)
		}
		end, integral, err := scanNumber(b, i)
		if err != nil {
			return fail(end, err)
		}
		if !integral {
			return fail(end, errors.New("not an integer"))
		}
		if kind == ndUint {
			if c == '-' {
				return fail(end, errors.New("negative number in an unsigned column"))
			}
			v, err := strconv.ParseUint(string(b[i:end]), 10, 64)
			if err == nil {
				err = appendUint(p.b[col], v)
			}
			if err != nil {
				return fail(end, rangeErr(err))
			}
			return end, nil
		}
		v, ok := atoi64(b[i:end])
		if !ok {
			return fail(end, errors.New("out of range for int64"))
		}
		if ib := p.ints[col]; ib != nil {
			ib.Append(v)
		} else if err := appendInt(p.b[col], v); err != nil {
			return fail(end, err)
		}
		return end, nil
	case ndFloat64, ndFloat32:
		if c != '-' && (c < '0' || c > '9') {
			return p.typeErr(col, b, i)
		}
		end, integral, err := scanNumber(b, i)
		if err != nil {
			return fail(end, err)
		}
		var v float64
		if n, ok := atoi64(b[i:end]); integral && ok && n >= -1<<53 && n <= 1<<53 {
			v = float64(n)
		} else {
			v, err = strconv.ParseFloat(string(b[i:end]), 64)
			if err != nil {
				return fail(end, rangeErr(err))
			}
		}
		if fb := p.floats[col]; fb != nil {
			fb.Append(v)
		} else {
			f32 := float32(v)
			if math.IsInf(float64(f32), 0) {
				return fail(end, errors.New("out of range for float32"))
			}
			p.b[col].(*array.Float32Builder).Append(f32)
		}
		return end, nil
	case ndBool:
		var end int
		var err error
		var v bool
		switch c {
		case 't':
			end, err = literal(b, i, "true")
			v = true
		case 'f':
			end, err = literal(b, i, "false")
		default:
			return p.typeErr(col, b, i)
		}
		if err != nil {
			return fail(end, err)
		}
		p.b[col].(*array.BooleanBuilder).Append(v)
		return end, nil
	case ndString:
		if c != '"' {
			// Any other JSON value is kept as its text.
			end, err := skipValue(b, i, 0)
			if err != nil {
				return fail(end, err)
			}
			p.bins[col].Append(b[i:end])
			return end, nil
		}
		s, end, err := p.str(b, i)
		if err != nil {
			return fail(end, err)
		}
		p.bins[col].Append(s)
		return end, nil
	case ndBinary:
		if c != '"' {
			return p.typeErr(col, b, i)
		}
		s, end, err := p.str(b, i)
		if err != nil {
			return fail(end, err)
		}
		p.bins[col].Append(s)
		return end, nil
	default: // dates and timestamps
		if c != '"' {
			return p.typeErr(col, b, i)
		}
		s, end, err := p.str(b, i)
		if err != nil {
			return fail(end, err)
		}
		switch kind {
		case ndDate32, ndDate64:
			d, ok := parseISODate(s)
			if !ok || len(s) != 10 {
				return fail(end, errNotDate)
			}
			if kind == ndDate32 {
				if d < math.MinInt32 || d > math.MaxInt32 {
					return fail(end, errors.New("out of range for date32"))
				}
				p.b[col].(*array.Date32Builder).Append(arrow.Date32(d))
			} else {
				p.b[col].(*array.Date64Builder).Append(arrow.Date64(d * 86400000))
			}
		default:
			sec, nsec, _, ok := parseISOTimestamp(s)
			if !ok {
				return fail(end, errNotTimestamp)
			}
			v, ok := toUnit(sec, nsec, p.l.types[col].(*arrow.TimestampType).Unit)
			if !ok {
				return fail(end, errTSRange)
			}
			p.b[col].(*array.TimestampBuilder).Append(arrow.Timestamp(v))
		}
		return end, nil
	}
}

// typeErr reports a JSON value of the wrong kind for column col.
func (p *ndParser) typeErr(col int, b []byte, i int) (int, *ndError) {
	end, err := skipValue(b, i, 0)
	if err != nil {
		return end, &ndError{column: p.l.names[col], value: b[i:min(max(end, i), len(b))], pos: i, err: err}
	}
	return end, &ndError{column: p.l.names[col], value: b[i:end], pos: i,
		err: fmt.Errorf("want %s, got a JSON %s", p.l.types[col], jsonKind(b[i]))}
}

func jsonKind(c byte) string {
	switch c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// str returns the contents of the string at b[i], unescaped into scratch
// when needed, and the index past it.
func (p *ndParser) str(b []byte, i int) ([]byte, int, error) {
	end, esc, err := scanString(b, i)
	if err != nil {
		return nil, end, err
	}
	s := b[i+1 : end-1]
	if esc {
		p.scratch, err = unescape(p.scratch[:0], s)
		if err != nil {
			return nil, end, err
		}
		s = p.scratch
	}
	return s, end, nil
}

func rangeErr(err error) error {
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("number out of range")
	}
	return errors.New("not a number")
}

func appendInt(b array.Builder, v int64) error {
	var lo, hi int64
	switch bb := b.(type) {
	case *array.Int8Builder:
		lo, hi = math.MinInt8, math.MaxInt8
		if v >= lo && v <= hi {
			bb.Append(int8(v))
			return nil
		}
	case *array.Int16Builder:
		lo, hi = math.MinInt16, math.MaxInt16
		if v >= lo && v <= hi {
			bb.Append(int16(v))
			return nil
		}
	case *array.Int32Builder:
		lo, hi = math.MinInt32, math.MaxInt32
		if v >= lo && v <= hi {
			bb.Append(int32(v))
			return nil
		}
	case *array.Int64Builder:
		bb.Append(v)
		return nil
	}
	return fmt.Errorf("out of range [%d, %d]", lo, hi)
}

func appendUint(b array.Builder, v uint64) error {
	var hi uint64
	switch bb := b.(type) {
	case *array.Uint8Builder:
		hi = math.MaxUint8
		if v <= hi {
			bb.Append(uint8(v))
			return nil
		}
	case *array.Uint16Builder:
		hi = math.MaxUint16
		if v <= hi {
			bb.Append(uint16(v))
			return nil
		}
	case *array.Uint32Builder:
		hi = math.MaxUint32
		if v <= hi {
			bb.Append(uint32(v))
			return nil
		}
	case *array.Uint64Builder:
		bb.Append(v)
		return nil
	}
	return fmt.Errorf("%w: out of range [0, %d]", strconv.ErrRange, hi)
}

// atoi64 parses a JSON integer token (already validated), reporting
// whether it fits an int64.
func atoi64(b []byte) (int64, bool) {
	v, err := parseInt(b)
	return v, err == nil
}

// literal checks for the literal word at b[i].
func literal(b []byte, i int, word string) (int, error) {
	end := i + len(word)
	if end > len(b) || string(b[i:end]) != word {
		end = i + 1
		for end < len(b) && b[end] >= 'a' && b[end] <= 'z' {
			end++
		}
		return end, fmt.Errorf("%w: want %s", errJSONSyntax, word)
	}
	return end, nil
}

// scanNumber scans a JSON number at b[i] and reports whether it has neither
// fraction nor exponent.
func scanNumber(b []byte, i int) (end int, integral bool, err error) {
	bad := func(j int) (int, bool, error) {
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		return j, false, fmt.Errorf("%w: malformed number", errJSONSyntax)
	}
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return bad(j)
	}
	integral = true
	if j < len(b) && b[j] == '.' {
		integral = false
		j++
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			return bad(j)
		}
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		integral = false
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j >= len(b) || b[j] < '0' || b[j] > '9' {
			return bad(j)
		}
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	}
	if j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		return bad(j)
	}
	return j, integral, nil
}

// scanString scans the JSON string starting with the quote at b[i]. It
// returns the index past the closing quote and whether the string holds
// escapes. Control characters and invalid UTF-8 are errors.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	j := i + 1
	ascii := true
	for {
		for j < len(b) && !strSpecial[b[j]] {
			j++
		}
		if j >= len(b) {
			return len(b), escaped, fmt.Errorf("%w: unterminated string", errJSONSyntax)
		}
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[i+1:j]) {
				return j + 1, escaped, errBadUTF8
			}
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			j += 2
		case c < 0x20:
			return j + 1, escaped, fmt.Errorf("%w: control character in a string", errJSONSyntax)
		default: // c >= 0x80
			ascii = false
			j++
		}
	}
}

// strSpecial marks the bytes that end a run of plain ASCII in a string.
var strSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80
	}
	return t
}()

// unescape appends the unescaped contents of a JSON string (without its
// quotes) to dst.
func unescape(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst, fmt.Errorf("%w: bad escape", errJSONSyntax)
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return dst, fmt.Errorf("%w: bad \\u escape", errJSONSyntax)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				var r2 rune
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2, ok = hex4(s[i+2:])
				} else {
					ok = false
				}
				d := utf16.DecodeRune(r, r2)
				if !ok || d == utf8.RuneError {
					return dst, fmt.Errorf("%w: unpaired UTF-16 surrogate in a \\u escape", errJSONSyntax)
				}
				r = d
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, fmt.Errorf("%w: bad escape \\%c", errJSONSyntax, e)
		}
		i += 2
	}
	return dst, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skipValue checks the JSON value at b[i] and returns the index past it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, fmt.Errorf("%w: want a value, got the end of the line", errJSONSyntax)
	}
	switch c := b[i]; {
	case c == '"':
		end, esc, err := scanString(b, i)
		if err == nil && esc {
			_, err = unescape(nil, b[i+1:end-1])
		}
		return end, err
	case c == '-' || (c >= '0' && c <= '9'):
		end, _, err := scanNumber(b, i)
		return end, err
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '{' || c == '[':
		if depth >= 1000 {
			return i, errTooDeep
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		j := skipSpace(b, i+1)
		if j < len(b) && b[j] == closer {
			return j + 1, nil
		}
		for {
			if c == '{' {
				if j >= len(b) || b[j] != '"' {
					return j, fmt.Errorf("%w: want a key string", errJSONSyntax)
				}
				end, err := skipValue(b, j, depth+1)
				if err != nil {
					return end, err
				}
				j = skipSpace(b, end)
				if j >= len(b) || b[j] != ':' {
					return j, fmt.Errorf("%w: want ':' after a key", errJSONSyntax)
				}
				j = skipSpace(b, j+1)
			}
			end, err := skipValue(b, j, depth+1)
			if err != nil {
				return end, err
			}
			j = skipSpace(b, end)
			if j < len(b) && b[j] == ',' {
				j = skipSpace(b, j+1)
				continue
			}
			if j < len(b) && b[j] == closer {
				return j + 1, nil
			}
			return j, fmt.Errorf("%w: want ',' or '%c'", errJSONSyntax, closer)
		}
	}
	return i + 1, fmt.Errorf("%w: unexpected character %q", errJSONSyntax, b[i])
}

// ndInferrer accumulates what the sample says about each key.
type ndInferrer struct {
	cols    []ndStats
	index   map[string]int
	seen    []uint64
	stamp   uint64
	lines   int // non-blank lines
	scratch []byte
}

// ndStats is what the sample held for one key.
type ndStats struct {
	name                                          string
	nonNull                                       int
	bools, ints, floats, strs, nested             int
	notDate, notTS, zoned, naive, hasTime, bigInt bool
}

// typ picks the column type, as documented on NDJSONOptions.InferRows.
func (c *ndStats) typ() arrow.DataType {
	kinds := 0
	for _, n := range []int{c.bools, c.ints + c.floats, c.strs, c.nested} {
		if n > 0 {
			kinds++
		}
	}
	switch {
	case c.nonNull == 0 || kinds != 1 || c.nested > 0:
		return arrow.BinaryTypes.String
	case c.bools > 0:
		return arrow.FixedWidthTypes.Boolean
	case c.floats > 0 || c.bigInt:
		return arrow.PrimitiveTypes.Float64
	case c.ints > 0:
		return arrow.PrimitiveTypes.Int64
	case !c.notDate && !c.hasTime:
		return arrow.FixedWidthTypes.Date32
	case !c.notTS && c.zoned && !c.naive:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case !c.notTS && c.naive && !c.zoned:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	}
	return arrow.BinaryTypes.String
}

// line adds one line of the sample.
func (inf *ndInferrer) line(b []byte) *ndError {
	i := skipSpace(b, 0)
	if i == len(b) {
		return nil
	}
	if b[i] != '{' {
		return &ndError{value: b[i:], pos: i, err: errNotObject}
	}
	inf.lines++
	inf.stamp++
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return synErr(b, i, "want a key string")
			}
			end, esc, err := scanString(b, i)
			if err != nil {
				return &ndError{value: b[i+1 : min(end, len(b))], pos: i, err: err}
			}
			key := b[i+1 : end-1]
			if esc {
				inf.scratch, err = unescape(inf.scratch[:0], key)
				if err != nil {
					return &ndError{value: key, pos: i, err: err}
				}
				key = inf.scratch
			}
			col, ok := inf.index[string(key)]
			if !ok {
				col = len(inf.cols)
				inf.index[string(key)] = col
				inf.cols = append(inf.cols, ndStats{name: string(key)})
				inf.seen = append(inf.seen, 0)
			}
			if inf.seen[col] == inf.stamp {
				return &ndError{column: string(key), pos: i, err: errDupKey}
			}
			inf.seen[col] = inf.stamp
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return synErr(b, i, "want ':' after a key")
			}
			i = skipSpace(b, i+1)
			end, err = inf.value(&inf.cols[col], b, i)
			if err != nil {
				return &ndError{column: inf.cols[col].name, value: b[i:min(max(end, i), len(b))], pos: i, err: err}
			}
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipSpace(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return synErr(b, i, "want ',' or '}' after a value")
		}
	}
	if i = skipSpace(b, i); i != len(b) {
		return synErr(b, i, "text after the object")
	}
	return nil
}

func (inf *ndInferrer) value(c *ndStats, b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, fmt.Errorf("%w: want a value, got the end of the line", errJSONSyntax)
	}
	switch ch := b[i]; {
	case ch == 'n':
		return literal(b, i, "null")
	case ch == 't' || ch == 'f':
		end, err := skipValue(b, i, 0)
		if err == nil {
			c.nonNull++
			c.bools++
		}
		return end, err
	case ch == '-' || (ch >= '0' && ch <= '9'):
		end, integral, err := scanNumber(b, i)
		if err != nil {
			return end, err
		}
		c.nonNull++
		if integral {
			c.ints++
			if _, ok := atoi64(b[i:end]); !ok {
				c.bigInt = true
			}
		} else {
			c.floats++
		}
		return end, nil
	case ch == '"':
		end, esc, err := scanString(b, i)
		if err != nil {
			return end, err
		}
		s := b[i+1 : end-1]
		if esc {
			inf.scratch, err = unescape(inf.scratch[:0], s)
			if err != nil {
				return end, err
			}
			s = inf.scratch
		}
		c.nonNull++
		c.strs++
		if !c.notTS {
			_, _, z, ok := parseISOTimestamp(s)
			c.notTS = !ok
			if ok {
				c.zoned, c.naive = c.zoned || z, c.naive || !z
			}
		}
		if !c.notDate {
			_, ok := parseISODate(s)
			c.notDate = !ok || len(s) != 10
		}
		c.hasTime = c.hasTime || len(s) != 10
		return end, nil
	}
	end, err := skipValue(b, i, 0)
	if err == nil {
		c.nonNull++
		c.nested++
	}
	return end, err
}
