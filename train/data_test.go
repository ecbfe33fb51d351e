package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/tensor"
)

// testCol is a column of testBatch: vals is []int64, []float64, []bool or
// []string, nulls the rows that are null.
type testCol struct {
	name  string
	vals  any
	nulls []int
	dict  bool // []string as dictionary<int32, string>
}

// testBatch builds a record batch of cols from mem.
func testBatch(t *testing.T, mem memory.Allocator, cols ...testCol) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for i, c := range cols {
		var valid []bool
		n := 0
		switch v := c.vals.(type) {
		case []int64:
			n = len(v)
		case []float64:
			n = len(v)
		case []bool:
			n = len(v)
		case []string:
			n = len(v)
		}
		if c.nulls != nil {
			valid = make([]bool, n)
			for i := range valid {
				valid[i] = !slices.Contains(c.nulls, i)
			}
		}
		switch v := c.vals.(type) {
		case []int64:
			b := array.NewInt64Builder(mem)
			b.AppendValues(v, valid)
			arrs[i] = b.NewArray()
			b.Release()
		case []float64:
			b := array.NewFloat64Builder(mem)
			b.AppendValues(v, valid)
			arrs[i] = b.NewArray()
			b.Release()
		case []bool:
			b := array.NewBooleanBuilder(mem)
			b.AppendValues(v, valid)
			arrs[i] = b.NewArray()
			b.Release()
		case []string:
			if c.dict {
				dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
				b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
				for _, s := range v {
					if err := b.AppendString(s); err != nil {
						t.Fatal(err)
					}
				}
				arrs[i] = b.NewArray()
				b.Release()
			} else {
				b := array.NewStringBuilder(mem)
				b.AppendValues(v, valid)
				arrs[i] = b.NewArray()
				b.Release()
			}
		default:
			t.Fatalf("testBatch: unsupported column type %T", c.vals)
		}
		fields[i] = arrow.Field{Name: c.name, Type: arrs[i].DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, -1)
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func mustFloat32s(t *testing.T, x *tensor.Tensor) []float32 {
	t.Helper()
	v, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewDatasetClassification(t *testing.T) {
	mem := checkedMem(t)
	b := testBatch(t, mem,
		testCol{name: "a", vals: []int64{1, 2, 3, 4}},
		testCol{name: "color", vals: []string{"red", "blue", "red", "green"}},
		testCol{name: "b", vals: []float64{0.5, -1.5, 2.25, 8}},
		testCol{name: "ok", vals: []bool{true, false, false, true}},
		testCol{name: "city", vals: []string{"Oslo", "Bergen", "Oslo", "Oslo"}, dict: true},
		testCol{name: "shop", vals: []int64{3, 0, 1, 3}},
		testCol{name: "species", vals: []string{"setosa", "virginica", "setosa", "versicolor"}},
	)
	defer b.Release()
	ds, err := NewDataset(b, DatasetOptions{
		Categorical:    []string{"color", "city", "shop"},
		Label:          "species",
		Classification: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 4 {
		t.Fatalf("Len = %d, want 4", ds.Len())
	}
	// Default features: numeric columns not used elsewhere, in schema order.
	if diff := cmp.Diff([]string{"a", "b", "ok"}, ds.Features); diff != "" {
		t.Errorf("Features (-want +got):\n%s", diff)
	}
	if got := ds.X.Shape(); !slices.Equal(got, []int{4, 3}) {
		t.Errorf("X shape %v, want [4 3]", got)
	}
	wantX := []float32{1, 0.5, 1, 2, -1.5, 0, 3, 2.25, 0, 4, 8, 1}
	if diff := cmp.Diff(wantX, mustFloat32s(t, ds.X)); diff != "" {
		t.Errorf("X (-want +got):\n%s", diff)
	}
	want := &Dataset{
		Categorical: []string{"color", "city", "shop"},
		Codes:       [][]int32{{2, 0, 2, 1}, {1, 0, 1, 1}, {3, 0, 1, 3}},
		Cardinality: []int{3, 2, 4},
		Levels:      [][]string{{"blue", "green", "red"}, {"Bergen", "Oslo"}, nil},
		Label:       "species",
		Labels:      []int32{0, 2, 0, 1},
		ClassNames:  []string{"setosa", "versicolor", "virginica"},
	}
	got := *ds
	got.Features, got.X = nil, nil
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("dataset (-want +got):\n%s", diff)
	}
	if ds.NumClasses() != 3 {
		t.Errorf("NumClasses = %d, want 3", ds.NumClasses())
	}
}

func TestNewDatasetRegressionAndNumericClasses(t *testing.T) {
	mem := checkedMem(t)
	b := testBatch(t, mem,
		testCol{name: "x", vals: []float64{1, 2, 3}},
		testCol{name: "y", vals: []float64{10.5, -2, 7}},
		testCol{name: "k", vals: []int64{7, -3, 7}},
		testCol{name: "kf", vals: []float64{1, 0, 2}},
		testCol{name: "kb", vals: []bool{true, false, true}},
	)
	defer b.Release()
	ds, err := NewDataset(b, DatasetOptions{Features: []string{"x"}, Label: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{10.5, -2, 7}, mustFloat32s(t, ds.Y)); diff != "" {
		t.Errorf("Y (-want +got):\n%s", diff)
	}
	if ds.Labels != nil || ds.ClassNames != nil {
		t.Errorf("regression dataset has classes %v %v", ds.Labels, ds.ClassNames)
	}

	for _, tc := range []struct {
		label  string
		labels []int32
		values []int64
		names  []string
	}{
		{"k", []int32{1, 0, 1}, []int64{-3, 7}, []string{"-3", "7"}},
		{"kf", []int32{1, 0, 2}, []int64{0, 1, 2}, []string{"0", "1", "2"}},
		{"kb", []int32{1, 0, 1}, []int64{0, 1}, []string{"0", "1"}},
	} {
		ds, err := NewDataset(b, DatasetOptions{Features: []string{"x"}, Label: tc.label, Classification: true})
		if err != nil {
			t.Fatalf("label %s: %v", tc.label, err)
		}
		if ds.Y != nil {
			t.Errorf("label %s: classification dataset has Y", tc.label)
		}
		if diff := cmp.Diff(tc.labels, ds.Labels); diff != "" {
			t.Errorf("label %s: Labels (-want +got):\n%s", tc.label, diff)
		}
		if diff := cmp.Diff(tc.values, ds.ClassValues); diff != "" {
			t.Errorf("label %s: ClassValues (-want +got):\n%s", tc.label, diff)
		}
		if diff := cmp.Diff(tc.names, ds.ClassNames); diff != "" {
			t.Errorf("label %s: ClassNames (-want +got):\n%s", tc.label, diff)
		}
	}
	// A float label with a fraction is not a class.
	_, err = NewDataset(b, DatasetOptions{Features: []string{"x"}, Label: "y", Classification: true})
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), `"y" row 0`) {
		t.Errorf("fractional class label: err = %v, want ErrData naming column y row 0", err)
	}
}

func TestNewDatasetErrors(t *testing.T) {
	mem := checkedMem(t)
	b := testBatch(t, mem,
		testCol{name: "x", vals: []float64{1, 2, 3}, nulls: []int{2}},
		testCol{name: "z", vals: []float64{1, 2, 3}},
		testCol{name: "s", vals: []string{"a", "b", "c"}},
		testCol{name: "neg", vals: []int64{0, -1, 2}},
		testCol{name: "sn", vals: []string{"a", "", "c"}, nulls: []int{1}},
	)
	defer b.Release()
	for _, tc := range []struct {
		name string
		o    DatasetOptions
		msg  string
	}{
		{"null feature", DatasetOptions{Features: []string{"z", "x"}}, `feature column "x" row 2 is null`},
		{"null categorical", DatasetOptions{Features: []string{}, Categorical: []string{"sn"}}, `categorical column "sn" row 1 is null`},
		{"null label", DatasetOptions{Features: []string{"z"}, Label: "x"}, `label column "x" row 2 is null`},
		{"unknown feature", DatasetOptions{Features: []string{"nope"}}, `feature column "nope" not in the input`},
		{"unknown label", DatasetOptions{Label: "nope"}, `label column "nope" not in the input`},
		{"unknown categorical", DatasetOptions{Categorical: []string{"nope"}}, `categorical column "nope" not in the input`},
		{"string feature", DatasetOptions{Features: []string{"s"}}, `list it in Categorical`},
		{"string regression label", DatasetOptions{Features: []string{"z"}, Label: "s"}, `not usable for regression`},
		{"float categorical", DatasetOptions{Features: []string{}, Categorical: []string{"z"}}, `want an integer, string or dictionary column`},
		{"negative code", DatasetOptions{Features: []string{}, Categorical: []string{"neg"}}, `"neg" row 1: code -1 out of range`},
		{"feature is label", DatasetOptions{Features: []string{"z"}, Label: "z"}, `both label and feature`},
		{"feature twice", DatasetOptions{Features: []string{"z", "z"}}, `both feature and feature`},
		{"negative MaxRows", DatasetOptions{MaxRows: -1}, `MaxRows -1`},
	} {
		_, err := NewDataset(b, tc.o)
		if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want ErrData containing %q", tc.name, err, tc.msg)
		}
	}
	if _, err := NewDataset(nil, DatasetOptions{}); !errors.Is(err, ErrData) {
		t.Errorf("nil batch: err = %v, want ErrData", err)
	}
}

func TestReadDatasetBatchesAndMaxRows(t *testing.T) {
	mem := checkedMem(t)
	b1 := testBatch(t, mem,
		testCol{name: "x", vals: []float64{1, 2}},
		testCol{name: "c", vals: []string{"q", "p"}},
		testCol{name: "y", vals: []int64{5, 6}},
	)
	b2 := testBatch(t, mem,
		testCol{name: "x", vals: []float64{3, 4, 5}},
		testCol{name: "c", vals: []string{"r", "p", "a"}},
		testCol{name: "y", vals: []int64{6, 5, 9}},
	)
	src := pipeline.FromBatches(nil, b1, b2)
	defer src.Release()
	b1.Release()
	b2.Release()
	ctx := context.Background()
	o := DatasetOptions{Categorical: []string{"c"}, Label: "y", Classification: true}
	ds, err := ReadDataset(ctx, src, o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{1, 2, 3, 4, 5}, mustFloat32s(t, ds.X)); diff != "" {
		t.Errorf("X (-want +got):\n%s", diff)
	}
	// Codes are by sorted value over all batches, not per batch.
	if diff := cmp.Diff([][]int32{{2, 1, 3, 1, 0}}, ds.Codes); diff != "" {
		t.Errorf("Codes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "p", "q", "r"}, ds.Levels[0]); diff != "" {
		t.Errorf("Levels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int32{0, 1, 1, 0, 2}, ds.Labels); diff != "" {
		t.Errorf("Labels (-want +got):\n%s", diff)
	}

	o.MaxRows = 3
	ds, err = ReadDataset(ctx, src, o)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 3 || !slices.Equal(ds.Levels[0], []string{"p", "q", "r"}) || !slices.Equal(ds.ClassValues, []int64{5, 6}) {
		t.Errorf("MaxRows 3: Len %d, Levels %v, ClassValues %v; want 3, [p q r], [5 6]", ds.Len(), ds.Levels[0], ds.ClassValues)
	}

	// A null in the second batch is reported with its row in the whole input.
	b3 := testBatch(t, mem, testCol{name: "x", vals: []float64{1, 2}})
	b4 := testBatch(t, mem, testCol{name: "x", vals: []float64{3, 4}, nulls: []int{1}})
	src2 := pipeline.FromBatches(b3.Schema(), b3, b4)
	defer src2.Release()
	b3.Release()
	b4.Release()
	if _, err := ReadDataset(ctx, src2, DatasetOptions{}); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), `"x" row 3 is null`) {
		t.Errorf("null in second batch: err = %v, want row 3", err)
	}
}

func TestReadDatasetCSVLike(t *testing.T) {
	ctx := context.Background()
	train, err := ReadDataset(ctx, pipeline.CSVReader(strings.NewReader(
		"x1,x2,color,target\n1,2.5,red,b\n3,4,blue,a\n5,6,red,c\n"), "train.csv", pipeline.CSVOptions{}),
		DatasetOptions{Categorical: []string{"color"}, Label: "target", Classification: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{1, 2.5, 3, 4, 5, 6}, mustFloat32s(t, train.X)); diff != "" {
		t.Errorf("X (-want +got):\n%s", diff)
	}
	// The test set lacks class "c" and "blue": Like keeps train's codes.
	test, err := ReadDataset(ctx, pipeline.CSVReader(strings.NewReader(
		"x1,x2,color,target\n7,8,red,b\n"), "test.csv", pipeline.CSVOptions{}),
		DatasetOptions{Like: train})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(train.Features, test.Features); diff != "" {
		t.Errorf("Features (-train +test):\n%s", diff)
	}
	if !slices.Equal(test.Codes[0], []int32{1}) || test.Cardinality[0] != 2 || !slices.Equal(test.Labels, []int32{1}) ||
		!slices.Equal(test.ClassNames, []string{"a", "b", "c"}) {
		t.Errorf("Like: codes %v card %v labels %v classes %v; want [1] 2 [1] [a b c]",
			test.Codes[0], test.Cardinality[0], test.Labels, test.ClassNames)
	}
	_, err = ReadDataset(ctx, pipeline.CSVReader(strings.NewReader(
		"x1,x2,color,target\n7,8,green,b\n"), "test.csv", pipeline.CSVOptions{}),
		DatasetOptions{Like: train})
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), `value "green" unknown`) {
		t.Errorf("unknown level: err = %v", err)
	}
	_, err = ReadDataset(ctx, pipeline.CSVReader(strings.NewReader(
		"x1,x2,color,target\n7,8,red,d\n"), "test.csv", pipeline.CSVOptions{}),
		DatasetOptions{Like: train})
	if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), `class "d" unknown`) {
		t.Errorf("unknown class: err = %v", err)
	}
}

