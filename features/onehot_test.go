package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// ---- helpers shared by the encoder tests (F2 files) ----

// f2Null marks a null in f2Str.
const f2Null = "\x00null"

func f2Mem(t *testing.T) *memory.CheckedAllocator {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// f2Str builds a string column; f2Null entries are nulls.
func f2Str(t *testing.T, mem memory.Allocator, vals ...string) arrow.Array {
	t.Helper()
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for _, v := range vals {
		if v == f2Null {
			b.AppendNull()
		} else {
			b.Append(v)
		}
	}
	a := b.NewArray()
	t.Cleanup(a.Release)
	return a
}

// f2Dict builds a dictionary<int32, string> column.
func f2Dict(t *testing.T, mem memory.Allocator, vals ...string) arrow.Array {
	t.Helper()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, v := range vals {
		if v == f2Null {
			b.AppendNull()
		} else if err := b.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	a := b.NewArray()
	t.Cleanup(a.Release)
	return a
}

// f2F64 builds a float64 column; NaN stays NaN (not null).
func f2F64(t *testing.T, mem memory.Allocator, vals ...float64) arrow.Array {
	t.Helper()
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	t.Cleanup(a.Release)
	return a
}

// f2F64Null builds a float64 column where NaN entries are nulls.
func f2F64Null(t *testing.T, mem memory.Allocator, vals ...float64) arrow.Array {
	t.Helper()
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	for _, v := range vals {
		if v != v {
			b.AppendNull()
		} else {
			b.Append(v)
		}
	}
	a := b.NewArray()
	t.Cleanup(a.Release)
	return a
}

func f2I64(t *testing.T, mem memory.Allocator, vals ...int64) arrow.Array {
	t.Helper()
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	t.Cleanup(a.Release)
	return a
}

// f2New makes a transform from a spec.
func f2New(t *testing.T, kindName string, cols []string, params string) Transform {
	t.Helper()
	k, ok := kinds[kindName]
	if !ok {
		t.Fatalf("kind %q not registered", kindName)
	}
	tr, err := k.New(cols, json.RawMessage(params))
	if err != nil {
		t.Fatalf("New %s %s: %v", kindName, params, err)
	}
	return tr
}

type arrowArray = arrow.Array

func f2Types(cols []arrow.Array) []arrow.DataType {
	types := make([]arrow.DataType, len(cols))
	for i, c := range cols {
		types[i] = c.DataType()
	}
	return types
}

// f2Fit fits tr on cols (its fit inputs) as one batch.
func f2Fit(t *testing.T, tr Transform, cols ...arrow.Array) Transform {
	t.Helper()
	f, err := tr.NewFitter(f2Types(cols))
	if err != nil {
		t.Fatalf("NewFitter: %v", err)
	}
	if err := f.Add(cols); err != nil {
		t.Fatalf("Add: %v", err)
	}
	fitted, err := f.Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return fitted
}

// f2Slices cuts every column into parts slices of about equal length.
func f2Slices(cols []arrow.Array, parts int) [][]arrow.Array {
	n := cols[0].Len()
	out := make([][]arrow.Array, parts)
	for p := range parts {
		lo, hi := n*p/parts, n*(p+1)/parts
		for _, c := range cols {
			out[p] = append(out[p], array.NewSlice(c, int64(lo), int64(hi)))
		}
	}
	return out
}

// f2FitMerged fits four partitions with four fitters, merged in order.
func f2FitMerged(t *testing.T, tr Transform, cols ...arrow.Array) Transform {
	t.Helper()
	var fitters []Fitter
	for _, part := range f2Slices(cols, 4) {
		f, err := tr.NewFitter(f2Types(cols))
		if err != nil {
			t.Fatalf("NewFitter: %v", err)
		}
		if err := f.Add(part); err != nil {
			t.Fatalf("Add: %v", err)
		}
		for _, a := range part {
			a.Release()
		}
		fitters = append(fitters, f)
	}
	for _, f := range fitters[1:] {
		if err := fitters[0].Merge(f); err != nil {
			t.Fatalf("Merge: %v", err)
		}
	}
	fitted, err := fitters[0].Finish()
	if err != nil {
		t.Fatalf("Finish: %v", err)
	}
	return fitted
}

func f2JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// f2RoundTrip saves and reloads tr and checks that the reload saves the same
// bytes and has the same outputs.
func f2RoundTrip(t *testing.T, tr Transform) Transform {
	t.Helper()
	params, state := f2JSON(t, tr.Params()), f2JSON(t, tr.State())
	back, err := kinds[tr.Kind()].Load(tr.Inputs(), json.RawMessage(params), json.RawMessage(state))
	if err != nil {
		t.Fatalf("Load: %v\nparams %s\nstate %s", err, params, state)
	}
	if p2, s2 := f2JSON(t, back.Params()), f2JSON(t, back.State()); p2 != params || s2 != state {
		t.Fatalf("round trip changed:\nparams %s\n    -> %s\nstate %s\n   -> %s", params, p2, state, s2)
	}
	if d := cmp.Diff(tr.Outputs(), back.Outputs()); d != "" {
		t.Fatalf("outputs changed (-want +got):\n%s", d)
	}
	return back
}

// f2Apply applies tr to cols in a batch, checks that ApplyRow gives
// bit-identical outputs on every row, and returns the outputs by row.
func f2Apply(t *testing.T, tr Transform, cols ...arrow.Array) [][]float64 {
	t.Helper()
	rows := cols[0].Len()
	nout := len(tr.Outputs())
	out := make([][]float64, nout)
	for j := range out {
		out[j] = make([]float64, rows)
		for r := range out[j] {
			out[j][r] = 42 // Apply must overwrite
		}
	}
	if err := tr.Apply(cols, out); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	byRow := make([][]float64, rows)
	in := make([]Value, len(cols))
	for r := range rows {
		for i, c := range cols {
			in[i] = valueAt(c, r)
		}
		got := make([]float64, nout)
		for j := range got {
			got[j] = -42
		}
		if err := tr.ApplyRow(in, got); err != nil {
			t.Fatalf("ApplyRow row %d: %v", r, err)
		}
		byRow[r] = make([]float64, nout)
		for j := range got {
			byRow[r][j] = out[j][r]
			if math.Float64bits(got[j]) != math.Float64bits(out[j][r]) {
				t.Fatalf("row %d output %s: ApplyRow %v != Apply %v", r, tr.Outputs()[j], got[j], out[j][r])
			}
		}
	}
	return byRow
}

// f2Same compares float matrices bit for bit (NaN equal to NaN).
func f2Same(t *testing.T, got, want [][]float64) {
	t.Helper()
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || (a != a && b != b)
	})); d != "" {
		t.Fatalf("outputs differ (-want +got):\n%s", d)
	}
}

