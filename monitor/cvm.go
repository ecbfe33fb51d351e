package monitor

import (
	"math"
	"math/big"
)

// CvMResult is the outcome of the two-sample Cramér–von Mises test.
type CvMResult struct {
	// Statistic is Anderson's (1962) T.
	Statistic float64
	// PValue is P(T ≥ Statistic) under the hypothesis that both samples
	// come from the same continuous distribution.
	PValue float64
}

// CramerVonMises2 is the two-sample Cramér–von Mises test of the
// hypothesis that a and b come from the same continuous distribution. It
// matches scipy.stats.cramervonmises_2samp(a, b) with method="auto".
//
// With n = len(a), m = len(b), N = n + m, r_i and s_j the ranks of the
// sorted a and b in the pooled sample (ties get their average rank),
//
//	U = n·Σ_i (r_i − i)² + m·Σ_j (s_j − j)²,   T = U/(n·m·N) − (4nm − 1)/(6N)
//
// (Anderson 1962, eq. 9 and 10). When max(n, m) ≤ 20 the p-value is exact:
// the share of the C(N, n) arrangements of the pooled ranks whose U is at
// least the observed one, counted with the recursion of Xiao, Gordon and
// Yakovlev (2006). Otherwise T is standardized with its exact mean and
// variance (Anderson's eq. 11, 14, 15) and the p-value is 1 − V(T′) where
// V is the limiting distribution of the one-sample statistic (Csörgő and
// Faraway 1996), whose series is summed, as in SciPy, until a term falls
// below 1e-7; it is 1 when T′ < 0.003 and never negative. Because it is
// 1 − V, p-values below about 1e-15 carry no relative accuracy.
//
// Samples with fewer than two values, or with a NaN or infinite value, are
// errors wrapping ErrInput. a and b are not modified.
func CramerVonMises2(a, b []float64) (CvMResult, error) {
	if len(a) < 2 || len(b) < 2 {
		return CvMResult{}, inputErr("CramerVonMises2: samples of %d and %d values (need at least two each)", len(a), len(b))
	}
	if err := stCheckSample("CramerVonMises2", "a", a); err != nil {
		return CvMResult{}, err
	}
	if err := stCheckSample("CramerVonMises2", "b", b); err != nil {
		return CvMResult{}, err
	}
	xa, ya := stSortedCopy(a), stSortedCopy(b)
	nx, ny := len(xa), len(ya)
	// Squared rank deviations, with midranks for ties across both samples.
	dx := make([]float64, nx)
	dy := make([]float64, ny)
	i, j := 0, 0
	for i < nx || j < ny {
		var z float64
		switch {
		case i == nx:
			z = ya[j]
		case j == ny:
			z = xa[i]
		default:
			z = min(xa[i], ya[j])
		}
		i2, j2 := i, j
		for i2 < nx && xa[i2] == z {
			i2++
		}
		for j2 < ny && ya[j2] == z {
			j2++
		}
		start := i + j // pooled 0-based position of the group
		cnt := (i2 - i) + (j2 - j)
		r := float64(start) + float64(cnt+1)/2
		for ; i < i2; i++ {
			d := r - float64(i+1)
			dx[i] = d * d
		}
		for ; j < j2; j++ {
			d := r - float64(j+1)
			dy[j] = d * d
		}
	}
	u := float64(nx) * stPairSum(dx)
	u += float64(ny) * stPairSum(dy)
	k := float64(nx) * float64(ny)
	n := float64(nx + ny)
	t := u/(k*n) - (4*k-1)/(6*n)

	if max(nx, ny) <= 20 {
		return CvMResult{Statistic: t, PValue: cvmExactP(u, nx, ny)}, nil
	}
	et := (1 + 1/n) / 6
	vt := cvmVarT(int64(nx), int64(ny))
	tn := 1.0/6 + (t-et)/math.Sqrt(45*vt)
	p := 1.0
	if tn >= 0.003 {
		p = max(0, 1-cvmInfCDF(tn))
	}
	return CvMResult{Statistic: t, PValue: p}, nil
}

// cvmVarT is Var(T) = (N+1)(4nmN − 3(n²+m²) − 2nm) / (45·N²·4nm), computed
// exactly in integers and rounded once.
func cvmVarT(nx, ny int64) float64 {
	bn, bm := big.NewInt(nx), big.NewInt(ny)
	bk := new(big.Int).Mul(bn, bm)
	bN := new(big.Int).Add(bn, bm)
	num := new(big.Int).Mul(big.NewInt(4), bk)
	num.Mul(num, bN)
	sq := new(big.Int).Mul(bn, bn)
	sq.Add(sq, new(big.Int).Mul(bm, bm))
	num.Sub(num, sq.Mul(sq, big.NewInt(3)))
	num.Sub(num, new(big.Int).Mul(big.NewInt(2), bk))
	num.Mul(num, new(big.Int).Add(bN, big.NewInt(1)))
	den := new(big.Int).Mul(bN, bN)
	den.Mul(den, big.NewInt(180))
	den.Mul(den, bk)
	f, _ := new(big.Rat).SetFrac(num, den).Float64()
	return f
}

