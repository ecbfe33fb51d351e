// Command train fits a model on one CSV file and scores it on another, with
// Kiln's train package. Other programs can drive it: progress goes to
// standard error and the last line on standard output is one JSON object.
//
//	go run ./examples/train -train TRAIN.csv -test TEST.csv -target COL \
//	    -model linear|logistic|softmax|mlp [-task classify|regress] \
//	    [-hidden 128,64] [-epochs 20] [-batch 64] [-lr 0.001] [-seed 0] \
//	    [-standardize=true] [-save DIR]
//
// Every column of the CSV files other than the target is a numeric feature
// (integer, float or boolean); the test file is coded like the training file
// (the same features and classes; a class the training file lacks is an
// error). With -standardize (the default) the features are centred and scaled
// with the mean and standard deviation of the training file.
//
// The models:
//
//   - linear: least-squares linear regression (train.FitLinear); -task regress.
//   - logistic: binary logistic regression (train.FitLogistic); the target
//     must have exactly two classes.
//   - softmax: multinomial logistic regression (train.FitLogistic) on two or
//     more classes.
//   - mlp: a multilayer perceptron (train.NewMLP) with ReLU hidden layers of
//     the -hidden sizes, trained with Adam at rate -lr for -epochs passes in
//     minibatches of -batch rows, shuffled by -seed; a classifier by default,
//     a regressor with -task regress. One line per epoch goes to standard
//     error.
//
// On success the last line on standard output is, for a classifier,
//
//	{"model":"logistic","train_seconds":S,"metrics":{"accuracy":A,"log_loss":L,"roc_auc":R}}
//
// and for a regressor
//
//	{"model":"linear","train_seconds":S,"metrics":{"mae":M,"r2":R,"rmse":E}}
//
// with the metrics computed on the test file and train_seconds the time of
// the fit alone. roc_auc is the ROC AUC of the second class for two classes
// and the macro-averaged one-vs-rest ROC AUC for more; it is left out, with a
// note on standard error, when the test file lacks a class.
//
// -save DIR writes the model to DIR: for mlp, what train.MLP.Save writes
// (model.safetensors and config.json, read back by train.LoadMLP) plus
// standardizer.json when the features were standardized; for linear,
// logistic and softmax, model.safetensors holding the tensors "coef",
// "intercept" and, when standardized, "standardizer.mean" and
// "standardizer.scale", and config.json describing the model (kind, task,
// features, target, classes, standardizer).
//
// Exit status: 0 on success, 2 for bad flags (with a usage message on standard
// error), 1 for any other failure (unreadable file, unknown target, unusable
// data), with the error on standard error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train"
	"github.com/kilnml/kiln/train/metrics"
	"github.com/kilnml/kiln/train/safetensors"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is what the flags ask for.
type config struct {
	trainPath, testPath string
	target              string
	model               string // linear, logistic, softmax or mlp
	classify            bool   // -task classify (else regress)
	hidden              []int
	epochs, batch       int
	lr                  float64
	seed                uint64
	save                string
	standardize         bool
}

// summary is the JSON object printed as the last line.
type summary struct {
	Model        string             `json:"model"`
	TrainSeconds float64            `json:"train_seconds"`
	Metrics      map[string]float64 `json:"metrics"`
}

