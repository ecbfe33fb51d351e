// Package backendtest is the test suite that every [store.Backend]
// implementation passes: the filesystem and memory backends in package store,
// and the S3 backend in store/s3 (against a real MinIO server).
package backendtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

// Run runs the suite against fresh backends made by newBackend, which is
// called once per subtest and must return an empty backend; it registers
// its own cleanup with t.
//
// With -short the large streamed object is 32 MiB instead of 256 MiB. The
// bound on heap growth while streaming it is skipped for *store.Memory,
// which holds objects in memory by design.
func Run(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b store.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"UnknownSize", testUnknownSize},
		{"SizeMismatch", testSizeMismatch},
		{"Replace", testReplace},
		{"Range", testRange},
		{"Stat", testStat},
		{"List", testList},
		{"ListStop", testListStop},
		{"Delete", testDelete},
		{"NotFound", testNotFound},
		{"BadNames", testBadNames},
		{"ConcurrentPut", testConcurrentPut},
		{"FailingReader", testFailingReader},
		{"Cancelled", testCancelled},
		{"CancelledMidway", testCancelledMidway},
		{"Large", testLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newBackend(t))
		})
	}
}

// randBytes returns n reproducible pseudo-random bytes.
func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6b696c6e))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, b store.Backend, name string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), name, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", name, len(data), err)
	}
}

func get(t *testing.T, b store.Backend, name string, off, length int64) []byte {
	t.Helper()
	rc, err := b.Get(t.Context(), name, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", name, off, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): reading: %v", name, off, length, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Get(%q): Close: %v", name, err)
	}
	return data
}

// sameBytes reports a difference between two byte slices briefly (cmp.Diff
// of megabytes is unreadable).
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at byte %d", what, len(got), len(want), i)
}

// list collects a List into names, failing the test on an error.
func list(t *testing.T, b store.Backend, prefix string) []store.ObjectInfo {
	t.Helper()
	var infos []store.ObjectInfo
	for info, err := range b.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		infos = append(infos, info)
	}
	return infos
}

func names(infos []store.ObjectInfo) []string {
	out := []string{}
	for _, info := range infos {
		out = append(out, info.Name)
	}
	return out
}

func wantNotFound(t *testing.T, b store.Backend, name string) {
	t.Helper()
	ctx := t.Context()
	if rc, err := b.Get(ctx, name, 0, -1); !errors.Is(err, store.ErrNotFound) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get(%q): error %v, want one wrapping ErrNotFound", name, err)
	}
	if _, err := b.Stat(ctx, name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat(%q): error %v, want one wrapping ErrNotFound", name, err)
	}
	for info, err := range b.List(ctx, name) {
		if err == nil && info.Name == name {
			t.Errorf("List(%q) lists %q, which should not exist", name, name)
		}
	}
}

func testRoundTrip(t *testing.T, b store.Backend) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one", 1},
		{"sub/folder/ten-mib", 10 << 20},
	} {
		data := randBytes(tc.size, uint64(tc.size))
		put(t, b, tc.name, data)
		sameBytes(t, "Get "+tc.name, get(t, b, tc.name, 0, -1), data)
		info, err := b.Stat(t.Context(), tc.name)
		if err != nil {
			t.Fatalf("Stat(%q): %v", tc.name, err)
		}
		if info.Name != tc.name || info.Size != int64(tc.size) {
			t.Errorf("Stat(%q) = %q, %d bytes; want %q, %d bytes", tc.name, info.Name, info.Size, tc.name, tc.size)
		}
	}
}

func testUnknownSize(t *testing.T, b store.Backend) {
	for _, size := range []int{0, 1, 3 << 20} {
		name := fmt.Sprintf("unknown/%d", size)
		data := randBytes(size, 7)
		// A reader that does not reveal its size (no Len, Size or Seek).
		r := struct{ io.Reader }{bytes.NewReader(data)}
		if err := b.Put(t.Context(), name, r, -1); err != nil {
			t.Fatalf("Put(%q, size -1): %v", name, err)
		}
		sameBytes(t, "Get "+name, get(t, b, name, 0, -1), data)
	}
}

func testSizeMismatch(t *testing.T, b store.Backend) {
	data := randBytes(1000, 1)
	for _, size := range []int64{999, 1001, 0} {
		name := fmt.Sprintf("mismatch/%d", size)
		if err := b.Put(t.Context(), name, bytes.NewReader(data), size); err == nil {
			t.Errorf("Put of 1000 bytes with size %d: no error", size)
		}
		wantNotFound(t, b, name)
	}
}

