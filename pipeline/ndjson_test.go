package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestNDJSONInference(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		opts   NDJSONOptions
		fields []string
		rows   [][]string
	}{
		{
			name: "scalars",
			in: `{"i":1,"f":1.5,"b":true,"s":"x","n":null}
{"i":-2,"f":2,"b":false,"s":"y z","n":null}`,
			fields: []string{"i int64 nullable", "f float64 nullable", "b bool nullable", "s utf8 nullable", "n utf8 nullable"},
			rows:   [][]string{{"1", "1.5", "true", "x", "(null)"}, {"-2", "2", "false", "y z", "(null)"}},
		},
		{
			name: "numbers widen to float64",
			in: `{"a":1,"b":9223372036854775807,"c":1e3}
{"a":2.25,"b":-5,"c":-0}`,
			fields: []string{"a float64 nullable", "b int64 nullable", "c float64 nullable"},
			rows:   [][]string{{"1", "9223372036854775807", "1000"}, {"2.25", "-5", "0"}},
		},
		{
			name:   "integer beyond int64 is float64",
			in:     `{"b":9223372036854775807}` + "\n" + `{"b":9223372036854775808}`,
			fields: []string{"b float64 nullable"},
			rows:   [][]string{{"9.223372036854776e+18"}, {"9.223372036854776e+18"}},
		},
		{
			name: "dates and timestamps",
			in: `{"d":"2024-02-29","ts":"2024-01-02 03:04:05","tz":"2024-01-02T03:04:05.5+01:00","mixed":"2024-01-02T00:00:00Z","dt":"2024-01-02"}
{"d":"2001-01-01","ts":"2024-01-02T03:04","tz":"2024-01-02T00:00:00Z","mixed":"2024-01-02T00:00:00","dt":"2024-01-02 10:00:00"}`,
			fields: []string{"d date32 nullable", "ts timestamp[us] nullable", "tz timestamp[us, tz=UTC] nullable",
				"mixed utf8 nullable", "dt timestamp[us] nullable"},
			rows: [][]string{
				{"2024-02-29", "2024-01-02T03:04:05", "2024-01-02T02:04:05.5Z", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00"},
				{"2001-01-01", "2024-01-02T03:04:00", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00", "2024-01-02T10:00:00"},
			},
		},
		{
			name:   "not quite dates stay strings",
			in:     `{"d":"2023-02-29"}` + "\n" + `{"d":"2024-01-01"}`,
			fields: []string{"d utf8 nullable"},
			rows:   [][]string{{"2023-02-29"}, {"2024-01-01"}},
		},
		{
			name: "nested and mixed kinds become JSON text",
			in: `{"o":{"a":[1,{"b":null}]},"arr":[1, 2],"mix":1,"mb":true}
{"o":{},"arr":[],"mix":"one","mb":2}
{"o":null,"arr":["x\"y"],"mix":{"k":1.5e2},"mb":null}`,
			fields: []string{"o utf8 nullable", "arr utf8 nullable", "mix utf8 nullable", "mb utf8 nullable"},
			rows: [][]string{
				{`{"a":[1,{"b":null}]}`, `[1, 2]`, "1", "true"},
				{`{}`, `[]`, "one", "2"},
				{"(null)", `["x\"y"]`, `{"k":1.5e2}`, "(null)"},
			},
		},
		{
			name: "missing keys are null, columns in order of first appearance",
			in: `{"a":1}
{"b":"x","a":2}
{"c":false}`,
			fields: []string{"a int64 nullable", "b utf8 nullable", "c bool nullable"},
			rows:   [][]string{{"1", "(null)", "(null)"}, {"2", "x", "(null)"}, {"(null)", "(null)", "false"}},
		},
		{
			name:   "keys after the sample are ignored",
			in:     `{"a":1}` + "\n" + `{"a":2,"late":[1,2]}`,
			opts:   NDJSONOptions{InferRows: 1},
			fields: []string{"a int64 nullable"},
			rows:   [][]string{{"1"}, {"2"}},
		},
		{
			name: "escapes, unicode, BOM, CRLF, blank lines, no final newline",
			in: "\xef\xbb\xbf" + `{"k\u00e9y":"a\tb\\c\/\u00e9\ud83d\ude00","plain":"日本"}` + "\r\n" +
				"\r\n   \t\n" + ` { "kéy" : "" , "plain" : "\"q\"" } `,
			fields: []string{"kéy utf8 nullable", "plain utf8 nullable"},
			rows:   [][]string{{"a\tb\\c/é😀", "日本"}, {"", `"q"`}},
		},
		{
			name:   "empty objects make rows of nulls",
			in:     `{"a":1}` + "\n{}\n" + `{"a":3}`,
			fields: []string{"a int64 nullable"},
			rows:   [][]string{{"1"}, {"(null)"}, {"3"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Allocator = checkedAlloc(t)
			src := NDJSONReader(strings.NewReader(tc.in), "test", tc.opts)
			schema, err := src.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.fields, fieldList(schema)); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			if tc.rows == nil {
				return
			}
			if diff := cmp.Diff(tc.rows, textRows(mustRead(t, src))); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNDJSONExplicitSchema(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "d64", Type: arrow.FixedWidthTypes.Date64, Nullable: true},
		{Name: "ts_s", Type: &arrow.TimestampType{Unit: arrow.Second}, Nullable: true},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	in := `{"i8":-128,"i16":32767,"i32":-5,"i64":9223372036854775807,"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615,"f32":0.5,"f64":-1.25e-3,"b":true,"s":12.50,"ls":"x","bin":"YQ","d32":"1970-01-02","d64":"2000-01-01","ts_s":"2001-02-03 04:05:06","ts_ns":"2001-02-03T04:05:06.123456789+02:00","extra":{"ignored":[true]}}
{"i64":0}
`
	src := NDJSONReader(strings.NewReader(in), "test", NDJSONOptions{Schema: schema, Allocator: checkedAlloc(t)})
	got, err := src.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != schema {
		t.Errorf("Schema returned %v, want the explicit schema", got)
	}
	recs := mustRead(t, src)
	want := [][]string{
		{"-128", "32767", "-5", "9223372036854775807", "255", "65535", "4294967295", "18446744073709551615", "0.5", "-0.00125",
			"true", "12.50", "x", "WVE=", "1970-01-02", "2000-01-01", "2001-02-03T04:05:06", "2001-02-03T02:05:06.123456789Z"},
		{"(null)", "(null)", "(null)", "0", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)",
			"(null)", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)"},
	}
	if diff := cmp.Diff(want, textRows(recs)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if !recs[0].Schema().Equal(schema) {
		t.Errorf("batch schema %v", recs[0].Schema())
	}
}

func TestNDJSONUnsupportedSchema(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)
	src := NDJSONReader(strings.NewReader(`{"l":[1]}`), "test", NDJSONOptions{Schema: schema})
	_, err := src.Schema(context.Background())
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `column "l"`) {
		t.Errorf("error %v, want ErrSchema naming the column", err)
	}
}

func TestNDJSONParseErrors(t *testing.T) {
	intCol := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	tests := []struct {
		name   string
		in     string
		schema *arrow.Schema
		opts   NDJSONOptions
		want   ParseError // Err is matched with errors.Is when a sentinel, else by message
		errMsg string     // substring of the cause's message
	}{
		{name: "string in int column", in: "{\"a\":1}\n{\"a\":\"x\"}\n", schema: intCol,
			want: ParseError{Row: 2, Offset: 8, Column: "a", Value: `"x"`}, errMsg: "want int64, got a JSON string"},
		{name: "fraction in int column", in: `{"a":1.5}`, schema: intCol,
			want: ParseError{Row: 1, Column: "a", Value: "1.5"}, errMsg: "not an integer"},
		{name: "int64 overflow", in: `{"a":9223372036854775808}`, schema: intCol,
			want: ParseError{Row: 1, Column: "a", Value: "9223372036854775808"}, errMsg: "out of range"},
		{name: "inferred int meets string", in: "{\"a\":1}\n\n{\"a\":true}", opts: NDJSONOptions{InferRows: 1},
			want: ParseError{Row: 3, Offset: 9, Column: "a", Value: "true"}, errMsg: "got a JSON bool"},
		{name: "int8 overflow", in: `{"a":128}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int8, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "a", Value: "128"}, errMsg: "out of range [-128, 127]"},
		{name: "negative uint", in: `{"a":-1}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Uint16, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "a", Value: "-1"}, errMsg: "negative number"},
		{name: "not an object", in: "{\"a\":1}\n[1,2]\n", schema: intCol,
			want: ParseError{Row: 2, Offset: 8, Value: "[1,2]", Err: errNotObject}},
		{name: "not an object while inferring", in: "\n\n  42\n",
			want: ParseError{Row: 3, Offset: 2, Value: "42", Err: errNotObject}},
		{name: "unterminated object", in: `{"a":1`, schema: intCol,
			want: ParseError{Row: 1, Err: errJSONSyntax}, errMsg: "got the end of the line"},
		{name: "leading zero", in: `{"a":01}`, schema: intCol,
			want: ParseError{Row: 1, Column: "a", Value: "01", Err: errJSONSyntax}},
		{name: "bad literal", in: `{"a":nul}`, schema: intCol,
			want: ParseError{Row: 1, Column: "a", Value: "nul", Err: errJSONSyntax}},
		{name: "text after the object", in: `{"a":1} x`, schema: intCol,
			want: ParseError{Row: 1, Value: "x", Err: errJSONSyntax}},
		{name: "two objects on a line", in: `{"a":1}{"a":2}`, schema: intCol,
			want: ParseError{Row: 1, Value: `{"a":2}`, Err: errJSONSyntax}},
		{name: "control character", in: "{\"s\":\"a\tb\"}",
			want: ParseError{Row: 1, Column: "s", Value: "\"a\t", Err: errJSONSyntax}},
		{name: "invalid UTF-8", in: "{\"s\":\"a\xffb\"}",
			want: ParseError{Row: 1, Column: "s", Value: "\"a\xffb\"", Err: errBadUTF8}},
		{name: "bad escape", in: `{"s":"a\qb"}`,
			want: ParseError{Row: 1, Column: "s", Value: `"a\qb"`, Err: errJSONSyntax}},
		{name: "lone surrogate", in: `{"s":"\ud800x"}`,
			want: ParseError{Row: 1, Column: "s", Value: `"\ud800x"`, Err: errJSONSyntax}},
		{name: "invalid nested value", in: `{"o":{"k":[1,]}}`,
			want: ParseError{Row: 1, Column: "o", Value: `{"k":[1,]`, Err: errJSONSyntax}},
		{name: "too deep", in: `{"o":` + strings.Repeat("[", 1001) + strings.Repeat("]", 1001) + `}`,
			want: ParseError{Row: 1, Column: "o", Value: strings.Repeat("[", 64) + "…", Err: errTooDeep}},
		{name: "duplicate key", in: `{"a":1,"a":2}`, schema: intCol,
			want: ParseError{Row: 1, Column: "a", Err: errDupKey}},
		{name: "duplicate key while inferring", in: `{"a":1,"a":2}`,
			want: ParseError{Row: 1, Column: "a", Err: errDupKey}},
		{name: "unknown key rejected", in: `{"a":1,"b":2}`, schema: intCol, opts: NDJSONOptions{RejectUnknownKeys: true},
			want: ParseError{Row: 1, Column: "b", Err: errUnknownKey}},
		{name: "null in non-nullable", in: `{"a":null}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil),
			want:   ParseError{Row: 1, Column: "a", Value: "null", Err: errNullRequired}},
		{name: "missing non-nullable", in: `{"b":1}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String}}, nil),
			want:   ParseError{Row: 1, Column: "a", Err: errNullRequired}},
		{name: "bad date", in: `{"d":"2024-13-01"}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "d", Value: `"2024-13-01"`, Err: errNotDate}},
		{name: "bad timestamp", in: `{"t":"yesterday"}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "t", Value: `"yesterday"`, Err: errNotTimestamp}},
		{name: "timestamp out of range", in: `{"t":"2500-01-01T00:00:00"}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "t", Value: `"2500-01-01T00:00:00"`, Err: errTSRange}},
		{name: "float32 overflow", in: `{"f":1e39}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "f", Value: "1e39"}, errMsg: "out of range for float32"},
		{name: "float64 overflow", in: `{"f":1e400}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "f", Value: "1e400"}, errMsg: "number out of range"},
		{name: "binary from a number", in: `{"b":1}`,
			schema: arrow.NewSchema([]arrow.Field{{Name: "b", Type: arrow.BinaryTypes.Binary, Nullable: true}}, nil),
			want:   ParseError{Row: 1, Column: "b", Value: "1"}, errMsg: "got a JSON number"},
		{name: "error in a later chunk", in: strings.Repeat("{\"a\":1}\n", 10) + "{\"a\":[]}\n" + strings.Repeat("{\"a\":1}\n", 10),
			schema: intCol, opts: NDJSONOptions{BatchRows: 3, Parallelism: 4},
			want: ParseError{Row: 11, Offset: 80, Column: "a", Value: "[]"}, errMsg: "got a JSON array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Allocator = checkedAlloc(t)
			tc.opts.Schema = tc.schema
			src := NDJSONReader(strings.NewReader(tc.in), "test.ndjson", tc.opts)
			_, err := readSource(t, src)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *ParseError", err)
			}
			if !errors.Is(err, ErrParse) {
				t.Errorf("error %v does not wrap ErrParse", err)
			}
			if tc.want.Err != nil && !errors.Is(pe.Err, tc.want.Err) {
				t.Errorf("cause %v, want %v", pe.Err, tc.want.Err)
			}
			if tc.errMsg != "" && !strings.Contains(pe.Err.Error(), tc.errMsg) {
				t.Errorf("cause %q does not say %q", pe.Err, tc.errMsg)
			}
			got := ParseError{Source: pe.Source, Row: pe.Row, Offset: pe.Offset, Column: pe.Column, Value: pe.Value}
			want := tc.want
			want.Source, want.Err = "test.ndjson", nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error %v (-want +got):\n%s", err, diff)
			}
		})
	}
}

func TestNDJSONSchemaErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"empty input", "", "empty input"},
		{"blank lines only", "\n  \n\r\n", "empty input"},
		{"no keys", "{}\n{ }\n", "no keys"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NDJSONReader(strings.NewReader(tc.in), "test", NDJSONOptions{}).Schema(context.Background())
			if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrSchema saying %q", err, tc.want)
			}
		})
	}
}

func TestNDJSONLineTooLong(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 200) + `"}`
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	tests := []struct {
		name   string
		in     string
		schema *arrow.Schema
		row    int64
	}{
		{"while inferring", "{\"a\":\"x\"}\n" + long + "\n", nil, 2},
		{"while reading", "{\"a\":\"x\"}\n{\"a\":\"y\"}\n" + long + "\n", schema, 3},
		{"last line without newline", "{\"a\":\"x\"}\n" + long, schema, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := NDJSONReader(strings.NewReader(tc.in), "test", NDJSONOptions{Schema: tc.schema, MaxLineBytes: 100, Allocator: checkedAlloc(t)})
			src.in.block = 64 // read in small blocks, so the line spans several
			_, err := readSource(t, src)
			var pe *ParseError
			if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) || pe.Row != tc.row {
				t.Errorf("error %v, want ErrTooLarge at row %d", err, tc.row)
			}
		})
	}
	// A line of exactly the limit is fine.
	ok := `{"a":"` + strings.Repeat("x", 92) + `"}`
	src := NDJSONReader(strings.NewReader(ok+"\n"+ok), "test", NDJSONOptions{MaxLineBytes: 100, Allocator: checkedAlloc(t)})
	src.in.block = 16
	if recs := mustRead(t, src); len(recs) != 1 || recs[0].NumRows() != 2 {
		t.Errorf("got %d batches", len(recs))
	}
}

