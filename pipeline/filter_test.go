package pipeline

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/google/go-cmp/cmp"
)

// stgColumn returns column j of rows.
func stgColumn(rows [][]string, j int) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r[j]
	}
	return out
}

func TestFilterPredicates(t *testing.T) {
	schema := stgSchema("i:int64", "s:string", "f:float64", "b:bool", "ts:ts", "d:date32",
		"i8:int8", "u:uint64", "ls:large_string", "f32:float32", "tz:ts_utc")
	rows := `[
	{"i":1,"s":"apple","f":0.5,"b":true,"ts":"2020-01-01T00:00:00","d":"2020-01-01","i8":-5,"u":1,"ls":"a","f32":0.1,"tz":"2020-01-01T00:00:00Z"},
	{"i":2,"s":"banana","f":1.5,"b":false,"ts":"2020-01-01T12:00:00.000001","d":"2020-01-02","i8":0,"u":18446744073709551615,"ls":"b","f32":0.25,"tz":"2020-01-01T12:00:00Z"},
	{"i":3,"s":"cherry","f":2.5,"b":true,"ts":"2020-01-02T00:00:00","d":"2020-01-03","i8":5,"u":3,"ls":"c","f32":1,"tz":"2020-01-02T00:00:00Z"},
	{"i":null,"s":null,"f":null,"b":null,"ts":null,"d":null,"i8":null,"u":null,"ls":null,"f32":null,"tz":null},
	{"i":5,"s":"","f":-1,"b":false,"ts":"2019-12-31T23:59:59","d":"2019-12-31","i8":127,"u":0,"ls":"","f32":-1,"tz":"2019-12-31T23:59:59Z"}
	]`
	noon := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		p       Predicate
		want    []string // values of column i of the rows kept ("NULL" for the null row)
		wantErr string
	}{
		{p: Col("i").Eq(2), want: []string{"2"}},
		{p: Col("i").Eq(int32(2)), want: []string{"2"}},
		{p: Col("i").Eq(2.0), want: []string{"2"}},
		{p: Col("i").Eq(uint8(3)), want: []string{"3"}},
		{p: Col("i").Ne(2), want: []string{"1", "3", "5"}},
		{p: Col("i").Lt(3), want: []string{"1", "2"}},
		{p: Col("i").Le(3), want: []string{"1", "2", "3"}},
		{p: Col("i").Gt(2), want: []string{"3", "5"}},
		{p: Col("i").Ge(2), want: []string{"2", "3", "5"}},
		{p: Col("i").Between(2, 3), want: []string{"2", "3"}},
		{p: Col("i").In(1, 5, 99), want: []string{"1", "5"}},
		{p: Col("i").In(1, 2, 3, 4, 6, 7, 8, 9, 10, 11), want: []string{"1", "2", "3"}},
		{p: Col("i").In(), want: []string{}},
		{p: Col("i").IsNull(), want: []string{"NULL"}},
		{p: Col("i").NotNull(), want: []string{"1", "2", "3", "5"}},
		{p: Col("s").Eq("banana"), want: []string{"2"}},
		{p: Col("s").Gt("b"), want: []string{"2", "3"}},
		{p: Col("s").Lt("b"), want: []string{"1", "5"}},
		{p: Col("s").Between("b", "c"), want: []string{"2"}},
		{p: Col("s").In("cherry", "", "kiwi"), want: []string{"3", "5"}},
		{p: Col("s").Ne(""), want: []string{"1", "2", "3"}},
		{p: Col("ls").Ge("b"), want: []string{"2", "3"}},
		{p: Col("f").Gt(1), want: []string{"2", "3"}},
		{p: Col("f").Le(0.5), want: []string{"1", "5"}},
		{p: Col("f").In(2.5, -1), want: []string{"3", "5"}},
		{p: Col("f32").Gt(0.1), want: []string{"1", "2", "3"}}, // float32(0.1) > 0.1 when widened
		{p: Col("f32").Eq(0.25), want: []string{"2"}},
		{p: Col("b").Eq(true), want: []string{"1", "3"}},
		{p: Col("b").Ne(true), want: []string{"2", "5"}},
		{p: Col("b").In(true, false), want: []string{"1", "2", "3", "5"}},
		{p: Col("i8").Lt(0), want: []string{"1"}},
		{p: Col("i8").Eq(127), want: []string{"5"}},
		{p: Col("u").Gt(uint64(1) << 63), want: []string{"2"}},
		{p: Col("u").Lt(2), want: []string{"1", "5"}},
		{p: Col("ts").Ge("2020-01-01"), want: []string{"1", "2", "3"}},
		{p: Col("ts").Gt(noon), want: []string{"2", "3"}},
		{p: Col("ts").Le(noon), want: []string{"1", "5"}},
		{p: Col("ts").Lt(time.Date(2020, 1, 1, 0, 0, 0, 1, time.UTC)), want: []string{"1", "5"}},   // finer than µs: ceil
		{p: Col("ts").Ge(time.Date(2020, 1, 1, 0, 0, 0, 1, time.UTC)), want: []string{"2", "3"}},   // ceil
		{p: Col("ts").Le(time.Date(2020, 1, 1, 0, 0, 0, 999, time.UTC)), want: []string{"1", "5"}}, // floor
		{p: Col("ts").Gt(time.Date(2020, 1, 1, 0, 0, 0, 999, time.UTC)), want: []string{"2", "3"}}, // floor
		{p: Col("ts").Eq(time.Date(2020, 1, 1, 13, 0, 0, 0, berlin)), want: []string{}},            // wall clock 13:00 for naive
		{p: Col("ts").Eq("2020-01-01 12:00:00.000001"), want: []string{"2"}},
		{p: Col("tz").Eq(time.Date(2020, 1, 1, 13, 0, 0, 0, berlin)), want: []string{"2"}}, // the instant for zoned
		{p: Col("tz").Between("2020-01-01T00:00:00Z", "2020-01-01T12:00:00Z"), want: []string{"1", "2"}},
		{p: Col("d").Eq("2020-01-02"), want: []string{"2"}},
		{p: Col("d").Lt(time.Date(2020, 1, 2, 12, 0, 0, 0, time.UTC)), want: []string{"1", "2", "5"}},
		{p: Col("d").Gt(time.Date(2020, 1, 2, 12, 0, 0, 0, time.UTC)), want: []string{"3"}},
		{p: Col("d").Between(time.Date(2020, 1, 1, 0, 0, 0, 0, berlin), "2020-01-02"), want: []string{"1", "2"}},
		// Three-valued logic.
		{p: Not(Col("i").Gt(2)), want: []string{"1", "2"}},
		{p: Not(Col("i").IsNull()), want: []string{"1", "2", "3", "5"}},
		{p: Or(Col("i").IsNull(), Col("i").Gt(3)), want: []string{"NULL", "5"}},
		{p: And(Col("i").Gt(1), Col("s").Ne("cherry")), want: []string{"2", "5"}},
		{p: Not(And(Col("i").Gt(1), Col("s").Ne("cherry"))), want: []string{"1", "3"}},
		{p: Not(Or(Col("i").Eq(1), Col("b").Eq(true))), want: []string{"2", "5"}},
		{p: And(), want: []string{"1", "2", "3", "NULL", "5"}},
		{p: Or(), want: []string{}},
		{p: Not(Or()), want: []string{"1", "2", "3", "NULL", "5"}},
		{p: Or(And(Col("i").Ge(2), Col("i").Le(3)), Col("s").Eq("apple")), want: []string{"1", "2", "3"}},
		// Bind errors.
		{p: Col("i").Gt("x"), wantErr: `column "i" is int64: "x" is not an integer`},
		{p: Col("i").Gt(2.5), wantErr: `2.5 is not an integer`},
		{p: Col("i8").Gt(300), wantErr: `300 is out of range`},
		{p: Col("u").Gt(-1), wantErr: `-1 is out of range`},
		{p: Col("f").Gt(int64(1)<<62 + 1), wantErr: "converts exactly"},
		{p: Col("f").Eq("1"), wantErr: "converts exactly"},
		{p: Col("s").Eq(1), wantErr: "1 is not a string"},
		{p: Col("b").Lt(true), wantErr: "Eq, Ne and In only"},
		{p: Col("b").Eq(1), wantErr: "not a bool"},
		{p: Col("ts").Gt(5), wantErr: "not a time.Time"},
		{p: Col("ts").Gt("yesterday"), wantErr: "not a date or timestamp"},
		{p: Col("ts").Eq(time.Date(2020, 1, 1, 0, 0, 0, 1, time.UTC)), wantErr: "finer than the column's unit"},
		{p: Col("i").Eq(nil), wantErr: "use IsNull"},
		{p: Col("nope").Eq(1), wantErr: `no column "nope" (columns: i, s, f, b, ts, d, i8, u, ls, f32, tz)`},
		{p: And(Col("i").Gt(1), Col("nope").IsNull()), wantErr: `no column "nope"`},
		{p: Not(Col("zz").Gt(1)), wantErr: `no column "zz"`},
	}
	for _, tc := range tests {
		t.Run(tc.p.String(), func(t *testing.T) {
			mem := checkedAlloc(t)
			in := stgBatch(t, mem, schema, rows)
			defer in.Release()
			sc, got, err := stgApply(t, mem, Filter(tc.p), in)
			if !stgWantErr(t, err, tc.wantErr, ErrSchema) {
				return
			}
			if d := cmp.Diff(stgFields(schema), stgFields(sc)); d != "" {
				t.Errorf("schema changed (-in +out):\n%s", d)
			}
			if d := cmp.Diff(tc.want, stgColumn(got, 0)); d != "" {
				t.Errorf("rows (-want +got):\n%s", d)
			}
		})
	}
}

