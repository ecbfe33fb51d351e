package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Action is what a Validate stage does with a row that fails an
// expectation.
type Action int

const (
	// Stop fails the run at the first failing row with a *ValidationError.
	Stop Action = iota
	// DropRow removes failing rows from the output.
	DropRow
	// QuarantineRow removes failing rows from the output and writes them,
	// with the reasons, to ValidateOptions.Quarantine.
	QuarantineRow
)

func (a Action) String() string {
	switch a {
	case Stop:
		return "stop"
	case DropRow:
		return "drop_row"
	case QuarantineRow:
		return "quarantine_row"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// ReasonColumn is the name of the column that a Validate stage appends to
// the rows it quarantines: the names of the expectations a row failed,
// separated by "; ".
const ReasonColumn = "_reason"

// ValidateOptions configure a Validate stage. The zero value is not
// useful: a stage needs at least one expectation.
type ValidateOptions struct {
	// Expect lists the expectations every row must meet, checked in this
	// order.
	Expect []Expectation
	// OnFailure is what happens to a row that fails one or more
	// expectations. The zero value, Stop, fails the run.
	OnFailure Action
	// Quarantine receives the rows that fail when OnFailure is
	// QuarantineRow: the input columns followed by a string column
	// "_reason" listing the failed expectations, as in
	// "not_null(age); in_range(delay, -60, 600)". The run opens it, commits
	// it once every batch has gone through (just before committing its own
	// sink) and aborts it when the run fails; like every sink, it serves
	// one run. Required with QuarantineRow, ignored otherwise.
	Quarantine Sink
}

// Validate checks every row against expectations and counts the failures.
// Rows that meet every expectation pass unchanged; what happens to the
// others is set by opts.OnFailure. Null values pass every expectation but
// NotNull.
//
// The step is sequential (see Sequential): it sees batches one at a time in
// input order (unless the run is Unordered), so uniqueness, counts, error
// rows and the quarantine's order are the same whatever the run's
// parallelism. Its Counts are "rows_failed",
// "dropped", "quarantined" and, for each expectation, its name (as
// "not_null(age)") with the number of rows that failed it.
//
// Binding fails with ErrSchema when an expectation names a missing column
// or a value of the wrong kind for its column, or when the input already
// has a "_reason" column and failing rows are quarantined; it fails too
// with no expectations, with QuarantineRow and no Quarantine sink, and with
// a pattern that does not compile.
func Validate(opts ValidateOptions) Stage {
	opts.Expect = append([]Expectation(nil), opts.Expect...)
	return &validateStage{opts: opts}
}

// An Expectation is a condition that every row must meet, for Validate.
// Build one with NotNull, InRange, OneOf, Matches or Unique; the interface
// cannot be implemented outside this package.
type Expectation interface {
	// Name identifies the expectation in counts, reasons and errors, as in
	// "in_range(delay, -60, 600)".
	Name() string
	// Column is the column the expectation checks.
	Column() string
	expectation() *expectation
}

type expectation struct {
	name, col string
	// pred is true for rows that pass; nil for Unique.
	pred func() (Predicate, error)
}

func (e *expectation) Name() string              { return e.name }
func (e *expectation) Column() string            { return e.col }
func (e *expectation) expectation() *expectation { return e }

// NotNull expects col to have no nulls.
func NotNull(col string) Expectation {
	return &expectation{name: "not_null(" + col + ")", col: col,
		pred: func() (Predicate, error) { return Col(col).NotNull(), nil }}
}

// InRange expects min <= col <= max. Bounds are converted to the column's
// type as in Col(col).Between; a nil bound leaves that side open.
func InRange(col string, min, max any) Expectation {
	return &expectation{
		name: fmt.Sprintf("in_range(%s, %s, %s)", col, formatConst(min), formatConst(max)),
		col:  col,
		pred: func() (Predicate, error) {
			switch {
			case min == nil && max == nil:
				return nil, fmt.Errorf("in_range(%s): both bounds are nil", col)
			case min == nil:
				return Col(col).Le(max), nil
			case max == nil:
				return Col(col).Ge(min), nil
			}
			return Col(col).Between(min, max), nil
		},
	}
}

// OneOf expects col to equal one of values, converted to the column's type
// as in Col(col).In.
func OneOf(col string, values ...any) Expectation {
	vs := append([]any(nil), values...)
	parts := []string{col}
	for _, v := range vs {
		parts = append(parts, formatConst(v))
	}
	return &expectation{name: "one_of(" + strings.Join(parts, ", ") + ")", col: col,
		pred: func() (Predicate, error) { return Col(col).In(vs...), nil }}
}

// Matches expects the string column col to match the regular expression
// pattern (Go syntax). As with regexp.MatchString, a match anywhere in the
// value counts: anchor the pattern with ^ and $ to match whole values.
func Matches(col, pattern string) Expectation {
	return &expectation{name: fmt.Sprintf("matches(%s, %q)", col, pattern), col: col,
		pred: func() (Predicate, error) {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return nil, fmt.Errorf("matches(%s): %w", col, err)
			}
			return &cmpPred{col: col, op: opMatch, re: re}, nil
		}}
}

// Unique expects each non-null value of col to appear once in the run. It
// is checked on the rows that meet the other expectations, so the rows a
// Validate stage lets through are unique in col, and the first occurrence
// of a value is the one kept. The stage remembers every distinct value it
// has seen during the run.
func Unique(col string) Expectation {
	return &expectation{name: "unique(" + col + ")", col: col}
}

type validateStage struct{ opts ValidateOptions }

func (s *validateStage) Name() string { return "validate" }

func (s *validateStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	o := s.opts
	if len(o.Expect) == 0 {
		return nil, errors.New("validate: no expectations")
	}
	switch o.OnFailure {
	case Stop, DropRow:
	case QuarantineRow:
		if o.Quarantine == nil {
			return nil, errors.New("validate: OnFailure is QuarantineRow but Quarantine is nil")
		}
		if in.HasField(ReasonColumn) {
			return nil, fmt.Errorf("%w: validate: the input already has a %q column", ErrSchema, ReasonColumn)
		}
	default:
		return nil, fmt.Errorf("validate: unknown OnFailure %v", o.OnFailure)
	}
	st := &validateStep{mem: mem, schema: in, action: o.OnFailure, sink: o.Quarantine,
		counts: map[string]int64{"rows_failed": 0, "dropped": 0, "quarantined": 0}}
	for _, x := range o.Expect {
		if x == nil {
			return nil, errors.New("validate: nil expectation")
		}
		e := x.expectation()
		col, err := fieldIndex(in, e.col)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
		b := boundExp{exp: e, col: col}
		if e.pred == nil {
			if b.uniq, err = newUniqueSet(in.Field(col).Type); err != nil {
				return nil, fmt.Errorf("%s: %w", e.name, err)
			}
		} else {
			p, err := e.pred()
			if err != nil {
				return nil, err
			}
			if b.ev, err = p.bind(in); err != nil {
				return nil, fmt.Errorf("%s: %w", e.name, err)
			}
		}
		st.exps = append(st.exps, b)
		st.counts[e.name] = 0
	}
	if o.OnFailure == QuarantineRow {
		fields := append(in.Fields(), arrow.Field{Name: ReasonColumn, Type: arrow.BinaryTypes.String})
		md := in.Metadata()
		st.qschema = arrow.NewSchema(fields, &md)
	}
	return st, nil
}

type boundExp struct {
	exp  *expectation
	col  int
	ev   evaluator  // rows it fails are the false set; nil for Unique
	uniq *uniqueSet // Unique only
}

type validateStep struct {
	mem     memory.Allocator
	schema  *arrow.Schema
	qschema *arrow.Schema
	action  Action
	sink    Sink
	exps    []boundExp

	rows int64 // rows seen before the current batch

	mu     sync.Mutex
	counts map[string]int64
}

func (s *validateStep) Schema() *arrow.Schema { return s.schema }

// Sequential reports true: the step keeps uniqueness state and counts rows.
func (s *validateStep) Sequential() bool { return true }

// Counts returns a snapshot of the step's counts.
func (s *validateStep) Counts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

func (s *validateStep) sidecars() []sidecarSink {
	if s.action != QuarantineRow {
		return nil
	}
	return []sidecarSink{{sink: s.sink, schema: s.qschema}}
}

func (s *validateStep) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := checkBatch(in, s.schema); err != nil {
		return nil, err
	}
	n := int(in.NumRows())
	nw := words(n)
	base := s.rows
	s.rows += int64(n)

	// fails[k] marks the rows that fail expectation k, failing the rows that
	// fail at least one.
	fails := make([][]uint64, len(s.exps))
	failing := make([]uint64, nw)
	t := make([]uint64, nw)
	hasUnique := false
	for k, e := range s.exps {
		fails[k] = make([]uint64, nw)
		if e.ev == nil {
			hasUnique = true
			continue
		}
		e.ev.eval(in, n, t, fails[k])
		for w := range failing {
			failing[w] |= fails[k][w]
		}
	}
	if hasUnique {
		s.checkUnique(in, n, fails, failing)
	}
	failed := countBits(failing)
	if failed == 0 {
		return array.NewRecordBatch(s.schema, in.Columns(), in.NumRows()), nil
	}

	if s.action == Stop {
		first := firstBit(failing)
		s.mu.Lock()
		s.counts["rows_failed"]++
		var err *ValidationError
		for k, e := range s.exps {
			if fails[k][first/64]&(1<<(first%64)) == 0 {
				continue
			}
			s.counts[e.exp.name]++
			if err == nil {
				col := in.Column(e.col)
				err = &ValidationError{Expectation: e.exp.name, Column: e.exp.col, Row: base + int64(first) + 1,
					Null: col.IsNull(first)}
				if !err.Null {
					err.Value = clip(col.ValueStr(first))
				}
			}
		}
		s.mu.Unlock()
		return nil, err
	}

	if s.action == QuarantineRow {
		if err := s.quarantine(ctx, in, fails, failing, failed); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.counts["rows_failed"] += int64(failed)
	for k, e := range s.exps {
		s.counts[e.exp.name] += int64(countBits(fails[k]))
	}
	if s.action == DropRow {
		s.counts["dropped"] += int64(failed)
	} else {
		s.counts["quarantined"] += int64(failed)
	}
	s.mu.Unlock()

	pass := failing // reuse: the rows that fail none
	for w := range pass {
		pass[w] = ^pass[w]
	}
	maskTail(pass, n)
	return takeRows(ctx, s.mem, s.schema, in, pass, nil)
}

// quarantine writes the failing rows, with their reasons, to the sink.
func (s *validateStep) quarantine(ctx context.Context, in arrow.RecordBatch, fails [][]uint64, failing []uint64, failed int) error {
	bld := array.NewStringBuilder(s.mem)
	defer bld.Release()
	bld.Reserve(failed)
	var reason []byte
	for w, x := range failing {
		for x != 0 {
			i := w*64 + bits.TrailingZeros64(x)
			x &= x - 1
			reason = reason[:0]
			for k, e := range s.exps {
				if fails[k][w]&(1<<(i%64)) != 0 {
					if len(reason) > 0 {
						reason = append(reason, "; "...)
					}
					reason = append(reason, e.exp.name...)
				}
			}
			bld.BinaryBuilder.Append(reason)
		}
	}
	reasons := bld.NewArray()
	defer reasons.Release()
	q, err := takeRows(ctx, s.mem, s.qschema, in, failing, []arrow.Array{reasons})
	if err != nil {
		return err
	}
	defer q.Release()
	if err := s.sink.Write(ctx, q); err != nil {
		return fmt.Errorf("write quarantine: %w", err)
	}
	return nil
}

// checkUnique runs the Unique expectations, in row order, over the rows
// that passed the others, and records the values of the rows that pass.
func (s *validateStep) checkUnique(in arrow.RecordBatch, n int, fails [][]uint64, failing []uint64) {
	type col struct {
		k   int
		arr arrow.Array
		r   *uniqueCol
	}
	var cols []col
	for k, e := range s.exps {
		if e.uniq != nil {
			arr := in.Column(e.col)
			cols = append(cols, col{k, arr, e.uniq.reader(arr)})
		}
	}
	for i := range n {
		w, bit := i/64, uint64(1)<<(i%64)
		if failing[w]&bit != 0 {
			continue
		}
		dup := false
		for _, c := range cols {
			if c.arr.IsNull(i) {
				continue
			}
			if c.r.seen(i) {
				fails[c.k][w] |= bit
				dup = true
			}
		}
		if dup {
			failing[w] |= bit
			continue
		}
		for _, c := range cols {
			if !c.arr.IsNull(i) {
				c.r.add(i)
			}
		}
	}
}

func firstBit(w []uint64) int {
	for i, x := range w {
		if x != 0 {
			return i*64 + bits.TrailingZeros64(x)
		}
	}
	return -1
}

// ValidationError reports the first row that failed an expectation of a
// Validate stage whose OnFailure is Stop. It wraps ErrValidation.
type ValidationError struct {
	Expectation string // the expectation's name, as "in_range(delay, -60, 600)"
	Column      string // the column it checks
	Value       string // the value as text, cut to 64 bytes; "" when null
	Null        bool   // whether the value is null
	// Row is the row's 1-based position among the rows that reached the
	// stage during the run: its position in the input when no stage before
	// drops rows and the run is ordered.
	Row int64
}

func (e *ValidationError) Error() string {
	v := strconv.Quote(e.Value)
	if e.Null {
		v = "null"
	}
	return fmt.Sprintf("%v: row %d: column %q: value %s fails %s", ErrValidation, e.Row, e.Column, v, e.Expectation)
}

// Unwrap returns ErrValidation.
func (e *ValidationError) Unwrap() error { return ErrValidation }

// uniqueSet holds the values one Unique expectation has seen in a run:
// numbers, times and bools by their bits, everything else by its text.
type uniqueSet struct {
	text bool
	nums map[int64]struct{}
	strs map[string]struct{}
}

func newUniqueSet(dt arrow.DataType) (*uniqueSet, error) {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL, arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		return &uniqueSet{nums: map[int64]struct{}{}}, nil
	case arrow.NULL, arrow.LIST, arrow.LARGE_LIST, arrow.STRUCT, arrow.MAP, arrow.FIXED_SIZE_LIST,
		arrow.DENSE_UNION, arrow.SPARSE_UNION:
		return nil, fmt.Errorf("%w: unique does not support %s columns", ErrSchema, dt)
	}
	return &uniqueSet{text: true, strs: map[string]struct{}{}}, nil
}

