package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The caching allocator. Device memory is slow to allocate and free
// (cuMemAlloc and cuMemFree synchronize the device), so freed blocks are
// kept in per-size free lists and handed out again. Sizes are rounded to
// classes (512 bytes below 1 MiB, 2 MiB above) so that a training loop's
// tensors, which repeat their shapes every step, always find a block.
//
// Tensors have no Free: a buffer returns its block to the cache when the
// garbage collector finds it unreachable (runtime.AddCleanup). Go's
// collector does not see device memory, so the allocator paces it: when
// the bytes handed out since the last collection pass a budget, it runs
// one, and when the device is out of memory it collects, waits for the
// cleanups, frees the cache and tries again. All work runs on one stream,
// so a block reused after its buffer died is only touched by kernels
// queued after the ones that used it.

// rawMemory is what the allocator asks of the device.
type rawMemory interface {
	rawAlloc(bytes int64) (uintptr, error) // errors.Is(err, ErrOutOfMemory) when full
	rawFree(p uintptr) error
}

type allocator struct {
	raw rawMemory

	mu       sync.Mutex
	free     map[int64][]uintptr // size class -> cached blocks
	cached   int64               // bytes in the free lists
	inUse    int64               // bytes handed out and not returned
	peak     int64
	reserved int64 // bytes obtained from the device (cached + in use)
	sinceGC  int64 // bytes handed out since the last paced collection
	budget   int64 // collect when sinceGC passes it
	minPace  int64

	returned atomic.Int64 // blocks given back by cleanups, ever
	stats    AllocStats
}

// AllocStats describe the caching allocator of a device.
type AllocStats struct {
	InUse    int64 // bytes held by live buffers
	Peak     int64 // the most InUse has been
	Cached   int64 // bytes kept for reuse
	Reserved int64 // bytes obtained from the device (InUse + Cached)

	Allocs       int64 // buffers handed out
	CacheHits    int64 // of which from the cache
	DeviceAllocs int64 // cuMemAlloc calls
	Collections  int64 // garbage collections the allocator ran
	Retries      int64 // allocations that succeeded after freeing the cache
}

func newAllocator(raw rawMemory, minPace int64) *allocator {
	return &allocator{raw: raw, free: map[int64][]uintptr{}, minPace: minPace, budget: minPace}
}

// sizeClass rounds a request up to its class.
func sizeClass(bytes int64) int64 {
	const small, large = 512, 2 << 20
	if bytes <= 0 {
		return small
	}
	if bytes < 1<<20 {
		return (bytes + small - 1) / small * small
	}
	return (bytes + large - 1) / large * large
}

// alloc returns a block of at least bytes bytes and its class.
func (a *allocator) alloc(bytes int64) (uintptr, int64, error) {
	c := sizeClass(bytes)
	a.mu.Lock()
	a.stats.Allocs++
	if p, ok := a.pop(c); ok {
		a.stats.CacheHits++
		a.mu.Unlock()
		return p, c, nil
	}
	pace := a.sinceGC+c > a.budget
	a.mu.Unlock()

	if pace {
		// Dead buffers may hold enough: collect, then look again.
		a.collect()
		a.mu.Lock()
		a.sinceGC = 0
		a.budget = max(a.minPace, a.inUse)
		p, ok := a.pop(c)
		if ok {
			a.stats.CacheHits++
		}
		a.mu.Unlock()
		if ok {
			return p, c, nil
		}
	}
	p, err := a.raw.rawAlloc(c)
	if err != nil && isOOM(err) {
		// Collect: a dead buffer of this class may come back. Otherwise
		// free every cached block and try once more.
		a.collect()
		a.mu.Lock()
		if q, ok := a.pop(c); ok {
			a.stats.CacheHits++
			a.mu.Unlock()
			return q, c, nil
		}
		a.mu.Unlock()
		if ferr := a.releaseCache(); ferr != nil {
			return 0, 0, ferr
		}
		p, err = a.raw.rawAlloc(c)
		if err == nil {
			a.mu.Lock()
			a.stats.Retries++
			a.mu.Unlock()
		}
	}
	if err != nil {
		if isOOM(err) {
			st := a.Stats()
			return 0, 0, fmt.Errorf("%w: %d bytes requested with %d in use by live tensors (%w)", ErrOutOfMemory, bytes, st.InUse, err)
		}
		return 0, 0, err
	}
	a.mu.Lock()
	a.stats.DeviceAllocs++
	a.reserved += c
	a.inUse += c
	a.sinceGC += c
	a.peak = max(a.peak, a.inUse)
	a.mu.Unlock()
	return p, c, nil
}

// pop takes a cached block of class c; a.mu is held.
func (a *allocator) pop(c int64) (uintptr, bool) {
	l := a.free[c]
	if len(l) == 0 {
		return 0, false
	}
	p := l[len(l)-1]
	a.free[c] = l[:len(l)-1]
	a.cached -= c
	a.inUse += c
	a.sinceGC += c
	a.peak = max(a.peak, a.inUse)
	return p, true
}

// put returns a block to the cache.
func (a *allocator) put(p uintptr, c int64) {
	a.mu.Lock()
	a.free[c] = append(a.free[c], p)
	a.cached += c
	a.inUse -= c
	a.mu.Unlock()
	a.returned.Add(1)
}

// collect runs the garbage collector and waits (a little) for the
// cleanups of the buffers it found dead to return their blocks.
func (a *allocator) collect() {
	a.mu.Lock()
	a.stats.Collections++
	a.mu.Unlock()
	before := a.returned.Load()
	runtime.GC()
	// Cleanups run on their own goroutine after the collection; wait
	// until they stop arriving (at most about 20 ms).
	last, still := before, 0
	for i := 0; i < 200 && still < 3; i++ {
		runtime.Gosched()
		time.Sleep(100 * time.Microsecond)
		if r := a.returned.Load(); r != last {
			last, still = r, 0
		} else {
			still++
		}
	}
}

// releaseCache frees every cached block.
func (a *allocator) releaseCache() error {
	a.mu.Lock()
	var blocks []uintptr
	var bytes int64
	for c, l := range a.free {
		blocks = append(blocks, l...)
		bytes += c * int64(len(l))
		delete(a.free, c)
	}
	a.cached = 0
	a.reserved -= bytes
	a.mu.Unlock()
	var first error
	for _, p := range blocks {
		if err := a.raw.rawFree(p); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Stats returns the allocator's figures.
func (a *allocator) Stats() AllocStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.stats
	s.InUse, s.Peak, s.Cached, s.Reserved = a.inUse, a.peak, a.cached, a.reserved
	return s
}

func isOOM(err error) bool {
	e, ok := err.(*DriverError)
	return ok && e.oom
}
