package features

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// KBinsParams are the parameters of the "kbins" transform, named after
// scikit-learn 1.2's KBinsDiscretizer.
type KBinsParams struct {
	// NBins is the number of bins (default 5, at least 2): one number for
	// every column, or a list with one per column.
	NBins json.RawMessage `json:"n_bins,omitempty"`
	// Encode is "onehot" (default; dense here, where scikit-learn's is
	// sparse), "onehot-dense" (the same) or "ordinal".
	Encode string `json:"encode"`
	// Strategy is "quantile" (default: edges at the quantiles of evenly
	// spaced levels, NumPy linear interpolation), "uniform" (evenly spaced
	// between the minimum and maximum) or "explicit" (BinEdges, no fit).
	// scikit-learn's "kmeans" is not supported.
	Strategy string `json:"strategy"`
	// BinEdges are the edges for strategy "explicit": one strictly
	// increasing list of at least two edges per column.
	BinEdges [][]jsonFloat `json:"bin_edges,omitempty"`
}

// KBins is the "kbins" transform. A value x falls in bin
// searchsorted(edges[1:-1], x, side="right") as scikit-learn computes it:
// values below the first edge go to bin 0, above the last to the last bin.
// As in scikit-learn, a column with a single value gets one bin, and with
// strategy quantile, bins narrower than 1e-8 are removed. Missing values
// (null, NaN) are ignored at fit time and give NaN at apply time (NaN in
// every one-hot output of the column); scikit-learn rejects them. ±Inf is
// an error. Outputs: with encode "ordinal" the column names (bin index as
// a number), with one-hot "<column>_<bin>" for bins 0, 1, ...
type KBins struct {
	columns []string
	params  KBinsParams
	nbins   []int       // requested, per column
	edges   [][]float64 // fitted bin_edges_, per column
	onehot  bool
	outputs []string
}

func init() {
	registerKind("kbins", kind{New: newKBinsSpec, Load: loadKBins})
}

func newKBinsSpec(columns []string, raw json.RawMessage) (Transform, error) {
	var p KBinsParams
	if err := decodeParams("kbins", raw, &p); err != nil {
		return nil, err
	}
	return NewKBins(columns, p)
}

// NewKBins returns a discretizer, unfitted unless the strategy is
// "explicit".
func NewKBins(columns []string, p KBinsParams) (*KBins, error) {
	if err := validColumns("kbins", columns); err != nil {
		return nil, err
	}
	if p.Encode == "" {
		p.Encode = "onehot"
	}
	if p.Encode != "onehot" && p.Encode != "onehot-dense" && p.Encode != "ordinal" {
		return nil, fmt.Errorf("%w: kbins: encode %q (want onehot, onehot-dense or ordinal)", ErrSpec, p.Encode)
	}
	if p.Strategy == "" {
		if p.BinEdges != nil {
			p.Strategy = "explicit"
		} else {
			p.Strategy = "quantile"
		}
	}
	t := &KBins{columns: slices.Clone(columns), params: p, onehot: p.Encode != "ordinal"}
	switch p.Strategy {
	case "quantile", "uniform":
		if p.BinEdges != nil {
			return nil, fmt.Errorf("%w: kbins: bin_edges needs strategy \"explicit\"", ErrSpec)
		}
		nb, err := parseNBins(p.NBins, len(columns))
		if err != nil {
			return nil, err
		}
		t.nbins = nb
	case "explicit":
		if p.NBins != nil {
			return nil, fmt.Errorf("%w: kbins: strategy \"explicit\" takes bin_edges, not n_bins", ErrSpec)
		}
		if len(p.BinEdges) != len(columns) {
			return nil, fmt.Errorf("%w: kbins: %d bin_edges lists for %d columns", ErrSpec, len(p.BinEdges), len(columns))
		}
		edges := make([][]float64, len(columns))
		for i, e := range p.BinEdges {
			edges[i] = plainFloats(e)
			if err := checkEdges(edges[i]); err != nil {
				return nil, fmt.Errorf("%w: kbins: column %q: %v", ErrSpec, columns[i], err)
			}
		}
		t.setEdges(edges)
	default:
		return nil, fmt.Errorf("%w: kbins: strategy %q (want quantile, uniform or explicit)", ErrSpec, p.Strategy)
	}
	return t, nil
}

