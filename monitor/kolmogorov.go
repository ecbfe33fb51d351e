package monitor

import "math"

// This file holds the survival function of the two-sided one-sample
// Kolmogorov–Smirnov statistic D_n (the distribution SciPy calls kstwo),
// which the asymptotic branch of the two-sample test evaluates at
// n = round(n1·n2/(n1+n2)). The choice of method follows Simard and
// L'Ecuyer (2011), "Computing the Two-Sided Kolmogorov-Smirnov
// Distribution", J. Stat. Softw. 39(11), with the same cut-offs as
// scipy.stats.kstwo.sf in SciPy 1.10, so that the values agree with SciPy to
// far better than 1e-9 relative:
//
//   - Ruben–Gambino closed forms for n·d <= 1 and n·d >= n−1;
//   - twice the one-sided Smirnov tail for d >= 1/2 (exact there) and for
//     large n·d² (Miller's approximation);
//   - the Durbin matrix method in the Marsaglia–Tsang–Wang form for small
//     n·d² (and, for n <= 100000, small n·d^1.5);
//   - the Pomeranz recursion for n <= 140 and 0.754693 < n·d² <= 4;
//   - the Pelz–Good asymptotic series otherwise.

const (
	// ksScaleExp is the binary exponent used to rescale intermediate values.
	ksScaleExp = 128
	// ksMinExpArg: exp of anything below this is 0 in float64 (SciPy's _MIN_LOG).
	ksMinExpArg = -708
	// ksCephesMinLog is log(2^-1022), the Cephes MINLOG constant.
	ksCephesMinLog = -7.08396418532264106224e2
	// smirnovMaxN: beyond this n the one-sided tail uses Miller's formula.
	smirnovMaxN = 1000000
)

var (
	ksScaleUp   = math.Ldexp(1, ksScaleExp)
	ksScaleDown = math.Ldexp(1, -ksScaleExp)
)

func ksClip01(p float64) float64 {
	if p < 0 {
		return 0
	}
	if p > 1 {
		return 1
	}
	return p
}

// kstwoSF returns Pr(D_n >= d) for the two-sided one-sample
// Kolmogorov–Smirnov statistic with sample size n (scipy.stats.kstwo.sf(d, n)).
// It returns NaN for n < 1 or a NaN d.
func kstwoSF(d float64, n int) float64 {
	if n < 1 || math.IsNaN(d) {
		return math.NaN()
	}
	fn := float64(n)
	if d >= 1 {
		return 0
	}
	if d <= 0.5/fn {
		return 1
	}
	t := fn * d
	if t <= 1 {
		// Here 1/(2n) < d <= 1/n: Pr(D_n <= d) = n!/n^n · (2nd−1)^n.
		var c float64
		if n <= 140 {
			c = 1
			inv := 1 / fn
			base := 2*t - 1
			for i := 1; i <= n; i++ {
				c *= float64(float64(i)*inv) * base
			}
		} else {
			c = math.Exp(logFactorialOverPower(n) + fn*math.Log(2*t-1))
		}
		return ksClip01(1 - c)
	}
	if t >= fn-1 {
		return ksClip01(2 * math.Pow(1-d, fn))
	}
	if d >= 0.5 {
		return ksClip01(2 * smirnovSF(n, d))
	}
	nd2 := t * d
	if n <= 140 {
		switch {
		case nd2 <= 0.754693:
			return ksClip01(1 - durbinCDF(n, d))
		case nd2 <= 4:
			return ksClip01(1 - pomeranzCDF(n, d))
		default:
			return ksClip01(2 * smirnovSF(n, d))
		}
	}
	if nd2 >= 370 {
		return 0
	}
	if nd2 >= 2.2 {
		return ksClip01(2 * smirnovSF(n, d))
	}
	var c float64
	if n <= 100000 && fn*math.Pow(d, 1.5) <= 1.4 {
		c = durbinCDF(n, d)
	} else {
		c = pelzGoodCDF(n, d)
	}
	return ksClip01(1 - c)
}

// ksStirlingTail are B_{2j}/((2j)(2j−1)) for j = 8, ..., 1 (highest power
// first), the coefficients of the asymptotic series of log Γ.
var ksStirlingTail = [...]float64{
	-2.955065359477124183e-2, 6.4102564102564102564e-3,
	-1.9175269175269175269e-3, 8.4175084175084175084e-4,
	-5.952380952380952381e-4, 7.9365079365079365079e-4,
	-2.7777777777777777778e-3, 8.3333333333333333333e-2,
}

