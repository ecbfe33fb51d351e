package online

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// The record codec, shared by the stores that keep records as bytes.
//
// A record is
//
//	event time: 8 bytes of Unix seconds, big-endian with the sign bit
//	            flipped, then 4 bytes of nanoseconds, big-endian, so that
//	            comparing the first TimePrefixLen bytes of two records
//	            compares their event times
//	format:     1 byte, recordFormat
//	count:      uvarint, the number of features
//	features:   count times: uvarint name length, name, kind byte, payload
//
// with payloads: null none, int zigzag varint, float 8 bytes little-endian,
// bool 1 byte, string and bytes uvarint length then the bytes, time zigzag
// varint seconds then uvarint nanoseconds. Names are stored in each record so
// that a record is self-describing: a read of any subset of features needs
// nothing else, and views may change their features between writes.

// TimePrefixLen is the length of a record's event-time prefix; byte-wise
// comparison of two prefixes orders the records by event time.
const TimePrefixLen = 12

const recordFormat = 1

// AppendRecord appends the encoding of one record (eventTime and the values
// of features, aligned) to dst.
func AppendRecord(dst []byte, eventTime time.Time, features []string, vals []Value) []byte {
	dst = AppendTimePrefix(dst, eventTime)
	dst = append(dst, recordFormat)
	dst = uvarint(dst, uint64(len(features)))
	for i, f := range features {
		dst = uvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
		dst = appendValue(dst, vals[i])
	}
	return dst
}

// RecordSize returns an upper bound of the encoded size of a record.
func RecordSize(features []string, vals []Value) int {
	n := TimePrefixLen + 1 + 10
	for i, f := range features {
		n += len(f) + 10 + 1 + 16 + len(vals[i].s)
	}
	return n
}

// AppendTimePrefix appends the TimePrefixLen-byte ordered encoding of t.
func AppendTimePrefix(dst []byte, t time.Time) []byte {
	dst = be64(dst, uint64(t.Unix())^(1<<63))
	ns := uint32(t.Nanosecond())
	return append(dst, byte(ns>>24), byte(ns>>16), byte(ns>>8), byte(ns))
}

// DecodeTimePrefix returns the event time of an encoded record.
func DecodeTimePrefix(rec string) (time.Time, error) {
	if len(rec) < TimePrefixLen+1 {
		return time.Time{}, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(rec))
	}
	sec := int64(binary.BigEndian.Uint64([]byte(rec[:8])) ^ (1 << 63))
	ns := binary.BigEndian.Uint32([]byte(rec[8:12]))
	if ns >= 1e9 {
		return time.Time{}, fmt.Errorf("%w: nanoseconds %d", ErrCorrupt, ns)
	}
	return time.Unix(sec, int64(ns)).UTC(), nil
}

func appendValue(dst []byte, v Value) []byte {
	dst = append(dst, byte(v.kind))
	switch v.kind {
	case KindInt:
		dst = binary.AppendVarint(dst, int64(v.n))
	case KindFloat:
		dst = binary.LittleEndian.AppendUint64(dst, v.n)
	case KindBool:
		dst = append(dst, byte(v.n))
	case KindString, KindBytes:
		dst = uvarint(dst, uint64(len(v.s)))
		dst = append(dst, v.s...)
	case KindTime:
		dst = binary.AppendVarint(dst, int64(v.n))
		dst = uvarint(dst, uint64(v.nsec))
	}
	return dst
}

// A Decoder decodes records into the results of one read of a list of
// features. It is not safe for concurrent use; make one per Read.
type Decoder struct {
	features []string
	index    map[string]int // built on the first record whose order differs
}

// NewDecoder returns a decoder for reads of features.
func NewDecoder(features []string) *Decoder { return &Decoder{features: features} }

