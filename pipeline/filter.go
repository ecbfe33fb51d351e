package pipeline

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Filter keeps the rows for which p is true. Rows where p is false or
// unknown (a comparison with a null) are dropped. The output has the input's
// schema. The predicate is evaluated over the typed arrays into a bitmap;
// the rows kept are then gathered into new arrays, except when they form one
// run (all of them, say), which the output shares with the input.
//
// Binding fails with ErrSchema when p names a missing column or compares a
// column with a value of the wrong kind.
func Filter(p Predicate) Stage { return &filterStage{p: p} }

type filterStage struct{ p Predicate }

func (s *filterStage) Name() string {
	if s.p == nil {
		return "filter"
	}
	return "filter(" + s.p.String() + ")"
}

func (s *filterStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	if s.p == nil {
		return nil, fmt.Errorf("filter: nil predicate")
	}
	ev, err := s.p.bind(in)
	if err != nil {
		return nil, err
	}
	return &filterStep{mem: mem, schema: in, ev: ev}, nil
}

type filterStep struct {
	mem    memory.Allocator
	schema *arrow.Schema
	ev     evaluator
}

func (s *filterStep) Schema() *arrow.Schema { return s.schema }

func (s *filterStep) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := checkBatch(in, s.schema); err != nil {
		return nil, err
	}
	n := int(in.NumRows())
	t, f := make([]uint64, words(n)), make([]uint64, words(n))
	s.ev.eval(in, n, t, f)
	return takeRows(ctx, s.mem, s.schema, in, t, nil)
}

// A Predicate is a condition on the values of a row, evaluated with SQL's
// three-valued logic: a comparison involving a null is unknown, Not of
// unknown is unknown, And is false if any part is false, Or is true if any
// part is true. Filter keeps only the rows where the predicate is true.
//
// Build predicates with Col and combine them with And, Or and Not; the
// interface cannot be implemented outside this package (use Map for a
// condition these cannot express).
type Predicate interface {
	// String describes the predicate, as in `delay > 60`.
	String() string
	bind(s *arrow.Schema) (evaluator, error)
}

// An evaluator is a predicate bound to a schema.
type evaluator interface {
	// eval sets, for the n rows of rec, the bits of t where the predicate
	// is true and of f where it is false; rows where it is unknown have
	// neither. t and f hold words(n) words; bits past n are left zero.
	eval(rec arrow.RecordBatch, n int, t, f []uint64)
}

// ColRef names a column in a predicate. Its methods compare the column
// with Go values, which are converted to the column's type when the stage is
// bound:
//
//   - integer columns (int8 … uint64) take any Go integer, or a float with
//     no fraction, that fits the column's type;
//   - float columns take floats and integers that convert exactly;
//   - string columns (utf8, large_utf8) take strings, compared bytewise;
//   - bool columns take bools (Eq, Ne and In only);
//   - timestamp, date32 and date64 columns take a time.Time or a string in
//     ISO 8601 form ("2006-01-02", "2006-01-02 15:04:05", with an optional
//     fraction and zone). For a column without a time zone, the wall clock
//     of the time.Time is compared (its location is ignored); for a column
//     with one, the instant. A time finer than the column's unit compares
//     exactly (x > t holds for the column's values after t); Eq, Ne and In
//     reject such a time;
//   - dictionary columns compare their values, as above for the value
//     type.
//
// Any other pairing makes Bind fail with ErrSchema.
type ColRef struct{ name string }

// Col refers to the column called name.
func Col(name string) ColRef { return ColRef{name} }

// Eq is true where the column equals v.
func (c ColRef) Eq(v any) Predicate { return &cmpPred{col: c.name, op: opEq, vals: []any{v}} }

// Ne is true where the column differs from v (and is not null).
func (c ColRef) Ne(v any) Predicate { return &cmpPred{col: c.name, op: opNe, vals: []any{v}} }

// Lt is true where the column is less than v.
func (c ColRef) Lt(v any) Predicate { return &cmpPred{col: c.name, op: opLt, vals: []any{v}} }

// Le is true where the column is less than or equal to v.
func (c ColRef) Le(v any) Predicate { return &cmpPred{col: c.name, op: opLe, vals: []any{v}} }

// Gt is true where the column is greater than v.
func (c ColRef) Gt(v any) Predicate { return &cmpPred{col: c.name, op: opGt, vals: []any{v}} }

// Ge is true where the column is greater than or equal to v.
func (c ColRef) Ge(v any) Predicate { return &cmpPred{col: c.name, op: opGe, vals: []any{v}} }

// Between is true where lo <= column <= hi.
func (c ColRef) Between(lo, hi any) Predicate {
	return &cmpPred{col: c.name, op: opBetween, vals: []any{lo, hi}}
}

// In is true where the column equals one of vs. With no values it is false
// for every non-null row.
func (c ColRef) In(vs ...any) Predicate {
	return &cmpPred{col: c.name, op: opIn, vals: append([]any(nil), vs...)}
}

