package pipeline

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// skCSVText writes batches through ToCSVWriter and returns the text.
func skCSVText(t testing.TB, opts CSVWriteOptions, batches ...arrow.RecordBatch) string {
	t.Helper()
	var buf bytes.Buffer
	skWriteAll(t, ToCSVWriter(&buf, opts), batches[0].Schema(), batches...)
	return buf.String()
}

func TestCSVSinkValues(t *testing.T) {
	mem := checkedAlloc(t)
	for _, c := range sinkCases {
		t.Run(c.name, func(t *testing.T) {
			// A key column first: in a file of one column, nulls are
			// written as "" to avoid empty lines.
			arr := c.build(mem)
			defer arr.Release()
			key := skFromJSON(arrow.PrimitiveTypes.Int64, `[0, 1, 2, 3]`)(mem)
			defer key.Release()
			schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: key.DataType()}, {Name: c.name, Type: c.typ, Nullable: true}}, nil)
			rec := array.NewRecordBatch(schema, []arrow.Array{key, arr}, 4)
			defer rec.Release()
			got := strings.Split(skCSVText(t, CSVWriteOptions{}, rec), "\n")
			want := []string{"k," + c.name}
			for i, v := range c.csv {
				want = append(want, fmt.Sprintf("%d,%s", i, v))
			}
			want = append(want, "")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSVSinkAllTypes(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skTypesBatch(t, mem)
	defer rec.Release()
	text := skCSVText(t, CSVWriteOptions{Delimiter: ';', NullValue: "NULL"}, rec)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5:\n%s", len(lines), text)
	}
	var header, row1 []string
	for _, c := range sinkCases {
		header = append(header, c.name)
		row1 = append(row1, "NULL")
	}
	if diff := cmp.Diff(strings.Join(header, ";"), lines[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(strings.Join(row1, ";"), lines[2]); diff != "" {
		t.Errorf("all-null row (-want +got):\n%s", diff)
	}
	// Row 3: with ';' as the delimiter the comma no longer needs quotes,
	// and an empty string needs none once nulls are spelled NULL.
	var row3 []string
	for _, c := range sinkCases {
		v := c.csv[2]
		if v == `""` {
			v = ""
		}
		row3 = append(row3, v)
	}
	if diff := cmp.Diff(strings.Join(row3, ";"), lines[3]); diff != "" {
		t.Errorf("row 3 (-want +got):\n%s", diff)
	}
}

// skAwkward holds strings that need quoting or are otherwise hard to write.
var skAwkward = []string{
	"plain",
	"",
	"comma, inside",
	`quote " inside`,
	`"quoted"`,
	"line\nbreak",
	"carriage\rreturn",
	" leading space",
	"trailing space ",
	"\ttab first",
	"semi;colon",
	"ünïcødé ✓ 日本",
	"NA",
	"invalid \xff\xfe utf-8",
	"null\x00byte",
}

func skAwkwardBatch(mem memory.Allocator) arrow.RecordBatch {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues(skAwkward, nil)
	b.AppendNull()
	arr := b.NewArray()
	defer arr.Release()
	return skOneColumn("s", arr)
}

func TestCSVSinkAwkwardStrings(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skAwkwardBatch(mem)
	defer rec.Release()
	for _, opts := range []CSVWriteOptions{{}, {NullValue: "NA"}, {Delimiter: ';'}, {Delimiter: '\t', NullValue: `\N`}} {
		text := skCSVText(t, opts, rec)
		r := csv.NewReader(strings.NewReader(text))
		if opts.Delimiter != 0 {
			r.Comma = opts.Delimiter
		}
		records, err := r.ReadAll()
		if err != nil {
			t.Fatalf("%+v: encoding/csv cannot read the output: %v\n%s", opts, err, text)
		}
		var got []string
		for _, rec := range records[1:] {
			got = append(got, rec[0])
		}
		want := append(append([]string{}, skAwkward...), opts.NullValue)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%+v: values read back (-want +got):\n%s", opts, diff)
		}
		// The null (last row) is bare, but never an empty line; the string
		// equal to the null token is quoted, and so is the empty string.
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		wantNull := opts.NullValue
		if wantNull == "" {
			wantNull = `""`
		}
		if last := lines[len(lines)-1]; last != wantNull {
			t.Errorf("%+v: null written as %q, want %q", opts, last, wantNull)
		}
		if !strings.Contains(text, "\n\"\"\n") {
			t.Errorf("%+v: the empty string is not quoted:\n%s", opts, text)
		}
		if opts.NullValue == "NA" && !strings.Contains(text, "\n\"NA\"\n") {
			t.Errorf("the string NA is not quoted when NullValue is NA:\n%s", text)
		}
	}
}

func TestCSVSinkOptions(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skSimpleBatch(mem, 3)
	defer rec.Release()
	tests := []struct {
		opts CSVWriteOptions
		want string
	}{
		{CSVWriteOptions{}, "id,name\n0,row 0\n1,\n2,row 2\n"},
		{CSVWriteOptions{NoHeader: true}, "0,row 0\n1,\n2,row 2\n"},
		{CSVWriteOptions{Delimiter: '|', NullValue: "?"}, "id|name\n0|row 0\n1|?\n2|row 2\n"},
		{CSVWriteOptions{Delimiter: ' '}, "id name\n0 \"row 0\"\n1 \n2 \"row 2\"\n"},
		{CSVWriteOptions{NullValue: "1"}, "id,name\n0,row 0\n\"1\",1\n2,row 2\n"},
	}
	for _, tt := range tests {
		if got := skCSVText(t, tt.opts, rec); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.opts, got, tt.want)
		}
	}

	ctx := context.Background()
	for _, d := range []rune{'"', '\n', '\r', 'é'} {
		sink := ToCSVWriter(io.Discard, CSVWriteOptions{Delimiter: d})
		if err := sink.Open(ctx, rec.Schema()); err == nil || !strings.Contains(err.Error(), "delimiter") {
			t.Errorf("delimiter %q: Open = %v, want an error", d, err)
		}
		sink.Abort()
	}
}

