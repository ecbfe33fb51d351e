package pipeline

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type degrees float64

type StBase struct {
	ID   int64  `parquet:"id"`
	Note string `parquet:"note,optional"`
}

type everyType struct {
	StBase
	Int      int
	I8       int8 `parquet:"i8"`
	I16      int16
	I32      int32
	I64      int64 `parquet:",snappy"`
	U        uint
	U8       uint8
	U16      uint16
	U32      uint32
	U64      uint64
	F32      float32
	F64      float64
	Temp     degrees
	B        bool
	S        string
	Bytes    []byte
	T        time.Time
	PI       *int32
	PF       *float64
	PB       *bool
	PS       *string `parquet:"ps,optional"`
	PT       *time.Time
	Opt      int            `parquet:"opt,optional"`
	Skip     map[string]int `parquet:"-"`
	internal int
}

var (
	stWhen = time.Date(2024, 3, 1, 12, 30, 0, 123456000, time.FixedZone("CET", 3600))
	stI32  = int32(-7)
	stF64  = 2.5
	stYes  = true
	stStr  = "pointed"
)

func everyRows() []everyType {
	return []everyType{
		{StBase: StBase{ID: 1, Note: "first"}, Int: -1, I8: -8, I16: -16, I32: -32, I64: -64, U: 1, U8: 8, U16: 16, U32: 32, U64: 1 << 63,
			F32: 0.5, F64: 1e-3, Temp: 21.5, B: true, S: "héllo", Bytes: []byte{0, 1, 255}, T: stWhen,
			PI: &stI32, PF: &stF64, PB: &stYes, PS: &stStr, PT: &stWhen, Opt: 3, internal: 9},
		{StBase: StBase{ID: 2}, S: "", Bytes: nil},
	}
}

var everyFields = []string{
	"id int64", "note utf8 nullable", "Int int64", "i8 int8", "I16 int16", "I32 int32", "I64 int64",
	"U uint64", "U8 uint8", "U16 uint16", "U32 uint32", "U64 uint64", "F32 float32", "F64 float64", "Temp float64",
	"B bool", "S utf8", "Bytes binary", "T timestamp[us, tz=UTC]",
	"PI int32 nullable", "PF float64 nullable", "PB bool nullable", "ps utf8 nullable", "PT timestamp[us, tz=UTC] nullable",
	"opt int64 nullable",
}

var everyText = [][]string{
	{"1", "first", "-1", "-8", "-16", "-32", "-64", "1", "8", "16", "32", "9223372036854775808", "0.5", "0.001", "21.5",
		"true", "héllo", "AAH/", "2024-03-01T11:30:00.123456Z", "-7", "2.5", "true", "pointed", "2024-03-01T11:30:00.123456Z", "3"},
	{"2", "(null)", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0",
		"false", "", "", "0001-01-01T00:00:00Z", "(null)", "(null)", "(null)", "(null)", "(null)", "(null)"},
}

