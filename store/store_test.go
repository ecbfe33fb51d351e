package store_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

// stGen is a fast deterministic generator of incompressible bytes; the
// stream does not depend on how it is read.
type stGen struct {
	state uint64
	left  int64 // bytes still to yield
	word  [8]byte
	wpos  int // next unread byte of word; 8 when used up
}

func stNewGen(seed uint64, n int64) *stGen {
	return &stGen{state: seed*0x9e3779b97f4a7c15 + 1, left: n, wpos: 8}
}

func (g *stGen) next() uint64 {
	x := g.state
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	g.state = x
	return x
}

func (g *stGen) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	i := 0
	for ; g.wpos < 8 && i < len(p); i++ {
		p[i] = g.word[g.wpos]
		g.wpos++
	}
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], g.next())
	}
	if i < len(p) {
		binary.LittleEndian.PutUint64(g.word[:], g.next())
		g.wpos = copy(p[i:], g.word[:])
	}
	g.left -= int64(len(p))
	return len(p), nil
}

func stData(seed uint64, n int) []byte {
	b := make([]byte, n)
	io.ReadFull(stNewGen(seed, int64(n)), b)
	return b
}

// stBackends returns fresh backends of each kind.
func stBackends(t *testing.T) map[string]func() store.Backend {
	return map[string]func() store.Backend{
		"memory": func() store.Backend { return store.NewMemory() },
		"fs": func() store.Backend {
			fs, err := store.NewFS(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return fs
		},
	}
}

func stOpen(t testing.TB, b store.Backend, opts store.Options) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func stPut(t testing.TB, s *store.Store, data []byte) store.Digest {
	t.Helper()
	d, err := s.Put(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := store.Sum(data); d != want {
		t.Fatalf("Put returned %s, want %s", d, want)
	}
	return d
}

func stGet(t testing.TB, s *store.Store, d store.Digest) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return got
}

func stCheckClean(t testing.TB, s *store.Store) store.CheckReport {
	t.Helper()
	rep, err := s.Check(context.Background(), store.CheckOptions{})
	if err != nil {
		t.Fatalf("Check: %v (%+v)", err, rep)
	}
	return rep
}

func stStored(t testing.TB, b store.Backend) int64 {
	t.Helper()
	var n int64
	for oi, err := range b.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		n += oi.Size
	}
	return n
}

