package pipeline

import (
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
