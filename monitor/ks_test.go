package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// The golden file is produced by SciPy 1.10; regenerate it from the
// repository root with
//
//	/usr/bin/python3 monitor/testdata/golden_ks.py > monitor/testdata/ks.json

// ksJSONFloat is a float64 that also reads the strings "inf" and "-inf".
type ksJSONFloat float64

func (f *ksJSONFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"inf"`:
		*f = ksJSONFloat(math.Inf(1))
		return nil
	case `"-inf"`:
		*f = ksJSONFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = ksJSONFloat(v)
	return nil
}

type ksGolden struct {
	Scipy   string `json:"scipy"`
	Samples []struct {
		Name  string        `json:"name"`
		A     []ksJSONFloat `json:"a"`
		B     []ksJSONFloat `json:"b"`
		D     float64       `json:"d"`
		P     float64       `json:"p"`
		Exact bool          `json:"exact"`
	} `json:"samples"`
	Weyl []struct {
		N      int     `json:"n"`
		AlphaA float64 `json:"alpha_a"`
		LocA   float64 `json:"loc_a"`
		ScaleA float64 `json:"scale_a"`
		M      int     `json:"m"`
		AlphaB float64 `json:"alpha_b"`
		LocB   float64 `json:"loc_b"`
		ScaleB float64 `json:"scale_b"`
		D      float64 `json:"d"`
		P      float64 `json:"p"`
		Exact  bool    `json:"exact"`
	} `json:"weyl"`
	PValue []struct {
		D     float64 `json:"d"`
		N     int     `json:"n"`
		M     int     `json:"m"`
		DOut  float64 `json:"d_out"`
		P     float64 `json:"p"`
		Exact bool    `json:"exact"`
	} `json:"pvalue"`
	Kstwo []struct {
		N  int     `json:"n"`
		D  float64 `json:"d"`
		SF float64 `json:"sf"`
	} `json:"kstwo"`
	Smirnov []struct {
		N  int     `json:"n"`
		D  float64 `json:"d"`
		SF float64 `json:"sf"`
	} `json:"smirnov"`
}

func loadKSGolden(t testing.TB) *ksGolden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ks.json"))
	if err != nil {
		t.Fatalf("read golden file: %v", err)
	}
	var g ksGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("parse golden file: %v", err)
	}
	if len(g.Samples) == 0 || len(g.PValue) == 0 || len(g.Kstwo) == 0 {
		t.Fatal("golden file has empty sections")
	}
	return &g
}

// ksClose reports whether got is within 1e-9 relative of want (with an
// absolute floor of 1e-300 for values that are 0).
func ksClose(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= 1e-9*math.Abs(want)+1e-300
}

func ksFloats(x []ksJSONFloat) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func TestKS2SampPublished(t *testing.T) {
	// scipy.stats.ks_2samp([0.99, 1.99], [1, 2, 3]): D = 2/3, p = 0.6.
	r, err := KS2Samp([]float64{0.99, 1.99}, []float64{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	if !ksClose(r.D, 2.0/3) || !ksClose(r.PValue, 0.6) || !r.Exact {
		t.Fatalf("got %+v, want D=2/3 p=0.6 exact", r)
	}
}

func TestKS2SampGolden(t *testing.T) {
	g := loadKSGolden(t)
	exact, asym := 0, 0
	for _, c := range g.Samples {
		a, b := ksFloats(c.A), ksFloats(c.B)
		a0, b0 := slices.Clone(a), slices.Clone(b)
		r, err := KS2Samp(a, b)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if !slices.Equal(a, a0) || !slices.Equal(b, b0) {
			t.Errorf("%s: KS2Samp modified its input", c.Name)
		}
		if !ksClose(r.D, c.D) || !ksClose(r.PValue, c.P) || r.Exact != c.Exact {
			t.Errorf("%s (n=%d m=%d): got D=%v p=%v exact=%v, want D=%v p=%v exact=%v",
				c.Name, len(a), len(b), r.D, r.PValue, r.Exact, c.D, c.P, c.Exact)
		}
		slices.Sort(a)
		slices.Sort(b)
		rs, err := KS2SampSorted(a, b)
		if err != nil || rs != r {
			t.Errorf("%s: KS2SampSorted = %+v, %v; KS2Samp = %+v", c.Name, rs, err, r)
		}
		// The test is symmetric in its two samples.
		rr, _ := KS2SampSorted(b, a)
		if rr != r {
			t.Errorf("%s: swapped samples give %+v, want %+v", c.Name, rr, r)
		}
		if c.Exact {
			exact++
		} else {
			asym++
		}
	}
	if exact == 0 || asym == 0 {
		t.Errorf("golden samples cover exact=%d asymptotic=%d cases; want both", exact, asym)
	}
}

func ksWeylSample(n int, alpha, loc, scale float64) []float64 {
	out := make([]float64, n)
	for i := 1; i <= n; i++ {
		out[i-1] = loc + scale*math.Mod(float64(i)*alpha, 1.0)
	}
	return out
}

func TestKS2SampGoldenWeyl(t *testing.T) {
	g := loadKSGolden(t)
	for _, c := range g.Weyl {
		a := ksWeylSample(c.N, c.AlphaA, c.LocA, c.ScaleA)
		b := ksWeylSample(c.M, c.AlphaB, c.LocB, c.ScaleB)
		r, err := KS2Samp(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if !ksClose(r.D, c.D) || !ksClose(r.PValue, c.P) || r.Exact != c.Exact {
			t.Errorf("weyl n=%d m=%d: got %+v, want D=%v p=%v exact=%v", c.N, c.M, r, c.D, c.P, c.Exact)
		}
	}
}

func TestKSPValueGolden(t *testing.T) {
	g := loadKSGolden(t)
	fallback := false
	for _, c := range g.PValue {
		d, p, exact := ksPValue(c.D, c.N, c.M)
		if !ksClose(d, c.DOut) || !ksClose(p, c.P) || exact != c.Exact {
			t.Errorf("ksPValue(%v, %d, %d) = %v, %v, %v; want %v, %v, %v",
				c.D, c.N, c.M, d, p, exact, c.DOut, c.P, c.Exact)
		}
		p2, exact2 := KSPValue(c.D, c.N, c.M)
		if p2 != p || exact2 != exact {
			t.Errorf("KSPValue(%v, %d, %d) = %v, %v; ksPValue gave %v, %v", c.D, c.N, c.M, p2, exact2, p, exact)
		}
		if max(c.N, c.M) <= ksMaxExactN && !c.Exact {
			fallback = true
		}
	}
	if !fallback {
		t.Error("golden p-values do not cover the exact→asymptotic fallback")
	}
}

// kstwoBranch names the method kstwoSF uses, to check the golden values
// cover all of them.
func kstwoBranch(n int, d float64) string {
	fn := float64(n)
	t := fn * d
	switch {
	case d >= 1 || d <= 0.5/fn:
		return "bound"
	case t <= 1:
		if n <= 140 {
			return "ruben-gambino-low-prod"
		}
		return "ruben-gambino-low-stirling"
	case t >= fn-1:
		return "ruben-gambino-high"
	case d >= 0.5:
		return "smirnov-exact"
	}
	nd2 := t * d
	if n <= 140 {
		switch {
		case nd2 <= 0.754693:
			return "durbin-small-n"
		case nd2 <= 4:
			return "pomeranz"
		}
		return "smirnov-small-n"
	}
	switch {
	case nd2 >= 370:
		return "zero"
	case nd2 >= 2.2:
		if n > smirnovMaxN {
			return "smirnov-miller"
		}
		return "smirnov-sum"
	case n <= 100000 && fn*math.Pow(d, 1.5) <= 1.4:
		return "durbin"
	}
	return "pelz-good"
}

func TestKstwoSFGolden(t *testing.T) {
	g := loadKSGolden(t)
	seen := map[string]int{}
	for _, c := range g.Kstwo {
		got := kstwoSF(c.D, c.N)
		br := kstwoBranch(c.N, c.D)
		seen[br]++
		if !ksClose(got, c.SF) {
			t.Errorf("kstwoSF(%v, %d) [%s] = %v, want %v (rel err %.3g)",
				c.D, c.N, br, got, c.SF, math.Abs(got-c.SF)/c.SF)
		}
	}
	for _, br := range []string{"bound", "ruben-gambino-low-prod", "ruben-gambino-low-stirling",
		"ruben-gambino-high", "smirnov-exact", "durbin-small-n", "pomeranz", "smirnov-small-n",
		"zero", "smirnov-sum", "smirnov-miller", "durbin", "pelz-good"} {
		if seen[br] == 0 {
			t.Errorf("golden kstwo values do not reach branch %s", br)
		}
	}
}

func TestSmirnovSFGolden(t *testing.T) {
	g := loadKSGolden(t)
	for _, c := range g.Smirnov {
		got := smirnovSF(c.N, c.D)
		if !ksClose(got, c.SF) {
			t.Errorf("smirnovSF(%d, %v) = %v, want %v", c.N, c.D, got, c.SF)
		}
	}
}

func TestKS2SampErrors(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name string
		a, b []float64
		fn   func(a, b []float64) (KSResult, error)
	}{
		{"empty a", nil, []float64{1}, KS2Samp},
		{"empty b", []float64{1}, []float64{}, KS2Samp},
		{"NaN in a", []float64{1, nan}, []float64{1}, KS2Samp},
		{"NaN in b", []float64{1}, []float64{nan, 2}, KS2Samp},
		{"sorted: empty", []float64{}, []float64{1}, KS2SampSorted},
		{"sorted: NaN", []float64{1, nan, 3}, []float64{1}, KS2SampSorted},
		{"sorted: unsorted a", []float64{2, 1}, []float64{1}, KS2SampSorted},
		{"sorted: unsorted b", []float64{1, 2}, []float64{1, 3, 2}, KS2SampSorted},
	}
	for _, c := range cases {
		if _, err := c.fn(c.a, c.b); !errors.Is(err, ErrInput) {
			t.Errorf("%s: err = %v, want ErrInput", c.name, err)
		}
	}
}

func TestKSPValueEdges(t *testing.T) {
	if p, _ := KSPValue(0.5, 0, 3); !math.IsNaN(p) {
		t.Errorf("n=0: p = %v, want NaN", p)
	}
	if p, _ := KSPValue(math.NaN(), 3, 3); !math.IsNaN(p) {
		t.Errorf("NaN d: p = %v, want NaN", p)
	}
	if p, exact := KSPValue(0, 20000, 30000); p != 1 || exact {
		t.Errorf("d=0 asymptotic: p = %v exact=%v, want 1 false", p, exact)
	}
	if p, exact := KSPValue(0, 20, 30); p != 1 || !exact {
		t.Errorf("d=0 exact: p = %v exact=%v, want 1 true", p, exact)
	}
	// p decreases with d on the exact path.
	prev := 1.0
	for h := 1; h <= 35; h++ {
		p, _ := KSPValue(float64(h)/35, 5, 7)
		if p > prev+1e-15 {
			t.Fatalf("p not monotone at h=%d: %v > %v", h, p, prev)
		}
		prev = p
	}
}

// TestKS2SampRandomAgainstBruteForce checks the statistic on random samples
// with many ties against a direct O((n+m)·log) evaluation.
func TestKS2SampRandomAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for it := 0; it < 200; it++ {
		n, m := 1+rng.IntN(40), 1+rng.IntN(40)
		a := make([]float64, n)
		b := make([]float64, m)
		for i := range a {
			a[i] = float64(rng.IntN(10))
		}
		for i := range b {
			b[i] = float64(rng.IntN(10)) + 0.5*float64(rng.IntN(2))
		}
		r, err := KS2Samp(a, b)
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := slices.Clone(a), slices.Clone(b)
		sort.Float64s(sa)
		sort.Float64s(sb)
		want := 0.0
		for _, x := range append(slices.Clone(a), b...) {
			fa := float64(sort.Search(n, func(i int) bool { return sa[i] > x })) / float64(n)
			fb := float64(sort.Search(m, func(i int) bool { return sb[i] > x })) / float64(m)
			want = math.Max(want, math.Abs(fa-fb))
		}
		g := ksGCD(n, m)
		lcm := n / g * m
		want = math.RoundToEven(want*float64(lcm)) / float64(lcm)
		if r.D != want {
			t.Fatalf("n=%d m=%d: D = %v, want %v", n, m, r.D, want)
		}
		if !(r.PValue >= 0 && r.PValue <= 1) {
			t.Fatalf("p = %v out of [0,1]", r.PValue)
		}
	}
}

func FuzzKSPValue(f *testing.F) {
	f.Add(0.5, 10, 10)
	f.Add(0.01, 20000, 30000)
	f.Add(0.3, 7, 11)
	f.Add(0.99, 1, 20000)
	f.Add(1e-5, 150, 1000000)
	f.Add(-95.9, 20, 11)
	f.Add(math.Inf(1), 20, 11)
	f.Add(1.5, 9, 9)
	f.Fuzz(func(t *testing.T, d float64, n, m int) {
		// keep sizes where the exact path stays cheap
		if n <= 0 || m <= 0 || n > 3000000 || m > 3000000 || (max(n, m) <= ksMaxExactN && n*m > 4000000) {
			t.Skip()
		}
		if math.IsNaN(d) {
			return
		}
		p, _ := KSPValue(d, n, m)
		if !(p >= 0 && p <= 1) {
			t.Fatalf("KSPValue(%v, %d, %d) = %v, not in [0, 1]", d, n, m, p)
		}
	})
}

func benchKS(b *testing.B, n, m int) {
	rng := rand.New(rand.NewPCG(7, 9))
	x := make([]float64, n)
	y := make([]float64, m)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range y {
		y[i] = rng.NormFloat64() + 0.01
	}
	slices.Sort(x)
	slices.Sort(y)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := KS2SampSorted(x, y); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n+m), "ns/value")
}

// BenchmarkKS2SampSorted: a 1M-row reference against a 100k-row window.
func BenchmarkKS2SampSorted(b *testing.B) {
	for _, s := range []struct{ n, m int }{{1000000, 100000}, {100000, 100000}, {5000, 5000}} {
		b.Run(fmt.Sprintf("n=%d/m=%d", s.n, s.m), func(b *testing.B) { benchKS(b, s.n, s.m) })
	}
}