// IsNull is true where the column is null, false elsewhere (never unknown).
// It works on columns of any type.
func (c ColRef) IsNull() Predicate { return &nullPred{col: c.name, null: true} }

// NotNull is true where the column is not null, false elsewhere. It works
// on columns of any type.
func (c ColRef) NotNull() Predicate { return &nullPred{col: c.name} }

// And is true where every p is true and false where any is false. And()
// with no predicates is true.
func And(ps ...Predicate) Predicate {
	return &logicPred{and: true, ps: append([]Predicate(nil), ps...)}
}

// Or is true where any p is true and false where every one is false. Or()
// with no predicates is false.
func Or(ps ...Predicate) Predicate { return &logicPred{ps: append([]Predicate(nil), ps...)} }

// Not is true where p is false, false where p is true, and unknown where p
// is unknown, so Not(Col("x").Gt(1)) does not keep rows where x is null.
func Not(p Predicate) Predicate { return &notPred{p: p} }

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opBetween
	opIn
	opMatch // regular expression, for Validate's Matches
)

var opText = [...]string{opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">="}

// cmpPred compares a column with constants.
type cmpPred struct {
	col  string
	op   cmpOp
	vals []any
	re   *regexp.Regexp // opMatch
}

func (p *cmpPred) String() string {
	switch p.op {
	case opBetween:
		return fmt.Sprintf("%s BETWEEN %s AND %s", p.col, formatConst(p.vals[0]), formatConst(p.vals[1]))
	case opIn:
		parts := make([]string, len(p.vals))
		for i, v := range p.vals {
			parts[i] = formatConst(v)
		}
		return fmt.Sprintf("%s IN (%s)", p.col, strings.Join(parts, ", "))
	case opMatch:
		return fmt.Sprintf("%s MATCHES %q", p.col, p.re.String())
	}
	return fmt.Sprintf("%s %s %s", p.col, opText[p.op], formatConst(p.vals[0]))
}

// formatConst writes a predicate constant for messages and names.
func formatConst(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case nil:
		return "nil"
	}
	return fmt.Sprint(v)
}

type nullPred struct {
	col  string
	null bool
}

func (p *nullPred) String() string {
	if p.null {
		return p.col + " IS NULL"
	}
	return p.col + " IS NOT NULL"
}

func (p *nullPred) bind(s *arrow.Schema) (evaluator, error) {
	i, err := fieldIndex(s, p.col)
	if err != nil {
		return nil, err
	}
	return &nullEval{col: i, null: p.null}, nil
}

type nullEval struct {
	col  int
	null bool
}

func (e *nullEval) eval(rec arrow.RecordBatch, n int, t, f []uint64) {
	v, nv := t, f // the valid rows, the null rows
	if e.null {
		v, nv = f, t
	}
	validWords(rec.Column(e.col), n, v)
	for i := range v {
		nv[i] = ^v[i]
	}
	maskTail(nv, n)
}

type logicPred struct {
	and bool
	ps  []Predicate
}

func (p *logicPred) String() string {
	if len(p.ps) == 0 {
		if p.and {
			return "TRUE"
		}
		return "FALSE"
	}
	sep := " OR "
	if p.and {
		sep = " AND "
	}
	parts := make([]string, len(p.ps))
	for i, q := range p.ps {
		parts[i] = q.String()
	}
	return "(" + strings.Join(parts, sep) + ")"
}

func (p *logicPred) bind(s *arrow.Schema) (evaluator, error) {
	e := &logicEval{and: p.and, es: make([]evaluator, len(p.ps))}
	for i, q := range p.ps {
		if q == nil {
			return nil, fmt.Errorf("%s: predicate %d is nil", p, i+1)
		}
		ev, err := q.bind(s)
		if err != nil {
			return nil, err
		}
		e.es[i] = ev
	}
	return e, nil
}

type logicEval struct {
	and bool
	es  []evaluator
}

func (e *logicEval) eval(rec arrow.RecordBatch, n int, t, f []uint64) {
	// An empty And is true everywhere, an empty Or false everywhere; each
	// operand then narrows the result.
	if e.and {
		t, f = f, t // build the dual and swap at the end
	}
	clear(t)
	for i := range f {
		f[i] = ^uint64(0)
	}
	maskTail(f, n)
	if len(e.es) == 0 {
		return
	}
	t2, f2 := make([]uint64, len(t)), make([]uint64, len(t))
	for _, c := range e.es {
		if e.and {
			c.eval(rec, n, f2, t2) // f2 is c's true set, t2 its false set
		} else {
			c.eval(rec, n, t2, f2)
		}
		// Or: true if any true, false if all false. And is the same on
		// the swapped sets.
		for i := range t {
			t[i] |= t2[i]
			f[i] &= f2[i]
		}
	}
}

type notPred struct{ p Predicate }

func (p *notPred) String() string {
	if p.p == nil {
		return "NOT <nil>"
	}
	return "NOT " + p.p.String()
}

