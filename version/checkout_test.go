package version

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

func TestCheckout(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	src := t.TempDir()
	files := coreFiles(300, 3000)
	files["bin/run.sh"] = "#!/bin/sh\n"
	files["empty"] = ""
	coreWriteFiles(t, src, files)
	if err := os.Chmod(filepath.Join(src, "bin/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitFiles(ctx, "d", []string{src}, CommitOptions{Message: "v1"})
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "new", "out")
	var calls int
	var last CheckoutProgress
	st, err := r.Checkout(ctx, "d", out, CheckoutOptions{Progress: func(p CheckoutProgress) { calls++; last = p }})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, content := range files {
		total += int64(len(content))
	}
	if diff := cmp.Diff(CheckoutStats{Files: 302, Bytes: total}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if calls != 302 || last != (CheckoutProgress{Files: 302, FilesAll: 302, Bytes: total, BytesAll: total}) {
		t.Errorf("%d progress calls, last %+v", calls, last)
	}
	for p, content := range files {
		got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(p)))
		if err != nil || string(got) != content {
			t.Fatalf("%s: %q, %v", p, got, err)
		}
	}
	fi, err := os.Stat(filepath.Join(out, "bin/run.sh"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh mode %v, %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(out, "empty")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("empty mode %v, %v", fi.Mode(), err)
	}
	// The stat cache is filled: Status hashes nothing.
	rep, err := r.Status(ctx, "d", out, StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean || rep.Rehashed != 0 || rep.Files != 302 {
		t.Errorf("status after checkout: %+v", rep)
	}
	// Again: everything is skipped.
	st, err = r.Checkout(ctx, "d@"+c.ID.Hex()[:12], out, CheckoutOptions{})
	if err != nil || st != (CheckoutStats{Skipped: 302}) {
		t.Errorf("second checkout: %+v, %v", st, err)
	}

	// A changed file is in the way: nothing is written without Force.
	victim := filepath.Join(out, "part-03/sub-0/f00003.csv")
	if err := os.WriteFile(victim, []byte("local edit"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(out, "empty")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "untracked.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = r.Checkout(ctx, "d", out, CheckoutOptions{})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "f00003.csv") {
		t.Errorf("checkout over a local edit: %v, want ErrConflict naming it", err)
	}
	if _, err := os.Stat(filepath.Join(out, "empty")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused checkout wrote files")
	}
	// A mode change alone is fixed without Force.
	if err := os.Chmod(filepath.Join(out, "bin/run.sh"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err = r.Checkout(ctx, "d", out, CheckoutOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Skipped != 299 || st.Bytes != 3000 {
		t.Errorf("forced checkout: %+v, want 3 files (edit, removed, mode), 299 skipped, 3000 bytes", st)
	}
	if got, _ := os.ReadFile(victim); string(got) != files["part-03/sub-0/f00003.csv"] {
		t.Errorf("forced checkout left %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "untracked.txt")); string(got) != "mine" {
		t.Errorf("untracked file changed: %q", got)
	}
	rep, err = r.Status(ctx, "d", out, StatusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Kind != Added || rep.Changes[0].Path != "untracked.txt" {
		t.Errorf("status after forced checkout: %+v", rep.Changes)
	}
	// No temporary files left behind.
	matches, _ := filepath.Glob(filepath.Join(out, "*", "*", tempPrefix+"*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// TestCheckoutStaysInside: a symlink in the output folder cannot make
// Checkout write outside it, even with Force.
func TestCheckoutStaysInside(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	src := t.TempDir()
	coreWriteFiles(t, src, map[string]string{"sub/file.txt": "data", "top.txt": "top"})
	if _, err := r.CommitFiles(ctx, "d", []string{src}, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	out, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(out, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "top.txt"), filepath.Join(out, "top.txt")); err != nil {
		t.Fatal(err)
	}
	_, err := r.Checkout(ctx, "d", out, CheckoutOptions{Force: true})
	if err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Errorf("checkout through a symlink to outside: %v, want an error", err)
	}
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Errorf("checkout wrote outside its folder: %v", ents)
	}
}

func TestCheckoutVerifies(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	e := corePut(t, r, "f", "content")
	e.Size = 7
	if _, err := r.CommitEntries(ctx, "d", []Entry{e}, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := r.Checkout(ctx, "d@nope", out, CheckoutOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing ref: %v", err)
	}
	if err := os.Mkdir(filepath.Join(out, "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkout(ctx, "d", out, CheckoutOptions{Force: true}); !errors.Is(err, ErrConflict) {
		t.Errorf("a folder in the way: %v, want ErrConflict", err)
	}
	if err := os.Remove(filepath.Join(out, "f")); err != nil {
		t.Fatal(err)
	}
	// Damage the content in its pack: the checkout fails and writes nothing.
	packs, err := filepath.Glob(filepath.Join(r.Dir(), "objects", "packs", "*", "*"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("no packs: %v", err)
	}
	damaged := 0
	for _, p := range packs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if i := strings.Index(string(b), "content"); i >= 0 {
			b[i] = 'C'
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatal("content not found in any pack")
	}
	if _, err := r.Checkout(ctx, "d", out, CheckoutOptions{}); !errors.Is(err, ErrCorrupt) || !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("damaged content: %v, want ErrCorrupt", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("a failed checkout left %v", ents)
	}
}
