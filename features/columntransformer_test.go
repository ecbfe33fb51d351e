package features

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// TestFitErrorsWithWorkers checks that a bad batch among many stops a
// parallel fit with its error, that a cancelled context stops it, and that
// progress is reported, with nothing leaked.
func TestFitErrorsWithWorkers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer func() { f1ReleaseSources(); mem.AssertSize(t, 0) }()
	var batches []arrow.RecordBatch
	for i := range 40 {
		x := float64(i)
		if i == 25 {
			x = math.Inf(1)
		}
		batches = append(batches, f1Record(mem, []string{"x"}, fp(x, x+1, x+2)))
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	spec, err := ParseSpec([]byte(`{"transforms":[{"name":"robust","columns":["x"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := New(spec)
	err = ct.Fit(context.Background(), f1Src(t, batches...), FitOptions{Workers: 4})
	if !errors.Is(err, ErrNonFinite) {
		t.Errorf("fit: %v, want ErrNonFinite", err)
	}
	if ct.Fitted() {
		t.Error("a failed fit left the transformer fitted")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ct.Fit(ctx, f1Src(t, batches[:10]...), FitOptions{Workers: 3}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fit: %v", err)
	}

	var rows atomic.Int64
	opts := FitOptions{Workers: 3, Progress: func(n int64) { rows.Store(n) }}
	if err := ct.Fit(context.Background(), f1Src(t, batches[:20]...), opts); err != nil {
		t.Fatal(err)
	}
	if rows.Load() != 60 {
		t.Errorf("progress reported %d rows, want 60", rows.Load())
	}
	// The fit matches one worker's.
	one, _ := New(spec)
	if err := one.Fit(context.Background(), f1Src(t, batches[:20]...), FitOptions{Workers: 1}); err != nil {
		t.Fatal(err)
	}
	if a, b := string(f1JSON(t, ct)), string(f1JSON(t, one)); a != b {
		t.Errorf("3 workers %s, 1 worker %s", a, b)
	}

	// A sink that is aborted after a bad batch.
	sink := ct.FitSink()
	if err := sink.Open(context.Background(), batches[0].Schema()); err != nil {
		t.Fatal(err)
	}
	for _, b := range batches {
		if err := sink.Write(context.Background(), b); err != nil {
			break
		}
	}
	if err := sink.Commit(context.Background()); !errors.Is(err, ErrNonFinite) {
		t.Errorf("sink commit: %v, want ErrNonFinite", err)
	}
	if err := sink.Abort(); err != nil {
		t.Error(err)
	}
	if _, err := pipeline.New(f1Src(t, batches[:5]...)).Run(context.Background(), ct.FitSink(), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestStatelessNeedsNoFit(t *testing.T) {
	spec, err := ParseSpec([]byte(`{"transforms":[{"name":"log1p","columns":["a"]},{"name":"clip","columns":["b"],"max":1}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !ct.Fitted() {
		t.Fatal("stateless transformer not fitted")
	}
	out, err := ct.ApplyRow(map[string]Value{"a": Float(math.E - 1), "b": Int(3)})
	if err != nil {
		t.Fatal(err)
	}
	if out[0] != 1 || out[1] != 1 {
		t.Errorf("got %v", out)
	}
	// Non-contiguous inputs: b is read by the second and third steps.
	spec2, err := ParseSpec([]byte(`{"transforms":[{"name":"log1p","columns":["b"]},{"name":"clip","columns":["a","b2"],"max":1},{"name":"passthrough","columns":["c","a2"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ct2, _ := New(spec2)
	if diff := ct2.Inputs(); len(diff) != 5 {
		t.Fatalf("inputs %v", diff)
	}
	if _, err := ct2.ApplyRow(map[string]Value{"a": Float(1), "b": Float(1), "b2": Bool(true), "c": Float(2), "a2": Float(3)}); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"transforms":[{"name":"standard","columns":["x"],"with_mean":false}]}`))
	f.Add([]byte(`{"transforms":[{"name":"impute","columns":["x","y"],"strategy":"constant","fill_value":3}]}`))
	f.Add([]byte(`{"transforms":[{"name":"clip","columns":["x"],"min":null,"max":2}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseSpec(data)
		if err != nil {
			if !errors.Is(err, ErrSpec) {
				t.Fatalf("error not wrapping ErrSpec: %v", err)
			}
			return
		}
		if _, err := New(spec); err != nil {
			t.Fatalf("parsed spec rejected by New: %v", err)
		}
	})
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"format":"kiln.features","version":1,"outputs":["x"],"transforms":[{"name":"standard","columns":["x"],"params":{"with_mean":true,"with_std":true},"state":{"mean":[1],"var":[1],"scale":[2],"n_samples_seen":[3]}}]}`))
	f.Add([]byte(`{"format":"kiln.features","version":1,"outputs":["x","x_missing"],"transforms":[{"name":"impute","columns":["x"],"params":{"strategy":"median","fill_value":0,"add_indicator":true,"keep_empty_features":false},"state":{"statistics":[2],"had_missing":[true]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, err := Load(data)
		if err != nil {
			return
		}
		// Whatever loads applies without panicking and re-saves stably.
		in := make([]Value, len(ct.Inputs()))
		out := make([]float64, len(ct.Outputs()))
		_ = ct.ApplyRowInto(in, out)
		b1, err := ct.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		ct2, err := Load(b1)
		if err != nil {
			t.Fatalf("re-load: %v", err)
		}
		b2, _ := ct2.MarshalJSON()
		if string(b1) != string(b2) {
			t.Fatalf("unstable:\n%s\n%s", b1, b2)
		}
	})
}
