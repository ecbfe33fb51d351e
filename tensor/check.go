package tensor

import (
	"fmt"
	"slices"
)

// sameSet checks that the tensors are not nil and share one device and
// one element type.
func sameSet(ts ...*Tensor) error {
	for _, t := range ts {
		if t.invalid() {
			return errNil
		}
	}
	for _, t := range ts[1:] {
		if t.Device() != ts[0].Device() {
			return fmt.Errorf("%w: %s and %s", ErrDevice, ts[0].Device().Name(), t.Device().Name())
		}
		if t.dt != ts[0].dt {
			return fmt.Errorf("%w: %v and %v", ErrDType, ts[0].dt, t.dt)
		}
	}
	return nil
}

// broadcastShapes returns the NumPy broadcast of two shapes.
func broadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("%w: %v and %v do not broadcast", ErrShape, a, b)
		}
	}
	return out, nil
}

func checkShape(dst *Tensor, want []int) error {
	if !slices.Equal(dst.shape, want) {
		return fmt.Errorf("%w: destination %v, result %v", ErrShape, dst.shape, want)
	}
	return nil
}

// like returns a new tensor of t's device and type with the given shape.
func like(t *Tensor, shape []int) (*Tensor, error) {
	return NewOn(t.Device(), t.dt, shape...)
}

// writable checks that dst does not repeat elements (a broadcast view
// cannot be written to).
func writable(dst *Tensor) error {
	for i, d := range dst.shape {
		if d > 1 && dst.strides[i] == 0 {
			return fmt.Errorf("%w: destination %v is a broadcast view (strides %v)", ErrShape, dst.shape, dst.strides)
		}
	}
	return nil
}

// invalid reports a nil tensor or the zero Tensor value, which has no
// storage.
func (t *Tensor) invalid() bool { return t == nil || t.buf == nil }
