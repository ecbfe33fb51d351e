package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKBinsUniform(t *testing.T) {
	mem := f2Mem(t)
	x := f2F64(t, mem, 0, 1, 2, 3, 4, 10)
	tr := f2Fit(t, f2New(t, "kbins", []string{"x"}, `{"n_bins":5,"strategy":"uniform","encode":"ordinal"}`), x)
	// edges 0 2 4 6 8 10; inner edges 2 4 6 8, side right.
	if got := f2JSON(t, tr.State()); got != `{"bin_edges":[[0,2,4,6,8,10]]}` {
		t.Fatalf("state %s", got)
	}
	f2Same(t, f2Apply(t, tr, x), [][]float64{{0}, {0}, {1}, {1}, {2}, {4}})
	// Out of range values go to the end bins.
	f2Same(t, f2Apply(t, tr, f2F64(t, mem, -5, 99)), [][]float64{{0}, {4}})
	f2RoundTrip(t, tr)
}

func TestKBinsQuantile(t *testing.T) {
	mem := f2Mem(t)
	x := f2F64(t, mem, 9, 1, 2, 3, 4, 5, 6, 7, 8)
	tr := f2Fit(t, f2New(t, "kbins", []string{"x"}, `{"n_bins":4}`), x)
	// Quantiles 0, .25, .5, .75, 1 of 1..9: virtual indexes 0 2 4 6 8.
	if got := f2JSON(t, tr.State()); got != `{"bin_edges":[[1,3,5,7,9]]}` {
		t.Fatalf("state %s", got)
	}
	if d := cmp.Diff([]string{"x_0", "x_1", "x_2", "x_3"}, tr.Outputs()); d != "" {
		t.Fatal(d)
	}
	got := f2Apply(t, tr, f2F64Null(t, mem, 1, 3, 4, 9, math.NaN()))
	nan := math.NaN()
	f2Same(t, got, [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 1, 0, 0}, {0, 0, 0, 1}, {nan, nan, nan, nan}})
	// Interpolated quantiles: 1..4, n_bins 3 → levels 0, 100/3, 200/3, 100:
	// virtual index 3q: 0, 1, 2, 3 → edges 1 2 3 4.
	tr2 := f2Fit(t, f2New(t, "kbins", []string{"x"}, `{"n_bins":2}`), f2F64(t, mem, 1, 2, 3, 10))
	// median of 1 2 3 10 = 2.5.
	if got := f2JSON(t, tr2.State()); got != `{"bin_edges":[[1,2.5,10]]}` {
		t.Fatalf("state %s", got)
	}
}

func TestKBinsDegenerate(t *testing.T) {
	mem := f2Mem(t)
	// Repeated quantiles collapse: bins narrower than 1e-8 are removed.
	x := f2F64(t, mem, 1, 1, 1, 1, 2)
	tr := f2Fit(t, f2New(t, "kbins", []string{"x"}, `{"n_bins":4}`), x)
	if got := f2JSON(t, tr.State()); got != `{"bin_edges":[[1,2]]}` {
		t.Fatalf("state %s", got)
	}
	if d := cmp.Diff([]string{"x_0"}, tr.Outputs()); d != "" {
		t.Fatal(d)
	}
	// A constant column gets one bin, edges ±Inf (saved as strings).
	c := f2F64(t, mem, 3, 3, 3)
	tc := f2Fit(t, f2New(t, "kbins", []string{"c"}, `{"strategy":"uniform","encode":"ordinal"}`), c)
	if got := f2JSON(t, tc.State()); got != `{"bin_edges":[["-Infinity","Infinity"]]}` {
		t.Fatalf("state %s", got)
	}
	f2Same(t, f2Apply(t, f2RoundTrip(t, tc), c), [][]float64{{0}, {0}, {0}})
	// No values at all.
	f, _ := f2New(t, "kbins", []string{"x"}, `{}`).NewFitter(f2Types([]arrowArray{x}))
	_ = f.Add([]arrowArray{f2F64Null(t, mem, math.NaN())})
	if _, err := f.Finish(); !errors.Is(err, ErrMissingValue) {
		t.Fatalf("empty fit: %v", err)
	}
}

