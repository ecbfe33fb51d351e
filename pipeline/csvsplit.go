package pipeline

import (
	"bytes"
)

// CSV input is cut into chunks of whole records so that chunks can be parsed
// on all cores at once. A record ends at a newline that is outside quotes; a
// quote opens a quoted field only at the start of a field, and inside a
// quoted field a doubled quote stands for one quote. The parser follows the
// same rules, so a chunk boundary never falls inside a record.

// scanRecords finds the end of the first want records of b, which must start
// at a record boundary. It returns the offset just past the last complete
// record found and the number of records. A record is complete when its
// newline is in b.
func scanRecords(b []byte, want int, delim byte) (end, rows int) {
	pos := 0
	q := bytes.IndexByte(b, '"')
	if q < 0 {
		q = len(b)
	}
	for rows < want {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			return pos, rows
		}
		if pos+nl < q {
			pos += nl + 1
			rows++
			continue
		}
		next, ok := walkRecord(b, pos, delim)
		if !ok {
			return pos, rows
		}
		pos = next
		rows++
		if q < pos {
			q = bytes.IndexByte(b[pos:], '"')
			if q < 0 {
				q = len(b)
			} else {
				q += pos
			}
		}
	}
	return pos, rows
}

// walkRecord walks one record that contains a quote, from its start, and
// returns the offset past its newline, or false if b ends first.
func walkRecord(b []byte, start int, delim byte) (int, bool) {
	fieldStart := true
	inQuote := false
	for i := start; i < len(b); i++ {
		c := b[i]
		if inQuote {
			if c == '"' {
				if i+1 >= len(b) {
					return 0, false // cannot tell "" from a closing quote yet
				}
				if b[i+1] == '"' {
					i++
					continue
				}
				inQuote = false
			}
			continue
		}
		switch c {
		case '"':
			if fieldStart {
				inQuote = true
			}
			fieldStart = false
		case delim:
			fieldStart = true
		case '\n':
			return i + 1, true
		default:
			fieldStart = false
		}
	}
	return 0, false
}
