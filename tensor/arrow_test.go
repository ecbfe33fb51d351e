package tensor_test

import (
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/kilnml/kiln/tensor"
)

func TestArrowRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	b := array.NewFloat32Builder(mem)
	b.AppendValues([]float32{1, 2, 3, 4.5}, nil)
	arr := b.NewArray()
	b.Release()

	x, err := tensor.FromArrow(arr)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := x.Float32s()
	if diff := cmp.Diff([]float32{1, 2, 3, 4.5}, got); diff != "" {
		t.Errorf("FromArrow (-want +got):\n%s", diff)
	}
	back, err := x.ToArrow(mem)
	if err != nil {
		t.Fatal(err)
	}
	if !array.Equal(arr, back) {
		t.Errorf("ToArrow = %v, want %v", back, arr)
	}
	back.Release()
	arr.Release()

	// Integers convert to float32; nulls are errors naming the row.
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{3, -1, 7}, nil)
	ia := ib.NewArray()
	x, err = tensor.FromArrow(ia)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = x.Float32s()
	if diff := cmp.Diff([]float32{3, -1, 7}, got); diff != "" {
		t.Errorf("FromArrow int64 (-want +got):\n%s", diff)
	}
	ia.Release()
	ib.AppendValues([]int64{1, 2}, []bool{true, false})
	ia = ib.NewArray()
	ib.Release()
	if _, err := tensor.FromArrow(ia); !errors.Is(err, tensor.ErrNull) {
		t.Errorf("FromArrow with a null: %v, want ErrNull", err)
	}
	ia.Release()

	sb := array.NewStringBuilder(mem)
	sb.Append("x")
	sa := sb.NewArray()
	sb.Release()
	if _, err := tensor.FromArrow(sa); !errors.Is(err, tensor.ErrDType) {
		t.Errorf("FromArrow of strings: %v, want ErrDType", err)
	}
	sa.Release()
}

func TestArrowZeroCopy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewFloat64Builder(mem)
	b.AppendValues([]float64{1, 2, 3}, nil)
	arr := b.NewArray().(*array.Float64)
	b.Release()
	defer arr.Release()
	x, err := tensor.FromArrow(arr)
	if err != nil {
		t.Fatal(err)
	}
	// The tensor views the array's memory: a change to it shows.
	arr.Float64Values()[1] = 20
	if v, _ := x.At(1); v != 20 {
		t.Errorf("tensor does not share the array's memory: At(1) = %v", v)
	}
}

func TestBatchRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	x, _ := tensor.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	xt, _ := x.T() // 2×3, a transposed view
	rec, err := xt.ToBatch(mem, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 2 || rec.NumCols() != 3 || rec.ColumnName(2) != "c" {
		t.Fatalf("batch %v", rec)
	}
	y, err := tensor.FromBatch(rec, "c", "a")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := y.Float32s()
	if diff := cmp.Diff([]float32{5, 1, 6, 2}, got); diff != "" {
		t.Errorf("FromBatch c,a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 2}, y.Shape()); diff != "" {
		t.Errorf("shape (-want +got):\n%s", diff)
	}
	if _, err := tensor.FromBatch(rec, "nope"); err == nil {
		t.Error("FromBatch of a missing column succeeded")
	}
	if _, err := x.ToBatch(mem, []string{"only"}); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("ToBatch with too few names: %v, want ErrShape", err)
	}
}

func TestBatchFixedSizeList(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lb := array.NewFixedSizeListBuilder(mem, 3, arrow.PrimitiveTypes.Float32)
	vb := lb.ValueBuilder().(*array.Float32Builder)
	for i := range 4 {
		lb.Append(true)
		vb.AppendValues([]float32{float32(i), float32(i) + 0.5, -float32(i)}, nil)
	}
	col := lb.NewArray()
	lb.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "emb", Type: arrow.FixedSizeListOf(3, arrow.PrimitiveTypes.Float32)}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 4)
	col.Release()
	defer rec.Release()
	x, err := tensor.FromBatch(rec)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{4, 3}, x.Shape()); diff != "" {
		t.Errorf("shape (-want +got):\n%s", diff)
	}
	if v, _ := x.At(2, 1); v != 2.5 {
		t.Errorf("At(2, 1) = %v, want 2.5", v)
	}
	// A slice of the batch starts inside the list values.
	sl := rec.NewSlice(1, 3)
	defer sl.Release()
	y, err := tensor.FromBatch(sl, "emb")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := y.Float32s()
	if diff := cmp.Diff([]float32{1, 1.5, -1, 2, 2.5, -2}, got); diff != "" {
		t.Errorf("sliced batch (-want +got):\n%s", diff)
	}
}
