package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// readAll reads every batch of src and returns the schema, the rows as
// strings (nil for null) and the first error.
func readAll(t testing.TB, src Source) (*arrow.Schema, [][]any, error) {
	t.Helper()
	ctx := context.Background()
	sc, err := src.Schema(ctx)
	if err != nil {
		return nil, nil, err
	}
	var rows [][]any
	for b, err := range src.Batches(ctx) {
		if err != nil {
			return sc, rows, err
		}
		if !b.Schema().Equal(sc) {
			t.Errorf("batch schema %v differs from source schema %v", b.Schema(), sc)
		}
		for i := range int(b.NumRows()) {
			row := make([]any, b.NumCols())
			for j, c := range b.Columns() {
				if c.IsNull(i) {
					continue
				}
				row[j] = c.ValueStr(i)
			}
			rows = append(rows, row)
		}
		b.Release()
	}
	return sc, rows, nil
}

func csvText(t testing.TB, text string, opts CSVOptions) (*arrow.Schema, [][]any, error) {
	t.Helper()
	mem := checkedAlloc(t)
	opts.Allocator = mem
	return readAll(t, CSVReader(strings.NewReader(text), "test.csv", opts))
}

func typesOf(sc *arrow.Schema) []string {
	var out []string
	for _, f := range sc.Fields() {
		out = append(out, f.Name+":"+f.Type.String())
	}
	return out
}

