package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/kilnml/kiln/tensor"
)

// Sentinel errors of the optimizers, schedules and gradient clipping.
var (
	// ErrInvalidOption is returned for an option or argument out of its
	// range: a negative learning rate, a beta outside [0, 1), a schedule
	// whose step size is 0, a clipping bound that is not positive.
	ErrInvalidOption = errors.New("train: invalid option")
	// ErrBadParams is returned for a parameter list an optimizer or a
	// clipping function cannot use (empty, a nil or failed Var, a
	// parameter listed twice, two parameters with one name, an unnamed
	// or non-float32 parameter), and by Step for a gradient whose type,
	// shape or device differs from its parameter's.
	ErrBadParams = errors.New("train: bad parameters")
	// ErrStateMismatch is returned by Optimizer.LoadState for a state
	// that does not belong to the optimizer's parameters and options: an
	// unknown parameter or slot, a shape or type that differs, an
	// incomplete set of slots for a parameter.
	ErrStateMismatch = errors.New("train: optimizer state mismatch")
	// ErrNonFiniteNorm is returned by ClipGradNorm when the total norm of
	// the gradients is infinite or NaN; the gradients are left unchanged.
	ErrNonFiniteNorm = errors.New("train: non-finite gradient norm")
)

// An Optimizer updates parameters from their gradients. SGD, Adam (and
// AdamW), RMSProp and AdaGrad implement it, with PyTorch 1.13's update
// formulas computed in float32 by tensor operations on the parameters'
// device.
//
// An Optimizer is not safe for concurrent use.
type Optimizer interface {
	// Step applies one update to every parameter whose Grad is not nil;
	// parameters without a gradient (and their state) are left as they
	// are.
	Step() error
	// ZeroGrad sets every parameter's Grad to nil.
	ZeroGrad()
	// LR returns the current learning rate.
	LR() float64
	// SetLR sets the learning rate of the next steps; schedules call it.
	// An invalid rate (negative, NaN or infinite) makes Step fail.
	SetLR(lr float64)
	// State returns a copy of the optimizer's state for a checkpoint.
	State() OptimizerState
	// LoadState replaces the optimizer's state with s, which must come
	// from an optimizer of the same kind and options over parameters of
	// the same names and shapes; otherwise it returns an error wrapping
	// ErrStateMismatch and changes nothing.
	LoadState(s OptimizerState) error
}

// OptimizerState is the state of an Optimizer, for checkpoints: loading
// it into a fresh optimizer over the same parameters and continuing gives
// bit-identical results to never having stopped.
type OptimizerState struct {
	// Steps is the number of Step calls made.
	Steps int64
	// LR is the learning rate.
	LR float64
	// Slots holds the per-parameter tensors, keyed "<param name>/<slot>",
	// for example "0.weight/exp_avg" (slot names are PyTorch's:
	// momentum_buffer, exp_avg, exp_avg_sq, max_exp_avg_sq, square_avg,
	// grad_avg, sum). A parameter's "step" slot, where the algorithm keeps
	// one, is a rank-0 float64 tensor counting the updates that parameter
	// received. A parameter that never had a gradient has no slots. The
	// tensors are copies: changing them does not change the optimizer.
	Slots map[string]*tensor.Tensor
}

// optBase holds what every optimizer shares: the parameters, the learning
// rate, the step count, the per-parameter state and scratch space.
type optBase struct {
	kind   string
	params []*Var
	lr     float64
	steps  int64
	// slots[i] holds parameter i's state tensors by slot name; nil until
	// the parameter's first update.
	slots []map[string]*tensor.Tensor
	// pstep[i] counts the updates of parameter i (kept when hasStep).
	pstep   []int64
	hasStep bool
	// names are the tensor slots the options use.
	names []string
	// ws holds two flat scratch buffers per device (by name).
	ws map[string]*[2]*tensor.Tensor
	// scal caches scalar tensors per device and value within a Step.
	scal map[optScalarKey]*tensor.Tensor
	// fusable optimizers (Adam, SGD) try a fused update first and
	// allocate scratch space only when they fall back to composed
	// operations; composed turns the fused updates off, for tests that
	// compare the two paths.
	fusable, composed bool
}

type optScalarKey struct {
	dev string
	v   float32
}

func newOptBase(kind string, params []*Var, lr float64, hasStep bool, names []string) (optBase, error) {
	if err := checkOptParams(kind, params, true); err != nil {
		return optBase{}, err
	}
	return optBase{
		kind:    kind,
		params:  slices.Clone(params),
		lr:      lr,
		slots:   make([]map[string]*tensor.Tensor, len(params)),
		pstep:   make([]int64, len(params)),
		hasStep: hasStep,
		names:   names,
		ws:      map[string]*[2]*tensor.Tensor{},
	}, nil
}

