package train

import (
	"fmt"
	"slices"

	"github.com/kilnml/kiln/tensor"
)

// This file holds the differentiable operations. Each computes its value
// with tensor's kernels and records a backward function built from
// tensor's kernels too, so it runs on whatever Device holds the values.

// scalarLike returns a rank-0 tensor holding v, of t's type, on t's device.
func scalarLike(t *tensor.Tensor, v float64) (*tensor.Tensor, error) {
	s, err := tensor.NewOn(t.Device(), t.DType())
	if err != nil {
		return nil, err
	}
	return s, tensor.Fill(s, v)
}

// scale returns t·s in a new tensor.
func scale(t *tensor.Tensor, s float64) (*tensor.Tensor, error) {
	c, err := scalarLike(t, s)
	if err != nil {
		return nil, err
	}
	return tensor.Mul(t, c)
}

// sumTo sums g over the axes along which a value of shape was broadcast to
// g's shape, giving a tensor of shape (g itself when nothing was
// broadcast).
func sumTo(g *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	gs := g.Shape()
	if slices.Equal(gs, shape) {
		return g, nil
	}
	lead := len(gs) - len(shape)
	var axes []int
	for i := range gs {
		if i < lead || shape[i-lead] == 1 && gs[i] != 1 {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return g.Reshape(shape...)
	}
	s, err := tensor.Sum(g, true, axes...)
	if err != nil {
		return nil, err
	}
	return s.Reshape(shape...)
}

func opErr(op string, err error) *Var { return failed(fmt.Errorf("train: %s: %w", op, err)) }

// binaryOp runs a broadcasting binary tensor op.
func binaryOp(name string, f func(a, b *tensor.Tensor) (*tensor.Tensor, error), a, b *Var,
	back func(g, out *tensor.Tensor) (ga, gb *tensor.Tensor, err error)) *Var {
	if err := firstErr(a, b); err != nil {
		return failed(err)
	}
	out, err := f(a.Value, b.Value)
	if err != nil {
		return opErr(name, err)
	}
	as, bs := a.Value.Shape(), b.Value.Shape()
	return record(name, out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		ga, gb, err := back(g, out)
		if err != nil {
			return nil, err
		}
		if ga != nil {
			if ga, err = sumTo(ga, as); err != nil {
				return nil, err
			}
		}
		if gb != nil {
			if gb, err = sumTo(gb, bs); err != nil {
				return nil, err
			}
		}
		return []*tensor.Tensor{ga, gb}, nil
	}, a, b)
}

// Add returns a + b, broadcasting.
func Add(a, b *Var) *Var {
	return binaryOp("Add", tensor.Add, a, b, func(g, _ *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor, error) {
		return g, g, nil
	})
}

// Sub returns a - b, broadcasting.
func Sub(a, b *Var) *Var {
	return binaryOp("Sub", tensor.Sub, a, b, func(g, _ *tensor.Tensor) (*tensor.Tensor, *tensor.Tensor, error) {
		var gb *tensor.Tensor
		if b.requiresGrad {
			var err error
			if gb, err = tensor.Neg(g); err != nil {
				return nil, nil, err
			}
		}
		return g, gb, nil
	})
}

// Mul returns a·b elementwise, broadcasting.
func Mul(a, b *Var) *Var {
	return binaryOp("Mul", tensor.Mul, a, b, func(g, _ *tensor.Tensor) (ga, gb *tensor.Tensor, err error) {
		if a.requiresGrad {
			if ga, err = tensor.Mul(g, b.Value); err != nil {
				return nil, nil, err
			}
		}
		if b.requiresGrad {
			if gb, err = tensor.Mul(g, a.Value); err != nil {
				return nil, nil, err
			}
		}
		return ga, gb, nil
	})
}

// Div returns a / b elementwise, broadcasting.
func Div(a, b *Var) *Var {
	return binaryOp("Div", tensor.Div, a, b, func(g, out *tensor.Tensor) (ga, gb *tensor.Tensor, err error) {
		if ga, err = tensor.Div(g, b.Value); err != nil {
			return nil, nil, err
		}
		if b.requiresGrad {
			// d(a/b)/db = -(a/b)/b
			if gb, err = tensor.Mul(ga, out); err != nil {
				return nil, nil, err
			}
			if err = tensor.Unary(tensor.OpNeg, gb, gb, 0); err != nil {
				return nil, nil, err
			}
		}
		if !a.requiresGrad {
			ga = nil
		}
		return ga, gb, nil
	})
}

