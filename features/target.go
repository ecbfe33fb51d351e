package features

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// TargetParams are the parameters of the "target" transform, named after
// scikit-learn 1.3's TargetEncoder (which scikit-learn 1.2 lacks).
type TargetParams struct {
	// Target is the target column, read at fit time only (required).
	Target string `json:"target"`
	// Smooth is "auto" (default: the empirical Bayes shrinkage of
	// Micci-Barreca, as scikit-learn computes it) or a number m >= 0 (the
	// encoding of a category is (sum + m·mean)/(count + m)).
	Smooth json.RawMessage `json:"smooth,omitempty"`
	// TargetType is "auto" (default), "continuous" or "binary". With auto, a
	// target with a non-integer value is continuous, one with at most two
	// distinct values (numbers or strings) is binary; more than two integer
	// or string classes (multiclass) is an error, as in scikit-learn 1.3.
	// A binary target is encoded as 0 for the smaller class and 1 for the
	// larger (sorted, as LabelEncoder does).
	TargetType string `json:"target_type,omitempty"`
	// CV is the number of cross-fitting folds (default 5, at least 2).
	CV *int `json:"cv,omitempty"`
	// Shuffle must be false (or absent): folds are contiguous (KFold) or
	// stratified in row order (StratifiedKFold with shuffle=False).
	// scikit-learn's default is shuffle=True with a random state.
	Shuffle *bool `json:"shuffle,omitempty"`
}

// Target is the "target" transform, target encoding: each category of each
// input column is replaced by a shrunk mean of the target over the rows of
// that category at fit time, one output per column, named after it.
// Categories are those of the "onehot" transform (sorted; a missing value
// seen at fit time is a category). An unknown category, at apply time,
// gets the target mean.
//
// # Cross-fitting
//
// Encoding the training rows with statistics that include their own target
// leaks it. As scikit-learn's fit_transform does, the fitter implements
// [CrossFitter]: FinishCrossFit splits the fitted rows into cv folds (in
// the order they were added, a merged fitter's rows after the receiver's;
// contiguous folds as KFold for a continuous target, StratifiedKFold with
// shuffle=False for a binary one) and encodes each fold with statistics
// fitted on the other folds. Use its outputs to train; use the fitted
// Transform (fitted on all rows) for everything else. The fitter keeps one
// int32 per column and one float64 per fitted row in memory.
//
// The fitted encodings do not depend on row order: sums run over the rows
// sorted by category and target, so a fit merged from partitions in any
// order is bit-identical to the fit of the whole. They match scikit-learn to
// rounding (about 1e-15 relative), not bit for bit. The cross-fitted
// outputs do depend on row order, which defines the folds: cross-fit with
// one worker, or with partial fits merged in row order.
type Target struct {
	columns []string
	params  TargetParams
	auto    bool
	smooth  float64
	cv      int

	st *targetState // nil until fitted
}

// targetState is the saved state.
type targetState struct {
	TargetType string              `json:"target_type"`
	TargetMean jsonFloat           `json:"target_mean"`
	Columns    []targetColumnState `json:"columns"`
}

type targetColumnState struct {
	Categories *catSet     `json:"categories"`
	Encodings  []jsonFloat `json:"encodings"`
	enc        []float64
}

// CrossFitter is implemented by fitters whose transform must not be applied
// to the rows it was fitted on (target encoding). FinishCrossFit finishes
// the fit like Finish and also returns the cross-fitted outputs of the
// fitted rows: out[j][r] is output j of fitted row r, rows in the order
// they were added (a merged fitter's after the receiver's).
type CrossFitter interface {
	Fitter
	FinishCrossFit() (Transform, [][]float64, error)
}

func init() {
	registerKind("target", kind{New: newTargetSpec, Load: loadTarget})
}

func newTargetSpec(columns []string, raw json.RawMessage) (Transform, error) {
	var p TargetParams
	if err := decodeParams("target", raw, &p); err != nil {
		return nil, err
	}
	return NewTarget(columns, p)
}