func TestNDJSONBatchRows(t *testing.T) {
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "{\"i\":%d}\n", i)
		if i == 4 {
			b.WriteString("\n") // a blank line: counted as a line, adds no row
		}
	}
	for _, par := range []int{1, 3} {
		src := NDJSONReader(strings.NewReader(b.String()), "test", NDJSONOptions{BatchRows: 3, Parallelism: par, Allocator: checkedAlloc(t)})
		src.in.block = 7
		recs := mustRead(t, src)
		if diff := cmp.Diff([]int64{3, 2, 3, 2}, batchSizes(recs)); diff != "" {
			t.Errorf("parallelism %d: batch sizes (-want +got):\n%s", par, diff)
		}
		want := [][]string{{"0"}, {"1"}, {"2"}, {"3"}, {"4"}, {"5"}, {"6"}, {"7"}, {"8"}, {"9"}}
		if diff := cmp.Diff(want, textRows(recs)); diff != "" {
			t.Errorf("parallelism %d: rows (-want +got):\n%s", par, diff)
		}
	}
}

func TestNDJSONReaderReadOnce(t *testing.T) {
	src := NDJSONReader(strings.NewReader(`{"a":1}`), "test", NDJSONOptions{Allocator: checkedAlloc(t)})
	if recs := mustRead(t, src); len(recs) != 1 {
		t.Fatalf("%d batches", len(recs))
	}
	if _, err := readSource(t, src); err == nil || !strings.Contains(err.Error(), "read once") {
		t.Errorf("second read: error %v, want one saying it can be read once", err)
	}
}

