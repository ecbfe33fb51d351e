package features

import (
	"math"
	"strconv"
	"time"
)

// Value kinds.
const (
	kindNull uint8 = iota
	kindNumber
	kindString
	kindTime
)

// Value is one input cell for single-row apply ([ColumnTransformer.ApplyRow],
// [Transform.ApplyRow]). It holds a number, a string, a time or nothing
// (null) without boxing, so building a row allocates nothing. The zero Value
// is null.
//
// A numeric transform reads a number (Float, Int, Bool); a NaN number counts
// as missing, as a null does. A string transform reads a string. A date-time
// transform reads a time, or a string in one of its documented layouts.
type Value struct {
	kind uint8
	num  float64
	ns   int64
	str  string
}

// Null returns a missing value.
func Null() Value { return Value{} }

// Float returns a number. NaN counts as missing in numeric transforms.
func Float(f float64) Value { return Value{kind: kindNumber, num: f} }

// Int returns a number. It is converted to float64 as an Arrow integer
// column is at batch apply time, so both paths see the same value.
func Int(i int64) Value { return Value{kind: kindNumber, num: float64(i)} }

// Bool returns the number 1 for true and 0 for false.
func Bool(b bool) Value {
	if b {
		return Value{kind: kindNumber, num: 1}
	}
	return Value{kind: kindNumber}
}

// String returns a string value.
func String(s string) Value { return Value{kind: kindString, str: s} }

// Time returns a point in time, kept as Unix nanoseconds (UTC).
func Time(t time.Time) Value { return Value{kind: kindTime, ns: t.UnixNano()} }

// timeNanos returns a time value from Unix nanoseconds.
func timeNanos(ns int64) Value { return Value{kind: kindTime, ns: ns} }

// IsNull reports whether v is missing (null). A NaN number is not null, but
// numeric transforms treat it as missing too.
func (v Value) IsNull() bool { return v.kind == kindNull }

// Num returns v's number and true, or 0 and false when v is not a number.
func (v Value) Num() (float64, bool) {
	if v.kind != kindNumber {
		return 0, false
	}
	return v.num, true
}

// Str returns v's string and true, or "" and false when v is not a string.
func (v Value) Str() (string, bool) {
	if v.kind != kindString {
		return "", false
	}
	return v.str, true
}

// TimeValue returns v's time (in UTC) and true, or the zero time and false
// when v is not a time.
func (v Value) TimeValue() (time.Time, bool) {
	if v.kind != kindTime {
		return time.Time{}, false
	}
	return time.Unix(0, v.ns).UTC(), true
}

// String formats v for error messages.
func (v Value) String() string {
	switch v.kind {
	case kindNumber:
		return strconv.FormatFloat(v.num, 'g', -1, 64)
	case kindString:
		return strconv.Quote(v.str)
	case kindTime:
		return time.Unix(0, v.ns).UTC().Format(time.RFC3339Nano)
	}
	return "null"
}

// kindName names v's kind for error messages.
func (v Value) kindName() string {
	switch v.kind {
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindTime:
		return "time"
	}
	return "null"
}

// missingNum reports whether x counts as a missing number (NaN).
func missingNum(x float64) bool { return x != x }

// isInf reports whether x is +Inf or -Inf.
func isInf(x float64) bool { return math.IsInf(x, 0) }
