package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kilnml/kiln/store"
)

// RunSwap runs the compare-and-swap suite against fresh swappers made by
// newSwapper, which is called once per subtest and must return an empty
// backend; it registers its own cleanup with t. It checks what
// [store.Swapper] promises beyond [store.Backend]; run [Run] for the rest.
func RunSwap(t *testing.T, newSwapper func(t *testing.T) store.Swapper) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Swapper)
	}{
		{"Tags", testSwapTags},
		{"CreateIfAbsent", testSwapCreate},
		{"Conflict", testSwapConflict},
		{"Delete", testSwapDelete},
		{"Backend", testSwapBackend},
		{"Private", testSwapPrivate},
		{"Size", testSwapSize},
		{"BadNames", testSwapBadNames},
		{"Cancelled", testSwapCancelled},
		{"ConcurrentCreate", testSwapConcurrentCreate},
		{"Counter", testSwapCounter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newSwapper(t))
		})
	}
}

func swap(t *testing.T, s store.Swapper, name string, data []byte, tag string) string {
	t.Helper()
	newTag, err := s.Swap(t.Context(), name, data, tag)
	if err != nil {
		t.Fatalf("Swap(%q, %q, tag %q): %v", name, data, tag, err)
	}
	if newTag == "" {
		t.Fatalf("Swap(%q, %q, tag %q) returned an empty tag", name, data, tag)
	}
	return newTag
}

func load(t *testing.T, s store.Swapper, name string) ([]byte, string) {
	t.Helper()
	data, tag, err := s.Load(t.Context(), name)
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	if tag == "" {
		t.Fatalf("Load(%q) returned an empty tag", name)
	}
	return data, tag
}

// wantLoad checks that name holds data with the tag tag.
func wantLoad(t *testing.T, s store.Swapper, name string, data []byte, tag string) {
	t.Helper()
	got, gotTag := load(t, s, name)
	if !bytes.Equal(got, data) {
		t.Errorf("Load(%q) = %q, want %q", name, got, data)
	}
	if gotTag != tag {
		t.Errorf("Load(%q): tag %q, want %q (the tag Swap returned)", name, gotTag, tag)
	}
}

func wantPrecondition(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("%s: error %v, want one wrapping ErrPrecondition", what, err)
	}
}

func wantLoadNotFound(t *testing.T, s store.Swapper, name string) {
	t.Helper()
	if data, tag, err := s.Load(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load(%q) = %q, tag %q, error %v; want an error wrapping ErrNotFound", name, data, tag, err)
	}
}

// testSwapTags: every version has a non-empty tag, which Load returns as
// long as the object is unchanged, and which Swap moves on.
func testSwapTags(t *testing.T, s store.Swapper) {
	const name = "refs/heads/main"
	wantLoadNotFound(t, s, name)
	t1 := swap(t, s, name, []byte("one"), "")
	wantLoad(t, s, name, []byte("one"), t1)
	wantLoad(t, s, name, []byte("one"), t1) // loading changes nothing

	t2 := swap(t, s, name, []byte("two"), t1)
	if t2 == t1 {
		t.Errorf("Swap to other content kept the tag %q", t1)
	}
	wantLoad(t, s, name, []byte("two"), t2)

	// The old tag no longer matches, and a refused Swap writes nothing.
	_, err := s.Swap(t.Context(), name, []byte("three"), t1)
	wantPrecondition(t, "Swap with a stale tag", err)
	wantLoad(t, s, name, []byte("two"), t2)

	// Other names have their own versions; empty content is content.
	te := swap(t, s, "refs/heads/empty", nil, "")
	wantLoad(t, s, "refs/heads/empty", []byte{}, te)
	wantLoad(t, s, name, []byte("two"), t2)
	t3 := swap(t, s, "refs/heads/empty", []byte("x"), te)
	wantLoad(t, s, "refs/heads/empty", []byte("x"), t3)
}

