package tensor_test

import (
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

// results runs the operations whose results must not depend on the number
// of threads and returns their values.
func results(t *testing.T) [][]float32 {
	t.Helper()
	r := tensor.NewRNG(1)
	a, b := mustT(t)(tensor.Zeros(300, 400)), mustT(t)(tensor.Zeros(400, 500))
	big := mustT(t)(tensor.Zeros(1 << 20))
	for _, x := range []*tensor.Tensor{a, b, big} {
		if err := r.Normal(x, 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	u := mustT(t)(tensor.Zeros(1000, 77))
	if err := r.Uniform(u, -1, 1); err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, x := range []*tensor.Tensor{
		a, big, u,
		mustT(t)(tensor.MatMul(a, b)),
		mustT(t)(tensor.Sum(big, false)),
		mustT(t)(tensor.Sum(u, false, 0)),
		mustT(t)(tensor.Softmax(u, 1)),
		mustT(t)(tensor.LogSoftmax(a, 0)),
		mustT(t)(tensor.Add(u, u)),
		mustT(t)(tensor.Exp(big)),
	} {
		out = append(out, must[[]float32](t)(x.Float32s()))
	}
	return out
}

// TestDeterminismAcrossGOMAXPROCS checks that results are bit-identical
// with one and two threads.
func TestDeterminismAcrossGOMAXPROCS(t *testing.T) {
	old := runtime.GOMAXPROCS(1)
	one := results(t)
	runtime.GOMAXPROCS(2)
	two := results(t)
	runtime.GOMAXPROCS(old)
	for i := range one {
		if !slices.EqualFunc(one[i], two[i], func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
			t.Errorf("result %d differs between GOMAXPROCS 1 and 2", i)
		}
	}
}

func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

func mustT(tb testing.TB) func(*tensor.Tensor, error) *tensor.Tensor { return must[*tensor.Tensor](tb) }
