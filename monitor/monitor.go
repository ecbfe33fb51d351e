package monitor

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ErrClosed is returned by a Monitor's methods after Close.
var ErrClosed = errors.New("monitor: closed")

// defaultMinRows is Options.MinRows when zero.
const defaultMinRows = 100

// maxShards bounds Options.Shards; defaultMaxShards bounds the default.
const (
	maxShards        = 64
	defaultMaxShards = 16
)

// Options configure a Monitor.
type Options struct {
	// Name labels the monitor's reports and metrics.
	Name string
	// Reference is the profile the windows are compared with (required).
	Reference *Profile
	// Columns are the monitored columns; nil: every column of Reference.
	Columns []string
	// Prediction optionally names the column holding the model's
	// prediction. Its drift (prediction drift) is reported in
	// Report.Prediction and does not count towards the dataset share. It
	// is monitored whether or not Columns names it.
	Prediction string
	// Window says which rows are evaluated together (zero: tumbling by
	// 10000 rows).
	Window Window
	// Drift chooses methods, thresholds and the dataset share, as for
	// Compare. Methods that need raw values (anderson, cvm, energy) are
	// refused.
	Drift DriftOptions
	// MinRows is the fewest rows a window needs to be evaluated (0: 100).
	MinRows int64
	// OnWindow is called with every evaluated window's report, in window
	// order, outside the monitor's locks (it may call the monitor).
	OnWindow func(*Report)
	// OnChange is called when a column's verdict or the dataset's verdict
	// changes (the first report compares with "no drift"), after OnWindow
	// and in the same order.
	OnChange func(Change)
	// Now is the clock (for tests); nil: time.Now. With a clock of its own
	// a time-window monitor closes panes only when called (Observe,
	// ObserveRow, Flush); with the real clock it also checks every quarter
	// of a step in a goroutine of its own, until Close.
	Now func() time.Time
	// Shards is the number of independent shards of window state that
	// concurrent Observe calls spread over (0: GOMAXPROCS, at most 16; at
	// most 64 when set).
	Shards int
}

// Change is a verdict that changed between two evaluated windows.
type Change struct {
	// Column is the column whose verdict changed; "" for the dataset.
	Column string
	// Drift is the new verdict.
	Drift bool
	// Report is the window's report.
	Report *Report
}

// MonitorStats are a Monitor's counters.
type MonitorStats struct {
	// Rows is the number of rows observed.
	Rows int64 `json:"rows"`
	// Windows is the number of windows evaluated (Flush included).
	Windows int64 `json:"windows"`
	// Nulls is the number of null values observed, all columns together.
	Nulls int64 `json:"nulls"`
	// StateBytes is the size of the window state of all columns.
	StateBytes int `json:"state_bytes"`
	// Columns holds the counters of each monitored column.
	Columns []ColumnStats `json:"columns"`
}

// ColumnStats are a monitored column's counters.
type ColumnStats struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Nulls and NonFinite count the null and the NaN or infinite values
	// observed.
	Nulls     int64 `json:"nulls"`
	NonFinite int64 `json:"non_finite"`
	// StateBytes is the size of the column's window state: its counts and
	// moments in every shard and every pane of the window, and the search
	// keys of a numeric column's bin edges. With 100 reference bins a
	// numeric column takes (shards + panes) × 480 + 1024 bytes: 2.4 KiB
	// for a tumbling window on 2 shards, 13.2 KiB for 16 shards and a
	// 10-pane sliding window.
	StateBytes int `json:"state_bytes"`
}

// Value is one column's value in a row given to Monitor.ObserveRow; build
// it with Num, Cat or Null.
type Value struct {
	col  int
	kind uint8 // valNum, valCat, valNull
	x    float64
	s    string
}

const (
	valNum uint8 = iota + 1
	valCat
	valNull
)

// Num is the number x in the monitored column col (Monitor.Index). In a
// categorical column it stands for its decimal text
// (strconv.FormatFloat(x, 'g', -1, 64), so 3 is "3").
func Num(col int, x float64) Value { return Value{col: col, kind: valNum, x: x} }

// Cat is the category s in the categorical column col (Monitor.Index).
func Cat(col int, s string) Value { return Value{col: col, kind: valCat, s: s} }

// Null is a null in column col (Monitor.Index). Columns a row leaves out
// count as null too.
func Null(col int) Value { return Value{col: col, kind: valNull} }

// colState is one column's window state in a shard or a pane: counts per
// reference bin (numeric) or per reference Top category plus "other"
// (categorical), and the moments of the finite values.
type colState struct {
	counts              []uint32
	n, nulls, nonFinite int64
	mean, m2            float64
	min, max            float64
	// lowSum and highSum sum the values in the first and the last bin
	// (numeric), for the tails' means.
	lowSum, highSum float64
}

// colStateFixed is the size of colState without its counts.
const colStateFixed = 24 + 3*8 + 6*8

func (s *colState) reset() {
	clear(s.counts)
	s.n, s.nulls, s.nonFinite = 0, 0, 0
	s.mean, s.m2 = 0, 0
	s.min, s.max = math.Inf(1), math.Inf(-1)
	s.lowSum, s.highSum = 0, 0
}