// testSwapCreate: the tag "" creates, and only where nothing exists.
func testSwapCreate(t *testing.T, s store.Swapper) {
	tag := swap(t, s, "lock", []byte("mine"), "")
	_, err := s.Swap(t.Context(), "lock", []byte("yours"), "")
	wantPrecondition(t, "Swap with tag \"\" over an existing object", err)
	wantLoad(t, s, "lock", []byte("mine"), tag)
	// An object that Put wrote exists just as well.
	put(t, s, "put/obj", []byte("by Put"))
	_, err = s.Swap(t.Context(), "put/obj", []byte("by Swap"), "")
	wantPrecondition(t, "Swap with tag \"\" over an object that Put wrote", err)
	if got := get(t, s, "put/obj", 0, -1); string(got) != "by Put" {
		t.Errorf("after the refused Swap, put/obj = %q", got)
	}
}

// testSwapConflict: of two writers that loaded the same version, the
// second fails; a tag of a removed object does not bring it back.
func testSwapConflict(t *testing.T, s store.Swapper) {
	base := swap(t, s, "c", []byte("0"), "")
	_, tagA := load(t, s, "c")
	_, tagB := load(t, s, "c")
	if tagA != base || tagB != base {
		t.Fatalf("tags %q, %q; want both %q", tagA, tagB, base)
	}
	won := swap(t, s, "c", []byte("A"), tagA)
	_, err := s.Swap(t.Context(), "c", []byte("B"), tagB)
	wantPrecondition(t, "second writer's Swap", err)
	wantLoad(t, s, "c", []byte("A"), won)

	if err := s.SwapDelete(t.Context(), "c", won); err != nil {
		t.Fatal(err)
	}
	_, err = s.Swap(t.Context(), "c", []byte("again"), won)
	wantPrecondition(t, "Swap with the tag of a deleted object", err)
	wantLoadNotFound(t, s, "c")
	_, err = s.Swap(t.Context(), "c", []byte("again"), "no-such-tag")
	wantPrecondition(t, "Swap of a missing object with a made-up tag", err)
	wantLoadNotFound(t, s, "c")
}

func testSwapDelete(t *testing.T, s store.Swapper) {
	ctx := t.Context()
	tag := swap(t, s, "d/ref", []byte("v1"), "")
	other := swap(t, s, "d/other", []byte("v2"), "")
	for _, bad := range []string{"", "not-the-tag", other} {
		err := s.SwapDelete(ctx, "d/ref", bad)
		wantPrecondition(t, fmt.Sprintf("SwapDelete with tag %q", bad), err)
	}
	wantLoad(t, s, "d/ref", []byte("v1"), tag)
	if err := s.SwapDelete(ctx, "d/ref", tag); err != nil {
		t.Fatalf("SwapDelete with the right tag: %v", err)
	}
	wantLoadNotFound(t, s, "d/ref")
	wantNotFound(t, s, "d/ref")
	if err := s.SwapDelete(ctx, "d/ref", tag); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second SwapDelete: error %v, want one wrapping ErrNotFound", err)
	}
	if err := s.SwapDelete(ctx, "never/was", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SwapDelete of a missing object: error %v, want one wrapping ErrNotFound", err)
	}
	// The name can be created again.
	tag = swap(t, s, "d/ref", []byte("v3"), "")
	wantLoad(t, s, "d/ref", []byte("v3"), tag)
	wantLoad(t, s, "d/other", []byte("v2"), other)
}

