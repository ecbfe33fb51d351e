package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// Golden values: regenerate with
//
//	/usr/bin/python3 monitor/testdata/golden_profile.py > monitor/testdata/profile.json

type profGoldenNum struct {
	Count, Nulls  int64
	Min, Max      float64
	Mean, Var, M2 float64
	Edges         []float64
	Counts        []float64
	Distinct      int64
}

type profGoldenCat struct {
	Count int64
	Top   [][2]any
}

type profGolden struct {
	BreastCancer   map[string]profGoldenNum `json:"breast_cancer"`
	SeattleWeather struct {
		Weather       profGoldenCat `json:"weather"`
		Precipitation profGoldenNum `json:"precipitation"`
	} `json:"seattle_weather"`
	Flights struct {
		Delay    profGoldenNum `json:"delay"`
		Distance profGoldenNum `json:"distance"`
		Origin   profGoldenCat `json:"origin"`
		Rows     int64         `json:"rows"`
	} `json:"flights"`
}

func loadProfGolden(t *testing.T) *profGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/profile.json")
	if err != nil {
		t.Fatal(err)
	}
	var g profGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func profClose(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+1e-300
}

func profileCSV(t *testing.T, name string, opts ProfileOptions) *Profile {
	t.Helper()
	p, err := ProfileSource(context.Background(), pipeline.CSV("../testdata/"+name, pipeline.CSVOptions{BatchRows: 1000}), opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func checkNumGolden(t *testing.T, c *ColumnProfile, g profGoldenNum, exact bool) {
	t.Helper()
	if c == nil {
		t.Fatal("column missing")
	}
	if c.Kind != Numeric || c.Count != g.Count || c.Nulls != g.Nulls {
		t.Fatalf("%s: kind %v count %d nulls %d, want %d %d", c.Name, c.Kind, c.Count, c.Nulls, g.Count, g.Nulls)
	}
	if c.Min != g.Min || c.Max != g.Max {
		t.Errorf("%s: min/max %v %v, want %v %v", c.Name, c.Min, c.Max, g.Min, g.Max)
	}
	if !profClose(c.Mean, g.Mean, 1e-9) || !profClose(c.Variance(), g.Var, 1e-9) || !profClose(c.M2, g.M2, 1e-9) {
		t.Errorf("%s: mean %v var %v m2 %v, want %v %v %v", c.Name, c.Mean, c.Variance(), c.M2, g.Mean, g.Var, g.M2)
	}
	if !profClose(c.Std(), math.Sqrt(g.Var), 1e-9) {
		t.Errorf("%s: std %v", c.Name, c.Std())
	}
	if d := float64(c.Distinct()); math.Abs(d-float64(g.Distinct)) > 4*c.DistinctError()*float64(g.Distinct)+1 {
		t.Errorf("%s: distinct %v, want about %d", c.Name, d, g.Distinct)
	}
	if exact {
		if c.RankError() != 0 {
			t.Errorf("%s: rank error %v, want exact", c.Name, c.RankError())
		}
		if !slices.Equal(c.Edges, g.Edges) {
			t.Errorf("%s: edges\n got %v\nwant %v", c.Name, c.Edges, g.Edges)
		}
		if !slices.Equal(c.Counts, g.Counts) {
			t.Errorf("%s: counts\n got %v\nwant %v", c.Name, c.Counts, g.Counts)
		}
		for i := 1; i < 100; i++ {
			if q := c.Quantile(float64(i) / 100); q != g.Edges[i-1] {
				t.Errorf("%s: quantile(%d/100) = %v, want %v", c.Name, i, q, g.Edges[i-1])
			}
		}
	}
}

// TestProfileGoldenExact compares profiles small enough for an exact sketch
// with numpy.
func TestProfileGoldenExact(t *testing.T) {
	g := loadProfGolden(t)
	p := profileCSV(t, "breast_cancer.csv", ProfileOptions{SketchK: 1024})
	for name, want := range g.BreastCancer {
		checkNumGolden(t, p.Column(name), want, true)
	}
	if p.Rows != 569 || len(p.Columns) != 31 {
		t.Errorf("rows %d columns %d", p.Rows, len(p.Columns))
	}
	sw := profileCSV(t, "seattle-weather.csv", ProfileOptions{SketchK: 2048})
	checkNumGolden(t, sw.Column("precipitation"), g.SeattleWeather.Precipitation, true)
	if sw.Column("date") != nil {
		t.Error("date column should be skipped by default")
	}
	w := sw.Column("weather")
	checkTop(t, w, g.SeattleWeather.Weather, 256)
	// Fewer Top values than categories: the rest is Other, still exact.
	sw2 := profileCSV(t, "seattle-weather.csv", ProfileOptions{TopK: 2, Columns: []string{"weather"}})
	checkTop(t, sw2.Column("weather"), g.SeattleWeather.Weather, 2)
}

func checkTop(t *testing.T, c *ColumnProfile, g profGoldenCat, k int) {
	t.Helper()
	if c.Kind != Categorical || c.Count != g.Count || c.TopError != 0 {
		t.Fatalf("%s: kind %v count %d top error %d", c.Name, c.Kind, c.Count, c.TopError)
	}
	n := min(k, len(g.Top))
	if len(c.Top) != n {
		t.Fatalf("%s: %d top values, want %d", c.Name, len(c.Top), n)
	}
	var rest int64
	for i, e := range g.Top {
		cnt := int64(e[1].(float64))
		if i >= n {
			rest += cnt
			continue
		}
		if c.Top[i].Value != e[0].(string) || c.Top[i].Count != cnt {
			t.Errorf("%s: top[%d] = %v, want %v", c.Name, i, c.Top[i], e)
		}
	}
	if c.Other != rest {
		t.Errorf("%s: other %d, want %d", c.Name, c.Other, rest)
	}
}

// TestProfileFlights profiles flights-20k.csv with the default options: the
// moments are exact, the sketch answers are within the stated rank error.
func TestProfileFlights(t *testing.T) {
	g := loadProfGolden(t)
	src := pipeline.CSV("../testdata/flights-20k.csv", pipeline.CSVOptions{BatchRows: 1500})
	p, err := ProfileSource(context.Background(), src, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Rows != g.Flights.Rows {
		t.Fatalf("rows %d", p.Rows)
	}
	names := []string{}
	for _, c := range p.Columns {
		names = append(names, c.Name+":"+c.Kind.String()+":"+c.Type)
	}
	if want := []string{"delay:numeric:int64", "distance:numeric:int64", "origin:categorical:utf8", "destination:categorical:utf8"}; !slices.Equal(names, want) {
		t.Fatalf("columns %v, want %v", names, want)
	}
	checkTop(t, p.Column("origin"), g.Flights.Origin, 256)
	for name, want := range map[string]profGoldenNum{"delay": g.Flights.Delay, "distance": g.Flights.Distance} {
		c := p.Column(name)
		checkNumGolden(t, c, want, false)
		eps := c.RankError()
		if eps == 0 || eps != 2.0/256 {
			t.Fatalf("%s: rank error %v", name, eps)
		}
		// Exact ranks from numpy's bin counts of its own edges are not
		// what we need; rebuild the sorted column instead.
		xs := profColumnValues(t, "../testdata/flights-20k.csv", name)
		n := float64(len(xs))
		for q := 0.01; q < 1; q += 0.01 {
			x := c.Quantile(q)
			lo := float64(sort.SearchFloat64s(xs, x)) / n                                  // fraction < x
			hi := float64(sort.Search(len(xs), func(i int) bool { return xs[i] > x })) / n // fraction <= x
			if q < lo-eps || q > hi+eps {
				t.Errorf("%s: quantile(%.2f) = %v has ranks [%v, %v]", name, q, x, lo, hi)
			}
			if r := c.Rank(x); r < hi-eps || r > hi+eps {
				t.Errorf("%s: rank(%v) = %v, want %v", name, x, r, hi)
			}
		}
		var sum float64
		for i, cnt := range c.Counts {
			sum += cnt
			lo, hi := math.Inf(-1), math.Inf(1)
			if i > 0 {
				lo = c.Edges[i-1]
			}
			if i < len(c.Edges) {
				hi = c.Edges[i]
			}
			exact := float64(sort.SearchFloat64s(xs, hi) - sort.SearchFloat64s(xs, lo))
			if math.Abs(cnt-exact) > 2*eps*n {
				t.Errorf("%s: bin %d count %v, exact %v", name, i, cnt, exact)
			}
		}
		if sum != float64(c.Count) {
			t.Errorf("%s: counts sum to %v, want %d", name, sum, c.Count)
		}
		kib := float64(c.encodedSize(t)) / 1024
		t.Logf("%s: %.1f KiB encoded", name, kib)
	}
}

func profColumnValues(t *testing.T, path, col string) []float64 {
	t.Helper()
	var xs []float64
	src := pipeline.CSV(path, pipeline.CSVOptions{})
	for b, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		i := b.Schema().FieldIndices(col)[0]
		a := b.Column(i).(*array.Int64)
		for j := range a.Len() {
			if a.IsValid(j) {
				xs = append(xs, float64(a.Value(j)))
			}
		}
		b.Release()
	}
	slices.Sort(xs)
	return xs
}

// encodedSize returns the bytes a column adds to a profile's encoding.
func (c *ColumnProfile) encodedSize(t *testing.T) int {
	t.Helper()
	one := &Profile{Rows: c.Count + c.Nulls + c.NonFinite, Columns: []*ColumnProfile{c}, sketchK: c.kllK(), topK: 256, bins: 100}
	empty := &Profile{Rows: one.Rows, sketchK: one.sketchK, topK: 256, bins: 100}
	return one.Size() - empty.Size()
}

func (c *ColumnProfile) kllK() int {
	if c.kll != nil {
		return c.kll.K()
	}
	return 256
}

// mixedBatches builds seeded batches of every supported kind of column,
// with nulls, non-finite values and repeated categories.
func mixedBatches(t testing.TB, nb, rows int, seed uint64) (*arrow.Schema, []arrow.RecordBatch) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "d", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "code", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
	}, nil)
	r := rand.New(rand.NewPCG(seed, 2))
	mem := memory.NewGoAllocator()
	var out []arrow.RecordBatch
	words := []string{"alpha", "beta", "gamma", "delta", "<b>", ""}
	for range nb {
		bld := array.NewRecordBuilder(mem, schema)
		for range rows {
			switch x := r.NormFloat64() * 10; {
			case r.IntN(50) == 0:
				bld.Field(0).AppendNull()
			case r.IntN(100) == 0:
				bld.Field(0).(*array.Float64Builder).Append(math.NaN())
			case r.IntN(200) == 0:
				bld.Field(0).(*array.Float64Builder).Append(math.Inf(-1))
			default:
				bld.Field(0).(*array.Float64Builder).Append(x)
			}
			if r.IntN(10) == 0 {
				bld.Field(1).AppendNull()
			} else {
				bld.Field(1).(*array.Int32Builder).Append(int32(r.IntN(1000) - 500))
			}
			bld.Field(2).(*array.Uint8Builder).Append(uint8(r.IntN(256)))
			bld.Field(3).(*array.Float32Builder).Append(float32(r.ExpFloat64()))
			w := words[r.IntN(len(words))]
			if r.IntN(20) == 0 {
				bld.Field(4).AppendNull()
			} else {
				bld.Field(4).(*array.StringBuilder).Append(w)
			}
			bld.Field(5).(*array.LargeStringBuilder).Append("v" + strconv.Itoa(r.IntN(40)))
			if r.IntN(7) == 0 {
				bld.Field(6).AppendNull()
			} else {
				bld.Field(6).(*array.BooleanBuilder).Append(r.IntN(3) == 0)
			}
			if r.IntN(9) == 0 {
				bld.Field(7).AppendNull()
			} else if err := bld.Field(7).(*array.BinaryDictionaryBuilder).AppendString(words[r.IntN(4)]); err != nil {
				t.Fatal(err)
			}
			bld.Field(8).(*array.Int64Builder).Append(int64(r.IntN(30) * 100))
			bld.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Int64N(1e12)))
		}
		out = append(out, bld.NewRecordBatch())
		bld.Release()
	}
	return schema, out
}