const usageLine = "usage: train -train TRAIN.csv -test TEST.csv -target COL -model linear|logistic|softmax|mlp\n" +
	"             [-task classify|regress] [-hidden 128,64] [-epochs N] [-batch B] [-lr LR] [-seed S]\n" +
	"             [-standardize=true] [-save DIR]"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	var task, hidden string
	fs.StringVar(&c.trainPath, "train", "", "training CSV `file` (required)")
	fs.StringVar(&c.testPath, "test", "", "test CSV `file` the metrics are computed on (required)")
	fs.StringVar(&c.target, "target", "", "target `column` (required); every other column is a numeric feature")
	fs.StringVar(&c.model, "model", "", "model `kind`: linear, logistic, softmax or mlp (required)")
	fs.StringVar(&task, "task", "", "`classify` or regress; default regress for linear, classify otherwise (only mlp may do either)")
	fs.StringVar(&hidden, "hidden", "128,64", "mlp hidden layer `sizes`, comma-separated")
	fs.IntVar(&c.epochs, "epochs", 20, "mlp training epochs")
	fs.IntVar(&c.batch, "batch", 64, "mlp minibatch `rows`")
	fs.Float64Var(&c.lr, "lr", 1e-3, "mlp Adam learning `rate`")
	fs.Uint64Var(&c.seed, "seed", 0, "mlp seed of the initial weights and the batch order")
	fs.StringVar(&c.save, "save", "", "write the fitted model to `dir`")
	fs.BoolVar(&c.standardize, "standardize", true, "standardize the features with the training set's mean and standard deviation")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := c.check(fs.NArg(), task, hidden); err != nil {
		fmt.Fprintln(stderr, "train:", err)
		fs.Usage()
		return 2
	}
	s, err := trainAndScore(ctx, c, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "train:", err)
		return 1
	}
	line, err := json.Marshal(s)
	if err != nil {
		fmt.Fprintln(stderr, "train:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

// check validates the flags and fills c.classify and c.hidden.
func (c *config) check(nargs int, task, hidden string) error {
	switch {
	case nargs > 0:
		return errors.New("unexpected arguments")
	case c.trainPath == "":
		return errors.New("-train is required")
	case c.testPath == "":
		return errors.New("-test is required")
	case c.target == "":
		return errors.New("-target is required")
	case c.model == "":
		return errors.New("-model is required")
	case c.epochs < 1:
		return fmt.Errorf("-epochs %d: must be at least 1", c.epochs)
	case c.batch < 1:
		return fmt.Errorf("-batch %d: must be at least 1", c.batch)
	case !(c.lr > 0) || math.IsInf(c.lr, 0):
		return fmt.Errorf("-lr %v: must be a positive number", c.lr)
	}
	switch c.model {
	case "linear", "logistic", "softmax", "mlp":
	default:
		return fmt.Errorf("-model %q: want linear, logistic, softmax or mlp", c.model)
	}
	switch task {
	case "":
		c.classify = c.model != "linear"
	case "classify", "regress":
		c.classify = task == "classify"
	default:
		return fmt.Errorf("-task %q: want classify or regress", task)
	}
	if c.model == "linear" && c.classify {
		return errors.New("-model linear is a regressor: -task must be regress")
	}
	if (c.model == "logistic" || c.model == "softmax") && !c.classify {
		return fmt.Errorf("-model %s is a classifier: -task must be classify", c.model)
	}
	c.hidden = nil
	for _, f := range strings.Split(hidden, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-hidden %q: want positive layer sizes separated by commas", hidden)
		}
		c.hidden = append(c.hidden, n)
	}
	return nil
}

// trainAndScore reads the data, fits the model, saves it if asked and
// returns the test metrics.
func trainAndScore(ctx context.Context, c config, stderr io.Writer) (*summary, error) {
	trainSet, err := readTrain(ctx, c)
	if err != nil {
		return nil, err
	}
	testSet, err := train.ReadDataset(ctx, pipeline.CSV(c.testPath, pipeline.CSVOptions{}), train.DatasetOptions{Like: trainSet})
	if err != nil {
		return nil, fmt.Errorf("read test set %s: %w", c.testPath, err)
	}
	if testSet.Len() == 0 {
		return nil, fmt.Errorf("test set %s: no rows", c.testPath)
	}
	if c.classify {
		k := trainSet.NumClasses()
		switch {
		case c.model == "logistic" && k != 2:
			return nil, fmt.Errorf("-model logistic needs a target with 2 classes; %q has %d (use -model softmax)", c.target, k)
		case k < 2:
			return nil, fmt.Errorf("target %q has %d class in the training set; a classifier needs at least 2", c.target, k)
		}
	}
	fmt.Fprintf(stderr, "train: %d training rows, %d test rows, %d features", trainSet.Len(), testSet.Len(), len(trainSet.Features))
	if c.classify {
		fmt.Fprintf(stderr, ", %d classes", trainSet.NumClasses())
	}
	fmt.Fprintln(stderr)

	var std *train.Standardizer
	if c.standardize {
		if std, err = train.FitStandardizer(trainSet); err != nil {
			return nil, fmt.Errorf("standardize: %w", err)
		}
		if trainSet, err = std.Transform(trainSet); err != nil {
			return nil, fmt.Errorf("standardize training set: %w", err)
		}
		if testSet, err = std.Transform(testSet); err != nil {
			return nil, fmt.Errorf("standardize test set: %w", err)
		}
	}

	var (
		seconds float64
		pred    predictions
	)
	switch c.model {
	case "linear":
		start := time.Now()
		m, err := train.FitLinear(trainSet.X, trainSet.Y, train.LinearOptions{})
		seconds = time.Since(start).Seconds()
		if err != nil {
			return nil, fmt.Errorf("fit linear: %w", err)
		}
		fmt.Fprintf(stderr, "train: fit linear regression in %.3fs (rank %d)\n", seconds, m.Rank)
		p, err := m.Predict(testSet.X)
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		if pred.values, err = p.Float64s(); err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		if c.save != "" {
			if err := saveLinear(c, trainSet, std, m.Coef, m.Intercept); err != nil {
				return nil, err
			}
		}
	case "logistic", "softmax":
		start := time.Now()
		m, err := train.FitLogistic(ctx, trainSet.X, trainSet.Labels, train.LogisticOptions{})
		seconds = time.Since(start).Seconds()
		if err != nil {
			return nil, fmt.Errorf("fit %s: %w", c.model, err)
		}
		fmt.Fprintf(stderr, "train: fit %s regression in %.3fs (%d L-BFGS iterations, converged %v)\n", c.model, seconds, m.Iterations, m.Converged)
		if pred.proba, err = logisticProba(m, testSet.X, trainSet.NumClasses()); err != nil {
			return nil, err
		}
		if c.save != "" {
			if err := saveLinear(c, trainSet, std, m.Coef, m.Intercept); err != nil {
				return nil, err
			}
		}
	case "mlp":
		task := train.Regression
		if c.classify {
			task = train.Classification
		}
		m, err := train.NewMLP(trainSet, task, train.MLPOptions{Hidden: c.hidden, Seed: c.seed})
		if err != nil {
			return nil, fmt.Errorf("mlp: %w", err)
		}
		opt, err := train.NewAdam(m.Params(), train.AdamOptions{LR: c.lr})
		if err != nil {
			return nil, fmt.Errorf("mlp: %w", err)
		}
		tr, err := train.NewTrainer(train.TrainerOptions{
			Epochs:    c.epochs,
			BatchSize: c.batch,
			Seed:      c.seed,
			Optimizer: opt,
			OnEpoch: func(l train.EpochLog) error {
				fmt.Fprintf(stderr, "epoch %d/%d loss=%.6g steps=%d seconds=%.3f\n", l.Epoch+1, c.epochs, l.Metrics["loss"], l.Steps, l.Seconds)
				return nil
			},
		})
		if err != nil {
			return nil, fmt.Errorf("mlp: %w", err)
		}
		start := time.Now()
		_, err = tr.Fit(ctx, m, trainSet)
		seconds = time.Since(start).Seconds()
		if err != nil {
			return nil, fmt.Errorf("fit mlp: %w", err)
		}
		if pred, err = mlpPredict(m, testSet); err != nil {
			return nil, err
		}
		if c.save != "" {
			if err := saveMLP(c.save, m, std); err != nil {
				return nil, err
			}
		}
	}
	var ms map[string]float64
	if c.classify {
		ms, err = classifierMetrics(testSet.Labels, pred.proba, trainSet.NumClasses(), stderr)
	} else {
		ms, err = regressorMetrics(testSet.Y, pred.values)
	}
	if err != nil {
		return nil, err
	}
	if c.save != "" {
		fmt.Fprintf(stderr, "train: saved the model to %s\n", c.save)
	}
	return &summary{Model: c.model, TrainSeconds: seconds, Metrics: ms}, nil
}

// readTrain reads the training set: the target and, as numeric features,
// every other column.
func readTrain(ctx context.Context, c config) (*train.Dataset, error) {
	src := pipeline.CSV(c.trainPath, pipeline.CSVOptions{})
	schema, err := src.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("read training set %s: %w", c.trainPath, err)
	}
	features := make([]string, 0, schema.NumFields())
	found := false
	for _, f := range schema.Fields() {
		if f.Name == c.target {
			found = true
			continue
		}
		if !numeric(f.Type) {
			return nil, fmt.Errorf("training set %s: column %q is %s, not numeric (every column but the target must be a numeric feature)", c.trainPath, f.Name, f.Type)
		}
		features = append(features, f.Name)
	}
	if !found {
		return nil, fmt.Errorf("training set %s: no target column %q", c.trainPath, c.target)
	}
	if len(features) == 0 {
		return nil, fmt.Errorf("training set %s: no feature columns besides the target %q", c.trainPath, c.target)
	}
	d, err := train.ReadDataset(ctx, src, train.DatasetOptions{Features: features, Label: c.target, Classification: c.classify})
	if err != nil {
		return nil, fmt.Errorf("read training set %s: %w", c.trainPath, err)
	}
	if d.Len() == 0 {
		return nil, fmt.Errorf("training set %s: no rows", c.trainPath)
	}
	return d, nil
}

