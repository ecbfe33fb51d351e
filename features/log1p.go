package features

import (
	"encoding/json"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// log1p is log(1 + x), as numpy.log1p (scikit-learn's
// FunctionTransformer(np.log1p)). It is stateless. Missing values stay NaN;
// x = -1 gives -Inf and x < -1 gives NaN, as in NumPy. It has no
// parameters.
type log1p struct{ numBase }

func newLog1p(cols []string, params json.RawMessage) (Transform, error) {
	t := &log1p{numBase{"log1p", cols}}
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
	registerKind("log1p", kind{
		New:  newLog1p,
		Load: func(cols []string, params, _ json.RawMessage) (Transform, error) { return newLog1p(cols, params) },
	})
}

func (t *log1p) Outputs() []string { return t.cols }
func (t *log1p) Fitted() bool      { return true }
func (t *log1p) Params() any       { return struct{}{} }
func (t *log1p) State() any        { return nil }

func (t *log1p) f(_ int, x float64) float64 { return math.Log1p(x) }

func (t *log1p) Apply(cols []arrow.Array, out [][]float64) error {
	return applyNum(t.kind, t.cols, cols, out, t.f)
}

func (t *log1p) ApplyRow(in []Value, out []float64) error {
	return applyNumRow(t.kind, t.cols, in, out, t.f)
}

func (t *log1p) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	return statelessFitter{t}, nil
}
