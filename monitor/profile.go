package monitor

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/internal/sketch"
	"github.com/kilnml/kiln/pipeline"
)

// Profile defaults and bounds.
const (
	defaultSketchK = 256
	defaultTopK    = 256
	defaultBins    = 100
	maxSketchK     = 1 << 16
	maxTopK        = 1 << 16
	maxBins        = 10000
	// topCapFactor is how many more counters than TopK a categorical column
	// keeps, so that the reported Top values are exact up to that many
	// distinct values and tightly bounded beyond.
	topCapFactor = 4
	// hllPrecision is the precision of every column's distinct-count
	// sketch: 4096 registers (4 KiB), relative standard error 1.625%.
	hllPrecision = 12
)

// ProfileOptions choose which columns a profile summarizes and how finely.
type ProfileOptions struct {
	// Columns names the columns to profile, in the profile's order. nil
	// profiles every supported column in schema order: integer, unsigned and
	// floating-point columns as Numeric; string, large string, string view,
	// boolean and dictionary-of-string columns as Categorical. Other types
	// (timestamps, dates, decimals, binary, nested) are skipped when Columns
	// is nil and are an error when named.
	Columns []string
	// Categorical names numeric columns to profile as categories: each value
	// is the category named by its shortest decimal text (strconv.FormatInt,
	// FormatUint, or FormatFloat with format 'g' and precision -1).
	Categorical []string
	// SketchK is the KLL accuracy parameter of numeric columns (0: 256). A
	// column's quantiles have a normalized rank error of 2/SketchK (see
	// ColumnProfile.RankError) and its sketch holds at most about
	// 3·SketchK values.
	SketchK int
	// TopK is the number of most frequent values reported per categorical
	// column (0: 256). Counts are exact while a column has at most
	// 4·TopK distinct values; beyond that a Space-Saving summary of 4·TopK
	// counters bounds each reported count's overcount (TopError).
	TopK int
	// Bins is the number of fine bins of the frozen histogram of numeric
	// columns (0: 100). It must be a multiple of 10.
	Bins int
}

func (o ProfileOptions) resolved() (ProfileOptions, error) {
	if o.SketchK == 0 {
		o.SketchK = defaultSketchK
	}
	if o.TopK == 0 {
		o.TopK = defaultTopK
	}
	if o.Bins == 0 {
		o.Bins = defaultBins
	}
	switch {
	case o.SketchK < 8 || o.SketchK > maxSketchK:
		return o, inputErr("profile SketchK %d outside [8, %d]", o.SketchK, maxSketchK)
	case o.TopK < 1 || o.TopK > maxTopK:
		return o, inputErr("profile TopK %d outside [1, %d]", o.TopK, maxTopK)
	case o.Bins < 10 || o.Bins > maxBins || o.Bins%10 != 0:
		return o, inputErr("profile Bins %d is not a multiple of 10 in [10, %d]", o.Bins, maxBins)
	}
	return o, nil
}

// Profile is a one-pass, mergeable, serializable summary of a batch of
// data, per column: counts, moments and a quantile sketch with a frozen
// histogram for numeric columns, the most frequent values for categorical
// ones, and a distinct-count sketch for both. A reference profile stands in
// for the reference data when monitoring drift.
//
// The binary form (MarshalBinary, WriteTo) keeps the sketches, so a decoded
// profile can be merged and queried exactly as the original. The JSON form
// is for people: it holds the exported fields and the options but not the
// sketches (see MarshalJSON).
type Profile struct {
	// Rows is the number of rows summarized.
	Rows int64 `json:"rows"`
	// Columns holds one summary per profiled column, in order.
	Columns []*ColumnProfile `json:"columns"`

	sketchK, topK, bins int
}

// Frequency is a categorical value and its count.
type Frequency struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// ColumnProfile summarizes one column.
type ColumnProfile struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Type is the Arrow type of the column as arrow.DataType.String writes
	// it, e.g. "int64", "float64", "utf8", "large_utf8".
	Type string `json:"type"`
	// Count is the number of non-null values; for numeric columns, of finite
	// values.
	Count int64 `json:"count"`
	// Nulls is the number of null values.
	Nulls int64 `json:"nulls"`

	// NonFinite counts the NaN and ±Inf values of a numeric column; they
	// are not in Count or in any other statistic.
	NonFinite int64 `json:"non_finite,omitempty"`
	// Min, Max and Mean are the exact minimum, maximum and mean of the
	// finite values, and M2 = Σ (x − Mean)² (accumulated per batch and
	// merged with Chan et al.'s pairwise update). All are 0 when Count is 0.
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	// Edges are the Bins−1 inner edges of the frozen histogram: Edges[i−1]
	// is the sketch's quantile at i/Bins, the smallest value whose
	// cumulative count reaches i·Count/Bins (nondecreasing, may repeat).
	// Nil when Count is 0.
	Edges []float64 `json:"edges,omitempty"`
	// Counts are the Bins counts of the histogram: Counts[i] is the number
	// of values x with Edges[i−1] <= x < Edges[i] (Edges[−1] = −Inf,
	// Edges[Bins−1] = +Inf), as the sketch estimates it (exact when
	// RankError is 0, otherwise within 2·RankError·Count). They are whole
	// numbers summing to Count. A value's bin is Bin(x).
	Counts []float64 `json:"counts,omitempty"`

	// Top holds the most frequent values of a categorical column, most
	// frequent first, ties by value, at most TopK of them.
	Top []Frequency `json:"top,omitempty"`
	// Other is the number of values not in Top (Count − Σ Top counts,
	// clamped at 0).
	Other int64 `json:"other,omitempty"`
	// TopError bounds the overcount of every Top count: the true count of
	// a Top value lies in [Count − TopError, Count]. 0 when exact.
	TopError int64 `json:"top_error,omitempty"`

	kll *sketch.KLL
	hll *sketch.HLL
	top *topK

	// Answers kept for a profile decoded from JSON, which has no sketches.
	distinct  uint64
	rankError float64
}