// f2ApplyErr applies tr to cols and returns the batch error and the error
// of ApplyRow on row r.
func f2ApplyErr(t *testing.T, tr Transform, r int, cols ...arrow.Array) (batch, row error) {
	t.Helper()
	out := make([][]float64, len(tr.Outputs()))
	for j := range out {
		out[j] = make([]float64, cols[0].Len())
	}
	batch = tr.Apply(cols, out)
	in := make([]Value, len(cols))
	for i, c := range cols {
		in[i] = valueAt(c, r)
	}
	row = tr.ApplyRow(in, make([]float64, len(tr.Outputs())))
	return batch, row
}

// ---- one-hot ----

func TestOneHotBasic(t *testing.T) {
	mem := f2Mem(t)
	city := f2Str(t, mem, "b", "a", "c", "a", f2Null, "b")
	n := f2I64(t, mem, 10, 2, 2, 10, 3, 2)
	tr := f2Fit(t, f2New(t, "onehot", []string{"city", "n"}, `{}`), city, n)
	wantOut := []string{"city_a", "city_b", "city_c", "city_nan", "n_2", "n_3", "n_10"}
	if d := cmp.Diff(wantOut, tr.Outputs()); d != "" {
		t.Fatalf("outputs (-want +got):\n%s", d)
	}
	got := f2Apply(t, tr, city, n)
	want := [][]float64{
		{0, 1, 0, 0, 0, 0, 1},
		{1, 0, 0, 0, 1, 0, 0},
		{0, 0, 1, 0, 1, 0, 0},
		{1, 0, 0, 0, 0, 0, 1},
		{0, 0, 0, 1, 0, 1, 0},
		{0, 1, 0, 0, 1, 0, 0},
	}
	f2Same(t, got, want)
	back := f2RoundTrip(t, tr)
	f2Same(t, f2Apply(t, back, city, n), want)
	// Dictionary-encoded input gives the same result.
	f2Same(t, f2Apply(t, tr, f2Dict(t, mem, "b", "a", "c", "a", f2Null, "b"), n), want)
}