// merge adds o's values to s (Chan et al.'s pairwise update of the mean
// and the sum of squared deviations).
func (s *colState) merge(o *colState) {
	for i, c := range o.counts {
		s.counts[i] += c
	}
	s.nulls += o.nulls
	s.nonFinite += o.nonFinite
	s.lowSum += o.lowSum
	s.highSum += o.highSum
	s.moments(o.n, o.mean, o.m2, o.min, o.max)
}

// moments adds n finite values of mean mean, squared deviations m2 and
// range [lo, hi].
func (s *colState) moments(n int64, mean, m2, lo, hi float64) {
	if n == 0 {
		return
	}
	if s.n == 0 {
		s.n, s.mean, s.m2, s.min, s.max = n, mean, m2, lo, hi
		return
	}
	t := s.n + n
	d := mean - s.mean
	s.mean += d * float64(n) / float64(t)
	s.m2 += m2 + d*d*float64(s.n)*float64(n)/float64(t)
	s.n = t
	s.min = min(s.min, lo)
	s.max = max(s.max, hi)
}

// add adds one finite value (Welford's update).
func (s *colState) add(x float64) {
	s.n++
	d := x - s.mean
	s.mean += d / float64(s.n)
	s.m2 += d * (x - s.mean)
	if x < s.min {
		s.min = x
	}
	if x > s.max {
		s.max = x
	}
}

// colInfo is what the monitor knows of a monitored column.
type colInfo struct {
	name      string
	ref       *ColumnProfile
	kind      Kind
	method    Method
	threshold float64
	pred      bool
	// Numeric: the reference's inner edges as floatKey keys, padded with
	// MaxUint64 to a power of two, and half that length (the first step of
	// the search).
	edges []uint64
	half  int
	nbins int
	last  int // the last bin's index
	// Categorical: the index of each Top value; len(ref.Top) is "other".
	cat   map[string]int32
	other int32
}

// bin returns #{i : Edges[i] <= x} for a finite x (the ColumnProfile.Bin
// rule) by a branch-free binary search over the padded edges.
func (c *colInfo) bin(x float64) int {
	e := c.edges
	k := floatKey(x)
	if len(e) == 128 {
		return search128((*[128]uint64)(e), k)
	}
	pos := 0
	for step := c.half; step > 0; step >>= 1 {
		_, lt := bits.Sub64(k, e[pos+step-1], 0) // 1 when k < edge
		pos += step & int(lt-1)
	}
	return pos
}

// search128 is the search of colInfo.bin over 128 padded edges, unrolled
// and free of bounds checks.
func search128(e *[128]uint64, k uint64) int {
	_, lt := bits.Sub64(k, e[63], 0)
	pos := 64 & int(lt-1)
	_, lt = bits.Sub64(k, e[(pos+31)&127], 0)
	pos += 32 & int(lt-1)
	_, lt = bits.Sub64(k, e[(pos+15)&127], 0)
	pos += 16 & int(lt-1)
	_, lt = bits.Sub64(k, e[(pos+7)&127], 0)
	pos += 8 & int(lt-1)
	_, lt = bits.Sub64(k, e[(pos+3)&127], 0)
	pos += 4 & int(lt-1)
	_, lt = bits.Sub64(k, e[(pos+1)&127], 0)
	pos += 2 & int(lt-1)
	_, lt = bits.Sub64(k, e[pos&127], 0)
	pos += 1 & int(lt-1)
	return pos
}

// search128x4 is search128 of four keys, interleaved.
func search128x4(e *[128]uint64, k0, k1, k2, k3 uint64) (p0, p1, p2, p3 int) {
	for step := 64; step > 0; step >>= 1 {
		_, l0 := bits.Sub64(k0, e[(p0+step-1)&127], 0)
		_, l1 := bits.Sub64(k1, e[(p1+step-1)&127], 0)
		_, l2 := bits.Sub64(k2, e[(p2+step-1)&127], 0)
		_, l3 := bits.Sub64(k3, e[(p3+step-1)&127], 0)
		p0 += step & int(l0-1)
		p1 += step & int(l1-1)
		p2 += step & int(l2-1)
		p3 += step & int(l3-1)
	}
	return
}

// floatKey maps a float64 to a uint64 of the same order (for numbers other
// than NaN; −0 and 0 map to the same key), so that the search compares
// integers without branches (the borrow of a subtraction).
func floatKey(x float64) uint64 {
	k := math.Float64bits(x + 0) // x + 0 turns −0 into 0
	return k ^ (uint64(int64(k)>>63) | 1<<63)
}

// catIndex returns the count index of category s.
func (c *colInfo) catIndex(s string) int32 {
	if i, ok := c.cat[s]; ok {
		return i
	}
	return c.other
}

// shard is a part of the current pane's state, locked by one Observe at a
// time.
type shard struct {
	mu    sync.Mutex
	rows  int64
	cols  []colState
	seen  []uint32 // ObserveRow: epoch of the last row giving the column
	epoch uint32
	buf   []byte  // decimal text of numbers in categorical columns
	dict  []int32 // dictionary index → count index, per batch
	_     [64]byte
}

// pane is a closed pane of the window.
type pane struct {
	rows       int64
	start, end time.Time
	cols       []colState
}

// colMap maps a schema's fields to monitored columns.
type colMap struct {
	schema *arrow.Schema
	idx    []int // per monitored column: its field index
}

