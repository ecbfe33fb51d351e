package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"testing"

	"github.com/kilnml/kiln/train"
	"github.com/kilnml/kiln/train/metrics"
	"github.com/kilnml/kiln/version"
)

var update = flag.Bool("update", false, "rewrite testdata/experiments_golden.json")

// The version package's runs are the trainer's tracker.
var _ train.Tracker = (*version.Run)(nil)

func logisticMetrics(t *testing.T, tr, te *train.Dataset) map[string]float64 {
	m, err := train.FitLogistic(context.Background(), tr.X, tr.Labels, train.LogisticOptions{MaxIter: 1000})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.PredictProba(te.X)
	if err != nil {
		t.Fatal(err)
	}
	proba, _ := p.Float64s()
	pred, err := m.Predict(te.X)
	if err != nil {
		t.Fatal(err)
	}
	k := len(m.Classes)
	out := map[string]float64{}
	out["accuracy"], _ = metrics.Accuracy(te.Labels, pred)
	out["log_loss"], _ = metrics.LogLoss(te.Labels, proba, k)
	return out
}

// TestExperiments is a reproducible experiment: logistic regression and an
// MLP on breast_cancer and digits with fixed splits and seeds, asserting
// the test metrics recorded in testdata/experiments_golden.json (rewrite
// with -update). It also records the MLP runs through version's runs and
// registers a model.
func TestExperiments(t *testing.T) {
	ctx := context.Background()
	repo, err := version.Open(ctx, t.TempDir(), version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	got := map[string]map[string]float64{}
	for _, ds := range []string{"breast_cancer.csv", "digits.csv.gz"} {
		tr, te := train.SplitStandardized(t, ds)
		got["logistic/"+ds] = logisticMetrics(t, tr, te)

		hidden := []int{128, 64}
		m, err := train.NewMLP(tr, train.Classification, train.MLPOptions{Hidden: hidden, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		run, err := repo.StartRun(ctx, version.RunOptions{Experiment: "mlp-" + ds[:6]})
		if err != nil {
			t.Fatal(err)
		}
		tn, err := train.NewTrainer(train.TrainerOptions{Epochs: 20, BatchSize: 64, Seed: 1, Tracker: run})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tn.Fit(ctx, m, tr); err != nil {
			t.Fatal(err)
		}
		ev, err := train.Evaluate(ctx, m, te, 0)
		if err != nil {
			t.Fatal(err)
		}
		got["mlp/"+ds] = ev
		if err := run.End(ctx, version.RunFinished); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		mv, err := repo.RegisterModel(ctx, "mlp-"+ds[:6], &buf, version.ModelMeta{Framework: "kiln/train", Run: run.ID(), Metrics: ev})
		if err != nil {
			t.Fatal(err)
		}
		info, err := repo.RunInfo(ctx, run.ID())
		if err != nil || info.Params["epochs"] != "20" || info.Latest["loss"].Step != 19 {
			t.Fatalf("run %+v, %v", info, err)
		}
		rc, err := repo.OpenModel(ctx, "mlp-"+ds[:6])
		if err != nil {
			t.Fatal(err)
		}
		back, err := train.ReadMLP(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ev2, err := train.Evaluate(ctx, back, te, 0); err != nil || ev2["accuracy"] != ev["accuracy"] {
			t.Fatalf("registered model %v evaluates to %v, %v; trained %v", mv.Version, ev2, err, ev)
		}
	}
	const golden = "testdata/experiments_golden.json"
	if *update {
		js, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(golden, append(js, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]map[string]float64
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	for exp, w := range want {
		for k, v := range w {
			g, ok := got[exp][k]
			if !ok || math.Abs(g-v) > 1e-6*math.Max(1, math.Abs(v)) {
				t.Errorf("%s %s = %v, golden %v", exp, k, g, v)
			}
		}
		t.Logf("%s: %v", exp, got[exp])
	}
	if len(want) != 4 {
		t.Fatalf("golden file has %d experiments, want 4", len(want))
	}
}
