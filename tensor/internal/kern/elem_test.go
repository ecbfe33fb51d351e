package kern

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// forTiers runs f once under every tier this build and CPU support.
func forTiers(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, tier := range Tiers {
		if !Supported(tier) {
			continue
		}
		t.Run(tier.String(), func(t *testing.T) {
			restore, err := SetTier(tier)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

// specials are values every kernel test mixes into its inputs.
var specials = []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-40, math.MaxFloat32,
	-math.MaxFloat32, 3e38, 1e-30, 0.5, 2, 88.7, -103.9}

// randVec returns n values: mostly uniform in [-4, 4), some specials.
func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		if r.IntN(8) == 0 {
			v[i] = specials[r.IntN(len(specials))]
		} else {
			v[i] = float32(r.Float64()*8 - 4)
		}
	}
	return v
}

// testLengths are the lengths of the kernel tests: all of 0..100 and a few
// odd big ones.
func testLengths() []int {
	var ns []int
	for n := range 101 {
		ns = append(ns, n)
	}
	return append(ns, 257, 1000, 4099)
}

// sameBits reports whether got is want, NaN matching any NaN.
func sameBits(got, want float32) bool {
	if want != want {
		return got != got
	}
	return math.Float32bits(got) == math.Float32bits(want)
}

// refBin is the float64 reference of a binary op: exact for Add..Div
// because float64 holds float32 results exactly before the one rounding.
func refBin(op BinOp, x, y float32) float32 {
	a, b := float64(x), float64(y)
	switch op {
	case OpAdd:
		return float32(a + b)
	case OpSub:
		return float32(a - b)
	case OpMul:
		return float32(a * b)
	case OpDiv:
		return float32(a / b)
	case OpMax, OpMin:
		if x != x || y != y {
			return float32(math.NaN())
		}
		if x == 0 && y == 0 {
			neg := math.Signbit(a) && math.Signbit(b)
			if op == OpMin {
				neg = math.Signbit(a) || math.Signbit(b)
			}
			return float32(math.Copysign(0, map[bool]float64{true: -1, false: 1}[neg]))
		}
		if (op == OpMax) == (a > b) {
			return x
		}
		return y
	case OpPow:
		return float32(math.Pow(a, b))
	}
	panic("op")
}

var binOps = []BinOp{OpAdd, OpSub, OpMul, OpDiv, OpMax, OpMin, OpPow}

// guarded returns a slice of n elements at offset off of a larger buffer
// filled with a sentinel, and a check that nothing outside was written.
func guarded(t *testing.T, n, off int) ([]float32, func()) {
	buf := make([]float32, n+off+16)
	for i := range buf {
		buf[i] = 12345
	}
	return buf[off : off+n], func() {
		t.Helper()
		for i, x := range buf {
			if (i < off || i >= off+n) && x != 12345 {
				t.Fatalf("n=%d off=%d: wrote outside dst at %d", n, off, i-off)
			}
		}
	}
}

func TestBinary(t *testing.T) {
	forTiers(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, op := range binOps {
			for _, n := range testLengths() {
				for _, off := range []int{0, 1, 3} {
					a := randVec(r, n+off)[off:]
					b := randVec(r, n+3)[3:]
					dst, check := guarded(t, n, off)
					binary(op, dst, a, b, n%2 == 1)
					check()
					for i := range dst {
						if want := refBin(op, a[i], b[i]); !sameBits(dst[i], want) {
							t.Fatalf("op %d n=%d: %v op %v = %v, want %v", op, n, a[i], b[i], dst[i], want)
						}
					}
					// dst aliasing a, then b.
					a2 := append([]float32(nil), a...)
					Binary(op, a2, a2, b)
					b2 := append([]float32(nil), b[:n]...)
					Binary(op, b2, a, b2)
					for i := range dst {
						if !sameBits(a2[i], dst[i]) || !sameBits(b2[i], dst[i]) {
							t.Fatalf("op %d n=%d: aliased result differs at %d", op, n, i)
						}
					}
				}
			}
		}
	})
}

func TestBinaryScalar(t *testing.T) {
	forTiers(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, op := range binOps {
			for _, s := range []float32{1.5, -0.25, 0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), 1e-40} {
				for _, left := range []bool{false, true} {
					for _, n := range testLengths() {
						off := n % 3
						a := randVec(r, n+off)[off:]
						dst, check := guarded(t, n, 1+n%5)
						binaryScalar(op, dst, a, s, left, n%2 == 1)
						check()
						for i := range dst {
							want := refBin(op, a[i], s)
							if left {
								want = refBin(op, s, a[i])
							}
							if !sameBits(dst[i], want) {
								t.Fatalf("op %d left=%v n=%d: a=%v s=%v got %v want %v", op, left, n, a[i], s, dst[i], want)
							}
						}
						BinaryScalar(op, a, a, s, left)
						for i := range dst {
							if !sameBits(a[i], dst[i]) {
								t.Fatalf("op %d: aliased result differs", op)
							}
						}
					}
				}
			}
		}
	})
}

