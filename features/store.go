package features

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// StoreOptions configure a [FeatureStore]. Online is required; the zero
// value of every other field is valid.
type StoreOptions struct {
	// Online is the online store that materialization and pushes write to
	// and online retrieval reads from (required). The FeatureStore does not
	// close it.
	Online online.Store
	// Workers bounds the online writes of a materialization running at
	// once. Zero means runtime.GOMAXPROCS(0).
	Workers int
	// BatchSize is the number of records of one online write. Zero means
	// 1000.
	BatchSize int
	// RegistryTTL is how long online retrieval keeps the resolution of a
	// list of references (or of a service) before asking the registry
	// again, so that a request does not read the registry. Zero means
	// 10 seconds; a negative value resolves on every request.
	RegistryTTL time.Duration
	// Progress, when set, is called as a materialization moves on: after
	// each view's source is read, after each online write, and once per
	// view with Done set. It is called from one goroutine at a time.
	Progress func(MaterializeProgress)
	// Logger receives a line per materialized view; nil logs nothing.
	Logger *slog.Logger
}

// MaterializeProgress is a snapshot of a materialization, for progress
// bars.
type MaterializeProgress struct {
	View     string // the view being materialized
	RowsRead int64  // rows of the view's source read so far
	Entities int64  // distinct entities with a row in the window (once the source is read)
	Written  int64  // records of the view written to the online store so far
	Elapsed  time.Duration
	Done     bool // the view is materialized
}

// MaterializeStats is what a materialization did.
type MaterializeStats struct {
	Views   []ViewMaterializeStats // in the order asked for
	Elapsed time.Duration
}

// ViewMaterializeStats is what a materialization did for one view.
type ViewMaterializeStats struct {
	View       string
	Start, End time.Time // the window of event times: Start ≤ t < End
	RowsRead   int64     // rows of the source read
	RowsInWin  int64     // rows with an event time in the window
	Written    int64     // records written: one per entity, its latest row
	Skipped    bool      // true when MaterializeIncremental found nothing to do (End ≤ watermark)
}

// RowsWritten returns the records written, all views together.
func (s MaterializeStats) RowsWritten() int64 {
	var n int64
	for _, v := range s.Views {
		n += v.Written
	}
	return n
}

// ErrNotOnline is returned (wrapped) when a view that is not marked Online
// is materialized, pushed to or read online.
var ErrNotOnline = errors.New("features: view is not online")

// A FeatureStore joins a [Registry] of definitions and an online store:
// it materializes views' batch sources to the online store
// ([FeatureStore.Materialize], [FeatureStore.MaterializeIncremental]),
// takes streaming writes ([FeatureStore.Push]), serves the latest features
// of entities ([FeatureStore.GetOnlineFeatures],
// [FeatureStore.GetOnlineService]) and builds training sets
// ([FeatureStore.GetHistoricalFeatures]). It is safe for concurrent use.
//
// # Online layout
//
// A view's records are stored in the online store under the view's name,
// keyed by [online.EncodeKey] of its join keys (in [ResolvedView.JoinKeys]
// order, each converted to its declared type), holding every feature of the
// view under its own name, with the event time of the row.
//
// # Watermarks
//
// [FeatureStore.MaterializeIncremental] keeps, per view, the end of the
// last window it materialized, in the registry's repository: the dataset
// "<registry>-watermarks" (branch "main"), whose commits each hold one entry
// "watermarks.json", {"format": ..., "views": {VIEW: RFC 3339 time}}.
// A watermark only moves forward, and only once the view's writes all
// succeeded; updates are compare-and-swap commits, retried on conflict
// (except the very first commit of the dataset: two first updates racing
// may lose one view's watermark, which only makes its next run start from
// the beginning again, harmlessly).
type FeatureStore struct {
	reg  *Registry
	opts StoreOptions

	mu    sync.Mutex
	cache map[string]cachedResolve
}

type cachedResolve struct {
	res  *onlinePlan
	when time.Time
}

