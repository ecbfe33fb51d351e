package tensor

import (
	"fmt"
	"slices"
)

// normAxis maps a negative axis to its positive value and checks the range.
func normAxis(axis, rank int) (int, error) {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return 0, fmt.Errorf("%w: axis %d out of range for rank %d", ErrShape, axis, rank)
	}
	return axis, nil
}

func (t *Tensor) with(shape, strides []int, off int) *Tensor {
	return &Tensor{buf: t.buf, dt: t.dt, shape: shape, strides: strides, off: off}
}

// Slice returns the view of elements start to end (exclusive) along axis
// (negative axes count from the end).
func (t *Tensor) Slice(axis, start, end int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	axis, err := normAxis(axis, len(t.shape))
	if err != nil {
		return nil, err
	}
	if start < 0 || end < start || end > t.shape[axis] {
		return nil, fmt.Errorf("%w: slice [%d:%d] of axis %d of shape %v", ErrIndex, start, end, axis, t.shape)
	}
	shape := slices.Clone(t.shape)
	shape[axis] = end - start
	off := t.off
	if end > start {
		off += start * t.strides[axis]
	}
	return t.with(shape, slices.Clone(t.strides), off), nil
}

// Reshape returns a view with another shape of the same number of
// elements; one dimension may be -1 and is then inferred. A tensor whose
// elements cannot be addressed with the new shape without a copy (a
// transposed view, say) is an [ErrShape] error: call [Tensor.Contiguous]
// first.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	shape = slices.Clone(shape)
	infer, known := -1, 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("%w: bad reshape %v", ErrShape, shape)
		default:
			known *= d
		}
	}
	n := t.Len()
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("%w: cannot reshape %v to %v", ErrShape, t.shape, shape)
		}
		shape[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("%w: cannot reshape %v (%d elements) to %v", ErrShape, t.shape, n, shape)
	}
	if !t.IsContiguous() {
		return nil, fmt.Errorf("%w: reshape of a non-contiguous view %v (strides %v): call Contiguous first", ErrShape, t.shape, t.strides)
	}
	return t.with(shape, contiguousStrides(shape), t.off), nil
}

// Transpose returns the view with axes a and b swapped.
func (t *Tensor) Transpose(a, b int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	axes := make([]int, len(t.shape))
	for i := range axes {
		axes[i] = i
	}
	var err error
	if a, err = normAxis(a, len(t.shape)); err != nil {
		return nil, err
	}
	if b, err = normAxis(b, len(t.shape)); err != nil {
		return nil, err
	}
	axes[a], axes[b] = axes[b], axes[a]
	return t.Permute(axes...)
}

// T returns the transpose of a 2-D tensor (a view).
func (t *Tensor) T() (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	if len(t.shape) != 2 {
		return nil, fmt.Errorf("%w: T of a rank-%d tensor %v", ErrShape, len(t.shape), t.shape)
	}
	return t.Permute(1, 0)
}

// Permute returns the view whose axis i is t's axis axes[i].
func (t *Tensor) Permute(axes ...int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	if len(axes) != len(t.shape) {
		return nil, fmt.Errorf("%w: permutation %v of shape %v", ErrShape, axes, t.shape)
	}
	seen := make([]bool, len(axes))
	shape := make([]int, len(axes))
	strides := make([]int, len(axes))
	for i, a := range axes {
		a, err := normAxis(a, len(axes))
		if err != nil {
			return nil, err
		}
		if seen[a] {
			return nil, fmt.Errorf("%w: permutation %v repeats axis %d", ErrShape, axes, a)
		}
		seen[a] = true
		shape[i], strides[i] = t.shape[a], t.strides[a]
	}
	return t.with(shape, strides, t.off), nil
}

