package features

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// goldenCase is one file of testdata/golden, written by
// testdata/golden/make_golden.py with scikit-learn 1.2 (see the script for
// the format and for what computed each case).
type goldenCase struct {
	Case      string `json:"case"`
	Dataset   string `json:"dataset"`
	Reference string `json:"reference"`
	// Versions are those of scikit-learn, NumPy and pandas.
	Versions map[string]string `json:"versions"`
	Spec     json.RawMessage   `json:"spec"`
	FitRows  int               `json:"fit_rows"`
	Inputs   []goldenColumn    `json:"inputs"`
	Outputs  []string          `json:"outputs"`
	Expected [][]*float64      `json:"expected"`
	// ExpectedFitApply is the cross-fitted output on the fit rows (target
	// encoding's fit_transform).
	ExpectedFitApply [][]*float64 `json:"expected_fit_apply"`
}

type goldenColumn struct {
	Name   string            `json:"name"`
	Type   string            `json:"type"` // float64, int64, string, timestamp
	Values []json.RawMessage `json:"values"`
}

// goldenTol is the relative tolerance of the comparison with scikit-learn.
// Values that cancel to (nearly) zero are compared with goldenAbs instead:
// a standardized value of exactly the mean can come out as 0 on one side and
// 1e-17 on the other.
const (
	goldenTol = 1e-9
	goldenAbs = 1e-12
)

func loadGolden(t *testing.T) []goldenCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files in testdata/golden: run /usr/bin/python3 features/testdata/golden/make_golden.py")
	}
	var cases []goldenCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c goldenCase
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if c.Case+".json" != filepath.Base(f) {
			t.Fatalf("%s holds case %q", f, c.Case)
		}
		cases = append(cases, c)
	}
	return cases
}

// goldenKinds returns the transform kinds of a case's spec.
func goldenKinds(t *testing.T, c goldenCase) []string {
	t.Helper()
	var spec struct {
		Transforms []struct {
			Name string `json:"name"`
		} `json:"transforms"`
	}
	if err := json.Unmarshal(c.Spec, &spec); err != nil {
		t.Fatalf("%s: spec: %v", c.Case, err)
	}
	var kinds []string
	for _, s := range spec.Transforms {
		kinds = append(kinds, s.Name)
	}
	return kinds
}

// goldenRecord builds the case's input columns as one record batch. With
// nanForNull, missing float64 values are NaN instead of Arrow nulls (both
// mean missing).
func goldenRecord(t *testing.T, mem memory.Allocator, c goldenCase, nanForNull bool) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(c.Inputs))
	cols := make([]arrow.Array, len(c.Inputs))
	for i, in := range c.Inputs {
		var b array.Builder
		switch in.Type {
		case "float64":
			fb := array.NewFloat64Builder(mem)
			for _, v := range in.Values {
				if isJSONNull(v) {
					if nanForNull {
						fb.Append(math.NaN())
					} else {
						fb.AppendNull()
					}
					continue
				}
				var x float64
				mustUnmarshal(t, v, &x)
				fb.Append(x)
			}
			b = fb
		case "int64":
			ib := array.NewInt64Builder(mem)
			for _, v := range in.Values {
				if isJSONNull(v) {
					ib.AppendNull()
					continue
				}
				var x int64
				mustUnmarshal(t, v, &x)
				ib.Append(x)
			}
			b = ib
		case "string":
			sb := array.NewStringBuilder(mem)
			for _, v := range in.Values {
				if isJSONNull(v) {
					sb.AppendNull()
					continue
				}
				var s string
				mustUnmarshal(t, v, &s)
				sb.Append(s)
			}
			b = sb
		case "timestamp":
			tb := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond})
			for _, v := range in.Values {
				if isJSONNull(v) {
					tb.AppendNull()
					continue
				}
				tb.Append(arrow.Timestamp(goldenTime(t, v).UnixMicro()))
			}
			b = tb
		default:
			t.Fatalf("%s: column %s: unknown type %q", c.Case, in.Name, in.Type)
		}
		cols[i] = b.NewArray()
		b.Release()
		fields[i] = arrow.Field{Name: in.Name, Type: cols[i].DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(cols[0].Len()))
	for _, a := range cols {
		a.Release()
	}
	return rec
}

