package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/train"
)

// runLogistic is the logistic suite: fitting a logistic regression with
// L-BFGS, Kiln (train.FitLogistic) against scikit-learn's
// LogisticRegression (peers/logistic.py), on breast_cancer (binary, the
// JSON result) and digits (10 classes, a readable line). Each data set is
// split 75/25 with Dataset.StratifiedSplit and both parts are written to CSV
// files in a temporary folder, so that both sides train and test on the
// same rows. Both standardize with the training set's statistics (not
// timed) and fit with at most 1000 iterations; only the fit is timed. Speeds
// are fits per second of the median fit.
func runLogistic(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("logistic", flag.ContinueOnError)
	runs := fs.Int("runs", 5, "timed `runs` (fits) of each side; the median counts")
	seed := fs.Uint64("seed", 42, "`seed` of the stratified split")
	python := fs.String("python", "/usr/bin/python3", "`python3` with scikit-learn (Debian python3-sklearn)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *runs < 1 {
		return fmt.Errorf("-runs must be at least 1, not %d", *runs)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kiln-bench-logistic-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var first logisticOutcome
	for i, name := range []string{"breast_cancer.csv", "digits.csv.gz"} {
		o, err := logisticCase(ctx, root, tmp, name, *seed, *runs, *python)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if i == 0 {
			first = o
		}
	}
	return finish(result{Suite: "logistic", Kiln: first.kiln, Peer: first.peer, PeerName: "scikit-learn", Unit: "fits/s",
		Extra: []extra{
			{"kiln_accuracy", 100 * first.kilnAcc},
			{"peer_accuracy", 100 * first.peerAcc},
			{"kiln_iterations", float64(first.kilnIter)},
			{"peer_iterations", float64(first.peerIter)},
		}}, first.t)
}

// logisticOutcome is what one data set of the logistic suite measured.
type logisticOutcome struct {
	t                  timings
	kiln, peer         float64 // fits/s of the median fit
	kilnAcc, peerAcc   float64 // test accuracy, fraction
	kilnIter, peerIter int
}

// logisticPeerResult is logistic.py's output line.
type logisticPeerResult struct {
	FitSeconds []float64 `json:"fit_seconds"`
	Accuracy   float64   `json:"accuracy"`
	LogLoss    float64   `json:"log_loss"`
	NIter      int       `json:"n_iter"`
	Classes    int       `json:"classes"`
	TrainRows  int       `json:"train_rows"`
	TestRows   int       `json:"test_rows"`
	Features   int       `json:"features"`
	Sklearn    string    `json:"sklearn"`
}

// logisticCase runs one data set of the logistic suite and prints its lines.
func logisticCase(ctx context.Context, root, tmp, name string, seed uint64, runs int, python string) (logisticOutcome, error) {
	var o logisticOutcome
	trainSet, testSet, trainCSV, testCSV, err := splitToCSV(ctx, filepath.Join(root, "train", "testdata", name), "target", seed, tmp)
	if err != nil {
		return o, err
	}
	sc, err := train.FitStandardizer(trainSet)
	if err != nil {
		return o, err
	}
	trainStd, err := sc.Transform(trainSet)
	if err != nil {
		return o, err
	}
	testStd, err := sc.Transform(testSet)
	if err != nil {
		return o, err
	}
	fmt.Printf("%s: %d train rows, %d test rows, %d features, %d classes\n",
		name, trainSet.Len(), testSet.Len(), len(trainSet.Features), trainSet.NumClasses())

	var model *train.LogisticModel
	for range runs {
		if err := ctx.Err(); err != nil {
			return o, err
		}
		start := time.Now()
		m, err := train.FitLogistic(ctx, trainStd.X, trainStd.Labels, train.LogisticOptions{MaxIter: 1000})
		d := time.Since(start)
		if err != nil {
			return o, err
		}
		model = m
		o.t.kiln = append(o.t.kiln, d)
	}
	pred, err := model.Predict(testStd.X)
	if err != nil {
		return o, err
	}
	o.kilnAcc = accuracy(pred, testStd.Labels)
	o.kilnIter = model.Iterations

	out, err := runPython(ctx, python, filepath.Join(root, "internal", "bench", "peers", "logistic.py"),
		trainCSV, testCSV, "target", strconv.Itoa(runs))
	if err != nil {
		return o, err
	}
	var pr logisticPeerResult
	if err := json.Unmarshal(out, &pr); err != nil {
		return o, fmt.Errorf("logistic.py: reading %q: %w", out, err)
	}
	if pr.TrainRows != trainSet.Len() || pr.TestRows != testSet.Len() || pr.Features != len(trainSet.Features) {
		return o, fmt.Errorf("logistic.py read %d/%d rows × %d features, Kiln %d/%d × %d",
			pr.TrainRows, pr.TestRows, pr.Features, trainSet.Len(), testSet.Len(), len(trainSet.Features))
	}
	for _, s := range pr.FitSeconds {
		o.t.peer = append(o.t.peer, time.Duration(s*float64(time.Second)))
	}
	o.peerAcc, o.peerIter = pr.Accuracy, pr.NIter

	kb, km := best(o.t.kiln), mustMedian(o.t.kiln)
	pb, pm := best(o.t.peer), mustMedian(o.t.peer)
	o.kiln, o.peer = 1/km.Seconds(), 1/pm.Seconds()
	fmt.Printf("  kiln fit: best %.2f ms, median %.2f ms (%d iterations, converged %v); test accuracy %.2f%%\n",
		ms(kb), ms(km), model.Iterations, model.Converged, 100*o.kilnAcc)
	fmt.Printf("  scikit-learn %s fit: best %.2f ms, median %.2f ms (%d iterations); test accuracy %.2f%%\n",
		pr.Sklearn, ms(pb), ms(pm), pr.NIter, 100*o.peerAcc)
	diff := 100 * (o.kilnAcc - o.peerAcc)
	verdict := "ok"
	if math.Abs(diff) > 1 {
		verdict = "MORE THAN 1 POINT APART"
	}
	fmt.Printf("  accuracy kiln - scikit-learn: %+.2f points (%s); speed kiln/scikit-learn %.2f× (median)\n",
		diff, verdict, o.kiln/o.peer)
	return o, nil
}

// splitToCSV reads the classification CSV at path (label column label),
// splits it 75/25 with StratifiedSplit and writes both parts to CSV files in
// dir, so that a peer reads exactly the same rows (the float32 values Kiln
// holds, written in their shortest exact form).
func splitToCSV(ctx context.Context, path, label string, seed uint64, dir string) (trainSet, testSet *train.Dataset, trainCSV, testCSV string, err error) {
	src := pipeline.CSV(path, pipeline.CSVOptions{})
	d, err := train.ReadDataset(ctx, src, train.DatasetOptions{Label: label, Classification: true})
	if err != nil {
		return nil, nil, "", "", err
	}
	trainSet, testSet, err = d.StratifiedSplit(0.25, seed)
	if err != nil {
		return nil, nil, "", "", err
	}
	base := filepath.Base(path)
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".csv")
	trainCSV = filepath.Join(dir, base+"-train.csv")
	testCSV = filepath.Join(dir, base+"-test.csv")
	if err := writeDatasetCSV(trainCSV, trainSet); err != nil {
		return nil, nil, "", "", err
	}
	if err := writeDatasetCSV(testCSV, testSet); err != nil {
		return nil, nil, "", "", err
	}
	return trainSet, testSet, trainCSV, testCSV, nil
}

