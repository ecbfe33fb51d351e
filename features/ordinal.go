package features

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// OrdinalParams are the parameters of the "ordinal" transform, named after
// scikit-learn 1.2's OrdinalEncoder.
type OrdinalParams struct {
	// HandleUnknown is "error" (default: ErrUnknownCategory) or
	// "use_encoded_value" (UnknownValue).
	HandleUnknown string `json:"handle_unknown"`
	// UnknownValue is the output for an unknown category with
	// handle_unknown "use_encoded_value": an integer, or "NaN". It must not
	// be the code of a fitted category.
	UnknownValue *jsonFloat `json:"unknown_value"`
	// EncodedMissingValue is the output for a missing value (null, NaN)
	// when missing values were seen at fit time; default NaN ("NaN" in
	// JSON).
	EncodedMissingValue *jsonFloat `json:"encoded_missing_value,omitempty"`
}

// Ordinal is the "ordinal" transform: each input column becomes one output
// of the same name holding the index of its category among the sorted
// categories (0, 1, ...). A missing value seen at fit time is encoded as
// encoded_missing_value (NaN by default), as in scikit-learn 1.2; one not
// seen at fit time is an unknown category.
type Ordinal struct {
	columns []string
	params  OrdinalParams
	cats    []*catSet
}

func init() {
	registerKind("ordinal", kind{New: newOrdinalSpec, Load: loadOrdinal})
}

func newOrdinalSpec(columns []string, raw json.RawMessage) (Transform, error) {
	var p OrdinalParams
	if err := decodeParams("ordinal", raw, &p); err != nil {
		return nil, err
	}
	return NewOrdinal(columns, p)
}

// NewOrdinal returns an unfitted ordinal encoder.
func NewOrdinal(columns []string, p OrdinalParams) (*Ordinal, error) {
	if err := validColumns("ordinal", columns); err != nil {
		return nil, err
	}
	if p.HandleUnknown == "" {
		p.HandleUnknown = "error"
	}
	switch p.HandleUnknown {
	case "error":
		if p.UnknownValue != nil {
			return nil, fmt.Errorf("%w: ordinal: unknown_value needs handle_unknown \"use_encoded_value\"", ErrSpec)
		}
	case "use_encoded_value":
		if p.UnknownValue == nil {
			return nil, fmt.Errorf("%w: ordinal: handle_unknown \"use_encoded_value\" needs unknown_value", ErrSpec)
		}
		if u := float64(*p.UnknownValue); u == u && u != math.Trunc(u) {
			return nil, fmt.Errorf("%w: ordinal: unknown_value %v is not an integer or NaN", ErrSpec, u)
		}
	default:
		return nil, fmt.Errorf("%w: ordinal: handle_unknown %q (want error or use_encoded_value)", ErrSpec, p.HandleUnknown)
	}
	if p.EncodedMissingValue != nil {
		if m := float64(*p.EncodedMissingValue); m == m && m != math.Trunc(m) {
			return nil, fmt.Errorf("%w: ordinal: encoded_missing_value %v is not an integer or NaN", ErrSpec, m)
		}
	}
	return &Ordinal{columns: slices.Clone(columns), params: p}, nil
}

func (t *Ordinal) Kind() string     { return "ordinal" }
func (t *Ordinal) Inputs() []string { return slices.Clone(t.columns) }
func (t *Ordinal) Outputs() []string {
	if !t.Fitted() {
		return nil
	}
	return slices.Clone(t.columns)
}
func (t *Ordinal) Fitted() bool { return t.cats != nil }
func (t *Ordinal) Params() any  { return t.params }

func (t *Ordinal) State() any {
	if !t.Fitted() {
		return nil
	}
	return t.cats
}

func (t *Ordinal) missingValue() float64 {
	if t.params.EncodedMissingValue == nil {
		return math.NaN()
	}
	return float64(*t.params.EncodedMissingValue)
}

// check applies scikit-learn's fit-time checks: unknown_value and
// encoded_missing_value must not collide with a category's code.
func (t *Ordinal) check() error {
	for i, s := range t.cats {
		n := float64(len(s.Strings) + len(s.Numbers))
		if t.params.UnknownValue != nil {
			if u := float64(*t.params.UnknownValue); u >= 0 && u < n {
				return fmt.Errorf("%w: ordinal: column %q: unknown_value %v is the code of a category", ErrSpec, t.columns[i], u)
			}
		}
		if s.Missing {
			if m := t.missingValue(); m >= 0 && m < n {
				return fmt.Errorf("%w: ordinal: column %q: encoded_missing_value %v is the code of a category", ErrSpec, t.columns[i], m)
			}
		}
	}
	return nil
}

