package monitor

import (
	"math"
	"slices"
	"sort"
)

// This file holds the distances between two samples (Wasserstein, energy)
// and between two discrete distributions (PSI, Jensen–Shannon, KL,
// Hellinger), and the two-proportion z-test.

// stCheckSample reports an ErrInput error when x is empty or holds a value
// that is not finite.
func stCheckSample(fn, side string, x []float64) error {
	if len(x) == 0 {
		return inputErr("%s: sample %s is empty", fn, side)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return inputErr("%s: sample %s value %d is %v (samples must be finite)", fn, side, i, v)
		}
	}
	return nil
}

// stCheckSorted reports an ErrInput error when x is empty, holds a value
// that is not finite, or is not sorted ascending (one pass).
func stCheckSorted(fn, side string, x []float64) error {
	if len(x) == 0 || math.IsNaN(x[0]) || math.IsInf(x[0], 0) {
		return stCheckSample(fn, side, x)
	}
	for i := 1; i < len(x); i++ {
		if !(x[i] >= x[i-1]) || math.IsInf(x[i], 1) {
			if err := stCheckSample(fn, side, x); err != nil {
				return err
			}
			return inputErr("%s: sample %s is not sorted ascending at index %d (%v after %v)", fn, side, i, x[i], x[i-1])
		}
	}
	return nil
}

// stSortedCopy returns a sorted copy of x.
func stSortedCopy(x []float64) []float64 {
	c := slices.Clone(x)
	sort.Float64s(c)
	return c
}

// stPairSum adds x the way NumPy's sum does for a contiguous float64 array
// (pairwise summation with blocks of 128 and eight accumulators), so that
// sums agree with SciPy's to the last bits.
func stPairSum(x []float64) float64 {
	n := len(x)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], x[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for j := range 8 {
				r[j] += x[i+j]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += x[i]
		}
		return s
	default:
		h := n / 2
		h -= h % 8
		return stPairSum(x[:h]) + stPairSum(x[h:])
	}
}

// stCDFSum walks the merged, sorted samples a and b and returns
// Σ |F_a(z_i) − F_b(z_i)|^p · (z_{i+1} − z_i) over the sorted pooled values
// z (p is 1 or 2), where F_a and F_b are the right-continuous empirical
// distribution functions. This is SciPy's _cdf_distance before its final
// root.
func stCDFSum(a, b []float64, p int) float64 {
	na, nb := float64(len(a)), float64(len(b))
	i, j := 0, 0
	// Current pooled value: the smallest one.
	z := min(a[0], b[0])
	var sum, comp float64 // Neumaier-compensated running sum
	for {
		// Advance past every value equal to z in both samples.
		for i < len(a) && a[i] <= z {
			i++
		}
		for j < len(b) && b[j] <= z {
			j++
		}
		if i == len(a) && j == len(b) {
			break
		}
		var next float64
		switch {
		case i == len(a):
			next = b[j]
		case j == len(b):
			next = a[i]
		default:
			next = min(a[i], b[j])
		}
		d := float64(i)/na - float64(j)/nb
		var t float64
		if p == 1 {
			t = math.Abs(d) * (next - z)
		} else {
			t = d * d * (next - z)
		}
		s := sum + t
		if math.Abs(sum) >= math.Abs(t) {
			comp += (sum - s) + t
		} else {
			comp += (t - s) + sum
		}
		sum = s
		z = next
	}
	return sum + comp
}

// Wasserstein returns the first Wasserstein (earth mover's) distance
// between the empirical distributions of samples a and b:
//
//	W₁ = ∫ |F_a(x) − F_b(x)| dx,
//
// where F_a and F_b are the empirical distribution functions. It matches
// scipy.stats.wasserstein_distance(a, b) without weights. The result has
// the unit of the data. a and b are not modified (sorted copies are made);
// an empty sample or a NaN or infinite value is an error wrapping
// ErrInput. It takes O((n+m) log(n+m)) time.
func Wasserstein(a, b []float64) (float64, error) {
	if err := stCheckSample("Wasserstein", "a", a); err != nil {
		return 0, err
	}
	if err := stCheckSample("Wasserstein", "b", b); err != nil {
		return 0, err
	}
	return stCDFSum(stSortedCopy(a), stSortedCopy(b), 1), nil
}

// WassersteinSorted is Wasserstein for samples already sorted ascending; it
// takes O(n+m) time and allocates nothing. Unsorted input is an error
// wrapping ErrInput.
func WassersteinSorted(a, b []float64) (float64, error) {
	if err := stCheckSortedSample("WassersteinSorted", a, b); err != nil {
		return 0, err
	}
	return stCDFSum(a, b, 1), nil
}

// stCheckSortedSample validates two samples that should be sorted.
func stCheckSortedSample(fn string, a, b []float64) error {
	if err := stCheckSorted(fn, "a", a); err != nil {
		return err
	}
	return stCheckSorted(fn, "b", b)
}