// unaryOp runs a unary tensor op whose gradient is back(g, x, out).
func unaryOp(name string, op tensor.UnaryOp, param float64, x *Var, back func(g, x, out *tensor.Tensor) (*tensor.Tensor, error)) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	out, err := tensor.NewOn(x.Value.Device(), x.Value.DType(), x.Value.Shape()...)
	if err != nil {
		return opErr(name, err)
	}
	if err := tensor.Unary(op, out, x.Value, param); err != nil {
		return opErr(name, err)
	}
	return record(name, out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gx, err := back(g, x.Value, out)
		return []*tensor.Tensor{gx}, err
	}, x)
}

// gradOp applies one of tensor's activation-gradient ops.
func gradOp(op tensor.BinaryOp, g, y *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := tensor.NewOn(g.Device(), g.DType(), g.Shape()...)
	if err != nil {
		return nil, err
	}
	return out, tensor.Binary(op, out, g, y)
}

// Neg returns -x.
func Neg(x *Var) *Var {
	return unaryOp("Neg", tensor.OpNeg, 0, x, func(g, _, _ *tensor.Tensor) (*tensor.Tensor, error) {
		return tensor.Neg(g)
	})
}

// Scale returns s·x.
func Scale(x *Var, s float64) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	out, err := scale(x.Value, s)
	if err != nil {
		return opErr("Scale", err)
	}
	return record("Scale", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gx, err := scale(g, s)
		return []*tensor.Tensor{gx}, err
	}, x)
}

// AddScalar returns x + s.
func AddScalar(x *Var, s float64) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	c, err := scalarLike(x.Value, s)
	if err != nil {
		return opErr("AddScalar", err)
	}
	out, err := tensor.Add(x.Value, c)
	if err != nil {
		return opErr("AddScalar", err)
	}
	return record("AddScalar", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		return []*tensor.Tensor{g}, nil
	}, x)
}

// Exp returns e^x.
func Exp(x *Var) *Var {
	return unaryOp("Exp", tensor.OpExp, 0, x, func(g, _, out *tensor.Tensor) (*tensor.Tensor, error) {
		return tensor.Mul(g, out)
	})
}

// Log returns the natural logarithm of x.
func Log(x *Var) *Var {
	return unaryOp("Log", tensor.OpLog, 0, x, func(g, x, _ *tensor.Tensor) (*tensor.Tensor, error) {
		return tensor.Div(g, x)
	})
}

// Sqrt returns √x.
func Sqrt(x *Var) *Var {
	return unaryOp("Sqrt", tensor.OpSqrt, 0, x, func(g, _, out *tensor.Tensor) (*tensor.Tensor, error) {
		h, err := tensor.Div(g, out)
		if err != nil {
			return nil, err
		}
		return scale(h, 0.5)
	})
}

// Square returns x².
func Square(x *Var) *Var {
	return unaryOp("Square", tensor.OpSquare, 0, x, func(g, x, _ *tensor.Tensor) (*tensor.Tensor, error) {
		h, err := tensor.Mul(g, x)
		if err != nil {
			return nil, err
		}
		return scale(h, 2)
	})
}

// Pow returns x^p.
func Pow(x *Var, p float64) *Var {
	return unaryOp("Pow", tensor.OpPowScalar, p, x, func(g, x, _ *tensor.Tensor) (*tensor.Tensor, error) {
		d, err := tensor.PowScalar(x, p-1)
		if err != nil {
			return nil, err
		}
		if err := tensor.Binary(tensor.OpMul, d, d, g); err != nil {
			return nil, err
		}
		return scale(d, p)
	})
}

