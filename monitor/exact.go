package monitor

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/pipeline"
)

// ExactOptions configure CompareExact.
type ExactOptions struct {
	// Columns are the columns to compare; nil: every numeric and
	// categorical column of the reference.
	Columns []string
	// Categorical names numeric columns to compare as categories (their
	// values' decimal text).
	Categorical []string
	// Drift chooses methods, thresholds and the dataset share. Every method
	// applies, including anderson, cvm and energy.
	Drift DriftOptions
}

// CompareExact reads both sources whole and compares every column from
// the full data: no sketches, so every statistic is exact (Low = High =
// Statistic) and Uncertain is never set. Memory grows with the data (8
// bytes per numeric value); for data that does not fit, profile both sides
// and use Compare.
//
// Every column's Stats hold, for numeric columns: ks_d and ks_p (as
// scipy.stats.ks_2samp with default options), wasserstein (as
// scipy.stats.wasserstein_distance), wasserstein_norm (that over the
// reference's population standard deviation; +Inf when that is 0 and the
// distance is not), psi and js over ten bins whose inner edges are the
// reference's deciles (numpy.quantile at 0.1, ..., 0.9, linear; a value x
// falls in the bin numbered by how many deciles are <= x), proportions of
// exactly zero replaced by 0.0001, PSI = Σ (cur − ref)·ln(cur/ref) and JS
// the Jensen–Shannon distance in base 2. For categorical columns: psi and
// js over the union of categories (same zero rule), chi2 and chi2_p, as
// scipy.stats.chi2_contingency of the 2×K table of counts with default
// options. The chosen method's statistic is in Statistic (and PValue).
//
// Nulls and non-finite numbers are left out of the comparison.
func CompareExact(ctx context.Context, ref, cur pipeline.Source, opts ExactOptions) (*Report, error) {
	refSchema, err := ref.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor: reference: %w", err)
	}
	curSchema, err := cur.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("monitor: current: %w", err)
	}
	cols, err := exactColumns(refSchema, curSchema, opts)
	if err != nil {
		return nil, err
	}
	refData, err := readColumns(ctx, ref, cols)
	if err != nil {
		return nil, fmt.Errorf("monitor: reference: %w", err)
	}
	curData, err := readColumns(ctx, cur, cols)
	if err != nil {
		return nil, fmt.Errorf("monitor: current: %w", err)
	}
	out := make([]ColumnDrift, len(cols))
	errs := make([]error, len(cols))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, c := range cols {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = compareExactColumn(c, refData[i], curData[i], opts.Drift)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	r := summarize(out, nil, opts.Drift)
	r.Rows = curData.rows()
	return r, nil
}

// exactColumn is a column CompareExact compares.
type exactColumn struct {
	name       string
	kind       Kind
	asCategory bool // a numeric column compared as categories
}

// columnKind returns how a column of type t is compared by default, and
// false when its type is neither numeric nor categorical.
func columnKind(t arrow.DataType) (Kind, bool) {
	switch {
	case numericType(t.ID()):
		return Numeric, true
	case categoricalType(t):
		return Categorical, true
	}
	return 0, false
}

func exactColumns(refSchema, curSchema *arrow.Schema, opts ExactOptions) ([]exactColumn, error) {
	names := opts.Columns
	if names == nil {
		for _, f := range refSchema.Fields() {
			if _, ok := columnKind(f.Type); ok {
				names = append(names, f.Name)
			}
		}
	}
	if len(names) == 0 {
		return nil, inputErr("no numeric or categorical columns to compare in the reference schema %v", refSchema)
	}
	seen := map[string]bool{}
	var cols []exactColumn
	for _, name := range names {
		if seen[name] {
			return nil, inputErr("column %q named twice", name)
		}
		seen[name] = true
		ri := refSchema.FieldIndices(name)
		if len(ri) == 0 {
			return nil, inputErr("column %q is not in the reference", name)
		}
		ci := curSchema.FieldIndices(name)
		if len(ci) == 0 {
			return nil, inputErr("column %q is not in the current data", name)
		}
		rt, ct := refSchema.Field(ri[0]).Type, curSchema.Field(ci[0]).Type
		rk, ok := columnKind(rt)
		if !ok {
			return nil, inputErr("column %q: type %s is neither numeric nor categorical", name, rt)
		}
		ck, ok := columnKind(ct)
		if !ok || ck != rk {
			return nil, inputErr("column %q: type %s in the reference but %s in the current data", name, rt, ct)
		}
		c := exactColumn{name: name, kind: rk}
		if slices.Contains(opts.Categorical, name) {
			if rk != Numeric {
				return nil, inputErr("column %q is already categorical (%s)", name, rt)
			}
			c.kind, c.asCategory = Categorical, true
		}
		cols = append(cols, c)
	}
	for _, name := range opts.Categorical {
		if !seen[name] {
			return nil, inputErr("categorical column %q is not among the compared columns", name)
		}
	}
	return cols, nil
}

