package monitor

import (
	"fmt"
	"math"
)

// Binned comparisons: a column's current values summarized as counts over
// the reference profile's fine bins (a monitor's window, or another profile
// projected onto those bins through its sketch) compared with the
// reference profile. Both cumulative distributions are known at the bin
// edges, up to the sketches' rank errors; between edges only their bounds
// are. Statistics are estimated from the edges and come with an interval
// [Low, High] that accounts for both.

// zeroShare is what a share of exactly zero becomes before PSI, KL and
// Jensen–Shannon are computed over bins or categories.
const zeroShare = 0.0001

// Default thresholds.
const (
	defaultPThreshold        = 0.05
	defaultDistanceThreshold = 0.1
	defaultShare             = 0.5
	defaultSmallReference    = 1000
)

// binnedNumeric is a numeric column's current values as counts over a
// reference's fine bins.
type binnedNumeric struct {
	Counts                  []float64 // len(ref.Counts); Counts[ref.Bin(x)]++
	Count, Nulls, NonFinite int64
	Min, Max, Mean, M2      float64 // of the finite values (M2 = Σ(x−mean)²)
	// LowSum and HighSum are the sums of the values in the first and the
	// last bin (NaN when unknown).
	LowSum, HighSum float64
}

// tailMeans returns the means of the values in b's first and last bins
// (NaN when unknown or empty).
func (b *binnedNumeric) tailMeans() [2]float64 {
	t := [2]float64{math.NaN(), math.NaN()}
	if n := len(b.Counts); n > 0 {
		if b.Counts[0] > 0 {
			t[0] = b.LowSum / b.Counts[0]
		}
		if b.Counts[n-1] > 0 {
			t[1] = b.HighSum / b.Counts[n-1]
		}
	}
	return t
}

// profileTails returns the means of a profile's values below the first
// of edges and at or above the last, from its sketch.
func profileTails(c *ColumnProfile, edges []float64) [2]float64 {
	if c.kll == nil || len(edges) == 0 {
		return [2]float64{math.NaN(), math.NaN()}
	}
	b, a := c.kll.TailMeans(edges[0], edges[len(edges)-1])
	return [2]float64{b, a}
}

// isTest reports whether m is a hypothesis test, whose p-value is compared
// with the threshold (drift below it), rather than a distance (drift above).
func (m Method) isTest() bool {
	switch m {
	case MethodKS, MethodChi2, MethodZTest, MethodAnderson, MethodCvM:
		return true
	}
	return false
}

// known reports whether m is one of the package's methods.
func (m Method) known() bool {
	switch m {
	case MethodKS, MethodChi2, MethodZTest, MethodWasserstein, MethodWassersteinNorm,
		MethodPSI, MethodJS, MethodKL, MethodHellinger, MethodAnderson, MethodCvM, MethodEnergy:
		return true
	}
	return false
}

// exactOnly reports whether m needs the raw values of both samples.
func (m Method) exactOnly() bool {
	return m == MethodAnderson || m == MethodCvM || m == MethodEnergy
}

// appliesTo reports whether m can compare columns of kind k.
func (m Method) appliesTo(k Kind) bool {
	switch m {
	case MethodKS, MethodWasserstein, MethodWassersteinNorm, MethodAnderson, MethodCvM, MethodEnergy:
		return k == Numeric
	case MethodChi2, MethodZTest:
		return k == Categorical
	}
	return true
}

// defaultThreshold is m's threshold when none is given; ok is false for
// MethodWasserstein, whose scale is the column's.
func (m Method) defaultThreshold() (float64, bool) {
	switch {
	case m == MethodWasserstein:
		return 0, false
	case m.isTest():
		return defaultPThreshold, true
	}
	return defaultDistanceThreshold, true
}

// categories returns the number of distinct categories a categorical
// reference profile holds (its Top values, and one for the rest).
func categories(ref *ColumnProfile) int {
	k := len(ref.Top)
	if ref.Other > 0 {
		k++
	}
	return k
}