func numeric(t arrow.DataType) bool {
	return arrow.IsInteger(t.ID()) || arrow.IsFloating(t.ID()) || t.ID() == arrow.BOOL
}

// predictions are a model's outputs for the test set: n×k class
// probabilities (row-major) for a classifier, n values for a regressor.
type predictions struct {
	proba  []float64
	values []float64
}

// logisticProba returns the n×k class probabilities of m for x, with the
// columns in class index order.
func logisticProba(m *train.LogisticModel, x *tensor.Tensor, k int) ([]float64, error) {
	p, err := m.PredictProba(x)
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	pv, err := p.Float64s()
	if err != nil {
		return nil, fmt.Errorf("predict: %w", err)
	}
	// The model's columns follow m.Classes, the labels it saw; with every
	// training class present (FitLogistic was given all of them) these are
	// 0..k-1, but map them anyway.
	kc := len(m.Classes)
	n := len(pv) / kc
	out := make([]float64, n*k)
	for i := range n {
		for j, cl := range m.Classes {
			out[i*k+int(cl)] = pv[i*kc+j]
		}
	}
	return out, nil
}

// mlpPredict runs m over d in batches.
func mlpPredict(m *train.MLP, d *train.Dataset) (predictions, error) {
	var p predictions
	for b, err := range d.Batches(1024, train.BatchOptions{}) {
		if err != nil {
			return p, fmt.Errorf("predict: %w", err)
		}
		out, err := m.Predict(b)
		if err != nil {
			return p, fmt.Errorf("predict: %w", err)
		}
		v, err := out.Float64s()
		if err != nil {
			return p, fmt.Errorf("predict: %w", err)
		}
		if m.Config.Task == train.Classification {
			p.proba = append(p.proba, v...)
		} else {
			p.values = append(p.values, v...)
		}
	}
	return p, nil
}

