package monitor

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// parallelism is the number of goroutines b.RunParallel uses at once.
func parallelism() int { return runtime.GOMAXPROCS(0) }

// refNumeric builds an exact reference column of vals: bins equal-count
// bins (inner edges at the sample quantiles i/bins, lower order
// statistic), counts by the ColumnProfile.Bin rule.
func refNumeric(name string, vals []float64, bins int) *ColumnProfile {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	c := &ColumnProfile{Name: name, Kind: Numeric, Type: "double", Count: int64(len(s))}
	c.Min, c.Max = s[0], s[len(s)-1]
	for _, x := range s {
		c.Mean += x
	}
	c.Mean /= float64(len(s))
	for _, x := range s {
		c.M2 += (x - c.Mean) * (x - c.Mean)
	}
	c.Edges = make([]float64, bins-1)
	for i := range c.Edges {
		c.Edges[i] = s[(i+1)*len(s)/bins]
	}
	c.Counts = make([]float64, bins)
	for _, x := range s {
		c.Counts[c.Bin(x)]++
	}
	return c
}

// refCategorical builds an exact reference column from category counts.
func refCategorical(name string, counts map[string]int64) *ColumnProfile {
	c := &ColumnProfile{Name: name, Kind: Categorical, Type: "utf8"}
	for v, n := range counts {
		c.Top = append(c.Top, Frequency{Value: v, Count: n})
		c.Count += n
	}
	sort.Slice(c.Top, func(i, j int) bool {
		if c.Top[i].Count != c.Top[j].Count {
			return c.Top[i].Count > c.Top[j].Count
		}
		return c.Top[i].Value < c.Top[j].Value
	})
	return c
}

func normals(rng *rand.Rand, n int, mean, sd float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()*sd + mean
	}
	return v
}

// numBatch returns a batch of float64 columns named x0, x1, ...
func numBatch(cols ...[]float64) arrow.RecordBatch {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for j, c := range cols {
		fields[j] = arrow.Field{Name: fmt.Sprintf("x%d", j), Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		b := array.NewFloat64Builder(memory.DefaultAllocator)
		b.AppendValues(c, nil)
		arrs[j] = b.NewArray()
		b.Release()
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(cols[0])))
}

// current merges the monitor's shards (the open pane).
func (m *Monitor) current() []colState {
	out := m.newState()
	for _, s := range m.shards {
		s.mu.Lock()
		for i := range out {
			out[i].merge(&s.cols[i])
		}
		s.mu.Unlock()
	}
	return out
}

func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))+1e-300
}

func TestBinMatchesProfileBin(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bins := range []int{2, 10, 100, 128, 129, 200, 1000} {
		vals := normals(rng, 5000, 0, 1)
		for i := 0; i < 500; i++ { // ties
			vals[i] = float64(i % 3)
		}
		ref := refNumeric("x0", vals, bins)
		m, err := New(Options{Reference: &Profile{Columns: []*ColumnProfile{ref}}})
		if err != nil {
			t.Fatal(err)
		}
		c := &m.cols[0]
		probe := append([]float64{0, math.Copysign(0, -1), 1, 2, -1e150, 1e150, math.Inf(1), math.Inf(-1),
			math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64}, ref.Edges...)
		for _, e := range ref.Edges {
			probe = append(probe, math.Nextafter(e, math.Inf(1)), math.Nextafter(e, math.Inf(-1)))
		}
		probe = append(probe, normals(rng, 2000, 0, 2)...)
		for _, x := range probe {
			if got, want := c.bin(x), ref.Bin(x); got != want {
				t.Fatalf("bins %d: bin(%v) = %d, want %d", bins, x, got, want)
			}
		}
		// The batch path agrees too.
		b := numBatch(probe)
		if err := m.Observe(b); err != nil {
			t.Fatal(err)
		}
		want := make([]uint32, bins)
		for _, x := range probe {
			if !math.IsInf(x, 0) {
				want[ref.Bin(x)]++
			}
		}
		got := m.current()[0]
		for i := range want {
			if got.counts[i] != want[i] {
				t.Fatalf("bins %d: batch count[%d] = %d, want %d", bins, i, got.counts[i], want[i])
			}
		}
		if got.nonFinite != 2 {
			t.Fatalf("nonFinite = %d, want 2", got.nonFinite)
		}
		var finite []float64
		for _, x := range probe {
			if !math.IsInf(x, 0) {
				finite = append(finite, x)
			}
		}
		var mean, m2 float64
		for _, x := range finite {
			mean += x / float64(len(finite))
		}
		for _, x := range finite {
			m2 += (x - mean) * (x - mean)
		}
		if got.n != int64(len(finite)) || got.min != -1e150 || got.max != 1e150 || !near(got.mean, mean, 1e-9) || !near(got.m2, m2, 1e-9) {
			t.Fatalf("bins %d: n %d mean %v m2 %v min %v max %v, want %d %v %v", bins, got.n, got.mean, got.m2, got.min, got.max, len(finite), mean, m2)
		}
	}
}

