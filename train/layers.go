package train

import (
	"fmt"
	"math"

	"github.com/kilnml/kiln/tensor"
)

// A Layer is a differentiable function with parameters: Linear, Dropout,
// LayerNorm, BatchNorm, Act, Sequential. Parameter names are relative to
// the layer ("weight", "bias"); Sequential prefixes its children's with
// their index ("0.weight"), as PyTorch names a state dict.
type Layer interface {
	// Forward computes the layer's output for a batch x.
	Forward(x *Var) *Var
	// Params returns the trainable parameters, in a fixed order.
	Params() []*Var
}

// Trainable is implemented by layers that behave differently in training
// and in evaluation (Dropout, BatchNorm, and Sequential, which passes the
// mode on). Layers start in training mode.
type Trainable interface {
	SetTraining(training bool)
}

// Stateful is implemented by layers with state that is not a parameter
// but belongs in a checkpoint: BatchNorm's running statistics, Dropout's
// random stream.
type Stateful interface {
	// State returns the state as named tensors (copies or live tensors the
	// caller must not modify).
	State() (map[string]*tensor.Tensor, error)
	// LoadState restores what State returned.
	LoadState(map[string]*tensor.Tensor) error
}

// Init is a weight initialization scheme.
type Init uint8

const (
	// InitDefault is PyTorch's default for Linear: weights and bias
	// uniform in ±1/√fanIn.
	InitDefault Init = iota
	// InitXavierUniform draws from ±√(6/(fanIn+fanOut)) (Glorot).
	InitXavierUniform
	// InitXavierNormal draws from N(0, 2/(fanIn+fanOut)).
	InitXavierNormal
	// InitHeUniform draws from ±√(6/fanIn) (Kaiming, for ReLU).
	InitHeUniform
	// InitHeNormal draws from N(0, 2/fanIn).
	InitHeNormal
)

// initWeights fills w [fanOut, fanIn] by scheme from rng.
func initWeights(rng *tensor.RNG, w *tensor.Tensor, scheme Init, fanIn, fanOut int) error {
	fi, fo := float64(max(fanIn, 1)), float64(max(fanOut, 1))
	switch scheme {
	case InitDefault:
		b := 1 / math.Sqrt(fi)
		return rng.Uniform(w, -b, b)
	case InitXavierUniform:
		b := math.Sqrt(6 / (fi + fo))
		return rng.Uniform(w, -b, b)
	case InitXavierNormal:
		return rng.Normal(w, 0, math.Sqrt(2/(fi+fo)))
	case InitHeUniform:
		b := math.Sqrt(6 / fi)
		return rng.Uniform(w, -b, b)
	case InitHeNormal:
		return rng.Normal(w, 0, math.Sqrt(2/fi))
	}
	return fmt.Errorf("train: unknown initialization %d", scheme)
}

// LinearLayerOptions configure NewDense (FitLinear, with LinearOptions,
// fits a linear regression).
type LinearLayerOptions struct {
	// NoBias leaves the bias out.
	NoBias bool
	// Act is an activation fused into the layer's GEMM.
	Act tensor.Activation
	// Init initializes the weights (the bias is always uniform in
	// ±1/√fanIn, or zero with InitXavier* and InitHe*).
	Init Init
}

// Dense is a fully connected layer: act(x·Wᵀ + b), W [out, in].
type Dense struct {
	Weight, Bias *Var
	Act          tensor.Activation
}

// NewDense returns a fully connected layer from in to out features,
// initialized from rng.
func NewDense(rng *tensor.RNG, in, out int, o LinearLayerOptions) (*Dense, error) {
	if in <= 0 || out <= 0 {
		return nil, fmt.Errorf("train: Dense %d→%d: sizes must be positive", in, out)
	}
	if rng == nil {
		return nil, fmt.Errorf("train: Dense: nil RNG")
	}
	w, err := tensor.Zeros(out, in)
	if err != nil {
		return nil, err
	}
	if err := initWeights(rng, w, o.Init, in, out); err != nil {
		return nil, err
	}
	d := &Dense{Weight: NewParam("weight", w), Act: o.Act}
	if !o.NoBias {
		b, err := tensor.Zeros(out)
		if err != nil {
			return nil, err
		}
		if o.Init == InitDefault {
			bound := 1 / math.Sqrt(float64(in))
			if err := rng.Uniform(b, -bound, bound); err != nil {
				return nil, err
			}
		}
		d.Bias = NewParam("bias", b)
	}
	return d, nil
}