// testSwapBackend: swapped objects are ordinary objects, and objects
// written with Put can be loaded and swapped.
func testSwapBackend(t *testing.T, s store.Swapper) {
	ctx := t.Context()
	tag := swap(t, s, "refs/a", []byte("swapped"), "")
	if got := get(t, s, "refs/a", 0, -1); string(got) != "swapped" {
		t.Errorf("Get of a swapped object = %q", got)
	}
	info, err := s.Stat(ctx, "refs/a")
	if err != nil || info.Size != 7 {
		t.Errorf("Stat of a swapped object = %+v, %v; want 7 bytes", info, err)
	}
	put(t, s, "refs/b", []byte("put"))
	data, tagB := load(t, s, "refs/b")
	if string(data) != "put" {
		t.Errorf("Load of an object that Put wrote = %q", data)
	}
	newB := swap(t, s, "refs/b", []byte("swapped b"), tagB)
	wantLoad(t, s, "refs/b", []byte("swapped b"), newB)
	if got := names(list(t, s, "refs/")); !slices.Equal(got, []string{"refs/a", "refs/b"}) {
		t.Errorf("List(refs/) = %q, want [refs/a refs/b]", got)
	}

	// A Put of other bytes is a change that Swap notices.
	put(t, s, "refs/a", []byte("replaced by Put"))
	_, err = s.Swap(ctx, "refs/a", []byte("lost update"), tag)
	wantPrecondition(t, "Swap after a Put changed the object", err)
	if got := get(t, s, "refs/a", 0, -1); string(got) != "replaced by Put" {
		t.Errorf("after the refused Swap, refs/a = %q", got)
	}
	// And a Delete one that removes it.
	_, tag = load(t, s, "refs/a")
	if err := s.Delete(ctx, "refs/a"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Swap(ctx, "refs/a", []byte("resurrected"), tag)
	wantPrecondition(t, "Swap after a Delete", err)
	wantNotFound(t, s, "refs/a")
}

// testSwapPrivate: neither Swap's argument nor Load's result is shared with
// the backend.
func testSwapPrivate(t *testing.T, s store.Swapper) {
	data := []byte("original")
	tag := swap(t, s, "p", data, "")
	copy(data, "XXXXXXXX")
	got, _ := load(t, s, "p")
	if string(got) != "original" {
		t.Fatalf("after the caller changed the slice it swapped in, Load = %q", got)
	}
	copy(got, "YYYYYYYY")
	wantLoad(t, s, "p", []byte("original"), tag)
}

func testSwapSize(t *testing.T, s store.Swapper) {
	ctx := t.Context()
	full := randBytes(store.MaxSwapSize, 11)
	tag := swap(t, s, "size/max", full, "")
	got, gotTag := load(t, s, "size/max")
	sameBytes(t, "Load of a MaxSwapSize object", got, full)
	if gotTag != tag {
		t.Errorf("Load of a MaxSwapSize object: tag %q, want %q", gotTag, tag)
	}

	big := randBytes(store.MaxSwapSize+1, 12)
	if _, err := s.Swap(ctx, "size/big", big, ""); err == nil {
		t.Errorf("Swap of MaxSwapSize+1 bytes: no error")
	}
	wantLoadNotFound(t, s, "size/big")
	if _, err := s.Swap(ctx, "size/max", big, tag); err == nil {
		t.Errorf("Swap of MaxSwapSize+1 bytes over an object: no error")
	}
	wantLoad(t, s, "size/max", full, tag)

	// An object too large to load, written with Put, can still be
	// replaced by nobody who did not load it.
	put(t, s, "size/put", big)
	if data, _, err := s.Load(ctx, "size/put"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Load of a %d-byte object = %d bytes, error %v; want an error other than ErrNotFound", len(big), len(data), err)
	}
	_, err := s.Swap(ctx, "size/put", []byte("small"), "")
	wantPrecondition(t, "Swap with tag \"\" over a large object", err)
}

func testSwapBadNames(t *testing.T, s store.Swapper) {
	ctx := t.Context()
	swap(t, s, "ok", []byte("ok"), "")
	for _, name := range BadNames {
		quoted := fmt.Sprintf("%q", name)
		if _, _, err := s.Load(ctx, name); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Load(%q): error %v, want one wrapping ErrBadName", name, err)
		} else if !strings.Contains(err.Error(), quoted) {
			t.Errorf("Load(%q): error %q does not quote the name", name, err)
		}
		if _, err := s.Swap(ctx, name, []byte("x"), ""); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Swap(%q): error %v, want one wrapping ErrBadName", name, err)
		} else if !strings.Contains(err.Error(), quoted) {
			t.Errorf("Swap(%q): error %q does not quote the name", name, err)
		}
		if err := s.SwapDelete(ctx, name, "tag"); !errors.Is(err, store.ErrBadName) {
			t.Errorf("SwapDelete(%q): error %v, want one wrapping ErrBadName", name, err)
		}
	}
	if got := names(list(t, s, "")); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("after bad names, List = %q, want [ok]", got)
	}
}