// parseNBins reads n_bins: absent (5), one integer, or one per column.
func parseNBins(raw json.RawMessage, ncols int) ([]int, error) {
	out := make([]int, ncols)
	if len(raw) == 0 || string(raw) == "null" {
		for i := range out {
			out[i] = 5
		}
		return out, nil
	}
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		for i := range out {
			out[i] = one
		}
	} else {
		var list []int
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("%w: kbins: n_bins %s (want an integer or a list of integers)", ErrSpec, raw)
		}
		if len(list) != ncols {
			return nil, fmt.Errorf("%w: kbins: %d n_bins for %d columns", ErrSpec, len(list), ncols)
		}
		copy(out, list)
	}
	for _, n := range out {
		if n < 2 || n > 1<<20 {
			return nil, fmt.Errorf("%w: kbins: n_bins %d (want at least 2)", ErrSpec, n)
		}
	}
	return out, nil
}

func checkEdges(e []float64) error {
	if len(e) < 2 {
		return fmt.Errorf("%d bin edges, want at least 2", len(e))
	}
	for i, x := range e {
		if x != x {
			return fmt.Errorf("NaN bin edge")
		}
		if i > 0 && !(x > e[i-1]) {
			return fmt.Errorf("bin edges not strictly increasing at %d", i)
		}
	}
	return nil
}

func (t *KBins) setEdges(edges [][]float64) {
	t.edges = edges
	t.outputs = nil
	for i, e := range edges {
		if !t.onehot {
			t.outputs = append(t.outputs, t.columns[i])
			continue
		}
		for b := range len(e) - 1 {
			t.outputs = append(t.outputs, t.columns[i]+"_"+strconv.Itoa(b))
		}
	}
}

func (t *KBins) Kind() string      { return "kbins" }
func (t *KBins) Inputs() []string  { return slices.Clone(t.columns) }
func (t *KBins) Outputs() []string { return slices.Clone(t.outputs) }
func (t *KBins) Fitted() bool      { return t.edges != nil }
func (t *KBins) Params() any       { return t.params }

// kbinsState is the saved state: bin_edges_ per column.
type kbinsState struct {
	BinEdges [][]jsonFloat `json:"bin_edges"`
}

func (t *KBins) State() any {
	if !t.Fitted() || t.params.Strategy == "explicit" {
		return nil
	}
	st := kbinsState{}
	for _, e := range t.edges {
		st.BinEdges = append(st.BinEdges, jsonFloats(e))
	}
	return st
}

func loadKBins(columns []string, params, state json.RawMessage) (Transform, error) {
	tr, err := newKBinsSpec(columns, params)
	if err != nil {
		return nil, err
	}
	t := tr.(*KBins)
	if t.params.Strategy == "explicit" {
		return t, nil
	}
	var st kbinsState
	if err := decodeState("kbins", state, &st); err != nil {
		return nil, err
	}
	if len(st.BinEdges) != len(columns) {
		return nil, fmt.Errorf("%w: kbins: state for %d columns, want %d", ErrState, len(st.BinEdges), len(columns))
	}
	edges := make([][]float64, len(columns))
	for i, e := range st.BinEdges {
		edges[i] = plainFloats(e)
		if err := checkEdges(edges[i]); err != nil {
			return nil, fmt.Errorf("%w: kbins: column %q: %v", ErrState, columns[i], err)
		}
	}
	t.setEdges(edges)
	return t, nil
}

type kbinsFitter struct {
	t        *KBins
	opts     FitOptions
	q        []quantiles
	min, max []float64
	buf      []float64
}

func (t *KBins) NewFitter(types []arrow.DataType) (Fitter, error) {
	if err := checkNumericTypes("kbins", t.columns, types); err != nil {
		return nil, err
	}
	if t.params.Strategy == "explicit" {
		return statelessFitter{t}, nil
	}
	f := &kbinsFitter{t: t}
	f.reset(FitOptions{})
	return f, nil
}

func (f *kbinsFitter) reset(o FitOptions) {
	n := len(f.t.columns)
	f.opts = o
	f.q = make([]quantiles, n)
	f.min, f.max = make([]float64, n), make([]float64, n)
	for i := range n {
		if f.t.params.Strategy == "quantile" {
			f.q[i] = newQuantiles(o)
		}
		f.min[i], f.max[i] = math.Inf(1), math.Inf(-1)
	}
}

func (f *kbinsFitter) setFitOptions(o FitOptions) { f.reset(o) }