func TestObserveMomentsAndNulls(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", normals(rng, 3000, 1e6, 3), 100)}}
	m, err := New(Options{Reference: ref, Window: Tumbling(1 << 30), Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	var all []float64
	nulls, nonFinite := 0, 0
	for b := 0; b < 20; b++ {
		n := 1 + rng.IntN(700)
		bld := array.NewFloat64Builder(memory.DefaultAllocator)
		for i := 0; i < n; i++ {
			switch r := rng.IntN(50); {
			case r == 0 && b%2 == 0: // odd batches have no nulls (the fast path)
				bld.AppendNull()
				nulls++
			case r == 1:
				bld.Append(math.NaN())
				nonFinite++
			default:
				x := rng.NormFloat64()*3 + 1e6 + 0.5
				bld.Append(x)
				all = append(all, x)
			}
		}
		arr := bld.NewArray()
		// Slices exercise the null bitmap's offset.
		for _, sl := range []arrow.Array{array.NewSlice(arr, 0, int64(n/2)), array.NewSlice(arr, int64(n/2), int64(n))} {
			rb := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "x0", Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil), []arrow.Array{sl}, int64(sl.Len()))
			if err := m.Observe(rb); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := m.current()[0]
	var mean, m2 float64
	for _, x := range all {
		mean += x
	}
	mean /= float64(len(all))
	for _, x := range all {
		m2 += (x - mean) * (x - mean)
	}
	sort.Float64s(all)
	if st.n != int64(len(all)) || st.nulls != int64(nulls) || st.nonFinite != int64(nonFinite) {
		t.Fatalf("n, nulls, nonfinite = %d %d %d, want %d %d %d", st.n, st.nulls, st.nonFinite, len(all), nulls, nonFinite)
	}
	if !near(st.mean, mean, 1e-14) || !near(st.m2, m2, 1e-9) || st.min != all[0] || st.max != all[len(all)-1] {
		t.Fatalf("mean %v m2 %v min %v max %v, want %v %v %v %v", st.mean, st.m2, st.min, st.max, mean, m2, all[0], all[len(all)-1])
	}
	stats := m.Stats()
	if stats.Nulls != int64(nulls) || stats.Columns[0].NonFinite != int64(nonFinite) {
		t.Fatalf("Stats = %+v", stats)
	}
}

func TestTumblingCountWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", normals(rng, 500, 0, 1), 10)}}
	var reports []*Report
	m, err := New(Options{Name: "t", Reference: ref, Window: Tumbling(1000),
		OnWindow: func(r *Report) { reports = append(reports, r) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		if err := m.Observe(numBatch(normals(rng, 100, 0, 1))); err != nil {
			t.Fatal(err)
		}
	}
	if len(reports) != 2 || reports[0].Rows != 1000 || reports[1].Rows != 1000 || m.Last() != reports[1] {
		t.Fatalf("reports %d, last %p", len(reports), m.Last())
	}
	if reports[0].Name != "t" || len(reports[0].Columns) != 1 || reports[0].Columns[0].Method != MethodKS || reports[0].Columns[0].CurCount != 1000 {
		t.Fatalf("report %+v", reports[0])
	}
	r := m.Flush()
	if r == nil || r.Rows != 500 || len(reports) != 3 {
		t.Fatalf("Flush = %+v", r)
	}
	// Flush leaves the pane open: 500 more rows close it at 1000.
	for i := 0; i < 5; i++ {
		_ = m.Observe(numBatch(normals(rng, 100, 0, 1)))
	}
	if len(reports) != 4 || reports[3].Rows != 1000 {
		t.Fatalf("after flush: %d reports", len(reports))
	}
	if s := m.Stats(); s.Rows != 3000 || s.Windows != 4 {
		t.Fatalf("Stats %+v", s)
	}
	m.Close()
	if err := m.Observe(numBatch([]float64{1})); !errors.Is(err, ErrClosed) {
		t.Fatalf("Observe after Close: %v", err)
	}
}

func TestSlidingRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", normals(rng, 500, 0, 1), 10)}}
	var reports []*Report
	m, err := New(Options{Reference: ref, Window: Sliding(1000, 250), MinRows: 1,
		OnWindow: func(r *Report) { reports = append(reports, r) }})
	if err != nil {
		t.Fatal(err)
	}
	i0 := m.Index("x0")
	for i := 0; i < 2000; i++ {
		if err := m.ObserveRow(Num(i0, rng.NormFloat64())); err != nil {
			t.Fatal(err)
		}
	}
	// Windows end at rows 1000, 1250, ..., 2000.
	if len(reports) != 5 {
		t.Fatalf("%d reports, want 5", len(reports))
	}
	for _, r := range reports {
		if r.Rows != 1000 || r.Columns[0].CurCount != 1000 {
			t.Fatalf("window rows %d", r.Rows)
		}
	}
	for i := 0; i < 100; i++ {
		_ = m.ObserveRow(Num(i0, 1))
	}
	// Flush: the last three panes and the open one.
	if r := m.Flush(); r == nil || r.Rows != 850 {
		t.Fatalf("Flush rows %v", r)
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestTimeWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", normals(rng, 500, 0, 1), 10)}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	var reports []*Report
	m, err := New(Options{Reference: ref, Window: SlidingTime(2*time.Minute, time.Minute), Now: clk.Now, MinRows: 10,
		OnWindow: func(r *Report) { reports = append(reports, r) }})
	if err != nil {
		t.Fatal(err)
	}
	obs := func(n int) {
		if err := m.Observe(numBatch(normals(rng, n, 0, 1))); err != nil {
			t.Fatal(err)
		}
	}
	obs(100)             // minute 0
	clk.Add(time.Minute) // pane 0 closes at the next call: one pane, not due
	obs(50)              // minute 1
	if len(reports) != 0 {
		t.Fatalf("%d reports before the window is full", len(reports))
	}
	clk.Add(time.Minute)
	obs(30) // closes pane 1: window [0, 2m) with 150 rows
	if len(reports) != 1 || reports[0].Rows != 150 || !reports[0].Start.Equal(t0) || !reports[0].End.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("reports %+v", reports)
	}
	clk.Add(10 * time.Minute) // a long quiet spell: windows [1m,3m) and [2m,4m), then empty ones
	if r := m.Flush(); r != nil {
		t.Fatalf("Flush of an empty window: %+v", r)
	}
	if len(reports) != 3 || reports[1].Rows != 80 || !reports[1].Start.Equal(t0.Add(time.Minute)) ||
		reports[2].Rows != 30 || !reports[2].End.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("after quiet: %d reports, %+v", len(reports), reports[len(reports)-1])
	}
	obs(20)
	clk.Add(time.Minute)
	// The call closes pane [12m,13m): window [11m,13m) has 20 rows; Flush
	// then evaluates pane [12m,13m) and the open, empty one.
	m.Flush()
	if len(reports) != 5 || reports[3].Rows != 20 || !reports[3].End.Equal(t0.Add(13*time.Minute)) || reports[4].Rows != 20 {
		t.Fatalf("%d reports, last %+v", len(reports), reports[len(reports)-1])
	}
	if s := m.Stats(); s.Rows != 200 {
		t.Fatalf("rows %d", s.Rows)
	}
}

func TestChangesAndReentrantCallbacks(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	ref := &Profile{Columns: []*ColumnProfile{
		refNumeric("x0", normals(rng, 5000, 0, 1), 100),
		refNumeric("x1", normals(rng, 5000, 0, 1), 100),
	}}
	var changes []Change
	var m *Monitor
	var flushed atomic.Int32
	m, err := New(Options{Reference: ref, Window: Tumbling(2000),
		OnWindow: func(r *Report) {
			if flushed.Add(1) == 1 {
				m.Flush() // calling the monitor from a callback must not deadlock
			}
		},
		OnChange: func(c Change) { changes = append(changes, c) }})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(shift float64) {
		for i := 0; i < 20; i++ {
			if err := m.Observe(numBatch(normals(rng, 100, shift, 1), normals(rng, 100, 0, 1))); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed(0)
	if len(changes) != 0 {
		t.Fatalf("changes without drift: %+v", changes)
	}
	feed(3)
	// x0 drifts; 1 of 2 columns is the default share 0.5: the dataset too.
	if len(changes) != 2 || changes[0].Column != "x0" || !changes[0].Drift || changes[1].Column != "" || !changes[1].Drift {
		t.Fatalf("changes %+v", changes)
	}
	if r := m.Last(); r.Drifted != 1 || !r.DatasetDrift || r.Columns[0].Method != MethodWassersteinNorm {
		t.Fatalf("last %+v", r)
	}
	feed(0)
	if len(changes) != 4 || changes[2].Drift || changes[3].Drift {
		t.Fatalf("changes %+v", changes)
	}
}

func TestPredictionColumn(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	ref := &Profile{Columns: []*ColumnProfile{
		refNumeric("x0", normals(rng, 3000, 0, 1), 100),
		refNumeric("x1", normals(rng, 3000, 0, 1), 100),
	}}
	m, err := New(Options{Reference: ref, Columns: []string{"x0"}, Prediction: "x1", Window: Tumbling(1000)})
	if err != nil {
		t.Fatal(err)
	}
	if m.Index("x1") != 1 || m.Index("nope") != -1 {
		t.Fatal("Index")
	}
	_ = m.Observe(numBatch(normals(rng, 1000, 0, 1), normals(rng, 1000, 5, 1)))
	r := m.Last()
	if r == nil || len(r.Columns) != 1 || r.Prediction == nil || !r.Prediction.Drift || r.DatasetDrift {
		t.Fatalf("report %+v", r)
	}
}

func TestCategorical(t *testing.T) {
	ref := &Profile{Columns: []*ColumnProfile{
		refCategorical("s", map[string]int64{"a": 50, "b": 30, "c": 20}),
		refCategorical("b", map[string]int64{"true": 60, "false": 40}),
		refCategorical("n", map[string]int64{"1": 50, "2": 50}),
		refCategorical("d", map[string]int64{"x": 10, "y": 10}),
	}}
	m, err := New(Options{Reference: ref, Window: Tumbling(1 << 20)})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.DefaultAllocator
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"a", "b", "z", "a"}, nil)
	sb.AppendNull()
	bb := array.NewBooleanBuilder(mem)
	bb.AppendValues([]bool{true, true, false, true, false}, nil)
	nb := array.NewInt64Builder(mem)
	nb.AppendValues([]int64{1, 2, 3, 1, 1}, nil)
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	for _, v := range []string{"y", "y", "w", "x"} {
		_ = db.AppendString(v)
	}
	db.AppendNull()
	arrs := []arrow.Array{sb.NewArray(), bb.NewArray(), nb.NewArray(), db.NewArray()}
	fields := []arrow.Field{{Name: "s", Type: arrs[0].DataType()}, {Name: "b", Type: arrs[1].DataType()},
		{Name: "n", Type: arrs[2].DataType()}, {Name: "d", Type: arrs[3].DataType()}, {Name: "extra", Type: arrs[0].DataType()}}
	rb := array.NewRecordBatch(arrow.NewSchema(fields, nil), append(arrs, arrs[0]), 5)
	if err := m.Observe(rb); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveRow(Cat(0, "c"), Num(2, 2), Null(1)); err != nil {
		t.Fatal(err)
	}
	cur := m.current()
	// Top order: a, b, c | true, false | 1, 2 | x, y; then other.
	want := [][]uint32{{2, 1, 1, 1}, {3, 2, 0}, {3, 2, 1}, {1, 2, 1}}
	wantNulls := []int64{1, 1, 0, 2}
	for i := range want {
		if fmt.Sprint(cur[i].counts) != fmt.Sprint(want[i]) || cur[i].nulls != wantNulls[i] {
			t.Fatalf("column %d: counts %v nulls %d, want %v %d", i, cur[i].counts, cur[i].nulls, want[i], wantNulls[i])
		}
	}
	if r := m.Flush(); r != nil {
		t.Fatalf("Flush under MinRows = %+v", r)
	}
}

func TestObserveRowErrors(t *testing.T) {
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", []float64{1, 2, 3, 4}, 2), refCategorical("s", map[string]int64{"a": 1})}}
	m, err := New(Options{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range [][]Value{{Num(2, 1)}, {Num(-1, 1)}, {Cat(0, "a")}, {Num(0, 1), Num(0, 2)}, {{col: 0}}} {
		if err := m.ObserveRow(row...); !errors.Is(err, ErrInput) {
			t.Fatalf("ObserveRow(%v) = %v, want ErrInput", row, err)
		}
	}
	if err := m.ObserveRow(Num(0, math.Inf(1))); err != nil {
		t.Fatal(err)
	}
	cur := m.current()
	if cur[0].nonFinite != 1 || cur[1].nulls != 1 || cur[0].n != 0 {
		t.Fatalf("state %+v", cur)
	}
	if s := m.Stats(); s.Rows != 1 {
		t.Fatalf("rows %d (failed rows must not count)", s.Rows)
	}
}

func TestNewAndObserveErrors(t *testing.T) {
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", []float64{1, 2, 3, 4}, 2), refCategorical("s", map[string]int64{"a": 1})}}
	bad := []Options{
		{},
		{Reference: ref, Columns: []string{"nope"}},
		{Reference: ref, Columns: []string{"x0", "x0"}},
		{Reference: ref, Drift: DriftOptions{Methods: map[string]Method{"x0": MethodCvM}}},
		{Reference: ref, Window: Window{Rows: 10, Duration: time.Second}},
		{Reference: ref, Window: Sliding(10, 3)},
		{Reference: ref, Window: Sliding(1000, 1)},
		{Reference: ref, Window: Window{Step: 5}},
		{Reference: ref, Window: Window{Rows: 10, StepDuration: time.Second}},
		{Reference: ref, Window: Tumbling(-1)},
		{Reference: ref, Shards: 65},
	}
	for i, o := range bad {
		if _, err := New(o); !errors.Is(err, ErrInput) {
			t.Errorf("New #%d: %v, want ErrInput", i, err)
		}
	}
	m, err := New(Options{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Observe(numBatch([]float64{1})); !errors.Is(err, ErrInput) {
		t.Fatalf("missing column: %v", err)
	}
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	sb.Append("1")
	s := sb.NewArray()
	rb := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "x0", Type: arrow.BinaryTypes.String}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil), []arrow.Array{s, s}, 1)
	if err := m.Observe(rb); !errors.Is(err, ErrInput) {
		t.Fatalf("string in numeric column: %v", err)
	}
}

// TestConcurrentObserve runs 8 goroutines observing batches and rows at
// once (run it with -race) and checks that no row is lost or counted twice.
func TestConcurrentObserve(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	ref := &Profile{Columns: []*ColumnProfile{
		refNumeric("x0", normals(rng, 2000, 0, 1), 100),
		refNumeric("x1", normals(rng, 2000, 0, 1), 100),
	}}
	var mu sync.Mutex
	var windowRows int64
	var reports int
	m, err := New(Options{Reference: ref, Window: Tumbling(3000), MinRows: 1,
		OnWindow: func(r *Report) {
			mu.Lock()
			windowRows += r.Rows
			reports++
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 8, 40
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			b := numBatch(normals(r, 97, 0, 1), normals(r, 97, 0, 1))
			for i := 0; i < perWorker; i++ {
				if w%2 == 0 {
					if err := m.Observe(b); err != nil {
						t.Error(err)
						return
					}
				} else {
					for k := 0; k < 97; k++ {
						if err := m.ObserveRow(Num(0, r.NormFloat64()), Num(1, r.NormFloat64())); err != nil {
							t.Error(err)
							return
						}
					}
				}
				if i%10 == 0 {
					_ = m.Stats()
					_ = m.Last()
				}
			}
		}(w)
	}
	wg.Wait()
	total := int64(workers * perWorker * 97)
	open := m.current()
	if s := m.Stats(); s.Rows != total {
		t.Fatalf("rows %d, want %d", s.Rows, total)
	}
	mu.Lock()
	defer mu.Unlock()
	if windowRows+open[0].n != total || windowRows+open[1].n != total {
		t.Fatalf("window rows %d + open %d != %d", windowRows, open[0].n, total)
	}
	if reports < int(total/3000)-1 {
		t.Fatalf("%d reports", reports)
	}
}

func TestStateBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", normals(rng, 2000, 0, 1), 100)}}
	for _, w := range []Window{{}, Sliding(10000, 1000), SlidingTime(time.Hour, 5*time.Minute)} {
		m, err := New(Options{Reference: ref, Window: w, Now: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		b := m.StateBytes()
		t.Logf("window %+v, %d shards: %d bytes of state per numeric column (100 bins)", w, len(m.shards), b)
		if b > 16<<10 {
			t.Errorf("state %d bytes > 16 KiB", b)
		}
		if m.Stats().Columns[0].StateBytes != b {
			t.Error("Stats().Columns[0].StateBytes")
		}
	}
	m, _ := New(Options{Reference: ref, Shards: 16, Window: Sliding(10000, 1000)})
	b := m.StateBytes()
	t.Logf("16 shards, 10 panes: %d bytes per numeric column", b)
	if b != 26*(100*4+colStateFixed)+1024 || b > 16<<10 {
		t.Errorf("16 shards: %d bytes", b)
	}
}

func TestFloatKeyOrder(t *testing.T) {
	xs := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
	for i := 1; i < len(xs); i++ {
		if floatKey(xs[i-1]) >= floatKey(xs[i]) {
			t.Fatalf("key(%v) >= key(%v)", xs[i-1], xs[i])
		}
	}
	if floatKey(math.Copysign(0, -1)) != floatKey(0) {
		t.Fatal("-0 and 0")
	}
}

// TestWithProfiler monitors against a profile built by a Profiler (edges
// from a compacted KLL sketch, numbers as categories) and checks the
// monitor bins values as ColumnProfile.Bin does and finds the categories'
// decimal texts.
func TestWithProfiler(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	mk := func(n int, shift float64) arrow.RecordBatch {
		mem := memory.DefaultAllocator
		xb, kb, fb := array.NewFloat64Builder(mem), array.NewInt32Builder(mem), array.NewFloat32Builder(mem)
		for i := 0; i < n; i++ {
			xb.Append(rng.ExpFloat64() + shift)
			kb.Append(int32(rng.IntN(5)) - 2)
			fb.Append(float32(rng.IntN(3)) / 4)
		}
		schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Float64},
			{Name: "k", Type: arrow.PrimitiveTypes.Int32}, {Name: "f", Type: arrow.PrimitiveTypes.Float32}}, nil)
		return array.NewRecordBatch(schema, []arrow.Array{xb.NewArray(), kb.NewArray(), fb.NewArray()}, int64(n))
	}
	ref := mk(200000, 0)
	pr, err := NewProfiler(ref.Schema(), ProfileOptions{Categorical: []string{"k", "f"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Add(ref); err != nil {
		t.Fatal(err)
	}
	prof := pr.Profile()
	m, err := New(Options{Reference: prof, Window: Tumbling(50000)})
	if err != nil {
		t.Fatal(err)
	}
	cur := mk(20000, 0)
	if err := m.Observe(cur); err != nil {
		t.Fatal(err)
	}
	st := m.current()
	xc := prof.Column("x")
	want := make([]uint32, len(xc.Counts))
	for _, x := range cur.Column(0).(*array.Float64).Float64Values() {
		want[xc.Bin(x)]++
	}
	if fmt.Sprint(want) != fmt.Sprint(st[0].counts) {
		t.Fatalf("counts differ from ColumnProfile.Bin")
	}
	for i := 1; i <= 2; i++ {
		if other := st[i].counts[len(st[i].counts)-1]; other != 0 || st[i].n != 20000 {
			t.Fatalf("column %s: %d values in other (texts differ from the profile's)", m.cols[i].name, other)
		}
	}
	r := m.Flush()
	if r == nil || r.DatasetDrift || r.Drifted != 0 {
		t.Fatalf("same distribution drifted: %+v", r)
	}
	_ = m.Observe(mk(30000, 0.5))
	if r := m.Last(); r == nil || r.Rows != 50000 || !r.Columns[0].Drift {
		t.Fatalf("shifted x did not drift: %+v", r)
	}
}

// TestRealClockConcurrent observes from 8 goroutines while the monitor's
// own goroutine closes 10 ms time panes (run it with -race).
func TestRealClockConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	ref := &Profile{Columns: []*ColumnProfile{refNumeric("x0", normals(rng, 2000, 0, 1), 100)}}
	var windows atomic.Int64
	m, err := New(Options{Reference: ref, Window: SlidingTime(20*time.Millisecond, 10*time.Millisecond), MinRows: 1,
		OnWindow: func(*Report) { windows.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	b := numBatch(normals(rng, 64, 0, 1))
	var wg sync.WaitGroup
	deadline := time.Now().Add(100 * time.Millisecond)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := m.Observe(b); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	time.Sleep(30 * time.Millisecond) // the ticker closes the last panes
	m.Close()
	if windows.Load() == 0 {
		t.Fatal("no window evaluated")
	}
	if err := m.ObserveRow(); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}