// EnergyDistance returns the energy distance between the empirical
// distributions of samples a and b:
//
//	E = √2 · ( ∫ (F_a(x) − F_b(x))² dx )^½,
//
// which equals (2·E|X−Y| − E|X−X'| − E|Y−Y'|)^½ for X, X' drawn from a and
// Y, Y' from b. It matches scipy.stats.energy_distance(a, b) without
// weights. a and b are not modified; an empty sample or a NaN or infinite
// value is an error wrapping ErrInput.
func EnergyDistance(a, b []float64) (float64, error) {
	if err := stCheckSample("EnergyDistance", "a", a); err != nil {
		return 0, err
	}
	if err := stCheckSample("EnergyDistance", "b", b); err != nil {
		return 0, err
	}
	return math.Sqrt2 * math.Sqrt(stCDFSum(stSortedCopy(a), stSortedCopy(b), 2)), nil
}

// EnergyDistanceSorted is EnergyDistance for samples already sorted
// ascending (O(n+m) time, no allocation). Unsorted input is an error
// wrapping ErrInput.
func EnergyDistanceSorted(a, b []float64) (float64, error) {
	if err := stCheckSortedSample("EnergyDistanceSorted", a, b); err != nil {
		return 0, err
	}
	return math.Sqrt2 * math.Sqrt(stCDFSum(a, b, 2)), nil
}

// stWeights validates a vector of nonnegative weights and returns it
// divided by its sum.
func stWeights(fn, name string, w []float64) ([]float64, error) {
	if len(w) == 0 {
		return nil, inputErr("%s: %s is empty", fn, name)
	}
	for i, v := range w {
		if !(v >= 0) || math.IsInf(v, 1) {
			return nil, inputErr("%s: %s[%d] = %v (weights must be finite and nonnegative)", fn, name, i, v)
		}
	}
	s := stPairSum(w)
	if !(s > 0) || math.IsInf(s, 0) {
		return nil, inputErr("%s: %s sums to %v (need a positive finite total)", fn, name, s)
	}
	out := make([]float64, len(w))
	for i, v := range w {
		out[i] = v / s
	}
	return out, nil
}

// stPair validates and normalizes two weight vectors over the same bins.
func stPair(fn string, p, q []float64) ([]float64, []float64, error) {
	if len(p) != len(q) {
		return nil, nil, inputErr("%s: %d bins against %d (both sides need the same bins)", fn, len(p), len(q))
	}
	pn, err := stWeights(fn, "first distribution", p)
	if err != nil {
		return nil, nil, err
	}
	qn, err := stWeights(fn, "second distribution", q)
	if err != nil {
		return nil, nil, err
	}
	return pn, qn, nil
}

// PSIZero is the share PSI substitutes for a bin with no values.
const PSIZero = 0.0001

// PSI returns the population stability index of the current distribution
// cur against the reference ref, given as nonnegative weights (counts or
// proportions) over the same bins:
//
//	PSI = Σ_i (q_i − p_i) · ln(q_i / p_i),
//
// where p = ref / Σ ref and q = cur / Σ cur, and every proportion that is
// exactly 0 after normalizing is replaced by PSIZero (0.0001) without
// normalizing again. PSI is 0 for identical distributions; common rules of
// thumb read < 0.1 as stable and > 0.2 as a significant shift. Mismatched
// lengths, empty, negative, NaN or infinite weights, and all-zero sides are
// errors wrapping ErrInput.
func PSI(ref, cur []float64) (float64, error) {
	p, q, err := stPair("PSI", ref, cur)
	if err != nil {
		return 0, err
	}
	t := make([]float64, len(p))
	for i := range p {
		pi, qi := p[i], q[i]
		if pi == 0 {
			pi = PSIZero
		}
		if qi == 0 {
			qi = PSIZero
		}
		t[i] = (qi - pi) * math.Log(qi/pi)
	}
	return stPairSum(t), nil
}

// stRelEntr is x·ln(x/y) with SciPy's rel_entr conventions: 0 when x is 0
// and y ≥ 0, +Inf when x > 0 and y is 0.
func stRelEntr(x, y float64) float64 {
	switch {
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	}
	return math.Inf(1)
}

// JensenShannon returns the Jensen–Shannon distance, in bits, between two
// distributions given as nonnegative weights over the same bins. Each side
// is normalized to sum 1 (p = p / Σ p, q = q / Σ q) and, with m = (p+q)/2,
//
//	JS = ( (KL(p‖m) + KL(q‖m)) / (2 · ln 2) )^½,
//
// where KL(p‖m) = Σ p_i ln(p_i/m_i) with 0·ln 0 = 0. This is the square root
// of the Jensen–Shannon divergence, a metric in [0, 1]; it matches
// scipy.spatial.distance.jensenshannon(p, q, base=2). Empty bins need no
// special treatment; callers who want the zero rule of PSI apply
// ReplaceZeros first. Mismatched lengths and invalid weights are errors
// wrapping ErrInput.
func JensenShannon(p, q []float64) (float64, error) {
	pn, qn, err := stPair("JensenShannon", p, q)
	if err != nil {
		return 0, err
	}
	l := make([]float64, len(pn))
	r := make([]float64, len(pn))
	for i := range pn {
		m := (pn[i] + qn[i]) / 2
		l[i] = stRelEntr(pn[i], m)
		r[i] = stRelEntr(qn[i], m)
	}
	js := (stPairSum(l) + stPairSum(r)) / math.Ln2
	if js < 0 { // rounding when p ≈ q
		js = 0
	}
	return math.Sqrt(js / 2), nil
}

