package features_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/pipeline"
)

// trainingBatch builds a small batch of flights: delay (with a null) and
// distance.
func trainingBatch() arrow.RecordBatch {
	mem := memory.DefaultAllocator
	delay := array.NewFloat64Builder(mem)
	delay.AppendValues([]float64{10, 0, 30, 0}, []bool{true, false, true, true})
	dist := array.NewInt64Builder(mem)
	dist.AppendValues([]int64{100, 300, 200, 400}, nil)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "delay", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "distance", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	cols := []arrow.Array{delay.NewArray(), dist.NewArray()}
	rec := array.NewRecordBatch(schema, cols, 4)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// Fit a column transformer on training data, save it, load it in a
// service and apply it to one request.
func Example() {
	ctx := context.Background()
	spec, err := features.ParseSpec([]byte(`{"transforms":[
		{"name":"impute","columns":["delay"],"strategy":"median","add_indicator":true},
		{"name":"minmax","columns":["distance"]}
	]}`))
	if err != nil {
		panic(err)
	}
	ct, err := features.New(spec)
	if err != nil {
		panic(err)
	}
	rec := trainingBatch()
	defer rec.Release()
	src := pipeline.FromBatches(rec.Schema(), rec)
	defer src.Release()
	if err := ct.Fit(ctx, src, features.FitOptions{}); err != nil {
		panic(err)
	}
	fmt.Println(ct.Outputs())

	// Training: a dense float32 matrix, one row per input row.
	m, err := ct.Matrix(rec, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(m)

	// Serving: save the fitted state, load it, apply it to one row.
	state, err := json.Marshal(ct)
	if err != nil {
		panic(err)
	}
	served, err := features.Load(state)
	if err != nil {
		panic(err)
	}
	out, err := served.ApplyRow(map[string]features.Value{
		"delay":    features.Null(),
		"distance": features.Int(250),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(out)
	// Output:
	// [delay delay_missing distance]
	// [10 0 0 10 1 0.6666667 30 0 0.33333334 0 0 1]
	// [10 1 0.5]
}
