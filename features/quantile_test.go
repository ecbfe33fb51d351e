package features

import (
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileLinear(t *testing.T) {
	// Values from numpy.quantile(a, q) (method="linear").
	a := []float64{1, 2, 4, 8}
	for _, tc := range []struct{ q, want float64 }{
		{0, 1}, {1, 8}, {0.25, 1.75}, {0.5, 3}, {0.75, 5}, {0.1, 1.3}, {0.9, 6.8},
	} {
		if got := quantileLinear(a, tc.q); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantileLinear([]float64{5}, 0.3); got != 5 {
		t.Errorf("single value: %v", got)
	}
	if got := quantileLinear(nil, 0.3); !math.IsNaN(got) {
		t.Errorf("empty: %v", got)
	}
	if got := medianMean([]float64{1, 2, 4, 8}); got != 3 {
		t.Errorf("median %v", got)
	}
	if got := medianMean([]float64{1, 2, 4}); got != 2 {
		t.Errorf("median %v", got)
	}
}

// TestExactSum compares the superaccumulator with big.Float sums of values
// spanning the float64 range, in any order and split.
func TestExactSum(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 20000)
	for i := range xs {
		xs[i] = math.Ldexp(r.NormFloat64(), r.IntN(200)-100)
	}
	xs = append(xs, 1e300, -1e300, 5e-324, -3e-320, 1, -1)
	exact := new(big.Float).SetPrec(4000)
	for _, x := range xs {
		exact.Add(exact, new(big.Float).SetFloat64(x))
	}
	want, _ := exact.Float64()
	var s exactSum
	for _, x := range xs {
		s.add(x)
	}
	if got := s.value(); got != want {
		t.Errorf("sum %v, want %v", got, want)
	}
	var a, b exactSum
	for i := len(xs) - 1; i >= 0; i-- {
		if i%3 == 0 {
			a.add(xs[i])
		} else {
			b.add(xs[i])
		}
	}
	a.normalize()
	b.merge(&a)
	if got := b.value(); got != want {
		t.Errorf("split sum %v, want %v", got, want)
	}
	// Mean and variance of a shifted sample stay accurate.
	var m momentSum
	m.sq = true
	for i := range 1000 {
		m.add(1e9 + float64(i%2)) // mean 1e9+0.5, variance 0.25
	}
	if got := m.mean(); got != 1e9+0.5 {
		t.Errorf("mean %v", got)
	}
	if got := m.variance(); got != 0.25 {
		t.Errorf("variance %v, want 0.25", got)
	}
}

func TestExactQuantilesOrderFree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	xs := make([]float64, 1001)
	for i := range xs {
		xs[i] = r.Float64()
	}
	whole := newQuantiles(FitOptions{})
	for _, x := range xs {
		whole.add(x)
	}
	parts := []quantiles{newQuantiles(FitOptions{}), newQuantiles(FitOptions{})}
	for i, x := range slices.Backward(xs) {
		parts[i%2].add(x)
	}
	if err := parts[1].merge(parts[0]); err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 0.1, 0.25, 0.5, 0.75, 0.99, 1} {
		if a, b := whole.quantile(q), parts[1].quantile(q); a != b {
			t.Errorf("q=%v: %v vs %v", q, a, b)
		}
	}
	if whole.median() != parts[1].median() {
		t.Error("median differs")
	}
}

// TestSelectMatchesSort compares exact quantiles by selection with
// quantileLinear and medianMean over a sorted copy, on data with many ties.
func TestSelectMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 10, 25, 100, 1001, 5000} {
		for _, distinct := range []int{2, 50, 1 << 30} {
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(r.IntN(distinct)) - float64(distinct)/2
			}
			sorted := slices.Clone(xs)
			slices.Sort(sorted)
			e := &exactQuantiles{}
			for _, x := range xs {
				e.add(x)
			}
			for _, q := range []float64{0, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 1} {
				if got, want := e.quantile(q), quantileLinear(sorted, q); got != want {
					t.Errorf("n=%d distinct=%d q=%v: %v, want %v", n, distinct, q, got, want)
				}
			}
			if got, want := e.median(), medianMean(sorted); got != want {
				t.Errorf("n=%d distinct=%d median %v, want %v", n, distinct, got, want)
			}
		}
	}
	// Sorted and reversed inputs (quickselect's bad cases).
	xs := make([]float64, 100000)
	for i := range xs {
		xs[i] = float64(i)
	}
	e := &exactQuantiles{vals: slices.Clone(xs)}
	slices.Reverse(e.vals)
	if got := e.quantile(0.25); got != quantileLinear(xs, 0.25) {
		t.Errorf("reversed: %v", got)
	}
}
