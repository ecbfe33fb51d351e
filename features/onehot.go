package features

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// This file holds the one-hot encoder and the category machinery it shares
// with the ordinal and target encoders.
//
// Categories follow scikit-learn's categories="auto": the distinct values of
// a column seen at fit time, sorted (strings by byte order, numbers
// numerically). A missing value (null, or NaN in a numeric column) seen at
// fit time is a category of its own, placed last and named "nan", as
// scikit-learn places np.nan. Numeric categories are read as float64, so an
// integer column and a float column holding the same numbers share keys;
// integers beyond 2^53 lose precision.

// Category column types.
const (
	catString = "string" // string, large_string, string_view, dictionary<string>
	catInt    = "int"    // integers; names print as integers
	catBool   = "bool"   // bool, read as 0 and 1; names print as False and True
	catFloat  = "float"  // floats; names print as Python's repr (1.0, 2.5)
)

// catTypeOf returns the category type of an Arrow type, or an ErrType error.
func catTypeOf(kind, column string, dt arrow.DataType) (string, error) {
	switch {
	case isStringType(dt):
		return catString, nil
	case dt.ID() == arrow.FLOAT16 || dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64:
		return catFloat, nil
	case dt.ID() == arrow.BOOL:
		return catBool, nil
	case isNumericType(dt):
		return catInt, nil
	}
	return "", fmt.Errorf("%w: %s: column %q has type %s, want a string or a number", ErrType, kind, column, dt)
}

// catCounter counts the categories of one column during a fit.
type catCounter struct {
	kind, column string
	typ          string
	strs         map[string]int64
	short        map[uint64]int64 // counts of strings of up to 7 bytes, by packShort; folded into strs by merge and finish
	nums         map[float64]int64
	nulls        int64
	rows         int64
	buf          []float64
}

func newCatCounter(kind, column string, dt arrow.DataType) (*catCounter, error) {
	typ, err := catTypeOf(kind, column, dt)
	if err != nil {
		return nil, err
	}
	c := &catCounter{kind: kind, column: column, typ: typ}
	if typ == catString {
		c.strs = map[string]int64{}
		c.short = map[uint64]int64{}
	} else {
		c.nums = map[float64]int64{}
	}
	return c, nil
}