func loadOrdinal(columns []string, params, state json.RawMessage) (Transform, error) {
	tr, err := newOrdinalSpec(columns, params)
	if err != nil {
		return nil, err
	}
	t := tr.(*Ordinal)
	var cats []*catSet
	if err := decodeState("ordinal", state, &cats); err != nil {
		return nil, err
	}
	if len(cats) != len(columns) {
		return nil, fmt.Errorf("%w: ordinal: state for %d columns, want %d", ErrState, len(cats), len(columns))
	}
	for i, s := range cats {
		if s == nil {
			return nil, fmt.Errorf("%w: ordinal: column %q: no categories", ErrState, columns[i])
		}
		if err := s.validate("ordinal", columns[i]); err != nil {
			return nil, err
		}
	}
	t.cats = cats
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	return t, nil
}

type ordinalFitter struct {
	t        *Ordinal
	counters []*catCounter
}

func (t *Ordinal) NewFitter(types []arrow.DataType) (Fitter, error) {
	if len(types) != len(t.columns) {
		return nil, fmt.Errorf("features: ordinal: %d column types for %d columns", len(types), len(t.columns))
	}
	f := &ordinalFitter{t: t}
	for i, dt := range types {
		c, err := newCatCounter("ordinal", t.columns[i], dt)
		if err != nil {
			return nil, err
		}
		f.counters = append(f.counters, c)
	}
	return f, nil
}

func (f *ordinalFitter) Add(cols []arrow.Array) error {
	if len(cols) != len(f.counters) {
		return fmt.Errorf("features: ordinal: %d columns for %d inputs", len(cols), len(f.counters))
	}
	for i, c := range f.counters {
		if err := c.add(cols[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *ordinalFitter) Merge(other Fitter) error {
	o, ok := other.(*ordinalFitter)
	if !ok || len(o.counters) != len(f.counters) {
		return fmt.Errorf("features: ordinal: cannot merge a %T", other)
	}
	for i, c := range f.counters {
		if err := c.merge(o.counters[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *ordinalFitter) Finish() (Transform, error) {
	t := &Ordinal{columns: f.t.columns, params: f.t.params}
	t.cats = make([]*catSet, len(f.counters))
	for i, c := range f.counters {
		t.cats[i], _ = c.finish()
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// encode returns the output for category code c of column i.
func (t *Ordinal) encode(i int, c int32) (float64, error) {
	s := t.cats[i]
	if c >= 0 {
		if s.Missing && c == s.missingCode() {
			return t.missingValue(), nil
		}
		return float64(c), nil
	}
	if t.params.HandleUnknown == "use_encoded_value" {
		return float64(*t.params.UnknownValue), nil
	}
	return 0, ErrUnknownCategory
}

func (t *Ordinal) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: ordinal", ErrNotFitted)
	}
	if _, err := checkApply("ordinal", len(t.columns), len(t.columns), cols, out); err != nil {
		return err
	}
	var codes []int32
	var buf []float64
	var err error
	for i, s := range t.cats {
		codes, buf, err = s.codes("ordinal", t.columns[i], cols[i], codes, buf)
		if err != nil {
			return err
		}
		o := out[i]
		for r, c := range codes {
			v, err := t.encode(i, c)
			if err != nil {
				return inputErr("ordinal", t.columns[i], r, cellString(cols[i], r), err)
			}
			o[r] = v
		}
	}
	return nil
}

func (t *Ordinal) ApplyRow(in []Value, out []float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: ordinal", ErrNotFitted)
	}
	if err := checkRow("ordinal", len(t.columns), len(t.columns), in, out); err != nil {
		return err
	}
	for i, s := range t.cats {
		c, err := s.code("ordinal", t.columns[i], in[i])
		if err != nil {
			return err
		}
		v, err := t.encode(i, c)
		if err != nil {
			return inputErr("ordinal", t.columns[i], -1, in[i].String(), err)
		}
		out[i] = v
	}
	return nil
}
