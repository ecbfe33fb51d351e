package features

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/kilnml/kiln/pipeline"
	"golang.org/x/sync/errgroup"
)

// ErrPIT is returned (wrapped) for a point-in-time join that cannot run: a
// missing key or time column, a key whose types differ between the entity
// rows and a view, an unsupported column type, a duplicate output name.
var ErrPIT = errors.New("features: bad point-in-time join")

// A PITView is one feature table for a point-in-time join.
type PITView struct {
	// Name prefixes the output columns: "<Name>__<feature>".
	Name string
	// Source yields the feature rows. It is read once per read of the
	// join's output.
	Source pipeline.Source
	// Keys are the join key columns, with the same names in the entity
	// rows. Strings and binaries match each other, as do integers of any
	// width and sign (by value); a null key never matches.
	Keys []string
	// Timestamp is the event-time column: a timestamp (any unit, any zone:
	// instants are compared) or a date (midnight UTC). Rows with a null
	// event time are ignored.
	Timestamp string
	// Created is an optional created-time column (timestamp or date): of
	// feature rows with equal keys and equal event time, the one with the
	// larger created time wins (null is the oldest); if that ties too, the
	// later row in the source wins.
	Created string
	// TTL, when positive, limits how old a feature row may be: it
	// qualifies for an entity row at time t when its event time e satisfies
	// t-TTL <= e <= t (a feature exactly TTL old is included, as in Feast).
	// Zero means no limit.
	TTL time.Duration
	// Features are the feature columns to join, in output order. Nil means
	// every column but the keys, the event time and the created time.
	Features []string
}

// EntityColumns names the columns of the entity rows that the join reads.
type EntityColumns struct {
	// Keys is the union of the views' keys; every view key must be in it.
	// Nil means the views' keys.
	Keys []string
	// Timestamp is the entity rows' event-time column (timestamp or date).
	// A row with a null time gets nulls from every view.
	Timestamp string
}

// PITOptions configure a point-in-time join. The zero value uses one worker
// per core, no memory budget and the default allocator.
type PITOptions struct {
	// Workers bounds the entity batches joined at once and the key groups
	// sorted at once. Zero means runtime.GOMAXPROCS(0).
	Workers int
	// MemoryBudget, when positive, bounds the bytes of feature rows held in
	// memory for the in-memory join (the Arrow buffers of the batches read
	// plus 24 bytes a row of index). A view whose feature rows go beyond
	// what is left of it is spilled: its feature rows and the entity rows'
	// keys and times are hash-partitioned by key into Arrow IPC files in
	// TempDir, each partition is joined alone (one partition's feature
	// rows in memory at a time), and the results are streamed back in input
	// order. Zero means no budget: everything is joined in memory.
	MemoryBudget int64
	// TempDir is where spilled partitions go. Empty means os.TempDir().
	// The files are removed when the read of the output ends.
	TempDir string
	// Allocator allocates the output and working arrays. Nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
	// Progress, when set, is called from one goroutine as the join moves
	// on: after each view is indexed or spilled, after each output batch,
	// and once at the end with Done set.
	Progress func(PITProgress)
}

// PITProgress is a snapshot of a point-in-time join, for progress bars.
type PITProgress struct {
	FeatureRows  int64         // feature rows read, all views together
	EntityRows   int64         // entity rows joined and emitted
	SpilledViews int           // views joined through spill files
	Elapsed      time.Duration // since the read of the output started
	Done         bool          // true in the final report
}

// PointInTimeJoin returns a source yielding the entity rows, in input order,
// each followed by the features of every view as they were at the row's
// time: for each view, the values of the latest feature row with the same
// keys and an event time at or before the row's time (and within the view's
// TTL); ties of event time go to the larger created time, then to the later
// row. Output columns are the entity columns as given, then each view's
// features in view order, named "<view>__<feature>"; a feature is null when
// no row qualifies.
//
// PointInTimeJoin checks the schemas (reading them through ctx) and returns
// at once; the work happens when the returned source's Batches is read:
// the views' feature rows are read and indexed by key (their key groups
// sorted by time in parallel), then entity batches are joined in parallel
// and come out in order. Reading the output again does all of it again.
// Output batches hold the entity batches' columns, retained, and new
// feature columns; the consumer releases each.
func PointInTimeJoin(ctx context.Context, entities pipeline.Source, cols EntityColumns, views []PITView, opts PITOptions) (pipeline.Source, error) {
	es, err := entities.Schema(ctx)
	if err != nil {
		return nil, fmt.Errorf("features: entity schema: %w", err)
	}
	j := &pitJoin{entities: entities, opts: opts, entitySchema: es}
	if j.eTime, err = timeField(es, cols.Timestamp, "entity rows"); err != nil {
		return nil, err
	}
	fields := slices.Clone(es.Fields())
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Name] = true
	}
	keySet := map[string]bool{}
	for _, k := range cols.Keys {
		keySet[k] = true
	}
	if len(views) == 0 {
		return nil, fmt.Errorf("%w: no views", ErrPIT)
	}
	for vi, v := range views {
		if v.Name == "" {
			return nil, fmt.Errorf("%w: view %d has no name", ErrPIT, vi)
		}
		if len(v.Keys) == 0 {
			return nil, fmt.Errorf("%w: view %q has no keys", ErrPIT, v.Name)
		}
		if v.TTL < 0 {
			return nil, fmt.Errorf("%w: view %q: negative TTL %v", ErrPIT, v.Name, v.TTL)
		}
		fs, err := v.Source.Schema(ctx)
		if err != nil {
			return nil, fmt.Errorf("features: view %q schema: %w", v.Name, err)
		}
		pv := &pitViewPlan{view: v, schema: fs}
		where := fmt.Sprintf("view %q", v.Name)
		if pv.time, err = timeField(fs, v.Timestamp, where); err != nil {
			return nil, err
		}
		pv.created = -1
		if v.Created != "" {
			if pv.created, err = timeField(fs, v.Created, where); err != nil {
				return nil, err
			}
		}
		skip := map[string]bool{v.Timestamp: true, v.Created: true}
		for _, k := range v.Keys {
			if len(cols.Keys) > 0 && !keySet[k] {
				return nil, fmt.Errorf("%w: view %q key %q is not among the entity keys %q", ErrPIT, v.Name, k, cols.Keys)
			}
			ei := es.FieldIndices(k)
			fi := fs.FieldIndices(k)
			if len(ei) != 1 {
				return nil, fmt.Errorf("%w: entity rows have no column %q (key of view %q)", ErrPIT, k, v.Name)
			}
			if len(fi) != 1 {
				return nil, fmt.Errorf("%w: view %q has no key column %q", ErrPIT, v.Name, k)
			}
			ek, fk := keyKind(es.Field(ei[0]).Type), keyKind(fs.Field(fi[0]).Type)
			if ek == 0 || fk == 0 || ek != fk {
				return nil, fmt.Errorf("%w: key %q: entity type %s and view %q type %s cannot be compared",
					ErrPIT, k, es.Field(ei[0]).Type, v.Name, fs.Field(fi[0]).Type)
			}
			pv.eKeys = append(pv.eKeys, ei[0])
			pv.fKeys = append(pv.fKeys, fi[0])
			skip[k] = true
		}
		feats := v.Features
		if feats == nil {
			for _, f := range fs.Fields() {
				if !skip[f.Name] {
					feats = append(feats, f.Name)
				}
			}
		}
		for _, name := range feats {
			fi := fs.FieldIndices(name)
			if len(fi) != 1 {
				return nil, fmt.Errorf("%w: view %q has no feature column %q", ErrPIT, v.Name, name)
			}
			out := v.Name + "__" + name
			if names[out] {
				return nil, fmt.Errorf("%w: output column %q appears twice", ErrPIT, out)
			}
			names[out] = true
			pv.feats = append(pv.feats, fi[0])
			f := fs.Field(fi[0])
			fields = append(fields, arrow.Field{Name: out, Type: f.Type, Nullable: true, Metadata: f.Metadata})
		}
		j.views = append(j.views, pv)
	}
	md := es.Metadata()
	j.schema = arrow.NewSchema(fields, &md)
	return j, nil
}

