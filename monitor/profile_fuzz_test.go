package monitor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// FuzzProfileUnmarshal feeds arbitrary bytes to Profile.UnmarshalBinary: it
// must not panic or over-allocate, must reject with ErrInput, and what it
// accepts must re-encode stably and answer queries.
func FuzzProfileUnmarshal(f *testing.F) {
	schema, batches := mixedBatches(f, 2, 300, 5)
	pr, err := NewProfiler(schema, ProfileOptions{Columns: []string{"f", "code"}, Categorical: []string{"code"}, TopK: 2, SketchK: 16, Bins: 10})
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range batches {
		if err := pr.Add(b); err != nil {
			f.Fatal(err)
		}
		b.Release()
	}
	enc, err := pr.Profile().MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(enc)
	empty, _ := (&Profile{sketchK: 256, topK: 256, bins: 100}).MarshalBinary()
	f.Add(empty)
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzProfileBytes(t, b)
		// Past the checksum: the same bytes with their CRC-32C fixed.
		if len(b) >= 4 {
			c := append([]byte(nil), b[:len(b)-4]...)
			fuzzProfileBytes(t, binary.LittleEndian.AppendUint32(c, crc32.Checksum(c, castagnoli)))
		}
	})
}

func fuzzProfileBytes(t *testing.T, b []byte) {
	var p Profile
	if err := p.UnmarshalBinary(b); err != nil {
		if !errors.Is(err, ErrInput) {
			t.Fatalf("error does not wrap ErrInput: %v", err)
		}
		return
	}
	e, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q Profile
	if err := q.UnmarshalBinary(e); err != nil {
		t.Fatal(err)
	}
	if e2, _ := q.MarshalBinary(); !bytes.Equal(e, e2) {
		t.Fatal("unstable re-encoding")
	}
	for _, c := range p.Columns {
		_ = c.Quantile(0.5)
		_ = c.Rank(0)
		_ = c.Distinct()
		_ = c.Bin(1)
	}
	if err := p.Merge(&q); err != nil {
		t.Fatal(err)
	}
}
