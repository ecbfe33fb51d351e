package store_test

import (
	"bytes"
	"testing"

	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/store"
)

func TestMemoryBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) store.Backend { return store.NewMemory() })
}

// TestMemoryCopies checks that the backend shares no memory with callers:
// changing the bytes given to Put, or those read from Get, leaves the object
// alone.
func TestMemoryCopies(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory()
	src := []byte("original")
	if err := m.Put(ctx, "o", bytes.NewReader(src), int64(len(src))); err != nil {
		t.Fatal(err)
	}
	copy(src, "XXXXXXXX")
	rc, err := m.Get(ctx, "o", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if string(buf) != "original" {
		t.Fatalf("Get = %q after changing Put's source, want %q", buf, "original")
	}
	copy(buf, "YYYYYYYY")
	rc, err = m.Get(ctx, "o", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	again := make([]byte, 8)
	rc.Read(again)
	rc.Close()
	if string(again) != "original" {
		t.Fatalf("Get = %q after changing a read buffer, want %q", again, "original")
	}
}
