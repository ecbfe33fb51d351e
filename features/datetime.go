package features

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dateParts are the parts the "datetime" transform can output, each a
// function of the local time.
var dateParts = map[string]func(t time.Time) float64{
	"year":      func(t time.Time) float64 { return float64(t.Year()) },
	"month":     func(t time.Time) float64 { return float64(t.Month()) },
	"day":       func(t time.Time) float64 { return float64(t.Day()) },
	"dayofweek": func(t time.Time) float64 { return float64(mondayZero(t)) },
	"dayofyear": func(t time.Time) float64 { return float64(t.YearDay()) },
	"hour":      func(t time.Time) float64 { return float64(t.Hour()) },
	"minute":    func(t time.Time) float64 { return float64(t.Minute()) },
	"second":    func(t time.Time) float64 { return float64(t.Second()) },
	"month_sin": func(t time.Time) float64 { return math.Sin(2 * math.Pi * float64(t.Month()-1) / 12) },
	"month_cos": func(t time.Time) float64 { return math.Cos(2 * math.Pi * float64(t.Month()-1) / 12) },
	"dow_sin":   func(t time.Time) float64 { return math.Sin(2 * math.Pi * float64(mondayZero(t)) / 7) },
	"dow_cos":   func(t time.Time) float64 { return math.Cos(2 * math.Pi * float64(mondayZero(t)) / 7) },
	"hour_sin":  func(t time.Time) float64 { return math.Sin(2 * math.Pi * float64(t.Hour()) / 24) },
	"hour_cos":  func(t time.Time) float64 { return math.Cos(2 * math.Pi * float64(t.Hour()) / 24) },
}

// mondayZero returns the day of the week with Monday = 0 ... Sunday = 6,
// as pandas' dayofweek counts.
func mondayZero(t time.Time) int { return (int(t.Weekday()) + 6) % 7 }

// dateLayouts are the string forms the "datetime" transform parses, tried
// in order. Layouts without a zone are read in the transform's time zone.
var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// DateTimeParams are the parameters of the "datetime" transform.
type DateTimeParams struct {
	// Parts lists the outputs, in order; default year, month, day,
	// dayofweek, hour. Known parts: year, month (1-12), day (1-31),
	// dayofweek (Monday=0 ... Sunday=6), dayofyear (1-366), hour (0-23),
	// minute, second, and the cyclic encodings month_sin and month_cos
	// (angle 2π(month-1)/12, period 12 months), dow_sin and dow_cos (angle
	// 2π·dayofweek/7, period 7 days), hour_sin and hour_cos (angle
	// 2π·hour/24, period 24 hours; the whole hour, minutes ignored).
	Parts []string `json:"parts,omitempty"`
	// Timezone is the IANA zone in which parts are taken ("UTC" by
	// default). It also places strings that carry no offset.
	Timezone string `json:"timezone,omitempty"`
}

// DateTime is the "datetime" transform: date and time parts of timestamp,
// date32/date64 and string columns, one output "<column>_<part>" per
// column and part. Timestamps are instants (their Arrow time zone
// metadata is not used; Timezone is). A date is midnight UTC of that day.
// Strings are RFC 3339 ("2024-05-01T13:45:00Z", with optional fraction and
// offset), "2006-01-02 15:04:05" (optionally with a fraction, or a "T"
// instead of the space) or "2006-01-02"; anything else is an error naming
// the column, the row and the value. A missing value gives NaN in every
// output. It needs no fit.
type DateTime struct {
	columns []string
	params  DateTimeParams
	loc     *time.Location
	parts   []func(time.Time) float64
	outputs []string
}

func init() {
	registerKind("datetime", kind{New: newDateTimeSpec, Load: loadDateTime})
}

func newDateTimeSpec(columns []string, raw json.RawMessage) (Transform, error) {
	var p DateTimeParams
	if err := decodeParams("datetime", raw, &p); err != nil {
		return nil, err
	}
	return NewDateTime(columns, p)
}

func loadDateTime(columns []string, params, _ json.RawMessage) (Transform, error) {
	return newDateTimeSpec(columns, params)
}

