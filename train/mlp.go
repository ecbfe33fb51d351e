package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train/safetensors"
)

// A Model is what a Trainer fits: parameters, a forward pass over a batch
// and a loss. MLP is one; any type with these methods is another. A model
// that is also Trainable is switched to evaluation mode for validation
// and prediction, and a Stateful one has its state saved in checkpoints.
type Model interface {
	// Params returns the trainable parameters, uniquely named.
	Params() []*Var
	// Forward returns the model's output for the batch: logits [n,
	// classes] for a classifier, predictions [n, 1] for a regressor.
	Forward(b *Batch) *Var
	// Loss returns the mean loss of the batch given Forward's output.
	Loss(out *Var, b *Batch) *Var
}

// Task says what a model predicts.
type Task uint8

const (
	// Classification predicts a class: the output is one logit per class.
	Classification Task = iota
	// Regression predicts a number: the output is one value per row.
	Regression
)

// MLPOptions configure NewMLP. The zero value is a classifier with one
// hidden layer of 100 ReLU units (scikit-learn's MLPClassifier shape).
type MLPOptions struct {
	// Hidden are the sizes of the hidden layers; nil means [100].
	Hidden []int
	// Act is the hidden layers' activation; ActNone (the zero value) means
	// ReLU.
	Act tensor.Activation
	// Dropout is the probability of dropping a hidden unit in training; 0
	// means no dropout layers.
	Dropout float64
	// EmbeddingDim is the width of each categorical column's embedding;
	// 0 means min(16, (cardinality+1)/2) per column.
	EmbeddingDim int
	// Init initializes the Dense layers (InitDefault: PyTorch's).
	Init Init
	// Seed seeds the initial weights and the dropout masks.
	Seed uint64
	// ClassWeights and LabelSmoothing configure a classifier's
	// cross-entropy (see CrossEntropyOptions).
	ClassWeights   []float64
	LabelSmoothing float64
	// Huber, when > 0, makes a regressor's loss the Huber loss with this
	// delta instead of the mean squared error.
	Huber float64
}

// MLPConfig is what defines an MLP's shape: saved beside its weights so
// LoadMLP can rebuild it.
type MLPConfig struct {
	Task        Task     `json:"task"`
	Features    []string `json:"features"`
	Categorical []string `json:"categorical,omitempty"`
	Cardinality []int    `json:"cardinality,omitempty"`
	EmbedDims   []int    `json:"embedding_dims,omitempty"`
	// Levels and ClassNames map codes and classes back to values.
	Levels     [][]string `json:"levels,omitempty"`
	ClassNames []string   `json:"class_names,omitempty"`
	Label      string     `json:"label,omitempty"`
	Hidden     []int      `json:"hidden"`
	Act        uint8      `json:"activation"`
	Dropout    float64    `json:"dropout,omitempty"`
	Outputs    int        `json:"outputs"`
	Options    MLPOptions `json:"options"`
}

// MLP is a multilayer perceptron over a Dataset's numeric features and
// embedded categorical columns: the embeddings are concatenated to the
// numeric features and fed to Dense layers. As a classifier it outputs
// logits and is trained with cross-entropy; as a regressor, one value
// trained with the mean squared (or Huber) error.
type MLP struct {
	Config     MLPConfig
	Embeddings []*Var // [cardinality, dim] per categorical column
	Body       *Sequential
}

// NewMLP returns an MLP for the columns, categorical levels and classes of
// d (a training set: only its description is used) and the task.
func NewMLP(d *Dataset, task Task, o MLPOptions) (*MLP, error) {
	if d == nil {
		return nil, fmt.Errorf("train: NewMLP: nil dataset")
	}
	cfg := MLPConfig{
		Task: task, Features: slices.Clone(d.Features), Categorical: slices.Clone(d.Categorical),
		Cardinality: slices.Clone(d.Cardinality), Levels: d.Levels, ClassNames: d.ClassNames,
		Label: d.Label, Hidden: o.Hidden, Act: uint8(o.Act), Dropout: o.Dropout, Options: o,
	}
	switch task {
	case Classification:
		if d.Labels == nil || len(d.ClassNames) < 2 {
			return nil, fmt.Errorf("train: NewMLP: a classifier needs a dataset with 2 or more classes (label %q)", d.Label)
		}
		cfg.Outputs = len(d.ClassNames)
	case Regression:
		if d.Y == nil {
			return nil, fmt.Errorf("train: NewMLP: a regressor needs a dataset with a numeric target (label %q)", d.Label)
		}
		cfg.Outputs = 1
	default:
		return nil, fmt.Errorf("train: NewMLP: unknown task %d", task)
	}
	if cfg.Hidden == nil {
		cfg.Hidden = []int{100}
	}
	if o.Act == tensor.ActNone {
		cfg.Act = uint8(tensor.ActReLU)
	}
	for _, c := range d.Cardinality {
		dim := o.EmbeddingDim
		if dim == 0 {
			dim = min(16, (c+1)/2)
		}
		cfg.EmbedDims = append(cfg.EmbedDims, max(dim, 1))
	}
	return buildMLP(cfg)
}