// columnValues holds one column's values read whole.
type columnValues struct {
	nums   []float64      // numeric: finite values
	cats   map[string]int // categorical: counts
	nulls  int64
	nonfin int64
	n      int64 // rows
}

type tableValues []*columnValues

func (t tableValues) rows() int64 {
	if len(t) == 0 {
		return 0
	}
	return t[0].n
}

// readColumns reads the columns of every batch of src.
func readColumns(ctx context.Context, src pipeline.Source, cols []exactColumn) (tableValues, error) {
	out := make(tableValues, len(cols))
	for i, c := range cols {
		out[i] = &columnValues{}
		if c.kind == Categorical {
			out[i].cats = map[string]int{}
		}
	}
	schema, err := src.Schema(ctx)
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		fi := schema.FieldIndices(c.name)
		if len(fi) == 0 {
			return nil, inputErr("column %q is missing", c.name)
		}
		idx[i] = fi[0]
	}
	for b, err := range src.Batches(ctx) {
		if err != nil {
			return nil, err
		}
		if !schema.Equal(b.Schema()) {
			b.Release()
			return nil, inputErr("a batch's schema %v differs from the source's %v", b.Schema(), schema)
		}
		for i, c := range cols {
			if err := appendValues(out[i], b.Column(idx[i]), c.asCategory); err != nil {
				b.Release()
				return nil, fmt.Errorf("column %q: %w", c.name, err)
			}
		}
		b.Release()
	}
	return out, nil
}

// appendValues adds an array's values to cv.
func appendValues(cv *columnValues, a arrow.Array, asCategory bool) error {
	n := a.Len()
	cv.n += int64(n)
	cv.nulls += int64(a.NullN())
	if cv.cats != nil {
		return appendCategories(cv, a, asCategory)
	}
	if !numericType(a.DataType().ID()) {
		return inputErr("type %s is not numeric", a.DataType())
	}
	var bad int64
	cv.nums, bad = gatherArray(cv.nums, a)
	cv.nonfin += bad
	return nil
}

// appendCategories counts an array's values as categories.
func appendCategories(cv *columnValues, a arrow.Array, asCategory bool) error {
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			continue
		}
		var s string
		switch arr := a.(type) {
		case *array.String:
			s = arr.Value(i)
		case *array.LargeString:
			s = arr.Value(i)
		case *array.StringView:
			s = arr.Value(i)
		case *array.Boolean:
			s = strconv.FormatBool(arr.Value(i))
		case *array.Dictionary:
			dict := arr.Dictionary()
			j := arr.GetValueIndex(i)
			switch d := dict.(type) {
			case *array.String:
				s = d.Value(j)
			case *array.LargeString:
				s = d.Value(j)
			case *array.StringView:
				s = d.Value(j)
			default:
				return inputErr("dictionary of %s is not categorical", dict.DataType())
			}
		default:
			if !asCategory {
				return inputErr("type %s is not categorical", a.DataType())
			}
			s = numberText(a, i)
		}
		cv.cats[s]++
	}
	return nil
}