func mustProfiler(t testing.TB, schema *arrow.Schema, opts ProfileOptions, batches ...arrow.RecordBatch) *Profiler {
	t.Helper()
	pr, err := NewProfiler(schema, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := pr.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	return pr
}

func hllBytes(c *ColumnProfile) []byte {
	b, _ := c.hll.MarshalBinary()
	return b
}

// sameProfile checks that two profiles of the same data agree where they
// must: counts, min, max exactly, mean and M2 within 1e-12 relative,
// distinct-count registers and Top counts identically, and (for sketches
// still exact) the histograms.
func sameProfile(t *testing.T, a, b *Profile) {
	t.Helper()
	if a.Rows != b.Rows || len(a.Columns) != len(b.Columns) {
		t.Fatalf("rows %d/%d columns %d/%d", a.Rows, b.Rows, len(a.Columns), len(b.Columns))
	}
	for i, x := range a.Columns {
		y := b.Columns[i]
		if x.Name != y.Name || x.Kind != y.Kind || x.Type != y.Type || x.Count != y.Count || x.Nulls != y.Nulls || x.NonFinite != y.NonFinite {
			t.Errorf("%s: %v %v %s %d %d %d vs %s %v %s %d %d %d", x.Name, x.Kind, x.Type, x.Name, x.Count, x.Nulls, x.NonFinite, y.Name, y.Kind, y.Type, y.Count, y.Nulls, y.NonFinite)
		}
		if x.Min != y.Min || x.Max != y.Max || !profClose(y.Mean, x.Mean, 1e-12) || !profClose(y.M2, x.M2, 1e-12) {
			t.Errorf("%s: min %v/%v max %v/%v mean %v/%v m2 %v/%v", x.Name, x.Min, y.Min, x.Max, y.Max, x.Mean, y.Mean, x.M2, y.M2)
		}
		if !bytes.Equal(hllBytes(x), hllBytes(y)) {
			t.Errorf("%s: distinct-count registers differ", x.Name)
		}
		if !slices.Equal(x.Top, y.Top) || x.Other != y.Other || x.TopError != y.TopError {
			t.Errorf("%s: top %v other %d err %d vs %v %d %d", x.Name, x.Top, x.Other, x.TopError, y.Top, y.Other, y.TopError)
		}
		if x.Kind == Numeric && x.RankError() == 0 && y.RankError() == 0 {
			if !slices.Equal(x.Edges, y.Edges) || !slices.Equal(x.Counts, y.Counts) {
				t.Errorf("%s: exact histograms differ", x.Name)
			}
		}
	}
}

func TestProfileShardsMerge(t *testing.T) {
	for _, rows := range []int{20, 3000} {
		schema, batches := mixedBatches(t, 9, rows, uint64(rows))
		opts := ProfileOptions{Categorical: []string{"code"}, SketchK: 1 << 15}
		if rows > 100 {
			opts.SketchK = 0
		}
		whole := mustProfiler(t, schema, opts, batches...)
		shards := []*Profiler{mustProfiler(t, schema, opts, batches[:2]...), mustProfiler(t, schema, opts, batches[2:7]...), mustProfiler(t, schema, opts, batches[7:]...)}
		for _, s := range shards[1:] {
			if err := shards[0].Merge(s); err != nil {
				t.Fatal(err)
			}
		}
		wp := whole.Profile()
		sameProfile(t, wp, shards[0].Profile())
		// Profiles merge like profilers.
		pa := mustProfiler(t, schema, opts, batches[:4]...).Profile()
		pb := mustProfiler(t, schema, opts, batches[4:]...).Profile()
		if err := pa.Merge(pb); err != nil {
			t.Fatal(err)
		}
		sameProfile(t, wp, pa)
		// ProfileSource on the same batches.
		ps, err := ProfileSource(context.Background(), pipeline.FromBatches(schema, batches...), opts)
		if err != nil {
			t.Fatal(err)
		}
		sameProfile(t, wp, ps)

		if c := wp.Column("ts"); c != nil {
			t.Error("timestamp column profiled")
		}
		f := wp.Column("f")
		if f.NonFinite == 0 || f.Nulls == 0 || f.Count+f.Nulls+f.NonFinite != wp.Rows {
			t.Errorf("f: count %d nulls %d non-finite %d rows %d", f.Count, f.Nulls, f.NonFinite, wp.Rows)
		}
		code := wp.Column("code")
		if code.Kind != Categorical || len(code.Top) != 30 || code.Top[0].Value == "" {
			t.Errorf("code: %v %v", code.Kind, code.Top)
		}
		if b := wp.Column("b"); b.Kind != Categorical || len(b.Top) != 2 || b.Top[0].Value != "false" {
			t.Errorf("b: %v", b.Top)
		}
		if rows < 100 {
			checkAgainstData(t, wp, batches)
		}
		for _, b := range batches {
			b.Release()
		}
	}
}

// checkAgainstData recomputes the float column's statistics and the
// dictionary column's counts directly.
func checkAgainstData(t *testing.T, p *Profile, batches []arrow.RecordBatch) {
	var xs []float64
	counts := map[string]int64{}
	for _, b := range batches {
		a := b.Column(0).(*array.Float64)
		for i := range a.Len() {
			if x := a.Value(i); a.IsValid(i) && !math.IsNaN(x) && !math.IsInf(x, 0) {
				xs = append(xs, x)
			}
		}
		d := b.Column(7).(*array.Dictionary)
		dv := d.Dictionary().(*array.String)
		for i := range d.Len() {
			if d.IsValid(i) {
				counts[dv.Value(d.GetValueIndex(i))]++
			}
		}
	}
	slices.Sort(xs)
	f := p.Column("f")
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var m2 float64
	for _, x := range xs {
		m2 += (x - mean) * (x - mean)
	}
	if f.Count != int64(len(xs)) || f.Min != xs[0] || f.Max != xs[len(xs)-1] || !profClose(f.Mean, mean, 1e-12) || !profClose(f.M2, m2, 1e-12) {
		t.Errorf("f: %d %v %v %v %v", f.Count, f.Min, f.Max, f.Mean, f.M2)
	}
	for i, e := range f.Edges {
		// inverted CDF: the smallest x with i+1 values of 100ths at or below.
		k := int(math.Ceil(float64(i+1)*float64(len(xs))/100)) - 1
		if e != xs[max(k, 0)] {
			t.Errorf("edge %d = %v, want %v", i, e, xs[k])
		}
	}
	d := p.Column("d")
	for _, fr := range d.Top {
		if counts[fr.Value] != fr.Count {
			t.Errorf("d: %q counted %d, want %d", fr.Value, fr.Count, counts[fr.Value])
		}
	}
	if len(d.Top) != len(counts) {
		t.Errorf("d: %d values, want %d", len(d.Top), len(counts))
	}
}

func TestProfileBinary(t *testing.T) {
	schema, batches := mixedBatches(t, 4, 5000, 11)
	p := mustProfiler(t, schema, ProfileOptions{Categorical: []string{"code"}, TopK: 3}, batches...).Profile()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if p.Size() != len(b) {
		t.Fatalf("size %d, encoding %d", p.Size(), len(b))
	}
	var buf bytes.Buffer
	if n, err := p.WriteTo(&buf); err != nil || n != int64(len(b)) {
		t.Fatal(n, err)
	}
	q, err := ReadProfile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	sameProfile(t, p, q)
	j1, _ := json.Marshal(p)
	j2, _ := json.Marshal(q)
	if !bytes.Equal(j1, j2) {
		t.Errorf("JSON differs after a binary round trip")
	}
	if b2, _ := q.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Error("re-encoding differs")
	}
	if !reflect.DeepEqual(q.Options(), p.Options()) || q.Options().TopK != 3 {
		t.Errorf("options %+v", q.Options())
	}
	// Decoded profiles evolve as the originals: merge both with the same.
	extra := mustProfiler(t, schema, ProfileOptions{Categorical: []string{"code"}, TopK: 3}, batches[:2]...).Profile()
	if err := p.Merge(extra); err != nil {
		t.Fatal(err)
	}
	if err := q.Merge(extra); err != nil {
		t.Fatal(err)
	}
	sameProfile(t, p, q)
	if !slices.Equal(p.Column("f").Edges, q.Column("f").Edges) {
		t.Error("edges differ after merging a decoded profile")
	}
	// Truncated or altered encodings are rejected.
	for i := 0; i < len(b); i += 1 + i/50 {
		if err := new(Profile).UnmarshalBinary(b[:i]); !errors.Is(err, ErrInput) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
		c := slices.Clone(b)
		c[i] ^= 0x10
		if err := new(Profile).UnmarshalBinary(c); !errors.Is(err, ErrInput) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	for _, bt := range batches {
		bt.Release()
	}
}

func TestProfileJSON(t *testing.T) {
	src := pipeline.CSV("../testdata/flights-20k.csv", pipeline.CSVOptions{})
	p, err := ProfileSource(context.Background(), src, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Profile
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Options(), p.Options()) || q.Rows != p.Rows || len(q.Columns) != 4 {
		t.Fatalf("%+v", q.Options())
	}
	for i, c := range p.Columns {
		d := q.Columns[i]
		if d.Distinct() != c.Distinct() || d.RankError() != c.RankError() || d.Count != c.Count || !slices.Equal(d.Top, c.Top) || !slices.Equal(d.Counts, c.Counts) {
			t.Errorf("%s: JSON round trip lost fields", c.Name)
		}
		if c.Kind == Numeric {
			for _, qq := range []float64{0, 0.1, 0.5, 0.9, 1} {
				// Interpolating the edges stays within a bin of the sketch.
				got := d.Quantile(qq)
				if c.Rank(got) < qq-0.02 || c.kll.CDF([]float64{got})[0] > qq+0.02 {
					t.Errorf("%s: quantile(%v) from JSON %v, sketch %v", c.Name, qq, got, c.Quantile(qq))
				}
				if r := d.Rank(got); r < c.kll.CDF([]float64{got})[0]-0.02 || r > c.Rank(got)+0.02 {
					t.Errorf("%s: rank(%v) from JSON %v, sketch %v", c.Name, got, r, c.Rank(got))
				}
			}
		}
	}
	if err := q.Merge(p); !errors.Is(err, ErrInput) {
		t.Errorf("merging a JSON profile: %v", err)
	}
	if _, err := q.MarshalBinary(); !errors.Is(err, ErrInput) {
		t.Errorf("encoding a JSON profile: %v", err)
	}
}

// TestProfileSize checks the encoded size of a numeric column of a million
// values with the default options.
func TestProfileSize(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64}}, nil)
	pr, err := NewProfiler(schema, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	xs := make([]float64, 1<<16)
	for range 16 {
		for i := range xs {
			xs[i] = r.NormFloat64()
		}
		bld := array.NewFloat64Builder(memory.DefaultAllocator)
		bld.AppendValues(xs, nil)
		a := bld.NewArray()
		rb := array.NewRecordBatch(schema, []arrow.Array{a}, int64(len(xs)))
		if err := pr.Add(rb); err != nil {
			t.Fatal(err)
		}
		rb.Release()
		a.Release()
		bld.Release()
	}
	p := pr.Profile()
	size := p.Columns[0].encodedSize(t)
	t.Logf("numeric column of %d values: %d bytes (%.1f KiB) encoded", p.Columns[0].Count, size, float64(size)/1024)
	if size > 16<<10 {
		t.Errorf("numeric column takes %d bytes, above 16 KiB", size)
	}
	c := p.Columns[0]
	for _, q := range []float64{0.01, 0.5, 0.99} {
		want := math.Sqrt2 * math.Erfinv(2*q-1)
		if r := c.Rank(c.Quantile(q)); math.Abs(r-q) > c.RankError() {
			t.Errorf("quantile(%v) = %v (normal %v) has rank %v", q, c.Quantile(q), want, r)
		}
	}
}