// checkOptParams validates a parameter list; named requires unique non-empty
// names (optimizers key their state by name).
func checkOptParams(kind string, params []*Var, named bool) error {
	if len(params) == 0 {
		return fmt.Errorf("train: %s: empty parameter list: %w", kind, ErrBadParams)
	}
	seen := make(map[*Var]int, len(params))
	names := make(map[string]int, len(params))
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("train: %s: parameter %d is nil: %w", kind, i, ErrBadParams)
		}
		if err := p.Err(); err != nil {
			return fmt.Errorf("train: %s: parameter %d (%q) failed: %w", kind, i, p.Name, err)
		}
		if p.Value == nil {
			return fmt.Errorf("train: %s: parameter %d (%q) has no value: %w", kind, i, p.Name, ErrBadParams)
		}
		if p.Value.DType() != tensor.Float32 {
			return fmt.Errorf("train: %s: parameter %d (%q) is %s, want float32: %w", kind, i, p.Name, p.Value.DType(), ErrBadParams)
		}
		if j, ok := seen[p]; ok {
			return fmt.Errorf("train: %s: parameters %d and %d are the same Var: %w", kind, j, i, ErrBadParams)
		}
		seen[p] = i
		if !named {
			continue
		}
		if p.Name == "" {
			return fmt.Errorf("train: %s: parameter %d has no name (optimizer state is keyed by name): %w", kind, i, ErrBadParams)
		}
		if j, ok := names[p.Name]; ok {
			return fmt.Errorf("train: %s: parameters %d and %d are both named %q: %w", kind, j, i, p.Name, ErrBadParams)
		}
		names[p.Name] = i
	}
	return nil
}

// checkOptGrad validates a parameter's gradient before an update.
func checkOptGrad(kind string, p *Var) error {
	g := p.Grad
	if g.DType() != tensor.Float32 {
		return fmt.Errorf("train: %s: gradient of %q is %s, want float32: %w", kind, p.Name, g.DType(), ErrBadParams)
	}
	if !slices.Equal(g.Shape(), p.Value.Shape()) {
		return fmt.Errorf("train: %s: gradient of %q has shape %v, parameter %v: %w", kind, p.Name, g.Shape(), p.Value.Shape(), ErrBadParams)
	}
	if gd, vd := g.Device(), p.Value.Device(); gd == nil || vd == nil || gd.Name() != vd.Name() {
		return fmt.Errorf("train: %s: gradient of %q is on another device than the parameter: %w", kind, p.Name, ErrBadParams)
	}
	return nil
}

func optFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// optErr returns an ErrInvalidOption error for field of kind.
func optErr(kind, field string, v float64, want string) error {
	return fmt.Errorf("train: %s: %s = %v, want %s: %w", kind, field, v, want, ErrInvalidOption)
}

// optCheckLR validates a learning rate option (after defaults).
func optCheckLR(kind string, lr float64) error {
	if !optFinite(lr) || lr < 0 {
		return optErr(kind, "LR", lr, "a finite value >= 0")
	}
	return nil
}

// optCheckNonNeg validates an option that must be finite and >= 0.
func optCheckNonNeg(kind, field string, v float64) error {
	if !optFinite(v) || v < 0 {
		return optErr(kind, field, v, "a finite value >= 0")
	}
	return nil
}

// optCheckBeta validates an option in [0, 1).
func optCheckBeta(kind, field string, v float64) error {
	if !(v >= 0 && v < 1) {
		return optErr(kind, field, v, "a value in [0, 1)")
	}
	return nil
}

func optDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// LR returns the current learning rate.
func (b *optBase) LR() float64 { return b.lr }

// SetLR sets the learning rate of the next steps. An invalid rate
// (negative, NaN or infinite) makes Step fail with ErrInvalidOption.
func (b *optBase) SetLR(lr float64) { b.lr = lr }

// ZeroGrad sets every parameter's Grad to nil.
func (b *optBase) ZeroGrad() {
	for _, p := range b.params {
		p.Grad = nil
	}
}

