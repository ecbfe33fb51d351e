package version

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kilnml/kiln/store"
)

func TestBranchesAndTags(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{Author: "bob"})
	c1, err := r.CommitEntries(ctx, "d", nil, CommitOptions{Time: t0, Message: "one\ntwo"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := r.CommitEntries(ctx, "d", []Entry{corePut(t, r, "x", "x")}, CommitOptions{Time: t0.Add(1)})
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.CommitEntries(ctx, "e", nil, CommitOptions{Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	var zero store.Digest

	// Create, move, conflict, delete.
	if err := r.SetBranch(ctx, "d", "dev", zero, c1.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.SetBranch(ctx, "d", "dev", zero, c2.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("create over an existing branch: %v, want ErrConflict", err)
	}
	if err := r.SetBranch(ctx, "d", "dev", c2.ID, c1.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("move from a stale head: %v, want ErrConflict", err)
	}
	if err := r.SetBranch(ctx, "d", "dev", c1.ID, c2.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.SetBranch(ctx, "d", "dev", c2.ID, other.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a commit of another dataset: %v, want ErrNotFound", err)
	}
	blob := corePut(t, r, "y", "not a commit")
	if err := r.SetBranch(ctx, "d", "dev", c2.ID, blob.Digest); !errors.Is(err, ErrNotFound) {
		t.Errorf("a blob that is not a commit: %v, want ErrNotFound", err)
	}
	if err := r.SetBranch(ctx, "d", "dev", c2.ID, store.Sum([]byte("nothing"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing commit: %v, want ErrNotFound", err)
	}
	if err := r.SetBranch(ctx, "d", "bad name", zero, c1.ID); !errors.Is(err, ErrBadName) {
		t.Errorf("bad branch name: %v, want ErrBadName", err)
	}

	// Tags never move.
	if err := r.Tag(ctx, "d", "v1", c1.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []store.Digest{c1.ID, c2.ID} {
		if err := r.Tag(ctx, "d", "v1", id); !errors.Is(err, ErrConflict) {
			t.Errorf("re-tag: %v, want ErrConflict", err)
		}
	}
	if err := r.Tag(ctx, "d", "v2", other.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("tag a commit of another dataset: %v, want ErrNotFound", err)
	}
	if err := r.Tag(ctx, "d", "../v2", c1.ID); !errors.Is(err, ErrBadName) {
		t.Errorf("bad tag name: %v, want ErrBadName", err)
	}

	refs, err := r.Refs(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	want := []Ref{
		{Dataset: "d", Kind: BranchRef, Name: "dev", Commit: c2.ID},
		{Dataset: "d", Kind: BranchRef, Name: "main", Commit: c2.ID},
		{Dataset: "d", Kind: TagRef, Name: "v1", Commit: c1.ID},
	}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
	if refs, err := r.Refs(ctx, "nothing"); err != nil || len(refs) != 0 {
		t.Errorf("Refs of an unknown dataset: %v, %v", refs, err)
	}

	if err := r.SetBranch(ctx, "d", "dev", c2.ID, zero); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(ctx, "d@dev"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted branch: %v, want ErrNotFound", err)
	}
	if err := r.SetBranch(ctx, "d", "dev", zero, zero); err != nil {
		t.Errorf("delete of a missing branch expected missing: %v", err)
	}

	log, err := r.Reflog(ctx, "d", "dev")
	if err != nil {
		t.Fatal(err)
	}
	wantLog := []ReflogEntry{
		{Old: c2.ID, Author: "bob", Message: "branch: delete"},
		{Old: c1.ID, New: c2.ID, Author: "bob", Message: "branch: set to " + c2.ID.String()},
		{New: c1.ID, Author: "bob", Message: "branch: set to " + c1.ID.String()},
	}
	if diff := cmp.Diff(wantLog, log, cmpopts.IgnoreFields(ReflogEntry{}, "Time")); diff != "" {
		t.Errorf("Reflog of dev (-want +got):\n%s", diff)
	}
	main, err := r.Reflog(ctx, "d", "main")
	if err != nil {
		t.Fatal(err)
	}
	wantMain := []ReflogEntry{
		{Old: c1.ID, New: c2.ID, Time: c2.Time, Author: "bob", Message: "commit: "},
		{New: c1.ID, Time: t0, Author: "bob", Message: "commit: one"},
	}
	if diff := cmp.Diff(wantMain, main); diff != "" {
		t.Errorf("Reflog of main (-want +got):\n%s", diff)
	}
	if ds, err := r.Datasets(ctx); err != nil || !cmp.Equal(ds, []string{"d", "e"}) {
		t.Errorf("Datasets = %v, %v", ds, err)
	}
}

// TestDatasetsPrefixes: datasets whose names extend one another are told
// apart.
func TestDatasetsPrefixes(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	for _, ds := range []string{"a", "a.b", "a-b", "a/b", "ab", "a/b/c"} {
		c, err := r.CommitEntries(ctx, ds, nil, CommitOptions{Message: ds})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Tag(ctx, ds, "t", c.ID); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := r.Datasets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "a-b", "a.b", "a/b", "a/b/c", "ab"}, ds); diff != "" {
		t.Errorf("Datasets (-want +got):\n%s", diff)
	}
	refs, err := r.Refs(ctx, "a")
	if err != nil || len(refs) != 2 {
		t.Errorf("Refs(a) = %v, %v", refs, err)
	}
	c, err := r.Resolve(ctx, "a/b")
	if err != nil || c.Message != "a/b" {
		t.Errorf("Resolve(a/b) = %+v, %v", c, err)
	}
}
