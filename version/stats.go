package version

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"golang.org/x/sync/errgroup"

	"github.com/kilnml/kiln/internal/sketch"
	"github.com/kilnml/kiln/pipeline"
)

// distinctPrecision is the HyperLogLog precision of ColumnStats.Distinct:
// 2^14 registers, 0.81% standard error, 16 KiB per column while counting.
const distinctPrecision = 14

// Canonical text of statistics (see ColumnStats).
const (
	// maxStringStat is the longest Min or Max of a string column, in bytes;
	// longer values are cut at the last whole UTF-8 character within it.
	maxStringStat = 64
	// maxBinaryStat is the number of leading bytes of a binary Min or Max,
	// written in hex.
	maxBinaryStat = 32
)

// tableStats computes a TableInfo in one pass over a stream of batches.
// Every statistic is the same whatever the split of the stream into
// batches: values are accumulated in row order (integer sums exactly,
// float sums with Neumaier's compensation), and HyperLogLog sketches do not
// depend on order. Columns are computed concurrently, each by one goroutine
// at a time.
type tableStats struct {
	schema *arrow.Schema
	rows   int64
	cols   []*columnStats
	par    int
}

// columnStats accumulates one column.
type columnStats struct {
	name  string
	typ   arrow.DataType
	nulls int64
	acc   accumulator
}

// An accumulator gathers the statistics of the non-null values of one
// column, batch after batch.
type accumulator interface {
	// add accumulates arr, an array of the column's type.
	add(arr arrow.Array) error
	// fill sets Min, Max, Mean and Distinct.
	fill(cs *ColumnStats)
}

// newTableStats starts statistics for batches of schema.
func newTableStats(schema *arrow.Schema) *tableStats {
	t := &tableStats{schema: schema, par: runtime.GOMAXPROCS(0)}
	for _, f := range schema.Fields() {
		t.cols = append(t.cols, &columnStats{name: f.Name, typ: f.Type, acc: newAccumulator(f.Type)})
	}
	return t
}

// parallelRows is the size of a batch below which its columns are done on
// the calling goroutine: starting goroutines would cost more than it saves.
const parallelRows = 8192

// add accumulates one batch, which must have the schema's columns.
func (t *tableStats) add(ctx context.Context, rec arrow.RecordBatch) error {
	if int(rec.NumCols()) != len(t.cols) {
		return fmt.Errorf("version: statistics: batch of %d columns, schema has %d", rec.NumCols(), len(t.cols))
	}
	t.rows += rec.NumRows()
	one := func(i int) error {
		c := t.cols[i]
		arr := rec.Column(i)
		if !arrow.TypeEqual(arr.DataType(), c.typ) {
			return fmt.Errorf("version: statistics: column %q has type %s in a batch, %s in the schema", c.name, arr.DataType(), c.typ)
		}
		c.nulls += int64(arr.NullN())
		if arr.NullN() == arr.Len() {
			return nil
		}
		if err := c.acc.add(arr); err != nil {
			return fmt.Errorf("version: statistics: column %q: %w", c.name, err)
		}
		return nil
	}
	if t.par <= 1 || len(t.cols) == 1 || rec.NumRows() < parallelRows {
		for i := range t.cols {
			if err := one(i); err != nil {
				return err
			}
		}
		return ctx.Err()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(t.par)
	for i := range t.cols {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return one(i)
		})
	}
	return g.Wait()
}

// info returns the statistics of everything added so far.
func (t *tableStats) info() *TableInfo {
	ti := &TableInfo{Schema: t.schema, Rows: t.rows, Columns: make([]ColumnStats, len(t.cols))}
	for i, c := range t.cols {
		cs := ColumnStats{Name: c.name, Type: c.typ.String(), Nulls: c.nulls}
		if c.nulls < t.rows {
			c.acc.fill(&cs)
		}
		ti.Columns[i] = cs
	}
	return ti
}

// tableInfoOf reads src once and returns its statistics.
func tableInfoOf(ctx context.Context, src pipeline.Source) (*TableInfo, error) {
	schema, err := src.Schema(ctx)
	if err != nil {
		return nil, err
	}
	ts := newTableStats(schema)
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			return nil, err
		}
		err = ts.add(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	return ts.info(), nil
}

