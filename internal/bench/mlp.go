package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train"
)

// runMLP is the mlp suite: training a multilayer perceptron with Adam,
// Kiln (train.NewMLP, train.Trainer) against PyTorch (peers/mlp.py), both
// with -threads threads (Kiln through GOMAXPROCS, PyTorch through
// torch.set_num_threads).
//
//   - digits (readable lines): a 75/25 Dataset.StratifiedSplit written to
//     CSV files, standardized, MLP 64→128→64→10 (ReLU), Adam lr 1e-3,
//     batches of 64, -epochs epochs; test accuracy and training time.
//   - synthetic 784 (the JSON result): -rows784 rows of 784 features in 10
//     Gaussian classes (plus a fifth as many test rows), generated
//     deterministically and handed to the peer as .npy files, standardized,
//     MLP 784→256→256→10, the same optimizer and batch size, -epochs784
//     epochs; the mean epoch time of each side, as epochs per second.
//
// Only the training loop is timed on either side.
func runMLP(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mlp", flag.ContinueOnError)
	threads := fs.Int("threads", 2, "`threads` of both sides: Kiln's GOMAXPROCS and torch.set_num_threads")
	epochs := fs.Int("epochs", 20, "training `epochs` on digits")
	epochs784 := fs.Int("epochs784", 2, "training `epochs` on the synthetic 784-feature set")
	rows784 := fs.Int("rows784", 60000, "training `rows` of the synthetic 784-feature set")
	seed := fs.Uint64("seed", 42, "`seed` of the split, the initial weights and the batch order")
	python := fs.String("python", "/usr/bin/python3", "`python3` with PyTorch and scikit-learn")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of Kiln's 784-feature training to `file`")
	skipDigits := fs.Bool("skip-digits", false, "run only the synthetic 784-feature case")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *threads < 1 || *epochs < 1 || *epochs784 < 1 || *rows784 < 100 {
		return fmt.Errorf("-threads, -epochs and -epochs784 must be at least 1 and -rows784 at least 100")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(*threads))
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	script := filepath.Join(root, "internal", "bench", "peers", "mlp.py")
	tmp, err := os.MkdirTemp("", "kiln-bench-mlp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("threads %d (Kiln GOMAXPROCS %d, of %d CPUs)\n", *threads, runtime.GOMAXPROCS(0), runtime.NumCPU())

	if !*skipDigits {
		if err := mlpDigits(ctx, root, tmp, script, *python, *seed, *epochs, *threads); err != nil {
			return fmt.Errorf("digits: %w", err)
		}
	}

	// Synthetic 784-feature case.
	genStart := time.Now()
	trainSet, testSet, err := synthDatasets(*rows784, *rows784/5, 784, 10, *seed)
	if err != nil {
		return err
	}
	trainNpy, testNpy := filepath.Join(tmp, "synth-train.npy"), filepath.Join(tmp, "synth-test.npy")
	for _, p := range []struct {
		path string
		d    *train.Dataset
	}{{trainNpy, trainSet}, {testNpy, testSet}} {
		if err := writeNpyDataset(p.path, p.d); err != nil {
			return err
		}
	}
	fmt.Printf("synthetic 784: %d train rows, %d test rows, 784 features, 10 classes, generated and written in %.1f s\n",
		trainSet.Len(), testSet.Len(), time.Since(genStart).Seconds())
	k, err := kilnMLP(ctx, trainSet, testSet, []int{256, 256}, *epochs784, *seed, *cpuprofile)
	if err != nil {
		return fmt.Errorf("synthetic 784, kiln: %w", err)
	}
	p, err := torchMLP(ctx, *python, script, trainNpy, testNpy, "256,256", *epochs784, *seed, *threads)
	if err != nil {
		return fmt.Errorf("synthetic 784: %w", err)
	}
	if p.TrainRows != trainSet.Len() || p.Features != 784 {
		return fmt.Errorf("mlp.py read %d rows × %d features, Kiln %d × 784", p.TrainRows, p.Features, trainSet.Len())
	}
	ke, pe := meanSeconds(k.epochSeconds), meanSeconds(p.EpochSeconds)
	fmt.Printf("  kiln: epochs %s s, mean %.2f s; final train loss %.4f; test accuracy %.2f%%\n",
		secondsList(k.epochSeconds), ke, k.loss, 100*k.accuracy)
	fmt.Printf("  pytorch %s: epochs %s s, mean %.2f s; final train loss %.4f; test accuracy %.2f%%\n",
		p.Torch, secondsList(p.EpochSeconds), pe, p.FinalTrainLoss, 100*p.Accuracy)
	fmt.Printf("  epoch time kiln/pytorch %.2f× (acceptance ≤ 1.00×: %s)\n", ke/pe, okIf(ke <= pe))
	line, err := result{Suite: "mlp", Kiln: 1 / ke, Peer: 1 / pe, PeerName: "pytorch", Unit: "epochs/s",
		Extra: []extra{
			{"kiln_epoch_seconds", ke},
			{"peer_epoch_seconds", pe},
			{"kiln_accuracy", 100 * k.accuracy},
			{"peer_accuracy", 100 * p.Accuracy},
			{"threads", float64(*threads)},
		}}.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// mlpDigits runs and prints the digits case of the mlp suite.
func mlpDigits(ctx context.Context, root, tmp, script, python string, seed uint64, epochs, threads int) error {
	trainSet, testSet, trainCSV, testCSV, err := splitToCSV(ctx, filepath.Join(root, "train", "testdata", "digits.csv.gz"), "target", seed, tmp)
	if err != nil {
		return err
	}
	fmt.Printf("digits: %d train rows, %d test rows, %d features, %d classes; MLP 64→128→64→10, Adam 1e-3, batch 64, %d epochs\n",
		trainSet.Len(), testSet.Len(), len(trainSet.Features), trainSet.NumClasses(), epochs)
	k, err := kilnMLP(ctx, trainSet, testSet, []int{128, 64}, epochs, seed, "")
	if err != nil {
		return fmt.Errorf("kiln: %w", err)
	}
	p, err := torchMLP(ctx, python, script, trainCSV, testCSV, "128,64", epochs, seed, threads)
	if err != nil {
		return err
	}
	if p.TrainRows != trainSet.Len() || p.TestRows != testSet.Len() || p.Features != len(trainSet.Features) {
		return fmt.Errorf("mlp.py read %d/%d rows × %d features, Kiln %d/%d × %d",
			p.TrainRows, p.TestRows, p.Features, trainSet.Len(), testSet.Len(), len(trainSet.Features))
	}
	fmt.Printf("  kiln: train %.2f s (%d parameters); final train loss %.4f; test accuracy %.2f%%\n",
		k.trainSeconds, k.params, k.loss, 100*k.accuracy)
	fmt.Printf("  pytorch %s: train %.2f s (%d parameters); final train loss %.4f; test accuracy %.2f%%\n",
		p.Torch, p.TrainSeconds, p.Parameters, p.FinalTrainLoss, 100*p.Accuracy)
	diff := 100 * (k.accuracy - p.Accuracy)
	fmt.Printf("  accuracy kiln - pytorch %+.2f points (acceptance within 1.5: %s); train time kiln/pytorch %.2f× (acceptance ≤ 1.00×: %s)\n",
		diff, okIf(math.Abs(diff) <= 1.5), k.trainSeconds/p.TrainSeconds, okIf(k.trainSeconds <= p.TrainSeconds))
	return nil
}

// kilnMLPResult is what one Kiln training run measured.
type kilnMLPResult struct {
	trainSeconds float64
	epochSeconds []float64
	loss         float64 // mean training loss of the last epoch
	accuracy     float64 // on the test set, fraction
	params       int
}

// kilnMLP standardizes both sets with the training set's statistics (not
// timed), trains a classifier MLP with the given hidden widths and Adam
// (lr 1e-3) in batches of 64, and evaluates it on the test set.
func kilnMLP(ctx context.Context, trainSet, testSet *train.Dataset, hidden []int, epochs int, seed uint64, cpuprofile string) (kilnMLPResult, error) {
	var r kilnMLPResult
	sc, err := train.FitStandardizer(trainSet)
	if err != nil {
		return r, err
	}
	trainStd, err := sc.Transform(trainSet)
	if err != nil {
		return r, err
	}
	testStd, err := sc.Transform(testSet)
	if err != nil {
		return r, err
	}
	m, err := train.NewMLP(trainStd, train.Classification, train.MLPOptions{Hidden: hidden, Act: tensor.ActReLU, Seed: seed})
	if err != nil {
		return r, err
	}
	for _, p := range m.Params() {
		n := 1
		for _, s := range p.Value.Shape() {
			n *= s
		}
		r.params += n
	}
	opt, err := train.NewAdam(m.Params(), train.AdamOptions{LR: 1e-3})
	if err != nil {
		return r, err
	}
	tr, err := train.NewTrainer(train.TrainerOptions{
		Epochs: epochs, BatchSize: 64, Seed: seed, Optimizer: opt,
		OnEpoch: func(l train.EpochLog) error {
			r.epochSeconds = append(r.epochSeconds, l.Seconds)
			r.loss = l.Metrics["loss"]
			return nil
		},
	})
	if err != nil {
		return r, err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return r, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
	}
	runtime.GC()
	start := time.Now()
	_, err = tr.Fit(ctx, m, trainStd)
	r.trainSeconds = time.Since(start).Seconds()
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return r, err
	}
	ev, err := train.Evaluate(ctx, m, testStd, 0)
	if err != nil {
		return r, err
	}
	r.accuracy = ev["accuracy"]
	return r, nil
}

// torchMLPResult is mlp.py's output line.
type torchMLPResult struct {
	TrainSeconds   float64   `json:"train_seconds"`
	EpochSeconds   []float64 `json:"epoch_seconds"`
	FinalTrainLoss float64   `json:"final_train_loss"`
	Accuracy       float64   `json:"accuracy"`
	LogLoss        float64   `json:"log_loss"`
	Classes        int       `json:"classes"`
	TrainRows      int       `json:"train_rows"`
	TestRows       int       `json:"test_rows"`
	Features       int       `json:"features"`
	Parameters     int       `json:"parameters"`
	Threads        int       `json:"threads"`
	Torch          string    `json:"torch"`
}

// torchMLP runs peers/mlp.py with Adam lr 1e-3 and batches of 64.
func torchMLP(ctx context.Context, python, script, trainPath, testPath, hidden string, epochs int, seed uint64, threads int) (torchMLPResult, error) {
	var r torchMLPResult
	out, err := runPython(ctx, python, script, trainPath, testPath, "target", hidden,
		strconv.Itoa(epochs), "64", "0.001", strconv.FormatUint(seed, 10), strconv.Itoa(threads))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("mlp.py: reading %q: %w", out, err)
	}
	if len(r.EpochSeconds) != epochs {
		return r, fmt.Errorf("mlp.py reported %d epochs, want %d", len(r.EpochSeconds), epochs)
	}
	return r, nil
}

