package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"
)

// pqWriteTable writes tbl to path in row groups of rowGroup rows.
func pqWriteTable(t testing.TB, path string, tbl arrow.Table, rowGroup int64, storeSchema bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	arrProps := pqarrow.DefaultWriterProps()
	if storeSchema {
		arrProps = pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd))
	if err := pqarrow.WriteTable(tbl, f, rowGroup, props, arrProps); err != nil {
		t.Fatal(err)
	}
}

// pqWriteBatches writes batches of one schema to a Parquet file.
func pqWriteBatches(t testing.TB, path string, recs ...arrow.RecordBatch) {
	t.Helper()
	tbl := array.NewTableFromRecords(recs[0].Schema(), recs)
	defer tbl.Release()
	pqWriteTable(t, path, tbl, 1<<20, true)
}

// flightsParquet writes testdata/flights-200k.arrow as Parquet with row
// groups of 30,000 rows (seven row groups, the last one short).
func flightsParquet(t testing.TB) (string, arrow.Table) {
	t.Helper()
	tbl := readFlightsArrow(t, memory.DefaultAllocator)
	path := filepath.Join(t.TempDir(), "flights.parquet")
	pqWriteTable(t, path, tbl, 30000, false)
	return path, tbl
}

func TestParquetRoundTrip(t *testing.T) {
	path, tbl := flightsParquet(t)
	want := tableRows(t, tbl)
	tests := []struct {
		name string
		opts ParquetOptions
	}{
		{"defaults", ParquetOptions{}},
		{"one worker", ParquetOptions{Parallelism: 1}},
		{"more workers than row groups", ParquetOptions{Parallelism: 16}},
		{"small batches", ParquetOptions{Parallelism: 3, BatchRows: 4096}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Allocator = checkedAlloc(t)
			src := Parquet(path, tc.opts)
			schema, err := src.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fieldList(tbl.Schema()), fieldList(schema)); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			recs := mustRead(t, src)
			batch := int64(tc.opts.BatchRows)
			if batch == 0 {
				batch = 65536
			}
			for _, r := range recs {
				if r.NumRows() > batch || !r.Schema().Equal(schema) {
					t.Fatalf("batch of %d rows with schema %v", r.NumRows(), r.Schema())
				}
			}
			if diff := diffRows(want, textRows(recs)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if src.TotalBytes() <= 0 || src.BytesRead() <= 0 || src.BytesRead() > src.TotalBytes() {
				t.Errorf("BytesRead %d, TotalBytes %d", src.BytesRead(), src.TotalBytes())
			}
		})
	}
}