// defaultMethod is the method a column gets when DriftOptions names none:
// for references of at most small values, KS (numeric), the Z-test for two
// proportions (categorical with at most two categories) or chi-square
// (more categories); for larger references, the normalized Wasserstein
// distance (numeric) or the Jensen–Shannon distance (categorical).
func defaultMethod(kind Kind, refCount, small int64, cats int) Method {
	if refCount <= small {
		if kind == Numeric {
			return MethodKS
		}
		if cats <= 2 {
			return MethodZTest
		}
		return MethodChi2
	}
	if kind == Numeric {
		return MethodWassersteinNorm
	}
	return MethodJS
}

// resolveMethod picks the method and threshold of a column.
func resolveMethod(name string, kind Kind, refCount int64, cats int, opts DriftOptions, exact bool) (Method, float64, error) {
	small := opts.SmallReference
	if small <= 0 {
		small = defaultSmallReference
	}
	m, ok := opts.Methods[name]
	if !ok {
		m = defaultMethod(kind, refCount, small, cats)
	}
	if !m.known() {
		return "", 0, inputErr("column %q: unknown drift method %q", name, m)
	}
	if !m.appliesTo(kind) {
		return "", 0, inputErr("column %q: method %q does not apply to %s columns", name, m, kind)
	}
	if m.exactOnly() && !exact {
		return "", 0, inputErr("column %q: method %q needs the raw values of both samples; profiles and monitors support ks, wasserstein, wasserstein_norm, psi, js, kl, hellinger, chi2 and ztest", name, m)
	}
	t, ok := opts.Thresholds[name]
	if !ok {
		t, ok = m.defaultThreshold()
		if !ok {
			return "", 0, inputErr("column %q: method %q has no default threshold; set DriftOptions.Thresholds[%q]", name, m, name)
		}
	}
	if math.IsNaN(t) || t < 0 || (m.isTest() && t > 1) {
		return "", 0, inputErr("column %q: threshold %v out of range for method %q", name, t, m)
	}
	return m, t, nil
}

// methodFor picks the method and threshold of a reference column.
func methodFor(ref *ColumnProfile, opts DriftOptions) (Method, float64, error) {
	return resolveMethod(ref.Name, ref.Kind, ref.Count, categories(ref), opts, false)
}

// verdict fills d.Drift and d.Uncertain from the statistic, its interval
// and, for tests, the p-values at the interval's ends (pLow at Low, pHigh
// at High; the p-value falls as the statistic grows).
func verdict(d *ColumnDrift, strict bool, pLow, pHigh float64) {
	if d.Method.isTest() {
		p := *d.PValue
		certain := pLow < d.Threshold   // drifts even at the smallest statistic
		possible := pHigh < d.Threshold // drifts at the largest
		d.Uncertain = certain != possible
		if strict {
			d.Drift = certain
		} else {
			d.Drift = p < d.Threshold
		}
		return
	}
	certain := d.Low > d.Threshold
	possible := d.High > d.Threshold
	d.Uncertain = certain != possible
	if strict {
		d.Drift = certain
	} else {
		d.Drift = d.Statistic > d.Threshold
	}
}

// cumulative returns the shares of values below each inner edge: c[i] is
// the share in bins 0..i, for i < len(counts)-1.
func cumulative(counts []float64, total float64) []float64 {
	c := make([]float64, len(counts)-1)
	var s float64
	for i := range c {
		s += counts[i]
		c[i] = min(s/total, 1)
	}
	return c
}

// ksBinned returns the KS statistic estimated at the edges and bounds on
// the true statistic, given both sides' shares below each edge and the sum
// of their rank errors.
func ksBinned(fr, fc []float64, eps float64) (est, lo, hi float64) {
	prevR, prevC := 0.0, 0.0
	for i := range fr {
		est = max(est, math.Abs(fr[i]-fc[i]))
		// Within the bin ending at edge i both CDFs lie between their
		// values at its two ends.
		hi = max(hi, math.Abs(fr[i]-prevC), math.Abs(fc[i]-prevR))
		prevR, prevC = fr[i], fc[i]
	}
	hi = max(hi, math.Abs(1-prevC), math.Abs(1-prevR))
	lo = max(0, est-eps)
	hi = min(1, max(hi, est)+eps)
	return est, lo, hi
}