// Variance returns the population variance M2/Count (NaN when Count is 0).
func (c *ColumnProfile) Variance() float64 {
	if c.Count == 0 {
		return math.NaN()
	}
	return c.M2 / float64(c.Count)
}

// Std returns the population standard deviation, sqrt(Variance()).
func (c *ColumnProfile) Std() float64 { return math.Sqrt(c.Variance()) }

// Quantile returns the q-quantile (0 <= q <= 1) of a numeric column's
// finite values from its KLL sketch: the smallest held value whose
// cumulative count reaches q·Count (numpy.quantile's "inverted_cdf" method
// when the sketch is exact); Quantile(0) and Quantile(1) are Min and Max.
// Without a sketch (a profile read from JSON) it interpolates linearly
// between Min, the Edges and Max. NaN for an empty or categorical column or
// q outside [0, 1].
func (c *ColumnProfile) Quantile(q float64) float64 {
	if c.Kind != Numeric || c.Count == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	if c.kll != nil {
		return c.kll.Quantile(q)
	}
	knots := c.knots()
	pos := q * float64(len(knots)-1)
	i := min(int(pos), len(knots)-2)
	f := pos - float64(i)
	return knots[i] + f*(knots[i+1]-knots[i])
}

func (c *ColumnProfile) knots() []float64 {
	k := make([]float64, 0, len(c.Edges)+2)
	k = append(k, c.Min)
	k = append(k, c.Edges...)
	return append(k, c.Max)
}

// Rank returns the fraction of a numeric column's finite values that are
// <= x, from the sketch (within RankError). Without a sketch it
// interpolates linearly within x's histogram bin. NaN for an empty or
// categorical column.
func (c *ColumnProfile) Rank(x float64) float64 {
	if c.Kind != Numeric || c.Count == 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if c.kll != nil {
		return c.kll.Rank(x)
	}
	if x < c.Min {
		return 0
	}
	if x >= c.Max {
		return 1
	}
	b := c.Bin(x)
	var below float64
	for _, n := range c.Counts[:b] {
		below += n
	}
	knots := c.knots()
	lo, hi := knots[b], knots[b+1]
	f := 1.0
	if hi > lo {
		f = (x - lo) / (hi - lo)
	}
	return (below + f*c.Counts[b]) / float64(c.Count)
}

// RankError returns the stated normalized rank error of Quantile, Rank and
// the histogram Counts: 0 when the sketch still holds every value, 2/SketchK
// otherwise (see sketch.KLL.RankError); an interval count is within
// 2·RankError·Count. Without a sketch (decoded from JSON) it returns the
// value recorded in the JSON. 0 for categorical columns.
func (c *ColumnProfile) RankError() float64 {
	if c.kll != nil {
		return c.kll.RankError()
	}
	return c.rankError
}

// Distinct returns the estimated number of distinct non-null values (for
// numeric columns, distinct finite values, with −0 and 0 the same), from a
// HyperLogLog sketch of 4096 registers.
func (c *ColumnProfile) Distinct() uint64 {
	if c.hll != nil {
		return c.hll.Estimate()
	}
	return c.distinct
}

// DistinctError returns the relative standard error of Distinct:
// 1.04/sqrt(4096) = 1.625%.
func (c *ColumnProfile) DistinctError() float64 {
	return 1.04 / math.Sqrt(float64(int(1)<<hllPrecision))
}