// NewTarget returns an unfitted target encoder.
func NewTarget(columns []string, p TargetParams) (*Target, error) {
	if err := validColumns("target", columns); err != nil {
		return nil, err
	}
	if p.Target == "" {
		return nil, fmt.Errorf("%w: target: the target column is required", ErrSpec)
	}
	if slices.Contains(columns, p.Target) {
		return nil, fmt.Errorf("%w: target: target %q is also an input column", ErrSpec, p.Target)
	}
	t := &Target{columns: slices.Clone(columns), params: p, auto: true, cv: 5}
	if sm := bytes.TrimSpace(p.Smooth); len(sm) > 0 && string(sm) != "null" && string(sm) != `"auto"` {
		f, err := strconv.ParseFloat(string(sm), 64)
		if err != nil || !(f >= 0) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: target: smooth %s (want \"auto\" or a number >= 0)", ErrSpec, sm)
		}
		t.auto, t.smooth = false, f
	}
	switch p.TargetType {
	case "", "auto", "continuous", "binary":
	default:
		return nil, fmt.Errorf("%w: target: target_type %q (want auto, continuous or binary)", ErrSpec, p.TargetType)
	}
	if p.CV != nil {
		if *p.CV < 2 {
			return nil, fmt.Errorf("%w: target: cv %d (want at least 2)", ErrSpec, *p.CV)
		}
		t.cv = *p.CV
	}
	if p.Shuffle != nil && *p.Shuffle {
		return nil, fmt.Errorf("%w: target: shuffle true is not supported (folds are in row order)", ErrSpec)
	}
	return t, nil
}

func (t *Target) Kind() string     { return "target" }
func (t *Target) Inputs() []string { return slices.Clone(t.columns) }

// FitInputs are the input columns and then the target.
func (t *Target) FitInputs() []string { return append(slices.Clone(t.columns), t.params.Target) }
func (t *Target) Outputs() []string {
	if !t.Fitted() {
		return nil
	}
	return slices.Clone(t.columns)
}
func (t *Target) Fitted() bool { return t.st != nil }
func (t *Target) Params() any  { return t.params }
func (t *Target) State() any {
	if t.st == nil {
		return nil
	}
	return t.st
}

func loadTarget(columns []string, params, state json.RawMessage) (Transform, error) {
	tr, err := newTargetSpec(columns, params)
	if err != nil {
		return nil, err
	}
	t := tr.(*Target)
	var st targetState
	if err := decodeState("target", state, &st); err != nil {
		return nil, err
	}
	if st.TargetType != "continuous" && st.TargetType != "binary" {
		return nil, fmt.Errorf("%w: target: target_type %q", ErrState, st.TargetType)
	}
	if len(st.Columns) != len(columns) {
		return nil, fmt.Errorf("%w: target: state for %d columns, want %d", ErrState, len(st.Columns), len(columns))
	}
	for i := range st.Columns {
		c := &st.Columns[i]
		if c.Categories == nil {
			return nil, fmt.Errorf("%w: target: column %q: no categories", ErrState, columns[i])
		}
		if err := c.Categories.validate("target", columns[i]); err != nil {
			return nil, err
		}
		if len(c.Encodings) != c.Categories.len() {
			return nil, fmt.Errorf("%w: target: column %q: %d encodings for %d categories", ErrState, columns[i], len(c.Encodings), c.Categories.len())
		}
		c.enc = plainFloats(c.Encodings)
	}
	t.st = &st
	return t, nil
}

// catIDs gives the values of one column ids in first-seen order, and keeps
// the id of every row.
type catIDs struct {
	column string
	typ    string
	strID  map[string]int32
	strs   []string
	numID  map[float64]int32
	nums   []float64
	nullID int32
	next   int32
	kind   []uint8 // per id: 0 string, 1 number, 2 null
	rows   []int32
	buf    []float64
}

func newCatIDs(kind, column string, dt arrow.DataType) (*catIDs, error) {
	typ, err := catTypeOf(kind, column, dt)
	if err != nil {
		return nil, err
	}
	return &catIDs{column: column, typ: typ, strID: map[string]int32{}, numID: map[float64]int32{}, nullID: -1}, nil
}

func (c *catIDs) idStr(s string) int32 {
	if id, ok := c.strID[s]; ok {
		return id
	}
	id := c.next
	c.next++
	s = strings.Clone(s)
	c.strID[s] = id
	c.strs = append(c.strs, s)
	c.kind = append(c.kind, 0)
	return id
}