func TestPredicateString(t *testing.T) {
	p := Or(And(Col("a").Between(1, 2), Col("s").In("x", "y")), Not(Col("b").IsNull()), Col("c").Ne(1.5))
	want := `((a BETWEEN 1 AND 2 AND s IN ("x", "y")) OR NOT b IS NULL OR c != 1.5)`
	if got := p.String(); got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	if got := Filter(Col("x").Gt(1)).Name(); got != "filter(x > 1)" {
		t.Errorf("Name() = %s", got)
	}
}

// stgRandomBatch builds n rows of random int64 "x" (0..99), strings "s"
// (one of 20) and float64 "f", each null one time in nullEvery (0: never).
func stgRandomBatch(t testing.TB, mem memory.Allocator, n, nullEvery int, seed uint64) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(seed, 1))
	xb := array.NewInt64Builder(mem)
	sb := array.NewStringBuilder(mem)
	fb := array.NewFloat64Builder(mem)
	defer xb.Release()
	defer sb.Release()
	defer fb.Release()
	null := func() bool { return nullEvery > 0 && r.IntN(nullEvery) == 0 }
	for range n {
		if null() {
			xb.AppendNull()
		} else {
			xb.Append(r.Int64N(100))
		}
		if null() {
			sb.AppendNull()
		} else {
			sb.Append(fmt.Sprintf("k%02d", r.IntN(20)))
		}
		if null() {
			fb.AppendNull()
		} else {
			fb.Append(r.Float64() * 100)
		}
	}
	cols := []arrow.Array{xb.NewArray(), sb.NewArray(), fb.NewArray()}
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	return array.NewRecordBatch(stgSchema("x:int64", "s:string", "f:float64"), cols, int64(n))
}

