package version

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

// openRegRepo opens a fresh repository for the registry and run tests.
func openRegRepo(t testing.TB) *Repository {
	t.Helper()
	r, err := Open(context.Background(), t.TempDir(), Options{Author: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func registerString(t testing.TB, r *Repository, name, artifact string, meta ModelMeta) ModelVersion {
	t.Helper()
	mv, err := r.RegisterModel(context.Background(), name, strings.NewReader(artifact), meta)
	if err != nil {
		t.Fatal(err)
	}
	return mv
}

func readModel(t testing.TB, r *Repository, spec string) string {
	t.Helper()
	rc, err := r.OpenModel(context.Background(), spec)
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

func TestRegisterModelVersions(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	meta := ModelMeta{
		Framework:    "kiln/train",
		Params:       map[string]string{"lr": "0.01"},
		Metrics:      map[string]float64{"auc": 0.91},
		CodeRevision: "abc123",
		Description:  "first",
		Tags:         map[string]string{"team": "growth"},
	}
	v1 := registerString(t, r, "churn", "weights v1", meta)
	v2 := registerString(t, r, "churn", "weights v2", ModelMeta{Framework: "kiln/train"})
	registerString(t, r, "team/fraud", "fraud v1", ModelMeta{})

	if v1.Version != 1 || v2.Version != 2 {
		t.Fatalf("versions %d, %d; want 1, 2", v1.Version, v2.Version)
	}
	want := ModelVersion{
		Name: "churn", Version: 1, Artifact: store.Sum([]byte("weights v1")), Size: 10,
		Meta: meta, Created: v1.Created, Author: "tester",
	}
	if diff := cmp.Diff(want, v1); diff != "" {
		t.Errorf("RegisterModel (-want +got):\n%s", diff)
	}
	if v1.Created.IsZero() {
		t.Error("Created is zero")
	}

	for spec, wantMV := range map[string]ModelVersion{"churn": v2, "churn/1": v1, "churn/2": v2} {
		got, err := r.ResolveModel(ctx, spec)
		if err != nil {
			t.Fatalf("ResolveModel(%q): %v", spec, err)
		}
		if diff := cmp.Diff(wantMV, got); diff != "" {
			t.Errorf("ResolveModel(%q) (-want +got):\n%s", spec, diff)
		}
	}
	if got := readModel(t, r, "churn/1"); got != "weights v1" {
		t.Errorf("OpenModel(churn/1) = %q", got)
	}
	if got := readModel(t, r, "team/fraud"); got != "fraud v1" {
		t.Errorf("OpenModel(team/fraud) = %q", got)
	}

	models, err := r.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"churn", "team/fraud"}, models); diff != "" {
		t.Errorf("Models (-want +got):\n%s", diff)
	}
	versions, err := r.ModelVersions(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ModelVersion{v1, v2}, versions); diff != "" {
		t.Errorf("ModelVersions (-want +got):\n%s", diff)
	}

	// Everything survives a reopen.
	dir := r.Dir()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got, err := r2.ResolveModel(ctx, "churn/1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v1, got); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	if v3 := registerString(t, r2, "churn", "weights v3", ModelMeta{}); v3.Version != 3 {
		t.Errorf("version after reopen = %d, want 3", v3.Version)
	}
}

// Models whose names share a prefix are listed apart, and each one's
// versions stay its own.
func TestModelsSharedPrefixes(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	names := []string{"a", "a.b", "a/b", "a-b", "ab", "b"}
	for i, n := range names {
		for j := 0; j <= i; j++ {
			registerString(t, r, n, fmt.Sprintf("%s %d", n, j), ModelMeta{})
		}
	}
	got, err := r.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(names)), got); diff != "" {
		t.Errorf("Models (-want +got):\n%s", diff)
	}
	for i, n := range names {
		vs, err := r.ModelVersions(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != i+1 {
			t.Errorf("%s: %d versions, want %d", n, len(vs), i+1)
		}
		for j, mv := range vs {
			if mv.Name != n || mv.Version != j+1 {
				t.Errorf("%s: version %d is %s/%d", n, j+1, mv.Name, mv.Version)
			}
		}
	}
}

func TestRegisterModelConcurrent(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	const n = 16
	got := make([]ModelVersion, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			mv, err := r.RegisterModel(ctx, "churn", strings.NewReader(fmt.Sprintf("artifact %d", i)), ModelMeta{Description: fmt.Sprint(i)})
			if err != nil {
				errs <- err
				return
			}
			got[i] = mv
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var nums []int
	for i, mv := range got {
		nums = append(nums, mv.Version)
		// The version holds the artifact and meta of the call that got it.
		if s := readModel(t, r, fmt.Sprintf("churn/%d", mv.Version)); s != fmt.Sprintf("artifact %d", i) {
			t.Errorf("version %d holds %q, registered by call %d", mv.Version, s, i)
		}
	}
	slices.Sort(nums)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if diff := cmp.Diff(want, nums); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	vs, err := r.ModelVersions(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != n {
		t.Errorf("ModelVersions: %d, want %d", len(vs), n)
	}
}

func TestAliases(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	for i := 1; i <= 3; i++ {
		registerString(t, r, "churn", fmt.Sprintf("v%d", i), ModelMeta{})
	}
	if err := r.SetAlias(ctx, "churn", "champion", 1); err != nil {
		t.Fatal(err)
	}
	if err := r.SetAlias(ctx, "churn", "challenger", 2); err != nil {
		t.Fatal(err)
	}
	if got := readModel(t, r, "churn@champion"); got != "v1" {
		t.Errorf("churn@champion = %q, want v1", got)
	}
	// SetAlias moves whatever the alias pointed at.
	if err := r.SetAlias(ctx, "churn", "champion", 2); err != nil {
		t.Fatal(err)
	}
	mv, err := r.ResolveModel(ctx, "churn@champion")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Version != 2 || !slices.Equal(mv.Aliases, []string{"challenger", "champion"}) {
		t.Errorf("churn@champion = version %d aliases %q; want 2 [challenger champion]", mv.Version, mv.Aliases)
	}

	// Compare and swap.
	for _, tc := range []struct {
		alias    string
		old, new int
		err      error
	}{
		{"champion", 1, 3, ErrConflict},   // it is at 2
		{"champion", 0, 3, ErrConflict},   // it exists
		{"staging", 1, 3, ErrConflict},    // it does not exist
		{"champion", 2, 9, ErrNotFound},   // no version 9
		{"champion", 2, 3, nil},           // moves
		{"staging", 0, 1, nil},            // created
		{"challenger", 2, 0, nil},         // deleted
		{"challenger", 2, 0, ErrConflict}, // gone already
	} {
		err := r.SwapAlias(ctx, "churn", tc.alias, tc.old, tc.new)
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("SwapAlias(%s, %d, %d) = %v, want %v", tc.alias, tc.old, tc.new, err, tc.err)
		}
	}
	vs, err := r.ModelVersions(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, mv := range vs {
		got = append(got, mv.Aliases)
	}
	if diff := cmp.Diff([][]string{{"staging"}, nil, {"champion"}}, got); diff != "" {
		t.Errorf("aliases by version (-want +got):\n%s", diff)
	}
	if _, err := r.ResolveModel(ctx, "churn@challenger"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted alias: %v, want ErrNotFound", err)
	}
	if err := r.SetAlias(ctx, "churn", "x", 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAlias to a missing version: %v, want ErrNotFound", err)
	}
	if err := r.SetAlias(ctx, "nope", "x", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAlias of a missing model: %v, want ErrNotFound", err)
	}
}

// Many writers racing to move one alias from the same version: exactly one
// wins, the others get ErrConflict.
func TestSwapAliasRace(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	const n = 16
	for i := 1; i <= n+1; i++ {
		registerString(t, r, "m", fmt.Sprint(i), ModelMeta{})
	}
	if err := r.SetAlias(ctx, "m", "prod", 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i] = r.SwapAlias(ctx, "m", "prod", 1, i+2) })
	}
	wg.Wait()
	winner := 0
	for i, err := range results {
		switch {
		case err == nil:
			if winner != 0 {
				t.Fatalf("two winners: versions %d and %d", winner, i+2)
			}
			winner = i + 2
		case !errors.Is(err, ErrConflict):
			t.Fatalf("loser %d: %v, want ErrConflict", i, err)
		}
	}
	if winner == 0 {
		t.Fatal("no winner")
	}
	mv, err := r.ResolveModel(ctx, "m@prod")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Version != winner {
		t.Errorf("m@prod = %d, want the winner %d", mv.Version, winner)
	}

	// Counting up with CAS retries loses no increment.
	if err := r.SetAlias(ctx, "m", "count", 1); err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 4 // 16 increments: versions 1 → 17
	for range workers {
		wg.Go(func() {
			for done := 0; done < each; {
				mv, err := r.ResolveModel(ctx, "m@count")
				if err != nil {
					t.Error(err)
					return
				}
				err = r.SwapAlias(ctx, "m", "count", mv.Version, mv.Version+1)
				if err == nil {
					done++
				} else if !errors.Is(err, ErrConflict) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if mv, err := r.ResolveModel(ctx, "m@count"); err != nil || mv.Version != 1+workers*each {
		t.Errorf("m@count = %d, %v; want %d", mv.Version, err, 1+workers*each)
	}
}

func TestRegistryBadInput(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	registerString(t, r, "churn", "v1", ModelMeta{})
	for _, name := range []string{"", "a b", "../x", "churn/2", "x/007", ".hidden", "a\x00b", "-a", strings.Repeat("a", 201)} {
		if _, err := r.RegisterModel(ctx, name, strings.NewReader("x"), ModelMeta{}); !errors.Is(err, ErrBadName) {
			t.Errorf("RegisterModel(%q) = %v, want ErrBadName", name, err)
		}
	}
	for _, spec := range []string{"", "churn/0", "churn@", "@champion", "churn@a b", "churn/-1", "ch urn", "churn@x@y"} {
		if _, err := r.ResolveModel(ctx, spec); !errors.Is(err, ErrBadName) {
			t.Errorf("ResolveModel(%q) = %v, want ErrBadName", spec, err)
		}
	}
	for _, spec := range []string{"nope", "churn/2", "churn@champion", "nope/1", "nope@x"} {
		if _, err := r.ResolveModel(ctx, spec); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResolveModel(%q) = %v, want ErrNotFound", spec, err)
		}
	}
	if _, err := r.ModelVersions(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ModelVersions(nope) = %v, want ErrNotFound", err)
	}
	if _, err := r.OpenModel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenModel(nope) = %v, want ErrNotFound", err)
	}
	if err := r.SetAlias(ctx, "churn", "bad alias", 1); !errors.Is(err, ErrBadName) {
		t.Errorf("SetAlias(bad alias) = %v, want ErrBadName", err)
	}
	if _, err := r.RegisterModel(ctx, "churn", strings.NewReader("x"), ModelMeta{Run: "0123456789abcdef0123456789abcdef"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RegisterModel with a missing run = %v, want ErrNotFound", err)
	}
	if _, err := r.RegisterModel(ctx, "churn", strings.NewReader("x"), ModelMeta{Run: "not-a-run"}); !errors.Is(err, ErrBadName) {
		t.Errorf("RegisterModel with a bad run ID = %v, want ErrBadName", err)
	}
	if _, err := r.RegisterModel(ctx, "churn", strings.NewReader("x"), ModelMeta{Metrics: map[string]float64{"loss": math.NaN()}}); err == nil {
		t.Error("RegisterModel with a NaN metric succeeded")
	}
	// A failed read of the artifact registers nothing.
	if _, err := r.RegisterModel(ctx, "churn", io.MultiReader(strings.NewReader("part"), errReader{}), ModelMeta{}); err == nil {
		t.Error("RegisterModel with a failing reader succeeded")
	}
	// None of the refusals used a version number.
	if mv := registerString(t, r, "churn", "v2", ModelMeta{}); mv.Version != 2 {
		t.Errorf("next version = %d, want 2", mv.Version)
	}

	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RegisterModel(ctx, "churn", strings.NewReader("x"), ModelMeta{}); !errors.Is(err, ErrClosed) {
		t.Errorf("RegisterModel after Close = %v, want ErrClosed", err)
	}
	if _, err := r.ResolveModel(ctx, "churn"); !errors.Is(err, ErrClosed) {
		t.Errorf("ResolveModel after Close = %v, want ErrClosed", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// setRaw writes a raw metadata value, as a bug or a bad disk might.
func setRaw(t testing.TB, r *Repository, key, val []byte) {
	t.Helper()
	if err := r.db.Update(func(txn *badger.Txn) error { return txn.Set(key, val) }); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryCorruptMetadata(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	registerString(t, r, "churn", "v1", ModelMeta{})
	registerString(t, r, "churn", "v2", ModelMeta{})
	if err := r.SetAlias(ctx, "churn", "prod", 1); err != nil {
		t.Fatal(err)
	}
	setRaw(t, r, modelVersionKey("churn", 2), []byte(`{"name":"churn","version":`))
	setRaw(t, r, aliasKey("churn", "prod"), []byte("one"))

	wantCorrupt := func(what string, err error, key []byte) {
		t.Helper()
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s = %v, want ErrCorrupt", what, err)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
			t.Errorf("%s = %v, does not name the key %q", what, err, key)
		}
	}
	_, err := r.ResolveModel(ctx, "churn/2")
	wantCorrupt("ResolveModel(churn/2)", err, modelVersionKey("churn", 2))
	_, err = r.ModelVersions(ctx, "churn")
	wantCorrupt("ModelVersions", err, modelVersionKey("churn", 2))
	_, err = r.registryRoots(ctx)
	wantCorrupt("registryRoots", err, modelVersionKey("churn", 2))
	_, err = r.ResolveModel(ctx, "churn@prod")
	wantCorrupt("ResolveModel(churn@prod)", err, aliasKey("churn", "prod"))

	// A record that decodes but is not the version its key names.
	setRaw(t, r, modelVersionKey("churn", 2), []byte(`{"name":"churn","version":1,"artifact":"`+store.Sum(nil).String()+`"}`))
	_, err = r.ResolveModel(ctx, "churn/2")
	wantCorrupt("ResolveModel(churn/2) of version 1's record", err, modelVersionKey("churn", 2))

	setRaw(t, r, modelHeadKey("churn"), []byte("-3"))
	_, err = r.RegisterModel(ctx, "churn", strings.NewReader("v3"), ModelMeta{})
	wantCorrupt("RegisterModel over a bad counter", err, modelHeadKey("churn"))

	run, err := r.StartRun(ctx, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setRaw(t, r, runKey(run.ID()), []byte("{"))
	_, err = r.RunInfo(ctx, run.ID())
	wantCorrupt("RunInfo", err, runKey(run.ID()))
	setRaw(t, r, runKey(run.ID()), []byte(`{"experiment":"default","status":"sleeping","start":"2024-01-02T03:04:05Z"}`))
	_, err = r.Runs(ctx, RunFilter{})
	wantCorrupt("Runs", err, runKey(run.ID()))
}

func TestRegistryRoots(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	a := registerString(t, r, "a", "model a", ModelMeta{}).Artifact
	b := registerString(t, r, "b", "model b", ModelMeta{}).Artifact
	registerString(t, r, "b", "model a", ModelMeta{}) // same artifact as a
	run, err := r.StartRun(ctx, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := run.LogArtifact(ctx, "plots/loss.svg", strings.NewReader("<svg/>"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := run.LogArtifact(ctx, "notes.txt", strings.NewReader("notes"))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.SetTag(ctx, "x", "y"); err != nil { // not a root
		t.Fatal(err)
	}
	got, err := r.registryRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Digest{a, b, c, d}
	slices.SortFunc(want, func(x, y store.Digest) int { return bytes.Compare(x[:], y[:]) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registryRoots (-want +got):\n%s", diff)
	}

	// The roots keep the artifacts through a store GC; an unreferenced
	// blob goes.
	orphan, err := r.st.Put(ctx, strings.NewReader("orphan"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.GC(ctx, got, store.GCOptions{Grace: -1}); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"a", "b/1", "b/2"} {
		readModel(t, r, spec)
	}
	if ok, err := r.st.Has(ctx, orphan); err != nil || ok {
		t.Errorf("orphan after GC: Has = %v, %v; want false", ok, err)
	}
}
