package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOrdinalBasic(t *testing.T) {
	mem := f2Mem(t)
	c := f2Str(t, mem, "pear", "apple", f2Null, "fig", "apple")
	n := f2F64(t, mem, 10, 2, 2, math.NaN(), 10)
	tr := f2Fit(t, f2New(t, "ordinal", []string{"c", "n"}, `{}`), c, n)
	if d := cmp.Diff([]string{"c", "n"}, tr.Outputs()); d != "" {
		t.Fatal(d)
	}
	nan := math.NaN()
	want := [][]float64{{2, 1}, {0, 0}, {nan, 0}, {1, nan}, {0, 1}}
	f2Same(t, f2Apply(t, tr, c, n), want)
	back := f2RoundTrip(t, tr)
	f2Same(t, f2Apply(t, back, c, n), want)
	f2Same(t, f2Apply(t, tr, f2Dict(t, mem, "pear", "apple", f2Null, "fig", "apple"), n), want)

	merged := f2FitMerged(t, f2New(t, "ordinal", []string{"c", "n"}, `{}`), c, n)
	if a, b := f2JSON(t, tr.State()), f2JSON(t, merged.State()); a != b {
		t.Fatalf("merged %s != whole %s", b, a)
	}
}

func TestOrdinalMissingValue(t *testing.T) {
	mem := f2Mem(t)
	c := f2Str(t, mem, "b", f2Null, "a")
	tr := f2Fit(t, f2New(t, "ordinal", []string{"c"}, `{"encoded_missing_value":-1}`), c)
	f2Same(t, f2Apply(t, tr, c), [][]float64{{1}, {-1}, {0}})
	f2RoundTrip(t, tr)
	// encoded_missing_value colliding with a code is an error at fit.
	f, err := f2New(t, "ordinal", []string{"c"}, `{"encoded_missing_value":1}`).NewFitter(f2Types([]arrowArray{c}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Add([]arrowArray{c}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Finish(); !errors.Is(err, ErrSpec) {
		t.Fatalf("Finish: %v, want ErrSpec", err)
	}
}

func TestOrdinalUnknown(t *testing.T) {
	mem := f2Mem(t)
	fit := f2Str(t, mem, "x", "y")
	test := f2Str(t, mem, "y", "z", f2Null)
	tr := f2Fit(t, f2New(t, "ordinal", []string{"c"}, `{}`), fit)
	batch, row := f2ApplyErr(t, tr, 1, test)
	var ie *InputError
	if !errors.As(batch, &ie) || !errors.Is(batch, ErrUnknownCategory) || ie.Row != 1 || ie.Value != `"z"` {
		t.Fatalf("batch: %v", batch)
	}
	if !errors.Is(row, ErrUnknownCategory) {
		t.Fatalf("row: %v", row)
	}
	use := f2Fit(t, f2New(t, "ordinal", []string{"c"}, `{"handle_unknown":"use_encoded_value","unknown_value":-1}`), fit)
	f2Same(t, f2Apply(t, use, test), [][]float64{{1}, {-1}, {-1}})
	f2RoundTrip(t, use)
	useNaN := f2Fit(t, f2New(t, "ordinal", []string{"c"}, `{"handle_unknown":"use_encoded_value","unknown_value":"NaN"}`), fit)
	got := f2Apply(t, useNaN, test)
	if !math.IsNaN(got[1][0]) {
		t.Fatalf("unknown → %v, want NaN", got[1][0])
	}
	f2RoundTrip(t, useNaN)
	// unknown_value equal to a category's code.
	f, _ := f2New(t, "ordinal", []string{"c"}, `{"handle_unknown":"use_encoded_value","unknown_value":1}`).NewFitter(f2Types([]arrowArray{fit}))
	_ = f.Add([]arrowArray{fit})
	if _, err := f.Finish(); !errors.Is(err, ErrSpec) {
		t.Fatalf("colliding unknown_value: %v", err)
	}
	for _, bad := range []string{`{"handle_unknown":"use_encoded_value"}`, `{"unknown_value":3}`, `{"handle_unknown":"ignore"}`, `{"handle_unknown":"use_encoded_value","unknown_value":0.5}`} {
		if _, err := kinds["ordinal"].New([]string{"c"}, json.RawMessage(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v, want ErrSpec", bad, err)
		}
	}
}

func TestOrdinalWrongType(t *testing.T) {
	mem := f2Mem(t)
	tr := f2Fit(t, f2New(t, "ordinal", []string{"n"}, `{}`), f2I64(t, mem, 3, 1))
	if err := tr.ApplyRow([]Value{String("3")}, make([]float64, 1)); !errors.Is(err, ErrType) {
		t.Fatalf("string into numeric ordinal: %v", err)
	}
	if err := tr.Apply([]arrowArray{f2Str(t, mem, "3")}, [][]float64{make([]float64, 1)}); !errors.Is(err, ErrType) {
		t.Fatalf("string column: %v", err)
	}
	// Int and Float single-row values of an integer column agree.
	out := make([]float64, 1)
	if err := tr.ApplyRow([]Value{Int(3)}, out); err != nil || out[0] != 1 {
		t.Fatalf("Int(3) → %v %v", out, err)
	}
	if err := tr.ApplyRow([]Value{Float(math.Inf(1))}, out); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Inf: %v", err)
	}
}