// pitJoin is the source PointInTimeJoin returns.
type pitJoin struct {
	entities     pipeline.Source
	entitySchema *arrow.Schema
	eTime        int
	views        []*pitViewPlan
	opts         PITOptions
	schema       *arrow.Schema
}

// pitViewPlan is one view, checked against the schemas.
type pitViewPlan struct {
	view         PITView
	schema       *arrow.Schema
	eKeys, fKeys []int // key column indices in the entity and feature schemas
	time         int
	created      int // -1: none
	feats        []int
}

func (j *pitJoin) Schema(ctx context.Context) (*arrow.Schema, error) { return j.schema, nil }

func (j *pitJoin) mem() memory.Allocator {
	if j.opts.Allocator != nil {
		return j.opts.Allocator
	}
	return memory.DefaultAllocator
}

func (j *pitJoin) workers() int {
	if j.opts.Workers > 0 {
		return j.opts.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Batches runs the join and yields its output in entity input order.
func (j *pitJoin) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		r := &pitRun{j: j, mem: j.mem(), start: time.Now(), seed: maphash.MakeSeed()}
		defer r.close()
		if err := r.prepare(ctx); err != nil {
			yield(nil, err)
			return
		}
		stopped := false
		err := r.stream(ctx, func(b arrow.RecordBatch) bool {
			if !yield(b, nil) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil && !stopped {
			yield(nil, err)
			return
		}
		if !stopped {
			r.progress(true)
		}
	}
}

// pitRun is one read of the join's output.
type pitRun struct {
	j        *pitJoin
	mem      memory.Allocator
	start    time.Time
	seed     maphash.Seed
	views    []*pitViewRun
	budget   int64 // what is left of MemoryBudget; <0 when there is none
	featRows atomic.Int64
	entRows  int64
	spilled  int
	tmp      string // spill folder, "" until needed
}

// pitViewRun is one view's state in a run: an in-memory index, or spill
// partitions.
type pitViewRun struct {
	plan  *pitViewPlan
	index *pitIndex
	spill *pitSpill
}

func (r *pitRun) progress(done bool) {
	if r.j.opts.Progress == nil {
		return
	}
	r.j.opts.Progress(PITProgress{FeatureRows: r.featRows.Load(), EntityRows: r.entRows,
		SpilledViews: r.spilled, Elapsed: time.Since(r.start), Done: done})
}

func (r *pitRun) close() {
	for _, v := range r.views {
		if v.index != nil {
			v.index.release()
		}
		if v.spill != nil {
			v.spill.close()
		}
	}
	r.views = nil
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
	}
}

// prepare reads every view: into an index when it fits the budget, into
// spill partitions otherwise; then partitions the entity rows for the
// spilled views and joins each of their partitions.
func (r *pitRun) prepare(ctx context.Context) error {
	r.budget = -1
	if r.j.opts.MemoryBudget > 0 {
		r.budget = r.j.opts.MemoryBudget
	}
	var spilled []*pitViewRun
	for _, p := range r.j.views {
		v := &pitViewRun{plan: p}
		r.views = append(r.views, v)
		if err := r.readView(ctx, v); err != nil {
			return fmt.Errorf("features: view %q: %w", p.view.Name, err)
		}
		if v.spill != nil {
			spilled = append(spilled, v)
			r.spilled++
		}
		r.progress(false)
	}
	if len(spilled) == 0 {
		return nil
	}
	if err := r.partitionEntities(ctx, spilled); err != nil {
		return err
	}
	for _, v := range spilled {
		if err := r.joinPartitions(ctx, v); err != nil {
			return fmt.Errorf("features: view %q: %w", v.plan.view.Name, err)
		}
	}
	return nil
}

// batchBytes is the size of b's buffers.
func batchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		n += int64(c.Data().SizeInBytes())
	}
	return n + 24*b.NumRows()
}

