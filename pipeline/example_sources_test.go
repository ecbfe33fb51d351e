package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// printSource prints a source's columns and its rows (at most limit).
func printSource(src pipeline.Source, limit int) {
	ctx := context.Background()
	schema, err := src.Schema(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var cols []string
	for _, f := range schema.Fields() {
		cols = append(cols, f.Name+":"+f.Type.String())
	}
	fmt.Println(strings.Join(cols, " "))
	rows := 0
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		for i := range int(rec.NumRows()) {
			if rows < limit {
				var vals []string
				for _, c := range rec.Columns() {
					vals = append(vals, c.ValueStr(i))
				}
				fmt.Println(strings.Join(vals, " "))
			}
			rows++
		}
		rec.Release() // the consumer owns each batch
	}
	fmt.Println(rows, "rows")
}

func ExampleParquet() {
	src := pipeline.Parquet("../testdata/flights-20k.parquet", pipeline.ParquetOptions{
		Columns: []string{"origin", "destination", "delay"},
	})
	printSource(src, 2)
	// Output:
	// origin:utf8 destination:utf8 delay:int64
	// LAS PHL 33
	// ATL SAV 19
	// 20000 rows
}

func ExampleNDJSONReader() {
	logs := `{"ts":"2024-05-01T10:00:00Z","user":"ann","ms":12,"tags":["a"]}
{"ts":"2024-05-01T10:00:01Z","user":"bob","ms":7.5}

{"ts":"2024-05-01T10:00:02Z","user":null,"ms":3,"ok":true}
`
	src := pipeline.NDJSONReader(strings.NewReader(logs), "logs", pipeline.NDJSONOptions{})
	printSource(src, 10)
	// Output:
	// ts:timestamp[us, tz=UTC] user:utf8 ms:float64 tags:utf8 ok:bool
	// 2024-05-01T10:00:00Z ann 12 ["a"] (null)
	// 2024-05-01T10:00:01Z bob 7.5 (null) (null)
	// 2024-05-01T10:00:02Z (null) 3 (null) true
	// 3 rows
}

func ExampleNDJSON() {
	dir, err := os.MkdirTemp("", "kiln-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.ndjson")
	text := "{\"id\":1,\"day\":\"2024-01-31\"}\n{\"id\":2,\"day\":\"2024-02-01\",\"unknown\":1}\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
	// With an explicit schema nothing is inferred; keys that are not
	// columns are skipped unless RejectUnknownKeys is set.
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	}, nil)
	printSource(pipeline.NDJSON(path, pipeline.NDJSONOptions{Schema: schema}), 10)

	strict := pipeline.NDJSON(path, pipeline.NDJSONOptions{Schema: schema, RejectUnknownKeys: true})
	for rec, err := range strict.Batches(context.Background()) {
		if err != nil {
			fmt.Println(strings.ReplaceAll(err.Error(), path, "events.ndjson"))
			break
		}
		rec.Release()
	}
	// Output:
	// id:int32 day:date32
	// 1 2024-01-31
	// 2 2024-02-01
	// 2 rows
	// pipeline: events.ndjson: row 2 (byte 28): column "unknown": value "": key is not a column of the schema (NDJSONOptions.RejectUnknownKeys)
}

func ExampleArrow() {
	src := pipeline.Arrow("../testdata/flights-200k.arrow", pipeline.ArrowOptions{Columns: []string{"time", "delay"}})
	printSource(src, 2)
	// Output:
	// time:float32 delay:int16
	// 0 0
	// 0 171
	// 200000 rows
}

func ExampleArrowStream() {
	// Write two batches in the IPC stream format, as a service might send
	// them, and read them back.
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	for _, vals := range [][]int64{{1, 2}, {3}} {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		b.Field(0).(*array.Int64Builder).AppendValues(vals, nil)
		rec := b.NewRecordBatch()
		if err := w.Write(rec); err != nil {
			log.Fatal(err)
		}
		rec.Release()
		b.Release()
	}
	w.Close()
	printSource(pipeline.ArrowStream(&buf, "stream", pipeline.ArrowOptions{}), 10)
	// Output:
	// x:int64
	// 1
	// 2
	// 3
	// 3 rows
}