func (p *notPred) bind(s *arrow.Schema) (evaluator, error) {
	if p.p == nil {
		return nil, fmt.Errorf("NOT: nil predicate")
	}
	e, err := p.p.bind(s)
	if err != nil {
		return nil, err
	}
	return notEval{e}, nil
}

type notEval struct{ e evaluator }

func (e notEval) eval(rec arrow.RecordBatch, n int, t, f []uint64) { e.e.eval(rec, n, f, t) }

// bind converts the constants to the column's type and picks a kernel.
func (p *cmpPred) bind(s *arrow.Schema) (evaluator, error) {
	i, err := fieldIndex(s, p.col)
	if err != nil {
		return nil, err
	}
	dt := s.Field(i).Type
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: column %q is %s: %s", ErrSchema, p, p.col, dt, fmt.Sprintf(format, args...))
	}
	if p.op == opMatch && dt.ID() != arrow.DICTIONARY {
		switch dt.ID() {
		case arrow.STRING:
			return &strEval[int32]{col: i, op: opMatch, re: p.re}, nil
		case arrow.LARGE_STRING:
			return &strEval[int64]{col: i, op: opMatch, re: p.re}, nil
		}
		return nil, bad("a pattern applies to string columns only")
	}
	for _, v := range p.vals {
		if v == nil {
			return nil, bad("nil is not a value; use IsNull or NotNull")
		}
	}
	switch dt.ID() {
	case arrow.INT8:
		return bindInt[int8](i, p, bad, true, 8)
	case arrow.INT16:
		return bindInt[int16](i, p, bad, true, 16)
	case arrow.INT32:
		return bindInt[int32](i, p, bad, true, 32)
	case arrow.INT64:
		return bindInt[int64](i, p, bad, true, 64)
	case arrow.UINT8:
		return bindInt[uint8](i, p, bad, false, 8)
	case arrow.UINT16:
		return bindInt[uint16](i, p, bad, false, 16)
	case arrow.UINT32:
		return bindInt[uint32](i, p, bad, false, 32)
	case arrow.UINT64:
		return bindInt[uint64](i, p, bad, false, 64)
	case arrow.FLOAT32:
		return bindFloat[float32](i, p, bad)
	case arrow.FLOAT64:
		return bindFloat[float64](i, p, bad)
	case arrow.STRING:
		return bindString[int32](i, p, bad)
	case arrow.LARGE_STRING:
		return bindString[int64](i, p, bad)
	case arrow.BOOL:
		return bindBool(i, p, bad)
	case arrow.TIMESTAMP:
		ts := dt.(*arrow.TimestampType)
		return bindTime[int64](i, p, bad, ts.Unit, ts.TimeZone != "")
	case arrow.DATE32:
		return bindTime[int32](i, p, bad, unitDay, false)
	case arrow.DATE64:
		return bindTime[int64](i, p, bad, arrow.Millisecond, false)
	case arrow.DICTIONARY:
		// Compare the dictionary's values once per batch, then look each
		// row's index up.
		vt := dt.(*arrow.DictionaryType).ValueType
		vs := arrow.NewSchema([]arrow.Field{{Name: p.col, Type: vt, Nullable: true}}, nil)
		ev, err := p.bind(vs)
		if err != nil {
			return nil, err
		}
		return &dictEval{col: i, values: vs, ev: ev}, nil
	}
	return nil, bad("comparisons are not supported on this type")
}

// number is the storage type of the columns compared natively.
type number interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// bindNum builds a numeric evaluator from constants already converted to C.
func bindNum[T, C number](col int, op cmpOp, cs []C) evaluator {
	e := &numEval[T, C]{col: col, op: op}
	switch op {
	case opBetween:
		e.a, e.b = cs[0], cs[1]
	case opIn:
		if len(cs) > 8 {
			e.set = make(map[C]struct{}, len(cs))
			for _, c := range cs {
				e.set[c] = struct{}{}
			}
		} else {
			e.list = cs
		}
	default:
		e.a = cs[0]
	}
	return e
}

func bindInt[T number](col int, p *cmpPred, bad func(string, ...any) error, signed bool, bitSize int) (evaluator, error) {
	cs := make([]T, len(p.vals))
	for k, v := range p.vals {
		neg, mag, ok := intConst(v)
		if !ok {
			return nil, bad("%s is not an integer", formatConst(v))
		}
		var fits bool
		if signed {
			limit := uint64(1) << (bitSize - 1)
			fits = (neg && mag <= limit) || (!neg && mag < limit)
		} else {
			fits = !neg || mag == 0
			if bitSize < 64 {
				fits = fits && mag < uint64(1)<<bitSize
			}
		}
		if !fits {
			return nil, bad("%s is out of range", formatConst(v))
		}
		if neg {
			cs[k] = T(-int64(mag))
		} else {
			cs[k] = T(mag)
		}
	}
	return bindNum[T, T](col, p.op, cs), nil
}