// writeNDJSONTable writes a table as NDJSON, formatting values as a JSON
// writer would.
func writeNDJSONTable(t testing.TB, tbl arrow.Table) []byte {
	t.Helper()
	var buf bytes.Buffer
	tr := array.NewTableReader(tbl, 1<<16)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			buf.WriteByte('{')
			for j, c := range rec.Columns() {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.WriteString(strconv.Quote(rec.ColumnName(j)) + ":")
				switch {
				case c.IsNull(i):
					buf.WriteString("null")
				case c.DataType().ID() == arrow.FLOAT32:
					buf.WriteString(strconv.FormatFloat(float64(c.(*array.Float32).Value(i)), 'g', -1, 32))
				default:
					buf.WriteString(c.ValueStr(i))
				}
			}
			buf.WriteString("}\n")
		}
	}
	return buf.Bytes()
}

// TestNDJSONFlights reads flights-200k written as NDJSON, plain and
// compressed, inferring the schema and with the Arrow file's own.
func TestNDJSONFlights(t *testing.T) {
	tbl := readFlightsArrow(t, checkedAlloc(t))
	want := tableRows(t, tbl)
	text := writeNDJSONTable(t, tbl)
	dir := t.TempDir()
	plain := filepath.Join(dir, "flights.ndjson")
	if err := os.WriteFile(plain, text, 0o644); err != nil {
		t.Fatal(err)
	}
	var gz, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(text)
	gw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(text)
	zw.Close()
	if err := os.WriteFile(plain+".gz", gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain+".zst", zs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{plain, plain + ".gz", plain + ".zst"} {
		for _, explicit := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/schema=%v", filepath.Base(path), explicit), func(t *testing.T) {
				opts := NDJSONOptions{Allocator: checkedAlloc(t), BatchRows: 30000}
				wantFields := []string{"delay int64 nullable", "distance int64 nullable", "time float64 nullable"}
				if explicit {
					opts.Schema = tbl.Schema()
					wantFields = fieldList(tbl.Schema())
				}
				src := NDJSON(path, opts)
				schema, err := src.Schema(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(wantFields, fieldList(schema)); diff != "" {
					t.Errorf("schema (-want +got):\n%s", diff)
				}
				recs := mustRead(t, src)
				if diff := diffRows(want, textRows(recs)); diff != "" {
					t.Errorf("rows (-want +got):\n%s", diff)
				}
				st, _ := os.Stat(path)
				if src.TotalBytes() != st.Size() || src.BytesRead() != st.Size() {
					t.Errorf("BytesRead %d, TotalBytes %d, want both %d", src.BytesRead(), src.TotalBytes(), st.Size())
				}
			})
		}
	}
}

