package cuda

import (
	"errors"
	"runtime"
	"testing"
)

// countingMemory hands out addresses from a counter with a capacity, so
// the allocator's caching, pacing and out-of-memory retry can be checked
// without a device.
type countingMemory struct {
	next, used, capacity int64
	sizes                map[uintptr]int64
	frees                int
}

func (m *countingMemory) rawAlloc(bytes int64) (uintptr, error) {
	if m.used+bytes > m.capacity {
		return 0, &DriverError{Call: "rawAlloc", Code: cuOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY", oom: true}
	}
	m.used += bytes
	m.next += bytes
	if m.sizes == nil {
		m.sizes = map[uintptr]int64{}
	}
	m.sizes[uintptr(m.next)] = bytes
	return uintptr(m.next), nil
}

func (m *countingMemory) rawFree(p uintptr) error {
	m.frees++
	m.used -= m.sizes[p]
	delete(m.sizes, p)
	return nil
}

func TestSizeClass(t *testing.T) {
	for _, c := range [][2]int64{{0, 512}, {1, 512}, {512, 512}, {513, 1024}, {1<<20 - 1, 1 << 20}, {1 << 20, 2 << 20}, {2<<20 + 1, 4 << 20}} {
		if got := sizeClass(c[0]); got != c[1] {
			t.Errorf("sizeClass(%d) = %d, want %d", c[0], got, c[1])
		}
	}
}

func TestAllocatorReuse(t *testing.T) {
	m := &countingMemory{capacity: 1 << 30}
	a := newAllocator(m, 1<<30)
	p, c, err := a.alloc(1000)
	if err != nil || c != 1024 {
		t.Fatalf("alloc = %v, %d, %v", p, c, err)
	}
	a.put(p, c)
	q, _, err := a.alloc(700)
	if err != nil || q != p {
		t.Fatalf("second alloc = %v, %v; want the cached block %v", q, err, p)
	}
	st := a.Stats()
	if st.Allocs != 2 || st.CacheHits != 1 || st.DeviceAllocs != 1 || st.InUse != 1024 || st.Reserved != 1024 {
		t.Fatalf("stats %+v", st)
	}
}

// TestAllocatorCollects checks that blocks of unreachable buffers come
// back through their cleanups, on pacing and when memory runs out.
func TestAllocatorCollects(t *testing.T) {
	m := &countingMemory{capacity: 64 << 20}
	a := newAllocator(m, 256<<20) // pacing never triggers: only out-of-memory collects
	type buf struct{ p uintptr }
	leak := func() {
		p, c, err := a.alloc(8 << 20)
		if err != nil {
			t.Fatal(err)
		}
		b := &buf{p}
		runtime.AddCleanup(b, func(blk [2]int64) { a.put(uintptr(blk[0]), blk[1]) }, [2]int64{int64(p), c})
	}
	// 40 buffers of 8 MiB on a 64 MiB device: only possible if dead ones
	// are collected and reused.
	for range 40 {
		leak()
	}
	st := a.Stats()
	if st.Collections == 0 || st.DeviceAllocs > 8 {
		t.Fatalf("stats %+v: want collections and at most 8 device allocations", st)
	}
	// A request larger than what is free fails with ErrOutOfMemory after
	// the cache is released.
	if _, _, err := a.alloc(128 << 20); err == nil || !isOOMErr(err) {
		t.Fatalf("alloc of 128 MiB on 64 MiB = %v, want ErrOutOfMemory", err)
	}
	if m.frees == 0 {
		t.Fatal("the cache was not released before failing")
	}
}

func TestAllocatorPaces(t *testing.T) {
	m := &countingMemory{capacity: 1 << 40}
	a := newAllocator(m, 32<<20)
	type buf struct{ p uintptr }
	for range 100 {
		p, c, err := a.alloc(4 << 20)
		if err != nil {
			t.Fatal(err)
		}
		b := &buf{p}
		runtime.AddCleanup(b, func(blk [2]int64) { a.put(uintptr(blk[0]), blk[1]) }, [2]int64{int64(p), c})
	}
	st := a.Stats()
	// 400 MiB handed out with a 32 MiB budget: collections keep the
	// device memory near the budget instead of growing to 400 MiB.
	if st.Collections < 3 || st.Reserved > 128<<20 {
		t.Fatalf("stats %+v: want pacing to bound reserved memory", st)
	}
}

func isOOMErr(err error) bool { return errors.Is(err, ErrOutOfMemory) }
