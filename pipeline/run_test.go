package pipeline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// runSource is an in-memory Source for the runner tests. It yields its
// batches (retained, so the consumer owns them), or repeats them until its
// context ends, and records what it did.
type runSource struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	forever bool   // repeat the batches until the context ends
	failAt  int    // yield errSource instead of batch failAt (1-based); 0 never
	after   func() // called after each yield returns

	yielded atomic.Int64 // batches handed out
	started atomic.Int32 // calls to Batches
	running atomic.Int32 // iterations in progress
}

var errSource = errors.New("test source: read failed")

func (s *runSource) Schema(ctx context.Context) (*arrow.Schema, error) { return s.schema, nil }

func (s *runSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		s.started.Add(1)
		s.running.Add(1)
		defer s.running.Add(-1)
		for i := 0; s.forever || i < len(s.batches); i++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if i+1 == s.failAt {
				yield(nil, errSource)
				return
			}
			b := s.batches[i%len(s.batches)]
			b.Retain()
			s.yielded.Add(1)
			if !yield(b, nil) {
				return
			}
			if s.after != nil {
				s.after()
			}
		}
	}
}

// release releases the source's batches.
func (s *runSource) release() {
	for _, b := range s.batches {
		b.Release()
	}
}

var runSchema = stgSchema("id:int64", "name:string", "v:float64")

// newRunSource builds nb batches of rows each: id counts from 0, name is
// "r<id>", v is id/2 and null for every seventh row.
func newRunSource(t testing.TB, mem memory.Allocator, nb, rows int) *runSource {
	s := &runSource{schema: runSchema}
	id := int64(0)
	for range nb {
		ib := array.NewInt64Builder(mem)
		sb := array.NewStringBuilder(mem)
		fb := array.NewFloat64Builder(mem)
		for range rows {
			ib.Append(id)
			sb.Append("r" + strconv.FormatInt(id, 10))
			if id%7 == 3 {
				fb.AppendNull()
			} else {
				fb.Append(float64(id) / 2)
			}
			id++
		}
		cols := []arrow.Array{ib.NewArray(), sb.NewArray(), fb.NewArray()}
		s.batches = append(s.batches, array.NewRecordBatch(runSchema, cols, int64(rows)))
		for _, c := range cols {
			c.Release()
		}
		ib.Release()
		sb.Release()
		fb.Release()
	}
	t.Cleanup(s.release)
	return s
}

// sleepy is a Map stage that sleeps a random moment before passing each
// batch on, so that workers finish out of order.
func sleepy() Stage {
	return Map("sleepy", nil, func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		in.Retain()
		return in, nil
	})
}

// ids returns the first column of rows as numbers.
func ids(t testing.TB, rows [][]string) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		v, err := strconv.ParseInt(r[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func seq(from, to int64, keep func(int64) bool) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		if keep == nil || keep(i) {
			out = append(out, i)
		}
	}
	return out
}