func TestParquetBatchesInRowGroupOrder(t *testing.T) {
	path, _ := flightsParquet(t)
	recs := mustRead(t, Parquet(path, ParquetOptions{Allocator: checkedAlloc(t), Parallelism: 4, BatchRows: 20000}))
	// Row groups of 30,000 rows in batches of at most 20,000: 20,000 then
	// 10,000 per row group, and the last row group (20,000 rows) whole.
	want := []int64{20000, 10000, 20000, 10000, 20000, 10000, 20000, 10000, 20000, 10000, 20000, 10000, 20000}
	if diff := cmp.Diff(want, batchSizes(recs)); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

func TestParquetColumns(t *testing.T) {
	path, tbl := flightsParquet(t)
	mem := checkedAlloc(t)
	src := Parquet(path, ParquetOptions{Columns: []string{"time", "delay"}, Allocator: mem, BatchRows: 50000})
	schema, err := src.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"time float32 nullable", "delay int16 nullable"}, fieldList(schema)); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	got := textRows(mustRead(t, src))
	all := tableRows(t, tbl)
	idx := map[string]int{}
	for i, f := range tbl.Schema().Fields() {
		idx[f.Name] = i
	}
	want := make([][]string, len(all))
	for i, r := range all {
		want[i] = []string{r[idx["time"]], r[idx["delay"]]}
	}
	if diff := diffRows(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestParquetErrors(t *testing.T) {
	path, _ := flightsParquet(t)
	gz := filepath.Join(t.TempDir(), "flights.parquet.gz")
	if err := os.WriteFile(gz, []byte("not really gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		opts    ParquetOptions
		is      error    // errors.Is target, if any
		message []string // substrings of the message
	}{
		{"unknown column", path, ParquetOptions{Columns: []string{"delay", "nope"}}, ErrSchema,
			[]string{`no column "nope"`, `"delay", "distance", "time"`}},
		{"column twice", path, ParquetOptions{Columns: []string{"delay", "delay"}}, nil, []string{`"delay" is listed twice`}},
		{"compressed", gz, ParquetOptions{}, nil, []string{"decompress the file first"}},
		{"not parquet", "../testdata/iris.csv", ParquetOptions{}, nil, []string{"not a readable Parquet file"}},
		{"missing", filepath.Join(t.TempDir(), "nope.parquet"), ParquetOptions{}, fs.ErrNotExist, nil},
		{"directory", t.TempDir(), ParquetOptions{}, nil, []string{"is a directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Allocator = checkedAlloc(t)
			src := Parquet(tc.path, tc.opts)
			_, serr := src.Schema(context.Background())
			_, berr := readSource(t, src)
			for _, err := range []error{serr, berr} {
				if err == nil {
					t.Fatal("no error")
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("error %v, want one wrapping %v", err, tc.is)
				}
				for _, m := range tc.message {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not say %q", err, m)
					}
				}
			}
		})
	}
}

func TestParquetEarlyBreakAndCancel(t *testing.T) {
	path, _ := flightsParquet(t)
	for _, par := range []int{1, 2, 8} {
		mem := checkedAlloc(t)
		src := Parquet(path, ParquetOptions{Allocator: mem, Parallelism: par, BatchRows: 5000})
		checkEarlyStop(t, src, 3)
		checkCancel(t, src)
		mem.AssertSize(t, 0)
	}
}

// TestParquetTypes checks how column types come back: strings (which the
// writer dictionary-encodes) as plain strings, a dictionary column as
// dictionary only when the file stores the Arrow schema, and timestamps,
// dates, booleans and nulls as written.
func TestParquetTypes(t *testing.T) {
	mem := checkedAlloc(t)
	tsUTC := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "d", Type: dict, Nullable: true},
		{Name: "ts", Type: tsUTC, Nullable: true},
		{Name: "naive", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: false},
		{Name: "big", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for i := range 6 {
		word := []string{"ORD", "SFO", "ORD"}[i%3]
		if i == 4 {
			b.Field(0).AppendNull()
			b.Field(1).AppendNull()
			b.Field(2).AppendNull()
			b.Field(3).AppendNull()
			b.Field(4).AppendNull()
			b.Field(6).AppendNull()
		} else {
			b.Field(0).(*array.StringBuilder).Append(word)
			if err := b.Field(1).(*array.BinaryDictionaryBuilder).AppendString(word); err != nil {
				t.Fatal(err)
			}
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 3600e6))
			b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(int64(i) * 60e6))
			b.Field(4).(*array.Date32Builder).Append(arrow.Date32(11323 + i))
			b.Field(6).(*array.LargeStringBuilder).Append(word + "!")
		}
		b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	wantRows := textRows([]arrow.RecordBatch{rec})
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()

	tests := []struct {
		name        string
		storeSchema bool
		want        []string
	}{
		{"arrow schema stored", true, []string{
			"s utf8 nullable", "d dictionary<values=utf8, indices=int32, ordered=false> nullable",
			"ts timestamp[us, tz=UTC] nullable", "naive timestamp[us] nullable", "day date32 nullable",
			"ok bool", "big large_utf8 nullable"}},
		{"no arrow schema", false, []string{
			"s utf8 nullable", "d utf8 nullable",
			"ts timestamp[us, tz=UTC] nullable", "naive timestamp[us] nullable", "day date32 nullable",
			"ok bool", "big utf8 nullable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "types.parquet")
			pqWriteTable(t, path, tbl, 4, tc.storeSchema)
			src := Parquet(path, ParquetOptions{Allocator: mem})
			schema, err := src.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, fieldList(schema)); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			recs := mustRead(t, src)
			if diff := cmp.Diff([]int64{4, 2}, batchSizes(recs)); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
			for _, r := range recs {
				for _, f := range r.Schema().Fields() {
					if f.HasMetadata() {
						t.Errorf("field %q keeps metadata %v", f.Name, f.Metadata)
					}
				}
			}
			if diff := diffRows(wantRows, textRows(recs)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParquetFlights3M reads the real 3-million-row file when it is present
// and checks its schema (the date column is a naive timestamp; Polars wrote
// the strings as large_string) and row count.
func TestParquetFlights3M(t *testing.T) {
	if _, err := os.Stat(flights3M); err != nil {
		t.Skipf("%s not present", flights3M)
	}
	if testing.Short() {
		t.Skip("reads 3M rows")
	}
	src := Parquet(flights3M, ParquetOptions{Allocator: checkedAlloc(t), Columns: []string{"date", "origin"}})
	schema, err := src.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"date timestamp[us] nullable", "origin large_utf8 nullable"}, fieldList(schema)); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	var rows int64
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rows += rec.NumRows()
		rec.Release()
	}
	if rows != 3000000 {
		t.Errorf("%d rows, want 3,000,000", rows)
	}
}

