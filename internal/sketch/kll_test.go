package sketch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestKLLRankError checks the documented rank error: about 1.7/k, checked
// against 2/k, on a shuffled stream and on a merged one.
func TestKLLRankError(t *testing.T) {
	const n = 200000
	r := rand.New(rand.NewPCG(7, 8))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i)
	}
	r.Shuffle(n, func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
	whole := NewKLL(0)
	parts := []*KLL{NewKLL(0), NewKLL(0), NewKLL(0), NewKLL(0)}
	for i, x := range xs {
		whole.Add(x)
		parts[i%4].Add(x)
	}
	for _, p := range parts[1:] {
		if err := parts[0].Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range map[string]*KLL{"whole": whole, "merged": parts[0]} {
		if s.Count() != n || s.Min() != 0 || s.Max() != n-1 {
			t.Errorf("%s: count %d min %v max %v", name, s.Count(), s.Min(), s.Max())
		}
		eps := 2.0 / float64(s.K())
		for q := 0.01; q < 1; q += 0.01 {
			got := s.Quantile(q) / n // the value is its own rank
			if math.Abs(got-q) > eps {
				t.Errorf("%s: quantile(%.2f) has rank %.4f, error above %.4f", name, q, got, eps)
			}
			if rk := s.Rank(q * n); math.Abs(rk-q) > eps {
				t.Errorf("%s: rank(%v) = %.4f", name, q*n, rk)
			}
		}
		// The sketch holds far fewer than n values.
		held := 0
		for _, l := range s.levels {
			held += len(l)
		}
		if held > 3*s.K()+100 {
			t.Errorf("%s: holds %d values", name, held)
		}
	}
}

func TestKLLSmallIsExact(t *testing.T) {
	s := NewKLL(200)
	xs := []float64{5, 1, 4, 2, 3, math.NaN(), math.Inf(1)}
	for _, x := range xs {
		s.Add(x)
	}
	if s.Count() != 5 {
		t.Fatalf("count %d", s.Count())
	}
	for i, want := range []float64{1, 2, 3, 4, 5} {
		if got := s.Quantile(float64(i+1) / 5); got != want {
			t.Errorf("quantile %d = %v, want %v", i, got, want)
		}
	}
	if !math.IsNaN(NewKLL(0).Quantile(0.5)) || !math.IsNaN(s.Quantile(2)) {
		t.Error("empty sketch or bad q should give NaN")
	}
	if err := s.Merge(NewKLL(100)); err == nil {
		t.Error("merging different k should fail")
	}
}

func TestKLLDeterministic(t *testing.T) {
	a, b := NewKLL(50), NewKLL(50)
	for i := range 10000 {
		x := float64((i * 31) % 997)
		a.Add(x)
		b.Add(x)
	}
	var qa, qb []float64
	for q := 0.0; q <= 1; q += 0.05 {
		qa = append(qa, a.Quantile(q))
		qb = append(qb, b.Quantile(q))
	}
	if !slices.Equal(qa, qb) {
		t.Error("same input gave different answers")
	}
}

func TestKLLTailMeans(t *testing.T) {
	s := NewKLL(64)
	for i := range 100000 {
		s.Add(float64(i % 1000))
	}
	b, a := s.TailMeans(100, 900)
	// Exact: 49.5 below 100 and 949.5 at or above 900; the sketch is close.
	if math.Abs(b-49.5) > 5 || math.Abs(a-949.5) > 5 {
		t.Errorf("tail means %v, %v; want about 49.5, 949.5", b, a)
	}
	if b, a := s.TailMeans(-1, 2000); !math.IsNaN(b) || !math.IsNaN(a) {
		t.Errorf("empty tails: %v, %v", b, a)
	}
	e := NewKLL(0)
	for _, v := range []float64{1, 2, 3, 10} {
		e.Add(v)
	}
	if b, a := e.TailMeans(3, 3); b != 1.5 || a != 6.5 {
		t.Errorf("exact sketch: %v, %v", b, a)
	}
}
