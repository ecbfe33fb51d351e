package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestCross(t *testing.T) {
	mem := f2Mem(t)
	a := f2Str(t, mem, "x", "y", f2Null, "x")
	b := f2I64(t, mem, 1, 2, 3, 1)
	const n = 32
	tr := f2New(t, "cross", []string{"a", "b"}, `{"n_features":32}`)
	if got := tr.Outputs(); got[0] != "a_x_b_0" || len(got) != n {
		t.Fatalf("outputs %v", got[:2])
	}
	want := make([][]float64, 4)
	for r := range want {
		want[r] = make([]float64, n)
	}
	i, _ := f2Slot("a=x^b=1", n)
	want[0][i], want[3][i] = 1, 1
	i, _ = f2Slot("a=y^b=2", n)
	want[1][i] = 1
	got := f2Apply(t, tr, a, b)
	f2Same(t, got, want)
	// Int and float values of the same number cross the same way.
	out := make([]float64, n)
	if err := tr.ApplyRow([]Value{String("x"), Float(1.0)}, out); err != nil {
		t.Fatal(err)
	}
	f2Same(t, [][]float64{out}, want[:1])
	f2Same(t, f2Apply(t, f2RoundTrip(t, f2Fit(t, tr, a, b)), a, b), want)
	if _, err := kinds["cross"].New([]string{"a"}, json.RawMessage(`{"n_features":4}`)); !errors.Is(err, ErrSpec) {
		t.Fatalf("one column: %v", err)
	}
	if err := tr.ApplyRow([]Value{String("x"), Float(math.Inf(1))}, out); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Inf: %v", err)
	}
	if err := tr.ApplyRow([]Value{String("x"), Time(timeZero)}, out); !errors.Is(err, ErrType) {
		t.Fatalf("time: %v", err)
	}
}