// Forward returns act(x·Wᵀ + b) for x [n, in].
func (d *Dense) Forward(x *Var) *Var { return Linear(x, d.Weight, d.Bias, d.Act) }

// Params returns the weight and, if any, the bias.
func (d *Dense) Params() []*Var {
	if d.Bias == nil {
		return []*Var{d.Weight}
	}
	return []*Var{d.Weight, d.Bias}
}

// Act is an activation as a layer.
type Act struct{ Fn tensor.Activation }

// Forward applies the activation.
func (a Act) Forward(x *Var) *Var { return Activate(x, a.Fn) }

// Params returns nil: an activation has none.
func (Act) Params() []*Var { return nil }

// Sequential chains layers.
type Sequential struct {
	Layers []Layer
}

// NewSequential returns the chain of layers and names their parameters
// "<index>.<name>".
func NewSequential(layers ...Layer) *Sequential {
	for i, l := range layers {
		for _, p := range l.Params() {
			p.Name = fmt.Sprintf("%d.%s", i, p.Name)
		}
	}
	return &Sequential{Layers: layers}
}

// Forward runs the layers in order.
func (s *Sequential) Forward(x *Var) *Var {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Params returns every layer's parameters, in order.
func (s *Sequential) Params() []*Var {
	var ps []*Var
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// SetTraining sets the mode of every layer that has one.
func (s *Sequential) SetTraining(training bool) {
	for _, l := range s.Layers {
		if t, ok := l.(Trainable); ok {
			t.SetTraining(training)
		}
	}
}

// State returns the state of the stateful layers, named
// "<index>.<name>".
func (s *Sequential) State() (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for i, l := range s.Layers {
		st, ok := l.(Stateful)
		if !ok {
			continue
		}
		m, err := st.State()
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			out[fmt.Sprintf("%d.%s", i, k)] = v
		}
	}
	return out, nil
}

// LoadState restores State's result.
func (s *Sequential) LoadState(m map[string]*tensor.Tensor) error {
	for i, l := range s.Layers {
		st, ok := l.(Stateful)
		if !ok {
			continue
		}
		prefix := fmt.Sprintf("%d.", i)
		sub := map[string]*tensor.Tensor{}
		for k, v := range m {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				sub[k[len(prefix):]] = v
			}
		}
		if err := st.LoadState(sub); err != nil {
			return fmt.Errorf("train: layer %d: %w", i, err)
		}
	}
	return nil
}

// Dropout zeroes each element with probability P in training mode and
// scales the others by 1/(1-P); in evaluation mode it passes x through.
type Dropout struct {
	P        float64
	rng      *tensor.RNG
	training bool
}

// NewDropout returns a dropout layer whose masks are drawn from a stream
// of its own, seeded by seed.
func NewDropout(p float64, seed uint64) (*Dropout, error) {
	if !(p >= 0 && p < 1) {
		return nil, fmt.Errorf("train: dropout probability %v is not in [0, 1)", p)
	}
	return &Dropout{P: p, rng: tensor.NewRNG(seed), training: true}, nil
}

// SetTraining switches between training (dropping) and evaluation.
func (d *Dropout) SetTraining(training bool) { d.training = training }

// Params returns nil.
func (*Dropout) Params() []*Var { return nil }

// Forward applies the dropout mask.
func (d *Dropout) Forward(x *Var) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	if !d.training || d.P == 0 {
		return x
	}
	u, err := tensor.NewOn(x.Value.Device(), x.Value.DType(), x.Value.Shape()...)
	if err == nil {
		err = d.rng.Uniform(u, -d.P, 1-d.P) // u > 0 with probability 1-P
	}
	var keep *tensor.Tensor
	if err == nil {
		keep, err = scalarLike(u, 1/(1-d.P))
	}
	var mask *tensor.Tensor
	if err == nil {
		mask, err = gradOp(tensor.OpReLUGrad, mustBroadcast(keep, u), u)
	}
	if err != nil {
		return opErr("Dropout", err)
	}
	return Mul(x, Const(mask))
}

func mustBroadcast(s, like *tensor.Tensor) *tensor.Tensor {
	b, err := s.BroadcastTo(like.Shape()...)
	if err != nil {
		return s
	}
	return b
}