// BroadcastTo returns a view of the given shape following NumPy's rules:
// t's dimensions are aligned to the right, and a dimension of size 1 (or
// a missing one) is repeated with stride 0.
func (t *Tensor) BroadcastTo(shape ...int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	if len(shape) < len(t.shape) {
		return nil, fmt.Errorf("%w: cannot broadcast %v to %v", ErrShape, t.shape, shape)
	}
	strides := make([]int, len(shape))
	lead := len(shape) - len(t.shape)
	for i := range shape {
		if shape[i] < 0 {
			return nil, fmt.Errorf("%w: cannot broadcast %v to %v", ErrShape, t.shape, shape)
		}
		if i < lead {
			continue
		}
		d := t.shape[i-lead]
		switch {
		case d == shape[i]:
			strides[i] = t.strides[i-lead]
		case d == 1:
			strides[i] = 0
		default:
			return nil, fmt.Errorf("%w: cannot broadcast %v to %v", ErrShape, t.shape, shape)
		}
	}
	return t.with(slices.Clone(shape), strides, t.off), nil
}

// Squeeze returns the view without the given axes, which must have size
// 1; with no axes, every axis of size 1 is removed.
func (t *Tensor) Squeeze(axes ...int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	drop := make([]bool, len(t.shape))
	if len(axes) == 0 {
		for i, d := range t.shape {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		a, err := normAxis(a, len(t.shape))
		if err != nil {
			return nil, err
		}
		if t.shape[a] != 1 {
			return nil, fmt.Errorf("%w: squeeze of axis %d of shape %v", ErrShape, a, t.shape)
		}
		drop[a] = true
	}
	var shape, strides []int
	for i := range t.shape {
		if !drop[i] {
			shape = append(shape, t.shape[i])
			strides = append(strides, t.strides[i])
		}
	}
	return t.with(shape, strides, t.off), nil
}

// Unsqueeze returns the view with a new axis of size 1 at position axis
// (0 to Rank; negative counts from the end, -1 appending).
func (t *Tensor) Unsqueeze(axis int) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	axis, err := normAxis(axis, len(t.shape)+1)
	if err != nil {
		return nil, err
	}
	stride := 1
	if axis < len(t.shape) {
		stride = t.strides[axis] * t.shape[axis]
	}
	shape := slices.Insert(slices.Clone(t.shape), axis, 1)
	strides := slices.Insert(slices.Clone(t.strides), axis, stride)
	return t.with(shape, strides, t.off), nil
}

// Contiguous returns t itself when it is contiguous, else a contiguous
// copy on the same device.
func (t *Tensor) Contiguous() (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	if t.IsContiguous() {
		return t, nil
	}
	return t.Clone()
}

// Clone returns a contiguous copy of t on the same device.
func (t *Tensor) Clone() (*Tensor, error) {
	return t.AsType(t.dtOrZero())
}

func (t *Tensor) dtOrZero() DType {
	if t.invalid() {
		return Float32
	}
	return t.dt
}

// AsType returns a contiguous copy of t converted to dt.
func (t *Tensor) AsType(dt DType) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	c, err := NewOn(t.Device(), dt, t.shape...)
	if err != nil {
		return nil, err
	}
	if err := t.Device().Copy(c.view(), t.view()); err != nil {
		return nil, err
	}
	return c, nil
}

// To returns a contiguous copy of t on dev, transferring through host
// memory when the devices differ; when dev is t's device, it returns t.
func (t *Tensor) To(dev Device) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	if dev == nil {
		return nil, fmt.Errorf("%w: nil device", ErrDevice)
	}
	if dev == t.Device() {
		return t, nil
	}
	src, err := t.Contiguous()
	if err != nil {
		return nil, err
	}
	dst, err := NewOn(dev, t.dt, t.shape...)
	if err != nil {
		return nil, err
	}
	n := t.Len()
	if n == 0 {
		return dst, nil
	}
	var h any
	if t.dt == Float64 {
		h = make([]float64, n)
	} else {
		h = make([]float32, n)
	}
	if err := src.Device().CopyToHost(h, src.buf, src.off); err != nil {
		return nil, err
	}
	if err := dev.CopyFromHost(dst.buf, 0, h); err != nil {
		return nil, err
	}
	return dst, nil
}
