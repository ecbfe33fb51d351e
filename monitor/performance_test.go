package monitor

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestPerformanceClassification(t *testing.T) {
	var reports []PerformanceReport
	p, err := NewPerformance(PerformanceOptions{Name: "clf", Task: Classification, Window: Tumbling(4),
		OnWindow: func(r PerformanceReport) { reports = append(reports, r) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		p.Predict(strconv.Itoa(i), float64(i%2))
	}
	// Labels: 0..7 joined; 6 of the first 8 correct (1 and 4 wrong).
	labels := []float64{0, 0, 0, 1, 1, 1, 0, 1}
	for i, l := range labels {
		if !p.Label(strconv.Itoa(i), l) {
			t.Fatalf("label %d not joined", i)
		}
	}
	if len(reports) != 2 || reports[0].Joined != 4 || reports[0].Accuracy != 0.75 || reports[1].Accuracy != 0.75 || reports[0].Name != "clf" {
		t.Fatalf("reports %+v", reports)
	}
	if p.Label("nope", 1) {
		t.Fatal("label without prediction joined")
	}
	p.Predict("nope", 1) // joins the waiting label
	if r := p.Flush(); r.Joined != 1 || r.Accuracy != 1 {
		t.Fatalf("Flush %+v", r)
	}
	st := p.Stats()
	if st.Joined != 9 || st.PendingPredictions != 2 || st.PendingLabels != 0 || st.Predictions != 11 || st.Labels != 9 || st.Windows != 3 {
		t.Fatalf("stats %+v", st)
	}
	if p.Last().Joined != 1 {
		t.Fatal("Last")
	}
}

func TestPerformanceRegressionTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	var reports []PerformanceReport
	p, err := NewPerformance(PerformanceOptions{Task: Regression, Window: TumblingTime(time.Minute), Horizon: 10 * time.Minute,
		Now: clk.Now, OnWindow: func(r PerformanceReport) { reports = append(reports, r) }})
	if err != nil {
		t.Fatal(err)
	}
	p.Predict("a", 1)
	p.Predict("b", 2)
	p.Predict("c", 5)
	clk.Add(30 * time.Second)
	p.Label("a", 2) // error -1
	p.Label("b", 5) // error -3
	clk.Add(time.Minute)
	p.Label("c", 5) // closes [0,1m) first; error 0 in [1m,2m)
	if len(reports) != 1 {
		t.Fatalf("%d reports", len(reports))
	}
	r := reports[0]
	if r.Joined != 2 || math.Abs(r.RMSE-math.Sqrt(5)) > 1e-15 || r.MAE != 2 || !r.Start.Equal(t0) || !r.End.Equal(t0.Add(time.Minute)) {
		t.Fatalf("report %+v", r)
	}
	clk.Add(time.Minute)
	p.Flush()
	if len(reports) != 3 || reports[1].Joined != 1 || reports[1].RMSE != 0 || reports[2].Joined != 0 {
		t.Fatalf("reports %+v", reports)
	}
}

func TestPerformanceExpiredUnmatchedEvicted(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	p, err := NewPerformance(PerformanceOptions{Task: Classification, Window: Tumbling(1000), Horizon: time.Hour,
		MaxPending: 3, Shards: 1, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	p.Predict("late", 1)
	p.Label("early", 1) // waits for its prediction
	clk.Add(90 * time.Minute)
	// The waiting label is past the horizon: dropped as unmatched.
	if p.Label("late", 1) {
		t.Fatal("late label joined")
	}
	st := p.Stats()
	if st.Expired != 1 || st.Unmatched != 1 || st.PendingLabels != 0 || st.PendingPredictions != 0 {
		t.Fatalf("stats %+v", st)
	}
	p.Predict("gone", 1)
	clk.Add(3 * time.Hour)
	p.Predict("x", 0) // forgets "gone" (twice the horizon)
	if p.Label("gone", 1) {
		t.Fatal("label of a forgotten prediction joined")
	}
	if st := p.Stats(); st.Unlabeled != 1 || st.PendingLabels != 1 {
		t.Fatalf("stats %+v", st)
	}
	for i := 0; i < 5; i++ {
		p.Predict(strconv.Itoa(i), 0)
	}
	// 3 pending at most: "x", "0", "1" evicted in that order.
	if st := p.Stats(); st.Evicted != 3 || st.PendingPredictions != 3 {
		t.Fatalf("stats %+v", st)
	}
	if p.Label("0", 0) || !p.Label("4", 0) {
		t.Fatal("eviction order")
	}
	r := p.Flush()
	if r.Expired != 1 || r.Unmatched != 1 || r.Evicted != 3 || r.Joined != 1 || r.Accuracy != 1 {
		t.Fatalf("flush %+v", r)
	}
}

func TestPerformanceErrors(t *testing.T) {
	for _, o := range []PerformanceOptions{{}, {Task: 3}, {Task: Regression, Horizon: -1}, {Task: Regression, Window: Sliding(10, 3)}, {Task: Regression, Shards: 100}} {
		if _, err := NewPerformance(o); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if Classification.String() != "classification" || Task(12).String() != "Task(12)" {
		t.Error("Task.String")
	}
}

func TestPerformanceConcurrent(t *testing.T) {
	var mu sync.Mutex
	var joined int64
	p, err := NewPerformance(PerformanceOptions{Task: Regression, Window: Sliding(400, 100),
		OnWindow: func(r PerformanceReport) {
			mu.Lock()
			joined += r.Joined
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const workers, n = 8, 500
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				id := strconv.Itoa(w*n + i)
				if i%2 == 0 {
					p.Label(id, 1)
					p.Predict(id, 1)
				} else {
					p.Predict(id, 1)
					p.Label(id, 1)
				}
			}
		}(w)
	}
	wg.Wait()
	st := p.Stats()
	if st.Joined != workers*n || st.PendingLabels != 0 || st.PendingPredictions != 0 {
		t.Fatalf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	// Each joined label is in 4 windows (sliding by a quarter), but the
	// first three and the open pane are not in 4.
	if joined == 0 || joined > 4*workers*n {
		t.Fatalf("window joins %d", joined)
	}
}

func TestPerformanceReportJSON(t *testing.T) {
	b, err := json.Marshal(PerformanceReport{Task: Regression, Joined: 2, RMSE: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"task":"regression","joined":2,"expired":0,"unmatched":0,"evicted":0,"accuracy":0,"rmse":1.5,"mae":0}`
	if string(b) != want {
		t.Fatalf("%s", b)
	}
	var r PerformanceReport
	if err := json.Unmarshal(b, &r); err != nil || r.Task != Regression {
		t.Fatal(err, r)
	}
}
