package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kilnml/kiln/examples/internal/story"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	"github.com/kilnml/kiln/version"
)

func TestQuickstart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := run(ctx, "../../testdata/flights-20k.csv", dir, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{"20000 passed validation", "registered flight_delay/1", "report.html"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if len(res.Steps) != 10 {
		t.Errorf("%d steps, want 10", len(res.Steps))
	}
	if fi, err := os.Stat(filepath.Join(dir, "report.html")); err != nil || fi.Size() == 0 {
		t.Errorf("report.html: %v", err)
	}
	m := res.Metrics
	if m["test_rows"] < 1000 || m["train_rows"] < 10000 {
		t.Errorf("rows: %v", m)
	}
	if acc, base := m["accuracy"], m["majority_accuracy"]; acc < base-0.02 || acc > 1 {
		t.Errorf("accuracy %v, majority %v", acc, base)
	}
	if auc := m["roc_auc"]; auc < 0.55 || auc > 1 {
		t.Errorf("roc_auc %v", auc)
	}
	if m["drifted_columns"] < 2 {
		t.Errorf("the storm drifted %v columns", m["drifted_columns"])
	}

	// The registry: flight_delay@champion, with its lineage.
	repo, err := version.Open(ctx, res.Repo, version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	mv, err := repo.ResolveModel(ctx, story.ModelName+"@champion")
	if err != nil {
		t.Fatal(err)
	}
	if mv.Meta.Run == "" || mv.Meta.Metrics["roc_auc"] == 0 || !slices.Contains(mv.Aliases, "champion") {
		t.Errorf("model version %+v", mv)
	}
	head, err := repo.Resolve(ctx, "flights")
	if err != nil {
		t.Fatal(err)
	}
	if len(mv.Datasets) == 0 || mv.Datasets[0].Commit != head.ID {
		t.Errorf("datasets %+v, want the flights commit %s first", mv.Datasets, head.ID)
	}
	info, err := repo.RunInfo(ctx, mv.Meta.Run)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != version.RunFinished {
		t.Errorf("run status %v", info.Status)
	}

	// Serving: load the champion and predict from the Badger store.
	model, err := story.LoadModel(ctx, repo, story.ModelName+"@champion")
	if err != nil {
		t.Fatal(err)
	}
	st, err := badgerstore.Open(res.Online, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := model.Predict(ctx, st, story.Request{Origin: "ATL", Destination: "ORD", Distance: 606, Time: time.Date(2001, 1, 2, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Model != "flight_delay/1" || !(p.Probability > 0 && p.Probability < 1) || len(p.Inputs) != len(model.InputNames()) {
		t.Errorf("prediction %+v", p)
	}
	if p.Inputs["origin_departures"] <= 0 || p.Inputs["distance"] != 606 || p.Inputs["hour"] != 12 {
		t.Errorf("inputs %v", p.Inputs)
	}
	if ref := model.Reference(); ref == nil || ref.Rows != int64(m["train_rows"]) || len(ref.Columns) != len(model.InputNames()) {
		t.Errorf("reference profile %+v", ref)
	}
}