// classDataset returns a dataset whose row i has feature value i and the
// class given by counts (counts[c] rows of class c, classes interleaved).
func classDataset(t *testing.T, counts ...int) *Dataset {
	t.Helper()
	var xs []float32
	var labels []int32
	left := slices.Clone(counts)
	for more := true; more; {
		more = false
		for c := range left {
			if left[c] > 0 {
				xs = append(xs, float32(len(xs)))
				labels = append(labels, int32(c))
				left[c]--
				more = true
			}
		}
	}
	x, err := tensor.FromFloat32s(xs, len(xs), 1)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(counts))
	for c := range names {
		names[c] = string(rune('a' + c))
	}
	return &Dataset{Features: []string{"i"}, X: x, Label: "y", Labels: labels, ClassNames: names,
		Categorical: []string{"i_code"}, Codes: [][]int32{slices.Clone(labels)}, Cardinality: []int{len(counts)}, Levels: [][]string{nil}}
}

// rowIDs returns the feature values of a classDataset subset (its original
// row numbers) and checks that codes and labels moved with them.
func rowIDs(t *testing.T, full, d *Dataset) []int {
	t.Helper()
	xs := mustFloat32s(t, d.X)
	ids := make([]int, len(xs))
	for i, v := range xs {
		ids[i] = int(v)
		if d.Labels[i] != full.Labels[ids[i]] || d.Codes[0][i] != full.Codes[0][ids[i]] {
			t.Fatalf("row %d (original %d): label %d code %d, want %d %d", i, ids[i], d.Labels[i], d.Codes[0][i], full.Labels[ids[i]], full.Codes[0][ids[i]])
		}
	}
	return ids
}

