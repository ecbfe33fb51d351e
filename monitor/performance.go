package monitor

import (
	"hash/maphash"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Task is the kind of model whose performance is monitored.
type Task int

const (
	// Classification models predict a class; predictions and labels are
	// class indices (or any numbers compared for equality).
	Classification Task = iota + 1
	// Regression models predict a number.
	Regression
)

// String returns "classification" or "regression".
func (t Task) String() string {
	switch t {
	case Classification:
		return "classification"
	case Regression:
		return "regression"
	}
	return "Task(" + itoa(int(t)) + ")"
}

// MarshalText writes the task's name.
func (t Task) MarshalText() ([]byte, error) {
	if t != Classification && t != Regression {
		return nil, inputErr("unknown task %d", int(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText reads "classification" or "regression".
func (t *Task) UnmarshalText(b []byte) error {
	switch string(b) {
	case "classification":
		*t = Classification
	case "regression":
		*t = Regression
	default:
		return inputErr("unknown task %q (want classification or regression)", b)
	}
	return nil
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// Defaults of PerformanceOptions.
const (
	defaultHorizon    = time.Hour
	defaultMaxPending = 1 << 20
)

// PerformanceOptions configure a Performance monitor.
type PerformanceOptions struct {
	// Name labels the reports and metrics.
	Name string
	// Task is Classification or Regression.
	Task Task
	// Horizon is how long after its prediction a label is accepted
	// (0: one hour). A label that arrives later is dropped and counted as
	// Expired (while the prediction is still remembered: up to twice the
	// horizon; after that the prediction is forgotten and the label is
	// treated as one without a prediction). A label that arrives before its
	// prediction waits up to Horizon for it, then is dropped and counted as
	// Unmatched.
	Horizon time.Duration
	// Window says which joined labels are evaluated together: count
	// windows count joined labels, time windows use the clock.
	Window Window
	// MaxPending bounds the predictions awaiting labels, and separately the
	// labels awaiting predictions (0: 1<<20 each). When full, the oldest is
	// evicted and counted as Evicted.
	MaxPending int
	// OnWindow is called with every evaluated window's report, in order,
	// outside the monitor's locks.
	OnWindow func(PerformanceReport)
	// Now is the clock (for tests); nil: time.Now. Time windows close their
	// panes on Predict, Label and Flush calls.
	Now func() time.Time
	// Shards is the number of independent shards ids are hashed over (0:
	// GOMAXPROCS, at most 16; at most 64 when set).
	Shards int
}

// PerformanceReport is a window's model performance: the predictions
// joined with their labels in the window.
type PerformanceReport struct {
	Name  string    `json:"name,omitempty"`
	Task  Task      `json:"task"`
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Joined is the number of labels joined with their prediction.
	Joined int64 `json:"joined"`
	// Expired counts labels that came later than the horizon after their
	// prediction; Unmatched, labels whose prediction did not come within
	// the horizon; Evicted, pending predictions and labels pushed out by
	// MaxPending.
	Expired   int64 `json:"expired"`
	Unmatched int64 `json:"unmatched"`
	Evicted   int64 `json:"evicted"`
	// Accuracy is the share of joined predictions equal to their label
	// (classification; 0 for regression or when Joined is 0).
	Accuracy float64 `json:"accuracy"`
	// RMSE is sqrt(Σ(prediction − label)²/Joined) and MAE
	// Σ|prediction − label|/Joined (regression; 0 for classification or when
	// Joined is 0).
	RMSE float64 `json:"rmse"`
	MAE  float64 `json:"mae"`
}

// PerformanceStats are a Performance monitor's counters since New.
type PerformanceStats struct {
	Predictions int64 `json:"predictions"`
	Labels      int64 `json:"labels"`
	Joined      int64 `json:"joined"`
	Expired     int64 `json:"expired"`
	Unmatched   int64 `json:"unmatched"`
	Evicted     int64 `json:"evicted"`
	// Unlabeled counts predictions forgotten without a label (twice the
	// horizon after they were made).
	Unlabeled int64 `json:"unlabeled"`
	// PendingPredictions and PendingLabels are awaiting their other half.
	PendingPredictions int   `json:"pending_predictions"`
	PendingLabels      int   `json:"pending_labels"`
	Windows            int64 `json:"windows"`
}

// perfPane accumulates a pane's joins.
type perfPane struct {
	joined, correct             int64
	sumSq, sumAbs               float64
	expired, unmatched, evicted int64
	start, end                  time.Time
}

func (p *perfPane) merge(o *perfPane) {
	p.joined += o.joined
	p.correct += o.correct
	p.sumSq += o.sumSq
	p.sumAbs += o.sumAbs
	p.expired += o.expired
	p.unmatched += o.unmatched
	p.evicted += o.evicted
}

type pendingEntry struct {
	v   float64
	t   int64 // unix nanoseconds
	seq uint64
}

type queued struct {
	id  string
	t   int64
	seq uint64
}

// fifo is a queue of pending ids in arrival order; entries whose map entry
// was removed or replaced are skipped (their seq differs).
type fifo struct {
	q    []queued
	head int
}

func (f *fifo) push(e queued) {
	if f.head > 1024 && f.head*2 > len(f.q) {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q = f.q[:n]
		f.head = 0
	}
	f.q = append(f.q, e)
}

func (f *fifo) front() (queued, bool) {
	if f.head == len(f.q) {
		return queued{}, false
	}
	return f.q[f.head], true
}

func (f *fifo) pop() {
	f.q[f.head] = queued{}
	f.head++
}

// pending is one side (predictions or labels) of a shard.
type pendingSet struct {
	m    map[string]pendingEntry
	f    fifo
	next uint64 // the last seq given
}

// expire removes the entries made at or before cutoff and returns how many
// were live.
func (s *pendingSet) expire(cutoff int64) int64 {
	var n int64
	for {
		e, ok := s.f.front()
		if !ok || e.t > cutoff {
			return n
		}
		s.f.pop()
		if p, ok := s.m[e.id]; ok && p.seq == e.seq {
			delete(s.m, e.id)
			n++
		}
	}
}

// evictOldest removes the oldest live entry.
func (s *pendingSet) evictOldest() {
	for {
		e, ok := s.f.front()
		if !ok {
			return
		}
		s.f.pop()
		if p, ok := s.m[e.id]; ok && p.seq == e.seq {
			delete(s.m, e.id)
			return
		}
	}
}

type perfShard struct {
	mu     sync.Mutex
	preds  pendingSet
	labels pendingSet
	cur    perfPane
	_      [64]byte
}

// Performance joins a model's predictions with labels that arrive later
// (by id, within a horizon) and reports accuracy (classification) or RMSE
// and MAE (regression) per window of joined labels. Its methods may be
// called from many goroutines; ids are hashed over independent shards.
type Performance struct {
	opts       PerformanceOptions
	horizon    int64
	maxPending int
	now        func() time.Time
	seed       maphash.Seed
	shards     []*perfShard
	paneLen    int64
	panes      int
	timeWin    bool
	pendingN   atomic.Int64 // joined labels in the shards (count windows)
	paneEnd    atomic.Int64

	rotMu     sync.Mutex
	ring      ring[perfPane]
	paneStart time.Time
	seq       uint64

	dmu        sync.Mutex
	nextSeq    uint64
	waiting    map[uint64]PerformanceReport
	delivering bool
	last       atomic.Pointer[PerformanceReport]

	predictions, labels, joined, expired, unmatched, evicted, unlabeled, windows atomic.Int64
}

// NewPerformance returns a Performance monitor.
func NewPerformance(opts PerformanceOptions) (*Performance, error) {
	if opts.Task != Classification && opts.Task != Regression {
		return nil, inputErr("performance: Task %v is neither Classification nor Regression", opts.Task)
	}
	if opts.Horizon < 0 || opts.MaxPending < 0 {
		return nil, inputErr("performance: negative Horizon (%v) or MaxPending (%d)", opts.Horizon, opts.MaxPending)
	}
	paneLen, panes, err := opts.Window.resolve()
	if err != nil {
		return nil, err
	}
	p := &Performance{opts: opts, horizon: int64(opts.Horizon), maxPending: opts.MaxPending, now: opts.Now,
		seed: maphash.MakeSeed(), paneLen: paneLen, panes: panes, timeWin: opts.Window.IsTime(),
		waiting: map[uint64]PerformanceReport{}}
	if p.horizon == 0 {
		p.horizon = int64(defaultHorizon)
	}
	if p.maxPending == 0 {
		p.maxPending = defaultMaxPending
	}
	if p.now == nil {
		p.now = time.Now
	}
	ns := opts.Shards
	switch {
	case ns < 0 || ns > maxShards:
		return nil, inputErr("performance: Shards %d out of range [0, %d]", ns, maxShards)
	case ns == 0:
		ns = min(runtime.GOMAXPROCS(0), defaultMaxShards)
	}
	p.shards = make([]*perfShard, ns)
	for i := range p.shards {
		p.shards[i] = &perfShard{preds: pendingSet{m: map[string]pendingEntry{}}, labels: pendingSet{m: map[string]pendingEntry{}}}
	}
	p.ring.panes = make([]perfPane, panes)
	p.paneStart = p.now()
	if p.timeWin {
		p.paneEnd.Store(p.paneStart.UnixNano() + paneLen)
	}
	return p, nil
}

// perShard is the bound of one shard's pending set.
func (p *Performance) perShard() int {
	return max(1, (p.maxPending+len(p.shards)-1)/len(p.shards))
}

// Name returns PerformanceOptions.Name.
func (p *Performance) Name() string { return p.opts.Name }

// lock locks the shard of id after closing due time panes and drops the
// entries past their time.
func (p *Performance) lock(id string, now int64) *perfShard {
	s := p.shards[maphash.String(p.seed, id)%uint64(len(p.shards))]
	s.mu.Lock()
	if u := s.labels.expire(now - p.horizon - 1); u > 0 {
		s.cur.unmatched += u
		p.unmatched.Add(u)
	}
	u := s.preds.expire(now - 2*p.horizon - 1)
	if u > 0 {
		p.unlabeled.Add(u)
	}
	return s
}

// join adds a prediction and its label to the shard's pane.
func (p *Performance) join(s *perfShard, pred, label float64) {
	s.cur.joined++
	if p.opts.Task == Classification {
		if pred == label {
			s.cur.correct++
		}
	} else {
		d := pred - label
		s.cur.sumSq += d * d
		s.cur.sumAbs += math.Abs(d)
	}
}

// Predict records the model's prediction for id (a class index for
// classification). A second prediction for a pending id replaces the
// first. If id's label came first, they are joined now.
func (p *Performance) Predict(id string, prediction float64) {
	now := p.now()
	p.tick(now)
	t := now.UnixNano()
	p.predictions.Add(1)
	s := p.lock(id, t)
	joined := false
	if l, ok := s.labels.m[id]; ok {
		delete(s.labels.m, id)
		p.join(s, prediction, l.v)
		joined = true
	} else {
		p.put(s, &s.preds, id, prediction, t)
	}
	n := int64(0)
	if joined {
		n = p.pendingN.Add(1)
	}
	s.mu.Unlock()
	if joined {
		p.joined.Add(1)
		if !p.timeWin && n >= p.paneLen {
			p.rotateCount()
		}
	}
}

// put stores a pending entry, evicting the oldest when the set is full.
func (p *Performance) put(s *perfShard, set *pendingSet, id string, v float64, t int64) {
	set.next++
	seq := set.next
	if _, ok := set.m[id]; !ok && len(set.m) >= p.perShard() {
		set.evictOldest()
		s.cur.evicted++
		p.evicted.Add(1)
	}
	set.m[id] = pendingEntry{v: v, t: t, seq: seq}
	set.f.push(queued{id: id, t: t, seq: seq})
}

// Label records the true label of id. It returns true when the label was
// joined with id's pending prediction; false when it came later than the
// horizon (counted as Expired) or before the prediction (kept pending).
func (p *Performance) Label(id string, label float64) bool {
	now := p.now()
	p.tick(now)
	t := now.UnixNano()
	p.labels.Add(1)
	s := p.lock(id, t)
	pr, ok := s.preds.m[id]
	if ok {
		delete(s.preds.m, id)
		if t-pr.t > p.horizon {
			s.cur.expired++
			s.mu.Unlock()
			p.expired.Add(1)
			return false
		}
		p.join(s, pr.v, label)
		n := p.pendingN.Add(1)
		s.mu.Unlock()
		p.joined.Add(1)
		if !p.timeWin && n >= p.paneLen {
			p.rotateCount()
		}
		return true
	}
	p.put(s, &s.labels, id, label, t)
	s.mu.Unlock()
	return false
}

// closePane moves the shards' accumulators into the ring; the caller holds
// rotMu. With force false it closes only a full count pane.
func (p *Performance) closePane(end time.Time, force bool) bool {
	for _, s := range p.shards {
		s.mu.Lock()
	}
	var joined int64
	for _, s := range p.shards {
		joined += s.cur.joined
	}
	if !force && joined < p.paneLen {
		for _, s := range p.shards {
			s.mu.Unlock()
		}
		return false
	}
	pn := p.ring.push()
	*pn = perfPane{start: p.paneStart, end: end}
	for _, s := range p.shards {
		pn.merge(&s.cur)
		s.cur = perfPane{}
	}
	p.pendingN.Add(-joined)
	for _, s := range p.shards {
		s.mu.Unlock()
	}
	p.paneStart = end
	return true
}

// due returns the window ending with the pane just closed when the window
// is full; the caller holds rotMu.
func (p *Performance) due() (PerformanceReport, bool) {
	if p.ring.filled() < p.panes {
		return PerformanceReport{}, false
	}
	var w perfPane
	first := true
	p.ring.each(func(pn *perfPane) {
		if first {
			w.start, first = pn.start, false
		}
		w.end = pn.end
		w.merge(pn)
	})
	return p.report(&w), true
}

func (p *Performance) report(w *perfPane) PerformanceReport {
	r := PerformanceReport{Name: p.opts.Name, Task: p.opts.Task, Start: w.start, End: w.end,
		Joined: w.joined, Expired: w.expired, Unmatched: w.unmatched, Evicted: w.evicted}
	if w.joined > 0 {
		n := float64(w.joined)
		if p.opts.Task == Classification {
			r.Accuracy = float64(w.correct) / n
		} else {
			r.RMSE = math.Sqrt(w.sumSq / n)
			r.MAE = w.sumAbs / n
		}
	}
	return r
}

func (p *Performance) rotateCount() {
	p.rotMu.Lock()
	if p.pendingN.Load() < p.paneLen || !p.closePane(p.now(), false) {
		p.rotMu.Unlock()
		return
	}
	r, ok := p.due()
	seq := p.seq
	if ok {
		p.seq++
	}
	p.rotMu.Unlock()
	if ok {
		p.deliver(seq, r)
	}
}

func (p *Performance) tick(now time.Time) {
	if !p.timeWin || now.UnixNano() < p.paneEnd.Load() {
		return
	}
	p.rotMu.Lock()
	type out struct {
		r   PerformanceReport
		seq uint64
	}
	var outs []out
	for i := 0; now.UnixNano() >= p.paneEnd.Load(); i++ {
		end := p.paneEnd.Load()
		if i > p.panes {
			k := (now.UnixNano() - end) / p.paneLen
			end += k * p.paneLen
			p.paneStart = time.Unix(0, end-p.paneLen)
		}
		p.closePane(time.Unix(0, end), true)
		// An empty window is not reported.
		if r, ok := p.due(); ok && (r.Joined > 0 || r.Expired > 0 || r.Unmatched > 0 || r.Evicted > 0) {
			outs = append(outs, out{r, p.seq})
			p.seq++
		}
		p.paneEnd.Store(end + p.paneLen)
	}
	p.rotMu.Unlock()
	for _, o := range outs {
		p.deliver(o.seq, o.r)
	}
}

// Flush evaluates the current window now (the closed panes that belong to
// it and the open pane, which stays open) and returns its report, which
// also goes to OnWindow and Last.
func (p *Performance) Flush() PerformanceReport {
	now := p.now()
	p.tick(now)
	p.rotMu.Lock()
	w := perfPane{start: p.paneStart, end: now}
	skip := 0
	if p.ring.filled() == p.panes {
		skip = 1
	}
	first := true
	p.ring.each(func(pn *perfPane) {
		if skip > 0 {
			skip--
			return
		}
		if first {
			w.start, first = pn.start, false
		}
		w.merge(pn)
	})
	for _, s := range p.shards {
		s.mu.Lock()
		w.merge(&s.cur)
		s.mu.Unlock()
	}
	seq := p.seq
	p.seq++
	p.rotMu.Unlock()
	r := p.report(&w)
	p.deliver(seq, r)
	return r
}

func (p *Performance) deliver(seq uint64, r PerformanceReport) {
	p.dmu.Lock()
	p.waiting[seq] = r
	if p.delivering {
		p.dmu.Unlock()
		return
	}
	p.delivering = true
	for {
		r, ok := p.waiting[p.nextSeq]
		if !ok {
			break
		}
		delete(p.waiting, p.nextSeq)
		p.nextSeq++
		p.windows.Add(1)
		p.last.Store(&r)
		p.dmu.Unlock()
		if p.opts.OnWindow != nil {
			p.opts.OnWindow(r)
		}
		p.dmu.Lock()
	}
	p.delivering = false
	p.dmu.Unlock()
}

// Last returns the last window's report (the zero report before the
// first).
func (p *Performance) Last() PerformanceReport {
	if r := p.last.Load(); r != nil {
		return *r
	}
	return PerformanceReport{}
}

// Stats returns the monitor's counters.
func (p *Performance) Stats() PerformanceStats {
	st := PerformanceStats{
		Predictions: p.predictions.Load(), Labels: p.labels.Load(), Joined: p.joined.Load(),
		Unlabeled: p.unlabeled.Load(), Evicted: p.evicted.Load(), Expired: p.expired.Load(),
		Windows: p.windows.Load(),
	}
	st.Unmatched = p.unmatched.Load()
	for _, s := range p.shards {
		s.mu.Lock()
		st.PendingPredictions += len(s.preds.m)
		st.PendingLabels += len(s.labels.m)
		s.mu.Unlock()
	}
	return st
}
