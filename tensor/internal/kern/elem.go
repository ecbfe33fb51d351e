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
	OpReLUGrad    // a where b > 0, else 0
	OpSigmoidGrad // a·b·(1-b)
	OpTanhGrad    // a·(1-b²)
	OpGELUGrad    // a·GELU'(b), computed in float64
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

// parChunk is the number of elements of one tile of the Par kernels (128
// KiB of float32): tiles depend only on the length, so results do not
// depend on the pool.
const parChunk = 32 << 10

// ntMin is the length from which results are written with non-temporal
// stores (bypassing the caches): 2M float32, 8 MiB, more than a core's
// share of the last-level cache, so the result would not stay in cache
// anyway and skipping the read of each destination line before its write
// saves a third of add's memory traffic.
const ntMin = 2 << 20

// Binary sets dst[i] = a[i] op b[i]; the three slices have one length and
// dst may be a or b (but not overlap them otherwise). Add, Sub, Mul and Div
// are IEEE-exact in every tier; Max and Min return NaN when either input
// is NaN, and +0 (Max) or -0 (Min) for a pair of zeros of different signs.
func Binary(op BinOp, dst, a, b []float32) {
	binary(op, dst, a, b, len(dst) >= ntMin)
}

// binary is Binary with non-temporal stores when nt (and a vector tier).
func binary(op BinOp, dst, a, b []float32, nt bool) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	lo, hi := binaryAsm(op, dst, a, b, nt)
	binaryGo(op, dst[:lo], a[:lo], b[:lo])
	binaryGo(op, dst[hi:], a[hi:], b[hi:])
}

// BinaryPar is Binary split into fixed chunks run over p (nil runs on the
// caller); the result is the same as Binary's.
func BinaryPar(p *Pool, op BinOp, dst, a, b []float32) {
	n := len(dst)
	if n < 2*parChunk || p == nil || p.Workers() == 1 {
		Binary(op, dst, a, b)
		return
	}
	a, b = a[:n], b[:n]
	nt := n >= ntMin
	p.Run((n+parChunk-1)/parChunk, func(t int) {
		lo, hi := t*parChunk, min((t+1)*parChunk, n)
		binary(op, dst[lo:hi], a[lo:hi], b[lo:hi], nt)
	})
}

func binaryGo(op BinOp, dst, a, b []float32) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	switch op {
	case OpAdd:
		for i := range dst {
			dst[i] = a[i] + b[i]
		}
	case OpSub:
		for i := range dst {
			dst[i] = a[i] - b[i]
		}
	case OpMul:
		for i := range dst {
			dst[i] = a[i] * b[i]
		}
	case OpDiv:
		for i := range dst {
			dst[i] = a[i] / b[i]
		}
	case OpReLUGrad:
		for i := range dst {
			v := a[i]
			if !(b[i] > 0) {
				v = 0
			}
			dst[i] = v
		}
	case OpSigmoidGrad:
		for i := range dst {
			dst[i] = a[i] * b[i] * (1 - b[i])
		}
	case OpTanhGrad:
		for i := range dst {
			dst[i] = a[i] * (1 - b[i]*b[i])
		}
	default:
		for i := range dst {
			dst[i] = binScalar(op, a[i], b[i])
		}
	}
}

// BinaryScalar sets dst[i] = a[i] op s, or s op a[i] when left; dst may be
// a.
func BinaryScalar(op BinOp, dst, a []float32, s float32, left bool) {
	binaryScalar(op, dst, a, s, left, len(dst) >= ntMin)
}

// binaryScalar is BinaryScalar with non-temporal stores when nt (and a
// vector tier).
func binaryScalar(op BinOp, dst, a []float32, s float32, left, nt bool) {
	a = a[:len(dst)]
	lo, hi := binaryScalarAsm(op, dst, a, s, left, nt)
	binaryScalarGo(op, dst[:lo], a[:lo], s, left)
	binaryScalarGo(op, dst[hi:], a[hi:], s, left)
}

