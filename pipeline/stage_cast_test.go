package pipeline

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"
)

func TestCast(t *testing.T) {
	i64, f64, str := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.BinaryTypes.String
	ts := func(unit arrow.TimeUnit, tz string) arrow.DataType {
		return &arrow.TimestampType{Unit: unit, TimeZone: tz}
	}
	tests := []struct {
		name    string
		in      string // schema spec of column "x"
		rows    string // JSON values of x
		to      arrow.DataType
		want    []string // the values after the cast, via ValueStr
		wantErr string
		row     int64 // *ParseError.Row
		value   string
	}{
		{name: "int64 to float64", in: "int64", rows: `[1, null, -3]`, to: f64, want: []string{"1", "NULL", "-3"}},
		{name: "int64 to string", in: "int64", rows: `[1, null, -3]`, to: str, want: []string{"1", "NULL", "-3"}},
		{name: "uint8 to string", in: "uint8", rows: `[255, 0]`, to: str, want: []string{"255", "0"}},
		{name: "float32 to string", in: "float32", rows: `[0.1, -2]`, to: str, want: []string{"0.1", "-2"}},
		{name: "bool to string", in: "bool", rows: `[true, null, false]`, to: str, want: []string{"true", "NULL", "false"}},
		{name: "float64 to int64", in: "float64", rows: `[1, null, -3]`, to: i64, want: []string{"1", "NULL", "-3"}},
		{name: "float64 to int64 fraction", in: "float64", rows: `[1, 2.5, 3.5]`, to: i64,
			wantErr: `row 2: column "x": value "2.5"`, row: 2, value: "2.5"},
		{name: "float64 to string", in: "float64", rows: `[0.1, 1e21, 2, 123456789.125]`, to: str,
			want: []string{"0.1", "1e+21", "2", "1.23456789125e+08"}},
		{name: "string to int64", in: "string", rows: `["7", null, "-12"]`, to: i64, want: []string{"7", "NULL", "-12"}},
		{name: "string to int64 bad", in: "string", rows: `["7", "8", "x9", "oops"]`, to: i64,
			wantErr: `row 3: column "x": value "x9": cannot convert utf8 to int64`, row: 3, value: "x9"},
		{name: "string to float64", in: "string", rows: `["1.5", "-2e3"]`, to: f64, want: []string{"1.5", "-2000"}},
		{name: "string to float64 bad", in: "string", rows: `["1.5", ""]`, to: f64, wantErr: `row 2`, row: 2, value: ""},
		{name: "string to bool", in: "string", rows: `["true", "false", null, "1"]`, to: arrow.FixedWidthTypes.Boolean,
			want: []string{"true", "false", "NULL", "true"}},
		{name: "string to bool bad", in: "string", rows: `["true", "yes"]`, to: arrow.FixedWidthTypes.Boolean,
			wantErr: `value "yes"`, row: 2, value: "yes"},
		{name: "string to date32", in: "string", rows: `["2020-02-29", null, "1969-12-31"]`, to: arrow.FixedWidthTypes.Date32,
			want: []string{"2020-02-29", "NULL", "1969-12-31"}},
		{name: "string to date32 bad", in: "string", rows: `["2020-02-29", "2021-02-29"]`, to: arrow.FixedWidthTypes.Date32,
			wantErr: `row 2: column "x": value "2021-02-29": cannot convert utf8 to date32: not a date`, row: 2, value: "2021-02-29"},
		{name: "string to date32 trailing", in: "string", rows: `["2020-01-01x"]`, to: arrow.FixedWidthTypes.Date32,
			wantErr: `not a date`, row: 1, value: "2020-01-01x"},
		{name: "string to timestamp", in: "string",
			rows: `["2020-01-01 10:00:00", "2020-01-01T10:00:00.5Z", "2020-01-01T12:00:00+02:00", "2020-01-01", null]`,
			to:   ts(arrow.Microsecond, ""),
			want: []string{"2020-01-01 10:00:00", "2020-01-01 10:00:00.5", "2020-01-01 10:00:00", "2020-01-01 00:00:00", "NULL"}},
		{name: "string to timestamp in zone", in: "string", rows: `["2020-01-01 10:00:00", "2020-01-01T10:00:00Z"]`,
			to: ts(arrow.Second, "+02:00"), want: []string{"2020-01-01 10:00:00+02:00", "2020-01-01 12:00:00+02:00"}},
		{name: "string to timestamp bad", in: "string", rows: `["2020-01-01 10:00", "10:00"]`, to: ts(arrow.Microsecond, ""),
			wantErr: `not a timestamp`, row: 2, value: "10:00"},
		{name: "string to timestamp out of range", in: "string", rows: `["2500-01-01"]`, to: ts(arrow.Nanosecond, ""),
			wantErr: `out of range`, row: 1, value: "2500-01-01"},
		{name: "timestamp to string", in: "ts", rows: `["2020-01-01T10:00:00", "2020-01-01T10:00:00.25", null]`, to: str,
			want: []string{"2020-01-01 10:00:00", "2020-01-01 10:00:00.25", "NULL"}},
		{name: "zoned timestamp to string", in: "ts_utc", rows: `["2020-01-01T10:00:00Z"]`, to: str,
			want: []string{"2020-01-01 10:00:00Z"}},
		{name: "nanosecond timestamp to string", in: "ts_ns", rows: `["2020-01-01T10:00:00.000000120"]`, to: str,
			want: []string{"2020-01-01 10:00:00.00000012"}},
		{name: "second timestamp to string", in: "ts_s", rows: `["2020-01-01T10:00:00"]`, to: str,
			want: []string{"2020-01-01 10:00:00"}},
		{name: "date32 to string", in: "date32", rows: `["2020-01-31"]`, to: arrow.BinaryTypes.LargeString,
			want: []string{"2020-01-31"}},
		{name: "int64 to int32", in: "int64", rows: `[1, -2147483648, null]`, to: arrow.PrimitiveTypes.Int32,
			want: []string{"1", "-2147483648", "NULL"}},
		{name: "int64 to int32 overflow", in: "int64", rows: `[1, 2, 3, 4, 5, 2147483648, 7, 9999999999]`, to: arrow.PrimitiveTypes.Int32,
			wantErr: `row 6: column "x": value "2147483648"`, row: 6, value: "2147483648"},
		{name: "int64 to uint8 negative", in: "int64", rows: `[1, -1]`, to: arrow.PrimitiveTypes.Uint8,
			wantErr: `row 2`, row: 2, value: "-1"},
		{name: "same type", in: "int64", rows: `[1, null]`, to: i64, want: []string{"1", "NULL"}},
		{name: "timestamp unit", in: "ts", rows: `["2020-01-01T10:00:00"]`, to: ts(arrow.Millisecond, ""),
			want: []string{"2020-01-01 10:00:00"}},
		{name: "no conversion", in: "bool", rows: `[true]`, to: arrow.FixedWidthTypes.Date32,
			wantErr: "no conversion from bool to date32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			schema := stgSchema("id:int64", "x:"+tc.in)
			in := stgBatch(t, mem, schema, stgWrapRows(t, tc.rows))
			defer in.Release()
			sc, got, err := stgApply(t, mem, Cast("x", tc.to), in)
			if tc.wantErr != "" {
				stgWantErr(t, err, tc.wantErr, nil)
				var pe *ParseError
				switch {
				case tc.row == 0:
					if !errors.Is(err, ErrSchema) {
						t.Errorf("error %v does not wrap ErrSchema", err)
					}
				case !errors.As(err, &pe):
					t.Errorf("error %v is not a *ParseError", err)
				default:
					if pe.Row != tc.row || pe.Value != tc.value || pe.Column != "x" || !errors.Is(err, ErrParse) {
						t.Errorf("ParseError row %d value %q column %q, want row %d value %q column x", pe.Row, pe.Value, pe.Column, tc.row, tc.value)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantFields := []string{"id:int64?", "x:" + tc.to.String() + "?"}
			if d := cmp.Diff(wantFields, stgFields(sc)); d != "" {
				t.Errorf("schema (-want +got):\n%s", d)
			}
			vals := stgColumn(got, 1)
			for i, v := range vals {
				if len(v) > 10 && v[10] == 'T' && tc.to.ID() == arrow.TIMESTAMP {
					vals[i] = v[:10] + " " + v[11:]
				}
			}
			if d := cmp.Diff(tc.want, vals); d != "" {
				t.Errorf("values (-want +got):\n%s", d)
			}
		})
	}
}

// stgWrapRows turns a JSON list of values of x into rows {"id": i, "x": v}.
func stgWrapRows(t testing.TB, vals string) string {
	t.Helper()
	var vs []json.RawMessage
	if err := json.Unmarshal([]byte(vals), &vs); err != nil {
		t.Fatal(err)
	}
	rows := make([]map[string]json.RawMessage, len(vs))
	for i, v := range vs {
		rows[i] = map[string]json.RawMessage{"id": json.RawMessage(strconv.Itoa(i)), "x": v}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
