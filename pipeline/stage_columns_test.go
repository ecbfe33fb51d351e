package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// Helpers shared by the stage tests (prefix stg).

// stgSchema builds a schema from "name:type" specs; a trailing "!" marks a
// non-nullable field. Types: int64 int32 int8 uint64 float64 float32 bool
// string large_string date32 ts (timestamp[us]) ts_utc (timestamp[us, UTC])
// ts_ms.
func stgSchema(specs ...string) *arrow.Schema {
	types := map[string]arrow.DataType{
		"int64": arrow.PrimitiveTypes.Int64, "int32": arrow.PrimitiveTypes.Int32,
		"int8": arrow.PrimitiveTypes.Int8, "uint64": arrow.PrimitiveTypes.Uint64,
		"uint8":   arrow.PrimitiveTypes.Uint8,
		"float64": arrow.PrimitiveTypes.Float64, "float32": arrow.PrimitiveTypes.Float32,
		"bool": arrow.FixedWidthTypes.Boolean, "string": arrow.BinaryTypes.String,
		"large_string": arrow.BinaryTypes.LargeString, "date32": arrow.FixedWidthTypes.Date32,
		"date64": arrow.FixedWidthTypes.Date64,
		"ts":     &arrow.TimestampType{Unit: arrow.Microsecond},
		"ts_utc": &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
		"ts_ms":  &arrow.TimestampType{Unit: arrow.Millisecond},
		"ts_s":   &arrow.TimestampType{Unit: arrow.Second},
		"ts_ns":  &arrow.TimestampType{Unit: arrow.Nanosecond},
	}
	fields := make([]arrow.Field, len(specs))
	for i, s := range specs {
		name, typ, _ := strings.Cut(s, ":")
		nullable := !strings.HasSuffix(typ, "!")
		typ = strings.TrimSuffix(typ, "!")
		dt, ok := types[typ]
		if !ok {
			panic("stgSchema: unknown type " + typ)
		}
		fields[i] = arrow.Field{Name: name, Type: dt, Nullable: nullable}
	}
	return arrow.NewSchema(fields, nil)
}

// stgBatch builds a batch of schema from JSON rows.
func stgBatch(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(rows))
	if err != nil {
		t.Fatalf("build batch: %v", err)
	}
	return rec
}

// stgRows renders a batch as text rows, "NULL" for nulls.
func stgRows(rec arrow.RecordBatch) [][]string {
	rows := make([][]string, rec.NumRows())
	for i := range rows {
		rows[i] = make([]string, rec.NumCols())
		for j, c := range rec.Columns() {
			if c.IsNull(i) {
				rows[i][j] = "NULL"
			} else {
				rows[i][j] = c.ValueStr(i)
			}
		}
	}
	return rows
}

// stgFields renders a schema as "name:type" specs, "?" marking nullable.
func stgFields(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name + ":" + f.Type.String()
		if f.Nullable {
			out[i] += "?"
		}
	}
	return out
}

// stgApply binds st to in's schema and applies it to in. It checks that the
// output has the declared schema and releases everything.
func stgApply(t testing.TB, mem memory.Allocator, st Stage, in arrow.RecordBatch) (schema *arrow.Schema, rows [][]string, err error) {
	t.Helper()
	step, err := st.Bind(mem, in.Schema())
	if err != nil {
		return nil, nil, err
	}
	out, err := step.Apply(context.Background(), in)
	if err != nil {
		return step.Schema(), nil, err
	}
	defer out.Release()
	if !out.Schema().Equal(step.Schema()) {
		t.Errorf("%s: batch schema\n%s\ndiffers from declared\n%s", st.Name(), out.Schema(), step.Schema())
	}
	return step.Schema(), stgRows(out), nil
}

// stgWantErr checks err against a wanted substring ("" = no error) and
// sentinel.
func stgWantErr(t testing.TB, err error, want string, sentinel error) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
			return false
		}
		return true
	}
	if err == nil {
		t.Errorf("no error, want one containing %q", want)
		return false
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %q does not wrap %v", err, sentinel)
	}
	return false
}

