package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// sinkTestSource yields the batches it holds, or an error after failAt
// batches when err is set. It is a minimal Source for driving sinks through
// Pipeline.Run.
type sinkTestSource struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	failAt  int
	err     error
}

func (s *sinkTestSource) Schema(context.Context) (*arrow.Schema, error) { return s.schema, nil }

func (s *sinkTestSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for i, b := range s.batches {
			if s.err != nil && i == s.failAt {
				yield(nil, s.err)
				return
			}
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			b.Retain()
			if !yield(b, nil) {
				return
			}
		}
	}
}

// sinkCase is one column of the all-types test batch: how to build it and
// how the CSV and NDJSON sinks must write each of its four rows (row 1 is
// always null).
type sinkCase struct {
	name  string
	typ   arrow.DataType
	build func(mem memory.Allocator) arrow.Array
	csv   [4]string
	json  [4]string
}

// skFromJSON builds an array from its JSON form, failing the test on error.
func skFromJSON(dt arrow.DataType, js string) func(mem memory.Allocator) arrow.Array {
	return func(mem memory.Allocator) arrow.Array {
		arr, _, err := array.FromJSON(mem, dt, strings.NewReader(js), array.WithUseNumber())
		if err != nil {
			panic(fmt.Sprintf("FromJSON %s %s: %v", dt, js, err))
		}
		return arr
	}
}

var (
	skTsNaiveS  = &arrow.TimestampType{Unit: arrow.Second}
	skTsNaiveMS = &arrow.TimestampType{Unit: arrow.Millisecond}
	skTsNaiveUS = &arrow.TimestampType{Unit: arrow.Microsecond}
	skTsNaiveNS = &arrow.TimestampType{Unit: arrow.Nanosecond}
	skTsUTC     = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	skTsNY      = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "America/New_York"}
	skDec       = &arrow.Decimal128Type{Precision: 10, Scale: 2}
	skDictS     = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
)