func (c *catCounter) add(arr arrow.Array) error {
	n := arr.Len()
	c.rows += int64(n)
	if c.typ == catString {
		if !isStringType(arr.DataType()) {
			return fmt.Errorf("%w: %s: column %q has type %s, want a string", ErrType, c.kind, c.column, arr.DataType())
		}
		if d, ok := arr.(*array.Dictionary); ok {
			counts := make([]int64, d.Dictionary().Len())
			for i := range n {
				if d.IsNull(i) {
					c.nulls++
					continue
				}
				counts[d.GetValueIndex(i)]++
			}
			for j, k := range counts {
				if k == 0 {
					continue
				}
				if s, ok := stringAt(d.Dictionary(), j); ok {
					c.strs[strings.Clone(s)] += k
				} else {
					c.nulls += k
				}
			}
			return nil
		}
		for i := range n {
			s, ok := stringAt(arr, i)
			if !ok {
				c.nulls++
				continue
			}
			if key, ok := packShort(s); ok {
				c.short[key]++
				continue
			}
			if k, seen := c.strs[s]; seen {
				c.strs[s] = k + 1
			} else {
				c.strs[strings.Clone(s)] = 1
			}
		}
		return nil
	}
	xs, err := floatsOf(c.kind, c.column, arr, c.buf)
	if err != nil {
		return err
	}
	c.buf = xs
	for i, x := range xs {
		if x != x {
			c.nulls++
			continue
		}
		if math.IsInf(x, 0) {
			return inputErr(c.kind, c.column, i, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
		}
		if x == 0 {
			x = 0 // -0 and +0 are one category
		}
		c.nums[x]++
	}
	return nil
}

func (c *catCounter) merge(o *catCounter) error {
	if o.typ != c.typ {
		return fmt.Errorf("%w: %s: column %q: merging a %s fit into a %s fit", ErrType, c.kind, c.column, o.typ, c.typ)
	}
	c.fold()
	o.fold()
	for s, k := range o.strs {
		c.strs[s] += k
	}
	for x, k := range o.nums {
		c.nums[x] += k
	}
	c.nulls += o.nulls
	c.rows += o.rows
	return nil
}

// finish returns the sorted categories and their counts, in that order.
func (c *catCounter) finish() (*catSet, []int64) {
	c.fold()
	s := &catSet{Type: c.typ}
	var counts []int64
	if c.typ == catString {
		s.Strings = make([]string, 0, len(c.strs))
		for k := range c.strs {
			s.Strings = append(s.Strings, k)
		}
		sort.Strings(s.Strings)
		for _, k := range s.Strings {
			counts = append(counts, c.strs[k])
		}
	} else {
		s.Numbers = make([]float64, 0, len(c.nums))
		for x := range c.nums {
			s.Numbers = append(s.Numbers, x)
		}
		slices.Sort(s.Numbers)
		for _, x := range s.Numbers {
			counts = append(counts, c.nums[x])
		}
	}
	if c.nulls > 0 {
		s.Missing = true
		counts = append(counts, c.nulls)
	}
	s.index()
	return s, counts
}

// catSet is the fitted, sorted categories of one column. It is also the
// saved form: {"type", "strings" | "numbers", "missing"}.
type catSet struct {
	Type    string    `json:"type"`
	Strings []string  `json:"strings,omitempty"`
	Numbers []float64 `json:"numbers,omitempty"`
	// Missing reports a missing-value category, after the others.
	Missing bool `json:"missing,omitempty"`

	strIdx   map[string]int32
	shortIdx map[uint64]int32 // the strings of up to 7 bytes, by packShort
	numIdx   map[float64]int32
}

// fold moves the counts of short strings into strs.
func (c *catCounter) fold() {
	for key, k := range c.short {
		c.strs[unpackShort(key)] += k
	}
	clear(c.short)
}

// packShort packs a string of at most 7 bytes and its length into a
// uint64, a faster map key than the string for the short codes that
// categories often are (airports, countries, states).
func packShort(s string) (uint64, bool) {
	if len(s) > 7 {
		return 0, false
	}
	var k uint64
	for i := 0; i < len(s); i++ {
		k |= uint64(s[i]) << (8 * i)
	}
	return k | uint64(len(s))<<56, true
}

func unpackShort(k uint64) string {
	n := int(k >> 56)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(k >> (8 * i))
	}
	return string(b)
}

// index builds the lookup maps.
func (s *catSet) index() {
	if s.Type == catString {
		s.strIdx = make(map[string]int32, len(s.Strings))
		s.shortIdx = make(map[uint64]int32)
		for i, v := range s.Strings {
			s.strIdx[v] = int32(i)
			if key, ok := packShort(v); ok {
				s.shortIdx[key] = int32(i)
			}
		}
	} else {
		s.numIdx = make(map[float64]int32, len(s.Numbers))
		for i, v := range s.Numbers {
			s.numIdx[v] = int32(i)
		}
	}
}

// validate checks a loaded set and indexes it.
func (s *catSet) validate(kind, column string) error {
	switch s.Type {
	case catString:
		if len(s.Numbers) > 0 || !slices.IsSorted(s.Strings) || hasDup(s.Strings) {
			return fmt.Errorf("%w: %s: column %q: string categories must be sorted and distinct", ErrState, kind, column)
		}
	case catInt, catFloat, catBool:
		if len(s.Strings) > 0 || !slices.IsSorted(s.Numbers) || hasDup(s.Numbers) {
			return fmt.Errorf("%w: %s: column %q: numeric categories must be sorted and distinct", ErrState, kind, column)
		}
		for _, x := range s.Numbers {
			if x != x || math.IsInf(x, 0) {
				return fmt.Errorf("%w: %s: column %q: category %v", ErrState, kind, column, x)
			}
		}
	default:
		return fmt.Errorf("%w: %s: column %q: category type %q", ErrState, kind, column, s.Type)
	}
	s.index()
	return nil
}

