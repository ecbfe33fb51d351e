package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kilnml/kiln/pipeline"
)

const flights = "../../testdata/flights-20k.csv"

func ingestCmd(t *testing.T, args ...string) (int, summary, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	var s summary
	if code == 0 {
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil {
			t.Fatalf("last line is not the JSON summary: %q: %v", stdout.String(), err)
		}
	}
	return code, s, stderr.String()
}

func countRows(t *testing.T, src pipeline.Source) int64 {
	t.Helper()
	var n int64
	for b, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n += b.NumRows()
		b.Release()
	}
	return n
}

func TestIngestFormats(t *testing.T) {
	dir := t.TempDir()
	st, _ := os.Stat(flights)
	for _, out := range []string{"f.parquet", "f.arrow", "f.csv", "f.ndjson"} {
		t.Run(out, func(t *testing.T) {
			path := filepath.Join(dir, out)
			code, s, stderr := ingestCmd(t, "-in", flights, "-out", path)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if s.Rows != 20000 || s.Columns != 5 || s.InputBytes != st.Size() || s.Seconds <= 0 || s.RowsPerSecond <= 0 {
				t.Errorf("summary %+v", s)
			}
			var src pipeline.Source
			switch filepath.Ext(out) {
			case ".parquet":
				src = pipeline.Parquet(path, pipeline.ParquetOptions{})
			case ".arrow":
				src = pipeline.Arrow(path, pipeline.ArrowOptions{})
			case ".csv":
				src = pipeline.CSV(path, pipeline.CSVOptions{})
			case ".ndjson":
				src = pipeline.NDJSON(path, pipeline.NDJSONOptions{})
			}
			if n := countRows(t, src); n != 20000 {
				t.Errorf("%s holds %d rows, want 20000", out, n)
			}
		})
	}
}

func TestIngestGlobWithPartitions(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(flights)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"1", "2"} {
		sub := filepath.Join(dir, "in", "month="+m)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "part.csv"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "all.parquet")
	code, s, stderr := ingestCmd(t, "-in", filepath.Join(dir, "in"), "-out", out, "-progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s.Rows != 40000 || s.Columns != 6 {
		t.Errorf("summary %+v, want 40000 rows and 6 columns (month added)", s)
	}
	if !strings.Contains(stderr, "100%") {
		t.Errorf("-progress drew no finished bar on stderr: %q", stderr)
	}
	code, s, stderr = ingestCmd(t, "-in", filepath.Join(dir, "in", "*", "*.csv"), "-format", "csv", "-out", filepath.Join(dir, "glob.ndjson"))
	if code != 0 || s.Rows != 40000 {
		t.Fatalf("glob: exit %d, summary %+v: %s", code, s, stderr)
	}
}

func TestIngestSchema(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(`{"fields":[
		{"name":"date","type":"timestamp","nullable":true},
		{"name":"delay","type":"float64","nullable":true},
		{"name":"distance","type":"int32","nullable":true},
		{"name":"origin","type":"string","nullable":true},
		{"name":"destination","type":"string","nullable":true}]}`), 0o644)
	out := filepath.Join(dir, "f.parquet")
	code, s, stderr := ingestCmd(t, "-in", flights, "-schema", schema, "-out", out)
	if code != 0 || s.Rows != 20000 {
		t.Fatalf("exit %d, summary %+v: %s", code, s, stderr)
	}
	sc, err := pipeline.Parquet(out, pipeline.ParquetOptions{}).Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Field(1).Type.String() + " " + sc.Field(2).Type.String(); got != "float64 int32" {
		t.Errorf("types of delay and distance = %s, want float64 int32", got)
	}
}

func TestIngestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("a,b\n1,x\n2,y\nthree,z\n"), 0o644)
	schema := filepath.Join(dir, "schema.json")
	os.WriteFile(schema, []byte(`{"fields":[{"name":"a","type":"int64"},{"name":"b","type":"string"}]}`), 0o644)
	badSchema := filepath.Join(dir, "bad-schema.json")
	os.WriteFile(badSchema, []byte(`{"fields":[{"name":"a","type":"int"}]}`), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad value", []string{"-in", bad, "-schema", schema, "-out", filepath.Join(dir, "o1.parquet")}, 1, `row 3 (byte 12): column "a": value "three"`},
		{"missing input", []string{"-in", filepath.Join(dir, "none.csv"), "-out", filepath.Join(dir, "o2.parquet")}, 1, "no such file"},
		{"glob matches nothing", []string{"-in", filepath.Join(dir, "*.nothing"), "-out", filepath.Join(dir, "o3.parquet")}, 1, "matches no files"},
		{"unknown output", []string{"-in", bad, "-out", filepath.Join(dir, "o4.xlsx")}, 2, "xlsx"},
		{"unknown format", []string{"-in", bad, "-format", "xml", "-out", filepath.Join(dir, "o5.csv")}, 2, `-format "xml"`},
		{"bad schema", []string{"-in", bad, "-schema", badSchema, "-out", filepath.Join(dir, "o6.csv")}, 1, `unknown type "int"`},
		{"schema with parquet", []string{"-in", "../../testdata/flights-20k.parquet", "-schema", schema, "-out", filepath.Join(dir, "o7.csv")}, 2, "-schema applies to csv and ndjson"},
		{"no -out", []string{"-in", bad}, 2, "usage"},
		{"output folder missing", []string{"-in", bad, "-out", filepath.Join(dir, "no", "such", "dir.parquet")}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := ingestCmd(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.msg)
			}
		})
	}
	// Failed runs leave no output behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "o") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("failed run left %s behind", e.Name())
		}
	}
}
