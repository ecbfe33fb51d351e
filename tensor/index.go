package tensor

import (
	"fmt"
	"slices"
)

func checkIndices(idx []int32, n int) error {
	for i, x := range idx {
		if x < 0 || int(x) >= n {
			return fmt.Errorf("%w: index %d (position %d) for %d rows", ErrIndex, x, i, n)
		}
	}
	return nil
}

// Gather returns the rows idx of table along axis 0 (an embedding
// lookup): the result is [len(idx), table's other axes...].
func Gather(table *Tensor, idx []int32) (*Tensor, error) {
	if table.invalid() {
		return nil, errNil
	}
	if len(table.shape) == 0 {
		return nil, fmt.Errorf("%w: gather from a scalar", ErrShape)
	}
	if err := checkIndices(idx, table.shape[0]); err != nil {
		return nil, err
	}
	dst, err := like(table, append([]int{len(idx)}, table.shape[1:]...))
	if err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return dst, nil
	}
	if err := table.Device().Gather(dst.view(), table.view(), idx); err != nil {
		return nil, err
	}
	return dst, nil
}

// ScatterAdd adds row i of src into row idx[i] of dst along axis 0 (the
// gradient of [Gather]), for i in increasing order: repeated indices are
// summed in a fixed order. src is [len(idx), dst's other axes...].
func ScatterAdd(dst *Tensor, idx []int32, src *Tensor) error {
	if err := sameSet(dst, src); err != nil {
		return err
	}
	if len(dst.shape) == 0 {
		return fmt.Errorf("%w: scatter into a scalar", ErrShape)
	}
	want := append([]int{len(idx)}, dst.shape[1:]...)
	if !slices.Equal(src.shape, want) {
		return fmt.Errorf("%w: source %v, want %v", ErrShape, src.shape, want)
	}
	if err := writable(dst); err != nil {
		return err
	}
	if err := checkIndices(idx, dst.shape[0]); err != nil {
		return err
	}
	if len(idx) == 0 {
		return nil
	}
	return dst.Device().ScatterAdd(dst.view(), idx, src.view())
}

// Concat returns the tensors joined along axis; their other axes must
// match.
func Concat(axis int, ts ...*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: concat of no tensors", ErrShape)
	}
	if err := sameSet(ts...); err != nil {
		return nil, err
	}
	ax, err := normAxis(axis, len(ts[0].shape))
	if err != nil {
		return nil, err
	}
	shape := slices.Clone(ts[0].shape)
	shape[ax] = 0
	for _, t := range ts {
		if len(t.shape) != len(shape) {
			return nil, fmt.Errorf("%w: concat of %v and %v", ErrShape, ts[0].shape, t.shape)
		}
		for i, d := range t.shape {
			if i != ax && d != shape[i] {
				return nil, fmt.Errorf("%w: concat of %v and %v along axis %d", ErrShape, ts[0].shape, t.shape, ax)
			}
		}
		shape[ax] += t.shape[ax]
	}
	dst, err := like(ts[0], shape)
	if err != nil {
		return nil, err
	}
	at := 0
	for _, t := range ts {
		part, err := dst.Slice(ax, at, at+t.shape[ax])
		if err != nil {
			return nil, err
		}
		if err := t.Device().Copy(part.view(), t.view()); err != nil {
			return nil, err
		}
		at += t.shape[ax]
	}
	return dst, nil
}

// Split returns views of t cut along axis into parts of the given sizes,
// which must add up to the axis' length.
func Split(t *Tensor, axis int, sizes ...int) ([]*Tensor, error) {
	if t.invalid() {
		return nil, errNil
	}
	ax, err := normAxis(axis, len(t.shape))
	if err != nil {
		return nil, err
	}
	total := 0
	for _, s := range sizes {
		if s < 0 {
			return nil, fmt.Errorf("%w: negative split size in %v", ErrShape, sizes)
		}
		total += s
	}
	if total != t.shape[ax] {
		return nil, fmt.Errorf("%w: split sizes %v of axis %d of %v", ErrShape, sizes, ax, t.shape)
	}
	out := make([]*Tensor, len(sizes))
	at := 0
	for i, s := range sizes {
		if out[i], err = t.Slice(ax, at, at+s); err != nil {
			return nil, err
		}
		at += s
	}
	return out, nil
}