// step runs update for every parameter with a gradient, after checking
// the learning rate and every gradient.
func (b *optBase) step(update func(i int, p *Var, st map[string]*tensor.Tensor, k *optKernel) error) error {
	if !optFinite(b.lr) || b.lr < 0 {
		return fmt.Errorf("train: %s: learning rate %v, want a finite value >= 0: %w", b.kind, b.lr, ErrInvalidOption)
	}
	for _, p := range b.params {
		if p.Grad != nil {
			if err := checkOptGrad(b.kind, p); err != nil {
				return err
			}
		}
	}
	b.scal = map[optScalarKey]*tensor.Tensor{}
	defer func() { b.scal = nil }()
	for i, p := range b.params {
		if p.Grad == nil {
			continue
		}
		dev := p.Value.Device()
		k := &optKernel{b: b, dev: dev, name: p.Name, shape: p.Value.Shape()}
		if !b.fusable || b.composed {
			if err := k.needScratch(); err != nil {
				return err
			}
		}
		if b.slots[i] == nil {
			st := make(map[string]*tensor.Tensor, len(b.names))
			for _, n := range b.names {
				t, err := tensor.NewOn(dev, tensor.Float32, p.Value.Shape()...)
				if err != nil {
					return fmt.Errorf("train: %s: state %q of %q: %w", b.kind, n, p.Name, err)
				}
				st[n] = t
			}
			b.slots[i] = st
			b.pstep[i] = 0
			k.fresh = true
		}
		if b.hasStep {
			b.pstep[i]++
		}
		if err := update(i, p, b.slots[i], k); err != nil {
			return fmt.Errorf("train: %s: update of %q: %w", b.kind, p.Name, err)
		}
		if k.err != nil {
			return fmt.Errorf("train: %s: update of %q: %w", b.kind, p.Name, k.err)
		}
	}
	b.steps++
	return nil
}

// scratch returns two scratch tensors of the given shape on dev, views of
// flat per-device buffers grown as needed.
func (b *optBase) scratch(dev tensor.Device, shape []int) (*tensor.Tensor, *tensor.Tensor, error) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	w := b.ws[dev.Name()]
	if w == nil || w[0].Len() < n {
		w = new([2]*tensor.Tensor)
		for j := range w {
			t, err := tensor.NewOn(dev, tensor.Float32, max(n, 1))
			if err != nil {
				return nil, nil, err
			}
			w[j] = t
		}
		b.ws[dev.Name()] = w
	}
	var out [2]*tensor.Tensor
	for j := range out {
		s, err := w[j].Slice(0, 0, n)
		if err != nil {
			return nil, nil, err
		}
		if out[j], err = s.Reshape(shape...); err != nil {
			return nil, nil, err
		}
	}
	return out[0], out[1], nil
}

// optKernel runs the elementwise operations of one parameter's update,
// keeping the first error.
type optKernel struct {
	b        *optBase
	dev      tensor.Device
	name     string // the parameter's
	shape    []int
	ws0, ws1 *tensor.Tensor // scratch, set by needScratch
	fresh    bool           // the state was just created (first update)
	err      error
}

// needScratch sets ws0 and ws1 to scratch tensors of the parameter's
// shape.
func (k *optKernel) needScratch() error {
	if k.ws0 != nil {
		return nil
	}
	ws0, ws1, err := k.b.scratch(k.dev, k.shape)
	if err != nil {
		return fmt.Errorf("train: %s: scratch space for %q: %w", k.b.kind, k.name, err)
	}
	k.ws0, k.ws1 = ws0, ws1
	return nil
}

// s returns v as a rank-0 float32 tensor on the optKernel's device.
func (k *optKernel) s(v float64) *tensor.Tensor {
	key := optScalarKey{k.dev.Name(), float32(v)}
	if t, ok := k.b.scal[key]; ok {
		return t
	}
	t, err := tensor.Scalar(float32(v)).To(k.dev)
	if err != nil {
		if k.err == nil {
			k.err = err
		}
		return tensor.Scalar(float32(v))
	}
	k.b.scal[key] = t
	return t
}

func (k *optKernel) bin(op tensor.BinaryOp, dst, a, b *tensor.Tensor) {
	if k.err == nil {
		k.err = tensor.Binary(op, dst, a, b)
	}
}

func (k *optKernel) un(op tensor.UnaryOp, dst, a *tensor.Tensor) {
	if k.err == nil {
		k.err = tensor.Unary(op, dst, a, 0)
	}
}

func (k *optKernel) copy(dst, src *tensor.Tensor) {
	if k.err == nil {
		k.err = tensor.Copy(dst, src)
	}
}

// decayedGrad returns grad + wd·param (in ws0) when wd is not 0, else the
// gradient itself.
func (k *optKernel) decayedGrad(p *Var, wd float64) *tensor.Tensor {
	if wd == 0 {
		return p.Grad
	}
	k.bin(tensor.OpMul, k.ws0, p.Value, k.s(wd))
	k.bin(tensor.OpAdd, k.ws0, p.Grad, k.ws0)
	return k.ws0
}

// ema sets dst = dst·decay + src·(1-decay), using ws1.
func (k *optKernel) ema(dst, src *tensor.Tensor, decay float64) {
	k.bin(tensor.OpMul, dst, dst, k.s(decay))
	k.bin(tensor.OpMul, k.ws1, src, k.s(1-decay))
	k.bin(tensor.OpAdd, dst, dst, k.ws1)
}

