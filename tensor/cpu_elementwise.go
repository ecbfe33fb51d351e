package tensor

import (
	"math"

	"github.com/kilnml/kiln/tensor/internal/kern"
)

// chunk is the length of the scratch runs a strided inner loop is gathered
// into before a contiguous kernel runs on it.
const chunk = 256

func (*cpuDevice) Binary(op BinaryOp, dst, a, b View) error {
	l := newLoop(dst.Shape, dst, a, b)
	inc := l.inc()
	if dst.DType == Float64 {
		d, x, y := hostF64(dst.Buf), hostF64(a.Buf), hostF64(b.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			for i := range n {
				d[o[0]+i*inc[0]] = bin64(op, x[o[1]+i*inc[1]], y[o[2]+i*inc[2]])
			}
		})
		return nil
	}
	kop := kern.BinOp(op)
	d, x, y := hostF32(dst.Buf), hostF32(a.Buf), hostF32(b.Buf)
	l.run(kern.Default(), func(o [3]int, n int) {
		switch {
		case inc[0] == 1 && inc[1] == 1 && inc[2] == 1:
			kern.Binary(kop, d[o[0]:o[0]+n], x[o[1]:o[1]+n], y[o[2]:o[2]+n])
		case inc[0] == 1 && inc[1] == 1 && inc[2] == 0:
			kern.BinaryScalar(kop, d[o[0]:o[0]+n], x[o[1]:o[1]+n], y[o[2]], false)
		case inc[0] == 1 && inc[1] == 0 && inc[2] == 1:
			kern.BinaryScalar(kop, d[o[0]:o[0]+n], y[o[2]:o[2]+n], x[o[1]], true)
		default:
			var bx, by [chunk]float32
			for s := 0; s < n; s += chunk {
				c := min(chunk, n-s)
				for i := range c {
					bx[i] = x[o[1]+(s+i)*inc[1]]
					by[i] = y[o[2]+(s+i)*inc[2]]
				}
				kern.Binary(kop, bx[:c], bx[:c], by[:c])
				for i := range c {
					d[o[0]+(s+i)*inc[0]] = bx[i]
				}
			}
		}
	})
	return nil
}

func (*cpuDevice) Unary(op UnaryOp, dst, a View, param float64) error {
	l := newLoop(dst.Shape, dst, a)
	inc := l.inc()
	if dst.DType == Float64 {
		d, x := hostF64(dst.Buf), hostF64(a.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			for i := range n {
				d[o[0]+i*inc[0]] = un64(op, x[o[1]+i*inc[1]], param)
			}
		})
		return nil
	}
	kop, p := kern.UnOp(op), float32(param)
	d, x := hostF32(dst.Buf), hostF32(a.Buf)
	l.run(kern.Default(), func(o [3]int, n int) {
		if inc[0] == 1 && inc[1] == 1 {
			kern.Unary(kop, d[o[0]:o[0]+n], x[o[1]:o[1]+n], p)
			return
		}
		var bx [chunk]float32
		for s := 0; s < n; s += chunk {
			c := min(chunk, n-s)
			for i := range c {
				bx[i] = x[o[1]+(s+i)*inc[1]]
			}
			kern.Unary(kop, bx[:c], bx[:c], p)
			for i := range c {
				d[o[0]+(s+i)*inc[0]] = bx[i]
			}
		}
	})
	return nil
}

func bin64(op BinaryOp, x, y float64) float64 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	case OpDiv:
		return x / y
	case OpMaximum:
		if x != x || y != y {
			return math.NaN()
		}
		return max(x, y)
	case OpMinimum:
		if x != x || y != y {
			return math.NaN()
		}
		return min(x, y)
	case OpPow:
		return math.Pow(x, y)
	case OpReLUGrad:
		if y > 0 {
			return x
		}
		return 0
	case OpSigmoidGrad:
		return x * y * (1 - y)
	case OpTanhGrad:
		return x * (1 - y*y)
	case OpGELUGrad:
		return x * kern.GELUGrad64(y)
	}
	return math.NaN()
}

func un64(op UnaryOp, x, p float64) float64 {
	switch op {
	case OpNeg:
		return -x
	case OpExp:
		return math.Exp(x)
	case OpLog:
		return math.Log(x)
	case OpTanh:
		return math.Tanh(x)
	case OpSigmoid:
		return act64(ActSigmoid, x)
	case OpReLU:
		return max(x, 0)
	case OpGELU:
		return act64(ActGELU, x)
	case OpSqrt:
		return math.Sqrt(x)
	case OpAbs:
		return math.Abs(x)
	case OpPowScalar:
		return math.Pow(x, p)
	case OpSquare:
		return x * x
	}
	return math.NaN()
}