// NewDateTime returns a date-time parts transform.
func NewDateTime(columns []string, p DateTimeParams) (*DateTime, error) {
	if err := validColumns("datetime", columns); err != nil {
		return nil, err
	}
	parts := p.Parts
	if len(parts) == 0 {
		parts = []string{"year", "month", "day", "dayofweek", "hour"}
	}
	t := &DateTime{columns: slices.Clone(columns), params: p, loc: time.UTC}
	if p.Timezone != "" {
		loc, err := time.LoadLocation(p.Timezone)
		if err != nil {
			return nil, fmt.Errorf("%w: datetime: timezone %q: %v", ErrSpec, p.Timezone, err)
		}
		t.loc = loc
	}
	seen := map[string]bool{}
	for _, name := range parts {
		fn, ok := dateParts[name]
		if !ok {
			return nil, fmt.Errorf("%w: datetime: unknown part %q", ErrSpec, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: datetime: part %q given twice", ErrSpec, name)
		}
		seen[name] = true
		t.parts = append(t.parts, fn)
	}
	for _, c := range columns {
		for _, name := range parts {
			t.outputs = append(t.outputs, c+"_"+name)
		}
	}
	return t, nil
}

func (t *DateTime) Kind() string      { return "datetime" }
func (t *DateTime) Inputs() []string  { return slices.Clone(t.columns) }
func (t *DateTime) Outputs() []string { return slices.Clone(t.outputs) }
func (t *DateTime) Fitted() bool      { return true }
func (t *DateTime) Params() any       { return t.params }
func (t *DateTime) State() any        { return nil }

func isDateTimeType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return true
	}
	return isStringType(dt)
}

// NewFitter returns a fitter that checks types and learns nothing.
func (t *DateTime) NewFitter(types []arrow.DataType) (Fitter, error) {
	if len(types) != len(t.columns) {
		return nil, fmt.Errorf("features: datetime: %d column types for %d columns", len(types), len(t.columns))
	}
	for i, dt := range types {
		if !isDateTimeType(dt) {
			return nil, fmt.Errorf("%w: datetime: column %q has type %s, want a timestamp, date or string", ErrType, t.columns[i], dt)
		}
	}
	return statelessFitter{t}, nil
}

var errDateLayout = errors.New("not a date-time in a known layout")

// parseDateTime parses s in one of dateLayouts.
func (t *DateTime) parse(s string) (time.Time, error) {
	for _, layout := range dateLayouts {
		if tm, err := time.ParseInLocation(layout, s, t.loc); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %w", ErrType, errDateLayout)
}

// fill writes the parts of tm (in t's zone) to out[k*stride+r] style
// positions through set.
func (t *DateTime) fillRow(tm time.Time, out []float64) {
	tm = tm.In(t.loc)
	for j, fn := range t.parts {
		out[j] = fn(tm)
	}
}

func (t *DateTime) Apply(cols []arrow.Array, out [][]float64) error {
	rows, err := checkApply("datetime", len(t.columns), len(t.outputs), cols, out)
	if err != nil {
		return err
	}
	np := len(t.parts)
	row := make([]float64, np)
	for i, arr := range cols {
		if !isDateTimeType(arr.DataType()) {
			return fmt.Errorf("%w: datetime: column %q has type %s, want a timestamp, date or string", ErrType, t.columns[i], arr.DataType())
		}
		o := out[i*np : (i+1)*np]
		var mult int64
		if ts, ok := arr.DataType().(*arrow.TimestampType); ok {
			mult = int64(ts.Unit.Multiplier())
		}
		for r := range rows {
			if arr.IsNull(r) {
				for j := range o {
					o[j][r] = math.NaN()
				}
				continue
			}
			var tm time.Time
			switch a := arr.(type) {
			case *array.Timestamp:
				tm = time.Unix(0, int64(a.Value(r))*mult)
			case *array.Date32:
				tm = time.Unix(0, int64(a.Value(r))*86400e9)
			case *array.Date64:
				tm = time.Unix(0, int64(a.Value(r))*1e6)
			default:
				s, ok := stringAt(arr, r)
				if !ok {
					for j := range o {
						o[j][r] = math.NaN()
					}
					continue
				}
				if tm, err = t.parse(s); err != nil {
					return inputErr("datetime", t.columns[i], r, fmt.Sprintf("%q", s), err)
				}
			}
			t.fillRow(tm, row)
			for j := range o {
				o[j][r] = row[j]
			}
		}
	}
	return nil
}

func (t *DateTime) ApplyRow(in []Value, out []float64) error {
	if err := checkRow("datetime", len(t.columns), len(t.outputs), in, out); err != nil {
		return err
	}
	np := len(t.parts)
	for i, v := range in {
		o := out[i*np : (i+1)*np]
		if v.IsNull() {
			for j := range o {
				o[j] = math.NaN()
			}
			continue
		}
		var tm time.Time
		if s, ok := v.Str(); ok {
			var err error
			if tm, err = t.parse(s); err != nil {
				return inputErr("datetime", t.columns[i], -1, v.String(), err)
			}
		} else if tm, ok = v.TimeValue(); !ok {
			return inputErr("datetime", t.columns[i], -1, v.String(), fmt.Errorf("%w: got a %s, want a time or a string", ErrType, v.kindName()))
		}
		t.fillRow(tm, o)
	}
	return nil
}