// emaSq sets dst = dst·decay + src²·(1-decay), using ws1.
func (k *optKernel) emaSq(dst, src *tensor.Tensor, decay float64) {
	k.bin(tensor.OpMul, dst, dst, k.s(decay))
	k.bin(tensor.OpMul, k.ws1, src, src)
	k.bin(tensor.OpMul, k.ws1, k.ws1, k.s(1-decay))
	k.bin(tensor.OpAdd, dst, dst, k.ws1)
}

// State returns a copy of the state (see OptimizerState). A slot that
// cannot be copied (a device out of memory) is left out, which LoadState
// then reports as a missing slot.
func (b *optBase) State() OptimizerState {
	s := OptimizerState{Steps: b.steps, LR: b.lr, Slots: map[string]*tensor.Tensor{}}
	for i, p := range b.params {
		st := b.slots[i]
		if st == nil {
			continue
		}
		for _, n := range b.names {
			if c, err := st[n].Clone(); err == nil {
				s.Slots[p.Name+"/"+n] = c
			}
		}
		if b.hasStep {
			t, err := tensor.FromFloat64s([]float64{float64(b.pstep[i])})
			if err == nil {
				t, err = t.Reshape()
			}
			if err == nil {
				s.Slots[p.Name+"/step"] = t
			}
		}
	}
	return s
}

// LoadState replaces the state with a copy of s (moved to each
// parameter's device), after checking all of it: on error, it wraps
// ErrStateMismatch and nothing changes. An empty Slots map (the state of
// an optimizer that never stepped) resets every parameter's state.
func (b *optBase) LoadState(s OptimizerState) error {
	kind := b.kind
	if !optFinite(s.LR) || s.LR < 0 {
		return fmt.Errorf("train: %s: load state: learning rate %v: %w", kind, s.LR, ErrStateMismatch)
	}
	if s.Steps < 0 {
		return fmt.Errorf("train: %s: load state: negative step count %d: %w", kind, s.Steps, ErrStateMismatch)
	}
	byName := make(map[string]int, len(b.params))
	for i, p := range b.params {
		byName[p.Name] = i
	}
	want := slices.Clone(b.names)
	if b.hasStep {
		want = append(want, "step")
	}
	slots := make([]map[string]*tensor.Tensor, len(b.params))
	psteps := make([]int64, len(b.params))
	found := make([]int, len(b.params))
	// Sorted keys make the first error reported deterministic.
	keys := make([]string, 0, len(s.Slots))
	for key := range s.Slots {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		t := s.Slots[key]
		cut := strings.LastIndexByte(key, '/')
		if cut < 0 {
			return fmt.Errorf("train: %s: load state: slot key %q is not \"<param>/<slot>\": %w", kind, key, ErrStateMismatch)
		}
		name, slot := key[:cut], key[cut+1:]
		i, ok := byName[name]
		if !ok {
			return fmt.Errorf("train: %s: load state: slot %q names no parameter of this optimizer: %w", kind, key, ErrStateMismatch)
		}
		if !slices.Contains(want, slot) {
			return fmt.Errorf("train: %s: load state: slot %q: this optimizer's options keep no %q slot (want %v): %w", kind, key, slot, want, ErrStateMismatch)
		}
		if t == nil {
			return fmt.Errorf("train: %s: load state: slot %q is nil: %w", kind, key, ErrStateMismatch)
		}
		p := b.params[i]
		if slot == "step" {
			if t.Len() != 1 || t.Rank() != 0 {
				return fmt.Errorf("train: %s: load state: slot %q has shape %v, want a rank-0 tensor: %w", kind, key, t.Shape(), ErrStateMismatch)
			}
			v, err := t.At()
			if err != nil {
				return fmt.Errorf("train: %s: load state: slot %q: %w", kind, key, err)
			}
			if v < 1 || v != math.Trunc(v) || v > 1<<53 {
				return fmt.Errorf("train: %s: load state: slot %q holds %v, want a whole number >= 1: %w", kind, key, v, ErrStateMismatch)
			}
			psteps[i] = int64(v)
			found[i]++
			continue
		}
		if t.DType() != tensor.Float32 || !slices.Equal(t.Shape(), p.Value.Shape()) {
			return fmt.Errorf("train: %s: load state: slot %q is %s %v, parameter %q is float32 %v: %w",
				kind, key, t.DType(), t.Shape(), name, p.Value.Shape(), ErrStateMismatch)
		}
		c, err := t.To(p.Value.Device())
		if err == nil && c == t {
			c, err = t.Clone()
		}
		if err != nil {
			return fmt.Errorf("train: %s: load state: slot %q: %w", kind, key, err)
		}
		if slots[i] == nil {
			slots[i] = make(map[string]*tensor.Tensor, len(b.names))
		}
		slots[i][slot] = c
		found[i]++
	}
	for i, p := range b.params {
		if found[i] != 0 && found[i] != len(want) {
			var missing []string
			for _, n := range want {
				if _, ok := s.Slots[p.Name+"/"+n]; !ok {
					missing = append(missing, n)
				}
			}
			return fmt.Errorf("train: %s: load state: parameter %q lacks slots %v: %w", kind, p.Name, missing, ErrStateMismatch)
		}
	}
	b.slots, b.pstep, b.steps, b.lr = slots, psteps, s.Steps, s.LR
	return nil
}