func buildMLP(cfg MLPConfig) (*MLP, error) {
	rng := tensor.NewRNG(cfg.Options.Seed)
	m := &MLP{Config: cfg}
	if len(cfg.Cardinality) != len(cfg.Categorical) || len(cfg.EmbedDims) != len(cfg.Categorical) {
		return nil, fmt.Errorf("train: MLP: %d categorical columns with %d cardinalities and %d embedding sizes", len(cfg.Categorical), len(cfg.Cardinality), len(cfg.EmbedDims))
	}
	// Bound the size before allocating: a configuration read from a file
	// must not make the process allocate without limit.
	const maxParams = 1 << 28
	total, prev := 0, len(cfg.Features)
	for j, c := range cfg.Cardinality {
		if c <= 0 || c > maxParams || cfg.EmbedDims[j] <= 0 || cfg.EmbedDims[j] > 1<<16 {
			return nil, fmt.Errorf("train: MLP: categorical column %d: cardinality %d, embedding %d", j, c, cfg.EmbedDims[j])
		}
		total += c * cfg.EmbedDims[j]
		prev += cfg.EmbedDims[j]
	}
	for _, h := range append(slices.Clone(cfg.Hidden), cfg.Outputs) {
		if h <= 0 || h > 1<<20 || prev > 1<<24 {
			return nil, fmt.Errorf("train: MLP: layer of %d units after %d inputs", h, prev)
		}
		total += (prev + 1) * h
		if total > maxParams {
			return nil, fmt.Errorf("train: MLP: more than %d parameters", maxParams)
		}
		prev = h
	}
	in := len(cfg.Features)
	for j, c := range cfg.Cardinality {
		if c <= 0 {
			return nil, fmt.Errorf("train: MLP: categorical column %q has cardinality %d", cfg.Categorical[j], c)
		}
		e, err := NewEmbed(rng, c, cfg.EmbedDims[j])
		if err != nil {
			return nil, err
		}
		e.Table.Name = fmt.Sprintf("embedding.%d", j)
		m.Embeddings = append(m.Embeddings, e.Table)
		in += cfg.EmbedDims[j]
	}
	if in == 0 {
		return nil, fmt.Errorf("train: MLP: no input features")
	}
	var layers []Layer
	for i, h := range cfg.Hidden {
		d, err := NewDense(rng, in, h, LinearLayerOptions{Act: tensor.Activation(cfg.Act), Init: cfg.Options.Init})
		if err != nil {
			return nil, err
		}
		layers = append(layers, d)
		if cfg.Dropout > 0 {
			dr, err := NewDropout(cfg.Dropout, cfg.Options.Seed^uint64(0x9e3779b97f4a7c15)*uint64(i+1))
			if err != nil {
				return nil, err
			}
			layers = append(layers, dr)
		}
		in = h
	}
	out, err := NewDense(rng, in, cfg.Outputs, LinearLayerOptions{Init: cfg.Options.Init})
	if err != nil {
		return nil, err
	}
	layers = append(layers, out)
	m.Body = NewSequential(layers...)
	for _, p := range m.Body.Params() {
		p.Name = "body." + p.Name
	}
	return m, nil
}

// Params returns the embeddings and the Dense layers' weights and biases.
func (m *MLP) Params() []*Var { return append(slices.Clone(m.Embeddings), m.Body.Params()...) }

// SetTraining switches dropout between training and evaluation.
func (m *MLP) SetTraining(training bool) { m.Body.SetTraining(training) }