// TestFilterAgainstReference compares Filter with a row-at-a-time
// evaluation on random data, whole and sliced at odd offsets (which
// exercises validity bitmaps that do not start on a byte).
func TestFilterAgainstReference(t *testing.T) {
	type ref func(x *int64, s *string, f *float64) *bool // nil: unknown
	b := func(v bool) *bool { return &v }
	cmpRef := func(fn func(x int64, s string, f float64) bool, needX, needS, needF bool) ref {
		return func(x *int64, s *string, f *float64) *bool {
			if (needX && x == nil) || (needS && s == nil) || (needF && f == nil) {
				return nil
			}
			var xv int64
			var sv string
			var fv float64
			if x != nil {
				xv = *x
			}
			if s != nil {
				sv = *s
			}
			if f != nil {
				fv = *f
			}
			return b(fn(xv, sv, fv))
		}
	}
	and := func(a, c ref) ref {
		return func(x *int64, s *string, f *float64) *bool {
			l, r := a(x, s, f), c(x, s, f)
			switch {
			case (l != nil && !*l) || (r != nil && !*r):
				return b(false)
			case l == nil || r == nil:
				return nil
			}
			return b(true)
		}
	}
	not := func(a ref) ref {
		return func(x *int64, s *string, f *float64) *bool {
			if v := a(x, s, f); v != nil {
				return b(!*v)
			}
			return nil
		}
	}
	or := func(a, c ref) ref { return not(and(not(a), not(c))) }
	gtX := cmpRef(func(x int64, _ string, _ float64) bool { return x > 40 }, true, false, false)
	inS := cmpRef(func(_ int64, s string, _ float64) bool { return s == "k03" || s == "k07" || s == "k11" }, false, true, false)
	betweenF := cmpRef(func(_ int64, _ string, f float64) bool { return f >= 10 && f <= 60 }, false, false, true)
	neS := cmpRef(func(_ int64, s string, _ float64) bool { return s != "k01" }, false, true, false)
	cases := []struct {
		p   Predicate
		ref ref
	}{
		{Col("x").Gt(40), gtX},
		{Col("s").In("k03", "k07", "k11"), inS},
		{Col("f").Between(10, 60), betweenF},
		{And(Col("x").Gt(40), Col("s").In("k03", "k07", "k11")), and(gtX, inS)},
		{Or(Col("x").Gt(40), Not(Col("f").Between(10, 60))), or(gtX, not(betweenF))},
		{Not(And(Col("s").Ne("k01"), Or(Col("x").Gt(40), Col("f").Between(10, 60)))), not(and(neS, or(gtX, betweenF)))},
	}
	mem := checkedAlloc(t)
	full := stgRandomBatch(t, mem, 1000, 7, 42)
	defer full.Release()
	for _, sl := range [][2]int64{{0, 1000}, {3, 1000}, {13, 777}, {64, 128}, {5, 5}} {
		in := full.NewSlice(sl[0], sl[1])
		for _, tc := range cases {
			var want [][]string
			xs := in.Column(0).(*array.Int64)
			ss := in.Column(1).(*array.String)
			fs := in.Column(2).(*array.Float64)
			all := stgRows(in)
			for i := range int(in.NumRows()) {
				var x *int64
				var s *string
				var f *float64
				if xs.IsValid(i) {
					v := xs.Value(i)
					x = &v
				}
				if ss.IsValid(i) {
					v := ss.Value(i)
					s = &v
				}
				if fs.IsValid(i) {
					v := fs.Value(i)
					f = &v
				}
				if r := tc.ref(x, s, f); r != nil && *r {
					want = append(want, all[i])
				}
			}
			_, got, err := stgApply(t, mem, Filter(tc.p), in)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				want = [][]string{}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("slice %v, %s (-want +got):\n%s", sl, tc.p, d)
			}
		}
		in.Release()
	}
}