// uniqueCol reads the keys of one batch's column for a uniqueSet.
type uniqueCol struct {
	u   *uniqueSet
	num func(i int) int64
	str func(i int) string
}

func (c *uniqueCol) seen(i int) bool {
	if c.u.text {
		_, ok := c.u.strs[c.str(i)]
		return ok
	}
	_, ok := c.u.nums[c.num(i)]
	return ok
}

func (c *uniqueCol) add(i int) {
	if c.u.text {
		c.u.strs[strings.Clone(c.str(i))] = struct{}{}
		return
	}
	c.u.nums[c.num(i)] = struct{}{}
}

func (u *uniqueSet) reader(arr arrow.Array) *uniqueCol {
	c := &uniqueCol{u: u}
	switch a := arr.(type) {
	case *array.Int8:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int16:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int32:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date32:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint8:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint16:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint32:
		c.num = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Boolean:
		c.num = func(i int) int64 { return int64(b2i(a.Value(i))) }
	case *array.Float64:
		c.num = func(i int) int64 { return floatKey(a.Value(i)) }
	case *array.Float32:
		c.num = func(i int) int64 { return floatKey(float64(a.Value(i))) }
	case *array.String:
		c.str = a.Value
	case *array.LargeString:
		c.str = a.Value
	default:
		if u.text {
			c.str = arr.ValueStr
		} else { // int64, uint64, timestamp, date64: 64-bit values
			v := arrow.GetValues[int64](arr.Data(), 1)
			c.num = func(i int) int64 { return v[i] }
		}
	}
	return c
}

// floatKey maps equal floats to equal keys: 0 and -0 together, every NaN
// together.
func floatKey(f float64) int64 {
	switch {
	case f == 0:
		return 0
	case f != f:
		return int64(math.Float64bits(math.NaN()))
	}
	return int64(math.Float64bits(f))
}
