package features

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/pipeline"
)

// pitTable builds a batch from columns given as Go slices; nil entries of
// []any are nulls. Supported: string, int64, float64, time.Time (timestamp
// us, UTC).
func pitTable(t testing.TB, mem memory.Allocator, names []string, cols ...[]any) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	var arrs []arrow.Array
	n := len(cols[0])
	for ci, col := range cols {
		var dt arrow.DataType
		for _, v := range col {
			switch v.(type) {
			case string:
				dt = arrow.BinaryTypes.String
			case int64:
				dt = arrow.PrimitiveTypes.Int64
			case float64:
				dt = arrow.PrimitiveTypes.Float64
			case time.Time:
				dt = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
			}
			if dt != nil {
				break
			}
		}
		if dt == nil {
			dt = arrow.PrimitiveTypes.Float64
		}
		b := array.NewBuilder(mem, dt)
		for _, v := range col {
			switch v := v.(type) {
			case nil:
				b.AppendNull()
			case string:
				b.(*array.StringBuilder).Append(v)
			case int64:
				b.(*array.Int64Builder).Append(v)
			case float64:
				b.(*array.Float64Builder).Append(v)
			case time.Time:
				b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.UnixMicro()))
			}
		}
		fields = append(fields, arrow.Field{Name: names[ci], Type: dt, Nullable: true})
		arrs = append(arrs, b.NewArray())
		b.Release()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

// rowsOf reads src into rows of Go values (nil for null).
func rowsOf(t testing.TB, src pipeline.Source) ([]string, [][]any) {
	t.Helper()
	ctx := context.Background()
	sc, err := src.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range sc.Fields() {
		names = append(names, f.Name)
	}
	var rows [][]any
	for b, err := range src.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if !b.Schema().Equal(sc) {
			t.Fatalf("batch schema %s, want %s", b.Schema(), sc)
		}
		for i := range int(b.NumRows()) {
			var row []any
			for _, c := range b.Columns() {
				if c.IsNull(i) {
					row = append(row, nil)
					continue
				}
				switch a := c.(type) {
				case *array.String:
					row = append(row, a.Value(i))
				case *array.Int64:
					row = append(row, a.Value(i))
				case *array.Float64:
					row = append(row, a.Value(i))
				case *array.Timestamp:
					row = append(row, time.UnixMicro(int64(a.Value(i))).UTC())
				default:
					t.Fatalf("type %s", c.DataType())
				}
			}
			rows = append(rows, row)
		}
		b.Release()
	}
	return names, rows
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func hr(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func checkedMem(t *testing.T) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func TestPointInTimeJoinSemantics(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	ents := pitTable(t, mem, []string{"driver", "city", "ts", "label"},
		[]any{"a", "a", "a", "b", "c", nil, "a", "b", "a"},
		[]any{"x", "y", "x", "x", "x", "x", "x", nil, "x"},
		[]any{hr(0), hr(2), hr(5), hr(3), hr(3), hr(3), hr(30), hr(3), nil},
		[]any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0})
	defer ents.Release()
	// driver view: exact tie at hr(2) for "a" broken by created; "b" has a
	// null feature value at its latest row; "c" only has a future row.
	drv := pitTable(t, mem, []string{"driver", "ts", "created", "rate", "trips"},
		[]any{"a", "a", "a", "a", "b", "b", "c", "a"},
		[]any{hr(0), hr(2), hr(2), hr(2), hr(1), hr(3), hr(4), hr(6)},
		[]any{hr(0), hr(9), hr(7), hr(9), hr(0), hr(0), hr(0), hr(0)},
		[]any{0.5, 0.7, 0.6, 0.8, 0.1, nil, 0.3, 0.9},
		[]any{int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8)})
	defer drv.Release()
	// city view, keyed by (city, driver), TTL 2h: a row exactly 2h old is
	// included, older is not.
	city := pitTable(t, mem, []string{"city", "driver", "ts", "busy"},
		[]any{"x", "x", "y", "x"},
		[]any{"a", "a", "a", "b"},
		[]any{hr(0), hr(3), hr(-1), hr(1)},
		[]any{int64(10), int64(11), int64(12), int64(13)})
	defer city.Release()

	e1, e2 := ents.NewSlice(0, 4), ents.NewSlice(4, 9)
	es := pipeline.FromBatches(nil, e1, e2)
	e1.Release()
	e2.Release()
	defer es.Release()
	ds := pipeline.FromBatches(nil, drv)
	defer ds.Release()
	cs := pipeline.FromBatches(nil, city)
	defer cs.Release()
	views := []PITView{
		{Name: "driver", Source: ds, Keys: []string{"driver"}, Timestamp: "ts", Created: "created"},
		{Name: "city", Source: cs, Keys: []string{"city", "driver"}, Timestamp: "ts", TTL: 2 * time.Hour},
	}
	want := [][]any{
		{"a", "x", hr(0), 1.0, 0.5, int64(1), int64(10)},
		{"a", "y", hr(2), 2.0, 0.8, int64(4), nil},       // hr(-1) is 3h old: out of TTL
		{"a", "x", hr(5), 3.0, 0.8, int64(4), int64(11)}, // city hr(3) exactly 2h old: in
		{"b", "x", hr(3), 4.0, nil, int64(6), int64(13)}, // latest b row has a null rate; city 2h old
		{"c", "x", hr(3), 5.0, nil, nil, nil},            // c's only row is later
		{nil, "x", hr(3), 6.0, nil, nil, nil},            // null key
		{"a", "x", hr(30), 7.0, 0.9, int64(8), nil},      // city too old
		{"b", nil, hr(3), 8.0, nil, int64(6), nil},       // null city key
		{"a", "x", nil, 9.0, nil, nil, nil},              // null time
	}
	wantNames := []string{"driver", "city", "ts", "label", "driver__rate", "driver__trips", "city__busy"}
	for _, opts := range []PITOptions{
		{Allocator: mem},
		{Allocator: mem, Workers: 1},
		{Allocator: mem, MemoryBudget: 1, TempDir: t.TempDir()},
	} {
		t.Run(fmt.Sprintf("workers=%d,budget=%d", opts.Workers, opts.MemoryBudget), func(t *testing.T) {
			var last PITProgress
			opts.Progress = func(p PITProgress) { last = p }
			out, err := PointInTimeJoin(ctx, es, EntityColumns{Keys: []string{"driver", "city"}, Timestamp: "ts"}, views, opts)
			if err != nil {
				t.Fatal(err)
			}
			names, rows := rowsOf(t, out)
			if d := cmp.Diff(wantNames, names); d != "" {
				t.Errorf("names (-want +got):\n%s", d)
			}
			if d := cmp.Diff(want, rows); d != "" {
				t.Errorf("rows (-want +got):\n%s", d)
			}
			if !last.Done || last.EntityRows != 9 || last.FeatureRows != 12 {
				t.Errorf("last progress %+v", last)
			}
			if opts.MemoryBudget > 0 && last.SpilledViews != 2 {
				t.Errorf("spilled %d views, want 2", last.SpilledViews)
			}
		})
	}
}