func testSwapCancelled(t *testing.T, s store.Swapper) {
	tag := swap(t, s, "there", []byte("x"), "")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Swap(ctx, "c/new", []byte("data"), ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Swap with a cancelled context: error %v, want one wrapping context.Canceled", err)
	}
	wantLoadNotFound(t, s, "c/new")
	if _, err := s.Swap(ctx, "there", []byte("y"), tag); err == nil {
		t.Errorf("Swap over an object with a cancelled context: no error")
	}
	if _, _, err := s.Load(ctx, "there"); err == nil {
		t.Errorf("Load with a cancelled context: no error")
	}
	if err := s.SwapDelete(ctx, "there", tag); err == nil {
		t.Errorf("SwapDelete with a cancelled context: no error")
	}
	wantLoad(t, s, "there", []byte("x"), tag)
}

// testSwapConcurrentCreate: of 16 goroutines creating one object at once,
// exactly one succeeds.
func testSwapConcurrentCreate(t *testing.T, s store.Swapper) {
	const n = 16
	var wg sync.WaitGroup
	var wins atomic.Int32
	winner := make(chan string, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			data := fmt.Sprintf("goroutine %d", i)
			_, err := s.Swap(t.Context(), "create/once", []byte(data), "")
			switch {
			case err == nil:
				wins.Add(1)
				winner <- data
			case !errors.Is(err, store.ErrPrecondition):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	close(winner)
	for err := range errs {
		t.Errorf("concurrent create: %v", err)
	}
	if w := wins.Load(); w != 1 {
		t.Fatalf("%d of %d concurrent creates succeeded, want exactly 1", w, n)
	}
	data, _ := load(t, s, "create/once")
	if want := <-winner; string(data) != want {
		t.Errorf("object holds %q, want the winner's %q", data, want)
	}
}

// Increment adds one to the decimal counter in the object name with a
// Load/Swap retry loop, creating it (as 1) if it does not exist. It returns
// the number of Swaps refused with ErrPrecondition on the way. Tests of
// concurrent writers, also in other processes, use it.
func Increment(ctx context.Context, s store.Swapper, name string) (conflicts int, err error) {
	for {
		n := 0
		data, tag, err := s.Load(ctx, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			tag = ""
		case err != nil:
			return conflicts, err
		default:
			if n, err = strconv.Atoi(string(data)); err != nil {
				return conflicts, fmt.Errorf("counter %q holds %q: %w", name, data, err)
			}
		}
		runtime.Gosched() // let other writers in between Load and Swap
		_, err = s.Swap(ctx, name, []byte(strconv.Itoa(n+1)), tag)
		if !errors.Is(err, store.ErrPrecondition) {
			return conflicts, err
		}
		conflicts++
	}
}

// testSwapCounter: 16 goroutines each add 20 to a counter with Load/Swap
// retry loops: no increment is lost or doubled.
func testSwapCounter(t *testing.T, s store.Swapper) {
	const goroutines, increments = 16, 20
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for range increments {
				c, err := Increment(t.Context(), s, "counter")
				conflicts.Add(int64(c))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	data, _ := load(t, s, "counter")
	if want := strconv.Itoa(goroutines * increments); string(data) != want {
		t.Errorf("counter = %s after %d×%d increments, want %s", data, goroutines, increments, want)
	}
	t.Logf("%d increments, %d refused swaps retried", goroutines*increments, conflicts.Load())
}
