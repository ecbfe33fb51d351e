package online

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Kind is the type of a [Value].
type Kind uint8

// The kinds of values. The zero Value is null.
const (
	KindNull Kind = iota
	KindInt
	KindFloat
	KindBool
	KindString
	KindBytes
	KindTime
)

var kindNames = [...]string{"null", "int64", "float64", "bool", "string", "bytes", "timestamp"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// A Value is one typed feature value: null, int64, float64, bool, string,
// bytes or time. Values are immutable and cheap to copy (32 bytes); the zero
// Value is null.
type Value struct {
	kind Kind
	nsec int32  // KindTime: nanoseconds within the second
	n    uint64 // KindInt, KindFloat (bits), KindBool, KindTime (Unix seconds)
	s    string // KindString, KindBytes
}

// Null returns the null value.
func Null() Value { return Value{} }

// Int returns an int64 value.
func Int(v int64) Value { return Value{kind: KindInt, n: uint64(v)} }

// Float returns a float64 value.
func Float(v float64) Value { return Value{kind: KindFloat, n: math.Float64bits(v)} }

// Bool returns a bool value.
func Bool(v bool) Value {
	var n uint64
	if v {
		n = 1
	}
	return Value{kind: KindBool, n: n}
}

// String returns a string value.
func String(v string) Value { return Value{kind: KindString, s: v} }

// Bytes returns a bytes value holding a copy of v.
func Bytes(v []byte) Value { return Value{kind: KindBytes, s: string(v)} }

// Time returns a time value. Stores keep the instant (to the nanosecond),
// not the location: values read back are in UTC.
func Time(v time.Time) Value {
	return Value{kind: KindTime, n: uint64(v.Unix()), nsec: int32(v.Nanosecond())}
}

// Kind returns the type of v.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// AsInt returns v's int64 and whether v is one.
func (v Value) AsInt() (int64, bool) { return int64(v.n), v.kind == KindInt }

// AsFloat returns v's float64 and whether v is one.
func (v Value) AsFloat() (float64, bool) {
	if v.kind != KindFloat {
		return 0, false
	}
	return math.Float64frombits(v.n), true
}

// AsBool returns v's bool and whether v is one.
func (v Value) AsBool() (bool, bool) { return v.kind == KindBool && v.n != 0, v.kind == KindBool }

// AsString returns v's string and whether v is one.
func (v Value) AsString() (string, bool) {
	if v.kind != KindString {
		return "", false
	}
	return v.s, true
}

// AsBytes returns a copy of v's bytes and whether v is a bytes value.
func (v Value) AsBytes() ([]byte, bool) {
	if v.kind != KindBytes {
		return nil, false
	}
	return []byte(v.s), true
}

// AsTime returns v's time (in UTC) and whether v is one.
func (v Value) AsTime() (time.Time, bool) {
	if v.kind != KindTime {
		return time.Time{}, false
	}
	return time.Unix(int64(v.n), int64(v.nsec)).UTC(), true
}

// Equal reports whether v and w have the same kind and value. Floats are
// compared by bits, so NaN equals the same NaN.
func (v Value) Equal(w Value) bool { return v == w }

// String formats v for people: the value, or "null".
func (v Value) String() string {
	switch v.kind {
	case KindNull:
		return "null"
	case KindInt:
		return strconv.FormatInt(int64(v.n), 10)
	case KindFloat:
		return strconv.FormatFloat(math.Float64frombits(v.n), 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.n != 0)
	case KindString:
		return strconv.Quote(v.s)
	case KindBytes:
		return fmt.Sprintf("%x", v.s)
	case KindTime:
		t, _ := v.AsTime()
		return t.Format(time.RFC3339Nano)
	}
	return v.kind.String()
}

// EncodeKey encodes the join-key values of one entity into a store key. The
// encoding is deterministic and unambiguous: two lists of values give the
// same key only if they have the same length, kinds and values (so Int(1)
// and Float(1) are different keys). Each value is its kind byte followed by
// a fixed 8-byte (int, float, bool), 12-byte (time) or length-prefixed
// (string, bytes) payload.
func EncodeKey(vals ...Value) []byte {
	n := 0
	for _, v := range vals {
		n += 1 + 12 + len(v.s) + 10
	}
	return AppendKey(make([]byte, 0, n), vals...)
}

// AppendKey appends the key encoding of vals (see [EncodeKey]) to dst.
func AppendKey(dst []byte, vals ...Value) []byte {
	for _, v := range vals {
		dst = append(dst, byte(v.kind))
		switch v.kind {
		case KindInt, KindFloat, KindBool:
			dst = be64(dst, v.n)
		case KindTime:
			dst = be64(dst, v.n)
			dst = append(dst, byte(v.nsec>>24), byte(v.nsec>>16), byte(v.nsec>>8), byte(v.nsec))
		case KindString, KindBytes:
			dst = uvarint(dst, uint64(len(v.s)))
			dst = append(dst, v.s...)
		}
	}
	return dst
}

func be64(dst []byte, n uint64) []byte {
	return append(dst, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func uvarint(dst []byte, n uint64) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}