func TestNDJSONEarlyBreakAndCancel(t *testing.T) {
	tbl := readFlightsArrow(t, checkedAlloc(t))
	path := filepath.Join(t.TempDir(), "flights.ndjson")
	if err := os.WriteFile(path, writeNDJSONTable(t, tbl), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, par := range []int{1, 4} {
		mem := checkedAlloc(t)
		src := NDJSON(path, NDJSONOptions{Allocator: mem, Parallelism: par, BatchRows: 1000})
		checkEarlyStop(t, src, 3)
		checkCancel(t, src)
		mem.AssertSize(t, 0)
	}
}

func TestNDJSONMissingFile(t *testing.T) {
	_, err := NDJSON(filepath.Join(t.TempDir(), "nope.ndjson"), NDJSONOptions{}).Schema(context.Background())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want os.ErrNotExist", err)
	}
}

// FuzzNDJSON feeds arbitrary text to the NDJSON reader, with an inferred and
// with an explicit schema. It must never panic or leak, and every error
// must be a *ParseError or wrap ErrParse, ErrTooLarge or ErrSchema (for
// input with nothing to infer a schema from).
func FuzzNDJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x","c":true,"d":null}`,
		"{\"a\":1.5e3}\n\n{\"a\":-2,\"e\":[1,{\"f\":\"\\u00e9\"}]}\r\n",
		`{"d":"2024-01-02","t":"2024-01-02T03:04:05Z"}`,
		`{"s":"\ud83d\ude00 \"q\" \\"}`,
		"{\"a\":1}\n[2]\n",
		`{"a":{"b":{"c":[[[]]]}}}`,
		"\xef\xbb\xbf{\"a\":\"\xff\"}",
	} {
		f.Add(s)
	}
	explicit := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "c", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "t", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	f.Fuzz(func(t *testing.T, in string) {
		for _, schema := range []*arrow.Schema{nil, explicit} {
			mem := checkedAlloc(t)
			src := NDJSONReader(strings.NewReader(in), "fuzz", NDJSONOptions{
				Schema: schema, InferRows: 3, BatchRows: 2, MaxLineBytes: 1 << 12, Allocator: mem})
			src.in.block = 32
			var rows int64
			for rec, err := range src.Batches(context.Background()) {
				if err != nil {
					var pe *ParseError
					if !errors.As(err, &pe) && !errors.Is(err, ErrParse) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrSchema) {
						t.Fatalf("error %v (%T) is not a parse error", err, err)
					}
					if errors.Is(err, ErrPanic) {
						t.Fatalf("panic: %v", err)
					}
					break
				}
				if err := validBatch(rec); err != nil {
					t.Fatalf("invalid batch: %v", err)
				}
				rows += rec.NumRows()
				rec.Release()
			}
			if rows > int64(strings.Count(in, "\n")+1) {
				t.Fatalf("%d rows from %d lines", rows, strings.Count(in, "\n")+1)
			}
		}
	})
}

// validBatch checks column lengths and that strings are valid UTF-8.
func validBatch(rec arrow.RecordBatch) error {
	for j, c := range rec.Columns() {
		if int64(c.Len()) != rec.NumRows() {
			return fmt.Errorf("column %d has %d values in a batch of %d rows", j, c.Len(), rec.NumRows())
		}
		if s, ok := c.(*array.String); ok {
			for i := range s.Len() {
				if !utf8.ValidString(s.Value(i)) {
					return fmt.Errorf("column %d row %d: invalid UTF-8 %q", j, i, s.Value(i))
				}
			}
		}
	}
	return nil
}