// TestParquetMatchesCSV reads the 20,000 flights of testdata as Parquet and
// as CSV and expects the same schema and rows.
func TestParquetMatchesCSV(t *testing.T) {
	mem := checkedAlloc(t)
	pq := Parquet("../testdata/flights-20k.parquet", ParquetOptions{Allocator: mem, BatchRows: 3000})
	csv := CSV("../testdata/flights-20k.csv", CSVOptions{Allocator: mem})
	pqSchema, err := pq.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	csvSchema, err := csv.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"date timestamp[us] nullable", "delay int64 nullable", "distance int64 nullable",
		"origin utf8 nullable", "destination utf8 nullable"}
	if diff := cmp.Diff(want, fieldList(pqSchema)); diff != "" {
		t.Errorf("Parquet schema (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fieldList(csvSchema), fieldList(pqSchema)); diff != "" {
		t.Errorf("Parquet and CSV schemas differ (-csv +parquet):\n%s", diff)
	}
	pqRows := textRows(mustRead(t, pq))
	if len(pqRows) != 20000 {
		t.Fatalf("%d rows, want 20,000", len(pqRows))
	}
	if diff := diffRows(textRows(mustRead(t, csv)), pqRows); diff != "" {
		t.Errorf("rows (-csv +parquet):\n%s", diff)
	}
}

// TestParquetBoundedMemory reads 50 row groups with a consumer that lets
// the decoders run ahead as far as they may at every batch, and checks that
// no more than Parallelism row groups were ever started and not yet
// consumed.
func TestParquetBoundedMemory(t *testing.T) {
	tbl := readFlightsArrow(t, memory.DefaultAllocator)
	path := filepath.Join(t.TempDir(), "flights.parquet")
	pqWriteTable(t, path, tbl, 4000, false) // 50 row groups
	for _, par := range []int{1, 2, 4} {
		src := Parquet(path, ParquetOptions{Allocator: checkedAlloc(t), Parallelism: par, BatchRows: 2000})
		batches := 0
		for rec, err := range src.Batches(context.Background()) {
			if err != nil {
				t.Fatal(err)
			}
			for range 100 {
				runtime.Gosched()
			}
			rec.Release()
			batches++
		}
		t.Logf("parallelism %d: at most %d row groups ahead", par, src.maxAhead.Load())
		if got := src.maxAhead.Load(); got > int64(par) || got < 1 {
			t.Errorf("parallelism %d: %d row groups were decoded ahead", par, got)
		}
		if batches != 100 {
			t.Errorf("parallelism %d: %d batches, want 100", par, batches)
		}
	}
}

// TestEmptyInputs reads inputs with a schema and no rows: every source
// yields no batches and no error.
func TestEmptyInputs(t *testing.T) {
	mem := checkedAlloc(t)
	dir := t.TempDir()
	empty := array.NewTableFromRecords(idName, nil)
	defer empty.Release()
	pq := filepath.Join(dir, "empty.parquet")
	pqWriteTable(t, pq, empty, 1000, true)
	arrowFile := srcWriteFile(t, dir, "empty.arrow", ipcBytes(t, empty, true, 10))
	arrowStream := srcWriteFile(t, dir, "empty.arrows", ipcBytes(t, empty, false, 10))
	nd := srcWriteFile(t, dir, "empty.ndjson", []byte("\n\n"))
	sources := map[string]Source{
		"parquet":      Parquet(pq, ParquetOptions{Allocator: mem}),
		"arrow file":   Arrow(arrowFile, ArrowOptions{Allocator: mem}),
		"arrow stream": Arrow(arrowStream, ArrowOptions{Allocator: mem}),
		"ndjson":       NDJSON(nd, NDJSONOptions{Allocator: mem, Schema: idName}),
		"structs":      FromStructs([]stPoint(nil), StructOptions{Allocator: mem}),
		"table":        FromTable(empty, 10),
		"glob":         Glob(filepath.Join(dir, "empty.*"), GlobOptions{Allocator: mem}),
	}
	for name, src := range sources {
		schema, err := src.Schema(context.Background())
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if name != "structs" {
			if diff := cmp.Diff(fieldList(idName), fieldList(schema)); diff != "" {
				t.Errorf("%s: schema (-want +got):\n%s", name, diff)
			}
		}
		recs, err := readSource(t, src)
		if err != nil || len(recs) != 0 {
			t.Errorf("%s: %d batches, error %v", name, len(recs), err)
		}
	}
}

