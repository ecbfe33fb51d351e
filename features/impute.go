package features

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// impute is SimpleImputer for numeric columns: missing values (null and
// NaN) are replaced by a per-column statistic.
//
// Parameters, as scikit-learn 1.2 names them:
//   - strategy: "mean" (default; computed exactly), "median" (numpy.median
//     of the non-missing values; approximate in sketch mode),
//     "most_frequent" (the smallest of the most frequent values) or
//     "constant" (fill_value).
//   - fill_value: the number used by "constant" (default 0).
//   - add_indicator: add an output "<col>_missing" (1 for a missing input,
//     else 0) after all imputed outputs, for each column that had missing
//     values at fit time (scikit-learn's features="missing-only").
//   - keep_empty_features: a column with no value at fit time is dropped
//     from the outputs (false, the default, as scikit-learn) or imputed
//     with 0 (true). "constant" never drops.
//
// Kiln differs from scikit-learn in one way: string columns are not
// accepted (outputs are numbers); encoders handle missing strings.
type impute struct {
	numBase
	p       imputeParams
	fitted  bool
	stats   []float64 // per column; NaN = dropped
	hadMiss []bool
	outs    []string
	slot    []int // output index of each column, -1 if dropped
	ind     []int // output index of each column's indicator, -1 if none
}

type imputeParams struct {
	Strategy          string   `json:"strategy"`
	FillValue         *float64 `json:"fill_value"`
	AddIndicator      bool     `json:"add_indicator"`
	KeepEmptyFeatures bool     `json:"keep_empty_features"`
}

type imputeState struct {
	Statistics []jsonFloat `json:"statistics"`
	Missing    []bool      `json:"had_missing"`
}

func newImpute(cols []string, params json.RawMessage) (*impute, error) {
	t := &impute{numBase: numBase{"impute", cols}, p: imputeParams{Strategy: "mean"}}
	if err := validColumns(t.kind, cols); err != nil {
		return nil, err
	}
	if err := decodeParams(t.kind, params, &t.p); err != nil {
		return nil, err
	}
	switch t.p.Strategy {
	case "mean", "median", "most_frequent", "constant":
	default:
		return nil, fmt.Errorf("%w: impute: unknown strategy %q (want mean, median, most_frequent or constant)", ErrSpec, t.p.Strategy)
	}
	if t.p.FillValue != nil && math.IsInf(*t.p.FillValue, 0) {
		return nil, fmt.Errorf("%w: impute: fill_value must be finite", ErrSpec)
	}
	return t, nil
}

func init() {
	registerKind("impute", kind{
		New: func(cols []string, params json.RawMessage) (Transform, error) { return newImpute(cols, params) },
		Load: func(cols []string, params, state json.RawMessage) (Transform, error) {
			t, err := newImpute(cols, params)
			if err != nil {
				return nil, err
			}
			var s imputeState
			if err := decodeState(t.kind, state, &s); err != nil {
				return nil, err
			}
			if err := checkLen(t.kind, "statistics", len(s.Statistics), len(cols)); err != nil {
				return nil, err
			}
			if err := checkLen(t.kind, "had_missing", len(s.Missing), len(cols)); err != nil {
				return nil, err
			}
			t.setFitted(plainFloats(s.Statistics), s.Missing)
			return t, nil
		},
	})
}

func (t *impute) setFitted(stats []float64, hadMiss []bool) {
	t.stats, t.hadMiss = stats, hadMiss
	t.slot, t.ind = make([]int, len(t.cols)), make([]int, len(t.cols))
	t.outs = nil
	for j, c := range t.cols {
		t.slot[j] = -1
		if stats[j] == stats[j] {
			t.slot[j] = len(t.outs)
			t.outs = append(t.outs, c)
		}
	}
	for j, c := range t.cols {
		t.ind[j] = -1
		if t.p.AddIndicator && hadMiss[j] {
			t.ind[j] = len(t.outs)
			t.outs = append(t.outs, c+"_missing")
		}
	}
	t.fitted = true
}

func (t *impute) Outputs() []string { return t.outs }
func (t *impute) Fitted() bool      { return t.fitted }

func (t *impute) Params() any {
	p := t.p
	if p.FillValue == nil {
		z := 0.0
		p.FillValue = &z
	}
	return p
}

func (t *impute) State() any {
	if !t.fitted {
		return nil
	}
	return imputeState{jsonFloats(t.stats), t.hadMiss}
}