// logFactorialOverPower returns log(n!/n^n) from Stirling's series, with the
// n·log n terms cancelled analytically.
func logFactorialOverPower(n int) float64 {
	fn := float64(n)
	r := 1 / fn
	u := r / fn
	poly := 0.0
	for _, c := range ksStirlingTail {
		poly = poly*u + c
	}
	return math.Log(fn)/2 - fn + math.Log(2*math.Pi)/2 + r*poly
}

// durbinCDF returns Pr(D_n <= d) by Durbin's matrix method: write
// n·d = k − h with k a positive integer and 0 <= h < 1; the probability is
// n!/n^n times the (k, k) entry of H^n for a (2k−1)×(2k−1) matrix H. Powers
// are taken by repeated squaring with explicit binary exponents.
func durbinCDF(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	fn := float64(n)
	nd := fn * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1

	// first column: (1 − h^j)/j! for j = 1..m, with a corrected last entry;
	// w[j] = 1/j!.
	col := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		col[j-1] = 1 - math.Pow(h, float64(j))
		w[j-1] = fac
		fac /= float64(j)
		col[j-1] *= fac
	}
	corr := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	col[m-1] = (1 + corr) * fac

	hm := ksNewSquare(m)
	for c := 1; c < m; c++ {
		for r := c - 1; r < m; r++ {
			hm[r*m+c] = w[r-(c-1)]
		}
	}
	for r := 0; r < m; r++ {
		hm[r*m] = col[r]
	}
	for c := 0; c < m; c++ {
		hm[(m-1)*m+c] = col[m-1-c]
	}

	acc := ksNewSquare(m)
	for i := 0; i < m; i++ {
		acc[i*m+i] = 1
	}
	tmp := ksNewSquare(m)
	accExp, hExp := 0, 0
	for e := n; e > 0; e /= 2 {
		if e%2 == 1 {
			ksMatMul(tmp, acc, hm, m)
			acc, tmp = tmp, acc
			accExp += hExp
		}
		ksMatMul(tmp, hm, hm, m)
		hm, tmp = tmp, hm
		hExp *= 2
		if math.Abs(hm[(k-1)*m+(k-1)]) > ksScaleUp {
			for i := range hm {
				hm[i] /= ksScaleUp
			}
			hExp += ksScaleExp
		}
	}
	p := acc[(k-1)*m+(k-1)]
	for i := 1; i <= n; i++ {
		p = float64(float64(i)*p) / fn
		if math.Abs(p) < ksScaleDown {
			p *= ksScaleUp
			accExp -= ksScaleExp
		}
	}
	if accExp != 0 {
		p = math.Ldexp(p, accExp)
	}
	return ksClip01(p)
}

func ksNewSquare(m int) []float64 { return make([]float64, m*m) }

// matMul sets dst = a·b for m×m row-major matrices (dst distinct from a, b).
func ksMatMul(dst, a, b []float64, m int) {
	for i := range dst {
		dst[i] = 0
	}
	for i := 0; i < m; i++ {
		row := dst[i*m : (i+1)*m]
		for l := 0; l < m; l++ {
			ail := a[i*m+l]
			if ail == 0 {
				continue
			}
			brow := b[l*m : (l+1)*m]
			for j, v := range brow {
				row[j] += float64(ail * v)
			}
		}
	}
}

// pomeranzBounds returns the first and last nonzero column of row i of the
// Pomeranz recursion.
func pomeranzBounds(i, n, ll, ceilf, roundf int) (int, int) {
	var lo, hi int
	if i == 0 {
		lo, hi = -ll-ceilf-1, ll+ceilf-1
	} else {
		half, odd := (i+1)/2, (i+1)%2
		switch {
		case odd == 0 && half == n+1:
			lo, hi = n-ll-ceilf-1, n+ll+ceilf-1
		case odd == 0:
			lo, hi = half-1-ll-roundf-1, half+ll-1+ceilf-1
		default:
			lo, hi = half-1-ll-1, half+ll+roundf-1
		}
	}
	return max(lo+2, 0), min(hi, n)
}

