package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// checkedAlloc returns an allocator that fails the test if anything
// allocated from it is still live when the test ends.
func checkedAlloc(t testing.TB) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// checkEarlyStop reads src and breaks out of the loop after k batches; the
// source must stop cleanly (the caller's checked allocator then finds no
// leak).
func checkEarlyStop(t *testing.T, src Source, k int) {
	t.Helper()
	n := 0
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if n++; n == k {
			return
		}
	}
	t.Fatalf("the source yielded %d batches, want at least %d", n, k)
}

// checkCancel reads src and cancels the context after the first batch: the
// next thing the source yields must be context.Canceled.
func checkCancel(t *testing.T, src Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			last = err
			break
		}
		rec.Release()
		n++
		cancel()
	}
	if n != 1 || !errors.Is(last, context.Canceled) {
		t.Errorf("%d batches, then error %v; want 1 batch, then context.Canceled", n, last)
	}
}
