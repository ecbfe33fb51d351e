package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Tolerance of the GEMM tests. Each element of C is checked against a
// float64 reference (Dgemm on the same float32 inputs, then bias and the
// activation in float64):
//
//	|got - want| ≤ 2·(k+4)·2⁻²³·mag·s + 1e-30 + 2⁻²³·|want|
//
// where mag = |alpha|·Σ_l |op(A)[i,l]·op(B)[l,j]| + |beta·C[i,j]| + |bias[j]|
// is the magnitude of the terms summed: the standard forward-error bound of
// a float32 dot product of length k (any summation order, with or without
// fused multiply-add), with slack for alpha, beta, bias and the rounding of
// the activation. The activations are 1.2-Lipschitz at most (GELU's slope
// peaks at about 1.13), so s is 1.2 for them (1 without), and the last term
// allows for the float32 rounding of the result.
func gemmTol(k int, mag, want float64, act Act) float64 {
	t := 2*float64(k+4)*0x1p-23*mag + 1e-30
	if act != ActNone {
		t *= 1.2
	}
	return t + 2*0x1p-24*math.Abs(want)
}

// actRef is the activation in float64.
func actRef(act Act, x float64) float64 {
	switch act {
	case ActReLU:
		return max(x, 0)
	case ActGELU:
		return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x)))
	case ActSigmoid:
		return 1 / (1 + math.Exp(-x))
	case ActTanh:
		return math.Tanh(x)
	}
	return x
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra row stride
	padC           int
	alpha, beta    float32
	bias           bool
	act            Act
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,pad=%d/%d/%d,a=%v,b=%v,bias=%v,act=%d",
		g.transA, g.transB, g.m, g.n, g.k, g.padA, g.padB, g.padC, g.alpha, g.beta, g.bias, g.act)
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// runGemmCase runs one case through Sgemm with pool p and checks it.
func runGemmCase(t *testing.T, r *rand.Rand, p *Pool, g gemmCase) {
	t.Helper()
	ar, ac := g.m, g.k
	if g.transA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.transB {
		br, bc = g.n, g.k
	}
	lda, ldb, ldc := ac+g.padA, bc+g.padB, g.n+g.padC
	a := randSlice(r, max(ar*lda, 0))
	b := randSlice(r, max(br*ldb, 0))
	c := randSlice(r, g.m*ldc)
	if g.beta == 0 {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	c0 := append([]float32(nil), c...)
	var bias []float32
	if g.bias {
		bias = randSlice(r, g.n)
	}
	Sgemm(p, g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, ldc, Epilogue{Bias: bias, Act: g.act})
	checkGemm(t, g, a, lda, b, ldb, c0, c, ldc, bias)
}

// checkGemm compares c (the result) with the float64 reference computed
// from a, b and c0 (C before the call).
func checkGemm(t *testing.T, g gemmCase, a []float32, lda int, b []float32, ldb int, c0, c []float32, ldc int, bias []float32) {
	t.Helper()
	opA := func(i, l int) float64 {
		if g.transA {
			return float64(a[l*lda+i])
		}
		return float64(a[i*lda+l])
	}
	opB := func(l, j int) float64 {
		if g.transB {
			return float64(b[j*ldb+l])
		}
		return float64(b[l*ldb+j])
	}
	bad := 0
	for i := range g.m {
		for j := range g.n {
			var s, mag float64
			for l := range g.k {
				x := opA(i, l) * opB(l, j)
				s += x
				mag += math.Abs(x)
			}
			want := float64(g.alpha) * s
			mag *= math.Abs(float64(g.alpha))
			if g.beta != 0 {
				bc := float64(g.beta) * float64(c0[i*ldc+j])
				want += bc
				mag += math.Abs(bc)
			}
			if bias != nil {
				want += float64(bias[j])
				mag += math.Abs(float64(bias[j]))
			}
			want = actRef(g.act, want)
			got := float64(c[i*ldc+j])
			if !(math.Abs(got-want) <= gemmTol(g.k, mag, want, g.act)) {
				if bad < 5 {
					t.Errorf("%v: C[%d,%d] = %v, want %v (tol %g)", g, i, j, got, want, gemmTol(g.k, mag, want, g.act))
				}
				bad++
			}
		}
		// Padding between rows must be untouched.
		for j := g.n; j < ldc && i*ldc+j < len(c); j++ {
			if math.Float32bits(c[i*ldc+j]) != math.Float32bits(c0[i*ldc+j]) {
				t.Fatalf("%v: padding C[%d,%d] written", g, i, j)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%v: %d wrong elements", g, bad)
	}
}

// forEachTier runs f under every supported tier.
func forEachTier(t *testing.T, f func(t *testing.T)) {
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

func TestGemmShapes(t *testing.T) {
	sizes := []int{0, 1, 3, 7, 17, 33, 65, 130, 257}
	if testing.Short() {
		sizes = []int{0, 1, 7, 33, 130}
	}
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		p := NewPool(2)
		defer p.Close()
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, m := range sizes {
					for _, n := range sizes {
						for _, k := range sizes {
							if m*n*k > 130*130*257 {
								continue
							}
							g := gemmCase{transA: tA, transB: tB, m: m, n: n, k: k, alpha: 1}
							runGemmCase(t, r, p, g)
						}
					}
				}
			}
		}
	})
}