func (f *kbinsFitter) Add(cols []arrow.Array) error {
	if len(cols) != len(f.t.columns) {
		return fmt.Errorf("features: kbins: %d columns for %d inputs", len(cols), len(f.t.columns))
	}
	for i, arr := range cols {
		xs, err := floatsOf("kbins", f.t.columns[i], arr, f.buf)
		if err != nil {
			return err
		}
		f.buf = xs
		for r, x := range xs {
			if x != x {
				continue
			}
			if math.IsInf(x, 0) {
				return inputErr("kbins", f.t.columns[i], r, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
			}
			f.min[i] = math.Min(f.min[i], x)
			f.max[i] = math.Max(f.max[i], x)
			if f.q[i] != nil {
				f.q[i].add(x)
			}
		}
	}
	return nil
}

func (f *kbinsFitter) Merge(other Fitter) error {
	o, ok := other.(*kbinsFitter)
	if !ok || len(o.min) != len(f.min) {
		return fmt.Errorf("features: kbins: cannot merge a %T", other)
	}
	for i := range f.min {
		f.min[i] = math.Min(f.min[i], o.min[i])
		f.max[i] = math.Max(f.max[i], o.max[i])
		if f.q[i] != nil {
			if err := f.q[i].merge(o.q[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *kbinsFitter) Finish() (Transform, error) {
	t := &KBins{columns: f.t.columns, params: f.t.params, nbins: f.t.nbins, onehot: f.t.onehot}
	edges := make([][]float64, len(t.columns))
	for i := range edges {
		lo, hi := f.min[i], f.max[i]
		if lo > hi {
			return nil, fmt.Errorf("%w: kbins: column %q has no values to fit", ErrMissingValue, t.columns[i])
		}
		if lo == hi {
			edges[i] = []float64{math.Inf(-1), math.Inf(1)}
			continue
		}
		n := t.nbins[i]
		e := make([]float64, n+1)
		if t.params.Strategy == "uniform" {
			e = linspace(lo, hi, n+1)
		} else {
			levels := linspace(0, 100, n+1)
			for j, q := range levels {
				e[j] = f.q[i].quantile(q / 100)
			}
			e[0], e[n] = lo, hi
			if f.opts.Quantiles == QuantilesSketch {
				slices.Sort(e) // a sketch may answer out of order
			}
			kept := e[:1]
			for j := 1; j < len(e); j++ {
				if e[j]-e[j-1] > 1e-8 {
					kept = append(kept, e[j])
				}
			}
			e = kept
		}
		edges[i] = e
	}
	t.setEdges(edges)
	return t, nil
}

// linspace returns num evenly spaced values from start to stop, as
// numpy.linspace computes them: start + i*step, with the last set to stop.
func linspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	div := float64(num - 1)
	step := (stop - start) / div
	for i := range out {
		if step == 0 {
			out[i] = float64(i)/div*(stop-start) + start
		} else {
			out[i] = float64(i)*step + start
		}
	}
	out[num-1] = stop
	return out
}

// bin returns the bin of x in edges.
func bin(edges []float64, x float64) int {
	inner := edges[1 : len(edges)-1]
	return sort.Search(len(inner), func(k int) bool { return inner[k] > x })
}

func (t *KBins) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: kbins", ErrNotFitted)
	}
	if _, err := checkApply("kbins", len(t.columns), len(t.outputs), cols, out); err != nil {
		return err
	}
	var xs []float64
	var err error
	k := 0
	for i, arr := range cols {
		if xs, err = floatsOf("kbins", t.columns[i], arr, xs); err != nil {
			return err
		}
		e := t.edges[i]
		if !t.onehot {
			o := out[k]
			for r, x := range xs {
				if x != x {
					o[r] = math.NaN()
					continue
				}
				if math.IsInf(x, 0) {
					return inputErr("kbins", t.columns[i], r, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
				}
				o[r] = float64(bin(e, x))
			}
			k++
			continue
		}
		o := out[k : k+len(e)-1]
		for _, c := range o {
			clear(c)
		}
		for r, x := range xs {
			if x != x {
				for _, c := range o {
					c[r] = math.NaN()
				}
				continue
			}
			if math.IsInf(x, 0) {
				return inputErr("kbins", t.columns[i], r, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
			}
			o[bin(e, x)][r] = 1
		}
		k += len(e) - 1
	}
	return nil
}

func (t *KBins) ApplyRow(in []Value, out []float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: kbins", ErrNotFitted)
	}
	if err := checkRow("kbins", len(t.columns), len(t.outputs), in, out); err != nil {
		return err
	}
	k := 0
	for i, v := range in {
		x, err := numOf("kbins", t.columns[i], v)
		if err != nil {
			return err
		}
		if math.IsInf(x, 0) {
			return inputErr("kbins", t.columns[i], -1, v.String(), ErrNonFinite)
		}
		e := t.edges[i]
		if !t.onehot {
			if x != x {
				out[k] = math.NaN()
			} else {
				out[k] = float64(bin(e, x))
			}
			k++
			continue
		}
		o := out[k : k+len(e)-1]
		if x != x {
			for j := range o {
				o[j] = math.NaN()
			}
		} else {
			clear(o)
			o[bin(e, x)] = 1
		}
		k += len(e) - 1
	}
	return nil
}