func TestColumnStages(t *testing.T) {
	schema := stgSchema("a:int64", "b:string!", "c:float64")
	rows := `[{"a":1,"b":"x","c":1.5},{"a":null,"b":"y","c":null}]`
	tests := []struct {
		name    string
		stage   Stage
		fields  []string
		rows    [][]string
		wantErr string
	}{
		{name: "select reorders", stage: Select("c", "a"),
			fields: []string{"c:float64?", "a:int64?"}, rows: [][]string{{"1.5", "1"}, {"NULL", "NULL"}}},
		{name: "select one", stage: Select("b"),
			fields: []string{"b:utf8"}, rows: [][]string{{"x"}, {"y"}}},
		{name: "select missing", stage: Select("a", "zz"), wantErr: `no column "zz" (columns: a, b, c)`},
		{name: "select twice", stage: Select("a", "a"), wantErr: `column "a" named twice`},
		{name: "select none", stage: Select(), wantErr: "no columns named"},
		{name: "drop", stage: Drop("b"),
			fields: []string{"a:int64?", "c:float64?"}, rows: [][]string{{"1", "1.5"}, {"NULL", "NULL"}}},
		{name: "drop missing", stage: Drop("q"), wantErr: `no column "q" (columns: a, b, c)`},
		{name: "drop all", stage: Drop("a", "b", "c"), wantErr: "no column would be left"},
		{name: "rename", stage: Rename(map[string]string{"a": "id", "c": "score"}),
			fields: []string{"id:int64?", "b:utf8", "score:float64?"}, rows: [][]string{{"1", "x", "1.5"}, {"NULL", "y", "NULL"}}},
		{name: "rename swap", stage: Rename(map[string]string{"a": "b", "b": "a"}),
			fields: []string{"b:int64?", "a:utf8", "c:float64?"}, rows: [][]string{{"1", "x", "1.5"}, {"NULL", "y", "NULL"}}},
		{name: "rename onto existing", stage: Rename(map[string]string{"a": "c"}),
			wantErr: `rename "a" to "c": column "c" already exists`},
		{name: "rename two onto one", stage: Rename(map[string]string{"a": "z", "c": "z"}),
			wantErr: `columns "a" and "c" are both renamed to "z"`},
		{name: "rename missing", stage: Rename(map[string]string{"nope": "x"}), wantErr: `no column "nope"`},
		{name: "rename empty", stage: Rename(map[string]string{"a": ""}), wantErr: `new name for column "a" is empty`},
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
			if d := cmp.Diff(tc.fields, stgFields(sc)); d != "" {
				t.Errorf("schema (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.rows, got); d != "" {
				t.Errorf("rows (-want +got):\n%s", d)
			}
		})
	}
}

func TestColumnStagesZeroCopy(t *testing.T) {
	mem := checkedAlloc(t)
	in := stgBatch(t, mem, stgSchema("a:int64", "b:string"), `[{"a":1,"b":"x"},{"a":2,"b":"y"}]`)
	defer in.Release()
	for _, st := range []Stage{Select("b", "a"), Drop("a"), Rename(map[string]string{"b": "bb"})} {
		step, err := st.Bind(mem, in.Schema())
		if err != nil {
			t.Fatal(err)
		}
		before := mem.CurrentAlloc()
		out, err := step.Apply(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if got := mem.CurrentAlloc(); got != before {
			t.Errorf("%s allocated %d bytes, want none", st.Name(), got-before)
		}
		for i, c := range out.Columns() {
			shared := false
			for _, ic := range in.Columns() {
				shared = shared || c.Data() == ic.Data()
			}
			if !shared {
				t.Errorf("%s: column %s is not one of the input's arrays", st.Name(), out.Schema().Field(i).Name)
			}
		}
		out.Release()
	}
}

func TestColumnStagesWrongBatch(t *testing.T) {
	mem := checkedAlloc(t)
	step, err := Select("a").Bind(mem, stgSchema("a:int64", "b:string"))
	if err != nil {
		t.Fatal(err)
	}
	in := stgBatch(t, mem, stgSchema("a:string", "b:string"), `[{"a":"1","b":"x"}]`)
	defer in.Release()
	_, err = step.Apply(context.Background(), in)
	stgWantErr(t, err, "the stage was bound to a int64", ErrSchema)
}

// TestStagesEmptyBatch applies every stage to a batch with no rows.
func TestStagesEmptyBatch(t *testing.T) {
	mem := checkedAlloc(t)
	in := stgBatch(t, mem, stgSchema("a:int64", "s:string", "f:float64", "t:ts", "b:bool"), `[]`)
	defer in.Release()
	q := &stgSink{}
	for _, st := range []Stage{
		Select("s"), Drop("a"), Rename(map[string]string{"a": "z"}),
		Cast("a", arrow.BinaryTypes.String), Cast("s", arrow.PrimitiveTypes.Int64), Cast("s", arrow.FixedWidthTypes.Date32),
		Cast("t", arrow.BinaryTypes.String),
		Filter(Col("a").Gt(1)), Filter(And(Col("s").In("x"), Col("b").Eq(true))),
		Derive1("x", "a", func(a int64) int64 { return a }), Derive1("x", "s", func(s string) string { return s }),
		Derive1("x", "f", func(f float64) bool { return f > 0 }), Derive1("x", "t", func(t time.Time) time.Time { return t }),
		Map("m", nil, func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
			in.Retain()
			return in, nil
		}),
		Validate(ValidateOptions{Expect: []Expectation{NotNull("a"), Unique("s")}, OnFailure: QuarantineRow, Quarantine: q}),
	} {
		sc, rows, err := stgApply(t, mem, st, in)
		if err != nil {
			t.Errorf("%s: %v", st.Name(), err)
			continue
		}
		if len(rows) != 0 || sc == nil {
			t.Errorf("%s: %d rows", st.Name(), len(rows))
		}
	}
}