func TestProfileErrors(t *testing.T) {
	schema, batches := mixedBatches(t, 1, 10, 1)
	defer batches[0].Release()
	for _, o := range []ProfileOptions{
		{Columns: []string{"nope"}},
		{Columns: []string{"ts"}},
		{Columns: []string{"f", "f"}},
		{Categorical: []string{"nope"}},
		{Bins: 15},
		{SketchK: 3},
		{TopK: -1},
	} {
		if _, err := NewProfiler(schema, o); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	pr, err := NewProfiler(schema, ProfileOptions{Columns: []string{"s", "f"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := pr.Profile().Columns; len(got) != 2 || got[0].Name != "s" || got[1].Name != "f" || got[1].Count != 0 || got[1].Edges != nil {
		t.Errorf("empty profile columns %v", got)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "f", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, other)
	bld.Field(0).(*array.Int64Builder).Append(1)
	ob := bld.NewRecordBatch()
	defer ob.Release()
	if err := pr.Add(ob); !errors.Is(err, ErrInput) {
		t.Errorf("mismatched batch: %v", err)
	}
	pr2, _ := NewProfiler(schema, ProfileOptions{Columns: []string{"f"}})
	if err := pr.Merge(pr2); !errors.Is(err, ErrInput) {
		t.Errorf("merging different columns: %v", err)
	}
	p1 := mustProfiler(t, schema, ProfileOptions{Bins: 20}, batches...).Profile()
	p2 := mustProfiler(t, schema, ProfileOptions{}, batches...).Profile()
	if err := p1.Merge(p2); !errors.Is(err, ErrInput) {
		t.Errorf("merging different options: %v", err)
	}
	if len(p1.Column("f").Counts) != 20 {
		t.Errorf("bins %d", len(p1.Column("f").Counts))
	}
}

// TestTopKSpaceSaving checks the Space-Saving bounds on a skewed stream with
// far more distinct values than counters, whole and merged from shards.
func TestTopKSpaceSaving(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(r, 1.3, 1, 100000)
	truth := map[string]int64{}
	whole := newTopK(40)
	shards := []*topK{newTopK(40), newTopK(40), newTopK(40)}
	for i := range 200000 {
		s := strconv.FormatUint(z.Uint64(), 10)
		truth[s]++
		whole.add(s, 1)
		shards[i%3].add(s, 1)
	}
	shards[0].merge(shards[1])
	shards[0].merge(shards[2])
	for name, tk := range map[string]*topK{"whole": whole, "merged": shards[0]} {
		s := tk.sorted()
		if tk.floor == 0 {
			t.Fatalf("%s: expected an inexact summary", name)
		}
		for _, e := range s {
			if tc := truth[e.value]; tc > e.count || tc < e.count-e.err {
				t.Errorf("%s: %q true %d, counted %d ± %d", name, e.value, tc, e.count, e.err)
			}
		}
		for v, tc := range truth {
			if _, ok := tk.idx[v]; !ok && tc > tk.floor {
				t.Errorf("%s: %q (true %d) dropped above floor %d", name, v, tc, tk.floor)
			}
		}
		// The ten most frequent are found in order.
		type kv struct {
			v string
			c int64
		}
		var all []kv
		for v, c := range truth {
			all = append(all, kv{v, c})
		}
		slices.SortFunc(all, func(a, b kv) int { return int(b.c - a.c) })
		for i := range 5 {
			if s[i].value != all[i].v {
				t.Errorf("%s: top %d is %q, want %q", name, i, s[i].value, all[i].v)
			}
		}
	}
}

// BenchmarkProfile profiles 20 float64 columns, 1M rows (16 batches of 65,536).
func BenchmarkProfile(b *testing.B) {
	const cols, rows, batch = 20, 1 << 20, 1 << 16
	fields := make([]arrow.Field, cols)
	for i := range fields {
		fields[i] = arrow.Field{Name: "c" + strconv.Itoa(i), Type: arrow.PrimitiveTypes.Float64}
	}
	schema := arrow.NewSchema(fields, nil)
	r := rand.New(rand.NewPCG(1, 2))
	var batches []arrow.RecordBatch
	for range rows / batch {
		arrs := make([]arrow.Array, cols)
		for j := range arrs {
			bld := array.NewFloat64Builder(memory.DefaultAllocator)
			for range batch {
				bld.Append(r.NormFloat64()*float64(j+1) + float64(j))
			}
			arrs[j] = bld.NewArray()
			bld.Release()
		}
		batches = append(batches, array.NewRecordBatch(schema, arrs, batch))
	}
	src := pipeline.FromBatches(schema, batches...)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ProfileSource(context.Background(), src, ProfileOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows*cols), "ns/value")
}

func TestProfileMergeSelf(t *testing.T) {
	xs := make([]float64, 5000)
	for i := range xs {
		xs[i] = float64(i % 97)
	}
	p := profileOf(t, xs)
	want := profileOf(t, append(slices.Clone(xs), xs...)).Column("x")
	if err := p.Merge(p); err != nil {
		t.Fatal(err)
	}
	got := p.Column("x")
	if got.Count != want.Count || got.Min != want.Min || got.Max != want.Max || !closeRel(got.Mean, want.Mean, 1e-12) || !closeRel(got.M2, want.M2, 1e-9) || p.Rows != 10000 {
		t.Errorf("self-merge: count %d mean %v M2 %v rows %d; want %d, %v, %v", got.Count, got.Mean, got.M2, p.Rows, want.Count, want.Mean, want.M2)
	}
	if math.Abs(got.Quantile(0.5)-want.Quantile(0.5)) > 2 {
		t.Errorf("median %v, want about %v", got.Quantile(0.5), want.Quantile(0.5))
	}
}
