package monitor

import (
	"math"
	"slices"
)

// KSResult is the outcome of a two-sample Kolmogorov–Smirnov test.
type KSResult struct {
	// D is the statistic sup_x |F_a(x) − F_b(x)|, the largest distance
	// between the two empirical distribution functions. When the p-value is
	// computed from the exact distribution (and whenever both sample sizes
	// are at most 10000), D is reported as h/lcm(n, m) with
	// h = round(D·lcm(n, m)), the lattice value it is exactly equal to in
	// exact arithmetic, as SciPy does.
	D float64
	// PValue is the two-sided p-value Pr(D_{n,m} >= D) under the null
	// hypothesis that both samples come from the same continuous
	// distribution.
	PValue float64
	// Exact reports whether PValue comes from the exact null distribution
	// (false: from the asymptotic one).
	Exact bool
}

// ksMaxExactN is the largest sample size for which the p-value is computed
// exactly (SciPy's MAX_AUTO_N).
const ksMaxExactN = 10000

// KS2Samp runs the two-sided two-sample Kolmogorov–Smirnov test of a
// against b. It matches scipy.stats.ks_2samp(a, b) with its default options
// (alternative="two-sided", method="auto") in SciPy 1.10: the statistic is
// the maximum over all observed values x of |F_a(x) − F_b(x)|, where F is the
// right-continuous empirical distribution function (ties between and within
// the samples are handled exactly), and the p-value is computed by KSPValue.
//
// a and b are not modified (sorted copies are made). Both must be non-empty
// and free of NaN (±Inf are allowed); otherwise the error wraps ErrInput.
func KS2Samp(a, b []float64) (KSResult, error) {
	if err := ksCheck(a, "a", false); err != nil {
		return KSResult{}, err
	}
	if err := ksCheck(b, "b", false); err != nil {
		return KSResult{}, err
	}
	sa := slices.Clone(a)
	sb := slices.Clone(b)
	slices.Sort(sa)
	slices.Sort(sb)
	return ks2SampSorted(sa, sb), nil
}

// KS2SampSorted is KS2Samp for samples already sorted in ascending order; it
// allocates nothing and runs in O(len(a)+len(b)). The order is verified by a
// linear scan: an unsorted sample, a NaN or an empty sample is an error
// wrapping ErrInput.
func KS2SampSorted(a, b []float64) (KSResult, error) {
	if err := ksCheck(a, "a", true); err != nil {
		return KSResult{}, err
	}
	if err := ksCheck(b, "b", true); err != nil {
		return KSResult{}, err
	}
	return ks2SampSorted(a, b), nil
}

func ksCheck(x []float64, name string, sorted bool) error {
	if len(x) == 0 {
		return inputErr("KS test: sample %s is empty", name)
	}
	for i, v := range x {
		if math.IsNaN(v) {
			return inputErr("KS test: sample %s has NaN at index %d", name, i)
		}
		if sorted && i > 0 && v < x[i-1] {
			return inputErr("KS test: sample %s is not sorted ascending at index %d (%v after %v)", name, i, v, x[i-1])
		}
	}
	return nil
}

// ks2SampSorted computes the test for sorted, non-empty, NaN-free samples.
func ks2SampSorted(a, b []float64) KSResult {
	d := ksStatistic(a, b)
	d, p, exact := ksPValue(d, len(a), len(b))
	return KSResult{D: d, PValue: p, Exact: exact}
}

// ksStatistic returns max over observed x of |i(x)/n − j(x)/m| where i(x)
// and j(x) count the values <= x in a and b, evaluated with the same
// floating-point operations as SciPy (each fraction rounded, then
// subtracted).
func ksStatistic(a, b []float64) float64 {
	n, m := len(a), len(b)
	fn, fm := float64(n), float64(m)
	hiDiff, loDiff := math.Inf(-1), math.Inf(1)
	i, j := 0, 0
	for i < n || j < m {
		var x float64
		if j >= m || (i < n && a[i] <= b[j]) {
			x = a[i]
		} else {
			x = b[j]
		}
		for i < n && a[i] <= x {
			i++
		}
		for j < m && b[j] <= x {
			j++
		}
		diff := float64(i)/fn - float64(j)/fm
		hiDiff = math.Max(hiDiff, diff)
		loDiff = math.Min(loDiff, diff)
	}
	neg := min(max(-loDiff, 0), 1)
	if neg > hiDiff {
		return neg
	}
	return hiDiff
}