// numberText returns the decimal text of a numeric array's i-th value.
func numberText(a arrow.Array, i int) string {
	switch arr := a.(type) {
	case *array.Float64:
		return strconv.FormatFloat(arr.Value(i), 'g', -1, 64)
	case *array.Float32:
		return strconv.FormatFloat(float64(arr.Value(i)), 'g', -1, 32)
	case *array.Int64:
		return strconv.FormatInt(arr.Value(i), 10)
	case *array.Int32:
		return strconv.FormatInt(int64(arr.Value(i)), 10)
	case *array.Int16:
		return strconv.FormatInt(int64(arr.Value(i)), 10)
	case *array.Int8:
		return strconv.FormatInt(int64(arr.Value(i)), 10)
	case *array.Uint64:
		return strconv.FormatUint(arr.Value(i), 10)
	case *array.Uint32:
		return strconv.FormatUint(uint64(arr.Value(i)), 10)
	case *array.Uint16:
		return strconv.FormatUint(uint64(arr.Value(i)), 10)
	case *array.Uint8:
		return strconv.FormatUint(uint64(arr.Value(i)), 10)
	}
	return a.ValueStr(i)
}

// quantileLinear returns numpy.quantile(x, q) with the default linear
// method for x sorted ascending (not empty): the value at virtual index
// (n−1)·q, interpolated between its neighbours the way numpy does (from
// the lower one below the midpoint, from the upper one at or above it).
func quantileLinear(x []float64, q float64) float64 {
	n := len(x)
	h := float64(n-1) * q
	lo := math.Floor(h)
	i := int(lo)
	if i >= n-1 {
		return x[n-1]
	}
	if i < 0 {
		return x[0]
	}
	t := h - lo
	a, b := x[i], x[i+1]
	d := b - a
	if t >= 0.5 {
		return b - d*(1-t)
	}
	return a + d*t
}

// countBelow returns how many values of sorted x are < v.
func countBelow(x []float64, v float64) int {
	i, _ := slices.BinarySearch(x, v)
	return i
}

// binByEdges counts sorted x into the bins between inner edges: bin k
// holds the values with exactly k edges <= them.
func binByEdges(x, edges []float64) []float64 {
	counts := make([]float64, len(edges)+1)
	prev := 0
	for k, e := range edges {
		// values < e have fewer than k+1 edges <= them.
		j := countBelow(x, e)
		j = max(j, prev)
		counts[k] = float64(j - prev)
		prev = j
	}
	counts[len(edges)] = float64(len(x) - prev)
	return counts
}

// populationStd returns the standard deviation with divisor n, as
// numpy.std with default options (two passes: the mean, then the squares).
func populationStd(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	mean := s / float64(len(x))
	var ss float64
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(x)))
}

// exactBins is the number of fine bins of CompareExact's charts.
const exactBins = 100