// newAccumulator returns the accumulator for a column of type dt.
func newAccumulator(dt arrow.DataType) accumulator {
	switch dt := dt.(type) {
	case *arrow.Int8Type:
		return newSignedAcc[int8](true, formatInt)
	case *arrow.Int16Type:
		return newSignedAcc[int16](true, formatInt)
	case *arrow.Int32Type:
		return newSignedAcc[int32](true, formatInt)
	case *arrow.Int64Type:
		return newSignedAcc[int64](true, formatInt)
	case *arrow.Uint8Type:
		return newUnsignedAcc[uint8]()
	case *arrow.Uint16Type:
		return newUnsignedAcc[uint16]()
	case *arrow.Uint32Type:
		return newUnsignedAcc[uint32]()
	case *arrow.Uint64Type:
		return newUnsignedAcc[uint64]()
	case *arrow.Float32Type:
		return newFloatAcc[float32](32)
	case *arrow.Float64Type:
		return newFloatAcc[float64](64)
	case *arrow.BooleanType:
		return &boolAcc{}
	case *arrow.StringType, *arrow.LargeStringType:
		return newBytesAcc(formatString)
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return newBytesAcc(formatBinary)
	case *arrow.TimestampType:
		return newSignedAcc[int64](false, formatTimestamp(dt.Unit))
	case *arrow.Date32Type:
		return newSignedAcc[int32](false, formatDays)
	case *arrow.Date64Type:
		return newSignedAcc[int64](false, formatDateMillis)
	case *arrow.Time32Type:
		return newSignedAcc[int32](false, formatTimeOfDay(dt.Unit))
	case *arrow.Time64Type:
		return newSignedAcc[int64](false, formatTimeOfDay(dt.Unit))
	case *arrow.DurationType:
		return newSignedAcc[int64](false, formatInt)
	case *arrow.DictionaryType:
		return &dictAcc{inner: newAccumulator(dt.ValueType)}
	}
	return newGenericAcc()
}

func newHLL() *sketch.HLL {
	h, err := sketch.NewHLL(distinctPrecision)
	if err != nil {
		panic(err) // distinctPrecision is a valid constant
	}
	return h
}

// values returns the fixed-width values of arr (its offset applied).
func values[T arrow.FixedWidthType](arr arrow.Array) []T {
	d := arr.Data()
	n := d.Len()
	buf := d.Buffers()[1]
	if n == 0 || buf == nil {
		return nil
	}
	return arrow.GetData[T](buf.Bytes())[d.Offset() : d.Offset()+n]
}

// valid returns arr's validity bitmap and offset, or nil when arr has no
// nulls.
func valid(arr arrow.Array) ([]byte, int) {
	if arr.NullN() == 0 {
		return nil, 0
	}
	return arr.NullBitmapBytes(), arr.Data().Offset()
}

// signedAcc accumulates signed integers and the types stored as them
// (timestamps, dates, times, durations).
type signedAcc[T int8 | int16 | int32 | int64] struct {
	numeric  bool // has a mean
	format   func(int64) string
	any      bool
	min, max int64
	count    int64
	sumHi    int64 // 128-bit exact sum: sumHi·2^64 + sumLo
	sumLo    uint64
	hll      *sketch.HLL
}

func newSignedAcc[T int8 | int16 | int32 | int64](numeric bool, format func(int64) string) *signedAcc[T] {
	return &signedAcc[T]{numeric: numeric, format: format, min: math.MaxInt64, max: math.MinInt64, hll: newHLL()}
}

func (a *signedAcc[T]) add(arr arrow.Array) error {
	vals := values[T](arr)
	bm, off := valid(arr)
	mn, mx := a.min, a.max
	hi, lo := a.sumHi, a.sumLo
	h := a.hll
	var count int64
	prev, first := int64(0), true
	for i, x := range vals {
		if bm != nil && !bitutil.BitIsSet(bm, off+i) {
			continue
		}
		v := int64(x)
		count++
		mn = min(mn, v)
		mx = max(mx, v)
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(v), 0)
		hi += int64(carry) + v>>63
		if first || v != prev {
			h.AddHash(sketch.HashUint64(uint64(v)))
			prev, first = v, false
		}
	}
	a.min, a.max, a.sumHi, a.sumLo = mn, mx, hi, lo
	a.count += count
	a.any = a.any || count > 0
	return nil
}

func (a *signedAcc[T]) fill(cs *ColumnStats) {
	if !a.any {
		return
	}
	cs.Min, cs.Max = a.format(a.min), a.format(a.max)
	if a.numeric {
		sum := float64(a.sumHi)*0x1p64 + float64(a.sumLo)
		cs.Mean = finite(sum / float64(a.count))
	}
	cs.Distinct = int64(a.hll.Estimate())
}

// unsignedAcc accumulates unsigned integers.
type unsignedAcc[T uint8 | uint16 | uint32 | uint64] struct {
	any          bool
	min, max     uint64
	count        int64
	sumHi, sumLo uint64
	hll          *sketch.HLL
}

func newUnsignedAcc[T uint8 | uint16 | uint32 | uint64]() *unsignedAcc[T] {
	return &unsignedAcc[T]{min: math.MaxUint64, hll: newHLL()}
}

