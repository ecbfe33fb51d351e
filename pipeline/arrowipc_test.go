package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const flightsArrow = "../testdata/flights-200k.arrow"

// ipcBytes writes tbl in the Arrow IPC stream or file format, in batches of
// batchRows.
func ipcBytes(t testing.TB, tbl arrow.Table, fileFormat bool, batchRows int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
	if fileFormat {
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(tbl.Schema()))
		if err != nil {
			t.Fatal(err)
		}
		w = fw
	} else {
		w = ipc.NewWriter(&buf, ipc.WithSchema(tbl.Schema()))
	}
	tr := array.NewTableReader(tbl, batchRows)
	defer tr.Release()
	for tr.Next() {
		if err := w.Write(tr.RecordBatch()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func srcCompress(t testing.TB, data []byte, codec string) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&buf)
		w.Write(data)
		w.Close()
	}
	return buf.Bytes()
}

func TestArrowFormats(t *testing.T) {
	tbl := readFlightsArrow(t, memory.DefaultAllocator)
	want := tableRows(t, tbl)
	dir := t.TempDir()
	stream := ipcBytes(t, tbl, false, 30000)
	file := ipcBytes(t, tbl, true, 30000)
	files := map[string][]byte{
		"flights.arrows":      stream,
		"flights.arrow":       file,
		"flights.arrow.gz":    srcCompress(t, file, "gzip"),
		"flights.arrows.zst":  srcCompress(t, stream, "zstd"),
		"stream-named.arrow":  stream,
		"flights.feather.zst": srcCompress(t, file, "zstd"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		src  func(mem memory.Allocator) *ArrowSource
	}{
		{"testdata file", func(mem memory.Allocator) *ArrowSource { return Arrow(flightsArrow, ArrowOptions{Allocator: mem}) }},
		{"stream file", func(mem memory.Allocator) *ArrowSource {
			return Arrow(filepath.Join(dir, "flights.arrows"), ArrowOptions{Allocator: mem})
		}},
		{"file format", func(mem memory.Allocator) *ArrowSource {
			return Arrow(filepath.Join(dir, "flights.arrow"), ArrowOptions{Allocator: mem})
		}},
		{"stream named .arrow", func(mem memory.Allocator) *ArrowSource {
			return Arrow(filepath.Join(dir, "stream-named.arrow"), ArrowOptions{Allocator: mem})
		}},
		{"gzip file format", func(mem memory.Allocator) *ArrowSource {
			return Arrow(filepath.Join(dir, "flights.arrow.gz"), ArrowOptions{Allocator: mem})
		}},
		{"zstd stream", func(mem memory.Allocator) *ArrowSource {
			return Arrow(filepath.Join(dir, "flights.arrows.zst"), ArrowOptions{Allocator: mem})
		}},
		{"zstd feather", func(mem memory.Allocator) *ArrowSource {
			return Arrow(filepath.Join(dir, "flights.feather.zst"), ArrowOptions{Allocator: mem})
		}},
		{"stream reader", func(mem memory.Allocator) *ArrowSource {
			return ArrowStream(bytes.NewReader(stream), "stream", ArrowOptions{Allocator: mem})
		}},
		{"file format from a reader", func(mem memory.Allocator) *ArrowSource {
			return ArrowStream(bytes.NewReader(file), "file", ArrowOptions{Allocator: mem})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src(checkedAlloc(t))
			schema, err := src.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fieldList(tbl.Schema()), fieldList(schema)); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			recs := mustRead(t, src)
			if diff := diffRows(want, textRows(recs)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if src.path != "" {
				st, _ := os.Stat(src.path)
				if src.TotalBytes() != st.Size() || src.BytesRead() <= 0 || src.BytesRead() > st.Size() {
					t.Errorf("BytesRead %d, TotalBytes %d, file size %d", src.BytesRead(), src.TotalBytes(), st.Size())
				}
			}
		})
	}
}

func TestArrowColumns(t *testing.T) {
	mem := checkedAlloc(t)
	tbl := readFlightsArrow(t, mem)
	all := tableRows(t, tbl)
	want := make([][]string, len(all))
	for i, r := range all { // columns: delay, distance, time
		want[i] = []string{r[2], r[0]}
	}
	for _, path := range []string{flightsArrow, "stream"} {
		var src *ArrowSource
		opts := ArrowOptions{Columns: []string{"time", "delay"}, Allocator: mem}
		if path == "stream" {
			src = ArrowStream(bytes.NewReader(ipcBytes(t, tbl, false, 70000)), "stream", opts)
		} else {
			src = Arrow(path, opts)
		}
		schema, err := src.Schema(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"time float32 nullable", "delay int16 nullable"}, fieldList(schema)); diff != "" {
			t.Errorf("%s: schema (-want +got):\n%s", path, diff)
		}
		recs := mustRead(t, src)
		for _, r := range recs {
			if !r.Schema().Equal(schema) {
				t.Fatalf("%s: batch schema %v", path, r.Schema())
			}
		}
		if diff := diffRows(want, textRows(recs)); diff != "" {
			t.Errorf("%s: rows (-want +got):\n%s", path, diff)
		}
	}
}

