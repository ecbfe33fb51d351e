package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Cast converts column col to type to, keeping its name, position and
// nullability. Nulls stay null. Conversions are safe: a value that does not
// fit the new type (an int64 beyond int32's range, a float with a fraction
// cast to an integer, text that is not a number) fails the batch with a
// *ParseError naming the column and the first bad value; its Source is
// "cast" and its Row the value's 1-based position within the batch.
//
// Conversions between numbers, bools and strings go through arrow-go's
// compute.CastArray. Kiln converts these itself, the same way its readers
// and writers do:
//   - string → date32 takes "2006-01-02";
//   - string → timestamp (any unit and zone) takes ISO 8601 forms with a
//     space or 'T', optional seconds and fraction, and an optional zone
//     ("Z", "+02:00"); text without a zone is read in the column's zone
//     (UTC when it has none);
//   - timestamp, date32 and date64 → string write "2006-01-02 15:04:05",
//     a fraction only when it is not zero (without trailing zeros), and the
//     offset ("Z", "+02:00") when the type has a zone; dates write
//     "2006-01-02" (the CSV sink's forms);
//   - numbers and bools → string write integers in decimal, floats in
//     the shortest form that reads back the same (strconv 'g', -1), and
//     bools as true and false.
//
// Binding fails with ErrSchema when the column is missing or when no
// conversion exists between the two types. Casting to the column's own type
// does nothing.
func Cast(col string, to arrow.DataType) Stage { return &castStage{col: col, to: to} }

type castStage struct {
	col string
	to  arrow.DataType
}

func (s *castStage) Name() string {
	if s.to == nil {
		return "cast(" + s.col + ")"
	}
	return "cast(" + s.col + " as " + s.to.String() + ")"
}

type castKind uint8

const (
	castSame castKind = iota
	castCompute
	castParseDate
	castParseTimestamp
	castFormatTime
	castFormatNumber
)

func (s *castStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	if s.to == nil {
		return nil, fmt.Errorf("%w: cast %q: nil target type", ErrSchema, s.col)
	}
	i, err := fieldIndex(in, s.col)
	if err != nil {
		return nil, err
	}
	from := in.Field(i).Type
	st := &castStep{mem: mem, in: in, col: i, name: s.col, from: from, to: s.to}
	isString := func(dt arrow.DataType) bool {
		return dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
	}
	switch {
	case arrow.TypeEqual(from, s.to):
		st.kind = castSame
	case isString(from) && s.to.ID() == arrow.DATE32:
		st.kind = castParseDate
	case isString(from) && s.to.ID() == arrow.TIMESTAMP:
		st.kind = castParseTimestamp
		if st.loc, err = loadZone(s.to.(*arrow.TimestampType).TimeZone); err != nil {
			return nil, err
		}
	case isString(s.to) && (from.ID() == arrow.TIMESTAMP || from.ID() == arrow.DATE32 || from.ID() == arrow.DATE64):
		st.kind = castFormatTime
		if ts, ok := from.(*arrow.TimestampType); ok {
			if st.loc, err = loadZone(ts.TimeZone); err != nil {
				return nil, err
			}
		}
	case isString(s.to) && isNumberOrBool(from):
		st.kind = castFormatNumber
	case compute.CanCast(from, s.to):
		st.kind = castCompute
	default:
		return nil, fmt.Errorf("%w: cast %q: no conversion from %s to %s", ErrSchema, s.col, from, s.to)
	}
	fields := in.Fields()
	fields[i].Type = s.to
	md := in.Metadata()
	st.schema = arrow.NewSchema(fields, &md)
	return st, nil
}

type castStep struct {
	mem      memory.Allocator
	in       *arrow.Schema
	schema   *arrow.Schema
	col      int
	name     string
	from, to arrow.DataType
	kind     castKind
	loc      *time.Location // zone of the timestamp type, nil when naive
}

func (s *castStep) Schema() *arrow.Schema { return s.schema }