// refUn is the float64 reference of a unary op.
func refUn(op UnOp, x, param float32) float64 {
	v := float64(x)
	switch op {
	case OpNeg:
		return -v
	case OpExp:
		return math.Exp(v)
	case OpLog:
		return math.Log(v)
	case OpTanh:
		return math.Tanh(v)
	case OpSigmoid:
		return 1 / (1 + math.Exp(-v))
	case OpReLU:
		if v != v {
			return v
		}
		if v > 0 {
			return v
		}
		return 0
	case OpGELU:
		// 0.5v(1+tanh u) = v/(1+exp(-2u)), without the cancellation of
		// 1+tanh u for negative v.
		return v / (1 + math.Exp(-2*0.7978845608028654*(v+0.044715*v*v*v)))
	case OpSqrt:
		return math.Sqrt(v)
	case OpAbs:
		return math.Abs(v)
	case OpPowScalar:
		return math.Pow(v, float64(param))
	case OpSquare:
		return v * v
	}
	panic("op")
}

// exactUn are the unary ops every tier computes with one rounding of the
// exact result.
var exactUn = map[UnOp]bool{OpNeg: true, OpReLU: true, OpSqrt: true, OpAbs: true, OpSquare: true}

// ulpErr returns how many float32 ulps (of the reference's magnitude) got
// is from want; 0 when both are the same special value.
func ulpErr(got float32, want float64) float64 {
	if math.IsNaN(want) {
		if got != got {
			return 0
		}
		return math.Inf(1)
	}
	w := float32(want)
	if got == w || float64(got) == want {
		return 0
	}
	if math.IsInf(float64(w), 0) || math.IsInf(float64(got), 0) {
		return math.Inf(1)
	}
	ulp := math.Max(math.Abs(want), math.SmallestNonzeroFloat32*(1<<23)) * (1.0 / (1 << 23))
	return math.Abs(float64(got)-want) / ulp
}

// unaryTol is the largest ulp error allowed per op: 0 for the exact ops;
// the vector tiers' polynomial transcendental functions are allowed a few
// ulps (GELU and tanh more near their zero crossings, where the relative
// error of 1+tanh or of x·(…) grows).
func unaryTol(op UnOp) float64 {
	switch op {
	case OpExp, OpLog, OpSigmoid:
		return 4
	case OpTanh, OpGELU:
		return 8
	case OpPowScalar:
		return 1
	}
	return 0
}

func TestUnary(t *testing.T) {
	ops := []UnOp{OpNeg, OpExp, OpLog, OpTanh, OpSigmoid, OpReLU, OpGELU, OpSqrt, OpAbs, OpPowScalar, OpSquare}
	forTiers(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, op := range ops {
			worst := 0.0
			for _, n := range testLengths() {
				off := n % 4
				a := randVec(r, n+off)[off:]
				dst, check := guarded(t, n, n%7)
				unary(op, dst, a, 1.5, n%2 == 1)
				check()
				for i := range dst {
					want := refUn(op, a[i], 1.5)
					if exactUn[op] {
						if !sameBits(dst[i], float32(want)) {
							t.Fatalf("op %d: f(%v) = %v, want %v", op, a[i], dst[i], float32(want))
						}
						continue
					}
					e := ulpErr(dst[i], want)
					if op == OpGELU || op == OpTanh {
						// absolute error near zero crossings: allow 2^-24·|x|.
						if math.Abs(float64(dst[i])-want) <= math.Abs(float64(a[i]))*(1.0/(1<<23)) {
							e = 0
						}
					}
					worst = max(worst, e)
					if e > unaryTol(op) {
						t.Fatalf("op %d: f(%v) = %v, want %v (%.1f ulp)", op, a[i], dst[i], want, e)
					}
				}
				Unary(op, a, a, 1.5)
				for i := range dst {
					if !sameBits(a[i], dst[i]) {
						t.Fatalf("op %d: aliased result differs", op)
					}
				}
			}
			if !exactUn[op] {
				t.Logf("op %d: worst %.2f ulp", op, worst)
			}
		}
	})
}

func TestAxpy(t *testing.T) {
	forTiers(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, alpha := range []float32{0, 1, -2.5, 1e-3, float32(math.NaN())} {
			for _, n := range testLengths() {
				x := randVec(r, n+1)[1:]
				y0 := randVec(r, n)
				y, check := guarded(t, n, 3)
				copy(y, y0)
				Axpy(alpha, x, y)
				check()
				for i := range y {
					p := float32(float64(alpha) * float64(x[i]))
					if want := float32(float64(y0[i]) + float64(p)); !sameBits(y[i], want) {
						t.Fatalf("alpha %v: %v + %v·%v = %v, want %v", alpha, y0[i], alpha, x[i], y[i], want)
					}
				}
			}
		}
	})
}