// sinkCases covers every primitive type the sinks handle. 978352496 is
// 2001-01-01 12:34:56 UTC, 994003200 is 2001-07-01 16:00:00 UTC; 45296
// seconds is 12:34:56.
var sinkCases = []sinkCase{
	{"i8", arrow.PrimitiveTypes.Int8, skFromJSON(arrow.PrimitiveTypes.Int8, `[-128, null, 0, 127]`),
		[4]string{"-128", "", "0", "127"}, [4]string{"-128", "null", "0", "127"}},
	{"i16", arrow.PrimitiveTypes.Int16, skFromJSON(arrow.PrimitiveTypes.Int16, `[-32768, null, 1, 32767]`),
		[4]string{"-32768", "", "1", "32767"}, [4]string{"-32768", "null", "1", "32767"}},
	{"i32", arrow.PrimitiveTypes.Int32, skFromJSON(arrow.PrimitiveTypes.Int32, `[-2147483648, null, 2, 2147483647]`),
		[4]string{"-2147483648", "", "2", "2147483647"}, [4]string{"-2147483648", "null", "2", "2147483647"}},
	{"i64", arrow.PrimitiveTypes.Int64, skFromJSON(arrow.PrimitiveTypes.Int64, `[-9223372036854775808, null, 3, 9223372036854775807]`),
		[4]string{"-9223372036854775808", "", "3", "9223372036854775807"}, [4]string{"-9223372036854775808", "null", "3", "9223372036854775807"}},
	{"u8", arrow.PrimitiveTypes.Uint8, skFromJSON(arrow.PrimitiveTypes.Uint8, `[0, null, 1, 255]`),
		[4]string{"0", "", "1", "255"}, [4]string{"0", "null", "1", "255"}},
	{"u16", arrow.PrimitiveTypes.Uint16, skFromJSON(arrow.PrimitiveTypes.Uint16, `[0, null, 2, 65535]`),
		[4]string{"0", "", "2", "65535"}, [4]string{"0", "null", "2", "65535"}},
	{"u32", arrow.PrimitiveTypes.Uint32, skFromJSON(arrow.PrimitiveTypes.Uint32, `[0, null, 3, 4294967295]`),
		[4]string{"0", "", "3", "4294967295"}, [4]string{"0", "null", "3", "4294967295"}},
	{"u64", arrow.PrimitiveTypes.Uint64, skFromJSON(arrow.PrimitiveTypes.Uint64, `[0, null, 4, 18446744073709551615]`),
		[4]string{"0", "", "4", "18446744073709551615"}, [4]string{"0", "null", "4", "18446744073709551615"}},
	{"f16", arrow.FixedWidthTypes.Float16, func(mem memory.Allocator) arrow.Array {
		b := array.NewFloat16Builder(mem)
		defer b.Release()
		b.AppendValues([]float16.Num{float16.New(1.5), {}, float16.New(-2), float16.New(0.5)}, []bool{true, false, true, true})
		return b.NewArray()
	}, [4]string{"1.5", "", "-2", "0.5"}, [4]string{"1.5", "null", "-2", "0.5"}},
	{"f32", arrow.PrimitiveTypes.Float32, func(mem memory.Allocator) arrow.Array {
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		b.AppendValues([]float32{0.1, 0, -0.25, float32(math.Inf(1))}, []bool{true, false, true, true})
		return b.NewArray()
	}, [4]string{"0.1", "", "-0.25", "+Inf"}, [4]string{"0.1", "null", "-0.25", "null"}},
	{"f64", arrow.PrimitiveTypes.Float64, func(mem memory.Allocator) arrow.Array {
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.AppendValues([]float64{0.1, 0, 1e21, math.NaN()}, []bool{true, false, true, true})
		return b.NewArray()
	}, [4]string{"0.1", "", "1e+21", "NaN"}, [4]string{"0.1", "null", "1e+21", "null"}},
	{"bool", arrow.FixedWidthTypes.Boolean, skFromJSON(arrow.FixedWidthTypes.Boolean, `[true, null, false, true]`),
		[4]string{"true", "", "false", "true"}, [4]string{"true", "null", "false", "true"}},
	{"str", arrow.BinaryTypes.String, skFromJSON(arrow.BinaryTypes.String, `["plain", null, "", "with,comma"]`),
		[4]string{"plain", "", `""`, `"with,comma"`}, [4]string{`"plain"`, "null", `""`, `"with,comma"`}},
	{"lstr", arrow.BinaryTypes.LargeString, skFromJSON(arrow.BinaryTypes.LargeString, `["a", null, "b", "c d"]`),
		[4]string{"a", "", "b", "c d"}, [4]string{`"a"`, "null", `"b"`, `"c d"`}},
	{"bin", arrow.BinaryTypes.Binary, skFromJSON(arrow.BinaryTypes.Binary, `["AP8=", null, "", "aGk="]`),
		[4]string{"AP8=", "", `""`, "aGk="}, [4]string{`"AP8="`, "null", `""`, `"aGk="`}},
	{"fsb", &arrow.FixedSizeBinaryType{ByteWidth: 2}, skFromJSON(&arrow.FixedSizeBinaryType{ByteWidth: 2}, `["AP8=", null, "AAA=", "aGk="]`),
		[4]string{"AP8=", "", "AAA=", "aGk="}, [4]string{`"AP8="`, "null", `"AAA="`, `"aGk="`}},
	{"d32", arrow.FixedWidthTypes.Date32, skFromJSON(arrow.FixedWidthTypes.Date32, `[0, null, 11323, -1]`),
		[4]string{"1970-01-01", "", "2001-01-01", "1969-12-31"}, [4]string{`"1970-01-01"`, "null", `"2001-01-01"`, `"1969-12-31"`}},
	{"d64", arrow.FixedWidthTypes.Date64, skFromJSON(arrow.FixedWidthTypes.Date64, `[0, null, 978307200000, -86400000]`),
		[4]string{"1970-01-01", "", "2001-01-01", "1969-12-31"}, [4]string{`"1970-01-01"`, "null", `"2001-01-01"`, `"1969-12-31"`}},
	{"ts_s", skTsNaiveS, skFromJSON(skTsNaiveS, `[978352496, null, 0, -1]`),
		[4]string{"2001-01-01 12:34:56", "", "1970-01-01 00:00:00", "1969-12-31 23:59:59"},
		[4]string{`"2001-01-01T12:34:56"`, "null", `"1970-01-01T00:00:00"`, `"1969-12-31T23:59:59"`}},
	{"ts_ms", skTsNaiveMS, skFromJSON(skTsNaiveMS, `[978352496123, null, 978352496000, 500]`),
		[4]string{"2001-01-01 12:34:56.123", "", "2001-01-01 12:34:56", "1970-01-01 00:00:00.5"},
		[4]string{`"2001-01-01T12:34:56.123"`, "null", `"2001-01-01T12:34:56"`, `"1970-01-01T00:00:00.5"`}},
	{"ts_us", skTsNaiveUS, skFromJSON(skTsNaiveUS, `[978352496123456, null, 978352496100000, -1]`),
		[4]string{"2001-01-01 12:34:56.123456", "", "2001-01-01 12:34:56.1", "1969-12-31 23:59:59.999999"},
		[4]string{`"2001-01-01T12:34:56.123456"`, "null", `"2001-01-01T12:34:56.1"`, `"1969-12-31T23:59:59.999999"`}},
	{"ts_ns", skTsNaiveNS, skFromJSON(skTsNaiveNS, `[978352496123456789, null, 1, 978352496000000000]`),
		[4]string{"2001-01-01 12:34:56.123456789", "", "1970-01-01 00:00:00.000000001", "2001-01-01 12:34:56"},
		[4]string{`"2001-01-01T12:34:56.123456789"`, "null", `"1970-01-01T00:00:00.000000001"`, `"2001-01-01T12:34:56"`}},
	{"ts_utc", skTsUTC, skFromJSON(skTsUTC, `[978352496000000, null, 978352496250000, 0]`),
		[4]string{"2001-01-01 12:34:56Z", "", "2001-01-01 12:34:56.25Z", "1970-01-01 00:00:00Z"},
		[4]string{`"2001-01-01T12:34:56Z"`, "null", `"2001-01-01T12:34:56.25Z"`, `"1970-01-01T00:00:00Z"`}},
	{"ts_ny", skTsNY, skFromJSON(skTsNY, `[978352496000000, null, 994003200000000, 994003200500000]`),
		[4]string{"2001-01-01 07:34:56-05:00", "", "2001-07-01 12:00:00-04:00", "2001-07-01 12:00:00.5-04:00"},
		[4]string{`"2001-01-01T07:34:56-05:00"`, "null", `"2001-07-01T12:00:00-04:00"`, `"2001-07-01T12:00:00.5-04:00"`}},
	{"t32s", arrow.FixedWidthTypes.Time32s, skFromJSON(arrow.FixedWidthTypes.Time32s, `[0, null, 45296, 86399]`),
		[4]string{"00:00:00", "", "12:34:56", "23:59:59"}, [4]string{`"00:00:00"`, "null", `"12:34:56"`, `"23:59:59"`}},
	{"t32ms", arrow.FixedWidthTypes.Time32ms, skFromJSON(arrow.FixedWidthTypes.Time32ms, `[45296789, null, 1, 45296000]`),
		[4]string{"12:34:56.789", "", "00:00:00.001", "12:34:56"}, [4]string{`"12:34:56.789"`, "null", `"00:00:00.001"`, `"12:34:56"`}},
	{"t64us", arrow.FixedWidthTypes.Time64us, skFromJSON(arrow.FixedWidthTypes.Time64us, `[45296000001, null, 0, 45296500000]`),
		[4]string{"12:34:56.000001", "", "00:00:00", "12:34:56.5"}, [4]string{`"12:34:56.000001"`, "null", `"00:00:00"`, `"12:34:56.5"`}},
	{"t64ns", arrow.FixedWidthTypes.Time64ns, skFromJSON(arrow.FixedWidthTypes.Time64ns, `[45296123456789, null, 0, 1]`),
		[4]string{"12:34:56.123456789", "", "00:00:00", "00:00:00.000000001"}, [4]string{`"12:34:56.123456789"`, "null", `"00:00:00"`, `"00:00:00.000000001"`}},
	{"dur", arrow.FixedWidthTypes.Duration_ms, skFromJSON(arrow.FixedWidthTypes.Duration_ms, `[1500, null, -3, 0]`),
		[4]string{"1500", "", "-3", "0"}, [4]string{"1500", "null", "-3", "0"}},
	{"skDec", skDec, func(mem memory.Allocator) arrow.Array {
		b := array.NewDecimal128Builder(mem, skDec)
		defer b.Release()
		b.AppendValues([]decimal128.Num{decimal128.FromI64(12345), {}, decimal128.FromI64(-5), decimal128.FromI64(100)}, []bool{true, false, true, true})
		return b.NewArray()
	}, [4]string{"123.45", "", "-0.05", "1.00"}, [4]string{"123.45", "null", "-0.05", "1.00"}},
	{"dict", skDictS, func(mem memory.Allocator) arrow.Array {
		b := array.NewDictionaryBuilder(mem, skDictS).(*array.BinaryDictionaryBuilder)
		defer b.Release()
		b.AppendString("x")
		b.AppendNull()
		b.AppendString("y")
		b.AppendString("x,y")
		return b.NewArray()
	}, [4]string{"x", "", "y", `"x,y"`}, [4]string{`"x"`, "null", `"y"`, `"x,y"`}},
}