func TestDatasetShuffleGenerator(t *testing.T) {
	// SplitMix64 reference outputs for state 1234567 (Vigna's splitmix64.c).
	r := &shuffleRNG{state: 1234567}
	want := []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423}
	for i, w := range want {
		if got := r.next(); got != w {
			t.Errorf("output %d = %d, want %d", i, got, w)
		}
	}
	// Golden permutations (computed by an independent Python
	// implementation of the documented algorithm); they must never change.
	for _, tc := range []struct {
		n          int
		seed, sub  uint64
		stream     uint64
		permutaton []int
	}{
		{10, 42, 0, streamBatches, []int{5, 7, 4, 6, 3, 2, 9, 8, 1, 0}},
		{10, 42, 1, streamBatches, []int{4, 7, 9, 3, 8, 5, 0, 6, 2, 1}},
		{12, 7, 0, streamSplit, []int{5, 2, 8, 4, 3, 10, 11, 6, 9, 1, 7, 0}},
	} {
		if got := permutation(tc.n, newShuffleRNG(tc.seed, tc.stream, tc.sub)); !slices.Equal(got, tc.permutaton) {
			t.Errorf("permutation(%d, seed %d, sub %d) = %v, want %v", tc.n, tc.seed, tc.sub, got, tc.permutaton)
		}
	}
	// Bounded draws are uniform enough: 60000 draws in [0, 3).
	var hist [3]int
	r = newShuffleRNG(1, 2, 3)
	for range 60000 {
		hist[r.bounded(3)]++
	}
	for k, h := range hist {
		if h < 19400 || h > 20600 {
			t.Errorf("bounded(3) gave %d %d times out of 60000, want about 20000", k, h)
		}
	}
}

