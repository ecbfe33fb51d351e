package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/pipeline"
)

var t0 = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)

func ts(h int) arrow.Timestamp {
	return arrow.Timestamp(t0.Add(time.Duration(h) * time.Hour).UnixMicro())
}

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond}

// writeParquet writes a table of origin (string), event_timestamp and, when
// vals is set, avg_delay_1h (float64, NaN for null).
func writeParquet(t *testing.T, path string, origins []string, hours []int, vals []float64) {
	t.Helper()
	mem := memory.DefaultAllocator
	ob := array.NewStringBuilder(mem)
	tb := array.NewTimestampBuilder(mem, tsType)
	vb := array.NewFloat64Builder(mem)
	defer ob.Release()
	defer tb.Release()
	defer vb.Release()
	fields := []arrow.Field{{Name: "origin", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event_timestamp", Type: tsType, Nullable: true}}
	for i := range origins {
		ob.Append(origins[i])
		tb.Append(ts(hours[i]))
		if vals != nil {
			if vals[i] != vals[i] {
				vb.AppendNull()
			} else {
				vb.Append(vals[i])
			}
		}
	}
	cols := []arrow.Array{ob.NewArray(), tb.NewArray()}
	if vals != nil {
		fields = append(fields, arrow.Field{Name: "avg_delay_1h", Type: arrow.PrimitiveTypes.Float64, Nullable: true})
		cols = append(cols, vb.NewArray())
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(origins)))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	src := pipeline.FromBatches(nil, rec)
	defer src.Release()
	if _, err := pipeline.New(src).Run(context.Background(), pipeline.ToParquet(path, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func historicalCmd(t *testing.T, args ...string) (int, summary, string) {
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

func TestHistorical(t *testing.T) {
	dir := t.TempDir()
	ent := filepath.Join(dir, "E.parquet")
	feat := filepath.Join(dir, "F.parquet")
	out := filepath.Join(dir, "OUT.parquet")
	writeParquet(t, ent, []string{"SFO", "LAX", "SFO", "JFK", "SFO"}, []int{5, 5, 30, 5, 2}, nil)
	nan := 0.0
	nan /= nan
	writeParquet(t, feat, []string{"SFO", "SFO", "LAX", "SFO"}, []int{1, 4, 6, 3}, []float64{1.5, 2.5, 3.5, nan})
	spec := filepath.Join(dir, "spec.json")
	os.WriteFile(spec, []byte(`{"entities":{"path":"`+ent+`","keys":["origin"],"timestamp":"event_timestamp"},
		"views":[{"name":"airport","path":"`+feat+`","keys":["origin"],"timestamp":"event_timestamp",
		          "created":"","ttl":"24h","features":["avg_delay_1h"]}],
		"out":"`+out+`"}`), 0o644)
	code, s, stderr := historicalCmd(t, "-spec", spec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s.Rows != 5 || s.Seconds <= 0 {
		t.Errorf("summary %+v", s)
	}
	src := pipeline.Parquet(out, pipeline.ParquetOptions{})
	var names []string
	var got []any
	for b, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if names == nil {
			for _, f := range b.Schema().Fields() {
				names = append(names, f.Name)
			}
		}
		o := b.Column(0).(*array.String)
		v := b.Column(2).(*array.Float64)
		for i := range int(b.NumRows()) {
			var x any
			if v.IsValid(i) {
				x = v.Value(i)
			}
			got = append(got, o.Value(i), x)
		}
		b.Release()
	}
	if d := cmp.Diff([]string{"origin", "event_timestamp", "airport__avg_delay_1h"}, names); d != "" {
		t.Errorf("columns (-want +got):\n%s", d)
	}
	// SFO@5: row at 4 (2.5); LAX@5: its row is later; SFO@30: 26h old, out
	// of the 24h TTL; JFK: none; SFO@2: row at 1.
	want := []any{"SFO", 2.5, "LAX", nil, "SFO", nil, "JFK", nil, "SFO", 1.5}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}

	// No TTL and all features by default.
	os.WriteFile(spec, []byte(`{"entities":{"path":"`+ent+`","keys":["origin"],"timestamp":"event_timestamp"},
		"views":[{"name":"a","path":"`+feat+`","keys":["origin"],"timestamp":"event_timestamp"}],
		"out":"`+out+`"}`), 0o644)
	if code, s, stderr = historicalCmd(t, "-spec", spec); code != 0 || s.Rows != 5 {
		t.Fatalf("exit %d, %+v: %s", code, s, stderr)
	}
}

func TestHistoricalErrors(t *testing.T) {
	dir := t.TempDir()
	ent := filepath.Join(dir, "E.parquet")
	writeParquet(t, ent, []string{"SFO"}, []int{5}, nil)
	out := filepath.Join(dir, "OUT.parquet")
	for name, c := range map[string]struct {
		spec string
		code int
	}{
		"bad json":     {`{`, 2},
		"unknown key":  {`{"entities":{"path":"` + ent + `","timestamp":"event_timestamp"},"views":[],"out":"x.parquet","extra":1}`, 2},
		"no views":     {`{"entities":{"path":"` + ent + `","timestamp":"event_timestamp"},"views":[],"out":"` + out + `"}`, 2},
		"bad ttl":      {`{"entities":{"path":"` + ent + `","timestamp":"event_timestamp"},"views":[{"name":"a","path":"` + ent + `","keys":["origin"],"timestamp":"event_timestamp","ttl":"1 day"}],"out":"` + out + `"}`, 2},
		"missing key":  {`{"entities":{"path":"` + ent + `","timestamp":"event_timestamp"},"views":[{"name":"a","path":"` + ent + `","keys":["dest"],"timestamp":"event_timestamp"}],"out":"` + out + `"}`, 2},
		"missing file": {`{"entities":{"path":"` + ent + `","timestamp":"event_timestamp"},"views":[{"name":"a","path":"` + dir + `/nope.parquet","keys":["origin"],"timestamp":"event_timestamp"}],"out":"` + out + `"}`, 1},
	} {
		spec := filepath.Join(dir, "spec.json")
		os.WriteFile(spec, []byte(c.spec), 0o644)
		code, _, stderr := historicalCmd(t, "-spec", spec)
		if code != c.code || !strings.Contains(stderr, "historical:") {
			t.Errorf("%s: exit %d, want %d; stderr %q", name, code, c.code, stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output left behind", name)
		}
	}
	if code, _, _ := historicalCmd(t); code != 2 {
		t.Errorf("no flags: exit %d, want 2", code)
	}
}