// writeDatasetCSV writes d's numeric features and its label (as the
// original class values) to a CSV file with a header.
func writeDatasetCSV(path string, d *train.Dataset) error {
	xs, err := d.X.Float32s()
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(strings.Join(d.Features, ","))
	w.WriteString("," + d.Label + "\n")
	nf := len(d.Features)
	var buf []byte
	for i := range d.Len() {
		buf = buf[:0]
		for j := range nf {
			buf = strconv.AppendFloat(buf, float64(xs[i*nf+j]), 'g', -1, 32)
			buf = append(buf, ',')
		}
		buf = append(buf, d.ClassNames[d.Labels[i]]...)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runPython runs a peer script to completion and returns its last line of
// standard output.
func runPython(ctx context.Context, python, script string, args ...string) ([]byte, error) {
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("peer: %w", err)
	}
	cmd := exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(script), err, strings.TrimSpace(stderr.String()))
	}
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	if len(out) == 0 {
		return nil, errors.New(filepath.Base(script) + " printed nothing")
	}
	return out, nil
}

// accuracy is the fraction of pred equal to want.
func accuracy(pred, want []int32) float64 {
	if len(want) == 0 {
		return math.NaN()
	}
	n := 0
	for i := range want {
		if pred[i] == want[i] {
			n++
		}
	}
	return float64(n) / float64(len(want))
}

// best is the shortest of ds.
func best(ds []time.Duration) time.Duration {
	b := ds[0]
	for _, d := range ds[1:] {
		b = min(b, d)
	}
	return b
}

// mustMedian is median for a non-empty ds.
func mustMedian(ds []time.Duration) time.Duration {
	m, _ := median(ds)
	return m
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }
