package features_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	redisstore "github.com/kilnml/kiln/features/online/redis"
	"github.com/kilnml/kiln/internal/redistest"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// storeRow is one row of the generated driver table.
type storeRow struct {
	driver  int64
	event   time.Time
	created time.Time
	rate    float64
	trips   int64
}

// storeFixture is a registry over a generated driver table whose event times
// are recent (so that a 24 h TTL keeps them), the rows, and the base time.
type storeFixture struct {
	dir  string
	repo *version.Repository
	reg  *features.Registry
	rows []storeRow
	base time.Time
	path string
}

// newStoreFixture writes drivers × hours rows: driver d has a row at
// base+h for every h < hours where (d+h)%3 != 0, created a minute later,
// plus, for driver 1 at base+3h, a second row with a later created time
// (which wins). Driver 99 has one row 30 hours before base+hours (beyond
// the 24 h TTL).
func newStoreFixture(t testing.TB, drivers, hours int) *storeFixture {
	t.Helper()
	f := &storeFixture{dir: t.TempDir()}
	f.base = time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(hours) * time.Hour)
	for d := 1; d <= drivers; d++ {
		for h := range hours {
			if (d+h)%3 == 0 {
				continue
			}
			e := f.base.Add(time.Duration(h) * time.Hour)
			f.rows = append(f.rows, storeRow{int64(d), e, e.Add(time.Minute), float64(d) + float64(h)/100, int64(d*100 + h)})
			if d == 1 && h == 3 {
				f.rows = append(f.rows, storeRow{1, e, e.Add(2 * time.Minute), 42, 4242})
			}
		}
	}
	old := f.base.Add(time.Duration(hours-30) * time.Hour)
	f.rows = append(f.rows, storeRow{99, old, old, 9.9, 99})
	// Shuffle, so that the newest row is not always last.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(f.rows), func(i, j int) { f.rows[i], f.rows[j] = f.rows[j], f.rows[i] })
	var b strings.Builder
	b.WriteString("driver_id,event_timestamp,created,conv_rate,trips\n")
	for _, r := range f.rows {
		fmt.Fprintf(&b, "%d,%s,%s,%g,%d\n", r.driver, r.event.Format(time.RFC3339), r.created.Format(time.RFC3339), r.rate, r.trips)
	}
	f.path = writeParquet(t, f.dir, "drivers", b.String())
	f.open(t)
	view := features.FeatureView{
		Name:     "driver_stats",
		Entities: []string{"driver"},
		Features: []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}, {Name: "trips", Type: features.TypeInt64}},
		TTL:      24 * time.Hour,
		Source:   features.BatchSource{Path: f.path, Timestamp: "event_timestamp", Created: "created"},
		Online:   true,
	}
	svc := features.FeatureService{Name: "ranker", Features: []string{"driver_stats:trips", "driver_stats:conv_rate"}}
	if _, err := f.reg.Apply(context.Background(), driverEntity(), view, svc); err != nil {
		t.Fatal(err)
	}
	return f
}