func TestFilterKeepsAllOrNothing(t *testing.T) {
	mem := checkedAlloc(t)
	in := stgBatch(t, mem, stgSchema("a:int64", "b:string"), `[{"a":1,"b":"x"},{"a":2,"b":"y"},{"a":3,"b":"z"}]`)
	defer in.Release()
	ctx := context.Background()
	for _, tc := range []struct {
		p    Predicate
		rows int64
		same bool // output shares the input's arrays
	}{
		{Col("a").Gt(0), 3, true},
		{Col("a").Gt(5), 0, false},
		{Col("a").Ge(2), 2, false},
	} {
		step, err := Filter(tc.p).Bind(mem, in.Schema())
		if err != nil {
			t.Fatal(err)
		}
		out, err := step.Apply(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if out.NumRows() != tc.rows || out.NumCols() != 2 {
			t.Errorf("%s: %d rows, %d columns; want %d rows", tc.p, out.NumRows(), out.NumCols(), tc.rows)
		}
		if same := out.Column(1).Data() == in.Column(1).Data(); same != tc.same {
			t.Errorf("%s: output shares input arrays = %v, want %v", tc.p, same, tc.same)
		}
		out.Release()
	}
}

// TestFilterSeattleWeather filters a real file and checks the count
// against encoding/csv.
func TestFilterSeattleWeather(t *testing.T) {
	const path = "../testdata/seattle-weather.csv"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, r := range recs[1:] {
		// date,precipitation,temp_max,temp_min,wind,weather
		if r[5] == "rain" && r[0] >= "2014-06-01" && r[0] < "2015-01-01" {
			want++
		}
	}
	if want == 0 {
		t.Fatal("reference count is zero; the test would prove nothing")
	}
	mem := checkedAlloc(t)
	src := CSV(path, CSVOptions{Allocator: mem, BatchRows: 100})
	p := New(src, Filter(And(Col("weather").Eq("rain"), Col("date").Ge("2014-06-01"), Col("date").Lt(time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)))))
	got := 0
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got += int(rec.NumRows())
		rec.Release()
	}
	if got != want {
		t.Errorf("kept %d rows, want %d", got, want)
	}
}