// State returns the random stream's position.
func (d *Dropout) State() (map[string]*tensor.Tensor, error) {
	t, err := rngTensor(d.rng.State())
	if err != nil {
		return nil, err
	}
	return map[string]*tensor.Tensor{"rng": t}, nil
}

// LoadState restores the random stream's position.
func (d *Dropout) LoadState(m map[string]*tensor.Tensor) error {
	t, ok := m["rng"]
	if !ok {
		return fmt.Errorf("train: dropout state has no \"rng\"")
	}
	s, err := rngFromTensor(t)
	if err != nil {
		return err
	}
	d.rng.SetState(s)
	return nil
}

// rngTensor encodes an RNG state exactly as four 32-bit halves in a float64
// tensor.
func rngTensor(s tensor.RNGState) (*tensor.Tensor, error) {
	return tensor.FromFloat64s([]float64{
		float64(s.Seed >> 32), float64(s.Seed & 0xffffffff),
		float64(s.Counter >> 32), float64(s.Counter & 0xffffffff),
	}, 4)
}

func rngFromTensor(t *tensor.Tensor) (tensor.RNGState, error) {
	v, err := t.Float64s()
	if err != nil {
		return tensor.RNGState{}, err
	}
	if len(v) != 4 {
		return tensor.RNGState{}, fmt.Errorf("train: RNG state of %d values, want 4", len(v))
	}
	for _, x := range v {
		if x < 0 || x > math.MaxUint32 || x != math.Trunc(x) {
			return tensor.RNGState{}, fmt.Errorf("train: corrupt RNG state %v", v)
		}
	}
	return tensor.RNGState{
		Seed:    uint64(v[0])<<32 | uint64(v[1]),
		Counter: uint64(v[2])<<32 | uint64(v[3]),
	}, nil
}

// LayerNorm normalizes each row over its last axis to mean 0 and variance
// 1, then scales by Weight and shifts by Bias (both [features]).
type LayerNorm struct {
	Weight, Bias *Var
	Eps          float64
}

// NewLayerNorm returns a layer norm over features with weight 1, bias 0
// and eps 1e-5.
func NewLayerNorm(features int) (*LayerNorm, error) {
	if features <= 0 {
		return nil, fmt.Errorf("train: LayerNorm of %d features", features)
	}
	w, err := tensor.Full(1, features)
	if err != nil {
		return nil, err
	}
	b, err := tensor.Zeros(features)
	if err != nil {
		return nil, err
	}
	return &LayerNorm{Weight: NewParam("weight", w), Bias: NewParam("bias", b), Eps: 1e-5}, nil
}

// Forward normalizes x [..., features].
func (l *LayerNorm) Forward(x *Var) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	xc := Sub(x, MeanKeep(x, -1))
	v := MeanKeep(Square(xc), -1)
	inv := Pow(AddScalar(v, l.Eps), -0.5)
	return Add(Mul(Mul(xc, inv), l.Weight), l.Bias)
}

// Params returns the weight and bias.
func (l *LayerNorm) Params() []*Var { return []*Var{l.Weight, l.Bias} }

// BatchNorm normalizes each feature of x [n, features] over the batch in
// training mode, keeping running estimates (momentum 0.1, unbiased
// variance, as PyTorch's BatchNorm1d) that evaluation mode uses instead.
type BatchNorm struct {
	Weight, Bias            *Var
	RunningMean, RunningVar *tensor.Tensor
	Eps, Momentum           float64
	training                bool
}

// NewBatchNorm returns a batch norm over features.
func NewBatchNorm(features int) (*BatchNorm, error) {
	ln, err := NewLayerNorm(features)
	if err != nil {
		return nil, fmt.Errorf("train: BatchNorm of %d features", features)
	}
	rm, err := tensor.Zeros(features)
	if err != nil {
		return nil, err
	}
	rv, err := tensor.Full(1, features)
	if err != nil {
		return nil, err
	}
	return &BatchNorm{Weight: ln.Weight, Bias: ln.Bias, RunningMean: rm, RunningVar: rv, Eps: 1e-5, Momentum: 0.1, training: true}, nil
}

// SetTraining switches between batch statistics (training) and running
// statistics (evaluation).
func (b *BatchNorm) SetTraining(training bool) { b.training = training }

// Params returns the weight and bias.
func (b *BatchNorm) Params() []*Var { return []*Var{b.Weight, b.Bias} }

