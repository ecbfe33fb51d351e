package pipeline

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
)

// NDJSONWriteOptions configure an NDJSON sink. The zero value writes every
// column of every row, nulls included.
type NDJSONWriteOptions struct {
	// OmitNulls leaves null values out of their row's object instead of
	// writing "key":null.
	OmitNulls bool
}

// NDJSONSink writes batches as newline-delimited JSON: one object per row,
// its keys the column names in schema order.
//
// Values are written as:
//   - integers, durations (their count of the type's unit) and decimals as
//     JSON numbers; floats in the shortest form that reads back exactly,
//     NaN and infinities as null; booleans as true and false;
//   - strings as JSON strings, with control characters, quotes and
//     backslashes escaped and invalid UTF-8 replaced by U+FFFD; binary values
//     as strings of standard padded base64;
//   - date32 and date64 as "2006-01-02"; times of day as "15:04:05[.fff]";
//     naive timestamps as "2006-01-02T15:04:05[.fff]" and timestamps of a
//     type with a time zone as RFC 3339 in that zone with its offset
//     ("2006-01-02T15:04:05Z", "2006-01-02T17:04:05+02:00"); a fraction is
//     written only when it is not zero, with at most the digits of the unit;
//   - lists as arrays, structs as objects, maps with string keys as objects,
//     dictionary columns as their values.
//
// Unions, run-end encoded columns and maps with other keys cannot be
// written: Open fails naming the column.
type NDJSONSink struct {
	lc      sinkLife
	path    string
	w       io.Writer
	opts    NDJSONWriteOptions
	out     *sinkOutput
	formats []textFormat
	keys    [][]byte // `"name":` per column
	bound   []textValues
	buf     []byte
}

// ToNDJSON returns a sink that writes NDJSON to path. The file appears under
// its name only when Commit succeeds; its directory must exist. A path
// ending in .gz or .zst is compressed with gzip or zstd.
func ToNDJSON(path string, opts NDJSONWriteOptions) *NDJSONSink {
	return &NDJSONSink{path: path, opts: opts, lc: sinkLife{kind: "ndjson sink", name: path}}
}

// ToNDJSONWriter returns a sink that writes NDJSON to w, uncompressed.
// Unlike a file sink it is not atomic: Commit flushes what is buffered,
// Abort drops it, and what was flushed to w before stays there. The sink
// does not close w.
func ToNDJSONWriter(w io.Writer, opts NDJSONWriteOptions) *NDJSONSink {
	return &NDJSONSink{w: w, opts: opts, lc: sinkLife{kind: "ndjson sink", name: "writer"}}
}

// Open checks that every column can be written as JSON and creates the
// temporary file.
func (s *NDJSONSink) Open(ctx context.Context, schema *arrow.Schema) error {
	if err := s.lc.beginOpen(ctx, schema); err != nil {
		return err
	}
	s.formats = make([]textFormat, schema.NumFields())
	s.keys = make([][]byte, schema.NumFields())
	for i, f := range schema.Fields() {
		tf, err := newTextFormat(f.Type, true)
		if err != nil {
			return s.lc.failed(s.lc.errorf("column %q: %w", f.Name, err))
		}
		s.formats[i] = tf
		s.keys[i] = append(appendJSONText(nil, f.Name), ':')
	}
	if s.w != nil {
		s.out = newWriterOutput(s.w)
	} else {
		out, err := createSinkOutput(s.path, true)
		if err != nil {
			return s.lc.failed(s.lc.errorf("%w", err))
		}
		s.out = out
	}
	s.lc.opened(schema)
	return nil
}

// Write appends one line per row of batch.
func (s *NDJSONSink) Write(ctx context.Context, batch arrow.RecordBatch) error {
	if err := s.lc.beginWrite(ctx, batch); err != nil {
		return err
	}
	if err := s.write(ctx, batch); err != nil {
		s.release()
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	return nil
}

func (s *NDJSONSink) write(ctx context.Context, batch arrow.RecordBatch) error {
	omit := s.opts.OmitNulls
	var err error
	s.buf, err = writeTextRows(ctx, s.out.w, s.buf, &s.bound, s.formats, batch, func(b []byte, r int) []byte {
		b = append(b, '{')
		first := true
		for c := range s.bound {
			tv := &s.bound[c]
			null := tv.hasNulls && tv.isNull(r)
			if null && omit {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, s.keys[c]...)
			if null {
				b = append(b, "null"...)
			} else {
				b = tv.app(b, r)
			}
		}
		return append(b, '}', '\n')
	})
	return err
}

// Commit flushes the output and, for a file, renames it to its final name.
// A failed Commit removes the temporary file.
func (s *NDJSONSink) Commit(ctx context.Context) error {
	if err := s.lc.beginCommit(ctx); err != nil {
		if s.lc.state == sinkOpen {
			s.release()
			s.lc.failed(err)
		}
		return err
	}
	if err := s.out.commit(); err != nil {
		return s.lc.failed(s.lc.errorf("commit: %w", err))
	}
	s.lc.state = sinkCommitted
	return nil
}

// Abort discards the output: a file sink removes its temporary file. It
// may be called after a failed Open, Write or Commit.
func (s *NDJSONSink) Abort() error {
	if ok, err := s.lc.beginAbort(); !ok {
		return err
	}
	return s.release()
}

func (s *NDJSONSink) release() error {
	s.buf, s.bound = nil, nil
	return s.out.abort()
}