func testReplace(t *testing.T, b store.Backend) {
	a, c := randBytes(5000, 1), randBytes(3000, 2)
	put(t, b, "x/obj", a)
	put(t, b, "x/obj", a) // the store's case: same name, same bytes
	sameBytes(t, "after second Put of the same bytes", get(t, b, "x/obj", 0, -1), a)
	put(t, b, "x/obj", c)
	sameBytes(t, "after Put of other bytes", get(t, b, "x/obj", 0, -1), c)
	if got := names(list(t, b, "")); !slices.Equal(got, []string{"x/obj"}) {
		t.Errorf("List after replacing = %q, want [x/obj]", got)
	}
}

func testRange(t *testing.T, b store.Backend) {
	data := randBytes(1000, 3)
	put(t, b, "r", data)
	for _, tc := range []struct {
		off, length int64
		want        []byte
	}{
		{0, -1, data},
		{0, 1000, data},
		{0, 10, data[:10]},
		{0, 0, []byte{}},
		{100, 50, data[100:150]},
		{999, 1, data[999:]},
		{990, -1, data[990:]},
		{995, 100, data[995:]},       // clipped at the end
		{0, 1 << 40, data},           // clipped at the end
		{1000, -1, []byte{}},         // starts at the end: empty
		{1000, 5, []byte{}},          // starts at the end: empty
		{500, 1<<63 - 1, data[500:]}, // no overflow
	} {
		got := get(t, b, "r", tc.off, tc.length)
		sameBytes(t, fmt.Sprintf("Get(r, %d, %d)", tc.off, tc.length), got, tc.want)
	}
	for _, tc := range []struct{ off, length int64 }{
		{1001, -1}, {1001, 1}, {5000, 10}, {-1, 10}, {0, -2},
	} {
		rc, err := b.Get(t.Context(), "r", tc.off, tc.length)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, store.ErrRange) {
			t.Errorf("Get(r, %d, %d): error %v, want one wrapping ErrRange", tc.off, tc.length, err)
		}
	}
	put(t, b, "empty", nil)
	sameBytes(t, "Get(empty, 0, 10)", get(t, b, "empty", 0, 10), []byte{})
	if rc, err := b.Get(t.Context(), "empty", 1, -1); !errors.Is(err, store.ErrRange) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get(empty, 1, -1): error %v, want one wrapping ErrRange", err)
	}
}

func testStat(t *testing.T, b store.Backend) {
	// Object stores keep modification times in whole seconds, and a server's
	// clock may differ a little from ours.
	const slack = 5 * time.Second
	before := time.Now()
	put(t, b, "s/t", randBytes(12345, 4))
	after := time.Now()
	info, err := b.Stat(t.Context(), "s/t")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "s/t" || info.Size != 12345 {
		t.Errorf("Stat = %q, %d bytes; want s/t, 12345 bytes", info.Name, info.Size)
	}
	if info.Modified.Before(before.Add(-slack)) || info.Modified.After(after.Add(slack)) {
		t.Errorf("Stat: Modified %v, want between %v and %v", info.Modified, before, after)
	}
	listed := list(t, b, "s/t")
	if len(listed) != 1 || listed[0].Size != 12345 || listed[0].Modified.Sub(info.Modified).Abs() > slack {
		t.Errorf("List(s/t) = %+v, want one object like Stat's %+v", listed, info)
	}
}

func testList(t *testing.T, b store.Backend) {
	all := []string{"c", "b/y/z", "a.txt", "b-c", "b/x", "ba", "b0", "bb/q", "b/y/w", "ä"}
	for i, name := range all {
		put(t, b, name, randBytes(i, uint64(i)))
	}
	sorted := slices.Sorted(slices.Values(all))
	infos := list(t, b, "")
	if diff := cmp.Diff(sorted, names(infos)); diff != "" {
		t.Errorf("List(\"\") names (-want +got):\n%s", diff)
	}
	for _, info := range infos {
		if want := int64(slices.Index(all, info.Name)); info.Size != want {
			t.Errorf("List: %q has size %d, want %d", info.Name, info.Size, want)
		}
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"b", []string{"b-c", "b/x", "b/y/w", "b/y/z", "b0", "ba", "bb/q"}},
		{"b/", []string{"b/x", "b/y/w", "b/y/z"}},
		{"b/y", []string{"b/y/w", "b/y/z"}},
		{"b/y/", []string{"b/y/w", "b/y/z"}},
		{"b/x", []string{"b/x"}},
		{"bb", []string{"bb/q"}},
		{"c", []string{"c"}},
		{"a", []string{"a.txt"}},
		{"ä", []string{"ä"}},
		{"zz", []string{}},
		{"zz/", []string{}},
		{"c/", []string{}}, // "c" is an object, not a folder
		{"b/y/z/q", []string{}},
	} {
		if diff := cmp.Diff(tc.want, names(list(t, b, tc.prefix))); diff != "" {
			t.Errorf("List(%q) names (-want +got):\n%s", tc.prefix, diff)
		}
	}
}