// SGDOptions configure NewSGD. The zero value is plain SGD with learning
// rate 0.01.
type SGDOptions struct {
	// LR is the learning rate; 0 means 0.01.
	LR float64
	// Momentum is the momentum factor (>= 0); 0 means none.
	Momentum float64
	// Dampening scales the new gradient's share of the momentum buffer by
	// 1-Dampening; 0 means no dampening.
	Dampening float64
	// Nesterov uses Nesterov momentum; it needs Momentum > 0 and
	// Dampening 0.
	Nesterov bool
	// WeightDecay adds WeightDecay·param to the gradient (L2 penalty);
	// 0 means none.
	WeightDecay float64
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and weight decay, as PyTorch 1.13's torch.optim.SGD:
//
//	g = grad + weight_decay·p
//	b = g on the first step, else momentum·b + (1-dampening)·g
//	g = g + momentum·b (Nesterov) or b
//	p = p - lr·g
//
// Its state slot is "momentum_buffer" (with momentum only).
type SGD struct {
	optBase
	o SGDOptions
}

// NewSGD returns an SGD optimizer over params, which must be non-nil,
// distinct, uniquely named float32 parameters.
func NewSGD(params []*Var, o SGDOptions) (*SGD, error) {
	const kind = "SGD"
	o.LR = optDefault(o.LR, 0.01)
	if err := optCheckLR(kind, o.LR); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "Momentum", o.Momentum); err != nil {
		return nil, err
	}
	if !optFinite(o.Dampening) {
		return nil, optErr(kind, "Dampening", o.Dampening, "a finite value")
	}
	if err := optCheckNonNeg(kind, "WeightDecay", o.WeightDecay); err != nil {
		return nil, err
	}
	if o.Nesterov && (o.Momentum <= 0 || o.Dampening != 0) {
		return nil, fmt.Errorf("train: SGD: Nesterov momentum needs Momentum > 0 and Dampening 0 (have %v and %v): %w", o.Momentum, o.Dampening, ErrInvalidOption)
	}
	var names []string
	if o.Momentum != 0 {
		names = []string{"momentum_buffer"}
	}
	b, err := newOptBase(kind, params, o.LR, false, names)
	if err != nil {
		return nil, err
	}
	b.fusable = true
	return &SGD{optBase: b, o: o}, nil
}

// Step applies one SGD update to every parameter with a gradient. On a
// device with fused updates (tensor.OptimizerDevice: the CPU, CUDA) each
// parameter is updated in one pass by tensor.FusedSGD, which gives the
// bits of the elementwise operations used elsewhere.
func (s *SGD) Step() error {
	o := s.o
	return s.step(func(i int, p *Var, st map[string]*tensor.Tensor, k *optKernel) error {
		if !s.composed {
			err := tensor.FusedSGD(p.Value, p.Grad, st["momentum_buffer"], tensor.SGDArgs{
				LR: s.lr, Momentum: o.Momentum, Dampening: o.Dampening, WeightDecay: o.WeightDecay,
				Nesterov: o.Nesterov, First: k.fresh,
			})
			if !errors.Is(err, errors.ErrUnsupported) {
				return err
			}
			if err := k.needScratch(); err != nil {
				return err
			}
		}
		d := k.decayedGrad(p, o.WeightDecay)
		if o.Momentum != 0 {
			buf := st["momentum_buffer"]
			if k.fresh {
				k.copy(buf, d)
			} else {
				k.ema2(buf, d, o.Momentum, 1-o.Dampening)
			}
			if o.Nesterov {
				k.bin(tensor.OpMul, k.ws1, buf, k.s(o.Momentum))
				k.bin(tensor.OpAdd, k.ws1, d, k.ws1)
			} else {
				k.copy(k.ws1, buf)
			}
		} else {
			k.copy(k.ws1, d)
		}
		k.bin(tensor.OpMul, k.ws1, k.ws1, k.s(s.lr))
		k.bin(tensor.OpSub, p.Value, p.Value, k.ws1)
		return nil
	})
}

