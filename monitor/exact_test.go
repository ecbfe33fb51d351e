package monitor

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/pipeline"
)

// readTable reads a CSV file of the repository's testdata into a table.
func readTable(t testing.TB, name string) arrow.Table {
	t.Helper()
	sink := pipeline.Collect()
	if _, err := pipeline.New(pipeline.CSV("../testdata/"+name, pipeline.CSVOptions{})).Run(context.Background(), sink, pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	tbl := sink.Table()
	t.Cleanup(tbl.Release)
	return tbl
}

// rowsSource returns rows [i, j) of tbl as a source.
func rowsSource(t testing.TB, tbl arrow.Table, i, j int64) pipeline.Source {
	t.Helper()
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	var parts []arrow.RecordBatch
	var off int64
	for tr.Next() {
		b := tr.RecordBatch()
		lo, hi := max(i-off, 0), min(j-off, b.NumRows())
		if lo < hi {
			s := b.NewSlice(lo, hi)
			t.Cleanup(s.Release)
			parts = append(parts, s)
		}
		off += b.NumRows()
	}
	return pipeline.FromBatches(tbl.Schema(), parts...)
}

// filterSource returns the rows of a CSV file where column == v.
func filterSource(name, column string, v any) pipeline.Source {
	return pipeline.New(pipeline.CSV("../testdata/"+name, pipeline.CSVOptions{}), pipeline.Filter(pipeline.Col(column).Eq(v)))
}

// closeRel reports whether got is within rel (relative) of want.
func closeRel(got, want, rel float64) bool {
	if got == want {
		return true
	}
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), 1e-300)
}

// TestCompareExactGolden checks CompareExact's Stats against SciPy and
// numpy (testdata/golden_exact.py) on real data sets.
func TestCompareExactGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/exact.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]map[string]map[string]float64
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	seattle := readTable(t, "seattle-weather.csv")
	flights := readTable(t, "flights-20k.csv")
	cases := map[string][2]pipeline.Source{
		"seattle": {rowsSource(t, seattle, 0, 731), rowsSource(t, seattle, 731, seattle.NumRows())},
		"flights": {rowsSource(t, flights, 0, 10000), rowsSource(t, flights, 10000, 20000)},
		"wine":    {filterSource("wine.csv", "target", int64(0)), filterSource("wine.csv", "target", int64(1))},
	}
	for name, want := range golden {
		srcs := cases[name]
		cols := make([]string, 0, len(want))
		for c := range want {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		r, err := CompareExact(context.Background(), srcs[0], srcs[1], ExactOptions{Columns: cols})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r.Columns) != len(cols) {
			t.Fatalf("%s: %d columns compared, want %d", name, len(r.Columns), len(cols))
		}
		for _, c := range r.Columns {
			for stat, w := range want[c.Column] {
				got, ok := c.Stats[stat]
				if !ok {
					t.Errorf("%s/%s: no %s", name, c.Column, stat)
					continue
				}
				if !closeRel(got, w, 1e-9) {
					t.Errorf("%s/%s: %s = %.17g, SciPy %.17g", name, c.Column, stat, got, w)
				}
			}
			if c.Low != c.Statistic || c.High != c.Statistic || c.Uncertain {
				t.Errorf("%s/%s: exact statistic %v has interval [%v, %v] (uncertain %v)", name, c.Column, c.Statistic, c.Low, c.High, c.Uncertain)
			}
		}
	}
}

func TestCompareExactMethods(t *testing.T) {
	wine0 := filterSource("wine.csv", "target", int64(0))
	wine1 := filterSource("wine.csv", "target", int64(1))
	ctx := context.Background()
	// Small references: KS for numeric columns by default.
	r, err := CompareExact(ctx, wine0, wine1, ExactOptions{Columns: []string{"alcohol", "ash"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Columns {
		if c.Method != MethodKS || c.PValue == nil || *c.PValue != c.Stats["ks_p"] {
			t.Errorf("%s: method %s p %v, want ks with ks_p", c.Column, c.Method, c.PValue)
		}
		if c.Drift != (*c.PValue < 0.05) {
			t.Errorf("%s: drift %v with p %v", c.Column, c.Drift, *c.PValue)
		}
	}
	// Alcohol differs clearly between the two cultivars.
	if !r.Columns[0].Drift {
		t.Errorf("alcohol: no drift between cultivars 0 and 1 (p %v)", *r.Columns[0].PValue)
	}
	// Every method, including those that need the raw values.
	for _, m := range []Method{MethodAnderson, MethodCvM, MethodEnergy, MethodKL, MethodHellinger, MethodPSI, MethodJS, MethodWassersteinNorm} {
		r, err := CompareExact(ctx, wine0, wine1, ExactOptions{Columns: []string{"alcohol"}, Drift: DriftOptions{Methods: map[string]Method{"alcohol": m}}})
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		c := r.Columns[0]
		if c.Method != m || math.IsNaN(c.Statistic) || (m.isTest() != (c.PValue != nil)) {
			t.Errorf("%s: got method %s statistic %v p %v", m, c.Method, c.Statistic, c.PValue)
		}
	}
	// Bad requests.
	for _, o := range []ExactOptions{
		{Columns: []string{"nope"}},
		{Columns: []string{"alcohol", "alcohol"}},
		{Columns: []string{"alcohol"}, Drift: DriftOptions{Methods: map[string]Method{"alcohol": "bogus"}}},
		{Columns: []string{"alcohol"}, Drift: DriftOptions{Methods: map[string]Method{"alcohol": MethodChi2}}},
		{Columns: []string{"alcohol"}, Drift: DriftOptions{Methods: map[string]Method{"alcohol": MethodWasserstein}}},
		{Columns: []string{"alcohol"}, Categorical: []string{"ash"}},
	} {
		if _, err := CompareExact(ctx, wine0, wine1, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestCompareExactCategoricalNumbers(t *testing.T) {
	// The target column compared as categories: class 0 against class 1
	// share no category, so chi-square rejects outright.
	src := pipeline.CSV("../testdata/wine.csv", pipeline.CSVOptions{})
	r, err := CompareExact(context.Background(), src, filterSource("wine.csv", "target", int64(1)), ExactOptions{Columns: []string{"target"}, Categorical: []string{"target"}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Columns[0]
	if c.Kind != Categorical || !slices.Equal(c.Reference.Categories, []string{"1", "0", "2"}) {
		t.Fatalf("kind %s categories %q", c.Kind, c.Reference.Categories)
	}
	if c.Method != MethodChi2 || !c.Drift {
		t.Errorf("method %s drift %v stats %v", c.Method, c.Drift, c.Stats)
	}
}

func TestQuantileLinear(t *testing.T) {
	x := []float64{1, 2, 4, 8, 16}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {1, 16}, {0.5, 4}, {0.25, 2}, {0.1, 1.4}, {0.9, 12.8}, {0.875, 12}} {
		if got := quantileLinear(x, tc.q); !closeRel(got, tc.want, 1e-15) {
			t.Errorf("q %v: %v, want %v", tc.q, got, tc.want)
		}
	}
	// Bins: k edges <= x put x in bin k; repeated edges leave empty bins.
	got := binByEdges([]float64{0, 0, 1, 2, 2, 3}, []float64{0, 0, 2})
	if !slices.Equal(got, []float64{0, 0, 3, 3}) {
		t.Errorf("binByEdges: %v", got)
	}
}