func (s *castStep) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := checkBatch(in, s.in); err != nil {
		return nil, err
	}
	col := in.Column(s.col)
	var out arrow.Array
	var err error
	switch s.kind {
	case castSame:
		col.Retain()
		out = col
	case castCompute:
		out, err = s.castCompute(ctx, col)
	case castParseDate, castParseTimestamp:
		out, err = s.parse(col.(stringValues))
	case castFormatTime, castFormatNumber:
		out = s.format(col)
	}
	if err != nil {
		return nil, err
	}
	defer out.Release()
	cols := append([]arrow.Array(nil), in.Columns()...)
	cols[s.col] = out
	return array.NewRecordBatch(s.schema, cols, in.NumRows()), nil
}

func (s *castStep) castCompute(ctx context.Context, col arrow.Array) (arrow.Array, error) {
	cctx := compute.WithAllocator(ctx, s.mem)
	opts := compute.SafeCastOptions(s.to)
	out, err := compute.CastArray(cctx, col, opts)
	if err == nil {
		return out, nil
	}
	// Find the first value that fails: the prefix [0, lo) casts, the
	// prefix [0, hi) does not.
	try := func(i, j int) error {
		sl := array.NewSlice(col, int64(i), int64(j))
		defer sl.Release()
		o, err := compute.CastArray(cctx, sl, opts)
		if err == nil {
			o.Release()
		}
		return err
	}
	lo, hi := 0, col.Len()
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if try(lo, mid) == nil {
			lo = mid
		} else {
			hi = mid
		}
	}
	if hi-lo == 1 {
		if cause := try(lo, hi); cause != nil {
			return nil, s.parseError(lo, col.ValueStr(lo), cause)
		}
	}
	return nil, fmt.Errorf("cast column %q from %s to %s: %w", s.name, s.from, s.to, err)
}

func (s *castStep) parseError(row int, value string, cause error) error {
	return &ParseError{Source: "cast", Row: int64(row) + 1, Offset: -1, Column: s.name, Value: clip(value),
		Err: fmt.Errorf("cannot convert %s to %s: %w", s.from, s.to, cause)}
}

func isNumberOrBool(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL:
		return true
	}
	return false
}

// stringValues is implemented by *array.String and *array.LargeString.
type stringValues interface {
	arrow.Array
	Value(i int) string
}

// stringAppender is implemented by *array.StringBuilder and
// *array.LargeStringBuilder.
type stringAppender interface {
	array.Builder
	Append(string)
}

var errNotDate32 = errors.New("date out of range for date32")

func (s *castStep) parse(col stringValues) (arrow.Array, error) {
	n := col.Len()
	vals := make([]int64, n)
	for i := range n {
		if col.IsNull(i) {
			continue
		}
		b := []byte(col.Value(i))
		switch s.kind {
		case castParseDate:
			d, ok := parseISODate(b)
			if !ok || len(b) != 10 {
				return nil, s.parseError(i, string(b), errNotDate)
			}
			if d < -1<<31 || d >= 1<<31 {
				return nil, s.parseError(i, string(b), errNotDate32)
			}
			vals[i] = d
		default:
			sec, nsec, zoned, ok := parseISOTimestamp(b)
			if !ok {
				return nil, s.parseError(i, string(b), errNotTimestamp)
			}
			if !zoned && s.loc != nil && s.loc != time.UTC {
				// A wall clock in the column's zone.
				t := time.Unix(sec, 0).UTC()
				sec = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, s.loc).Unix()
			}
			v, ok := toUnit(sec, nsec, s.to.(*arrow.TimestampType).Unit)
			if !ok {
				return nil, s.parseError(i, string(b), errTSRange)
			}
			vals[i] = v
		}
	}
	bld := array.NewBuilder(s.mem, s.to)
	defer bld.Release()
	bld.Reserve(n)
	for i, v := range vals {
		switch {
		case col.IsNull(i):
			bld.AppendNull()
		case s.kind == castParseDate:
			bld.(*array.Date32Builder).UnsafeAppend(arrow.Date32(v))
		default:
			bld.(*array.TimestampBuilder).UnsafeAppend(arrow.Timestamp(v))
		}
	}
	return bld.NewArray(), nil
}