func binaryScalarGo(op BinOp, dst, a []float32, s float32, left bool) {
	a = a[:len(dst)]
	switch {
	case op == OpAdd:
		for i := range dst {
			dst[i] = a[i] + s
		}
	case op == OpMul:
		for i := range dst {
			dst[i] = a[i] * s
		}
	case left:
		for i := range dst {
			dst[i] = binScalar(op, s, a[i])
		}
	default:
		for i := range dst {
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
		return float32(float64(x) * GELUGrad64(float64(y)))
	}
	panic("kern: unknown binary op")
}

// Unary sets dst[i] = op(a[i]) (param is the exponent of OpPowScalar); dst
// may be a. ReLU, Neg, Abs, Sqrt and Square give the same bits in every
// tier (ReLU maps -0 to +0 and keeps NaN). The Go tier computes Exp, Log,
// Tanh, Sigmoid and GELU in float64; the AVX2 tier in float32 with
// polynomial approximations (unary_amd64.go), measured within 1.4 ulp for
// Exp, Log, Sigmoid and Tanh, and for GELU within a few ulps plus the
// error its negative tail amplifies (see TestUnaryMathAccuracy).
func Unary(op UnOp, dst, a []float32, param float32) {
	unary(op, dst, a, param, len(dst) >= ntMin)
}

// unary is Unary with non-temporal stores when nt (and a vector tier).
func unary(op UnOp, dst, a []float32, param float32, nt bool) {
	a = a[:len(dst)]
	lo, hi := unaryAsm(op, dst, a, nt)
	unaryGo(op, dst[:lo], a[:lo], param)
	unaryGo(op, dst[hi:], a[hi:], param)
}

// UnaryPar is Unary split into fixed chunks run over p (nil runs on the
// caller); the result is the same as Unary's.
func UnaryPar(p *Pool, op UnOp, dst, a []float32, param float32) {
	n := len(dst)
	if n < 2*parChunk || p == nil || p.Workers() == 1 {
		Unary(op, dst, a, param)
		return
	}
	a = a[:n]
	nt := n >= ntMin
	p.Run((n+parChunk-1)/parChunk, func(t int) {
		lo, hi := t*parChunk, min((t+1)*parChunk, n)
		unary(op, dst[lo:hi], a[lo:hi], param, nt)
	})
}

func unaryGo(op UnOp, dst, a []float32, param float32) {
	a = a[:len(dst)]
	switch op {
	case OpReLU:
		for i, x := range a {
			dst[i] = max(x, 0)
		}
	case OpNeg:
		for i, x := range a {
			dst[i] = -x
		}
	case OpSquare:
		for i, x := range a {
			dst[i] = x * x
		}
	default:
		for i, x := range a {
			dst[i] = unScalar(op, x, param)
		}
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
		// 0.5x(1+tanh u) written as x/(1+exp(-2u)), which keeps the
		// precision of the tiny results of negative x.
		v := float64(x)
		return float32(v / (1 + math.Exp(-1.5957691216057308*(v+0.044715*v*v*v))))
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

// Axpy sets y[i] += alpha·x[i] (accumulation of rows in reductions and
// scatter-add). The product is rounded before the sum (no fused
// multiply-add), so every tier gives the same bits.
func Axpy(alpha float32, x, y []float32) {
	x = x[:len(y)]
	i := axpyAsm(alpha, x, y)
	x, y = x[i:], y[i:]
	for i := range y {
		y[i] += float32(alpha * x[i])
	}
}

// GELUGrad64 is the derivative of the tanh approximation of GELU,
// 0.5·x·(1+tanh(u)) with u = c·(x+0.044715·x³).
func GELUGrad64(x float64) float64 {
	const c = 0.7978845608028654
	u := c * (x + 0.044715*x*x*x)
	t := math.Tanh(u)
	return 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*0.044715*x*x)
}