// goldenValue returns row i of a golden column as a single-row Value.
func goldenValue(t *testing.T, in goldenColumn, i int) Value {
	v := in.Values[i]
	if isJSONNull(v) {
		return Null()
	}
	switch in.Type {
	case "float64":
		var x float64
		mustUnmarshal(t, v, &x)
		return Float(x)
	case "int64":
		var x int64
		mustUnmarshal(t, v, &x)
		return Int(x)
	case "string":
		var s string
		mustUnmarshal(t, v, &s)
		return String(s)
	case "timestamp":
		return Time(goldenTime(t, v))
	}
	t.Fatalf("column %s: unknown type %q", in.Name, in.Type)
	return Null()
}

func goldenTime(t *testing.T, v json.RawMessage) time.Time {
	t.Helper()
	var s string
	mustUnmarshal(t, v, &s)
	tm, err := time.Parse(time.DateTime, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func isJSONNull(v json.RawMessage) bool { return string(v) == "null" }

func mustUnmarshal(t *testing.T, v json.RawMessage, dst any) {
	t.Helper()
	if err := json.Unmarshal(v, dst); err != nil {
		t.Fatalf("golden value %s: %v", v, err)
	}
}

// splitBatches cuts rec's first rows rows into n batches (the last ones may
// be empty), so that fitting merges partial fits.
func splitBatches(rec arrow.RecordBatch, rows, n int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for k := range n {
		lo, hi := rows*k/n, rows*(k+1)/n
		out = append(out, rec.NewSlice(int64(lo), int64(hi)))
	}
	return out
}

// closeTo reports whether got equals want to goldenTol relative (or
// goldenAbs absolute); NaN equals NaN only.
func closeTo(got float64, want *float64) bool {
	if want == nil {
		return math.IsNaN(got)
	}
	w := *want
	if math.IsNaN(got) || math.IsInf(got, 0) {
		return false
	}
	d := math.Abs(got - w)
	return d <= goldenAbs || d <= goldenTol*math.Max(math.Abs(got), math.Abs(w))
}

func fmtWant(w *float64) string {
	if w == nil {
		return "NaN"
	}
	return fmt.Sprint(*w)
}

// fitGolden fits a column transformer to the first c.FitRows rows of rec,
// given as parts batches.
func fitGolden(t *testing.T, c goldenCase, rec arrow.RecordBatch, parts int, opts FitOptions) *ColumnTransformer {
	t.Helper()
	spec, err := ParseSpec(c.Spec)
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	ct, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	batches := splitBatches(rec, c.FitRows, parts)
	src := pipeline.FromBatches(rec.Schema(), batches...)
	for _, b := range batches {
		b.Release()
	}
	defer src.Release()
	if err := ct.Fit(context.Background(), src, opts); err != nil {
		t.Fatalf("Fit: %v", err)
	}
	return ct
}

// TestGolden fits every golden case with Kiln and compares batch apply and
// single-row apply with scikit-learn's outputs.
func TestGolden(t *testing.T) {
	cases := loadGolden(t)
	seen := map[string]bool{}
	for _, c := range cases {
		kinds := goldenKinds(t, c)
		for _, k := range kinds {
			seen[k] = true
		}
		t.Run(c.Case, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rec := goldenRecord(t, mem, c, false)
			defer rec.Release()
			rows := int(rec.NumRows())
			if len(c.Expected) != rows {
				t.Fatalf("golden file has %d expected rows for %d input rows", len(c.Expected), rows)
			}
			ct := fitGolden(t, c, rec, 3, FitOptions{})

			outs := ct.Outputs()
			if len(outs) != len(c.Outputs) {
				t.Fatalf("outputs %q, scikit-learn's %q", outs, c.Outputs)
			}
			if !slices.Equal(outs, c.Outputs) {
				t.Errorf("outputs %q, want %q", outs, c.Outputs)
			}

			// Batch apply.
			got, err := ct.Apply(context.Background(), rec)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			defer got.Release()
			if int(got.NumCols()) != len(outs) || int(got.NumRows()) != rows {
				t.Fatalf("Apply gave %d×%d, want %d×%d", got.NumRows(), got.NumCols(), rows, len(outs))
			}
			batch := make([][]float64, len(outs))
			for j := range outs {
				col, ok := got.Column(j).(*array.Float64)
				if !ok {
					t.Fatalf("output %s is %s, want float64", outs[j], got.Column(j).DataType())
				}
				if got.ColumnName(j) != outs[j] {
					t.Errorf("output column %d is named %q, Outputs says %q", j, got.ColumnName(j), outs[j])
				}
				batch[j] = slices.Clone(col.Float64Values())
				for i := range rows {
					if col.IsNull(i) {
						batch[j][i] = math.NaN()
					}
				}
			}
			bad := 0
			for i := range rows {
				for j := range outs {
					if !closeTo(batch[j][i], c.Expected[i][j]) {
						if bad++; bad <= 5 {
							t.Errorf("row %d %s: got %v, scikit-learn %s", i, outs[j], batch[j][i], fmtWant(c.Expected[i][j]))
						}
					}
				}
			}
			if bad > 5 {
				t.Errorf("... %d values differ in all", bad)
			}

			// NaN in place of null gives the same outputs.
			if hasMissingFloat(c) {
				nanRec := goldenRecord(t, mem, c, true)
				got2, err := ct.Apply(context.Background(), nanRec)
				nanRec.Release()
				if err != nil {
					t.Fatalf("Apply with NaN for null: %v", err)
				}
				for j := range outs {
					if !sameBits(batch[j], got2.Column(j).(*array.Float64).Float64Values()) {
						t.Errorf("output %s differs with NaN instead of null", outs[j])
					}
				}
				got2.Release()
			}

			// Single-row apply: bit-identical to batch apply on every row.
			inputs := ct.Inputs()
			byName := map[string]goldenColumn{}
			for _, in := range c.Inputs {
				byName[in.Name] = in
			}
			row := make([]Value, len(inputs))
			out := make([]float64, len(outs))
			bad = 0
			for i := range rows {
				for k, name := range inputs {
					in, ok := byName[name]
					if !ok {
						t.Fatalf("input %q is not in the golden file", name)
					}
					row[k] = goldenValue(t, in, i)
				}
				if err := ct.ApplyRowInto(row, out); err != nil {
					t.Fatalf("ApplyRowInto row %d: %v", i, err)
				}
				if i%97 == 0 {
					// The map form agrees with the slice form.
					m := make(map[string]Value, len(inputs))
					for k, name := range inputs {
						m[name] = row[k]
					}
					viaMap, err := ct.ApplyRow(m)
					if err != nil {
						t.Fatalf("ApplyRow row %d: %v", i, err)
					}
					if !sameBits(viaMap, out) {
						t.Errorf("row %d: ApplyRow %v, ApplyRowInto %v", i, viaMap, out)
					}
				}
				for j := range outs {
					if math.Float64bits(out[j]) != math.Float64bits(batch[j][i]) && !(math.IsNaN(out[j]) && math.IsNaN(batch[j][i])) {
						if bad++; bad <= 5 {
							t.Errorf("row %d %s: single-row %v, batch %v", i, outs[j], out[j], batch[j][i])
						}
					}
				}
			}

			// The float32 training matrix is the batch output, rounded.
			m, err := ct.Matrix(rec, nil)
			if err != nil {
				t.Fatalf("Matrix: %v", err)
			}
			if len(m) != rows*len(outs) {
				t.Fatalf("Matrix has %d values, want %d", len(m), rows*len(outs))
			}
			for i := range rows {
				for j := range outs {
					w := float32(batch[j][i])
					if g := m[i*len(outs)+j]; g != w && !(g != g && w != w) {
						t.Fatalf("Matrix row %d %s: %v, want %v", i, outs[j], g, w)
					}
				}
			}

			// The saved state reloads to a transformer with the same outputs.
			saved, err := ct.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			ct2, err := Load(saved)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			again, err := ct2.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(saved, again) {
				t.Errorf("state changes on a round trip:\n%s\n%s", saved, again)
			}
			got3, err := ct2.Apply(context.Background(), rec)
			if err != nil {
				t.Fatalf("Apply after Load: %v", err)
			}
			for j := range outs {
				if !sameBits(batch[j], got3.Column(j).(*array.Float64).Float64Values()) {
					t.Errorf("output %s differs after a JSON round trip", outs[j])
				}
			}
			got3.Release()

			// Four partitions merged fit the same as one.
			if c.FitRows >= 4 {
				ct4 := fitGolden(t, c, rec, 4, FitOptions{Workers: 4})
				s4, err := ct4.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				ct1 := fitGolden(t, c, rec, 1, FitOptions{Workers: 1})
				s1, err := ct1.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(s1, s4) {
					t.Errorf("fit of 4 merged partitions differs from the fit of the whole:\n%s\n%s", s4, s1)
				}
			}

			if c.ExpectedFitApply != nil {
				goldenFitApply(t, c, rec, outs)
			}
		})
	}
	// Every kind the issue lists has golden cases.
	for _, k := range []string{"standard", "minmax", "maxabs", "robust", "log1p", "clip", "impute", "onehot",
		"ordinal", "hash", "kbins", "datetime", "passthrough", "cross", "target"} {
		if !seen[k] {
			t.Errorf("no golden case for %q", k)
		}
	}
}

// hasMissingFloat reports whether a float64 input column has a missing
// value.
func hasMissingFloat(c goldenCase) bool {
	for _, in := range c.Inputs {
		if in.Type != "float64" {
			continue
		}
		for _, v := range in.Values {
			if isJSONNull(v) {
				return true
			}
		}
	}
	return false
}

// sameBits reports whether a and b hold the same float64 bits (any NaN
// equals any NaN).
func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

func TestGoldenScriptNamesEveryFile(t *testing.T) {
	// The script documents its output format; a golden file it no longer
	// writes would linger unnoticed, so every file must carry the script's
	// reference and version stamp.
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Versions map[string]string `json:"versions"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.HasPrefix(doc.Versions["sklearn"], "1.2.") {
			t.Errorf("%s was made with scikit-learn %q, want 1.2.x", f, doc.Versions["sklearn"])
		}
	}
}

// goldenFitApply checks the cross-fitted training outputs of a target
// encoding case (scikit-learn 1.3's fit_transform) through the fitter's
// CrossFitter interface, with the fit rows added as two partial fits merged.
func goldenFitApply(t *testing.T, c goldenCase, rec arrow.RecordBatch, outs []string) {
	t.Helper()
	spec, err := ParseSpec(c.Spec)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	steps := ct.Transforms()
	if len(steps) != 1 {
		t.Fatalf("%d steps, want 1", len(steps))
	}
	tr := steps[0]
	names := tr.Inputs()
	if fi, ok := tr.(FitInputser); ok {
		names = fi.FitInputs()
	}
	cols := make([]arrow.Array, len(names))
	types := make([]arrow.DataType, len(names))
	for k, n := range names {
		idx := rec.Schema().FieldIndices(n)
		if len(idx) != 1 {
			t.Fatalf("fit input %q is not in the golden file", n)
		}
		cols[k] = rec.Column(idx[0])
		types[k] = cols[k].DataType()
	}
	half := c.FitRows / 2
	var fitters []Fitter
	for _, r := range [][2]int{{0, half}, {half, c.FitRows}} {
		f, err := tr.NewFitter(types)
		if err != nil {
			t.Fatal(err)
		}
		part := make([]arrow.Array, len(cols))
		for k, a := range cols {
			part[k] = array.NewSlice(a, int64(r[0]), int64(r[1]))
		}
		err = f.Add(part)
		for _, a := range part {
			a.Release()
		}
		if err != nil {
			t.Fatal(err)
		}
		fitters = append(fitters, f)
	}
	if err := fitters[0].Merge(fitters[1]); err != nil {
		t.Fatal(err)
	}
	cf, ok := fitters[0].(CrossFitter)
	if !ok {
		t.Fatalf("the %s fitter does not implement CrossFitter", tr.Kind())
	}
	_, fa, err := cf.FinishCrossFit()
	if err != nil {
		t.Fatalf("FinishCrossFit: %v", err)
	}
	if len(fa) != len(outs) {
		t.Fatalf("FinishCrossFit gave %d outputs, want %d", len(fa), len(outs))
	}
	bad := 0
	for j := range fa {
		if len(fa[j]) != c.FitRows {
			t.Fatalf("FinishCrossFit output %d has %d rows, want %d", j, len(fa[j]), c.FitRows)
		}
		for i, x := range fa[j] {
			if !closeTo(x, c.ExpectedFitApply[i][j]) {
				if bad++; bad <= 5 {
					t.Errorf("cross-fit row %d %s: got %v, scikit-learn 1.3 %s", i, outs[j], x, fmtWant(c.ExpectedFitApply[i][j]))
				}
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d cross-fitted values differ in all", bad)
	}
}
