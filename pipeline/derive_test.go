package pipeline

import (
	"context"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

type celsius float64

func TestDerive(t *testing.T) {
	schema := stgSchema("i:int64", "j:int32!", "f:float64", "g:float32", "b:bool", "s:string", "ls:large_string",
		"ts:ts", "tz:ts_utc", "d:date32", "ms:ts_ms")
	rows := `[
	{"i":1,"j":10,"f":1.5,"g":0.5,"b":true,"s":"ab","ls":"x","ts":"2020-01-01T10:30:00","tz":"2020-01-01T10:30:00Z","d":"2020-03-01","ms":"2020-01-01T00:00:00.250"},
	{"i":null,"j":20,"f":null,"g":null,"b":null,"s":null,"ls":null,"ts":null,"tz":null,"d":null,"ms":null},
	{"i":-3,"j":30,"f":-2,"g":2,"b":false,"s":"","ls":"yy","ts":"1969-12-31T23:59:59.5","tz":"2021-06-01T00:00:00Z","d":"1960-01-01","ms":"1970-01-01T00:00:00"}
	]`
	tests := []struct {
		name    string
		stage   Stage
		field   string   // the new field, "name:type?"
		want    []string // its values
		wantErr string
	}{
		{name: "int64", stage: Derive1("x", "i", func(a int64) int64 { return a * 2 }),
			field: "x:int64?", want: []string{"2", "NULL", "-6"}},
		{name: "int32 non-null input", stage: Derive1("x", "j", func(a int32) int32 { return a + 1 }),
			field: "x:int32", want: []string{"11", "21", "31"}},
		{name: "float64 named type", stage: Derive1("x", "f", func(a celsius) celsius { return a*9/5 + 32 }),
			field: "x:float64?", want: []string{"34.7", "NULL", "28.4"}},
		{name: "float32", stage: Derive1("x", "g", func(a float32) float64 { return float64(a) * 2 }),
			field: "x:float64?", want: []string{"1", "NULL", "4"}},
		{name: "bool", stage: Derive1("x", "b", func(a bool) bool { return !a }),
			field: "x:bool?", want: []string{"false", "NULL", "true"}},
		{name: "string", stage: Derive1("x", "s", func(a string) int64 { return int64(len(a)) }),
			field: "x:int64?", want: []string{"2", "NULL", "0"}},
		{name: "large string to string", stage: Derive1("x", "ls", strings.ToUpper),
			field: "x:utf8?", want: []string{"X", "NULL", "YY"}},
		{name: "two inputs", stage: Derive2("x", "i", "j", func(a int64, b int32) float64 { return float64(a) / float64(b) }),
			field: "x:float64?", want: []string{"0.1", "NULL", "-0.1"}},
		{name: "three inputs", stage: Derive3("x", "s", "i", "b", func(s string, i int64, b bool) string {
			if b {
				return strings.Repeat(s, int(i))
			}
			return "no"
		}), field: "x:utf8?", want: []string{"ab", "NULL", "no"}},
		{name: "time from naive timestamp", stage: Derive1("x", "ts", func(t time.Time) int64 { return int64(t.Hour()*100 + t.Minute()) }),
			field: "x:int64?", want: []string{"1030", "NULL", "2359"}},
		{name: "time location", stage: Derive1("x", "tz", func(t time.Time) string { return t.Location().String() }),
			field: "x:utf8?", want: []string{"UTC", "NULL", "UTC"}},
		{name: "date32", stage: Derive1("x", "d", func(t time.Time) int64 { return int64(t.YearDay()) }),
			field: "x:int64?", want: []string{"61", "NULL", "1"}},
		{name: "time result naive", stage: Derive1("x", "ts", func(t time.Time) time.Time { return t.Add(time.Hour) }),
			field: "x:timestamp[us]?", want: []string{"2020-01-01 11:30:00", "NULL", "1970-01-01 00:59:59.5"}},
		{name: "time result zoned", stage: Derive2("x", "tz", "i", func(t time.Time, n int64) time.Time { return t.AddDate(0, 0, int(n)) }),
			field: "x:timestamp[us, tz=UTC]?", want: []string{"2020-01-02 10:30:00Z", "NULL", "2021-05-29 00:00:00Z"}},
		{name: "time result from numbers", stage: Derive1("x", "i", func(n int64) time.Time { return time.Unix(n, 0) }),
			field: "x:timestamp[us, tz=UTC]?", want: []string{"1970-01-01 00:00:01Z", "NULL", "1969-12-31 23:59:57Z"}},
		{name: "millisecond timestamp", stage: Derive1("x", "ms", func(t time.Time) int64 { return int64(t.Nanosecond() / 1e6) }),
			field: "x:int64?", want: []string{"250", "NULL", "0"}},
		// Bind errors.
		{name: "type mismatch", stage: Derive1("x", "i", func(a int32) int32 { return a }),
			wantErr: `column "i" is int64, which the function's int32 argument cannot take`},
		{name: "string for int", stage: Derive1("x", "s", func(a int64) int64 { return a }),
			wantErr: `column "s" is utf8`},
		{name: "time for int", stage: Derive1("x", "i", func(a time.Time) int64 { return 0 }),
			wantErr: `column "i" is int64, which the function's time.Time argument`},
		{name: "missing column", stage: Derive2("x", "i", "nope", func(a, b int64) int64 { return a }),
			wantErr: `no column "nope" (columns: i, j, f, g, b, s, ls, ts, tz, d, ms)`},
		{name: "name collision", stage: Derive1("s", "i", func(a int64) int64 { return a }),
			wantErr: `column "s" already exists`},
		{name: "empty name", stage: Derive1("", "i", func(a int64) int64 { return a }),
			wantErr: "empty column name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			in := stgBatch(t, mem, schema, rows)
			defer in.Release()
			sc, got, err := stgApply(t, mem, tc.stage, in)
			if !stgWantErr(t, err, tc.wantErr, ErrSchema) {
				return
			}
			fields := stgFields(sc)
			if d := cmp.Diff(stgFields(schema), fields[:len(fields)-1]); d != "" {
				t.Errorf("input columns changed (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.field, fields[len(fields)-1]); d != "" {
				t.Errorf("new field (-want +got):\n%s", d)
			}
			vals := stgColumn(got, len(fields)-1)
			for i, v := range vals {
				if len(v) > 10 && v[10] == 'T' { // ValueStr writes timestamps with a T
					vals[i] = v[:10] + " " + v[11:]
				}
			}
			if d := cmp.Diff(tc.want, vals); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
		})
	}
}

func TestDeriveNullSkipsFn(t *testing.T) {
	mem := checkedAlloc(t)
	in := stgBatch(t, mem, stgSchema("a:int64", "b:int64"), `[{"a":1,"b":null},{"a":null,"b":2},{"a":3,"b":4}]`)
	defer in.Release()
	var calls [][2]int64
	_, got, err := stgApply(t, mem, Derive2("c", "a", "b", func(a, b int64) int64 {
		calls = append(calls, [2]int64{a, b})
		return a + b
	}), in)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([][2]int64{{3, 4}}, calls); d != "" {
		t.Errorf("fn calls (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"NULL", "NULL", "7"}, stgColumn(got, 2)); d != "" {
		t.Errorf("values (-want +got):\n%s", d)
	}
}

func TestDerivePanic(t *testing.T) {
	mem := checkedAlloc(t)
	in := stgBatch(t, mem, stgSchema("a:int64", "b:int64"), `[{"a":1,"b":1},{"a":2,"b":0},{"a":3,"b":3}]`)
	defer in.Release()
	for _, st := range []Stage{
		Derive2("q", "a", "b", func(a, b int64) int64 { return a / b }),
		Derive2("q", "a", "b", func(a, b int64) string {
			if b == 0 {
				panic("no zero")
			}
			return "ok"
		}),
		Derive2("q", "a", "b", func(a, b int64) time.Time {
			if b == 0 {
				panic(errors.New("no zero"))
			}
			return time.Time{}
		}),
	} {
		_, _, err := stgApply(t, mem, st, in)
		if !errors.Is(err, ErrPanic) {
			t.Fatalf("%s: error %v, want ErrPanic", st.Name(), err)
		}
		for _, want := range []string{`derive "q"`, "batch row 2: a=2, b=0"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q does not contain %q", st.Name(), firstLine(err.Error()), want)
			}
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestDeriveLongBatch crosses the chunk size of non-numeric results and the
// 64-row words of the validity, on a sliced batch.
func TestDeriveLongBatch(t *testing.T) {
	mem := checkedAlloc(t)
	full := stgRandomBatch(t, mem, 10000, 5, 3)
	defer full.Release()
	in := full.NewSlice(7, 9500)
	defer in.Release()
	xs := in.Column(0).(*array.Int64)
	ss := in.Column(1).(*array.String)
	tests := []struct {
		st     Stage
		inputs []int              // input columns
		want   func(i int) string // the value of a row whose inputs are valid
	}{
		{Derive2("y", "x", "s", func(x int64, s string) string { return s + ":" + string(rune('a'+x%26)) }), []int{0, 1},
			func(i int) string { return ss.Value(i) + ":" + string(rune('a'+xs.Value(i)%26)) }},
		{Derive1("y", "x", func(x int64) bool { return x%2 == 0 }), []int{0},
			func(i int) string { return strconv.FormatBool(xs.Value(i)%2 == 0) }},
		{Derive1("y", "x", func(x int64) int64 { return -x }), []int{0},
			func(i int) string { return strconv.FormatInt(-xs.Value(i), 10) }},
		{Derive1("y", "x", func(x int64) time.Time { return time.Unix(x, 0) }), []int{0},
			func(i int) string { return time.Unix(xs.Value(i), 0).UTC().Format("2006-01-02T15:04:05Z") }},
		{Derive2("y", "x", "f", func(x int64, f float64) float64 { return float64(x) + f }), []int{0, 2}, nil},
	}
	for _, tc := range tests {
		_, got, err := stgApply(t, mem, tc.st, in)
		if err != nil {
			t.Fatal(err)
		}
		rows := stgRows(in)
		for i, r := range got {
			null := false
			for _, k := range tc.inputs {
				null = null || rows[i][k] == "NULL"
			}
			want := "NULL"
			if !null {
				want = r[3]
				if tc.want != nil {
					want = tc.want(i)
				}
			}
			if r[3] != want || (!null && r[3] == "NULL") {
				t.Fatalf("%s: row %d: got %s, want %s (inputs %v)", tc.st.Name(), i, r[3], want, rows[i])
			}
		}
	}
}

func BenchmarkDerive(b *testing.B) {
	mem := memory.NewGoAllocator()
	in := stgRandomBatch(b, mem, 1<<20, 20, 7)
	defer in.Release()
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		st   Stage
	}{
		{"int64_to_int64", Derive1("y", "x", func(x int64) int64 { return x*3 + 1 })},
		{"int64_float64_to_float64", Derive2("y", "x", "f", func(x int64, f float64) float64 { return float64(x) * f })},
		{"float64_to_bool", Derive1("y", "f", func(f float64) bool { return f > 50 })},
		{"string_to_int64", Derive1("y", "s", func(s string) int64 { return int64(len(s)) })},
		{"string_to_string", Derive1("y", "s", func(s string) string { return s })},
		{"int64_to_time", Derive1("y", "x", func(x int64) time.Time { return time.Unix(x, 0) })},
		{"three_inputs", Derive3("y", "x", "f", "s", func(x int64, f float64, s string) float64 {
			return math.Sqrt(float64(x)+f) + float64(len(s))
		})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			step, err := bc.st.Bind(mem, in.Schema())
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
	// The loop one writes by hand with arrow-go's builders, for comparison
	// with int64_to_int64 in the same run.
	b.Run("builder_loop/int64_to_int64", func(b *testing.B) {
		fn := func(x int64) int64 { return x*3 + 1 }
		xs := in.Column(0).(*array.Int64)
		b.SetBytes(in.NumRows())
		b.ReportAllocs()
		for b.Loop() {
			bld := array.NewInt64Builder(mem)
			bld.Reserve(xs.Len())
			for i := range xs.Len() {
				if xs.IsNull(i) {
					bld.UnsafeAppendBoolToBitmap(false)
				} else {
					bld.UnsafeAppend(fn(xs.Value(i)))
				}
			}
			col := bld.NewArray()
			out := array.NewRecordBatch(arrow.NewSchema(append(in.Schema().Fields(), arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Int64, Nullable: true}), nil),
				append(in.Columns()[:3:3], col), in.NumRows())
			col.Release()
			bld.Release()
			out.Release()
		}
	})
}
