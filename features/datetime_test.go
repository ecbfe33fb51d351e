package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

func TestDateTimeParts(t *testing.T) {
	mem := f2Mem(t)
	tb := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"})
	defer tb.Release()
	// Wednesday 2024-05-01 13:45:30.250 UTC; Sunday 2023-12-31 23:59:59 UTC.
	tb.Append(arrow.Timestamp(time.Date(2024, 5, 1, 13, 45, 30, 250e6, time.UTC).UnixMilli()))
	tb.Append(arrow.Timestamp(time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli()))
	tb.AppendNull()
	ts := tb.NewArray()
	defer ts.Release()

	tr := f2New(t, "datetime", []string{"t"}, `{"parts":["year","month","day","dayofweek","dayofyear","hour","minute","second","month_sin","month_cos","dow_sin","dow_cos","hour_sin","hour_cos"]}`)
	wantNames := []string{"t_year", "t_month", "t_day", "t_dayofweek", "t_dayofyear", "t_hour", "t_minute", "t_second",
		"t_month_sin", "t_month_cos", "t_dow_sin", "t_dow_cos", "t_hour_sin", "t_hour_cos"}
	if d := cmp.Diff(wantNames, tr.Outputs()); d != "" {
		t.Fatal(d)
	}
	nan := math.NaN()
	tau := 2 * math.Pi
	want := [][]float64{
		{2024, 5, 1, 2, 122, 13, 45, 30,
			math.Sin(tau * 4 / 12), math.Cos(tau * 4 / 12), math.Sin(tau * 2 / 7), math.Cos(tau * 2 / 7), math.Sin(tau * 13 / 24), math.Cos(tau * 13 / 24)},
		{2023, 12, 31, 6, 365, 23, 59, 59,
			math.Sin(tau * 11 / 12), math.Cos(tau * 11 / 12), math.Sin(tau * 6 / 7), math.Cos(tau * 6 / 7), math.Sin(tau * 23 / 24), math.Cos(tau * 23 / 24)},
		{nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan},
	}
	got := f2Apply(t, f2Fit(t, tr, ts), ts)
	f2Same(t, got, want)
	// Hand check of a few cyclic values.
	if math.Abs(got[0][8]-math.Sqrt(3)/2) > 1e-15 || math.Abs(got[0][9]+0.5) > 1e-15 {
		t.Fatalf("May sin/cos = %v, %v", got[0][8], got[0][9])
	}
	f2RoundTrip(t, tr)
}

func TestDateTimeInputs(t *testing.T) {
	mem := f2Mem(t)
	s := f2Str(t, mem, "2024-05-01T13:45:30Z", "2024-05-01T13:45:30+02:00", "2024-05-01 13:45:30", "2024-05-01T13:45:30.5", "2024-05-01", f2Null)
	db := array.NewDate32Builder(mem)
	defer db.Release()
	db.AppendValues([]arrow.Date32{arrow.Date32FromTime(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))}, nil)
	d := db.NewArray()
	defer d.Release()
	tr := f2New(t, "datetime", []string{"s"}, `{"parts":["day","hour","minute"]}`)
	nan := math.NaN()
	f2Same(t, f2Apply(t, tr, s), [][]float64{{1, 13, 45}, {1, 11, 45}, {1, 13, 45}, {1, 13, 45}, {1, 0, 0}, {nan, nan, nan}})
	f2Same(t, f2Apply(t, tr, d), [][]float64{{1, 0, 0}})
	// A time zone moves parts and places zone-less strings.
	ny := f2New(t, "datetime", []string{"s"}, `{"parts":["day","hour"],"timezone":"America/New_York"}`)
	f2Same(t, f2Apply(t, ny, s), [][]float64{{1, 9}, {1, 7}, {1, 13}, {1, 13}, {1, 0}, {nan, nan}})
	f2RoundTrip(t, ny)
	// Defaults.
	def := f2New(t, "datetime", []string{"s"}, `{}`)
	if d := cmp.Diff([]string{"s_year", "s_month", "s_day", "s_dayofweek", "s_hour"}, def.Outputs()); d != "" {
		t.Fatal(d)
	}
}