func TestGemmStridesAlphaBetaEpilogue(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		p := NewPool(2)
		defer p.Close()
		shapes := [][3]int{{1, 300, 70}, {300, 1, 70}, {65, 130, 257}, {100, 50, 600}, {7, 33, 17}, {200, 300, 1}, {7, 3100, 20}}
		for _, sh := range shapes {
			for _, tA := range []bool{false, true} {
				for _, tB := range []bool{false, true} {
					for _, ab := range [][2]float32{{1, 0}, {1, 1}, {0.5, -2}, {-1.5, 0}, {0, 0.5}, {2, 1}} {
						for _, act := range []Act{ActNone, ActReLU, ActGELU, ActSigmoid, ActTanh} {
							g := gemmCase{transA: tA, transB: tB, m: sh[0], n: sh[1], k: sh[2],
								padA: 3, padB: 5, padC: 2, alpha: ab[0], beta: ab[1], bias: act != ActTanh, act: act}
							runGemmCase(t, r, p, g)
						}
					}
				}
			}
		}
	})
}

func TestGemmBatched(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		p := NewPool(2)
		defer p.Close()
		for _, sh := range [][3]int{{5, 7, 9}, {40, 50, 60}, {130, 70, 300}} {
			for _, strides := range [][2]bool{{true, true}, {false, true}, {true, false}} {
				m, n, k, batch := sh[0], sh[1], sh[2], 4
				sa, sb := m*k, k*n
				if !strides[0] {
					sa = 0
				}
				if !strides[1] {
					sb = 0
				}
				a := randSlice(r, max(sa*batch, m*k))
				b := randSlice(r, max(sb*batch, k*n))
				c := randSlice(r, m*n*batch)
				c0 := append([]float32(nil), c...)
				bias := randSlice(r, n)
				ep := Epilogue{Bias: bias, Act: ActReLU}
				SgemmBatched(p, false, true, m, n, k, 0.5, a, k, sa, b, k, sb, 1, c, n, m*n, batch, ep)
				g := gemmCase{transB: true, m: m, n: n, k: k, alpha: 0.5, beta: 1, bias: true, act: ActReLU}
				for i := range batch {
					checkGemm(t, g, a[i*sa:], k, b[i*sb:], k, c0[i*m*n:(i+1)*m*n], c[i*m*n:(i+1)*m*n], n, bias)
				}
			}
		}
	})
}

// TestGemmDeterministic checks that 1 and 2 workers give the same bits.
func TestGemmDeterministic(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		const n = 512
		a, b := randSlice(r, n*n), randSlice(r, n*n)
		bias := randSlice(r, n)
		run := func(procs int) []float32 {
			old := runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(old)
			c := make([]float32, n*n)
			for i := range c {
				c[i] = 1
			}
			Sgemm(Default(), false, false, n, n, n, 1, a, n, b, n, 0.5, c, n, Epilogue{Bias: bias, Act: ActGELU})
			Sgemm(Default(), true, true, n, n, n, 1, a, n, b, n, 1, c, n, Epilogue{})
			return c
		}
		c1, c2 := run(1), run(2)
		for i := range c1 {
			if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
				t.Fatalf("element %d: %v with 1 worker, %v with 2", i, c1[i], c2[i])
			}
		}
	})
}

func TestGemmNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const n = 200
	a, b, c := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
	allocs := testing.AllocsPerRun(20, func() {
		Sgemm(nil, false, false, n, n, n, 1, a, n, b, n, 0, c, n, Epilogue{})
	})
	if allocs > 0 {
		t.Errorf("Sgemm 200³ on one goroutine: %v allocations per call", allocs)
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{256, 1024} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%d/threads=%d", n, threads), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 1))
				x, y, z := randSlice(r, n*n), randSlice(r, n*n), make([]float32, n*n)
				p := NewPool(threads)
				defer p.Close()
				b.ResetTimer()
				for b.Loop() {
					Sgemm(p, false, false, n, n, n, 1, x, n, y, n, 0, z, n, Epilogue{})
				}
				b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