func hasDup[T comparable](xs []T) bool {
	for i := 1; i < len(xs); i++ {
		if xs[i] == xs[i-1] {
			return true
		}
	}
	return false
}

// len returns the number of categories, the missing one included.
func (s *catSet) len() int {
	n := len(s.Strings) + len(s.Numbers)
	if s.Missing {
		n++
	}
	return n
}

// missingCode returns the code of a missing value: the missing category, or
// -1 (unknown) when none was seen at fit.
func (s *catSet) missingCode() int32 {
	if s.Missing {
		return int32(len(s.Strings) + len(s.Numbers))
	}
	return -1
}

// names returns the display names of the categories, as scikit-learn's
// get_feature_names_out prints them.
func (s *catSet) names() []string {
	out := make([]string, 0, s.len())
	out = append(out, s.Strings...)
	for _, x := range s.Numbers {
		switch s.Type {
		case catInt:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case catBool:
			if x == 0 {
				out = append(out, "False")
			} else {
				out = append(out, "True")
			}
		default:
			out = append(out, pyFloatRepr(x))
		}
	}
	if s.Missing {
		out = append(out, "nan")
	}
	return out
}

// pyFloatRepr formats x as Python's repr(float) does.
func pyFloatRepr(x float64) string {
	if x == 0 {
		if math.Signbit(x) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(x))))
	// Recompute the decimal exponent from the shortest representation, as
	// Log10 can be off by one at powers of ten.
	e := strconv.FormatFloat(x, 'e', -1, 64)
	if i := strings.IndexByte(e, 'e'); i >= 0 {
		if v, err := strconv.Atoi(e[i+1:]); err == nil {
			exp = v
		}
	}
	if exp < -4 || exp >= 16 {
		return e
	}
	f := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.ContainsAny(f, ".") {
		f += ".0"
	}
	return f
}