// skTypesBatch returns one batch with a column per sink case.
func skTypesBatch(t testing.TB, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(sinkCases))
	cols := make([]arrow.Array, len(sinkCases))
	for i, c := range sinkCases {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
		cols[i] = c.build(mem)
		defer cols[i].Release()
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 4)
}

// skOneColumn returns a batch holding arr as column name.
func skOneColumn(name string, arr arrow.Array) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: arr.DataType(), Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
}

// skWriteAll opens sink, writes batches and commits.
func skWriteAll(t testing.TB, sink Sink, schema *arrow.Schema, batches ...arrow.RecordBatch) {
	t.Helper()
	ctx := context.Background()
	if err := sink.Open(ctx, schema); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for _, b := range batches {
		if err := sink.Write(ctx, b); err != nil {
			sink.Abort()
			t.Fatalf("Write: %v", err)
		}
	}
	if err := sink.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// skDirNames lists the names in dir, sorted.
func skDirNames(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

// skFileSinks makes a file sink of every kind, each with a checked allocator
// where the sink allocates.
var skFileSinks = []struct {
	name string
	ext  string
	make func(path string, mem memory.Allocator) Sink
}{
	{"parquet", ".parquet", func(p string, mem memory.Allocator) Sink {
		return ToParquet(p, ParquetWriteOptions{Allocator: mem})
	}},
	{"parquet-serial", ".parquet", func(p string, mem memory.Allocator) Sink {
		return ToParquet(p, ParquetWriteOptions{Allocator: mem, Parallelism: 1})
	}},
	{"arrow", ".arrow", func(p string, mem memory.Allocator) Sink { return ToArrow(p, ArrowWriteOptions{Allocator: mem}) }},
	{"arrow-stream-zstd", ".arrows", func(p string, mem memory.Allocator) Sink {
		return ToArrow(p, ArrowWriteOptions{Allocator: mem, Stream: true, Compression: "zstd"})
	}},
	{"csv", ".csv", func(p string, _ memory.Allocator) Sink { return ToCSV(p, CSVWriteOptions{}) }},
	{"csv-gz", ".csv.gz", func(p string, _ memory.Allocator) Sink { return ToCSV(p, CSVWriteOptions{}) }},
	{"ndjson-zst", ".ndjson.zst", func(p string, _ memory.Allocator) Sink { return ToNDJSON(p, NDJSONWriteOptions{}) }},
}

// skSimpleBatch returns a small batch that every sink can write.
func skSimpleBatch(mem memory.Allocator, n int) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	for i := range n {
		ib.Append(int64(i))
		if i%3 == 1 {
			sb.AppendNull()
		} else {
			sb.Append(fmt.Sprintf("row %d", i))
		}
	}
	ia, sa := ib.NewArray(), sb.NewArray()
	defer ia.Release()
	defer sa.Release()
	return array.NewRecordBatch(schema, []arrow.Array{ia, sa}, int64(n))
}

func TestSinkLifecycle(t *testing.T) {
	ctx := context.Background()
	for _, fk := range skFileSinks {
		t.Run(fk.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			batch := skSimpleBatch(mem, 10)
			defer batch.Release()
			schema := batch.Schema()

			t.Run("committed", func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "out"+fk.ext)
				sink := fk.make(path, mem)
				skWriteAll(t, sink, schema, batch, batch)
				if diff := cmp.Diff([]string{"out" + fk.ext}, skDirNames(t, dir)); diff != "" {
					t.Errorf("files after Commit (-want +got):\n%s", diff)
				}
				if err := sink.Commit(ctx); !errors.Is(err, ErrClosed) {
					t.Errorf("second Commit: %v, want ErrClosed", err)
				}
				if err := sink.Write(ctx, batch); !errors.Is(err, ErrClosed) {
					t.Errorf("Write after Commit: %v, want ErrClosed", err)
				}
				if err := sink.Abort(); !errors.Is(err, ErrClosed) {
					t.Errorf("Abort after Commit: %v, want ErrClosed", err)
				}
				if _, err := os.Stat(path); err != nil {
					t.Errorf("Abort after Commit removed the output: %v", err)
				}
			})

			t.Run("never committed", func(t *testing.T) {
				dir := t.TempDir()
				sink := fk.make(filepath.Join(dir, "out"+fk.ext), mem)
				if err := sink.Write(ctx, batch); !errors.Is(err, ErrClosed) {
					t.Errorf("Write before Open: %v, want ErrClosed", err)
				}
				if err := sink.Commit(ctx); !errors.Is(err, ErrClosed) {
					t.Errorf("Commit before Open: %v, want ErrClosed", err)
				}
				if err := sink.Open(ctx, schema); err != nil {
					t.Fatal(err)
				}
				if err := sink.Open(ctx, schema); !errors.Is(err, ErrClosed) {
					t.Errorf("second Open: %v, want ErrClosed", err)
				}
				if err := sink.Write(ctx, batch); err != nil {
					t.Fatal(err)
				}
				names := skDirNames(t, dir)
				if len(names) != 1 || !strings.HasPrefix(names[0], ".out"+fk.ext+".kiln-tmp-") {
					t.Errorf("while open, files = %q, want one temporary file", names)
				}
				if err := sink.Abort(); err != nil {
					t.Errorf("Abort: %v", err)
				}
				if names := skDirNames(t, dir); len(names) != 0 {
					t.Errorf("after Abort, files = %q, want none", names)
				}
				if err := sink.Abort(); err != nil {
					t.Errorf("second Abort: %v", err)
				}
			})

			t.Run("bad batch then abort", func(t *testing.T) {
				dir := t.TempDir()
				sink := fk.make(filepath.Join(dir, "out"+fk.ext), mem)
				if err := sink.Open(ctx, schema); err != nil {
					t.Fatal(err)
				}
				other := skOneColumn("id", batch.Column(1))
				defer other.Release()
				err := sink.Write(ctx, other)
				if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "1 columns, want 2") {
					t.Errorf("Write of a different schema: %v, want ErrSchema naming the difference", err)
				}
				// Nothing was written: the sink is still usable.
				if err := sink.Write(ctx, batch); err != nil {
					t.Errorf("Write after a rejected batch: %v", err)
				}
				sink.Abort()
				if names := skDirNames(t, dir); len(names) != 0 {
					t.Errorf("after Abort, files = %q, want none", names)
				}
			})

			t.Run("cancelled", func(t *testing.T) {
				dir := t.TempDir()
				sink := fk.make(filepath.Join(dir, "out"+fk.ext), mem)
				if err := sink.Open(ctx, schema); err != nil {
					t.Fatal(err)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if err := sink.Write(cctx, batch); !errors.Is(err, context.Canceled) {
					t.Errorf("Write with a cancelled context: %v", err)
				}
				if err := sink.Commit(cctx); !errors.Is(err, context.Canceled) {
					t.Errorf("Commit with a cancelled context: %v", err)
				}
				if names := skDirNames(t, dir); len(names) != 0 {
					t.Errorf("after a failed Commit, files = %q, want none", names)
				}
				if err := sink.Abort(); err != nil {
					t.Errorf("Abort after a failed Commit: %v", err)
				}
			})

			t.Run("missing directory", func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "no", "such")
				sink := fk.make(filepath.Join(dir, "out"+fk.ext), mem)
				err := sink.Open(ctx, schema)
				if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "does not exist") {
					t.Errorf("Open in a missing directory: %v", err)
				}
				if err := sink.Abort(); err != nil {
					t.Errorf("Abort after a failed Open: %v", err)
				}
			})

			t.Run("replaces only on commit", func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "out"+fk.ext)
				if err := os.WriteFile(path, []byte("previous"), 0o600); err != nil {
					t.Fatal(err)
				}
				sink := fk.make(path, mem)
				if err := sink.Open(ctx, schema); err != nil {
					t.Fatal(err)
				}
				sink.Write(ctx, batch)
				sink.Abort()
				if got, _ := os.ReadFile(path); string(got) != "previous" {
					t.Errorf("aborted sink changed the existing file to %q", got)
				}
				skWriteAll(t, fk.make(path, mem), schema, batch)
				got, _ := os.ReadFile(path)
				if string(got) == "previous" {
					t.Errorf("committed sink left the existing file in place")
				}
				if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
					t.Errorf("mode of replaced file = %v, want the previous 0600", st.Mode().Perm())
				}
				if names := skDirNames(t, dir); len(names) != 1 {
					t.Errorf("files = %q, want the output only", names)
				}
			})
		})
	}
}

