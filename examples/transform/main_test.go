package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/pipeline"
)

const (
	weather = "../../testdata/seattle-weather.csv"
	flights = "../../testdata/flights-20k.parquet"
)

const weatherSpec = `{"transforms":[
  {"name":"standard","columns":["temp_max","temp_min"]},
  {"name":"impute","columns":["wind"],"strategy":"median","add_indicator":true},
  {"name":"onehot","columns":["weather"],"handle_unknown":"error"},
  {"name":"datetime","columns":["date"],"parts":["year","month"]}]}`

func transformCmd(t *testing.T, args ...string) (int, summary, string) {
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

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readColumns reads a whole file into float64 columns by name (strings are
// kept in strs).
func readColumns(t *testing.T, path string) (names []string, nums map[string][]float64, strs map[string][]string) {
	t.Helper()
	var src pipeline.Source
	if filepath.Ext(path) == ".parquet" {
		src = pipeline.Parquet(path, pipeline.ParquetOptions{})
	} else {
		src = pipeline.CSV(path, pipeline.CSVOptions{})
	}
	sc, err := src.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	nums, strs = map[string][]float64{}, map[string][]string{}
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	for b, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		for j, f := range b.Schema().Fields() {
			switch a := b.Column(j).(type) {
			case *array.Float64:
				nums[f.Name] = append(nums[f.Name], a.Float64Values()...)
			case *array.Int64:
				for _, x := range a.Int64Values() {
					nums[f.Name] = append(nums[f.Name], float64(x))
				}
			default:
				for i := range a.Len() {
					strs[f.Name] = append(strs[f.Name], a.ValueStr(i))
				}
			}
		}
		b.Release()
	}
	return names, nums, strs
}

// goldenColumn returns one output column of a golden file of package
// features, computed by scikit-learn.
func goldenColumn(t *testing.T, file, output string) []float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "features", "testdata", "golden", file))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Outputs  []string     `json:"outputs"`
		Expected [][]*float64 `json:"expected"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	j := slices.Index(g.Outputs, output)
	if j < 0 {
		t.Fatalf("%s has no output %s", file, output)
	}
	var col []float64
	for _, row := range g.Expected {
		col = append(col, *row[j])
	}
	return col
}

func TestFitApplyMatchesScikitLearn(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "spec.json", weatherSpec)
	out := filepath.Join(dir, "out.csv")
	code, s, stderr := transformCmd(t, "-spec", spec, "-fit", weather, "-apply", weather, "-out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{"temp_max", "temp_min", "wind", "weather_drizzle", "weather_fog", "weather_rain",
		"weather_snow", "weather_sun", "date_year", "date_month"}
	// wind has no missing values, so no indicator (scikit-learn's
	// features="missing-only").
	if s.FitRows != 1461 || s.Rows != 1461 || !slices.Equal(s.Outputs, want) || s.State != "" || s.Seconds <= 0 {
		t.Errorf("summary %+v", s)
	}
	names, nums, _ := readColumns(t, out)
	if !slices.Equal(names, want) {
		t.Fatalf("output columns %q, want %q", names, want)
	}
	for _, c := range []string{"temp_max", "temp_min"} {
		gold := goldenColumn(t, "seattle_weather_standard.json", c)
		got := nums[c]
		if len(got) != len(gold) {
			t.Fatalf("%s: %d rows, want %d", c, len(got), len(gold))
		}
		for i := range got {
			if d := math.Abs(got[i] - gold[i]); d > 1e-9*math.Max(1, math.Abs(gold[i])) {
				t.Fatalf("%s row %d: %v, scikit-learn %v", c, i, got[i], gold[i])
			}
		}
	}
	for i := range 1461 {
		var ones float64
		for _, c := range want[3:8] {
			ones += nums[c][i]
		}
		if ones != 1 {
			t.Fatalf("row %d: one-hot sums to %v", i, ones)
		}
	}
	if nums["date_year"][0] != 2012 || nums["date_month"][0] != 1 || nums["date_year"][1460] != 2015 || nums["date_month"][1460] != 12 {
		t.Errorf("date parts: first %v-%v, last %v-%v", nums["date_year"][0], nums["date_month"][0],
			nums["date_year"][1460], nums["date_month"][1460])
	}
}

func TestSavedStateAppliesIdentically(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "spec.json", weatherSpec)
	state := filepath.Join(dir, "state.json")
	first := filepath.Join(dir, "first.parquet")
	code, s, stderr := transformCmd(t, "-spec", spec, "-fit", weather, "-apply", weather, "-out", first, "-state", state)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s.State != state {
		t.Errorf("summary state %q", s.State)
	}
	saved, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(saved, []byte(`"kiln.features"`)) {
		t.Errorf("state is not a kiln.features document: %.200s", saved)
	}

	// Apply the saved state, without and with the (same) spec.
	for _, extra := range [][]string{nil, {"-spec", spec}} {
		second := filepath.Join(dir, "second.parquet")
		args := append([]string{"-state", state, "-apply", weather, "-out", second}, extra...)
		code, s, stderr = transformCmd(t, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if s.FitRows != 0 || s.Rows != 1461 {
			t.Errorf("summary %+v", s)
		}
		n1, a, _ := readColumns(t, first)
		n2, b, _ := readColumns(t, second)
		if !slices.Equal(n1, n2) {
			t.Fatalf("columns %q then %q", n1, n2)
		}
		for _, c := range n1 {
			if !slices.Equal(a[c], b[c]) {
				t.Errorf("column %s differs when the saved state is applied", c)
			}
		}
		again, _ := os.ReadFile(state)
		if !bytes.Equal(saved, again) {
			t.Error("applying a state rewrote it")
		}
	}

	// Fit only, saving the state.
	state2 := filepath.Join(dir, "state2.json")
	code, s, stderr = transformCmd(t, "-spec", spec, "-fit", weather, "-state", state2)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s.Rows != 0 || s.FitRows != 1461 {
		t.Errorf("summary %+v", s)
	}
	if again, _ := os.ReadFile(state2); !bytes.Equal(saved, again) {
		t.Error("the same fit saved a different state")
	}
}

func TestParquetAndKeep(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "spec.json", `{"transforms":[
	  {"name":"robust","columns":["delay"]},
	  {"name":"onehot","columns":["origin"],"max_categories":4},
	  {"name":"kbins","columns":["distance"],"n_bins":3,"strategy":"quantile","encode":"ordinal"}]}`)
	out := filepath.Join(dir, "out.parquet")
	code, s, stderr := transformCmd(t, "-spec", spec, "-fit", flights, "-apply", flights, "-out", out, "-keep", "origin,delay")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if s.Rows != 20000 || len(s.Outputs) != 6 || s.Outputs[5] != "distance" || s.Outputs[4] != "origin_infrequent_sklearn" {
		t.Errorf("summary %+v", s)
	}
	names, nums, strs := readColumns(t, out)
	if !slices.Equal(names[:2], []string{"origin", "delay"}) || !slices.Equal(names[2:], s.Outputs) {
		t.Fatalf("columns %q", names)
	}
	if len(strs["origin"]) != 20000 || len(nums["distance"]) != 20000 {
		t.Fatalf("rows: origin %d, distance %d", len(strs["origin"]), len(nums["distance"]))
	}
	counts := map[float64]int{}
	for _, x := range nums["distance"] {
		counts[x]++
	}
	for b := range 3 {
		// Quantile bins hold about a third of the rows each (ties at the
		// edges move some).
		if counts[float64(b)] < 4000 {
			t.Errorf("bin %d holds %d rows: %v", b, counts[float64(b)], counts)
		}
	}
}

func TestBadFlags(t *testing.T) {
	dir := t.TempDir()
	spec := writeFile(t, dir, "spec.json", weatherSpec)
	out := filepath.Join(dir, "out.csv")
	for _, args := range [][]string{
		nil,
		{"-fit", weather, "-apply", weather, "-out", out},                    // no spec
		{"-spec", spec, "-apply", weather, "-out", out},                      // neither fit nor state
		{"-spec", spec, "-fit", weather, "-apply", weather},                  // no out
		{"-spec", spec, "-fit", weather, "-out", out},                        // no apply
		{"-spec", spec, "-fit", weather},                                     // nothing to do
		{"-spec", spec, "-fit", weather, "-apply", weather, "-out", weather}, // overwrites input
		{"-spec", spec, "-fit", weather, "-apply", weather, "-out", filepath.Join(dir, "out.xyz")},
		{"-spec", spec, "-fit", weather, "-apply", weather, "-out", out, "extra"},
		{"-nope"},
	} {
		code, _, stderr := transformCmd(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr)
		}
		if stderr == "" {
			t.Errorf("%q: nothing on standard error", args)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an output file was left behind: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile(weather)
	if err != nil {
		t.Fatal(err)
	}
	// The first 100 days hold no fog.
	lines := strings.SplitAfter(string(raw), "\n")
	early := writeFile(t, dir, "early.csv", strings.Join(lines[:101], ""))
	spec := writeFile(t, dir, "spec.json", weatherSpec)
	out := filepath.Join(dir, "out.csv")
	state := filepath.Join(dir, "state.json")
	for name, tc := range map[string]struct {
		args []string
		msg  string
	}{
		"unknown category": {[]string{"-spec", spec, "-fit", early, "-apply", weather, "-out", out}, "fog"},
		"missing column":   {[]string{"-spec", spec, "-fit", weather, "-apply", flights, "-out", out}, "temp_max"},
		"unknown kind": {[]string{"-spec", writeFile(t, dir, "bad.json", `{"transforms":[{"name":"zscore","columns":["wind"]}]}`),
			"-fit", weather, "-apply", weather, "-out", out}, "zscore"},
		"unknown param": {[]string{"-spec", writeFile(t, dir, "bad2.json", `{"transforms":[{"name":"standard","columns":["wind"],"with_medians":true}]}`),
			"-fit", weather, "-apply", weather, "-out", out}, "with_medians"},
		"wrong type": {[]string{"-spec", writeFile(t, dir, "bad3.json", `{"transforms":[{"name":"standard","columns":["weather"]}]}`),
			"-fit", weather, "-apply", weather, "-out", out}, "weather"},
		"no state file": {[]string{"-state", state, "-apply", weather, "-out", out}, "state.json"},
		"bad state":     {[]string{"-state", writeFile(t, dir, "junk.json", `{"format":"other"}`), "-apply", weather, "-out", out}, "junk.json"},
		"spec and state differ": {[]string{"-spec", writeFile(t, dir, "other.json", `{"transforms":[{"name":"minmax","columns":["wind"]}]}`),
			"-state", fitState(t, dir, spec), "-apply", weather, "-out", out}, "different transforms"},
		"missing input": {[]string{"-spec", spec, "-fit", filepath.Join(dir, "absent.csv"), "-apply", weather, "-out", out}, "absent.csv"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := transformCmd(t, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, stderr)
			}
			if !strings.Contains(stderr, tc.msg) {
				t.Errorf("error %q does not mention %q", stderr, tc.msg)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output file left behind: %v", err)
			}
		})
	}
}

// fitState fits spec on the weather data and returns the saved state's
// path.
func fitState(t *testing.T, dir, spec string) string {
	t.Helper()
	state := filepath.Join(dir, "fitted.json")
	if code, _, stderr := transformCmd(t, "-spec", spec, "-fit", weather, "-state", state); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	return state
}
