package version

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kilnml/kiln/store"
)

// ignoreMetricTimes compares metric points by step and value.
var ignoreMetricTimes = cmpopts.IgnoreFields(MetricPoint{}, "Time")

func startRun(t testing.TB, r *Repository, opts RunOptions) *Run {
	t.Helper()
	run, err := r.StartRun(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestRunLifecycle(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	before := time.Now()
	run := startRun(t, r, RunOptions{
		Experiment: "churn", Name: "baseline",
		Params: map[string]string{"lr": "0.1"},
		Tags:   map[string]string{"git": "abc"},
	})
	if err := validRunID(run.ID()); err != nil {
		t.Fatal(err)
	}
	if err := run.LogParams(ctx, map[string]string{"epochs": "3", "lr": "0.1"}); err != nil {
		t.Fatal(err) // same value again: fine
	}
	if err := run.LogParam(ctx, "lr", "0.2"); !errors.Is(err, ErrConflict) {
		t.Errorf("changing a param: %v, want ErrConflict", err)
	}
	// All or none: "batch" is not logged since "lr" conflicts.
	if err := run.LogParams(ctx, map[string]string{"batch": "32", "lr": "0.3"}); !errors.Is(err, ErrConflict) {
		t.Errorf("changing a param among others: %v, want ErrConflict", err)
	}
	if err := run.SetTag(ctx, "git", "def"); err != nil { // tags change
		t.Fatal(err)
	}
	for step := range int64(3) {
		if err := run.LogMetrics(ctx, step, map[string]float64{"loss": 1 / float64(step+1), "acc": float64(step) / 4}); err != nil {
			t.Fatal(err)
		}
	}
	if err := run.LogMetric(ctx, "loss", 1, 0.4); err != nil { // a second point at step 1
		t.Fatal(err)
	}
	art, err := run.LogArtifact(ctx, "plots/loss.txt", strings.NewReader("1 0.5 0.33"))
	if err != nil {
		t.Fatal(err)
	}
	if err := run.End(ctx, RunFinished); err != nil {
		t.Fatal(err)
	}

	info, err := r.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	want := RunInfo{
		ID: run.ID(), Experiment: "churn", Name: "baseline", Status: RunFinished,
		Start: info.Start, End: info.End, Author: "tester",
		Params:    map[string]string{"lr": "0.1", "epochs": "3"},
		Tags:      map[string]string{"git": "def"},
		Artifacts: map[string]store.Digest{"plots/loss.txt": art},
		Latest:    map[string]MetricPoint{"loss": {Step: 2, Value: 1.0 / 3}, "acc": {Step: 2, Value: 0.5}},
	}
	if diff := cmp.Diff(want, info, ignoreMetricTimes); diff != "" {
		t.Errorf("RunInfo (-want +got):\n%s", diff)
	}
	if info.Start.Before(before.Add(-time.Second)) || info.End.Before(info.Start) {
		t.Errorf("Start %v, End %v: not around %v", info.Start, info.End, before)
	}
	hist, err := r.MetricHistory(ctx, run.ID(), "loss")
	if err != nil {
		t.Fatal(err)
	}
	wantHist := []MetricPoint{{Step: 0, Value: 1}, {Step: 1, Value: 0.5}, {Step: 1, Value: 0.4}, {Step: 2, Value: 1.0 / 3}}
	if diff := cmp.Diff(wantHist, hist, ignoreMetricTimes); diff != "" {
		t.Errorf("MetricHistory (-want +got):\n%s", diff)
	}
	for i := 1; i < len(hist); i++ {
		if !hist[i].Time.After(hist[i-1].Time) && hist[i].Step == hist[i-1].Step {
			t.Errorf("points of step %d not in logging order: %v, %v", hist[i].Step, hist[i-1].Time, hist[i].Time)
		}
	}

	// An ended run refuses more.
	if err := run.LogMetric(ctx, "loss", 3, 0.1); err == nil {
		t.Error("LogMetric after End succeeded")
	}
	if err := run.SetTag(ctx, "a", "b"); err == nil {
		t.Error("SetTag after End succeeded")
	}
	if err := run.End(ctx, RunFinished); err == nil {
		t.Error("End twice succeeded")
	}

	// Resumed, it goes on: same series, params still fixed.
	run2, err := r.ResumeRun(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info, err := r.RunInfo(ctx, run.ID()); err != nil || info.Status != RunRunning || !info.End.IsZero() {
		t.Errorf("resumed run: status %q end %v, %v", info.Status, info.End, err)
	}
	if err := run2.LogParam(ctx, "lr", "0.2"); !errors.Is(err, ErrConflict) {
		t.Errorf("changing a param after resume: %v, want ErrConflict", err)
	}
	if err := run2.LogMetric(ctx, "loss", 3, 0.25); err != nil {
		t.Fatal(err)
	}
	if err := run2.End(ctx, RunFailed); err != nil {
		t.Fatal(err)
	}
	info, err = r.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != RunFailed || info.Latest["loss"].Step != 3 || info.Latest["loss"].Value != 0.25 {
		t.Errorf("after resume: status %q latest loss %+v", info.Status, info.Latest["loss"])
	}
	if err := run2.End(ctx, RunRunning); err == nil {
		t.Error("End(RunRunning) succeeded")
	}
}

// Metric points survive closing and reopening the repository once Flush
// has returned, in step order (negative steps first), with exact values.
func TestMetricsDurable(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	run := startRun(t, r, RunOptions{})
	var want []MetricPoint
	for i := range 2500 { // more than one batch
		step := int64(i - 1000)
		v := math.Sin(float64(i))
		if i == 7 {
			v = math.Inf(-1)
		}
		if err := run.LogMetric(ctx, "m", step, v); err != nil {
			t.Fatal(err)
		}
		want = append(want, MetricPoint{Step: step, Value: v})
	}
	if err := run.LogMetric(ctx, "big", math.MaxInt64, 1); err != nil {
		t.Fatal(err)
	}
	if err := run.LogMetric(ctx, "big", math.MinInt64, 2); err != nil {
		t.Fatal(err)
	}
	if err := run.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dir := r.Dir()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	got, err := r2.MetricHistory(ctx, run.ID(), "m")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreMetricTimes); diff != "" {
		t.Errorf("MetricHistory (-want +got):\n%s", diff)
	}
	got, err = r2.MetricHistory(ctx, run.ID(), "big")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]MetricPoint{{Step: math.MinInt64, Value: 2}, {Step: math.MaxInt64, Value: 1}}, got, ignoreMetricTimes); diff != "" {
		t.Errorf("extreme steps (-want +got):\n%s", diff)
	}
	info, err := r2.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != RunRunning { // never ended
		t.Errorf("status %q, want running", info.Status)
	}
	if p := info.Latest["m"]; p.Step != 1499 || p.Value != want[len(want)-1].Value {
		t.Errorf("latest m = %+v, want step 1499", p)
	}
	// The run handle of the closed repository fails, and says so.
	if err := run.LogMetric(ctx, "m", 1, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("LogMetric on a closed repository: %v, want ErrClosed", err)
	}
	none, err := r2.MetricHistory(ctx, run.ID(), "never")
	if err != nil || len(none) != 0 {
		t.Errorf("history of a metric never logged = %v, %v; want none", none, err)
	}
}