func testListStop(t *testing.T, b store.Backend) {
	for i := range 5 {
		put(t, b, fmt.Sprintf("d%d/o", i), []byte{byte(i)})
	}
	n := 0
	for _, err := range b.List(t.Context(), "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("listed %d before break, want 2", n)
	}
	// The loop body may call the backend.
	for info, err := range b.List(t.Context(), "d") {
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(t.Context(), info.Name); err != nil {
			t.Errorf("Delete(%q) while listing: %v", info.Name, err)
		}
	}
	if got := list(t, b, ""); len(got) != 0 {
		t.Errorf("List after deleting all = %q, want none", names(got))
	}
}

func testDelete(t *testing.T, b store.Backend) {
	put(t, b, "keep/a", []byte("a"))
	put(t, b, "del/one/two", []byte("xyz"))
	put(t, b, "del/other", []byte("o"))
	if err := b.Delete(t.Context(), "del/one/two"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, b, "del/one/two")
	if err := b.Delete(t.Context(), "del/one/two"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete: error %v, want one wrapping ErrNotFound", err)
	}
	if diff := cmp.Diff([]string{"del/other", "keep/a"}, names(list(t, b, ""))); diff != "" {
		t.Errorf("List after Delete (-want +got):\n%s", diff)
	}
	// The name can be used again, also as a folder or above a folder.
	put(t, b, "del/one/two", []byte("again"))
	sameBytes(t, "Get after Put again", get(t, b, "del/one/two", 0, -1), []byte("again"))
	for _, name := range []string{"del/one/two", "del/other", "keep/a"} {
		if err := b.Delete(t.Context(), name); err != nil {
			t.Fatalf("Delete(%q): %v", name, err)
		}
	}
	put(t, b, "del", []byte("now an object"))
	if got := names(list(t, b, "")); !slices.Equal(got, []string{"del"}) {
		t.Errorf("List = %q, want [del]", got)
	}
}

func testNotFound(t *testing.T, b store.Backend) {
	put(t, b, "dir/obj", []byte("x"))
	for _, name := range []string{"missing", "dir", "dir/obj/below", "dir/ob", "dir/obj2", "other/x"} {
		wantNotFound(t, b, name)
		if err := b.Delete(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete(%q): error %v, want one wrapping ErrNotFound", name, err)
		}
	}
	sameBytes(t, "Get dir/obj", get(t, b, "dir/obj", 0, -1), []byte("x"))
}

// BadNames is the table of names that every backend refuses.
var BadNames = []string{
	"",
	"/",
	"/abs",
	"/etc/passwd",
	"..",
	".",
	"../escape",
	"a/../../escape",
	"a/..",
	"a/../b",
	"./a",
	"a/./b",
	"a/.",
	"a//b",
	"a/",
	"//a",
	`a\b`,
	`..\escape`,
	`C:\x`,
	"a\x00b",
	"\x00",
	"a\nb",
	"a\rb",
	"tab\there",
	"a\x1bb",
	"a\x7fb",
	"a\x01",
	"\xff\xfe",
	"a/\xc3",
	strings.Repeat("a", store.MaxNameLen+1),
	strings.Repeat("a/", 600) + "a",
}

// noRead is a reader that fails the test if anything reads it.
type noRead struct{ t *testing.T }

func (r noRead) Read([]byte) (int, error) {
	r.t.Errorf("Put read the data of an invalid name")
	return 0, io.EOF
}