func TestSplit(t *testing.T) {
	d := classDataset(t, 6, 4, 3) // 13 rows
	tr, val, err := d.Split(0.25, 9)
	if err != nil {
		t.Fatal(err)
	}
	// ceil(0.25·13) = 4 validation rows.
	if tr.Len() != 9 || val.Len() != 4 {
		t.Fatalf("sizes %d/%d, want 9/4", tr.Len(), val.Len())
	}
	trIDs, valIDs := rowIDs(t, d, tr), rowIDs(t, d, val)
	if !slices.IsSorted(trIDs) || !slices.IsSorted(valIDs) {
		t.Errorf("parts not in original order: %v %v", trIDs, valIDs)
	}
	all := slices.Concat(trIDs, valIDs)
	slices.Sort(all)
	for i, id := range all {
		if id != i {
			t.Fatalf("parts do not cover rows 0..12 once: %v", all)
		}
	}
	if !slices.Equal(tr.ClassNames, d.ClassNames) || !slices.Equal(val.Cardinality, d.Cardinality) {
		t.Errorf("split lost the encoding")
	}
	// The documented computation: permutation with the split stream, the
	// first 4 to val.
	perm := permutation(13, newShuffleRNG(9, streamSplit, 0))
	wantVal := slices.Sorted(slices.Values(perm[:4]))
	if !slices.Equal(valIDs, wantVal) {
		t.Errorf("val rows %v, want %v", valIDs, wantVal)
	}
	_, val2, err := d.Split(0.25, 9)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rowIDs(t, d, val2), valIDs) {
		t.Errorf("same seed, different split")
	}
	differ := false
	for seed := uint64(10); seed < 15; seed++ {
		_, v, err := d.Split(0.25, seed)
		if err != nil {
			t.Fatal(err)
		}
		differ = differ || !slices.Equal(rowIDs(t, d, v), valIDs)
	}
	if !differ {
		t.Errorf("five other seeds all gave the same split")
	}
	for _, f := range []float64{0, 1, -0.1, math.NaN(), 0.999} {
		if _, _, err := d.Split(f, 1); !errors.Is(err, ErrData) {
			t.Errorf("Split(%v): err = %v, want ErrData", f, err)
		}
	}
}

