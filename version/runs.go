package version

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// RunStatus is the state of a run.
type RunStatus string

// The states of a run. A run is RunRunning from StartRun (or ResumeRun)
// until End gives it one of the others.
const (
	RunRunning  RunStatus = "running"
	RunFinished RunStatus = "finished"
	RunFailed   RunStatus = "failed"
	RunKilled   RunStatus = "killed"
)

func (s RunStatus) valid() bool {
	switch s {
	case RunRunning, RunFinished, RunFailed, RunKilled:
		return true
	}
	return false
}

// RunOptions describe a new run. The zero value is valid.
type RunOptions struct {
	// Experiment groups related runs (valid by ValidName). Empty means
	// "default".
	Experiment string
	// Name is a label for people; any text.
	Name string
	// Params and Tags are logged at the start, as LogParams and SetTag
	// would. Keys are 1 to 250 bytes of UTF-8 without control characters.
	Params, Tags map[string]string
	// Datasets are the specs of the data the run reads ("flights@v3"),
	// resolved to commits at the start (RunInfo.Datasets). A model
	// registered from the run (ModelMeta.Run) inherits them.
	Datasets []string
	// Author; empty means the repository's default (Options.Author).
	Author string
}

// A MetricPoint is one value of a metric series.
type MetricPoint struct {
	Step  int64     `json:"step"`
	Value float64   `json:"value"`
	Time  time.Time `json:"time"` // when it was logged (UTC)
}

// RunInfo describes a run as stored. Metrics logged to a Run but not yet
// written (see Run.Flush) are not included.
type RunInfo struct {
	ID         string    `json:"id"`
	Experiment string    `json:"experiment"`
	Name       string    `json:"name,omitempty"`
	Status     RunStatus `json:"status"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end,omitzero"` // zero while running
	Author     string    `json:"author,omitempty"`
	// Params, Tags and Artifacts are nil when the run has none.
	Params    map[string]string       `json:"params,omitempty"`
	Tags      map[string]string       `json:"tags,omitempty"`
	Artifacts map[string]store.Digest `json:"artifacts,omitempty"`
	Datasets  []DatasetRef            `json:"datasets,omitempty"`
	// Latest holds, for each metric, its point of the highest step (the
	// one logged last among equal steps).
	Latest map[string]MetricPoint `json:"latest,omitempty"`
}

// runRecord is the stored part of RunInfo under "run/<id>"; params, tags,
// artifacts and metrics have keys of their own.
type runRecord struct {
	Experiment string       `json:"experiment"`
	Name       string       `json:"name,omitempty"`
	Status     RunStatus    `json:"status"`
	Start      time.Time    `json:"start"`
	End        time.Time    `json:"end,omitzero"`
	Author     string       `json:"author,omitempty"`
	Datasets   []DatasetRef `json:"datasets,omitempty"`
}

// A run ID is 32 lowercase hex digits: the start time in Unix nanoseconds
// (big endian, so IDs sort by start) then 8 random bytes.
const runIDLen = 32

// Tags of the keys under "run/<id>\x00".
const (
	runParamTag    = 'p'
	runTagTag      = 't'
	runArtifactTag = 'a'
	runLatestTag   = 'l'
)

func newRunID(start time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(start.UnixNano()))
	rand.Read(b[8:])
	return hex.EncodeToString(b[:])
}

func validRunID(id string) error {
	if len(id) != runIDLen {
		return fmt.Errorf("version: run ID %q: not %d hex digits: %w", id, runIDLen, ErrBadName)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("version: run ID %q: not %d lowercase hex digits: %w", id, runIDLen, ErrBadName)
		}
	}
	return nil
}

// maxKeyLen is the longest param, tag or metric key.
const maxKeyLen = 250

// validKey checks a param, tag or metric key: 1 to 250 bytes of UTF-8
// without control characters.
func validKey(kind, key string) error {
	why := ""
	switch {
	case key == "":
		why = "empty"
	case len(key) > maxKeyLen:
		why = fmt.Sprintf("longer than %d bytes", maxKeyLen)
	case !utf8.ValidString(key):
		why = "not UTF-8"
	default:
		for _, c := range key {
			if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				why = "control character"
				break
			}
		}
	}
	if why != "" {
		return fmt.Errorf("version: %s key %q: %s: %w", kind, key, why, ErrBadName)
	}
	return nil
}