// Monitor compares windows of a stream of rows with a reference profile:
// data drift per column, dataset drift, and prediction drift.
//
// Observe and ObserveRow may be called from many goroutines at once: each
// call locks one of Options.Shards shards of the window state (no lock is
// global), and the call that fills a pane closes it (locking every shard
// briefly), evaluates the window when due and calls the callbacks outside
// every lock. A numeric column's state is a 32-bit count per reference bin
// (binary search over the reference's bin edges, ColumnProfile.Bin) plus
// the count, nulls, non-finite values, mean, sum of squared deviations,
// minimum and maximum of its finite values; a categorical column's is a
// count per reference Top category plus one for the others. Each shard and
// each pane of the window holds one such state per column.
type Monitor struct {
	opts     Options
	ref      *Profile
	cols     []colInfo
	byName   map[string]int
	predIdx  int
	paneLen  int64 // rows, or nanoseconds (time windows)
	panes    int
	timeWin  bool
	minRows  int64
	now      func() time.Time
	shards   []*shard
	rr       atomic.Uint32
	pending  atomic.Int64 // rows in the shards (count windows)
	total    atomic.Int64
	paneEnd  atomic.Int64 // unix nanoseconds (time windows)
	colMap   atomic.Pointer[colMap]
	closed   atomic.Bool
	stop     chan struct{}
	stopOnce sync.Once
	ticker   sync.WaitGroup

	rotMu     sync.Mutex // closing panes and taking snapshots
	ring      ring[pane]
	paneStart time.Time
	seq       uint64
	closedN   []colState // nulls and non-finite of closed panes (counts unused)

	dmu        sync.Mutex // delivery of reports, in order
	nextSeq    uint64
	waiting    map[uint64]*Report
	delivering bool
	prevDrift  []bool // per column, then the dataset
	windows    atomic.Int64
	last       atomic.Pointer[Report]
}

// New returns a Monitor of opts.Reference's columns.
func New(opts Options) (*Monitor, error) {
	if opts.Reference == nil {
		return nil, inputErr("monitor: Options.Reference is nil")
	}
	paneLen, panes, err := opts.Window.resolve()
	if err != nil {
		return nil, err
	}
	m := &Monitor{
		opts: opts, ref: opts.Reference, byName: map[string]int{}, predIdx: -1,
		paneLen: paneLen, panes: panes, timeWin: opts.Window.IsTime(),
		minRows: opts.MinRows, now: opts.Now, waiting: map[uint64]*Report{},
		stop: make(chan struct{}),
	}
	if m.minRows <= 0 {
		m.minRows = defaultMinRows
	}
	if m.now == nil {
		m.now = time.Now
	}
	names := opts.Columns
	if names == nil {
		for _, c := range opts.Reference.Columns {
			names = append(names, c.Name)
		}
	}
	if opts.Prediction != "" {
		found := false
		for _, n := range names {
			found = found || n == opts.Prediction
		}
		if !found {
			names = append(append([]string(nil), names...), opts.Prediction)
		}
	}
	if len(names) == 0 {
		return nil, inputErr("monitor: no columns to monitor")
	}
	for _, n := range names {
		if _, dup := m.byName[n]; dup {
			return nil, inputErr("monitor: column %q named twice", n)
		}
		ref := opts.Reference.Column(n)
		if ref == nil {
			return nil, inputErr("monitor: column %q is not in the reference profile", n)
		}
		meth, thr, err := methodFor(ref, opts.Drift)
		if err != nil {
			return nil, err
		}
		c := colInfo{name: n, ref: ref, kind: ref.Kind, method: meth, threshold: thr, pred: n == opts.Prediction}
		switch ref.Kind {
		case Numeric:
			c.nbins = len(ref.Counts)
			if len(ref.Edges) == 0 && len(ref.Counts) == 0 {
				c.nbins = 1 // an empty reference column: one bin
			} else if len(ref.Counts) != len(ref.Edges)+1 {
				return nil, inputErr("monitor: reference column %q has %d edges and %d counts (want counts = edges+1)", n, len(ref.Edges), len(ref.Counts))
			}
			// A power of two above the number of edges (the search finds at
			// most size−1 of them <= x); at least 128, for search128.
			size := max(128, 1<<bits.Len(uint(len(ref.Edges))))
			c.edges = make([]uint64, size)
			for i := range c.edges {
				c.edges[i] = math.MaxUint64
				if i < len(ref.Edges) {
					c.edges[i] = floatKey(ref.Edges[i])
				}
			}
			c.half = size / 2
			c.last = len(ref.Edges)
		case Categorical:
			c.cat = make(map[string]int32, len(ref.Top))
			for i, f := range ref.Top {
				c.cat[f.Value] = int32(i)
			}
			c.other = int32(len(ref.Top))
		default:
			return nil, inputErr("monitor: reference column %q has unknown kind %v", n, ref.Kind)
		}
		if c.pred {
			m.predIdx = len(m.cols)
		}
		m.byName[n] = len(m.cols)
		m.cols = append(m.cols, c)
	}
	ns := opts.Shards
	switch {
	case ns < 0 || ns > maxShards:
		return nil, inputErr("monitor: Shards %d out of range [0, %d]", ns, maxShards)
	case ns == 0:
		ns = min(runtime.GOMAXPROCS(0), defaultMaxShards)
	}
	m.shards = make([]*shard, ns)
	for i := range m.shards {
		m.shards[i] = &shard{cols: m.newState(), seen: make([]uint32, len(m.cols))}
	}
	m.ring.panes = make([]pane, panes)
	for i := range m.ring.panes {
		m.ring.panes[i].cols = m.newState()
	}
	m.closedN = make([]colState, len(m.cols))
	m.prevDrift = make([]bool, len(m.cols)+1)
	start := m.now()
	m.paneStart = start
	if m.timeWin {
		m.paneEnd.Store(start.UnixNano() + paneLen)
		if opts.Now == nil {
			every := time.Duration(paneLen / 4)
			every = max(every, time.Millisecond)
			m.ticker.Add(1)
			go m.tickLoop(every)
		}
	}
	return m, nil
}

