package version

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"

	"github.com/kilnml/kiln/pipeline"
)

const flights20k = "../testdata/flights-20k.parquet"

// readAll reads a source into one table-like list of batches.
func readAll(t testing.TB, src pipeline.Source) (*arrow.Schema, []arrow.RecordBatch) {
	t.Helper()
	ctx := context.Background()
	schema, err := src.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var recs []arrow.RecordBatch
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	return schema, recs
}

// rebatch cuts the rows of recs into batches of the given sizes, cycling
// through them.
func rebatch(schema *arrow.Schema, recs []arrow.RecordBatch, sizes []int64) []arrow.RecordBatch {
	whole := concatBatches(schema, recs)
	defer whole.Release()
	var out []arrow.RecordBatch
	var off int64
	for k := 0; off < whole.NumRows(); k++ {
		n := min(sizes[k%len(sizes)], whole.NumRows()-off)
		out = append(out, whole.NewSlice(off, off+n))
		off += n
	}
	return out
}

// concatBatches returns one batch holding the rows of recs.
func concatBatches(schema *arrow.Schema, recs []arrow.RecordBatch) arrow.RecordBatch {
	cols := make([]arrow.Array, schema.NumFields())
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	for i := range cols {
		parts := make([]arrow.Array, len(recs))
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		c, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			panic(err)
		}
		cols[i] = c
	}
	rec := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	return rec
}