func TestCSVInferenceRealFiles(t *testing.T) {
	tests := []struct {
		file  string
		rows  int
		types []string // first columns
		first []any
	}{
		{"iris.csv", 150, []string{"sepal_length_cm:float64", "sepal_width_cm:float64", "petal_length_cm:float64", "petal_width_cm:float64", "target:int64"},
			[]any{"5.1", "3.5", "1.4", "0.2", "0"}},
		{"seattle-weather.csv", 1461, []string{"date:date32", "precipitation:float64", "temp_max:float64", "temp_min:float64", "wind:float64", "weather:utf8"},
			[]any{"2012-01-01", "0", "12.8", "5", "4.7", "drizzle"}},
		{"digits.csv.gz", 1797, nil, nil},
		{"wine.csv", 178, nil, nil},
		{"breast_cancer.csv", 569, nil, nil},
		{"diabetes.csv", 442, nil, nil},
		{"flights-20k.csv", 20000, []string{"date:timestamp[us]", "delay:int64", "distance:int64", "origin:utf8", "destination:utf8"},
			[]any{"2001-01-01T00:01:00", "33", "2176", "LAS", "PHL"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			mem := checkedAlloc(t)
			src := CSV(filepath.Join("..", "testdata", tt.file), CSVOptions{Allocator: mem, BatchRows: 1000})
			sc, rows, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tt.rows {
				t.Errorf("rows = %d, want %d", len(rows), tt.rows)
			}
			if tt.types != nil {
				if diff := cmp.Diff(tt.types, typesOf(sc)[:len(tt.types)]); diff != "" {
					t.Errorf("types (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.first, rows[0][:len(tt.first)]); diff != "" {
					t.Errorf("first row (-want +got):\n%s", diff)
				}
			}
			if src.BytesRead() == 0 || src.TotalBytes() <= 0 {
				t.Errorf("BytesRead %d TotalBytes %d, want both > 0", src.BytesRead(), src.TotalBytes())
			}
		})
	}
}

func TestCSVDialect(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		opts  CSVOptions
		types []string
		rows  [][]any
	}{
		{"quoted delimiters quotes and newlines",
			"id,text\n1,\"a,b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,\"\"\n5,\n",
			CSVOptions{}, []string{"id:int64", "text:utf8"},
			[][]any{{"1", "a,b"}, {"2", `say "hi"`}, {"3", "two\nlines"}, {"4", ""}, {"5", nil}}},
		{"CRLF, BOM, no final newline",
			"\xef\xbb\xbfa,b\r\n1,x\r\n2,\"y\r\nz\"\r\n3,w",
			CSVOptions{}, []string{"a:int64", "b:utf8"},
			[][]any{{"1", "x"}, {"2", "y\r\nz"}, {"3", "w"}}},
		{"blank lines skipped",
			"a\n\n1\n\r\n2\n\n",
			CSVOptions{}, []string{"a:int64"}, [][]any{{"1"}, {"2"}}},
		{"null tokens",
			"a,b\nNA,x\n2,NULL\n\"NA\",\"\"\n",
			CSVOptions{NullValues: []string{"NA", "NULL"}}, []string{"a:utf8", "b:utf8"},
			[][]any{{nil, "x"}, {"2", nil}, {"NA", ""}}},
		{"null tokens keep numeric types",
			"a,b\nNA,1.5\n2,NA\n",
			CSVOptions{NullValues: []string{"NA"}}, []string{"a:int64", "b:float64"},
			[][]any{{nil, "1.5"}, {"2", nil}}},
		{"tab delimiter, no header",
			"1\tx\t2020-01-02\n2\ty\t\n",
			CSVOptions{Delimiter: '\t', NoHeader: true}, []string{"column_1:int64", "column_2:utf8", "column_3:date32"},
			[][]any{{"1", "x", "2020-01-02"}, {"2", "y", nil}}},
		{"bools, ints that overflow, floats",
			"b,i,f\ntrue,9223372036854775807,1e3\nFALSE,9223372036854775808,-0.5\n",
			CSVOptions{}, []string{"b:bool", "i:float64", "f:float64"},
			[][]any{{"true", "9.223372036854776e+18", "1000"}, {"false", "9.223372036854776e+18", "-0.5"}}},
		{"timestamps naive and zoned",
			"n,z\n2021-03-04 05:06:07,2021-03-04T05:06:07Z\n2021-03-04T05:06:07.25,2021-03-04T07:06:07+02:00\n",
			CSVOptions{}, []string{"n:timestamp[us]", "z:timestamp[us, tz=UTC]"},
			[][]any{{"2021-03-04T05:06:07", "2021-03-04T05:06:07Z"}, {"2021-03-04T05:06:07.25", "2021-03-04T05:06:07Z"}}},
		{"mixed zones fall back to string",
			"t\n2021-03-04 05:06:07\n2021-03-04T05:06:07Z\n",
			CSVOptions{}, []string{"t:utf8"},
			[][]any{{"2021-03-04 05:06:07"}, {"2021-03-04T05:06:07Z"}}},
		{"custom timestamp layout",
			"t\n03/04/2021 05:06\n",
			CSVOptions{TimestampLayouts: []string{"01/02/2006 15:04"}}, []string{"t:timestamp[us]"},
			[][]any{{"2021-03-04T05:06:00"}}},
		{"header only",
			"a,b\n", CSVOptions{}, []string{"a:utf8", "b:utf8"}, nil},
		{"empty header names",
			",x,\n1,2,3\n", CSVOptions{}, []string{"column_1:int64", "x:int64", "column_3:int64"}, [][]any{{"1", "2", "3"}}},
		{"spaces around numbers",
			"a,b\n 1 , 2.5\n", CSVOptions{}, []string{"a:int64", "b:float64"}, [][]any{{"1", "2.5"}}},
		{"explicit schema",
			"a,b,c\n1,2,x\n",
			CSVOptions{Schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int8}, {Name: "b", Type: arrow.PrimitiveTypes.Float32}, {Name: "c", Type: arrow.BinaryTypes.LargeString}}, nil)},
			[]string{"a:int8", "b:float32", "c:large_utf8"}, [][]any{{"1", "2", "x"}}},
		{"explicit schema on empty input",
			"", CSVOptions{Schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)},
			[]string{"a:int64"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, rows, err := csvText(t, tt.text, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.types, typesOf(sc)); diff != "" {
				t.Errorf("types (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.rows, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	int64s := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.BinaryTypes.String}}, nil)
	tests := []struct {
		name string
		text string
		opts CSVOptions
		is   error
		want *ParseError // compared without Err; nil when not a ParseError
		msg  string      // substring of the message
	}{
		{"ragged row, too few", "a,b\n1,x\n2\n", CSVOptions{}, ErrRaggedRow,
			&ParseError{Source: "test.csv", Row: 2, Offset: 8}, "record has 1 fields, want 2"},
		{"ragged row, too many", "a,b\n1,x,y\n", CSVOptions{}, ErrRaggedRow,
			&ParseError{Source: "test.csv", Row: 1, Offset: 4}, "want 2"},
		{"invalid number after the inference sample", "a,b\n1,x\n2,y\n3x,z\n", CSVOptions{InferRows: 2}, ErrParse,
			&ParseError{Source: "test.csv", Row: 3, Offset: 12, Column: "a", Value: "3x"}, "not an integer"},
		{"invalid number with a schema", "a,b\n1,x\nnope,y\n", CSVOptions{Schema: int64s}, errNotInt,
			&ParseError{Source: "test.csv", Row: 2, Offset: 8, Column: "a", Value: "nope"}, `column "a": value "nope"`},
		{"integer out of range", "a\n300\n", CSVOptions{Schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Uint8}}, nil)}, errIntRange,
			&ParseError{Source: "test.csv", Row: 1, Offset: 2, Column: "a", Value: "300"}, "out of range"},
		{"unterminated quote", "a,b\n1,\"open\n2,x\n", CSVOptions{Schema: int64s}, errUnterminated,
			&ParseError{Source: "test.csv", Row: 1, Offset: 4, Column: "b"}, "not terminated"},
		{"text after closing quote", "a,b\n1,\"x\"y\n", CSVOptions{Schema: int64s}, errAfterQuote,
			&ParseError{Source: "test.csv", Row: 1, Offset: 4, Column: "b"}, "closing quote"},
		{"header differs from schema", "a,c\n1,x\n", CSVOptions{Schema: int64s}, ErrSchema, nil, `header column 2 is "c", schema says "b"`},
		{"duplicate header", "a,a\n1,2\n", CSVOptions{}, ErrSchema, nil, `both "a"`},
		{"empty input", "", CSVOptions{}, ErrSchema, nil, "empty input"},
		{"empty input, no header", "", CSVOptions{NoHeader: true}, ErrSchema, nil, "empty input"},
		{"bad delimiter", "a\n", CSVOptions{Delimiter: '"'}, nil, nil, "delimiter"},
		{"unsupported schema type", "a\n", CSVOptions{Schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)}, ErrSchema, nil, "cannot produce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := csvText(t, tt.text, tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if tt.want != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *ParseError", err)
				}
				got := *pe
				got.Err = nil
				if diff := cmp.Diff(*tt.want, got); diff != "" {
					t.Errorf("ParseError (-want +got):\n%s", diff)
				}
				if !errors.Is(err, ErrParse) {
					t.Errorf("ParseError does not wrap ErrParse")
				}
			}
		})
	}
}