// intConst reads v as an integer: its sign and magnitude. Floats qualify
// when they have no fraction.
func intConst(v any) (neg bool, mag uint64, ok bool) {
	var i int64
	switch v := v.(type) {
	case int:
		i = int64(v)
	case int8:
		i = int64(v)
	case int16:
		i = int64(v)
	case int32:
		i = int64(v)
	case int64:
		i = v
	case uint:
		return false, uint64(v), true
	case uint8:
		return false, uint64(v), true
	case uint16:
		return false, uint64(v), true
	case uint32:
		return false, uint64(v), true
	case uint64:
		return false, v, true
	case float32:
		return floatInt(float64(v))
	case float64:
		return floatInt(v)
	default:
		return false, 0, false
	}
	if i < 0 {
		return true, uint64(-i), true // -MinInt64 wraps to 1<<63, the right magnitude
	}
	return false, uint64(i), true
}

func floatInt(f float64) (neg bool, mag uint64, ok bool) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) >= 1<<64 {
		return false, 0, false
	}
	return f < 0, uint64(math.Abs(f)), true
}

func bindFloat[T float32 | float64](col int, p *cmpPred, bad func(string, ...any) error) (evaluator, error) {
	cs := make([]float64, len(p.vals))
	for k, v := range p.vals {
		f, ok := floatConst(v)
		if !ok {
			return nil, bad("%s is not a number that converts exactly to float64", formatConst(v))
		}
		cs[k] = f
	}
	// float32 values widen exactly to float64, where the comparison happens.
	return bindNum[T, float64](col, p.op, cs), nil
}

func floatConst(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	}
	neg, mag, ok := intConst(v)
	if !ok {
		return 0, false
	}
	f := float64(mag)
	if f >= 1<<64 || uint64(f) != mag {
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

func bindString[O int32 | int64](col int, p *cmpPred, bad func(string, ...any) error) (evaluator, error) {
	cs := make([]string, len(p.vals))
	for k, v := range p.vals {
		s, ok := v.(string)
		if !ok {
			return nil, bad("%s is not a string", formatConst(v))
		}
		cs[k] = s
	}
	e := &strEval[O]{col: col, op: p.op}
	switch p.op {
	case opIn:
		if len(cs) > 8 {
			e.set = make(map[string]struct{}, len(cs))
			for _, c := range cs {
				e.set[c] = struct{}{}
			}
		} else {
			e.list = append(make([]string, 0, len(cs)), cs...) // not nil, even when empty
		}
	case opBetween:
		e.a, e.b = cs[0], cs[1]
	default:
		e.a = cs[0]
	}
	return e, nil
}

func bindBool(col int, p *cmpPred, bad func(string, ...any) error) (evaluator, error) {
	switch p.op {
	case opEq, opNe, opIn:
	default:
		return nil, bad("bool columns support Eq, Ne and In only")
	}
	e := &boolEval{col: col}
	for _, v := range p.vals {
		b, ok := v.(bool)
		if !ok {
			return nil, bad("%s is not a bool", formatConst(v))
		}
		if p.op == opNe {
			b = !b
		}
		e.match[b2i(b)] = true
	}
	return e, nil
}

// unitDay marks date32 columns, whose values count days.
const unitDay arrow.TimeUnit = 100

func bindTime[T int32 | int64](col int, p *cmpPred, bad func(string, ...any) error, unit arrow.TimeUnit, zoned bool) (evaluator, error) {
	cs := make([]T, len(p.vals))
	for k, v := range p.vals {
		var sec, nsec int64
		switch v := v.(type) {
		case time.Time:
			if !zoned {
				// Naive columns hold wall clocks: compare the wall clock.
				v = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), v.Nanosecond(), time.UTC)
			}
			sec, nsec = v.Unix(), int64(v.Nanosecond())
		case string:
			s, ns, _, ok := parseISOTimestamp([]byte(v))
			if !ok {
				return nil, bad("%s is not a date or timestamp: %v", formatConst(v), errNotTimestamp)
			}
			sec, nsec = s, ns
		default:
			return nil, bad("%s is not a time.Time or a date string", formatConst(v))
		}
		floor, exact, ok := timeCount(sec, nsec, unit)
		if ok && unit == unitDay && (floor < math.MinInt32 || floor >= math.MaxInt32) {
			ok = false
		}
		if !ok {
			return nil, bad("%s is out of range", formatConst(v))
		}
		// Round so that the comparison with the exact time holds: x > t
		// and x <= t use floor(t), x >= t and x < t use ceil(t).
		ceil := floor
		if !exact {
			ceil++
		}
		switch {
		case p.op == opGe || p.op == opLt || (p.op == opBetween && k == 0):
			cs[k] = T(ceil)
		case p.op == opGt || p.op == opLe || p.op == opBetween:
			cs[k] = T(floor)
		case !exact:
			return nil, bad("%s is finer than the column's unit, so it never equals a value", formatConst(v))
		default:
			cs[k] = T(floor)
		}
	}
	return bindNum[T, T](col, p.op, cs), nil
}