// NewStore returns a feature store over reg and opts.Online.
func NewStore(reg *Registry, opts StoreOptions) (*FeatureStore, error) {
	if reg == nil {
		return nil, fmt.Errorf("features: new store: nil registry: %w", ErrSpec)
	}
	if opts.Online == nil {
		return nil, fmt.Errorf("features: new store: no online store: %w", ErrSpec)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	if opts.RegistryTTL == 0 {
		opts.RegistryTTL = 10 * time.Second
	}
	return &FeatureStore{reg: reg, opts: opts, cache: map[string]cachedResolve{}}, nil
}

// Registry returns the store's registry.
func (fs *FeatureStore) Registry() *Registry { return fs.reg }

// Online returns the store's online store.
func (fs *FeatureStore) Online() online.Store { return fs.opts.Online }

// onlineView resolves one view name for writing: all its features.
func (fs *FeatureStore) onlineView(ctx context.Context, name string) (ResolvedView, error) {
	if strings.ContainsAny(name, ":@") {
		return ResolvedView{}, fmt.Errorf("features: view %q: a view name is expected: %w", name, ErrNotFound)
	}
	res, err := fs.reg.Resolve(ctx, 0, name)
	if err != nil {
		return ResolvedView{}, err
	}
	if len(res.Views) != 1 || res.Views[0].View.Name != name {
		return ResolvedView{}, fmt.Errorf("features: %q is not a feature view: %w", name, ErrNotFound)
	}
	rv := res.Views[0]
	if !rv.View.Online {
		return ResolvedView{}, fmt.Errorf("features: view %q: %w", name, ErrNotOnline)
	}
	return rv, nil
}

// Materialize writes to the online store, for each of views (nil: every
// online view), the latest row per entity of the view's batch source among
// the rows with start ≤ event time < end (ties of event time go to the
// larger created time, then to the later row). Views are done one after
// the other, each in parallel batches of online writes. The online store
// never replaces a newer record with an older one, so materialization is
// idempotent: a run that failed (a crash, a lost connection) is completed
// by running it again.
func (fs *FeatureStore) Materialize(ctx context.Context, views []string, start, end time.Time) (MaterializeStats, error) {
	return fs.materialize(ctx, views, func(string) (time.Time, bool, error) { return start, true, nil }, end, false)
}

// MaterializeIncremental materializes each of views (nil: every online
// view) from its watermark — the end of its last incremental
// materialization, or the beginning of time for the first one — to end, and
// then moves the view's watermark to end. A view whose watermark is at or
// after end is skipped. See the FeatureStore's documentation for where
// watermarks are kept.
func (fs *FeatureStore) MaterializeIncremental(ctx context.Context, views []string, end time.Time) (MaterializeStats, error) {
	marks, _, err := fs.readWatermarks(ctx)
	if err != nil {
		return MaterializeStats{}, err
	}
	from := func(v string) (time.Time, bool, error) {
		m, ok := marks[v]
		if !ok {
			return time.Time{}, true, nil
		}
		return m, m.Before(end), nil
	}
	return fs.materialize(ctx, views, from, end, true)
}

// Watermarks returns the watermark of every view materialized
// incrementally so far.
func (fs *FeatureStore) Watermarks(ctx context.Context) (map[string]time.Time, error) {
	m, _, err := fs.readWatermarks(ctx)
	return m, err
}

func (fs *FeatureStore) materialize(ctx context.Context, views []string, from func(string) (time.Time, bool, error), end time.Time, incremental bool) (MaterializeStats, error) {
	began := time.Now()
	if views == nil {
		all, err := fs.reg.Views(ctx)
		if err != nil {
			return MaterializeStats{}, err
		}
		for _, v := range all {
			if v.Online {
				views = append(views, v.Name)
			}
		}
	}
	var stats MaterializeStats
	for _, name := range views {
		rv, err := fs.onlineView(ctx, name)
		if err != nil {
			return stats, fmt.Errorf("features: materialize: %w", err)
		}
		start, run, err := from(name)
		if err != nil {
			return stats, err
		}
		vs := ViewMaterializeStats{View: name, Start: start, End: end, Skipped: !run}
		if run {
			if err := fs.materializeView(ctx, rv, start, end, &vs); err != nil {
				stats.Views = append(stats.Views, vs)
				stats.Elapsed = time.Since(began)
				return stats, fmt.Errorf("features: materialize %q: %w", name, err)
			}
			if incremental {
				if err := fs.setWatermark(ctx, name, end); err != nil {
					stats.Views = append(stats.Views, vs)
					stats.Elapsed = time.Since(began)
					return stats, fmt.Errorf("features: materialize %q: save watermark: %w", name, err)
				}
			}
		}
		if fs.opts.Logger != nil {
			fs.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "materialized feature view",
				slog.String("view", name), slog.Time("start", start), slog.Time("end", end),
				slog.Int64("byRowread", vs.RowsRead), slog.Int64("written", vs.Written), slog.Bool("skipped", vs.Skipped))
		}
		stats.Views = append(stats.Views, vs)
	}
	stats.Elapsed = time.Since(began)
	return stats, nil
}

// latestRow is the newest row of one entity seen so far.
type latestRow struct {
	event   int64
	created int64
	vals    []online.Value
}