// noGoroutineLeak waits for the number of goroutines to drop back to
// before, and fails the test if it does not within a few seconds.
func noGoroutineLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRunOrderPreserved(t *testing.T) {
	for par := 1; par <= 8; par++ {
		t.Run(fmt.Sprintf("parallelism=%d", par), func(t *testing.T) {
			mem := checkedAlloc(t)
			src := newRunSource(t, mem, 40, 25)
			p := New(src, sleepy(),
				Derive1("double", "id", func(id int64) int64 { return 2 * id }),
				Filter(Col("id").Ne(int64(17))))
			sink := &stgSink{}
			stats, err := p.Run(context.Background(), sink, RunOptions{Parallelism: par, Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			want := seq(0, 1000, func(i int64) bool { return i != 17 })
			if d := cmp.Diff(want, ids(t, sink.rows)); d != "" {
				t.Fatalf("ids out of order (-want +got):\n%s", d)
			}
			for i, r := range sink.rows {
				if r[3] != strconv.FormatInt(2*want[i], 10) {
					t.Fatalf("row %d: double = %s, want %d", i, r[3], 2*want[i])
				}
			}
			if stats.RowsRead != 1000 || stats.RowsWritten != 999 || stats.Batches != 40 {
				t.Errorf("stats %+v", stats)
			}
			if sink.state() != "open=1 commit=1 abort=0" {
				t.Errorf("sink %s", sink.state())
			}
		})
	}
}

func TestRunUnordered(t *testing.T) {
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 60, 10)
	sink := &stgSink{}
	stats, err := New(src, sleepy()).Run(context.Background(), sink, RunOptions{Parallelism: 6, Unordered: true, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(t, sink.rows)
	slices.Sort(got)
	if d := cmp.Diff(seq(0, 600, nil), got); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
	if stats.RowsWritten != 600 {
		t.Errorf("RowsWritten = %d", stats.RowsWritten)
	}
}

func TestRunErrors(t *testing.T) {
	bad := func(at int64) Stage {
		return Map("bad", nil, func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
			if in.Column(0).(*array.Int64).Value(0) == at {
				return nil, errors.New("bad batch")
			}
			in.Retain()
			return in, nil
		})
	}
	tests := []struct {
		name     string
		stages   []Stage
		failAt   int
		want     string
		sentinel error
	}{
		{name: "stage error", stages: []Stage{sleepy(), bad(100)}, want: "stage bad: bad batch"},
		{name: "parse error in cast", stages: []Stage{
			Derive1("text", "id", func(id int64) string {
				if id == 345 {
					return "x"
				}
				return strconv.FormatInt(id, 10)
			}),
			Cast("text", arrow.PrimitiveTypes.Int64)},
			want: `stage cast(text as int64): pipeline: cast: row 6: column "text": value "x"`, sentinel: ErrParse},
		{name: "panic in derive", stages: []Stage{sleepy(), Derive2("q", "id", "v", func(id int64, v float64) float64 {
			if id == 250 {
				var p *int
				return float64(*p)
			}
			return v
		})}, want: "stage derive(q): derive \"q\": pipeline: panic in user function: runtime error: invalid memory address", sentinel: ErrPanic},
		{name: "panic in sequential stage", stages: []Stage{Validate(ValidateOptions{Expect: []Expectation{NotNull("id")}}),
			Derive1("q", "id", func(id int64) int64 { panic(fmt.Sprint("no ", id)) })},
			want: "panic in user function: no 0 (batch row 1: id=0)", sentinel: ErrPanic},
		{name: "validation error", stages: []Stage{Validate(ValidateOptions{Expect: []Expectation{InRange("id", 0, 300)}})},
			want:     `stage validate: pipeline: validation failed: row 302: column "id": value "301" fails in_range(id, 0, 300)`,
			sentinel: ErrValidation},
		{name: "source error", failAt: 13, want: "test source: read failed", sentinel: errSource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			mem := checkedAlloc(t)
			src := newRunSource(t, mem, 50, 10)
			src.failAt = tc.failAt
			sink := &stgSink{}
			_, err := New(src, tc.stages...).Run(context.Background(), sink, RunOptions{Parallelism: 4, Allocator: mem})
			if err == nil {
				t.Fatal("run succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", firstLine(err.Error()), tc.want)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("error %q does not wrap %v", firstLine(err.Error()), tc.sentinel)
			}
			if sink.state() != "open=1 commit=0 abort=1" {
				t.Errorf("sink %s, want aborted", sink.state())
			}
			noGoroutineLeak(t, before)
		})
	}
}

func TestRunCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 5, 100)
	src.forever = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &stgSink{onWrite: func(n int) {
		if n == 20 {
			cancel()
		}
	}}
	const inflight = 4
	_, err := New(src, sleepy(), Derive1("x", "id", func(id int64) int64 { return id })).
		Run(ctx, sink, RunOptions{Parallelism: 3, MaxInFlight: inflight, Allocator: mem})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	// The run stopped within the batches in flight at the cancellation.
	if y := src.yielded.Load(); y > 20+inflight+1 {
		t.Errorf("source yielded %d batches, more than 20 written + %d in flight", y, inflight)
	}
	if sink.state() != "open=1 commit=0 abort=1" {
		t.Errorf("sink %s", sink.state())
	}
	if n := src.running.Load(); n != 0 {
		t.Errorf("source still iterating after Run returned")
	}
	noGoroutineLeak(t, before)
}