func runKey(id string) []byte { return []byte(runKeyPrefix + id) }

func runSubKey(id string, tag byte, name string) []byte {
	k := make([]byte, 0, len(runKeyPrefix)+runIDLen+2+len(name))
	k = append(k, runKeyPrefix...)
	k = append(k, id...)
	k = append(k, 0, tag)
	return append(k, name...)
}

func runIdxKey(experiment, id string) []byte {
	return []byte(runIdxKeyPrefix + experiment + "\x00" + id)
}

// metricSeriesKey is the prefix of the chunks of one metric of one run.
func metricSeriesKey(id, key string) []byte {
	return []byte(metricKeyPrefix + id + "\x00" + key + "\x00")
}

// Metric points are stored in chunks: up to metricChunkPoints points of one
// series logged by one Run handle, under
// "metric/<id>\x00<key>\x00<8-byte unix ns of the first point><4-byte handle tag>".
// A chunk's value is a format byte then, per point, its step, its unix ns
// and its value's float64 bits, 8 bytes each, big endian, in logging order.
// The series' latest point is under "run/<id>\x00l<key>", encoded alike
// without the format byte.
const (
	metricChunkFormat = 1
	metricPointSize   = 24
	metricChunkPoints = 4096
	// metricTxnBytes bounds the chunk bytes of one transaction, well under
	// Badger's limit on a transaction's size.
	metricTxnBytes = 1 << 20
)

func appendMetricPoint(b []byte, p metricPoint) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(p.step))
	b = binary.BigEndian.AppendUint64(b, uint64(p.ns))
	return binary.BigEndian.AppendUint64(b, math.Float64bits(p.value))
}

func decodeMetricPointAt(b []byte) (step, ns int64, p MetricPoint) {
	step = int64(binary.BigEndian.Uint64(b))
	ns = int64(binary.BigEndian.Uint64(b[8:]))
	return step, ns, MetricPoint{
		Step:  step,
		Value: math.Float64frombits(binary.BigEndian.Uint64(b[16:])),
		Time:  time.Unix(0, ns).UTC(),
	}
}

// decodeMetricChunk appends the points of the chunk at key to out.
func decodeMetricChunk(key, val []byte, out []MetricPoint) ([]MetricPoint, error) {
	if len(val) == 0 || val[0] != metricChunkFormat || (len(val)-1)%metricPointSize != 0 {
		return out, regCorrupt(key, errors.New("bad metric chunk"))
	}
	for b := val[1:]; len(b) > 0; b = b[metricPointSize:] {
		_, _, p := decodeMetricPointAt(b)
		out = append(out, p)
	}
	return out, nil
}