// ema2 sets dst = dst·a + src·c, using ws1.
func (k *optKernel) ema2(dst, src *tensor.Tensor, a, c float64) {
	k.bin(tensor.OpMul, dst, dst, k.s(a))
	k.bin(tensor.OpMul, k.ws1, src, k.s(c))
	k.bin(tensor.OpAdd, dst, dst, k.ws1)
}

// AdamOptions configure NewAdam and NewAdamW. The zero value gives
// PyTorch's defaults (for AdamW including its weight decay of 0.01).
type AdamOptions struct {
	// LR is the learning rate; 0 means 1e-3.
	LR float64
	// Beta1 is the decay of the running mean of the gradient, in [0, 1);
	// 0 means 0.9.
	Beta1 float64
	// Beta2 is the decay of the running mean of the squared gradient, in
	// [0, 1); 0 means 0.999.
	Beta2 float64
	// Eps is added to the denominator; 0 means 1e-8.
	Eps float64
	// WeightDecay is, for Adam, an L2 penalty added to the gradient
	// (WeightDecay·param; 0 means none) and, for AdamW, the decoupled
	// decay p = p·(1 - LR·WeightDecay) (0 means 0.01, PyTorch's default;
	// see NoWeightDecay).
	WeightDecay float64
	// NoWeightDecay turns AdamW's decoupled weight decay off (AdamW is
	// then Adam); WeightDecay must then be 0. It changes nothing for Adam
	// with WeightDecay 0.
	NoWeightDecay bool
	// AMSGrad uses the maximum of the past squared-gradient averages in
	// the denominator (the AMSGrad variant).
	AMSGrad bool
}

// Adam is the Adam optimizer (NewAdam) or AdamW with decoupled weight
// decay (NewAdamW), as PyTorch 1.13's torch.optim.Adam and AdamW. With t
// the parameter's update count:
//
//	p = p·(1 - lr·wd)                      (AdamW)
//	g = grad + wd·p                        (Adam)
//	m = β1·m + (1-β1)·g
//	v = β2·v + (1-β2)·g²
//	v̂ = max(v̂, v) (AMSGrad), else v̂ = v
//	p = p - lr/(1-β1^t) · m / (sqrt(v̂)/sqrt(1-β2^t) + eps)
//
// Its state slots are "exp_avg", "exp_avg_sq", "max_exp_avg_sq" (AMSGrad
// only) and "step".
type Adam struct {
	optBase
	o         AdamOptions
	decoupled bool
}

// NewAdam returns an Adam optimizer over params, which must be non-nil,
// distinct, uniquely named float32 parameters. WeightDecay is an L2
// penalty added to the gradient.
func NewAdam(params []*Var, o AdamOptions) (*Adam, error) {
	if o.NoWeightDecay && o.WeightDecay != 0 {
		return nil, fmt.Errorf("train: Adam: NoWeightDecay with WeightDecay %v: %w", o.WeightDecay, ErrInvalidOption)
	}
	return newAdam("Adam", params, o, false)
}

// NewAdamW returns an AdamW optimizer (Adam with decoupled weight decay)
// over params. WeightDecay 0 means 0.01, PyTorch's default; set
// NoWeightDecay to turn the decay off.
func NewAdamW(params []*Var, o AdamOptions) (*Adam, error) {
	if o.NoWeightDecay {
		if o.WeightDecay != 0 {
			return nil, fmt.Errorf("train: AdamW: NoWeightDecay with WeightDecay %v: %w", o.WeightDecay, ErrInvalidOption)
		}
	} else {
		o.WeightDecay = optDefault(o.WeightDecay, 0.01)
	}
	return newAdam("AdamW", params, o, true)
}

func newAdam(kind string, params []*Var, o AdamOptions, decoupled bool) (*Adam, error) {
	o.LR = optDefault(o.LR, 1e-3)
	o.Beta1 = optDefault(o.Beta1, 0.9)
	o.Beta2 = optDefault(o.Beta2, 0.999)
	o.Eps = optDefault(o.Eps, 1e-8)
	if err := optCheckLR(kind, o.LR); err != nil {
		return nil, err
	}
	if err := optCheckBeta(kind, "Beta1", o.Beta1); err != nil {
		return nil, err
	}
	if err := optCheckBeta(kind, "Beta2", o.Beta2); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "Eps", o.Eps); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "WeightDecay", o.WeightDecay); err != nil {
		return nil, err
	}
	names := []string{"exp_avg", "exp_avg_sq"}
	if o.AMSGrad {
		names = append(names, "max_exp_avg_sq")
	}
	b, err := newOptBase(kind, params, o.LR, true, names)
	if err != nil {
		return nil, err
	}
	b.fusable = true
	return &Adam{optBase: b, o: o, decoupled: decoupled}, nil
}