// readView reads v's feature rows, projecting to keys, times and features.
func (r *pitRun) readView(ctx context.Context, v *pitViewRun) error {
	p := v.plan
	var held []arrow.RecordBatch
	var used int64
	defer func() {
		for _, b := range held {
			b.Release()
		}
	}()
	for b, err := range p.view.Source.Batches(ctx) {
		if err != nil {
			return err
		}
		pb := projectFeatureBatch(b, p)
		b.Release()
		r.featRows.Add(pb.NumRows())
		if v.spill != nil {
			err := v.spill.addFeatures(pb)
			pb.Release()
			if err != nil {
				return err
			}
			continue
		}
		held = append(held, pb)
		used += batchBytes(pb)
		if r.budget >= 0 && used > r.budget {
			// Over budget: spill this view from here on.
			if err := r.startSpill(v, used, p.view.Source); err != nil {
				return err
			}
			for _, hb := range held {
				if err := v.spill.addFeatures(hb); err != nil {
					return err
				}
			}
			for _, hb := range held {
				hb.Release()
			}
			held = nil
		}
	}
	if v.spill != nil {
		return v.spill.finishFeatures()
	}
	idx, err := buildIndex(ctx, r.mem, held, p, r.j.workers())
	if err != nil {
		return err
	}
	v.index = idx
	if r.budget >= 0 {
		r.budget -= used
	}
	return nil
}

// Projected feature batches hold the keys, then the event time, then the
// created time when there is one, then the features.
func projectFeatureBatch(b arrow.RecordBatch, p *pitViewPlan) arrow.RecordBatch {
	var idx []int
	idx = append(idx, p.fKeys...)
	idx = append(idx, p.time)
	if p.created >= 0 {
		idx = append(idx, p.created)
	}
	idx = append(idx, p.feats...)
	fields := make([]arrow.Field, len(idx))
	cols := make([]arrow.Array, len(idx))
	for i, c := range idx {
		fields[i] = b.Schema().Field(c)
		cols[i] = b.Column(c)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
}

// ---- keys and times ----

// keyKind groups key types whose values compare with each other: 1 for
// strings and binaries, 2 for integers, 3 for booleans, 4 for dates and
// timestamps; 0 for types that cannot be keys.
func keyKind(dt arrow.DataType) int {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.STRING_VIEW, arrow.BINARY_VIEW:
		return 1
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return 2
	case arrow.BOOL:
		return 3
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP:
		return 4
	}
	return 0
}

func timeField(s *arrow.Schema, name, where string) (int, error) {
	if name == "" {
		return 0, fmt.Errorf("%w: %s: no time column named", ErrPIT, where)
	}
	idx := s.FieldIndices(name)
	if len(idx) != 1 {
		return 0, fmt.Errorf("%w: %s have no column %q", ErrPIT, where, name)
	}
	switch s.Field(idx[0]).Type.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return idx[0], nil
	}
	return 0, fmt.Errorf("%w: %s: time column %q has type %s, want a timestamp or date", ErrPIT, where, name, s.Field(idx[0]).Type)
}

// nullTime marks a null time.
const nullTime = math.MinInt64

// times returns arr's values in nanoseconds since the epoch, nullTime for
// nulls.
func times(arr arrow.Array, dst []int64) []int64 {
	n := arr.Len()
	dst = slices.Grow(dst[:0], n)[:n]
	switch a := arr.(type) {
	case *array.Timestamp:
		mul := int64(a.DataType().(*arrow.TimestampType).Unit.Multiplier())
		for i, v := range a.TimestampValues() {
			dst[i] = int64(v) * mul
		}
	case *array.Date32:
		for i, v := range a.Date32Values() {
			dst[i] = int64(v) * 86400e9
		}
	case *array.Date64:
		for i, v := range a.Date64Values() {
			dst[i] = int64(v) * 1e6
		}
	}
	if arr.NullN() > 0 {
		for i := range n {
			if arr.IsNull(i) {
				dst[i] = nullTime
			}
		}
	}
	return dst
}

// timeAt returns row i of a time column in nanoseconds.
func timeAt(arr arrow.Array, i int) int64 {
	switch a := arr.(type) {
	case *array.Timestamp:
		return int64(a.Value(i)) * int64(a.DataType().(*arrow.TimestampType).Unit.Multiplier())
	case *array.Date32:
		return int64(a.Value(i)) * 86400e9
	case *array.Date64:
		return int64(a.Value(i)) * 1e6
	}
	return 0
}

// rawValues is the whole value buffer of a binary-like array, which its
// (absolute) value offsets index.
func rawValues(a arrow.Array) []byte {
	if b := a.Data().Buffers()[2]; b != nil {
		return b.Bytes()
	}
	return nil
}

// keyReader encodes the key of a row as bytes: equal keys, equal bytes.
type keyReader struct {
	cols   []arrow.Array
	raw    bool   // one key column: strings and binaries are not length-prefixed
	single []byte // one string key: its bytes, with offsets
	offs32 []int32
	offs64 []int64
}

func newKeyReader(cols []arrow.Array) *keyReader {
	k := &keyReader{cols: cols, raw: len(cols) == 1}
	if len(cols) == 1 {
		switch a := cols[0].(type) {
		case *array.String:
			k.single, k.offs32 = rawValues(a), a.ValueOffsets()
		case *array.Binary:
			k.single, k.offs32 = rawValues(a), a.ValueOffsets()
		case *array.LargeString:
			k.single, k.offs64 = rawValues(a), a.ValueOffsets()
		case *array.LargeBinary:
			k.single, k.offs64 = rawValues(a), a.ValueOffsets()
		}
	}
	return k
}