func (t *impute) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	if err := checkArity(t.kind, "arrays", len(cols), len(t.cols)); err != nil {
		return err
	}
	if err := checkArity(t.kind, "outputs", len(out), len(t.outs)); err != nil {
		return err
	}
	var scratch []float64
	for j, a := range cols {
		n := a.Len()
		var dst []float64
		if s := t.slot[j]; s >= 0 {
			dst = out[s]
			if len(dst) != n {
				return fmt.Errorf("features: impute: output %d has %d rows for %d", s, len(dst), n)
			}
			dst = dst[:0]
		} else {
			dst = scratch[:0]
		}
		xs, err := floatsOf(t.kind, t.cols[j], a, dst)
		if err != nil {
			return err
		}
		if t.slot[j] < 0 {
			scratch = xs
		}
		var ind []float64
		if s := t.ind[j]; s >= 0 {
			ind = out[s]
			if len(ind) != n {
				return fmt.Errorf("features: impute: output %d has %d rows for %d", s, len(ind), n)
			}
		}
		stat := t.stats[j]
		for i, x := range xs {
			miss := x != x
			if miss {
				xs[i] = stat
			} else if math.IsInf(x, 0) {
				return inputErr(t.kind, t.cols[j], i, fmtNum(x), ErrNonFinite)
			}
			if ind != nil {
				ind[i] = b2f(miss)
			}
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (t *impute) ApplyRow(in []Value, out []float64) error {
	if !t.fitted {
		return ErrNotFitted
	}
	if err := checkArity(t.kind, "values", len(in), len(t.cols)); err != nil {
		return err
	}
	if err := checkArity(t.kind, "outputs", len(out), len(t.outs)); err != nil {
		return err
	}
	for j := range in {
		x, err := numOf(t.kind, t.cols[j], in[j])
		if err != nil {
			return err
		}
		miss := x != x
		if miss {
			x = t.stats[j]
		} else if math.IsInf(x, 0) {
			return inputErr(t.kind, t.cols[j], -1, fmtNum(x), ErrNonFinite)
		}
		if s := t.slot[j]; s >= 0 {
			out[s] = x
		}
		if s := t.ind[j]; s >= 0 {
			out[s] = b2f(miss)
		}
	}
	return nil
}

func (t *impute) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes(t.kind, t.cols, types); err != nil {
		return nil, err
	}
	k := len(t.cols)
	f := &imputeFitter{t: t, miss: make([]int64, k)}
	switch t.p.Strategy {
	case "mean":
		f.mean = make([]momentSum, k)
	case "most_frequent":
		f.counts = make([]map[float64]int64, k)
		for j := range f.counts {
			f.counts[j] = map[float64]int64{}
		}
	}
	f.setFitOptions(FitOptions{})
	return f, nil
}

type imputeFitter struct {
	t       *impute
	miss    []int64
	mean    []momentSum
	q       []quantiles
	counts  []map[float64]int64
	n       []int64
	scratch []float64
}

func (f *imputeFitter) setFitOptions(o FitOptions) {
	f.n = make([]int64, len(f.t.cols))
	if f.t.p.Strategy == "median" {
		f.q = make([]quantiles, len(f.t.cols))
		for j := range f.q {
			f.q[j] = newQuantiles(o)
		}
	}
}

func (f *imputeFitter) Add(cols []arrow.Array) error {
	if err := checkArity(f.t.kind, "arrays", len(cols), len(f.t.cols)); err != nil {
		return err
	}
	for j, a := range cols {
		xs, err := floatsOf(f.t.kind, f.t.cols[j], a, f.scratch[:0])
		f.scratch = xs
		if err != nil {
			return err
		}
		for i, x := range xs {
			if x != x {
				f.miss[j]++
				continue
			}
			if math.IsInf(x, 0) {
				return inputErr(f.t.kind, f.t.cols[j], i, fmtNum(x), ErrNonFinite)
			}
			f.n[j]++
			switch {
			case f.mean != nil:
				f.mean[j].add(x)
			case f.q != nil:
				f.q[j].add(x)
			case f.counts != nil:
				if x == 0 {
					x = 0 // -0 and +0 count together
				}
				f.counts[j][x]++
			}
		}
	}
	return nil
}

func (f *imputeFitter) Merge(other Fitter) error {
	o, ok := other.(*imputeFitter)
	if !ok || len(o.miss) != len(f.miss) {
		return mergeTypeErr(f.t.kind, other)
	}
	for j := range f.miss {
		f.miss[j] += o.miss[j]
		f.n[j] += o.n[j]
		switch {
		case f.mean != nil:
			f.mean[j].merge(&o.mean[j])
		case f.q != nil:
			if err := f.q[j].merge(o.q[j]); err != nil {
				return err
			}
		case f.counts != nil:
			for v, c := range o.counts[j] {
				f.counts[j][v] += c
			}
		}
	}
	return nil
}

func (f *imputeFitter) Finish() (Transform, error) {
	t := *f.t
	k := len(t.cols)
	stats := make([]float64, k)
	had := make([]bool, k)
	for j := range k {
		had[j] = f.miss[j] > 0
		var s float64
		switch t.p.Strategy {
		case "constant":
			if t.p.FillValue != nil {
				s = *t.p.FillValue
			}
			stats[j] = s
			continue
		case "mean":
			s = f.mean[j].mean()
		case "median":
			s = f.q[j].median()
		case "most_frequent":
			s = mostFrequent(f.counts[j])
		}
		if f.n[j] == 0 {
			s = math.NaN()
			if t.p.KeepEmptyFeatures {
				s = 0
			}
		}
		stats[j] = s
	}
	t.setFitted(stats, had)
	return &t, nil
}

// mostFrequent returns the most frequent value, the smallest on ties, NaN
// for none.
func mostFrequent(counts map[float64]int64) float64 {
	keys := make([]float64, 0, len(counts))
	for v := range counts {
		keys = append(keys, v)
	}
	slices.Sort(keys)
	best, bestN := math.NaN(), int64(0)
	for _, v := range keys {
		if c := counts[v]; c > bestN {
			best, bestN = v, c
		}
	}
	return best
}