func TestRunBackpressure(t *testing.T) {
	for _, inflight := range []int{1, 3, 8} {
		t.Run(fmt.Sprintf("max_in_flight=%d", inflight), func(t *testing.T) {
			mem := checkedAlloc(t)
			src := newRunSource(t, mem, 60, 10)
			sink := &stgSink{onWrite: func(int) { time.Sleep(200 * time.Microsecond) }}
			var maxAhead atomic.Int64
			src.after = func() {
				// After a yield returns the batch holds a slot; the
				// batches the sink has not started are all in flight.
				sink.mu.Lock()
				ahead := src.yielded.Load() - int64(sink.writes)
				sink.mu.Unlock()
				if ahead > maxAhead.Load() {
					maxAhead.Store(ahead)
				}
			}
			_, err := New(src, Derive1("x", "id", func(id int64) int64 { return id })).
				Run(context.Background(), sink, RunOptions{Parallelism: 4, MaxInFlight: inflight, Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			if m := maxAhead.Load(); m > int64(inflight) {
				t.Errorf("source ran %d batches ahead of the sink, MaxInFlight is %d", m, inflight)
			}
			if len(sink.rows) != 600 {
				t.Errorf("%d rows written", len(sink.rows))
			}
		})
	}
}

func TestRunProgressAndStats(t *testing.T) {
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 30, 20)
	var reports []Progress
	q := &stgSink{}
	p := New(src,
		sleepy(),
		Filter(Col("id").Ge(int64(100))),
		Derive1("half", "v", func(v float64) float64 { return v / 2 }),
		Validate(ValidateOptions{Expect: []Expectation{NotNull("half"), InRange("id", 0, 549)}, OnFailure: QuarantineRow, Quarantine: q}),
		Select("id", "half"),
	)
	sink := &stgSink{}
	stats, err := p.Run(context.Background(), sink, RunOptions{Parallelism: 4, Allocator: mem,
		Progress: func(pr Progress) { reports = append(reports, pr) }})
	if err != nil {
		t.Fatal(err)
	}
	// Rows 100..599 reach Validate; null v (id%7 == 3) and id >= 550 go
	// to quarantine.
	nulls := int64(len(seq(100, 600, func(i int64) bool { return i%7 == 3 })))
	high := int64(50)
	failed := int64(len(seq(100, 600, func(i int64) bool { return i%7 == 3 || i >= 550 })))
	kept := 500 - failed
	want := []StageStats{
		{Name: "sleepy", RowsIn: 600, RowsOut: 600},
		{Name: "filter(id >= 100)", RowsIn: 600, RowsOut: 500},
		{Name: "derive(half)", RowsIn: 500, RowsOut: 500},
		{Name: "validate", RowsIn: 500, RowsOut: kept, Counts: map[string]int64{
			"rows_failed": failed, "dropped": 0, "quarantined": failed,
			"not_null(half)": nulls, "in_range(id, 0, 549)": high}},
		{Name: "select", RowsIn: kept, RowsOut: kept},
	}
	if d := cmp.Diff(want, stats.Stages); d != "" {
		t.Errorf("stage stats (-want +got):\n%s", d)
	}
	if stats.RowsRead != 600 || stats.RowsWritten != kept || int64(len(sink.rows)) != kept {
		t.Errorf("stats %+v, %d rows written", stats, len(sink.rows))
	}
	if int64(len(q.rows)) != failed || q.state() != "open=1 commit=1 abort=0" {
		t.Errorf("quarantine: %d rows, %s", len(q.rows), q.state())
	}
	// Quarantined rows keep the input order.
	if got := ids(t, q.rows); !slices.IsSorted(got) {
		t.Errorf("quarantine out of order: %v", got)
	}

	// Progress: once per batch written and once at the end, with counts
	// that only grow. Of the 30 batches, the filter empties the first 5
	// (ids 0..99) and the quarantine the last 2 (ids 560..599).
	if len(reports) != 24 {
		t.Fatalf("%d progress reports, want 24", len(reports))
	}
	for i, r := range reports {
		last := i == len(reports)-1
		if r.Done != last {
			t.Errorf("report %d: Done = %v", i, r.Done)
		}
		if i > 0 {
			prev := reports[i-1]
			if r.RowsWritten < prev.RowsWritten || r.RowsRead < prev.RowsRead || r.Batches < prev.Batches || r.Elapsed < prev.Elapsed {
				t.Errorf("report %d goes back: %+v after %+v", i, r, prev)
			}
		}
		if r.TotalBytes != -1 {
			t.Errorf("report %d: TotalBytes = %d for a source that does not count bytes", i, r.TotalBytes)
		}
	}
	if last := reports[len(reports)-1]; last.RowsWritten != kept || last.RowsRead != 600 || last.Batches != 23 {
		t.Errorf("final report %+v", last)
	}
}

func TestRunQuarantineAbortedOnFailure(t *testing.T) {
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 10, 10)
	q := &stgSink{}
	sink := &stgSink{failWrite: 7}
	p := New(src, Validate(ValidateOptions{Expect: []Expectation{NotNull("v")}, OnFailure: QuarantineRow, Quarantine: q}))
	_, err := p.Run(context.Background(), sink, RunOptions{Parallelism: 2, Allocator: mem})
	if !errors.Is(err, errSinkWrite) {
		t.Fatalf("error %v, want the sink's", err)
	}
	if q.state() != "open=1 commit=0 abort=1" || sink.state() != "open=1 commit=0 abort=1" {
		t.Errorf("quarantine %s, sink %s: want both aborted", q.state(), sink.state())
	}
}

