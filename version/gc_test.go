package version

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kilnml/kiln/store"
)

// TestGCRoots: GC keeps every commit reachable from a branch, a tag or a
// reflog (a deleted branch included), model and run artifacts, and deletes
// a blob nothing refers to.
func TestGCRoots(t *testing.T) {
	ctx := context.Background()
	r := openCoreRepo(t, Options{})
	v1, err := r.CommitEntries(ctx, "data", []Entry{corePut(t, r, "a.txt", "version one of a")}, CommitOptions{Message: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CommitEntries(ctx, "data", []Entry{corePut(t, r, "a.txt", "version two of a")}, CommitOptions{Message: "v2"}); err != nil {
		t.Fatal(err)
	}
	gone, err := r.CommitEntries(ctx, "scratch", []Entry{corePut(t, r, "s.txt", "only on a deleted branch")}, CommitOptions{Message: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetBranch(ctx, "scratch", "main", gone.ID, store.Digest{}); err != nil {
		t.Fatal(err)
	}
	mv, err := r.RegisterModel(ctx, "churn", strings.NewReader("model weights"), ModelMeta{Framework: "kiln", Datasets: []string{"data@main~1"}})
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.StartRun(ctx, RunOptions{Experiment: "gc"})
	if err != nil {
		t.Fatal(err)
	}
	art, err := run.LogArtifact(ctx, "plot.txt", strings.NewReader("a plot"))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.End(ctx, RunFinished); err != nil {
		t.Fatal(err)
	}
	orphan, err := r.Store().Put(ctx, strings.NewReader("nobody refers to this blob"))
	if err != nil {
		t.Fatal(err)
	}

	dry, err := r.GC(ctx, GCOptions{Grace: -1, RepackThreshold: 0.01, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.GC(ctx, GCOptions{Grace: -1, RepackThreshold: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dry run %+v\nGC %+v", dry, st)
	if st.BytesFreed == 0 || st.BytesFreed != dry.BytesFreed {
		t.Errorf("GC freed %d bytes, dry run predicted %d", st.BytesFreed, dry.BytesFreed)
	}
	if ok, err := r.Store().Has(ctx, orphan); err != nil || ok {
		t.Errorf("orphan blob still there (%v, %v)", ok, err)
	}
	for _, want := range []struct{ spec, path, content string }{
		{"data", "a.txt", "version two of a"},
		{"data@main~1", "a.txt", "version one of a"},
		{"scratch@" + gone.ID.String(), "s.txt", "only on a deleted branch"},
	} {
		if got := coreRead(t, r, want.spec, want.path); got != want.content {
			t.Errorf("%s %s: %q, want %q", want.spec, want.path, got, want.content)
		}
	}
	for name, d := range map[string]store.Digest{"model": mv.Artifact, "run artifact": art, "commit v1": v1.ID, "tree v1": v1.Tree} {
		if ok, err := r.Store().Has(ctx, d); err != nil || !ok {
			t.Errorf("%s %s collected (%v, %v)", name, d, ok, err)
		}
	}
	if rep, err := r.Check(ctx); err != nil {
		t.Fatalf("Check after GC: %v (%+v)", err, rep)
	}
}

// TestGCClosed: GC of a closed repository fails with ErrClosed.
func TestGCClosed(t *testing.T) {
	r := openCoreRepo(t, Options{})
	r.Close()
	if _, err := r.GC(context.Background(), GCOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("GC after Close: %v, want ErrClosed", err)
	}
}