func BenchmarkFilter(b *testing.B) {
	mem := memory.NewGoAllocator()
	in := stgRandomBatch(b, mem, 1<<20, 20, 7)
	defer in.Release()
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		p    Predicate
	}{
		{"int64_gt", Col("x").Gt(50)},
		{"int64_between", Col("x").Between(10, 20)},
		{"int64_in", Col("x").In(3, 17, 42, 99)},
		{"string_eq", Col("s").Eq("k07")},
		{"string_in", Col("s").In("k01", "k02", "k03")},
		{"and_int_string", And(Col("x").Ge(25), Col("s").Ne("k00"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			step, err := Filter(bc.p).Bind(mem, in.Schema())
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(in.NumRows()) // "MB/s" reads as million rows per second
			b.ReportAllocs()
			for b.Loop() {
				out, err := step.Apply(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
		})
	}
	// The same filters with arrow-go's compute functions, for comparison
	// in the same run.
	for _, bc := range []struct {
		name, fn string
		col      int
		val      scalar.Scalar
	}{
		{"arrow_compute/int64_gt", "greater", 0, scalar.NewInt64Scalar(50)},
		{"arrow_compute/string_eq", "equal", 1, scalar.NewStringScalar("k07")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(in.NumRows())
			b.ReportAllocs()
			cctx := compute.WithAllocator(ctx, mem)
			for b.Loop() {
				mask, err := compute.CallFunction(cctx, bc.fn, nil, compute.NewDatum(in.Column(bc.col)), compute.NewDatum(bc.val))
				if err != nil {
					b.Fatal(err)
				}
				out, err := compute.FilterRecordBatch(cctx, in, mask.(*compute.ArrayDatum).MakeArray(), compute.DefaultFilterOptions())
				if err != nil {
					b.Fatal(err)
				}
				mask.Release()
				out.Release()
			}
		})
	}
	// The mask alone, without building the output batch.
	b.Run("mask_only/int64_gt", func(b *testing.B) {
		ev, err := Col("x").Gt(50).bind(in.Schema())
		if err != nil {
			b.Fatal(err)
		}
		n := int(in.NumRows())
		t, f := make([]uint64, words(n)), make([]uint64, words(n))
		b.SetBytes(int64(n))
		for b.Loop() {
			ev.eval(in, n, t, f)
		}
	})
	b.Run("mask_only/string_eq", func(b *testing.B) {
		ev, err := Col("s").Eq("k07").bind(in.Schema())
		if err != nil {
			b.Fatal(err)
		}
		n := int(in.NumRows())
		t, f := make([]uint64, words(n)), make([]uint64, words(n))
		b.SetBytes(int64(n))
		for b.Loop() {
			ev.eval(in, n, t, f)
		}
	})
}

func TestFilterDictionary(t *testing.T) {
	mem := checkedAlloc(t)
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, v := range []string{"SEA", "PDX", "", "SEA", "LAX", "PDX"} {
		if v == "" {
			b.AppendNull()
		} else if err := b.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	col := b.NewArray()
	defer col.Release()
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.AppendValues([]int64{0, 1, 2, 3, 4, 5}, nil)
	idc := ib.NewArray()
	defer idc.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "origin", Type: dt, Nullable: true}}, nil)
	in := array.NewRecordBatch(schema, []arrow.Array{idc, col}, 6)
	defer in.Release()
	for _, tc := range []struct {
		p    Predicate
		want []string
	}{
		{Col("origin").Eq("SEA"), []string{"0", "3"}},
		{Not(Col("origin").Eq("SEA")), []string{"1", "4", "5"}},
		{Col("origin").In("LAX", "PDX"), []string{"1", "4", "5"}},
		{Col("origin").IsNull(), []string{"2"}},
		{Col("origin").Gt("M"), []string{"0", "1", "3", "5"}},
	} {
		_, got, err := stgApply(t, mem, Filter(tc.p), in)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, stgColumn(got, 0)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.p, d)
		}
	}
	_, _, err := stgApply(t, mem, Filter(Col("origin").Eq(1)), in)
	stgWantErr(t, err, `1 is not a string`, ErrSchema)
	// Validate's expectations work on dictionaries too.
	_, counts, err := stgValidate(t, ValidateOptions{Expect: []Expectation{
		Matches("origin", "^[A-Z]{3}$"), OneOf("origin", "SEA", "PDX"), Unique("origin")}, OnFailure: DropRow}, in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"rows_failed": 3, "dropped": 3, "quarantined": 0, `matches(origin, "^[A-Z]{3}$")`: 0,
		`one_of(origin, "SEA", "PDX")`: 1, "unique(origin)": 2}
	if d := cmp.Diff(want, counts); d != "" {
		t.Errorf("validate counts (-want +got):\n%s", d)
	}
}