// Abs returns |x|; its gradient at 0 is 0.
func Abs(x *Var) *Var {
	return unaryOp("Abs", tensor.OpAbs, 0, x, func(g, x, _ *tensor.Tensor) (*tensor.Tensor, error) {
		// sign(x)·g = [x>0]·g - [-x>0]·g
		pos, err := gradOp(tensor.OpReLUGrad, g, x)
		if err != nil {
			return nil, err
		}
		nx, err := tensor.Neg(x)
		if err != nil {
			return nil, err
		}
		neg, err := gradOp(tensor.OpReLUGrad, g, nx)
		if err != nil {
			return nil, err
		}
		return pos, tensor.Binary(tensor.OpSub, pos, pos, neg)
	})
}

// Tanh returns tanh(x).
func Tanh(x *Var) *Var {
	return unaryOp("Tanh", tensor.OpTanh, 0, x, func(g, _, out *tensor.Tensor) (*tensor.Tensor, error) {
		return gradOp(tensor.OpTanhGrad, g, out)
	})
}

// Sigmoid returns 1/(1+e^-x).
func Sigmoid(x *Var) *Var {
	return unaryOp("Sigmoid", tensor.OpSigmoid, 0, x, func(g, _, out *tensor.Tensor) (*tensor.Tensor, error) {
		return gradOp(tensor.OpSigmoidGrad, g, out)
	})
}

// ReLU returns max(x, 0); its gradient at 0 is 0.
func ReLU(x *Var) *Var {
	return unaryOp("ReLU", tensor.OpReLU, 0, x, func(g, _, out *tensor.Tensor) (*tensor.Tensor, error) {
		return gradOp(tensor.OpReLUGrad, g, out)
	})
}

// GELU returns the tanh approximation of GELU.
func GELU(x *Var) *Var {
	return unaryOp("GELU", tensor.OpGELU, 0, x, func(g, x, _ *tensor.Tensor) (*tensor.Tensor, error) {
		return gradOp(tensor.OpGELUGrad, g, x)
	})
}

// Activate applies act (ActNone returns x).
func Activate(x *Var, act tensor.Activation) *Var {
	switch act {
	case tensor.ActNone:
		return x
	case tensor.ActReLU:
		return ReLU(x)
	case tensor.ActGELU:
		return GELU(x)
	case tensor.ActSigmoid:
		return Sigmoid(x)
	case tensor.ActTanh:
		return Tanh(x)
	}
	return failed(fmt.Errorf("train: unknown activation %d", act))
}

// actGrad turns the gradient of act's output y (z its input) into z's.
func actGrad(act tensor.Activation, g, y, z *tensor.Tensor) (*tensor.Tensor, error) {
	switch act {
	case tensor.ActReLU:
		return gradOp(tensor.OpReLUGrad, g, y)
	case tensor.ActSigmoid:
		return gradOp(tensor.OpSigmoidGrad, g, y)
	case tensor.ActTanh:
		return gradOp(tensor.OpTanhGrad, g, y)
	case tensor.ActGELU:
		return gradOp(tensor.OpGELUGrad, g, z)
	}
	return g, nil
}

// MatMul returns the matrix product of a [..., m, k] and b [..., k, n],
// the leading axes broadcast (see tensor.MatMul); both have rank 2 or
// more.
func MatMul(a, b *Var) *Var {
	if err := firstErr(a, b); err != nil {
		return failed(err)
	}
	if a.Value.Rank() < 2 || b.Value.Rank() < 2 {
		return opErr("MatMul", fmt.Errorf("%w: operands of rank %d and %d (need 2 or more; Reshape vectors)", tensor.ErrShape, a.Value.Rank(), b.Value.Rank()))
	}
	out, err := tensor.MatMul(a.Value, b.Value)
	if err != nil {
		return opErr("MatMul", err)
	}
	as, bs := a.Value.Shape(), b.Value.Shape()
	return record("MatMul", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		var ga, gb *tensor.Tensor
		if a.requiresGrad {
			bt, err := b.Value.Transpose(len(bs)-2, len(bs)-1)
			if err != nil {
				return nil, err
			}
			if ga, err = tensor.MatMul(g, bt); err != nil {
				return nil, err
			}
			if ga, err = sumTo(ga, as); err != nil {
				return nil, err
			}
		}
		if b.requiresGrad {
			at, err := a.Value.Transpose(len(as)-2, len(as)-1)
			if err != nil {
				return nil, err
			}
			if gb, err = tensor.MatMul(at, g); err != nil {
				return nil, err
			}
			if gb, err = sumTo(gb, bs); err != nil {
				return nil, err
			}
		}
		return []*tensor.Tensor{ga, gb}, nil
	}, a, b)
}

