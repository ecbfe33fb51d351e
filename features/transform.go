package features

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// A Transform is one configured step over input columns, fitted or not. All
// outputs are float64.
//
// A Transform value is immutable once fitted: fitting makes a new value
// (Fitter.Finish), so a fitted transform is safe for concurrent Apply and
// ApplyRow calls.
type Transform interface {
	// Kind is the transform's spec name ("standard", "onehot", ...).
	Kind() string
	// Inputs are the columns read at apply time, in order.
	Inputs() []string
	// Outputs are the output column names, in order. They are known once
	// the transform is fitted (one-hot outputs depend on the categories).
	Outputs() []string
	// Fitted reports whether the transform can be applied. Stateless kinds
	// are always fitted.
	Fitted() bool
	// NewFitter starts a fit. types are the Arrow types of the fit input
	// columns (FitInputs when the transform implements FitInputser, else
	// Inputs), in order; a type the transform cannot read is an error
	// wrapping ErrType that names the column.
	NewFitter(types []arrow.DataType) (Fitter, error)
	// Apply computes the outputs of every row of cols, the Inputs columns of
	// one batch: out[j] is output j, with len(out[j]) == rows. It gives
	// bit-identical results to ApplyRow on each row.
	Apply(cols []arrow.Array, out [][]float64) error
	// ApplyRow computes the outputs of one row: in holds the Inputs values
	// in order, and len(out) == len(Outputs()).
	ApplyRow(in []Value, out []float64) error
	// Params returns the JSON-marshalable parameters, named as scikit-learn
	// names them.
	Params() any
	// State returns the JSON-marshalable fitted state, or nil if there is
	// none.
	State() any
}

// FitInputser is implemented by transforms that read more columns when
// fitting than when applying (target encoding also reads the target).
type FitInputser interface {
	FitInputs() []string
}

// A Fitter accumulates the statistics of a fit. A Fitter is used by one
// goroutine; partial fits made in parallel combine with Merge.
type Fitter interface {
	// Add adds one batch's fit input columns (FitInputs, else Inputs).
	Add(cols []arrow.Array) error
	// Merge adds the statistics of other, a Fitter of the same transform.
	// Exact statistics stay exact: a fit merged from partitions equals the
	// fit of the whole.
	Merge(other Fitter) error
	// Finish returns the fitted transform, a new value.
	Finish() (Transform, error)
}

// fitOptionSetter is implemented by fitters whose statistics depend on the
// FitOptions (quantile mode). The column transformer calls it right after
// NewFitter.
type fitOptionSetter interface {
	setFitOptions(FitOptions)
}

// kind is a registered transform kind.
type kind struct {
	// New makes an unfitted transform from a spec entry; an unknown or bad
	// parameter is an error wrapping ErrSpec.
	New func(columns []string, params json.RawMessage) (Transform, error)
	// Load makes a fitted transform from saved parameters and state.
	Load func(columns []string, params, state json.RawMessage) (Transform, error)
}

var kinds = map[string]kind{}

// registerKind registers a transform kind; each transform's file calls it
// from init.
func registerKind(name string, k kind) {
	if _, dup := kinds[name]; dup {
		panic("features: kind registered twice: " + name)
	}
	kinds[name] = k
}

// Kinds returns the names of the registered transform kinds, sorted.
func Kinds() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// decodeParams decodes a JSON object of parameters into dst, a pointer to a
// struct, rejecting unknown fields. Empty or null params leave dst as is.
func decodeParams(kind string, raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrSpec, kind, err)
	}
	return nil
}

// decodeState decodes saved state into dst, rejecting unknown fields.
func decodeState(kind string, raw json.RawMessage, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("%w: %s: no state", ErrState, kind)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrState, kind, err)
	}
	return nil
}

