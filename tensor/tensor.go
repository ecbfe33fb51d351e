package tensor

import (
	"fmt"
	"math"
	"slices"
)

// A Tensor is an n-dimensional array of float32 or float64 values stored
// in a [Buffer] of a [Device]. A tensor is a view: Slice, Reshape,
// Transpose, BroadcastTo and the like return tensors that share the
// storage, and writing through one (with an Into operation) is seen by
// the others. Tensors are safe for concurrent reads; concurrent writes to
// overlapping tensors are not synchronized.
//
// Operations never panic on bad input; they return an error wrapping
// [ErrShape], [ErrDType], [ErrDevice] or [ErrIndex]. A nil *Tensor passed
// to an operation is an [ErrShape] error.
type Tensor struct {
	buf     Buffer
	dt      DType
	shape   []int
	strides []int
	off     int
}

// New returns a zeroed tensor of type dt and the given shape on the CPU.
func New(dt DType, shape ...int) (*Tensor, error) {
	return NewOn(CPU(), dt, shape...)
}

// NewOn returns a zeroed tensor of type dt and the given shape on dev.
func NewOn(dev Device, dt DType, shape ...int) (*Tensor, error) {
	if dev == nil {
		return nil, fmt.Errorf("%w: nil device", ErrDevice)
	}
	if !dt.valid() {
		return nil, fmt.Errorf("%w: unknown %v", ErrDType, dt)
	}
	n, err := numElems(shape)
	if err != nil {
		return nil, err
	}
	buf, err := dev.Alloc(dt, n)
	if err != nil {
		return nil, err
	}
	return &Tensor{buf: buf, dt: dt, shape: slices.Clone(shape), strides: contiguousStrides(shape)}, nil
}

// Zeros returns a zeroed float32 tensor on the CPU.
func Zeros(shape ...int) (*Tensor, error) { return New(Float32, shape...) }

// Full returns a float32 tensor on the CPU with every element set to v.
func Full(v float32, shape ...int) (*Tensor, error) {
	t, err := New(Float32, shape...)
	if err != nil {
		return nil, err
	}
	h := hostF32(t.buf)
	for i := range h {
		h[i] = v
	}
	return t, nil
}

// Scalar returns a rank-0 float32 tensor holding v.
func Scalar(v float32) *Tensor {
	t, _ := Full(v)
	return t
}

// FromFloat32s returns a float32 tensor on the CPU holding a copy of data
// in row-major order; with no shape it is 1-D.
func FromFloat32s(data []float32, shape ...int) (*Tensor, error) {
	if shape == nil {
		shape = []int{len(data)}
	}
	t, err := New(Float32, shape...)
	if err != nil {
		return nil, err
	}
	if len(data) != t.Len() {
		return nil, fmt.Errorf("%w: %d values for shape %v", ErrShape, len(data), shape)
	}
	copy(hostF32(t.buf), data)
	return t, nil
}

// FromFloat64s returns a float64 tensor on the CPU holding a copy of data
// in row-major order; with no shape it is 1-D.
func FromFloat64s(data []float64, shape ...int) (*Tensor, error) {
	if shape == nil {
		shape = []int{len(data)}
	}
	t, err := New(Float64, shape...)
	if err != nil {
		return nil, err
	}
	if len(data) != t.Len() {
		return nil, fmt.Errorf("%w: %d values for shape %v", ErrShape, len(data), shape)
	}
	copy(hostF64(t.buf), data)
	return t, nil
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dt }

// Shape returns a copy of the shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Strides returns a copy of the strides, in elements.
func (t *Tensor) Strides() []int { return slices.Clone(t.strides) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.shape {
		n *= d
	}
	return n
}

// Device returns the device that holds the tensor (nil for the zero
// Tensor, which has no storage).
func (t *Tensor) Device() Device {
	if t.invalid() {
		return nil
	}
	return t.buf.Device()
}

// View returns the tensor's view of its buffer, for device implementations
// and kernels outside the package.
func (t *Tensor) View() View {
	return View{Buf: t.buf, DType: t.dt, Shape: slices.Clone(t.shape), Strides: slices.Clone(t.strides), Offset: t.off}
}

func (t *Tensor) view() View {
	return View{Buf: t.buf, DType: t.dt, Shape: t.shape, Strides: t.strides, Offset: t.off}
}

// IsContiguous reports whether the elements are stored densely in
// row-major order.
func (t *Tensor) IsContiguous() bool {
	s := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if t.shape[i] != 1 && t.strides[i] != s {
			return false
		}
		s *= t.shape[i]
	}
	return true
}

// String describes the tensor: type, shape and device, not the values.
func (t *Tensor) String() string {
	if t.invalid() {
		return "Tensor(nil)"
	}
	return fmt.Sprintf("Tensor(%v %v on %s)", t.dt, t.shape, t.Device().Name())
}

// Float32s returns a copy of the elements in row-major order, converted
// to float32 if the tensor is float64.
func (t *Tensor) Float32s() ([]float32, error) {
	c, err := t.host(Float32)
	if err != nil {
		return nil, err
	}
	return hostF32(c.buf)[:c.Len()], nil
}

// Float64s returns a copy of the elements in row-major order, converted
// to float64 if the tensor is float32.
func (t *Tensor) Float64s() ([]float64, error) {
	c, err := t.host(Float64)
	if err != nil {
		return nil, err
	}
	return hostF64(c.buf)[:c.Len()], nil
}

// host returns a fresh contiguous CPU tensor of type dt with t's values.
func (t *Tensor) host(dt DType) (*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	src := t
	if t.Device() != CPU() {
		var err error
		if src, err = t.To(CPU()); err != nil {
			return nil, err
		}
		if src.dt == dt {
			return src, nil
		}
	}
	c, err := New(dt, t.shape...)
	if err != nil {
		return nil, err
	}
	if err := CPU().Copy(c.view(), src.view()); err != nil {
		return nil, err
	}
	return c, nil
}

// At returns the element at idx, as a float64.
func (t *Tensor) At(idx ...int) (float64, error) {
	if t.invalid() {
		return 0, errNil
	}
	if len(idx) != len(t.shape) {
		return 0, fmt.Errorf("%w: %d indices for shape %v", ErrIndex, len(idx), t.shape)
	}
	off := t.off
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			return 0, fmt.Errorf("%w: index %v for shape %v", ErrIndex, idx, t.shape)
		}
		off += x * t.strides[i]
	}
	if t.dt == Float64 {
		h := make([]float64, 1)
		if err := t.Device().CopyToHost(h, t.buf, off); err != nil {
			return 0, err
		}
		return h[0], nil
	}
	h := make([]float32, 1)
	if err := t.Device().CopyToHost(h, t.buf, off); err != nil {
		return 0, err
	}
	return float64(h[0]), nil
}

var errNil = fmt.Errorf("%w: nil tensor", ErrShape)

func numElems(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrShape, shape)
		}
		if d != 0 && n > math.MaxInt32*8/d {
			return 0, fmt.Errorf("%w: shape %v is too large", ErrShape, shape)
		}
		n *= d
	}
	return n, nil
}

func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}