// codes fills codes[i] with the category code of row i of arr, -1 for a
// value not in the set. A column of the wrong type is an ErrType error.
func (s *catSet) codes(kind, column string, arr arrow.Array, codes []int32, buf []float64) ([]int32, []float64, error) {
	n := arr.Len()
	if cap(codes) < n {
		codes = make([]int32, n)
	}
	codes = codes[:n]
	miss := s.missingCode()
	if s.Type == catString {
		if !isStringType(arr.DataType()) {
			return codes, buf, fmt.Errorf("%w: %s: column %q has type %s, want a string", ErrType, kind, column, arr.DataType())
		}
		if d, ok := arr.(*array.Dictionary); ok {
			dict := d.Dictionary()
			dcodes := make([]int32, dict.Len())
			for j := range dcodes {
				if v, ok := stringAt(dict, j); ok {
					dcodes[j] = s.lookupStr(v)
				} else {
					dcodes[j] = miss
				}
			}
			for i := range n {
				if d.IsNull(i) {
					codes[i] = miss
				} else {
					codes[i] = dcodes[d.GetValueIndex(i)]
				}
			}
			return codes, buf, nil
		}
		for i := range n {
			if v, ok := stringAt(arr, i); ok {
				codes[i] = s.lookupStr(v)
			} else {
				codes[i] = miss
			}
		}
		return codes, buf, nil
	}
	if isStringType(arr.DataType()) {
		return codes, buf, fmt.Errorf("%w: %s: column %q has type %s, want a number", ErrType, kind, column, arr.DataType())
	}
	xs, err := floatsOf(kind, column, arr, buf)
	if err != nil {
		return codes, buf, err
	}
	for i, x := range xs {
		if x != x {
			codes[i] = miss
			continue
		}
		if math.IsInf(x, 0) {
			return codes, xs, inputErr(kind, column, i, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
		}
		codes[i] = s.lookupNum(x)
	}
	return codes, xs, nil
}

func (s *catSet) lookupStr(v string) int32 {
	if key, ok := packShort(v); ok && s.shortIdx != nil {
		if c, ok := s.shortIdx[key]; ok {
			return c
		}
		return -1
	}
	if c, ok := s.strIdx[v]; ok {
		return c
	}
	return -1
}

func (s *catSet) lookupNum(x float64) int32 {
	if x == 0 {
		x = 0
	}
	if c, ok := s.numIdx[x]; ok {
		return c
	}
	return -1
}

// code returns the category code of a single-row value, -1 for unknown.
func (s *catSet) code(kind, column string, v Value) (int32, error) {
	if v.IsNull() {
		return s.missingCode(), nil
	}
	if s.Type == catString {
		str, ok := v.Str()
		if !ok {
			return 0, inputErr(kind, column, -1, v.String(), fmt.Errorf("%w: got a %s, want a string", ErrType, v.kindName()))
		}
		return s.lookupStr(str), nil
	}
	x, ok := v.Num()
	if !ok {
		return 0, inputErr(kind, column, -1, v.String(), fmt.Errorf("%w: got a %s, want a number", ErrType, v.kindName()))
	}
	if x != x {
		return s.missingCode(), nil
	}
	if math.IsInf(x, 0) {
		return 0, inputErr(kind, column, -1, v.String(), ErrNonFinite)
	}
	return s.lookupNum(x), nil
}

// cellString formats row i of arr for an error message.
func cellString(arr arrow.Array, i int) string {
	return valueAt(arr, i).String()
}

// checkApply validates the shapes passed to Apply.
func checkApply(kind string, ncols, nout int, cols []arrow.Array, out [][]float64) (int, error) {
	if len(cols) != ncols {
		return 0, fmt.Errorf("features: %s: %d columns for %d inputs", kind, len(cols), ncols)
	}
	if len(out) != nout {
		return 0, fmt.Errorf("features: %s: %d output slices for %d outputs", kind, len(out), nout)
	}
	rows := 0
	if ncols > 0 {
		rows = cols[0].Len()
	}
	for i, c := range cols {
		if c.Len() != rows {
			return 0, fmt.Errorf("features: %s: input %d has %d rows, input 0 has %d", kind, i, c.Len(), rows)
		}
	}
	for j, o := range out {
		if len(o) != rows {
			return 0, fmt.Errorf("features: %s: output %d has length %d for %d rows", kind, j, len(o), rows)
		}
	}
	return rows, nil
}

// checkRow validates the shapes passed to ApplyRow.
func checkRow(kind string, ncols, nout int, in []Value, out []float64) error {
	if len(in) != ncols {
		return fmt.Errorf("features: %s: %d values for %d inputs", kind, len(in), ncols)
	}
	if len(out) != nout {
		return fmt.Errorf("features: %s: output of length %d for %d outputs", kind, len(out), nout)
	}
	return nil
}

// ---- one-hot encoder ----

// OneHotParams are the parameters of the "onehot" transform, named after
// scikit-learn's OneHotEncoder (dense output only).
type OneHotParams struct {
	// HandleUnknown is "error" (default: an unknown category is an
	// ErrUnknownCategory error), "ignore" (all zeros) or
	// "infrequent_if_exist" (the infrequent column when there is one, else
	// all zeros).
	HandleUnknown string `json:"handle_unknown"`
	// MinFrequency makes categories seen fewer times infrequent: an integer
	// is a count, a fraction (a number with a decimal point) a share of the
	// fitted rows. Null means none.
	MinFrequency *json.Number `json:"min_frequency"`
	// MaxCategories caps the output columns per input column, the
	// infrequent column included; the least frequent categories (ties
	// broken by sort order) become infrequent. Null means no cap.
	MaxCategories *int `json:"max_categories"`
	// Drop is "" or null (default: keep every category), "first" (drop the
	// output of each column's first category, which then encodes as all
	// zeros) or "if_binary" (the same, for columns with exactly two
	// categories only). It cannot be combined with max_categories or
	// min_frequency here.
	Drop *string `json:"drop,omitempty"`
}

// OneHot is the "onehot" transform: for each input column, one output per
// category ("<column>_<category>"), plus "<column>_infrequent_sklearn" when
// some categories are infrequent (max_categories, min_frequency), as
// scikit-learn 1.2 does. Output is dense; scikit-learn's sparse output and
// drop given as a list of categories are not supported.
type OneHot struct {
	columns []string
	params  OneHotParams
	cats    []*catSet
	infreq  [][]int  // per column, sorted infrequent category codes
	slot    [][]int  // per column, category code → output offset
	offset  []int    // per column, first output
	width   []int    // per column, number of outputs
	outputs []string // nil until fitted
}

func init() {
	registerKind("onehot", kind{New: newOneHotSpec, Load: loadOneHot})
}

func newOneHotSpec(columns []string, raw json.RawMessage) (Transform, error) {
	p := OneHotParams{HandleUnknown: "error"}
	if err := decodeParams("onehot", raw, &p); err != nil {
		return nil, err
	}
	return NewOneHot(columns, p)
}

// NewOneHot returns an unfitted one-hot encoder.
func NewOneHot(columns []string, p OneHotParams) (*OneHot, error) {
	if err := validColumns("onehot", columns); err != nil {
		return nil, err
	}
	if p.HandleUnknown == "" {
		p.HandleUnknown = "error"
	}
	switch p.HandleUnknown {
	case "error", "ignore", "infrequent_if_exist":
	default:
		return nil, fmt.Errorf("%w: onehot: handle_unknown %q (want error, ignore or infrequent_if_exist)", ErrSpec, p.HandleUnknown)
	}
	if p.MaxCategories != nil && *p.MaxCategories < 1 {
		return nil, fmt.Errorf("%w: onehot: max_categories %d < 1", ErrSpec, *p.MaxCategories)
	}
	if p.MinFrequency != nil {
		if _, _, err := minFrequency(*p.MinFrequency); err != nil {
			return nil, err
		}
	}
	if p.Drop != nil {
		switch *p.Drop {
		case "", "first", "if_binary":
		default:
			return nil, fmt.Errorf("%w: onehot: drop %q (want first or if_binary)", ErrSpec, *p.Drop)
		}
		if *p.Drop != "" && (p.MinFrequency != nil || p.MaxCategories != nil) {
			return nil, fmt.Errorf("%w: onehot: drop cannot be combined with max_categories or min_frequency", ErrSpec)
		}
	}
	return &OneHot{columns: slices.Clone(columns), params: p}, nil
}

// minFrequency parses min_frequency: an integer count (>= 1) or a fraction
// in (0, 1).
func minFrequency(n json.Number) (count int64, frac float64, err error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		c, err := strconv.ParseInt(s, 10, 64)
		if err != nil || c < 1 {
			return 0, 0, fmt.Errorf("%w: onehot: min_frequency %s (want an integer >= 1 or a fraction in (0, 1))", ErrSpec, s)
		}
		return c, 0, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0 && f < 1) {
		return 0, 0, fmt.Errorf("%w: onehot: min_frequency %s (want an integer >= 1 or a fraction in (0, 1))", ErrSpec, s)
	}
	return 0, f, nil
}

