package store_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/store"
)

// TestWithPrefixBackend runs the Backend suite on a view of an FS: all it
// writes lands under the prefix.
func TestWithPrefixBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) store.Backend {
		root := t.TempDir()
		b := store.WithPrefix(newFS(t, root), "some/prefix")
		t.Cleanup(func() {
			for _, p := range diskFiles(t, root) {
				switch {
				case p == ".tmp/", p == "some/", p == "some/prefix/", strings.HasPrefix(p, "some/prefix/"):
				default:
					t.Errorf("file outside the prefix: %q", p)
				}
			}
		})
		return b
	})
}

func TestWithPrefixSwap(t *testing.T) {
	t.Run("Memory", func(t *testing.T) {
		backendtest.RunSwap(t, func(t *testing.T) store.Swapper {
			return store.WithPrefix(store.NewMemory(), "p").(store.Swapper)
		})
	})
	t.Run("FS", func(t *testing.T) {
		backendtest.RunSwap(t, func(t *testing.T) store.Swapper {
			return store.WithPrefix(newFS(t, t.TempDir()), "views/a/").(store.Swapper)
		})
	})
}

// plainBackend hides every method of a Backend but those of the interface.
type plainBackend struct{ store.Backend }

func TestWithPrefixSwapper(t *testing.T) {
	if _, ok := store.WithPrefix(store.NewMemory(), "x").(store.Swapper); !ok {
		t.Error("view of a Memory is not a Swapper")
	}
	if _, ok := store.WithPrefix(newFS(t, t.TempDir()), "x").(store.Swapper); !ok {
		t.Error("view of an FS is not a Swapper")
	}
	plain := plainBackend{store.NewMemory()}
	if _, ok := store.WithPrefix(plain, "x").(store.Swapper); ok {
		t.Error("view of a Backend that is no Swapper is a Swapper")
	}
	// Views of views nest.
	nested := store.WithPrefix(store.WithPrefix(store.NewMemory(), "a"), "b")
	if _, ok := nested.(store.Swapper); !ok {
		t.Error("view of a view of a Memory is not a Swapper")
	}
	// An empty prefix is the backend itself.
	m := store.NewMemory()
	if got := store.WithPrefix(m, ""); got != store.Backend(m) {
		t.Errorf("WithPrefix(m, \"\") = %T, want m itself", got)
	}
}

func TestWithPrefixIsolation(t *testing.T) {
	ctx := t.Context()
	shared := store.NewMemory()
	a := store.WithPrefix(shared, "repos/a")
	ab := store.WithPrefix(shared, "repos/ab/")
	nested := store.WithPrefix(store.WithPrefix(shared, "repos"), "a")

	put := func(b store.Backend, name, data string) {
		t.Helper()
		if err := b.Put(ctx, name, strings.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	get := func(b store.Backend, name string) string {
		t.Helper()
		rc, err := b.Get(ctx, name, 0, -1)
		if err != nil {
			t.Fatalf("Get(%q): %v", name, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	names := func(b store.Backend, prefix string) []string {
		t.Helper()
		out := []string{}
		for info, err := range b.List(ctx, prefix) {
			if err != nil {
				t.Fatalf("List(%q): %v", prefix, err)
			}
			out = append(out, info.Name)
		}
		return out
	}

	put(a, "config", "a's config")
	put(a, "packs/1", "a1")
	put(ab, "config", "ab's config")
	put(shared, "repos/abc", "outside both")

	for _, tc := range []struct {
		b      store.Backend
		prefix string
		want   []string
	}{
		{a, "", []string{"config", "packs/1"}},
		{a, "packs/", []string{"packs/1"}},
		{a, "c", []string{"config"}},
		{ab, "", []string{"config"}},
		{nested, "", []string{"config", "packs/1"}},
		{shared, "", []string{"repos/a/config", "repos/a/packs/1", "repos/ab/config", "repos/abc"}},
	} {
		if diff := cmp.Diff(tc.want, names(tc.b, tc.prefix)); diff != "" {
			t.Errorf("List(%q) (-want +got):\n%s", tc.prefix, diff)
		}
	}
	if got := get(a, "config"); got != "a's config" {
		t.Errorf("a: config = %q", got)
	}
	if got := get(ab, "config"); got != "ab's config" {
		t.Errorf("ab: config = %q", got)
	}
	if got := get(nested, "packs/1"); got != "a1" {
		t.Errorf("nested: packs/1 = %q", got)
	}
	info, err := a.Stat(ctx, "packs/1")
	if err != nil || info.Name != "packs/1" || info.Size != 2 {
		t.Errorf("Stat = %+v, %v; want packs/1, 2 bytes", info, err)
	}
	if _, err := ab.Stat(ctx, "packs/1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ab sees a's packs/1: Stat error %v", err)
	}
	if err := ab.Delete(ctx, "packs/1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ab deletes a's packs/1: error %v", err)
	}
	if err := a.Delete(ctx, "packs/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := shared.Stat(ctx, "repos/a/packs/1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a.Delete, the key is still there: %v", err)
	}

	// Swaps through the view land under the prefix too.
	s := a.(store.Swapper)
	tag, err := s.Swap(ctx, "refs/main", []byte("c1"), "")
	if err != nil {
		t.Fatal(err)
	}
	data, shTag, err := shared.Load(ctx, "repos/a/refs/main")
	if err != nil || string(data) != "c1" || shTag != tag {
		t.Errorf("shared Load = %q, %q, %v; want c1, %q", data, shTag, err, tag)
	}
	if _, _, err := ab.(store.Swapper).Load(ctx, "refs/main"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ab loads a's ref: error %v", err)
	}
}

// TestWithPrefixBadPrefix: the view of an invalid prefix refuses every call.
func TestWithPrefixBadPrefix(t *testing.T) {
	ctx := t.Context()
	m := store.NewMemory()
	if err := m.Put(ctx, "x", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"/", "/abs", "..", "a/../b", "a//b", "a//", `a\b`, "a\x00", strings.Repeat("a", store.MaxNameLen+1)} {
		v := store.WithPrefix(m, prefix)
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrBadName) {
				t.Errorf("WithPrefix(%q).%s: error %v, want one wrapping ErrBadName", prefix, what, err)
			}
		}
		check("Put", v.Put(ctx, "y", strings.NewReader("y"), 1))
		_, err := v.Get(ctx, "x", 0, -1)
		check("Get", err)
		_, err = v.Stat(ctx, "x")
		check("Stat", err)
		check("Delete", v.Delete(ctx, "x"))
		n := 0
		for _, err := range v.List(ctx, "") {
			n++
			check("List", err)
		}
		if n != 1 {
			t.Errorf("WithPrefix(%q).List yields %d times, want once (the error)", prefix, n)
		}
		s := v.(store.Swapper)
		_, _, err = s.Load(ctx, "x")
		check("Load", err)
		_, err = s.Swap(ctx, "x", nil, "")
		check("Swap", err)
		check("SwapDelete", s.SwapDelete(ctx, "x", ""))
	}
	var keys []string
	for info, err := range m.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Name)
	}
	if diff := cmp.Diff([]string{"x"}, keys); diff != "" {
		t.Errorf("objects after the bad views (-want +got):\n%s", diff)
	}

	// A valid name that is too long once prefixed is refused by the
	// backend.
	long := strings.Repeat("n", store.MaxNameLen)
	if err := store.WithPrefix(m, "p").Put(ctx, long, strings.NewReader(""), 0); !errors.Is(err, store.ErrBadName) {
		t.Errorf("Put of a name too long once prefixed: error %v, want one wrapping ErrBadName", err)
	}
}