// Points are written in the background without Flush: after 1,000 of them,
// or 100 ms after the first.
func TestMetricsWrittenInBackground(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	run := startRun(t, r, RunOptions{})
	if err := run.LogMetric(ctx, "loss", 0, 0.5); err != nil {
		t.Fatal(err)
	}
	waitPoints := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			h, err := r.MetricHistory(ctx, run.ID(), "loss")
			if err != nil {
				t.Fatal(err)
			}
			if len(h) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d points written without Flush, want %d", len(h), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPoints(1)
	for i := range 1000 {
		if err := run.LogMetric(ctx, "loss", int64(i+1), 0.1); err != nil {
			t.Fatal(err)
		}
	}
	waitPoints(1001)
	if err := run.End(ctx, RunKilled); err != nil {
		t.Fatal(err)
	}
}

func TestRunConcurrentLogging(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	run := startRun(t, r, RunOptions{})
	const workers, each = 8, 1500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			key := fmt.Sprintf("w%d", w)
			for i := range each {
				if err := run.LogMetric(ctx, key, int64(i), float64(w)); err != nil {
					t.Error(err)
					return
				}
				if i%500 == 0 {
					if err := run.Flush(ctx); err != nil {
						t.Error(err)
						return
					}
					if err := run.SetTag(ctx, key, fmt.Sprint(i)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := run.End(ctx, RunFinished); err != nil {
		t.Fatal(err)
	}
	info, err := r.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		key := fmt.Sprintf("w%d", w)
		h, err := r.MetricHistory(ctx, run.ID(), key)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != each {
			t.Errorf("%s: %d points, want %d", key, len(h), each)
			continue
		}
		for i, p := range h {
			if p.Step != int64(i) || p.Value != float64(w) {
				t.Errorf("%s point %d = %+v", key, i, p)
				break
			}
		}
		if p := info.Latest[key]; p.Step != each-1 {
			t.Errorf("latest %s = %+v", key, p)
		}
		if info.Tags[key] != "1000" {
			t.Errorf("tag %s = %q, want 1000", key, info.Tags[key])
		}
	}
}

func TestRunsListAndCompare(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	a := startRun(t, r, RunOptions{Experiment: "churn", Params: map[string]string{"lr": "0.1", "depth": "3"}})
	b := startRun(t, r, RunOptions{Experiment: "churn", Params: map[string]string{"lr": "0.2", "depth": "3", "seed": "7"}})
	c := startRun(t, r, RunOptions{Experiment: "team/fraud", Author: "ada"})
	d := startRun(t, r, RunOptions{})
	for i, run := range []*Run{a, b, c} {
		if err := run.LogMetrics(ctx, 0, map[string]float64{fmt.Sprintf("m%d", i): 1, "loss": float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.End(ctx, RunFinished); err != nil {
		t.Fatal(err)
	}
	if err := c.End(ctx, RunFailed); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	ids := func(infos []RunInfo) []string {
		var out []string
		for _, info := range infos {
			out = append(out, info.ID)
		}
		return out
	}
	for _, tc := range []struct {
		f    RunFilter
		want []*Run
	}{
		{RunFilter{}, []*Run{d, c, b, a}},
		{RunFilter{Experiment: "churn"}, []*Run{b, a}},
		{RunFilter{Experiment: "team/fraud"}, []*Run{c}},
		{RunFilter{Experiment: "default"}, []*Run{d}},
		{RunFilter{Experiment: "nope"}, nil},
		{RunFilter{Status: RunRunning}, []*Run{d, b}},
		{RunFilter{Experiment: "churn", Status: RunFinished}, []*Run{a}},
	} {
		got, err := r.Runs(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, run := range tc.want {
			want = append(want, run.ID())
		}
		if diff := cmp.Diff(want, ids(got)); diff != "" {
			t.Errorf("Runs(%+v) (-want +got):\n%s", tc.f, diff)
		}
	}
	all, err := r.Runs(ctx, RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if all[1].Author != "ada" || all[0].Author != "tester" {
		t.Errorf("authors %q, %q", all[1].Author, all[0].Author)
	}
	if _, err := r.Runs(ctx, RunFilter{Status: "paused"}); err == nil {
		t.Error("Runs with an unknown status succeeded")
	}

	cmpRuns, err := r.CompareRuns(ctx, a.ID(), b.ID(), c.ID())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{a.ID(), b.ID(), c.ID()}, ids(cmpRuns.Runs)); diff != "" {
		t.Errorf("CompareRuns runs (-want +got):\n%s", diff)
	}
	// depth is 3 in a and b but absent from c.
	if diff := cmp.Diff([]string{"depth", "lr", "seed"}, cmpRuns.Params); diff != "" {
		t.Errorf("CompareRuns params (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"loss", "m0", "m1", "m2"}, cmpRuns.Metrics); diff != "" {
		t.Errorf("CompareRuns metrics (-want +got):\n%s", diff)
	}
	cmpRuns, err = r.CompareRuns(ctx, a.ID(), b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"lr", "seed"}, cmpRuns.Params); diff != "" {
		t.Errorf("CompareRuns(a, b) params (-want +got):\n%s", diff)
	}
	if _, err := r.CompareRuns(ctx, a.ID(), "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CompareRuns with a missing run: %v, want ErrNotFound", err)
	}
}

func TestRunBadInput(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	for _, opts := range []RunOptions{
		{Experiment: "../x"},
		{Experiment: "a b"},
		{Params: map[string]string{"": "x"}},
		{Params: map[string]string{"a\x00b": "x"}},
		{Tags: map[string]string{"a\nb": "x"}},
		{Tags: map[string]string{strings.Repeat("k", 251): "x"}},
	} {
		if _, err := r.StartRun(ctx, opts); !errors.Is(err, ErrBadName) {
			t.Errorf("StartRun(%+v) = %v, want ErrBadName", opts, err)
		}
	}
	run := startRun(t, r, RunOptions{})
	for _, key := range []string{"", "a\x00b", "a\tb", "\xff", strings.Repeat("k", 251)} {
		if err := run.LogMetric(ctx, key, 0, 1); !errors.Is(err, ErrBadName) {
			t.Errorf("LogMetric(%q) = %v, want ErrBadName", key, err)
		}
		if err := run.LogParam(ctx, key, "v"); !errors.Is(err, ErrBadName) {
			t.Errorf("LogParam(%q) = %v, want ErrBadName", key, err)
		}
		if err := run.SetTag(ctx, key, "v"); !errors.Is(err, ErrBadName) {
			t.Errorf("SetTag(%q) = %v, want ErrBadName", key, err)
		}
	}
	if err := run.LogMetrics(ctx, 0, map[string]float64{"ok": 1, "": 2}); !errors.Is(err, ErrBadName) {
		t.Errorf("LogMetrics with a bad key = %v, want ErrBadName", err)
	}
	// Spaces, slashes and dots are fine in keys.
	if err := run.LogMetric(ctx, "val loss/epoch.1", 0, 1); err != nil {
		t.Error(err)
	}
	for _, name := range []string{"", "/abs", "a/../b", "a\\b"} {
		if _, err := run.LogArtifact(ctx, name, strings.NewReader("x")); !errors.Is(err, ErrBadName) {
			t.Errorf("LogArtifact(%q) = %v, want ErrBadName", name, err)
		}
	}
	if err := run.End(ctx, "done"); err == nil {
		t.Error("End with an unknown status succeeded")
	}
	if err := run.End(ctx, RunFinished); err != nil {
		t.Fatal(err)
	}
	h, err := r.MetricHistory(ctx, run.ID(), "ok")
	if err != nil || len(h) != 0 {
		t.Errorf("LogMetrics with a bad key logged %v, %v", h, err)
	}
	for _, id := range []string{"", "x", strings.ToUpper(run.ID()), run.ID() + "0", "../" + run.ID()[3:]} {
		if _, err := r.RunInfo(ctx, id); !errors.Is(err, ErrBadName) {
			t.Errorf("RunInfo(%q) = %v, want ErrBadName", id, err)
		}
		if _, err := r.ResumeRun(ctx, id); !errors.Is(err, ErrBadName) {
			t.Errorf("ResumeRun(%q) = %v, want ErrBadName", id, err)
		}
	}
	missing := "0123456789abcdef0123456789abcdef"
	if _, err := r.RunInfo(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("RunInfo(missing) = %v, want ErrNotFound", err)
	}
	if _, err := r.ResumeRun(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("ResumeRun(missing) = %v, want ErrNotFound", err)
	}
	if _, err := r.MetricHistory(ctx, missing, "loss"); !errors.Is(err, ErrNotFound) {
		t.Errorf("MetricHistory(missing) = %v, want ErrNotFound", err)
	}
}

// A corrupt metric point gives ErrCorrupt naming its key.
func TestMetricCorrupt(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	run := startRun(t, r, RunOptions{})
	if err := run.LogMetric(ctx, "loss", 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := run.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	key := append(metricSeriesKey(run.ID(), "loss"), 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1)
	setRaw(t, r, key, []byte{metricChunkFormat, 2, 3})
	_, err := r.MetricHistory(ctx, run.ID(), "loss")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
		t.Errorf("MetricHistory = %v, want ErrCorrupt naming %q", err, key)
	}
	latest := runSubKey(run.ID(), runLatestTag, "loss")
	setRaw(t, r, latest, []byte{1})
	_, err = r.RunInfo(ctx, run.ID())
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("%q", latest)) {
		t.Errorf("RunInfo = %v, want ErrCorrupt naming %q", err, latest)
	}
	if err := run.LogMetric(ctx, "loss", 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := run.Flush(ctx); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Flush over a corrupt latest point = %v, want ErrCorrupt", err)
	}
	setRaw(t, r, runSubKey(run.ID(), runArtifactTag, "a.bin"), []byte("short"))
	if _, err := r.registryRoots(ctx); !errors.Is(err, ErrCorrupt) {
		t.Errorf("registryRoots over a bad artifact digest = %v, want ErrCorrupt", err)
	}
}

func BenchmarkLogMetric(b *testing.B) {
	ctx := context.Background()
	r := openRegRepo(b)
	run := startRun(b, r, RunOptions{})
	keys := []string{"loss", "accuracy", "lr", "grad_norm"}
	var step int64
	for b.Loop() {
		if err := run.LogMetric(ctx, keys[step&3], step>>2, 0.5); err != nil {
			b.Fatal(err)
		}
		step++
	}
	if err := run.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := run.End(ctx, RunFinished); err != nil {
		b.Fatal(err)
	}
	h, err := r.MetricHistory(ctx, run.ID(), "loss")
	if err != nil {
		b.Fatal(err)
	}
	if want := (step + 3) / 4; int64(len(h)) != want {
		b.Fatalf("%d points of loss, want %d", len(h), want)
	}
}

// One large write is cut into chunks and transactions that Badger accepts,
// and reads back in step order whatever the logging order.
func TestMetricsLargeWrite(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	run := startRun(t, r, RunOptions{})
	const n = 60000 // > 1 MiB of points per series: several transactions
	var points []metricPoint
	for i := range n {
		for _, key := range []string{"a", "b"} {
			points = append(points, metricPoint{key: key, step: int64(n - i), ns: int64(1e9 + i), value: float64(i)})
		}
	}
	if err := run.writePoints(points); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		h, err := r.MetricHistory(ctx, run.ID(), key)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != n {
			t.Fatalf("%s: %d points, want %d", key, len(h), n)
		}
		for i, p := range h {
			if p.Step != int64(i+1) || p.Value != float64(n-1-i) {
				t.Fatalf("%s point %d = %+v", key, i, p)
			}
		}
	}
	info, err := r.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if p := info.Latest["a"]; p.Step != n || p.Value != 0 {
		t.Errorf("latest a = %+v, want step %d value 0", p, n)
	}
	// A later write of lower steps leaves the latest point alone; one of
	// the same step replaces it.
	if err := run.writePoints([]metricPoint{{key: "a", step: 5, ns: 2e9, value: 7}}); err != nil {
		t.Fatal(err)
	}
	if err := run.writePoints([]metricPoint{{key: "b", step: n, ns: 2e9, value: 9}}); err != nil {
		t.Fatal(err)
	}
	info, err = r.RunInfo(ctx, run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if a, b := info.Latest["a"], info.Latest["b"]; a.Value != 0 || b.Value != 9 {
		t.Errorf("latest a = %+v, b = %+v; want values 0 and 9", a, b)
	}
}

// Two handles of one run (ResumeRun while the first is still logging)
// write the same series without losing points.
func TestRunTwoHandles(t *testing.T) {
	ctx := context.Background()
	r := openRegRepo(t)
	h1 := startRun(t, r, RunOptions{})
	h2, err := r.ResumeRun(ctx, h1.ID())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, h := range []*Run{h1, h2} {
		wg.Go(func() {
			for s := range 3000 {
				if err := h.LogMetric(ctx, "loss", int64(2*s+i), float64(i)); err != nil {
					t.Error(err)
					return
				}
			}
			if err := h.Flush(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	h, err := r.MetricHistory(ctx, h1.ID(), "loss")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 6000 {
		t.Fatalf("%d points, want 6000", len(h))
	}
	for i, p := range h {
		if p.Step != int64(i) || p.Value != float64(i%2) {
			t.Fatalf("point %d = %+v", i, p)
		}
	}
	info, err := r.RunInfo(ctx, h1.ID())
	if err != nil {
		t.Fatal(err)
	}
	if p := info.Latest["loss"]; p.Step != 5999 || p.Value != 1 {
		t.Errorf("latest = %+v, want step 5999 from the second handle", p)
	}
}
