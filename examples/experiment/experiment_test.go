package experiment_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/train"
	"github.com/kilnml/kiln/version"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json with this run's record")

const (
	dataFile   = "../../testdata/breast_cancer.csv"
	goldenFile = "testdata/golden.json"

	dataset    = "breast_cancer"
	experiment = "breast-cancer-mlp"
	author     = "kiln-experiment"

	// tolerance bounds |got-want| / max(1, |want|) for every number of the
	// record: relative for large numbers, absolute below 1. It absorbs the
	// rounding differences between machines (kernels with and without
	// FMA, other compilers) and nothing else.
	tolerance = 1e-6
)

// config is the experiment: everything that decides its result.
var config = struct {
	TestFraction float64
	SplitSeed    uint64
	Hidden       []int
	InitSeed     uint64
	Epochs       int
	BatchSize    int
	ShuffleSeed  uint64
}{
	TestFraction: 0.25,
	SplitSeed:    7,
	Hidden:       []int{32, 16},
	InitSeed:     1,
	Epochs:       25,
	BatchSize:    32,
	ShuffleSeed:  2,
}

// commitTime is the time of the dataset's commit: fixed, so that the
// commit's ID depends on the data (and the fixed author and message) only.
var commitTime = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// Record is what the experiment asserts: its run, as read back from the
// repository.
type Record struct {
	Experiment string        `json:"experiment"`
	Status     string        `json:"status"`
	Dataset    DatasetRecord `json:"dataset"`
	// Params are the run's parameters: the experiment's own and the
	// trainer's options.
	Params map[string]string `json:"params"`
	// Metrics are the last value of each metric: the training loss of the
	// last epoch and the test metrics (test_accuracy, test_log_loss,
	// test_loss, test_roc_auc).
	Metrics map[string]float64 `json:"metrics"`
	// Loss is the training loss of every epoch.
	Loss []float64 `json:"loss"`
}

// DatasetRecord is the data version the run read.
type DatasetRecord struct {
	Name   string `json:"name"`   // the dataset, as the run recorded it
	Spec   string `json:"spec"`   // the version the run asked for
	Commit string `json:"commit"` // the commit the run resolved it to
	Tree   string `json:"tree"`   // the digest of the commit's tree
	Table  string `json:"table"`  // the digest of the Parquet entry
	Rows   int64  `json:"rows"`
}

// TestExperiment runs the experiment and compares its record with
// testdata/golden.json (see the package documentation); -update rewrites
// the golden file instead.
func TestExperiment(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "repo")
	runID, spec := runExperiment(t, ctx, dir)

	// Read the run back from a fresh opening of the repository: what is
	// asserted is what was stored.
	got := readRecord(t, ctx, dir, runID, spec)
	js, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	t.Logf("record:\n%s", js)
	if *update {
		if err := os.WriteFile(goldenFile, js, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", goldenFile)
		return
	}
	data, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	var want Record
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s: %v", goldenFile, err)
	}
	for _, d := range compare(got, want) {
		t.Error(d)
	}
}