func TestSum(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var inputs [][]float32
	for _, n := range append(testLengths(), 100_003) {
		a := make([]float32, n)
		for i := range a {
			a[i] = float32(r.Float64()*2 - 1)
		}
		inputs = append(inputs, a)
	}
	sums := map[Tier][]float32{}
	forTiers(t, func(t *testing.T) {
		tier := Current()
		for _, a := range inputs {
			got := Sum(a)
			var want, abs float64
			for _, x := range a {
				want += float64(x)
				abs += math.Abs(float64(x))
			}
			// Each float32 addition rounds by at most 2^-24 of a partial
			// sum bounded by Σ|a|; the tree has at most len(a) levels.
			if tol := float64(len(a)+1) * abs * (1.0 / (1 << 24)); math.Abs(float64(got)-want) > tol {
				t.Fatalf("n=%d: Sum = %v, want %v ± %g", len(a), got, want, tol)
			}
			sums[tier] = append(sums[tier], got)
		}
		if got := Sum([]float32{1, float32(math.NaN())}); got == got {
			t.Fatal("Sum with NaN is not NaN")
		}
		a := make([]float32, 40)
		a[33] = float32(math.Inf(1))
		if got := Sum(a); !math.IsInf(float64(got), 1) {
			t.Fatalf("Sum with +Inf = %v", got)
		}
	})
	// The order of the additions is the same in every tier.
	for tier, s := range sums {
		for i := range s {
			if math.Float32bits(s[i]) != math.Float32bits(sums[TierGo][i]) {
				t.Fatalf("tier %v: Sum of %d values = %v, go tier %v", tier, len(inputs[i]), s[i], sums[TierGo][i])
			}
		}
	}
}

func TestSumDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	a := make([]float32, 1<<20)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	old := runtime.GOMAXPROCS(1)
	s1 := Sum(a)
	runtime.GOMAXPROCS(2)
	s2 := Sum(a)
	runtime.GOMAXPROCS(old)
	if math.Float32bits(s1) != math.Float32bits(s2) {
		t.Fatalf("Sum differs: %v with 1 proc, %v with 2", s1, s2)
	}
}

func TestMaxMinOf(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	forTiers(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		for _, n := range testLengths() {
			a := make([]float32, n)
			for i := range a {
				a[i] = float32(r.Float64()*200 - 100)
			}
			wantMax, wantMin := float32(math.Inf(-1)), float32(math.Inf(1))
			for _, x := range a {
				wantMax, wantMin = max(wantMax, x), min(wantMin, x)
			}
			if got := MaxOf(a); got != wantMax {
				t.Fatalf("n=%d: MaxOf = %v, want %v", n, got, wantMax)
			}
			if got := MinOf(a); got != wantMin {
				t.Fatalf("n=%d: MinOf = %v, want %v", n, got, wantMin)
			}
			if n == 0 {
				continue
			}
			for _, at := range []int{0, n / 2, n - 1} {
				b := append([]float32(nil), a...)
				b[at] = float32(math.NaN())
				if got := MaxOf(b); got == got {
					t.Fatalf("n=%d NaN at %d: MaxOf = %v", n, at, got)
				}
				if got := MinOf(b); got == got {
					t.Fatalf("n=%d NaN at %d: MinOf = %v", n, at, got)
				}
			}
			z := make([]float32, n)
			for i := range z {
				z[i] = negZero
			}
			if got := MaxOf(z); !sameBits(got, negZero) {
				t.Fatalf("MaxOf of -0s = %v", got)
			}
			z[n/2] = 0
			if got := MaxOf(z); !sameBits(got, 0) {
				t.Fatalf("MaxOf of -0s and +0 has sign bit")
			}
			if got := MinOf(z); n > 1 && !sameBits(got, negZero) {
				t.Fatalf("MinOf of -0s and +0 = +0")
			}
		}
		if got := MaxOf(nil); !math.IsInf(float64(got), -1) {
			t.Fatalf("MaxOf(nil) = %v", got)
		}
		if got := MinOf(nil); !math.IsInf(float64(got), 1) {
			t.Fatalf("MinOf(nil) = %v", got)
		}
	})
}

func TestPar(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	n := 3*parChunk + 13
	a, b := randVec(r, n), randVec(r, n)
	want := make([]float32, n)
	got := make([]float32, n)
	for _, p := range []*Pool{nil, NewPool(1), NewPool(2), NewPool(3)} {
		for _, op := range []BinOp{OpAdd, OpMax, OpPow} {
			Binary(op, want, a, b)
			BinaryPar(p, op, got, a, b)
			for i := range want {
				if !sameBits(got[i], want[i]) {
					t.Fatalf("BinaryPar op %d differs at %d", op, i)
				}
			}
		}
		for _, op := range []UnOp{OpReLU, OpExp, OpGELU} {
			Unary(op, want, a, 0)
			UnaryPar(p, op, got, a, 0)
			for i := range want {
				if !sameBits(got[i], want[i]) {
					t.Fatalf("UnaryPar op %d differs at %d", op, i)
				}
			}
		}
	}
}
