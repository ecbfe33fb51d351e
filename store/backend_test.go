package store_test

import (
	"errors"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/store"
)

func TestValidName(t *testing.T) {
	good := []string{
		"a",
		"config",
		"packs/ab/abcdef0123",
		"a/b/c/d",
		"...",
		"..a",
		"a..",
		".hidden",
		"a/.b",
		"a b",
		"ünïcødé/名前",
		"a:b",
		"~",
		strings.Repeat("a", store.MaxNameLen),
		strings.Repeat("a/", store.MaxNameLen/2-1) + "aa",
	}
	for _, name := range good {
		if err := store.ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range backendtest.BadNames {
		err := store.ValidName(name)
		if !errors.Is(err, store.ErrBadName) {
			t.Errorf("ValidName(%q) = %v, want an error wrapping ErrBadName", name, err)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(name)) {
			t.Errorf("ValidName(%q) = %q, which does not quote the name", name, err)
		}
	}
}

// nameOracle is ValidName's specification written differently: a name is
// valid when it is short, valid UTF-8 without backslashes or control bytes,
// already clean, and local (it cannot leave the folder it is joined to).
func nameOracle(name string) bool {
	if name == "" || len(name) > store.MaxNameLen || !utf8.ValidString(name) {
		return false
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return path.Clean(name) == name && !path.IsAbs(name) &&
		name != "." && name != ".." && !strings.HasPrefix(name, "../")
}

func FuzzValidName(f *testing.F) {
	for _, name := range backendtest.BadNames {
		f.Add(name)
	}
	for _, name := range []string{"a", "a/b", "...", "a/.b", "packs/00/ff"} {
		f.Add(name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := store.ValidName(name)
		if want := nameOracle(name); (err == nil) != want {
			t.Fatalf("ValidName(%q) = %v, but the oracle says valid = %v", name, err, want)
		}
		if err != nil {
			if !errors.Is(err, store.ErrBadName) || !strings.Contains(err.Error(), strconv.Quote(name)) {
				t.Fatalf("ValidName(%q) = %q: want an error wrapping ErrBadName and quoting the name", name, err)
			}
			return
		}
		// A valid name stays below any root it is joined to.
		if runtime.GOOS != "windows" && !filepath.IsLocal(filepath.FromSlash(name)) {
			t.Fatalf("ValidName(%q) = nil, but filepath.IsLocal is false", name)
		}
		root := "/srv/root"
		if rel, err := filepath.Rel(root, filepath.Join(root, name)); err != nil || rel != filepath.FromSlash(name) {
			t.Fatalf("ValidName(%q) = nil, but joined to %s it is %q relative to it (%v)", name, root, rel, err)
		}
	})
}
