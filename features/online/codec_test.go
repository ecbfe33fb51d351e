package online

import (
	"bytes"
	"testing"
	"time"
	"unsafe"
)

func TestEncodeKeyUnambiguous(t *testing.T) {
	keys := [][]Value{
		{}, {Null()}, {Int(1)}, {Float(1)}, {Bool(true)}, {String("\x01")}, {Bytes([]byte{1})},
		{String("ab")}, {String("a"), String("b")}, {String(""), String("ab")}, {String("ab"), String("")},
		{Int(1), Int(2)}, {Int(2), Int(1)}, {Time(time.Unix(1, 0))}, {Time(time.Unix(1, 1))}, {Int(0)}, {Float(0)},
	}
	seen := map[string]int{}
	for i, k := range keys {
		e := string(EncodeKey(k...))
		if j, dup := seen[e]; dup {
			t.Errorf("keys %d and %d encode the same: %q", j, i, e)
		}
		seen[e] = i
		if again := EncodeKey(k...); !bytes.Equal(again, []byte(e)) {
			t.Errorf("key %d: not deterministic", i)
		}
	}
}

func TestTimePrefixOrder(t *testing.T) {
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(-1, 999999999), time.Unix(0, 0), time.Unix(0, 1),
		time.Unix(1, 0), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := AppendTimePrefix(nil, times[i-1]), AppendTimePrefix(nil, times[i])
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("prefix of %v not below prefix of %v", times[i-1], times[i])
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the record decoder (records come from
// a shared server): it must return an error or results, never panic.
func FuzzDecode(f *testing.F) {
	f.Add(string(AppendRecord(nil, time.Unix(5, 6), []string{"a", "b", "c"}, []Value{Int(-3), String("x"), Time(time.Unix(7, 8))})))
	f.Add(string(AppendRecord(nil, time.Unix(5, 6), []string{"f"}, []Value{Float(2.5)})))
	f.Add("")
	f.Fuzz(func(t *testing.T, rec string) {
		d := NewDecoder([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})
		out := NewResults(1, 10)
		d.Decode(rec, time.Hour, time.Unix(100, 0), out[0])
	})
}

// TestDetach: after Detach, decoded strings and bytes no longer share the
// record's memory, which a store may reuse once Read returns.
func TestDetach(t *testing.T) {
	features := []string{"name", "blob", "n"}
	vals := []Value{String("paris"), Bytes([]byte("raw")), Int(7)}
	buf := AppendRecord(nil, time.Unix(100, 0), features, vals)
	out := NewResults(1, len(features))
	d := NewDecoder(features)
	if err := d.Decode(unsafeString(buf), 0, time.Unix(200, 0), out[0]); err != nil {
		t.Fatal(err)
	}
	Detach(out[0])
	for i := range buf { // the store reuses its buffer
		buf[i] = 'x'
	}
	if s, ok := out[0][0].Value.AsString(); !ok || s != "paris" {
		t.Errorf("string after the buffer changed: %q", s)
	}
	if b, ok := out[0][1].Value.AsBytes(); !ok || string(b) != "raw" {
		t.Errorf("bytes after the buffer changed: %q", b)
	}
	if n, ok := out[0][2].Value.AsInt(); !ok || n != 7 {
		t.Errorf("int: %d", n)
	}
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