// key returns row i's key bytes (valid until the next call with buf) and
// false when a key column is null.
func (k *keyReader) key(buf []byte, i int) ([]byte, bool) {
	if k.offs32 != nil {
		if k.cols[0].IsNull(i) {
			return nil, false
		}
		return k.single[k.offs32[i]:k.offs32[i+1]], true
	}
	if k.offs64 != nil {
		if k.cols[0].IsNull(i) {
			return nil, false
		}
		return k.single[k.offs64[i]:k.offs64[i+1]], true
	}
	buf = buf[:0]
	for _, c := range k.cols {
		if c.IsNull(i) {
			return nil, false
		}
		switch a := c.(type) {
		case *array.String:
			if !k.raw {
				buf = binary.AppendUvarint(buf, uint64(a.ValueLen(i)))
			}
			buf = append(buf, a.Value(i)...)
		case *array.LargeString:
			if !k.raw {
				buf = binary.AppendUvarint(buf, uint64(a.ValueLen(i)))
			}
			buf = append(buf, a.Value(i)...)
		case *array.StringView:
			if !k.raw {
				buf = binary.AppendUvarint(buf, uint64(len(a.Value(i))))
			}
			buf = append(buf, a.Value(i)...)
		case *array.Binary:
			if !k.raw {
				buf = binary.AppendUvarint(buf, uint64(a.ValueLen(i)))
			}
			buf = append(buf, a.Value(i)...)
		case *array.LargeBinary:
			if !k.raw {
				buf = binary.AppendUvarint(buf, uint64(len(a.Value(i))))
			}
			buf = append(buf, a.Value(i)...)
		case *array.BinaryView:
			if !k.raw {
				buf = binary.AppendUvarint(buf, uint64(len(a.Value(i))))
			}
			buf = append(buf, a.Value(i)...)
		case *array.Boolean:
			if a.Value(i) {
				buf = append(buf, 1)
			} else {
				buf = append(buf, 0)
			}
		case *array.Int8:
			buf = appendIntKey(buf, int64(a.Value(i)), false)
		case *array.Int16:
			buf = appendIntKey(buf, int64(a.Value(i)), false)
		case *array.Int32:
			buf = appendIntKey(buf, int64(a.Value(i)), false)
		case *array.Int64:
			buf = appendIntKey(buf, a.Value(i), false)
		case *array.Uint8:
			buf = appendIntKey(buf, int64(a.Value(i)), false)
		case *array.Uint16:
			buf = appendIntKey(buf, int64(a.Value(i)), false)
		case *array.Uint32:
			buf = appendIntKey(buf, int64(a.Value(i)), false)
		case *array.Uint64:
			v := a.Value(i)
			buf = appendIntKey(buf, int64(v), v > math.MaxInt64)
		default: // dates and timestamps
			buf = binary.LittleEndian.AppendUint64(buf, uint64(timeAt(c, i)))
		}
	}
	return buf, true
}