// classifierMetrics returns accuracy, log_loss and roc_auc of the n×k
// probabilities proba for labels y. roc_auc is left out, with a note, when it
// is undefined (a class missing from the test set).
func classifierMetrics(y []int32, proba []float64, k int, stderr io.Writer) (map[string]float64, error) {
	n := len(y)
	if len(proba) != n*k {
		return nil, fmt.Errorf("predict: %d probabilities for %d rows and %d classes", len(proba), n, k)
	}
	pred := make([]int32, n)
	for i := range n {
		row := proba[i*k : (i+1)*k]
		pred[i] = int32(argmax(row))
	}
	// float32 probabilities (the MLP's) may sum to 1 only within float32
	// rounding: renormalize each row in float64.
	norm := make([]float64, len(proba))
	for i := range n {
		row := proba[i*k : (i+1)*k]
		s := 0.0
		for _, v := range row {
			s += v
		}
		for j, v := range row {
			norm[i*k+j] = v / s
		}
	}
	acc, err := metrics.Accuracy(y, pred)
	if err != nil {
		return nil, err
	}
	ll, err := metrics.LogLoss(y, norm, k)
	if err != nil {
		return nil, err
	}
	ms := map[string]float64{"accuracy": acc, "log_loss": ll}
	var auc float64
	if k == 2 {
		p1 := make([]float64, n)
		for i := range n {
			p1[i] = norm[i*2+1]
		}
		auc, err = metrics.ROCAUC(y, p1)
	} else {
		auc, err = metrics.ROCAUCMulti(y, norm, k, metrics.Macro)
	}
	if err != nil {
		fmt.Fprintf(stderr, "train: roc_auc left out: %v\n", err)
	} else {
		ms["roc_auc"] = auc
	}
	return ms, nil
}