// pomeranzCDF returns Pr(D_n <= d) by Pomeranz's recursion (1974): each row
// of a banded table is the convolution of the previous row with one of three
// truncated Poisson weight sequences; the answer is n! times the last entry.
func pomeranzCDF(n int, d float64) float64 {
	fn := float64(n)
	t := fn * d
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	np := 2 * (ll + 1)
	pg := make([]float64, np)  // (g/n)^j/j!
	p2g := make([]float64, np) // (2g/n)^j/j!
	p12 := make([]float64, np) // ((1−2g)/n)^j/j!
	pg[0], p2g[0], p12[0] = 1, 1, 1
	a, b, c := g/fn, 2*g/fn, (1-2*g)/fn
	for j := 1; j < np; j++ {
		pg[j] = pg[j-1] * a / float64(j)
		p2g[j] = p2g[j-1] * b / float64(j)
		p12[j] = p12[j-1] * c / float64(j)
	}
	prev := make([]float64, np)
	cur := make([]float64, np)
	cur[0] = 1
	prevStart, curStart := 0, 0
	exp := 0
	lo, hi := pomeranzBounds(0, n, ll, ceilf, roundf)
	conv := make([]float64, 2*np)
	for i := 1; i <= 2*n+1; i++ {
		k1 := lo
		prev, cur = cur, prev
		prevStart, curStart = curStart, prevStart
		for j := range cur {
			cur[j] = 0
		}
		lo, hi = pomeranzBounds(i, n, ll, ceilf, roundf)
		var w []float64
		switch {
		case i == 1 || i == 2*n+1:
			w = pg
		case i%2 == 1:
			w = p2g
		default:
			w = p12
		}
		span := hi - k1 + 1
		if span <= 0 {
			continue
		}
		from := k1 - prevStart
		to := min(from+span, np)
		seg := prev[from:to]
		wt := w[:min(span, np)]
		// full convolution of seg and wt
		nc := len(seg) + len(wt) - 1
		for j := 0; j < nc; j++ {
			conv[j] = 0
		}
		for x, sv := range seg {
			for y, wv := range wt {
				conv[x+y] += float64(sv * wv)
			}
		}
		off := lo - k1
		cnt := hi - lo + 1
		mx := 0.0
		for j := 0; j < cnt && off+j < nc; j++ {
			cur[j] = conv[off+j]
			mx = math.Max(mx, cur[j])
		}
		if mx > 0 && mx < ksScaleDown {
			for j := range cur {
				cur[j] *= ksScaleUp
			}
			exp -= ksScaleExp
		}
		curStart = prevStart + lo - k1
	}
	ans := cur[n-curStart]
	for j := 1; j <= n; j++ {
		if math.Abs(ans) > ksScaleUp {
			ans *= ksScaleDown
			exp += ksScaleExp
		}
		ans *= float64(j)
	}
	if exp != 0 {
		ans = math.Ldexp(ans, exp)
	}
	return ksClip01(ans)
}

// pelzGoodCDF returns the Pelz–Good (1976) approximation of Pr(D_n <= d):
// the Li-Chien/Korolyuk expansion K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5,
// z = d·√n, with each K_i rewritten through Jacobi's theta transformation
// into rapidly converging series in exp(−π²/(8z²)).
func pelzGoodCDF(n int, d float64) float64 {
	if d <= 0 {
		return 0
	}
	if d >= 1 {
		return 1
	}
	fn := float64(n)
	z := math.Sqrt(fn) * d
	z2 := z * z
	z3 := math.Pow(z, 3)
	z4 := math.Pow(z, 4)
	z6 := math.Pow(z, 6)
	logq := -math.Pi * math.Pi / 8 / z2
	if logq < ksMinExpArg {
		return 0
	}
	q := math.Exp(logq)
	pi2 := math.Pi * math.Pi
	pi4 := math.Pow(math.Pi, 4)
	pi6 := math.Pow(math.Pi, 6)

	c1a, c1b := -z2, pi2/4
	c2a := 6*z6 + 2*z4
	c2b := (2*z4 - 5*z2) * pi2 / 4
	c2c := pi4 * (1 - 2*z2) / 16
	c3d := pi6 * (5 - 30*z2) / 64
	c3c := pi4 * (-60*z2 + 212*z4) / 16
	c3b := pi2 * (135*z4 - 96*z6) / 4
	c3a := -30*z6 - 90*math.Pow(z, 8)

	var s [4]float64
	top := int(math.Ceil(16 * z / math.Pi))
	for k := top; k >= 1; k-- {
		m := float64(2*k - 1)
		m2 := m * m
		m4 := math.Pow(m, 4)
		m6 := math.Pow(m, 6)
		qp := math.Pow(q, float64(8*k))
		terms := [4]float64{
			1,
			c1a + c1b*m2,
			c2a + c2b*m2 + c2c*m4,
			c3a + c3b*m2 + c3c*m4 + c3d*m6,
		}
		for i := range s {
			s[i] = s[i]*qp + terms[i]
		}
	}
	sqrt2pi := math.Sqrt(2 * math.Pi)
	den := [4]float64{z, 6 * z4, 72 * math.Pow(z, 7), 6480 * math.Pow(z, 10)}
	for i := range s {
		s[i] = s[i] * q * sqrt2pi / den[i]
	}
	// the remaining sums over all positive integers k for K2 and K3
	q2 := math.Exp(-pi2 / 2 / z2)
	r3z := math.Sqrt(3) * z
	var e2, e3 float64
	for k := top; k >= 1; k-- {
		fk := float64(k)
		k2 := fk * fk
		qk := math.Pow(q2, k2)
		e2 += k2 * qk
		kp := math.Pi * fk
		e3 += (r3z + kp) * (r3z - kp) * k2 * qk
	}
	s[2] += e2 * (pi2 * sqrt2pi / (-36 * z3))
	s[3] += e3 * (pi2 * sqrt2pi / (216 * z6))
	sum := 0.0
	for i := range s {
		sum += s[i] / math.Pow(fn, float64(i)/2)
	}
	return sum
}

