package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var _ CrossFitter = (*targetFitter)(nil)

func f2Close(t *testing.T, got, want [][]float64) {
	t.Helper()
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool {
		return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b))
	})); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
}

func f2CrossFit(t *testing.T, tr Transform, cols ...arrowArray) (Transform, [][]float64) {
	t.Helper()
	f, err := tr.NewFitter(f2Types(cols))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add(cols); err != nil {
		t.Fatal(err)
	}
	fitted, out, err := f.(CrossFitter).FinishCrossFit()
	if err != nil {
		t.Fatal(err)
	}
	return fitted, out
}

func TestTargetContinuous(t *testing.T) {
	mem := f2Mem(t)
	x := f2Str(t, mem, "a", "a", "b", "b", "b", "c")
	y := f2F64(t, mem, 1, 3, 2, 4, 6, 10)
	mean := 26.0 / 6

	// smooth = 1: (sum + m·mean) / (count + m).
	tr := f2Fit(t, f2New(t, "target", []string{"x"}, `{"target":"y","smooth":1,"cv":2,"target_type":"continuous"}`), x, y)
	if d := cmp.Diff([]string{"x"}, tr.Outputs()); d != "" {
		t.Fatal(d)
	}
	if d := cmp.Diff([]string{"x", "y"}, tr.(FitInputser).FitInputs()); d != "" {
		t.Fatal(d)
	}
	want := map[string]float64{"a": (mean + 4) / 3, "b": (mean + 12) / 4, "c": (mean + 10) / 2, "zz": mean}
	test := f2Str(t, mem, "a", "b", "c", "zz")
	got := f2Apply(t, tr, test)
	f2Close(t, got, [][]float64{{want["a"]}, {want["b"]}, {want["c"]}, {want["zz"]}})
	f2Apply(t, f2RoundTrip(t, tr), test)

	// smooth = auto: lambda = v·n / (v·n + ssd/n), v the variance of y.
	v := 480.0 / 54
	la := v * 2 / (v*2 + 2.0/2)
	lb := v * 3 / (v*3 + 8.0/3) // b: mean 4, ssd 4+0+4
	auto := f2Fit(t, f2New(t, "target", []string{"x"}, `{"target":"y","target_type":"continuous"}`), x, y)
	got = f2Apply(t, auto, test)
	f2Close(t, got, [][]float64{{la*2 + (1-la)*mean}, {lb*4 + (1-lb)*mean}, {10}, {mean}})
}

func TestTargetCrossFit(t *testing.T) {
	mem := f2Mem(t)
	x := f2Str(t, mem, "a", "a", "b", "b", "b", "c")
	y := f2F64(t, mem, 1, 3, 2, 4, 6, 10)
	// cv 2, contiguous folds rows 0-2 and 3-5.
	// Fold 0 is encoded from rows 3-5 (b 4, b 6, c 10; mean 20/3):
	// a unseen → mean, b = (20/3 + 10)/3.
	// Fold 1 from rows 0-2 (a 1, a 3, b 2; mean 2): b = (2+2)/2, c unseen → 2.
	m0 := 20.0 / 3
	_, out := f2CrossFit(t, f2New(t, "target", []string{"x"}, `{"target":"y","smooth":1,"cv":2,"target_type":"continuous"}`), x, y)
	f2Close(t, out, [][]float64{{m0, m0, (m0 + 10) / 3, 2, 2, 2}})
}

func TestTargetFolds(t *testing.T) {
	got, err := contiguousFolds(7, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int32{0, 0, 0, 1, 1, 2, 2}, got); d != "" {
		t.Fatal(d)
	}
	// StratifiedKFold(3, shuffle=False) on y = 1 1 0 1 0 1 1: classes in
	// order of appearance (1 → 0, 0 → 1); sorted encoded labels
	// 0 0 0 0 0 1 1 dealt to folds round robin: fold 0 gets two of class 0
	// and one of class 1, fold 1 two of class 0, fold 2 one of each.
	got, err = stratifiedFolds([]float64{1, 1, 0, 1, 0, 1, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int32{0, 0, 0, 1, 2, 1, 2}, got); d != "" {
		t.Fatal(d)
	}
	got, _ = stratifiedFolds([]float64{0, 0, 0, 1, 1, 1, 0, 1}, 2)
	if d := cmp.Diff([]int32{0, 0, 1, 0, 0, 1, 1, 1}, got); d != "" {
		t.Fatal(d)
	}
	if _, err := stratifiedFolds([]float64{0, 1, 0, 1}, 3); !errors.Is(err, ErrSpec) {
		t.Fatalf("too few per class: %v", err)
	}
	if _, err := contiguousFolds(2, 3); !errors.Is(err, ErrSpec) {
		t.Fatalf("too few rows: %v", err)
	}
}

func TestNumpySum(t *testing.T) {
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = 1 / float64(i+1)
	}
	// Exactness against a compensated sum, not bits (NumPy's own order is
	// checked by the golden files).
	s, c := 0.0, 0.0
	for _, x := range xs {
		y := x - c
		t2 := s + y
		c = (t2 - s) - y
		s = t2
	}
	if got := npSum(xs); math.Abs(got-s) > 1e-13 {
		t.Fatalf("npSum = %v, want %v", got, s)
	}
	if npSum(nil) != 0 || npSum([]float64{2}) != 2 {
		t.Fatal("small sums")
	}
}

