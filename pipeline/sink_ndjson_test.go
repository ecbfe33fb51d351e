package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// skNDJSONText writes batches through ToNDJSONWriter and returns the text.
func skNDJSONText(t testing.TB, opts NDJSONWriteOptions, batches ...arrow.RecordBatch) string {
	t.Helper()
	var buf bytes.Buffer
	skWriteAll(t, ToNDJSONWriter(&buf, opts), batches[0].Schema(), batches...)
	return buf.String()
}

func TestNDJSONSinkValues(t *testing.T) {
	mem := checkedAlloc(t)
	for _, c := range sinkCases {
		t.Run(c.name, func(t *testing.T) {
			arr := c.build(mem)
			defer arr.Release()
			rec := skOneColumn(c.name, arr)
			defer rec.Release()
			got := strings.Split(skNDJSONText(t, NDJSONWriteOptions{}, rec), "\n")
			var want []string
			for _, v := range c.json {
				want = append(want, `{"`+c.name+`":`+v+`}`)
			}
			want = append(want, "")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			for _, line := range got[:4] {
				if !json.Valid([]byte(line)) {
					t.Errorf("invalid JSON: %s", line)
				}
			}
		})
	}
}

func TestNDJSONSinkAllTypes(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skTypesBatch(t, mem)
	defer rec.Release()
	for _, opts := range []NDJSONWriteOptions{{}, {OmitNulls: true}} {
		text := skNDJSONText(t, opts, rec)
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("got %d lines, want 4", len(lines))
		}
		for r, line := range lines {
			var obj map[string]json.RawMessage
			skDec := json.NewDecoder(strings.NewReader(line))
			if err := skDec.Decode(&obj); err != nil {
				t.Fatalf("line %d: %v\n%s", r, err, line)
			}
			var keys []string
			for _, c := range sinkCases {
				v, ok := obj[c.name]
				if opts.OmitNulls && r == 1 { // row 1 is null; NaN is written as null but is a value
					if ok {
						t.Errorf("%+v: row %d has the null %s", opts, r, c.name)
					}
					continue
				}
				keys = append(keys, c.name)
				if string(v) != c.json[r] {
					t.Errorf("%+v: row %d %s = %s, want %s", opts, r, c.name, v, c.json[r])
				}
			}
			// Keys come in schema order.
			var order []string
			for _, k := range keys {
				order = append(order, `"`+k+`":`)
			}
			last := -1
			for _, k := range order {
				i := strings.Index(line, k)
				if i < last {
					t.Errorf("row %d: key %s out of order", r, k)
				}
				last = i
			}
		}
	}
}

func TestNDJSONSinkStrings(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skAwkwardBatch(mem)
	defer rec.Release()
	text := skNDJSONText(t, NDJSONWriteOptions{}, rec)
	sc := bufio.NewScanner(strings.NewReader(text))
	var got []any
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Errorf("invalid JSON: %q", sc.Text())
		}
		if !utf8.Valid(sc.Bytes()) {
			t.Errorf("invalid UTF-8 in output: %q", sc.Text())
		}
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatal(err)
		}
		got = append(got, obj["s"])
	}
	var want []any
	for _, s := range skAwkward {
		want = append(want, skReplaceInvalid(s))
	}
	want = append(want, nil)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("strings read back (-want +got):\n%s", diff)
	}
	if !strings.Contains(text, `"null\u0000byte"`) || !strings.Contains(text, `"line\nbreak"`) || !strings.Contains(text, `"quote \" inside"`) {
		t.Errorf("escapes not in their short or \\u form:\n%s", text)
	}
}

// skReplaceInvalid replaces each byte of s that is not part of valid UTF-8
// with U+FFFD.
func skReplaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte
		i += n
	}
	return b.String()
}

// FuzzJSONText checks that any string is written as valid JSON that
// reads back as the string with each invalid byte replaced by U+FFFD.
func FuzzJSONText(f *testing.F) {
	for _, s := range skAwkward {
		f.Add(s)
	}
	f.Add("\u2028\u2029</script>\\")
	f.Add("\xed\xa0\x80") // a surrogate half, invalid in UTF-8
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONText(nil, s)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON for %q: %s", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		if want := skReplaceInvalid(s); back != want {
			t.Fatalf("%q read back as %q, want %q", s, back, want)
		}
	})
}

