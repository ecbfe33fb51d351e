package tensor

import (
	"errors"
	"fmt"
	"math"
)

// FusedAdam applies one Adam or AdamW step to the parameter p, its first
// and second moments m and v (and, with a.AMSGrad, the running maximum
// vmax; vmax must be nil otherwise) from the gradient g, in one fused
// pass computed in float32 in the order documented on [AdamArgs]. The
// result is bit-identical to composing the step from elementwise
// operations in that order.
//
// The tensors must be float32 tensors of one shape on one device, not
// nil; the scalars in a must be finite and a.Step at least 1. It returns
// an error wrapping [ErrShape], [ErrDType] or [ErrDevice] for bad
// operands. When p's device does not implement [OptimizerDevice], or an
// operand is not contiguous, it returns an error wrapping
// [errors.ErrUnsupported] and changes nothing, so that callers can fall
// back to elementwise operations.
func FusedAdam(p, g, m, v, vmax *Tensor, a AdamArgs) error {
	const op = "FusedAdam"
	for _, x := range []float64{a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("tensor: %s: non-finite argument in %+v", op, a)
		}
	}
	if a.Step < 1 {
		return fmt.Errorf("tensor: %s: Step %d, want at least 1", op, a.Step)
	}
	if a.AMSGrad != (vmax != nil) {
		return fmt.Errorf("tensor: %s: %w: AMSGrad %v with vmax %v", op, ErrShape, a.AMSGrad, describe(vmax))
	}
	ts := []*Tensor{p, g, m, v}
	if a.AMSGrad {
		ts = append(ts, vmax)
	}
	od, err := fusedCheck(op, ts, []string{"p", "g", "m", "v", "vmax"})
	if err != nil {
		return err
	}
	var vv View
	if a.AMSGrad {
		vv = vmax.view()
	}
	return od.AdamUpdate(p.view(), g.view(), m.view(), v.view(), vv, a)
}

// FusedSGD applies one SGD step to the parameter p (and its momentum
// buffer buf) from the gradient g, in one fused pass computed in float32
// in the order documented on [SGDArgs]. buf must be nil exactly when
// a.Momentum is 0. The operands and errors are those of [FusedAdam].
func FusedSGD(p, g, buf *Tensor, a SGDArgs) error {
	const op = "FusedSGD"
	for _, x := range []float64{a.LR, a.Momentum, a.Dampening, a.WeightDecay} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("tensor: %s: non-finite argument in %+v", op, a)
		}
	}
	if (a.Momentum != 0) != (buf != nil) {
		return fmt.Errorf("tensor: %s: %w: Momentum %v with buffer %v", op, ErrShape, a.Momentum, describe(buf))
	}
	ts := []*Tensor{p, g}
	if buf != nil {
		ts = append(ts, buf)
	}
	od, err := fusedCheck(op, ts, []string{"p", "g", "buf"})
	if err != nil {
		return err
	}
	var bv View
	if buf != nil {
		bv = buf.view()
	}
	return od.SGDUpdate(p.view(), g.view(), bv, a)
}

// describe names a possibly nil tensor in an error.
func describe(t *Tensor) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

// fusedCheck validates the operands of a fused update (the first is the
// parameter) and returns their device as an OptimizerDevice.
func fusedCheck(op string, ts []*Tensor, names []string) (OptimizerDevice, error) {
	for i, t := range ts {
		if t.invalid() {
			return nil, fmt.Errorf("tensor: %s: %s: %w", op, names[i], errNil)
		}
		if t.dt != Float32 {
			return nil, fmt.Errorf("tensor: %s: %w: %s is %v, want float32", op, ErrDType, names[i], t.dt)
		}
	}
	p := ts[0]
	for i, t := range ts[1:] {
		if t.Device() != p.Device() {
			return nil, fmt.Errorf("tensor: %s: %w: %s on %s, p on %s", op, ErrDevice, names[i+1], t.Device().Name(), p.Device().Name())
		}
		if err := checkShape(t, p.shape); err != nil {
			return nil, fmt.Errorf("tensor: %s: %s: %w", op, names[i+1], err)
		}
	}
	od, ok := p.Device().(OptimizerDevice)
	if !ok {
		return nil, fmt.Errorf("tensor: %s: device %s has no fused optimizer updates: %w", op, p.Device().Name(), errors.ErrUnsupported)
	}
	n := p.Len()
	for i, t := range ts {
		if !t.IsContiguous() {
			return nil, fmt.Errorf("tensor: %s: %s is not contiguous (strides %v): %w", op, names[i], t.strides, errors.ErrUnsupported)
		}
		// Contiguous operands are the ranges [off, off+n) of their buffers:
		// they must not overlap, or the fused pass would differ from the
		// composed operations.
		for j, u := range ts[:i] {
			if n > 0 && t.buf == u.buf && t.off < u.off+n && u.off < t.off+n {
				return nil, fmt.Errorf("tensor: %s: %w: %s and %s overlap", op, ErrShape, names[j], names[i])
			}
		}
	}
	return od, nil
}
