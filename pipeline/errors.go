package pipeline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap them, so test with
// [errors.Is].
var (
	// ErrSchema is returned when a stage or sink cannot accept the schema it
	// is given (a missing column, a type it cannot handle), or when data does
	// not match a declared schema.
	ErrSchema = errors.New("pipeline: schema mismatch")
	// ErrParse is wrapped by every *ParseError: input that cannot be read as
	// the declared or inferred type.
	ErrParse = errors.New("pipeline: parse error")
	// ErrRaggedRow is the cause in a *ParseError for a row whose field count
	// differs from the header's.
	ErrRaggedRow = errors.New("pipeline: wrong number of fields")
	// ErrValidation is returned when a Validate stage with OnFailure Stop meets
	// a row that fails an expectation.
	ErrValidation = errors.New("pipeline: validation failed")
	// ErrPanic wraps a panic raised by user code (a Derive or Map function);
	// the run stops with an error instead of crashing the host program.
	ErrPanic = errors.New("pipeline: panic in user function")
	// ErrTooLarge is returned when one record or field exceeds a configured
	// size bound (CSVOptions.MaxRecordBytes and the like).
	ErrTooLarge = errors.New("pipeline: input exceeds size limit")
	// ErrClosed is returned when a sink is used after Commit or Abort, or
	// opened twice.
	ErrClosed = errors.New("pipeline: sink already closed")
)

// ParseError reports input that could not be read, with its position.
type ParseError struct {
	Source string // file name or a description of the reader
	Row    int64  // 1-based record (CSV) or line (NDJSON) number, blank lines included, a CSV header not; 0 if unknown
	Offset int64  // byte offset of the record's start in the (decompressed) input; -1 if unknown
	Column string // column name, or "" when the whole record is at fault
	Value  string // the offending text, cut to 64 bytes
	Err    error  // the cause
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("pipeline: ")
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Row > 0 {
		b.WriteString("row ")
		b.WriteString(strconv.FormatInt(e.Row, 10))
		if e.Offset >= 0 {
			fmt.Fprintf(&b, " (byte %d)", e.Offset)
		}
		b.WriteString(": ")
	}
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	if e.Value != "" || e.Column != "" {
		fmt.Fprintf(&b, "value %q: ", e.Value)
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("invalid input")
	}
	return b.String()
}

// Unwrap returns the cause and ErrParse, so errors.Is works with both.
func (e *ParseError) Unwrap() []error { return []error{e.Err, ErrParse} }

// clip cuts a value for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