// KLDivergence returns the Kullback–Leibler divergence of p from q, in
// nats, for distributions given as nonnegative weights over the same bins:
//
//	KL(p‖q) = Σ_i p_i · ln(p_i / q_i),
//
// after normalizing each side to sum 1, with 0·ln(0/q) = 0 and the result
// +Inf when some q_i = 0 < p_i. It matches scipy.stats.entropy(p, q). It is
// not symmetric. Mismatched lengths and invalid weights are errors wrapping
// ErrInput.
func KLDivergence(p, q []float64) (float64, error) {
	pn, qn, err := stPair("KLDivergence", p, q)
	if err != nil {
		return 0, err
	}
	t := make([]float64, len(pn))
	for i := range pn {
		t[i] = stRelEntr(pn[i], qn[i])
	}
	return stPairSum(t), nil
}

// Hellinger returns the Hellinger distance between two distributions given
// as nonnegative weights over the same bins, normalized to sum 1 first:
//
//	H = ( 1 − Σ_i √(p_i · q_i) )^½,
//
// the convention in which H lies in [0, 1] (0 for identical distributions,
// 1 for disjoint ones); it equals (1/√2)·‖√p − √q‖₂. Mismatched lengths and
// invalid weights are errors wrapping ErrInput.
func Hellinger(p, q []float64) (float64, error) {
	pn, qn, err := stPair("Hellinger", p, q)
	if err != nil {
		return 0, err
	}
	t := make([]float64, len(pn))
	for i := range pn {
		t[i] = math.Sqrt(pn[i] * qn[i])
	}
	h := 1 - stPairSum(t)
	if h < 0 { // rounding when p ≈ q
		h = 0
	}
	return math.Sqrt(h), nil
}

// ReplaceZeros returns the proportions w / Σ w with every proportion that
// is exactly 0 replaced by eps; the result is not normalized again, so it
// sums to slightly more than 1 when a zero was replaced. This is the zero
// rule of PSI (with eps = PSIZero), to be applied before JensenShannon or
// KLDivergence when an empty bin should not dominate. When w is empty or
// sums to 0, or holds a negative, NaN or infinite value, the proportions
// are not defined and ReplaceZeros returns a copy of w unchanged, for the
// distance functions to reject.
func ReplaceZeros(w []float64, eps float64) []float64 {
	p, err := stWeights("ReplaceZeros", "w", w)
	if err != nil {
		return slices.Clone(w)
	}
	for i, v := range p {
		if v == 0 {
			p[i] = eps
		}
	}
	return p
}

// stNormSF is the standard normal survival function P(Z > x), computed as
// SciPy's ndtr does (via erf near 0, erfc in the tails).
func stNormSF(x float64) float64 {
	// P(Z > x) = Φ(−x).
	t := -x / math.Sqrt2
	if math.Abs(t) < 1/math.Sqrt2 {
		return 0.5 + 0.5*math.Erf(t)
	}
	y := 0.5 * math.Erfc(math.Abs(t))
	if t > 0 {
		return 1 - y
	}
	return y
}

// ZTestProportions is the two-sided two-proportion z-test with pooled
// variance, the test Evidently uses for binary categorical columns. With
// p₁ = x1/n1, p₂ = x2/n2 and the pooled share p̂ = (x1+x2)/(n1+n2),
//
//	z = (p₁ − p₂) / √( p̂(1−p̂)(1/n1 + 1/n2) ),   p = 2·Φ(−|z|),
//
// where Φ is the standard normal distribution function (the p-value equals
// 2·scipy.stats.norm.sf(|z|)). When p̂ is 0 or 1 (both samples all one
// value) the proportions are equal and z = 0, p = 1. Counts with n1 or n2
// not positive, or x outside [0, n], are errors wrapping ErrInput.
func ZTestProportions(x1, n1, x2, n2 int64) (z, p float64, err error) {
	if n1 <= 0 || n2 <= 0 {
		return 0, 0, inputErr("ZTestProportions: sample sizes %d and %d (both must be positive)", n1, n2)
	}
	if x1 < 0 || x1 > n1 || x2 < 0 || x2 > n2 {
		return 0, 0, inputErr("ZTestProportions: successes %d of %d and %d of %d (need 0 <= x <= n)", x1, n1, x2, n2)
	}
	f1, f2 := float64(n1), float64(n2)
	p1, p2 := float64(x1)/f1, float64(x2)/f2
	pool := float64(x1+x2) / (f1 + f2)
	if pool == 0 || pool == 1 {
		return 0, 1, nil
	}
	z = (p1 - p2) / math.Sqrt(pool*(1-pool)*(1/f1+1/f2))
	p = 2 * stNormSF(math.Abs(z))
	return z, p, nil
}