func TestNDJSONSinkNested(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "struct", Type: arrow.StructOf(
			arrow.Field{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
			arrow.Field{Name: "b", Type: arrow.FixedWidthTypes.Date32, Nullable: true}), Nullable: true},
		{Name: "map", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64), Nullable: true},
		{Name: "fixed", Type: arrow.FixedSizeListOf(2, arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[
		{"list": [1, null, 3], "struct": {"a": "x\"y", "b": 11323}, "map": [{"key": "k", "value": 0.5}], "fixed": ["p", "q"]},
		{"list": null, "struct": null, "map": null, "fixed": null},
		{"list": [], "struct": {"a": null, "b": null}, "map": [], "fixed": [null, "r"]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	want := `{"list":[1,null,3],"struct":{"a":"x\"y","b":"2001-01-01"},"map":{"k":0.5},"fixed":["p","q"]}
{"list":null,"struct":null,"map":null,"fixed":null}
{"list":[],"struct":{"a":null,"b":null},"map":{},"fixed":[null,"r"]}
`
	if diff := cmp.Diff(want, skNDJSONText(t, NDJSONWriteOptions{}, rec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	bad := arrow.NewSchema([]arrow.Field{{Name: "m", Type: arrow.MapOf(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int64)}}, nil)
	sink := ToNDJSON(filepath.Join(t.TempDir(), "x.ndjson"), NDJSONWriteOptions{})
	if err := sink.Open(context.Background(), bad); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `column "m"`) {
		t.Errorf("Open with a map of int64 keys: %v, want ErrSchema naming the column", err)
	}
	sink.Abort()
}

// TestNDJSONSinkRoundTrip writes typed columns and reads them back with
// arrow-go's JSON reader.
func TestNDJSONSinkRoundTrip(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ts", Type: skTsNaiveUS, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[
		{"i": 1, "f": 0.1, "b": true, "s": "a,b", "d": 11323, "ts": 978352496123456, "l": [1, 2]},
		{"i": null, "f": null, "b": null, "s": null, "d": null, "ts": null, "l": null},
		{"i": -9223372036854775808, "f": 1e300, "b": false, "s": "line\nbreak \"q\" \u0001", "d": -1, "ts": 0, "l": []},
		{"i": 42, "f": -0.5, "b": true, "s": "ünï ✓", "d": 0, "ts": 1, "l": [null]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for _, ext := range []string{".ndjson", ".jsonl.gz", ".ndjson.zst"} {
		path := filepath.Join(t.TempDir(), "rt"+ext)
		skWriteAll(t, ToNDJSON(path, NDJSONWriteOptions{}), schema, rec)
		r := array.NewJSONReader(bytes.NewReader(skReadBack(t, path)), schema, array.WithAllocator(mem), array.WithChunk(-1))
		if !r.Next() {
			t.Fatalf("%s: no batch: %v", ext, r.Err())
		}
		if back := r.RecordBatch(); !array.RecordEqual(rec, back) {
			t.Errorf("%s: read back\n%v\nwant\n%v", ext, back, rec)
		}
		r.Release()
	}
}

// TestNDJSONSinkFlights writes the 200k-row flights sample and reads it
// back with arrow-go's JSON reader.
func TestNDJSONSinkFlights(t *testing.T) {
	mem := checkedAlloc(t)
	batches := skReadArrowFile(t, "../testdata/flights-200k.arrow", mem)
	var buf bytes.Buffer
	skWriteAll(t, ToNDJSONWriter(&buf, NDJSONWriteOptions{}), batches[0].Schema(), batches...)
	r := array.NewJSONReader(&buf, batches[0].Schema(), array.WithAllocator(mem), array.WithChunk(50_000))
	defer r.Release()
	var i int
	var off int64
	for r.Next() {
		got := r.RecordBatch()
		for got.NumRows() > 0 {
			want := batches[i]
			n := min(got.NumRows(), want.NumRows()-off)
			a, b := got.NewSlice(0, n), want.NewSlice(off, off+n)
			if !array.RecordEqual(a, b) {
				t.Fatalf("rows differ at batch %d offset %d", i, off)
			}
			a.Release()
			b.Release()
			got = got.NewSlice(n, got.NumRows())
			defer got.Release()
			if off += n; off == want.NumRows() {
				i, off = i+1, 0
			}
		}
	}
	if r.Err() != nil || i != len(batches) {
		t.Errorf("read %d of %d batches: %v", i, len(batches), r.Err())
	}
}

// skReadArrowFile reads every batch of an Arrow IPC file, retained.
func skReadArrowFile(t testing.TB, path string, mem memory.Allocator) []arrow.RecordBatch {
	t.Helper()
	data := skReadBack(t, path)
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []arrow.RecordBatch
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		rec.Retain()
		out = append(out, rec)
	}
	t.Cleanup(func() {
		for _, b := range out {
			b.Release()
		}
	})
	return out
}

// BenchmarkNDJSONSink writes the 3M-row flights table as NDJSON. MB/s
// counts the bytes produced.
//
//	go test ./pipeline -run '^$' -bench NDJSONSink
func BenchmarkNDJSONSink(b *testing.B) {
	batches, _ := skFlightsBatches(b, flights3M, 65536)
	ctx := context.Background()
	var cw skCountWriter
	for b.Loop() {
		cw.n = 0
		sink := ToNDJSONWriter(&cw, NDJSONWriteOptions{})
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
