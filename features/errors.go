package features

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap them, so test with
// [errors.Is].
var (
	// ErrSpec is returned for a spec that cannot be used: an unknown
	// transform name or parameter, a bad parameter value, no columns.
	ErrSpec = errors.New("features: bad spec")
	// ErrNotFitted is returned when a transform that needs fitting is applied
	// (or saved) before it was fitted.
	ErrNotFitted = errors.New("features: transform not fitted")
	// ErrType is returned when a column has a type the transform cannot read
	// (a string column given to a scaler), or a single-row Value has the
	// wrong kind.
	ErrType = errors.New("features: wrong column type")
	// ErrMissingColumn is returned when an input column is not in the batch
	// or row being fitted or applied.
	ErrMissingColumn = errors.New("features: missing column")
	// ErrNonFinite is returned for +Inf or -Inf in a numeric column, at fit
	// and at apply time (as scikit-learn rejects infinity). NaN and null are
	// missing values, not errors.
	ErrNonFinite = errors.New("features: infinite value")
	// ErrMissingValue is returned when a transform that cannot handle
	// missing values (an encoder with no missing category) meets one.
	ErrMissingValue = errors.New("features: missing value")
	// ErrUnknownCategory is returned by encoders configured with
	// handle_unknown "error" for a category not seen at fit time.
	ErrUnknownCategory = errors.New("features: unknown category")
	// ErrState is returned by Load for saved state that is malformed, has
	// an unknown format or version, or does not match its transform.
	ErrState = errors.New("features: bad saved state")
)

// InputError reports a bad input value, with its position.
type InputError struct {
	Transform string // transform kind ("standard", "onehot", ...)
	Column    string // input column
	Row       int    // 0-based row within the batch; -1 for single-row apply
	Value     string // the offending value, formatted; "" if none
	Err       error  // the cause, one of the sentinels above
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString("features: ")
	if e.Transform != "" {
		b.WriteString(e.Transform)
		b.WriteString(": ")
	}
	b.WriteString("column ")
	b.WriteString(strconv.Quote(e.Column))
	if e.Row >= 0 {
		b.WriteString(" row ")
		b.WriteString(strconv.Itoa(e.Row))
	}
	if e.Value != "" {
		b.WriteString(" value ")
		b.WriteString(e.Value)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "features: "))
	}
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// inputErr builds an *InputError.
func inputErr(kind, column string, row int, value string, err error) error {
	return &InputError{Transform: kind, Column: column, Row: row, Value: value, Err: err}
}

// errTooLarge is the cause for a value whose square overflows float64,
// which leaves the variance undefined.
var errTooLarge = errors.New("features: |value| above 1e150, variance overflows")