// appendIntKey encodes an integer so that equal values of any integer type
// encode alike; big is set for uint64 values above MaxInt64.
func appendIntKey(buf []byte, v int64, big bool) []byte {
	if big {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	return binary.LittleEndian.AppendUint64(buf, uint64(v))
}

func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// ---- the in-memory index ----

// pitIndex holds one view's feature rows grouped by key, each group sorted
// by event time with ties resolved (one row per key and event time).
type pitIndex struct {
	keys  map[string]int32 // keys of 8 bytes or more
	short map[uint64]int32 // keys below 8 bytes, packed by shortKey
	start []int32          // group k is [start[k], start[k+1]) of times and rows
	times []int64
	rows  []int32       // feature row (position in cols) of each entry
	cols  []arrow.Array // the features, all feature rows concatenated
	ttl   int64         // nanoseconds; 0: none
}

// shortKey packs a key of fewer than 8 bytes, with its length, into a
// uint64, which hashes faster than a string.
func shortKey(b []byte) uint64 {
	var v uint64
	for i, c := range b {
		v |= uint64(c) << (8 * i)
	}
	return v | uint64(len(b))<<56
}

// id returns the key id of kb.
func (x *pitIndex) id(kb []byte) (int32, bool) {
	if len(kb) < 8 {
		id, ok := x.short[shortKey(kb)]
		return id, ok
	}
	id, ok := x.keys[bytesString(kb)]
	return id, ok
}

func (x *pitIndex) release() {
	for _, c := range x.cols {
		c.Release()
	}
	x.cols = nil
}

// buildIndex indexes batches (projected feature batches, which it does not
// release).
func buildIndex(ctx context.Context, mem memory.Allocator, batches []arrow.RecordBatch, p *pitViewPlan, workers int) (*pitIndex, error) {
	nk := len(p.fKeys)
	tcol := nk
	ccol, fcol := -1, nk+1
	if p.created >= 0 {
		ccol, fcol = nk+1, nk+2
	}
	var total int
	for _, b := range batches {
		total += int(b.NumRows())
	}
	if total > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d feature rows, at most %d can be joined in memory: set a memory budget", ErrPIT, total, math.MaxInt32)
	}
	x := &pitIndex{keys: make(map[string]int32), short: make(map[uint64]int32), ttl: int64(p.view.TTL)}
	type entry struct {
		t, c int64
		row  int32
		key  int32
	}
	entries := make([]entry, 0, total)
	var counts []int32
	var buf []byte
	var ts, cs []int64
	row := int32(0)
	for _, b := range batches {
		kr := newKeyReader(b.Columns()[:nk])
		ts = times(b.Column(tcol), ts)
		if ccol >= 0 {
			cs = times(b.Column(ccol), cs)
		}
		for i := range int(b.NumRows()) {
			r := row
			row++
			if ts[i] == nullTime {
				continue
			}
			kb, ok := kr.key(buf, i)
			if !ok {
				continue
			}
			buf = kb[:0:cap(kb)]
			if kr.offs32 != nil || kr.offs64 != nil {
				buf = nil
			}
			id, found := x.id(kb)
			if !found {
				id = int32(len(counts))
				if len(kb) < 8 {
					x.short[shortKey(kb)] = id
				} else {
					x.keys[string(kb)] = id
				}
				counts = append(counts, 0)
			}
			counts[id]++
			c := int64(nullTime)
			if ccol >= 0 {
				c = cs[i]
			}
			entries = append(entries, entry{t: ts[i], c: c, row: r, key: id})
		}
	}
	// Counting sort by key, then sort each group by time in parallel.
	x.start = make([]int32, len(counts)+1)
	for k, c := range counts {
		x.start[k+1] = x.start[k] + c
	}
	sorted := make([]entry, len(entries))
	pos := slices.Clone(x.start[:len(counts)])
	for _, e := range entries {
		sorted[pos[e.key]] = e
		pos[e.key]++
	}
	entries = nil
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	const chunk = 64
	for lo := 0; lo < len(counts); lo += chunk {
		hi := min(lo+chunk, len(counts))
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			for k := lo; k < hi; k++ {
				slices.SortFunc(sorted[x.start[k]:x.start[k+1]], func(a, b entry) int {
					if c := cmp.Compare(a.t, b.t); c != 0 {
						return c
					}
					if c := cmp.Compare(a.c, b.c); c != 0 {
						return c
					}
					return cmp.Compare(a.row, b.row)
				})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Keep the last entry of each run of equal times.
	x.times = make([]int64, 0, len(sorted))
	x.rows = make([]int32, 0, len(sorted))
	newStart := make([]int32, len(x.start))
	for k := range len(counts) {
		newStart[k] = int32(len(x.times))
		grp := sorted[x.start[k]:x.start[k+1]]
		for i, e := range grp {
			if i+1 < len(grp) && grp[i+1].t == e.t {
				continue
			}
			x.times = append(x.times, e.t)
			x.rows = append(x.rows, e.row)
		}
	}
	newStart[len(counts)] = int32(len(x.times))
	x.start = newStart
	// Concatenate the feature columns.
	nf := len(p.feats)
	x.cols = make([]arrow.Array, nf)
	for f := range nf {
		parts := make([]arrow.Array, len(batches))
		for i, b := range batches {
			parts[i] = b.Column(fcol + f)
		}
		if len(parts) == 0 {
			x.cols[f] = array.MakeArrayOfNull(mem, p.schema.Field(p.feats[f]).Type, 0)
			continue
		}
		if len(parts) == 1 {
			parts[0].Retain()
			x.cols[f] = parts[0]
			continue
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			x.release()
			return nil, err
		}
		x.cols[f] = c
	}
	return x, nil
}

// lookup fills rows[i] with the feature row for entity row i, -1 for none.
func (x *pitIndex) lookup(keys []arrow.Array, etimes []int64, rows []int32) {
	kr := newKeyReader(keys)
	var buf []byte
	last := make([]int32, len(x.start))
	for i, t := range etimes {
		rows[i] = -1
		if t == nullTime {
			continue
		}
		kb, ok := kr.key(buf, i)
		if !ok {
			continue
		}
		if kr.offs32 == nil && kr.offs64 == nil {
			buf = kb[:0:cap(kb)]
		}
		id, found := x.id(kb)
		if !found {
			continue
		}
		lo, hi := int(x.start[id]), int(x.start[id+1])
		// Entity rows often come in time order: try the entry found last
		// for this key before searching.
		e := int(last[id])
		if !(e >= lo && x.times[e] <= t && (e+1 == hi || x.times[e+1] > t)) {
			n := sortSearch(x.times[lo:hi], t)
			if n == 0 {
				continue
			}
			e = lo + n - 1
			last[id] = int32(e)
		}
		if x.ttl > 0 && x.times[e] < t-x.ttl {
			continue
		}
		rows[i] = x.rows[e]
	}
}

// sortSearch returns the number of entries of ts (sorted) at most t.
func sortSearch(ts []int64, t int64) int {
	lo, hi := 0, len(ts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ts[m] <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// ---- gathering feature values ----

// gather returns the values of src at rows, null where rows[i] < 0.
func gather(mem memory.Allocator, src arrow.Array, rows []int32) (arrow.Array, error) {
	n := len(rows)
	dt := src.DataType()
	valid := memory.NewResizableBuffer(mem)
	valid.Resize(int(bitutil.BytesForBits(int64(n))))
	vb := valid.Bytes()
	clear(vb)
	nulls := 0
	for i, r := range rows {
		if r >= 0 && src.IsValid(int(r)) {
			bitutil.SetBit(vb, i)
		} else {
			nulls++
		}
	}
	if fw, ok := dt.(arrow.FixedWidthDataType); ok && fw.BitWidth()%8 == 0 && dt.ID() != arrow.DICTIONARY && len(src.Data().Buffers()) == 2 {
		w := fw.BitWidth() / 8
		data := memory.NewResizableBuffer(mem)
		data.Resize(n * w)
		db := data.Bytes()
		sd := src.Data()
		sb := sd.Buffers()[1].Bytes()[sd.Offset()*w:]
		switch w {
		case 8:
			gatherFixed(unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(db))), n),
				unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(sb))), len(sb)/8), rows)
		case 4:
			gatherFixed(unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(db))), n),
				unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(sb))), len(sb)/4), rows)
		default:
			for i, r := range rows {
				if r >= 0 {
					copy(db[i*w:(i+1)*w], sb[int(r)*w:int(r+1)*w])
				} else {
					clear(db[i*w : (i+1)*w])
				}
			}
		}
		d := array.NewData(dt, n, []*memory.Buffer{valid, data}, nil, nulls, 0)
		defer d.Release()
		valid.Release()
		data.Release()
		return array.MakeFromData(d), nil
	}
	switch s := src.(type) {
	case *array.String:
		return gatherBinary(mem, dt, s.ValueOffsets(), rawValues(s), rows, valid, nulls), nil
	case *array.Binary:
		return gatherBinary(mem, dt, s.ValueOffsets(), rawValues(s), rows, valid, nulls), nil
	}
	valid.Release()
	// Anything else: arrow's take kernel, with null indices.
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	ib.Reserve(n)
	for _, r := range rows {
		if r >= 0 {
			ib.UnsafeAppend(int64(r))
		} else {
			ib.UnsafeAppendBoolToBitmap(false)
		}
	}
	idx := ib.NewArray()
	defer idx.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	return compute.TakeArray(ctx, src, idx)
}

func gatherFixed[T uint32 | uint64](dst, src []T, rows []int32) {
	for i, r := range rows {
		if r >= 0 {
			dst[i] = src[r]
		} else {
			dst[i] = 0
		}
	}
}

func gatherBinary(mem memory.Allocator, dt arrow.DataType, offs []int32, vals []byte, rows []int32, valid *memory.Buffer, nulls int) arrow.Array {
	n := len(rows)
	ob := memory.NewResizableBuffer(mem)
	ob.Resize((n + 1) * 4)
	o := unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(ob.Bytes()))), n+1)
	size := 0
	for i, r := range rows {
		o[i] = int32(size)
		if r >= 0 {
			size += int(offs[r+1] - offs[r])
		}
	}
	o[n] = int32(size)
	vb := memory.NewResizableBuffer(mem)
	vb.Resize(size)
	v := vb.Bytes()
	for i, r := range rows {
		if r >= 0 {
			copy(v[o[i]:o[i+1]], vals[offs[r]:offs[r+1]])
		}
	}
	d := array.NewData(dt, n, []*memory.Buffer{valid, ob, vb}, nil, nulls, 0)
	valid.Release()
	ob.Release()
	vb.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// ---- streaming the output ----