func TestKBinsExplicit(t *testing.T) {
	mem := f2Mem(t)
	tr := f2New(t, "kbins", []string{"a", "b"}, `{"strategy":"explicit","bin_edges":[[0,10,20],[0,1,2,"Infinity"]],"encode":"ordinal"}`)
	if !tr.Fitted() {
		t.Fatal("explicit kbins not fitted")
	}
	a, b := f2F64(t, mem, -1, 10, 25), f2I64(t, mem, 0, 1, 100)
	f2Same(t, f2Apply(t, tr, a, b), [][]float64{{0, 0}, {1, 1}, {1, 2}})
	f2RoundTrip(t, tr)
	for _, bad := range []string{
		`{"strategy":"explicit","bin_edges":[[0,1]]}`,       // one list for two columns
		`{"strategy":"explicit","bin_edges":[[0],[1,2]]}`,   // too few edges
		`{"strategy":"explicit","bin_edges":[[1,0],[1,2]]}`, // decreasing
		`{"strategy":"quantile","bin_edges":[[0,1],[1,2]]}`, // edges without explicit
		`{"n_bins":1}`, `{"strategy":"kmeans"}`, `{"encode":"onehot-sparse"}`, `{"n_bins":[3]}`,
	} {
		if _, err := kinds["kbins"].New([]string{"a", "b"}, json.RawMessage(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestKBinsBadInput(t *testing.T) {
	mem := f2Mem(t)
	x := f2F64(t, mem, 1, 2, math.Inf(1))
	f, err := f2New(t, "kbins", []string{"x"}, `{}`).NewFitter(f2Types([]arrowArray{x}))
	if err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	if err := f.Add([]arrowArray{x}); !errors.Is(err, ErrNonFinite) || !errors.As(err, &ie) || ie.Row != 2 {
		t.Fatalf("fit Inf: %v", err)
	}
	tr := f2Fit(t, f2New(t, "kbins", []string{"x"}, `{"n_bins":2}`), f2F64(t, mem, 1, 2, 3))
	batch, row := f2ApplyErr(t, tr, 2, x)
	if !errors.Is(batch, ErrNonFinite) || !errors.Is(row, ErrNonFinite) {
		t.Fatalf("apply Inf: %v / %v", batch, row)
	}
	if err := tr.ApplyRow([]Value{String("1")}, make([]float64, 2)); !errors.Is(err, ErrType) {
		t.Fatalf("string value: %v", err)
	}
	if _, err := tr.NewFitter(f2Types([]arrowArray{f2Str(t, mem, "a")})); !errors.Is(err, ErrType) {
		t.Fatalf("string column: %v", err)
	}
}

func TestKBinsMerge(t *testing.T) {
	mem := f2Mem(t)
	vals := make([]float64, 103)
	for i := range vals {
		vals[i] = math.Sin(float64(i)*1.7) * float64(i%13)
	}
	vals[50] = math.NaN()
	x := f2F64(t, mem, vals...)
	y := f2F64(t, mem, append(vals[3:], 1, 2, 3)...)
	for _, p := range []string{`{"n_bins":7}`, `{"n_bins":[4,6],"strategy":"uniform"}`} {
		spec := f2New(t, "kbins", []string{"x", "y"}, p)
		whole := f2Fit(t, spec, x, y)
		merged := f2FitMerged(t, spec, x, y)
		if a, b := f2JSON(t, whole.State()), f2JSON(t, merged.State()); a != b {
			t.Fatalf("%s: merged %s != whole %s", p, b, a)
		}
		f2Apply(t, whole, x, y)
	}
}
