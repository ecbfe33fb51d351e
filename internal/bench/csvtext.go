package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// csvWriter formats record batches as CSV text, the way DuckDB writes them:
// timestamps "2006-01-02 15:04:05" (".ffffff" added only when the fraction is
// not zero), dates "2006-01-02", floats in the shortest form that round-trips,
// nulls as empty fields, and strings quoted only when they hold a comma, a
// quote or a line break.
//
// It formats by hand rather than through encoding/csv and time.Format, so
// that exporting millions of rows takes a fraction of a second.
type csvWriter struct {
	schema *arrow.Schema
	buf    []byte
	// Cache of the last formatted timestamp second, per column: flights
	// data repeats the same minute many times in a row.
	lastSec  []int64
	lastText [][]byte
}

// newCSVWriter returns a writer for batches of schema, or an error naming the
// first column whose type it cannot format.
func newCSVWriter(schema *arrow.Schema) (*csvWriter, error) {
	for _, f := range schema.Fields() {
		switch f.Type.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
			arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL,
			arrow.STRING, arrow.LARGE_STRING, arrow.DATE32, arrow.TIMESTAMP:
		default:
			return nil, fmt.Errorf("column %q: cannot write type %s as CSV", f.Name, f.Type)
		}
	}
	w := &csvWriter{schema: schema}
	w.lastSec = make([]int64, schema.NumFields())
	w.lastText = make([][]byte, schema.NumFields())
	for i := range w.lastSec {
		w.lastSec[i] = math.MinInt64
	}
	return w, nil
}

// header appends the header line to dst.
func (w *csvWriter) header(dst []byte) []byte {
	for i, f := range w.schema.Fields() {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVString(dst, f.Name)
	}
	return append(dst, '\n')
}

// batch appends every row of rec to dst, one line each, and returns the
// extended slice.
func (w *csvWriter) batch(dst []byte, rec arrow.RecordBatch) []byte {
	cols := rec.Columns()
	n := int(rec.NumRows())
	for r := range n {
		for c, col := range cols {
			if c > 0 {
				dst = append(dst, ',')
			}
			if col.IsNull(r) {
				continue
			}
			dst = w.value(dst, c, col, r)
		}
		dst = append(dst, '\n')
	}
	return dst
}

func (w *csvWriter) value(dst []byte, c int, col arrow.Array, r int) []byte {
	switch a := col.(type) {
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(r), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(r)), 10)
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(r)), 10)
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(r)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(r), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(r)), 10)
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(a.Value(r)), 10)
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(a.Value(r)), 10)
	case *array.Float64:
		return strconv.AppendFloat(dst, a.Value(r), 'g', -1, 64)
	case *array.Float32:
		return strconv.AppendFloat(dst, float64(a.Value(r)), 'g', -1, 32)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(r))
	case *array.String:
		return appendCSVString(dst, a.Value(r))
	case *array.LargeString:
		return appendCSVString(dst, a.Value(r))
	case *array.Date32:
		return appendDate(dst, int64(a.Value(r)))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return w.timestamp(dst, c, int64(a.Value(r)), unit)
	}
	// newCSVWriter rejected every other type.
	panic(fmt.Sprintf("csvWriter: unexpected array %T", col))
}

// timestamp appends v, a count of unit since the Unix epoch, as
// "2006-01-02 15:04:05" with ".ffffff" (or ".fffffffff" for nanoseconds)
// when the fraction is not zero.
func (w *csvWriter) timestamp(dst []byte, c int, v int64, unit arrow.TimeUnit) []byte {
	per := int64(1)
	digits := 0
	switch unit {
	case arrow.Millisecond:
		per, digits = 1e3, 6
	case arrow.Microsecond:
		per, digits = 1e6, 6
	case arrow.Nanosecond:
		per, digits = 1e9, 9
	}
	sec, frac := v/per, v%per
	if frac < 0 {
		sec--
		frac += per
	}
	if unit == arrow.Millisecond {
		frac *= 1000
	}
	if sec == w.lastSec[c] {
		dst = append(dst, w.lastText[c]...)
	} else {
		start := len(dst)
		dst = appendDateTime(dst, sec)
		w.lastSec[c] = sec
		w.lastText[c] = append(w.lastText[c][:0], dst[start:]...)
	}
	if frac != 0 {
		dst = append(dst, '.')
		dst = appendPadded(dst, frac, digits)
	}
	return dst
}

// appendDateTime appends sec seconds since the epoch as "2006-01-02 15:04:05".
func appendDateTime(dst []byte, sec int64) []byte {
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days--
		rem += 86400
	}
	dst = appendDate(dst, days)
	dst = append(dst, ' ')
	dst = appendPadded(dst, rem/3600, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, rem/60%60, 2)
	dst = append(dst, ':')
	return appendPadded(dst, rem%60, 2)
}

// appendDate appends days since 1970-01-01 as "2006-01-02", using the
// proleptic Gregorian calendar (Howard Hinnant's civil_from_days).
func appendDate(dst []byte, days int64) []byte {
	z := days + 719468
	era := z
	if z < 0 {
		era = z - 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	dst = appendPadded(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, m, 2)
	dst = append(dst, '-')
	return appendPadded(dst, d, 2)
}

// appendPadded appends the non-negative v in decimal, left-padded with zeros
// to at least width digits.
func appendPadded(dst []byte, v int64, width int) []byte {
	var tmp [20]byte
	b := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendCSVString appends s, quoted (with quotes doubled) when it holds a
// comma, a quote or a line break, and as is otherwise. The empty string is written as "" so that it stays distinct
// from a null.
func appendCSVString(dst []byte, s string) []byte {
	if s != "" && !needsQuotes(s) {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		dst = append(dst, s[:i+1]...)
		dst = append(dst, '"')
		s = s[i+1:]
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

func needsQuotes(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\n', '\r':
			return true
		}
	}
	return false
}
