package features

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// clip limits values to [min, max], as numpy.clip. It is stateless.
// Parameters: min and max, each optional (null or absent: no bound), at
// least one given, min <= max. Missing values stay NaN.
type clip struct {
	numBase
	p      clipParams
	lo, hi float64
}

type clipParams struct {
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
}

func newClip(cols []string, params json.RawMessage) (Transform, error) {
	t := &clip{numBase: numBase{"clip", cols}}
	if err := validColumns(t.kind, cols); err != nil {
		return nil, err
	}
	if err := decodeParams(t.kind, params, &t.p); err != nil {
		return nil, err
	}
	if t.p.Min == nil && t.p.Max == nil {
		return nil, fmt.Errorf("%w: clip: give min, max or both", ErrSpec)
	}
	t.lo, t.hi = math.Inf(-1), math.Inf(1)
	if t.p.Min != nil {
		t.lo = *t.p.Min
	}
	if t.p.Max != nil {
		t.hi = *t.p.Max
	}
	if !(t.lo <= t.hi) {
		return nil, fmt.Errorf("%w: clip: min %g above max %g", ErrSpec, t.lo, t.hi)
	}
	return t, nil
}

func init() {
	registerKind("clip", kind{
		New:  newClip,
		Load: func(cols []string, params, _ json.RawMessage) (Transform, error) { return newClip(cols, params) },
	})
}

func (t *clip) Outputs() []string { return t.cols }
func (t *clip) Fitted() bool      { return true }
func (t *clip) Params() any       { return t.p }
func (t *clip) State() any        { return nil }

func (t *clip) f(_ int, x float64) float64 {
	// NaN compares false both ways and passes through.
	if x < t.lo {
		return t.lo
	}
	if x > t.hi {
		return t.hi
	}
	return x
}

func (t *clip) Apply(cols []arrow.Array, out [][]float64) error {
	return applyNum(t.kind, t.cols, cols, out, t.f)
}

func (t *clip) ApplyRow(in []Value, out []float64) error {
	return applyNumRow(t.kind, t.cols, in, out, t.f)
}

func (t *clip) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	return statelessFitter{t}, nil
}