func (s *castStep) format(col arrow.Array) arrow.Array {
	bld := array.NewBuilder(s.mem, s.to)
	defer bld.Release()
	app := bld.(stringAppender)
	n := col.Len()
	bld.Reserve(n)
	var buf []byte
	for i := range n {
		if col.IsNull(i) {
			bld.AppendNull()
			continue
		}
		switch c := col.(type) {
		case *array.Int8:
			buf = strconv.AppendInt(buf[:0], int64(c.Value(i)), 10)
		case *array.Int16:
			buf = strconv.AppendInt(buf[:0], int64(c.Value(i)), 10)
		case *array.Int32:
			buf = strconv.AppendInt(buf[:0], int64(c.Value(i)), 10)
		case *array.Int64:
			buf = strconv.AppendInt(buf[:0], c.Value(i), 10)
		case *array.Uint8:
			buf = strconv.AppendUint(buf[:0], uint64(c.Value(i)), 10)
		case *array.Uint16:
			buf = strconv.AppendUint(buf[:0], uint64(c.Value(i)), 10)
		case *array.Uint32:
			buf = strconv.AppendUint(buf[:0], uint64(c.Value(i)), 10)
		case *array.Uint64:
			buf = strconv.AppendUint(buf[:0], c.Value(i), 10)
		case *array.Float32:
			buf = strconv.AppendFloat(buf[:0], float64(c.Value(i)), 'g', -1, 32)
		case *array.Float64:
			buf = strconv.AppendFloat(buf[:0], c.Value(i), 'g', -1, 64)
		case *array.Boolean:
			buf = strconv.AppendBool(buf[:0], c.Value(i))
		case *array.Date32:
			buf = time.Unix(int64(c.Value(i))*86400, 0).UTC().AppendFormat(buf[:0], time.DateOnly)
		case *array.Date64:
			buf = time.UnixMilli(int64(c.Value(i))).UTC().AppendFormat(buf[:0], time.DateOnly)
		case *array.Timestamp:
			unit := c.DataType().(*arrow.TimestampType).Unit
			buf = appendTimestamp(buf[:0], int64(c.Value(i)), unit, s.loc)
		}
		app.Append(string(buf))
	}
	return bld.NewArray()
}

// appendTimestamp writes a timestamp of unit in Kiln's text form:
// "2006-01-02 15:04:05", then the fraction when it is not zero (at most the
// unit's digits, no trailing zeros), then for a zoned type (loc not nil) its
// offset.
func appendTimestamp(buf []byte, v int64, unit arrow.TimeUnit, loc *time.Location) []byte {
	var t time.Time
	digits := 0
	switch unit {
	case arrow.Second:
		t = time.Unix(v, 0)
	case arrow.Millisecond:
		t, digits = time.UnixMilli(v), 3
	case arrow.Microsecond:
		t, digits = time.UnixMicro(v), 6
	default:
		t, digits = time.Unix(0, v), 9
	}
	if loc == nil {
		t = t.UTC()
	} else {
		t = t.In(loc)
	}
	buf = t.AppendFormat(buf, time.DateTime)
	if ns := t.Nanosecond(); ns != 0 && digits > 0 {
		frac := strconv.AppendInt(nil, int64(ns)+1e9, 10)[1 : 1+digits] // zero-padded, cut to the unit
		for frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		buf = append(buf, '.')
		buf = append(buf, frac...)
	}
	if loc != nil {
		buf = t.AppendFormat(buf, "Z07:00")
	}
	return buf
}

// loadZone returns the location of an Arrow time zone: nil for "" (naive),
// UTC for "UTC", a fixed zone for "+hh:mm", else from the tz database.
func loadZone(tz string) (*time.Location, error) {
	switch tz {
	case "":
		return nil, nil
	case "UTC", "utc", "Z", "Etc/UTC", "+00:00":
		return time.UTC, nil
	}
	if len(tz) == 6 && (tz[0] == '+' || tz[0] == '-') && tz[3] == ':' {
		h, err1 := strconv.Atoi(tz[1:3])
		m, err2 := strconv.Atoi(tz[4:6])
		if err1 == nil && err2 == nil && h < 24 && m < 60 {
			off := h*3600 + m*60
			if tz[0] == '-' {
				off = -off
			}
			return time.FixedZone(tz, off), nil
		}
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: %v", ErrSchema, tz, err)
	}
	return loc, nil
}