// TestRunQuarantineCollect quarantines into the in-memory table sink.
func TestRunQuarantineCollect(t *testing.T) {
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 4, 10)
	q := Collect()
	out := Collect()
	p := New(src, Validate(ValidateOptions{Expect: []Expectation{NotNull("v"), InRange("id", 0, 35)},
		OnFailure: QuarantineRow, Quarantine: q}))
	if _, err := p.Run(context.Background(), out, RunOptions{Allocator: mem}); err != nil {
		t.Fatal(err)
	}
	tq, to := q.Table(), out.Table()
	defer tq.Release()
	defer to.Release()
	rdr := array.NewTableReader(tq, -1)
	defer rdr.Release()
	var got [][]string
	for rdr.Next() {
		got = append(got, stgProject(stgRows(rdr.RecordBatch()), 0, 3)...)
	}
	want := [][]string{{"3", "not_null(v)"}, {"10", "not_null(v)"}, {"17", "not_null(v)"}, {"24", "not_null(v)"},
		{"31", "not_null(v)"}, {"36", "in_range(id, 0, 35)"}, {"37", "in_range(id, 0, 35)"},
		{"38", "not_null(v); in_range(id, 0, 35)"}, {"39", "in_range(id, 0, 35)"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("quarantine (-want +got):\n%s", d)
	}
	if to.NumRows() != 40-int64(len(want)) {
		t.Errorf("%d rows out", to.NumRows())
	}
}

func TestPipelineSchema(t *testing.T) {
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 1, 1)
	p := New(src, Derive1("x", "id", func(id int64) float64 { return 0 }), Rename(map[string]string{"name": "label"}), Drop("v"))
	sc, err := p.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"id:int64?", "label:utf8?", "x:float64?"}, stgFields(sc)); d != "" {
		t.Errorf("schema (-want +got):\n%s", d)
	}
	// A stage that cannot bind fails Schema, Run and Batches before any
	// batch is read.
	p = New(src, Select("id", "name"), Derive1("y", "v", func(v float64) float64 { return v }))
	want := `stage 2 (derive(y)): pipeline: schema mismatch: no column "v" (columns: id, name)`
	_, err = p.Schema(context.Background())
	stgWantErr(t, err, want, ErrSchema)
	sink := &stgSink{}
	_, err = p.Run(context.Background(), sink, RunOptions{Allocator: mem})
	stgWantErr(t, err, want, ErrSchema)
	for _, err := range p.Batches(context.Background()) {
		stgWantErr(t, err, want, ErrSchema)
	}
	if n := src.started.Load(); n != 0 {
		t.Errorf("source read %d times before the stages were checked", n)
	}
	if sink.opened != 0 {
		t.Errorf("sink opened for a pipeline that cannot bind")
	}
}