// newState returns an empty state for every column.
func (m *Monitor) newState() []colState {
	s := make([]colState, len(m.cols))
	for i, c := range m.cols {
		if c.kind == Numeric {
			s[i].counts = make([]uint32, c.nbins)
		} else {
			s[i].counts = make([]uint32, len(c.ref.Top)+1)
		}
		s[i].reset()
	}
	return s
}

func (m *Monitor) tickLoop(every time.Duration) {
	defer m.ticker.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.tick(m.now())
		}
	}
}

// Index returns the index of a monitored column for Num, Cat and Null, or
// -1 when column is not monitored.
func (m *Monitor) Index(column string) int {
	if i, ok := m.byName[column]; ok {
		return i
	}
	return -1
}

// Columns returns the monitored columns' names, in Index order.
func (m *Monitor) Columns() []string {
	out := make([]string, len(m.cols))
	for i, c := range m.cols {
		out[i] = c.name
	}
	return out
}

// Name returns Options.Name.
func (m *Monitor) Name() string { return m.opts.Name }

// lockShard locks a shard, preferring one that is free, and returns it.
func (m *Monitor) lockShard() *shard {
	n := uint32(len(m.shards))
	h := m.rr.Add(1)
	for i := uint32(0); i < n; i++ {
		s := m.shards[(h+i)%n]
		if s.mu.TryLock() {
			return s
		}
	}
	s := m.shards[h%n]
	s.mu.Lock()
	return s
}

// mapping returns the field index of every monitored column in schema.
func (m *Monitor) mapping(schema *arrow.Schema) ([]int, error) {
	if cm := m.colMap.Load(); cm != nil && cm.schema == schema {
		return cm.idx, nil
	}
	idx := make([]int, len(m.cols))
	var missing []string
	for i, c := range m.cols {
		f := schema.FieldIndices(c.name)
		if len(f) == 0 {
			missing = append(missing, c.name)
			continue
		}
		idx[i] = f[0]
	}
	if len(missing) > 0 {
		return nil, inputErr("monitor: batch lacks monitored column(s) %q", missing)
	}
	m.colMap.Store(&colMap{schema: schema, idx: idx})
	return idx, nil
}

// checkType returns an error when arr cannot feed column c.
func checkType(c *colInfo, arr arrow.Array) error {
	dt := arr.DataType()
	if isNumericType(dt.ID()) {
		return nil
	}
	if c.kind == Categorical {
		switch dt.ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.BOOL:
			return nil
		case arrow.DICTIONARY:
			vt := dt.(*arrow.DictionaryType).ValueType.ID()
			if vt == arrow.STRING || vt == arrow.LARGE_STRING {
				return nil
			}
		}
	}
	return inputErr("monitor: column %q (%s) has Arrow type %s, which a %s column cannot take", c.name, c.kind, dt, c.kind)
}

