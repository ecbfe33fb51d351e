package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kilnml/kiln/pipeline"
)

// CSV infers column types from the first rows and yields batches in file
// order.
func ExampleCSV() {
	ctx := context.Background()
	src := pipeline.CSV("../testdata/seattle-weather.csv", pipeline.CSVOptions{BatchRows: 1000})
	schema, err := src.Schema(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	var cols []string
	for _, f := range schema.Fields() {
		cols = append(cols, f.Name+":"+f.Type.String())
	}
	fmt.Println(strings.Join(cols, " "))
	for batch, err := range src.Batches(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(batch.NumRows(), "rows")
		batch.Release()
	}
	// Output:
	// date:date32 precipitation:float64 temp_max:float64 temp_min:float64 wind:float64 weather:utf8
	// 1000 rows
	// 461 rows
}

// Bad input is a *ParseError that says where it is.
func ExampleCSVReader() {
	text := "id,score\n1,0.5\n2,high\n"
	schema, _ := pipeline.ParseSchemaJSON([]byte(`{"fields":[{"name":"id","type":"int64"},{"name":"score","type":"float64","nullable":true}]}`))
	src := pipeline.CSVReader(strings.NewReader(text), "scores.csv", pipeline.CSVOptions{Schema: schema})
	for batch, err := range src.Batches(context.Background()) {
		var pe *pipeline.ParseError
		if errors.As(err, &pe) {
			fmt.Printf("row %d, column %s, value %q: %v\n", pe.Row, pe.Column, pe.Value, pe.Err)
			return
		}
		batch.Release()
	}
	// Output: row 2, column score, value "high": not a number
}

// A schema for CSV or NDJSON input can come from a JSON file.
func ExampleParseSchemaJSON() {
	schema, err := pipeline.ParseSchemaJSON([]byte(`{"fields":[
		{"name":"date","type":"timestamp","nullable":true},
		{"name":"delay","type":"int64","nullable":true}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(schema.Field(0).Type, schema.Field(1).Type)
	// Output: timestamp[us] int64
}

// A pipeline is a source: its batches can be consumed directly.
func ExamplePipeline_Batches() {
	ctx := context.Background()
	p := pipeline.New(pipeline.CSV("../testdata/iris.csv", pipeline.CSVOptions{}),
		pipeline.Filter(pipeline.Col("target").Eq(2)),
		pipeline.Select("petal_length_cm", "target"))
	rows := int64(0)
	for batch, err := range p.Batches(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		rows += batch.NumRows()
		batch.Release()
	}
	fmt.Println(rows, "virginica rows")
	// Output: 50 virginica rows
}