// TestSinkRun drives every sink through Pipeline.Run: a run that succeeds
// commits, a source that fails midway leaves nothing behind.
func TestSinkRun(t *testing.T) {
	ctx := context.Background()
	for _, fsk := range skFileSinks {
		t.Run(fsk.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			var batches []arrow.RecordBatch
			for range 5 {
				batches = append(batches, skSimpleBatch(mem, 1000))
			}
			defer func() {
				for _, b := range batches {
					b.Release()
				}
			}()
			dir := t.TempDir()
			path := filepath.Join(dir, "out"+fsk.ext)
			src := &sinkTestSource{schema: batches[0].Schema(), batches: batches}
			stats, err := New(src).Run(ctx, fsk.make(path, mem), RunOptions{Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			if stats.RowsWritten != 5000 {
				t.Errorf("rows written = %d, want 5000", stats.RowsWritten)
			}
			if names := skDirNames(t, dir); len(names) != 1 {
				t.Errorf("files = %q, want the output only", names)
			}

			failed := filepath.Join(dir, "failed"+fsk.ext)
			boom := errors.New("source broke")
			src = &sinkTestSource{schema: batches[0].Schema(), batches: batches, failAt: 3, err: boom}
			if _, err := New(src).Run(ctx, fsk.make(failed, mem), RunOptions{Allocator: mem}); !errors.Is(err, boom) {
				t.Fatalf("run with a failing source: %v", err)
			}
			if names := skDirNames(t, dir); len(names) != 1 {
				t.Errorf("after a failed run, files = %q, want the first output only", names)
			}
		})
	}
}

func TestSinkFor(t *testing.T) {
	tests := []struct {
		path string
		want string // type of the sink, or "" for an error
	}{
		{"a.parquet", "*pipeline.ParquetSink"},
		{"dir/a.PQ", "*pipeline.ParquetSink"},
		{"a.arrow", "*pipeline.ArrowSink"},
		{"a.ipc", "*pipeline.ArrowSink"},
		{"a.feather", "*pipeline.ArrowSink"},
		{"a.csv", "*pipeline.CSVSink"},
		{"a.csv.gz", "*pipeline.CSVSink"},
		{"a.tsv.zst", "*pipeline.CSVSink"},
		{"a.ndjson", "*pipeline.NDJSONSink"},
		{"a.jsonl.gz", "*pipeline.NDJSONSink"},
		{"a.json", ""},
		{"a.parquet.gz", ""},
		{"a", ""},
		{"a.txt", ""},
	}
	for _, tt := range tests {
		sink, err := SinkFor(tt.path)
		got := ""
		if err == nil {
			got = fmt.Sprintf("%T", sink)
		} else if !strings.Contains(err.Error(), ".parquet .pq .arrow") {
			t.Errorf("SinkFor(%q) error %q does not list the extensions", tt.path, err)
		}
		if got != tt.want {
			t.Errorf("SinkFor(%q) = %s (%v), want %s", tt.path, got, err, tt.want)
		}
	}
	sink, _ := SinkFor("x.tsv")
	if d := sink.(*CSVSink).opts.Delimiter; d != '\t' {
		t.Errorf("SinkFor(x.tsv) delimiter = %q, want tab", d)
	}
}

func TestSinkSchemaCheck(t *testing.T) {
	mem := checkedAlloc(t)
	batch := skSimpleBatch(mem, 4)
	defer batch.Release()
	ctx := context.Background()

	// A batch whose non-nullable column holds nulls is refused.
	nullable := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String},
	}, nil)
	sink := ToCSVWriter(io.Discard, CSVWriteOptions{})
	if err := sink.Open(ctx, nullable); err != nil {
		t.Fatal(err)
	}
	err := sink.Write(ctx, batch)
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `column "name" is not nullable but the batch holds 1 nulls`) {
		t.Errorf("Write of nulls into a non-nullable column: %v", err)
	}
	sink.Abort()

	// Metadata and nullability differences are accepted.
	withMeta := arrow.NewSchema(batch.Schema().Fields(), &arrow.Metadata{})
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	loose := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true, Metadata: md},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, &md)
	for _, schema := range []*arrow.Schema{withMeta, loose} {
		for _, fk := range skFileSinks {
			path := filepath.Join(t.TempDir(), "x"+fk.ext)
			skWriteAll(t, fk.make(path, mem), schema, batch)
		}
	}

	tests := []struct {
		schema *arrow.Schema
		want   string
	}{
		{arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "nom", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
			`column 2 is "name" utf8, want "nom" utf8`},
		{arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
			`column "id" is int64, want int32`},
	}
	for _, tt := range tests {
		sink := Collect()
		if err := sink.Open(ctx, tt.schema); err != nil {
			t.Fatal(err)
		}
		err := sink.Write(ctx, batch)
		if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write: %v, want ErrSchema with %q", err, tt.want)
		}
		sink.Abort()
	}
}