// synthDatasets generates a training and a test set of classes classes in
// features dimensions: class c's rows are a centre drawn once from N(0, 0.15²)
// per feature plus N(0, 1) noise, the class of each row uniform. The result
// is a function of the arguments only.
func synthDatasets(trainRows, testRows, features, classes int, seed uint64) (trainSet, testSet *train.Dataset, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6e))
	centres := make([]float32, classes*features)
	for i := range centres {
		centres[i] = float32(0.15 * rng.NormFloat64())
	}
	names := make([]string, features)
	for j := range names {
		names[j] = "f" + strconv.Itoa(j)
	}
	classValues := make([]int64, classes)
	classNames := make([]string, classes)
	for c := range classes {
		classValues[c] = int64(c)
		classNames[c] = strconv.Itoa(c)
	}
	make1 := func(n int) (*train.Dataset, error) {
		x := make([]float32, n*features)
		labels := make([]int32, n)
		for i := range n {
			c := rng.IntN(classes)
			labels[i] = int32(c)
			row, centre := x[i*features:(i+1)*features], centres[c*features:(c+1)*features]
			for j := range row {
				row[j] = centre[j] + float32(rng.NormFloat64())
			}
		}
		xt, err := tensor.FromFloat32s(x, n, features)
		if err != nil {
			return nil, err
		}
		return &train.Dataset{Features: names, X: xt, Label: "target", Labels: labels,
			ClassValues: classValues, ClassNames: classNames}, nil
	}
	if trainSet, err = make1(trainRows); err != nil {
		return nil, nil, err
	}
	if testSet, err = make1(testRows); err != nil {
		return nil, nil, err
	}
	return trainSet, testSet, nil
}

