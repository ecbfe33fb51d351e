package features

import (
	"encoding/json"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// passthrough copies numeric columns to the output as float64 (bool as 0
// and 1, null as NaN). Unlike the scalers it passes ±Inf through unchanged.
// It is stateless and has no parameters.
type passthrough struct{ numBase }

func newPassthrough(cols []string, params json.RawMessage) (Transform, error) {
	t := &passthrough{numBase{"passthrough", cols}}
	if err := validColumns(t.kind, cols); err != nil {
		return nil, err
	}
	var p struct{}
	if err := decodeParams(t.kind, params, &p); err != nil {
		return nil, err
	}
	return t, nil
}

func init() {
	registerKind("passthrough", kind{
		New:  newPassthrough,
		Load: func(cols []string, params, _ json.RawMessage) (Transform, error) { return newPassthrough(cols, params) },
	})
}

func (t *passthrough) Outputs() []string { return t.cols }
func (t *passthrough) Fitted() bool      { return true }
func (t *passthrough) Params() any       { return struct{}{} }
func (t *passthrough) State() any        { return nil }

func (t *passthrough) Apply(cols []arrow.Array, out [][]float64) error {
	if err := checkArity(t.kind, "arrays", len(cols), len(t.cols)); err != nil {
		return err
	}
	if err := checkArity(t.kind, "outputs", len(out), len(t.cols)); err != nil {
		return err
	}
	for j, a := range cols {
		if len(out[j]) != a.Len() {
			return fmt.Errorf("features: %s: output %d has %d rows for %d", t.kind, j, len(out[j]), a.Len())
		}
		if _, err := floatsOf(t.kind, t.cols[j], a, out[j][:0]); err != nil {
			return err
		}
	}
	return nil
}

func (t *passthrough) ApplyRow(in []Value, out []float64) error {
	if err := checkArity(t.kind, "values", len(in), len(t.cols)); err != nil {
		return err
	}
	for j := range in {
		x, err := numOf(t.kind, t.cols[j], in[j])
		if err != nil {
			return err
		}
		out[j] = x
	}
	return nil
}

func (t *passthrough) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	return statelessFitter{t}, nil
}
