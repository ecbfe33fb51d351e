package features

import (
	"encoding/json"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
)

// standard is StandardScaler: (x - mean) / std with the population standard
// deviation (ddof 0), over the non-missing values of each column.
//
// Parameters: with_mean (default true; false uses mean 0), with_std
// (default true; false uses scale 1). A constant column gets scale 1, as in
// scikit-learn. Mean and variance are computed exactly (see exactSum) and
// rounded once, so they do not depend on partitioning; scikit-learn's
// floating-point sums may differ in the last bits.
type standard struct {
	numBase
	p      standardParams
	fitted bool
	mean   []float64
	vars   []float64
	scale  []float64
	n      []int64
}

type standardParams struct {
	WithMean bool `json:"with_mean"`
	WithStd  bool `json:"with_std"`
}

type standardState struct {
	Mean  []jsonFloat `json:"mean"`
	Var   []jsonFloat `json:"var"`
	Scale []jsonFloat `json:"scale"`
	N     []int64     `json:"n_samples_seen"`
}

func init() {
	registerKind("standard", kind{
		New: func(cols []string, params json.RawMessage) (Transform, error) {
			t := &standard{numBase: numBase{"standard", cols}, p: standardParams{true, true}}
			if err := validColumns(t.kind, cols); err != nil {
				return nil, err
			}
			if err := decodeParams(t.kind, params, &t.p); err != nil {
				return nil, err
			}
			return t, nil
		},
		Load: func(cols []string, params, state json.RawMessage) (Transform, error) {
			t := &standard{numBase: numBase{"standard", cols}, p: standardParams{true, true}}
			if err := decodeParams(t.kind, params, &t.p); err != nil {
				return nil, err
			}
			var s standardState
			if err := decodeState(t.kind, state, &s); err != nil {
				return nil, err
			}
			for _, c := range []struct {
				f string
				n int
			}{{"mean", len(s.Mean)}, {"var", len(s.Var)}, {"scale", len(s.Scale)}, {"n_samples_seen", len(s.N)}} {
				if err := checkLen(t.kind, c.f, c.n, len(cols)); err != nil {
					return nil, err
				}
			}
			t.mean, t.vars, t.scale, t.n = plainFloats(s.Mean), plainFloats(s.Var), plainFloats(s.Scale), s.N
			t.fitted = true
			return t, nil
		},
	})
}

func (t *standard) Outputs() []string { return t.cols }
func (t *standard) Fitted() bool      { return t.fitted }
func (t *standard) Params() any       { return t.p }

func (t *standard) State() any {
	if !t.fitted {
		return nil
	}
	return standardState{jsonFloats(t.mean), jsonFloats(t.vars), jsonFloats(t.scale), t.n}
}

func (t *standard) f(j int, x float64) float64 { return (x - t.mean[j]) / t.scale[j] }

func (t *standard) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNum(t.kind, t.cols, cols, out, t.f)
}

func (t *standard) ApplyRow(in []Value, out []float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	return applyNumRow(t.kind, t.cols, in, out, t.f)
}

func (t *standard) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	f := &standardFitter{t: t, m: make([]momentSum, len(t.cols))}
	for i := range f.m {
		f.m[i].sq = t.p.WithStd
	}
	return f, nil
}

type standardFitter struct {
	t       *standard
	m       []momentSum
	scratch []float64
}

func (f *standardFitter) Add(cols []arrow.Array) error {
	return addNum(f.t.kind, f.t.cols, cols, &f.scratch, func(j int, x float64) { f.m[j].add(x) })
}

func (f *standardFitter) Merge(other Fitter) error {
	o, ok := other.(*standardFitter)
	if !ok || len(o.m) != len(f.m) {
		return mergeTypeErr(f.t.kind, other)
	}
	for i := range f.m {
		f.m[i].merge(&o.m[i])
	}
	return nil
}

func (f *standardFitter) Finish() (Transform, error) {
	t := *f.t
	k := len(t.cols)
	t.mean, t.vars, t.scale, t.n = make([]float64, k), make([]float64, k), make([]float64, k), make([]int64, k)
	for j := range f.m {
		m := &f.m[j]
		if m.bad {
			return nil, inputErr(t.kind, t.cols[j], -1, "", errTooLarge)
		}
		t.n[j] = m.n
		mean := 0.0
		if t.p.WithMean {
			mean = m.mean()
		}
		scale := 1.0
		v := math.NaN()
		if t.p.WithStd {
			v = m.variance()
			// scikit-learn's _is_constant_feature, then _handle_zeros_in_scale.
			mu := m.mean()
			nf := float64(m.n)
			upper := nf*eps*v + (nf*mu*eps)*(nf*mu*eps)
			if v <= upper {
				scale = 1
			} else {
				scale = handleZerosInScale(math.Sqrt(v))
			}
		}
		if m.n == 0 {
			// An all-missing column: outputs stay NaN, as in scikit-learn.
			mean, scale = math.NaN(), math.NaN()
			if !t.p.WithMean {
				mean = 0
			}
			if !t.p.WithStd {
				scale = 1
			}
		}
		t.mean[j], t.vars[j], t.scale[j] = mean, v, scale
	}
	t.fitted = true
	return &t, nil
}
