package pipeline

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// CSVWriteOptions configure a CSV sink. The zero value writes
// comma-separated values with a header row and empty fields for nulls.
type CSVWriteOptions struct {
	// Delimiter separates fields. It must be a single-byte character other
	// than a quote, CR or LF. Zero means ',' (or a tab when the path, less
	// any .gz or .zst, ends in .tsv).
	Delimiter rune
	// NoHeader leaves out the row of column names.
	NoHeader bool
	// NullValue is the text of a null. The default is the empty field; an
	// empty string is then written as "" so that it reads back as a string
	// rather than a null. A string equal to a non-empty NullValue is quoted.
	NullValue string
}

// CSVSink writes batches as CSV text (RFC 4180, LF line endings).
//
// Values are written in the text forms Kiln reads back:
//   - integers and durations as decimal numbers (a duration is its count of
//     the type's unit); floats in the shortest form that reads back exactly
//     (strconv 'g' -1: 0.1, 1e+21, NaN, +Inf); booleans as true and false;
//     decimals exactly, as their String form;
//   - date32 and date64 as 2006-01-02; times of day as 15:04:05 with a
//     fraction only when it is not zero, with at most the digits of the
//     type's unit and no trailing zeros (15:04:05.25);
//   - timestamps as 2006-01-02 15:04:05[.fff] in the same way; a timestamp
//     type with a time zone is written in that zone followed by its offset
//     (2006-01-02 15:04:05Z, 2006-01-02 17:04:05+02:00);
//   - strings as they are (invalid UTF-8 is passed through); binary values
//     in standard padded base64;
//   - dictionary columns as their values.
//
// A field is quoted, with quotes doubled, when it contains the delimiter,
// a quote, CR or LF, when it starts or ends with a space or tab, when it
// equals a non-empty NullValue, or when it is an empty string and NullValue
// is empty. A file of one column never has an empty line, which readers
// skip: there an empty value is written as "" even when NullValue is
// non-empty, and so is a null when NullValue is empty (such a null reads
// back as an empty string). Nested types (lists, structs, maps, unions) cannot be written
// as CSV: Open fails naming the column.
type CSVSink struct {
	lc      sinkLife
	path    string    // "" for a writer sink
	w       io.Writer // the caller's writer, or nil
	opts    CSVWriteOptions
	out     *sinkOutput
	delim   byte
	formats []textFormat
	check   []bool // per column: whether a value may need quoting
	special [256]bool
	buf     []byte
	scratch []byte
	bound   []textValues
}

// ToCSV returns a sink that writes CSV to path. The file appears under its
// name only when Commit succeeds; its directory must exist. A path ending
// in .gz or .zst is compressed with gzip or zstd.
func ToCSV(path string, opts CSVWriteOptions) *CSVSink {
	if opts.Delimiter == 0 && strings.EqualFold(filepath.Ext(stripCompression(path)), ".tsv") {
		opts.Delimiter = '\t'
	}
	return &CSVSink{path: path, opts: opts, lc: sinkLife{kind: "csv sink", name: path}}
}

// ToCSVWriter returns a sink that writes CSV to w, uncompressed. Unlike a
// file sink it is not atomic: Commit flushes what is buffered, Abort drops
// it, and what was flushed to w before stays there. The sink does not close
// w.
func ToCSVWriter(w io.Writer, opts CSVWriteOptions) *CSVSink {
	return &CSVSink{w: w, opts: opts, lc: sinkLife{kind: "csv sink", name: "writer"}}
}