func TestFromStructs(t *testing.T) {
	rows := everyRows()
	ptrs := make([]*everyType, len(rows))
	for i := range rows {
		ptrs[i] = &rows[i]
	}
	tests := []struct {
		name string
		src  func(opts StructOptions) Source
	}{
		{"slice", func(o StructOptions) Source { return FromStructs(rows, o) }},
		{"slice of pointers", func(o StructOptions) Source { return FromStructs(ptrs, o) }},
		{"seq", func(o StructOptions) Source { return FromSeq(slices.Values(rows), o) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src(StructOptions{Allocator: checkedAlloc(t)})
			schema, err := src.Schema(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(everyFields, fieldList(schema)); diff != "" {
				t.Errorf("schema (-want +got):\n%s", diff)
			}
			recs := mustRead(t, src)
			if diff := cmp.Diff(everyText, textRows(recs)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			for _, r := range recs {
				if !r.Schema().Equal(schema) {
					t.Errorf("batch schema %v", r.Schema())
				}
			}
		})
	}
}

type stPoint struct {
	X, Y float64
	Name string
}

func stPoints(n int) []stPoint {
	out := make([]stPoint, n)
	for i := range out {
		out[i] = stPoint{X: float64(i), Y: float64(-i), Name: strings.Repeat("p", i%5)}
	}
	return out
}

func TestFromStructsBatches(t *testing.T) {
	rows := stPoints(10)
	tests := []struct {
		batch int
		want  []int64
	}{
		{0, []int64{10}},
		{3, []int64{3, 3, 3, 1}},
		{5, []int64{5, 5}},
	}
	for _, tc := range tests {
		for _, seq := range []bool{false, true} {
			var src Source
			opts := StructOptions{BatchRows: tc.batch, Allocator: checkedAlloc(t)}
			if seq {
				src = FromSeq(slices.Values(rows), opts)
			} else {
				src = FromStructs(rows, opts)
			}
			recs := mustRead(t, src)
			if diff := cmp.Diff(tc.want, batchSizes(recs)); diff != "" {
				t.Errorf("batch %d, seq %v: sizes (-want +got):\n%s", tc.batch, seq, diff)
			}
			got := textRows(recs)
			if len(got) != 10 || got[9][0] != "9" || got[9][2] != "pppp" {
				t.Errorf("batch %d, seq %v: rows %v", tc.batch, seq, got)
			}
		}
	}
	// An empty slice yields no batches.
	if recs := mustRead(t, FromStructs([]stPoint{}, StructOptions{})); len(recs) != 0 {
		t.Errorf("%d batches from no rows", len(recs))
	}
}

type (
	withMap       struct{ M map[string]int }
	withStruct    struct{ P stPoint }
	withSlice     struct{ L []int }
	withIface     struct{ V any }
	withPtrPtr    struct{ P **int }
	withEmbedPtr  struct{ *StBase }
	withDuplicate struct {
		A int `parquet:"x"`
		B int `parquet:"x"`
	}
	onlyPrivate     struct{ a int }
	withEmbeddedDup struct {
		StBase
		ID int `parquet:"id"`
	}
)

func TestFromStructsErrors(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		want string
	}{
		{"map", FromStructs([]withMap{{}}, StructOptions{}), "field withMap.M has type map[string]int"},
		{"nested struct", FromStructs([]withStruct{{}}, StructOptions{}), "field withStruct.P has type pipeline.stPoint"},
		{"slice", FromStructs([]withSlice{{}}, StructOptions{}), "field withSlice.L has type []int"},
		{"interface", FromStructs([]withIface{{}}, StructOptions{}), "field withIface.V has type interface {}"},
		{"pointer to pointer", FromStructs([]withPtrPtr{{}}, StructOptions{}), "field withPtrPtr.P has type **int"},
		{"embedded pointer", FromStructs([]withEmbedPtr{{}}, StructOptions{}), "field withEmbedPtr.StBase has type *pipeline.StBase"},
		{"duplicate names", FromStructs([]withDuplicate{{}}, StructOptions{}), `withDuplicate.A and withDuplicate.B are both named "x"`},
		{"embedded duplicate", FromStructs([]withEmbeddedDup{{}}, StructOptions{}), `withEmbeddedDup.StBase.ID and withEmbeddedDup.ID are both named "id"`},
		{"no fields", FromStructs([]onlyPrivate{{}}, StructOptions{}), "no exported fields"},
		{"not a struct", FromStructs([]int{1}, StructOptions{}), "int is not a struct type"},
		{"time is not a row", FromStructs([]time.Time{{}}, StructOptions{}), "time.Time is not a struct type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, serr := tc.src.Schema(context.Background())
			_, berr := readSource(t, tc.src)
			for _, err := range []error{serr, berr} {
				if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want ErrSchema saying %q", err, tc.want)
				}
			}
		})
	}
}

func TestFromStructsNilRow(t *testing.T) {
	p := &stPoint{X: 1}
	src := FromStructs([]*stPoint{p, nil}, StructOptions{Allocator: checkedAlloc(t)})
	_, err := readSource(t, src)
	if err == nil || !strings.Contains(err.Error(), "row 1 is a nil pointer") {
		t.Errorf("error %v, want one naming row 1", err)
	}
}

func TestFromSeqStopAndCancel(t *testing.T) {
	mem := checkedAlloc(t)
	produced := 0
	seq := iter.Seq[stPoint](func(yield func(stPoint) bool) {
		for i := 0; ; i++ {
			produced++
			if !yield(stPoint{X: float64(i)}) {
				return
			}
		}
	})
	src := FromSeq(seq, StructOptions{BatchRows: 100, Allocator: mem})
	n := 0
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if n++; n == 3 {
			break
		}
	}
	if produced != 300 {
		t.Errorf("the sequence produced %d values for 3 batches of 100", produced)
	}
	checkCancel(t, src)
}

func BenchmarkFromStructs(b *testing.B) {
	type trip struct {
		ID       int64     `parquet:"id"`
		Origin   string    `parquet:"origin"`
		Dest     string    `parquet:"destination"`
		Delay    *int32    `parquet:"delay"`
		Distance float64   `parquet:"distance"`
		When     time.Time `parquet:"date"`
		OnTime   bool      `parquet:"on_time"`
	}
	rows := make([]trip, 1<<20)
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		d := int32(i % 97)
		rows[i] = trip{ID: int64(i), Origin: "ORD", Dest: "SFO", Distance: float64(i % 3000), When: base.Add(time.Duration(i) * time.Minute), OnTime: i%3 == 0}
		if i%10 != 0 {
			rows[i].Delay = &d
		}
	}
	src := FromStructs(rows, StructOptions{})
	b.ResetTimer()
	for b.Loop() {
		for rec, err := range src.Batches(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			rec.Release()
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