func (fs *FeatureStore) materializeView(ctx context.Context, rv ResolvedView, start, end time.Time, vs *ViewMaterializeStats) error {
	began := time.Now()
	v := rv.View
	cols := make([]string, 0, len(rv.JoinKeys)+len(v.Features)+2)
	add := func(c string) {
		if c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	for _, k := range rv.JoinKeys {
		add(k.Name)
	}
	add(v.Source.Timestamp)
	add(v.Source.Created)
	for _, f := range v.Features {
		add(f.Name)
	}
	src, err := fs.reg.OpenSource(ctx, v.Source, pipeline.ParquetOptions{Columns: cols})
	if err != nil {
		return err
	}
	progress := func(p MaterializeProgress) {
		if fs.opts.Progress != nil {
			p.View = v.Name
			p.Elapsed = time.Since(began)
			fs.opts.Progress(p)
		}
	}
	lo, hi := startNanos(start), startNanos(end)
	latest := map[string]*latestRow{}
	var etimes, ctimes []int64
	var keyBuf []byte
	keyVals := make([]online.Value, len(rv.JoinKeys))
	for b, err := range src.Batches(ctx) {
		if err != nil {
			return err
		}
		err := func() error {
			defer b.Release()
			rc, err := bindRowColumns(b.Schema(), rv.JoinKeys, v.Features, v.Source)
			if err != nil {
				return err
			}
			etimes = times(b.Column(rc.ts), etimes)
			if rc.created >= 0 {
				ctimes = times(b.Column(rc.created), ctimes)
			}
			n := int(b.NumRows())
			vs.RowsRead += int64(n)
		rows:
			for i := range n {
				e := etimes[i]
				if e == nullTime || e < lo || e >= hi {
					continue
				}
				vs.RowsInWin++
				for j, c := range rc.keys {
					kv, err := cellValue(b.Column(c), i, rv.JoinKeys[j].Type)
					if err != nil {
						return err
					}
					if kv.IsNull() {
						continue rows // a null key never matches an entity
					}
					keyVals[j] = kv
				}
				keyBuf = online.AppendKey(keyBuf[:0], keyVals...)
				c := int64(nullTime)
				if rc.created >= 0 {
					c = ctimes[i]
				}
				cur := latest[string(keyBuf)]
				if cur != nil && (e < cur.event || e == cur.event && c < cur.created) {
					continue
				}
				if cur == nil {
					cur = &latestRow{vals: make([]online.Value, len(v.Features))}
					latest[string(keyBuf)] = cur
				}
				cur.event, cur.created = e, c
				for j, c := range rc.feats {
					fv, err := cellValue(b.Column(c), i, v.Features[j].Type)
					if err != nil {
						return err
					}
					cur.vals[j] = fv
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
		progress(MaterializeProgress{RowsRead: vs.RowsRead})
	}
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	recs := make([]online.Record, len(keys))
	for i, k := range keys {
		l := latest[k]
		recs[i] = online.Record{Key: []byte(k), EventTime: time.Unix(0, l.event).UTC(), Values: l.vals}
	}
	progress(MaterializeProgress{RowsRead: vs.RowsRead, Entities: int64(len(recs))})
	names := fieldNames(v.Features)
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fs.opts.Workers)
	for lo := 0; lo < len(recs); lo += fs.opts.BatchSize {
		chunk := recs[lo:min(lo+fs.opts.BatchSize, len(recs))]
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := fs.opts.Online.Write(gctx, v.Name, names, chunk); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			vs.Written += int64(len(chunk))
			progress(MaterializeProgress{RowsRead: vs.RowsRead, Entities: int64(len(recs)), Written: vs.Written})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	progress(MaterializeProgress{RowsRead: vs.RowsRead, Entities: int64(len(recs)), Written: vs.Written, Done: true})
	return nil
}

// startNanos converts a window bound to Unix nanoseconds, clamped to the
// int64 range (the zero time is the beginning of time).
func startNanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(time.Unix(0, math.MinInt64+1)):
		return math.MinInt64 + 1
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// rowColumns are the column indices of a view's columns in one schema.
type rowColumns struct {
	keys    []int
	feats   []int
	ts      int
	created int // -1 when none
}

func bindRowColumns(sc *arrow.Schema, keys, feats []Field, src BatchSource) (rowColumns, error) {
	find := func(name, what string) (int, error) {
		idx := sc.FieldIndices(name)
		if len(idx) != 1 {
			return 0, fmt.Errorf("%s column %q: %w", what, name, ErrMissingColumn)
		}
		return idx[0], nil
	}
	var rc rowColumns
	var err error
	for _, k := range keys {
		i, err := find(k.Name, "join key")
		if err != nil {
			return rc, err
		}
		rc.keys = append(rc.keys, i)
	}
	for _, f := range feats {
		i, err := find(f.Name, "feature")
		if err != nil {
			return rc, err
		}
		rc.feats = append(rc.feats, i)
	}
	if rc.ts, err = timeField(sc, src.Timestamp, "feature rows"); err != nil {
		return rc, err
	}
	rc.created = -1
	if src.Created != "" {
		if rc.created, err = timeField(sc, src.Created, "feature rows"); err != nil {
			return rc, err
		}
	}
	return rc, nil
}

// cellValue returns row i of arr as an online value of type t.
func cellValue(arr arrow.Array, i int, t ValueType) (online.Value, error) {
	if arr.IsNull(i) {
		return online.Null(), nil
	}
	if d, ok := arr.(*array.Dictionary); ok {
		return cellValue(d.Dictionary(), d.GetValueIndex(i), t)
	}
	switch a := arr.(type) {
	case *array.Int8:
		return online.Int(int64(a.Value(i))), nil
	case *array.Int16:
		return online.Int(int64(a.Value(i))), nil
	case *array.Int32:
		return online.Int(int64(a.Value(i))), nil
	case *array.Int64:
		return online.Int(a.Value(i)), nil
	case *array.Uint8:
		return online.Int(int64(a.Value(i))), nil
	case *array.Uint16:
		return online.Int(int64(a.Value(i))), nil
	case *array.Uint32:
		return online.Int(int64(a.Value(i))), nil
	case *array.Float16:
		return online.Float(float64(a.Value(i).Float32())), nil
	case *array.Float32:
		return online.Float(float64(a.Value(i))), nil
	case *array.Float64:
		return online.Float(a.Value(i)), nil
	case *array.Boolean:
		return online.Bool(a.Value(i)), nil
	case *array.String:
		return textValue(a.Value(i), t), nil
	case *array.LargeString:
		return textValue(a.Value(i), t), nil
	case *array.StringView:
		return textValue(a.Value(i), t), nil
	case *array.Binary:
		return online.Bytes(a.Value(i)), nil
	case *array.LargeBinary:
		return online.Bytes(a.Value(i)), nil
	case *array.BinaryView:
		return online.Bytes(a.Value(i)), nil
	case *array.FixedSizeBinary:
		return online.Bytes(a.Value(i)), nil
	case *array.Timestamp, *array.Date32, *array.Date64:
		return online.Time(time.Unix(0, timeAt(arr, i)).UTC()), nil
	}
	return online.Value{}, fmt.Errorf("column of type %s for a %s value: %w", arr.DataType(), t, ErrType)
}

// textValue returns a string cell as a value of type t. Arrow's strings
// share the batch's buffers, which are released: the value gets a copy.
func textValue(s string, t ValueType) online.Value {
	if t == TypeBytes {
		return online.Bytes([]byte(s))
	}
	return online.String(strings.Clone(s))
}

func fieldNames(fs []Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// Push writes the rows of batch to the online store of view, as a stream
// of events: each row is a record of its entity at its event time (the
// view's timestamp column), replacing what is stored unless that is newer.
// The batch must hold the view's join keys, its timestamp column and every
// feature of the view (extra columns are ignored); rows with a null event
// time or a null key are an error. The caller keeps ownership of batch.
func (fs *FeatureStore) Push(ctx context.Context, view string, batch arrow.RecordBatch) error {
	rv, err := fs.onlineView(ctx, view)
	if err != nil {
		return fmt.Errorf("features: push: %w", err)
	}
	v := rv.View
	src := BatchSource{Timestamp: v.Source.Timestamp}
	if v.Source.Created != "" && len(batch.Schema().FieldIndices(v.Source.Created)) == 1 {
		src.Created = v.Source.Created
	}
	rc, err := bindRowColumns(batch.Schema(), rv.JoinKeys, v.Features, src)
	if err != nil {
		return fmt.Errorf("features: push %q: %w", view, err)
	}
	for j, c := range rc.keys {
		if !rv.JoinKeys[j].Type.Accepts(batch.Schema().Field(c).Type) {
			return fmt.Errorf("features: push %q: join key %q has type %s, want %s: %w", view, rv.JoinKeys[j].Name, batch.Schema().Field(c).Type, rv.JoinKeys[j].Type, ErrType)
		}
	}
	for j, c := range rc.feats {
		if !v.Features[j].Type.Accepts(batch.Schema().Field(c).Type) {
			return fmt.Errorf("features: push %q: feature %q has type %s, want %s: %w", view, v.Features[j].Name, batch.Schema().Field(c).Type, v.Features[j].Type, ErrType)
		}
	}
	n := int(batch.NumRows())
	etimes := times(batch.Column(rc.ts), nil)
	var ctimes []int64
	if rc.created >= 0 {
		ctimes = times(batch.Column(rc.created), nil)
	}
	return fs.pushRows(ctx, rv, rowGetter{
		n:     n,
		event: func(i int) (int64, error) { return etimes[i], nil },
		created: func(i int) int64 {
			if ctimes == nil {
				return nullTime
			}
			return ctimes[i]
		},
		key: func(j, i int) (online.Value, error) {
			return cellValue(batch.Column(rc.keys[j]), i, rv.JoinKeys[j].Type)
		},
		feat: func(j, i int) (online.Value, error) {
			return cellValue(batch.Column(rc.feats[j]), i, v.Features[j].Type)
		},
	})
}

// PushRows is [FeatureStore.Push] for rows given as columns of values
// (as a JSON request carries them): rows must hold a column for each join
// key, the view's timestamp column (times, or RFC 3339 strings) and each
// feature, all of one length; the view's created-time column is optional.
// Values are converted to the declared types as
// [FeatureStore.GetOnlineFeatures] converts keys; other columns are
// ignored.
func (fs *FeatureStore) PushRows(ctx context.Context, view string, rows map[string][]online.Value) error {
	rv, err := fs.onlineView(ctx, view)
	if err != nil {
		return fmt.Errorf("features: push: %w", err)
	}
	v := rv.View
	n := -1
	col := func(name, what string) ([]online.Value, error) {
		c, ok := rows[name]
		if !ok {
			return nil, fmt.Errorf("features: push %q: no %s column %q: %w", view, what, name, ErrMissingColumn)
		}
		if n >= 0 && len(c) != n {
			return nil, fmt.Errorf("features: push %q: column %q has %d values, others %d: %w", view, name, len(c), n, ErrSpec)
		}
		n = len(c)
		return c, nil
	}
	var keys, feats [][]online.Value
	for _, k := range rv.JoinKeys {
		c, err := col(k.Name, "join key")
		if err != nil {
			return err
		}
		keys = append(keys, c)
	}
	for _, f := range v.Features {
		c, err := col(f.Name, "feature")
		if err != nil {
			return err
		}
		feats = append(feats, c)
	}
	ts, err := col(v.Source.Timestamp, "timestamp")
	if err != nil {
		return err
	}
	var created []online.Value
	if _, ok := rows[v.Source.Created]; ok && v.Source.Created != "" {
		if created, err = col(v.Source.Created, "created"); err != nil {
			return err
		}
	}
	toNanos := func(x online.Value) (int64, error) {
		tv, err := convertValue(x, TypeTimestamp)
		if err != nil {
			return 0, err
		}
		t, ok := tv.AsTime()
		if !ok {
			return nullTime, nil
		}
		return t.UnixNano(), nil
	}
	return fs.pushRows(ctx, rv, rowGetter{
		n:     n,
		event: func(i int) (int64, error) { return toNanos(ts[i]) },
		created: func(i int) int64 {
			if created == nil {
				return nullTime
			}
			c, err := toNanos(created[i])
			if err != nil {
				return nullTime
			}
			return c
		},
		key:  func(j, i int) (online.Value, error) { return convertValue(keys[j][i], rv.JoinKeys[j].Type) },
		feat: func(j, i int) (online.Value, error) { return convertValue(feats[j][i], v.Features[j].Type) },
	})
}

// rowGetter reads the cells of rows to push.
type rowGetter struct {
	n       int
	event   func(i int) (int64, error) // nullTime for null
	created func(i int) int64          // nullTime for null
	key     func(j, i int) (online.Value, error)
	feat    func(j, i int) (online.Value, error)
}

// pushRows writes the newest row of each entity of g to the online store.
func (fs *FeatureStore) pushRows(ctx context.Context, rv ResolvedView, g rowGetter) error {
	v := rv.View
	type pushed struct {
		rec     online.Record
		created int64
	}
	byKey := map[string]int{}
	var recs []pushed
	keyVals := make([]online.Value, len(rv.JoinKeys))
	var keyBuf []byte
	for i := range g.n {
		e, err := g.event(i)
		if err != nil {
			return fmt.Errorf("features: push %q: row %d: event time: %w", v.Name, i, err)
		}
		if e == nullTime {
			return fmt.Errorf("features: push %q: row %d: null event time: %w", v.Name, i, ErrMissingValue)
		}
		for j, k := range rv.JoinKeys {
			kv, err := g.key(j, i)
			if err != nil {
				return fmt.Errorf("features: push %q: row %d: join key %q: %w", v.Name, i, k.Name, err)
			}
			if kv.IsNull() {
				return fmt.Errorf("features: push %q: row %d: null join key %q: %w", v.Name, i, k.Name, ErrMissingValue)
			}
			keyVals[j] = kv
		}
		keyBuf = online.AppendKey(keyBuf[:0], keyVals...)
		c := g.created(i)
		k, seen := byKey[string(keyBuf)]
		if seen {
			cur := recs[k]
			ce := cur.rec.EventTime.UnixNano()
			if e < ce || e == ce && c < cur.created {
				continue
			}
		} else {
			k = len(recs)
			byKey[string(keyBuf)] = k
			recs = append(recs, pushed{rec: online.Record{Key: bytes.Clone(keyBuf), Values: make([]online.Value, len(v.Features))}})
		}
		p := &recs[k]
		p.rec.EventTime = time.Unix(0, e).UTC()
		p.created = c
		for j, f := range v.Features {
			fv, err := g.feat(j, i)
			if err != nil {
				return fmt.Errorf("features: push %q: row %d: feature %q: %w", v.Name, i, f.Name, err)
			}
			p.rec.Values[j] = fv
		}
	}
	out := make([]online.Record, len(recs))
	for i := range recs {
		out[i] = recs[i].rec
	}
	names := fieldNames(v.Features)
	for lo := 0; lo < len(out); lo += fs.opts.BatchSize {
		if err := fs.opts.Online.Write(ctx, v.Name, names, out[lo:min(lo+fs.opts.BatchSize, len(out))]); err != nil {
			return fmt.Errorf("features: push %q: %w", v.Name, err)
		}
	}
	return nil
}

// OnlineResult is the answer of an online retrieval, in columns: the
// entity join keys first (as given, converted to their declared types),
// then the features in the order asked for.
type OnlineResult struct {
	// Names are the column names: join keys, then "<view>__<feature>" for
	// a view's feature and "<ondemand>__<output>" for an on-demand output.
	Names []string
	// NumKeys is the number of join-key columns at the start of Names.
	NumKeys int
	// Refs are the references of the feature columns ("view:feature",
	// "ondemand:output"), aligned with Names[NumKeys:].
	Refs []string
	// Values[c][r] is column c of entity row r: null unless Present.
	Values [][]online.Value
	// Status[c][r] is what was found: join keys are Present (NotFound when
	// null); on-demand outputs are Present unless null.
	Status [][]online.Status
	// EventTimes[c][r] is the event time of the stored record (zero for
	// join keys, on-demand outputs and NotFound values).
	EventTimes [][]time.Time
}

// Rows returns the number of entity rows of r.
func (r OnlineResult) Rows() int {
	if len(r.Values) == 0 {
		return 0
	}
	return len(r.Values[0])
}

// onlinePlan is a resolution prepared for online retrieval.
type onlinePlan struct {
	res   ResolvedFeatures
	keys  []Field      // union of join keys, in first-appearance order
	reads []onlineRead // one per view
	names []string
	refs  []string
	// odIn[i][k] says where on-demand feature i reads input k.
	odIn [][]odInput
	// odOut[i][j] is the index in Feature.Outputs of output j asked for.
	odOut [][]int
}

type onlineRead struct {
	view     string
	ttl      time.Duration
	keyIdx   []int // into plan.keys, in the view's join-key order
	features []string
	asked    int // the first asked features are output; the rest are inputs
}

type odInput struct {
	view, feat int    // view read and feature index, view < 0 for request data
	request    string // request field
	typ        ValueType
}

func (fs *FeatureStore) plan(ctx context.Context, cacheKey string, resolve func() (ResolvedFeatures, error)) (*onlinePlan, error) {
	if fs.opts.RegistryTTL > 0 {
		fs.mu.Lock()
		c, ok := fs.cache[cacheKey]
		fs.mu.Unlock()
		if ok && time.Since(c.when) < fs.opts.RegistryTTL {
			return c.res, nil
		}
	}
	res, err := resolve()
	if err != nil {
		return nil, err
	}
	p := &onlinePlan{res: res}
	keyPos := map[string]int{}
	for _, rv := range res.Views {
		if !rv.View.Online {
			return nil, fmt.Errorf("features: view %q: %w", rv.View.Name, ErrNotOnline)
		}
		rd := onlineRead{view: rv.View.Name, ttl: rv.View.TTL, asked: len(rv.Features)}
		for _, k := range rv.JoinKeys {
			i, ok := keyPos[k.Name]
			if !ok {
				i = len(p.keys)
				keyPos[k.Name] = i
				p.keys = append(p.keys, k)
			} else if p.keys[i].Type != k.Type {
				return nil, fmt.Errorf("features: join key %q is %s in one view and %s in %q: %w", k.Name, p.keys[i].Type, k.Type, rv.View.Name, ErrType)
			}
			rd.keyIdx = append(rd.keyIdx, i)
		}
		rd.features = append(fieldNames(rv.Features), fieldNames(rv.Inputs)...)
		p.reads = append(p.reads, rd)
	}
	for _, k := range p.keys {
		p.names = append(p.names, k.Name)
	}
	for _, rv := range res.Views {
		for _, f := range rv.Features {
			p.names = append(p.names, rv.View.Name+"__"+f.Name)
			p.refs = append(p.refs, rv.View.Name+":"+f.Name)
		}
	}
	for _, od := range res.OnDemand {
		f := od.Feature
		var ins []odInput
		for _, in := range f.Inputs {
			view, feat, isFeat := strings.Cut(in, ":")
			if !isFeat {
				typ := ValueType("")
				for _, r := range f.Request {
					if r.Name == in {
						typ = r.Type
					}
				}
				ins = append(ins, odInput{view: -1, request: in, typ: typ})
				continue
			}
			vi := slices.IndexFunc(p.reads, func(r onlineRead) bool { return r.view == view })
			fi := -1
			if vi >= 0 {
				fi = slices.Index(p.reads[vi].features, feat)
			}
			if fi < 0 {
				return nil, fmt.Errorf("features: on-demand %q reads %q, which was not resolved: %w", f.Name, in, ErrNotFound)
			}
			ins = append(ins, odInput{view: vi, feat: fi})
		}
		var outs []int
		for _, o := range od.Outputs {
			outs = append(outs, slices.IndexFunc(f.Outputs, func(x Field) bool { return x.Name == o.Name }))
			p.names = append(p.names, f.Name+"__"+o.Name)
			p.refs = append(p.refs, f.Name+":"+o.Name)
		}
		p.odIn = append(p.odIn, ins)
		p.odOut = append(p.odOut, outs)
	}
	if fs.opts.RegistryTTL > 0 {
		fs.mu.Lock()
		fs.cache[cacheKey] = cachedResolve{res: p, when: time.Now()}
		fs.mu.Unlock()
	}
	return p, nil
}

// GetOnlineFeatures returns the latest features that refs name
// ("view:feature", "view", "ondemand:output", "ondemand"; see
// [Registry.Resolve]) of the entities of entityRows: a column of values
// per join key (every join key of the views read must be there, all of one
// length) and, for on-demand features, per request field they read. Each
// view is read once for all rows; values older than the view's TTL are
// Expired. Key values are converted to the join key's type (an integral
// float to an int64, a string to bytes), request values to the request
// field's type (an int to a float64).
func (fs *FeatureStore) GetOnlineFeatures(ctx context.Context, refs []string, entityRows map[string][]online.Value) (OnlineResult, error) {
	if len(refs) == 0 {
		return OnlineResult{}, fmt.Errorf("features: get online features: no feature references: %w", ErrNotFound)
	}
	p, err := fs.plan(ctx, "refs\x00"+strings.Join(refs, "\x00"), func() (ResolvedFeatures, error) {
		return fs.reg.Resolve(ctx, 0, refs...)
	})
	if err != nil {
		return OnlineResult{}, fmt.Errorf("features: get online features: %w", err)
	}
	return fs.getOnline(ctx, p, entityRows)
}

// GetOnlineService returns the latest features of the feature service
// named service ("name" or "name@N") for the entities of entityRows, as
// [FeatureStore.GetOnlineFeatures] does.
func (fs *FeatureStore) GetOnlineService(ctx context.Context, service string, entityRows map[string][]online.Value) (OnlineResult, error) {
	p, err := fs.plan(ctx, "service\x00"+service, func() (ResolvedFeatures, error) {
		return fs.reg.ResolveService(ctx, service)
	})
	if err != nil {
		return OnlineResult{}, fmt.Errorf("features: get online service %q: %w", service, err)
	}
	return fs.getOnline(ctx, p, entityRows)
}

func (fs *FeatureStore) getOnline(ctx context.Context, p *onlinePlan, entityRows map[string][]online.Value) (OnlineResult, error) {
	n := -1
	for name, col := range entityRows {
		if n >= 0 && len(col) != n {
			return OnlineResult{}, fmt.Errorf("features: get online features: entity column %q has %d values, others %d: %w", name, len(col), n, ErrSpec)
		}
		n = len(col)
	}
	if n < 0 {
		n = 0
	}
	// The result's columns share one allocation per kind.
	ncol := len(p.names)
	out := OnlineResult{
		Names:      p.names,
		NumKeys:    len(p.keys),
		Refs:       p.refs,
		Values:     make([][]online.Value, ncol),
		Status:     make([][]online.Status, ncol),
		EventTimes: make([][]time.Time, ncol),
	}
	allVals := make([]online.Value, ncol*n)
	allSts := make([]online.Status, ncol*n)
	allEts := make([]time.Time, ncol*n)
	for c := range ncol {
		out.Values[c] = allVals[c*n : (c+1)*n : (c+1)*n]
		out.Status[c] = allSts[c*n : (c+1)*n : (c+1)*n]
		out.EventTimes[c] = allEts[c*n : (c+1)*n : (c+1)*n]
	}
	// Join keys, converted.
	keys := out.Values[:len(p.keys)]
	keyOK := out.Status[:len(p.keys)]
	for i, k := range p.keys {
		col, ok := entityRows[k.Name]
		if !ok {
			return OnlineResult{}, fmt.Errorf("features: get online features: missing join key %q: %w", k.Name, ErrMissingColumn)
		}
		for r, v := range col {
			cv, err := convertValue(v, k.Type)
			if err != nil {
				return OnlineResult{}, fmt.Errorf("features: get online features: join key %q, row %d: %w", k.Name, r, err)
			}
			keys[i][r] = cv
			if cv.IsNull() {
				keyOK[i][r] = online.NotFound
			}
		}
	}
	// Read every view, at once when there are several.
	now := time.Now()
	results := make([][][]online.Result, len(p.reads))
	pooled := make([]*resultBuf, len(p.reads))
	defer func() {
		for _, b := range pooled {
			if b != nil && cap(b.flat) <= maxPooledResults {
				resultBufs.Put(b)
			}
		}
	}()
	read := func(ctx context.Context, vi int) error {
		rd := p.reads[vi]
		enc := make([][]byte, 0, n)
		rowOf := make([]int, 0, n)
		kv := make([]online.Value, len(rd.keyIdx))
		var buf []byte
	rows:
		for r := range n {
			for j, ki := range rd.keyIdx {
				if keys[ki][r].IsNull() {
					continue rows
				}
				kv[j] = keys[ki][r]
			}
			start := len(buf)
			buf = online.AppendKey(buf, kv...)
			enc = append(enc, buf[start:len(buf):len(buf)])
			rowOf = append(rowOf, r)
		}
		rb := resultBufs.Get().(*resultBuf)
		pooled[vi] = rb
		got := rb.rows(len(enc), len(rd.features))
		err := fs.opts.Online.ReadInto(ctx, rd.view, rd.features, enc, rd.ttl, now, got)
		if err != nil {
			return fmt.Errorf("read view %q: %w", rd.view, err)
		}
		if len(rowOf) == n {
			results[vi] = got
			return nil
		}
		all := online.NewResults(n, len(rd.features))
		for i, r := range rowOf {
			all[r] = got[i]
		}
		results[vi] = all
		return nil
	}
	if len(p.reads) == 1 {
		if err := read(ctx, 0); err != nil {
			return OnlineResult{}, fmt.Errorf("features: get online features: %w", err)
		}
	} else if len(p.reads) > 1 {
		g, gctx := errgroup.WithContext(ctx)
		for vi := range p.reads {
			g.Go(func() error { return read(gctx, vi) })
		}
		if err := g.Wait(); err != nil {
			return OnlineResult{}, fmt.Errorf("features: get online features: %w", err)
		}
	}
	c := len(p.keys)
	for vi, rd := range p.reads {
		for j := range rd.asked {
			vals, st, ets := out.Values[c], out.Status[c], out.EventTimes[c]
			c++
			for r := range n {
				res := results[vi][r][j]
				vals[r], st[r], ets[r] = res.Value, res.Status, res.EventTime
				if res.Status != online.Present {
					vals[r] = online.Null()
				}
			}
		}
	}
	// On-demand features, row by row.
	for i, od := range p.res.OnDemand {
		f := od.Feature
		var reqCols [][]online.Value
		for _, in := range p.odIn[i] {
			if in.view >= 0 {
				reqCols = append(reqCols, nil)
				continue
			}
			col, ok := entityRows[in.request]
			if !ok {
				return OnlineResult{}, fmt.Errorf("features: get online features: on-demand %q: missing request field %q: %w", f.Name, in.request, ErrMissingColumn)
			}
			reqCols = append(reqCols, col)
		}
		cols := out.Values[c : c+len(od.Outputs)]
		sts := out.Status[c : c+len(od.Outputs)]
		c += len(od.Outputs)
		inv := make([]online.Value, len(f.Inputs))
		outv := make([]online.Value, len(f.Outputs))
		for r := range n {
			for k, in := range p.odIn[i] {
				if in.view >= 0 {
					res := results[in.view][r][in.feat]
					inv[k] = online.Null()
					if res.Status == online.Present {
						inv[k] = res.Value
					}
					continue
				}
				cv, err := convertValue(reqCols[k][r], in.typ)
				if err != nil {
					return OnlineResult{}, fmt.Errorf("features: get online features: on-demand %q: request field %q, row %d: %w", f.Name, in.request, r, err)
				}
				inv[k] = cv
			}
			if err := f.Eval(inv, outv); err != nil {
				return OnlineResult{}, fmt.Errorf("features: get online features: row %d: %w", r, err)
			}
			for j, oi := range p.odOut[i] {
				cols[j][r] = outv[oi]
				if outv[oi].IsNull() {
					sts[j][r] = online.NotFound
				}
			}
		}
	}
	return out, nil
}

// convertValue converts a key or request value to type t: an integral
// float to an int64, an int to a float64, a string to bytes and back,
// a string in RFC 3339 to a time. Null stays null; an empty t keeps v.
func convertValue(v online.Value, t ValueType) (online.Value, error) {
	if v.IsNull() || t == "" || v.Kind() == t.Kind() {
		return v, nil
	}
	switch t {
	case TypeInt64:
		if f, ok := v.AsFloat(); ok && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return online.Int(int64(f)), nil
		}
	case TypeFloat64:
		if i, ok := v.AsInt(); ok {
			return online.Float(float64(i)), nil
		}
	case TypeString:
		if b, ok := v.AsBytes(); ok {
			return online.String(string(b)), nil
		}
	case TypeBytes:
		if s, ok := v.AsString(); ok {
			return online.Bytes([]byte(s)), nil
		}
	case TypeTimestamp:
		if s, ok := v.AsString(); ok {
			if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return online.Time(tm), nil
			}
		}
	}
	return online.Value{}, fmt.Errorf("value %s (%s) is not a %s: %w", v, v.Kind(), t, ErrType)
}

// GetHistoricalFeatures returns the point-in-time correct features that
// refs name (views' features only; see [Registry.Resolve]) for the rows
// of entities, whose timestamp column is their event time: a
// [PointInTimeJoin] of the entity rows with each view's batch source, as
// the view is defined in the latest registry version, with the view's
// join keys, time columns and TTL. The entity rows must hold every join key
// of the views. On-demand features are not computed here: a reference to
// one gives an error wrapping ErrSpec.
func (fs *FeatureStore) GetHistoricalFeatures(ctx context.Context, entities pipeline.Source, timestamp string, refs []string, opts PITOptions) (pipeline.Source, error) {
	return fs.historical(ctx, 0, entities, timestamp, refs, opts)
}

// GetHistoricalFeaturesAt is GetHistoricalFeatures as of registry version
// n: the views as they were defined then, and a view whose batch source is
// a dataset reads the dataset commit recorded when that version was
// applied ([BatchSource.Pinned]), not the dataset's head. With the same
// entity rows it rebuilds a training set exactly, whatever was applied or
// committed since.
func (fs *FeatureStore) GetHistoricalFeaturesAt(ctx context.Context, n int, entities pipeline.Source, timestamp string, refs []string, opts PITOptions) (pipeline.Source, error) {
	if n < 1 {
		return nil, fmt.Errorf("features: get historical features: registry version %d: %w", n, ErrSpec)
	}
	return fs.historical(ctx, n, entities, timestamp, refs, opts)
}

// historical joins as of registry version n (0: the latest, reading
// dataset sources at their head).
func (fs *FeatureStore) historical(ctx context.Context, n int, entities pipeline.Source, timestamp string, refs []string, opts PITOptions) (pipeline.Source, error) {
	res, err := fs.reg.Resolve(ctx, n, refs...)
	if err != nil {
		return nil, fmt.Errorf("features: get historical features: %w", err)
	}
	if len(res.OnDemand) > 0 {
		return nil, fmt.Errorf("features: get historical features: on-demand feature %q: not supported in historical retrieval: %w", res.OnDemand[0].Feature.Name, ErrSpec)
	}
	var views []PITView
	for _, rv := range res.Views {
		if len(rv.Features) == 0 {
			continue
		}
		v := rv.View
		bs := v.Source
		if n > 0 {
			bs = bs.Pinned()
		}
		src, err := fs.reg.OpenSource(ctx, bs, pipeline.ParquetOptions{Allocator: opts.Allocator})
		if err != nil {
			return nil, fmt.Errorf("features: get historical features: view %q: %w", v.Name, err)
		}
		views = append(views, PITView{
			Name:      v.Name,
			Source:    src,
			Keys:      fieldNames(rv.JoinKeys),
			Timestamp: v.Source.Timestamp,
			Created:   v.Source.Created,
			TTL:       v.TTL,
			Features:  fieldNames(rv.Features),
		})
	}
	return PointInTimeJoin(ctx, entities, EntityColumns{Timestamp: timestamp}, views, opts)
}

// Watermarks storage.

const (
	watermarkFile   = "watermarks.json"
	watermarkFormat = "kiln.features.watermarks/1"
	// watermarkRetries bounds the retries of a watermark update that lost
	// a race with another.
	watermarkRetries = 100
)

type watermarkDoc struct {
	Format string               `json:"format"`
	Views  map[string]time.Time `json:"views"`
}

func (fs *FeatureStore) watermarkDataset() string { return fs.reg.name + "-watermarks" }

// readWatermarks returns the watermarks and the commit holding them (zero
// ID when none was saved).
func (fs *FeatureStore) readWatermarks(ctx context.Context) (map[string]time.Time, version.Commit, error) {
	repo := fs.reg.repo
	c, err := repo.Resolve(ctx, fs.watermarkDataset())
	if errors.Is(err, version.ErrNotFound) {
		return map[string]time.Time{}, version.Commit{}, nil
	}
	if err != nil {
		return nil, version.Commit{}, fmt.Errorf("features: read watermarks: %w", err)
	}
	rc, err := repo.ReadFile(ctx, fs.watermarkDataset()+"@"+c.ID.String(), watermarkFile)
	if err != nil {
		return nil, c, fmt.Errorf("features: read watermarks: %w", err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, c, fmt.Errorf("features: read watermarks: %w", err)
	}
	var doc watermarkDoc
	if err := json.Unmarshal(data, &doc); err != nil || doc.Format != watermarkFormat {
		return nil, c, fmt.Errorf("features: read watermarks: bad document (format %q, %v): %w", doc.Format, err, ErrState)
	}
	if doc.Views == nil {
		doc.Views = map[string]time.Time{}
	}
	return doc.Views, c, nil
}

// setWatermark moves the watermark of view to t (never back).
func (fs *FeatureStore) setWatermark(ctx context.Context, view string, t time.Time) error {
	repo := fs.reg.repo
	for range watermarkRetries {
		marks, head, err := fs.readWatermarks(ctx)
		if err != nil {
			return err
		}
		if old, ok := marks[view]; ok && !old.Before(t) {
			return nil
		}
		marks[view] = t.UTC()
		data, err := json.MarshalIndent(watermarkDoc{Format: watermarkFormat, Views: marks}, "", "  ")
		if err != nil {
			return err
		}
		d, err := repo.Store().Put(ctx, bytes.NewReader(data))
		if err != nil {
			return err
		}
		opts := version.CommitOptions{
			Message: fmt.Sprintf("watermark %s %s", view, t.UTC().Format(time.RFC3339Nano)),
			Parent:  head.ID,
		}
		entries := []version.Entry{{Path: watermarkFile, Digest: d, Size: int64(len(data)), Mode: 0o644}}
		_, err = repo.CommitEntries(ctx, fs.watermarkDataset(), entries, opts)
		if errors.Is(err, version.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("watermark of %q: too many concurrent updates: %w", view, version.ErrConflict)
}

// A resultBuf is the results of one online read, kept in a pool between
// requests so that a read allocates nothing per value.
type resultBuf struct {
	flat  []online.Result
	byRow [][]online.Result
}

// maxPooledResults bounds the buffers kept: a rare huge read does not
// hold its memory afterwards.
const maxPooledResults = 1 << 16

var resultBufs = sync.Pool{New: func() any { return new(resultBuf) }}

// rows returns the buffer as keys rows of n results.
func (b *resultBuf) rows(keys, n int) [][]online.Result {
	if cap(b.flat) < keys*n {
		b.flat = make([]online.Result, keys*n)
	}
	if cap(b.byRow) < keys {
		b.byRow = make([][]online.Result, keys)
	}
	flat, out := b.flat[:keys*n], b.byRow[:keys]
	for i := range out {
		out[i] = flat[i*n : (i+1)*n : (i+1)*n]
	}
	return out
}