// Open checks that every column can be written as CSV, creates the
// temporary file and writes the header.
func (s *CSVSink) Open(ctx context.Context, schema *arrow.Schema) error {
	if err := s.lc.beginOpen(ctx, schema); err != nil {
		return err
	}
	if err := s.open(schema); err != nil {
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	s.lc.opened(schema)
	return nil
}

func (s *CSVSink) open(schema *arrow.Schema) error {
	d := s.opts.Delimiter
	if d == 0 {
		d = ','
	}
	if d >= utf8.RuneSelf || d == '"' || d == '\r' || d == '\n' {
		return fmt.Errorf("delimiter %q: want a single-byte character other than a quote, CR or LF", d)
	}
	s.delim = byte(d)
	s.special[s.delim], s.special['"'], s.special['\r'], s.special['\n'] = true, true, true, true
	null := s.opts.NullValue
	s.formats = make([]textFormat, schema.NumFields())
	s.check = make([]bool, schema.NumFields())
	for i, f := range schema.Fields() {
		tf, err := newTextFormat(f.Type, false)
		if err != nil {
			return fmt.Errorf("column %q: %w", f.Name, err)
		}
		s.formats[i] = tf
		s.check[i] = tf.plain == "" || strings.IndexByte(tf.plain, s.delim) >= 0 ||
			(null != "" && strings.Trim(null, tf.plain) == "")
	}
	if s.w != nil {
		s.out = newWriterOutput(s.w)
	} else {
		out, err := createSinkOutput(s.path, true)
		if err != nil {
			return err
		}
		s.out = out
	}
	if !s.opts.NoHeader {
		var b []byte
		for i, f := range schema.Fields() {
			if i > 0 {
				b = append(b, s.delim)
			}
			b = s.appendField(b, []byte(f.Name))
		}
		b = append(b, '\n')
		if _, err := s.out.w.Write(b); err != nil {
			s.out.abort()
			return fmt.Errorf("write header: %w", err)
		}
	}
	return nil
}

// needsQuote reports whether a field's text must be quoted.
func (s *CSVSink) needsQuote(v []byte) bool {
	if len(v) == 0 {
		return s.opts.NullValue == ""
	}
	if c := v[0]; c == ' ' || c == '\t' {
		return true
	}
	if c := v[len(v)-1]; c == ' ' || c == '\t' {
		return true
	}
	if s.opts.NullValue != "" && string(v) == s.opts.NullValue {
		return true
	}
	for _, c := range v {
		if s.special[c] {
			return true
		}
	}
	return false
}

// appendField appends v, quoted when needed.
func (s *CSVSink) appendField(b, v []byte) []byte {
	if !s.needsQuote(v) {
		return append(b, v...)
	}
	return appendCSVQuoted(b, v)
}

// appendCSVQuoted appends v in quotes, doubling the quotes within.
func appendCSVQuoted(b, v []byte) []byte {
	b = append(b, '"')
	for _, c := range v {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// Write appends the rows of batch.
func (s *CSVSink) Write(ctx context.Context, batch arrow.RecordBatch) error {
	if err := s.lc.beginWrite(ctx, batch); err != nil {
		return err
	}
	if err := s.write(ctx, batch); err != nil {
		s.release()
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	return nil
}

func (s *CSVSink) write(ctx context.Context, batch arrow.RecordBatch) error {
	null := s.opts.NullValue
	single := len(s.formats) == 1
	var err error
	s.buf, err = writeTextRows(ctx, s.out.w, s.buf, &s.bound, s.formats, batch, func(b []byte, r int) []byte {
		for c := range s.bound {
			if c > 0 {
				b = append(b, s.delim)
			}
			tv := &s.bound[c]
			if tv.hasNulls && tv.isNull(r) {
				if single && null == "" {
					b = append(b, '"', '"') // never an empty line
				}
				b = append(b, null...)
				continue
			}
			start := len(b)
			b = tv.app(b, r)
			if (s.check[c] || len(b) == start) && (s.needsQuote(b[start:]) || single && len(b) == start) {
				s.scratch = append(s.scratch[:0], b[start:]...)
				b = appendCSVQuoted(b[:start], s.scratch)
			}
		}
		return append(b, '\n')
	})
	return err
}

// Commit flushes the output and, for a file, renames it to its final name.
// A failed Commit removes the temporary file.
func (s *CSVSink) Commit(ctx context.Context) error {
	if err := s.lc.beginCommit(ctx); err != nil {
		if s.lc.state == sinkOpen {
			s.release()
			s.lc.failed(err)
		}
		return err
	}
	if err := s.out.commit(); err != nil {
		s.bound = nil
		return s.lc.failed(s.lc.errorf("commit: %w", err))
	}
	s.bound = nil
	s.lc.state = sinkCommitted
	return nil
}

// Abort discards the output: a file sink removes its temporary file. It
// may be called after a failed Open, Write or Commit.
func (s *CSVSink) Abort() error {
	if ok, err := s.lc.beginAbort(); !ok {
		return err
	}
	return s.release()
}

// release drops buffered output and removes the temporary file.
func (s *CSVSink) release() error {
	s.buf, s.scratch, s.bound = nil, nil, nil
	return s.out.abort()
}
