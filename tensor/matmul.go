package tensor

import (
	"fmt"
	"slices"
)

// GemmOptions configure [Gemm]. The zero value computes dst = a·b.
type GemmOptions struct {
	// TransA and TransB use the transpose of the last two axes of a or b.
	// (A transposed view passed as a is equally fast: no copy is made.)
	TransA, TransB bool
	// Alpha scales the product; 0 means 1.
	Alpha float64
	// Beta scales dst's previous contents before the product is added; 0
	// ignores them (NaNs in dst do not propagate).
	Beta float64
	// Bias, if not nil, is a 1-D tensor of n values added to every row.
	Bias *Tensor
	// Act is applied to the result.
	Act Activation
}

// MatMul returns the matrix product of a and b: a is [..., m, k], b is
// [..., k, n] and the result [..., m, n], the leading (batch) axes
// broadcast with NumPy's rules. As in NumPy, a 1-D a is a row vector and
// a 1-D b a column vector, whose axis is then dropped from the result.
// Transposed and sliced views are used in place.
func MatMul(a, b *Tensor) (*Tensor, error) {
	if err := sameSet(a, b); err != nil {
		return nil, err
	}
	var err error
	if len(a.shape) == 1 && len(b.shape) >= 1 {
		if a, err = a.Unsqueeze(0); err != nil {
			return nil, err
		}
		out, err := MatMul(a, b)
		if err != nil {
			return nil, err
		}
		if len(b.shape) == 1 {
			return out.Squeeze(-1) // the m axis, b's n axis already gone
		}
		return out.Squeeze(-2)
	}
	if len(b.shape) == 1 && len(a.shape) >= 2 {
		if b, err = b.Unsqueeze(1); err != nil {
			return nil, err
		}
		out, err := MatMul(a, b)
		if err != nil {
			return nil, err
		}
		return out.Squeeze(-1)
	}
	shape, err := matmulShape(a, b)
	if err != nil {
		return nil, err
	}
	dst, err := like(a, shape)
	if err != nil {
		return nil, err
	}
	if err := gemm(dst, a, b, 1, 0, nil, ActNone); err != nil {
		return nil, err
	}
	return dst, nil
}

// Gemm computes dst = act(alpha·op(a)·op(b) + beta·dst + bias), with the
// shapes and batch broadcasting of [MatMul]; dst must have the product's
// shape and must not overlap a or b.
func Gemm(dst, a, b *Tensor, opts GemmOptions) error {
	if err := sameSet(dst, a, b); err != nil {
		return err
	}
	var err error
	if opts.TransA {
		if a, err = transposeLast(a); err != nil {
			return err
		}
	}
	if opts.TransB {
		if b, err = transposeLast(b); err != nil {
			return err
		}
	}
	shape, err := matmulShape(a, b)
	if err != nil {
		return err
	}
	if err := checkShape(dst, shape); err != nil {
		return err
	}
	if err := writable(dst); err != nil {
		return err
	}
	if opts.Bias != nil {
		if err := sameSet(dst, opts.Bias); err != nil {
			return err
		}
		if len(opts.Bias.shape) != 1 || opts.Bias.shape[0] != shape[len(shape)-1] {
			return fmt.Errorf("%w: bias %v for a product %v", ErrShape, opts.Bias.shape, shape)
		}
	}
	if opts.Act > ActTanh {
		return fmt.Errorf("tensor: unknown activation %d", opts.Act)
	}
	alpha := opts.Alpha
	if alpha == 0 {
		alpha = 1
	}
	return gemm(dst, a, b, alpha, opts.Beta, opts.Bias, opts.Act)
}

func transposeLast(t *Tensor) (*Tensor, error) {
	if len(t.shape) < 2 {
		return nil, fmt.Errorf("%w: transpose of a rank-%d tensor %v", ErrShape, len(t.shape), t.shape)
	}
	return t.Transpose(-1, -2)
}

func matmulShape(a, b *Tensor) ([]int, error) {
	ra, rb := len(a.shape), len(b.shape)
	if ra < 2 || rb < 2 {
		return nil, fmt.Errorf("%w: matrix product of %v and %v needs rank 2 or more", ErrShape, a.shape, b.shape)
	}
	m, k, k2, n := a.shape[ra-2], a.shape[ra-1], b.shape[rb-2], b.shape[rb-1]
	if k != k2 {
		return nil, fmt.Errorf("%w: matrix product of %v and %v", ErrShape, a.shape, b.shape)
	}
	batch, err := broadcastShapes(a.shape[:ra-2], b.shape[:rb-2])
	if err != nil {
		return nil, fmt.Errorf("%w: batch axes of %v and %v do not broadcast", ErrShape, a.shape, b.shape)
	}
	return append(batch, m, n), nil
}

// as3 returns t (broadcast to batch+last two axes) as a rank-3 view
// [prod(batch), r, c], copying when the batch axes cannot be merged.
func as3(t *Tensor, batch []int) (View, error) {
	r := len(t.shape)
	bt, err := t.BroadcastTo(append(slices.Clone(batch), t.shape[r-2], t.shape[r-1])...)
	if err != nil {
		return View{}, err
	}
	nb := len(batch)
	ok := true
	for i := 0; i+1 < nb; i++ {
		if bt.shape[i+1] != 1 && bt.strides[i] != bt.strides[i+1]*bt.shape[i+1] {
			ok = false
		}
	}
	if !ok {
		if bt, err = bt.Clone(); err != nil {
			return View{}, err
		}
	}
	size, stride := 1, 0
	for i := range nb {
		size *= bt.shape[i]
	}
	// The batch stride is the stride of the innermost batch axis of size
	// more than one (merged axes are consistent with it).
	for i := nb - 1; i >= 0; i-- {
		if bt.shape[i] != 1 {
			stride = bt.strides[i]
			break
		}
	}
	return View{Buf: bt.buf, DType: bt.dt, Shape: []int{size, bt.shape[nb], bt.shape[nb+1]},
		Strides: []int{stride, bt.strides[nb], bt.strides[nb+1]}, Offset: bt.off}, nil
}

func gemm(dst, a, b *Tensor, alpha, beta float64, bias *Tensor, act Activation) error {
	batch := dst.shape[:len(dst.shape)-2]
	av, err := as3(a, batch)
	if err != nil {
		return err
	}
	bv, err := as3(b, batch)
	if err != nil {
		return err
	}
	cv, err := as3(dst, batch)
	if err != nil {
		return err
	}
	if cv.Buf != dst.buf {
		return fmt.Errorf("%w: destination %v (strides %v) cannot be addressed as a batch of matrices", ErrShape, dst.shape, dst.strides)
	}
	args := GemmArgs{Alpha: alpha, Beta: beta, Act: act}
	if bias != nil {
		args.Bias = bias.view()
	}
	return dst.Device().Gemm(cv, av, bv, args)
}