func isNumericType(id arrow.Type) bool {
	switch id {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// Observe adds a batch's rows to the current window. Monitored columns are
// found by name (each must be present; other columns are ignored). Numeric
// columns take integer and floating-point arrays; categorical columns take
// strings, large strings, booleans ("true", "false"), dictionaries of
// strings, and numbers (as their decimal text). The batch is not retained.
func (m *Monitor) Observe(batch arrow.RecordBatch) error {
	if m.closed.Load() {
		return ErrClosed
	}
	rows := batch.NumRows()
	if rows == 0 {
		return nil
	}
	idx, err := m.mapping(batch.Schema())
	if err != nil {
		return err
	}
	for i := range m.cols {
		if err := checkType(&m.cols[i], batch.Column(idx[i])); err != nil {
			return err
		}
	}
	if m.timeWin {
		m.tick(m.now())
	}
	s := m.lockShard()
	for i := range m.cols {
		c := &m.cols[i]
		arr := batch.Column(idx[i])
		if c.kind == Numeric {
			addNumeric(c, &s.cols[i], arr)
		} else {
			addCategorical(c, &s.cols[i], s, arr)
		}
	}
	s.rows += rows
	p := m.pending.Add(rows)
	s.mu.Unlock()
	m.total.Add(rows)
	if !m.timeWin && p >= m.paneLen {
		m.rotateCount()
	}
	return nil
}

// tails adds x to the sum of the first bin's values when it fell in bin
// p = 0, to the last bin's when p = last.
func tails(p, last int, x, low, high float64) (float64, float64) {
	if p == 0 {
		low += x
	} else if p == last {
		high += x
	}
	return low, high
}

// addNumeric adds a numeric array to a column's state.
func addNumeric(c *colInfo, s *colState, arr arrow.Array) {
	switch a := arr.(type) {
	case *array.Float64:
		addNum(c, s, a.Float64Values(), a)
	case *array.Float32:
		addNum(c, s, a.Float32Values(), a)
	case *array.Int64:
		addNum(c, s, a.Int64Values(), a)
	case *array.Int32:
		addNum(c, s, a.Int32Values(), a)
	case *array.Int16:
		addNum(c, s, a.Int16Values(), a)
	case *array.Int8:
		addNum(c, s, a.Int8Values(), a)
	case *array.Uint64:
		addNum(c, s, a.Uint64Values(), a)
	case *array.Uint32:
		addNum(c, s, a.Uint32Values(), a)
	case *array.Uint16:
		addNum(c, s, a.Uint16Values(), a)
	case *array.Uint8:
		addNum(c, s, a.Uint8Values(), a)
	}
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// addNum is the hot loop: per value a null-bitmap test (only when the
// array has nulls), a finiteness test, a branch-free binary search over the
// padded edges and the moments of the batch, shifted by its first finite
// value; the batch's moments are then merged into s.
func addNum[T number](c *colInfo, s *colState, vals []T, arr arrow.Array) {
	var (
		nonFinite int64
		shift     float64
		sum, sq   float64
		lowS      float64 // values in the first bin
		highS     float64 // values in the last bin
		lo, hi    = math.Inf(1), math.Inf(-1)
		started   bool
	)
	counts := s.counts
	e := c.edges
	half := c.half
	var e128 *[128]uint64
	if len(e) == 128 {
		e128 = (*[128]uint64)(e)
	}
	nulls := arr.NullN()
	if nulls == 0 && e128 != nil {
		// The common case, four values at a time: four independent
		// searches interleaved level by level keep the CPU busy while each
		// waits for its loads.
		for _, v := range vals {
			if x := float64(v); x-x == 0 {
				shift, started = x, true
				break
			}
		}
		n4 := len(vals) &^ 3
		for i := 0; i < n4; i += 4 {
			x0, x1, x2, x3 := float64(vals[i]), float64(vals[i+1]), float64(vals[i+2]), float64(vals[i+3])
			if (x0-x0)+(x1-x1)+(x2-x2)+(x3-x3) != 0 {
				// A NaN or an infinity among them: one at a time.
				for _, x := range [4]float64{x0, x1, x2, x3} {
					if x-x != 0 {
						nonFinite++
						continue
					}
					p := search128(e128, floatKey(x))
					counts[p]++
					lowS, highS = tails(p, c.last, x, lowS, highS)
					d := x - shift
					sum += d
					sq += d * d
					lo, hi = min(lo, x), max(hi, x)
				}
				continue
			}
			p0, p1, p2, p3 := search128x4(e128, floatKey(x0), floatKey(x1), floatKey(x2), floatKey(x3))
			counts[p0]++
			counts[p1]++
			counts[p2]++
			counts[p3]++
			if min(p0, p1, p2, p3) == 0 || max(p0, p1, p2, p3) == c.last {
				lowS, highS = tails(p0, c.last, x0, lowS, highS)
				lowS, highS = tails(p1, c.last, x1, lowS, highS)
				lowS, highS = tails(p2, c.last, x2, lowS, highS)
				lowS, highS = tails(p3, c.last, x3, lowS, highS)
			}
			d0, d1, d2, d3 := x0-shift, x1-shift, x2-shift, x3-shift
			sum += (d0 + d1) + (d2 + d3)
			sq += (d0*d0 + d1*d1) + (d2*d2 + d3*d3)
			l, h := x0, x0
			if x1 < l {
				l = x1
			}
			if x1 > h {
				h = x1
			}
			if x2 < l {
				l = x2
			}
			if x2 > h {
				h = x2
			}
			if x3 < l {
				l = x3
			}
			if x3 > h {
				h = x3
			}
			if l < lo {
				lo = l
			}
			if h > hi {
				hi = h
			}
		}
		for _, v := range vals[n4:] {
			x := float64(v)
			if x-x != 0 {
				nonFinite++
				continue
			}
			p := search128(e128, floatKey(x))
			counts[p]++
			lowS, highS = tails(p, c.last, x, lowS, highS)
			d := x - shift
			sum += d
			sq += d * d
			lo, hi = min(lo, x), max(hi, x)
		}
	} else if nulls == 0 {
		for _, v := range vals {
			x := float64(v)
			if x-x != 0 {
				nonFinite++
				continue
			}
			if !started {
				shift, started = x, true
			}
			k := floatKey(x)
			var pos int
			if e128 != nil {
				pos = search128(e128, k)
			} else {
				for step := half; step > 0; step >>= 1 {
					_, lt := bits.Sub64(k, e[pos+step-1], 0)
					pos += step & int(lt-1)
				}
			}
			counts[pos]++
			lowS, highS = tails(pos, c.last, x, lowS, highS)
			d := x - shift
			sum += d
			sq += d * d
			if x < lo {
				lo = x
			}
			if x > hi {
				hi = x
			}
		}
	} else {
		bm := arr.NullBitmapBytes()
		off := arr.Data().Offset()
		for i, v := range vals {
			j := off + i
			if bm[j>>3]&(1<<(j&7)) == 0 {
				continue
			}
			x := float64(v)
			if x-x != 0 {
				nonFinite++
				continue
			}
			if !started {
				shift, started = x, true
			}
			k := floatKey(x)
			var pos int
			if e128 != nil {
				pos = search128(e128, k)
			} else {
				for step := half; step > 0; step >>= 1 {
					_, lt := bits.Sub64(k, e[pos+step-1], 0)
					pos += step & int(lt-1)
				}
			}
			counts[pos]++
			lowS, highS = tails(pos, c.last, x, lowS, highS)
			d := x - shift
			sum += d
			sq += d * d
			if x < lo {
				lo = x
			}
			if x > hi {
				hi = x
			}
		}
	}
	n := int64(len(vals)) - int64(nulls) - nonFinite
	s.nulls += int64(nulls)
	s.nonFinite += nonFinite
	s.lowSum += lowS
	s.highSum += highS
	if n > 0 {
		fn := float64(n)
		mean := sum / fn
		m2 := max(sq-sum*mean, 0)
		s.moments(n, shift+mean, m2, lo, hi)
	}
}

// addCategorical adds an array to a categorical column's state.
func addCategorical(c *colInfo, st *colState, sh *shard, arr arrow.Array) {
	counts := st.counts
	nulls := arr.NullN()
	var n int64
	switch a := arr.(type) {
	case *array.String:
		for i := 0; i < a.Len(); i++ {
			if nulls > 0 && a.IsNull(i) {
				continue
			}
			counts[c.catIndex(a.Value(i))]++
			n++
		}
	case *array.LargeString:
		for i := 0; i < a.Len(); i++ {
			if nulls > 0 && a.IsNull(i) {
				continue
			}
			counts[c.catIndex(a.Value(i))]++
			n++
		}
	case *array.Boolean:
		t, f := c.catIndex("true"), c.catIndex("false")
		for i := 0; i < a.Len(); i++ {
			if nulls > 0 && a.IsNull(i) {
				continue
			}
			if a.Value(i) {
				counts[t]++
			} else {
				counts[f]++
			}
			n++
		}
	case *array.Dictionary:
		d := a.Dictionary()
		sh.dict = sh.dict[:0]
		for k := 0; k < d.Len(); k++ {
			ci := c.other
			switch dv := d.(type) {
			case *array.String:
				ci = c.catIndex(dv.Value(k))
			case *array.LargeString:
				ci = c.catIndex(dv.Value(k))
			}
			sh.dict = append(sh.dict, ci)
		}
		for i := 0; i < a.Len(); i++ {
			if nulls > 0 && a.IsNull(i) {
				continue
			}
			counts[sh.dict[a.GetValueIndex(i)]]++
			n++
		}
	default:
		// Numbers as categories: their decimal text.
		for i := 0; i < arr.Len(); i++ {
			if nulls > 0 && arr.IsNull(i) {
				continue
			}
			sh.buf = appendNumText(sh.buf[:0], arr, i)
			counts[c.catIndex(string(sh.buf))]++
			n++
		}
	}
	st.nulls += int64(nulls)
	st.n += n
}

// appendNumText appends the decimal text of a number array's value i:
// strconv.AppendInt/AppendUint for integers, AppendFloat(x, 'g', -1, bits)
// for floats.
func appendNumText(b []byte, arr arrow.Array, i int) []byte {
	switch a := arr.(type) {
	case *array.Int64:
		return strconv.AppendInt(b, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.AppendInt(b, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(b, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.AppendUint(b, uint64(a.Value(i)), 10)
	case *array.Float64:
		return strconv.AppendFloat(b, a.Value(i), 'g', -1, 64)
	case *array.Float32:
		return strconv.AppendFloat(b, float64(a.Value(i)), 'g', -1, 32)
	}
	return b
}

// ObserveRow adds one row to the current window: values for some monitored
// columns (by Index), the others counting as null. Numbers given to a
// categorical column stand for their decimal text; a category given to a
// numeric column, a column index out of range or a column given twice is
// an error and the row is not added.
func (m *Monitor) ObserveRow(values ...Value) error {
	if m.closed.Load() {
		return ErrClosed
	}
	for _, v := range values {
		if v.col < 0 || v.col >= len(m.cols) {
			return inputErr("monitor: ObserveRow: column index %d out of range [0, %d)", v.col, len(m.cols))
		}
		if v.kind == valCat && m.cols[v.col].kind == Numeric {
			return inputErr("monitor: ObserveRow: category %q given to numeric column %q", v.s, m.cols[v.col].name)
		}
		if v.kind < valNum || v.kind > valNull {
			return inputErr("monitor: ObserveRow: value for column %d not made by Num, Cat or Null", v.col)
		}
	}
	if m.timeWin {
		m.tick(m.now())
	}
	s := m.lockShard()
	s.epoch++
	if s.epoch == 0 {
		clear(s.seen)
		s.epoch = 1
	}
	for _, v := range values {
		if s.seen[v.col] == s.epoch {
			s.mu.Unlock()
			return inputErr("monitor: ObserveRow: column %q given twice", m.cols[v.col].name)
		}
		s.seen[v.col] = s.epoch
	}
	for _, v := range values {
		c := &m.cols[v.col]
		st := &s.cols[v.col]
		switch {
		case v.kind == valNull:
			st.nulls++
		case c.kind == Numeric:
			if v.x-v.x != 0 {
				st.nonFinite++
				continue
			}
			p := c.bin(v.x)
			st.counts[p]++
			st.lowSum, st.highSum = tails(p, c.last, v.x, st.lowSum, st.highSum)
			st.add(v.x)
		case v.kind == valCat:
			st.counts[c.catIndex(v.s)]++
			st.n++
		default:
			s.buf = strconv.AppendFloat(s.buf[:0], v.x, 'g', -1, 64)
			st.counts[c.catIndex(string(s.buf))]++
			st.n++
		}
	}
	for i := range m.cols {
		if s.seen[i] != s.epoch {
			s.cols[i].nulls++
		}
	}
	s.rows++
	p := m.pending.Add(1)
	s.mu.Unlock()
	m.total.Add(1)
	if !m.timeWin && p >= m.paneLen {
		m.rotateCount()
	}
	return nil
}

// job is a window to evaluate: its merged state, taken under rotMu.
type job struct {
	seq        uint64
	rows       int64
	start, end time.Time
	cols       []colState
}

// closePane moves the shards' state into the ring as a pane ending at end
// and returns its row count; the caller holds rotMu. With force false it
// closes only a full count pane.
func (m *Monitor) closePane(end time.Time, force bool) bool {
	for _, s := range m.shards {
		s.mu.Lock()
	}
	var rows int64
	for _, s := range m.shards {
		rows += s.rows
	}
	if !force && rows < m.paneLen {
		for _, s := range m.shards {
			s.mu.Unlock()
		}
		return false
	}
	p := m.ring.push()
	p.rows, p.start, p.end = rows, m.paneStart, end
	for i := range p.cols {
		p.cols[i].reset()
	}
	for _, s := range m.shards {
		for i := range s.cols {
			p.cols[i].merge(&s.cols[i])
			s.cols[i].reset()
		}
		s.rows = 0
	}
	m.pending.Add(-rows)
	for _, s := range m.shards {
		s.mu.Unlock()
	}
	for i := range p.cols {
		m.closedN[i].nulls += p.cols[i].nulls
		m.closedN[i].nonFinite += p.cols[i].nonFinite
	}
	m.paneStart = end
	return true
}

// due returns the window ending with the pane just closed when it is due
// for evaluation (the window is full and has MinRows rows); the caller
// holds rotMu.
func (m *Monitor) due() *job {
	if m.ring.filled() < m.panes {
		return nil
	}
	j := &job{cols: m.newState()}
	first := true
	m.ring.each(func(p *pane) {
		if first {
			j.start, first = p.start, false
		}
		j.end = p.end
		j.rows += p.rows
		for i := range j.cols {
			j.cols[i].merge(&p.cols[i])
		}
	})
	if j.rows < m.minRows {
		return nil
	}
	j.seq = m.seq
	m.seq++
	return j
}

// rotateCount closes the current count pane if it is full and evaluates
// the window when due.
func (m *Monitor) rotateCount() {
	m.rotMu.Lock()
	if m.pending.Load() < m.paneLen || !m.closePane(m.now(), false) {
		m.rotMu.Unlock()
		return
	}
	j := m.due()
	m.rotMu.Unlock()
	if j != nil {
		m.deliver(j.seq, m.evaluate(j))
	}
}

// tick closes the time panes that ended at or before now and evaluates
// the windows that are due.
func (m *Monitor) tick(now time.Time) {
	if !m.timeWin || now.UnixNano() < m.paneEnd.Load() {
		return
	}
	m.rotMu.Lock()
	var jobs []*job
	for i := 0; now.UnixNano() >= m.paneEnd.Load(); i++ {
		end := m.paneEnd.Load()
		if i > m.panes {
			// Every pane of the window is empty by now: skip ahead.
			k := (now.UnixNano() - end) / m.paneLen
			end += k * m.paneLen
			m.paneStart = time.Unix(0, end-m.paneLen)
		}
		m.closePane(time.Unix(0, end), true)
		if j := m.due(); j != nil {
			jobs = append(jobs, j)
		}
		m.paneEnd.Store(end + m.paneLen)
	}
	m.rotMu.Unlock()
	for _, j := range jobs {
		m.deliver(j.seq, m.evaluate(j))
	}
}

// Flush evaluates the current window now: the closed panes that belong to
// it (all but the oldest of a sliding window's panes) and the rows of the
// open pane, which stays open. It returns nil when the window has fewer
// than MinRows rows or the monitor is closed; otherwise the report also
// goes to the callbacks and Last, in order.
func (m *Monitor) Flush() *Report {
	if m.closed.Load() {
		return nil
	}
	now := m.now()
	m.tick(now)
	m.rotMu.Lock()
	j := &job{cols: m.newState(), start: m.paneStart, end: now}
	skip := 0
	if m.ring.filled() == m.panes {
		skip = 1
	}
	first := true
	m.ring.each(func(p *pane) {
		if skip > 0 {
			skip--
			return
		}
		if first {
			j.start, first = p.start, false
		}
		j.rows += p.rows
		for i := range j.cols {
			j.cols[i].merge(&p.cols[i])
		}
	})
	for _, s := range m.shards {
		s.mu.Lock()
		j.rows += s.rows
		for i := range j.cols {
			j.cols[i].merge(&s.cols[i])
		}
		s.mu.Unlock()
	}
	if j.rows < m.minRows {
		m.rotMu.Unlock()
		return nil
	}
	j.seq = m.seq
	m.seq++
	m.rotMu.Unlock()
	r := m.evaluate(j)
	m.deliver(j.seq, r)
	return r
}

// evaluate compares a window with the reference.
func (m *Monitor) evaluate(j *job) *Report {
	cols := make([]ColumnDrift, 0, len(m.cols))
	var pred *ColumnDrift
	for i := range m.cols {
		c := &m.cols[i]
		st := &j.cols[i]
		var d ColumnDrift
		counts := make([]float64, len(st.counts))
		for k, v := range st.counts {
			counts[k] = float64(v)
		}
		if c.kind == Numeric {
			b := binnedNumeric{
				Counts: counts, Count: st.n, Nulls: st.nulls, NonFinite: st.nonFinite,
				Min: st.min, Max: st.max, Mean: st.mean, M2: st.m2,
				LowSum: st.lowSum, HighSum: st.highSum,
			}
			if st.n == 0 {
				b.Min, b.Max = math.NaN(), math.NaN()
			}
			d = compareNumeric(c.ref, &b, 0, c.method, c.threshold, m.opts.Drift.Strict)
		} else {
			d = compareCategorical(c.ref, counts, c.method, c.threshold, m.opts.Drift.Strict)
		}
		if c.pred {
			pred = &d
		} else {
			cols = append(cols, d)
		}
	}
	r := summarize(cols, pred, m.opts.Drift)
	r.Name = m.opts.Name
	r.Start, r.End, r.Rows = j.start, j.end, j.rows
	return r
}

// deliver hands reports to Last and the callbacks in sequence order; the
// goroutine that finds no delivery under way delivers every report that
// is next in order, calling the callbacks without holding any lock.
func (m *Monitor) deliver(seq uint64, r *Report) {
	m.dmu.Lock()
	m.waiting[seq] = r
	if m.delivering {
		m.dmu.Unlock()
		return
	}
	m.delivering = true
	for {
		r, ok := m.waiting[m.nextSeq]
		if !ok {
			break
		}
		delete(m.waiting, m.nextSeq)
		m.nextSeq++
		m.windows.Add(1)
		m.last.Store(r)
		var changes []Change
		for i := range r.Columns {
			c := &r.Columns[i]
			k := m.byName[c.Column]
			if c.Drift != m.prevDrift[k] {
				m.prevDrift[k] = c.Drift
				changes = append(changes, Change{Column: c.Column, Drift: c.Drift, Report: r})
			}
		}
		if p := r.Prediction; p != nil {
			k := m.byName[p.Column]
			if p.Drift != m.prevDrift[k] {
				m.prevDrift[k] = p.Drift
				changes = append(changes, Change{Column: p.Column, Drift: p.Drift, Report: r})
			}
		}
		if d := len(m.cols); r.DatasetDrift != m.prevDrift[d] {
			m.prevDrift[d] = r.DatasetDrift
			changes = append(changes, Change{Column: "", Drift: r.DatasetDrift, Report: r})
		}
		m.dmu.Unlock()
		if m.opts.OnWindow != nil {
			m.opts.OnWindow(r)
		}
		if m.opts.OnChange != nil {
			for _, c := range changes {
				m.opts.OnChange(c)
			}
		}
		m.dmu.Lock()
	}
	m.delivering = false
	m.dmu.Unlock()
}

// Last returns the report of the last window delivered (nil before the
// first).
func (m *Monitor) Last() *Report { return m.last.Load() }

// StateBytes returns the bytes of window state of all monitored columns
// (see ColumnStats.StateBytes).
func (m *Monitor) StateBytes() int {
	n := 0
	for i := range m.cols {
		n += m.colBytes(i)
	}
	return n
}

// colBytes is column i's state size: one colState in every shard and every
// pane of the ring, and the search keys of the bin edges.
func (m *Monitor) colBytes(i int) int {
	per := colStateFixed + 4*len(m.shards[0].cols[i].counts)
	return per*(len(m.shards)+len(m.ring.panes)) + 8*len(m.cols[i].edges)
}

// Stats returns the monitor's counters.
func (m *Monitor) Stats() MonitorStats {
	st := MonitorStats{Rows: m.total.Load(), Windows: m.windows.Load(), Columns: make([]ColumnStats, len(m.cols))}
	m.rotMu.Lock()
	for i, c := range m.cols {
		cs := ColumnStats{Name: c.name, Kind: c.kind, Nulls: m.closedN[i].nulls, NonFinite: m.closedN[i].nonFinite, StateBytes: m.colBytes(i)}
		st.Columns[i] = cs
	}
	for _, s := range m.shards {
		s.mu.Lock()
		for i := range m.cols {
			st.Columns[i].Nulls += s.cols[i].nulls
			st.Columns[i].NonFinite += s.cols[i].nonFinite
		}
		s.mu.Unlock()
	}
	m.rotMu.Unlock()
	for _, c := range st.Columns {
		st.Nulls += c.Nulls
		st.StateBytes += c.StateBytes
	}
	return st
}

// Close stops the monitor's clock goroutine (time windows with the real
// clock); later Observe and ObserveRow calls return ErrClosed and Flush
// returns nil. Close does not evaluate the open window: call Flush first
// for that.
func (m *Monitor) Close() {
	m.closed.Store(true)
	m.stopOnce.Do(func() { close(m.stop) })
	m.ticker.Wait()
}

// String describes the monitor.
func (m *Monitor) String() string {
	return fmt.Sprintf("monitor %q: %d columns, %d shards, window %+v", m.opts.Name, len(m.cols), len(m.shards), m.opts.Window)
}