func argmax(row []float64) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// regressorMetrics returns rmse, mae and r2 of pred against the target y.
func regressorMetrics(y *tensor.Tensor, pred []float64) (map[string]float64, error) {
	yt, err := y.Float64s()
	if err != nil {
		return nil, err
	}
	rmse, err := metrics.RMSE(yt, pred)
	if err != nil {
		return nil, err
	}
	mae, err := metrics.MAE(yt, pred)
	if err != nil {
		return nil, err
	}
	r2, err := metrics.R2(yt, pred)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"rmse": rmse, "mae": mae, "r2": r2}, nil
}

// linearConfig is config.json of a saved linear, logistic or softmax model.
type linearConfig struct {
	// Model is linear, logistic or softmax.
	Model string `json:"model"`
	// Task is "regress" or "classify".
	Task string `json:"task"`
	// Features are the input columns, in the order of coef's columns.
	Features []string `json:"features"`
	// Target is the target column.
	Target string `json:"target"`
	// Classes are the target's classes as text, in class index order
	// (the rows of coef for a multinomial model; a binary model's single
	// row scores the second class).
	Classes []string `json:"classes,omitempty"`
	// ClassValues are the numeric values of the classes for a numeric
	// target.
	ClassValues []int64 `json:"class_values,omitempty"`
	// Standardizer, when set, is applied to the features before coef:
	// (x - mean) / scale.
	Standardizer *train.Standardizer `json:"standardizer,omitempty"`
}

// saveLinear writes a linear, logistic or softmax model to c.save.
func saveLinear(c config, d *train.Dataset, std *train.Standardizer, coef *tensor.Tensor, intercept []float64) error {
	if err := os.MkdirAll(c.save, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	it, err := tensor.FromFloat64s(slices.Clone(intercept), len(intercept))
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	ts := map[string]*tensor.Tensor{"coef": coef, "intercept": it}
	if std != nil {
		if ts["standardizer.mean"], err = tensor.FromFloat64s(slices.Clone(std.Mean), len(std.Mean)); err != nil {
			return fmt.Errorf("save model: %w", err)
		}
		if ts["standardizer.scale"], err = tensor.FromFloat64s(slices.Clone(std.Scale), len(std.Scale)); err != nil {
			return fmt.Errorf("save model: %w", err)
		}
	}
	if err := safetensors.WriteFile(filepath.Join(c.save, "model.safetensors"), ts, map[string]string{"kiln_model": c.model}); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	cfg := linearConfig{Model: c.model, Task: "regress", Features: d.Features, Target: c.target, Standardizer: std}
	if c.classify {
		cfg.Task = "classify"
		cfg.Classes = d.ClassNames
		cfg.ClassValues = d.ClassValues
	}
	return writeJSON(filepath.Join(c.save, "config.json"), cfg)
}

// saveMLP writes m with MLP.Save and, beside it, the standardizer.
func saveMLP(dir string, m *train.MLP, std *train.Standardizer) error {
	if err := m.Save(dir); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if std == nil {
		return nil
	}
	return writeJSON(filepath.Join(dir, "standardizer.json"), std)
}

// writeJSON writes v as indented JSON to path through a temporary file, so
// path is either left as it was or complete.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	data = append(data, '\n')
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}
