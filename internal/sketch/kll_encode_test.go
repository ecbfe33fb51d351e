package sketch

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func filledKLL(k, n int, seed uint64) *KLL {
	r := rand.New(rand.NewPCG(seed, 1))
	s := NewKLL(k)
	for range n {
		s.Add(r.NormFloat64())
	}
	return s
}

func TestKLLBinaryRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 7, 300, 100000} {
		s := filledKLL(64, n, uint64(n))
		b, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d KLL
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if d.Count() != s.Count() || d.K() != s.K() || d.Exact() != s.Exact() {
			t.Fatalf("n=%d: count %d k %d exact %v", n, d.Count(), d.K(), d.Exact())
		}
		// The decoded sketch evolves exactly as the original.
		for i := range 5000 {
			x := float64(i%113) / 7
			s.Add(x)
			d.Add(x)
		}
		for q := 0.0; q <= 1; q += 0.01 {
			if a, b := s.Quantile(q), d.Quantile(q); a != b {
				t.Fatalf("n=%d: quantile(%v) %v vs %v", n, q, a, b)
			}
		}
		b2, _ := d.MarshalBinary()
		b1, _ := s.MarshalBinary()
		if !slices.Equal(b1, b2) {
			t.Fatalf("n=%d: encodings differ after the same additions", n)
		}
	}
}