func (t *OneHot) Kind() string      { return "onehot" }
func (t *OneHot) Inputs() []string  { return slices.Clone(t.columns) }
func (t *OneHot) Outputs() []string { return slices.Clone(t.outputs) }
func (t *OneHot) Fitted() bool      { return t.cats != nil }
func (t *OneHot) Params() any       { return t.params }

// oneHotColumnState is the saved state of one column.
type oneHotColumnState struct {
	Categories *catSet `json:"categories"`
	// Infrequent lists the codes (indices into the categories) of the
	// infrequent categories.
	Infrequent []int `json:"infrequent,omitempty"`
}

func (t *OneHot) State() any {
	if !t.Fitted() {
		return nil
	}
	st := make([]oneHotColumnState, len(t.columns))
	for i := range st {
		st[i] = oneHotColumnState{Categories: t.cats[i], Infrequent: t.infreq[i]}
	}
	return st
}

func loadOneHot(columns []string, params, state json.RawMessage) (Transform, error) {
	tr, err := newOneHotSpec(columns, params)
	if err != nil {
		return nil, err
	}
	t := tr.(*OneHot)
	var st []oneHotColumnState
	if err := decodeState("onehot", state, &st); err != nil {
		return nil, err
	}
	if len(st) != len(columns) {
		return nil, fmt.Errorf("%w: onehot: state for %d columns, want %d", ErrState, len(st), len(columns))
	}
	cats := make([]*catSet, len(st))
	infreq := make([][]int, len(st))
	for i, s := range st {
		if s.Categories == nil {
			return nil, fmt.Errorf("%w: onehot: column %q: no categories", ErrState, columns[i])
		}
		if err := s.Categories.validate("onehot", columns[i]); err != nil {
			return nil, err
		}
		n := s.Categories.len()
		if !slices.IsSorted(s.Infrequent) || hasDup(s.Infrequent) || (len(s.Infrequent) > 0 && (s.Infrequent[0] < 0 || s.Infrequent[len(s.Infrequent)-1] >= n)) {
			return nil, fmt.Errorf("%w: onehot: column %q: bad infrequent list", ErrState, columns[i])
		}
		cats[i], infreq[i] = s.Categories, s.Infrequent
	}
	t.setFitted(cats, infreq)
	return t, nil
}

