package kern

import "math"

// BinOp is an elementwise binary operation.
type BinOp uint8

const (
	OpAdd BinOp = iota
	OpSub
	OpMul
	OpDiv
	OpMax
	OpMin
	OpPow
)

// UnOp is an elementwise unary operation.
type UnOp uint8

const (
	OpNeg UnOp = iota
	OpExp
	OpLog
	OpTanh
	OpSigmoid
	OpReLU
	OpGELU // tanh approximation
	OpSqrt
	OpAbs
	OpPowScalar // x^param
	OpSquare
)

// Binary sets dst[i] = a[i] op b[i]; the three slices have one length and
// dst may be a or b.
func Binary(op BinOp, dst, a, b []float32) {
	b = b[:len(dst)]
	a = a[:len(dst)]
	for i := range dst {
		dst[i] = binScalar(op, a[i], b[i])
	}
}

// BinaryScalar sets dst[i] = a[i] op s, or s op a[i] when left.
func BinaryScalar(op BinOp, dst, a []float32, s float32, left bool) {
	a = a[:len(dst)]
	for i := range dst {
		if left {
			dst[i] = binScalar(op, s, a[i])
		} else {
			dst[i] = binScalar(op, a[i], s)
		}
	}
}

func binScalar(op BinOp, x, y float32) float32 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	case OpDiv:
		return x / y
	case OpMax:
		if x != x || y != y {
			return float32(math.NaN())
		}
		return max(x, y)
	case OpMin:
		if x != x || y != y {
			return float32(math.NaN())
		}
		return min(x, y)
	case OpPow:
		return float32(math.Pow(float64(x), float64(y)))
	}
	panic("kern: unknown binary op")
}

// Unary sets dst[i] = op(a[i]) (param is the exponent of OpPowScalar).
func Unary(op UnOp, dst, a []float32, param float32) {
	a = a[:len(dst)]
	for i, x := range a {
		dst[i] = unScalar(op, x, param)
	}
}

func unScalar(op UnOp, x, param float32) float32 {
	switch op {
	case OpNeg:
		return -x
	case OpExp:
		return float32(math.Exp(float64(x)))
	case OpLog:
		return float32(math.Log(float64(x)))
	case OpTanh:
		return ActScalar(ActTanh, x)
	case OpSigmoid:
		return ActScalar(ActSigmoid, x)
	case OpReLU:
		return max(x, 0)
	case OpGELU:
		return ActScalar(ActGELU, x)
	case OpSqrt:
		return float32(math.Sqrt(float64(x)))
	case OpAbs:
		return float32(math.Abs(float64(x)))
	case OpPowScalar:
		return float32(math.Pow(float64(x), float64(param)))
	case OpSquare:
		return x * x
	}
	panic("kern: unknown unary op")
}

// Sum returns the sum of a, added in a fixed order (the same for every
// call on the same input, whatever the pool).
func Sum(a []float32) float32 {
	var s float32
	for _, x := range a {
		s += x
	}
	return s
}

// MaxOf returns the largest value of a (NaN if any is NaN; -Inf if a is
// empty).
func MaxOf(a []float32) float32 {
	m := float32(math.Inf(-1))
	for _, x := range a {
		if x != x {
			return x
		}
		m = max(m, x)
	}
	return m
}

// MinOf returns the smallest value of a (NaN if any is NaN; +Inf if a is
// empty).
func MinOf(a []float32) float32 {
	m := float32(math.Inf(1))
	for _, x := range a {
		if x != x {
			return x
		}
		m = min(m, x)
	}
	return m
}

// Axpy sets y[i] += alpha·x[i] (accumulation of rows in reductions and
// scatter-add).
func Axpy(alpha float32, x, y []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}