// skFailingWriter fails every write after n bytes.
type skFailingWriter struct {
	n   int
	err error
}

func (w *skFailingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

func TestSinkWriterErrors(t *testing.T) {
	mem := checkedAlloc(t)
	batch := skSimpleBatch(mem, 100_000) // more than the 1 MiB buffer as text
	defer batch.Release()
	ctx := context.Background()
	boom := errors.New("disk full")
	sinks := map[string]func(w io.Writer) Sink{
		"csv":    func(w io.Writer) Sink { return ToCSVWriter(w, CSVWriteOptions{}) },
		"ndjson": func(w io.Writer) Sink { return ToNDJSONWriter(w, NDJSONWriteOptions{}) },
		"arrow":  func(w io.Writer) Sink { return ToArrowStream(w, ArrowWriteOptions{Allocator: mem}) },
	}
	for name, mk := range sinks {
		t.Run(name, func(t *testing.T) {
			sink := mk(&skFailingWriter{n: 100, err: boom})
			if err := sink.Open(ctx, batch.Schema()); err != nil {
				t.Fatal(err)
			}
			err := sink.Write(ctx, batch)
			if err == nil {
				err = sink.Commit(ctx)
			}
			if !errors.Is(err, boom) {
				t.Errorf("got %v, want the writer's error", err)
			}
			if err := sink.Write(ctx, batch); err == nil {
				t.Errorf("Write after a failure succeeded")
			}
			if err := sink.Abort(); err != nil {
				t.Errorf("Abort after a failure: %v", err)
			}
		})
	}
}

// skReadBack reads a whole file, decompressing .gz and .zst.
func skReadBack(t testing.TB, path string) []byte {
	t.Helper()
	in, err := openInput(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