// knots returns the piecewise-linear CDF of one side: its minimum at 0, the
// edges inside (min, max) at their shares, its maximum at 1. When the mean
// of a tail bin (below the first edge, at or above the last) is known, the
// tail is drawn as a uniform distribution with that mean instead of one
// spread over the whole bin: tails are wide and their mass is rarely
// spread evenly.
func knots(edges, f []float64, lo, hi float64, tail [2]float64) (xs, ys []float64) {
	last := len(edges) - 1
	if m := tail[0]; !math.IsNaN(m) && last >= 0 && lo < edges[0] && f[0] > 0 {
		e := edges[0]
		m = min(max(m, lo), e)
		if m >= (lo+e)/2 {
			xs, ys = append(xs, 2*m-e), append(ys, 0)
		} else {
			xs, ys = append(xs, lo, 2*m-lo), append(ys, 0, f[0])
		}
	} else {
		xs, ys = append(xs, lo), append(ys, 0)
	}
	upper := !math.IsNaN(tail[1]) && last >= 0 && hi > edges[last] && f[last] < 1
	for i, e := range edges {
		if e > lo && e < hi {
			xs = append(xs, e)
			ys = append(ys, f[i])
		}
	}
	if upper {
		e, m := edges[last], min(max(tail[1], edges[last]), hi)
		if m <= (e+hi)/2 {
			xs, ys = append(xs, 2*m-e), append(ys, 1)
		} else {
			xs, ys = append(xs, 2*m-hi, hi), append(ys, f[last], 1)
		}
		return xs, ys
	}
	xs = append(xs, hi)
	ys = append(ys, 1)
	return xs, ys
}

// evalLinear returns the piecewise-linear function through (xs, ys) at x,
// right-continuous where knots repeat: 0 left of xs[0], 1 right of the last
// knot. *j is the scan's position; calls must come with x not decreasing.
func evalLinear(xs, ys []float64, x float64, j *int) float64 {
	if x <= xs[0] {
		if x == xs[0] && len(xs) > 1 && xs[1] == xs[0] {
			return ys[1]
		}
		return 0
	}
	n := len(xs)
	if x >= xs[n-1] {
		return 1
	}
	for *j+1 < n && xs[*j+1] <= x {
		*j++
	}
	x0, x1 := xs[*j], xs[*j+1]
	if x1 == x0 {
		return ys[*j+1]
	}
	return ys[*j] + (ys[*j+1]-ys[*j])*(x-x0)/(x1-x0)
}

// absIntegral integrates |d(x)| over a segment of width w on which d is
// linear from d0 to d1.
func absIntegral(d0, d1, w float64) float64 {
	if w <= 0 {
		return 0
	}
	if (d0 >= 0) == (d1 >= 0) || d0 == 0 || d1 == 0 {
		return w * (math.Abs(d0) + math.Abs(d1)) / 2
	}
	a, b := math.Abs(d0), math.Abs(d1)
	return w * (a*a + b*b) / (2 * (a + b))
}