func TestPointInTimeJoinErrors(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	ents := pitTable(t, mem, []string{"k", "ts", "n"}, []any{"a"}, []any{hr(0)}, []any{int64(1)})
	defer ents.Release()
	feats := pitTable(t, mem, []string{"k", "ts", "v"}, []any{int64(1)}, []any{hr(0)}, []any{1.0})
	defer feats.Release()
	es := pipeline.FromBatches(nil, ents)
	defer es.Release()
	fs := pipeline.FromBatches(nil, feats)
	defer fs.Release()
	for name, c := range map[string]struct {
		cols EntityColumns
		v    PITView
	}{
		"key types":      {EntityColumns{Timestamp: "ts"}, PITView{Name: "v", Source: fs, Keys: []string{"k"}, Timestamp: "ts"}},
		"no entity time": {EntityColumns{Timestamp: "n"}, PITView{Name: "v", Source: fs, Keys: []string{"k"}, Timestamp: "ts"}},
		"missing key":    {EntityColumns{Timestamp: "ts"}, PITView{Name: "v", Source: fs, Keys: []string{"zz"}, Timestamp: "ts"}},
		"missing feat":   {EntityColumns{Timestamp: "ts"}, PITView{Name: "v", Source: fs, Keys: []string{"ts"}, Timestamp: "ts", Features: []string{"w"}}},
		"no name":        {EntityColumns{Timestamp: "ts"}, PITView{Source: fs, Keys: []string{"ts"}, Timestamp: "ts"}},
		"key not listed": {EntityColumns{Keys: []string{"n"}, Timestamp: "ts"}, PITView{Name: "v", Source: fs, Keys: []string{"ts"}, Timestamp: "ts"}},
	} {
		if _, err := PointInTimeJoin(ctx, es, c.cols, []PITView{c.v}, PITOptions{}); !errors.Is(err, ErrPIT) {
			t.Errorf("%s: err %v, want ErrPIT", name, err)
		}
	}
}

