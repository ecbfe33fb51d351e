package features

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// robust is RobustScaler: (x - median) / (q_hi - q_lo) over the
// non-missing values, with percentiles by NumPy's linear interpolation (as
// numpy.nanpercentile and numpy.nanmedian compute them). A zero range gets
// scale 1.
//
// Parameters: with_centering (default true), with_scaling (default true),
// quantile_range [lo, hi] in percent (default [25, 75]), unit_variance
// (default false; true divides the scale by the normal distribution's
// range between the same quantiles, so normal data gets variance 1). In
// sketch mode (FitOptions.Quantiles) median and quantiles are approximate.
type robust struct {
	numBase
	p      robustParams
	fitted bool
	center []float64
	scale  []float64
}

type robustParams struct {
	WithCentering bool       `json:"with_centering"`
	WithScaling   bool       `json:"with_scaling"`
	QuantileRange [2]float64 `json:"quantile_range"`
	UnitVariance  bool       `json:"unit_variance"`
}

type robustState struct {
	Center []jsonFloat `json:"center"`
	Scale  []jsonFloat `json:"scale"`
}

func newRobust(cols []string, params json.RawMessage) (*robust, error) {
	t := &robust{numBase: numBase{"robust", cols}, p: robustParams{true, true, [2]float64{25, 75}, false}}
	if err := validColumns(t.kind, cols); err != nil {
		return nil, err
	}
	if err := decodeParams(t.kind, params, &t.p); err != nil {
		return nil, err
	}
	if q := t.p.QuantileRange; !(0 <= q[0] && q[0] <= q[1] && q[1] <= 100) {
		return nil, fmt.Errorf("%w: robust: invalid quantile_range %v", ErrSpec, q)
	}
	return t, nil
}

func init() {
	registerKind("robust", kind{
		New: func(cols []string, params json.RawMessage) (Transform, error) { return newRobust(cols, params) },
		Load: func(cols []string, params, state json.RawMessage) (Transform, error) {
			t, err := newRobust(cols, params)
			if err != nil {
				return nil, err
			}
			var s robustState
			if err := decodeState(t.kind, state, &s); err != nil {
				return nil, err
			}
			if err := checkLen(t.kind, "center", len(s.Center), len(cols)); err != nil {
				return nil, err
			}
			if err := checkLen(t.kind, "scale", len(s.Scale), len(cols)); err != nil {
				return nil, err
			}
			t.center, t.scale = plainFloats(s.Center), plainFloats(s.Scale)
			t.fitted = true
			return t, nil
		},
	})
}

func (t *robust) Outputs() []string { return t.cols }
func (t *robust) Fitted() bool      { return t.fitted }
func (t *robust) Params() any       { return t.p }

func (t *robust) State() any {
	if !t.fitted {
		return nil
	}
	return robustState{jsonFloats(t.center), jsonFloats(t.scale)}
}

func (t *robust) f(j int, x float64) float64 { return (x - t.center[j]) / t.scale[j] }

func (t *robust) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNum(t.kind, t.cols, cols, out, t.f)
}

func (t *robust) ApplyRow(in []Value, out []float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNumRow(t.kind, t.cols, in, out, t.f)
}

func (t *robust) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	f := &robustFitter{t: t}
	f.setFitOptions(FitOptions{})
	return f, nil
}

type robustFitter struct {
	t       *robust
	q       []quantiles
	scratch []float64
}

func (f *robustFitter) setFitOptions(o FitOptions) {
	f.q = make([]quantiles, len(f.t.cols))
	for j := range f.q {
		f.q[j] = newQuantiles(o)
	}
}

func (f *robustFitter) Add(cols []arrow.Array) error {
	return addNum(f.t.kind, f.t.cols, cols, &f.scratch, func(j int, x float64) { f.q[j].add(x) })
}

func (f *robustFitter) Merge(other Fitter) error {
	o, ok := other.(*robustFitter)
	if !ok || len(o.q) != len(f.q) {
		return mergeTypeErr(f.t.kind, other)
	}
	for j := range f.q {
		if err := f.q[j].merge(o.q[j]); err != nil {
			return err
		}
	}
	return nil
}

// normPPF is the standard normal quantile function.
func normPPF(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

func (f *robustFitter) Finish() (Transform, error) {
	t := *f.t
	k := len(t.cols)
	t.center, t.scale = make([]float64, k), make([]float64, k)
	qlo, qhi := t.p.QuantileRange[0], t.p.QuantileRange[1]
	for j := range k {
		q := f.q[j]
		center, scale := 0.0, 1.0
		if t.p.WithCentering {
			center = q.median()
		}
		if t.p.WithScaling {
			lo, hi := q.quantile(qlo/100), q.quantile(qhi/100)
			scale = handleZerosInScale(hi - lo)
			if q.count() == 0 {
				scale = math.NaN()
			}
			if t.p.UnitVariance {
				scale = scale / (normPPF(qhi/100) - normPPF(qlo/100))
			}
		}
		t.center[j], t.scale[j] = center, scale
	}
	t.fitted = true
	return &t, nil
}
