package monitor

import (
	"math"
	"slices"
)

// ADResult is the outcome of the k-sample Anderson–Darling test.
type ADResult struct {
	// Statistic is the normalized statistic (A²_kN − (k−1)) / σ_N.
	Statistic float64
	// PValue is the approximate significance level, from the critical
	// values, limited to [0.001, 0.25].
	PValue float64
	// CriticalValues are the critical values of Statistic at the
	// significance levels ADLevels.
	CriticalValues []float64
}

// ADLevels are the significance levels of ADResult.CriticalValues.
var ADLevels = [7]float64{0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001}

// Interpolation coefficients of the critical values (Scholz and Stephens
// 1987, table 2): t_α(m) = b0 + b1/√m + b2/m for m = k − 1.
var (
	adB0 = [7]float64{0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085}
	adB1 = [7]float64{-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615}
	adB2 = [7]float64{-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154}
)

// AndersonKSamp is the k-sample Anderson–Darling test of the hypothesis
// that the samples come from the same distribution. It matches
// scipy.stats.anderson_ksamp(samples) with its defaults (midrank=True) as
// in SciPy 1.10: the statistic is Scholz and Stephens' (1987) A²_akN for
// data with ties (their equation 7), standardized as
// (A²_akN − (k−1)) / σ_N with σ_N² their exact variance; the critical
// values are t_α(k−1) at the levels ADLevels; and the p-value comes from a
// least-squares quadratic fit of ln α against t_α, evaluated at the
// statistic. When the statistic is below the smallest critical value the
// p-value is capped at 0.25, and when it is above the largest it is
// floored at 0.001 (SciPy warns in both cases).
//
// Fewer than two samples, an empty sample, a NaN or infinite value, fewer
// than two distinct values in all, or fewer than four values in all (the
// variance is not defined) are errors wrapping ErrInput. The samples are
// not modified.
func AndersonKSamp(samples ...[]float64) (ADResult, error) {
	k := len(samples)
	if k < 2 {
		return ADResult{}, inputErr("AndersonKSamp: %d samples (need at least two)", k)
	}
	sorted := make([][]float64, k)
	total := 0
	for i, s := range samples {
		if len(s) == 0 {
			return ADResult{}, inputErr("AndersonKSamp: sample %d is empty", i)
		}
		for j, v := range s {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return ADResult{}, inputErr("AndersonKSamp: sample %d value %d is %v (samples must be finite)", i, j, v)
			}
		}
		total += len(s)
	}
	if total < 4 {
		return ADResult{}, inputErr("AndersonKSamp: %d values in all (need at least four)", total)
	}
	pooled := make([]float64, 0, total)
	for i, s := range samples {
		sorted[i] = stSortedCopy(s)
		pooled = append(pooled, s...)
	}
	slices.Sort(pooled)
	// Distinct pooled values, with the count of each (l_j) and the number
	// of pooled values below each.
	var zs []float64
	var ls, below []int
	for i := 0; i < len(pooled); {
		j := i + 1
		for j < len(pooled) && pooled[j] == pooled[i] {
			j++
		}
		zs = append(zs, pooled[i])
		ls = append(ls, j-i)
		below = append(below, i)
		i = j
	}
	if len(zs) < 2 {
		return ADResult{}, inputErr("AndersonKSamp: all %d values are equal (need two distinct values)", total)
	}
	N := float64(total)
	noTies := len(zs) == total
	inner := make([]float64, len(zs))
	a2 := 0.0
	for _, s := range sorted {
		ni := float64(len(s))
		p := 0 // index of the first value of s greater than z
		for j, z := range zs {
			q := p
			for q < len(s) && s[q] <= z {
				q++
			}
			lo := p
			for lo < q && s[lo] < z {
				lo++
			}
			f := float64(q - lo) // values of s equal to z
			m := float64(q) - f/2
			lj := 1.0
			if !noTies {
				lj = float64(ls[j])
			}
			b := float64(below[j]) + lj/2
			d := N*m - b*ni
			inner[j] = lj / N * (d * d) / (b*(N-b) - N*lj/4)
			p = q
		}
		a2 += stPairSum(inner) / ni
	}
	a2 *= (N - 1) / N

	// Variance of A²_kN (Scholz and Stephens 1987, eq. 4).
	fk := float64(k)
	hh := 0.0
	for _, s := range sorted {
		hh += 1 / float64(len(s))
	}
	// cs[i] = Σ_{j=N−1−i}^{N−1} 1/j for i = 0..N−3 (partial sums from the
	// top), h = Σ_{j=1}^{N−1} 1/j, g = Σ_i cs[i] / (i+2).
	gt := make([]float64, total-2)
	c := 0.0
	for i := range gt {
		c += 1 / float64(total-1-i)
		gt[i] = c / float64(i+2)
	}
	h := c + 1
	g := stPairSum(gt)
	a := (4*g-6)*(fk-1) + (10-6*g)*hh
	bb := (2*g-4)*fk*fk + 8*h*fk + (2*g-14*h-4)*hh - 8*h + 4*g - 6
	cc := (6*h+2*g-2)*fk*fk + (4*h-4*g+6)*fk + (2*h-6)*hh + 4*h
	dd := (2*h+6)*fk*fk - 4*h*fk
	// N·N is exact below 2^26 and one more product rounds N³ once, as
	// SciPy's conversion of the integer N**3 does.
	n3 := N * N * N
	sigma2 := (a*n3 + bb*(N*N) + cc*N + dd) / ((N - 1) * (N - 2) * (N - 3))
	m := fk - 1
	stat := (a2 - m) / math.Sqrt(sigma2)

	crit := make([]float64, 7)
	for i := range crit {
		crit[i] = adB0[i] + adB1[i]/math.Sqrt(m) + adB2[i]/m
	}
	res := ADResult{Statistic: stat, CriticalValues: crit}
	switch {
	case stat < slices.Min(crit):
		res.PValue = 0.25
	case stat > slices.Max(crit):
		res.PValue = 0.001
	default:
		var ly [7]float64
		for i, s := range ADLevels {
			ly[i] = math.Log(s)
		}
		c2, c1, c0 := stQuadFit(crit, ly[:])
		res.PValue = math.Exp((c2*stat+c1)*stat + c0)
	}
	return res, nil
}

