package features_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/pipeline"
)

// TestSparseEqualsApply: Sparse stores exactly the non-zero values of
// Apply's outputs (NaN included), one-hot steps and dense steps mixed, with
// unknown categories ignored.
func TestSparseEqualsApply(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "city", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "kind", Type: arrow.BinaryTypes.String},
	}, nil)
	build := func(xs []float64, valid []bool, cities []string, kinds []string) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		b.Field(0).(*array.Float64Builder).AppendValues(xs, valid)
		cb := b.Field(1).(*array.StringBuilder)
		for _, c := range cities {
			if c == "" {
				cb.AppendNull()
			} else {
				cb.Append(c)
			}
		}
		b.Field(2).(*array.StringBuilder).AppendValues(kinds, nil)
		return b.NewRecordBatch()
	}
	train := build([]float64{1, 2, 0, 4, 5, 6}, []bool{true, true, false, true, true, true},
		[]string{"oslo", "rome", "oslo", "", "lima", "rome"}, []string{"a", "b", "a", "a", "c", "b"})
	defer train.Release()
	spec, err := features.ParseSpec([]byte(`{"transforms":[
		{"name":"standard","columns":["x"]},
		{"name":"onehot","columns":["city","kind"],"handle_unknown":"ignore"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := features.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	src := pipeline.FromBatches(schema, train)
	defer src.Release()
	if err := ct.Fit(ctx, src, features.FitOptions{}); err != nil {
		t.Fatal(err)
	}
	apply := build([]float64{3, 0, 9, 1}, []bool{true, false, true, true},
		[]string{"rome", "paris", "", "oslo"}, []string{"c", "a", "z", "b"})
	defer apply.Release()
	for _, rec := range []arrow.RecordBatch{train, apply} {
		dense, err := ct.Apply(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ct.Sparse(rec, nil)
		if err != nil {
			dense.Release()
			t.Fatal(err)
		}
		if m.Rows != int(rec.NumRows()) || m.Cols != len(ct.Outputs()) || len(m.Indptr) != m.Rows+1 {
			t.Fatalf("shape %d×%d, indptr %d", m.Rows, m.Cols, len(m.Indptr))
		}
		stored := 0
		for r := range m.Rows {
			for p := m.Indptr[r]; p+1 < m.Indptr[r+1]; p++ {
				if m.Indices[p] >= m.Indices[p+1] {
					t.Fatalf("row %d: columns not increasing: %v", r, m.Indices[m.Indptr[r]:m.Indptr[r+1]])
				}
			}
			for c := range m.Cols {
				want := dense.Column(c).(*array.Float64).Value(r)
				got := m.At(r, c)
				if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Errorf("row %d, %s: sparse %v, dense %v", r, ct.Outputs()[c], got, want)
				}
				if want != 0 {
					stored++
				}
			}
		}
		if int(m.Indptr[m.Rows]) != stored || len(m.Values) != stored {
			t.Errorf("%d values stored, %d non-zero", m.Indptr[m.Rows], stored)
		}
		dense.Release()
		// Reusing dst gives the same matrix.
		m2, err := ct.Sparse(rec, m)
		if err != nil || m2 != m || int(m2.Indptr[m2.Rows]) != stored {
			t.Fatalf("reuse: %v", err)
		}
	}

	// An unknown category with handle_unknown "error" fails, naming it.
	spec.Transforms[1].Params = nil
	strict, err := features.New(features.Spec{Transforms: spec.Transforms})
	if err != nil {
		t.Fatal(err)
	}
	if err := strict.Fit(ctx, src, features.FitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Sparse(apply, nil); !errors.Is(err, features.ErrUnknownCategory) {
		t.Fatalf("unknown category: %v, want ErrUnknownCategory", err)
	}
}