func TestKLLUnmarshalRejects(t *testing.T) {
	s := filledKLL(32, 5000, 3)
	good, _ := s.MarshalBinary()
	for i := range good {
		if err := new(KLL).UnmarshalBinary(good[:i]); !errors.Is(err, ErrKLLEncoding) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
	if err := new(KLL).UnmarshalBinary(append(slices.Clone(good), 0)); !errors.Is(err, ErrKLLEncoding) {
		t.Fatalf("trailing byte: %v", err)
	}
	// A changed count no longer matches the level weights.
	bad := slices.Clone(good)
	bad[len(kllMagic)+1] ^= 1
	if err := new(KLL).UnmarshalBinary(bad); !errors.Is(err, ErrKLLEncoding) {
		t.Fatalf("changed count: %v", err)
	}
}

func TestKLLAddMany(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xs := make([]float64, 70000)
	for i := range xs {
		xs[i] = r.ExpFloat64()
		if i%1000 == 0 {
			xs[i] = math.NaN()
		}
	}
	a, b := NewKLL(100), NewKLL(100)
	for i := 0; i < len(xs); i += 777 {
		a.AddMany(xs[i:min(i+777, len(xs))])
		b.AddMany(xs[i:min(i+777, len(xs))])
	}
	ea, _ := a.MarshalBinary()
	eb, _ := b.MarshalBinary()
	if !slices.Equal(ea, eb) {
		t.Fatal("the same calls gave different sketches")
	}
	if a.Count() != 70000-70 || a.size >= a.max {
		t.Fatalf("count %d, size %d of %d", a.Count(), a.size, a.max)
	}
	// Below the first compaction AddMany holds every value, as Add does.
	c, d := NewKLL(100), NewKLL(100)
	c.AddMany(xs[1:90])
	for _, x := range xs[1:90] {
		d.Add(x)
	}
	ec, _ := c.MarshalBinary()
	ed, _ := d.MarshalBinary()
	if !slices.Equal(ec, ed) || !c.Exact() {
		t.Fatal("small AddMany differs from Add")
	}
	e := a.Clone()
	e.Add(1)
	if a.Count() == e.Count() {
		t.Fatal("clone shares state")
	}
}

// TestKLLAddManyRankError checks the stated rank error (RankError, 2/k) of
// sketches built with AddMany in batches of several sizes, whole and merged.
func TestKLLAddManyRankError(t *testing.T) {
	const n = 300000
	for _, batch := range []int{1, 100, 4096, 65536} {
		for seed := range uint64(3) {
			r := rand.New(rand.NewPCG(seed, 77))
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = float64(i)
			}
			r.Shuffle(n, func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
			whole, p1, p2 := NewKLL(256), NewKLL(256), NewKLL(256)
			for i := 0; i < n; i += batch {
				part := xs[i:min(i+batch, n)]
				whole.AddMany(part)
				if (i/batch)%2 == 0 {
					p1.AddMany(part)
				} else {
					p2.AddMany(part)
				}
			}
			if err := p1.Merge(p2); err != nil {
				t.Fatal(err)
			}
			for name, s := range map[string]*KLL{"whole": whole, "merged": p1} {
				eps := s.RankError()
				if eps != 2.0/256 {
					t.Fatalf("rank error %v", eps)
				}
				var worst float64
				for q := 0.005; q < 1; q += 0.005 {
					worst = max(worst, math.Abs(s.Quantile(q)/n-q))
				}
				cdf := s.CDF([]float64{n / 4, n / 2, 3 * n / 4})
				for i, c := range cdf {
					worst = max(worst, math.Abs(c-float64(i+1)/4))
				}
				if worst > eps {
					t.Errorf("batch %d seed %d %s: rank error %.5f above %.5f", batch, seed, name, worst, eps)
				}
			}
		}
	}
}

func TestKLLCDFExact(t *testing.T) {
	s := NewKLL(200)
	s.AddMany([]float64{3, 1, 2, 2, 5})
	if !s.Exact() || s.RankError() != 0 {
		t.Fatal("small sketch should be exact")
	}
	got := s.WeightBelow([]float64{0, 1, 2, 2.5, 5, 6, math.NaN()})
	want := []float64{0, 0, 1, 3, 4, 5, 0}
	if !slices.Equal(got, want) {
		t.Fatalf("WeightBelow = %v, want %v", got, want)
	}
	if c := s.CDF([]float64{3}); c[0] != 0.6 {
		t.Fatalf("CDF(3) = %v", c[0])
	}
	big := filledKLL(200, 100000, 9)
	if big.Exact() || big.RankError() != 0.01 {
		t.Fatalf("exact %v rank error %v", big.Exact(), big.RankError())
	}
	if w := big.WeightBelow([]float64{math.Inf(1)}); w[0] != 100000 {
		t.Fatalf("total weight %v", w[0])
	}
}

func FuzzKLLUnmarshal(f *testing.F) {
	for _, n := range []int{0, 3, 2000} {
		b, _ := filledKLL(16, n, 1).MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s KLL
		if err := s.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrKLLEncoding) {
				t.Fatalf("error not wrapping ErrKLLEncoding: %v", err)
			}
			return
		}
		// A decoded sketch is usable and its encoding is stable.
		_ = s.Quantile(0.5)
		_ = s.CDF([]float64{0})
		s2 := s.Clone()
		e, _ := s.MarshalBinary()
		var s3 KLL
		if err := s3.UnmarshalBinary(e); err != nil {
			t.Fatal(err)
		}
		if e3, _ := s3.MarshalBinary(); !slices.Equal(e, e3) {
			t.Fatal("re-encoding differs")
		}
		for i := range 100 {
			s2.Add(float64(i))
		}
		if err := s2.Merge(&s); err != nil {
			t.Fatal(err)
		}
	})
}

func TestKLLSortLevel(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	gens := map[string]func() float64{
		"normal":    r.NormFloat64,
		"lognormal": func() float64 { return math.Exp(3 * r.NormFloat64()) },
		"ties":      func() float64 { return float64(r.IntN(5)) },
		"extreme":   func() float64 { return (r.Float64() - 0.5) * math.MaxFloat64 * 1.9 },
		"tiny":      func() float64 { return r.Float64() * 1e-310 },
		"constant":  func() float64 { return 7 },
	}
	s := NewKLL(0)
	for name, g := range gens {
		for _, n := range []int{1, 63, 64, 65, 500, 3000} {
			a := make([]float64, n)
			for i := range a {
				a[i] = g()
			}
			want := slices.Clone(a)
			slices.Sort(want)
			s.sortLevel(a)
			if !slices.Equal(a, want) {
				t.Fatalf("%s n=%d: not sorted", name, n)
			}
		}
	}
}