func (c *catIDs) idNum(x float64) int32 {
	if x == 0 {
		x = 0
	}
	if id, ok := c.numID[x]; ok {
		return id
	}
	id := c.next
	c.next++
	c.numID[x] = id
	c.nums = append(c.nums, x)
	c.kind = append(c.kind, 1)
	return id
}

func (c *catIDs) idNull() int32 {
	if c.nullID < 0 {
		c.nullID = c.next
		c.next++
		c.kind = append(c.kind, 2)
	}
	return c.nullID
}

func (c *catIDs) add(arr arrow.Array) error {
	if c.typ == catString {
		if !isStringType(arr.DataType()) {
			return fmt.Errorf("%w: target: column %q has type %s, want a string", ErrType, c.column, arr.DataType())
		}
		for i := range arr.Len() {
			if s, ok := stringAt(arr, i); ok {
				c.rows = append(c.rows, c.idStr(s))
			} else {
				c.rows = append(c.rows, c.idNull())
			}
		}
		return nil
	}
	xs, err := floatsOf("target", c.column, arr, c.buf)
	if err != nil {
		return err
	}
	c.buf = xs
	for i, x := range xs {
		switch {
		case x != x:
			c.rows = append(c.rows, c.idNull())
		case math.IsInf(x, 0):
			return inputErr("target", c.column, i, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
		default:
			c.rows = append(c.rows, c.idNum(x))
		}
	}
	return nil
}

// merge appends o's rows, mapping o's ids to c's.
func (c *catIDs) merge(o *catIDs) error {
	if o.typ != c.typ {
		return fmt.Errorf("%w: target: column %q: merging a %s fit into a %s fit", ErrType, c.column, o.typ, c.typ)
	}
	remap := make([]int32, o.next)
	si, ni := 0, 0
	for id, k := range o.kind {
		switch k {
		case 0:
			remap[id] = c.idStr(o.strs[si])
			si++
		case 1:
			remap[id] = c.idNum(o.nums[ni])
			ni++
		default:
			remap[id] = c.idNull()
		}
	}
	for _, id := range o.rows {
		c.rows = append(c.rows, remap[id])
	}
	return nil
}

// finish returns the sorted categories and every row's category code.
func (c *catIDs) finish() (*catSet, []int32) {
	s := &catSet{Type: c.typ, Strings: slices.Clone(c.strs), Numbers: slices.Clone(c.nums), Missing: c.nullID >= 0}
	sort.Strings(s.Strings)
	slices.Sort(s.Numbers)
	if c.typ == catString {
		s.Numbers = nil
	} else {
		s.Strings = nil
	}
	s.index()
	code := make([]int32, c.next)
	si, ni := 0, 0
	for id, k := range c.kind {
		switch k {
		case 0:
			code[id] = s.strIdx[c.strs[si]]
			si++
		case 1:
			code[id] = s.numIdx[c.nums[ni]]
			ni++
		default:
			code[id] = s.missingCode()
		}
	}
	rows := make([]int32, len(c.rows))
	for i, id := range c.rows {
		rows[i] = code[id]
	}
	return s, rows
}

// targetY collects the target column.
type targetY struct {
	column  string
	str     bool
	classes *catIDs // string targets
	y       []float64
}

type targetFitter struct {
	t    *Target
	cols []*catIDs
	y    targetY
}

func (t *Target) NewFitter(types []arrow.DataType) (Fitter, error) {
	if len(types) != len(t.columns)+1 {
		return nil, fmt.Errorf("features: target: %d column types for %d columns and the target", len(types), len(t.columns))
	}
	f := &targetFitter{t: t, y: targetY{column: t.params.Target}}
	for i, c := range t.columns {
		ids, err := newCatIDs("target", c, types[i])
		if err != nil {
			return nil, err
		}
		f.cols = append(f.cols, ids)
	}
	ydt := types[len(t.columns)]
	switch {
	case isStringType(ydt):
		f.y.str = true
		f.y.classes, _ = newCatIDs("target", t.params.Target, ydt)
	case isNumericType(ydt):
	default:
		return nil, fmt.Errorf("%w: target: target column %q has type %s, want a number or a string", ErrType, t.params.Target, ydt)
	}
	return f, nil
}

func (f *targetFitter) Add(cols []arrow.Array) error {
	if len(cols) != len(f.cols)+1 {
		return fmt.Errorf("features: target: %d columns for %d inputs and the target", len(cols), len(f.cols))
	}
	ycol := cols[len(f.cols)]
	for r := range ycol.Len() {
		if ycol.IsNull(r) {
			return inputErr("target", f.y.column, r, "", fmt.Errorf("%w: the target is missing", ErrMissingValue))
		}
	}
	if f.y.str {
		if err := f.y.classes.add(ycol); err != nil {
			return err
		}
	} else {
		ys, err := floatsOf("target", f.y.column, ycol, nil)
		if err != nil {
			return err
		}
		for r, v := range ys {
			if v != v {
				return inputErr("target", f.y.column, r, "NaN", fmt.Errorf("%w: the target is missing", ErrMissingValue))
			}
			if math.IsInf(v, 0) {
				return inputErr("target", f.y.column, r, strconv.FormatFloat(v, 'g', -1, 64), ErrNonFinite)
			}
		}
		f.y.y = append(f.y.y, ys...)
	}
	for i, c := range f.cols {
		if err := c.add(cols[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *targetFitter) Merge(other Fitter) error {
	o, ok := other.(*targetFitter)
	if !ok || len(o.cols) != len(f.cols) || o.y.str != f.y.str {
		return mergeTypeErr("target", other)
	}
	for i, c := range f.cols {
		if err := c.merge(o.cols[i]); err != nil {
			return err
		}
	}
	if f.y.str {
		return f.y.classes.merge(o.y.classes)
	}
	f.y.y = append(f.y.y, o.y.y...)
	return nil
}

func (f *targetFitter) Finish() (Transform, error) {
	t, _, _, err := f.fit()
	return t, err
}

// FinishCrossFit finishes the fit and returns the cross-fitted encodings of
// the fitted rows (see Target).
func (f *targetFitter) FinishCrossFit() (Transform, [][]float64, error) {
	t, codes, y, err := f.fit()
	if err != nil {
		return nil, nil, err
	}
	n := len(y)
	var folds []int32
	if t.st.TargetType == "binary" {
		folds, err = stratifiedFolds(y, t.cv)
	} else {
		folds, err = contiguousFolds(n, t.cv)
	}
	if err != nil {
		return nil, nil, err
	}
	out := make([][]float64, len(codes))
	for j := range out {
		out[j] = make([]float64, n)
	}
	train := make([]float64, 0, n)
	for k := range int32(t.cv) {
		train = train[:0]
		for r, fk := range folds {
			if fk != k {
				train = append(train, y[r])
			}
		}
		mean, variance := meanVar(train, t.auto)
		for j, cs := range codes {
			enc := t.encode(cs, y, folds, k, t.st.Columns[j].Categories.len(), mean, variance)
			o := out[j]
			for r, fk := range folds {
				if fk == k {
					o[r] = enc[cs[r]]
				}
			}
		}
	}
	return t, out, nil
}

// fit computes the target vector and the encodings on all rows.
func (f *targetFitter) fit() (*Target, [][]int32, []float64, error) {
	t := &Target{columns: f.t.columns, params: f.t.params, auto: f.t.auto, smooth: f.t.smooth, cv: f.t.cv}
	y, ttype, err := f.targetVector()
	if err != nil {
		return nil, nil, nil, err
	}
	if len(y) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: target: no rows to fit", ErrMissingValue)
	}
	st := &targetState{TargetType: ttype}
	mean, variance := meanVar(y, t.auto)
	st.TargetMean = jsonFloat(mean)
	codes := make([][]int32, len(f.cols))
	for j, c := range f.cols {
		set, cs := c.finish()
		codes[j] = cs
		enc := t.encode(cs, y, nil, -1, set.len(), mean, variance)
		st.Columns = append(st.Columns, targetColumnState{Categories: set, Encodings: jsonFloats(enc), enc: enc})
	}
	t.st = st
	return t, codes, y, nil
}

// targetVector returns the target as float64 (0/1 for binary) and its type.
func (f *targetFitter) targetVector() ([]float64, string, error) {
	want := f.t.params.TargetType
	if f.y.str {
		set, codes := f.y.classes.finish()
		if set.len() > 2 {
			return nil, "", fmt.Errorf("%w: target: target %q has %d classes; multiclass targets are not supported", ErrSpec, f.y.column, set.len())
		}
		if want == "continuous" {
			return nil, "", fmt.Errorf("%w: target: target %q is a string column, not continuous", ErrType, f.y.column)
		}
		y := make([]float64, len(codes))
		for i, c := range codes {
			y[i] = float64(c)
		}
		return y, "binary", nil
	}
	y := slices.Clone(f.y.y)
	if want == "continuous" {
		return y, "continuous", nil
	}
	var distinct []float64
	integer := true
	for _, v := range y {
		if v != math.Trunc(v) {
			integer = false
		}
		if len(distinct) <= 2 && !slices.Contains(distinct, v) {
			distinct = append(distinct, v)
		}
	}
	if want == "" || want == "auto" {
		if !integer {
			return y, "continuous", nil
		}
		if len(distinct) > 2 {
			return nil, "", fmt.Errorf("%w: target: target %q is multiclass (more than two integer classes); use target_type \"continuous\" or a binary target", ErrSpec, f.y.column)
		}
	}
	if len(distinct) > 2 {
		return nil, "", fmt.Errorf("%w: target: target %q has more than two values, not binary", ErrSpec, f.y.column)
	}
	slices.Sort(distinct)
	for i, v := range y {
		if len(distinct) == 2 && v == distinct[1] {
			y[i] = 1
		} else {
			y[i] = 0
		}
	}
	return y, "binary", nil
}

// catY is one fitted row: its category code and target.
type catY struct {
	c int32
	y float64
}

// encode computes the encodings of the ncat categories of one column from
// the rows r with folds[r] != skip (all rows when folds is nil), with the
// formulas of scikit-learn's _fit_encoding_fast and
// _fit_encoding_fast_auto_smooth. Sums run over the rows sorted by category
// and target, so the result does not depend on row order (a fit merged from
// partitions in any order is bit-identical to the fit of the whole).
func (t *Target) encode(codes []int32, y []float64, folds []int32, skip int32, ncat int, mean, variance float64) []float64 {
	pairs := make([]catY, 0, len(codes))
	for r, c := range codes {
		if folds == nil || folds[r] != skip {
			pairs = append(pairs, catY{c, y[r]})
		}
	}
	slices.SortFunc(pairs, func(a, b catY) int {
		if a.c != b.c {
			return cmpInt32(a.c, b.c)
		}
		switch {
		case a.y < b.y:
			return -1
		case a.y > b.y:
			return 1
		}
		return 0
	})
	enc := make([]float64, ncat)
	if !t.auto {
		sums := make([]float64, ncat)
		counts := make([]float64, ncat)
		for c := range sums {
			sums[c] = t.smooth * mean
			counts[c] = t.smooth
		}
		for _, p := range pairs {
			sums[p.c] += p.y
			counts[p.c]++
		}
		for c := range enc {
			if counts[c] == 0 {
				enc[c] = mean
			} else {
				enc[c] = sums[c] / counts[c]
			}
		}
		return enc
	}
	means := make([]float64, ncat)
	counts := make([]int64, ncat)
	ssd := make([]float64, ncat)
	for _, p := range pairs {
		counts[p.c]++
		means[p.c] += p.y
	}
	for c := range means {
		means[c] /= float64(counts[c])
	}
	for _, p := range pairs {
		d := p.y - means[p.c]
		ssd[p.c] += d * d
	}
	for c := range enc {
		n := float64(counts[c])
		lambda := variance * n / (variance*n + ssd[c]/n)
		if lambda != lambda {
			enc[c] = mean
		} else {
			enc[c] = lambda*means[c] + (1-lambda)*mean
		}
	}
	return enc
}

func cmpInt32(a, b int32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// meanVar returns numpy.mean and numpy.var of ys (var only when withVar),
// summed in sorted order so the result does not depend on row order.
func meanVar(ys []float64, withVar bool) (mean, variance float64) {
	s := slices.Clone(ys)
	slices.Sort(s)
	mean = npSum(s) / float64(len(s))
	if withVar {
		variance = varianceOf(s, mean)
	}
	return mean, variance
}

// npSum sums xs as numpy.sum of a contiguous float64 array does: the first
// value, plus the pairwise sum of the rest.
func npSum(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[0] + pairwiseSum(xs[1:])
}

// pairwiseSum is NumPy's pairwise summation (pairwise_sum in
// loops_utils.h).
func pairwiseSum(xs []float64) float64 {
	n := len(xs)
	switch {
	case n < 8:
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], xs[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			r[0] += xs[i]
			r[1] += xs[i+1]
			r[2] += xs[i+2]
			r[3] += xs[i+3]
			r[4] += xs[i+4]
			r[5] += xs[i+5]
			r[6] += xs[i+6]
			r[7] += xs[i+7]
		}
		s := (r[0] + r[1]) + (r[2] + r[3]) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += xs[i]
		}
		return s
	}
	n2 := n / 2
	n2 -= n2 % 8
	return pairwiseSum(xs[:n2]) + pairwiseSum(xs[n2:])
}

// varianceOf returns numpy.var(xs) given its mean: the pairwise sum of the
// squared deviations over n.
func varianceOf(xs []float64, mean float64) float64 {
	d := make([]float64, len(xs))
	for i, x := range xs {
		v := x - mean
		d[i] = v * v
	}
	return npSum(d) / float64(len(xs))
}

// contiguousFolds assigns rows to k folds as scikit-learn's KFold with
// shuffle=False: contiguous, the first n mod k folds one row larger.
func contiguousFolds(n, k int) ([]int32, error) {
	if k > n {
		return nil, fmt.Errorf("%w: target: cv %d is more than the %d fitted rows", ErrSpec, k, n)
	}
	folds := make([]int32, n)
	start := 0
	for f := range k {
		size := n / k
		if f < n%k {
			size++
		}
		for r := start; r < start+size; r++ {
			folds[r] = int32(f)
		}
		start += size
	}
	return folds, nil
}

// stratifiedFolds assigns rows to k folds as scikit-learn's
// StratifiedKFold with shuffle=False.
func stratifiedFolds(y []float64, k int) ([]int32, error) {
	n := len(y)
	// Classes numbered in order of first appearance.
	var order []float64
	enc := make([]int, n)
	for i, v := range y {
		c := slices.Index(order, v)
		if c < 0 {
			c = len(order)
			order = append(order, v)
		}
		enc[i] = c
	}
	nc := len(order)
	counts := make([]int, nc)
	for _, c := range enc {
		counts[c]++
	}
	if k > n {
		return nil, fmt.Errorf("%w: target: cv %d is more than the %d fitted rows", ErrSpec, k, n)
	}
	if !slices.ContainsFunc(counts, func(c int) bool { return c >= k }) {
		return nil, fmt.Errorf("%w: target: cv %d is more than the rows of every class", ErrSpec, k)
	}
	// y_order = sort(enc); allocation[f][c] = count of c in y_order[f::k].
	sorted := slices.Clone(enc)
	slices.Sort(sorted)
	alloc := make([][]int, k)
	for f := range alloc {
		alloc[f] = make([]int, nc)
		for i := f; i < n; i += k {
			alloc[f][sorted[i]]++
		}
	}
	folds := make([]int32, n)
	next := make([]int, nc) // per class: current fold
	used := make([]int, nc) // per class: rows given to the current fold
	for i, c := range enc {
		for used[c] >= alloc[next[c]][c] {
			next[c]++
			used[c] = 0
		}
		folds[i] = int32(next[c])
		used[c]++
	}
	return folds, nil
}

func (t *Target) value(j int, c int32) float64 {
	if c < 0 {
		return float64(t.st.TargetMean)
	}
	return t.st.Columns[j].enc[c]
}

func (t *Target) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: target", ErrNotFitted)
	}
	if _, err := checkApply("target", len(t.columns), len(t.columns), cols, out); err != nil {
		return err
	}
	var codes []int32
	var buf []float64
	var err error
	for j := range t.columns {
		codes, buf, err = t.st.Columns[j].Categories.codes("target", t.columns[j], cols[j], codes, buf)
		if err != nil {
			return err
		}
		o := out[j]
		for r, c := range codes {
			o[r] = t.value(j, c)
		}
	}
	return nil
}

func (t *Target) ApplyRow(in []Value, out []float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: target", ErrNotFitted)
	}
	if err := checkRow("target", len(t.columns), len(t.columns), in, out); err != nil {
		return err
	}
	for j := range t.columns {
		c, err := t.st.Columns[j].Categories.code("target", t.columns[j], in[j])
		if err != nil {
			return err
		}
		out[j] = t.value(j, c)
	}
	return nil
}