// Forward normalizes x [n, features].
func (b *BatchNorm) Forward(x *Var) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	xs := x.Value.Shape()
	if len(xs) != 2 || xs[1] != b.RunningMean.Len() {
		return opErr("BatchNorm", fmt.Errorf("%w: input %v for %d features", tensor.ErrShape, xs, b.RunningMean.Len()))
	}
	if dt := x.Value.DType(); b.RunningMean.DType() != dt {
		// The running statistics follow the type of the data.
		rm, err := b.RunningMean.AsType(dt)
		if err != nil {
			return opErr("BatchNorm", err)
		}
		rv, err := b.RunningVar.AsType(dt)
		if err != nil {
			return opErr("BatchNorm", err)
		}
		b.RunningMean, b.RunningVar = rm, rv
	}
	if !b.training {
		std := Pow(AddScalar(Const(b.RunningVar), b.Eps), -0.5)
		return Add(Mul(Mul(Sub(x, Const(b.RunningMean)), std), b.Weight), b.Bias)
	}
	mu := MeanKeep(x, 0)
	xc := Sub(x, mu)
	v := MeanKeep(Square(xc), 0)
	y := Add(Mul(Mul(xc, Pow(AddScalar(v, b.Eps), -0.5)), b.Weight), b.Bias)
	if err := y.Err(); err != nil {
		return y
	}
	// Running estimates: r = (1-m)·r + m·batch (unbiased variance).
	n := float64(xs[0])
	if err := b.update(b.RunningMean, mu.Value, 1); err != nil {
		return opErr("BatchNorm", err)
	}
	if n > 1 {
		if err := b.update(b.RunningVar, v.Value, n/(n-1)); err != nil {
			return opErr("BatchNorm", err)
		}
	}
	return y
}

// update sets r = (1-m)·r + m·c·batch.
func (b *BatchNorm) update(r, batch *tensor.Tensor, c float64) error {
	flat, err := batch.Reshape(r.Len())
	if err != nil {
		return err
	}
	nb, err := scale(flat, b.Momentum*c)
	if err != nil {
		return err
	}
	keep, err := scalarLike(r, 1-b.Momentum)
	if err != nil {
		return err
	}
	if err := tensor.Binary(tensor.OpMul, r, r, keep); err != nil {
		return err
	}
	return tensor.Binary(tensor.OpAdd, r, r, nb)
}

// State returns the running mean and variance.
func (b *BatchNorm) State() (map[string]*tensor.Tensor, error) {
	return map[string]*tensor.Tensor{"running_mean": b.RunningMean, "running_var": b.RunningVar}, nil
}

// LoadState restores the running statistics.
func (b *BatchNorm) LoadState(m map[string]*tensor.Tensor) error {
	for _, k := range []string{"running_mean", "running_var"} {
		t, ok := m[k]
		if !ok || t.Len() != b.RunningMean.Len() {
			return fmt.Errorf("train: batch norm state %q missing or of the wrong size", k)
		}
	}
	var err error
	if b.RunningMean, err = m["running_mean"].AsType(tensor.Float32); err != nil {
		return err
	}
	b.RunningVar, err = m["running_var"].AsType(tensor.Float32)
	return err
}

// Embed is an embedding layer: a [vocab, dim] table whose rows stand for
// the codes of a categorical feature, learned with the model. Its input
// is codes, not a Var, so it is not a Layer; MLP uses one per categorical
// column.
type Embed struct {
	Table *Var
}

// NewEmbed returns an embedding of vocab codes into dim values, drawn
// from N(0, 1) as PyTorch's Embedding does.
func NewEmbed(rng *tensor.RNG, vocab, dim int) (*Embed, error) {
	if vocab <= 0 || dim <= 0 {
		return nil, fmt.Errorf("train: Embed of %d codes into %d values: sizes must be positive", vocab, dim)
	}
	if rng == nil {
		return nil, fmt.Errorf("train: Embed: nil RNG")
	}
	t, err := tensor.Zeros(vocab, dim)
	if err != nil {
		return nil, err
	}
	if err := rng.Normal(t, 0, 1); err != nil {
		return nil, err
	}
	return &Embed{Table: NewParam("weight", t)}, nil
}

// Lookup returns the rows of the codes, [len(codes), dim]; a code outside
// [0, vocab) is an error.
func (e *Embed) Lookup(codes []int32) *Var { return Embedding(e.Table, codes) }

// Params returns the table.
func (e *Embed) Params() []*Var { return []*Var{e.Table} }