func testBadNames(t *testing.T, b store.Backend) {
	ctx := t.Context()
	put(t, b, "ok", []byte("ok")) // something to find, were a bad name to resolve
	for _, name := range BadNames {
		if err := b.Put(ctx, name, noRead{t}, 2); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Put(%q): error %v, want one wrapping ErrBadName", name, err)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("Put(%q): error %q does not quote the name", name, err)
		}
		if rc, err := b.Get(ctx, name, 0, -1); !errors.Is(err, store.ErrBadName) {
			if err == nil {
				rc.Close()
			}
			t.Errorf("Get(%q): error %v, want one wrapping ErrBadName", name, err)
		}
		if _, err := b.Stat(ctx, name); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Stat(%q): error %v, want one wrapping ErrBadName", name, err)
		}
		if err := b.Delete(ctx, name); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Delete(%q): error %v, want one wrapping ErrBadName", name, err)
		}
		// "" and "a/" are fine as prefixes.
		if name == "" || name == "a/" {
			continue
		}
		n := 0
		for info, err := range b.List(ctx, name) {
			n++
			if !errors.Is(err, store.ErrBadName) {
				t.Errorf("List(%q) yields %+v, %v; want an error wrapping ErrBadName", name, info, err)
			}
		}
		if n != 1 {
			t.Errorf("List(%q) yields %d times, want once (the error)", name, n)
		}
	}
	if got := names(list(t, b, "")); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("after bad names, List = %q, want [ok]", got)
	}
}