// smirnovSF returns Pr(D_n^+ >= d), the upper tail of the one-sided
// Kolmogorov–Smirnov statistic (scipy.special.smirnov(n, d)), for the cases
// the two-sided distribution needs (d > 1/√n or d >= 1/2): the
// Smirnov–Birnbaum–Tingey sum
//
//	d · Σ_{v=0}^{⌊n(1−d)⌋} C(n,v) (d+v/n)^(v−1) (1−d−v/n)^(n−v)
//
// (the last term left out when n(1−d) is an integer), evaluated term by term
// in log space with the lattice points n·d handled in double-double, with the
// same closed forms for d <= 1/n and d >= 1−1/n, the same underflow cut-off,
// and Miller's approximation exp(−(6nd+1)²/(18n)) for n > 10^6.
func smirnovSF(n int, d float64) float64 {
	if !(n > 0 && d >= 0 && d <= 1) {
		return math.NaN()
	}
	if n == 1 {
		return 1 - d
	}
	if d == 0 {
		return 1
	}
	if d == 1 {
		return 0
	}
	fn := float64(n)
	// n·d exactly as hi+lo, its floor and fractional part.
	hi := fn * d
	lo := math.FMA(fn, d, -hi)
	fl := math.Floor(hi)
	frac := (hi - fl) + lo
	if frac < 0 {
		fl--
		frac += 1
	}
	if frac >= 1 {
		fl++
		frac = 0
	}
	nfl := int(fl)
	exactLattice := frac == 0
	if nfl == 0 || (nfl == 1 && exactLattice) {
		return ksClip01(1 - d*math.Pow(1+d, fn-1))
	}
	if -2*fn*d*d < ksCephesMinLog {
		return 0
	}
	if nfl >= n-1 {
		return ksClip01(math.Pow(1-d, fn))
	}
	if n > smirnovMaxN {
		a := 6*fn*d + 1
		return ksClip01(math.Exp(-(a * a) / 18 / fn))
	}
	// v runs 0..n−⌊nd⌋−1: the largest v with 1−d−v/n > 0 (when n·d is an
	// integer the term v = n − n·d vanishes and is left out).
	nTerms := n - nfl
	// v = 0 term: (1−d)^n / d
	sum := math.Pow(1-d, fn) / d
	// log C(n, v), accumulated with a compensation term (Kahan) so that the
	// rounding errors of 10^5 or more steps do not build up.
	logC, logCc := math.Log(fn), 0.0
	half := n / 2
	for v := 1; v < nTerms; v++ {
		fv := float64(v)
		// d + v/n = (v + n·d)/n, with n·d in double-double; then
		// 1 − d − v/n is handled by log1p for accuracy.
		s := ((fv + hi) + lo) / fn
		term := 0.0
		if s < 1 {
			lt := (logC - logCc) + float64(n-v)*math.Log1p(-s) + (fv-1)*math.Log(s)
			term = math.Exp(lt)
		}
		sum += term
		if term != 0 {
			if 4*float64(nTerms-v)*term < 0x1p-52*sum && v != nTerms-1 {
				break
			}
		} else if v > half {
			break
		}
		// Kahan step: logC += log((n−v)/(v+1))
		y := math.Log(float64(n-v)/(fv+1)) - logCc
		t := logC + y
		logCc = (t - logC) - y
		logC = t
	}
	return ksClip01(d * sum)
}