// Step applies one Adam (or AdamW) update to every parameter with a
// gradient. On a device with fused updates (tensor.OptimizerDevice: the
// CPU, CUDA) each parameter is updated in one pass by tensor.FusedAdam,
// which gives the bits of the elementwise operations used elsewhere.
func (a *Adam) Step() error {
	o := a.o
	return a.step(func(i int, p *Var, st map[string]*tensor.Tensor, k *optKernel) error {
		lr := a.lr
		if !a.composed {
			err := tensor.FusedAdam(p.Value, p.Grad, st["exp_avg"], st["exp_avg_sq"], st["max_exp_avg_sq"], tensor.AdamArgs{
				LR: lr, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay,
				Decoupled: a.decoupled, AMSGrad: o.AMSGrad, Step: int(a.pstep[i]),
			})
			if !errors.Is(err, errors.ErrUnsupported) {
				return err
			}
			if err := k.needScratch(); err != nil {
				return err
			}
		}
		d := p.Grad
		if a.decoupled {
			if o.WeightDecay != 0 {
				k.bin(tensor.OpMul, p.Value, p.Value, k.s(1-lr*o.WeightDecay))
			}
		} else {
			d = k.decayedGrad(p, o.WeightDecay)
		}
		m, v := st["exp_avg"], st["exp_avg_sq"]
		k.ema(m, d, o.Beta1)
		k.emaSq(v, d, o.Beta2)
		t := float64(a.pstep[i])
		bc1 := 1 - math.Pow(o.Beta1, t)
		bc2 := 1 - math.Pow(o.Beta2, t)
		stepSize := lr / bc1
		src := v
		if o.AMSGrad {
			vmax := st["max_exp_avg_sq"]
			k.bin(tensor.OpMaximum, vmax, vmax, v)
			src = vmax
		}
		k.un(tensor.OpSqrt, k.ws1, src)
		k.bin(tensor.OpDiv, k.ws1, k.ws1, k.s(math.Sqrt(bc2)))
		k.bin(tensor.OpAdd, k.ws1, k.ws1, k.s(o.Eps))
		k.bin(tensor.OpDiv, k.ws1, m, k.ws1)
		k.bin(tensor.OpMul, k.ws1, k.ws1, k.s(stepSize))
		k.bin(tensor.OpSub, p.Value, p.Value, k.ws1)
		return nil
	})
}

// RMSPropOptions configure NewRMSProp. The zero value gives PyTorch's
// defaults.
type RMSPropOptions struct {
	// LR is the learning rate; 0 means 0.01.
	LR float64
	// Alpha is the decay of the running mean of the squared gradient, in
	// [0, 1); 0 means 0.99.
	Alpha float64
	// Eps is added to the denominator; 0 means 1e-8.
	Eps float64
	// Momentum is the momentum factor (>= 0); 0 means none.
	Momentum float64
	// Centered divides by the estimated variance of the gradient (the
	// mean square minus the squared mean) instead of the mean square.
	Centered bool
	// WeightDecay adds WeightDecay·param to the gradient; 0 means none.
	WeightDecay float64
}

// RMSProp is the RMSprop optimizer, as PyTorch 1.13's torch.optim.RMSprop:
//
//	g = grad + wd·p
//	s = α·s + (1-α)·g²
//	a = α·a + (1-α)·g; d = sqrt(s - a²) + eps   (centered)
//	d = sqrt(s) + eps                            (otherwise)
//	b = momentum·b + g/d; p = p - lr·b          (momentum)
//	p = p - lr·g/d                               (otherwise)
//
// Its state slots are "square_avg", "momentum_buffer" (with momentum) and
// "grad_avg" (centered).
type RMSProp struct {
	optBase
	o RMSPropOptions
}

// NewRMSProp returns an RMSProp optimizer over params, which must be
// non-nil, distinct, uniquely named float32 parameters.
func NewRMSProp(params []*Var, o RMSPropOptions) (*RMSProp, error) {
	const kind = "RMSProp"
	o.LR = optDefault(o.LR, 0.01)
	o.Alpha = optDefault(o.Alpha, 0.99)
	o.Eps = optDefault(o.Eps, 1e-8)
	if err := optCheckLR(kind, o.LR); err != nil {
		return nil, err
	}
	if err := optCheckBeta(kind, "Alpha", o.Alpha); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "Eps", o.Eps); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "Momentum", o.Momentum); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "WeightDecay", o.WeightDecay); err != nil {
		return nil, err
	}
	names := []string{"square_avg"}
	if o.Momentum > 0 {
		names = append(names, "momentum_buffer")
	}
	if o.Centered {
		names = append(names, "grad_avg")
	}
	b, err := newOptBase(kind, params, o.LR, false, names)
	if err != nil {
		return nil, err
	}
	return &RMSProp{optBase: b, o: o}, nil
}