// A row number in an error counts the rows of every batch before it.
func TestCSVRecordOverLimit(t *testing.T) {
	src := CSVReader(strings.NewReader("a\n\""+strings.Repeat("x", 5000)), "t", CSVOptions{MaxRecordBytes: 1000, Allocator: checkedAlloc(t)})
	src.in.block = 256
	_, _, err := readAll(t, src)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "MaxRecordBytes") {
		t.Errorf("err = %v, want ErrTooLarge naming MaxRecordBytes", err)
	}
}

func TestCSVErrorRowAcrossBatches(t *testing.T) {
	var b strings.Builder
	b.WriteString("a\n")
	for i := range 999 {
		b.WriteString(strings.Repeat("1", 1+i%3) + "\n")
	}
	b.WriteString("oops\n1\n")
	src := CSVReader(strings.NewReader(b.String()), "big.csv", CSVOptions{BatchRows: 7, InferRows: 10, Parallelism: 3, Allocator: checkedAlloc(t)})
	src.in.block = 64
	_, rows, err := readAll(t, src)
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *ParseError", err)
	}
	if pe.Row != 1000 || pe.Value != "oops" {
		t.Errorf("error at row %d value %q, want row 1000 value \"oops\"", pe.Row, pe.Value)
	}
	if len(rows) > 999 {
		t.Errorf("%d rows yielded before the error, want at most 999", len(rows))
	}
}