// wassersteinBinned estimates ∫|F_r − F_c| dx with both CDFs linear
// between their knots, and bounds it with both CDFs anywhere between their
// values at a bin's ends, widened by the rank errors over each side's range.
func wassersteinBinned(edges, fr, fc []float64, rMin, rMax, cMin, cMax, epsR, epsC float64, rTail, cTail [2]float64) (est, lo, hi float64) {
	rx, ry := knots(edges, fr, rMin, rMax, rTail)
	cx, cy := knots(edges, fc, cMin, cMax, cTail)
	// Merged breakpoints.
	xs := make([]float64, 0, len(rx)+len(cx))
	i, j := 0, 0
	for i < len(rx) || j < len(cx) {
		switch {
		case j >= len(cx) || (i < len(rx) && rx[i] <= cx[j]):
			xs = append(xs, rx[i])
			i++
		default:
			xs = append(xs, cx[j])
			j++
		}
	}
	var jr, jc int
	prevX := xs[0]
	prevD := evalLinear(rx, ry, prevX, &jr) - evalLinear(cx, cy, prevX, &jc)
	for _, x := range xs[1:] {
		d := evalLinear(rx, ry, x, &jr) - evalLinear(cx, cy, x, &jc)
		est += absIntegral(prevD, d, x-prevX)
		prevX, prevD = x, d
	}

	// Bounds over the bins between consecutive edges, extended by the
	// supports. On [a, b) a CDF lies between its share below a and below b.
	lo0 := min(rMin, cMin)
	hi0 := max(rMax, cMax)
	bound := func(a, b, r0, r1, c0, c1 float64) (l, h float64) {
		w := b - a
		if w <= 0 {
			return 0, 0
		}
		h = w * max(math.Abs(r1-c0), math.Abs(c1-r0))
		l = w * max(0, r0-c1, c0-r1)
		return l, h
	}
	a := lo0
	r0, c0 := 0.0, 0.0
	for k, e := range edges {
		e = min(max(e, lo0), hi0)
		l, h := bound(a, e, r0, fr[k], c0, fc[k])
		lo += l
		hi += h
		a, r0, c0 = e, fr[k], fc[k]
	}
	l, h := bound(a, hi0, r0, 1, c0, 1)
	lo += l
	hi += h
	slack := epsR*(rMax-rMin) + epsC*(cMax-cMin)
	lo = max(0, min(lo, est)-slack)
	hi = max(hi, est) + slack
	return est, lo, hi
}

// decileShares groups fine-bin counts into ten groups of equal numbers of
// bins (the bins between the reference's deciles) and returns their shares.
func decileShares(counts []float64, total float64) []float64 {
	g := len(counts) / 10
	s := make([]float64, 10)
	for i, c := range counts {
		s[min(i/g, 9)] += c
	}
	for i := range s {
		s[i] /= total
	}
	return s
}

// distance computes a distance method over two share vectors.
func distance(m Method, p, q []float64) (float64, error) {
	switch m {
	case MethodPSI:
		return PSI(p, q)
	case MethodJS:
		return JensenShannon(ReplaceZeros(p, zeroShare), ReplaceZeros(q, zeroShare))
	case MethodKL:
		return KLDivergence(ReplaceZeros(p, zeroShare), ReplaceZeros(q, zeroShare))
	case MethodHellinger:
		return Hellinger(p, q)
	}
	return 0, fmt.Errorf("monitor: %q is not a distance between shares", m)
}

