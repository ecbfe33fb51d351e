package pipeline_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/kilnml/kiln/pipeline"
)

// TestParquetSinkFloatDictionaryBits: float columns go through Kiln's
// dictionary by their bits: NaN, -0, +0 and ±Inf come back exactly.
func TestParquetSinkFloatDictionaryBits(t *testing.T) {
	vals := []float64{1.5, math.NaN(), math.Copysign(0, -1), 0, 1.5, math.Inf(1), 2.25, 1.5}
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	b.AppendValues(vals, []bool{true, true, true, true, false, true, true, true})
	f32 := array.NewFloat32Builder(memory.DefaultAllocator)
	for _, v := range vals {
		f32.Append(float32(v))
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true}, {Name: "y", Type: arrow.PrimitiveTypes.Float32}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{b.NewArray(), f32.NewArray()}, int64(len(vals)))
	path := filepath.Join(t.TempDir(), "f.parquet")
	if _, err := pipeline.New(pipeline.FromBatches(schema, rec)).Run(context.Background(), pipeline.ToParquet(path, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	for got, err := range pipeline.Parquet(path, pipeline.ParquetOptions{}).Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		x := got.Column(0).(*array.Float64)
		y := got.Column(1).(*array.Float32)
		for i, v := range vals {
			if i == 4 {
				if !x.IsNull(i) {
					t.Errorf("row 4 not null")
				}
			} else if math.Float64bits(x.Value(i)) != math.Float64bits(v) {
				t.Errorf("x row %d: %v want %v", i, x.Value(i), v)
			}
			if math.Float32bits(y.Value(i)) != math.Float32bits(float32(v)) {
				t.Errorf("y row %d: %v want %v", i, y.Value(i), float32(v))
			}
		}
	}
}
