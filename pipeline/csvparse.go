package pipeline

import (
	"bytes"
	"errors"
	"fmt"
)

var (
	errUnterminated = errors.New("quoted field is not terminated")
	errAfterQuote   = errors.New("unexpected character after a closing quote (a quote inside a quoted field must be doubled)")
)

// csvParser turns the text of whole records into column values. A parser is
// used by one goroutine at a time.
type csvParser struct {
	delim   byte
	nulls   [][]byte // null tokens besides the empty unquoted field
	scratch []byte   // unescaped quoted field
}

// nextField reads the field starting at pos. It returns the field's text
// (which may live in p.scratch until the next call), whether it was quoted,
// the offset after the field's terminator, and whether that terminator ended
// the record.
func (p *csvParser) nextField(data []byte, pos int) (field []byte, quoted bool, next int, last bool, err error) {
	n := len(data)
	if pos < n && data[pos] == '"' {
		field, pos, err = p.unquote(data, pos)
		if err != nil {
			return nil, true, pos, true, err
		}
		switch {
		case pos >= n:
			return field, true, n, true, nil
		case data[pos] == p.delim:
			return field, true, pos + 1, false, nil
		case data[pos] == '\n':
			return field, true, pos + 1, true, nil
		case data[pos] == '\r' && (pos+1 == n || data[pos+1] == '\n'):
			return field, true, pos + 2, true, nil
		}
		return nil, true, pos, true, errAfterQuote
	}
	field, next, last = unquotedField(data, pos, p.delim)
	return field, false, next, last, nil
}

// unquotedField reads a field that does not start with a quote. It is small
// enough to be inlined into the parsing loop.
func unquotedField(data []byte, pos int, delim byte) (field []byte, next int, last bool) {
	start := pos
	for pos < len(data) && data[pos] != delim && data[pos] != '\n' {
		pos++
	}
	end := pos
	if pos >= len(data) || data[pos] == '\n' {
		if end > start && data[end-1] == '\r' {
			end--
		}
		return data[start:end], pos + 1, true
	}
	return data[start:end], pos + 1, false
}

// unquote reads the quoted field opening at pos and returns its text and the
// offset just past the closing quote.
func (p *csvParser) unquote(data []byte, pos int) ([]byte, int, error) {
	start := pos + 1
	i := start
	for {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			return nil, pos, errUnterminated
		}
		i += q
		if i+1 < len(data) && data[i+1] == '"' {
			break // escaped quotes: copy
		}
		return data[start:i], i + 1, nil
	}
	buf := append(p.scratch[:0], data[start:i+1]...)
	i += 2
	for {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			p.scratch = buf
			return nil, pos, errUnterminated
		}
		buf = append(buf, data[i:i+q]...)
		i += q
		if i+1 < len(data) && data[i+1] == '"' {
			buf = append(buf, '"')
			i += 2
			continue
		}
		p.scratch = buf
		return buf, i + 1, nil
	}
}

func (p *csvParser) isNull(field []byte) bool {
	if len(field) == 0 {
		return true
	}
	for _, t := range p.nulls {
		if bytes.Equal(field, t) {
			return true
		}
	}
	return false
}

// isBlank reports whether a record starting at pos is an empty line, and
// where the next record starts.
func isBlank(data []byte, pos int) (int, bool) {
	if data[pos] == '\n' {
		return pos + 1, true
	}
	if data[pos] == '\r' && (pos+1 == len(data) || data[pos+1] == '\n') {
		return pos + 2, true
	}
	return pos, false
}

// chunkError is a parse failure inside a chunk, with the record counted
// from the chunk's start (1-based, blank lines included) and the offset from
// the chunk's start.
type chunkError struct {
	row    int64
	offset int64
	column string
	value  string
	err    error
}

// at places the error in the input: the chunk's first record has number
// first and starts at byte offset.
func (e *chunkError) at(source string, first, offset int64) *ParseError {
	return &ParseError{Source: source, Row: first + e.row - 1, Offset: offset + e.offset,
		Column: e.column, Value: e.value, Err: e.err}
}

// parseChunk parses every record of data into cols, which it resets first,
// and returns the number of rows. Blank lines are skipped, but counted in the
// record numbers of errors.
func (p *csvParser) parseChunk(data []byte, names []string, cols []*csvCol, capRows int) (int, *chunkError) {
	for _, c := range cols {
		c.reset(capRows)
	}
	ncols := len(cols)
	rows, rec := 0, int64(0)
	pos := 0
	for pos < len(data) {
		rec++
		if next, blank := isBlank(data, pos); blank {
			pos = next
			continue
		}
		recStart := pos
		rows++
		col := 0
		for {
			var field []byte
			var next int
			var last, quoted bool
			var err error
			if pos < len(data) && data[pos] != '"' {
				field, next, last = unquotedField(data, pos, p.delim)
			} else {
				field, quoted, next, last, err = p.nextField(data, pos)
			}
			if err != nil {
				return rows, &chunkError{row: rec, offset: int64(recStart), column: colName(names, col), err: err}
			}
			if col < ncols {
				c := cols[col]
				if !quoted && p.isNull(field) {
					c.appendNull()
				} else if err := c.append(field); err != nil {
					return rows, &chunkError{row: rec, offset: int64(recStart), column: names[col], value: clip(string(field)), err: err}
				}
			}
			col++
			pos = next
			if last {
				break
			}
		}
		if col != ncols {
			return rows, &chunkError{row: rec, offset: int64(recStart),
				err: fmt.Errorf("%w: record has %d fields, want %d", ErrRaggedRow, col, ncols)}
		}
	}
	return rows, nil
}

func colName(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return ""
}

// readRecord reads one record's fields as strings (a header, or the first
// record when there is none) and returns the offset after it.
func (p *csvParser) readRecord(data []byte) ([]string, int, error) {
	var fields []string
	pos := 0
	for {
		field, _, next, last, err := p.nextField(data, pos)
		if err != nil {
			return nil, 0, err
		}
		fields = append(fields, string(field))
		pos = next
		if last {
			return fields, min(pos, len(data)), nil
		}
	}
}
