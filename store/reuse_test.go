package store

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func packBytes(t *testing.T, b Backend) int64 {
	t.Helper()
	var n int64
	for oi, err := range b.List(context.Background(), "packs/") {
		if err != nil {
			t.Fatal(err)
		}
		n += oi.Size
	}
	return n
}

// A Put relies on chunks already stored only in packs younger than
// reuseWindow; older ones it stores again, so that a concurrent GC, which
// spares only what is younger than its grace period, cannot delete a chunk
// the Put has just decided to rely on.
func TestPutDoesNotRelyOnOldPacks(t *testing.T) {
	ctx := context.Background()
	b := NewMemory()
	s, err := Open(ctx, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	put := func() Digest {
		d, err := s.Put(ctx, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := put()
	first := packBytes(t, b)
	put()
	if got := packBytes(t, b); got != first {
		t.Fatalf("a second Put of the same content stored %d more bytes, want 0", got-first)
	}

	s.mu.Lock()
	for _, p := range s.packs {
		p.written = time.Now().Add(-reuseWindow - time.Minute)
	}
	s.mu.Unlock()
	put()
	if got := packBytes(t, b); got-first < int64(len(data))*9/10 {
		t.Errorf("a Put after the packs aged stored %d more bytes, want the content again (%d)", got-first, len(data))
	}
	r, err := s.Get(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("Get after the re-store: %v", err)
	}
	if _, err := s.Check(ctx, CheckOptions{}); err != nil {
		t.Errorf("Check: %v", err)
	}
}