// refJoin is the O(n·m) reference: for each entity row, scan all feature
// rows.
func refJoin(ents []refEnt, feats []refFeat, ttl time.Duration) []*refFeat {
	out := make([]*refFeat, len(ents))
	for i, e := range ents {
		if e.key == nil || e.t == nil {
			continue
		}
		var best *refFeat
		for j := range feats {
			f := &feats[j]
			if f.key == nil || f.t == nil || *f.key != *e.key || f.t.After(*e.t) {
				continue
			}
			if ttl > 0 && f.t.Before(e.t.Add(-ttl)) {
				continue
			}
			if best == nil || f.t.After(*best.t) || (f.t.Equal(*best.t) && !refCreatedLess(f, best)) {
				best = f
			}
		}
		out[i] = best
	}
	return out
}

// refCreatedLess reports whether a's created time is below b's (null
// lowest); equal created times are not less, so the later row wins.
func refCreatedLess(a, b *refFeat) bool {
	switch {
	case a.c == nil:
		return b.c != nil
	case b.c == nil:
		return false
	}
	return a.c.Before(*b.c)
}

type refEnt struct {
	key *string
	t   *time.Time
}

type refFeat struct {
	key  *string
	t, c *time.Time
	v    any
}

func TestPointInTimeJoinRandom(t *testing.T) {
	ctx := context.Background()
	for seed := range 12 {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			mem := checkedMem(t)
			rng := rand.New(rand.NewPCG(uint64(seed), 7))
			nk := 1 + rng.IntN(20)
			ne, nf := rng.IntN(400), rng.IntN(600)
			randKey := func() *string {
				if rng.IntN(30) == 0 {
					return nil
				}
				s := fmt.Sprintf("k%d", rng.IntN(nk))
				return &s
			}
			randTime := func(null int) *time.Time {
				if rng.IntN(null) == 0 {
					return nil
				}
				tm := hr(rng.IntN(48))
				return &tm
			}
			ents := make([]refEnt, ne)
			eCols := [][]any{make([]any, ne), make([]any, ne)}
			for i := range ents {
				ents[i] = refEnt{randKey(), randTime(40)}
				if ents[i].key != nil {
					eCols[0][i] = *ents[i].key
				}
				if ents[i].t != nil {
					eCols[1][i] = *ents[i].t
				}
			}
			feats := make([]refFeat, nf)
			fCols := [][]any{make([]any, nf), make([]any, nf), make([]any, nf), make([]any, nf)}
			for i := range feats {
				f := refFeat{key: randKey(), t: randTime(50), c: randTime(5)}
				if rng.IntN(10) > 0 {
					f.v = float64(i)
				}
				feats[i] = f
				if f.key != nil {
					fCols[0][i] = *f.key
				}
				if f.t != nil {
					fCols[1][i] = *f.t
				}
				if f.c != nil {
					fCols[2][i] = *f.c
				}
				fCols[3][i] = f.v
			}
			var ttl time.Duration
			if seed%2 == 1 {
				ttl = time.Duration(1+rng.IntN(10)) * time.Hour
			}
			want := refJoin(ents, feats, ttl)
			// Force typed columns even when every value is null.
			eb := typedBatch(t, mem, []string{"id", "ts"}, eCols, []arrow.DataType{arrow.BinaryTypes.String, tsType})
			defer eb.Release()
			fb := typedBatch(t, mem, []string{"id", "ts", "created", "v"}, fCols,
				[]arrow.DataType{arrow.BinaryTypes.String, tsType, tsType, arrow.PrimitiveTypes.Float64})
			defer fb.Release()
			et, ft := tableOf(eb), tableOf(fb)
			defer et.Release()
			defer ft.Release()
			es := pipeline.FromTable(et, 1+rng.IntN(50))
			defer es.Release()
			fs := pipeline.FromTable(ft, 1+rng.IntN(80))
			defer fs.Release()
			view := PITView{Name: "f", Source: fs, Keys: []string{"id"}, Timestamp: "ts", Created: "created", TTL: ttl}
			for _, opts := range []PITOptions{
				{Allocator: mem, Workers: 3},
				{Allocator: mem, Workers: 1, MemoryBudget: 100, TempDir: t.TempDir()},
			} {
				out, err := PointInTimeJoin(ctx, es, EntityColumns{Timestamp: "ts"}, []PITView{view}, opts)
				if err != nil {
					t.Fatal(err)
				}
				_, rows := rowsOf(t, out)
				if len(rows) != ne {
					t.Fatalf("%d rows, want %d", len(rows), ne)
				}
				for i, r := range rows {
					var w any
					if want[i] != nil {
						w = want[i].v
					}
					if r[2] != w {
						t.Fatalf("budget %d: row %d (%v %v): got %v, want %v", opts.MemoryBudget, i, eCols[0][i], eCols[1][i], r[2], w)
					}
				}
			}
		})
	}
}

