package kern

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// A Pool is a set of persistent worker goroutines that run the tiles of a
// kernel. The caller of Run works too, so a pool of one worker runs
// everything on the calling goroutine.
type Pool struct {
	workers int
	jobs    chan *job
	once    sync.Once
}

// job is one Run: tiles are claimed from next until n.
type job struct {
	n    int64
	next atomic.Int64
	fn   func(int)
	wg   sync.WaitGroup
}

func (j *job) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.fn(int(i))
	}
}

// NewPool returns a pool of workers goroutines (at least 1, the caller of
// Run included).
func NewPool(workers int) *Pool {
	workers = max(workers, 1)
	p := &Pool{workers: workers, jobs: make(chan *job)}
	for range workers - 1 {
		go func() {
			for j := range p.jobs {
				j.work()
				j.wg.Done()
			}
		}()
	}
	return p
}

var (
	defaultMu    sync.Mutex
	defaultPools = map[int]*Pool{}
)

// Default returns the shared pool for the current GOMAXPROCS: one pool per
// value seen, kept for the life of the process, so that a program (or a
// test) that changes GOMAXPROCS never stops a pool another goroutine uses.
func Default() *Pool {
	n := runtime.GOMAXPROCS(0)
	defaultMu.Lock()
	defer defaultMu.Unlock()
	p := defaultPools[n]
	if p == nil {
		p = NewPool(n)
		defaultPools[n] = p
	}
	return p
}

// Workers returns the number of goroutines that run tiles, the caller's
// included.
func (p *Pool) Workers() int { return p.workers }

// Run calls fn(i) once for every i in [0, n), spread over the pool, and
// returns when all calls have returned. fn must write only what tile i
// owns: which worker runs a tile, and in which order, is not fixed.
func (p *Pool) Run(n int, fn func(i int)) {
	if n <= 0 {
		return
	}
	if n == 1 || p == nil || p.workers == 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	j := &job{n: int64(n), fn: fn}
	helpers := min(p.workers-1, n-1)
	j.wg.Add(helpers)
	for range helpers {
		p.jobs <- j
	}
	j.work()
	j.wg.Wait()
}

// Close stops the pool's goroutines once running work is done; Run must
// not be called afterwards.
func (p *Pool) Close() {
	p.once.Do(func() { close(p.jobs) })
}