func TestCSVSinkUnsupported(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ok", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	sink := ToCSV(filepath.Join(t.TempDir(), "x.csv"), CSVWriteOptions{})
	err := sink.Open(context.Background(), schema)
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `column "tags"`) {
		t.Errorf("Open with a list column: %v, want ErrSchema naming the column", err)
	}
	if err := sink.Abort(); err != nil {
		t.Errorf("Abort: %v", err)
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "Mars/Olympus"}}}, nil)
	if err := ToCSVWriter(io.Discard, CSVWriteOptions{}).Open(context.Background(), bad); !errors.Is(err, ErrSchema) {
		t.Errorf("Open with an unknown time zone: %v, want ErrSchema", err)
	}
}

// TestCSVSinkRoundTrip writes typed columns and reads them back with
// arrow-go's CSV reader.
func TestCSVSinkRoundTrip(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: skTsNaiveUS, Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[
		{"i": 1, "f": 0.1, "b": true, "s": "a,b", "d": 11323, "ts": 978352496123456},
		{"i": null, "f": null, "b": null, "s": null, "d": null, "ts": null},
		{"i": -9223372036854775808, "f": 1e300, "b": false, "s": "line\nbreak \"q\"", "d": -1, "ts": -1},
		{"i": 42, "f": -0.5, "b": true, "s": "ünï", "d": 0, "ts": 0}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for _, ext := range []string{".csv", ".csv.gz", ".csv.zst"} {
		path := filepath.Join(t.TempDir(), "rt"+ext)
		skWriteAll(t, ToCSV(path, CSVWriteOptions{}), schema, rec)
		r := arrowcsv.NewReader(bytes.NewReader(skReadBack(t, path)), schema, arrowcsv.WithHeader(true),
			arrowcsv.WithNullReader(true, ""), arrowcsv.WithAllocator(mem), arrowcsv.WithChunk(-1))
		if !r.Next() {
			t.Fatalf("%s: no batch: %v", ext, r.Err())
		}
		back := r.RecordBatch()
		if !array.RecordEqual(rec, back) {
			t.Errorf("%s: read back\n%v\nwant\n%v", ext, back, rec)
		}
		r.Release()
	}
}

// TestCSVSinkIris copies iris.csv through the sink and compares the records
// read back with encoding/csv.
func TestCSVSinkIris(t *testing.T) {
	mem := checkedAlloc(t)
	f, err := os.Open("../testdata/iris.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := arrowcsv.NewInferringReader(f, arrowcsv.WithHeader(true), arrowcsv.WithAllocator(mem), arrowcsv.WithChunk(-1))
	defer r.Release()
	if !r.Next() {
		t.Fatal(r.Err())
	}
	rec := r.RecordBatch()
	text := skCSVText(t, CSVWriteOptions{}, rec)
	orig, _ := os.ReadFile("../testdata/iris.csv")
	want, err := csv.NewReader(bytes.NewReader(orig)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Floats come back in their shortest form: 3.0 is written 3.
	for _, rec := range want[1:] {
		for i, v := range rec {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				rec[i] = strconv.FormatFloat(f, 'g', -1, 64)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("iris through the CSV sink (-want +got):\n%s", diff)
	}
}

// BenchmarkCSVSink writes the 3M-row flights table (timestamp, two int64,
// two strings) as CSV. MB/s counts the CSV bytes produced.
//
//	go test ./pipeline -run '^$' -bench CSVSink
func BenchmarkCSVSink(b *testing.B) {
	batches, _ := skFlightsBatches(b, flights3M, 65536)
	ctx := context.Background()
	var cw skCountWriter
	for b.Loop() {
		cw.n = 0
		sink := ToCSVWriter(&cw, CSVWriteOptions{})
		if err := sink.Open(ctx, batches[0].Schema()); err != nil {
			b.Fatal(err)
		}
		for _, r := range batches {
			if err := sink.Write(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(cw.n)
	b.ReportMetric(float64(3_000_000)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// skCountWriter counts and drops what is written.
type skCountWriter struct{ n int64 }

func (w *skCountWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