// setFitted installs the fitted categories and derives the output layout.
func (t *OneHot) setFitted(cats []*catSet, infreq [][]int) {
	t.cats, t.infreq = cats, infreq
	t.slot = make([][]int, len(cats))
	t.offset = make([]int, len(cats))
	t.width = make([]int, len(cats))
	t.outputs = nil
	for i, s := range cats {
		t.offset[i] = len(t.outputs)
		names := s.names()
		isInf := make([]bool, len(names))
		for _, c := range infreq[i] {
			isInf[c] = true
		}
		slot := make([]int, len(names))
		drop := -1
		if d := t.params.Drop; d != nil && (*d == "first" || (*d == "if_binary" && len(names) == 2)) {
			drop = 0
		}
		k := 0
		for c, name := range names {
			if isInf[c] {
				continue
			}
			if c == drop {
				slot[c] = -1
				continue
			}
			slot[c] = k
			k++
			t.outputs = append(t.outputs, t.columns[i]+"_"+name)
		}
		if len(infreq[i]) > 0 {
			for _, c := range infreq[i] {
				slot[c] = k
			}
			k++
			t.outputs = append(t.outputs, t.columns[i]+"_infrequent_sklearn")
		}
		t.slot[i], t.width[i] = slot, k
	}
}

type oneHotFitter struct {
	t        *OneHot
	counters []*catCounter
}

func (t *OneHot) NewFitter(types []arrow.DataType) (Fitter, error) {
	if len(types) != len(t.columns) {
		return nil, fmt.Errorf("features: onehot: %d column types for %d columns", len(types), len(t.columns))
	}
	f := &oneHotFitter{t: t}
	for i, dt := range types {
		c, err := newCatCounter("onehot", t.columns[i], dt)
		if err != nil {
			return nil, err
		}
		f.counters = append(f.counters, c)
	}
	return f, nil
}

func (f *oneHotFitter) Add(cols []arrow.Array) error {
	if len(cols) != len(f.counters) {
		return fmt.Errorf("features: onehot: %d columns for %d inputs", len(cols), len(f.counters))
	}
	for i, c := range f.counters {
		if err := c.add(cols[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *oneHotFitter) Merge(other Fitter) error {
	o, ok := other.(*oneHotFitter)
	if !ok || len(o.counters) != len(f.counters) {
		return fmt.Errorf("features: onehot: cannot merge a %T", other)
	}
	for i, c := range f.counters {
		if err := c.merge(o.counters[i]); err != nil {
			return err
		}
	}
	return nil
}

func (f *oneHotFitter) Finish() (Transform, error) {
	t := &OneHot{columns: f.t.columns, params: f.t.params}
	cats := make([]*catSet, len(f.counters))
	infreq := make([][]int, len(f.counters))
	for i, c := range f.counters {
		s, counts := c.finish()
		cats[i] = s
		infreq[i] = t.infrequent(counts, c.rows)
	}
	t.setFitted(cats, infreq)
	return t, nil
}

// infrequent returns the codes of the infrequent categories, as
// scikit-learn 1.2's _identify_infrequent finds them.
func (t *OneHot) infrequent(counts []int64, rows int64) []int {
	mask := make([]bool, len(counts))
	if t.params.MinFrequency != nil {
		count, frac, _ := minFrequency(*t.params.MinFrequency)
		for i, k := range counts {
			if count > 0 {
				mask[i] = k < count
			} else {
				mask[i] = float64(k) < float64(rows)*frac
			}
		}
	}
	if t.params.MaxCategories != nil {
		nInf := 0
		for _, m := range mask {
			if m {
				nInf++
			}
		}
		maxCat := *t.params.MaxCategories
		if current := len(counts) - nInf + 1; maxCat < current {
			// The len(counts)-maxCat+1 smallest counts (stable: ties in
			// category order) become infrequent.
			order := make([]int, len(counts))
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] < counts[order[b]] })
			take := len(counts) - maxCat + 1
			if maxCat == 1 {
				take = 0 // scikit-learn's slice [:-0] is empty
			}
			for _, c := range order[:take] {
				mask[c] = true
			}
		}
	}
	var out []int
	for i, m := range mask {
		if m {
			out = append(out, i)
		}
	}
	return out
}