func (a *unsignedAcc[T]) add(arr arrow.Array) error {
	vals := values[T](arr)
	bm, off := valid(arr)
	mn, mx := a.min, a.max
	hi, lo := a.sumHi, a.sumLo
	var count int64
	prev, first := uint64(0), true
	for i, x := range vals {
		if bm != nil && !bitutil.BitIsSet(bm, off+i) {
			continue
		}
		v := uint64(x)
		count++
		mn = min(mn, v)
		mx = max(mx, v)
		var carry uint64
		lo, carry = bits.Add64(lo, v, 0)
		hi += carry
		if first || v != prev {
			a.hll.AddHash(sketch.HashUint64(v))
			prev, first = v, false
		}
	}
	a.min, a.max, a.sumHi, a.sumLo = mn, mx, hi, lo
	a.count += count
	a.any = a.any || count > 0
	return nil
}

func (a *unsignedAcc[T]) fill(cs *ColumnStats) {
	if !a.any {
		return
	}
	cs.Min, cs.Max = strconv.FormatUint(a.min, 10), strconv.FormatUint(a.max, 10)
	sum := float64(a.sumHi)*0x1p64 + float64(a.sumLo)
	cs.Mean = finite(sum / float64(a.count))
	cs.Distinct = int64(a.hll.Estimate())
}

// floatAcc accumulates floats. NaNs count as values (not nulls) and as one
// distinct value, but are left out of Min, Max and Mean.
type floatAcc[T float32 | float64] struct {
	bitSize  int
	any      bool // a non-NaN value was seen
	min, max float64
	count    int64   // non-NaN values
	sum, c   float64 // Neumaier sum and its compensation
	hll      *sketch.HLL
}

func newFloatAcc[T float32 | float64](bitSize int) *floatAcc[T] {
	return &floatAcc[T]{bitSize: bitSize, min: math.Inf(1), max: math.Inf(-1), hll: newHLL()}
}

// canonicalNaN is the bit pattern every NaN is hashed as.
var canonicalNaN = math.Float64bits(math.NaN())

func (a *floatAcc[T]) add(arr arrow.Array) error {
	vals := values[T](arr)
	bm, off := valid(arr)
	mn, mx := a.min, a.max
	sum, c := a.sum, a.c
	var count int64
	prev, first := uint64(0), true
	for i, x := range vals {
		if bm != nil && !bitutil.BitIsSet(bm, off+i) {
			continue
		}
		v := float64(x)
		var key uint64
		if v != v {
			key = canonicalNaN
		} else {
			count++
			mn = min(mn, v)
			mx = max(mx, v)
			t := sum + v
			if math.Abs(sum) >= math.Abs(v) {
				c += (sum - t) + v
			} else {
				c += (v - t) + sum
			}
			sum = t
			key = math.Float64bits(v + 0) // -0 + 0 = +0
		}
		if first || key != prev {
			a.hll.AddHash(sketch.HashUint64(key))
			prev, first = key, false
		}
	}
	a.min, a.max, a.sum, a.c = mn, mx, sum, c
	a.count += count
	a.any = a.any || count > 0
	return nil
}

func (a *floatAcc[T]) fill(cs *ColumnStats) {
	cs.Distinct = int64(a.hll.Estimate())
	if !a.any {
		return
	}
	cs.Min = strconv.FormatFloat(a.min, 'g', -1, a.bitSize)
	cs.Max = strconv.FormatFloat(a.max, 'g', -1, a.bitSize)
	cs.Mean = finite((a.sum + a.c) / float64(a.count))
}

// finite returns &v, or nil when v is infinite or NaN (which JSON cannot
// hold).
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// boolAcc counts the true and false values of a boolean column; Distinct
// is exact.
type boolAcc struct {
	trues, falses int64
}

func (a *boolAcc) add(arr arrow.Array) error {
	b := arr.(*array.Boolean)
	n := b.Len()
	if b.NullN() == 0 {
		d := b.Data()
		t := int64(bitutil.CountSetBits(d.Buffers()[1].Bytes(), d.Offset(), n))
		a.trues += t
		a.falses += int64(n) - t
		return nil
	}
	for i := range n {
		if b.IsValid(i) {
			if b.Value(i) {
				a.trues++
			} else {
				a.falses++
			}
		}
	}
	return nil
}

func (a *boolAcc) fill(cs *ColumnStats) {
	cs.Min, cs.Max = "true", "false"
	if a.falses > 0 {
		cs.Min = "false"
		cs.Distinct++
	}
	if a.trues > 0 {
		cs.Max = "true"
		cs.Distinct++
	}
}

// bytesAcc accumulates string and binary columns, ordered by their bytes.
type bytesAcc struct {
	format   func([]byte) string
	any      bool
	min, max []byte
	hll      *sketch.HLL
}

