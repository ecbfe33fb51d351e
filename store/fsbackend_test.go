package store_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/store"
)

func newFS(t testing.TB, root string) *store.FS {
	t.Helper()
	b, err := store.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// diskFiles lists every file and folder under dir, slash-separated and
// relative to it, folders with a trailing slash.
func diskFiles(t testing.TB, dir string) []string {
	t.Helper()
	out := []string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFSBackend(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) store.Backend {
		root := t.TempDir()
		b := newFS(t, root)
		t.Cleanup(func() {
			// Whatever the subtest did, no temporary file is left, and
			// every file is an object with a valid name.
			if tmp := diskFiles(t, filepath.Join(root, ".tmp")); len(tmp) != 0 {
				t.Errorf("temporary files left: %q", tmp)
			}
			for _, p := range diskFiles(t, root) {
				if p == ".tmp/" || p[len(p)-1] == '/' {
					continue
				}
				if err := store.ValidName(p); err != nil {
					t.Errorf("file with an invalid name on disk: %v", err)
				}
			}
		})
		return b
	})
}

func TestFSLayout(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	b := newFS(t, root)
	for _, name := range []string{"a/b/c", "a/x", "top"} {
		if err := b.Put(ctx, name, bytes.NewReader([]byte(name)), int64(len(name))); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{".tmp/", "a/", "a/b/", "a/b/c", "a/x", "top"}, diskFiles(t, root)); diff != "" {
		t.Errorf("files on disk (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(filepath.Join(root, "a", "b", "c"))
	if err != nil || string(data) != "a/b/c" {
		t.Errorf("root/a/b/c holds %q, %v; want %q", data, err, "a/b/c")
	}
	// Deleting removes the folders it empties, and only those.
	if err := b.Delete(ctx, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".tmp/", "a/", "a/x", "top"}, diskFiles(t, root)); diff != "" {
		t.Errorf("files on disk after Delete(a/b/c) (-want +got):\n%s", diff)
	}
	if err := b.Delete(ctx, "a/x"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{".tmp/", "top"}, diskFiles(t, root)); diff != "" {
		t.Errorf("files on disk after Delete(a/x) (-want +got):\n%s", diff)
	}
	// An object being written (a file in .tmp) is not listed.
	if err := os.WriteFile(filepath.Join(root, ".tmp", "partial"), []byte("p"), 0o644); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for info, err := range b.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, info.Name)
	}
	if !slices.Equal(listed, []string{"top"}) {
		t.Errorf("List = %q, want [top]", listed)
	}
	// Objects outlive the FS value.
	b.Close()
	b2 := newFS(t, root)
	if info, err := b2.Stat(ctx, "top"); err != nil || info.Size != 3 {
		t.Errorf("Stat(top) after reopening = %+v, %v", info, err)
	}
	if b2.Root() != root {
		t.Errorf("Root() = %q, want %q", b2.Root(), root)
	}
}

// TestFSBadNamesOnDisk checks that refused names touch nothing, inside the
// root or next to it.
func TestFSBadNamesOnDisk(t *testing.T) {
	ctx := t.Context()
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	b := newFS(t, root)
	for _, name := range append(backendtest.BadNames, ".tmp", ".tmp/x") {
		err := b.Put(ctx, name, bytes.NewReader([]byte("xx")), 2)
		if !errors.Is(err, store.ErrBadName) {
			t.Errorf("Put(%q): error %v, want one wrapping ErrBadName", name, err)
		}
	}
	if diff := cmp.Diff([]string{"root/", "root/.tmp/"}, diskFiles(t, parent)); diff != "" {
		t.Errorf("files on disk after bad names (-want +got):\n%s", diff)
	}
}

func TestFSSymlinks(t *testing.T) {
	ctx := t.Context()
	parent := t.TempDir()
	outside := filepath.Join(parent, "outside")
	root := filepath.Join(parent, "root")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newFS(t, root)
	if err := b.Put(ctx, "real", bytes.NewReader([]byte("real")), 4); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Skipf("cannot make symbolic links here: %v", err)
	}
	if err := os.Symlink("real", filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}

	if rc, err := b.Get(ctx, "out/secret", 0, -1); err == nil {
		data, _ := io.ReadAll(rc)
		rc.Close()
		t.Errorf("Get(out/secret) read %q from outside the root", data)
	}
	if _, err := b.Stat(ctx, "out/secret"); err == nil {
		t.Errorf("Stat(out/secret) succeeded through a link leaving the root")
	}
	if err := b.Put(ctx, "out/new", bytes.NewReader([]byte("x")), 1); err == nil {
		t.Errorf("Put(out/new) succeeded through a link leaving the root")
	}
	if err := b.Delete(ctx, "out/secret"); err == nil {
		t.Errorf("Delete(out/secret) succeeded through a link leaving the root")
	}
	if got := diskFiles(t, outside); !slices.Equal(got, []string{"secret"}) {
		t.Errorf("folder outside the root now holds %q, want [secret]", got)
	}
	// A link inside the root is not an object either.
	if rc, err := b.Get(ctx, "alias", 0, -1); err == nil {
		rc.Close()
		t.Errorf("Get(alias) read through a symbolic link")
	}
	if _, err := b.Stat(ctx, "alias"); err == nil {
		t.Errorf("Stat(alias) succeeded on a symbolic link")
	}
	var listed []string
	for info, err := range b.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, info.Name)
	}
	if !slices.Equal(listed, []string{"real"}) {
		t.Errorf("List = %q, want [real] (links skipped)", listed)
	}
	for info, err := range b.List(ctx, "out/") {
		t.Errorf("List(out/) yields %+v, %v; want nothing", info, err)
	}
}

func TestFSStaleTemps(t *testing.T) {
	root := t.TempDir()
	newFS(t, root).Close()
	old := filepath.Join(root, ".tmp", "old")
	young := filepath.Join(root, ".tmp", "young")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	newFS(t, root)
	if diff := cmp.Diff([]string{"young"}, diskFiles(t, filepath.Join(root, ".tmp"))); diff != "" {
		t.Errorf("temporary files after NewFS (-want +got):\n%s", diff)
	}
}

func TestFSNotAFolder(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := store.NewFS(file); err == nil {
		t.Errorf("NewFS of a regular file: no error")
	}
}

const benchSize = 64 << 20

func BenchmarkFSPut64MiB(b *testing.B) {
	fsb := newFS(b, b.TempDir())
	data := bytes.Repeat([]byte("kiln store benchmark data, 64 MiB "), benchSize/34+1)[:benchSize]
	b.SetBytes(benchSize)
	for b.Loop() {
		if err := fsb.Put(b.Context(), "bench/object", bytes.NewReader(data), benchSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFSGet64MiB(b *testing.B) {
	fsb := newFS(b, b.TempDir())
	data := bytes.Repeat([]byte("kiln store benchmark data, 64 MiB "), benchSize/34+1)[:benchSize]
	if err := fsb.Put(b.Context(), "bench/object", bytes.NewReader(data), benchSize); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(benchSize)
	for b.Loop() {
		rc, err := fsb.Get(b.Context(), "bench/object", 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, rc, buf)
		rc.Close()
		if err != nil || n != benchSize {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}