// cvmFloorDiv is the floor of x/y for floats as NumPy's floor_divide
// computes it (through fmod, so that the result is the floor of the exact
// quotient).
func cvmFloorDiv(x, y float64) float64 {
	mod := math.Mod(x, y)
	div := (x - mod) / y
	if mod != 0 && (y < 0) != (mod < 0) {
		div--
	}
	if div == 0 {
		return math.Copysign(0, x/y)
	}
	fl := math.Floor(div)
	if div-fl > 0.5 {
		fl++
	}
	return fl
}

// cvmFreq is one entry of a frequency table: how many lattice paths reach
// a cell with a given accumulated sum.
type cvmFreq struct {
	val int64
	cnt uint64
}

// cvmExactP is the exact p-value of the two-sample statistic U for sample
// sizes m and n: the share of the C(m+n, m) equally likely orderings whose
// U is at least u. It walks the lattice of (u, v) steps, keeping per cell
// the frequency table of Σ (a·v − b·u)² along the path (a = lcm/m,
// b = lcm/n), then compares with the threshold ζ that corresponds to u.
func cvmExactP(s float64, m, n int) float64 {
	g := int64(1)
	for x, y := int64(m), int64(n); y != 0; {
		x, y = y, x%y
		g = x
	}
	lcm := int64(m) / g * int64(n)
	a, b := lcm/int64(m), lcm/int64(n)
	mn := float64(m * n)
	zeta := cvmFloorDiv(float64(lcm*lcm*int64(m+n))*(6*s-mn*(4*mn-1)), 6*mn*mn)

	// gs[v]: frequency table (sorted by value) for column v of the
	// current row.
	gs := make([][]cvmFreq, m+1)
	gs[0] = []cvmFreq{{0, 1}}
	next := make([][]cvmFreq, m+1)
	for u := 0; u <= n; u++ {
		var tmp []cvmFreq
		for v := 0; v <= m; v++ {
			merged := cvmMerge(tmp, gs[v], next[v][:0])
			d := a*int64(v) - b*int64(u)
			for i := range merged {
				merged[i].val += d * d
			}
			next[v] = merged
			tmp = merged
		}
		gs, next = next, gs
	}
	var hit uint64
	for _, f := range gs[m] {
		if float64(f.val) >= zeta {
			hit += f.cnt
		}
	}
	return float64(hit) / float64(cvmBinom(m+n, m))
}

// cvmMerge merges two frequency tables sorted by value into dst, adding
// the counts of equal values.
func cvmMerge(x, y, dst []cvmFreq) []cvmFreq {
	i, j := 0, 0
	for i < len(x) && j < len(y) {
		switch {
		case x[i].val < y[j].val:
			dst = append(dst, x[i])
			i++
		case x[i].val > y[j].val:
			dst = append(dst, y[j])
			j++
		default:
			dst = append(dst, cvmFreq{x[i].val, x[i].cnt + y[j].cnt})
			i++
			j++
		}
	}
	dst = append(dst, x[i:]...)
	return append(dst, y[j:]...)
}

// cvmBinom is the binomial coefficient C(n, k) for n ≤ 62.
func cvmBinom(n, k int) uint64 {
	r := uint64(1)
	for i := 1; i <= k; i++ {
		r = r * uint64(n-k+i) / uint64(i)
	}
	return r
}

// cvmInfCDF is the limiting distribution function of the one-sample
// Cramér–von Mises statistic (Csörgő and Faraway 1996, eq. 1.2–1.3):
//
//	V(x) = Σ_k Γ(k+½)/(Γ(k+1)·π^{3/2}·√x) · √(4k+1) · e^{−q_k} · K_{1/4}(q_k),
//	q_k = (4k+1)²/(16x),
//
// summed until a term is below 1e-7 as SciPy does.
func cvmInfCDF(x float64) float64 {
	tot := 0.0
	for k := 0; ; k++ {
		lk, _ := math.Lgamma(float64(k) + 0.5)
		lk1, _ := math.Lgamma(float64(k) + 1)
		u := math.Exp(lk-lk1) / (math.Pow(math.Pi, 1.5) * math.Sqrt(x))
		y := float64(4*k + 1)
		q := y * y / (16 * x)
		z := u * math.Sqrt(y) * math.Exp(-2*q) * besselKScaled(0.25, q)
		tot += z
		if math.Abs(z) < 1e-7 || k > 10000 {
			return tot
		}
	}
}

// besselKScaled is e^x·K_ν(x), the exponentially scaled modified Bessel
// function of the second kind, for x > 0. It integrates
//
//	e^x K_ν(x) = ∫_0^∞ exp(−2x·sinh²(t/2)) · cosh(νt) dt
//
// with the trapezoidal rule, which converges geometrically in the step for
// this analytic, rapidly decaying integrand; the step scales with 1/√x for
// large x so that the peak at t = 0 is resolved. The relative accuracy is
// a few units in the last place.
func besselKScaled(nu, x float64) float64 {
	if !(x > 0) {
		if x == 0 {
			return math.Inf(1)
		}
		return math.NaN()
	}
	h := math.Min(0.05, 0.25/math.Sqrt(x))
	sum := 0.5 // the integrand is 1 at t = 0
	for i := 1; ; i++ {
		t := float64(i) * h
		s := math.Sinh(t / 2)
		e := 2 * x * s * s
		f := 0.5*math.Exp(nu*t-e) + 0.5*math.Exp(-nu*t-e)
		sum += f
		if f < 1e-18*sum && x*math.Sinh(t) > nu {
			break
		}
	}
	return sum * h
}
