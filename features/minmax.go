package features

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// minmax is MinMaxScaler: x*scale + min, with scale = (hi-lo)/(max-min)
// and min = lo - data_min*scale over the non-missing values, as
// scikit-learn computes it (a zero range gets scale hi-lo).
//
// Parameters: feature_range [lo, hi] (default [0, 1], lo < hi), clip
// (default false; true clips outputs into feature_range).
type minmax struct {
	numBase
	p       minmaxParams
	fitted  bool
	dataMin []float64
	dataMax []float64
	scale   []float64
	min     []float64
}

type minmaxParams struct {
	FeatureRange [2]float64 `json:"feature_range"`
	Clip         bool       `json:"clip"`
}

type minmaxState struct {
	DataMin []jsonFloat `json:"data_min"`
	DataMax []jsonFloat `json:"data_max"`
	Scale   []jsonFloat `json:"scale"`
	Min     []jsonFloat `json:"min"`
}

func newMinmax(cols []string, params json.RawMessage) (*minmax, error) {
	t := &minmax{numBase: numBase{"minmax", cols}, p: minmaxParams{FeatureRange: [2]float64{0, 1}}}
	if err := validColumns(t.kind, cols); err != nil {
		return nil, err
	}
	if err := decodeParams(t.kind, params, &t.p); err != nil {
		return nil, err
	}
	if r := t.p.FeatureRange; !(r[0] < r[1]) || math.IsInf(r[0], 0) || math.IsInf(r[1], 0) {
		return nil, fmt.Errorf("%w: minmax: feature_range %v: minimum must be smaller than maximum", ErrSpec, r)
	}
	return t, nil
}

func init() {
	registerKind("minmax", kind{
		New: func(cols []string, params json.RawMessage) (Transform, error) { return newMinmax(cols, params) },
		Load: func(cols []string, params, state json.RawMessage) (Transform, error) {
			t, err := newMinmax(cols, params)
			if err != nil {
				return nil, err
			}
			var s minmaxState
			if err := decodeState(t.kind, state, &s); err != nil {
				return nil, err
			}
			for _, c := range []struct {
				f string
				n int
			}{{"data_min", len(s.DataMin)}, {"data_max", len(s.DataMax)}, {"scale", len(s.Scale)}, {"min", len(s.Min)}} {
				if err := checkLen(t.kind, c.f, c.n, len(cols)); err != nil {
					return nil, err
				}
			}
			t.dataMin, t.dataMax, t.scale, t.min = plainFloats(s.DataMin), plainFloats(s.DataMax), plainFloats(s.Scale), plainFloats(s.Min)
			t.fitted = true
			return t, nil
		},
	})
}

func (t *minmax) Outputs() []string { return t.cols }
func (t *minmax) Fitted() bool      { return t.fitted }
func (t *minmax) Params() any       { return t.p }

func (t *minmax) State() any {
	if !t.fitted {
		return nil
	}
	return minmaxState{jsonFloats(t.dataMin), jsonFloats(t.dataMax), jsonFloats(t.scale), jsonFloats(t.min)}
}

func (t *minmax) f(j int, x float64) float64 {
	y := float64(x*t.scale[j]) + t.min[j]
	if t.p.Clip {
		// np.clip: NaN stays NaN.
		y = math.Min(math.Max(y, t.p.FeatureRange[0]), t.p.FeatureRange[1])
	}
	return y
}

func (t *minmax) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNum(t.kind, t.cols, cols, out, t.f)
}

func (t *minmax) ApplyRow(in []Value, out []float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNumRow(t.kind, t.cols, in, out, t.f)
}

func (t *minmax) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	f := &minmaxFitter{t: t, lo: make([]float64, len(t.cols)), hi: make([]float64, len(t.cols))}
	for j := range f.lo {
		f.lo[j], f.hi[j] = math.Inf(1), math.Inf(-1)
	}
	return f, nil
}

type minmaxFitter struct {
	t       *minmax
	lo, hi  []float64
	scratch []float64
}

func (f *minmaxFitter) Add(cols []arrow.Array) error {
	return addNum(f.t.kind, f.t.cols, cols, &f.scratch, func(j int, x float64) {
		if x < f.lo[j] {
			f.lo[j] = x
		}
		if x > f.hi[j] {
			f.hi[j] = x
		}
	})
}

func (f *minmaxFitter) Merge(other Fitter) error {
	o, ok := other.(*minmaxFitter)
	if !ok || len(o.lo) != len(f.lo) {
		return mergeTypeErr(f.t.kind, other)
	}
	for j := range f.lo {
		f.lo[j] = min(f.lo[j], o.lo[j])
		f.hi[j] = max(f.hi[j], o.hi[j])
	}
	return nil
}

func (f *minmaxFitter) Finish() (Transform, error) {
	t := *f.t
	k := len(t.cols)
	t.dataMin, t.dataMax, t.scale, t.min = make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	lo, hi := t.p.FeatureRange[0], t.p.FeatureRange[1]
	for j := range k {
		dmin, dmax := f.lo[j], f.hi[j]
		if dmin > dmax { // no values: NaN statistics, outputs NaN
			dmin, dmax = math.NaN(), math.NaN()
		}
		scale := (hi - lo) / handleZerosInScale(dmax-dmin)
		t.dataMin[j], t.dataMax[j] = dmin, dmax
		t.scale[j] = scale
		t.min[j] = lo - float64(dmin*scale)
	}
	t.fitted = true
	return &t, nil
}