// timeCount converts a time to a count of unit since the epoch, rounded
// down, and says whether that was exact.
func timeCount(sec, nsec int64, unit arrow.TimeUnit) (floor int64, exact, ok bool) {
	if unit == unitDay {
		d := sec / 86400
		r := sec % 86400
		if r < 0 {
			d--
			r += 86400
		}
		return d, r == 0 && nsec == 0, true
	}
	v, ok := toUnit(sec, nsec, unit)
	if !ok {
		return 0, false, false
	}
	div := int64(1)
	switch unit {
	case arrow.Second:
		div = 1e9
	case arrow.Millisecond:
		div = 1e6
	case arrow.Microsecond:
		div = 1e3
	}
	return v, nsec%div == 0, true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// numEval compares a column stored as T with constants of type C, the
// type both are compared in.
type numEval[T, C number] struct {
	col  int
	op   cmpOp
	a, b C
	list []C            // In, few values
	set  map[C]struct{} // In, many values
}

func (e *numEval[T, C]) eval(rec arrow.RecordBatch, n int, t, f []uint64) {
	arr := rec.Column(e.col)
	vals := arrow.GetValues[T](arr.Data(), 1)
	a, b := e.a, e.b
	for w := range t {
		lo := w * 64
		vs := vals[lo:min(lo+64, n)]
		var word uint64
		switch e.op {
		case opEq:
			for j, x := range vs {
				word |= b2u(C(x) == a) << j
			}
		case opNe:
			for j, x := range vs {
				word |= b2u(C(x) != a) << j
			}
		case opLt:
			for j, x := range vs {
				word |= b2u(C(x) < a) << j
			}
		case opLe:
			for j, x := range vs {
				word |= b2u(C(x) <= a) << j
			}
		case opGt:
			for j, x := range vs {
				word |= b2u(C(x) > a) << j
			}
		case opGe:
			for j, x := range vs {
				word |= b2u(C(x) >= a) << j
			}
		case opBetween:
			for j, x := range vs {
				word |= b2u(C(x) >= a && C(x) <= b) << j
			}
		case opIn:
			if e.set != nil {
				for j, x := range vs {
					_, ok := e.set[C(x)]
					word |= b2u(ok) << j
				}
				break
			}
			for j, x := range vs {
				for _, c := range e.list {
					if C(x) == c {
						word |= 1 << j
						break
					}
				}
			}
		}
		t[w] = word
	}
	applyValidity(arr, n, t, f)
}

// strEval compares a utf8 (O = int32) or large_utf8 (O = int64) column.
type strEval[O int32 | int64] struct {
	col  int
	op   cmpOp
	a, b string
	list []string            // In, few values
	set  map[string]struct{} // In, many values
	re   *regexp.Regexp
}

func (e *strEval[O]) eval(rec arrow.RecordBatch, n int, t, f []uint64) {
	arr := rec.Column(e.col)
	data := arr.Data()
	var offs []O
	if n > 0 {
		offs = arrow.GetOffsets[O](data, 1)
	}
	var bytes []byte
	if b := data.Buffers()[2]; b != nil {
		bytes = b.Bytes()
	}
	a, b := e.a, e.b
	switch e.op {
	case opEq, opNe:
		// The commonest test gets its own loop: lengths first, bytes after.
		for w := range t {
			lo := w * 64
			os := offs[lo : min(lo+64, n)+1]
			var word uint64
			for j := range len(os) - 1 {
				s, x := os[j], os[j+1]
				word |= b2u(int(x-s) == len(a) && string(bytes[s:x]) == a) << j
			}
			if e.op == opNe {
				word = ^word
			}
			t[w] = word
		}
		maskTail(t, n)
	case opIn:
		for w := range t {
			lo := w * 64
			os := offs[lo : min(lo+64, n)+1]
			var word uint64
			if e.list != nil {
				// A few values: compare lengths, then bytes.
				for j := range len(os) - 1 {
					v := bytes[os[j]:os[j+1]]
					for _, c := range e.list {
						if len(v) == len(c) && string(v) == c {
							word |= 1 << j
							break
						}
					}
				}
			} else {
				for j := range len(os) - 1 {
					_, ok := e.set[string(bytes[os[j]:os[j+1]])]
					word |= b2u(ok) << j
				}
			}
			t[w] = word
		}
	default:
		for w := range t {
			lo := w * 64
			hi := min(lo+64, n)
			var word uint64
			for j := 0; j < hi-lo; j++ {
				v := bytes[offs[lo+j]:offs[lo+j+1]]
				var ok bool
				switch e.op {
				case opLt:
					ok = string(v) < a
				case opLe:
					ok = string(v) <= a
				case opGt:
					ok = string(v) > a
				case opGe:
					ok = string(v) >= a
				case opBetween:
					ok = string(v) >= a && string(v) <= b
				case opMatch:
					ok = e.re.Match(v)
				}
				word |= b2u(ok) << j
			}
			t[w] = word
		}
	}
	applyValidity(arr, n, t, f)
}

// dictEval evaluates a comparison on a dictionary column: ev compares the
// dictionary's values (a batch of schema values), and each row takes the
// result of its index.
type dictEval struct {
	col    int
	values *arrow.Schema
	ev     evaluator
}

func (e *dictEval) eval(rec arrow.RecordBatch, n int, t, f []uint64) {
	arr := rec.Column(e.col).(*array.Dictionary)
	dict := arr.Dictionary()
	dn := dict.Len()
	vrec := array.NewRecordBatch(e.values, []arrow.Array{dict}, int64(dn))
	defer vrec.Release()
	dt, df := make([]uint64, words(dn)), make([]uint64, words(dn))
	e.ev.eval(vrec, dn, dt, df)
	clear(t)
	clear(f)
	for i := range n {
		if arr.IsNull(i) {
			continue
		}
		k := arr.GetValueIndex(i)
		t[i/64] |= (dt[k/64] >> (k % 64) & 1) << (i % 64)
		f[i/64] |= (df[k/64] >> (k % 64) & 1) << (i % 64)
	}
}

// boolEval matches a bool column against the set of values in match.
type boolEval struct {
	col   int
	match [2]bool
}

func (e *boolEval) eval(rec arrow.RecordBatch, n int, t, f []uint64) {
	arr := rec.Column(e.col).(*array.Boolean)
	for w := range t {
		lo := w * 64
		hi := min(lo+64, n)
		var word uint64
		for j := 0; j < hi-lo; j++ {
			word |= b2u(e.match[b2i(arr.Value(lo+j))]) << j
		}
		t[w] = word
	}
	applyValidity(arr, n, t, f)
}

// words is the number of 64-bit words for a bitmap of n bits.
func words(n int) int { return (n + 63) / 64 }

// maskTail clears the bits past n in the last word of w.
func maskTail(w []uint64, n int) {
	if r := n % 64; r != 0 && len(w) > 0 {
		w[len(w)-1] &= 1<<r - 1
	}
}

// validWords writes the validity bitmap of the first n values of arr into
// dst, one bit per row (bits past n cleared).
func validWords(arr arrow.Array, n int, dst []uint64) {
	if arr.NullN() == 0 {
		for i := range dst {
			dst[i] = ^uint64(0)
		}
		maskTail(dst, n)
		return
	}
	if arr.DataType().ID() == arrow.NULL {
		clear(dst)
		return
	}
	bitmapWords(arr.NullBitmapBytes(), arr.Data().Offset(), n, dst)
}

// bitmapWords copies n bits of an Arrow bitmap, starting at bit off, into
// dst (bits past n cleared). Arrow bitmaps are little-endian, like these
// words on the platforms arrow-go supports.
func bitmapWords(bm []byte, off, n int, dst []uint64) {
	clear(dst)
	if off%8 == 0 {
		copy(arrow.GetBytes(dst), bm[off/8:])
	} else {
		for i := range n {
			if bm[(off+i)/8]&(1<<((off+i)%8)) != 0 {
				dst[i/64] |= 1 << (i % 64)
			}
		}
	}
	maskTail(dst, n)
}

// applyValidity turns a comparison bitmap t, computed over every slot, into
// the true and false sets: null rows go in neither.
func applyValidity(arr arrow.Array, n int, t, f []uint64) {
	if arr.NullN() == 0 {
		for i := range t {
			f[i] = ^t[i]
		}
		maskTail(f, n)
		return
	}
	validWords(arr, n, f)
	for i := range t {
		v := f[i]
		f[i] = ^t[i] & v
		t[i] &= v
	}
}

// countBits returns the number of set bits in w.
func countBits(w []uint64) int {
	c := 0
	for _, x := range w {
		c += bits.OnesCount64(x)
	}
	return c
}

// takeRows returns the rows of rec whose bits are set in sel, as a batch of
// schema (whose types match rec's) followed by the extra columns, which
// must already hold one value per selected row. Arrays are allocated from
// mem. When every row is selected, or the rows form one run, no data is
// copied.
func takeRows(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, rec arrow.RecordBatch, sel []uint64, extra []arrow.Array) (arrow.RecordBatch, error) {
	n := int(rec.NumRows())
	count := countBits(sel)
	cols := make([]arrow.Array, 0, len(schema.Fields()))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	finish := func() arrow.RecordBatch {
		for _, e := range extra {
			e.Retain()
			cols = append(cols, e)
		}
		return array.NewRecordBatch(schema, cols, int64(count))
	}
	// A single run of rows (all of them, none, or a block) is a slice.
	first, last := -1, -1
	for w, x := range sel {
		if x != 0 {
			if first < 0 {
				first = w*64 + bits.TrailingZeros64(x)
			}
			last = w*64 + 63 - bits.LeadingZeros64(x)
		}
	}
	if count == 0 || last-first+1 == count {
		if count == 0 {
			first, last = 0, -1
		}
		for _, c := range rec.Columns() {
			if first == 0 && last == n-1 {
				c.Retain()
				cols = append(cols, c)
			} else {
				cols = append(cols, array.NewSlice(c, int64(first), int64(last+1)))
			}
		}
		return finish(), nil
	}
	var idx arrow.Array // row numbers, built for the types taken by compute
	defer func() {
		if idx != nil {
			idx.Release()
		}
	}()
	for i, c := range rec.Columns() {
		out := takeColumn(mem, c, n, sel, count)
		if out == nil {
			if idx == nil {
				idx = selIndices(mem, sel, count, n)
			}
			var err error
			out, err = compute.TakeArrayOpts(compute.WithAllocator(ctx, mem), c, idx, compute.TakeOptions{BoundsCheck: false})
			if err != nil {
				return nil, fmt.Errorf("take rows of column %q: %w", schema.Field(i).Name, err)
			}
		}
		cols = append(cols, out)
	}
	return finish(), nil
}

// selIndices returns the positions of the set bits of sel as an int32 (or,
// past 2³¹ rows, int64) array.
func selIndices(mem memory.Allocator, sel []uint64, count, n int) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	dt := arrow.DataType(arrow.PrimitiveTypes.Int32)
	if n <= math.MaxInt32 {
		buf.Resize(count * 4)
		forEachBit(sel, arrow.GetData[int32](buf.Bytes()), func(i int) int32 { return int32(i) })
	} else {
		dt = arrow.PrimitiveTypes.Int64
		buf.Resize(count * 8)
		forEachBit(sel, arrow.GetData[int64](buf.Bytes()), func(i int) int64 { return int64(i) })
	}
	data := array.NewData(dt, count, []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// forEachBit fills out[k] with f of the position of the k-th set bit of sel.
func forEachBit[T any](sel []uint64, out []T, f func(int) T) {
	k := 0
	for w, x := range sel {
		for x != 0 {
			out[k] = f(w*64 + bits.TrailingZeros64(x))
			k++
			x &= x - 1
		}
	}
}

// takeColumn returns the values of arr (n rows) at the set bits of sel, or
// nil for types it does not handle (compute's take does those).
func takeColumn(mem memory.Allocator, arr arrow.Array, n int, sel []uint64, count int) arrow.Array {
	data := arr.Data()
	var width int
	switch arr.DataType().ID() {
	case arrow.INT8, arrow.UINT8:
		width = 1
	case arrow.INT16, arrow.UINT16, arrow.FLOAT16:
		width = 2
	case arrow.INT32, arrow.UINT32, arrow.FLOAT32, arrow.DATE32, arrow.TIME32:
		width = 4
	case arrow.INT64, arrow.UINT64, arrow.FLOAT64, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME64, arrow.DURATION:
		width = 8
	case arrow.BOOL, arrow.STRING, arrow.BINARY, arrow.LARGE_STRING, arrow.LARGE_BINARY:
	default:
		return nil
	}
	var bitmap *memory.Buffer
	nulls := 0
	if arr.NullN() > 0 {
		v := make([]uint64, len(sel))
		validWords(arr, n, v)
		bitmap, nulls = gatherBits(mem, v, sel, count)
		defer bitmap.Release()
		if nulls == 0 {
			bitmap = nil // every selected value is valid
		}
	}
	buffers := []*memory.Buffer{bitmap, nil}
	values := memory.NewResizableBuffer(mem)
	defer values.Release()
	switch arr.DataType().ID() {
	case arrow.BOOL:
		v := make([]uint64, len(sel))
		bitmapWords(data.Buffers()[1].Bytes(), data.Offset(), n, v)
		b, _ := gatherBits(mem, v, sel, count)
		defer b.Release()
		buffers[1] = b
	case arrow.STRING, arrow.BINARY:
		buffers = append(buffers, nil)
		buffers[1], buffers[2] = gatherVarBinary[int32](mem, data, sel, count)
		defer buffers[1].Release()
		defer buffers[2].Release()
	case arrow.LARGE_STRING, arrow.LARGE_BINARY:
		buffers = append(buffers, nil)
		buffers[1], buffers[2] = gatherVarBinary[int64](mem, data, sel, count)
		defer buffers[1].Release()
		defer buffers[2].Release()
	default:
		values.Resize((count + 1) * width) // gatherValues writes one past the end
		switch width {
		case 1:
			gatherValues(arrow.GetValues[uint8](data, 1), sel, arrow.GetData[uint8](values.Bytes()))
		case 2:
			gatherValues(arrow.GetValues[uint16](data, 1), sel, arrow.GetData[uint16](values.Bytes()))
		case 4:
			gatherValues(arrow.GetValues[uint32](data, 1), sel, arrow.GetData[uint32](values.Bytes()))
		default:
			gatherValues(arrow.GetValues[uint64](data, 1), sel, arrow.GetData[uint64](values.Bytes()))
		}
		values.Resize(count * width)
		buffers[1] = values
	}
	out := array.NewData(arr.DataType(), count, buffers, nil, nulls, 0)
	defer out.Release()
	return array.MakeFromData(out)
}

// gatherValues copies vals at the set bits of sel into out, which has room
// for one value more than there are set bits.
func gatherValues[T any](vals []T, sel []uint64, out []T) {
	k := 0
	for w, x := range sel {
		base := w * 64
		switch {
		case x == 0:
		case x == ^uint64(0):
			k += copy(out[k:], vals[base:base+64])
		case bits.OnesCount64(x) >= 16:
			// Dense: write every value, advance past the selected ones.
			for j, v := range vals[base:min(base+64, len(vals))] {
				out[k] = v
				k += int(x >> j & 1)
			}
		default:
			for x != 0 {
				out[k] = vals[base+bits.TrailingZeros64(x)]
				k++
				x &= x - 1
			}
		}
	}
}

// pext8 holds, for each pair of a byte of values v and a byte of mask m
// (index m<<8|v), the bits of v where m is set, packed to the low end.
var pext8 = sync.OnceValue(func() *[1 << 16]uint8 {
	var t [1 << 16]uint8
	for m := range 256 {
		for v := range 256 {
			var out, k uint8
			for j := range 8 {
				if m&(1<<j) != 0 {
					out |= uint8(v>>j&1) << k
					k++
				}
			}
			t[m<<8|v] = out
		}
	}
	return &t
})

// gatherBits packs the bits of src at the set bits of sel into a new
// bitmap of count bits and returns it with the number of zeros among them.
func gatherBits(mem memory.Allocator, src, sel []uint64, count int) (*memory.Buffer, int) {
	buf := memory.NewResizableBuffer(mem)
	nw := words(count)
	buf.Resize(nw*8 + 8) // one spare word for the spill of the last append
	out := arrow.GetData[uint64](buf.Bytes())
	clear(out)
	tbl := pext8()
	k := 0
	// put appends the low nb bits of v at bit k of out.
	put := func(v uint64, nb int) {
		sh := k % 64
		out[k/64] |= v << sh
		if sh != 0 && sh+nb > 64 {
			out[k/64+1] |= v >> (64 - sh)
		}
		k += nb
	}
	for w, x := range sel {
		switch x {
		case 0:
			continue
		case ^uint64(0):
			put(src[w], 64)
			continue
		}
		v := src[w]
		for x != 0 {
			m := uint8(x)
			if m != 0 {
				put(uint64(tbl[uint16(m)<<8|uint16(uint8(v))]), bits.OnesCount8(m))
			}
			x >>= 8
			v >>= 8
		}
	}
	out = out[:nw]
	maskTail(out, count)
	buf.Resize((count + 7) / 8)
	return buf, count - countBits(out)
}

// gatherVarBinary builds the offsets and data of the values at the set bits
// of sel of a string or binary array.
func gatherVarBinary[O int32 | int64](mem memory.Allocator, data arrow.ArrayData, sel []uint64, count int) (offsets, values *memory.Buffer) {
	offs := arrow.GetOffsets[O](data, 1)
	var src []byte
	if b := data.Buffers()[2]; b != nil {
		src = b.Bytes()
	}
	offsets = memory.NewResizableBuffer(mem)
	size := int(unsafe.Sizeof(O(0)))
	offsets.Resize((count + 2) * size) // one spare for the dense loop
	out := arrow.GetData[O](offsets.Bytes())
	defer offsets.Resize((count + 1) * size)
	// First the offsets, from the lengths; then the bytes, a run of
	// adjacent selected rows at a time.
	var pos O
	k := 0
	n := len(offs) - 1
	for w, x := range sel {
		if bits.OnesCount64(x) >= 16 {
			// Dense: visit every row, advance past the selected ones
			// (out has room for the writes past the last one).
			base := w * 64
			for j := range min(64, n-base) {
				i := base + j
				bit := O(x >> j & 1)
				out[k] = pos
				pos += bit * (offs[i+1] - offs[i])
				k += int(bit)
			}
			continue
		}
		for x != 0 {
			i := w*64 + bits.TrailingZeros64(x)
			out[k] = pos
			pos += offs[i+1] - offs[i]
			k++
			x &= x - 1
		}
	}
	out[count] = pos
	values = memory.NewResizableBuffer(mem)
	values.Resize(int(pos))
	dst := values.Bytes()
	at := 0
	for w, x := range sel {
		for x != 0 {
			j := bits.TrailingZeros64(x)
			r := bits.TrailingZeros64(^(x >> j))
			i := w*64 + j
			from, to := offs[i], offs[i+r]
			if to-from <= 16 { // a call to memmove costs more
				for q := from; q < to; q++ {
					dst[at] = src[q]
					at++
				}
			} else {
				at += copy(dst[at:], src[from:to])
			}
			if j+r == 64 {
				break
			}
			x &^= (uint64(1)<<r - 1) << j
		}
	}
	return offsets, values
}