var tsType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func typedBatch(t testing.TB, mem memory.Allocator, names []string, cols [][]any, types []arrow.DataType) arrow.RecordBatch {
	t.Helper()
	var fields []arrow.Field
	var arrs []arrow.Array
	for ci, col := range cols {
		b := array.NewBuilder(mem, types[ci])
		for _, v := range col {
			switch v := v.(type) {
			case nil:
				b.AppendNull()
			case string:
				b.(*array.StringBuilder).Append(v)
			case float64:
				b.(*array.Float64Builder).Append(v)
			case time.Time:
				b.(*array.TimestampBuilder).Append(arrow.Timestamp(v.UnixMicro()))
			}
		}
		fields = append(fields, arrow.Field{Name: names[ci], Type: types[ci], Nullable: true})
		arrs = append(arrs, b.NewArray())
		b.Release()
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(cols[0])))
	for _, a := range arrs {
		a.Release()
	}
	return rec
}

func tableOf(b arrow.RecordBatch) arrow.Table {
	tbl := array.NewTableFromRecords(b.Schema(), []arrow.RecordBatch{b})
	return tbl
}

// TestPointInTimeJoinSpillFiles checks that a spilled join writes its
// partitions under TempDir and removes them at the end, also when the
// consumer stops early.
func TestPointInTimeJoinSpillFiles(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	n := 5000
	eCols := [][]any{make([]any, n), make([]any, n)}
	fCols := [][]any{make([]any, n), make([]any, n), make([]any, n)}
	for i := range n {
		eCols[0][i] = fmt.Sprintf("k%d", i%97)
		eCols[1][i] = hr(i % 100)
		fCols[0][i] = fmt.Sprintf("k%d", i%89)
		fCols[1][i] = hr(i%100 - 1)
		fCols[2][i] = float64(i)
	}
	eb := typedBatch(t, mem, []string{"id", "ts"}, eCols, []arrow.DataType{arrow.BinaryTypes.String, tsType})
	defer eb.Release()
	fb := typedBatch(t, mem, []string{"id", "ts", "v"}, fCols, []arrow.DataType{arrow.BinaryTypes.String, tsType, arrow.PrimitiveTypes.Float64})
	defer fb.Release()
	et, ft := tableOf(eb), tableOf(fb)
	defer et.Release()
	defer ft.Release()
	es := pipeline.FromTable(et, 512)
	defer es.Release()
	fs := pipeline.FromTable(ft, 512)
	defer fs.Release()
	view := PITView{Name: "f", Source: fs, Keys: []string{"id"}, Timestamp: "ts"}
	inMem, err := PointInTimeJoin(ctx, es, EntityColumns{Timestamp: "ts"}, []PITView{view}, PITOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	_, want := rowsOf(t, inMem)
	dir := t.TempDir()
	var spilled int
	opts := PITOptions{Allocator: mem, MemoryBudget: 20000, TempDir: dir, Progress: func(p PITProgress) { spilled = p.SpilledViews }}
	out, err := PointInTimeJoin(ctx, es, EntityColumns{Timestamp: "ts"}, []PITView{view}, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, got := rowsOf(t, out)
	if spilled != 1 {
		t.Errorf("spilled views %d, want 1", spilled)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("spilled join differs (-in memory +spilled):\n%s", d)
	}
	// Stop after one batch.
	for b, err := range out.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		b.Release()
		break
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 0 {
		t.Errorf("spill files left behind: %v", left)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}
