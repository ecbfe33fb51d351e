package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/kilnml/kiln/tensor"
)

// The losses reduce to the mean over the batch (PyTorch's reduction
// "mean") and return a single-element Var to call Backward on. Targets are
// constants: no gradient flows into them.

// MSELoss returns the mean of (pred - target)².
func MSELoss(pred, target *Var) *Var {
	if err := sameShape("MSELoss", pred, target); err != nil {
		return failed(err)
	}
	return Mean(Square(Sub(pred, target.Detach())))
}

// MAELoss returns the mean of |pred - target|.
func MAELoss(pred, target *Var) *Var {
	if err := sameShape("MAELoss", pred, target); err != nil {
		return failed(err)
	}
	return Mean(Abs(Sub(pred, target.Detach())))
}

func sameShape(op string, a, b *Var) error {
	if err := firstErr(a, b); err != nil {
		return err
	}
	if !slices.Equal(a.Value.Shape(), b.Value.Shape()) {
		return fmt.Errorf("train: %s: prediction %v and target %v: %w", op, a.Value.Shape(), b.Value.Shape(), tensor.ErrShape)
	}
	return nil
}

// HuberLoss returns the mean Huber loss: ½d² where |d| ≤ delta and
// delta·(|d| - ½delta) beyond, d = pred - target (delta 0 means 1).
func HuberLoss(pred, target *Var, delta float64) *Var {
	if err := sameShape("HuberLoss", pred, target); err != nil {
		return failed(err)
	}
	if delta == 0 {
		delta = 1
	}
	if !(delta > 0) || math.IsInf(delta, 0) {
		return failed(fmt.Errorf("train: HuberLoss: delta %v must be positive and finite", delta))
	}
	d, err := tensor.Sub(pred.Value, target.Value)
	if err != nil {
		return opErr("HuberLoss", err)
	}
	lo, err := scalarLike(d, -delta)
	if err != nil {
		return opErr("HuberLoss", err)
	}
	hi, err := scalarLike(d, delta)
	if err != nil {
		return opErr("HuberLoss", err)
	}
	// c = clamp(d, -delta, delta); loss = c·(|d| - ½|c|) = c·d - ½c²
	c, err := tensor.Maximum(d, lo)
	if err == nil {
		err = tensor.Binary(tensor.OpMinimum, c, c, hi)
	}
	if err != nil {
		return opErr("HuberLoss", err)
	}
	cd, err := tensor.Mul(c, d)
	if err != nil {
		return opErr("HuberLoss", err)
	}
	c2, err := tensor.Square(c)
	if err == nil {
		c2, err = scale(c2, 0.5)
	}
	if err == nil {
		err = tensor.Binary(tensor.OpSub, cd, cd, c2)
	}
	if err != nil {
		return opErr("HuberLoss", err)
	}
	out, err := tensor.Mean(cd, false)
	if err != nil {
		return opErr("HuberLoss", err)
	}
	n := float64(max(d.Len(), 1))
	return record("HuberLoss", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gp, err := tensor.Mul(c, g)
		if err != nil {
			return nil, err
		}
		gp, err = scale(gp, 1/n)
		return []*tensor.Tensor{gp}, err
	}, pred)
}