func TestArrowDictionary(t *testing.T) {
	mem := checkedAlloc(t)
	dict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}
	schema := arrow.NewSchema([]arrow.Field{{Name: "airport", Type: dict, Nullable: true}}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	db := b.Field(0).(*array.BinaryDictionaryBuilder)
	for _, s := range []string{"ORD", "SFO", "ORD"} {
		if err := db.AppendString(s); err != nil {
			t.Fatal(err)
		}
	}
	db.AppendNull()
	rec := b.NewRecordBatch()
	defer rec.Release()
	tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
	defer tbl.Release()
	for _, fileFormat := range []bool{false, true} {
		src := ArrowStream(bytes.NewReader(ipcBytes(t, tbl, fileFormat, 2)), "dict", ArrowOptions{Allocator: mem})
		recs := mustRead(t, src)
		if len(recs) != 2 || !arrow.TypeEqual(recs[0].Column(0).DataType(), dict) {
			t.Fatalf("file format %v: %d batches of type %v", fileFormat, len(recs), recs[0].Column(0).DataType())
		}
		if diff := cmp.Diff([][]string{{"ORD"}, {"SFO"}, {"ORD"}, {"(null)"}}, textRows(recs)); diff != "" {
			t.Errorf("file format %v: rows (-want +got):\n%s", fileFormat, diff)
		}
	}
}

func TestArrowErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.arrow")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.arrow")
	data, err := os.ReadFile(flightsArrow)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		src     *ArrowSource
		is      error
		message string
	}{
		{"unknown column", Arrow(flightsArrow, ArrowOptions{Columns: []string{"nope"}}), ErrSchema, `no column "nope"; the input has "delay", "distance", "time"`},
		{"column twice", Arrow(flightsArrow, ArrowOptions{Columns: []string{"time", "time"}}), nil, "listed twice"},
		{"not arrow", Arrow("../testdata/iris.csv", ArrowOptions{}), nil, "not readable as Arrow IPC"},
		{"empty", Arrow(empty, ArrowOptions{}), ErrSchema, "empty input"},
		{"truncated file", Arrow(truncated, ArrowOptions{}), nil, "not a readable Arrow IPC file"},
		{"missing", Arrow(filepath.Join(dir, "nope.arrow"), ArrowOptions{}), fs.ErrNotExist, "nope.arrow"},
		{"empty reader", ArrowStream(strings.NewReader(""), "r", ArrowOptions{}), ErrSchema, "r: empty input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readSource(t, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want one wrapping %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
}

func TestArrowStreamReadOnce(t *testing.T) {
	tbl := readFlightsArrow(t, memory.DefaultAllocator)
	src := ArrowStream(bytes.NewReader(ipcBytes(t, tbl, false, 100000)), "s", ArrowOptions{Allocator: checkedAlloc(t)})
	if recs := mustRead(t, src); len(recs) != 2 {
		t.Fatalf("%d batches, want 2", len(recs))
	}
	if _, err := readSource(t, src); err == nil || !strings.Contains(err.Error(), "read once") {
		t.Errorf("second read: error %v, want one saying it can be read once", err)
	}
}

func TestArrowEarlyBreakAndCancel(t *testing.T) {
	tbl := readFlightsArrow(t, memory.DefaultAllocator)
	path := filepath.Join(t.TempDir(), "f.arrows")
	if err := os.WriteFile(path, ipcBytes(t, tbl, false, 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{flightsArrow, path} {
		mem := checkedAlloc(t)
		src := Arrow(p, ArrowOptions{Allocator: mem, Columns: []string{"delay"}})
		checkEarlyStop(t, src, 1)
		checkCancel(t, src)
		mem.AssertSize(t, 0)
	}
}
