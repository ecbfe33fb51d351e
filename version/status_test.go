package version

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

// coreFiles returns n files of a few KiB in nested folders.
func coreFiles(n, size int) map[string]string {
	files := make(map[string]string, n)
	for i := range n {
		line := fmt.Sprintf("file %d line\n", i)
		body := strings.Repeat(line, size/len(line)+1)[:size]
		files[fmt.Sprintf("part-%02d/sub-%d/f%05d.csv", i%20, i%3, i)] = body
	}
	return files
}

func TestStatusRehashesOnlyChanged(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	dir := t.TempDir()
	coreWriteFiles(t, dir, coreFiles(2000, 4<<10))
	if _, err := r.CommitFiles(ctx, "d", []string{dir}, CommitOptions{Message: "2000 files"}); err != nil {
		t.Fatal(err)
	}
	// CommitFiles filled the stat cache: nothing to hash.
	rep, err := r.Status(ctx, "d", dir, StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean || rep.Files != 2000 || rep.Rehashed != 0 || len(rep.Changes) != 0 {
		t.Errorf("unchanged: %+v", rep)
	}

	// One file changed, same size, mtime an hour ago but not the cached one.
	changed := "part-07/sub-1/f00007.csv"
	full := filepath.Join(dir, changed)
	old, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	mod := append([]byte("X"), old[1:]...)
	coreWriteFiles(t, dir, map[string]string{changed: string(mod)})
	var last StatusProgress
	rep, err = r.Status(ctx, "d", dir, StatusOptions{Progress: func(p StatusProgress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rehashed != 1 || rep.Files != 2000 || rep.Clean {
		t.Errorf("one changed: Rehashed %d, Files %d, Clean %v; want 1, 2000, false", rep.Rehashed, rep.Files, rep.Clean)
	}
	want := []FileChange{{
		Path: changed, Kind: Modified,
		Old: &Entry{Path: changed, Digest: store.Sum(old), Size: 4096, Mode: 0o644},
		New: &Entry{Path: changed, Digest: store.Sum(mod), Size: 4096, Mode: 0o644},
	}}
	if diff := cmp.Diff(want, rep.Changes, treeCmp); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(StatusProgress{Files: 2000, ToHash: 1, Hashed: 1, Bytes: 4096}, last); diff != "" {
		t.Errorf("last progress (-want +got):\n%s", diff)
	}
	// Now cached: the next Status hashes nothing and still sees the change.
	rep, err = r.Status(ctx, "d", dir, StatusOptions{})
	if err != nil || rep.Rehashed != 0 || len(rep.Changes) != 1 {
		t.Errorf("again: %+v, %v", rep, err)
	}

	// Added, removed, mode change.
	coreWriteFiles(t, dir, map[string]string{"new.txt": "new"})
	if err := os.Remove(filepath.Join(dir, "part-00/sub-0/f00000.csv")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "part-01/sub-1/f00001.csv"), 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Status(ctx, "d", dir, StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range rep.Changes {
		got = append(got, string(c.Kind)+" "+c.Path)
	}
	wantKinds := []string{"added new.txt", "removed part-00/sub-0/f00000.csv", "modified part-01/sub-1/f00001.csv", "modified " + changed}
	if diff := cmp.Diff(wantKinds, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// The chmod changed the ctime: that file was hashed again, with new.txt.
	if rep.Rehashed != 2 || rep.Files != 2000 {
		t.Errorf("Rehashed %d, Files %d; want 2, 2000", rep.Rehashed, rep.Files)
	}
	// The removed file's cache entry is gone.
	cache, err := r.loadStatCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cache["part-00/sub-0/f00000.csv"]; ok || len(cache) != 2000 {
		t.Errorf("cache has %d entries (removed one present: %v)", len(cache), ok)
	}
}

// TestStatusRacy: a file written just now is hashed at every Status until
// its cache entry is older than its mtime by the racy window, since it
// could change again without its stat changing.
func TestStatusRacy(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	dir := t.TempDir()
	coreWriteFiles(t, dir, map[string]string{"a": "aaaa", "b": "bbbb"})
	if _, err := r.CommitFiles(ctx, "d", []string{dir}, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	// Rewrite a with the same size, keep the mtime it just got.
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("AAAA"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		rep, err := r.Status(ctx, "d", dir, StatusOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rehashed != 1 || len(rep.Changes) != 1 {
			t.Errorf("status %d: Rehashed %d, changes %d; want 1, 1", i, rep.Rehashed, len(rep.Changes))
		}
	}
	// Same stat as the cache entry, but not yet old enough: hashed again.
	cache, err := r.loadStatCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := cache["a"]
	if e.fresh(e.key) {
		t.Errorf("entry of a file written now is trusted")
	}
	e.written = e.key.mtime + int64(racyWindow) + int64(time.Millisecond)
	if !e.fresh(e.key) {
		t.Errorf("entry older than the racy window is not trusted")
	}
}

func TestStatusRefuses(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	dir := t.TempDir()
	coreWriteFiles(t, dir, map[string]string{"a": "a"})
	if _, err := r.CommitFiles(ctx, "d", []string{dir}, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status(ctx, "d", filepath.Join(dir, "a"), StatusOptions{}); err == nil {
		t.Error("status of a file: accepted")
	}
	if _, err := r.Status(ctx, "d", filepath.Join(dir, "nope"), StatusOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status of a missing folder: %v", err)
	}
	if _, err := r.Status(ctx, "nope", dir, StatusOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("status against a missing dataset: %v", err)
	}
	if err := os.Symlink(t.TempDir(), filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status(ctx, "d", dir, StatusOptions{}); err == nil || !strings.Contains(err.Error(), "dirlink") {
		t.Errorf("symlink to a folder: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Status(cctx, "d", dir, StatusOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// BenchmarkStatus100k measures Status of an unchanged folder of 100,000
// small files whose stat cache is warm.
//
//	go test ./version -run '^$' -bench Status100k -benchtime 5x
func BenchmarkStatus100k(b *testing.B) {
	ctx := context.Background()
	r := openCoreRepo(b, Options{})
	dir := b.TempDir()
	old := time.Now().Add(-time.Hour)
	for i := range 100_000 {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		p := filepath.Join(sub, fmt.Sprintf("f%06d.txt", i))
		if err := os.WriteFile(p, fmt.Appendf(nil, "file %d\n", i), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := r.CommitFiles(ctx, "big", []string{dir}, CommitOptions{}); err != nil {
		b.Fatal(err)
	}
	if rep, err := r.Status(ctx, "big", dir, StatusOptions{}); err != nil || rep.Rehashed != 0 || !rep.Clean {
		b.Fatalf("warm-up: %+v, %v", rep.Rehashed, err)
	}
	for b.Loop() {
		rep, err := r.Status(ctx, "big", dir, StatusOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Files != 100_000 || rep.Rehashed != 0 || !rep.Clean {
			b.Fatalf("Files %d, Rehashed %d, Clean %v", rep.Files, rep.Rehashed, rep.Clean)
		}
	}
}
