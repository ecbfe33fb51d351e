package tensor

import (
	"fmt"
	"slices"
)

// reduceAxes returns, for a reduction of t over axes (all when empty),
// the keep-dims shape and which axes are reduced.
func reduceAxes(t *Tensor, axes []int) ([]int, []bool, error) {
	red := make([]bool, len(t.shape))
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		a, err := normAxis(a, len(t.shape))
		if err != nil {
			return nil, nil, err
		}
		if red[a] {
			return nil, nil, fmt.Errorf("%w: axis %d repeated in %v", ErrShape, a, axes)
		}
		red[a] = true
	}
	shape := slices.Clone(t.shape)
	for i := range shape {
		if red[i] {
			shape[i] = 1
		}
	}
	return shape, red, nil
}

func reduce(op ReduceOp, t *Tensor, param float64, keepDims bool, axes []int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	shape, red, err := reduceAxes(t, axes)
	if err != nil {
		return nil, err
	}
	dst, err := like(t, shape)
	if err != nil {
		return nil, err
	}
	if err := t.Device().Reduce(op, dst.view(), t.view(), param); err != nil {
		return nil, err
	}
	if keepDims {
		return dst, nil
	}
	var out []int
	for i, d := range shape {
		if !red[i] {
			out = append(out, d)
		}
	}
	return dst.Reshape(out...)
}

// Sum returns the sum over axes (all axes when none are given); with
// keepDims the reduced axes stay with size 1. float32 sums are added in a
// fixed order: the result does not depend on the number of threads.
func Sum(t *Tensor, keepDims bool, axes ...int) (*Tensor, error) {
	return reduce(ReduceSum, t, 0, keepDims, axes)
}

// Mean returns the mean over axes (NaN over an empty axis).
func Mean(t *Tensor, keepDims bool, axes ...int) (*Tensor, error) {
	return reduce(ReduceMean, t, 0, keepDims, axes)
}

// Max returns the maximum over axes (NaN if a value is NaN, -Inf over an
// empty axis).
func Max(t *Tensor, keepDims bool, axes ...int) (*Tensor, error) {
	return reduce(ReduceMax, t, 0, keepDims, axes)
}

// Min returns the minimum over axes (NaN if a value is NaN, +Inf over an
// empty axis).
func Min(t *Tensor, keepDims bool, axes ...int) (*Tensor, error) {
	return reduce(ReduceMin, t, 0, keepDims, axes)
}

// LogSumExp returns log(Σ exp(x)) over axes, computed stably (the maximum
// is subtracted first).
func LogSumExp(t *Tensor, keepDims bool, axes ...int) (*Tensor, error) {
	return reduce(ReduceLogSumExp, t, 0, keepDims, axes)
}

// Var returns the variance over axes with divisor n-ddof (ddof 0: the
// population variance; 1: the unbiased sample variance), computed in
// float64 in two passes.
func Var(t *Tensor, ddof int, keepDims bool, axes ...int) (*Tensor, error) {
	if ddof < 0 {
		return nil, fmt.Errorf("%w: negative ddof %d", ErrShape, ddof)
	}
	return reduce(ReduceVar, t, float64(ddof), keepDims, axes)
}

// ArgMax returns the index of the largest value along axis (the first one
// on ties; the first NaN if any) for every position of the other axes, in
// row-major order of t's shape without axis.
func ArgMax(t *Tensor, axis int) ([]int32, error) {
	if t.invalid() {
		return nil, errNil
	}
	ax, err := normAxis(axis, len(t.shape))
	if err != nil {
		return nil, err
	}
	if t.shape[ax] == 0 {
		return nil, fmt.Errorf("%w: argmax over the empty axis %d of %v", ErrShape, ax, t.shape)
	}
	shape := slices.Clone(t.shape)
	shape[ax] = 1
	dst, err := NewOn(t.Device(), Float64, shape...)
	if err != nil {
		return nil, err
	}
	// Reduce needs one reduced axis; a size-1 axis reduces trivially.
	if err := t.Device().Reduce(ReduceArgMax, dst.view(), t.view(), 0); err != nil {
		return nil, err
	}
	f, err := dst.Float64s()
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(f))
	for i, v := range f {
		out[i] = int32(v)
	}
	return out, nil
}

// Softmax returns exp(x)/Σexp(x) along axis, computed stably.
func Softmax(t *Tensor, axis int) (*Tensor, error) { return softmax(t, axis, false) }

// LogSoftmax returns x - log(Σexp(x)) along axis, computed stably.
func LogSoftmax(t *Tensor, axis int) (*Tensor, error) { return softmax(t, axis, true) }

func softmax(t *Tensor, axis int, log bool) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	dst, err := like(t, t.shape)
	if err != nil {
		return nil, err
	}
	if err := SoftmaxInto(dst, t, axis, log); err != nil {
		return nil, err
	}
	return dst, nil
}

// SoftmaxInto writes the softmax (log-softmax when log is true) of t along
// axis into dst, which has t's shape and may be t.
func SoftmaxInto(dst, t *Tensor, axis int, log bool) error {
	if err := sameSet(dst, t); err != nil {
		return err
	}
	ax, err := normAxis(axis, len(t.shape))
	if err != nil {
		return err
	}
	if err := checkShape(dst, t.shape); err != nil {
		return err
	}
	if err := writable(dst); err != nil {
		return err
	}
	return t.Device().Softmax(dst.view(), t.view(), ax, log)
}

// ReduceInto writes the reduction op of t over axes (all when none are
// given) into dst, whose shape is either t's with the reduced axes set to
// 1 or t's without them; it is the allocation-free form of [Sum], [Mean],
// [Max], [Min], [LogSumExp] and [Var] (ReduceVar: the population
// variance). ReduceArgMax is not accepted: use [ArgMax].
func ReduceInto(op ReduceOp, dst, t *Tensor, axes ...int) error {
	if err := sameSet(dst, t); err != nil {
		return err
	}
	if op > ReduceVar || op == ReduceArgMax {
		return fmtOpErr("reduction", int(op))
	}
	shape, red, err := reduceAxes(t, axes)
	if err != nil {
		return err
	}
	d := dst
	if len(dst.shape) != len(shape) {
		// dst has the squeezed shape: view it with the reduced axes back.
		for i := range red {
			if red[i] && len(d.shape) < len(shape) {
				if d, err = d.Unsqueeze(i); err != nil {
					return fmt.Errorf("%w: destination %v for a reduction of %v over %v", ErrShape, dst.shape, t.shape, axes)
				}
			}
		}
	}
	if !slices.Equal(d.shape, shape) {
		return fmt.Errorf("%w: destination %v for a reduction of %v over %v", ErrShape, dst.shape, t.shape, axes)
	}
	if err := writable(d); err != nil {
		return err
	}
	return t.Device().Reduce(op, d.view(), t.view(), 0)
}