// BCEWithLogits returns the mean binary cross-entropy of the targets
// (0/1, or probabilities) given logits, computed stably from the logits:
// max(z,0) - z·y + log(1 + e^-|z|).
func BCEWithLogits(logits, target *Var) *Var {
	if err := sameShape("BCEWithLogits", logits, target); err != nil {
		return failed(err)
	}
	z, y := logits.Value, target.Value
	l, err := tensor.ReLU(z)
	steps := []func() error{
		func() error {
			zy, err := tensor.Mul(z, y)
			if err != nil {
				return err
			}
			return tensor.Binary(tensor.OpSub, l, l, zy)
		},
		func() error {
			a, err := tensor.Abs(z)
			if err != nil {
				return err
			}
			if err := tensor.Unary(tensor.OpNeg, a, a, 0); err != nil {
				return err
			}
			if err := tensor.Unary(tensor.OpExp, a, a, 0); err != nil {
				return err
			}
			one, err := scalarLike(a, 1)
			if err != nil {
				return err
			}
			if err := tensor.Binary(tensor.OpAdd, a, a, one); err != nil {
				return err
			}
			if err := tensor.Unary(tensor.OpLog, a, a, 0); err != nil {
				return err
			}
			return tensor.Binary(tensor.OpAdd, l, l, a)
		},
	}
	for _, step := range steps {
		if err != nil {
			break
		}
		err = step()
	}
	if err != nil {
		return opErr("BCEWithLogits", err)
	}
	out, err := tensor.Mean(l, false)
	if err != nil {
		return opErr("BCEWithLogits", err)
	}
	n := float64(max(z.Len(), 1))
	return record("BCEWithLogits", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		s, err := tensor.Sigmoid(z)
		if err != nil {
			return nil, err
		}
		if err := tensor.Binary(tensor.OpSub, s, s, y); err != nil {
			return nil, err
		}
		if err := tensor.Binary(tensor.OpMul, s, s, g); err != nil {
			return nil, err
		}
		s, err = scale(s, 1/n)
		return []*tensor.Tensor{s}, err
	}, logits)
}

// CrossEntropyOptions configure CrossEntropy. The zero value is the plain
// mean cross-entropy.
type CrossEntropyOptions struct {
	// ClassWeights, when not nil, has one weight per class: a row's loss is
	// weighted by its label's class weight, and the mean divides by the sum
	// of the weights of the rows' labels (as PyTorch does).
	ClassWeights []float64
	// LabelSmoothing ε in [0, 1): the target puts 1-ε on the label and ε/K
	// spread over all K classes.
	LabelSmoothing float64
}