// KSPValue returns the two-sided p-value Pr(D_{n,m} >= d) of the two-sample
// Kolmogorov–Smirnov statistic d for sample sizes n and m, computed exactly
// as scipy.stats.ks_2samp (SciPy 1.10, method="auto") computes it:
//
//   - When max(n, m) <= 10000 the exact distribution is used: d is first
//     rounded to the lattice value h/lcm(n, m), h = round(d·lcm(n, m)); for
//     n == m the probability comes from the alternating binomial series of
//     Gnedenko–Korolyuk evaluated in Horner form, otherwise from counting the
//     lattice paths from (0, 0) to (n, m) that leave the band
//     |x/n − y/m| < h/lcm(n, m), with the recursion for the complement of
//     Hodges (1958) as reformulated by Viehmann (arXiv:2102.08037). If the
//     result is not a probability (rounding can push it just past 1 for tiny
//     h when n == m), SciPy falls back to the asymptotic distribution, and so
//     does KSPValue; exact reports which was used.
//   - Otherwise the asymptotic distribution is used:
//     p = kstwo.sf(d, N) with N = round(n·m/(n+m)) (half to even), the
//     survival function of the two-sided one-sample Kolmogorov–Smirnov
//     statistic D_N, evaluated with the method choice of Simard and
//     L'Ecuyer (2011) as SciPy does: Ruben–Gambino closed forms near the
//     ends of the range, twice the one-sided Smirnov tail (exact for
//     d >= 1/2, and used for N·d² >= 2.2 when N > 140, or N·d² > 4 when
//     N <= 140), Durbin's matrix method or Pomeranz's recursion for small
//     N, and the Pelz–Good series for large N. p is 0 when N·d² >= 370
//     (N > 140).
//
// d is first clipped to [0, 1], the range of the statistic, and p is clipped
// to [0, 1]. n and m must be positive (p is NaN otherwise), and a NaN d gives
// NaN.
func KSPValue(d float64, n, m int) (p float64, exact bool) {
	if n <= 0 || m <= 0 || math.IsNaN(d) {
		return math.NaN(), false
	}
	d = ksClip01(d)
	_, p, exact = ksPValue(d, n, m)
	return p, exact
}

// ksPValue returns the statistic as SciPy reports it (rounded to the
// lattice on the exact path), the p-value and whether it is exact.
func ksPValue(d float64, n, m int) (float64, float64, bool) {
	if max(n, m) <= ksMaxExactN {
		dr, p, ok := ksExact(d, n, m)
		if ok {
			return dr, p, true
		}
		d = dr
	}
	fa, fb := float64(n), float64(m)
	if fa < fb {
		fa, fb = fb, fa
	}
	en := fa * fb / (fa + fb)
	ne := math.RoundToEven(en)
	var p float64
	if ne < 1 || ne > math.MaxInt32 {
		p = math.NaN()
	} else {
		p = kstwoSF(d, int(ne))
	}
	if math.IsNaN(p) {
		return d, p, false
	}
	return d, ksClip01(p), false
}

func ksGCD(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// ksExact rounds d to the lattice and computes the exact two-sided
// probability. ok is false when the computed value is not in [0, 1].
func ksExact(d float64, n, m int) (dr, p float64, ok bool) {
	g := ksGCD(n, m)
	lcm := (n / g) * m
	h := int(math.RoundToEven(d * float64(lcm)))
	dr = float64(h) / float64(lcm)
	if h == 0 {
		return dr, 1, true
	}
	if n == m {
		p = ksOutsideSquare(n, h)
	} else {
		p = ksOutsideBand(n, m, g, h)
	}
	if !(p >= 0 && p <= 1) {
		return dr, p, false
	}
	return dr, p, true
}

// ksOutsideSquare returns Pr(D_{n,n} >= h/n) = 2·Σ_{k>=1} (−1)^(k+1)
// C(2n, n−kh)/C(2n, n), each ratio written as a product of h factors and the
// alternating sum nested Horner-style to avoid cancellation.
func ksOutsideSquare(n, h int) float64 {
	acc := 0.0
	for k := int(math.Floor(float64(n) / float64(h))); k >= 0; k-- {
		r := 1.0
		for j := 0; j < h; j++ {
			r = float64(float64(n-k*h-j)*r) / float64(n+k*h+j+1)
		}
		acc = r * (1 - acc)
	}
	return 2 * acc
}

// ksOutsideBand returns the fraction of monotone lattice paths from (0, 0) to
// (n, m) that touch or cross |x/n − y/m| >= h/lcm(n, m). It propagates, column
// by column, the probability that a path through each point has already left
// the band (Viehmann's form of the inside method), keeping only the window of
// rows inside the band.
func ksOutsideBand(n, m, g, h int) float64 {
	if n < m {
		n, m = m, n
	}
	ng, mg := m/g, n/g // the step of the band per column is ng/mg
	fh, fmg := float64(h), float64(mg)
	lo := 0
	hi := min(int(math.Ceil(fh/fmg)), m+1)
	width := hi - lo
	col := make([]float64, min(2*hi+2, m+1))
	for j := range col {
		col[j] = 1
	}
	for j := lo; j < hi && j < len(col); j++ {
		col[j] = 0
	}
	for i := 1; i <= n; i++ {
		prevLo, prevWidth := lo, width
		lo = max(int(math.Floor(float64(ng*i-h)/fmg))+1, 0)
		lo = min(lo, m)
		hi = min(int(math.Ceil(float64(ng*i+h)/fmg)), m+1)
		if hi <= lo {
			return 1
		}
		fi := float64(i)
		v := 1.0
		if lo == 0 {
			v = 0
		}
		for jj := 0; jj < hi-lo; jj++ {
			fj := float64(jj + lo)
			v = (float64(col[jj+lo-prevLo]*fi) + float64(v*fj)) / (fi + fj)
			col[jj] = v
		}
		width = hi - lo
		if prevWidth > width {
			for j := width; j < prevWidth && j < len(col); j++ {
				col[j] = 1
			}
		}
	}
	return col[hi-lo-1]
}