// writeNpyDataset writes d's features to path as a float32 .npy array
// [rows, features] and its class values to path with ".npy" replaced by
// ".target.npy" as an int64 .npy array [rows], the layout mlp.py reads.
func writeNpyDataset(path string, d *train.Dataset) error {
	xs, err := d.X.Float32s()
	if err != nil {
		return err
	}
	if err := writeNpy(path, "<f4", []int{d.Len(), len(d.Features)}, func(w *bufio.Writer) error {
		return binary.Write(w, binary.LittleEndian, xs)
	}); err != nil {
		return err
	}
	ys := make([]int64, d.Len())
	for i, l := range d.Labels {
		ys[i] = d.ClassValues[l]
	}
	return writeNpy(strings.TrimSuffix(path, ".npy")+".target.npy", "<i8", []int{d.Len()}, func(w *bufio.Writer) error {
		return binary.Write(w, binary.LittleEndian, ys)
	})
}

// writeNpy writes a C-ordered .npy file (format version 1.0) of the given
// dtype and shape whose data body writes.
func writeNpy(path, dtype string, shape []int, body func(*bufio.Writer) error) error {
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = strconv.Itoa(s)
	}
	shapeText := strings.Join(dims, ", ")
	if len(shape) == 1 {
		shapeText += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, shapeText)
	// Magic (6) + version (2) + length (2) + header, padded with spaces and
	// ended by a newline to a multiple of 64 bytes.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	header += strings.Repeat(" ", pad) + "\n"
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("\x93NUMPY\x01\x00")
	binary.Write(w, binary.LittleEndian, uint16(len(header)))
	w.WriteString(header)
	if err := body(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// meanSeconds is the mean of s.
func meanSeconds(s []float64) float64 {
	var t float64
	for _, v := range s {
		t += v
	}
	return t / float64(len(s))
}

// secondsList renders s as "1.23, 4.56".
func secondsList(s []float64) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strings.Join(parts, ", ")
}

// okIf is "ok" when cond holds, "NOT MET" otherwise.
func okIf(cond bool) string {
	if cond {
		return "ok"
	}
	return "NOT MET"
}
