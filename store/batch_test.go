package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/kilnml/kiln/store"
)

// countObjects counts a backend's objects whose names start with prefix.
func countObjects(t *testing.T, b store.Backend, prefix string) int {
	t.Helper()
	n := 0
	for _, err := range b.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestBatchSmallBlobsSharePacks: thousands of small Puts from several
// goroutines in one Batch fill one pack, not one pack each, and every blob
// reads back from a Store opened afterwards.
func TestBatchSmallBlobsSharePacks(t *testing.T) {
	for name, newBackend := range stBackends(t) {
		t.Run(name, func(t *testing.T) {
			b := newBackend()
			s := stOpen(t, b, store.Options{})
			batch := s.Batch()
			const files, workers = 2000, 4
			data := make([][]byte, files)
			digests := make([]store.Digest, files)
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := range workers {
				wg.Go(func() {
					for i := w; i < files; i += workers {
						data[i] = stData(uint64(i)+100, 200+i%3000)
						d, err := batch.Put(context.Background(), bytes.NewReader(data[i]))
						if err != nil {
							errs <- err
							return
						}
						digests[i] = d
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Readable from this Store before Flush.
			if got := stGet(t, s, digests[7]); !bytes.Equal(got, data[7]) {
				t.Fatal("blob 7 differs before Flush")
			}
			if err := batch.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			packs, indexes := countObjects(t, b, "packs/"), countObjects(t, b, "index/")
			if packs != 1 || indexes != 1 {
				t.Errorf("%d small blobs made %d packs and %d indexes, want 1 and 1", files, packs, indexes)
			}
			s2 := stOpen(t, b, store.Options{})
			for i, d := range digests {
				if d != store.Sum(data[i]) {
					t.Fatalf("blob %d: Put returned %s, want %s", i, d, store.Sum(data[i]))
				}
				if got := stGet(t, s2, d); !bytes.Equal(got, data[i]) {
					t.Fatalf("blob %d differs", i)
				}
			}
			stCheckClean(t, s2)

			// Flush with nothing new is a no-op; a Batch goes on after Flush.
			if err := batch.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			d, err := batch.Put(context.Background(), strings.NewReader("after the first flush"))
			if err != nil {
				t.Fatal(err)
			}
			if err := batch.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := stGet(t, stOpen(t, b, store.Options{}), d); string(got) != "after the first flush" {
				t.Fatalf("read %q", got)
			}
		})
	}
}

// failingPacks is a backend whose pack writes fail while fail is set.
type failingPacks struct {
	store.Backend
	mu   sync.Mutex
	fail bool
}

func (f *failingPacks) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail && strings.HasPrefix(name, "packs/") {
		return fmt.Errorf("put %s: disk full", name)
	}
	return f.Backend.Put(ctx, name, r, size)
}

// TestBatchFlushFails: a pack that cannot be written fails Flush (again on
// a second call), and the blobs are not in the store.
func TestBatchFlushFails(t *testing.T) {
	b := &failingPacks{Backend: store.NewMemory(), fail: true}
	s := stOpen(t, b, store.Options{})
	batch := s.Batch()
	var ds []store.Digest
	for i := range 10 {
		d, err := batch.Put(context.Background(), bytes.NewReader(stData(uint64(i), 5000)))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	for range 2 {
		if err := batch.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Flush: %v, want the backend's error", err)
		}
	}
	b.mu.Lock()
	b.fail = false
	b.mu.Unlock()
	s2 := stOpen(t, b, store.Options{})
	for _, d := range ds {
		if _, err := s2.Stat(context.Background(), d); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Stat of a blob whose pack failed: %v, want ErrNotFound", err)
		}
	}
	// Putting them again works.
	for i := range 10 {
		stPut(t, s, stData(uint64(i), 5000))
	}
}