func TestTargetBinary(t *testing.T) {
	mem := f2Mem(t)
	x := f2I64(t, mem, 1, 1, 2, 2, 2, 3, 3, 1)
	y := f2Str(t, mem, "yes", "no", "yes", "yes", "no", "no", "no", "yes")
	tr, out := f2CrossFit(t, f2New(t, "target", []string{"x"}, `{"target":"y","smooth":0,"cv":2}`), x, y)
	// "no" = 0, "yes" = 1. smooth 0: plain means of y per category.
	got := f2Apply(t, tr, f2I64(t, mem, 1, 2, 3, 4))
	f2Close(t, got, [][]float64{{2.0 / 3}, {2.0 / 3}, {0}, {0.5}})
	if s := f2JSON(t, tr.State()); s != `{"target_type":"binary","target_mean":0.5,"columns":[{"categories":{"type":"int","numbers":[1,2,3]},"encodings":[0.6666666666666666,0.6666666666666666,0]}]}` {
		t.Fatalf("state %s", s)
	}
	// Folds (stratified, y encoded 1 0 1 1 0 0 0 1; first class seen is
	// 1): class "yes" rows 0 2 3 7 → folds 0 0 1 1, class "no" rows 1 4 5 6
	// → 0 0 1 1. Fold 0 = rows 0 1 2 4, trained on rows 3 5 6 7
	// (x 2 3 3 1, y 1 0 0 1): 1 → 1, 2 → 1. Fold 1 = rows 3 5 6 7 trained
	// on rows 0 1 2 4 (x 1 1 2 2, y 1 0 1 0): 2 → .5, 3 unseen → mean .5,
	// 1 → .5.
	f2Close(t, out, [][]float64{{1, 1, 1, 0.5, 1, 0.5, 0.5, 0.5}})
	f2RoundTrip(t, tr)
}

func TestTargetMerge(t *testing.T) {
	mem := f2Mem(t)
	var xs []string
	var ys []float64
	for i := range 57 {
		xs = append(xs, string(rune('a'+i*7%5)))
		ys = append(ys, math.Sin(float64(i))*10+float64(i%3))
	}
	xs[11] = f2Null
	x := f2Str(t, mem, xs...)
	y := f2F64(t, mem, ys...)
	for _, p := range []string{`{"target":"y"}`, `{"target":"y","smooth":3.5,"cv":4}`} {
		spec := f2New(t, "target", []string{"x"}, p)
		whole, wout := f2CrossFit(t, spec, x, y)
		merged := f2FitMerged(t, spec, x, y)
		if a, b := f2JSON(t, whole.State()), f2JSON(t, merged.State()); a != b {
			t.Fatalf("%s: merged %s != whole %s", p, b, a)
		}
		// Cross-fit over merged partitions gives the same rows.
		var fitters []Fitter
		for _, part := range f2Slices([]arrowArray{x, y}, 4) {
			f, _ := spec.NewFitter(f2Types([]arrowArray{x, y}))
			if err := f.Add(part); err != nil {
				t.Fatal(err)
			}
			for _, a := range part {
				a.Release()
			}
			fitters = append(fitters, f)
		}
		for _, f := range fitters[1:] {
			if err := fitters[0].Merge(f); err != nil {
				t.Fatal(err)
			}
		}
		_, mout, err := fitters[0].(CrossFitter).FinishCrossFit()
		if err != nil {
			t.Fatal(err)
		}
		f2Same(t, mout, wout)
		f2Apply(t, f2RoundTrip(t, whole), x)
	}
}

func TestTargetBadInput(t *testing.T) {
	mem := f2Mem(t)
	x := f2Str(t, mem, "a", "b", "c")
	spec := f2New(t, "target", []string{"x"}, `{"target":"y"}`)
	fitErr := func(y arrowArray) error {
		f, err := spec.NewFitter(f2Types([]arrowArray{x, y}))
		if err != nil {
			return err
		}
		if err := f.Add([]arrowArray{x, y}); err != nil {
			return err
		}
		_, err = f.Finish()
		return err
	}
	if err := fitErr(f2I64(t, mem, 1, 2, 3)); !errors.Is(err, ErrSpec) {
		t.Errorf("multiclass: %v", err)
	}
	if err := fitErr(f2F64Null(t, mem, 1, math.NaN(), 3)); !errors.Is(err, ErrMissingValue) {
		t.Errorf("null target: %v", err)
	}
	if err := fitErr(f2F64(t, mem, 1, math.NaN(), 3)); !errors.Is(err, ErrMissingValue) {
		t.Errorf("NaN target: %v", err)
	}
	if err := fitErr(f2F64(t, mem, 1, math.Inf(1), 3)); !errors.Is(err, ErrNonFinite) {
		t.Errorf("Inf target: %v", err)
	}
	if err := fitErr(f2Str(t, mem, "p", "q", "r")); !errors.Is(err, ErrSpec) {
		t.Errorf("string multiclass: %v", err)
	}
	for _, bad := range []string{`{}`, `{"target":"x"}`, `{"target":"y","smooth":-1}`, `{"target":"y","smooth":"fast"}`,
		`{"target":"y","cv":1}`, `{"target":"y","shuffle":true}`, `{"target":"y","target_type":"multiclass"}`} {
		if _, err := kinds["target"].New([]string{"x"}, json.RawMessage(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	tr := f2Fit(t, spec, x, f2F64(t, mem, 1, 2.5, 3))
	if err := tr.ApplyRow([]Value{Float(1)}, make([]float64, 1)); !errors.Is(err, ErrType) {
		t.Errorf("number into string column: %v", err)
	}
	if err := spec.Apply([]arrowArray{x}, [][]float64{make([]float64, 3)}); !errors.Is(err, ErrNotFitted) {
		t.Errorf("unfitted: %v", err)
	}
}
