package kern

import "math"

// Sum returns the sum of a, added in a fixed order that is the same in
// every tier and for every pool: 32 running partial sums over the leading
// blocks of 32 elements (partial j takes elements i ≡ j mod 32), then the
// remaining blocks of 8 into partials 0..7, then lane l of 8 becomes
// (p[l]+p[8+l]) + (p[16+l]+p[24+l]), the 8 lanes are added pairwise
// (l+4, then l+2, then l+1), and the last len(a)%8 elements are added one
// by one. The result is therefore bit-identical across tiers and
// GOMAXPROCS values, and differs from a left-to-right sum only by
// rounding.
func Sum(a []float32) float32 {
	var lanes [8]float32
	i := sumAsm(a, &lanes)
	if i == 0 {
		i = sumLanesGo(a, &lanes)
	}
	h := [4]float32{lanes[0] + lanes[4], lanes[1] + lanes[5], lanes[2] + lanes[6], lanes[3] + lanes[7]}
	s := (h[0] + h[2]) + (h[1] + h[3])
	for _, x := range a[i:] {
		s += x
	}
	return s
}

// sumLanesGo is the Go tier of sumVecAVX2: it folds the first len(a)&^7
// elements of a into 8 lanes and returns how many it read.
func sumLanesGo(a []float32, lanes *[8]float32) int {
	var p [32]float32
	i := 0
	for ; i+32 <= len(a); i += 32 {
		b := a[i : i+32 : i+32]
		for j := range p {
			p[j] += b[j]
		}
	}
	for ; i+8 <= len(a); i += 8 {
		b := a[i : i+8 : i+8]
		for j := range 8 {
			p[j] += b[j]
		}
	}
	for l := range lanes {
		lanes[l] = (p[l] + p[8+l]) + (p[16+l] + p[24+l])
	}
	return i
}

// MaxOf returns the largest value of a (NaN if any is NaN; -Inf if a is
// empty; +0 rather than -0 when both are present).
func MaxOf(a []float32) float32 { return extreme(a, false) }

// MinOf returns the smallest value of a (NaN if any is NaN; +Inf if a is
// empty; -0 rather than +0 when both are present).
func MinOf(a []float32) float32 { return extreme(a, true) }

func extreme(a []float32, least bool) float32 {
	var lanes [8]float32
	i, nan := extremeAsm(a, least, &lanes)
	if nan {
		return float32(math.NaN())
	}
	if least {
		m := float32(math.Inf(1))
		if i > 0 {
			m = minOfGo(lanes[:], m)
		}
		return minOfGo(a[i:], m)
	}
	m := float32(math.Inf(-1))
	if i > 0 {
		m = maxOfGo(lanes[:], m)
	}
	return maxOfGo(a[i:], m)
}

// maxOfGo returns the largest of m and a's values. Go's max is NaN when
// either argument is, and +0 for a pair of zeros of different signs, so
// four running maxima in any order give the same result.
func maxOfGo(a []float32, m float32) float32 {
	m0, m1, m2, m3 := m, m, m, m
	i := 0
	for ; i+4 <= len(a); i += 4 {
		b := a[i : i+4 : i+4]
		m0, m1, m2, m3 = max(m0, b[0]), max(m1, b[1]), max(m2, b[2]), max(m3, b[3])
	}
	for _, x := range a[i:] {
		m0 = max(m0, x)
	}
	return max(max(m0, m1), max(m2, m3))
}

// minOfGo is maxOfGo for the smallest value (-0 for zeros of different
// signs).
func minOfGo(a []float32, m float32) float32 {
	m0, m1, m2, m3 := m, m, m, m
	i := 0
	for ; i+4 <= len(a); i += 4 {
		b := a[i : i+4 : i+4]
		m0, m1, m2, m3 = min(m0, b[0]), min(m1, b[1]), min(m2, b[2]), min(m3, b[3])
	}
	for _, x := range a[i:] {
		m0 = min(m0, x)
	}
	return min(min(m0, m1), min(m2, m3))
}
