package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/kilnml/kiln/pipeline"
)

// f1LoadCSV reads a CSV file of the repository's testdata into one batch.
func f1LoadCSV(t testing.TB, mem memory.Allocator, name string) arrow.RecordBatch {
	t.Helper()
	src := pipeline.CSV(filepath.Join("..", "testdata", name), pipeline.CSVOptions{})
	ctx := context.Background()
	schema, err := src.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var recs []arrow.RecordBatch
	for b, err := range src.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, b)
	}
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for j := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(j)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			t.Fatal(err)
		}
		cols[j] = c
	}
	for _, r := range recs {
		r.Release()
	}
	rec := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// f1WithMissing returns rec with its float64 columns' every k-th value
// (offset by column) replaced by a null, and every (k+1)-th by NaN.
func f1WithMissing(t testing.TB, mem memory.Allocator, rec arrow.RecordBatch, k int) arrow.RecordBatch {
	t.Helper()
	cols := make([]arrow.Array, rec.NumCols())
	for j := range cols {
		c := rec.Column(j)
		f, ok := c.(*array.Float64)
		if !ok {
			c.Retain()
			cols[j] = c
			continue
		}
		b := array.NewFloat64Builder(mem)
		for i := range f.Len() {
			switch {
			case (i+j)%k == 0:
				b.AppendNull()
			case (i+j)%(k+1) == 0:
				b.Append(math.NaN())
			default:
				b.Append(f.Value(i))
			}
		}
		cols[j] = b.NewArray()
		b.Release()
	}
	out := array.NewRecordBatch(rec.Schema(), cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}

func f1NumericColumns(rec arrow.RecordBatch) []string {
	var names []string
	for _, f := range rec.Schema().Fields() {
		if isNumericType(f.Type) {
			names = append(names, f.Name)
		}
	}
	return names
}

// f1Spec builds a spec of every numeric kind over the columns, a few
// columns each.
func f1Spec(t testing.TB, cols []string) Spec {
	t.Helper()
	pick := func(i int) []string {
		var out []string
		for j := i; j < len(cols); j += 8 {
			out = append(out, cols[j])
		}
		return out
	}
	q := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	steps := []string{
		`{"name":"standard","columns":` + q(pick(0)) + `}`,
		`{"name":"minmax","columns":` + q(pick(1)) + `,"feature_range":[-1,2],"clip":true}`,
		`{"name":"maxabs","columns":` + q(pick(2)) + `}`,
		`{"name":"robust","columns":` + q(pick(3)) + `,"quantile_range":[10,90]}`,
		`{"name":"log1p","columns":` + q(pick(4)) + `}`,
		`{"name":"clip","columns":` + q(pick(5)) + `,"min":0.5}`,
		`{"name":"impute","columns":` + q(pick(6)) + `,"strategy":"median","add_indicator":true}`,
		`{"name":"impute","columns":` + q(pick(7)) + `,"strategy":"most_frequent","add_indicator":true}`,
	}
	// Data sets with fewer than 8 numeric columns skip the kinds left
	// without a column.
	var kept []string
	for i, st := range steps {
		if len(pick(i)) > 0 {
			kept = append(kept, st)
		}
	}
	steps = kept
	spec, err := ParseSpec([]byte(`{"transforms":[` + strings.Join(steps, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func f1Fit(t testing.TB, spec Spec, opts FitOptions, batches ...arrow.RecordBatch) *ColumnTransformer {
	t.Helper()
	ct, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	src := pipeline.FromBatches(batches[0].Schema(), batches...)
	defer src.Release()
	if err := ct.Fit(context.Background(), src, opts); err != nil {
		t.Fatal(err)
	}
	return ct
}

func f1JSON(t testing.TB, ct *ColumnTransformer) []byte {
	t.Helper()
	b, err := json.Marshal(ct)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var f1Datasets = []string{"wine.csv", "breast_cancer.csv", "diabetes.csv", "seattle-weather.csv"}

// TestMergeEqualsWhole fits on the whole data in one batch with one worker,
// then on four partitions with four workers, and by merging four fitters
// by hand: the saved states are byte-identical.
func TestMergeEqualsWhole(t *testing.T) {
	for _, ds := range f1Datasets {
		t.Run(ds, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
			raw := f1LoadCSV(t, mem, ds)
			defer raw.Release()
			rec := f1WithMissing(t, mem, raw, 7)
			defer rec.Release()
			spec := f1Spec(t, f1NumericColumns(rec))

			whole := f1JSON(t, f1Fit(t, spec, FitOptions{Workers: 1}, rec))

			n := rec.NumRows()
			var parts []arrow.RecordBatch
			for p := range int64(4) {
				parts = append(parts, rec.NewSlice(p*n/4, (p+1)*n/4))
			}
			defer func() {
				for _, p := range parts {
					p.Release()
				}
			}()
			mct := f1Fit(t, spec, FitOptions{Workers: 4}, parts...)
			merged := f1JSON(t, mct)
			// Applying to the (offset) slices gives the rows of the whole.
			all := f1Apply(t, mct, rec)
			for p, part := range parts {
				got := f1Apply(t, mct, part)
				lo := int64(p) * n / 4
				for j := range got {
					f1SameBits(t, "slice", [][]float64{all[j][lo : lo+part.NumRows()]}, [][]float64{got[j]})
				}
			}
			if !bytes.Equal(whole, merged) {
				t.Errorf("4 workers differ from the whole fit:\n%s", cmp.Diff(string(whole), string(merged)))
			}
			// Reversed partitions, by hand.
			ct, _ := New(spec)
			for i, step := range ct.steps {
				var fs []Fitter
				for p := 3; p >= 0; p-- {
					cols := make([]arrow.Array, len(ct.stepFit[i]))
					types := make([]arrow.DataType, len(cols))
					for k, name := range step.Inputs() {
						cols[k] = parts[p].Column(parts[p].Schema().FieldIndices(name)[0])
						types[k] = cols[k].DataType()
					}
					f, err := step.NewFitter(types)
					if err != nil {
						t.Fatal(err)
					}
					if err := f.Add(cols); err != nil {
						t.Fatal(err)
					}
					fs = append(fs, f)
				}
				if err := fs[0].Merge(fs[1]); err != nil {
					t.Fatal(err)
				}
				if err := fs[2].Merge(fs[3]); err != nil {
					t.Fatal(err)
				}
				if err := fs[2].Merge(fs[0]); err != nil {
					t.Fatal(err)
				}
				ft, err := fs[2].Finish()
				if err != nil {
					t.Fatal(err)
				}
				ct.steps[i] = ft
			}
			if err := ct.layoutOutputs(); err != nil {
				t.Fatal(err)
			}
			if byHand := f1JSON(t, ct); !bytes.Equal(whole, byHand) {
				t.Errorf("hand-merged fit differs from the whole fit:\n%s", cmp.Diff(string(whole), string(byHand)))
			}
		})
	}
}

// TestRoundTripAndRowEqualsBatch saves and loads a fitted transformer (the
// bytes are identical on re-save), then checks that batch apply, the
// loaded transformer's batch apply and single-row apply agree bit for bit
// on every row.
func TestRoundTripAndRowEqualsBatch(t *testing.T) {
	for _, ds := range f1Datasets {
		t.Run(ds, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
			raw := f1LoadCSV(t, mem, ds)
			defer raw.Release()
			rec := f1WithMissing(t, mem, raw, 11)
			defer rec.Release()
			ct := f1Fit(t, f1Spec(t, f1NumericColumns(rec)), FitOptions{}, rec)
			saved := f1JSON(t, ct)
			loaded, err := Load(saved)
			if err != nil {
				t.Fatal(err)
			}
			if again := f1JSON(t, loaded); !bytes.Equal(saved, again) {
				t.Fatalf("round trip changed the state:\n%s", cmp.Diff(string(saved), string(again)))
			}
			if diff := cmp.Diff(ct.Outputs(), loaded.Outputs()); diff != "" {
				t.Fatal(diff)
			}
			out1 := f1Apply(t, ct, rec)
			out2 := f1Apply(t, loaded, rec)
			f1SameBits(t, "loaded", out1, out2)

			inputs := ct.Inputs()
			idx := make([]int, len(inputs))
			for i, c := range inputs {
				idx[i] = rec.Schema().FieldIndices(c)[0]
			}
			row := make([]Value, len(inputs))
			out := make([]float64, len(ct.Outputs()))
			for r := range int(rec.NumRows()) {
				for i, k := range idx {
					row[i] = valueAt(rec.Column(k), r)
				}
				if err := loaded.ApplyRowInto(row, out); err != nil {
					t.Fatalf("row %d: %v", r, err)
				}
				for j, x := range out {
					if y := out1[j][r]; math.Float64bits(x) != math.Float64bits(y) && !(x != x && y != y) {
						t.Fatalf("row %d output %s: row apply %v, batch apply %v", r, ct.Outputs()[j], x, y)
					}
				}
			}
		})
	}
}

// f1Apply applies ct to rec and returns the output columns.
func f1Apply(t testing.TB, ct *ColumnTransformer, rec arrow.RecordBatch) [][]float64 {
	t.Helper()
	out, err := ct.Apply(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if got, want := out.Schema().NumFields(), len(ct.Outputs()); got != want {
		t.Fatalf("%d output columns, want %d", got, want)
	}
	cols := make([][]float64, out.NumCols())
	for j := range cols {
		cols[j] = append([]float64(nil), out.Column(j).(*array.Float64).Float64Values()...)
		if name := out.Schema().Field(j).Name; name != ct.Outputs()[j] {
			t.Fatalf("output %d named %q, want %q", j, name, ct.Outputs()[j])
		}
	}
	return cols
}

func f1SameBits(t testing.TB, what string, a, b [][]float64) {
	t.Helper()
	for j := range a {
		for i := range a[j] {
			x, y := a[j][i], b[j][i]
			if math.Float64bits(x) != math.Float64bits(y) && !(x != x && y != y) {
				t.Fatalf("%s: output %d row %d: %v vs %v", what, j, i, x, y)
			}
		}
	}
}

// f1Record builds a one-batch record from named float64 columns; a nil
// pointer is a null.
func f1Record(mem memory.Allocator, names []string, cols ...[]*float64) arrow.RecordBatch {
	fields := make([]arrow.Field, len(names))
	arrs := make([]arrow.Array, len(names))
	for j, n := range names {
		fields[j] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		b := array.NewFloat64Builder(mem)
		for _, v := range cols[j] {
			if v == nil {
				b.AppendNull()
			} else {
				b.Append(*v)
			}
		}
		arrs[j] = b.NewArray()
		b.Release()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(cols[0])))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func fp(xs ...float64) []*float64 {
	out := make([]*float64, len(xs))
	for i := range xs {
		if !math.IsNaN(xs[i]) || i < 0 {
			out[i] = &xs[i]
		}
	}
	return out
}

// TestNumericValues checks each numeric transform's output against values
// worked out by hand (and by scikit-learn's definitions).
func TestNumericValues(t *testing.T) {
	nan := math.NaN()
	x := fp(1, 2, nan, 4, 8) // nan → null
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	rec := f1Record(mem, []string{"x"}, x)
	defer rec.Release()
	mean := 15.0 / 4
	std := math.Sqrt(((1-mean)*(1-mean) + (2-mean)*(2-mean) + (4-mean)*(4-mean) + (8-mean)*(8-mean)) / 4)
	tests := []struct {
		spec    string
		outputs []string
		want    [][]float64
	}{
		{`{"name":"standard","columns":["x"]}`, []string{"x"},
			[][]float64{{(1 - mean) / std, (2 - mean) / std, nan, (4 - mean) / std, (8 - mean) / std}}},
		{`{"name":"standard","columns":["x"],"with_mean":false}`, []string{"x"},
			[][]float64{{1 / std, 2 / std, nan, 4 / std, 8 / std}}},
		{`{"name":"minmax","columns":["x"]}`, []string{"x"},
			[][]float64{{0, 1.0 / 7, nan, 3.0 / 7, 1}}},
		{`{"name":"maxabs","columns":["x"]}`, []string{"x"},
			[][]float64{{1.0 / 8, 2.0 / 8, nan, 4.0 / 8, 1}}},
		// median of 1,2,4,8 = 3; q25 = 1.75, q75 = 5 (numpy linear).
		{`{"name":"robust","columns":["x"]}`, []string{"x"},
			[][]float64{{(1 - 3) / 3.25, (2 - 3) / 3.25, nan, (4 - 3) / 3.25, (8 - 3) / 3.25}}},
		{`{"name":"log1p","columns":["x"]}`, []string{"x"},
			[][]float64{{math.Log1p(1), math.Log1p(2), nan, math.Log1p(4), math.Log1p(8)}}},
		{`{"name":"clip","columns":["x"],"min":2,"max":5}`, []string{"x"},
			[][]float64{{2, 2, nan, 4, 5}}},
		{`{"name":"impute","columns":["x"]}`, []string{"x"},
			[][]float64{{1, 2, mean, 4, 8}}},
		{`{"name":"impute","columns":["x"],"strategy":"median","add_indicator":true}`, []string{"x", "x_missing"},
			[][]float64{{1, 2, 3, 4, 8}, {0, 0, 1, 0, 0}}},
		{`{"name":"impute","columns":["x"],"strategy":"constant","fill_value":-1}`, []string{"x"},
			[][]float64{{1, 2, -1, 4, 8}}},
		{`{"name":"impute","columns":["x"],"strategy":"most_frequent"}`, []string{"x"},
			[][]float64{{1, 2, 1, 4, 8}}},
		{`{"name":"passthrough","columns":["x"]}`, []string{"x"},
			[][]float64{{1, 2, nan, 4, 8}}},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			spec, err := ParseSpec([]byte(`{"transforms":[` + tc.spec + `]}`))
			if err != nil {
				t.Fatal(err)
			}
			ct := f1Fit(t, spec, FitOptions{}, rec)
			if diff := cmp.Diff(tc.outputs, ct.Outputs()); diff != "" {
				t.Fatal(diff)
			}
			got := f1Apply(t, ct, rec)
			opt := cmp.Comparer(func(a, b float64) bool {
				return a == b || (a != a && b != b) || math.Abs(a-b) <= 1e-15*math.Abs(b)
			})
			if diff := cmp.Diff(tc.want, got, opt); diff != "" {
				t.Errorf("outputs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImputeEmptyColumn(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	nan := math.NaN()
	rec := f1Record(mem, []string{"a", "b"}, fp(1, 3), fp(nan, nan))
	defer rec.Release()
	for _, tc := range []struct {
		spec    string
		outputs []string
		a       float64
	}{
		{`{"name":"impute","columns":["a","b"],"add_indicator":true}`, []string{"a", "b_missing"}, 2},
		{`{"name":"impute","columns":["a","b"],"keep_empty_features":true}`, []string{"a", "b"}, 2},
		{`{"name":"impute","columns":["a","b"],"strategy":"constant"}`, []string{"a", "b"}, 0},
	} {
		spec, err := ParseSpec([]byte(`{"transforms":[` + tc.spec + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		ct := f1Fit(t, spec, FitOptions{}, rec)
		if diff := cmp.Diff(tc.outputs, ct.Outputs()); diff != "" {
			t.Errorf("%s: %s", tc.spec, diff)
		}
		got, err := ct.ApplyRow(map[string]Value{"a": Null(), "b": Float(5)})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != tc.a {
			t.Errorf("%s: a imputed to %v, want %v", tc.spec, got[0], tc.a)
		}
	}
}

// TestBadInput covers NaN, ±Inf, nulls, wrong types and missing columns.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	nan, inf := math.NaN(), math.Inf(1)
	good := f1Record(mem, []string{"x"}, fp(1, 2, 3))
	defer good.Release()
	withInf := f1Record(mem, []string{"x"}, fp(1, -inf, 3))
	defer withInf.Release()
	other := f1Record(mem, []string{"y"}, fp(1, 2, 3))
	defer other.Release()
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"a", "b", "c"}, nil)
	sarr := sb.NewArray()
	sb.Release()
	strRec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{sarr}, 3)
	sarr.Release()
	defer strRec.Release()

	spec, err := ParseSpec([]byte(`{"transforms":[{"name":"standard","columns":["x"]}]}`))
	if err != nil {
		t.Fatal(err)
	}

	// Not fitted.
	ct, _ := New(spec)
	if _, err := ct.Apply(ctx, good); !errors.Is(err, ErrNotFitted) {
		t.Errorf("apply before fit: %v, want ErrNotFitted", err)
	}
	if _, err := json.Marshal(ct); !errors.Is(err, ErrNotFitted) {
		t.Errorf("marshal before fit: %v, want ErrNotFitted", err)
	}

	// Inf at fit: an *InputError naming column and row.
	err = ct.Fit(ctx, f1Src(t, withInf), FitOptions{})
	var ie *InputError
	if !errors.As(err, &ie) || !errors.Is(err, ErrNonFinite) || ie.Column != "x" || ie.Row != 1 {
		t.Errorf("fit with -Inf: %v, want an InputError for column x row 1", err)
	}
	// Wrong type at fit.
	if err := ct.Fit(ctx, f1Src(t, strRec), FitOptions{}); !errors.Is(err, ErrType) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("fit on strings: %v, want ErrType naming x", err)
	}
	// Missing column at fit.
	if err := ct.Fit(ctx, f1Src(t, other), FitOptions{}); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("fit without x: %v, want ErrMissingColumn", err)
	}

	ct = f1Fit(t, spec, FitOptions{}, good)
	// Inf at apply, batch and row.
	if _, err := ct.Apply(ctx, withInf); !errors.As(err, &ie) || !errors.Is(err, ErrNonFinite) || ie.Row != 1 {
		t.Errorf("apply with -Inf: %v, want ErrNonFinite at row 1", err)
	}
	if _, err := ct.ApplyRow(map[string]Value{"x": Float(inf)}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("row apply with +Inf: %v, want ErrNonFinite", err)
	}
	// NaN and null are missing: NaN out.
	for _, v := range []Value{Float(nan), Null()} {
		out, err := ct.ApplyRow(map[string]Value{"x": v})
		if err != nil || !math.IsNaN(out[0]) {
			t.Errorf("row apply of %v: %v, %v; want NaN", v, out, err)
		}
	}
	// Wrong types at apply.
	if _, err := ct.Apply(ctx, strRec); !errors.Is(err, ErrType) {
		t.Errorf("apply on strings: %v, want ErrType", err)
	}
	if _, err := ct.ApplyRow(map[string]Value{"x": String("1")}); !errors.Is(err, ErrType) {
		t.Errorf("row apply of a string: %v, want ErrType", err)
	}
	// Missing columns at apply.
	if _, err := ct.Apply(ctx, other); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("apply without x: %v, want ErrMissingColumn", err)
	}
	if _, err := ct.ApplyRow(map[string]Value{"y": Float(1)}); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("row apply without x: %v, want ErrMissingColumn", err)
	}
	if _, err := ct.Matrix(other, nil); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("matrix without x: %v, want ErrMissingColumn", err)
	}
	if _, err := ct.Stage(StageOptions{}).Bind(mem, other.Schema()); !errors.Is(err, ErrMissingColumn) || !errors.Is(err, pipeline.ErrSchema) {
		t.Errorf("stage without x: %v, want ErrMissingColumn and pipeline.ErrSchema", err)
	}
	if _, err := ct.Stage(StageOptions{}).Bind(mem, strRec.Schema()); !errors.Is(err, ErrType) {
		t.Errorf("stage on strings: %v, want ErrType", err)
	}
}

func TestSpecErrors(t *testing.T) {
	for _, s := range []string{
		``,
		`{}`,
		`{"transforms":[]}`,
		`{"transforms":[{"name":"nope","columns":["x"]}]}`,
		`{"transforms":[{"columns":["x"]}]}`,
		`{"transforms":[{"name":"standard"}]}`,
		`{"transforms":[{"name":"standard","columns":[]}]}`,
		`{"transforms":[{"name":"standard","columns":["x","x"]}]}`,
		`{"transforms":[{"name":"standard","columns":["x"],"with_meen":false}]}`,
		`{"transforms":[{"name":"standard","columns":["x"],"with_mean":"no"}]}`,
		`{"transforms":[{"name":"minmax","columns":["x"],"feature_range":[1,0]}]}`,
		`{"transforms":[{"name":"robust","columns":["x"],"quantile_range":[80,20]}]}`,
		`{"transforms":[{"name":"clip","columns":["x"]}]}`,
		`{"transforms":[{"name":"clip","columns":["x"],"min":3,"max":2}]}`,
		`{"transforms":[{"name":"impute","columns":["x"],"strategy":"mode"}]}`,
		`{"transforms":[{"name":"log1p","columns":["x"],"base":2}]}`,
		`{"transforms":[{"name":"standard","columns":["x"]}],"extra":1}`,
	} {
		if _, err := ParseSpec([]byte(s)); !errors.Is(err, ErrSpec) {
			t.Errorf("ParseSpec(%s): %v, want ErrSpec", s, err)
		}
	}
	// Two transforms with the same output name.
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	rec := f1Record(mem, []string{"x"}, fp(1, 2))
	defer rec.Release()
	spec, err := ParseSpec([]byte(`{"transforms":[{"name":"standard","columns":["x"]},{"name":"minmax","columns":["x"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := New(spec)
	if err := ct.Fit(context.Background(), f1Src(t, rec), FitOptions{}); !errors.Is(err, ErrSpec) {
		t.Errorf("duplicate outputs: %v, want ErrSpec", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, s := range []string{
		`{}`,
		`{"format":"other","version":1,"outputs":["x"],"transforms":[{"name":"log1p","columns":["x"],"params":{},"state":null}]}`,
		`{"format":"kiln.features","version":2,"outputs":["x"],"transforms":[{"name":"log1p","columns":["x"],"params":{},"state":null}]}`,
		`{"format":"kiln.features","version":1,"outputs":["x"],"transforms":[{"name":"zzz","columns":["x"],"params":{},"state":null}]}`,
		`{"format":"kiln.features","version":1,"outputs":["x"],"transforms":[{"name":"standard","columns":["x"],"params":{"with_mean":true,"with_std":true},"state":null}]}`,
		`{"format":"kiln.features","version":1,"outputs":["x"],"transforms":[{"name":"standard","columns":["x"],"params":{"with_mean":true,"with_std":true},"state":{"mean":[1,2],"var":[1],"scale":[1],"n_samples_seen":[3]}}]}`,
		`{"format":"kiln.features","version":1,"outputs":["y"],"transforms":[{"name":"log1p","columns":["x"],"params":{},"state":null}]}`,
	} {
		if _, err := Load([]byte(s)); !errors.Is(err, ErrState) {
			t.Errorf("Load(%s): %v, want ErrState", s, err)
		}
	}
	ok := `{"format":"kiln.features","version":1,"outputs":["x"],"transforms":[{"name":"standard","columns":["x"],"params":{"with_mean":true,"with_std":true},"state":{"mean":["NaN"],"var":[1],"scale":[2],"n_samples_seen":[3]}}]}`
	ct, err := Load([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if b := f1JSON(t, ct); string(b) != ok {
		t.Errorf("re-saved as\n%s\nwant\n%s", b, ok)
	}
}

// TestStageAndSink fits through a pipeline sink and applies through a
// stage, with a checked allocator, and compares with Apply and Matrix.
func TestStageAndSink(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	rec := f1LoadCSV(t, mem, "wine.csv")
	defer rec.Release()
	spec := f1Spec(t, f1NumericColumns(rec))
	n := rec.NumRows()
	parts := []arrow.RecordBatch{rec.NewSlice(0, n/3), rec.NewSlice(n/3, n)}
	defer parts[0].Release()
	defer parts[1].Release()

	ct, _ := New(spec)
	if _, err := pipeline.New(f1Src(t, parts...)).Run(ctx, ct.FitSink(), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := f1Fit(t, spec, FitOptions{}, rec)
	if a, b := f1JSON(t, ct), f1JSON(t, ref); !bytes.Equal(a, b) {
		t.Fatalf("sink fit differs from Fit:\n%s", cmp.Diff(string(a), string(b)))
	}
	want := f1Apply(t, ct, rec)

	sink := pipeline.Collect()
	p := pipeline.New(f1Src(t, parts...), ct.Stage(StageOptions{Keep: []string{"target"}, Mem: mem}))
	if _, err := p.Run(ctx, sink, pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl := sink.Table()
	defer tbl.Release()
	if got := tbl.Schema().Field(0).Name; got != "target" {
		t.Fatalf("first column %q, want target", got)
	}
	for j := range want {
		col := tbl.Column(j + 1)
		var got []float64
		for _, c := range col.Data().Chunks() {
			got = append(got, c.(*array.Float64).Float64Values()...)
		}
		f1SameBits(t, "stage", [][]float64{want[j]}, [][]float64{got})
	}

	m, err := ct.Matrix(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := len(ct.Outputs())
	for j := range want {
		for i := range want[j] {
			if g, w := m[i*k+j], float32(want[j][i]); g != w && !(g != g && w != w) {
				t.Fatalf("matrix row %d col %d: %v, want %v", i, j, g, w)
			}
		}
	}
}

func TestSketchMode(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	xs := make([]float64, 100000)
	for i := range xs {
		xs[i] = float64((i * 7919) % 100000)
	}
	rec := f1Record(mem, []string{"x"}, fp(xs...))
	defer rec.Release()
	spec, err := ParseSpec([]byte(`{"transforms":[{"name":"robust","columns":["x"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	exact := f1Fit(t, spec, FitOptions{}, rec).steps[0].(*robust)
	sk := f1Fit(t, spec, FitOptions{Quantiles: QuantilesSketch}, rec).steps[0].(*robust)
	// Rank error 2% of 100000 values spread over [0, 100000).
	if d := math.Abs(exact.center[0] - sk.center[0]); d > 2000 {
		t.Errorf("sketch median %v, exact %v", sk.center[0], exact.center[0])
	}
	if d := math.Abs(exact.scale[0] - sk.scale[0]); d > 4000 {
		t.Errorf("sketch IQR %v, exact %v", sk.scale[0], exact.scale[0])
	}
	if _, err := New(spec); err != nil {
		t.Fatal(err)
	}
	ct, _ := New(spec)
	if err := ct.Fit(context.Background(), f1Src(t, rec), FitOptions{Quantiles: "approx"}); !errors.Is(err, ErrSpec) {
		t.Errorf("bad quantile mode: %v, want ErrSpec", err)
	}
}

func ExampleValue() {
	v := Float(2.5)
	x, ok := v.Num()
	fmt.Println(x, ok, Null().IsNull(), String("a"))
	// Output: 2.5 true true "a"
}

// f1Src returns a memory source released when the test's deferred calls
// have run (before the allocator check, which the caller defers first).
func f1Src(t testing.TB, batches ...arrow.RecordBatch) *pipeline.MemorySource {
	src := pipeline.FromBatches(batches[0].Schema(), batches...)
	f1Pending = append(f1Pending, src)
	return src
}

var f1Pending []*pipeline.MemorySource

// f1ReleaseSources releases the sources made by f1Src.
func f1ReleaseSources() {
	for _, s := range f1Pending {
		s.Release()
	}
	f1Pending = nil
}