// loadRunRecord reads the record of run id, or fails with ErrNotFound.
func loadRunRecord(txn *badger.Txn, id string) (runRecord, error) {
	key := runKey(id)
	val, ok, err := regGet(txn, key)
	if err != nil {
		return runRecord{}, err
	}
	if !ok {
		return runRecord{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	var rec runRecord
	if err := regDecode(key, val, &rec); err != nil {
		return runRecord{}, err
	}
	if !rec.Status.valid() || rec.Start.IsZero() {
		return runRecord{}, regCorrupt(key, errors.New("bad status or start time"))
	}
	return rec, nil
}

func putRunRecord(txn *badger.Txn, id string, rec runRecord) error {
	enc, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return txn.Set(runKey(id), enc)
}

func decodeRunDigest(item *badger.Item) (store.Digest, error) {
	var d store.Digest
	err := item.Value(func(val []byte) error {
		if len(val) != store.DigestSize {
			return regCorrupt(item.Key(), errors.New("artifact digest is not 32 bytes"))
		}
		copy(d[:], val)
		return nil
	})
	return d, err
}

// A Run records one experiment run: parameters, metric series, tags and
// artifacts, in the repository (see StartRun). Its methods are safe for
// concurrent use. Metric points are buffered and written in the background
// in batches (when 1,000 points are pending or 100 ms after the first of
// them); Flush and End write what is pending and make it durable. Other
// methods write through at once, durably. Once End returned without error
// the Run refuses further calls; ResumeRun continues the run.
type Run struct {
	repo *Repository
	id   string
	tag  uint32 // random; tells the chunk keys of two handles of a run apart

	mu      sync.Mutex
	cond    sync.Cond // signalled when writing becomes false
	buf     []metricPoint
	keys    map[string]bool // metric keys already checked
	lastNs  int64           // time of the last point, strictly increasing
	timer   *time.Timer     // writes buf 100 ms after its first point
	writing bool            // a batch of points is being written
	err     error           // first failure of a background write
	ended   bool
}

type metricPoint struct {
	key   string
	step  int64
	ns    int64
	value float64
}

const (
	metricBatchPoints = 1000 // points pending that start a write
	metricBatchDelay  = 100 * time.Millisecond
	// metricMaxPending is how many points may wait while a batch is being
	// written before LogMetric waits for it.
	metricMaxPending = 1 << 18
)

var errRunEnded = errors.New("run has ended (use ResumeRun to continue it)")

func newRun(r *Repository, id string) *Run {
	var tag [4]byte
	rand.Read(tag[:])
	run := &Run{repo: r, id: id, tag: binary.BigEndian.Uint32(tag[:]), keys: make(map[string]bool)}
	run.cond.L = &run.mu
	r.mu.Lock()
	r.runs[run] = struct{}{}
	r.mu.Unlock()
	return run
}

// StartRun starts a new run with status RunRunning and returns it. Its
// dataset specs are resolved (an unknown one fails with ErrNotFound); a bad
// experiment name, param or tag key fails with ErrBadName.
func (r *Repository) StartRun(ctx context.Context, opts RunOptions) (*Run, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	exp := opts.Experiment
	if exp == "" {
		exp = "default"
	}
	if err := ValidName(exp); err != nil {
		return nil, err
	}
	for k := range opts.Params {
		if err := validKey("param", k); err != nil {
			return nil, err
		}
	}
	for k := range opts.Tags {
		if err := validKey("tag", k); err != nil {
			return nil, err
		}
	}
	var refs []DatasetRef
	for _, spec := range opts.Datasets {
		c, err := r.Resolve(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("version: start run: %w", err)
		}
		refs = appendDatasetRef(refs, DatasetRef{Dataset: c.Dataset, Commit: c.ID})
	}
	author := opts.Author
	if author == "" {
		author = r.author
	}
	start := time.Now().UTC().Round(0)
	id := newRunID(start)
	rec := runRecord{Experiment: exp, Name: opts.Name, Status: RunRunning, Start: start, Author: author, Datasets: refs}
	err := r.regUpdate(ctx, func(txn *badger.Txn) error {
		if _, ok, err := regGet(txn, runKey(id)); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("run %s exists: %w", id, ErrConflict) // 64 random bits made twice
		}
		if err := putRunRecord(txn, id, rec); err != nil {
			return err
		}
		if err := txn.Set(runIdxKey(exp, id), nil); err != nil {
			return err
		}
		for k, v := range opts.Params {
			if err := txn.Set(runSubKey(id, runParamTag, k), []byte(v)); err != nil {
				return err
			}
		}
		for k, v := range opts.Tags {
			if err := txn.Set(runSubKey(id, runTagTag, k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: start run: %w", err)
	}
	return newRun(r, id), nil
}

// ResumeRun continues the run id: its status becomes RunRunning again and
// its end time zero; parameters, tags and metric series continue where they
// were. An unknown run fails with ErrNotFound.
func (r *Repository) ResumeRun(ctx context.Context, id string) (*Run, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := validRunID(id); err != nil {
		return nil, err
	}
	err := r.regUpdate(ctx, func(txn *badger.Txn) error {
		rec, err := loadRunRecord(txn, id)
		if err != nil {
			return err
		}
		rec.Status, rec.End = RunRunning, time.Time{}
		return putRunRecord(txn, id, rec)
	})
	if err != nil {
		return nil, fmt.Errorf("version: resume run: %w", err)
	}
	return newRun(r, id), nil
}

// ID returns the run's ID: 32 lowercase hex digits.
func (run *Run) ID() string { return run.id }

// usableLocked fails once the run has ended or the repository is closed.
func (run *Run) usableLocked() error {
	if run.ended {
		return fmt.Errorf("version: run %s: %w", run.id, errRunEnded)
	}
	return run.repo.check()
}

func (run *Run) usable() error {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.usableLocked()
}

// LogParam records the parameter key. A parameter never changes once set:
// logging it again with the same value does nothing, with another value
// fails with ErrConflict.
func (run *Run) LogParam(ctx context.Context, key, value string) error {
	return run.LogParams(ctx, map[string]string{key: value})
}

// LogParams records several parameters at once, all or none: if one of
// them is set already with another value, it fails with ErrConflict and
// records nothing.
func (run *Run) LogParams(ctx context.Context, params map[string]string) error {
	if err := run.usable(); err != nil {
		return err
	}
	keys := slices.Sorted(maps.Keys(params))
	for _, k := range keys {
		if err := validKey("param", k); err != nil {
			return err
		}
	}
	err := run.repo.regUpdate(ctx, func(txn *badger.Txn) error {
		for _, k := range keys {
			key := runSubKey(run.id, runParamTag, k)
			old, ok, err := regGet(txn, key)
			if err != nil {
				return err
			}
			switch {
			case !ok:
				if err := txn.Set(key, []byte(params[k])); err != nil {
					return err
				}
			case string(old) != params[k]:
				return fmt.Errorf("param %q is %q already, not %q: %w", k, old, params[k], ErrConflict)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("version: run %s: log params: %w", run.id, err)
	}
	return nil
}

// SetTag sets the tag key to value, replacing any previous value.
func (run *Run) SetTag(ctx context.Context, key, value string) error {
	if err := run.usable(); err != nil {
		return err
	}
	if err := validKey("tag", key); err != nil {
		return err
	}
	err := run.repo.regUpdate(ctx, func(txn *badger.Txn) error {
		return txn.Set(runSubKey(run.id, runTagTag, key), []byte(value))
	})
	if err != nil {
		return fmt.Errorf("version: run %s: set tag %q: %w", run.id, key, err)
	}
	return nil
}

// LogArtifact stores the content read from rd (to its end) in the
// repository's store as the run's artifact name (a path valid by
// ValidPath, such as "plots/loss.png"), replacing any previous artifact of
// that name, and returns its digest.
func (run *Run) LogArtifact(ctx context.Context, name string, rd io.Reader) (store.Digest, error) {
	if err := run.usable(); err != nil {
		return store.Digest{}, err
	}
	if err := ValidPath(name); err != nil {
		return store.Digest{}, err
	}
	d, err := run.repo.st.Put(ctx, rd)
	if err != nil {
		return store.Digest{}, fmt.Errorf("version: run %s: log artifact %q: %w", run.id, name, err)
	}
	err = run.repo.regUpdate(ctx, func(txn *badger.Txn) error {
		return txn.Set(runSubKey(run.id, runArtifactTag, name), d[:])
	})
	if err != nil {
		return store.Digest{}, fmt.Errorf("version: run %s: log artifact %q: %w", run.id, name, err)
	}
	return d, nil
}

// LogMetric appends the point (step, value) to the metric series key. The
// point is buffered: it is written in the background and durable once
// Flush or End returns. A failure of a background write is returned by the
// next LogMetric, LogMetrics, Flush or End.
func (run *Run) LogMetric(ctx context.Context, key string, step int64, value float64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run.mu.Lock()
	if err := run.addLocked(key, step, value); err != nil {
		run.mu.Unlock()
		return err
	}
	batch := run.takeLocked(false)
	run.mu.Unlock()
	if batch != nil {
		go run.drain(batch)
	}
	return nil
}

// LogMetrics appends one point at step to each metric of m, as LogMetric
// does. A bad key fails the call before any point is added.
func (run *Run) LogMetrics(ctx context.Context, step int64, m map[string]float64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run.mu.Lock()
	for k := range m {
		if !run.keys[k] {
			if err := validKey("metric", k); err != nil {
				run.mu.Unlock()
				return err
			}
		}
	}
	for k, v := range m {
		if err := run.addLocked(k, step, v); err != nil {
			run.mu.Unlock()
			return err
		}
	}
	batch := run.takeLocked(false)
	run.mu.Unlock()
	if batch != nil {
		go run.drain(batch)
	}
	return nil
}

// addLocked appends one point to the buffer, waiting while too many points
// are pending behind a slow write.
func (run *Run) addLocked(key string, step int64, value float64) error {
	for {
		if err := run.usableLocked(); err != nil {
			return err
		}
		if run.err != nil {
			return fmt.Errorf("version: run %s: writing metrics: %w", run.id, run.err)
		}
		if len(run.buf) < metricMaxPending || !run.writing {
			break
		}
		run.cond.Wait()
	}
	if !run.keys[key] {
		if err := validKey("metric", key); err != nil {
			return err
		}
		run.keys[key] = true
	}
	ns := time.Now().UnixNano()
	if ns <= run.lastNs {
		ns = run.lastNs + 1
	}
	run.lastNs = ns
	run.buf = append(run.buf, metricPoint{key: key, step: step, ns: ns, value: value})
	if len(run.buf) == 1 {
		if run.timer == nil {
			run.timer = time.AfterFunc(metricBatchDelay, run.timerFired)
		} else {
			run.timer.Reset(metricBatchDelay)
		}
	}
	return nil
}

// takeLocked returns the pending points to write, and marks a write under
// way, when no write is under way and 1,000 points are pending (or any, if
// all).
func (run *Run) takeLocked(all bool) []metricPoint {
	if run.writing || len(run.buf) == 0 || (!all && len(run.buf) < metricBatchPoints) {
		return nil
	}
	batch := run.buf
	run.buf = make([]metricPoint, 0, max(metricBatchPoints, len(batch)))
	run.writing = true
	return batch
}

// timerFired writes the pending points 100 ms after the first of them.
func (run *Run) timerFired() {
	run.mu.Lock()
	batch := run.takeLocked(true)
	run.mu.Unlock()
	if batch != nil {
		run.drain(batch)
	}
}

// drain writes batch, then whatever was logged meanwhile, until nothing is
// pending; then it clears writing.
func (run *Run) drain(batch []metricPoint) {
	for {
		err := run.writePoints(batch)
		run.mu.Lock()
		if err != nil && run.err == nil {
			run.err = err
		}
		if err == nil && len(run.buf) > 0 {
			batch = run.buf
			run.buf = make([]metricPoint, 0, max(metricBatchPoints, len(batch)))
			run.cond.Broadcast() // room for LogMetric calls waiting in addLocked
			run.mu.Unlock()
			continue
		}
		run.writing = false
		run.cond.Broadcast()
		run.mu.Unlock()
		return
	}
}

// writePoints writes points, in chunks of each series, and updates the
// latest point of each series, in transactions of about 1 MiB of chunks;
// durable when it returns.
func (run *Run) writePoints(points []metricPoint) error {
	if len(points) == 0 {
		return nil
	}
	if err := run.repo.check(); err != nil {
		return err
	}
	counts := make(map[string]int)
	for _, p := range points {
		counts[p.key]++
	}
	bySeries := make(map[string][]metricPoint, len(counts))
	for k, n := range counts {
		bySeries[k] = make([]metricPoint, 0, n)
	}
	for _, p := range points {
		bySeries[p.key] = append(bySeries[p.key], p)
	}
	type kv struct{ key, val []byte }
	var (
		chunks []kv
		latest []kv // per series whose last chunk is in chunks
		size   int
	)
	commit := func() error {
		err := run.repo.regUpdate(context.Background(), func(txn *badger.Txn) error {
			for _, c := range chunks {
				if err := txn.Set(c.key, c.val); err != nil {
					return err
				}
			}
			for _, l := range latest {
				old, ok, err := regGet(txn, l.key)
				if err != nil {
					return err
				}
				if ok {
					if len(old) != metricPointSize {
						return regCorrupt(l.key, errors.New("latest metric point is not 24 bytes"))
					}
					// Keep the old point if it has a higher step, or the
					// same step and a later time.
					oldStep, oldNs, _ := decodeMetricPointAt(old)
					newStep, newNs, _ := decodeMetricPointAt(l.val)
					if oldStep > newStep || (oldStep == newStep && oldNs > newNs) {
						continue
					}
				}
				if err := txn.Set(l.key, l.val); err != nil {
					return err
				}
			}
			return nil
		})
		chunks, latest, size = chunks[:0], latest[:0], 0
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(bySeries)) {
		series := bySeries[key]
		last := series[0]
		for len(series) > 0 {
			n := min(len(series), metricChunkPoints)
			k := metricSeriesKey(run.id, key)
			k = binary.BigEndian.AppendUint64(k, uint64(series[0].ns))
			k = binary.BigEndian.AppendUint32(k, run.tag)
			v := make([]byte, 1, 1+n*metricPointSize)
			v[0] = metricChunkFormat
			for _, p := range series[:n] {
				v = appendMetricPoint(v, p)
				if p.step > last.step || (p.step == last.step && p.ns > last.ns) {
					last = p
				}
			}
			series = series[n:]
			if size > 0 && size+len(v) > metricTxnBytes {
				if err := commit(); err != nil {
					return err
				}
			}
			chunks = append(chunks, kv{k, v})
			size += len(v)
		}
		latest = append(latest, kv{runSubKey(run.id, runLatestTag, key), appendMetricPoint(nil, last)})
	}
	return commit()
}

// Flush writes the metric points logged so far and waits until they are
// durable. It returns the first failure of a background write, if any.
func (run *Run) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run.mu.Lock()
	for run.writing {
		run.cond.Wait()
	}
	if err := run.repo.check(); err != nil {
		run.mu.Unlock()
		return err
	}
	batch := run.takeLocked(true)
	run.mu.Unlock()
	if batch != nil {
		run.drain(batch)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.err != nil {
		return fmt.Errorf("version: run %s: writing metrics: %w", run.id, run.err)
	}
	return nil
}

// End flushes the run's metrics and sets its status (RunFinished,
// RunFailed or RunKilled) and end time. The status is set even if the
// flush failed, whose error is then returned. After End the Run refuses
// further calls.
func (run *Run) End(ctx context.Context, status RunStatus) error {
	if !status.valid() || status == RunRunning {
		return fmt.Errorf("version: run %s: end with status %q: want %q, %q or %q", run.id, status, RunFinished, RunFailed, RunKilled)
	}
	if err := run.usable(); err != nil {
		return err
	}
	flushErr := run.Flush(ctx)
	err := run.repo.regUpdate(ctx, func(txn *badger.Txn) error {
		rec, err := loadRunRecord(txn, run.id)
		if err != nil {
			return err
		}
		rec.Status, rec.End = status, time.Now().UTC().Round(0)
		return putRunRecord(txn, run.id, rec)
	})
	if err != nil {
		return errors.Join(flushErr, fmt.Errorf("version: run %s: end: %w", run.id, err))
	}
	run.mu.Lock()
	run.ended = true
	if run.timer != nil {
		run.timer.Stop()
	}
	run.mu.Unlock()
	run.repo.mu.Lock()
	delete(run.repo.runs, run)
	run.repo.mu.Unlock()
	return flushErr
}

// RunInfo returns what is stored of the run id, or an error wrapping
// ErrNotFound.
func (r *Repository) RunInfo(ctx context.Context, id string) (RunInfo, error) {
	if err := r.check(); err != nil {
		return RunInfo{}, err
	}
	if err := validRunID(id); err != nil {
		return RunInfo{}, err
	}
	var info RunInfo
	err := r.db.View(func(txn *badger.Txn) error {
		var err error
		info, err = runInfoTxn(txn, id)
		return err
	})
	if err != nil {
		return RunInfo{}, fmt.Errorf("version: run info: %w", err)
	}
	return info, nil
}

func runInfoTxn(txn *badger.Txn, id string) (RunInfo, error) {
	rec, err := loadRunRecord(txn, id)
	if err != nil {
		return RunInfo{}, err
	}
	info := RunInfo{
		ID: id, Experiment: rec.Experiment, Name: rec.Name, Status: rec.Status,
		Start: rec.Start, End: rec.End, Author: rec.Author, Datasets: rec.Datasets,
	}
	prefix := runSubKey(id, 0, "")
	prefix = prefix[:len(prefix)-1] // "run/<id>\x00"
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		key := item.Key()
		if len(key) < len(prefix)+2 {
			return RunInfo{}, regCorrupt(key, errors.New("no name"))
		}
		name := string(key[len(prefix)+1:])
		switch key[len(prefix)] {
		case runParamTag, runTagTag:
			val, err := item.ValueCopy(nil)
			if err != nil {
				return RunInfo{}, err
			}
			m := &info.Params
			if key[len(prefix)] == runTagTag {
				m = &info.Tags
			}
			if *m == nil {
				*m = make(map[string]string)
			}
			(*m)[name] = string(val)
		case runLatestTag:
			var p MetricPoint
			err := item.Value(func(val []byte) error {
				if len(val) != metricPointSize {
					return regCorrupt(key, errors.New("latest metric point is not 24 bytes"))
				}
				_, _, p = decodeMetricPointAt(val)
				return nil
			})
			if err != nil {
				return RunInfo{}, err
			}
			if info.Latest == nil {
				info.Latest = make(map[string]MetricPoint)
			}
			info.Latest[name] = p
		case runArtifactTag:
			d, err := decodeRunDigest(item)
			if err != nil {
				return RunInfo{}, err
			}
			if info.Artifacts == nil {
				info.Artifacts = make(map[string]store.Digest)
			}
			info.Artifacts[name] = d
		default:
			return RunInfo{}, regCorrupt(key, errors.New("unknown kind of run key"))
		}
	}
	return info, nil
}

// MetricHistory returns every point of the metric key of run id, by step
// (points of one step in the order they were logged). Points not yet
// flushed are not included. An unknown run fails with ErrNotFound; a run
// without that metric gives no points.
func (r *Repository) MetricHistory(ctx context.Context, id, key string) ([]MetricPoint, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := validRunID(id); err != nil {
		return nil, err
	}
	if err := validKey("metric", key); err != nil {
		return nil, err
	}
	var out []MetricPoint
	err := r.db.View(func(txn *badger.Txn) error {
		if _, err := loadRunRecord(txn, id); err != nil {
			return err
		}
		series := metricSeriesKey(id, key)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: series, PrefetchValues: true, PrefetchSize: 16})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			err := item.Value(func(val []byte) error {
				var err error
				out, err = decodeMetricChunk(item.Key(), val, out)
				return err
			})
			if err != nil {
				return err
			}
		}
		// Chunks come by the time of their first point: usually in step
		// order already.
		byStep := func(a, b MetricPoint) int {
			if a.Step != b.Step {
				return cmp.Compare(a.Step, b.Step)
			}
			return a.Time.Compare(b.Time)
		}
		if !slices.IsSortedFunc(out, byStep) {
			slices.SortStableFunc(out, byStep)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: metric history %q of run %s: %w", key, id, err)
	}
	return out, nil
}

// RunFilter selects runs. The zero value selects every run.
type RunFilter struct {
	// Experiment, if set, keeps the runs of that experiment.
	Experiment string
	// Status, if set, keeps the runs in that state.
	Status RunStatus
}

// Runs returns the runs that f selects, newest (by start) first.
func (r *Repository) Runs(ctx context.Context, f RunFilter) ([]RunInfo, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if f.Experiment != "" {
		if err := ValidName(f.Experiment); err != nil {
			return nil, err
		}
	}
	if f.Status != "" && !f.Status.valid() {
		return nil, fmt.Errorf("version: runs: unknown status %q", f.Status)
	}
	var out []RunInfo
	err := r.db.View(func(txn *badger.Txn) error {
		ids, err := runIDs(ctx, txn, f.Experiment)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			info, err := runInfoTxn(txn, id)
			if err != nil {
				return err
			}
			if f.Status == "" || info.Status == f.Status {
				out = append(out, info)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: runs: %w", err)
	}
	slices.SortFunc(out, func(a, b RunInfo) int {
		if c := b.Start.Compare(a.Start); c != 0 {
			return c
		}
		return -bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return out, nil
}

// runIDs lists the IDs of the runs of experiment (every run if empty).
func runIDs(ctx context.Context, txn *badger.Txn, experiment string) ([]string, error) {
	var ids []string
	if experiment != "" {
		prefix := []byte(runIdxKeyPrefix + experiment + "\x00")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			key := it.Item().Key()
			id := string(key[len(prefix):])
			if validRunID(id) != nil {
				return nil, regCorrupt(key, errors.New("bad run ID"))
			}
			ids = append(ids, id)
		}
		return ids, nil
	}
	prefix := []byte(runKeyPrefix)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		key := it.Item().Key()
		id := string(key[len(prefix):min(len(key), len(prefix)+runIDLen)])
		if validRunID(id) != nil {
			return nil, regCorrupt(key, errors.New("bad run ID"))
		}
		if len(key) == len(prefix)+runIDLen {
			ids = append(ids, id)
		}
		it.Seek([]byte(runKeyPrefix + id + "\x01")) // past the run's own keys
	}
	return ids, nil
}

// A RunComparison sets runs side by side.
type RunComparison struct {
	Runs []RunInfo // in the order asked
	// Params are the parameter keys whose values differ between the runs
	// (or that some runs lack), sorted.
	Params []string
	// Metrics are the keys of every metric of any of the runs, sorted.
	Metrics []string
}

// CompareRuns returns the runs ids side by side, with the parameters that
// differ between them and the union of their metrics. An unknown run fails
// with ErrNotFound.
func (r *Repository) CompareRuns(ctx context.Context, ids ...string) (RunComparison, error) {
	if err := r.check(); err != nil {
		return RunComparison{}, err
	}
	for _, id := range ids {
		if err := validRunID(id); err != nil {
			return RunComparison{}, err
		}
	}
	var out RunComparison
	err := r.db.View(func(txn *badger.Txn) error {
		for _, id := range ids {
			info, err := runInfoTxn(txn, id)
			if err != nil {
				return err
			}
			out.Runs = append(out.Runs, info)
		}
		return nil
	})
	if err != nil {
		return RunComparison{}, fmt.Errorf("version: compare runs: %w", err)
	}
	params := make(map[string]bool)
	metrics := make(map[string]bool)
	for _, info := range out.Runs {
		for k := range info.Params {
			params[k] = true
		}
		for k := range info.Latest {
			metrics[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		v0, ok0 := out.Runs[0].Params[k]
		for _, info := range out.Runs[1:] {
			if v, ok := info.Params[k]; ok != ok0 || v != v0 {
				out.Params = append(out.Params, k)
				break
			}
		}
	}
	out.Metrics = slices.Sorted(maps.Keys(metrics))
	return out, nil
}

// runArtifacts adds every run artifact to seen.
func runArtifacts(ctx context.Context, txn *badger.Txn, seen map[store.Digest]struct{}) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(runKeyPrefix)})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		item := it.Item()
		rest := item.Key()[len(runKeyPrefix):]
		if len(rest) < runIDLen+2 || rest[runIDLen] != 0 || rest[runIDLen+1] != runArtifactTag {
			continue
		}
		d, err := decodeRunDigest(item)
		if err != nil {
			return err
		}
		seen[d] = struct{}{}
	}
	return nil
}