func TestStratifiedSplit(t *testing.T) {
	for _, tc := range []struct {
		counts []int
		frac   float64
		want   []int // validation rows per class
	}{
		{[]int{50, 30, 20}, 0.2, []int{10, 6, 4}},
		// n=15, val=ceil(4.5)=5; exact 2.33, 1.67, 1 → floors 2,1,1, the
		// remaining row to class 1 (largest remainder).
		{[]int{7, 5, 3}, 0.3, []int{2, 2, 1}},
		// n=9, val=ceil(5.4)=6; exact 3.33, 2.67 → floors 3,2, the last
		// row to class 1.
		{[]int{5, 4}, 0.6, []int{3, 3}},
		// n=12, val=ceil(9.6)=10; exact 1.67, 8.33 → floors 1,8; class 0
		// has the largest remainder but must keep a training row, so the
		// last row goes to class 1.
		{[]int{2, 10}, 0.8, []int{1, 9}},
	} {
		d := classDataset(t, tc.counts...)
		tr, val, err := d.StratifiedSplit(tc.frac, 3)
		if err != nil {
			t.Fatalf("%v: %v", tc.counts, err)
		}
		got := make([]int, len(tc.counts))
		for _, c := range val.Labels {
			got[c]++
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("counts %v frac %v: val per class %v, want %v", tc.counts, tc.frac, got, tc.want)
		}
		all := slices.Concat(rowIDs(t, d, tr), rowIDs(t, d, val))
		slices.Sort(all)
		for i, id := range all {
			if id != i {
				t.Fatalf("%v: parts do not cover every row once: %v", tc.counts, all)
			}
		}
		_, val2, err := d.StratifiedSplit(tc.frac, 3)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rowIDs(t, d, val2), rowIDs(t, d, val)) {
			t.Errorf("%v: same seed, different split", tc.counts)
		}
	}
	if _, _, err := classDataset(t, 5, 1).StratifiedSplit(0.3, 1); !errors.Is(err, ErrData) || !strings.Contains(err.Error(), "class b has only 1 row") {
		t.Errorf("singleton class: err = %v", err)
	}
	if _, _, err := classDataset(t, 5, 5, 5).StratifiedSplit(0.1, 1); !errors.Is(err, ErrData) {
		t.Errorf("fewer val rows than classes: err = %v", err)
	}
	d := classDataset(t, 4)
	d.Labels = nil
	if _, _, err := d.StratifiedSplit(0.5, 1); !errors.Is(err, ErrData) {
		t.Errorf("no labels: err = %v", err)
	}
}