// Linear returns act(x·wᵀ + b) for x [n, in], w [out, in] (PyTorch's
// layout) and b [out] or nil, in one fused GEMM.
func Linear(x, w, b *Var, act tensor.Activation) *Var {
	inputs := []*Var{x, w}
	if b != nil {
		inputs = append(inputs, b)
	}
	if err := firstErr(inputs...); err != nil {
		return failed(err)
	}
	xs, ws := x.Value.Shape(), w.Value.Shape()
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		return opErr("Linear", fmt.Errorf("%w: input %v and weight %v (want [n, in] and [out, in])", tensor.ErrShape, xs, ws))
	}
	opts := tensor.GemmOptions{TransB: true, Act: act}
	if b != nil {
		if bs := b.Value.Shape(); len(bs) != 1 || bs[0] != ws[0] {
			return opErr("Linear", fmt.Errorf("%w: bias %v for weight %v", tensor.ErrShape, bs, ws))
		}
		opts.Bias = b.Value
	}
	var z *tensor.Tensor // the pre-activation, kept for GELU's gradient
	if act == tensor.ActGELU {
		opts.Act = tensor.ActNone
	}
	out, err := tensor.NewOn(x.Value.Device(), x.Value.DType(), xs[0], ws[0])
	if err != nil {
		return opErr("Linear", err)
	}
	if err := tensor.Gemm(out, x.Value, w.Value, opts); err != nil {
		return opErr("Linear", err)
	}
	if act == tensor.ActGELU {
		z = out
		if out, err = tensor.GELU(z); err != nil {
			return opErr("Linear", err)
		}
	}
	return record("Linear", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gz, err := actGrad(act, g, out, z)
		if err != nil {
			return nil, err
		}
		gs := make([]*tensor.Tensor, len(inputs))
		if x.requiresGrad {
			if gs[0], err = tensor.MatMul(gz, w.Value); err != nil {
				return nil, err
			}
		}
		if w.requiresGrad {
			gw, err := tensor.NewOn(gz.Device(), gz.DType(), ws...)
			if err != nil {
				return nil, err
			}
			if err := tensor.Gemm(gw, gz, x.Value, tensor.GemmOptions{TransA: true}); err != nil {
				return nil, err
			}
			gs[1] = gw
		}
		if b != nil && b.requiresGrad {
			if gs[2], err = tensor.Sum(gz, false, 0); err != nil {
				return nil, err
			}
		}
		return gs, nil
	}, inputs...)
}

// Sum returns the sum of x over axes (every axis when none are given), the
// reduced axes removed.
func Sum(x *Var, axes ...int) *Var { return reduce("Sum", x, false, false, axes) }

// Mean returns the mean of x over axes (every axis when none are given),
// the reduced axes removed.
func Mean(x *Var, axes ...int) *Var { return reduce("Mean", x, true, false, axes) }

// SumKeep is Sum keeping the reduced axes with size 1.
func SumKeep(x *Var, axes ...int) *Var { return reduce("Sum", x, false, true, axes) }

// MeanKeep is Mean keeping the reduced axes with size 1.
func MeanKeep(x *Var, axes ...int) *Var { return reduce("Mean", x, true, true, axes) }

func reduce(name string, x *Var, mean, keep bool, axes []int) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	xs := x.Value.Shape()
	f := tensor.Sum
	if mean {
		f = tensor.Mean
	}
	out, err := f(x.Value, keep, axes...)
	if err != nil {
		return opErr(name, err)
	}
	keptShape := slices.Clone(xs)
	for i := range keptShape {
		if len(axes) == 0 {
			keptShape[i] = 1
		}
	}
	for _, a := range axes { // valid: tensor.Sum checked them
		if a < 0 {
			a += len(xs)
		}
		keptShape[a] = 1
	}
	n := 1
	if mean {
		n = max(x.Value.Len(), 1) / max(out.Len(), 1)
	}
	return recordViews(name, out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gk, err := g.Contiguous()
		if err != nil {
			return nil, err
		}
		if gk, err = gk.Reshape(keptShape...); err != nil {
			return nil, err
		}
		if mean {
			if gk, err = scale(gk, 1/float64(n)); err != nil {
				return nil, err
			}
		}
		gx, err := gk.BroadcastTo(xs...)
		return []*tensor.Tensor{gx}, err
	}, x)
}