// CrossEntropy returns the softmax cross-entropy of logits [n, K] for the
// class labels (each in [0, K)), computed from the log-softmax in one
// fused operation. With class weights w and smoothing ε it is PyTorch's
// cross_entropy:
//
//	Σᵢ [(1-ε)·w(yᵢ)·(-log pᵢ(yᵢ)) + ε/K·Σ_c w(c)·(-log pᵢ(c))] / Σᵢ w(yᵢ)
func CrossEntropy(logits *Var, labels []int32, o CrossEntropyOptions) *Var {
	if err := logits.Err(); err != nil {
		return failed(err)
	}
	z := logits.Value
	zs := z.Shape()
	if len(zs) != 2 || zs[0] != len(labels) {
		return opErr("CrossEntropy", fmt.Errorf("%w: logits %v for %d labels (want [n, classes])", tensor.ErrShape, zs, len(labels)))
	}
	n, k := zs[0], zs[1]
	eps := o.LabelSmoothing
	if !(eps >= 0 && eps < 1) {
		return opErr("CrossEntropy", fmt.Errorf("label smoothing %v is not in [0, 1)", eps))
	}
	w := o.ClassWeights
	if w != nil && len(w) != k {
		return opErr("CrossEntropy", fmt.Errorf("%d class weights for %d classes", len(w), k))
	}
	weight := func(c int) float64 {
		if w == nil {
			return 1
		}
		return w[c]
	}
	var sumW float64 // Σ_c w(c)
	for c := range k {
		if x := weight(c); !(x >= 0) || math.IsInf(x, 0) {
			return opErr("CrossEntropy", fmt.Errorf("class weight %d is %v (want finite, ≥ 0)", c, x))
		}
		sumW += weight(c)
	}
	flatIdx := make([]int32, n)
	var W float64 // Σᵢ w(yᵢ)
	for i, y := range labels {
		if y < 0 || int(y) >= k {
			return opErr("CrossEntropy", fmt.Errorf("label %d of row %d is not a class in [0, %d)", y, i, k))
		}
		flatIdx[i] = int32(i*k) + y
		W += weight(int(y))
	}
	if n == 0 || W == 0 {
		return opErr("CrossEntropy", fmt.Errorf("no rows with a positive weight (n=%d)", n))
	}
	logp, err := tensor.NewOn(z.Device(), z.DType(), n, k)
	if err != nil {
		return opErr("CrossEntropy", err)
	}
	if err := tensor.SoftmaxInto(logp, z, 1, true); err != nil {
		return opErr("CrossEntropy", err)
	}
	flat, err := logp.Reshape(n*k, 1)
	if err != nil {
		return opErr("CrossEntropy", err)
	}
	picked, err := tensor.Gather(flat, flatIdx)
	if err != nil {
		return opErr("CrossEntropy", err)
	}
	pv, err := picked.Float64s()
	if err != nil {
		return opErr("CrossEntropy", err)
	}
	var loss float64
	for i, y := range labels {
		loss -= (1 - eps) * weight(int(y)) * pv[i]
	}
	if eps > 0 {
		cs, err := tensor.Sum(logp, false, 0)
		if err != nil {
			return opErr("CrossEntropy", err)
		}
		cv, err := cs.Float64s()
		if err != nil {
			return opErr("CrossEntropy", err)
		}
		for c := range k {
			loss -= eps / float64(k) * weight(c) * cv[c]
		}
	}
	loss /= W
	out, err := tensor.NewOn(z.Device(), z.DType())
	if err == nil {
		err = tensor.Fill(out, loss)
	}
	if err != nil {
		return opErr("CrossEntropy", err)
	}
	return record("CrossEntropy", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		// ∂/∂z_ij = [((1-ε)w(yᵢ) + ε/K·Σw)·p_ij - (1-ε)w(yᵢ)·[j=yᵢ] - ε/K·w(j)] / W
		row := make([]float64, n)
		pick := make([]float64, n)
		for i, y := range labels {
			wy := weight(int(y))
			row[i] = ((1-eps)*wy + eps/float64(k)*sumW) / W
			pick[i] = -(1 - eps) * wy / W
		}
		p, err := tensor.Exp(logp)
		if err != nil {
			return nil, err
		}
		rt, err := hostTensor(z, row, n, 1)
		if err != nil {
			return nil, err
		}
		if err := tensor.Binary(tensor.OpMul, p, p, rt); err != nil {
			return nil, err
		}
		pt, err := hostTensor(z, pick, n, 1)
		if err != nil {
			return nil, err
		}
		pflat, err := p.Reshape(n*k, 1)
		if err != nil {
			return nil, err
		}
		if err := tensor.ScatterAdd(pflat, flatIdx, pt); err != nil {
			return nil, err
		}
		if eps > 0 {
			col := make([]float64, k)
			for c := range k {
				col[c] = -eps / float64(k) * weight(c) / W
			}
			ct, err := hostTensor(z, col, k)
			if err != nil {
				return nil, err
			}
			if err := tensor.Binary(tensor.OpAdd, p, p, ct); err != nil {
				return nil, err
			}
		}
		return []*tensor.Tensor{p}, tensor.Binary(tensor.OpMul, p, p, g)
	}, logits)
}

// hostTensor returns vals as a tensor of like's type on like's device.
func hostTensor(like *tensor.Tensor, vals []float64, shape ...int) (*tensor.Tensor, error) {
	var t *tensor.Tensor
	var err error
	if like.DType() == tensor.Float64 {
		t, err = tensor.FromFloat64s(vals, shape...)
	} else {
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		t, err = tensor.FromFloat32s(f, shape...)
	}
	if err != nil {
		return nil, err
	}
	if len(shape) == 0 {
		if t, err = t.Reshape(); err != nil {
			return nil, err
		}
	}
	return t.To(like.Device())
}