// State returns the dropout layers' random streams.
func (m *MLP) State() (map[string]*tensor.Tensor, error) { return m.Body.State() }

// LoadState restores State's result.
func (m *MLP) LoadState(s map[string]*tensor.Tensor) error { return m.Body.LoadState(s) }

// Forward returns the logits (classifier) or predictions [n, 1]
// (regressor) for the batch.
func (m *MLP) Forward(b *Batch) *Var {
	if b == nil {
		return failed(fmt.Errorf("train: MLP: nil batch"))
	}
	if len(b.Codes) != len(m.Embeddings) {
		return failed(fmt.Errorf("train: MLP: batch has %d categorical columns, model %d", len(b.Codes), len(m.Embeddings)))
	}
	var parts []*Var
	if len(m.Config.Features) > 0 {
		if b.X == nil || b.X.Rank() != 2 || b.X.Shape()[1] != len(m.Config.Features) {
			return failed(fmt.Errorf("train: MLP: batch features %v, model has %d", shapeOf(b.X), len(m.Config.Features)))
		}
		parts = append(parts, Const(b.X))
	}
	for j, e := range m.Embeddings {
		parts = append(parts, Embedding(e, b.Codes[j]))
	}
	x := parts[0]
	if len(parts) > 1 {
		x = Concat(1, parts...)
	}
	return m.Body.Forward(x)
}

// Loss returns the cross-entropy of the logits (classifier) or the mean
// squared or Huber error (regressor).
func (m *MLP) Loss(out *Var, b *Batch) *Var {
	if m.Config.Task == Classification {
		return CrossEntropy(out, b.Labels, CrossEntropyOptions{ClassWeights: m.Config.Options.ClassWeights, LabelSmoothing: m.Config.Options.LabelSmoothing})
	}
	if b.Y == nil {
		return failed(fmt.Errorf("train: MLP: batch without a regression target"))
	}
	y, err := b.Y.Reshape(-1, 1)
	if err != nil {
		return opErr("MLP loss", err)
	}
	if m.Config.Options.Huber > 0 {
		return HuberLoss(out, Const(y), m.Config.Options.Huber)
	}
	return MSELoss(out, Const(y))
}

// Predict returns the model's predictions for a batch in evaluation mode:
// class probabilities [n, classes] for a classifier, values [n] for a
// regressor. The model runs on the device of its parameters (the batch is
// uploaded to it) and the result is in host memory, on the CPU. It is
// safe for concurrent use once training is over.
func (m *MLP) Predict(b *Batch) (*tensor.Tensor, error) {
	b, err := batchTo(b, modelDevice(m))
	if err != nil {
		return nil, err
	}
	out := m.forwardEval(b)
	if err := out.Err(); err != nil {
		return nil, err
	}
	var res *tensor.Tensor
	if m.Config.Task == Classification {
		res, err = tensor.Softmax(out.Value, 1)
	} else {
		res, err = out.Value.Reshape(-1)
	}
	if err != nil {
		return nil, err
	}
	return res.To(tensor.CPU())
}

// forwardEval runs Forward without dropout and without recording a graph
// for the parameters.
func (m *MLP) forwardEval(b *Batch) *Var {
	frozen := &MLP{Config: m.Config, Embeddings: make([]*Var, len(m.Embeddings)), Body: &Sequential{}}
	for i, e := range m.Embeddings {
		frozen.Embeddings[i] = e.Detach()
	}
	for _, l := range m.Body.Layers {
		switch l := l.(type) {
		case *Dense:
			d := &Dense{Weight: l.Weight.Detach(), Act: l.Act}
			if l.Bias != nil {
				d.Bias = l.Bias.Detach()
			}
			frozen.Body.Layers = append(frozen.Body.Layers, d)
		case *Dropout:
			// evaluation: no dropout
		default:
			frozen.Body.Layers = append(frozen.Body.Layers, l)
		}
	}
	return frozen.Forward(b)
}

