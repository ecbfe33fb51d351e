package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// gcData returns n pseudo-random bytes from seed.
func gcData(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 7})
	r.Read(b)
	return b
}

func gcOpen(t *testing.T, b Backend) *Store {
	t.Helper()
	s, err := Open(t.Context(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func gcPut(t *testing.T, s *Store, data []byte) Digest {
	t.Helper()
	d, err := s.Put(t.Context(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if d != Sum(data) {
		t.Fatalf("Put returned %s, want %s", d, Sum(data))
	}
	return d
}

// gcMustRead checks that d reads back as want from a Store freshly opened
// on b, so that nothing cached in s hides a deleted object.
func gcMustRead(t *testing.T, b Backend, d Digest, want []byte) {
	t.Helper()
	s, err := Open(t.Context(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc, err := s.Get(t.Context(), d)
	if err != nil {
		t.Fatalf("Get %s: %v", d, err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s read back %d bytes, not the %d put", d, len(got), len(want))
	}
}

// gcGone checks that d is no longer in the repository on b.
func gcGone(t *testing.T, b Backend, d Digest) {
	t.Helper()
	s, err := Open(t.Context(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ok, err := s.Has(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatalf("%s survived GC", d)
	}
}

func gcCheckClean(t *testing.T, b Backend) {
	t.Helper()
	s, err := Open(t.Context(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Check(t.Context(), CheckOptions{})
	if err != nil {
		t.Fatalf("Check: %v (report %+v)", err, rep)
	}
}

func packCount(t *testing.T, b Backend) (n int, size int64) {
	t.Helper()
	for oi, err := range b.List(t.Context(), "packs/") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		size += oi.Size
	}
	return n, size
}

func TestGCRootsKeepData(t *testing.T) {
	b := NewMemory()
	s := gcOpen(t, b)
	big := gcData(1, 3<<20) // many chunks: a manifest
	small := gcData(2, 1000)
	garbage := gcData(3, 2<<20)
	dBig, dSmall, dGarbage := gcPut(t, s, big), gcPut(t, s, small), gcPut(t, s, garbage)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = gcOpen(t, b)
	st, err := s.GC(t.Context(), []Digest{dBig, dSmall}, GCOptions{Grace: -1, RepackThreshold: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if st.LiveBlobs != 1 || st.LiveChunks < 40 {
		t.Errorf("live blobs %d, chunks %d: want 1 and ≥ 40", st.LiveBlobs, st.LiveChunks)
	}
	gcMustRead(t, b, dBig, big)
	gcMustRead(t, b, dSmall, small)
	gcGone(t, b, dGarbage)
	gcCheckClean(t, b)
	// The Store that ran GC still reads the live blobs (from the new pack).
	rc, err := s.Get(t.Context(), dBig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("GC'ing store reads %d bytes, err %v", len(got), err)
	}

	// A root that is not there is an error, and deletes nothing.
	_, err = s.GC(t.Context(), []Digest{Sum([]byte("never stored"))}, GCOptions{Grace: -1})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("GC with a missing root: %v, want ErrNotFound", err)
	}
	gcMustRead(t, b, dBig, big)
}

func TestGCGrace(t *testing.T) {
	b := NewMemory()
	s := gcOpen(t, b)
	data := gcData(4, 1<<20)
	d := gcPut(t, s, data)
	s.Close()
	s = gcOpen(t, b)
	st, err := s.GC(t.Context(), nil, GCOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st.Young != 1 || st.Deleted != 0 {
		t.Errorf("within the grace period: %+v, want one young pack, none deleted", st)
	}
	gcMustRead(t, b, d, data)

	time.Sleep(60 * time.Millisecond)
	st, err = s.GC(t.Context(), nil, GCOptions{Grace: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 1 || st.Young != 0 {
		t.Errorf("after the grace period: %+v, want one pack deleted", st)
	}
	gcGone(t, b, d)
	if n, _ := packCount(t, b); n != 0 {
		t.Errorf("%d packs left, want 0", n)
	}
	gcCheckClean(t, b)
}

func TestGCRepack(t *testing.T) {
	b := NewMemory()
	s := gcOpen(t, b)
	live := gcData(5, 1<<20)
	dead := gcData(6, 6<<20)
	// One pack holds live and dead chunks: a blob that starts with live's
	// bytes; live itself then stores little more than its manifest.
	gcPut(t, s, append(slices.Clone(live), dead...))
	dLive := gcPut(t, s, live)
	s.Close()
	n0, size0 := packCount(t, b)
	if n0 != 2 {
		t.Fatalf("%d packs, want 2", n0)
	}
	s = gcOpen(t, b)

	dry, err := s.GC(t.Context(), []Digest{dLive}, GCOptions{Grace: -1, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, size := packCount(t, b); n != n0 || size != size0 {
		t.Fatalf("dry run changed the packs: %d, %d bytes", n, size)
	}
	st, err := s.GC(t.Context(), []Digest{dLive}, GCOptions{Grace: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dry run %+v\nGC %+v", dry, st)
	if st.Repacked != 1 || st.Written != 1 {
		t.Errorf("repacked %d, written %d: want 1 and 1", st.Repacked, st.Written)
	}
	if dry.Repacked != st.Repacked || dry.BytesAfter != st.BytesAfter {
		t.Errorf("dry run predicted %d repacked, %d bytes after; GC did %d, %d", dry.Repacked, dry.BytesAfter, st.Repacked, st.BytesAfter)
	}
	n1, size1 := packCount(t, b)
	if n1 != 2 || size1 > size0/4 || size1 != st.BytesAfter {
		t.Errorf("after repack: %d packs, %d bytes (was %d; stats say %d)", n1, size1, size0, st.BytesAfter)
	}
	gcMustRead(t, b, dLive, live)
	gcCheckClean(t, b)

	// Nothing left to do.
	st, err = s.GC(t.Context(), []Digest{dLive}, GCOptions{Grace: -1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Repacked+st.Deleted+st.Orphans != 0 {
		t.Errorf("second GC still worked: %+v", st)
	}
}

func TestGCLock(t *testing.T) {
	b := NewMemory()
	s := gcOpen(t, b)
	d := gcPut(t, s, gcData(7, 100))
	l, err := acquireGCLock(t.Context(), b, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(t.Context(), []Digest{d}, GCOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("GC while locked: %v, want ErrLocked", err)
	}
	if _, err := acquireGCLock(t.Context(), b, time.Minute); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	// A dry run takes no lock.
	if _, err := s.GC(t.Context(), []Digest{d}, GCOptions{DryRun: true}); err != nil {
		t.Fatalf("dry run while locked: %v", err)
	}
	if err := l.release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(t.Context(), []Digest{d}, GCOptions{}); err != nil {
		t.Fatalf("GC after release: %v", err)
	}

	// A lock that is not refreshed goes stale and is removed.
	l, err = acquireGCLock(t.Context(), b, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	close(l.stop) // the holder "crashes": no more refreshes
	<-l.done
	time.Sleep(30 * time.Millisecond)
	if _, err := s.GC(t.Context(), []Digest{d}, GCOptions{LockStale: 20 * time.Millisecond}); err != nil {
		t.Fatalf("GC over a stale lock: %v", err)
	}
	for oi, err := range b.List(t.Context(), locksPrefix) {
		t.Errorf("lock left behind: %s (%v)", oi.Name, err)
	}
	// A holder that could not refresh for half the timeout stops.
	l.lastOK = time.Now().Add(-time.Minute)
	if err := l.check(); !errors.Is(err, errLockLost) {
		t.Errorf("check of a lock not refreshed for a minute: %v, want errLockLost", err)
	}
}

// Two GCs racing for the lock: never both get it.
func TestGCLockExclusive(t *testing.T) {
	b := NewMemory()
	for range 50 {
		var wg sync.WaitGroup
		locks := make([]*repoLock, 4)
		for i := range locks {
			wg.Go(func() {
				l, err := acquireGCLock(context.Background(), b, time.Minute)
				if err == nil {
					locks[i] = l
				} else if !errors.Is(err, ErrLocked) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		held := 0
		for _, l := range locks {
			if l != nil {
				held++
				l.release(context.Background())
			}
		}
		if held > 1 {
			t.Fatalf("%d holders of the GC lock at once", held)
		}
	}
}

func TestGCConcurrentPuts(t *testing.T) {
	b := NewMemory()
	s := gcOpen(t, b)
	live := gcData(8, 2<<20)
	dLive := gcPut(t, s, live)
	for i := range 5 {
		gcPut(t, s, gcData(100+uint64(i), 1<<20)) // garbage
	}
	s.Close()
	const grace = 300 * time.Millisecond
	time.Sleep(grace + 50*time.Millisecond)

	s = gcOpen(t, b)
	ctx := t.Context()
	var (
		mu  sync.Mutex
		put = map[Digest][]byte{}
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Fresh data, data the roots hold, and data shared with other writers.
				var data []byte
				switch i % 3 {
				case 0:
					data = gcData(uint64(1000+w*1000+i), 300<<10)
				case 1:
					data = live
				case 2:
					data = gcData(uint64(50000+i), 200<<10)
				}
				d, err := s.Put(ctx, bytes.NewReader(data))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				put[d] = data
				mu.Unlock()
			}
		})
	}
	for range 5 {
		if _, err := s.GC(ctx, []Digest{dLive}, GCOptions{Grace: grace, RepackThreshold: 0.01}); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(put) == 0 {
		t.Fatal("no Put finished during GC")
	}
	for d, data := range put {
		gcMustRead(t, b, d, data)
	}
	gcMustRead(t, b, dLive, live)
	gcCheckClean(t, b)
	t.Logf("%d blobs put during GC", len(put))
}

func TestGCInterrupted(t *testing.T) {
	b := NewMemory()
	s := gcOpen(t, b)
	var roots []Digest
	kept := map[Digest][]byte{}
	for i := range 12 {
		data := gcData(200+uint64(i), 700<<10)
		d := gcPut(t, s, data)
		if i%3 == 0 {
			roots = append(roots, d)
			kept[d] = data
		}
	}
	s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	finished := false
	for round := range 40 {
		s := gcOpen(t, b)
		ctx, cancel := context.WithCancel(t.Context())
		stopAt := rng.IntN(12)
		calls := 0
		_, err := s.GC(ctx, roots, GCOptions{Grace: -1, RepackThreshold: 0.01, Progress: func(GCProgress) {
			calls++
			if calls > stopAt {
				cancel()
			}
		}})
		cancel()
		if err == nil {
			finished = true
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: %v", round, err)
		}
		for d, data := range kept {
			gcMustRead(t, b, d, data)
		}
		gcCheckClean(t, b)
		s.Close()
		if round%10 == 9 {
			// Add more garbage so that later rounds have work again.
			s := gcOpen(t, b)
			for i := range 4 {
				gcPut(t, s, gcData(uint64(5000+round*10+i), 500<<10))
			}
			s.Close()
		}
	}
	if !finished {
		t.Error("no GC ran to completion")
	}
}

// TestGCRepackSeenByOtherStore: a Store that loaded its index before a GC
// elsewhere (another process) repacked and deleted the pack holding a
// blob's chunks, or its manifest, still reads the blob from the new pack.
func TestGCRepackSeenByOtherStore(t *testing.T) {
	live := gcData(9, 1<<20)
	dLive := Sum(live)
	layouts := map[string]func(t *testing.T, b Backend){
		// Pack 1 holds live's chunks and dead ones; pack 2 live's manifest.
		"chunks moved": func(t *testing.T, b Backend) {
			s := gcOpen(t, b)
			gcPut(t, s, append(slices.Clone(live), gcData(8, 6<<20)...))
			gcPut(t, s, live)
		},
		// One pack holds live's chunks and manifest and the chunks of a
		// Put that failed: it was half read when live's Put flushed the
		// pack they shared.
		"manifest moved": func(t *testing.T, b Backend) {
			half := make(chan struct{})
			var once sync.Once
			s, err := Open(t.Context(), b, Options{Progress: func(p PutProgress) {
				if p.Read >= 4<<20 {
					once.Do(func() { close(half) })
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			pr, pw := io.Pipe()
			failed := make(chan error)
			go func() {
				_, err := s.Put(t.Context(), pr)
				failed <- err
			}()
			go func() {
				pw.Write(gcData(8, 6<<20))
				<-half
			}()
			<-half
			gcPut(t, s, live)
			pw.CloseWithError(errors.New("source broke"))
			if err := <-failed; err == nil {
				t.Fatal("the broken Put succeeded")
			}
		},
	}
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			b := NewMemory()
			layout(t, b)
			a := gcOpen(t, b)
			if _, err := a.Stat(t.Context(), dLive); err != nil { // a now knows the old packs
				t.Fatal(err)
			}
			other := gcOpen(t, b)
			st, err := other.GC(t.Context(), []Digest{dLive}, GCOptions{Grace: -1})
			if err != nil {
				t.Fatal(err)
			}
			if st.Repacked != 1 {
				t.Fatalf("GC %+v: want one pack repacked", st)
			}
			rc, err := a.Get(t.Context(), dLive)
			if err != nil {
				t.Fatalf("Get after GC: %v", err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, live) {
				t.Fatalf("Get after GC: %d bytes, %v", len(got), err)
			}
			if info, err := a.Stat(t.Context(), dLive); err != nil || info.Size != int64(len(live)) {
				t.Fatalf("Stat after GC: %+v, %v", info, err)
			}
			gcCheckClean(t, b)
		})
	}
}