func TestDatasetSubset(t *testing.T) {
	d := classDataset(t, 3, 3)
	s, err := d.Subset([]int{5, 0, 5})
	if err != nil {
		t.Fatal(err)
	}
	if ids := rowIDs(t, d, s); !slices.Equal(ids, []int{5, 0, 5}) {
		t.Errorf("Subset rows %v, want [5 0 5]", ids)
	}
	for _, rows := range [][]int{{6}, {-1}} {
		if _, err := d.Subset(rows); !errors.Is(err, ErrData) {
			t.Errorf("Subset(%v): err = %v, want ErrData", rows, err)
		}
	}
	e, err := d.Subset(nil)
	if err != nil || e.Len() != 0 {
		t.Errorf("empty Subset: len %d err %v", e.Len(), err)
	}
}

func collectBatches(t *testing.T, d *Dataset, size int, o BatchOptions) (rows [][]int) {
	t.Helper()
	for b, err := range d.Batches(size, o) {
		if err != nil {
			t.Fatal(err)
		}
		ids := rowIDs(t, d, &Dataset{X: b.X, Labels: b.Labels, Codes: b.Codes})
		if !slices.Equal(ids, b.Rows) {
			t.Fatalf("batch rows %v hold dataset rows %v", b.Rows, ids)
		}
		rows = append(rows, b.Rows)
	}
	return rows
}