func (t *OneHot) Apply(cols []arrow.Array, out [][]float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: onehot", ErrNotFitted)
	}
	rows, err := checkApply("onehot", len(t.columns), len(t.outputs), cols, out)
	if err != nil {
		return err
	}
	var codes []int32
	var buf []float64
	for i, s := range t.cats {
		codes, buf, err = s.codes("onehot", t.columns[i], cols[i], codes, buf)
		if err != nil {
			return err
		}
		o := out[t.offset[i] : t.offset[i]+t.width[i]]
		for _, col := range o {
			clear(col)
		}
		for r := 0; r < rows; r++ {
			k, err := t.slotOf(i, codes[r])
			if err != nil {
				return inputErr("onehot", t.columns[i], r, cellString(cols[i], r), err)
			}
			if k >= 0 {
				o[k][r] = 1
			}
		}
	}
	return nil
}

// slotOf returns the output offset within column i of category code c, -1
// for none (a dropped category, an ignored unknown).
func (t *OneHot) slotOf(i int, c int32) (int, error) {
	if c >= 0 {
		return t.slot[i][c], nil
	}
	switch t.params.HandleUnknown {
	case "ignore":
		return -1, nil
	case "infrequent_if_exist":
		if len(t.infreq[i]) > 0 {
			return t.width[i] - 1, nil
		}
		return -1, nil
	}
	return 0, ErrUnknownCategory
}

func (t *OneHot) ApplyRow(in []Value, out []float64) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: onehot", ErrNotFitted)
	}
	if err := checkRow("onehot", len(t.columns), len(t.outputs), in, out); err != nil {
		return err
	}
	for i, s := range t.cats {
		c, err := s.code("onehot", t.columns[i], in[i])
		if err != nil {
			return err
		}
		o := out[t.offset[i] : t.offset[i]+t.width[i]]
		clear(o)
		k, err := t.slotOf(i, c)
		if err != nil {
			return inputErr("onehot", t.columns[i], -1, in[i].String(), err)
		}
		if k >= 0 {
			o[k] = 1
		}
	}
	return nil
}

func (t *OneHot) onesPerRow() int { return len(t.columns) }

// applyOnes is Apply without the zeros: the output index of each row's
// one per input column, or -1.
func (t *OneHot) applyOnes(cols []arrow.Array, pos []int32) error {
	if !t.Fitted() {
		return fmt.Errorf("%w: onehot", ErrNotFitted)
	}
	if len(cols) != len(t.columns) {
		return fmt.Errorf("%w: onehot: %d input columns, want %d", ErrSpec, len(cols), len(t.columns))
	}
	per := len(t.columns)
	var codes []int32
	var buf []float64
	var err error
	for i, s := range t.cats {
		codes, buf, err = s.codes("onehot", t.columns[i], cols[i], codes, buf)
		if err != nil {
			return err
		}
		for r := range cols[i].Len() {
			k, err := t.slotOf(i, codes[r])
			if err != nil {
				return inputErr("onehot", t.columns[i], r, cellString(cols[i], r), err)
			}
			if k >= 0 {
				k += t.offset[i]
			}
			pos[r*per+i] = int32(k)
		}
	}
	return nil
}
