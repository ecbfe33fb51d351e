package features

import (
	"encoding/json"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// maxabs is MaxAbsScaler: x / max|x| over the non-missing values (a zero
// maximum gets scale 1). It has no parameters.
type maxabs struct {
	numBase
	fitted bool
	maxAbs []float64
	scale  []float64
}

type maxabsState struct {
	MaxAbs []jsonFloat `json:"max_abs"`
	Scale  []jsonFloat `json:"scale"`
}

func newMaxabs(cols []string, params json.RawMessage) (*maxabs, error) {
	t := &maxabs{numBase: numBase{"maxabs", cols}}
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
	registerKind("maxabs", kind{
		New: func(cols []string, params json.RawMessage) (Transform, error) { return newMaxabs(cols, params) },
		Load: func(cols []string, params, state json.RawMessage) (Transform, error) {
			t, err := newMaxabs(cols, params)
			if err != nil {
				return nil, err
			}
			var s maxabsState
			if err := decodeState(t.kind, state, &s); err != nil {
				return nil, err
			}
			if err := checkLen(t.kind, "max_abs", len(s.MaxAbs), len(cols)); err != nil {
				return nil, err
			}
			if err := checkLen(t.kind, "scale", len(s.Scale), len(cols)); err != nil {
				return nil, err
			}
			t.maxAbs, t.scale = plainFloats(s.MaxAbs), plainFloats(s.Scale)
			t.fitted = true
			return t, nil
		},
	})
}

func (t *maxabs) Outputs() []string { return t.cols }
func (t *maxabs) Fitted() bool      { return t.fitted }
func (t *maxabs) Params() any       { return struct{}{} }

func (t *maxabs) State() any {
	if !t.fitted {
		return nil
	}
	return maxabsState{jsonFloats(t.maxAbs), jsonFloats(t.scale)}
}

func (t *maxabs) f(j int, x float64) float64 { return x / t.scale[j] }

func (t *maxabs) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNum(t.kind, t.cols, cols, out, t.f)
}

func (t *maxabs) ApplyRow(in []Value, out []float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNumRow(t.kind, t.cols, in, out, t.f)
}

func (t *maxabs) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	f := &maxabsFitter{t: t, m: make([]float64, len(t.cols)), n: make([]int64, len(t.cols))}
	return f, nil
}

type maxabsFitter struct {
	t       *maxabs
	m       []float64
	n       []int64
	scratch []float64
}

func (f *maxabsFitter) Add(cols []arrow.Array) error {
	return addNum(f.t.kind, f.t.cols, cols, &f.scratch, func(j int, x float64) {
		f.n[j]++
		if a := math.Abs(x); a > f.m[j] {
			f.m[j] = a
		}
	})
}

func (f *maxabsFitter) Merge(other Fitter) error {
	o, ok := other.(*maxabsFitter)
	if !ok || len(o.m) != len(f.m) {
		return mergeTypeErr(f.t.kind, other)
	}
	for j := range f.m {
		f.m[j] = max(f.m[j], o.m[j])
		f.n[j] += o.n[j]
	}
	return nil
}

func (f *maxabsFitter) Finish() (Transform, error) {
	t := *f.t
	k := len(t.cols)
	t.maxAbs, t.scale = make([]float64, k), make([]float64, k)
	for j := range k {
		m := f.m[j]
		if f.n[j] == 0 {
			m = math.NaN()
		}
		t.maxAbs[j] = m
		t.scale[j] = handleZerosInScale(m)
		if m != m {
			t.scale[j] = math.NaN()
		}
	}
	t.fitted = true
	return &t, nil
}