// Bin returns the index into Counts of the bin holding x: the number of
// edges <= x (a binary search). NaN gives 0.
func (c *ColumnProfile) Bin(x float64) int {
	lo, hi := 0, len(c.Edges)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.Edges[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// freeze computes the exported derived fields (Edges, Counts, Top, Other,
// TopError) from the sketches.
func (c *ColumnProfile) freeze(bins, topN int) {
	switch c.Kind {
	case Numeric:
		c.Edges, c.Counts = nil, nil
		if c.Count == 0 {
			c.Min, c.Max, c.Mean, c.M2 = 0, 0, 0, 0
			return
		}
		c.Edges = c.kll.EvenQuantiles(bins)
		below := c.kll.WeightBelow(c.Edges)
		c.Counts = make([]float64, bins)
		prev := 0.0
		for i, w := range below {
			c.Counts[i] = w - prev
			prev = w
		}
		c.Counts[bins-1] = float64(c.Count) - prev
	case Categorical:
		s := c.top.sorted()
		s = s[:min(len(s), topN)]
		c.Top = make([]Frequency, len(s))
		c.TopError = 0
		var sum int64
		for i, e := range s {
			c.Top[i] = Frequency{Value: e.value, Count: e.count}
			c.TopError = max(c.TopError, e.err)
			sum += e.count
		}
		if len(c.Top) == 0 {
			c.Top = nil
		}
		c.Other = max(c.Count-sum, 0)
	}
}

// Column returns the named column's profile, or nil.
func (p *Profile) Column(name string) *ColumnProfile {
	for _, c := range p.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Options returns the options the profile was built with (SketchK, TopK
// and Bins; Columns and Categorical are not recorded).
func (p *Profile) Options() ProfileOptions {
	return ProfileOptions{SketchK: p.sketchK, TopK: p.topK, Bins: p.bins}
}

// Profiler accumulates a Profile from record batches. It is not safe for
// concurrent use: profile shards with one Profiler each and Merge them.
type Profiler struct {
	schema *arrow.Schema
	opts   ProfileOptions
	cols   []*colAcc
	rows   int64
}

type colAcc struct {
	name  string
	index int
	kind  Kind
	typ   string
	dt    arrow.DataType

	count, nulls, nonFinite int64
	min, max, mean, m2      float64

	kll *sketch.KLL
	hll *sketch.HLL
	top *topK

	buf   []float64
	ibuf  map[int64]int64
	fbuf  map[uint64]int64
	cbuf  []int64
	sbuf  []byte
	keysI []int64
	keysF []uint64
}

func numericType(id arrow.Type) bool {
	switch id {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

func stringType(id arrow.Type) bool {
	return id == arrow.STRING || id == arrow.LARGE_STRING || id == arrow.STRING_VIEW
}

func categoricalType(dt arrow.DataType) bool {
	if stringType(dt.ID()) || dt.ID() == arrow.BOOL {
		return true
	}
	if d, ok := dt.(*arrow.DictionaryType); ok {
		return stringType(d.ValueType.ID())
	}
	return false
}

// NewProfiler returns a Profiler for batches of schema. Errors (wrapping
// ErrInput) name a column that is missing, duplicated, or of a type that
// cannot be profiled, and bad options.
func NewProfiler(schema *arrow.Schema, opts ProfileOptions) (*Profiler, error) {
	o, err := opts.resolved()
	if err != nil {
		return nil, err
	}
	if schema == nil {
		return nil, inputErr("profile: nil schema")
	}
	asCat := map[string]bool{}
	for _, name := range o.Categorical {
		idx := schema.FieldIndices(name)
		if len(idx) == 0 {
			return nil, inputErr("profile: categorical column %q is not in the schema", name)
		}
		asCat[name] = true
	}
	pr := &Profiler{schema: schema, opts: o}
	add := func(i int, named bool) error {
		f := schema.Field(i)
		var kind Kind
		switch {
		case numericType(f.Type.ID()) && asCat[f.Name]:
			kind = Categorical
		case numericType(f.Type.ID()):
			kind = Numeric
		case categoricalType(f.Type):
			kind = Categorical
		default:
			if named {
				return inputErr("profile: column %q has type %s, which cannot be profiled (want integers, floats, strings, booleans or dictionary-encoded strings)", f.Name, f.Type)
			}
			return nil
		}
		pr.cols = append(pr.cols, pr.newAcc(f, i, kind))
		return nil
	}
	if o.Columns == nil {
		for i := range schema.NumFields() {
			if err := add(i, false); err != nil {
				return nil, err
			}
		}
	} else {
		seen := map[string]bool{}
		for _, name := range o.Columns {
			idx := schema.FieldIndices(name)
			switch {
			case len(idx) == 0:
				return nil, inputErr("profile: column %q is not in the schema", name)
			case len(idx) > 1:
				return nil, inputErr("profile: column name %q appears %d times in the schema", name, len(idx))
			case seen[name]:
				return nil, inputErr("profile: column %q named twice", name)
			}
			seen[name] = true
			if err := add(idx[0], true); err != nil {
				return nil, err
			}
		}
	}
	return pr, nil
}

func newHLL() *sketch.HLL {
	h, err := sketch.NewHLL(hllPrecision)
	if err != nil {
		panic(err) // a constant precision within bounds
	}
	return h
}

func (pr *Profiler) newAcc(f arrow.Field, index int, kind Kind) *colAcc {
	a := &colAcc{name: f.Name, index: index, kind: kind, typ: f.Type.String(), dt: f.Type,
		min: math.Inf(1), max: math.Inf(-1), hll: newHLL()}
	if kind == Numeric {
		a.kll = sketch.NewKLL(pr.opts.SketchK)
	} else {
		a.top = newTopK(topCapFactor * pr.opts.TopK)
	}
	return a
}

// Add profiles one batch. Its schema must match the Profiler's in the
// profiled columns (same position, name and type); an error names the
// first column that does not. The batch is not retained or released.
func (pr *Profiler) Add(batch arrow.RecordBatch) error {
	if batch == nil {
		return inputErr("profile: nil batch")
	}
	if int(batch.NumCols()) != pr.schema.NumFields() {
		return inputErr("profile: batch has %d columns, schema has %d", batch.NumCols(), pr.schema.NumFields())
	}
	bs := batch.Schema()
	for _, a := range pr.cols {
		f := bs.Field(a.index)
		if f.Name != a.name || !arrow.TypeEqual(f.Type, a.dt) {
			return inputErr("profile: column %d of the batch is %q of type %s, want %q of type %s", a.index, f.Name, f.Type, a.name, a.dt)
		}
	}
	for _, a := range pr.cols {
		if err := a.add(batch.Column(a.index)); err != nil {
			return err
		}
	}
	pr.rows += batch.NumRows()
	return nil
}

type profNumber interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// gather appends the finite values of vals (valid per bitmap at off, or
// all when bitmap is nil) to buf as float64, −0 as +0, and counts the
// non-finite ones.
func gather[T profNumber](buf []float64, vals []T, bitmap []byte, off int) ([]float64, int64) {
	var bad int64
	if bitmap == nil {
		for _, v := range vals {
			x := float64(v)
			if x-x != 0 {
				bad++
				continue
			}
			buf = append(buf, x+0)
		}
		return buf, bad
	}
	for i, v := range vals {
		j := off + i
		if bitmap[j>>3]&(1<<(j&7)) == 0 {
			continue
		}
		x := float64(v)
		if x-x != 0 {
			bad++
			continue
		}
		buf = append(buf, x+0)
	}
	return buf, bad
}

func bitmapOf(arr arrow.Array) ([]byte, int) {
	if arr.NullN() == 0 {
		return nil, 0
	}
	return arr.NullBitmapBytes(), arr.Data().Offset()
}

func (a *colAcc) add(arr arrow.Array) error {
	a.nulls += int64(arr.NullN())
	if a.kind == Numeric {
		a.addNumeric(arr)
		return nil
	}
	return a.addCategorical(arr)
}

func (a *colAcc) addNumeric(arr arrow.Array) {
	buf, bad := gatherArray(a.buf[:0], arr)
	a.buf = buf
	a.nonFinite += bad
	a.consume(buf)
}

// gatherArray appends the finite values of a numeric array to buf (see
// gather); other arrays add nothing.
func gatherArray(buf []float64, arr arrow.Array) ([]float64, int64) {
	bm, off := bitmapOf(arr)
	switch c := arr.(type) {
	case *array.Float64:
		return gather(buf, c.Float64Values(), bm, off)
	case *array.Float32:
		return gather(buf, c.Float32Values(), bm, off)
	case *array.Int64:
		return gather(buf, c.Int64Values(), bm, off)
	case *array.Int32:
		return gather(buf, c.Int32Values(), bm, off)
	case *array.Int16:
		return gather(buf, c.Int16Values(), bm, off)
	case *array.Int8:
		return gather(buf, c.Int8Values(), bm, off)
	case *array.Uint64:
		return gather(buf, c.Uint64Values(), bm, off)
	case *array.Uint32:
		return gather(buf, c.Uint32Values(), bm, off)
	case *array.Uint16:
		return gather(buf, c.Uint16Values(), bm, off)
	case *array.Uint8:
		return gather(buf, c.Uint8Values(), bm, off)
	}
	return buf, 0
}

// consume adds finite values to the moments and sketches.
func (a *colAcc) consume(xs []float64) {
	if len(xs) == 0 {
		return
	}
	var sum float64
	lo, hi := a.min, a.max
	h := a.hll
	for _, x := range xs {
		sum += x
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
		h.AddHash(sketch.HashUint64(math.Float64bits(x)))
	}
	a.min, a.max = lo, hi
	nb := float64(len(xs))
	mb := sum / nb
	var m2 float64
	for _, x := range xs {
		d := x - mb
		m2 += d * d
	}
	a.mean, a.m2 = chan2(float64(a.count), a.mean, a.m2, nb, mb, m2)
	a.count += int64(len(xs))
	a.kll.AddMany(xs)
}

// chan2 merges the (count, mean, M2) of two groups (Chan, Golub and
// LeVeque's pairwise update).
func chan2(na, ma, m2a, nb, mb, m2b float64) (mean, m2 float64) {
	if na == 0 {
		return mb, m2b
	}
	if nb == 0 {
		return ma, m2a
	}
	n := na + nb
	d := mb - ma
	return ma + d*(nb/n), m2a + m2b + d*d*(na*nb/n)
}

func (a *colAcc) addCategorical(arr arrow.Array) error {
	n := arr.Len()
	valid := func(i int) bool { return arr.IsValid(i) }
	if arr.NullN() == 0 {
		valid = func(int) bool { return true }
	}
	cnt := int64(n - arr.NullN())
	switch c := arr.(type) {
	case *array.String:
		for i := range n {
			if valid(i) {
				a.addString(c.Value(i), 1)
			}
		}
	case *array.LargeString:
		for i := range n {
			if valid(i) {
				a.addString(c.Value(i), 1)
			}
		}
	case *array.StringView:
		for i := range n {
			if valid(i) {
				a.addString(c.Value(i), 1)
			}
		}
	case *array.Boolean:
		var t int64
		for i := range n {
			if valid(i) && c.Value(i) {
				t++
			}
		}
		// Counts are added in a fixed order so summaries are deterministic.
		if cnt-t > 0 {
			a.addString("false", cnt-t)
		}
		if t > 0 {
			a.addString("true", t)
		}
	case *array.Dictionary:
		dict := c.Dictionary()
		counts := a.cbuf[:0]
		counts = append(counts, make([]int64, dict.Len())...)
		for i := range n {
			if valid(i) {
				j := c.GetValueIndex(i)
				if j < 0 || j >= len(counts) {
					return inputErr("profile: column %q has dictionary index %d outside [0, %d)", a.name, j, len(counts))
				}
				counts[j]++
			}
		}
		a.cbuf = counts
		for j, k := range counts {
			if k == 0 {
				continue
			}
			if !dict.IsValid(j) {
				// A null dictionary value makes the row null.
				a.nulls += k
				cnt -= k
				continue
			}
			var s string
			switch d := dict.(type) {
			case *array.String:
				s = d.Value(j)
			case *array.LargeString:
				s = d.Value(j)
			case *array.StringView:
				s = d.Value(j)
			}
			a.addString(s, k)
		}
	default:
		a.addNumberText(arr, valid)
	}
	a.count += cnt
	return nil
}

func (a *colAcc) addString(s string, w int64) {
	a.top.add(s, w)
	a.hll.AddString(s)
}

// addNumberText counts numbers as categories named by their decimal text:
// per batch, each distinct value is counted first, then added in
// ascending order.
func (a *colAcc) addNumberText(arr arrow.Array, valid func(int) bool) {
	n := arr.Len()
	switch arr.DataType().ID() {
	case arrow.FLOAT32, arrow.FLOAT64:
		if a.fbuf == nil {
			a.fbuf = map[uint64]int64{}
		}
		clear(a.fbuf)
		bits := 64
		for i := range n {
			if !valid(i) {
				continue
			}
			var x float64
			switch c := arr.(type) {
			case *array.Float64:
				x = c.Value(i)
			case *array.Float32:
				x = float64(c.Value(i))
				bits = 32
			}
			if x != x {
				x = math.NaN()
			}
			a.fbuf[math.Float64bits(x+0)]++
		}
		a.keysF = a.keysF[:0]
		for k := range a.fbuf {
			a.keysF = append(a.keysF, k)
		}
		slices.Sort(a.keysF)
		for _, k := range a.keysF {
			a.sbuf = strconv.AppendFloat(a.sbuf[:0], math.Float64frombits(k), 'g', -1, bits)
			a.addString(string(a.sbuf), a.fbuf[k])
		}
	case arrow.UINT64:
		c := arr.(*array.Uint64)
		// Values above MaxInt64 are rare; count them as text directly.
		if a.ibuf == nil {
			a.ibuf = map[int64]int64{}
		}
		clear(a.ibuf)
		for i := range n {
			if valid(i) {
				v := c.Value(i)
				if v > math.MaxInt64 {
					a.sbuf = strconv.AppendUint(a.sbuf[:0], v, 10)
					a.addString(string(a.sbuf), 1)
					continue
				}
				a.ibuf[int64(v)]++
			}
		}
		a.flushInts()
	default:
		if a.ibuf == nil {
			a.ibuf = map[int64]int64{}
		}
		clear(a.ibuf)
		for i := range n {
			if !valid(i) {
				continue
			}
			var v int64
			switch c := arr.(type) {
			case *array.Int64:
				v = c.Value(i)
			case *array.Int32:
				v = int64(c.Value(i))
			case *array.Int16:
				v = int64(c.Value(i))
			case *array.Int8:
				v = int64(c.Value(i))
			case *array.Uint32:
				v = int64(c.Value(i))
			case *array.Uint16:
				v = int64(c.Value(i))
			case *array.Uint8:
				v = int64(c.Value(i))
			}
			a.ibuf[v]++
		}
		a.flushInts()
	}
}

func (a *colAcc) flushInts() {
	a.keysI = a.keysI[:0]
	for k := range a.ibuf {
		a.keysI = append(a.keysI, k)
	}
	slices.Sort(a.keysI)
	for _, k := range a.keysI {
		a.sbuf = strconv.AppendInt(a.sbuf[:0], k, 10)
		a.addString(string(a.sbuf), a.ibuf[k])
	}
}

func (a *colAcc) merge(o *colAcc) error {
	a.nulls += o.nulls
	a.nonFinite += o.nonFinite
	if err := a.hll.Merge(o.hll); err != nil {
		return err
	}
	if a.kind == Categorical {
		a.count += o.count
		a.top.merge(o.top)
		return nil
	}
	if o.count > 0 {
		a.mean, a.m2 = chan2(float64(a.count), a.mean, a.m2, float64(o.count), o.mean, o.m2)
		a.count += o.count
		a.min = min(a.min, o.min)
		a.max = max(a.max, o.max)
	}
	return a.kll.Merge(o.kll)
}

// Merge adds the batches o has profiled to pr. Both must have been made
// with the same schema (equal profiled columns) and options. o is not
// changed.
func (pr *Profiler) Merge(o *Profiler) error {
	if pr.opts.SketchK != o.opts.SketchK || pr.opts.TopK != o.opts.TopK || pr.opts.Bins != o.opts.Bins {
		return inputErr("profile: merging profilers with different options")
	}
	if len(pr.cols) != len(o.cols) {
		return inputErr("profile: merging profilers of %d and %d columns", len(pr.cols), len(o.cols))
	}
	for i, a := range pr.cols {
		b := o.cols[i]
		if a.name != b.name || a.kind != b.kind || a.typ != b.typ || a.index != b.index {
			return inputErr("profile: merging column %q (%s %s) with %q (%s %s)", a.name, a.kind, a.typ, b.name, b.kind, b.typ)
		}
	}
	for i, a := range pr.cols {
		if err := a.merge(o.cols[i]); err != nil {
			return err
		}
	}
	pr.rows += o.rows
	return nil
}

// Profile returns the profile of everything added so far, with Edges,
// Counts and Top frozen from the sketches. The Profiler stays usable; the
// profile does not change when it is.
func (pr *Profiler) Profile() *Profile {
	p := &Profile{Rows: pr.rows, sketchK: pr.opts.SketchK, topK: pr.opts.TopK, bins: pr.opts.Bins}
	for _, a := range pr.cols {
		c := &ColumnProfile{Name: a.name, Kind: a.kind, Type: a.typ, Count: a.count, Nulls: a.nulls,
			NonFinite: a.nonFinite, hll: a.hll.Clone()}
		if a.kind == Numeric {
			c.Min, c.Max, c.Mean, c.M2 = a.min, a.max, a.mean, a.m2
			c.kll = a.kll.Clone()
		} else {
			c.top = a.top.clone()
		}
		c.freeze(p.bins, p.topK)
		p.Columns = append(p.Columns, c)
	}
	return p
}

// ProfileSource profiles every batch of src. Batches are dealt round-robin
// to GOMAXPROCS shards profiled concurrently and merged in shard order, so
// the result is deterministic for a given GOMAXPROCS (the sketches' answers
// depend, within their error bounds, on how values were split).
func ProfileSource(ctx context.Context, src pipeline.Source, opts ProfileOptions) (*Profile, error) {
	schema, err := src.Schema(ctx)
	if err != nil {
		return nil, err
	}
	first, err := NewProfiler(schema, opts)
	if err != nil {
		return nil, err
	}
	shards := max(1, min(runtime.GOMAXPROCS(0), 64))
	prs := []*Profiler{first}
	for range shards - 1 {
		p, _ := NewProfiler(schema, opts)
		prs = append(prs, p)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chans := make([]chan arrow.RecordBatch, shards)
	done := make(chan struct{}, shards)
	for i := range chans {
		chans[i] = make(chan arrow.RecordBatch, 2)
		go func() {
			defer func() { done <- struct{}{} }()
			for b := range chans[i] {
				if ctx.Err() == nil {
					if err := prs[i].Add(b); err != nil {
						cancel(err)
					}
				}
				b.Release()
			}
		}()
	}
	var readErr error
	i := 0
	for b, err := range src.Batches(ctx) {
		if err != nil {
			readErr = err
			break
		}
		select {
		case chans[i%shards] <- b:
			i++
		case <-ctx.Done():
			b.Release()
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, c := range chans {
		close(c)
	}
	for range shards {
		<-done
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if readErr != nil {
		return nil, readErr
	}
	for _, p := range prs[1:] {
		if err := first.Merge(p); err != nil {
			return nil, err
		}
	}
	return first.Profile(), nil
}

// Merge adds o's summaries into p, as if p had also profiled o's data, and
// refreezes Edges, Counts and Top. Both profiles must have the same columns
// (names, kinds and types, in order) and options, and both must hold their
// sketches (a profile decoded from JSON cannot be merged). o is not
// changed.
func (p *Profile) Merge(o *Profile) error {
	if p.sketchK != o.sketchK || p.topK != o.topK || p.bins != o.bins {
		return inputErr("profile: merging profiles with different options (SketchK %d/%d, TopK %d/%d, Bins %d/%d)",
			p.sketchK, o.sketchK, p.topK, o.topK, p.bins, o.bins)
	}
	if len(p.Columns) != len(o.Columns) {
		return inputErr("profile: merging profiles of %d and %d columns", len(p.Columns), len(o.Columns))
	}
	for i, a := range p.Columns {
		b := o.Columns[i]
		if a.Name != b.Name || a.Kind != b.Kind || a.Type != b.Type {
			return inputErr("profile: merging column %q (%s %s) with %q (%s %s)", a.Name, a.Kind, a.Type, b.Name, b.Kind, b.Type)
		}
		if a.hll == nil || b.hll == nil {
			return inputErr("profile: column %q has no sketches (a profile read from JSON cannot be merged)", a.Name)
		}
	}
	for i, a := range p.Columns {
		b := o.Columns[i]
		if err := a.hll.Merge(b.hll); err != nil {
			return inputErr("profile: column %q: %v", a.Name, err)
		}
		a.Nulls += b.Nulls
		a.NonFinite += b.NonFinite
		if a.Kind == Categorical {
			a.Count += b.Count
			a.top.merge(b.top)
		} else {
			if err := a.kll.Merge(b.kll); err != nil {
				return inputErr("profile: column %q: %v", a.Name, err)
			}
			switch {
			case a.Count == 0:
				a.Min, a.Max, a.Mean, a.M2 = b.Min, b.Max, b.Mean, b.M2
			case b.Count > 0:
				a.Mean, a.M2 = chan2(float64(a.Count), a.Mean, a.M2, float64(b.Count), b.Mean, b.M2)
				a.Min = min(a.Min, b.Min)
				a.Max = max(a.Max, b.Max)
			}
			a.Count += b.Count
		}
		a.freeze(p.bins, p.topK)
	}
	p.Rows += o.Rows
	return nil
}

// The binary form of a profile.
const (
	profileMagic   = "KMPF"
	profileVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary encodes the profile in a compact, versioned binary form
// that keeps the sketches: "KMPF", a version byte (1), the options, Rows,
// then per column its name, kind, Arrow type, counts, and either the
// moments and the KLL sketch (numeric) or the Space-Saving counters
// (categorical), and the HyperLogLog registers; integers are unsigned
// varints, floats little-endian IEEE 754, and a CRC-32C of everything
// before it ends the encoding. Edges, Counts and Top are recomputed from
// the sketches when decoding.
func (p *Profile) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(p.Columns)*(8<<10))
	b = append(b, profileMagic...)
	b = append(b, profileVersion)
	b = binary.AppendUvarint(b, uint64(p.sketchK))
	b = binary.AppendUvarint(b, uint64(p.topK))
	b = binary.AppendUvarint(b, uint64(p.bins))
	b = binary.AppendUvarint(b, uint64(p.Rows))
	b = binary.AppendUvarint(b, uint64(len(p.Columns)))
	for _, c := range p.Columns {
		if c.hll == nil || (c.Kind == Numeric && c.kll == nil) || (c.Kind == Categorical && c.top == nil) {
			return nil, inputErr("profile: column %q has no sketches (a profile read from JSON cannot be encoded in binary)", c.Name)
		}
		b = appendString(b, c.Name)
		b = append(b, byte(c.Kind))
		b = appendString(b, c.Type)
		b = binary.AppendUvarint(b, uint64(c.Count))
		b = binary.AppendUvarint(b, uint64(c.Nulls))
		b = binary.AppendUvarint(b, uint64(c.NonFinite))
		if c.Kind == Numeric {
			for _, v := range []float64{c.Min, c.Max, c.Mean, c.M2} {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
			}
			kb, err := c.kll.MarshalBinary()
			if err != nil {
				return nil, err
			}
			b = binary.AppendUvarint(b, uint64(len(kb)))
			b = append(b, kb...)
		} else {
			t := c.top
			b = binary.AppendUvarint(b, uint64(t.cap))
			b = binary.AppendUvarint(b, uint64(t.floor))
			b = binary.AppendUvarint(b, uint64(len(t.entries)))
			for _, e := range t.sorted() {
				b = appendString(b, e.value)
				b = binary.AppendUvarint(b, uint64(e.count))
				b = binary.AppendUvarint(b, uint64(e.err))
			}
		}
		hb, err := c.hll.MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = append(b, hb[5:]...) // registers only; the precision is fixed
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads a profile's binary form; every read checks the bytes left.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = inputErr("profile encoding: "+format, args...)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated or overlong %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a nonnegative int64.
func (d *decoder) count(what string) int64 {
	v := d.uvarint(what)
	if v > math.MaxInt64 {
		d.fail("%s %d too large", what, v)
		return 0
	}
	return int64(v)
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("%s of %d bytes, %d left", what, n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(what string) string { return string(d.bytes(d.uvarint(what), what)) }

func (d *decoder) float(what string) float64 {
	v := d.bytes(8, what)
	if v == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(v))
}

// UnmarshalBinary decodes a profile written by MarshalBinary, replacing p.
// Truncated, corrupt or inconsistent input is rejected with an error
// wrapping ErrInput; allocations are bounded by the input's length.
func (p *Profile) UnmarshalBinary(b []byte) error {
	if len(b) < len(profileMagic)+1+4 || string(b[:len(profileMagic)]) != profileMagic {
		return inputErr("profile encoding: missing %q magic", profileMagic)
	}
	if v := b[len(profileMagic)]; v != profileVersion {
		return inputErr("profile encoding: version %d, this package reads %d", v, profileVersion)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return inputErr("profile encoding: checksum mismatch (corrupt or truncated)")
	}
	d := &decoder{b: body[len(profileMagic)+1:]}
	q := &Profile{}
	sk, tk, bins := d.uvarint("SketchK"), d.uvarint("TopK"), d.uvarint("Bins")
	q.Rows = d.count("rows")
	ncols := d.uvarint("column count")
	if d.err != nil {
		return d.err
	}
	o, err := ProfileOptions{SketchK: int(min(sk, 1<<20)), TopK: int(min(tk, 1<<20)), Bins: int(min(bins, 1<<20))}.resolved()
	if err != nil || sk == 0 || tk == 0 || bins == 0 {
		return inputErr("profile encoding: bad options SketchK %d, TopK %d, Bins %d", sk, tk, bins)
	}
	q.sketchK, q.topK, q.bins = o.SketchK, o.TopK, o.Bins
	nreg := uint64(1) << hllPrecision
	if ncols > uint64(len(d.b))/nreg {
		return inputErr("profile encoding: %d columns cannot fit in %d bytes", ncols, len(d.b))
	}
	names := map[string]bool{}
	for range ncols {
		c := &ColumnProfile{}
		c.Name = d.str("column name")
		kind := d.bytes(1, "kind")
		c.Type = d.str("column type")
		c.Count = d.count("count")
		c.Nulls = d.count("nulls")
		c.NonFinite = d.count("non-finite count")
		if d.err != nil {
			return d.err
		}
		if names[c.Name] {
			return inputErr("profile encoding: column %q appears twice", c.Name)
		}
		names[c.Name] = true
		c.Kind = Kind(kind[0])
		if c.Count > math.MaxInt64-c.Nulls || c.Count+c.Nulls > math.MaxInt64-c.NonFinite || c.Count+c.Nulls+c.NonFinite != q.Rows {
			return inputErr("profile encoding: column %q counts %d + %d nulls + %d non-finite do not add up to %d rows", c.Name, c.Count, c.Nulls, c.NonFinite, q.Rows)
		}
		switch c.Kind {
		case Numeric:
			c.Min, c.Max, c.Mean, c.M2 = d.float("min"), d.float("max"), d.float("mean"), d.float("m2")
			kb := d.bytes(d.uvarint("sketch length"), "sketch")
			if d.err != nil {
				return d.err
			}
			c.kll = &sketch.KLL{}
			if err := c.kll.UnmarshalBinary(kb); err != nil {
				return inputErr("profile encoding: column %q: %v", c.Name, err)
			}
			if err := checkNumeric(c, q.sketchK); err != nil {
				return err
			}
		case Categorical:
			if c.NonFinite != 0 {
				return inputErr("profile encoding: categorical column %q has non-finite values", c.Name)
			}
			t, err := decodeTopK(d, c, topCapFactor*q.topK)
			if err != nil {
				return err
			}
			c.top = t
		default:
			return inputErr("profile encoding: column %q has kind %d", c.Name, kind[0])
		}
		reg := d.bytes(nreg, "distinct-count registers")
		if d.err != nil {
			return d.err
		}
		h := append([]byte("HLL1\x00"), reg...)
		h[4] = hllPrecision
		c.hll = &sketch.HLL{}
		if err := c.hll.UnmarshalBinary(h); err != nil {
			return inputErr("profile encoding: column %q: %v", c.Name, err)
		}
		c.freeze(q.bins, q.topK)
		q.Columns = append(q.Columns, c)
	}
	if len(d.b) != 0 {
		return inputErr("profile encoding: %d trailing bytes", len(d.b))
	}
	*p = *q
	return nil
}

func checkNumeric(c *ColumnProfile, k int) error {
	s := c.kll
	switch {
	case s.K() != k:
		return inputErr("profile encoding: column %q has a sketch of k %d, profile says %d", c.Name, s.K(), k)
	case s.Count() != c.Count:
		return inputErr("profile encoding: column %q has a sketch of %d values, count %d", c.Name, s.Count(), c.Count)
	case c.Count == 0 && (c.Min != 0 || c.Max != 0 || c.Mean != 0 || c.M2 != 0):
		return inputErr("profile encoding: empty column %q with nonzero moments", c.Name)
	case c.Count > 0 && (c.Min != s.Min() || c.Max != s.Max()):
		return inputErr("profile encoding: column %q min/max %v/%v disagree with its sketch", c.Name, c.Min, c.Max)
	case math.IsNaN(c.Mean) || math.IsInf(c.Mean, 0) || math.IsNaN(c.M2) || c.M2 < 0:
		return inputErr("profile encoding: column %q has mean %v, M2 %v", c.Name, c.Mean, c.M2)
	}
	return nil
}

func decodeTopK(d *decoder, c *ColumnProfile, capacity int) (*topK, error) {
	cp := d.uvarint("top capacity")
	floor := d.count("top floor")
	n := d.uvarint("top length")
	if d.err != nil {
		return nil, d.err
	}
	if cp != uint64(capacity) || n > cp || n > uint64(len(d.b))/3 {
		return nil, inputErr("profile encoding: column %q has %d of %d counters, want capacity %d", c.Name, n, cp, capacity)
	}
	t := newTopK(capacity)
	t.floor = floor
	var lower int64
	for range n {
		e := topEntry{value: d.str("value"), count: d.count("value count"), err: d.count("value error"), pos: -1}
		if d.err != nil {
			return nil, d.err
		}
		if _, dup := t.idx[e.value]; dup {
			return nil, inputErr("profile encoding: column %q counts %q twice", c.Name, e.value)
		}
		if e.err >= e.count || e.err > floor {
			return nil, inputErr("profile encoding: column %q has count %d, error %d for %q (floor %d)", c.Name, e.count, e.err, e.value, floor)
		}
		lower += e.count - e.err
		if lower > c.Count || lower < 0 {
			return nil, inputErr("profile encoding: column %q has more counted values than its count %d", c.Name, c.Count)
		}
		t.idx[e.value] = int32(len(t.entries))
		t.entries = append(t.entries, e)
	}
	if floor > c.Count {
		return nil, inputErr("profile encoding: column %q has floor %d above its count %d", c.Name, floor, c.Count)
	}
	return t, nil
}

// Size returns the length in bytes of the profile's binary encoding (0 if
// it cannot be encoded).
func (p *Profile) Size() int {
	b, err := p.MarshalBinary()
	if err != nil {
		return 0
	}
	return len(b)
}

// WriteTo writes the binary encoding of the profile to w.
func (p *Profile) WriteTo(w io.Writer) (int64, error) {
	b, err := p.MarshalBinary()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// maxProfileBytes bounds what ReadProfile reads.
const maxProfileBytes = 1 << 30

// ReadProfile reads a profile written by WriteTo (all of r, at most 1 GiB).
func ReadProfile(r io.Reader) (*Profile, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxProfileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxProfileBytes {
		return nil, inputErr("profile encoding: longer than %d bytes", maxProfileBytes)
	}
	p := &Profile{}
	if err := p.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return p, nil
}

// profileJSON is the JSON form of a Profile.
type profileJSON struct {
	Rows    int64            `json:"rows"`
	SketchK int              `json:"sketch_k"`
	TopK    int              `json:"top_k"`
	Bins    int              `json:"bins"`
	Columns []*ColumnProfile `json:"columns"`
}

// MarshalJSON writes the profile for people: rows, the options (sketch_k,
// top_k, bins) and the columns with their exported fields plus "distinct",
// "distinct_error" and "rank_error". The sketches are left out, so a
// profile decoded from JSON answers Quantile and Rank from its histogram
// and cannot be merged or encoded in binary; use MarshalBinary to keep
// everything.
func (p *Profile) MarshalJSON() ([]byte, error) {
	return json.Marshal(profileJSON{Rows: p.Rows, SketchK: p.sketchK, TopK: p.topK, Bins: p.bins, Columns: p.Columns})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (p *Profile) UnmarshalJSON(b []byte) error {
	var j profileJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	o, err := ProfileOptions{SketchK: j.SketchK, TopK: j.TopK, Bins: j.Bins}.resolved()
	if err != nil {
		return err
	}
	for _, c := range j.Columns {
		if c == nil {
			return inputErr("profile JSON: null column")
		}
		if c.Kind == Numeric && c.Count > 0 && (len(c.Edges) != o.Bins-1 || len(c.Counts) != o.Bins) {
			return inputErr("profile JSON: column %q has %d edges and %d counts, want %d and %d", c.Name, len(c.Edges), len(c.Counts), o.Bins-1, o.Bins)
		}
	}
	*p = Profile{Rows: j.Rows, Columns: j.Columns, sketchK: o.SketchK, topK: o.TopK, bins: o.Bins}
	return nil
}

type columnAlias ColumnProfile

type columnJSON struct {
	*columnAlias
	Distinct      uint64  `json:"distinct"`
	DistinctError float64 `json:"distinct_error"`
	RankError     float64 `json:"rank_error,omitempty"`
}

// MarshalJSON writes the exported fields plus "distinct" (Distinct),
// "distinct_error" (DistinctError) and, for numeric columns, "rank_error"
// (RankError).
func (c *ColumnProfile) MarshalJSON() ([]byte, error) {
	return json.Marshal(columnJSON{columnAlias: (*columnAlias)(c), Distinct: c.Distinct(), DistinctError: c.DistinctError(), RankError: c.RankError()})
}

// UnmarshalJSON reads the form MarshalJSON writes; the column has no
// sketches (see Profile.MarshalJSON).
func (c *ColumnProfile) UnmarshalJSON(b []byte) error {
	j := columnJSON{columnAlias: (*columnAlias)(&ColumnProfile{})}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = ColumnProfile(*j.columnAlias)
	c.distinct = j.Distinct
	c.rankError = j.RankError
	return nil
}