// TestParquetDictionaryFallback reads string columns that the writer
// dictionary-encodes until the dictionary outgrows its limit and then
// writes plain pages, within one column chunk, and columns never
// dictionary-encoded.
func TestParquetDictionaryFallback(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range 30000 {
		if i%7 == 3 {
			b.Field(0).AppendNull()
			b.Field(1).AppendNull()
			b.Field(2).AppendNull()
			continue
		}
		v := fmt.Sprintf("value-%d", i%5000) // 5,000 distinct values, then repeats
		if i > 20000 {
			v = fmt.Sprintf("late-%d", i) // all new: the dictionary overflows
		}
		b.Field(0).(*array.StringBuilder).Append(v)
		b.Field(1).(*array.LargeStringBuilder).Append(strings.ToUpper(v))
		b.Field(2).(*array.BinaryBuilder).Append([]byte(v[:3]))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	want := textRows([]arrow.RecordBatch{rec})
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	for _, dict := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "strings.parquet")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		props := parquet.NewWriterProperties(parquet.WithDictionaryDefault(dict),
			parquet.WithDictionaryPageSizeLimit(16<<10), parquet.WithDataPageSize(8<<10))
		if err := pqarrow.WriteTable(tbl, f, 12000, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
			t.Fatal(err)
		}
		if dict { // check the file holds what the test is about
			pf, err := file.OpenParquetFile(path, false)
			if err != nil {
				t.Fatal(err)
			}
			cc, err := pf.MetaData().RowGroup(2).ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			pages := map[parquet.Encoding]bool{}
			for _, st := range cc.EncodingStats() {
				pages[st.Encoding] = true
			}
			if !pages[parquet.Encodings.RLEDict] || !pages[parquet.Encodings.Plain] {
				t.Errorf("the last row group's pages are %v, want both dictionary and plain pages", cc.EncodingStats())
			}
			pf.Close()
		}
		for _, batch := range []int{0, 1000} {
			src := Parquet(path, ParquetOptions{Allocator: checkedAlloc(t), BatchRows: batch})
			recs := mustRead(t, src)
			if diff := cmp.Diff(fieldList(schema), fieldList(recs[0].Schema())); diff != "" {
				t.Errorf("dictionary %v: schema (-want +got):\n%s", dict, diff)
			}
			if diff := diffRows(want, textRows(recs)); diff != "" {
				t.Errorf("dictionary %v, batch %d: rows (-want +got):\n%s", dict, batch, diff)
			}
		}
	}
}

// TestParquetNested passes list and struct columns through, and projects
// them by their top-level names.
func TestParquetNested(t *testing.T) {
	loc := arrow.StructOf(
		arrow.Field{Name: "lat", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		arrow.Field{Name: "lon", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "loc", Type: loc, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range 3 {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		lb := b.Field(1).(*array.ListBuilder)
		lb.Append(true)
		for j := range i {
			lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("t%d", j))
		}
		sb := b.Field(2).(*array.StructBuilder)
		sb.Append(true)
		sb.FieldBuilder(0).(*array.Float64Builder).Append(float64(i) + 0.5)
		sb.FieldBuilder(1).(*array.Float64Builder).Append(-float64(i))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "nested.parquet")
	pqWriteBatches(t, path, rec)

	recs := mustRead(t, Parquet(path, ParquetOptions{Allocator: checkedAlloc(t)}))
	if diff := diffRows(textRows([]arrow.RecordBatch{rec}), textRows(recs)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	recs = mustRead(t, Parquet(path, ParquetOptions{Allocator: checkedAlloc(t), Columns: []string{"loc", "id"}}))
	want := [][]string{{`{"lat":0.5,"lon":-0}`, "0"}, {`{"lat":1.5,"lon":-1}`, "1"}, {`{"lat":2.5,"lon":-2}`, "2"}}
	if diff := cmp.Diff(want, textRows(recs)); diff != "" {
		t.Errorf("projected rows (-want +got):\n%s", diff)
	}
}