func TestOneHotFloatNames(t *testing.T) {
	mem := f2Mem(t)
	x := f2F64(t, mem, 1, 0.5, 1e16, 2.5e-5, math.NaN())
	tr := f2Fit(t, f2New(t, "onehot", []string{"x"}, `{}`), x)
	want := []string{"x_2.5e-05", "x_0.5", "x_1.0", "x_1e+16", "x_nan"}
	if d := cmp.Diff(want, tr.Outputs()); d != "" {
		t.Fatalf("outputs (-want +got):\n%s", d)
	}
	f2Apply(t, tr, x)
}

func TestOneHotUnknown(t *testing.T) {
	mem := f2Mem(t)
	fit := f2Str(t, mem, "a", "b", "a")
	test := f2Str(t, mem, "a", "zz", f2Null)
	tr := f2Fit(t, f2New(t, "onehot", []string{"c"}, `{}`), fit)
	batch, row := f2ApplyErr(t, tr, 1, test)
	var ie *InputError
	if !errors.Is(batch, ErrUnknownCategory) || !errors.As(batch, &ie) || ie.Row != 1 || ie.Column != "c" {
		t.Fatalf("batch error = %v, want unknown category at row 1", batch)
	}
	if !errors.Is(row, ErrUnknownCategory) {
		t.Fatalf("row error = %v", row)
	}
	// A null not seen at fit time is unknown too.
	if _, row := f2ApplyErr(t, tr, 2, test); !errors.Is(row, ErrUnknownCategory) {
		t.Fatalf("null row error = %v", row)
	}
	ign := f2Fit(t, f2New(t, "onehot", []string{"c"}, `{"handle_unknown":"ignore"}`), fit)
	f2Same(t, f2Apply(t, ign, test), [][]float64{{1, 0}, {0, 0}, {0, 0}})
}