// open (re)opens the repository and the registry.
func (f *storeFixture) open(t testing.TB) {
	t.Helper()
	if f.repo != nil {
		f.repo.Close()
	}
	f.repo = openRepo(t, filepath.Join(f.dir, "repo"))
	repo := f.repo
	t.Cleanup(func() { repo.Close() })
	reg, err := features.OpenRegistry(context.Background(), f.repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	f.reg = reg
}

// expected returns, per driver, the row an online read should find after
// materializing [start, end): the latest by event time, then created time.
func (f *storeFixture) expected(start, end time.Time) map[int64]storeRow {
	out := map[int64]storeRow{}
	for _, r := range f.rows {
		if r.event.Before(start) || !r.event.Before(end) {
			continue
		}
		cur, ok := out[r.driver]
		if !ok || r.event.After(cur.event) || r.event.Equal(cur.event) && r.created.After(cur.created) {
			out[r.driver] = r
		}
	}
	return out
}

func (f *storeFixture) newStore(t testing.TB, st online.Store, opts features.StoreOptions) *features.FeatureStore {
	t.Helper()
	opts.Online = st
	fs, err := features.NewStore(f.reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// checkOnline reads drivers 1..n (and 99, and 1000, never written) and
// compares with want.
func checkOnline(t *testing.T, fs *features.FeatureStore, n int, want map[int64]storeRow, ttl time.Duration) {
	t.Helper()
	var ids []online.Value
	for d := 1; d <= n; d++ {
		ids = append(ids, online.Int(int64(d)))
	}
	ids = append(ids, online.Int(99), online.Float(1000)) // a float key is converted
	res, err := fs.GetOnlineFeatures(t.Context(), []string{"driver_stats:conv_rate", "driver_stats:trips"}, map[string][]online.Value{"driver_id": ids})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"driver_id", "driver_stats__conv_rate", "driver_stats__trips"}, res.Names); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	if res.NumKeys != 1 || res.Rows() != len(ids) {
		t.Fatalf("NumKeys %d, rows %d", res.NumKeys, res.Rows())
	}
	now := time.Now()
	type cell struct {
		Status string
		Value  string
		Event  time.Time
	}
	var got, exp []cell
	for r, id := range ids {
		d, _ := id.AsInt()
		if f, ok := id.AsFloat(); ok {
			d = int64(f)
		}
		if !res.Values[0][r].Equal(online.Int(d)) {
			t.Errorf("row %d key %v", r, res.Values[0][r])
		}
		w, ok := want[d]
		for c := 1; c <= 2; c++ {
			got = append(got, cell{res.Status[c][r].String(), res.Values[c][r].String(), res.EventTimes[c][r]})
			switch {
			case !ok:
				exp = append(exp, cell{online.NotFound.String(), "null", time.Time{}})
			case ttl > 0 && w.event.Before(now.Add(-ttl)):
				exp = append(exp, cell{online.Expired.String(), "null", w.event})
			case c == 1:
				exp = append(exp, cell{online.Present.String(), online.Float(w.rate).String(), w.event})
			default:
				exp = append(exp, cell{online.Present.String(), online.Int(w.trips).String(), w.event})
			}
		}
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("online features (-want +got):\n%s", diff)
	}
}

// onlineBackends returns the stores the round trip runs on.
func onlineBackends() []struct {
	name string
	open func(t *testing.T) online.Store
} {
	return []struct {
		name string
		open func(t *testing.T) online.Store
	}{
		{"memory", func(t *testing.T) online.Store { return online.NewMemory() }},
		{"badger", func(t *testing.T) online.Store {
			s, err := badgerstore.Open(t.TempDir(), badgerstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"redis", func(t *testing.T) online.Store {
			srv := redistest.Start(t)
			s, err := redisstore.Open(t.Context(), &redis.UniversalOptions{Addrs: []string{srv.Addr()}}, redisstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
}

func TestStoreMaterializeRoundTrip(t *testing.T) {
	for _, be := range onlineBackends() {
		t.Run(be.name, func(t *testing.T) {
			f := newStoreFixture(t, 20, 10)
			st := be.open(t)
			defer st.Close()
			var mu sync.Mutex
			var last features.MaterializeProgress
			fs := f.newStore(t, st, features.StoreOptions{Workers: 3, BatchSize: 4, Progress: func(p features.MaterializeProgress) {
				mu.Lock()
				last = p
				mu.Unlock()
			}})
			ctx := t.Context()
			// Window [base+3h, base+7h): later rows are left out, earlier too.
			start, end := f.base.Add(3*time.Hour), f.base.Add(7*time.Hour)
			stats, err := fs.Materialize(ctx, []string{"driver_stats"}, start, end)
			if err != nil {
				t.Fatal(err)
			}
			want := f.expected(start, end)
			if len(stats.Views) != 1 || stats.Views[0].RowsRead != int64(len(f.rows)) || stats.Views[0].Written != int64(len(want)) {
				t.Errorf("stats %+v, want %d rows read, %d written", stats, len(f.rows), len(want))
			}
			if !last.Done || last.Written != int64(len(want)) || last.View != "driver_stats" {
				t.Errorf("last progress %+v", last)
			}
			checkOnline(t, fs, 20, want, 24*time.Hour)

			// Everything (nil: every online view): driver 1's created-time
			// tie at base+3h is not its latest; driver 99's row is expired.
			stats, err = fs.Materialize(ctx, nil, time.Time{}, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			want = f.expected(time.Time{}, time.Now().Add(time.Hour))
			if stats.RowsWritten() != int64(len(want)) {
				t.Errorf("written %d, want %d", stats.RowsWritten(), len(want))
			}
			checkOnline(t, fs, 20, want, 24*time.Hour)
			// Running it again changes nothing.
			if _, err := fs.Materialize(ctx, nil, time.Time{}, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			checkOnline(t, fs, 20, want, 24*time.Hour)
			// An older window does not replace newer values.
			if _, err := fs.Materialize(ctx, nil, f.base, f.base.Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
			checkOnline(t, fs, 20, want, 24*time.Hour)
		})
	}
}

func TestStoreCreatedTimeTie(t *testing.T) {
	f := newStoreFixture(t, 3, 4)
	fs := f.newStore(t, online.NewMemory(), features.StoreOptions{})
	ctx := t.Context()
	// Only base+3h: driver 1 has two rows there, the later created wins.
	if _, err := fs.Materialize(ctx, []string{"driver_stats"}, f.base.Add(3*time.Hour), f.base.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	res, err := fs.GetOnlineService(ctx, "ranker", map[string][]online.Value{"driver_id": {online.Int(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"driver_id", "driver_stats__trips", "driver_stats__conv_rate"}, res.Names); diff != "" {
		t.Errorf("service names (-want +got):\n%s", diff)
	}
	if !res.Values[1][0].Equal(online.Int(4242)) || !res.Values[2][0].Equal(online.Float(42)) {
		t.Errorf("tie broken wrongly: %v %v", res.Values[1][0], res.Values[2][0])
	}
}

func TestStoreErrors(t *testing.T) {
	f := newStoreFixture(t, 3, 4)
	ctx := t.Context()
	if _, err := features.NewStore(f.reg, features.StoreOptions{}); !errors.Is(err, features.ErrSpec) {
		t.Errorf("no online store: %v", err)
	}
	fs := f.newStore(t, online.NewMemory(), features.StoreOptions{})
	_, err := fs.GetOnlineFeatures(ctx, []string{"driver_stats:trips"}, map[string][]online.Value{"driver": {online.Int(1)}})
	if !errors.Is(err, features.ErrMissingColumn) || !strings.Contains(err.Error(), `"driver_id"`) {
		t.Errorf("missing join key: %v", err)
	}
	_, err = fs.GetOnlineFeatures(ctx, []string{"driver_stats:nope"}, map[string][]online.Value{"driver_id": {online.Int(1)}})
	if !errors.Is(err, features.ErrNotFound) {
		t.Errorf("unknown feature: %v", err)
	}
	_, err = fs.GetOnlineFeatures(ctx, []string{"driver_stats:trips"}, map[string][]online.Value{"driver_id": {online.String("x")}})
	if !errors.Is(err, features.ErrType) {
		t.Errorf("string key for an int64 join key: %v", err)
	}
	_, err = fs.GetOnlineFeatures(ctx, []string{"driver_stats:trips"}, map[string][]online.Value{"driver_id": {online.Int(1)}, "x": {}})
	if !errors.Is(err, features.ErrSpec) {
		t.Errorf("ragged entity rows: %v", err)
	}
	if _, err := fs.GetOnlineService(ctx, "nope", map[string][]online.Value{"driver_id": {online.Int(1)}}); !errors.Is(err, features.ErrNotFound) {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := fs.Materialize(ctx, []string{"nope"}, time.Time{}, time.Now()); !errors.Is(err, features.ErrNotFound) {
		t.Errorf("unknown view: %v", err)
	}
	// A null key reads as not found.
	res, err := fs.GetOnlineFeatures(ctx, []string{"driver_stats:trips"}, map[string][]online.Value{"driver_id": {online.Null()}})
	if err != nil || res.Status[0][0] != online.NotFound || res.Status[1][0] != online.NotFound {
		t.Errorf("null key: %+v, %v", res, err)
	}
	// A view not marked online.
	v, err := f.reg.View(ctx, "driver_stats")
	if err != nil {
		t.Fatal(err)
	}
	v.Online = false
	if _, err := f.reg.Apply(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Materialize(ctx, []string{"driver_stats"}, time.Time{}, time.Now()); !errors.Is(err, features.ErrNotOnline) {
		t.Errorf("offline view: %v", err)
	}
}

// TestStoreRedisKilled kills Redis in the middle of a materialization: it
// fails; a re-run on a new server completes it.
func TestStoreRedisKilled(t *testing.T) {
	f := newStoreFixture(t, 300, 3)
	ctx := t.Context()
	a := redistest.Start(t)
	sa, err := redisstore.Open(ctx, &redis.UniversalOptions{Addrs: []string{a.Addr()}, MaxRetries: -1}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sa.Close()
	var once sync.Once
	fs := f.newStore(t, sa, features.StoreOptions{Workers: 1, BatchSize: 10, Progress: func(p features.MaterializeProgress) {
		if p.Written > 0 {
			once.Do(a.Kill)
		}
	}})
	end := time.Now().Add(time.Hour)
	stats, err := fs.Materialize(ctx, nil, time.Time{}, end)
	if err == nil {
		t.Fatalf("materialize with Redis killed: no error, stats %+v", stats)
	}
	if w := stats.RowsWritten(); w == 0 || w >= 300 {
		t.Errorf("written before the kill: %d", w)
	}

	b := redistest.Start(t)
	sb, err := redisstore.Open(ctx, &redis.UniversalOptions{Addrs: []string{b.Addr()}}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	fs = f.newStore(t, sb, features.StoreOptions{Workers: 4, BatchSize: 10})
	if _, err := fs.Materialize(ctx, nil, time.Time{}, end); err != nil {
		t.Fatal(err)
	}
	checkOnline(t, fs, 300, f.expected(time.Time{}, end), 24*time.Hour)
}

func TestStoreMaterializeIncremental(t *testing.T) {
	f := newStoreFixture(t, 10, 10)
	ctx := t.Context()
	dir := t.TempDir()
	mid := f.base.Add(5 * time.Hour)
	// A failed run does not move the watermark.
	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	fs := f.newStore(t, st, features.StoreOptions{})
	if _, err := fs.MaterializeIncremental(ctx, nil, mid); !errors.Is(err, online.ErrClosed) {
		t.Errorf("materialize to a closed store: %v", err)
	}
	if marks, err := fs.Watermarks(ctx); err != nil || len(marks) != 0 {
		t.Errorf("watermarks after a failure: %v, %v", marks, err)
	}

	st, err = badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs = f.newStore(t, st, features.StoreOptions{})
	stats, err := fs.MaterializeIncremental(ctx, nil, mid)
	if err != nil {
		t.Fatal(err)
	}
	first := stats.Views[0]
	if !first.Start.IsZero() || !first.End.Equal(mid) || first.Skipped {
		t.Errorf("first run: %+v", first)
	}
	marks, err := fs.Watermarks(ctx)
	if err != nil || !marks["driver_stats"].Equal(mid) {
		t.Errorf("watermarks %v, %v", marks, err)
	}
	checkOnline(t, fs, 10, f.expected(time.Time{}, mid), 24*time.Hour)
	st.Close()

	// Reopen everything: the watermark was persisted.
	f.open(t)
	st, err = badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fs = f.newStore(t, st, features.StoreOptions{})
	end := time.Now().Add(time.Minute)
	stats, err = fs.MaterializeIncremental(ctx, []string{"driver_stats"}, end)
	if err != nil {
		t.Fatal(err)
	}
	second := stats.Views[0]
	var inWin int64
	for _, r := range f.rows {
		if !r.event.Before(mid) && r.event.Before(end) {
			inWin++
		}
	}
	if !second.Start.Equal(mid) || second.RowsInWin != inWin {
		t.Errorf("second run %+v, want start %v and %d rows in window", second, mid, inWin)
	}
	checkOnline(t, fs, 10, f.expected(time.Time{}, end), 24*time.Hour)
	// Nothing left to do.
	stats, err = fs.MaterializeIncremental(ctx, nil, end)
	if err != nil || !stats.Views[0].Skipped {
		t.Errorf("third run %+v, %v", stats, err)
	}
	marks, err = fs.Watermarks(ctx)
	if err != nil || !marks["driver_stats"].Equal(end) {
		t.Errorf("watermarks %v, %v, want %v", marks, err, end)
	}
}

// pushBatch builds a batch of driver rows.
func pushBatch(mem memory.Allocator, ids []int64, ts []time.Time, rates []float64, trips []int64) arrow.RecordBatch {
	tsType := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "driver_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "event_timestamp", Type: tsType},
		{Name: "conv_rate", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "trips", Type: arrow.PrimitiveTypes.Int32},
		{Name: "extra", Type: arrow.BinaryTypes.String},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	for i := range ids {
		b.Field(0).(*array.Int64Builder).Append(ids[i])
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts[i].UnixMicro()))
		if rates[i] < 0 {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Float64Builder).Append(rates[i])
		}
		b.Field(3).(*array.Int32Builder).Append(int32(trips[i]))
		b.Field(4).(*array.StringBuilder).Append("x")
	}
	return b.NewRecordBatch()
}

func TestStorePush(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newStoreFixture(t, 3, 2)
	ctx := t.Context()
	fs := f.newStore(t, online.NewMemory(), features.StoreOptions{})
	now := time.Now().UTC().Truncate(time.Microsecond)
	b := pushBatch(mem, []int64{7, 8, 7, 8}, []time.Time{now, now, now.Add(-time.Minute), now.Add(time.Second)},
		[]float64{0.7, 0.8, 0.1, -1}, []int64{70, 80, 10, 81})
	defer b.Release()
	if err := fs.Push(ctx, "driver_stats", b); err != nil {
		t.Fatal(err)
	}
	res, err := fs.GetOnlineFeatures(ctx, []string{"driver_stats"}, map[string][]online.Value{"driver_id": {online.Int(7), online.Int(8)}})
	if err != nil {
		t.Fatal(err)
	}
	got := [][]string{}
	for c := 1; c < 3; c++ {
		var col []string
		for r := range 2 {
			col = append(col, res.Values[c][r].String()+"@"+res.Status[c][r].String())
		}
		got = append(got, col)
	}
	// Driver 7: the newest row (not the later, older one); driver 8: its
	// newest row, with a null rate (present: the stored value is null).
	want := [][]string{
		{online.Float(0.7).String() + "@" + online.Present.String(), "null@" + online.Present.String()},
		{"70@" + online.Present.String(), "81@" + online.Present.String()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after push (-want +got):\n%s", diff)
	}
	if !res.EventTimes[1][1].Equal(now.Add(time.Second)) {
		t.Errorf("event time %v", res.EventTimes[1][1])
	}
	// A pushed older row does not replace a newer one.
	old := pushBatch(mem, []int64{7}, []time.Time{now.Add(-time.Hour)}, []float64{0.01}, []int64{1})
	defer old.Release()
	if err := fs.Push(ctx, "driver_stats", old); err != nil {
		t.Fatal(err)
	}
	res, err = fs.GetOnlineFeatures(ctx, []string{"driver_stats:trips"}, map[string][]online.Value{"driver_id": {online.Int(7)}})
	if err != nil || !res.Values[1][0].Equal(online.Int(70)) {
		t.Errorf("after an older push: %v, %v", res.Values, err)
	}
	// Missing columns.
	sc := arrow.NewSchema([]arrow.Field{{Name: "driver_id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	bad := array.NewRecordBatch(sc, []arrow.Array{array.NewInt64Builder(mem).NewArray()}, 0)
	defer func() {
		bad.Column(0).Release()
		bad.Release()
	}()
	if err := fs.Push(ctx, "driver_stats", bad); !errors.Is(err, features.ErrMissingColumn) {
		t.Errorf("push without features: %v", err)
	}
}

func TestStoreOnDemand(t *testing.T) {
	f := newStoreFixture(t, 3, 3)
	ctx := t.Context()
	od := features.OnDemandFeature{
		Name:    "adjusted",
		Request: []features.Field{{Name: "bonus", Type: features.TypeFloat64}},
		Inputs:  []string{"driver_stats:conv_rate", "bonus"},
		Outputs: []features.Field{{Name: "rate", Type: features.TypeFloat64}, {Name: "label", Type: features.TypeString}},
		Fn: func(in, out []online.Value) error {
			r, ok1 := in[0].AsFloat()
			b, ok2 := in[1].AsFloat()
			if !ok1 || !ok2 {
				return nil
			}
			if b < 0 {
				return errors.New("negative bonus")
			}
			out[0] = online.Float(r + b)
			out[1] = online.String("ok")
			return nil
		},
	}
	if err := f.reg.RegisterOnDemand(ctx, od); err != nil {
		t.Fatal(err)
	}
	fs := f.newStore(t, online.NewMemory(), features.StoreOptions{})
	end := time.Now().Add(time.Minute)
	if _, err := fs.Materialize(ctx, nil, time.Time{}, end); err != nil {
		t.Fatal(err)
	}
	want := f.expected(time.Time{}, end)
	rows := map[string][]online.Value{
		"driver_id": {online.Int(1), online.Int(2), online.Int(555)},
		"bonus":     {online.Int(1), online.Float(0.5), online.Float(2)}, // an int is converted
	}
	res, err := fs.GetOnlineFeatures(ctx, []string{"adjusted:rate", "driver_stats:trips"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"driver_id", "driver_stats__trips", "adjusted__rate"}, res.Names); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"driver_stats:trips", "adjusted:rate"}, res.Refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	wantRate := []online.Value{online.Float(want[1].rate + 1), online.Float(want[2].rate + 0.5), online.Null()}
	wantSt := []online.Status{online.Present, online.Present, online.NotFound}
	for r := range 3 {
		if !res.Values[2][r].Equal(wantRate[r]) || res.Status[2][r] != wantSt[r] {
			t.Errorf("row %d: %v %v, want %v %v", r, res.Values[2][r], res.Status[2][r], wantRate[r], wantSt[r])
		}
	}
	// Missing request data; an error of the function.
	delete(rows, "bonus")
	if _, err := fs.GetOnlineFeatures(ctx, []string{"adjusted:rate"}, rows); !errors.Is(err, features.ErrMissingColumn) {
		t.Errorf("missing request field: %v", err)
	}
	rows["bonus"] = []online.Value{online.Float(-1), online.Float(0), online.Float(0)}
	if _, err := fs.GetOnlineFeatures(ctx, []string{"adjusted"}, rows); err == nil || !strings.Contains(err.Error(), "negative bonus") {
		t.Errorf("function error: %v", err)
	}
}

func TestStoreHistoricalEqualsPIT(t *testing.T) {
	f := newStoreFixture(t, 8, 6)
	ctx := t.Context()
	fs := f.newStore(t, online.NewMemory(), features.StoreOptions{})
	var b strings.Builder
	b.WriteString("driver_id,event_timestamp,label\n")
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		ts := f.base.Add(time.Duration(rng.IntN(8*60)-60) * time.Minute)
		fmt.Fprintf(&b, "%d,%s,%d\n", rng.IntN(10)+1, ts.Format(time.RFC3339), i)
	}
	entPath := writeParquet(t, f.dir, "entities", b.String())
	ents := pipeline.Parquet(entPath, pipeline.ParquetOptions{})
	got, err := fs.GetHistoricalFeatures(ctx, ents, "event_timestamp", []string{"driver_stats:trips", "driver_stats:conv_rate"}, features.PITOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := features.PointInTimeJoin(ctx, ents, features.EntityColumns{Timestamp: "event_timestamp"}, []features.PITView{{
		Name: "driver_stats", Source: pipeline.Parquet(f.path, pipeline.ParquetOptions{}), Keys: []string{"driver_id"},
		Timestamp: "event_timestamp", Created: "created", TTL: 24 * time.Hour, Features: []string{"trips", "conv_rate"},
	}}, features.PITOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gn, gr := readRows(t, got)
	wn, wr := readRows(t, ref)
	if diff := cmp.Diff(wn, gn); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wr, gr); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	nonNull := 0
	for _, r := range gr {
		if r[len(r)-1] != "(null)" {
			nonNull++
		}
	}
	if nonNull == 0 || nonNull == len(gr) {
		t.Errorf("%d of %d rows found features: the test data is too easy", nonNull, len(gr))
	}
	if _, err := fs.GetHistoricalFeatures(ctx, ents, "event_timestamp", []string{"nope"}, features.PITOptions{}); !errors.Is(err, features.ErrNotFound) {
		t.Errorf("unknown ref: %v", err)
	}
}

// readRows reads a source into column names and rows of formatted values.
func readRows(t *testing.T, src pipeline.Source) ([]string, [][]string) {
	t.Helper()
	sc, err := src.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fl := range sc.Fields() {
		names = append(names, fl.Name)
	}
	var rows [][]string
	for b, err := range src.Batches(t.Context()) {
		if err != nil {
			t.Fatal(err)
		}
		for i := range int(b.NumRows()) {
			var row []string
			for _, c := range b.Columns() {
				row = append(row, c.ValueStr(i))
			}
			rows = append(rows, row)
		}
		b.Release()
	}
	return names, rows
}

func BenchmarkGetOnline1x50Badger(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	// A table of 1000 drivers × 50 float features.
	var sb strings.Builder
	sb.WriteString("driver_id,event_timestamp")
	var feats []features.Field
	for j := range 50 {
		name := fmt.Sprintf("f%02d", j)
		feats = append(feats, features.Field{Name: name, Type: features.TypeFloat64})
		sb.WriteString("," + name)
	}
	sb.WriteString("\n")
	now := time.Now().UTC().Truncate(time.Second)
	for d := range 1000 {
		fmt.Fprintf(&sb, "%d,%s", d, now.Format(time.RFC3339))
		for j := range 50 {
			fmt.Fprintf(&sb, ",%d.5", d*j)
		}
		sb.WriteString("\n")
	}
	path := writeParquet(b, dir, "wide", sb.String())
	repo := openRepo(b, filepath.Join(dir, "repo"))
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		b.Fatal(err)
	}
	view := features.FeatureView{Name: "wide", Entities: []string{"driver"}, Features: feats, TTL: time.Hour,
		Source: features.BatchSource{Path: path, Timestamp: "event_timestamp"}, Online: true}
	if _, err := reg.Apply(ctx, driverEntity(), view); err != nil {
		b.Fatal(err)
	}
	st, err := badgerstore.Open(filepath.Join(dir, "online"), badgerstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	fs, err := features.NewStore(reg, features.StoreOptions{Online: st})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := fs.Materialize(ctx, nil, time.Time{}, now.Add(time.Second)); err != nil {
		b.Fatal(err)
	}
	refs := []string{"wide"}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		rows := map[string][]online.Value{"driver_id": {online.Int(int64(i % 1000))}}
		t0 := time.Now()
		res, err := fs.GetOnlineFeatures(ctx, refs, rows)
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if res.Status[50][0] != online.Present {
			b.Fatalf("status %v", res.Status[50][0])
		}
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func TestStorePushRows(t *testing.T) {
	f := newStoreFixture(t, 3, 2)
	ctx := t.Context()
	fs := f.newStore(t, online.NewMemory(), features.StoreOptions{})
	now := time.Now().UTC().Truncate(time.Second)
	rows := map[string][]online.Value{
		"driver_id":       {online.Float(7), online.Int(7), online.Int(8)}, // an integral float key is converted
		"event_timestamp": {online.String(now.Format(time.RFC3339)), online.Time(now.Add(-time.Minute)), online.Time(now)},
		"conv_rate":       {online.Int(1), online.Float(0.1), online.Null()}, // an int is converted to a float
		"trips":           {online.Int(70), online.Int(10), online.Int(80)},
	}
	if err := fs.PushRows(ctx, "driver_stats", rows); err != nil {
		t.Fatal(err)
	}
	res, err := fs.GetOnlineFeatures(ctx, []string{"driver_stats"}, map[string][]online.Value{"driver_id": {online.Int(7), online.Int(8)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for c := 1; c < 3; c++ {
		for r := range 2 {
			got = append(got, res.Values[c][r].String()+"@"+res.Status[c][r].String())
		}
	}
	want := []string{online.Float(1).String() + "@present", "null@present", "70@present", "80@present"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after PushRows (-want +got):\n%s", diff)
	}
	if !res.EventTimes[1][0].Equal(now) {
		t.Errorf("event time %v, want %v", res.EventTimes[1][0], now)
	}
	for _, tc := range []struct {
		name string
		edit func(map[string][]online.Value)
		is   error
	}{
		{"no feature", func(m map[string][]online.Value) { delete(m, "trips") }, features.ErrMissingColumn},
		{"no time", func(m map[string][]online.Value) { delete(m, "event_timestamp") }, features.ErrMissingColumn},
		{"ragged", func(m map[string][]online.Value) { m["trips"] = m["trips"][:1] }, features.ErrSpec},
		{"bad key", func(m map[string][]online.Value) {
			m["driver_id"] = []online.Value{online.String("x"), online.Int(1), online.Int(2)}
		}, features.ErrType},
		{"null time", func(m map[string][]online.Value) {
			m["event_timestamp"] = []online.Value{online.Null(), online.Null(), online.Null()}
		}, features.ErrMissingValue},
	} {
		m := map[string][]online.Value{}
		for k, v := range rows {
			m[k] = v
		}
		tc.edit(m)
		if err := fs.PushRows(ctx, "driver_stats", m); !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.is)
		}
	}
	if err := fs.PushRows(ctx, "nope", rows); !errors.Is(err, features.ErrNotFound) {
		t.Errorf("unknown view: %v", err)
	}
}

// TestStoreHistoricalAtPinnedDataset: a training set built as of a registry
// version reads the dataset commit that version was applied with, so it is
// rebuilt exactly after the dataset moved on; the latest reads the head.
func TestStoreHistoricalAtPinnedDataset(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	repo := openRepo(t, filepath.Join(dir, "repo"))
	defer repo.Close()
	first := writeParquet(t, dir, "first", driverCSV)
	if _, err := repo.CommitTable(ctx, "driver_data", pipeline.Parquet(first, pipeline.ParquetOptions{}), version.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	v := driverView("")
	v.Source = features.BatchSource{Dataset: "driver_data", Timestamp: "event_timestamp", Created: "created"}
	n, err := reg.Apply(ctx, driverEntity(), v)
	if err != nil {
		t.Fatal(err)
	}
	// The dataset gets a later, corrected row for driver 1001.
	second := writeParquet(t, dir, "second", driverCSV+"1001,2026-01-01T11:30:00Z,2026-01-01T11:35:00Z,0.9,99,Paris\n")
	if _, err := repo.CommitTable(ctx, "driver_data", pipeline.Parquet(second, pipeline.ParquetOptions{}), version.TableOptions{}); err != nil {
		t.Fatal(err)
	}
	fs, err := features.NewStore(reg, features.StoreOptions{Online: online.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	ents := writeParquet(t, dir, "entities", "driver_id,event_timestamp\n1001,2026-01-01T12:00:00Z\n")
	trips := func(src pipeline.Source, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		_, rows := readRows(t, src)
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		return rows[0][len(rows[0])-1]
	}
	refs := []string{"driver_stats:trips"}
	if got := trips(fs.GetHistoricalFeaturesAt(ctx, n, pipeline.Parquet(ents, pipeline.ParquetOptions{}), "event_timestamp", refs, features.PITOptions{})); got != "12" {
		t.Errorf("as of registry version %d: trips %s, want 12 (the dataset as applied)", n, got)
	}
	if got := trips(fs.GetHistoricalFeatures(ctx, pipeline.Parquet(ents, pipeline.ParquetOptions{}), "event_timestamp", refs, features.PITOptions{})); got != "99" {
		t.Errorf("latest: trips %s, want 99 (the dataset's head)", got)
	}
	if _, err := fs.GetHistoricalFeaturesAt(ctx, 0, pipeline.Parquet(ents, pipeline.ParquetOptions{}), "event_timestamp", refs, features.PITOptions{}); !errors.Is(err, features.ErrSpec) {
		t.Errorf("version 0: %v, want ErrSpec", err)
	}
}