func TestPipelineBatches(t *testing.T) {
	before := runtime.NumGoroutine()
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 20, 10)
	p := New(src, sleepy(), Filter(Col("id").Lt(int64(150))))
	p.Options = RunOptions{Parallelism: 4, Allocator: mem}
	var got []int64
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(t, stgRows(rec))...)
		rec.Release()
	}
	if d := cmp.Diff(seq(0, 150, nil), got); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}

	// Breaking out early stops the run and releases what it holds.
	n := 0
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if n++; n == 3 {
			break
		}
	}
	// A failing stage ends the iteration with its error.
	p = New(src, Derive1("z", "id", func(id int64) int64 {
		if id == 55 {
			panic("55")
		}
		return id
	}))
	p.Options.Allocator = mem
	var lastErr error
	batches := 0
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			lastErr = err
			continue
		}
		batches++
		rec.Release()
	}
	if !errors.Is(lastErr, ErrPanic) || batches > 5 {
		t.Errorf("%d batches then error %v, want at most 5 then ErrPanic", batches, lastErr)
	}
	noGoroutineLeak(t, before)
}

// TestRunEmptyBatches checks that batches a stage empties are not written.
func TestRunEmptyBatches(t *testing.T) {
	mem := checkedAlloc(t)
	src := newRunSource(t, mem, 10, 10)
	var mu sync.Mutex
	sizes := []int64{}
	sink := &stgSink{}
	p := New(src, Filter(Or(Col("id").Lt(int64(5)), Col("id").Ge(int64(95)))),
		Map("sizes", nil, func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
			mu.Lock()
			sizes = append(sizes, in.NumRows())
			mu.Unlock()
			in.Retain()
			return in, nil
		}))
	stats, err := p.Run(context.Background(), sink, RunOptions{Parallelism: 1, Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Batches != 2 || sink.writes != 2 || len(sink.rows) != 10 {
		t.Errorf("%d batches, %d writes, %d rows; want 2, 2, 10", stats.Batches, sink.writes, len(sink.rows))
	}
	if d := cmp.Diff([]int64{5, 0, 0, 0, 0, 0, 0, 0, 0, 5}, sizes); d != "" {
		t.Errorf("batch sizes after the filter (-want +got):\n%s", d)
	}
}

// nilStage is a Stage whose step breaks the Step contract.
type nilStage struct{ withErr bool }

func (nilStage) Name() string { return "nil" }

func (s nilStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	return nilStep{s.withErr, in}, nil
}

type nilStep struct {
	withErr bool
	schema  *arrow.Schema
}

func (s nilStep) Schema() *arrow.Schema { return s.schema }

func (s nilStep) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if s.withErr {
		in.Retain() // a batch and an error: the runner must release the batch
		return in, errors.New("failed with a batch")
	}
	return nil, nil
}

// TestRunBrokenStep checks that a step returning no batch and no error, or
// both a batch and an error, fails the run instead of crashing or leaking.
func TestRunBrokenStep(t *testing.T) {
	for _, tc := range []struct {
		st   Stage
		want string
	}{
		{nilStage{}, "stage nil: step returned neither a batch nor an error"},
		{nilStage{withErr: true}, "stage nil: failed with a batch"},
	} {
		mem := checkedAlloc(t)
		src := newRunSource(t, mem, 3, 3)
		sink := &stgSink{}
		_, err := New(src, tc.st).Run(context.Background(), sink, RunOptions{Allocator: mem})
		stgWantErr(t, err, tc.want, nil)
	}
}