// Reshape returns x with another shape of the same size (one dimension may
// be -1).
func Reshape(x *Var, shape ...int) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	c, err := x.Value.Contiguous()
	if err != nil {
		return opErr("Reshape", err)
	}
	out, err := c.Reshape(shape...)
	if err != nil {
		return opErr("Reshape", err)
	}
	xs := x.Value.Shape()
	return recordViews("Reshape", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gc, err := g.Contiguous()
		if err != nil {
			return nil, err
		}
		gx, err := gc.Reshape(xs...)
		return []*tensor.Tensor{gx}, err
	}, x)
}

// Transpose returns x with axes i and j swapped (a view).
func Transpose(x *Var, i, j int) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	out, err := x.Value.Transpose(i, j)
	if err != nil {
		return opErr("Transpose", err)
	}
	return recordViews("Transpose", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gx, err := g.Transpose(i, j)
		return []*tensor.Tensor{gx}, err
	}, x)
}

// Concat joins xs along axis.
func Concat(axis int, xs ...*Var) *Var {
	if err := firstErr(xs...); err != nil {
		return failed(err)
	}
	vals := make([]*tensor.Tensor, len(xs))
	sizes := make([]int, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	out, err := tensor.Concat(axis, vals...)
	if err != nil {
		return opErr("Concat", err)
	}
	ax := axis
	if ax < 0 {
		ax += out.Rank()
	}
	for i, x := range xs {
		sizes[i] = x.Value.Shape()[ax]
	}
	return recordViews("Concat", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		return tensor.Split(g, ax, sizes...)
	}, xs...)
}

// Embedding returns the rows idx of table [vocab, dim]: an embedding
// lookup, [len(idx), dim]. Its gradient adds into the rows looked up.
func Embedding(table *Var, idx []int32) *Var {
	if err := table.Err(); err != nil {
		return failed(err)
	}
	out, err := tensor.Gather(table.Value, idx)
	if err != nil {
		return opErr("Embedding", err)
	}
	ts := table.Value.Shape()
	return record("Embedding", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		gt, err := tensor.NewOn(g.Device(), g.DType(), ts...)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{gt}, tensor.ScatterAdd(gt, idx, g)
	}, table)
}

// LogSoftmax returns x - log(Σ exp(x)) along axis.
func LogSoftmax(x *Var, axis int) *Var { return softmax("LogSoftmax", x, axis, true) }

// Softmax returns exp(x)/Σ exp(x) along axis.
func Softmax(x *Var, axis int) *Var { return softmax("Softmax", x, axis, false) }

func softmax(name string, x *Var, axis int, log bool) *Var {
	if err := x.Err(); err != nil {
		return failed(err)
	}
	out, err := tensor.NewOn(x.Value.Device(), x.Value.DType(), x.Value.Shape()...)
	if err != nil {
		return opErr(name, err)
	}
	if err := tensor.SoftmaxInto(out, x.Value, axis, log); err != nil {
		return opErr(name, err)
	}
	return record(name, out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
		if log {
			// g - softmax·Σg
			s, err := tensor.Sum(g, true, axis)
			if err != nil {
				return nil, err
			}
			p, err := tensor.Exp(out)
			if err != nil {
				return nil, err
			}
			if err := tensor.Binary(tensor.OpMul, p, p, s); err != nil {
				return nil, err
			}
			gx, err := tensor.Sub(g, p)
			return []*tensor.Tensor{gx}, err
		}
		// y·(g - Σ g·y)
		gy, err := tensor.Mul(g, out)
		if err != nil {
			return nil, err
		}
		s, err := tensor.Sum(gy, true, axis)
		if err != nil {
			return nil, err
		}
		gx, err := tensor.Sub(g, s)
		if err != nil {
			return nil, err
		}
		return []*tensor.Tensor{gx}, tensor.Binary(tensor.OpMul, gx, gx, out)
	}, x)
}
