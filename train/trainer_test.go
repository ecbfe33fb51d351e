package train

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/tensor"
)

// SplitStandardized reads testdata/FILE (label "target", a class), splits
// it 75/25 (stratified, seed 0) and standardizes both parts with the
// training part's statistics. Exported for the external tests.
func SplitStandardized(t testing.TB, file string) (tr, te *Dataset) {
	t.Helper()
	ctx := context.Background()
	d, err := ReadDataset(ctx, pipeline.CSV("testdata/"+file, pipeline.CSVOptions{}), DatasetOptions{Label: "target", Classification: true})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err = d.StratifiedSplit(0.25, 0)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := FitStandardizer(tr)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = sc.Transform(tr); err != nil {
		t.Fatal(err)
	}
	if te, err = sc.Transform(te); err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func digits(t testing.TB) (tr, te *Dataset) { return SplitStandardized(t, "digits.csv.gz") }

func weights(t testing.TB, m Model) [][]float32 {
	t.Helper()
	var out [][]float32
	for _, p := range m.Params() {
		v, err := p.Value.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func sameBits(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

// fitDigits trains a dropout MLP with a per-step cosine schedule: every
// piece of state a resume has to restore is exercised.
func fitDigits(t *testing.T, tr *Dataset, epochs int, seed uint64, ckpt, resume string) (*MLP, *History) {
	t.Helper()
	m, err := NewMLP(tr, Classification, MLPOptions{Hidden: []int{32}, Dropout: 0.2, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	opt, err := NewAdam(m.Params(), AdamOptions{LR: 2e-3})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := NewTrainer(TrainerOptions{
		Epochs: epochs, BatchSize: 64, Seed: 7, Optimizer: opt,
		Schedule: CosineLR{Base: 2e-3, Min: 1e-4, Warmup: 5, Period: 40}, ScheduleUnit: PerStep,
		ClipNorm:   5,
		Checkpoint: CheckpointOptions{Dir: ckpt, Keep: 2},
		ResumeFrom: resume,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tn.Fit(context.Background(), m, tr)
	if err != nil {
		t.Fatal(err)
	}
	return m, h
}

func TestResumeIsExact(t *testing.T) {
	tr, _ := digits(t)
	full, hFull := fitDigits(t, tr, 4, 1, "", "")
	dir := t.TempDir()
	fitDigits(t, tr, 2, 1, dir, "")
	names, err := Checkpoints(dir)
	if err != nil || !slices.Equal(names, []string{"epoch-0001", "epoch-0002"}) {
		t.Fatalf("checkpoints %v, %v (want the last 2)", names, err)
	}
	// A model built with another seed: everything must come from the
	// checkpoint.
	resumed, hRes := fitDigits(t, tr, 4, 99, "", filepath.Join(dir, "epoch-0002"))
	if !sameBits(weights(t, full), weights(t, resumed)) {
		t.Fatal("resumed run differs from the uninterrupted one")
	}
	if len(hRes.Epochs) != 4 || hRes.Epochs[3].Metrics["loss"] != hFull.Epochs[3].Metrics["loss"] {
		t.Fatalf("history after resume: %+v vs %+v", hRes.Epochs, hFull.Epochs)
	}
}

func TestSameWeightsWithGOMAXPROCS(t *testing.T) {
	tr, _ := digits(t)
	run := func(procs int) [][]float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		m, err := NewMLP(tr, Classification, MLPOptions{Hidden: []int{256, 128}, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		tn, _ := NewTrainer(TrainerOptions{Epochs: 2, BatchSize: 256, Seed: 3})
		if _, err := tn.Fit(context.Background(), m, tr); err != nil {
			t.Fatal(err)
		}
		return weights(t, m)
	}
	if !sameBits(run(1), run(2)) {
		t.Fatal("weights differ between GOMAXPROCS 1 and 2")
	}
}

// scripted is a model whose losses follow a script, to test the trainer's
// bookkeeping.
type scripted struct {
	p        *Var
	train    []float64 // training loss per epoch
	val      []float64 // validation loss per epoch
	epoch    int
	training bool
	lastRows int
}

func (s *scripted) Params() []*Var            { return []*Var{s.p} }
func (s *scripted) SetTraining(training bool) { s.training = training }
func (s *scripted) Forward(b *Batch) *Var {
	out, _ := tensor.Zeros(len(b.Rows), 2)
	return Const(out)
}
func (s *scripted) Loss(out *Var, b *Batch) *Var {
	v := s.val[min(s.epoch, len(s.val)-1)]
	if s.training {
		v = s.train[min(s.epoch, len(s.train)-1)]
		// Mark the weights with the epoch, for RestoreBest.
		_ = tensor.Fill(s.p.Value, float64(s.epoch))
	} else {
		s.epoch++ // validation ends an epoch
	}
	t, _ := tensor.Full(float32(v))
	t, _ = t.Reshape()
	return Const(t)
}

func tinyDataset(t *testing.T, n int) *Dataset {
	x, _ := tensor.Zeros(n, 1)
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % 2)
	}
	return &Dataset{Features: []string{"x"}, X: x, Labels: labels, ClassNames: []string{"0", "1"}, Label: "y"}
}

func TestEarlyStoppingRestoresBest(t *testing.T) {
	p, _ := tensor.Zeros(1)
	m := &scripted{p: NewParam("p", p), train: []float64{1}, val: []float64{1.0, 0.8, 0.85, 0.79, 0.9, 0.95}}
	tn, err := NewTrainer(TrainerOptions{
		Epochs: 10, BatchSize: 4, Validation: tinyDataset(t, 4),
		EarlyStopping: &EarlyStopping{Patience: 2, MinDelta: 0.02, RestoreBest: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tn.Fit(context.Background(), m, tinyDataset(t, 8))
	if err != nil {
		t.Fatal(err)
	}
	// 0.79 is not better than 0.8 by more than 0.02: epochs 2 and 3 are bad.
	if len(h.Epochs) != 4 || h.BestEpoch != 1 || h.Stopped != "early stopping" {
		t.Fatalf("ran %d epochs, best %d, stopped %q", len(h.Epochs), h.BestEpoch, h.Stopped)
	}
	if v, _ := m.p.Value.At(0); v != 1 {
		t.Fatalf("weights %v, want those of epoch 1", v)
	}
}

func TestBestOnlyCheckpoints(t *testing.T) {
	p, _ := tensor.Zeros(1)
	m := &scripted{p: NewParam("p", p), train: []float64{1}, val: []float64{1.0, 0.8, 0.85, 0.7, 0.9}}
	dir := t.TempDir()
	tn, _ := NewTrainer(TrainerOptions{Epochs: 5, BatchSize: 4, Validation: tinyDataset(t, 4), Checkpoint: CheckpointOptions{Dir: dir, BestOnly: true, Keep: 10}})
	if _, err := tn.Fit(context.Background(), m, tinyDataset(t, 8)); err != nil {
		t.Fatal(err)
	}
	names, _ := Checkpoints(dir)
	if !slices.Equal(names, []string{"epoch-0001", "epoch-0002", "epoch-0004"}) {
		t.Fatalf("checkpoints %v", names)
	}
}

func TestStopsOnNaN(t *testing.T) {
	p, _ := tensor.Zeros(1)
	m := &scripted{p: NewParam("p", p), train: []float64{0.5, math.NaN()}, val: []float64{1}}
	tn, _ := NewTrainer(TrainerOptions{Epochs: 5, BatchSize: 4, Validation: tinyDataset(t, 4)})
	h, err := tn.Fit(context.Background(), m, tinyDataset(t, 8))
	if !errors.Is(err, ErrNonFinite) || len(h.Epochs) != 1 {
		t.Fatalf("err %v after %d epochs, want ErrNonFinite after 1", err, len(h.Epochs))
	}
}

func TestFitCancel(t *testing.T) {
	tr, _ := digits(t)
	m, _ := NewMLP(tr, Classification, MLPOptions{Hidden: []int{8}})
	ctx, cancel := context.WithCancel(context.Background())
	tn, _ := NewTrainer(TrainerOptions{Epochs: 3, Progress: func(p Progress) {
		if p.Step == 5 {
			cancel()
		}
	}})
	h, err := tn.Fit(ctx, m, tr)
	if !errors.Is(err, context.Canceled) || len(h.Epochs) != 0 {
		t.Fatalf("err %v, %d epochs", err, len(h.Epochs))
	}
}

type memTracker struct {
	params  map[string]string
	metrics []map[string]float64
}

func (m *memTracker) LogParams(_ context.Context, p map[string]string) error {
	m.params = p
	return nil
}
func (m *memTracker) LogMetrics(_ context.Context, step int64, v map[string]float64) error {
	if int(step) != len(m.metrics) {
		return errors.New("steps out of order")
	}
	m.metrics = append(m.metrics, v)
	return nil
}

func TestSaveLoadPredict(t *testing.T) {
	tr, te := digits(t)
	m, _ := NewMLP(tr, Classification, MLPOptions{Hidden: []int{16}, Seed: 2})
	tk := &memTracker{}
	tn, _ := NewTrainer(TrainerOptions{Epochs: 2, Validation: te, Tracker: tk})
	if _, err := tn.Fit(context.Background(), m, tr); err != nil {
		t.Fatal(err)
	}
	if tk.params["epochs"] != "2" || len(tk.metrics) != 2 || tk.metrics[1]["val_accuracy"] < 0.5 {
		t.Fatalf("tracker got %v, %v", tk.params, tk.metrics)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadMLP(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	read, err := ReadMLP(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var first *Batch
	for b := range te.Batches(10, BatchOptions{}) {
		first = b
		break
	}
	want, err := m.Predict(first)
	if err != nil {
		t.Fatal(err)
	}
	wv, _ := want.Float32s()
	for _, mm := range []*MLP{loaded, read} {
		got, err := mm.Predict(first)
		if err != nil {
			t.Fatal(err)
		}
		gv, _ := got.Float32s()
		if !slices.Equal(gv, wv) {
			t.Fatal("a saved and loaded model predicts differently")
		}
	}
	row, _ := first.X.Slice(0, 0, 1)
	rv, _ := row.Float32s()
	p, err := loaded.PredictRow(rv, nil)
	if err != nil || !slices.Equal(p, wv[:10]) {
		t.Fatalf("PredictRow %v, %v; want %v", p, err, wv[:10])
	}
	// Corrupt or mismatched files are errors, not panics.
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"hidden":[1000000000],"outputs":10,"features":["a"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMLP(dir); err == nil {
		t.Fatal("a config of a billion units loaded")
	}
}

// An MLP regressor with an embedded categorical column learns a per-level
// offset that no numeric feature carries.
func TestMLPCategorical(t *testing.T) {
	const n = 512
	x := make([]float32, n)
	y := make([]float32, n)
	codes := make([]int32, n)
	offset := []float32{-2, 0, 3}
	for i := range n {
		x[i] = float32(i%17)/8 - 1
		codes[i] = int32(i % 3)
		y[i] = 0.5*x[i] + offset[codes[i]]
	}
	xt, _ := tensor.FromFloat32s(x, n, 1)
	yt, _ := tensor.FromFloat32s(y, n)
	d := &Dataset{Features: []string{"x"}, X: xt, Categorical: []string{"c"}, Codes: [][]int32{codes}, Cardinality: []int{3}, Label: "y", Y: yt}
	m, err := NewMLP(d, Regression, MLPOptions{Hidden: []int{16}, Seed: 4, EmbeddingDim: 2})
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := NewAdam(m.Params(), AdamOptions{LR: 0.02})
	tn, _ := NewTrainer(TrainerOptions{Epochs: 30, BatchSize: 32, Optimizer: opt, Validation: d})
	h, err := tn.Fit(context.Background(), m, d)
	if err != nil {
		t.Fatal(err)
	}
	last := h.Epochs[len(h.Epochs)-1].Metrics
	if last["val_rmse"] > 0.15 || last["val_r2"] < 0.99 {
		t.Fatalf("after training: %v", last)
	}
	p, err := m.PredictRow([]float32{0.5}, []int32{2})
	if err != nil || math.Abs(float64(p[0])-3.25) > 0.3 {
		t.Fatalf("PredictRow = %v, %v; want about 3.25", p, err)
	}
	if _, err := m.PredictRow([]float32{0.5}, []int32{3}); err == nil {
		t.Fatal("an unknown code was accepted")
	}
}
