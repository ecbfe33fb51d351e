package version

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

// openCoreRepo opens a fresh repository for the core tests.
func openCoreRepo(t testing.TB, opts Options) *Repository {
	t.Helper()
	if opts.Author == "" {
		opts.Author = "tester"
	}
	r, err := Open(context.Background(), filepath.Join(t.TempDir(), "repo"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// coreWriteFiles writes files (path → content) under dir with mtimes an
// hour ago, so that the stat cache trusts them at once.
func coreWriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// corePut stores content and returns its entry.
func corePut(t testing.TB, r *Repository, path, content string) Entry {
	t.Helper()
	d, err := r.Store().Put(context.Background(), strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return Entry{Path: path, Digest: d, Size: int64(len(content)), Mode: 0o644}
}

// coreRead reads an entry of a commit.
func coreRead(t testing.TB, r *Repository, spec, path string) string {
	t.Helper()
	rc, err := r.ReadFile(context.Background(), spec, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// coreLog lists the IDs Log yields.
func coreLog(t testing.TB, r *Repository, spec string) []store.Digest {
	t.Helper()
	var ids []store.Digest
	for c, err := range r.Log(context.Background(), spec) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

// coreSetRaw writes a raw metadata value, as a bug or a bad disk might.
func coreSetRaw(t testing.TB, r *Repository, key, val []byte) {
	t.Helper()
	if err := r.db.Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestCommitEntries(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	a := corePut(t, r, "b/a.csv", "x,y\n1,2\n")
	b := corePut(t, r, "a.txt", "hello")
	b.Mode = 0o700 // any execute bit: 0o755
	c1, err := r.CommitEntries(ctx, "flights", []Entry{a, b}, CommitOptions{Message: "first\nmore", Time: t0, Meta: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(c1.Parents) != 0 || c1.Author != "tester" || c1.Dataset != "flights" || !c1.Time.Equal(t0) {
		t.Errorf("first commit: %+v", c1)
	}
	tree, err := r.Tree(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	b.Mode = 0o755
	if diff := cmp.Diff([]Entry{b, a}, tree, treeCmp); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	got, err := r.ReadCommit(ctx, c1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c1, got); diff != "" {
		t.Errorf("ReadCommit (-want +got):\n%s", diff)
	}
	// The commit's ID is the digest of its blob in the store.
	data, err := r.readBlob(ctx, c1.ID, maxCommitBlob)
	if err != nil || store.Sum(data) != c1.ID {
		t.Errorf("commit blob: %v", err)
	}

	c2, err := r.CommitEntries(ctx, "flights", []Entry{a}, CommitOptions{Message: "second", Time: t0.Add(time.Hour), Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Digest{c1.ID}, c2.Parents); diff != "" || c2.Author != "ann" {
		t.Errorf("second commit: parents (-want +got):\n%s, author %q", diff, c2.Author)
	}
	if got := coreRead(t, r, "flights", "b/a.csv"); got != "x,y\n1,2\n" {
		t.Errorf("ReadFile = %q", got)
	}
	if got := coreRead(t, r, "flights~1", "a.txt"); got != "hello" {
		t.Errorf("ReadFile of flights~1 = %q", got)
	}
	if _, err := r.ReadFile(ctx, "flights", "a.txt"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadFile of a removed entry: %v, want ErrNotFound", err)
	}
	if _, err := r.ReadFile(ctx, "flights", "../a.txt"); !errors.Is(err, ErrBadName) {
		t.Errorf("ReadFile of a bad path: %v, want ErrBadName", err)
	}
	if diff := cmp.Diff([]store.Digest{c2.ID, c1.ID}, coreLog(t, r, "flights")); diff != "" {
		t.Errorf("Log (-want +got):\n%s", diff)
	}

	// A commit on another branch, and one of another dataset.
	c3, err := r.CommitEntries(ctx, "flights", []Entry{b}, CommitOptions{Branch: "dev", Time: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c3.Parents) != 0 {
		t.Errorf("first commit of a new branch has parents %v", c3.Parents)
	}
	other, err := r.CommitEntries(ctx, "weather", nil, CommitOptions{Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	if ds, err := r.Datasets(ctx); err != nil || !slices.Equal(ds, []string{"flights", "weather"}) {
		t.Errorf("Datasets = %v, %v", ds, err)
	}
	if tr, err := r.Tree(ctx, other); err != nil || len(tr) != 0 {
		t.Errorf("empty tree: %v, %v", tr, err)
	}

	// Specs.
	if err := r.Tag(ctx, "flights", "v1", c1.ID); err != nil {
		t.Fatal(err)
	}
	for spec, want := range map[string]store.Digest{
		"flights":                     c2.ID,
		"flights@main":                c2.ID,
		"flights~1":                   c1.ID,
		"flights@main~":               c1.ID,
		"flights~0":                   c2.ID,
		"flights@dev":                 c3.ID,
		"flights@v1":                  c1.ID,
		"flights@" + c1.ID.String():   c1.ID,
		"flights@" + c2.ID.Hex()[:8]:  c2.ID,
		"flights@" + c2.ID.Hex()[:11]: c2.ID,
		"flights@" + strings.ToUpper(c1.ID.Hex()[:10]): c1.ID,
		"flights@" + c1.ID.Hex():                       c1.ID,
		"weather":                                      other.ID,
	} {
		c, err := r.Resolve(ctx, spec)
		if err != nil {
			t.Errorf("Resolve(%q): %v", spec, err)
		} else if c.ID != want {
			t.Errorf("Resolve(%q) = %s, want %s", spec, c.ID, want)
		}
	}
	for spec, want := range map[string]error{
		"flights~2":                      ErrNotFound,
		"flights@nope":                   ErrNotFound,
		"nope":                           ErrNotFound,
		"flights@" + other.ID.String():   ErrNotFound, // a commit of another dataset
		"flights@" + other.ID.Hex()[:12]: ErrNotFound,
		"flights@" + a.Digest.String():   ErrNotFound, // a blob that is not a commit
		"flights@" + hex64("0"):          ErrNotFound,
		"flights@blake3:abc":             ErrBadName,
		"flights@ma in":                  ErrBadName,
		"flights~x":                      ErrBadName,
		"weather@" + other.ID.Hex()[:7]:  ErrNotFound, // too short for a prefix
	} {
		if _, err := r.Resolve(ctx, spec); !errors.Is(err, want) {
			t.Errorf("Resolve(%q) = %v, want %v", spec, err, want)
		}
	}
}

func TestResolveAmbiguousPrefix(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	// 17 commits: two share their first hex digit.
	for i := range 17 {
		if _, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Time: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	ambiguous := 0
	for _, p := range "0123456789abcdef" {
		_, err := r.commitByPrefix("d", string(p))
		if err != nil && strings.Contains(err.Error(), "ambiguous") {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("ambiguous prefix: %v, want ErrNotFound", err)
			}
			ambiguous++
		}
	}
	if ambiguous == 0 {
		t.Error("no one-digit prefix is ambiguous among 17 commits")
	}
	// Another dataset's commits do not make a prefix ambiguous.
	ids := coreLog(t, r, "d")
	if _, err := r.CommitEntries(ctx, "e", nil, CommitOptions{Time: t0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got, err := r.commitByPrefix("d", id.Hex()[:8]); err != nil || got != id {
			t.Errorf("prefix of %s: %s, %v", id, got, err)
		}
	}
}

func TestCommitEntriesRefuses(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	a := corePut(t, r, "a", "aaa")
	missing := Entry{Path: "gone.bin", Digest: store.Sum([]byte("never stored")), Size: 12}
	cases := []struct {
		name    string
		dataset string
		entries []Entry
		opts    CommitOptions
		want    error
		says    string
	}{
		{"bad dataset", "../x", []Entry{a}, CommitOptions{}, ErrBadName, "dataset"},
		{"bad branch", "d", []Entry{a}, CommitOptions{Branch: "a b"}, ErrBadName, "branch"},
		{"bad path", "d", []Entry{{Path: "/etc/passwd", Digest: a.Digest, Size: 3}}, CommitOptions{}, ErrBadName, "absolute"},
		{"control byte", "d", []Entry{{Path: "a\x1b[31m", Digest: a.Digest, Size: 3}}, CommitOptions{}, ErrBadName, "control byte"},
		{"twice", "d", []Entry{a, a}, CommitOptions{}, ErrBadName, "twice"},
		{"missing blob", "d", []Entry{a, missing}, CommitOptions{}, ErrNotFound, "gone.bin"},
		{"wrong size", "d", []Entry{{Path: "a", Digest: a.Digest, Size: 4}}, CommitOptions{}, nil, "size 4"},
	}
	for _, tc := range cases {
		_, err := r.CommitEntries(ctx, tc.dataset, tc.entries, tc.opts)
		if err == nil || tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %v saying %q", tc.name, err, tc.want, tc.says)
		}
	}
	if ds, err := r.Datasets(ctx); err != nil || len(ds) != 0 {
		t.Errorf("refused commits left datasets %v (%v)", ds, err)
	}
}

func TestCommitParentConflict(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	a := corePut(t, r, "a", "a")
	c1, err := r.CommitEntries(ctx, "d", []Entry{a}, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.CommitEntries(ctx, "d", []Entry{a}, CommitOptions{Parent: c1.ID})
	if err != nil {
		t.Fatal(err)
	}
	// c1 is no longer the head: a commit expecting it fails and changes nothing.
	if _, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Parent: c1.ID}); !errors.Is(err, ErrConflict) {
		t.Errorf("stale parent: %v, want ErrConflict", err)
	}
	// A parent on a branch that does not exist is a conflict too.
	if _, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Parent: c1.ID, Branch: "new"}); !errors.Is(err, ErrConflict) {
		t.Errorf("parent on a new branch: %v, want ErrConflict", err)
	}
	if h, err := r.head("d", "main"); err != nil || h != c2.ID {
		t.Errorf("head = %s, %v; want %s", h, err, c2.ID)
	}
	if refs, err := r.Refs(ctx, "d"); err != nil || len(refs) != 1 {
		t.Errorf("Refs = %v, %v", refs, err)
	}
}

func TestCommitFiles(t *testing.T) {
	ctx := context.Background()
	var puts atomic.Int64
	r := openCoreRepo(t, Options{Store: store.Options{Progress: func(p store.PutProgress) {
		if p.Done {
			puts.Add(1)
		}
	}}})
	work := t.TempDir()
	data := filepath.Join(work, "data")
	coreWriteFiles(t, data, map[string]string{
		"a.csv":         "a\n1\n",
		"sub/b.csv":     "b\n2\n",
		"sub/deep/c.sh": "#!/bin/sh\necho hi\n",
		".hidden":       "h",
	})
	if err := os.Chmod(filepath.Join(data, "sub/deep/c.sh"), 0o750); err != nil {
		t.Fatal(err)
	}
	coreWriteFiles(t, work, map[string]string{"extra/notes.txt": "notes", "elsewhere/target.txt": "linked"})
	if err := os.Symlink(filepath.Join(work, "elsewhere/target.txt"), filepath.Join(data, "link.txt")); err != nil {
		t.Fatal(err)
	}
	c1, err := r.CommitFiles(ctx, "ds", []string{data, filepath.Join(work, "extra/notes.txt")}, CommitOptions{Message: "files"})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := r.Tree(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Path: ".hidden", Digest: store.Sum([]byte("h")), Size: 1, Mode: 0o644},
		{Path: "a.csv", Digest: store.Sum([]byte("a\n1\n")), Size: 4, Mode: 0o644},
		{Path: "link.txt", Digest: store.Sum([]byte("linked")), Size: 6, Mode: 0o644},
		{Path: "notes.txt", Digest: store.Sum([]byte("notes")), Size: 5, Mode: 0o644},
		{Path: "sub/b.csv", Digest: store.Sum([]byte("b\n2\n")), Size: 4, Mode: 0o644},
		{Path: "sub/deep/c.sh", Digest: store.Sum([]byte("#!/bin/sh\necho hi\n")), Size: 18, Mode: 0o755},
	}
	if diff := cmp.Diff(want, tree, treeCmp); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if got := coreRead(t, r, "ds", "link.txt"); got != "linked" {
		t.Errorf("link.txt = %q", got)
	}

	// Again with one file changed: only it, the tree and the commit are put.
	coreWriteFiles(t, data, map[string]string{"sub/b.csv": "b\n2\n3\n"})
	puts.Store(0)
	c2, err := r.CommitFiles(ctx, "ds", []string{data, filepath.Join(work, "extra/notes.txt")}, CommitOptions{Message: "one changed"})
	if err != nil {
		t.Fatal(err)
	}
	if n := puts.Load(); n != 3 {
		t.Errorf("second commit put %d blobs, want 3 (one file, the tree, the commit)", n)
	}
	if got := coreRead(t, r, "ds", "sub/b.csv"); got != "b\n2\n3\n" {
		t.Errorf("b.csv = %q", got)
	}
	if c2.Parents[0] != c1.ID {
		t.Errorf("parent %v, want %s", c2.Parents, c1.ID)
	}
	if _, err := r.Check(ctx); err != nil {
		t.Error(err)
	}

	// Refused: a clash, a symlink to a folder, a missing path, nothing.
	coreWriteFiles(t, work, map[string]string{"other/a.csv": "clash"})
	if _, err := r.CommitFiles(ctx, "ds", []string{data, filepath.Join(work, "other/a.csv")}, CommitOptions{}); err == nil || !strings.Contains(err.Error(), `"a.csv"`) {
		t.Errorf("clash: %v", err)
	}
	c3, err := r.CommitFiles(ctx, "ds", []string{data, data}, CommitOptions{})
	if err != nil {
		t.Errorf("the same folder twice: %v", err)
	}
	if err := os.Symlink(filepath.Join(work, "elsewhere"), filepath.Join(data, "sub/dirlink")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CommitFiles(ctx, "ds", []string{data}, CommitOptions{}); err == nil || !strings.Contains(err.Error(), "dirlink") {
		t.Errorf("symlink to a folder: %v", err)
	}
	if _, err := r.CommitFiles(ctx, "ds", []string{filepath.Join(work, "nope")}, CommitOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	if _, err := r.CommitFiles(ctx, "ds", nil, CommitOptions{}); err == nil {
		t.Error("no paths: accepted")
	}
	if err := os.Remove(filepath.Join(data, "sub/dirlink")); err != nil {
		t.Fatal(err)
	}
	coreWriteFiles(t, data, map[string]string{"bad\\name": "x"})
	if _, err := r.CommitFiles(ctx, "ds", []string{data}, CommitOptions{}); !errors.Is(err, ErrBadName) {
		t.Errorf("a file name with a backslash: %v, want ErrBadName", err)
	}
	if h, _ := r.head("ds", "main"); h != c3.ID {
		t.Errorf("refused commits moved the branch")
	}
}

func TestCommitFilesParquet(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	dir := t.TempDir()
	pq, err := os.ReadFile("../testdata/flights-20k.parquet")
	if err != nil {
		t.Skip("no flights-20k.parquet:", err)
	}
	coreWriteFiles(t, dir, map[string]string{"flights.parquet": string(pq), "fake.parquet": "not parquet", "notes.txt": "n"})
	c, err := r.CommitFiles(ctx, "f", []string{dir}, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := r.Tree(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if tree[0].Path != "fake.parquet" || tree[0].Table != nil {
		t.Errorf("fake.parquet: %+v, want a plain file", tree[0])
	}
	if tree[2].Table != nil {
		t.Errorf("notes.txt has a table")
	}
	ft := tree[1].Table
	if ft == nil || ft.Rows != 20000 || len(ft.Columns) != ft.Schema.NumFields() {
		t.Fatalf("flights.parquet table: %+v", ft)
	}
	// The next commit keeps the description without reading it again.
	coreWriteFiles(t, dir, map[string]string{"notes.txt": "more notes"})
	c2, err := r.CommitFiles(ctx, "f", []string{dir}, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tree2, err := r.Tree(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tree[1], tree2[1], treeCmp); diff != "" {
		t.Errorf("flights.parquet entry changed (-old +new):\n%s", diff)
	}
}

// TestConcurrentCommits: 16 goroutines commit to one branch, with Parent
// zero (on top of whatever is there) and with Parent set, retrying on
// ErrConflict. No commit is lost.
func TestConcurrentCommits(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	const workers, each = 16, 4
	for _, withParent := range []bool{false, true} {
		t.Run(fmt.Sprintf("parent=%v", withParent), func(t *testing.T) {
			branch := fmt.Sprintf("b%v", withParent)
			var mu sync.Mutex
			var made []store.Digest
			var conflicts atomic.Int64
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						e := corePut(t, r, fmt.Sprintf("w%d.txt", w), fmt.Sprintf("worker %d commit %d", w, i))
						for {
							opts := CommitOptions{Branch: branch, Message: fmt.Sprintf("%d/%d", w, i)}
							if withParent {
								h, err := r.head("d", branch)
								if err != nil {
									t.Error(err)
									return
								}
								opts.Parent = h
							}
							c, err := r.CommitEntries(ctx, "d", []Entry{e}, opts)
							if withParent && errors.Is(err, ErrConflict) {
								conflicts.Add(1)
								continue
							}
							if err != nil {
								t.Error(err)
								return
							}
							mu.Lock()
							made = append(made, c.ID)
							mu.Unlock()
							break
						}
					}
				})
			}
			wg.Wait()
			log := coreLog(t, r, "d@"+branch)
			if len(log) != workers*each {
				t.Errorf("log has %d commits, want %d", len(log), workers*each)
			}
			for _, id := range made {
				if !slices.Contains(log, id) {
					t.Errorf("commit %s is not on the branch", id)
				}
			}
			// A line: each commit has one parent but the first.
			roots := 0
			for c, err := range r.Log(ctx, "d@"+branch) {
				if err != nil {
					t.Fatal(err)
				}
				if len(c.Parents) == 0 {
					roots++
				}
			}
			if roots != 1 {
				t.Errorf("%d root commits, want 1", roots)
			}
			reflog, err := r.Reflog(ctx, "d", branch)
			if err != nil || len(reflog) != workers*each {
				t.Errorf("reflog: %d entries, %v", len(reflog), err)
			}
			t.Logf("%d conflicts retried", conflicts.Load())
		})
	}
}

func TestLogOrder(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	// A merge: main has m1 → m2, dev forks from m1 with d1 (older than m2),
	// then a merge commit with parents m2 and d1 made through SetBranch.
	m1, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Time: t0, Message: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetBranch(ctx, "d", "dev", store.Digest{}, m1.ID); err != nil {
		t.Fatal(err)
	}
	d1, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Branch: "dev", Time: t0.Add(time.Minute), Message: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Time: t0.Add(2 * time.Minute), Message: "m2"})
	if err != nil {
		t.Fatal(err)
	}
	merge := Commit{Dataset: "d", Parents: []store.Digest{m2.ID, d1.ID}, Tree: m2.Tree, Message: "merge", Author: "x", Time: t0.Add(3 * time.Minute)}
	data, err := encodeCommit(&merge)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := r.Store().Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetBranch(ctx, "d", "main", m2.ID, mid); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Digest{mid, m2.ID, d1.ID, m1.ID}, coreLog(t, r, "d")); diff != "" {
		t.Errorf("Log (-want +got):\n%s", diff)
	}
	// SetBranch recorded the merge, which was only in the store: a prefix
	// finds it.
	if c, err := r.Resolve(ctx, "d@"+mid.Hex()[:10]); err != nil || c.ID != mid {
		t.Errorf("prefix of the merge: %s, %v", c.ID, err)
	}
	// ~N follows first parents.
	if c, err := r.Resolve(ctx, "d~2"); err != nil || c.ID != m1.ID {
		t.Errorf("d~2 = %s, %v; want m1", c.ID, err)
	}
	// Stopping early is fine.
	for c, err := range r.Log(ctx, "d") {
		if err != nil || c.ID != mid {
			t.Errorf("first: %s, %v", c.ID, err)
		}
		break
	}
	for _, err := range r.Log(ctx, "d@nope") {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Log of a missing branch: %v", err)
		}
	}
}

func TestCorruptMetadata(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	a := corePut(t, r, "a", "aaa")
	c1, err := r.CommitEntries(ctx, "d", []Entry{a}, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check(ctx); err != nil {
		t.Fatalf("healthy repository: %v", err)
	}
	// A commit record that does not match its digest.
	coreSetRaw(t, r, commitKey(c1.ID), []byte(`{"dataset":"d","tree":"`+c1.Tree.String()+`","message":"forged","author":"","time":"2024-01-01T00:00:00Z"}`))
	for what, err := range map[string]error{
		"ReadCommit": func() error { _, err := r.ReadCommit(ctx, c1.ID); return err }(),
		"Resolve":    func() error { _, err := r.Resolve(ctx, "d"); return err }(),
		"Check":      func() error { _, err := r.Check(ctx); return err }(),
	} {
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c1.ID.String()) {
			t.Errorf("%s of a forged commit record: %v, want ErrCorrupt naming it", what, err)
		}
	}
	// Not JSON, but matching its digest (as if written so by a bug).
	junk := []byte("not json")
	coreSetRaw(t, r, commitKey(store.Sum(junk)), junk)
	if _, err := r.ReadCommit(ctx, store.Sum(junk)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("junk commit record: %v, want ErrCorrupt", err)
	}
	// A bad ref value.
	coreSetRaw(t, r, refKey("d", BranchRef, "broken"), []byte("short"))
	if _, err := r.Resolve(ctx, "d@broken"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Resolve of a bad ref: %v, want ErrCorrupt", err)
	}
	if _, err := r.Refs(ctx, "d"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Refs with a bad ref: %v, want ErrCorrupt", err)
	}
	// A bad reflog entry.
	coreSetRaw(t, r, append(reflogKeys("d", "main"), "00000000000000000099"...), []byte("{"))
	if _, err := r.Reflog(ctx, "d", "main"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Reflog with a bad entry: %v, want ErrCorrupt", err)
	}
	rep, err := r.Check(ctx)
	if !errors.Is(err, ErrCorrupt) || len(rep.Problems) < 4 {
		t.Errorf("Check: %v, problems %q", err, rep.Problems)
	}
}

func TestCorruptTree(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	bad := corePut(t, r, "junk", "kilntree\x01\x05junk")
	c := Commit{Dataset: "d", Tree: bad.Digest, Message: "bad tree", Time: t0}
	data, err := encodeCommit(&c)
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.Store().Put(ctx, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetBranch(ctx, "d", "main", store.Digest{}, id); err != nil {
		t.Fatal(err)
	}
	c.ID = id
	if _, err := r.Tree(ctx, c); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Tree: %v, want ErrCorrupt", err)
	}
	if _, err := r.ReadFile(ctx, "d", "x"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadFile: %v, want ErrCorrupt", err)
	}
	if _, err := r.Checkout(ctx, "d", t.TempDir(), CheckoutOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Checkout: %v, want ErrCorrupt", err)
	}
	if _, err := r.Status(ctx, "d", t.TempDir(), StatusOptions{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Status: %v, want ErrCorrupt", err)
	}
	rep, err := r.Check(ctx)
	if !errors.Is(err, ErrCorrupt) || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "tree") {
		t.Errorf("Check: %v, problems %q", err, rep.Problems)
	}
	// A tree that is missing from the store.
	c.Tree = store.Sum([]byte("no such tree"))
	if _, err := r.Tree(ctx, c); !errors.Is(err, ErrCorrupt) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Tree of a missing blob: %v, want ErrCorrupt and store.ErrNotFound", err)
	}
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	r.Close()
	errs := []error{
		func() error { _, err := r.Resolve(ctx, "d"); return err }(),
		func() error { _, err := r.CommitEntries(ctx, "d", nil, CommitOptions{}); return err }(),
		func() error { _, err := r.CommitFiles(ctx, "d", []string{"."}, CommitOptions{}); return err }(),
		func() error { _, err := r.Status(ctx, "d", ".", StatusOptions{}); return err }(),
		func() error { _, err := r.Checkout(ctx, "d", t.TempDir(), CheckoutOptions{}); return err }(),
		func() error { _, err := r.Check(ctx); return err }(),
		func() error { _, err := r.Datasets(ctx); return err }(),
		func() error { return r.Tag(ctx, "d", "t", store.Digest{}) }(),
	}
	for i, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v, want ErrClosed", i, err)
		}
	}
}
