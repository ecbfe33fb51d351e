package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/kilnml/kiln/pipeline"
)

// exampleBatch returns a small batch of readings.
func exampleBatch() arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "station", Type: arrow.BinaryTypes.String},
		{Name: "at", Type: &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Name: "temp", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(`[
		{"station": "Oslo, Blindern", "at": 978352496000000, "temp": -3.5},
		{"station": "Tromsø", "at": 978352496250000, "temp": null}
	]`))
	if err != nil {
		log.Fatal(err)
	}
	return rec
}

// Write a CSV file to Parquet. The file appears only once the run has
// succeeded.
func ExampleToParquet() {
	dir, _ := os.MkdirTemp("", "kiln-example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "iris.parquet")

	p := pipeline.New(pipeline.CSV("../testdata/iris.csv", pipeline.CSVOptions{}))
	sink := pipeline.ToParquet(out, pipeline.ParquetWriteOptions{Compression: "zstd"})
	stats, err := p.Run(context.Background(), sink, pipeline.RunOptions{})
	if err != nil {
		log.Fatal(err)
	}
	_, err = os.Stat(out)
	fmt.Println(stats.RowsWritten, "rows written; file exists:", err == nil)
	// Output: 150 rows written; file exists: true
}

// A sink can be driven by hand: Open, Write, then Commit (or Abort).
func ExampleToCSVWriter() {
	rec := exampleBatch()
	defer rec.Release()
	ctx := context.Background()

	sink := pipeline.ToCSVWriter(os.Stdout, pipeline.CSVWriteOptions{NullValue: "NA"})
	if err := sink.Open(ctx, rec.Schema()); err != nil {
		log.Fatal(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		sink.Abort()
		log.Fatal(err)
	}
	if err := sink.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// station,at,temp
	// "Oslo, Blindern",2001-01-01 12:34:56,-3.5
	// Tromsø,2001-01-01 12:34:56.25,NA
}

// Write a gzip-compressed CSV file; .tsv would use tabs.
func ExampleToCSV() {
	dir, _ := os.MkdirTemp("", "kiln-example")
	defer os.RemoveAll(dir)
	rec := exampleBatch()
	defer rec.Release()
	src := pipeline.FromBatches(rec.Schema(), rec)
	defer src.Release()

	out := filepath.Join(dir, "readings.csv.gz")
	if _, err := pipeline.New(src).Run(context.Background(), pipeline.ToCSV(out, pipeline.CSVWriteOptions{}), pipeline.RunOptions{}); err != nil {
		log.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output: readings.csv.gz
}

func ExampleToNDJSONWriter() {
	rec := exampleBatch()
	defer rec.Release()
	ctx := context.Background()

	sink := pipeline.ToNDJSONWriter(os.Stdout, pipeline.NDJSONWriteOptions{})
	if err := sink.Open(ctx, rec.Schema()); err != nil {
		log.Fatal(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		sink.Abort()
		log.Fatal(err)
	}
	if err := sink.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"station":"Oslo, Blindern","at":"2001-01-01T12:34:56","temp":-3.5}
	// {"station":"Tromsø","at":"2001-01-01T12:34:56.25","temp":null}
}

// Write NDJSON lines, leaving nulls out, to a zstd-compressed file.
func ExampleToNDJSON() {
	dir, _ := os.MkdirTemp("", "kiln-example")
	defer os.RemoveAll(dir)
	p := pipeline.New(pipeline.CSV("../testdata/iris.csv", pipeline.CSVOptions{}))
	out := filepath.Join(dir, "iris.jsonl.zst")
	stats, err := p.Run(context.Background(), pipeline.ToNDJSON(out, pipeline.NDJSONWriteOptions{OmitNulls: true}), pipeline.RunOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.RowsWritten, "lines")
	// Output: 150 lines
}

// Write an Arrow IPC file (Feather v2) with compressed buffers.
func ExampleToArrow() {
	dir, _ := os.MkdirTemp("", "kiln-example")
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "iris.arrow")
	p := pipeline.New(pipeline.CSV("../testdata/iris.csv", pipeline.CSVOptions{}))
	if _, err := p.Run(context.Background(), pipeline.ToArrow(out, pipeline.ArrowWriteOptions{Compression: "lz4"}), pipeline.RunOptions{}); err != nil {
		log.Fatal(err)
	}
	f, _ := os.Open(out)
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Println(r.Schema().Field(0).Name, r.NumRecords() > 0)
	// Output: sepal_length_cm true
}

// Stream batches to any writer, for example an HTTP response.
func ExampleToArrowStream() {
	rec := exampleBatch()
	defer rec.Release()
	src := pipeline.FromBatches(rec.Schema(), rec)
	defer src.Release()

	var buf bytes.Buffer
	if _, err := pipeline.New(src).Run(context.Background(), pipeline.ToArrowStream(&buf, pipeline.ArrowWriteOptions{}), pipeline.RunOptions{}); err != nil {
		log.Fatal(err)
	}
	r, err := ipc.NewReader(&buf)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Release()
	for r.Next() {
		fmt.Println(r.RecordBatch().NumRows(), "rows of", r.Schema().NumFields(), "columns")
	}
	// Output: 2 rows of 3 columns
}

// Collect a run's output in memory.
func ExampleCollect() {
	p := pipeline.New(pipeline.CSV("../testdata/iris.csv", pipeline.CSVOptions{}))
	sink := pipeline.Collect()
	if _, err := p.Run(context.Background(), sink, pipeline.RunOptions{}); err != nil {
		log.Fatal(err)
	}
	tbl := sink.Table()
	defer tbl.Release() // the table belongs to the caller
	fmt.Println(tbl.NumRows(), "rows,", tbl.NumCols(), "columns")
	// Output: 150 rows, 5 columns
}

// Pick the sink from the output file's name.
func ExampleSinkFor() {
	for _, name := range []string{"out.parquet", "out.feather", "out.tsv.gz", "out.jsonl", "out.xlsx"} {
		sink, err := pipeline.SinkFor(name)
		if err != nil {
			fmt.Println(name, "→ error")
			continue
		}
		fmt.Printf("%s → %T\n", name, sink)
	}
	// Output:
	// out.parquet → *pipeline.ParquetSink
	// out.feather → *pipeline.ArrowSink
	// out.tsv.gz → *pipeline.CSVSink
	// out.jsonl → *pipeline.NDJSONSink
	// out.xlsx → error
}