type pitTask struct {
	seq int
	in  arrow.RecordBatch
	out arrow.RecordBatch
	err error
	// spill slices pulled for this batch, per spilled view: the rows of
	// each partition it needs, in order.
	pulled [][]arrow.RecordBatch
	parts  [][]uint16
}

// stream joins the entity batches in parallel and emits them in order.
func (r *pitRun) stream(ctx context.Context, emit func(arrow.RecordBatch) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := r.workers()
	in := make(chan *pitTask)
	done := make(chan *pitTask, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range in {
				t.out, t.err = r.joinBatch(ctx, t)
				t.in.Release()
				t.in = nil
				done <- t
			}
		}()
	}
	var readErr error
	sem := make(chan struct{}, 2*workers)
	go func() {
		defer close(in)
		seq := 0
		for b, err := range r.j.entities.Batches(ctx) {
			if err != nil {
				readErr = err
				return
			}
			t := &pitTask{seq: seq, in: b}
			seq++
			// Spilled views' rows are pulled here, in input order.
			if err := r.pullSpilled(ctx, t); err != nil {
				b.Release()
				readErr = err
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				t.release()
				b.Release()
				return
			}
			select {
			case in <- t:
			case <-ctx.Done():
				t.release()
				b.Release()
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(done)
	}()
	pending := map[int]*pitTask{}
	next := 0
	var err error
	stopped := false
	for t := range done {
		<-sem
		if err != nil || stopped {
			if t.out != nil {
				t.out.Release()
			}
			continue
		}
		if t.err != nil {
			err = t.err
			cancel()
			continue
		}
		pending[t.seq] = t
		for {
			t, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			r.entRows += t.out.NumRows()
			if !emit(t.out) {
				stopped = true
				cancel()
				break
			}
			r.progress(false)
		}
	}
	for _, t := range pending {
		t.out.Release()
	}
	if err != nil {
		return err
	}
	if stopped {
		return nil
	}
	if readErr != nil {
		return readErr
	}
	return ctx.Err()
}

func (r *pitRun) workers() int { return r.j.workers() }

func (t *pitTask) release() {
	for _, ps := range t.pulled {
		for _, b := range ps {
			if b != nil {
				b.Release()
			}
		}
	}
	t.pulled = nil
}

// joinBatch joins one entity batch with every view.
func (r *pitRun) joinBatch(ctx context.Context, t *pitTask) (arrow.RecordBatch, error) {
	defer t.release()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := t.in
	n := int(b.NumRows())
	cols := slices.Clone(b.Columns())
	for _, c := range cols {
		c.Retain()
	}
	fail := func(err error) (arrow.RecordBatch, error) {
		for _, c := range cols {
			c.Release()
		}
		return nil, err
	}
	etimes := times(b.Column(r.j.eTime), nil)
	rows := make([]int32, n)
	si := 0
	for _, v := range r.views {
		if v.index != nil {
			keys := make([]arrow.Array, len(v.plan.eKeys))
			for i, k := range v.plan.eKeys {
				keys[i] = b.Column(k)
			}
			v.index.lookup(keys, etimes, rows)
			for _, src := range v.index.cols {
				a, err := gather(r.mem, src, rows)
				if err != nil {
					return fail(err)
				}
				cols = append(cols, a)
			}
			continue
		}
		out, err := assembleSpilled(r.mem, v, t.pulled[si], t.parts[si], n)
		si++
		if err != nil {
			return fail(err)
		}
		cols = append(cols, out...)
	}
	rec := array.NewRecordBatch(r.j.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec, nil
}

// ---- spilling ----

// pitSpill is one view joined through partition files.
type pitSpill struct {
	dir      string
	nparts   int
	mem      memory.Allocator
	seed     maphash.Seed
	plan     *pitViewPlan
	fschema  *arrow.Schema // projected feature batches
	fw       []*spillWriter
	ew       []*spillWriter // entity keys and times
	results  []*spillReader // joined features per partition, entity order
	outSch   *arrow.Schema
	workers  int
	featPath []string
	entPath  []string
	resPath  []string
}

type spillWriter struct {
	schema *arrow.Schema
	f      *os.File
	bw     *bufio.Writer
	w      *ipc.Writer
}

func newSpillWriter(path string, schema *arrow.Schema, mem memory.Allocator) (*spillWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	return &spillWriter{schema: schema, f: f, bw: bw, w: ipc.NewWriter(bw, ipc.WithSchema(schema), ipc.WithAllocator(mem))}, nil
}

func (s *spillWriter) close() error {
	err := s.w.Close()
	if e := s.bw.Flush(); err == nil {
		err = e
	}
	if e := s.f.Close(); err == nil {
		err = e
	}
	return err
}

type spillReader struct {
	f   *os.File
	r   *ipc.Reader
	cur arrow.RecordBatch
	off int64
}

func openSpillReader(path string, mem memory.Allocator) (*spillReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := ipc.NewReader(bufio.NewReaderSize(f, 1<<16), ipc.WithAllocator(mem))
	if err != nil {
		f.Close()
		return nil, err
	}
	return &spillReader{f: f, r: r}, nil
}

func (s *spillReader) close() {
	if s.cur != nil {
		s.cur.Release()
		s.cur = nil
	}
	s.r.Release()
	s.f.Close()
}

// take returns the next n rows as zero-copy slices of the file's batches.
func (s *spillReader) take(n int64, out []arrow.RecordBatch) ([]arrow.RecordBatch, error) {
	for n > 0 {
		if s.cur == nil || s.off == s.cur.NumRows() {
			if s.cur != nil {
				s.cur.Release()
				s.cur = nil
			}
			if !s.r.Next() {
				if err := s.r.Err(); err != nil {
					return out, err
				}
				return out, errors.New("features: spill file ended early")
			}
			s.cur = s.r.RecordBatch()
			s.cur.Retain()
			s.off = 0
		}
		k := min(n, s.cur.NumRows()-s.off)
		out = append(out, s.cur.NewSlice(s.off, s.off+k))
		s.off += k
		n -= k
	}
	return out, nil
}

// startSpill switches v to spilling, with a partition count from how much
// of the input the budget held.
func (r *pitRun) startSpill(v *pitViewRun, used int64, src pipeline.Source) error {
	if r.tmp == "" {
		dir, err := os.MkdirTemp(r.j.opts.TempDir, "kiln-pitjoin-")
		if err != nil {
			return err
		}
		r.tmp = dir
	}
	nparts := 16
	if bc, ok := src.(pipeline.ByteCounter); ok && bc.TotalBytes() > 0 && bc.BytesRead() > 0 {
		est := float64(used) * float64(bc.TotalBytes()) / float64(bc.BytesRead())
		nparts = int(math.Ceil(est/float64(max(r.budget, 1)))) + 1
	}
	nparts = max(2, min(nparts, 256))
	p := v.plan
	sp := &pitSpill{nparts: nparts, mem: r.mem, seed: r.seed, plan: p, workers: r.workers()}
	sp.dir = fmt.Sprintf("%s/v%d", r.tmp, len(r.views)-1)
	if err := os.Mkdir(sp.dir, 0o700); err != nil {
		return err
	}
	var fields []arrow.Field
	for _, k := range p.fKeys {
		fields = append(fields, p.schema.Field(k))
	}
	fields = append(fields, p.schema.Field(p.time))
	if p.created >= 0 {
		fields = append(fields, p.schema.Field(p.created))
	}
	var outFields []arrow.Field
	for _, f := range p.feats {
		fields = append(fields, p.schema.Field(f))
		fl := p.schema.Field(f)
		fl.Nullable = true
		outFields = append(outFields, fl)
	}
	sp.fschema = arrow.NewSchema(fields, nil)
	sp.outSch = arrow.NewSchema(outFields, nil)
	v.spill = sp
	for i := range nparts {
		path := fmt.Sprintf("%s/f%03d.arrows", sp.dir, i)
		w, err := newSpillWriter(path, sp.fschema, r.mem)
		if err != nil {
			return err
		}
		sp.fw = append(sp.fw, w)
		sp.featPath = append(sp.featPath, path)
	}
	return nil
}

// partOf returns each row's partition, noPart for rows with a null key.
func (sp *pitSpill) partOf(keys []arrow.Array, n int) []uint16 {
	parts := make([]uint16, n)
	kr := newKeyReader(keys)
	var buf []byte
	for i := range n {
		kb, ok := kr.key(buf, i)
		if !ok {
			parts[i] = noPart
			continue
		}
		if kr.offs32 == nil && kr.offs64 == nil {
			buf = kb[:0:cap(kb)]
		}
		parts[i] = uint16(maphash.Bytes(sp.seed, kb) % uint64(sp.nparts))
	}
	return parts
}

const noPart = math.MaxUint16

// scatter writes b's rows to the writers of their partitions.
func scatter(mem memory.Allocator, b arrow.RecordBatch, parts []uint16, ws []*spillWriter) error {
	idx := make([][]int32, len(ws))
	for i, p := range parts {
		if p != noPart {
			idx[p] = append(idx[p], int32(i))
		}
	}
	for p, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		cols := make([]arrow.Array, b.NumCols())
		for c := range cols {
			a, err := gather(mem, b.Column(c), rows)
			if err != nil {
				for _, x := range cols[:c] {
					x.Release()
				}
				return err
			}
			cols[c] = a
		}
		rec := array.NewRecordBatch(ws[p].schema, cols, int64(len(rows)))
		for _, c := range cols {
			c.Release()
		}
		err := ws[p].w.Write(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

func (sp *pitSpill) addFeatures(b arrow.RecordBatch) error {
	nk := len(sp.plan.fKeys)
	parts := sp.partOf(b.Columns()[:nk], int(b.NumRows()))
	// Re-label the batch with the spill schema (same columns).
	rec := array.NewRecordBatch(sp.fschema, b.Columns(), b.NumRows())
	defer rec.Release()
	return scatter(sp.mem, rec, parts, sp.fw)
}

func (sp *pitSpill) finishFeatures() error {
	var err error
	for _, w := range sp.fw {
		if e := w.close(); err == nil {
			err = e
		}
	}
	sp.fw = nil
	return err
}

func (sp *pitSpill) close() {
	for _, w := range sp.fw {
		w.close()
	}
	for _, w := range sp.ew {
		w.close()
	}
	for _, rd := range sp.results {
		if rd != nil {
			rd.close()
		}
	}
	sp.fw, sp.ew, sp.results = nil, nil, nil
}

// entitySpillSchema is the schema of a view's entity partitions: its keys
// and the entity time.
func (r *pitRun) entitySpillSchema(p *pitViewPlan) *arrow.Schema {
	var fields []arrow.Field
	es := r.j.entitySchema
	for _, k := range p.eKeys {
		fields = append(fields, es.Field(k))
	}
	fields = append(fields, es.Field(r.j.eTime))
	return arrow.NewSchema(fields, nil)
}

// partitionEntities writes the keys and times of the entity rows to the
// partitions of every spilled view, in input order.
func (r *pitRun) partitionEntities(ctx context.Context, spilled []*pitViewRun) error {
	for _, v := range spilled {
		sp := v.spill
		sch := r.entitySpillSchema(v.plan)
		for i := range sp.nparts {
			path := fmt.Sprintf("%s/e%03d.arrows", sp.dir, i)
			w, err := newSpillWriter(path, sch, r.mem)
			if err != nil {
				return err
			}
			sp.ew = append(sp.ew, w)
			sp.entPath = append(sp.entPath, path)
		}
	}
	for b, err := range r.j.entities.Batches(ctx) {
		if err != nil {
			return err
		}
		for _, v := range spilled {
			sp := v.spill
			keys := make([]arrow.Array, 0, len(v.plan.eKeys)+1)
			for _, k := range v.plan.eKeys {
				keys = append(keys, b.Column(k))
			}
			parts := sp.partOf(keys, int(b.NumRows()))
			keys = append(keys, b.Column(r.j.eTime))
			rec := array.NewRecordBatch(sp.ew[0].schema, keys, b.NumRows())
			err := scatter(r.mem, rec, parts, sp.ew)
			rec.Release()
			if err != nil {
				b.Release()
				return err
			}
		}
		b.Release()
	}
	for _, v := range spilled {
		var err error
		for _, w := range v.spill.ew {
			if e := w.close(); err == nil {
				err = e
			}
		}
		v.spill.ew = nil
		if err != nil {
			return err
		}
	}
	return nil
}

// joinPartitions joins each partition of v in memory, one at a time, and
// writes the joined feature columns (in entity order) to a result file.
func (r *pitRun) joinPartitions(ctx context.Context, v *pitViewRun) error {
	sp := v.spill
	p := v.plan
	// The projected layout the index expects: keys, time, created, features.
	for i := range sp.nparts {
		if err := ctx.Err(); err != nil {
			return err
		}
		feats, err := readAll(sp.featPath[i], sp.mem)
		if err != nil {
			return err
		}
		idx, err := buildIndex(ctx, sp.mem, feats, p, sp.workers)
		for _, b := range feats {
			b.Release()
		}
		if err != nil {
			return err
		}
		err = func() error {
			defer idx.release()
			rd, err := openSpillReader(sp.entPath[i], sp.mem)
			if err != nil {
				return err
			}
			defer rd.close()
			resPath := fmt.Sprintf("%s/r%03d.arrows", sp.dir, i)
			w, err := newSpillWriter(resPath, sp.outSch, sp.mem)
			if err != nil {
				return err
			}
			sp.resPath = append(sp.resPath, resPath)
			nk := len(p.eKeys)
			var etimes []int64
			var rows []int32
			for rd.r.Next() {
				b := rd.r.RecordBatch()
				n := int(b.NumRows())
				etimes = times(b.Column(nk), etimes)
				rows = slices.Grow(rows[:0], n)[:n]
				idx.lookup(b.Columns()[:nk], etimes, rows)
				cols := make([]arrow.Array, len(idx.cols))
				for f, src := range idx.cols {
					if cols[f], err = gather(sp.mem, src, rows); err != nil {
						for _, c := range cols[:f] {
							c.Release()
						}
						w.close()
						return err
					}
				}
				rec := array.NewRecordBatch(sp.outSch, cols, int64(n))
				for _, c := range cols {
					c.Release()
				}
				err := w.w.Write(rec)
				rec.Release()
				if err != nil {
					w.close()
					return err
				}
			}
			if err := rd.r.Err(); err != nil {
				w.close()
				return err
			}
			return w.close()
		}()
		if err != nil {
			return err
		}
		os.Remove(sp.featPath[i])
		os.Remove(sp.entPath[i])
	}
	for _, path := range sp.resPath {
		rd, err := openSpillReader(path, sp.mem)
		if err != nil {
			return err
		}
		sp.results = append(sp.results, rd)
	}
	return nil
}

func readAll(path string, mem memory.Allocator) ([]arrow.RecordBatch, error) {
	rd, err := openSpillReader(path, mem)
	if err != nil {
		return nil, err
	}
	defer rd.close()
	var out []arrow.RecordBatch
	for rd.r.Next() {
		b := rd.r.RecordBatch()
		b.Retain()
		out = append(out, b)
	}
	if err := rd.r.Err(); err != nil {
		for _, b := range out {
			b.Release()
		}
		return nil, err
	}
	return out, nil
}

// pullSpilled takes, for each spilled view, the result rows of t's entity
// rows from the partitions' result files (in order: the reader goroutine
// calls it batch after batch).
func (r *pitRun) pullSpilled(ctx context.Context, t *pitTask) error {
	for _, v := range r.views {
		if v.spill == nil {
			continue
		}
		sp := v.spill
		keys := make([]arrow.Array, len(v.plan.eKeys))
		for i, k := range v.plan.eKeys {
			keys[i] = t.in.Column(k)
		}
		parts := sp.partOf(keys, int(t.in.NumRows()))
		counts := make([]int64, sp.nparts)
		for _, p := range parts {
			if p != noPart {
				counts[p]++
			}
		}
		var pulled []arrow.RecordBatch
		for p, c := range counts {
			var err error
			if pulled, err = sp.results[p].take(c, pulled); err != nil {
				for _, b := range pulled {
					b.Release()
				}
				t.release()
				return err
			}
		}
		t.pulled = append(t.pulled, pulled)
		t.parts = append(t.parts, parts)
	}
	return nil
}

// assembleSpilled puts the pulled result rows back in entity order.
func assembleSpilled(mem memory.Allocator, v *pitViewRun, pulled []arrow.RecordBatch, parts []uint16, n int) ([]arrow.Array, error) {
	sp := v.spill
	// Pulled slices are in partition order; row j of partition p is at
	// base[p]+j of their concatenation.
	base := make([]int32, sp.nparts+1)
	for _, p := range parts {
		if p != noPart {
			base[p+1]++
		}
	}
	for p := range sp.nparts {
		base[p+1] += base[p]
	}
	next := slices.Clone(base[:sp.nparts])
	rows := make([]int32, n)
	for i, p := range parts {
		if p == noPart {
			rows[i] = -1
			continue
		}
		rows[i] = next[p]
		next[p]++
	}
	out := make([]arrow.Array, len(sp.outSch.Fields()))
	for f := range out {
		var src arrow.Array
		switch len(pulled) {
		case 0:
			src = array.MakeArrayOfNull(mem, sp.outSch.Field(f).Type, 0)
		case 1:
			src = pulled[0].Column(f)
			src.Retain()
		default:
			parts := make([]arrow.Array, len(pulled))
			for i, b := range pulled {
				parts[i] = b.Column(f)
			}
			var err error
			if src, err = array.Concatenate(parts, mem); err != nil {
				for _, a := range out[:f] {
					a.Release()
				}
				return nil, err
			}
		}
		a, err := gather(mem, src, rows)
		src.Release()
		if err != nil {
			for _, a := range out[:f] {
				a.Release()
			}
			return nil, err
		}
		out[f] = a
	}
	return out, nil
}