func TestOneHotWrongType(t *testing.T) {
	mem := f2Mem(t)
	tr := f2Fit(t, f2New(t, "onehot", []string{"c"}, `{}`), f2Str(t, mem, "a"))
	out := [][]float64{make([]float64, 1)}
	if err := tr.Apply([]arrow.Array{f2F64(t, mem, 1)}, out); !errors.Is(err, ErrType) {
		t.Fatalf("Apply numbers to a string encoder: %v", err)
	}
	if err := tr.ApplyRow([]Value{Float(1)}, out[0]); !errors.Is(err, ErrType) {
		t.Fatalf("ApplyRow number: %v", err)
	}
	if _, err := f2New(t, "onehot", []string{"c"}, `{}`).NewFitter([]arrow.DataType{arrow.FixedWidthTypes.Date32}); !errors.Is(err, ErrType) {
		t.Fatalf("NewFitter date32: %v", err)
	}
	for _, bad := range []string{`{"handle_unknown":"x"}`, `{"max_categories":0}`, `{"min_frequency":0}`, `{"min_frequency":1.5}`, `{"drop":"last"}`, `{"drop":"first","max_categories":3}`, `{"sparse_output":true}`} {
		if _, err := kinds["onehot"].New([]string{"c"}, json.RawMessage(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("params %s: err = %v, want ErrSpec", bad, err)
		}
	}
}

func TestOneHotInfrequent(t *testing.T) {
	mem := f2Mem(t)
	// counts: a 5, b 1, c 3, d 1, e 2
	vals := []string{"a", "a", "a", "a", "a", "b", "c", "c", "c", "d", "e", "e"}
	col := f2Str(t, mem, vals...)
	cases := []struct {
		params string
		outs   []string
	}{
		// max_categories 3: 2 frequent + infrequent; the 3 smallest counts
		// (b 1, d 1, e 2) become infrequent.
		{`{"max_categories":3}`, []string{"c_a", "c_c", "c_infrequent_sklearn"}},
		// min_frequency 2 (count): b and d are infrequent.
		{`{"min_frequency":2}`, []string{"c_a", "c_c", "c_e", "c_infrequent_sklearn"}},
		// min_frequency 0.2 of 12 rows = 2.4: b, d, e.
		{`{"min_frequency":0.2}`, []string{"c_a", "c_c", "c_infrequent_sklearn"}},
		// Both: min_frequency 2 leaves 3 + infrequent; cap 3 takes the
		// smallest of all counts (b, d, e) as sklearn does.
		{`{"min_frequency":2,"max_categories":3}`, []string{"c_a", "c_c", "c_infrequent_sklearn"}},
		// A cap that is not binding.
		{`{"max_categories":10}`, []string{"c_a", "c_b", "c_c", "c_d", "c_e"}},
		// Ties broken by category order: max 4 → 2 smallest are b and d.
		{`{"max_categories":4}`, []string{"c_a", "c_c", "c_e", "c_infrequent_sklearn"}},
	}
	for _, c := range cases {
		tr := f2Fit(t, f2New(t, "onehot", []string{"c"}, c.params), col)
		if d := cmp.Diff(c.outs, tr.Outputs()); d != "" {
			t.Fatalf("%s outputs (-want +got):\n%s", c.params, d)
		}
		f2RoundTrip(t, tr)
	}
	tr := f2Fit(t, f2New(t, "onehot", []string{"c"}, `{"max_categories":3,"handle_unknown":"infrequent_if_exist"}`), col)
	got := f2Apply(t, tr, f2Str(t, mem, "a", "b", "c", "e", "new"))
	f2Same(t, got, [][]float64{{1, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 0, 1}, {0, 0, 1}})
	ign := f2Fit(t, f2New(t, "onehot", []string{"c"}, `{"max_categories":3,"handle_unknown":"ignore"}`), col)
	f2Same(t, f2Apply(t, ign, f2Str(t, mem, "b", "new")), [][]float64{{0, 0, 1}, {0, 0, 0}})
}

func TestOneHotMerge(t *testing.T) {
	mem := f2Mem(t)
	vals := []string{"q", "w", "e", "q", "q", f2Null, "r", "w", "t", "y", "q", "e", "w"}
	col := f2Str(t, mem, vals...)
	num := f2F64Null(t, mem, 1, 2, 3, 1, 1, math.NaN(), 4, 2, 5, 6, 1, 3, 2)
	for _, p := range []string{`{}`, `{"max_categories":4}`, `{"min_frequency":2}`} {
		spec := f2New(t, "onehot", []string{"c", "x"}, p)
		whole := f2Fit(t, spec, col, num)
		merged := f2FitMerged(t, spec, col, num)
		if a, b := f2JSON(t, whole.State()), f2JSON(t, merged.State()); a != b {
			t.Fatalf("%s: merged state %s != whole %s", p, b, a)
		}
	}
}

func TestOneHotDrop(t *testing.T) {
	mem := f2Mem(t)
	c := f2Str(t, mem, "b", "a", "c", "a")
	d := f2Str(t, mem, "y", "x", "x", "y")
	first := f2Fit(t, f2New(t, "onehot", []string{"c", "d"}, `{"drop":"first"}`), c, d)
	if diff := cmp.Diff([]string{"c_b", "c_c", "d_y"}, first.Outputs()); diff != "" {
		t.Fatal(diff)
	}
	f2Same(t, f2Apply(t, first, c, d), [][]float64{{1, 0, 1}, {0, 0, 0}, {0, 1, 0}, {0, 0, 1}})
	f2RoundTrip(t, first)
	bin := f2Fit(t, f2New(t, "onehot", []string{"c", "d"}, `{"drop":"if_binary","handle_unknown":"ignore"}`), c, d)
	if diff := cmp.Diff([]string{"c_a", "c_b", "c_c", "d_y"}, bin.Outputs()); diff != "" {
		t.Fatal(diff)
	}
	f2Same(t, f2Apply(t, bin, f2Str(t, mem, "a", "zz"), f2Str(t, mem, "x", "y")), [][]float64{{1, 0, 0, 0}, {0, 0, 0, 1}})
}

func TestOneHotBool(t *testing.T) {
	mem := f2Mem(t)
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues([]bool{true, false, true}, nil)
	b.AppendNull()
	col := b.NewArray()
	defer col.Release()
	tr := f2Fit(t, f2New(t, "onehot", []string{"ok"}, `{}`), col)
	if d := cmp.Diff([]string{"ok_False", "ok_True", "ok_nan"}, tr.Outputs()); d != "" {
		t.Fatal(d)
	}
	f2Same(t, f2Apply(t, tr, col), [][]float64{{0, 1, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
	out := make([]float64, 3)
	if err := tr.ApplyRow([]Value{Bool(false)}, out); err != nil || out[0] != 1 {
		t.Fatalf("Bool(false) → %v, %v", out, err)
	}
	f2RoundTrip(t, tr)
}