func newBytesAcc(format func([]byte) string) *bytesAcc {
	return &bytesAcc{format: format, hll: newHLL()}
}

func (a *bytesAcc) add(arr arrow.Array) error {
	var data []byte
	if b := arr.Data().Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	switch arr := arr.(type) {
	case *array.String:
		addBytes(a, arr, data, arr.ValueOffsets())
	case *array.LargeString:
		addBytes(a, arr, data, arr.ValueOffsets())
	case *array.Binary:
		addBytes(a, arr, data, arr.ValueOffsets())
	case *array.LargeBinary:
		addBytes(a, arr, data, arr.ValueOffsets())
	default:
		return fmt.Errorf("unexpected array %T", arr)
	}
	return nil
}

func addBytes[O int32 | int64](a *bytesAcc, arr arrow.Array, data []byte, offsets []O) {
	bm, off := valid(arr)
	n := arr.Len()
	h := a.hll
	for i := range n {
		if bm != nil && !bitutil.BitIsSet(bm, off+i) {
			continue
		}
		v := data[offsets[i]:offsets[i+1]]
		h.AddHash(sketch.Hash(v))
		if !a.any {
			a.min = append(a.min[:0], v...)
			a.max = append(a.max[:0], v...)
			a.any = true
			continue
		}
		// Most values fall strictly between the first bytes of the minimum
		// and the maximum, which settles both comparisons at once.
		if len(v) > 0 && len(a.min) > 0 && v[0] > a.min[0] && v[0] < a.max[0] {
			continue
		}
		if bytes.Compare(v, a.min) < 0 {
			a.min = append(a.min[:0], v...)
		} else if bytes.Compare(v, a.max) > 0 {
			a.max = append(a.max[:0], v...)
		}
	}
}

func (a *bytesAcc) fill(cs *ColumnStats) {
	if !a.any {
		return
	}
	cs.Min, cs.Max = a.format(a.min), a.format(a.max)
	cs.Distinct = int64(a.hll.Estimate())
}

// dictAcc accumulates a dictionary column as its decoded values.
type dictAcc struct {
	inner accumulator
}

func (a *dictAcc) add(arr arrow.Array) error {
	d := arr.(*array.Dictionary)
	decoded, err := compute.TakeArray(context.Background(), d.Dictionary(), d.Indices())
	if err != nil {
		return err
	}
	defer decoded.Release()
	return a.inner.add(decoded)
}

func (a *dictAcc) fill(cs *ColumnStats) { a.inner.fill(cs) }

// genericAcc estimates the distinct values of a column of any other type
// (decimals, lists, structs…) from their text; it has no Min or Max.
type genericAcc struct {
	hll *sketch.HLL
}

func newGenericAcc() *genericAcc { return &genericAcc{hll: newHLL()} }

func (a *genericAcc) add(arr arrow.Array) error {
	for i := range arr.Len() {
		if arr.IsValid(i) {
			a.hll.AddString(arr.ValueStr(i))
		}
	}
	return nil
}

func (a *genericAcc) fill(cs *ColumnStats) { cs.Distinct = int64(a.hll.Estimate()) }

// Canonical text of values.

func formatInt(v int64) string { return strconv.FormatInt(v, 10) }

// formatString cuts s to at most maxStringStat bytes, at a character
// boundary so the text stays valid UTF-8 when s is.
func formatString(s []byte) string {
	if len(s) <= maxStringStat {
		return string(s)
	}
	cut := maxStringStat
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return string(s[:cut])
}

func formatBinary(b []byte) string {
	return hex.EncodeToString(b[:min(len(b), maxBinaryStat)])
}

// unitTime returns the time v units after the Unix epoch, in UTC.
func unitTime(v int64, unit arrow.TimeUnit) time.Time {
	switch unit {
	case arrow.Second:
		return time.Unix(v, 0).UTC()
	case arrow.Millisecond:
		return time.UnixMilli(v).UTC()
	case arrow.Microsecond:
		return time.UnixMicro(v).UTC()
	}
	return time.Unix(0, v).UTC()
}

func formatTimestamp(unit arrow.TimeUnit) func(int64) string {
	return func(v int64) string { return unitTime(v, unit).Format(time.RFC3339Nano) }
}

func formatDays(v int64) string {
	return time.Unix(v*86400, 0).UTC().Format(time.DateOnly)
}

func formatDateMillis(v int64) string {
	return time.UnixMilli(v).UTC().Format(time.DateOnly)
}

func formatTimeOfDay(unit arrow.TimeUnit) func(int64) string {
	return func(v int64) string { return unitTime(v, unit).Format("15:04:05.999999999") }
}