// Step applies one RMSProp update to every parameter with a gradient.
func (r *RMSProp) Step() error {
	o := r.o
	return r.step(func(i int, p *Var, st map[string]*tensor.Tensor, k *optKernel) error {
		d := k.decayedGrad(p, o.WeightDecay)
		sq := st["square_avg"]
		k.emaSq(sq, d, o.Alpha)
		if o.Centered {
			ga := st["grad_avg"]
			k.ema(ga, d, o.Alpha)
			k.bin(tensor.OpMul, k.ws1, ga, ga)
			k.bin(tensor.OpSub, k.ws1, sq, k.ws1)
			k.un(tensor.OpSqrt, k.ws1, k.ws1)
		} else {
			k.un(tensor.OpSqrt, k.ws1, sq)
		}
		k.bin(tensor.OpAdd, k.ws1, k.ws1, k.s(o.Eps))
		k.bin(tensor.OpDiv, k.ws1, d, k.ws1)
		if o.Momentum > 0 {
			buf := st["momentum_buffer"]
			k.bin(tensor.OpMul, buf, buf, k.s(o.Momentum))
			k.bin(tensor.OpAdd, buf, buf, k.ws1)
			k.bin(tensor.OpMul, k.ws1, buf, k.s(r.lr))
		} else {
			k.bin(tensor.OpMul, k.ws1, k.ws1, k.s(r.lr))
		}
		k.bin(tensor.OpSub, p.Value, p.Value, k.ws1)
		return nil
	})
}

// AdaGradOptions configure NewAdaGrad. The zero value gives PyTorch's
// defaults.
type AdaGradOptions struct {
	// LR is the learning rate; 0 means 0.01.
	LR float64
	// LRDecay decays the learning rate: update t uses
	// LR/(1+(t-1)·LRDecay). 0 means none.
	LRDecay float64
	// WeightDecay adds WeightDecay·param to the gradient; 0 means none.
	WeightDecay float64
	// InitialAccumulator is the starting value of the sum of squared
	// gradients (>= 0); 0 means 0.
	InitialAccumulator float64
	// Eps is added to the denominator; 0 means 1e-10.
	Eps float64
}

// AdaGrad is the Adagrad optimizer, as PyTorch 1.13's torch.optim.Adagrad.
// With t the parameter's update count:
//
//	g = grad + wd·p
//	s = s + g²
//	p = p - lr/(1+(t-1)·lr_decay) · g/(sqrt(s) + eps)
//
// Its state slots are "sum" and "step".
type AdaGrad struct {
	optBase
	o AdaGradOptions
}

// NewAdaGrad returns an AdaGrad optimizer over params, which must be
// non-nil, distinct, uniquely named float32 parameters.
func NewAdaGrad(params []*Var, o AdaGradOptions) (*AdaGrad, error) {
	const kind = "AdaGrad"
	o.LR = optDefault(o.LR, 0.01)
	o.Eps = optDefault(o.Eps, 1e-10)
	if err := optCheckLR(kind, o.LR); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "LRDecay", o.LRDecay); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "WeightDecay", o.WeightDecay); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "InitialAccumulator", o.InitialAccumulator); err != nil {
		return nil, err
	}
	if err := optCheckNonNeg(kind, "Eps", o.Eps); err != nil {
		return nil, err
	}
	b, err := newOptBase(kind, params, o.LR, true, []string{"sum"})
	if err != nil {
		return nil, err
	}
	return &AdaGrad{optBase: b, o: o}, nil
}

// Step applies one AdaGrad update to every parameter with a gradient.
func (a *AdaGrad) Step() error {
	o := a.o
	return a.step(func(i int, p *Var, st map[string]*tensor.Tensor, k *optKernel) error {
		sum := st["sum"]
		if k.fresh && o.InitialAccumulator != 0 {
			if k.err == nil {
				k.err = tensor.Fill(sum, o.InitialAccumulator)
			}
		}
		d := k.decayedGrad(p, o.WeightDecay)
		t := float64(a.pstep[i])
		clr := a.lr / (1 + (t-1)*o.LRDecay)
		k.bin(tensor.OpMul, k.ws1, d, d)
		k.bin(tensor.OpAdd, sum, sum, k.ws1)
		k.un(tensor.OpSqrt, k.ws1, sum)
		k.bin(tensor.OpAdd, k.ws1, k.ws1, k.s(o.Eps))
		k.bin(tensor.OpDiv, k.ws1, d, k.ws1)
		k.bin(tensor.OpMul, k.ws1, k.ws1, k.s(clr))
		k.bin(tensor.OpSub, p.Value, p.Value, k.ws1)
		return nil
	})
}

// Interface checks.
var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
	_ Optimizer = (*RMSProp)(nil)
	_ Optimizer = (*AdaGrad)(nil)
)
