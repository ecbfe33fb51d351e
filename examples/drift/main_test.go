package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The golden values come from testdata/golden.py (SciPy 1.10), which also
// writes testdata/ref.csv and cur.csv. Regenerate from the repository root:
//
//	/usr/bin/python3 examples/drift/testdata/golden.py
const (
	refCSV     = "testdata/ref.csv"
	curCSV     = "testdata/cur.csv"
	goldenJSON = "testdata/golden.json"
)

type golden struct {
	RefRows int `json:"ref_rows"`
	CurRows int `json:"cur_rows"`
	Columns map[string]struct {
		Type  string             `json:"type"`
		Stats map[string]float64 `json:"stats"`
	} `json:"columns"`
}

func readGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile(goldenJSON)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// driftCmd runs the command and returns its error, stdout and stderr.
func driftCmd(t *testing.T, args ...string) (error, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return err, stdout.String(), stderr.String()
}

// parseLines splits -json output into the column lines and the summary.
func parseLines(t *testing.T, out string) ([]columnLine, summaryLine) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 1 {
		t.Fatalf("no output")
	}
	var cols []columnLine
	for _, l := range lines[:len(lines)-1] {
		var c columnLine
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("column line %q: %v", l, err)
		}
		cols = append(cols, c)
	}
	var s summaryLine
	dec := json.NewDecoder(strings.NewReader(lines[len(lines)-1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("summary line %q: %v", lines[len(lines)-1], err)
	}
	return cols, s
}

func near(got, want float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= 1e-9*math.Max(math.Abs(want), 1e-300)
}

func TestExactJSONGolden(t *testing.T) {
	g := readGolden(t)
	err, out, stderr := driftCmd(t, "-ref", refCSV, "-cur", curCSV, "-exact", "-json")
	if err != nil {
		t.Fatalf("drift: %v\n%s", err, stderr)
	}
	// The exact key order of a line, as the issue shows it.
	first := strings.SplitN(out, "\n", 2)[0]
	keys := []string{`{"column":`, `,"type":`, `,"method":`, `,"statistic":`, `,"p_value":`, `,"threshold":`, `,"drift":`, `,"stats":{`}
	pos := 0
	for _, k := range keys {
		i := strings.Index(first[pos:], k)
		if i < 0 {
			t.Fatalf("first line %q lacks %s after position %d", first, k, pos)
		}
		pos += i + len(k)
	}
	cols, sum := parseLines(t, out)
	var names []string
	drifted := 0
	for _, c := range cols {
		names = append(names, c.Column)
		want, ok := g.Columns[c.Column]
		if !ok {
			t.Errorf("unexpected column %q", c.Column)
			continue
		}
		if c.Type != want.Type {
			t.Errorf("%s: type %q, want %q", c.Column, c.Type, want.Type)
		}
		for k, w := range want.Stats {
			got, ok := c.Stats[k]
			if !ok || got == nil {
				t.Errorf("%s: stats lack %s", c.Column, k)
				continue
			}
			if !near(*got, w) {
				t.Errorf("%s: %s = %.17g, want %.17g (SciPy), relative error %.2g", c.Column, k, *got, w, math.Abs(*got-w)/math.Abs(w))
			}
		}
		if c.Statistic == nil || c.Threshold == nil {
			t.Errorf("%s: statistic or threshold null", c.Column)
			continue
		}
		// The reference has 731 rows (≤ 1000): the tests are the default
		// methods, and the statistic is the one in stats.
		switch c.Method {
		case "ks":
			if *c.Statistic != *c.Stats["ks_d"] || c.PValue == nil || *c.PValue != *c.Stats["ks_p"] {
				t.Errorf("%s: ks statistic %v p %v, stats %v %v", c.Column, *c.Statistic, c.PValue, *c.Stats["ks_d"], *c.Stats["ks_p"])
			}
		case "chi2":
			if !near(*c.Statistic, *c.Stats["chi2"]) || c.PValue == nil || !near(*c.PValue, *c.Stats["chi2_p"]) {
				t.Errorf("%s: chi2 statistic %v p %v, stats %v %v", c.Column, *c.Statistic, c.PValue, *c.Stats["chi2"], *c.Stats["chi2_p"])
			}
		default:
			t.Errorf("%s: method %q, want ks or chi2 for a reference of %d rows", c.Column, c.Method, g.RefRows)
		}
		if c.PValue != nil && c.Drift != (*c.PValue < *c.Threshold) {
			t.Errorf("%s: drift %v with p %v and threshold %v", c.Column, c.Drift, *c.PValue, *c.Threshold)
		}
		if c.Drift {
			drifted++
		}
	}
	wantNames := []string{"precipitation", "temp_max", "temp_min", "wind", "weather"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("columns %q, want %q (the reference's order)", names, wantNames)
	}
	// temp_max, temp_min and weather drift (p = 0.0025, 0.012, 3.5e-15);
	// precipitation and wind do not (p = 0.42): 3 of 5.
	if sum.Columns != 5 || sum.Drifted != drifted || drifted != 3 || sum.Share == nil || !near(*sum.Share, 0.6) || !sum.DatasetDrift {
		t.Errorf("summary %+v (share %v), want 5 columns, 3 drifted, share 0.6, dataset drift", sum, sum.Share)
	}
}

func TestColumnsFlag(t *testing.T) {
	err, out, stderr := driftCmd(t, "-ref", refCSV, "-cur", curCSV, "-exact", "-json", "-columns", "wind,weather")
	if err != nil {
		t.Fatalf("drift: %v\n%s", err, stderr)
	}
	cols, sum := parseLines(t, out)
	if len(cols) != 2 || cols[0].Column != "wind" || cols[1].Column != "weather" || sum.Columns != 2 {
		t.Errorf("got %+v / %+v, want wind and weather", cols, sum)
	}
}

// TestProfiles runs the default (profile) mode: the same columns, methods
// and, on data this small (exact sketches), statistics close to the exact
// ones.
func TestProfiles(t *testing.T) {
	g := readGolden(t)
	err, out, stderr := driftCmd(t, "-ref", refCSV, "-cur", curCSV, "-json")
	if err != nil {
		t.Fatalf("drift: %v\n%s", err, stderr)
	}
	cols, sum := parseLines(t, out)
	if len(cols) != 5 || sum.Columns != 5 {
		t.Fatalf("%d columns, want 5:\n%s", len(cols), out)
	}
	for _, c := range cols {
		want := g.Columns[c.Column]
		if c.Type != want.Type {
			t.Errorf("%s: type %q, want %q", c.Column, c.Type, want.Type)
		}
		if c.Method == "ks" && c.Statistic != nil && math.Abs(*c.Statistic-want.Stats["ks_d"]) > 0.02 {
			t.Errorf("%s: KS D from profiles %v, exact %v", c.Column, *c.Statistic, want.Stats["ks_d"])
		}
	}
}

func TestTableAndHTML(t *testing.T) {
	html := filepath.Join(t.TempDir(), "report.html")
	err, out, stderr := driftCmd(t, "-ref", refCSV, "-cur", curCSV, "-exact", "-html", html)
	if err != nil {
		t.Fatalf("drift: %v\n%s", err, stderr)
	}
	for _, want := range []string{"column", "temp_max", "DRIFT", "DATASET DRIFT: 3 of 5 columns drifted"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "<svg "); n != 5 {
		t.Errorf("HTML report has %d charts, want 5", n)
	}
	if !strings.Contains(string(b), "ref.csv vs cur.csv") {
		t.Error("HTML report lacks its name")
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		msg   string
	}{
		{"no flags", nil, true, "need -ref and -cur"},
		{"no cur", []string{"-ref", refCSV}, true, "need -ref and -cur"},
		{"bad flag", []string{"-ref", refCSV, "-cur", curCSV, "-nope"}, true, "flag provided but not defined"},
		{"extra args", []string{"-ref", refCSV, "-cur", curCSV, "x"}, true, "unexpected arguments"},
		{"bad extension", []string{"-ref", "main.go", "-cur", curCSV}, true, "cannot tell the format"},
		{"missing file", []string{"-ref", "testdata/nope.csv", "-cur", curCSV}, false, "nope.csv"},
		{"unknown column", []string{"-ref", refCSV, "-cur", curCSV, "-exact", "-columns", "nope"}, false, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, _, stderr := driftCmd(t, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errUsage) != tc.usage {
				t.Errorf("usage error %v, want %v: %v", errors.Is(err, errUsage), tc.usage, err)
			}
			if !strings.Contains(err.Error()+stderr, tc.msg) {
				t.Errorf("error %q / stderr %q lacks %q", err, stderr, tc.msg)
			}
		})
	}
}
