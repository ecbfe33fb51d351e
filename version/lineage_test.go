package version

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// commitContent commits one file holding content on dataset's main branch.
func commitContent(t testing.TB, r *Repository, dataset, content string) Commit {
	t.Helper()
	ctx := context.Background()
	d, err := r.st.Put(ctx, strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitEntries(ctx, dataset, []Entry{{Path: "data.csv", Digest: d, Size: int64(len(content)), Mode: 0o644}}, CommitOptions{Message: content})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// modelIDs names model versions "name/version" for comparisons.
func modelIDs(mvs []ModelVersion) []string {
	var out []string
	for _, mv := range mvs {
		out = append(out, fmt.Sprintf("%s/%d", mv.Name, mv.Version))
	}
	return out
}

func TestLineageRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	f1 := commitContent(t, r, "flights", "a,b\n1,2\n")
	if err := r.Tag(ctx, "flights", "v1", f1.ID); err != nil {
		t.Fatal(err)
	}
	f2 := commitContent(t, r, "flights", "a,b\n1,2\n3,4\n")
	w1 := commitContent(t, r, "weather", "t\n20\n")
	commitContent(t, r, "unused", "x\n")

	run := startRun(t, r, RunOptions{Experiment: "delay", Datasets: []string{"weather"}, Params: map[string]string{"depth": "4"}})
	if err := run.LogMetric(ctx, "auc", 9, 0.8); err != nil {
		t.Fatal(err)
	}
	if err := run.End(ctx, RunFinished); err != nil {
		t.Fatal(err)
	}
	d1 := registerString(t, r, "delay", "delay v1", ModelMeta{Datasets: []string{"flights@v1"}, Run: run.ID(), CodeRevision: "c0ffee"})
	d2 := registerString(t, r, "delay", "delay v2", ModelMeta{Datasets: []string{"flights", "flights@main"}}) // one commit twice
	o1 := registerString(t, r, "other", "other v1", ModelMeta{Datasets: []string{"flights@main", "flights@main~1"}})
	registerString(t, r, "plain", "no lineage", ModelMeta{})
	if err := r.SetAlias(ctx, "delay", "champion", 1); err != nil {
		t.Fatal(err)
	}

	wantRefs := map[string][]DatasetRef{
		"delay/1": {{"flights", f1.ID}, {"weather", w1.ID}}, // its own, then its run's
		"delay/2": {{"flights", f2.ID}},
		"other/1": {{"flights", f2.ID}, {"flights", f1.ID}},
	}
	for spec, mv := range map[string]ModelVersion{"delay/1": d1, "delay/2": d2, "other/1": o1} {
		if diff := cmp.Diff(wantRefs[spec], mv.Datasets); diff != "" {
			t.Errorf("%s: Datasets (-want +got):\n%s", spec, diff)
		}
	}

	// Model → datasets and run, across a reopen.
	dir := r.Dir()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l, err := r.ModelLineage(ctx, "delay@champion")
	if err != nil {
		t.Fatal(err)
	}
	runInfo, err := r.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	d1.Aliases = []string{"champion"}
	want := Lineage{Model: d1, Datasets: []Commit{f1, w1}, Run: &runInfo}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("ModelLineage (-want +got):\n%s", diff)
	}
	if l.Run.Params["depth"] != "4" || l.Run.Latest["auc"].Value != 0.8 {
		t.Errorf("lineage run: params %v latest %v", l.Run.Params, l.Run.Latest)
	}
	l, err = r.ModelLineage(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if l.Datasets != nil || l.Run != nil || l.Model.Name != "plain" {
		t.Errorf("lineage of a model without any: %+v", l)
	}

	// Dataset → models.
	for _, tc := range []struct {
		spec string
		want []string
	}{
		{"flights@v1", []string{"delay/1", "other/1"}},
		{"flights@main~1", []string{"delay/1", "other/1"}},
		{"flights@main", []string{"delay/2", "other/1"}},
		{"flights@" + f2.ID.String(), []string{"delay/2", "other/1"}},
		{"flights", []string{"delay/1", "delay/2", "other/1"}}, // any commit, each version once
		{"weather", []string{"delay/1"}},
		{"weather@main", []string{"delay/1"}},
		{"unused", nil},
	} {
		got, err := r.ModelsTrainedOn(ctx, tc.spec)
		if err != nil {
			t.Fatalf("ModelsTrainedOn(%q): %v", tc.spec, err)
		}
		if diff := cmp.Diff(tc.want, modelIDs(got)); diff != "" {
			t.Errorf("ModelsTrainedOn(%q) (-want +got):\n%s", tc.spec, diff)
		}
		for _, mv := range got {
			if mv.Name == "delay" && mv.Version == 1 {
				if diff := cmp.Diff(d1, mv); diff != "" {
					t.Errorf("ModelsTrainedOn(%q): delay/1 (-want +got):\n%s", tc.spec, diff)
				}
			}
		}
	}
	for spec, wantErr := range map[string]error{
		"nope":         ErrNotFound,
		"flights@nope": ErrNotFound,
		"flights@v1~5": ErrNotFound,
		"bad name":     ErrBadName,
		"../flights":   ErrBadName,
	} {
		if _, err := r.ModelsTrainedOn(ctx, spec); !errors.Is(err, wantErr) {
			t.Errorf("ModelsTrainedOn(%q) = %v, want %v", spec, err, wantErr)
		}
	}
}

// Unknown datasets are refused before anything is stored.
func TestLineageUnknownDatasets(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	commitContent(t, r, "flights", "x\n")
	if _, err := r.RegisterModel(ctx, "m", strings.NewReader("x"), ModelMeta{Datasets: []string{"flights@v9"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RegisterModel on a missing tag = %v, want ErrNotFound", err)
	}
	if _, err := r.RegisterModel(ctx, "m", strings.NewReader("x"), ModelMeta{Datasets: []string{"flights@@"}}); !errors.Is(err, ErrBadName) {
		t.Errorf("RegisterModel on a bad spec = %v, want ErrBadName", err)
	}
	if _, err := r.StartRun(ctx, RunOptions{Datasets: []string{"weather"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("StartRun on a missing dataset = %v, want ErrNotFound", err)
	}
	if models, err := r.Models(ctx); err != nil || len(models) != 0 {
		t.Errorf("Models after refusals = %v, %v; want none", models, err)
	}
	if runs, err := r.Runs(ctx, RunFilter{}); err != nil || len(runs) != 0 {
		t.Errorf("Runs after refusals = %v, %v; want none", runs, err)
	}
	if mv := registerString(t, r, "m", "x", ModelMeta{Datasets: []string{"flights"}}); mv.Version != 1 {
		t.Errorf("first version = %d", mv.Version)
	}
}