// PredictRow predicts one row: features in Config.Features order and one
// code per categorical column. It returns the class probabilities or the
// single regression value.
func (m *MLP) PredictRow(features []float32, codes []int32) ([]float32, error) {
	if len(features) != len(m.Config.Features) || len(codes) != len(m.Config.Categorical) {
		return nil, fmt.Errorf("train: PredictRow: %d features and %d codes, model takes %d and %d", len(features), len(codes), len(m.Config.Features), len(m.Config.Categorical))
	}
	x, err := tensor.FromFloat32s(features, 1, len(features))
	if err != nil {
		return nil, err
	}
	b := &Batch{X: x, Rows: []int{0}}
	for _, c := range codes {
		b.Codes = append(b.Codes, []int32{c})
	}
	p, err := m.Predict(b)
	if err != nil {
		return nil, err
	}
	return p.Float32s()
}

// Save writes the model to dir: its weights in model.safetensors (names
// as Params gives them, PyTorch's [out, in] layout) and its configuration
// in config.json. Files are written under temporary names and renamed.
func (m *MLP) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: save model: %w", err)
	}
	ts := map[string]*tensor.Tensor{}
	for _, p := range m.Params() {
		ts[p.Name] = p.Value
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt", "kiln_model": "mlp"}); err != nil {
		return fmt.Errorf("train: save model: %w", err)
	}
	js, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "config.json"), js)
}

// WriteTo writes the model as one safetensors stream whose metadata
// holds the configuration (key "kiln_mlp_config"): the form to register in
// a model registry (version.Repository.RegisterModel). ReadMLP reads it.
func (m *MLP) WriteTo(w io.Writer) (int64, error) {
	js, err := json.Marshal(m.Config)
	if err != nil {
		return 0, err
	}
	ts := map[string]*tensor.Tensor{}
	for _, p := range m.Params() {
		ts[p.Name] = p.Value
	}
	cw := &countWriter{w: w}
	err = safetensors.Write(cw, ts, map[string]string{"format": "pt", "kiln_mlp_config": string(js)})
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadMLP reads a model written by WriteTo.
func ReadMLP(r io.Reader) (*MLP, error) {
	f, err := safetensors.Read(r, safetensors.ReadOptions{})
	if err != nil {
		return nil, fmt.Errorf("train: read model: %w", err)
	}
	js, ok := f.Metadata["kiln_mlp_config"]
	if !ok {
		return nil, fmt.Errorf("train: read model: %w: no kiln_mlp_config metadata", ErrCheckpoint)
	}
	var cfg MLPConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return nil, fmt.Errorf("train: read model: config: %w", err)
	}
	m, err := buildMLP(cfg)
	if err != nil {
		return nil, fmt.Errorf("train: read model: %w", err)
	}
	if err := loadParams(m.Params(), f.Tensors); err != nil {
		return nil, fmt.Errorf("train: read model: %w", err)
	}
	return m, nil
}

// LoadMLP reads a model written by Save.
func LoadMLP(dir string) (*MLP, error) {
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("train: load model: %w", err)
	}
	var cfg MLPConfig
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, fmt.Errorf("train: load model %s: config.json: %w", dir, err)
	}
	m, err := buildMLP(cfg)
	if err != nil {
		return nil, fmt.Errorf("train: load model %s: %w", dir, err)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"), safetensors.ReadOptions{})
	if err != nil {
		return nil, fmt.Errorf("train: load model: %w", err)
	}
	if err := loadParams(m.Params(), f.Tensors); err != nil {
		return nil, fmt.Errorf("train: load model %s: %w", dir, err)
	}
	return m, nil
}

// ErrCheckpoint is returned when a checkpoint or saved model does not
// match the model it is loaded into.
var ErrCheckpoint = errors.New("train: checkpoint does not match the model")

// loadParams copies the named tensors into the parameters.
func loadParams(ps []*Var, ts map[string]*tensor.Tensor) error {
	for _, p := range ps {
		t, ok := ts[p.Name]
		if !ok {
			return fmt.Errorf("%w: no tensor %q", ErrCheckpoint, p.Name)
		}
		if !slices.Equal(t.Shape(), p.Value.Shape()) {
			return fmt.Errorf("%w: %q is %v, the model's %v", ErrCheckpoint, p.Name, t.Shape(), p.Value.Shape())
		}
		if err := tensor.Copy(p.Value, t); err != nil {
			return err
		}
	}
	if extra := len(ts) - len(ps); extra > 0 {
		names := slices.Sorted(maps.Keys(ts))
		return fmt.Errorf("%w: %d tensors the model does not have (of %v)", ErrCheckpoint, extra, names)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, synced, then renamed over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("train: write %s: %w", path, err)
	}
	return nil
}
