package monitor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// floatBatch returns a one-column float64 batch named x.
func floatBatch(xs []float64) arrow.RecordBatch {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(xs, nil)
	a := b.NewArray()
	defer a.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{a}, int64(len(xs)))
}

// profileOf profiles xs as column x.
func profileOf(t testing.TB, xs []float64) *Profile {
	t.Helper()
	b := floatBatch(xs)
	defer b.Release()
	pr, err := NewProfiler(b.Schema(), ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Add(b); err != nil {
		t.Fatal(err)
	}
	return pr.Profile()
}

// binExactly counts xs over ref's fine bins as a monitor window does.
func binExactly(ref *ColumnProfile, xs []float64) *binnedNumeric {
	b := &binnedNumeric{Counts: make([]float64, len(ref.Counts)), Min: math.Inf(1), Max: math.Inf(-1)}
	var s float64
	for _, x := range xs {
		b.Counts[ref.Bin(x)]++
		b.Count++
		b.Min, b.Max = min(b.Min, x), max(b.Max, x)
		s += x
	}
	b.Mean = s / float64(len(xs))
	for _, x := range xs {
		switch ref.Bin(x) {
		case 0:
			b.LowSum += x
		case len(ref.Counts) - 1:
			b.HighSum += x
		}
	}
	for _, x := range xs {
		b.M2 += (x - b.Mean) * (x - b.Mean)
	}
	return b
}

// samples are reference/current pairs of varied shapes.
func samples(seed uint64, n, m int) map[string][2][]float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	gen := func(k int, f func() float64) []float64 {
		xs := make([]float64, k)
		for i := range xs {
			xs[i] = f()
		}
		return xs
	}
	return map[string][2][]float64{
		"same normal":    {gen(n, r.NormFloat64), gen(m, r.NormFloat64)},
		"shifted normal": {gen(n, r.NormFloat64), gen(m, func() float64 { return r.NormFloat64() + 0.3 })},
		"scaled":         {gen(n, r.NormFloat64), gen(m, func() float64 { return 1.5 * r.NormFloat64() })},
		"lognormal":      {gen(n, func() float64 { return math.Exp(r.NormFloat64()) }), gen(m, func() float64 { return math.Exp(0.2 + r.NormFloat64()) })},
		"integers":       {gen(n, func() float64 { return float64(r.IntN(7)) }), gen(m, func() float64 { return float64(r.IntN(8)) })},
		"beyond":         {gen(n, r.Float64), gen(m, func() float64 { return 0.5 + r.Float64() })},
	}
}

// TestBinnedBoundsHold checks that the statistics a window (exact counts
// over the reference's bins) and a current profile (a sketch projected onto
// them) give bound the exact statistics from the data.
func TestBinnedBoundsHold(t *testing.T) {
	for _, size := range [][2]int{{500, 300}, {200000, 50000}} {
		for name, xs := range samples(uint64(size[0]), size[0], size[1]) {
			ref := profileOf(t, xs[0]).Column("x")
			ks, err := KS2Samp(xs[0], xs[1])
			if err != nil {
				t.Fatal(err)
			}
			w, err := Wasserstein(xs[0], xs[1])
			if err != nil {
				t.Fatal(err)
			}
			curProf := profileOf(t, xs[1]).Column("x")
			for _, how := range []string{"window", "profile"} {
				var b *binnedNumeric
				eps := 0.0
				if how == "window" {
					b = binExactly(ref, xs[1])
				} else {
					b = projectNumeric(ref, curProf)
					eps = curProf.RankError()
				}
				dk := compareNumeric(ref, b, eps, MethodKS, 0.05, false)
				if !(dk.Low <= ks.D && ks.D <= dk.High) {
					t.Errorf("%v %s %s: KS D %v outside [%v, %v] (estimate %v)", size, name, how, ks.D, dk.Low, dk.High, dk.Statistic)
				}
				dw := compareNumeric(ref, b, eps, MethodWasserstein, 1, false)
				if !(dw.Low <= w*(1+1e-12) && w <= dw.High*(1+1e-12)) {
					t.Errorf("%v %s %s: W %v outside [%v, %v] (estimate %v)", size, name, how, w, dw.Low, dw.High, dw.Statistic)
				}
				// The estimates are close, not just bounded.
				if math.Abs(dk.Statistic-ks.D) > 0.03 {
					t.Errorf("%v %s %s: KS estimate %v, exact %v", size, name, how, dk.Statistic, ks.D)
				}
				// Wasserstein estimates: within 10% plus 2% of the
				// reference's standard deviation (the tails' shape
				// within their bins is not known).
				if math.Abs(dw.Statistic-w) > 0.1*w+0.02*ref.Std() {
					t.Errorf("%v %s %s: W estimate %v, exact %v", size, name, how, dw.Statistic, w)
				}
			}
		}
	}
}