func compareExactColumn(c exactColumn, ref, cur *columnValues, opts DriftOptions) (ColumnDrift, error) {
	if c.kind == Categorical {
		return compareExactCategorical(c, ref, cur, opts)
	}
	r, q := ref.nums, cur.nums
	m, threshold, err := resolveMethod(c.name, Numeric, int64(len(r)), 0, opts, true)
	if err != nil {
		return ColumnDrift{}, err
	}
	d := ColumnDrift{
		Column: c.name, Kind: Numeric, Method: m, Threshold: threshold,
		RefCount: int64(len(r)), CurCount: int64(len(q)),
		Stats: map[string]float64{},
	}
	if len(r) == 0 || len(q) == 0 {
		d.Statistic, d.Low, d.High = math.NaN(), math.NaN(), math.NaN()
		if m.isTest() {
			p := math.NaN()
			d.PValue = &p
		}
		return d, nil
	}
	slices.Sort(r)
	slices.Sort(q)
	ks, err := KS2SampSorted(r, q)
	if err != nil {
		return d, fmt.Errorf("column %q: %w", c.name, err)
	}
	w, err := WassersteinSorted(r, q)
	if err != nil {
		return d, fmt.Errorf("column %q: %w", c.name, err)
	}
	std := populationStd(r)
	wn := w / std
	if std == 0 {
		wn = 0
		if w != 0 {
			wn = math.Inf(1)
		}
	}
	deciles := make([]float64, 9)
	for i := range deciles {
		deciles[i] = quantileLinear(r, float64(i+1)/10)
	}
	p10 := shares(binByEdges(r, deciles))
	q10 := shares(binByEdges(q, deciles))
	psi, err := PSI(p10, q10)
	if err != nil {
		return d, fmt.Errorf("column %q: %w", c.name, err)
	}
	js, err := distance(MethodJS, p10, q10)
	if err != nil {
		return d, fmt.Errorf("column %q: %w", c.name, err)
	}
	d.Stats["ks_d"] = ks.D
	d.Stats["ks_p"] = ks.PValue
	d.Stats["wasserstein"] = w
	d.Stats["wasserstein_norm"] = wn
	d.Stats["psi"] = psi
	d.Stats["js"] = js

	edges := make([]float64, exactBins-1)
	for i := range edges {
		edges[i] = quantileLinear(r, float64(i+1)/exactBins)
	}
	d.Reference = Distribution{Edges: edges, Min: r[0], Max: r[len(r)-1], Shares: shares(binByEdges(r, edges))}
	d.Current = Distribution{Edges: edges, Min: q[0], Max: q[len(q)-1], Shares: shares(binByEdges(q, edges))}

	switch m {
	case MethodKS:
		d.Statistic = ks.D
		d.PValue = &ks.PValue
	case MethodWasserstein:
		d.Statistic = w
	case MethodWassersteinNorm:
		d.Statistic = wn
	case MethodPSI:
		d.Statistic = psi
	case MethodJS:
		d.Statistic = js
	case MethodKL, MethodHellinger:
		s, err := distance(m, p10, q10)
		if err != nil {
			return d, fmt.Errorf("column %q: %w", c.name, err)
		}
		d.Statistic = s
		d.Stats[string(m)] = s
	case MethodAnderson:
		a, err := AndersonKSamp(r, q)
		if err != nil {
			return d, fmt.Errorf("column %q: %w", c.name, err)
		}
		d.Statistic = a.Statistic
		d.PValue = &a.PValue
		d.Stats["anderson"] = a.Statistic
		d.Stats["anderson_p"] = a.PValue
	case MethodCvM:
		cv, err := CramerVonMises2(r, q)
		if err != nil {
			return d, fmt.Errorf("column %q: %w", c.name, err)
		}
		d.Statistic = cv.Statistic
		d.PValue = &cv.PValue
		d.Stats["cvm"] = cv.Statistic
		d.Stats["cvm_p"] = cv.PValue
	case MethodEnergy:
		e, err := EnergyDistanceSorted(r, q)
		if err != nil {
			return d, fmt.Errorf("column %q: %w", c.name, err)
		}
		d.Statistic = e
		d.Stats["energy"] = e
	}
	d.Low, d.High = d.Statistic, d.Statistic
	p := 0.0
	if d.PValue != nil {
		p = *d.PValue
	}
	verdict(&d, opts.Strict, p, p)
	return d, nil
}

func compareExactCategorical(c exactColumn, ref, cur *columnValues, opts DriftOptions) (ColumnDrift, error) {
	// The union of categories, most frequent in the reference first, then
	// in the current data, then by value.
	type cat struct {
		v    string
		r, c int
	}
	all := make([]cat, 0, len(ref.cats)+len(cur.cats))
	var refN int64
	for v, n := range ref.cats {
		all = append(all, cat{v, n, cur.cats[v]})
		refN += int64(n)
	}
	for v, n := range cur.cats {
		if _, ok := ref.cats[v]; !ok {
			all = append(all, cat{v, 0, n})
		}
	}
	slices.SortFunc(all, func(a, b cat) int {
		if x := cmp.Compare(b.r, a.r); x != 0 {
			return x
		}
		if x := cmp.Compare(b.c, a.c); x != 0 {
			return x
		}
		return cmp.Compare(a.v, b.v)
	})
	m, threshold, err := resolveMethod(c.name, Categorical, refN, len(all), opts, true)
	if err != nil {
		return ColumnDrift{}, err
	}
	names := make([]string, len(all))
	rc := make([]float64, len(all))
	cc := make([]float64, len(all))
	var curN int64
	for i, a := range all {
		names[i], rc[i], cc[i] = a.v, float64(a.r), float64(a.c)
		curN += int64(a.c)
	}
	d := ColumnDrift{
		Column: c.name, Kind: Categorical, Method: m, Threshold: threshold,
		RefCount: refN, CurCount: curN,
		Reference: Distribution{Categories: names, Shares: shares(rc)},
		Current:   Distribution{Categories: names, Shares: shares(cc)},
		Stats:     map[string]float64{},
	}
	fillCategorical(&d, rc, cc, 0, opts.Strict)
	return d, nil
}