// Whatever the chunking, the rows are the same: chunk boundaries never fall
// inside a record.
func TestCSVChunkingInvariance(t *testing.T) {
	text := "id,name,note\n" +
		"1,plain,\"quoted, with comma\"\n" +
		"2,\"multi\nline\",\"has \"\"quotes\"\"\"\n" +
		"3,x\"y,bare quote inside\r\n" +
		"\n" +
		"4,\"\",\n" +
		"5,last,\"ends\nwithout newline\""
	_, want, err := csvText(t, text, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []int{1, 2, 3, 5, 8, 13, 64} {
		for _, batch := range []int{1, 2, 3, 100} {
			src := CSVReader(strings.NewReader(text), "t", CSVOptions{BatchRows: batch, Allocator: checkedAlloc(t), Parallelism: 4})
			src.in.block = block
			_, got, err := readAll(t, src)
			if err != nil {
				t.Fatalf("block %d batch %d: %v", block, batch, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("block %d batch %d (-want +got):\n%s", block, batch, diff)
			}
		}
	}
}

func TestCSVHugeField(t *testing.T) {
	huge := strings.Repeat("ab,\"\n", 3<<20) // 15 MiB, quoted
	text := "k,v\n1,\"" + strings.ReplaceAll(huge, `"`, `""`) + "\"\n2,small\n"
	mem := checkedAlloc(t)
	src := CSVReader(strings.NewReader(text), "huge.csv", CSVOptions{Allocator: mem})
	src.in.block = 1 << 20
	_, rows, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][1] != huge || rows[1][1] != "small" {
		t.Errorf("huge field did not survive: %d rows", len(rows))
	}
}

func TestCSVZstdFile(t *testing.T) {
	raw, err := os.ReadFile("../testdata/iris.csv")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "iris.csv.zst")
	enc, _ := zstd.NewWriter(nil)
	if err := os.WriteFile(path, enc.EncodeAll(raw, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	_, want, err := readAll(t, CSV("../testdata/iris.csv", CSVOptions{Allocator: checkedAlloc(t)}))
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := readAll(t, CSV(path, CSVOptions{Allocator: checkedAlloc(t)}))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("zstd (-plain +zstd):\n%s", diff)
	}
}

func TestCSVMissingFile(t *testing.T) {
	_, _, err := readAll(t, CSV("../testdata/no-such-file.csv", CSVOptions{}))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func TestCSVReaderReadOnce(t *testing.T) {
	src := CSVReader(strings.NewReader("a\n1\n2\n"), "once", CSVOptions{Allocator: checkedAlloc(t)})
	if _, rows, err := readAll(t, src); err != nil || len(rows) != 2 {
		t.Fatalf("first read: %d rows, %v", len(rows), err)
	}
	if _, _, err := readAll(t, src); err == nil || !strings.Contains(err.Error(), "read once") {
		t.Errorf("second read: err = %v, want a read-once error", err)
	}
}

func TestCSVEarlyStopAndCancel(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("a,b\n")
	for range 20000 {
		b.WriteString("1,abc\n")
	}
	mem := checkedAlloc(t)
	for _, par := range []int{1, 4} {
		src := CSV(writeTemp(t, "t.csv", b.Bytes()), CSVOptions{BatchRows: 100, Parallelism: par, Allocator: mem})
		src.in.block = 4096
		checkEarlyStop(t, src, 3)
		checkCancel(t, src)
	}
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCSVBatchRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("a\n")
	for range 1000 {
		b.WriteString("7\n")
	}
	src := CSVReader(strings.NewReader(b.String()), "t", CSVOptions{BatchRows: 300, Allocator: checkedAlloc(t)})
	var sizes []int64
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, rec.NumRows())
		rec.Release()
	}
	if diff := cmp.Diff([]int64{300, 300, 300, 100}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

func TestCSVDefaultAllocator(t *testing.T) {
	// The zero CSVOptions work and use the default allocator.
	_, rows, err := readAll(t, CSVReader(strings.NewReader("a\n1\n"), "t", CSVOptions{}))
	if err != nil || len(rows) != 1 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
}