func TestDateTimeBadInput(t *testing.T) {
	mem := f2Mem(t)
	s := f2Str(t, mem, "2024-05-01", "01/05/2024")
	tr := f2New(t, "datetime", []string{"s"}, `{}`)
	batch, row := f2ApplyErr(t, tr, 1, s)
	var ie *InputError
	if !errors.As(batch, &ie) || ie.Row != 1 || ie.Column != "s" || !errors.Is(batch, ErrType) {
		t.Fatalf("batch: %v", batch)
	}
	if !errors.Is(row, ErrType) {
		t.Fatalf("row: %v", row)
	}
	if err := tr.ApplyRow([]Value{Float(3)}, make([]float64, 5)); !errors.Is(err, ErrType) {
		t.Fatalf("number: %v", err)
	}
	if _, err := tr.NewFitter([]arrow.DataType{arrow.PrimitiveTypes.Float64}); !errors.Is(err, ErrType) {
		t.Fatalf("float column: %v", err)
	}
	for _, bad := range []string{`{"parts":["week"]}`, `{"parts":["year","year"]}`, `{"timezone":"Mars/Base"}`, `{"part":["year"]}`} {
		if _, err := kinds["datetime"].New([]string{"s"}, json.RawMessage(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestF2ApplyRowAllocs(t *testing.T) {
	mem := f2Mem(t)
	s := f2Str(t, mem, "a", "b", "c", "a")
	n := f2F64(t, mem, 1, 2, 3, 4)
	cases := []struct {
		tr Transform
		in []Value
	}{
		{f2Fit(t, f2New(t, "onehot", []string{"s", "n"}, `{}`), s, n), []Value{String("b"), Float(3)}},
		{f2Fit(t, f2New(t, "ordinal", []string{"s", "n"}, `{}`), s, n), []Value{String("b"), Float(3)}},
		{f2Fit(t, f2New(t, "kbins", []string{"n"}, `{"n_bins":2}`), n), []Value{Float(3)}},
		{f2Fit(t, f2New(t, "target", []string{"s"}, `{"target":"n","target_type":"continuous","cv":2}`), s, n), []Value{String("b")}},
		{f2New(t, "hash", []string{"s", "n"}, `{"n_features":16}`), []Value{String("b"), Float(3)}},
		{f2New(t, "cross", []string{"s", "n"}, `{"n_features":16}`), []Value{String("b"), Float(3)}},
		{f2New(t, "datetime", []string{"s"}, `{"parts":["year","dow_sin"]}`), []Value{Time(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))}},
	}
	for _, c := range cases {
		out := make([]float64, len(c.tr.Outputs()))
		allocs := testing.AllocsPerRun(100, func() {
			if err := c.tr.ApplyRow(c.in, out); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: ApplyRow allocates %v times per row", c.tr.Kind(), allocs)
		}
	}
}

// FuzzDateTimeString checks that any string either parses or gives an
// ErrType error, the same way in batch and single-row apply.
func FuzzDateTimeString(f *testing.F) {
	for _, s := range []string{"2024-05-01T13:45:30Z", "2024-05-01T13:45:30.123456789+05:30", "2024-05-01 13:45:30",
		"2024-02-30", "0000-01-01", "9999-12-31T23:59:59Z", "", "2024-05-01T25:00:00Z", "2024-05-01 13:45:30.5-07:00"} {
		f.Add(s)
	}
	tr, err := NewDateTime([]string{"s"}, DateTimeParams{Parts: []string{"year", "month", "day", "dayofweek", "hour", "minute", "dow_sin"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := array.NewStringBuilder(memory.DefaultAllocator)
		b.Append(s)
		arr := b.NewArray()
		b.Release()
		defer arr.Release()
		out := make([][]float64, 7)
		for j := range out {
			out[j] = make([]float64, 1)
		}
		batchErr := tr.Apply([]arrow.Array{arr}, out)
		row := make([]float64, 7)
		rowErr := tr.ApplyRow([]Value{String(s)}, row)
		if (batchErr == nil) != (rowErr == nil) {
			t.Fatalf("%q: batch error %v, row error %v", s, batchErr, rowErr)
		}
		if batchErr != nil {
			if !errors.Is(batchErr, ErrType) || !errors.Is(rowErr, ErrType) {
				t.Fatalf("%q: errors %v / %v", s, batchErr, rowErr)
			}
			return
		}
		for j := range row {
			if math.Float64bits(row[j]) != math.Float64bits(out[j][0]) {
				t.Fatalf("%q: output %d: row %v batch %v", s, j, row[j], out[j][0])
			}
		}
	})
}