// runExperiment commits the dataset to a new repository in dir, trains and
// evaluates the model in a tracked run, and closes the repository. It
// returns the run's ID and the dataset spec the run read.
func runExperiment(t *testing.T, ctx context.Context, dir string) (runID, spec string) {
	t.Helper()
	repo, err := version.Open(ctx, dir, version.Options{Author: author})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := repo.Close(); err != nil {
			t.Error(err)
		}
	}()

	// 1. The data version.
	src := pipeline.CSV(dataFile, pipeline.CSVOptions{})
	c, err := repo.CommitTable(ctx, dataset, src, version.TableOptions{CommitOptions: version.CommitOptions{
		Message: "Wisconsin breast cancer, from testdata/breast_cancer.csv",
		Author:  author,
		Time:    commitTime,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(ctx, dataset, "v1", c.ID); err != nil {
		t.Fatal(err)
	}
	spec = dataset + "@v1"

	// 2. The run, with the experiment's parameters.
	run, err := repo.StartRun(ctx, version.RunOptions{
		Experiment: experiment,
		Name:       "mlp " + joinInts(config.Hidden),
		Datasets:   []string{spec},
		Params: map[string]string{
			"dataset":       spec,
			"label":         "target",
			"split":         "stratified",
			"test_fraction": strconv.FormatFloat(config.TestFraction, 'g', -1, 64),
			"split_seed":    strconv.FormatUint(config.SplitSeed, 10),
			"standardize":   "true",
			"model":         "mlp",
			"hidden":        joinInts(config.Hidden),
			"init_seed":     strconv.FormatUint(config.InitSeed, 10),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	status := version.RunFailed
	defer func() {
		if err := run.End(ctx, status); err != nil {
			t.Error(err)
		}
	}()

	// 3. The data, read back from the version the run names, split and
	// standardized with the training rows' statistics.
	vsrc, err := repo.Source(ctx, spec, version.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := train.ReadDataset(ctx, vsrc, train.DatasetOptions{Label: "target", Classification: true})
	if err != nil {
		t.Fatal(err)
	}
	tr, te, err := all.StratifiedSplit(config.TestFraction, config.SplitSeed)
	if err != nil {
		t.Fatal(err)
	}
	std, err := train.FitStandardizer(tr)
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = std.Transform(tr); err != nil {
		t.Fatal(err)
	}
	if te, err = std.Transform(te); err != nil {
		t.Fatal(err)
	}
	if err := run.LogParams(ctx, map[string]string{
		"train_rows": strconv.Itoa(tr.Len()),
		"test_rows":  strconv.Itoa(te.Len()),
		"features":   strconv.Itoa(len(tr.Features)),
	}); err != nil {
		t.Fatal(err)
	}

	// 4. Training, tracked by the run.
	m, err := train.NewMLP(tr, train.Classification, train.MLPOptions{Hidden: config.Hidden, Seed: config.InitSeed})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := train.NewTrainer(train.TrainerOptions{
		Epochs:    config.Epochs,
		BatchSize: config.BatchSize,
		Seed:      config.ShuffleSeed,
		Tracker:   run,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.Fit(ctx, m, tr); err != nil {
		t.Fatal(err)
	}

	// 5. Evaluation on the held-out rows.
	ev, err := train.Evaluate(ctx, m, te, 0)
	if err != nil {
		t.Fatal(err)
	}
	test := make(map[string]float64, len(ev))
	for k, v := range ev {
		test["test_"+k] = v
	}
	if err := run.LogMetrics(ctx, int64(config.Epochs), test); err != nil {
		t.Fatal(err)
	}
	status = version.RunFinished
	return run.ID(), spec
}

// readRecord opens the repository in dir and reads the record of run id.
func readRecord(t *testing.T, ctx context.Context, dir, id, spec string) Record {
	t.Helper()
	repo, err := version.Open(ctx, dir, version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	info, err := repo.RunInfo(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Datasets) != 1 {
		t.Fatalf("run %s read %d datasets, want 1", id, len(info.Datasets))
	}
	ref := info.Datasets[0]
	c, err := repo.ReadCommit(ctx, ref.Commit)
	if err != nil {
		t.Fatal(err)
	}
	if head, err := repo.Resolve(ctx, spec); err != nil || head.ID != ref.Commit {
		t.Fatalf("%s resolves to %v (%v); the run read %v", spec, head.ID, err, ref.Commit)
	}
	entries, err := repo.Tree(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Table == nil {
		t.Fatalf("commit %v holds %d entries, want one table", c.ID, len(entries))
	}
	rec := Record{
		Experiment: info.Experiment,
		Status:     string(info.Status),
		Dataset: DatasetRecord{
			Name:   ref.Dataset,
			Spec:   spec,
			Commit: ref.Commit.String(),
			Tree:   c.Tree.String(),
			Table:  entries[0].Digest.String(),
			Rows:   entries[0].Table.Rows,
		},
		Params:  info.Params,
		Metrics: make(map[string]float64, len(info.Latest)),
	}
	for k, p := range info.Latest {
		rec.Metrics[k] = p.Value
	}
	loss, err := repo.MetricHistory(ctx, id, "loss")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range loss {
		if p.Step != int64(i) {
			t.Fatalf("loss point %d is of step %d", i, p.Step)
		}
		rec.Loss = append(rec.Loss, p.Value)
	}
	return rec
}

// compare returns the differences between got and want: strings and
// digests must be equal, numbers within tolerance.
func compare(got, want Record) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if got.Experiment != want.Experiment || got.Status != want.Status {
		add("run: experiment %q, status %q; golden %q, %q", got.Experiment, got.Status, want.Experiment, want.Status)
	}
	if got.Dataset != want.Dataset {
		add("dataset: %+v; golden %+v", got.Dataset, want.Dataset)
	}
	for _, k := range union(got.Params, want.Params) {
		g, gok := got.Params[k]
		w, wok := want.Params[k]
		if g != w || gok != wok {
			add("param %s: %q (present %v); golden %q (present %v)", k, g, gok, w, wok)
		}
	}
	for _, k := range union(got.Metrics, want.Metrics) {
		g, gok := got.Metrics[k]
		w, wok := want.Metrics[k]
		if !gok || !wok || !near(g, w) {
			add("metric %s: %v (present %v); golden %v (present %v)", k, g, gok, w, wok)
		}
	}
	if len(got.Loss) != len(want.Loss) {
		add("loss: %d epochs; golden %d", len(got.Loss), len(want.Loss))
	} else {
		for i := range got.Loss {
			if !near(got.Loss[i], want.Loss[i]) {
				add("loss of epoch %d: %v; golden %v", i, got.Loss[i], want.Loss[i])
			}
		}
	}
	return diffs
}

func near(got, want float64) bool {
	return math.Abs(got-want) <= tolerance*math.Max(1, math.Abs(want))
}

func union[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