func TestBatches(t *testing.T) {
	d := classDataset(t, 6, 5) // 11 rows
	got := collectBatches(t, d, 4, BatchOptions{})
	if diff := cmp.Diff([][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10}}, got); diff != "" {
		t.Errorf("unshuffled batches (-want +got):\n%s", diff)
	}
	got = collectBatches(t, d, 4, BatchOptions{DropLast: true})
	if len(got) != 2 {
		t.Errorf("DropLast: %d batches, want 2", len(got))
	}

	epoch := func(seed uint64, e int) []int {
		return slices.Concat(collectBatches(t, d, 3, BatchOptions{Shuffle: true, Seed: seed, Epoch: e})...)
	}
	e0 := epoch(5, 0)
	if sorted := slices.Sorted(slices.Values(e0)); !slices.Equal(sorted, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("shuffled epoch does not visit every row once: %v", e0)
	}
	if want := permutation(11, newShuffleRNG(5, streamBatches, 0)); !slices.Equal(e0, want) {
		t.Errorf("epoch 0 order %v, want the documented permutation %v", e0, want)
	}
	if again := epoch(5, 0); !slices.Equal(again, e0) {
		t.Errorf("same (seed, epoch) gave %v then %v", e0, again)
	}
	if e1 := epoch(5, 1); slices.Equal(e1, e0) {
		t.Errorf("epochs 0 and 1 have the same order %v", e0)
	}
	if s6 := epoch(6, 0); slices.Equal(s6, e0) {
		t.Errorf("seeds 5 and 6 have the same order %v", e0)
	}

	// Y and X gather together in shuffled batches.
	y, err := d.X.Reshape(11)
	if err != nil {
		t.Fatal(err)
	}
	dy := *d
	dy.Y = y
	for b, err := range dy.Batches(4, BatchOptions{Shuffle: true, Seed: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		ys := mustFloat32s(t, b.Y)
		for i, r := range b.Rows {
			if ys[i] != float32(r) {
				t.Fatalf("batch Y %v for rows %v", ys, b.Rows)
			}
		}
		break // stopping early must be fine
	}

	for range d.Batches(0, BatchOptions{}) {
		break
	}
	n := 0
	for b, err := range d.Batches(0, BatchOptions{}) {
		n++
		if b != nil || !errors.Is(err, ErrData) {
			t.Errorf("size 0: got %v, %v; want an ErrData error", b, err)
		}
	}
	if n != 1 {
		t.Errorf("size 0: %d yields, want 1", n)
	}
}

func TestBatchesCategoricalOnly(t *testing.T) {
	mem := checkedMem(t)
	b := testBatch(t, mem,
		testCol{name: "c", vals: []string{"x", "y", "x", "z", "y"}},
		testCol{name: "t", vals: []float64{1, 2, 3, 4, 5}},
	)
	defer b.Release()
	ds, err := NewDataset(b, DatasetOptions{Features: []string{}, Categorical: []string{"c"}, Label: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ds.X.Shape(); !slices.Equal(got, []int{5, 0}) {
		t.Fatalf("X shape %v, want [5 0]", got)
	}
	seen := 0
	for bt, err := range ds.Batches(2, BatchOptions{Shuffle: true, Seed: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		if got := bt.X.Shape(); !slices.Equal(got, []int{len(bt.Rows), 0}) {
			t.Errorf("batch X shape %v, want [%d 0]", got, len(bt.Rows))
		}
		ys := mustFloat32s(t, bt.Y)
		for i, r := range bt.Rows {
			if bt.Codes[0][i] != ds.Codes[0][r] || ys[i] != float32(r+1) {
				t.Errorf("batch row %d (dataset row %d): code %d y %v", i, r, bt.Codes[0][i], ys[i])
			}
		}
		seen += len(bt.Rows)
	}
	if seen != 5 {
		t.Errorf("batches held %d rows, want 5", seen)
	}
}

func ExampleReadDataset() {
	ctx := context.Background()
	csv := "size,rooms,city,kind\n" +
		"52.5,2,Oslo,flat\n" +
		"120,5,Bergen,house\n" +
		"75,3,Oslo,flat\n" +
		"98,4,Bergen,house\n"
	src := pipeline.CSVReader(strings.NewReader(csv), "homes.csv", pipeline.CSVOptions{})
	ds, err := ReadDataset(ctx, src, DatasetOptions{
		Categorical:    []string{"city"},
		Label:          "kind",
		Classification: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("features:", ds.Features, "rows:", ds.Len())
	fmt.Println("city levels:", ds.Levels[0], "codes:", ds.Codes[0])
	fmt.Println("classes:", ds.ClassNames, "labels:", ds.Labels)

	train, val, err := ds.StratifiedSplit(0.5, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("train:", train.Len(), "val:", val.Len())
	for b, err := range train.Batches(1, BatchOptions{Shuffle: true, Seed: 7, Epoch: 0}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("batch X shape:", b.X.Shape(), "label:", b.Labels)
	}
	// Output:
	// features: [size rooms] rows: 4
	// city levels: [Bergen Oslo] codes: [1 0 1 0]
	// classes: [flat house] labels: [0 1 0 1]
	// train: 2 val: 2
	// batch X shape: [1 2] label: [0]
	// batch X shape: [1 2] label: [1]
}