func ExampleFromBatches() {
	schema := arrow.NewSchema([]arrow.Field{{Name: "word", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"kiln", "fires"}, nil)
	rec := b.NewRecordBatch()
	src := pipeline.FromBatches(schema, rec)
	rec.Release()       // the source holds its own reference
	defer src.Release() // release the batches when done with the source
	printSource(src, 10)
	// Output:
	// word:utf8
	// kiln
	// fires
	// 2 rows
}

func ExampleFromTable() {
	f, err := os.Open("../testdata/flights-200k.arrow")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.RecordBatch
	for i := range r.NumRecords() {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			log.Fatal(err)
		}
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	for _, rec := range recs {
		rec.Release()
	}
	src := pipeline.FromTable(tbl, 50000)
	tbl.Release()
	defer src.Release()
	var sizes []int64
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			log.Fatal(err)
		}
		sizes = append(sizes, rec.NumRows())
		rec.Release()
	}
	fmt.Println(sizes)
	// Output:
	// [50000 50000 50000 50000]
}

// Prediction is a row a service logs; the parquet tags name the columns, so
// the same struct can be written with parquet-go.
type Prediction struct {
	Model   string    `parquet:"model"`
	At      time.Time `parquet:"at"`
	Score   float64   `parquet:"score"`
	Label   *string   `parquet:"label"` // nil: not labelled yet
	Latency int32     `parquet:"latency_ms"`
	Debug   string    `parquet:"-"`
}

func ExampleFromStructs() {
	spam := "spam"
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	rows := []Prediction{
		{Model: "v1", At: at, Score: 0.93, Label: &spam, Latency: 4},
		{Model: "v2", At: at.Add(time.Second), Score: 0.12, Latency: 6, Debug: "not a column"},
	}
	printSource(pipeline.FromStructs(rows, pipeline.StructOptions{}), 10)
	// Output:
	// model:utf8 at:timestamp[us, tz=UTC] score:float64 label:utf8 latency_ms:int32
	// v1 2024-05-01T12:00:00Z 0.93 spam 4
	// v2 2024-05-01T12:00:01Z 0.12 (null) 6
	// 2 rows
}

func ExampleFromSeq() {
	type reading struct {
		Sensor string
		Value  float64
	}
	// Any iterator works: a channel drained, rows decoded from a socket...
	values := slices.Values([]reading{{"a", 1.5}, {"b", -2}, {"a", 3}})
	printSource(pipeline.FromSeq(values, pipeline.StructOptions{BatchRows: 2}), 10)
	// Output:
	// Sensor:utf8 Value:float64
	// a 1.5
	// b -2
	// a 3
	// 3 rows
}

func ExampleDir() {
	root, err := os.MkdirTemp("", "kiln-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	files := map[string]string{
		"month=1/region=eu/part-0.ndjson": `{"sales":10}`,
		"month=1/region=us/part-0.ndjson": `{"sales":20}`,
		"month=2/region=eu/part-0.ndjson": `{"sales":30}` + "\n" + `{"sales":31}`,
		"_SUCCESS":                        "",
	}
	for name, text := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	printSource(pipeline.Dir(root, pipeline.GlobOptions{}), 10)
	// Output:
	// sales:int64 month:int64 region:utf8
	// 10 1 eu
	// 20 1 us
	// 30 2 eu
	// 31 2 eu
	// 4 rows
}

func ExampleGlob() {
	// The same 20,000 flights as CSV and as Parquet: one source of 40,000
	// rows. The Parquet file's columns must match the CSV file's.
	printSource(pipeline.Glob("../testdata/flights-20k.*", pipeline.GlobOptions{}), 1)
	// Output:
	// date:timestamp[us] delay:int64 distance:int64 origin:utf8 destination:utf8
	// 2001-01-01T00:01:00 33 2176 LAS PHL
	// 40000 rows
}