// Decode fills out (aligned with the decoder's features) from rec: Present
// values, or Expired ones when the record's event time is before
// now-maxAge (maxAge > 0). Features that rec does not hold are left as they
// are. Strings and bytes of the values share rec's memory.
func (d *Decoder) Decode(rec string, maxAge time.Duration, now time.Time, out []Result) error {
	et, err := DecodeTimePrefix(rec)
	if err != nil {
		return err
	}
	if rec[TimePrefixLen] != recordFormat {
		return fmt.Errorf("%w: format %d", ErrCorrupt, rec[TimePrefixLen])
	}
	old := expired(et, maxAge, now)
	p := TimePrefixLen + 1
	count, p, err := readUvarint(rec, p)
	if err != nil {
		return err
	}
	for i := uint64(0); i < count; i++ {
		var nl uint64
		if nl, p, err = readUvarint(rec, p); err != nil {
			return err
		}
		if nl > uint64(len(rec)-p) {
			return fmt.Errorf("%w: name runs past the end", ErrCorrupt)
		}
		name := rec[p : p+int(nl)]
		p += int(nl)
		var v Value
		if v, p, err = readValue(rec, p); err != nil {
			return err
		}
		j := d.lookup(name, int(i))
		if j < 0 {
			continue
		}
		if old {
			out[j] = Result{Status: Expired, EventTime: et}
		} else {
			out[j] = Result{Status: Present, EventTime: et, Value: v}
		}
	}
	if p != len(rec) {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(rec)-p)
	}
	return nil
}

// Detach copies the strings and bytes of the values in rs, so that they no
// longer share the memory of the record they were decoded from: for a store
// that decodes a buffer it does not own (Badger's, valid only during a
// callback) without copying the whole record first.
func Detach(rs []Result) {
	for i := range rs {
		if v := &rs[i].Value; v.kind == KindString || v.kind == KindBytes {
			v.s = strings.Clone(v.s)
		}
	}
}

// lookup returns the index of name in the decoder's features, or -1. The
// common case, a record written with the same features in the same order,
// costs one comparison.
func (d *Decoder) lookup(name string, pos int) int {
	if pos < len(d.features) && d.features[pos] == name {
		return pos
	}
	if len(d.features) <= 8 {
		for j, f := range d.features {
			if f == name {
				return j
			}
		}
		return -1
	}
	if d.index == nil {
		d.index = make(map[string]int, len(d.features))
		for j, f := range d.features {
			d.index[f] = j
		}
	}
	if j, ok := d.index[name]; ok {
		return j
	}
	return -1
}

func readUvarint(s string, p int) (uint64, int, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if p >= len(s) {
			return 0, p, fmt.Errorf("%w: truncated varint", ErrCorrupt)
		}
		b := s[p]
		p++
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x, p, nil
		}
	}
	return 0, p, fmt.Errorf("%w: varint overflow", ErrCorrupt)
}

func readVarint(s string, p int) (int64, int, error) {
	ux, p, err := readUvarint(s, p)
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, p, err
}

func readValue(s string, p int) (Value, int, error) {
	if p >= len(s) {
		return Value{}, p, fmt.Errorf("%w: truncated value", ErrCorrupt)
	}
	k := Kind(s[p])
	p++
	switch k {
	case KindNull:
		return Value{}, p, nil
	case KindInt:
		x, p, err := readVarint(s, p)
		return Value{kind: KindInt, n: uint64(x)}, p, err
	case KindFloat:
		if len(s)-p < 8 {
			return Value{}, p, fmt.Errorf("%w: truncated float", ErrCorrupt)
		}
		bits := binary.LittleEndian.Uint64([]byte(s[p : p+8]))
		return Value{kind: KindFloat, n: bits}, p + 8, nil
	case KindBool:
		if p >= len(s) || s[p] > 1 {
			return Value{}, p, fmt.Errorf("%w: bad bool", ErrCorrupt)
		}
		return Value{kind: KindBool, n: uint64(s[p])}, p + 1, nil
	case KindString, KindBytes:
		n, p, err := readUvarint(s, p)
		if err != nil {
			return Value{}, p, err
		}
		if n > uint64(len(s)-p) {
			return Value{}, p, fmt.Errorf("%w: value runs past the end", ErrCorrupt)
		}
		return Value{kind: k, s: s[p : p+int(n)]}, p + int(n), nil
	case KindTime:
		sec, p, err := readVarint(s, p)
		if err != nil {
			return Value{}, p, err
		}
		ns, p, err := readUvarint(s, p)
		if err != nil {
			return Value{}, p, err
		}
		if ns >= 1e9 {
			return Value{}, p, fmt.Errorf("%w: nanoseconds %d", ErrCorrupt, ns)
		}
		return Value{kind: KindTime, n: uint64(sec), nsec: int32(ns)}, p, nil
	}
	return Value{}, p, fmt.Errorf("%w: kind %d", ErrCorrupt, k)
}