// sensitivity returns the distance with the reference shares moved by up to
// delta each toward the current shares (lo) and away from them (hi),
// renormalized. It is how far the distance can move when the reference's
// shares are uncertain by delta.
func sensitivity(m Method, p, q []float64, delta float64) (lo, hi float64) {
	toward := make([]float64, len(p))
	away := make([]float64, len(p))
	for i := range p {
		d := q[i] - p[i]
		step := min(math.Abs(d), delta)
		if d < 0 {
			step = -step
		}
		toward[i] = max(0, p[i]+step)
		if d >= 0 {
			away[i] = max(0, p[i]-delta)
		} else {
			away[i] = p[i] + delta
		}
	}
	lo, err1 := distance(m, normalize(toward), q)
	hi, err2 := distance(m, normalize(away), q)
	if err1 != nil || err2 != nil {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// normalize scales w to sum 1 in place and returns it.
func normalize(w []float64) []float64 {
	var s float64
	for _, v := range w {
		s += v
	}
	if s > 0 {
		for i := range w {
			w[i] /= s
		}
	}
	return w
}

// shares returns counts divided by their sum.
func shares(counts []float64) []float64 {
	return normalize(append([]float64(nil), counts...))
}

// compareNumeric compares a numeric column's current counts over the
// reference's fine bins with the reference. curRankErr is the rank error of
// cur's counts: 0 for a window's exact counts, the sketch's for a profile
// projected onto the reference's bins.
func compareNumeric(ref *ColumnProfile, cur *binnedNumeric, curRankErr float64, m Method, threshold float64, strict bool) ColumnDrift {
	d := ColumnDrift{
		Column: ref.Name, Kind: Numeric, Method: m, Threshold: threshold,
		RefCount: ref.Count, CurCount: cur.Count,
		Reference: Distribution{Edges: ref.Edges, Min: ref.Min, Max: ref.Max, Shares: shares(ref.Counts)},
		Current:   Distribution{Edges: ref.Edges, Min: cur.Min, Max: cur.Max, Shares: shares(cur.Counts)},
		Stats:     map[string]float64{},
	}
	if ref.Count == 0 || cur.Count == 0 {
		// Nothing to compare: no verdict either way.
		d.Statistic = math.NaN()
		d.Low, d.High = math.NaN(), math.NaN()
		if m.isTest() {
			p := math.NaN()
			d.PValue = &p
		}
		return d
	}
	epsR := ref.RankError()
	fr := cumulative(ref.Counts, float64(ref.Count))
	fc := cumulative(cur.Counts, float64(cur.Count))
	ksD, ksLo, ksHi := ksBinned(fr, fc, epsR+curRankErr)
	ksP, _ := KSPValue(ksD, int(ref.Count), int(cur.Count))
	w, wLo, wHi := wassersteinBinned(ref.Edges, fr, fc, ref.Min, ref.Max, cur.Min, cur.Max, epsR, curRankErr, profileTails(ref, ref.Edges), cur.tailMeans())
	std := ref.Std()
	norm := func(x float64) float64 {
		switch {
		case std > 0:
			return x / std
		case x == 0:
			return 0
		}
		return math.Inf(1)
	}
	p10 := decileShares(ref.Counts, float64(ref.Count))
	q10 := decileShares(cur.Counts, float64(cur.Count))
	psi, _ := PSI(p10, q10)
	js, _ := distance(MethodJS, p10, q10)
	d.Stats["ks_d"] = ksD
	d.Stats["ks_p"] = ksP
	d.Stats["wasserstein"] = w
	d.Stats["wasserstein_norm"] = norm(w)
	d.Stats["psi"] = psi
	d.Stats["js"] = js
	d.Stats["ref_mean"] = ref.Mean
	d.Stats["cur_mean"] = cur.Mean
	d.Stats["ref_std"] = std
	d.Stats["cur_std"] = math.Sqrt(cur.M2 / float64(cur.Count))

	pLow, pHigh := 0.0, 0.0
	switch m {
	case MethodKS:
		d.Statistic, d.Low, d.High = ksD, ksLo, ksHi
		d.PValue = &ksP
		pLow, _ = KSPValue(ksLo, int(ref.Count), int(cur.Count))
		pHigh, _ = KSPValue(ksHi, int(ref.Count), int(cur.Count))
	case MethodWasserstein:
		d.Statistic, d.Low, d.High = w, wLo, wHi
	case MethodWassersteinNorm:
		d.Statistic, d.Low, d.High = norm(w), norm(wLo), norm(wHi)
	default: // psi, js, kl, hellinger over the deciles
		s, _ := distance(m, p10, q10)
		d.Statistic = s
		// Each decile's reference share is uncertain by twice the rank
		// error (one per edge) and the current's likewise.
		d.Low, d.High = s, s
		if delta := 2 * (epsR + curRankErr); delta > 0 {
			lo, hi := sensitivity(m, p10, q10, delta)
			d.Low, d.High = min(lo, s), max(hi, s)
		}
		d.Stats[string(m)] = s
	}
	verdict(&d, strict, pLow, pHigh)
	return d
}

// compareCategorical compares a categorical column's current counts (one
// per reference Top value, then one for every other value) with the
// reference.
func compareCategorical(ref *ColumnProfile, cur []float64, m Method, threshold float64, strict bool) ColumnDrift {
	cats := make([]string, 0, len(ref.Top)+1)
	refCounts := make([]float64, 0, len(ref.Top)+1)
	for _, f := range ref.Top {
		cats = append(cats, f.Value)
		refCounts = append(refCounts, float64(f.Count))
	}
	curCounts := append([]float64(nil), cur[:len(ref.Top)]...)
	other := cur[len(ref.Top)]
	if ref.Other > 0 || other > 0 {
		cats = append(cats, OtherCategory)
		refCounts = append(refCounts, float64(ref.Other))
		curCounts = append(curCounts, other)
	}
	var curTotal float64
	for _, c := range curCounts {
		curTotal += c
	}
	d := ColumnDrift{
		Column: ref.Name, Kind: Categorical, Method: m, Threshold: threshold,
		RefCount: ref.Count, CurCount: int64(curTotal),
		Reference: Distribution{Categories: cats, Shares: shares(refCounts)},
		Current:   Distribution{Categories: cats, Shares: shares(curCounts)},
		Stats:     map[string]float64{},
	}
	fillCategorical(&d, refCounts, curCounts, float64(ref.TopError)/max(float64(ref.Count), 1), strict)
	return d
}

// OtherCategory names, in reports, the values of a categorical column
// outside the reference profile's Top.
const OtherCategory = "(other)"

// fillCategorical computes a categorical column's statistics and verdict
// from counts per category. refDelta is the uncertainty of each reference
// share (0 when the counts are exact).
func fillCategorical(d *ColumnDrift, refCounts, curCounts []float64, refDelta float64, strict bool) {
	var rt, ct float64
	for i := range refCounts {
		rt += refCounts[i]
		ct += curCounts[i]
	}
	if rt == 0 || ct == 0 {
		d.Statistic, d.Low, d.High = math.NaN(), math.NaN(), math.NaN()
		if d.Method.isTest() {
			p := math.NaN()
			d.PValue = &p
		}
		return
	}
	p, q := shares(refCounts), shares(curCounts)
	psi, _ := PSI(p, q)
	js, _ := distance(MethodJS, p, q)
	d.Stats["psi"] = psi
	d.Stats["js"] = js
	// Chi-square over the categories seen on either side.
	var rows [2][]float64
	for i := range refCounts {
		if refCounts[i] > 0 || curCounts[i] > 0 {
			rows[0] = append(rows[0], refCounts[i])
			rows[1] = append(rows[1], curCounts[i])
		}
	}
	chi, chiP := 0.0, 1.0
	if len(rows[0]) >= 2 {
		if r, err := Chi2Contingency([][]float64{rows[0], rows[1]}); err == nil {
			chi, chiP = r.Statistic, r.PValue
		}
	}
	d.Stats["chi2"] = chi
	d.Stats["chi2_p"] = chiP
	switch d.Method {
	case MethodChi2:
		d.Statistic, d.Low, d.High = chi, chi, chi
		d.PValue = &chiP
		verdict(d, strict, chiP, chiP)
		return
	case MethodZTest:
		// The first category's proportion on both sides (with two
		// categories, the test is the same for either).
		z, zp, err := ZTestProportions(int64(refCounts[0]), int64(rt), int64(curCounts[0]), int64(ct))
		if err != nil {
			z, zp = math.NaN(), math.NaN()
		}
		d.Statistic, d.Low, d.High = z, z, z
		d.PValue = &zp
		d.Stats["z"] = z
		d.Stats["z_p"] = zp
		verdict(d, strict, zp, zp)
		return
	}
	s, err := distance(d.Method, p, q)
	if err != nil {
		s = math.NaN()
	}
	d.Statistic, d.Low, d.High = s, s, s
	if refDelta > 0 {
		lo, hi := sensitivity(d.Method, p, q, refDelta)
		d.Low, d.High = min(lo, s), max(hi, s)
	}
	d.Stats[string(d.Method)] = s
	verdict(d, strict, 0, 0)
}

// summarize adds the column verdicts up into a report.
func summarize(cols []ColumnDrift, pred *ColumnDrift, opts DriftOptions) *Report {
	share := opts.Share
	if share <= 0 {
		share = defaultShare
	}
	r := &Report{Columns: cols, Prediction: pred, ShareThreshold: share}
	for _, c := range cols {
		if c.Drift {
			r.Drifted++
		}
	}
	if len(cols) > 0 {
		r.Share = float64(r.Drifted) / float64(len(cols))
		r.DatasetDrift = r.Share >= share
	}
	return r
}