// stQuadFit returns the least-squares fit y ≈ c2·x² + c1·x + c0 (as
// numpy.polyfit(x, y, 2)), solved by Householder QR of the column-scaled
// Vandermonde matrix.
func stQuadFit(x, y []float64) (c2, c1, c0 float64) {
	n := len(x)
	// Columns x², x, 1, each scaled to unit norm as numpy does.
	a := make([][3]float64, n)
	var scale [3]float64
	for i, v := range x {
		a[i] = [3]float64{v * v, v, 1}
		for j := range 3 {
			scale[j] += a[i][j] * a[i][j]
		}
	}
	for j := range 3 {
		scale[j] = math.Sqrt(scale[j])
	}
	for i := range a {
		for j := range 3 {
			a[i][j] /= scale[j]
		}
	}
	b := slices.Clone(y)
	// Householder QR: for each column, reflect rows col..n−1.
	for col := range 3 {
		norm := 0.0
		for i := col; i < n; i++ {
			norm = math.Hypot(norm, a[i][col])
		}
		if a[col][col] > 0 {
			norm = -norm
		}
		// v = a[col:, col] − norm·e₁
		v := make([]float64, n-col)
		for i := col; i < n; i++ {
			v[i-col] = a[i][col]
		}
		v[0] -= norm
		vv := 0.0
		for _, t := range v {
			vv += t * t
		}
		if vv == 0 {
			continue
		}
		for j := col; j < 3; j++ {
			d := 0.0
			for i := col; i < n; i++ {
				d += v[i-col] * a[i][j]
			}
			f := 2 * d / vv
			for i := col; i < n; i++ {
				a[i][j] -= f * v[i-col]
			}
		}
		d := 0.0
		for i := col; i < n; i++ {
			d += v[i-col] * b[i]
		}
		f := 2 * d / vv
		for i := col; i < n; i++ {
			b[i] -= f * v[i-col]
		}
	}
	// Back substitution on the 3×3 upper triangle.
	var c [3]float64
	for j := 2; j >= 0; j-- {
		s := b[j]
		for l := j + 1; l < 3; l++ {
			s -= a[j][l] * c[l]
		}
		c[j] = s / a[j][j]
	}
	return c[0] / scale[0], c[1] / scale[1], c[2] / scale[2]
}