func TestVerdict(t *testing.T) {
	d := ColumnDrift{Method: MethodWassersteinNorm, Threshold: 0.1, Statistic: 0.12, Low: 0.08, High: 0.2}
	verdict(&d, false, 0, 0)
	if !d.Drift || !d.Uncertain {
		t.Errorf("default: drift %v uncertain %v", d.Drift, d.Uncertain)
	}
	verdict(&d, true, 0, 0)
	if d.Drift || !d.Uncertain {
		t.Errorf("strict: drift %v uncertain %v", d.Drift, d.Uncertain)
	}
	d.Low = 0.11
	verdict(&d, true, 0, 0)
	if !d.Drift || d.Uncertain {
		t.Errorf("strict, certain: drift %v uncertain %v", d.Drift, d.Uncertain)
	}
	p := 0.04
	k := ColumnDrift{Method: MethodKS, Threshold: 0.05, PValue: &p}
	verdict(&k, false, 0.2, 0.01)
	if !k.Drift || !k.Uncertain {
		t.Errorf("ks default: drift %v uncertain %v", k.Drift, k.Uncertain)
	}
	verdict(&k, true, 0.2, 0.01)
	if k.Drift {
		t.Errorf("ks strict: drift with p at the low end 0.2")
	}
}

func TestDefaultMethods(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		n    int64
		cats int
		want Method
	}{
		{Numeric, 1000, 0, MethodKS},
		{Numeric, 1001, 0, MethodWassersteinNorm},
		{Categorical, 10, 2, MethodZTest},
		{Categorical, 10, 3, MethodChi2},
		{Categorical, 5000, 2, MethodJS},
	} {
		m, th, err := resolveMethod("c", tc.kind, tc.n, tc.cats, DriftOptions{}, false)
		if err != nil || m != tc.want {
			t.Errorf("%+v: %s %v", tc, m, err)
		}
		if want := map[bool]float64{true: 0.05, false: 0.1}[m.isTest()]; th != want {
			t.Errorf("%+v: threshold %v", tc, th)
		}
	}
	o := DriftOptions{Methods: map[string]Method{"c": MethodPSI}, Thresholds: map[string]float64{"c": 0.25}, SmallReference: 10}
	if m, th, err := resolveMethod("c", Numeric, 5, 0, o, false); m != MethodPSI || th != 0.25 || err != nil {
		t.Errorf("override: %s %v %v", m, th, err)
	}
	if m, _, _ := resolveMethod("d", Numeric, 11, 0, o, false); m != MethodWassersteinNorm {
		t.Errorf("SmallReference 10, 11 values: %s", m)
	}
	for _, m := range []Method{MethodAnderson, MethodCvM, MethodEnergy} {
		if _, _, err := resolveMethod("c", Numeric, 5, 0, DriftOptions{Methods: map[string]Method{"c": m}}, false); err == nil {
			t.Errorf("%s from bins: no error", m)
		}
	}
	if _, _, err := resolveMethod("c", Numeric, 5, 0, DriftOptions{Thresholds: map[string]float64{"c": 2}}, false); err == nil {
		t.Errorf("p threshold 2: no error")
	}
}

func TestSummarize(t *testing.T) {
	cols := []ColumnDrift{{Drift: true}, {Drift: false}, {Drift: true}, {Drift: false}}
	r := summarize(cols, nil, DriftOptions{})
	if r.Drifted != 2 || r.Share != 0.5 || !r.DatasetDrift || r.ShareThreshold != 0.5 {
		t.Errorf("%+v", r)
	}
	r = summarize(cols, &ColumnDrift{Drift: true}, DriftOptions{Share: 0.75})
	if r.Drifted != 2 || r.DatasetDrift {
		t.Errorf("share 0.75: %+v", r)
	}
}
