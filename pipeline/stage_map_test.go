package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// stgDoubleA is a Map function that appends "a2" = 2*a.
func stgDoubleA(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	a := in.Column(0).(*array.Int64)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := range a.Len() {
		if a.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(2 * a.Value(i))
		}
	}
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(stgSchema("a:int64", "a2:int64"), []arrow.Array{in.Column(0), col}, in.NumRows()), nil
}

func TestMap(t *testing.T) {
	declared := func(in *arrow.Schema) (*arrow.Schema, error) { return stgSchema("a:int64", "a2:int64"), nil }
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		stage    Stage
		fields   []string
		rows     [][]string
		bindErr  string
		applyErr string
		sentinel error
	}{
		{name: "adds a column", stage: Map("double", declared, stgDoubleA),
			fields: []string{"a:int64?", "a2:int64?"}, rows: [][]string{{"1", "2"}, {"NULL", "NULL"}, {"3", "6"}}},
		{name: "nil schema keeps input schema", stage: Map("same", nil,
			func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
				return in.NewSlice(0, 1), nil
			}),
			fields: []string{"a:int64?"}, rows: [][]string{{"1"}}},
		{name: "returns its input retained", stage: Map("id", nil,
			func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
				in.Retain()
				return in, nil
			}),
			fields: []string{"a:int64?"}, rows: [][]string{{"1"}, {"NULL"}, {"3"}}},
		{name: "schema error", stage: Map("bad", func(*arrow.Schema) (*arrow.Schema, error) { return nil, errBoom }, stgDoubleA),
			bindErr: "boom", sentinel: errBoom},
		{name: "schema nil", stage: Map("bad", func(*arrow.Schema) (*arrow.Schema, error) { return nil, nil }, stgDoubleA),
			bindErr: "returned no schema", sentinel: ErrSchema},
		{name: "schema panics", stage: Map("bad", func(*arrow.Schema) (*arrow.Schema, error) { panic("oops") }, stgDoubleA),
			bindErr: "map bad: schema: pipeline: panic in user function: oops", sentinel: ErrPanic},
		{name: "nil fn", stage: Map("bad", nil, nil), bindErr: "nil function"},
		{name: "batch differs from declared", stage: Map("liar", nil, stgDoubleA),
			applyErr: "map liar: batch schema differs from the declared one", sentinel: ErrSchema},
		{name: "fn error", stage: Map("e", nil,
			func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
				return nil, errBoom
			}), applyErr: "boom", sentinel: errBoom},
		{name: "fn error with batch", stage: Map("e", nil,
			func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
				out, _ := stgDoubleA(ctx, mem, in)
				return out, errBoom
			}), applyErr: "boom", sentinel: errBoom},
		{name: "fn panics", stage: Map("p", nil,
			func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
				var m map[string]int
				m["x"] = 1
				return nil, nil
			}), applyErr: "map p: pipeline: panic in user function: assignment to entry in nil map", sentinel: ErrPanic},
		{name: "fn returns nothing", stage: Map("n", nil,
			func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
				return nil, nil
			}), applyErr: "returned neither a batch nor an error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			in := stgBatch(t, mem, stgSchema("a:int64"), `[{"a":1},{"a":null},{"a":3}]`)
			defer in.Release()
			step, err := tc.stage.Bind(mem, in.Schema())
			if tc.bindErr != "" || err != nil {
				stgWantErr(t, err, tc.bindErr, tc.sentinel)
				return
			}
			_, got, err := stgApply(t, mem, tc.stage, in)
			if !stgWantErr(t, err, tc.applyErr, tc.sentinel) {
				return
			}
			if d := cmp.Diff(tc.fields, stgFields(step.Schema())); d != "" {
				t.Errorf("schema (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.rows, got); d != "" {
				t.Errorf("rows (-want +got):\n%s", d)
			}
		})
	}
}