// jsonFloat is a float64 that encodes NaN and ±Inf as the JSON strings
// "NaN", "Infinity" and "-Infinity", and finite values as Go's shortest
// round-tripping decimal, so saved state reloads bit for bit.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte(`"NaN"`), nil
	case math.IsInf(x, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case `"Infinity"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Infinity"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("bad number %s", b)
	}
	*f = jsonFloat(x)
	return nil
}

// jsonFloats converts a slice for JSON.
func jsonFloats(xs []float64) []jsonFloat {
	out := make([]jsonFloat, len(xs))
	for i, x := range xs {
		out[i] = jsonFloat(x)
	}
	return out
}

// plainFloats converts a slice back from JSON.
func plainFloats(xs []jsonFloat) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// isNumericType reports whether a numeric transform can read dt: every
// integer and floating-point type, and bool (as 0 and 1).
func isNumericType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL:
		return true
	}
	return false
}

// isStringType reports whether a string transform can read dt: string,
// large_string, string_view and dictionaries of those.
func isStringType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		return true
	case arrow.DICTIONARY:
		return isStringType(dt.(*arrow.DictionaryType).ValueType)
	}
	return false
}

// checkNumericTypes returns an ErrType error naming the first column whose
// type is not numeric.
func checkNumericTypes(kind string, columns []string, types []arrow.DataType) error {
	if len(types) != len(columns) {
		return fmt.Errorf("features: %s: %d column types for %d columns", kind, len(types), len(columns))
	}
	for i, dt := range types {
		if !isNumericType(dt) {
			return fmt.Errorf("%w: %s: column %q has type %s, want a number", ErrType, kind, columns[i], dt)
		}
	}
	return nil
}

// checkStringTypes returns an ErrType error naming the first column whose
// type is not a string type.
func checkStringTypes(kind string, columns []string, types []arrow.DataType) error {
	if len(types) != len(columns) {
		return fmt.Errorf("features: %s: %d column types for %d columns", kind, len(types), len(columns))
	}
	for i, dt := range types {
		if !isStringType(dt) {
			return fmt.Errorf("%w: %s: column %q has type %s, want a string", ErrType, kind, columns[i], dt)
		}
	}
	return nil
}

// floatsOf converts a numeric column to float64 in dst (grown to the
// column's length), with NaN for nulls. Integers convert with Go's
// float64(x), as Int does for single-row values.
func floatsOf(kind, column string, arr arrow.Array, dst []float64) ([]float64, error) {
	n := arr.Len()
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	switch a := arr.(type) {
	case *array.Float64:
		copy(dst, a.Float64Values())
	case *array.Float32:
		for i, x := range a.Float32Values() {
			dst[i] = float64(x)
		}
	case *array.Float16:
		for i, x := range a.Values() {
			dst[i] = float64(x.Float32())
		}
	case *array.Int64:
		for i, x := range a.Int64Values() {
			dst[i] = float64(x)
		}
	case *array.Int32:
		for i, x := range a.Int32Values() {
			dst[i] = float64(x)
		}
	case *array.Int16:
		for i, x := range a.Int16Values() {
			dst[i] = float64(x)
		}
	case *array.Int8:
		for i, x := range a.Int8Values() {
			dst[i] = float64(x)
		}
	case *array.Uint64:
		for i, x := range a.Uint64Values() {
			dst[i] = float64(x)
		}
	case *array.Uint32:
		for i, x := range a.Uint32Values() {
			dst[i] = float64(x)
		}
	case *array.Uint16:
		for i, x := range a.Uint16Values() {
			dst[i] = float64(x)
		}
	case *array.Uint8:
		for i, x := range a.Uint8Values() {
			dst[i] = float64(x)
		}
	case *array.Boolean:
		for i := range n {
			if a.Value(i) {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		return dst, fmt.Errorf("%w: %s: column %q has type %s, want a number", ErrType, kind, column, arr.DataType())
	}
	if arr.NullN() > 0 {
		setNullsNaN(arr, dst)
	}
	return dst, nil
}

// setNullsNaN writes NaN into dst at arr's null positions, skipping fully
// valid bytes of the validity bitmap.
func setNullsNaN(arr arrow.Array, dst []float64) {
	nan := math.NaN()
	bm := arr.NullBitmapBytes()
	off := arr.Data().Offset()
	n := len(dst)
	if len(bm) == 0 { // all null (null type) or no bitmap
		for i := range n {
			if arr.IsNull(i) {
				dst[i] = nan
			}
		}
		return
	}
	for i := 0; i < n; {
		p := off + i
		if p&7 == 0 && i+8 <= n && bm[p>>3] == 0xff {
			i += 8
			continue
		}
		if bm[p>>3]&(1<<(p&7)) == 0 {
			dst[i] = nan
		}
		i++
	}
}

// numOf reads a single-row numeric value: a number (NaN for missing) or an
// ErrType error naming the column.
func numOf(kind, column string, v Value) (float64, error) {
	switch v.kind {
	case kindNumber:
		return v.num, nil
	case kindNull:
		return math.NaN(), nil
	}
	return 0, inputErr(kind, column, -1, v.String(), fmt.Errorf("%w: got a %s, want a number", ErrType, v.kindName()))
}

// stringAt returns row i of a string column, and false for a null. It
// panics if arr is not a string type (check with isStringType first).
func stringAt(arr arrow.Array, i int) (string, bool) {
	if arr.IsNull(i) {
		return "", false
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i), true
	case *array.LargeString:
		return a.Value(i), true
	case *array.StringView:
		return a.Value(i), true
	case *array.Dictionary:
		j := a.GetValueIndex(i)
		if a.Dictionary().IsNull(j) {
			return "", false
		}
		return stringAt(a.Dictionary(), j)
	}
	panic("features: stringAt on " + arr.DataType().String())
}

// valueAt returns row i of arr as a single-row Value, the way batch apply
// reads it: numbers (and bools) as Float, strings as String, timestamps and
// dates as Time, nulls as Null. Types with no Value form give Null.
func valueAt(arr arrow.Array, i int) Value {
	if arr.IsNull(i) {
		return Null()
	}
	dt := arr.DataType()
	if isStringType(dt) {
		s, _ := stringAt(arr, i)
		return String(s)
	}
	if isNumericType(dt) {
		var buf [1]float64
		one := array.NewSlice(arr, int64(i), int64(i+1))
		f, err := floatsOf("", "", one, buf[:0])
		one.Release()
		if err != nil {
			return Null()
		}
		return Float(f[0])
	}
	switch a := arr.(type) {
	case *array.Timestamp:
		unit := dt.(*arrow.TimestampType).Unit
		return timeNanos(int64(a.Value(i)) * int64(unit.Multiplier()))
	case *array.Date32:
		return timeNanos(int64(a.Value(i)) * 86400e9)
	case *array.Date64:
		return timeNanos(int64(a.Value(i)) * 1e6)
	}
	return Null()
}