func statsOf(t testing.TB, schema *arrow.Schema, recs []arrow.RecordBatch) *TableInfo {
	t.Helper()
	ts := newTableStats(schema)
	for _, r := range recs {
		if err := ts.add(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return ts.info()
}

// TestStatsFlights checks the statistics of flights-20k against values
// computed the plain way.
func TestStatsFlights(t *testing.T) {
	schema, recs := readAll(t, pipeline.Parquet(flights20k, pipeline.ParquetOptions{}))
	info := statsOf(t, schema, recs)
	if info.Rows != 20000 || len(info.Columns) != 5 {
		t.Fatalf("rows %d, %d columns", info.Rows, len(info.Columns))
	}
	// The plain way.
	type plain struct {
		min, max string
		sum      float64
		n        int
		distinct map[string]bool
	}
	want := make([]plain, 5)
	for i := range want {
		want[i].distinct = map[string]bool{}
	}
	for _, rec := range recs {
		for c := range 5 {
			col := rec.Column(c)
			for i := range col.Len() {
				var key, text string
				switch a := col.(type) {
				case *array.Int64:
					key = strconv.FormatInt(a.Value(i), 10)
					text = key
					want[c].sum += float64(a.Value(i))
					v := a.Value(i)
					if want[c].n == 0 || v < mustInt(want[c].min) {
						want[c].min = text
					}
					if want[c].n == 0 || v > mustInt(want[c].max) {
						want[c].max = text
					}
				case *array.String:
					key = a.Value(i)
					text = key
					if want[c].n == 0 || text < want[c].min {
						want[c].min = text
					}
					if want[c].n == 0 || text > want[c].max {
						want[c].max = text
					}
				case *array.Timestamp:
					ts := a.Value(i).ToTime(arrow.Microsecond)
					key = ts.UTC().Format(time.RFC3339Nano)
					text = key
					if want[c].n == 0 || text < want[c].min { // same length, so text order is time order
						want[c].min = text
					}
					if want[c].n == 0 || text > want[c].max {
						want[c].max = text
					}
				default:
					t.Fatalf("unexpected column type %s", col.DataType())
				}
				want[c].distinct[key] = true
				want[c].n++
			}
		}
	}
	for c, cs := range info.Columns {
		f := schema.Field(c)
		if cs.Name != f.Name || cs.Type != f.Type.String() || cs.Nulls != 0 {
			t.Errorf("column %d: %+v", c, cs)
		}
		if cs.Min != want[c].min || cs.Max != want[c].max {
			t.Errorf("column %q: min %q max %q, want %q %q", cs.Name, cs.Min, cs.Max, want[c].min, want[c].max)
		}
		exact := len(want[c].distinct)
		if rel := math.Abs(float64(cs.Distinct-int64(exact))) / float64(exact); rel > 0.03 {
			t.Errorf("column %q: distinct %d, exact %d (%.1f%% off)", cs.Name, cs.Distinct, exact, 100*rel)
		}
		if f.Type.ID() == arrow.INT64 {
			m := want[c].sum / float64(want[c].n)
			if cs.Mean == nil || math.Abs(*cs.Mean-m) > 1e-9*math.Abs(m) {
				t.Errorf("column %q: mean %v, want %v", cs.Name, cs.Mean, m)
			}
		} else if cs.Mean != nil {
			t.Errorf("column %q of type %s has a mean", cs.Name, f.Type)
		}
		t.Logf("%s: %+v distinct exact %d", cs.Name, cs, exact)
	}
}

func mustInt(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}

// TestStatsBatchSplit checks that statistics do not depend on how the rows
// are cut into batches, nor on the number of goroutines.
func TestStatsBatchSplit(t *testing.T) {
	schema, recs := readAll(t, pipeline.Parquet(flights20k, pipeline.ParquetOptions{}))
	want := statsOf(t, schema, recs)
	for _, sizes := range [][]int64{{20000}, {1}, {7, 1000, 3}, {8192}, {9000, 11000}} {
		if sizes[0] == 1 && testing.Short() {
			continue
		}
		batches := rebatch(schema, recs, sizes)
		got := statsOf(t, schema, batches)
		for _, b := range batches {
			b.Release()
		}
		if diff := cmp.Diff(want.Columns, got.Columns); diff != "" || got.Rows != want.Rows {
			t.Errorf("batches of %v: statistics differ (-want +got):\n%s", sizes, diff)
		}
	}
	ts := newTableStats(schema)
	ts.par = 1
	for _, r := range recs {
		if err := ts.add(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(want.Columns, ts.info().Columns); diff != "" {
		t.Errorf("one goroutine: statistics differ (-want +got):\n%s", diff)
	}
}

func f64(v float64) *float64 { return &v }

// TestStatsTypes checks the canonical text, nulls, means and distinct
// counts of every supported type, including all-null and empty columns.
func TestStatsTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	long := strings.Repeat("é", 40) // 80 bytes: cut to 32 characters (64 bytes)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "America/New_York"}, Nullable: true},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "t64", Type: arrow.FixedWidthTypes.Time64ns, Nullable: true},
		{Name: "dict", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}, Nullable: true},
		{Name: "nulls", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	valid := []bool{true, true, false, true}
	b.Field(0).(*array.Int8Builder).AppendValues([]int8{-128, 127, 0, 5}, valid)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{math.MaxInt64, math.MaxInt64, 0, math.MaxInt64}, valid)
	b.Field(2).(*array.Uint64Builder).AppendValues([]uint64{math.MaxUint64, 1, 0, math.MaxUint64}, valid)
	b.Field(3).(*array.Float32Builder).AppendValues([]float32{0.1, float32(math.NaN()), 0, -2.5}, valid)
	b.Field(4).(*array.Float64Builder).AppendValues([]float64{math.Copysign(0, -1), 0, 7, 1e300}, valid)
	b.Field(5).(*array.BooleanBuilder).AppendValues([]bool{true, true, false, true}, valid)
	b.Field(6).(*array.StringBuilder).AppendValues([]string{"pear", long, "", "apple"}, valid)
	b.Field(7).(*array.LargeStringBuilder).AppendValues([]string{"b", "a", "", "c"}, valid)
	b.Field(8).(*array.BinaryBuilder).AppendValues([][]byte{{0xff, 0}, {0x01}, nil, {0x01, 0x02}}, valid)
	b.Field(9).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1_000_000_000_123, 0, 0, -1}, valid)
	b.Field(10).(*array.Date32Builder).AppendValues([]arrow.Date32{19000, 0, 0, -1}, valid)
	b.Field(11).(*array.Time64Builder).AppendValues([]arrow.Time64{3_600_000_000_001, 0, 0, 86_399_000_000_000}, valid)
	db := b.Field(12).(*array.BinaryDictionaryBuilder)
	for _, s := range []string{"x", "y", "", "x"} {
		if s == "" {
			db.AppendNull()
		} else if err := db.AppendString(s); err != nil {
			t.Fatal(err)
		}
	}
	b.Field(13).AppendNulls(4)
	lb := b.Field(14).(*array.ListBuilder)
	for i := range 4 {
		if i == 2 {
			lb.AppendNull()
			continue
		}
		lb.Append(true)
		lb.ValueBuilder().(*array.Int32Builder).AppendValues([]int32{int32(i % 2), 9}, nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	info := statsOf(t, schema, []arrow.RecordBatch{rec})
	want := []ColumnStats{
		{Name: "i8", Type: "int8", Nulls: 1, Min: "-128", Max: "127", Mean: f64(4.0 / 3), Distinct: 3},
		// The sum of three MaxInt64 overflows int64 but not the exact sum.
		{Name: "i64", Type: "int64", Nulls: 1, Min: "9223372036854775807", Max: "9223372036854775807", Mean: f64(math.MaxInt64), Distinct: 1},
		{Name: "u64", Type: "uint64", Nulls: 1, Min: "1", Max: "18446744073709551615", Mean: f64((2*float64(math.MaxUint64) + 1) / 3), Distinct: 2},
		// NaN is a value, not in min, max or mean.
		{Name: "f32", Type: "float32", Nulls: 1, Min: "-2.5", Max: "0.1", Mean: f64((float64(float32(0.1)) - 2.5) / 2), Distinct: 3},
		// -0 and 0 are one value.
		{Name: "f64", Type: "float64", Nulls: 1, Min: "-0", Max: "1e+300", Mean: f64(1e300 / 3), Distinct: 2},
		{Name: "b", Type: "bool", Nulls: 1, Min: "true", Max: "true", Distinct: 1},
		{Name: "s", Type: "utf8", Nulls: 1, Min: "apple", Max: strings.Repeat("é", 32), Distinct: 3},
		{Name: "ls", Type: "large_utf8", Nulls: 1, Min: "a", Max: "c", Distinct: 3},
		{Name: "bin", Type: "binary", Nulls: 1, Min: "01", Max: "ff00", Distinct: 3},
		{Name: "ts", Type: "timestamp[ms, tz=America/New_York]", Nulls: 1, Min: "1969-12-31T23:59:59.999Z", Max: "2001-09-09T01:46:40.123Z", Distinct: 3},
		{Name: "d32", Type: "date32", Nulls: 1, Min: "1969-12-31", Max: "2022-01-08", Distinct: 3},
		{Name: "t64", Type: "time64[ns]", Nulls: 1, Min: "00:00:00", Max: "23:59:59", Distinct: 3},
		{Name: "dict", Type: "dictionary<values=utf8, indices=int8, ordered=false>", Nulls: 1, Min: "x", Max: "y", Distinct: 2},
		{Name: "nulls", Type: "int32", Nulls: 4},
		{Name: "list", Type: "list<item: int32, nullable>", Nulls: 1, Distinct: 2},
	}
	// Of -0 and 0, -0 is the minimum (as Go's min has it).
	if diff := cmp.Diff(want, info.Columns); diff != "" {
		t.Errorf("statistics (-want +got):\n%s", diff)
	}
	if info.Rows != 4 {
		t.Errorf("rows %d, want 4", info.Rows)
	}

	// A table of no rows has zero statistics for every column.
	empty := newTableStats(schema).info()
	for i, cs := range empty.Columns {
		if (cs != ColumnStats{Name: schema.Field(i).Name, Type: schema.Field(i).Type.String()}) {
			t.Errorf("empty table: %+v", cs)
		}
	}
}

// TestStatsTimeOfDay checks a time-of-day value with a fraction.
func TestStatsTimeOfDay(t *testing.T) {
	if got := formatTimeOfDay(arrow.Nanosecond)(3_600_000_000_001); got != "01:00:00.000000001" {
		t.Errorf("got %q", got)
	}
	if got := formatTimeOfDay(arrow.Second)(61); got != "00:01:01" {
		t.Errorf("got %q", got)
	}
	if got := formatString([]byte(strings.Repeat("a", 63) + "é")); got != strings.Repeat("a", 63) {
		t.Errorf("cut inside a character: %q", got)
	}
}

func TestStatsSchemaMismatch(t *testing.T) {
	schema, recs := readAll(t, pipeline.Parquet(flights20k, pipeline.ParquetOptions{Columns: []string{"delay"}}))
	other := arrow.NewSchema([]arrow.Field{{Name: "delay", Type: arrow.BinaryTypes.String}}, nil)
	if err := newTableStats(other).add(context.Background(), recs[0]); err == nil {
		t.Error("a batch of another type was accepted")
	}
	two := arrow.NewSchema([]arrow.Field{schema.Field(0), schema.Field(0)}, nil)
	if err := newTableStats(two).add(context.Background(), recs[0]); err == nil {
		t.Error("a batch with fewer columns was accepted")
	}
}

// benchStats measures tableStats over the batches of a Parquet file, read
// once beforehand.
func benchStats(b *testing.B, path string) {
	if _, err := os.Stat(path); err != nil {
		b.Skipf("%s: %v", path, err)
	}
	schema, recs := readAll(b, pipeline.Parquet(path, pipeline.ParquetOptions{}))
	var rows int64
	for _, r := range recs {
		rows += r.NumRows()
	}
	b.ReportAllocs()
	for b.Loop() {
		ts := newTableStats(schema)
		for _, r := range recs {
			if err := ts.add(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
		_ = ts.info()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

func BenchmarkStatsFlights20k(b *testing.B) { benchStats(b, flights20k) }

func BenchmarkStatsFlights3M(b *testing.B) {
	benchStats(b, "../../shared/data/flights-3m.parquet")
}
