package tensor_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kilnml/kiln/tensor"
)

func TestViews(t *testing.T) {
	x, _ := tensor.FromFloat32s([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 4)
	r, err := x.Reshape(2, -1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 6}, r.Shape()); diff != "" {
		t.Errorf("Reshape(2, -1) shape (-want +got):\n%s", diff)
	}
	xt, _ := x.T()
	if xt.IsContiguous() {
		t.Error("transpose reported contiguous")
	}
	if _, err := xt.Reshape(12); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Reshape of a transposed view: %v, want ErrShape", err)
	}
	if _, err := x.Reshape(5, -1); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Reshape(5, -1) of 12: %v, want ErrShape", err)
	}
	c, _ := xt.Contiguous()
	got, _ := c.Float32s()
	if diff := cmp.Diff([]float32{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, got); diff != "" {
		t.Errorf("Contiguous of T (-want +got):\n%s", diff)
	}
	u, _ := x.Unsqueeze(1)
	if diff := cmp.Diff([]int{3, 1, 4}, u.Shape()); diff != "" {
		t.Errorf("Unsqueeze(1) (-want +got):\n%s", diff)
	}
	s, _ := u.Squeeze()
	if diff := cmp.Diff([]int{3, 4}, s.Shape()); diff != "" {
		t.Errorf("Squeeze (-want +got):\n%s", diff)
	}
	if _, err := x.Squeeze(0); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Squeeze of a size-3 axis: %v, want ErrShape", err)
	}
	p, _ := x.Reshape(3, 2, 2)
	p, _ = p.Permute(2, 0, 1)
	if v, _ := p.At(1, 2, 0); v != 9 {
		t.Errorf("Permute At(1, 2, 0) = %v, want 9", v)
	}
	sl, _ := x.Slice(1, 1, 3)
	if v, _ := sl.At(2, 1); v != 10 {
		t.Errorf("Slice At(2, 1) = %v, want 10", v)
	}
	if _, err := x.At(3, 0); !errors.Is(err, tensor.ErrIndex) {
		t.Errorf("At out of range: %v, want ErrIndex", err)
	}
	if _, err := x.BroadcastTo(2, 3, 5); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("BroadcastTo a wrong shape: %v, want ErrShape", err)
	}
	if _, err := tensor.New(tensor.Float32, 2, -1); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("New with a negative dimension: %v, want ErrShape", err)
	}
	if _, err := tensor.FromFloat32s([]float32{1, 2, 3}, 2, 2); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("FromFloat32s with a wrong count: %v, want ErrShape", err)
	}
	if v, _ := tensor.Scalar(2.5).At(); v != 2.5 {
		t.Errorf("Scalar(2.5).At() = %v", v)
	}
}

func TestMatMulVectors(t *testing.T) {
	a, _ := tensor.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	v, _ := tensor.FromFloat32s([]float32{1, 0, -1})
	w, _ := tensor.FromFloat32s([]float32{2, 1})
	for _, c := range []struct {
		name  string
		x, y  *tensor.Tensor
		shape []int
		want  []float32
	}{
		{"matrix·vector", a, v, []int{2}, []float32{-2, -2}},
		{"vector·matrix", w, a, []int{3}, []float32{6, 9, 12}},
		{"vector·vector", v, v, []int{}, []float32{2}},
	} {
		got, err := tensor.MatMul(c.x, c.y)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		vals, _ := got.Float32s()
		if diff := cmp.Diff(c.want, vals); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
		if diff := cmp.Diff(c.shape, got.Shape(), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s shape (-want +got):\n%s", c.name, diff)
		}
	}
	if _, err := tensor.MatMul(v, w); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("MatMul of vectors of lengths 3 and 2: %v, want ErrShape", err)
	}
}

func TestReduceInto(t *testing.T) {
	x, _ := tensor.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	squeezed, _ := tensor.Zeros(3)
	if err := tensor.ReduceInto(tensor.ReduceSum, squeezed, x, 0); err != nil {
		t.Fatal(err)
	}
	got, _ := squeezed.Float32s()
	if diff := cmp.Diff([]float32{5, 7, 9}, got); diff != "" {
		t.Errorf("sum over axis 0 (-want +got):\n%s", diff)
	}
	kept, _ := tensor.Zeros(2, 1)
	if err := tensor.ReduceInto(tensor.ReduceMax, kept, x, -1); err != nil {
		t.Fatal(err)
	}
	got, _ = kept.Float32s()
	if diff := cmp.Diff([]float32{3, 6}, got); diff != "" {
		t.Errorf("max over axis 1 (-want +got):\n%s", diff)
	}
	scalar, _ := tensor.Zeros()
	if err := tensor.ReduceInto(tensor.ReduceMean, scalar, x); err != nil {
		t.Fatal(err)
	}
	if v, _ := scalar.At(); v != 3.5 {
		t.Errorf("mean = %v, want 3.5", v)
	}
	wrong, _ := tensor.Zeros(2)
	if err := tensor.ReduceInto(tensor.ReduceSum, wrong, x, 0); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("ReduceInto a wrong shape: %v, want ErrShape", err)
	}
	if err := tensor.ReduceInto(tensor.ReduceArgMax, squeezed, x, 0); err == nil {
		t.Error("ReduceInto with ReduceArgMax succeeded")
	}
}