func testConcurrentPut(t *testing.T, b store.Backend) {
	const n = 16
	data := randBytes(3<<20+17, 5)
	var wg sync.WaitGroup
	var stop atomic.Bool
	errs := make(chan error, 2*n)
	for range n {
		wg.Go(func() {
			if err := b.Put(t.Context(), "same/name", bytes.NewReader(data), int64(len(data))); err != nil {
				errs <- err
			}
		})
	}
	// Readers racing the writers see nothing or the whole object.
	var rwg sync.WaitGroup
	for range 4 {
		rwg.Go(func() {
			for !stop.Load() {
				rc, err := b.Get(t.Context(), "same/name", 0, -1)
				if errors.Is(err, store.ErrNotFound) {
					runtime.Gosched()
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("concurrent Get: %w", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- fmt.Errorf("concurrent Get: reading: %w", err)
					return
				}
				if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("concurrent Get read %d bytes, not the %d put", len(got), len(data))
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	rwg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sameBytes(t, "Get after concurrent Puts", get(t, b, "same/name", 0, -1), data)
	if got := names(list(t, b, "")); !slices.Equal(got, []string{"same/name"}) {
		t.Errorf("List = %q, want [same/name] (no temporary objects)", got)
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func testFailingReader(t *testing.T, b store.Backend) {
	boom := errors.New("disk on fire")
	data := randBytes(2<<20, 6)
	r := &failingReader{r: bytes.NewReader(data), n: len(data) / 2, err: boom}
	err := b.Put(t.Context(), "half/way", r, int64(len(data)))
	if err == nil {
		t.Fatal("Put with a failing reader: no error")
	}
	if !errors.Is(err, boom) {
		t.Logf("Put with a failing reader: error %v does not wrap the reader's", err)
	}
	wantNotFound(t, b, "half/way")
	if got := names(list(t, b, "")); len(got) != 0 {
		t.Errorf("List after a failed Put = %q, want nothing", got)
	}
	// A failed replacement keeps the old object whole.
	old := randBytes(1<<20, 8)
	put(t, b, "half/way", old)
	r = &failingReader{r: bytes.NewReader(data), n: len(data) / 2, err: boom}
	if err := b.Put(t.Context(), "half/way", r, int64(len(data))); err == nil {
		t.Fatal("Put with a failing reader over an object: no error")
	}
	sameBytes(t, "Get after a failed replacement", get(t, b, "half/way", 0, -1), old)
}

func testCancelled(t *testing.T, b store.Backend) {
	put(t, b, "there", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := b.Put(ctx, "c/new", bytes.NewReader([]byte("data")), 4); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: error %v, want one wrapping context.Canceled", err)
	}
	wantNotFound(t, b, "c/new")
	if rc, err := b.Get(ctx, "there", 0, -1); err == nil {
		// A lazy reader may defer the failure to Read.
		if _, err := io.ReadAll(rc); err == nil {
			t.Errorf("Get with a cancelled context: no error")
		}
		rc.Close()
	}
	if _, err := b.Stat(ctx, "there"); err == nil {
		t.Errorf("Stat with a cancelled context: no error")
	}
	var listErr error
	for _, err := range b.List(ctx, "") {
		if err != nil {
			listErr = err
		}
	}
	if listErr == nil {
		t.Errorf("List with a cancelled context: no error")
	}
	if err := b.Delete(ctx, "there"); err == nil {
		t.Errorf("Delete with a cancelled context: no error")
	}
	if _, err := b.Stat(t.Context(), "there"); err != nil {
		t.Errorf("Stat after a cancelled Delete: %v", err)
	}
}

// cancellingReader yields n bytes of r, then cancels the context and goes on.
type cancellingReader struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		time.Sleep(time.Millisecond) // let a watcher goroutine notice
	} else {
		p = p[:min(len(p), c.n)]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

func testCancelledMidway(t *testing.T, b store.Backend) {
	data := randBytes(8<<20, 9)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &cancellingReader{r: bytes.NewReader(data), n: 1 << 20, cancel: cancel}
	if err := b.Put(ctx, "mid/way", r, int64(len(data))); err == nil {
		t.Fatal("Put cancelled midway: no error")
	}
	wantNotFound(t, b, "mid/way")
}

// genReader yields n reproducible pseudo-random bytes without holding them:
// the 8 bytes at offset 8k are a hash of seed and k, whatever the reads' sizes.
type genReader struct {
	n, pos int64
	seed   uint64
}

// mix64 is the SplitMix64 finalizer.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.pos >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.pos)]
	i := 0
	for i < len(p) {
		if g.pos%8 == 0 && len(p)-i >= 8 {
			binary.LittleEndian.PutUint64(p[i:], mix64(g.seed^uint64(g.pos/8)))
			i += 8
			g.pos += 8
			continue
		}
		p[i] = byte(mix64(g.seed^uint64(g.pos/8)) >> (8 * (g.pos % 8)))
		i++
		g.pos++
	}
	return len(p), nil
}

// heapWatch samples the heap in use until stopped and reports the peak
// growth over the level when it started.
type heapWatch struct {
	base, peak uint64
	stop       chan struct{}
	done       chan struct{}
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w := &heapWatch{base: ms.HeapInuse, peak: ms.HeapInuse, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			w.peak = max(w.peak, ms.HeapInuse)
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// growth stops the watch and returns the peak growth in bytes.
func (w *heapWatch) growth() uint64 {
	close(w.stop)
	<-w.done
	return w.peak - w.base
}

func testLarge(t *testing.T, b store.Backend) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 32 << 20
	}
	_, inMemory := b.(*store.Memory)
	limit := uint64(size / 4)
	const seed = 0x9e3779b97f4a7c15

	want := sha256.New()
	if _, err := io.Copy(want, &genReader{n: size, seed: seed}); err != nil {
		t.Fatal(err)
	}
	wantSum := want.Sum(nil)

	w := watchHeap()
	start := time.Now()
	if err := b.Put(t.Context(), "large/object", &genReader{n: size, seed: seed}, size); err != nil {
		w.growth()
		t.Fatalf("Put of %d MiB: %v", size>>20, err)
	}
	putTime := time.Since(start)
	if g := w.growth(); !inMemory && g > limit {
		t.Errorf("Put of %d MiB grew the heap by %d MiB, want at most %d MiB", size>>20, g>>20, limit>>20)
	} else {
		t.Logf("Put of %d MiB: %v, heap growth %d MiB", size>>20, putTime, g>>20)
	}

	info, err := b.Stat(t.Context(), "large/object")
	if err != nil || info.Size != size {
		t.Fatalf("Stat = %+v, %v; want size %d", info, err, size)
	}

	w = watchHeap()
	start = time.Now()
	rc, err := b.Get(t.Context(), "large/object", 0, -1)
	if err != nil {
		w.growth()
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	getTime := time.Since(start)
	g := w.growth()
	if err != nil || n != size {
		t.Fatalf("Get read %d bytes, err %v; want %d bytes", n, err, size)
	}
	if !bytes.Equal(got.Sum(nil), wantSum) {
		t.Errorf("Get of the large object returned other bytes than were put")
	}
	if !inMemory && g > limit {
		t.Errorf("Get of %d MiB grew the heap by %d MiB, want at most %d MiB", size>>20, g>>20, limit>>20)
	} else {
		t.Logf("Get of %d MiB: %v, heap growth %d MiB", size>>20, getTime, g>>20)
	}

	// A range at the far end.
	tail := get(t, b, "large/object", size-100, 1000)
	full := make([]byte, 100)
	r := &genReader{n: size, seed: seed}
	if _, err := io.CopyN(io.Discard, r, size-100); err != nil {
		t.Fatal(err)
	}
	io.ReadFull(r, full)
	sameBytes(t, "tail of the large object", tail, full)
	if err := b.Delete(t.Context(), "large/object"); err != nil {
		t.Fatal(err)
	}
}