func TestRoundTrip(t *testing.T) {
	p := store.DefaultChunkerParams
	sizes := []int{0, 1, 100, p.Min - 1, p.Min, p.Min + 1, p.Avg, p.Max, p.Max + 1, 3 << 20, 9<<20 + 12345}
	for name, nb := range stBackends(t) {
		t.Run(name, func(t *testing.T) {
			b := nb()
			s := stOpen(t, b, store.Options{})
			ds := map[int]store.Digest{}
			for i, n := range sizes {
				data := stData(uint64(i+1), n)
				d := stPut(t, s, data)
				ds[n] = d
				if got := stGet(t, s, d); !bytes.Equal(got, data) {
					t.Fatalf("size %d: Get returned %d bytes, not the content", n, len(got))
				}
				info, err := s.Stat(context.Background(), d)
				if err != nil {
					t.Fatal(err)
				}
				if info.Size != int64(n) || (n == 0) != (info.Chunks == 0) || (n <= p.Min) && n > 0 && info.Chunks != 1 {
					t.Errorf("size %d: Stat = %+v", n, info)
				}
				if ok, err := s.Has(context.Background(), d); !ok || err != nil {
					t.Errorf("size %d: Has = %v, %v", n, ok, err)
				}
			}
			stCheckClean(t, s)
			// A reopened store sees everything.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := stOpen(t, b, store.Options{})
			for i, n := range sizes {
				if got := stGet(t, s2, ds[n]); !bytes.Equal(got, stData(uint64(i+1), n)) {
					t.Fatalf("reopened: size %d differs", n)
				}
			}
			if ok, err := s2.Has(context.Background(), store.Sum([]byte("never stored"))); ok || err != nil {
				t.Errorf("Has(absent) = %v, %v", ok, err)
			}
			_, err := s2.Get(context.Background(), store.Sum([]byte("never stored")))
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(absent) error = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestCompressible(t *testing.T) {
	b := store.NewMemory()
	s := stOpen(t, b, store.Options{})
	var buf bytes.Buffer
	for i := 0; buf.Len() < 8<<20; i++ {
		fmt.Fprintf(&buf, "%d,flight-%d,ORD,JFK,%d\n", i, i%977, i%61)
	}
	data := buf.Bytes()
	d := stPut(t, s, data)
	if got := stGet(t, s, d); !bytes.Equal(got, data) {
		t.Fatal("compressible round trip differs")
	}
	if n := stStored(t, b); n > int64(len(data))/2 {
		t.Errorf("stored %d bytes for %d compressible bytes", n, len(data))
	}
	stCheckClean(t, s)

	// With compression off everything is stored raw and still reads back.
	b2 := store.NewMemory()
	s2 := stOpen(t, b2, store.Options{Compression: store.CompressionNone})
	d2 := stPut(t, s2, data)
	if got := stGet(t, s2, d2); !bytes.Equal(got, data) {
		t.Fatal("uncompressed round trip differs")
	}
	if n := stStored(t, b2); n < int64(len(data)) {
		t.Errorf("compression none stored %d < %d bytes", n, len(data))
	}
}

func TestReadRange(t *testing.T) {
	s := stOpen(t, store.NewMemory(), store.Options{})
	data := stData(7, 5<<20+333)
	d := stPut(t, s, data)
	small := stData(8, 1000)
	ds := stPut(t, s, small)
	cases := []struct {
		d         store.Digest
		data      []byte
		off, n    int64
		wantBytes []byte
	}{
		{d, data, 0, -1, data},
		{d, data, 0, 10, data[:10]},
		{d, data, 1 << 20, 3 << 20, data[1<<20 : 4<<20]},
		{d, data, 123457, 1, data[123457:123458]},
		{d, data, int64(len(data)) - 5, 100, data[len(data)-5:]},
		{d, data, int64(len(data)), -1, nil},
		{ds, small, 10, 20, small[10:30]},
	}
	for _, c := range cases {
		rc, err := s.ReadRange(context.Background(), c.d, c.off, c.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("ReadRange(%d, %d): %v", c.off, c.n, err)
		}
		if !bytes.Equal(got, c.wantBytes) {
			t.Errorf("ReadRange(%d, %d): got %d bytes, want %d", c.off, c.n, len(got), len(c.wantBytes))
		}
	}
	if _, err := s.ReadRange(context.Background(), d, int64(len(data))+1, 1); !errors.Is(err, store.ErrRange) {
		t.Errorf("ReadRange past end: %v, want ErrRange", err)
	}
}

// TestCorruptPack flips one byte inside a chunk's stored bytes and expects
// Get and Check to fail with ErrCorrupt naming that chunk's digest.
func TestCorruptPack(t *testing.T) {
	for name, nb := range stBackends(t) {
		t.Run(name, func(t *testing.T) {
			b := nb()
			s := stOpen(t, b, store.Options{})
			data := stData(3, 1<<20)
			d := stPut(t, s, data)
			s.Close()

			var packs []store.ObjectInfo
			for oi, err := range b.List(context.Background(), "packs/") {
				if err != nil {
					t.Fatal(err)
				}
				packs = append(packs, oi)
			}
			if len(packs) != 1 {
				t.Fatalf("%d packs, want 1", len(packs))
			}
			pack, err := readAll(b, packs[0].Name)
			if err != nil {
				t.Fatal(err)
			}
			// The first record starts after the 8-byte magic with a 44-byte
			// header; its key is the digest of the first chunk.
			var first store.Digest
			copy(first[:], pack[8:40])
			pack[8+44+100] ^= 0x40
			if err := b.Put(context.Background(), packs[0].Name, bytes.NewReader(pack), int64(len(pack))); err != nil {
				t.Fatal(err)
			}

			s2 := stOpen(t, b, store.Options{})
			rc, err := s2.Get(context.Background(), d)
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			if !errors.Is(err, store.ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(first.String())) {
				t.Errorf("Get error = %v, want ErrCorrupt naming %s", err, first)
			}
			rep, err := s2.Check(context.Background(), store.CheckOptions{})
			if !errors.Is(err, store.ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(first.String())) {
				t.Errorf("Check error = %v, want ErrCorrupt naming %s", err, first)
			}
			want := []store.Problem{{Object: packs[0].Name, Digest: first, Reason: "chunk " + first.String() + ": store: corrupt data: digest mismatch"}}
			if diff := cmp.Diff(want, rep.Corrupt); diff != "" {
				t.Errorf("Check corrupt (-want +got):\n%s", diff)
			}
		})
	}
}

func readAll(b store.Backend, name string) ([]byte, error) {
	rc, err := b.Get(context.Background(), name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestCheckMissingPack(t *testing.T) {
	b := store.NewMemory()
	s := stOpen(t, b, store.Options{})
	stPut(t, s, stData(4, 2<<20))
	for oi, err := range b.List(context.Background(), "packs/") {
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(context.Background(), oi.Name); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Check(context.Background(), store.CheckOptions{})
	if !errors.Is(err, store.ErrCorrupt) || len(rep.Missing) != 1 {
		t.Errorf("Check = %+v, %v; want one missing pack and ErrCorrupt", rep, err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	for name, nb := range stBackends(t) {
		t.Run(name, func(t *testing.T) {
			b := nb()
			s := stOpen(t, b, store.Options{})
			data := stData(5, 6<<20)
			var wg sync.WaitGroup
			ds := make([]store.Digest, 16)
			errs := make([]error, 16)
			for i := range 16 {
				wg.Go(func() { ds[i], errs[i] = s.Put(context.Background(), bytes.NewReader(data)) })
			}
			wg.Wait()
			for i := range 16 {
				if errs[i] != nil || ds[i] != store.Sum(data) {
					t.Fatalf("Put %d: %s, %v", i, ds[i], errs[i])
				}
			}
			if got := stGet(t, s, ds[0]); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
			if n := stStored(t, b); n > int64(len(data))*21/20 {
				t.Errorf("16 concurrent Puts of %d bytes stored %d bytes", len(data), n)
			}
			stCheckClean(t, s)
		})
	}
}

// stDedup stores base, base with 1 MiB changed in the middle and base with
// 1 MiB inserted near the start, and returns the total stored divided by
// len(base).
func stDedup(t testing.TB, size int) float64 {
	b := store.NewMemory()
	s := stOpen(t, b, store.Options{})
	base := stData(11, size)
	stPut(t, s, base)
	before := stStored(t, b)

	changed := bytes.Clone(base)
	copy(changed[size/2:], stData(12, 1<<20))
	stPut(t, s, changed)

	inserted := make([]byte, 0, size+1<<20)
	inserted = append(inserted, base[:4096]...)
	inserted = append(inserted, stData(13, 1<<20)...)
	inserted = append(inserted, base[4096:]...)
	d := stPut(t, s, inserted)
	if got := stGet(t, s, d); !bytes.Equal(got, inserted) {
		t.Fatal("content differs")
	}
	total := stStored(t, b)
	t.Logf("dedup: first %d bytes stored %d; after all three %d (%.4fx)", size, before, total, float64(total)/float64(size))
	return float64(total) / float64(size)
}

func TestDedup(t *testing.T) {
	if r := stDedup(t, 64<<20); r >= 1.05 {
		t.Errorf("stored %.4fx the first file, want < 1.05x", r)
	}
}

// TestDedup1GiB is the figure: < 1.02x after the three 1 GiB files.
func TestDedup1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("1 GiB dedup measurement skipped in -short mode")
	}
	if r := stDedup(t, 1<<30); r >= 1.02 {
		t.Errorf("stored %.4fx the first file, want < 1.02x", r)
	}
}

func TestConfigMismatch(t *testing.T) {
	b := store.NewMemory()
	stOpen(t, b, store.Options{PackSize: 16 << 20})
	bad := []store.Options{
		{Chunker: store.ChunkerParams{Min: 8 << 10, Avg: 32 << 10, Max: 128 << 10}},
		{PackSize: 32 << 20},
		{Compression: store.CompressionNone},
	}
	for _, o := range bad {
		if _, err := store.Open(context.Background(), b, o); !errors.Is(err, store.ErrConfig) {
			t.Errorf("Open(%+v) error = %v, want ErrConfig", o, err)
		}
	}
	if _, err := store.Open(context.Background(), b, store.Options{Chunker: store.DefaultChunkerParams, PackSize: 16 << 20}); err != nil {
		t.Errorf("matching options: %v", err)
	}
	if _, err := store.Open(context.Background(), store.NewMemory(), store.Options{PackSize: 1 << 20}); err == nil {
		t.Error("pack size 1 MiB accepted")
	}
	b2 := store.NewMemory()
	cfg := []byte(`{"format":"kiln-store","version":99}`)
	b2.Put(context.Background(), "config", bytes.NewReader(cfg), int64(len(cfg)))
	if _, err := store.Open(context.Background(), b2, store.Options{}); !errors.Is(err, store.ErrConfig) {
		t.Errorf("version 99: %v, want ErrConfig", err)
	}
}

func TestPutProgress(t *testing.T) {
	var last store.PutProgress
	calls := 0
	s := stOpen(t, store.NewMemory(), store.Options{Progress: func(p store.PutProgress) { last = p; calls++ }})
	stPut(t, s, stData(9, 9<<20))
	if !last.Done || last.Read != 9<<20 || last.NewChunks != last.Chunks || last.Stored < 9<<20 || calls < 3 {
		t.Errorf("last progress %+v after %d calls", last, calls)
	}
}

// TestStreamLarge streams 2 GiB (1 GiB in -short mode) of generated bytes
// through Put and Get without holding them in memory.
func TestStreamLarge(t *testing.T) {
	size := int64(2 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	fs, err := store.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := stOpen(t, fs, store.Options{})
	d, err := s.Put(context.Background(), stNewGen(42, size))
	if err != nil {
		t.Fatal(err)
	}
	h := store.NewHasher()
	io.Copy(h, stNewGen(42, size))
	if want := h.Sum(); d != want {
		t.Fatalf("Put = %s, want %s", d, want)
	}
	rc, err := s.Get(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	n, err := io.Copy(&stCompare{want: stNewGen(42, size)}, rc)
	if err != nil || n != size {
		t.Fatalf("Get: %d bytes, %v", n, err)
	}
}

// stCompare is a writer that checks what is written against a reader.
type stCompare struct {
	want io.Reader
	buf  []byte
}

func (c *stCompare) Write(p []byte) (int, error) {
	if cap(c.buf) < len(p) {
		c.buf = make([]byte, len(p))
	}
	b := c.buf[:len(p)]
	if _, err := io.ReadFull(c.want, b); err != nil {
		return 0, err
	}
	if !bytes.Equal(b, p) {
		return 0, errors.New("content differs")
	}
	return len(p), nil
}

// Put cuts its input where Boundaries does, whatever the batch boundaries of
// its reader: sizes around its 4 MiB read batches and the chunk limits.
func TestPutCutsLikeBoundaries(t *testing.T) {
	s := stOpen(t, store.NewMemory(), store.Options{})
	p := s.ChunkerParams()
	for _, size := range []int{0, 1, p.Min, p.Max, 4<<20 - 1, 4 << 20, 4<<20 + p.Max, 4<<20 + p.Max + 1, 9<<20 + 12345} {
		data := stData(uint64(size), size)
		d := stPut(t, s, data)
		info, err := s.Stat(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		want := len(store.Boundaries(data, p))
		if info.Chunks != want {
			t.Errorf("size %d: Put made %d chunks, Boundaries %d", size, info.Chunks, want)
		}
		if got := stGet(t, s, d); !bytes.Equal(got, data) {
			t.Errorf("size %d: content differs", size)
		}
	}
}
