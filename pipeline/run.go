package pipeline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/sync/errgroup"
)

// Pipeline is a source followed by stages. A Pipeline is itself a Source, so
// pipelines compose: the output of one can feed another, or a consumer that
// takes a Source.
type Pipeline struct {
	Source Source
	Stages []Stage
	// Options control how Batches runs the stages; Run takes its own.
	Options RunOptions
}

// New returns a pipeline reading src through stages.
func New(src Source, stages ...Stage) *Pipeline {
	return &Pipeline{Source: src, Stages: stages}
}

// RunOptions control a run. The zero value is valid: ordered output, one
// worker per core, and no progress reports.
type RunOptions struct {
	// Parallelism is the number of batches transformed at once. Zero means
	// runtime.GOMAXPROCS(0).
	Parallelism int
	// MaxInFlight bounds the batches held between the source and the sink,
	// which bounds memory: the source waits when it is reached. Zero means
	// twice Parallelism.
	MaxInFlight int
	// Unordered lets batches reach the sink in the order they finish rather
	// than the order the source produced them. Row counts stay exact; the
	// order of rows in the output does not.
	Unordered bool
	// Progress, when set, is called from one goroutine after each batch
	// reaches the sink and once at the end.
	Progress func(Progress)
	// Allocator allocates the arrays that stages create. Nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
}

// Progress is a snapshot of a run, for progress bars.
type Progress struct {
	RowsRead    int64         // rows the source has produced
	RowsWritten int64         // rows that reached the sink
	Batches     int64         // batches that reached the sink
	BytesRead   int64         // input bytes consumed, when the source counts them
	TotalBytes  int64         // input size in bytes, or -1 when unknown
	Elapsed     time.Duration // since the run started
	Done        bool          // true in the final report
}

// Stats is what a run did.
type Stats struct {
	RowsRead    int64 // rows produced by the source
	RowsWritten int64 // rows that reached the sink
	Batches     int64 // batches that reached the sink
	BytesRead   int64 // input bytes, when the source counts them
	Elapsed     time.Duration
	Stages      []StageStats // one per stage, in order
}

// StageStats is what one stage did during a run.
type StageStats struct {
	Name    string
	RowsIn  int64
	RowsOut int64
	// Counts holds stage-specific figures, such as rows dropped or
	// quarantined and failures per expectation for Validate.
	Counts map[string]int64
}

// Schema binds every stage in turn and returns the schema of the batches
// the pipeline produces. It reports the first stage that cannot run on its
// input, before any data flows.
func (p *Pipeline) Schema(ctx context.Context) (*arrow.Schema, error) {
	b, err := p.bind(ctx, nil)
	if err != nil {
		return nil, err
	}
	return b.schema, nil
}

// Batches runs the pipeline with p.Options and yields its output batches.
// The consumer owns each batch and must Release it.
func (p *Pipeline) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		b, err := p.bind(ctx, p.Options.Allocator)
		if err != nil {
			yield(nil, err)
			return
		}
		// The run pushes batches from its goroutines; hand them to the
		// caller's loop one at a time.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch := make(chan arrow.RecordBatch)
		var runErr error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, runErr = b.run(ctx, p.Options, func(ctx context.Context, rec arrow.RecordBatch) error {
				rec.Retain()
				select {
				case ch <- rec:
					return nil
				case <-ctx.Done():
					rec.Release()
					return ctx.Err()
				}
			})
			close(ch)
		}()
		stopped := false
		for rec := range ch {
			if stopped {
				rec.Release()
				continue
			}
			if !yield(rec, nil) {
				stopped = true
				cancel()
			}
		}
		<-done
		if runErr != nil && !stopped {
			yield(nil, runErr)
		}
	}
}

// Run reads the source through the stages into sink and reports what it did.
// On success the sink is committed; on any failure, including cancellation of
// ctx, the sink (and any quarantine sink) is aborted and the error returned.
func (p *Pipeline) Run(ctx context.Context, sink Sink, opts RunOptions) (Stats, error) {
	b, err := p.bind(ctx, opts.Allocator)
	if err != nil {
		return Stats{}, err
	}
	if err := sink.Open(ctx, b.schema); err != nil {
		sink.Abort()
		return Stats{}, fmt.Errorf("open sink: %w", err)
	}
	stats, err := b.run(ctx, opts, sink.Write)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		if err = sink.Commit(ctx); err != nil {
			err = fmt.Errorf("commit sink: %w", err)
		}
	}
	if err != nil {
		sink.Abort()
		return stats, err
	}
	return stats, nil
}

// bound is a pipeline whose stages are bound to their input schemas.
type bound struct {
	src    Source
	names  []string
	steps  []Step
	schema *arrow.Schema
	seq    int // index of the first sequential step, len(steps) if none
}

func (p *Pipeline) bind(ctx context.Context, mem memory.Allocator) (*bound, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	if p.Source == nil {
		return nil, errors.New("pipeline: no source")
	}
	schema, err := p.Source.Schema(ctx)
	if err != nil {
		return nil, err
	}
	b := &bound{src: p.Source, seq: len(p.Stages)}
	for i, st := range p.Stages {
		step, err := st.Bind(mem, schema)
		if err != nil {
			return nil, fmt.Errorf("stage %d (%s): %w", i+1, st.Name(), err)
		}
		if s, ok := step.(Sequential); ok && s.Sequential() && b.seq == len(p.Stages) {
			b.seq = i
		}
		b.names = append(b.names, st.Name())
		b.steps = append(b.steps, step)
		schema = step.Schema()
	}
	b.schema = schema
	return b, nil
}

// sidecar is implemented by steps that write to sinks of their own (the
// quarantine of Validate); the run opens, commits and aborts them.
type sidecar interface {
	sidecars() []sidecarSink
}

type sidecarSink struct {
	sink   Sink
	schema *arrow.Schema
}

type job struct {
	seq   int64
	batch arrow.RecordBatch
}

type stepCounts struct{ in, out atomic.Int64 }

// run streams the source through the steps and hands each output batch to
// emit, which is called from one goroutine at a time and must not release the
// batch.
func (b *bound) run(ctx context.Context, opts RunOptions, emit func(context.Context, arrow.RecordBatch) error) (stats Stats, err error) {
	start := time.Now()
	par := opts.Parallelism
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	inflight := opts.MaxInFlight
	if inflight <= 0 {
		inflight = 2 * par
	}
	counts := make([]stepCounts, len(b.steps))
	var rowsRead atomic.Int64
	bc, _ := b.src.(ByteCounter)

	// Open the sinks that steps write to on the side.
	var sides []sidecarSink
	for _, st := range b.steps {
		if s, ok := st.(sidecar); ok {
			sides = append(sides, s.sidecars()...)
		}
	}
	for i, s := range sides {
		if err := s.sink.Open(ctx, s.schema); err != nil {
			for _, o := range sides[:i+1] {
				o.sink.Abort()
			}
			return Stats{}, fmt.Errorf("open quarantine sink: %w", err)
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	tokens := make(chan struct{}, inflight)
	jobs := make(chan job, inflight)
	results := make(chan job, inflight)

	// Producer: pull batches from the source.
	g.Go(func() (err error) {
		defer close(jobs)
		defer recoverTo(&err, "source")
		var seq int64
		for rec, err := range b.src.Batches(gctx) {
			if err != nil {
				return err
			}
			select {
			case tokens <- struct{}{}:
			case <-gctx.Done():
				rec.Release()
				return gctx.Err()
			}
			rowsRead.Add(rec.NumRows())
			select {
			case jobs <- job{seq, rec}:
				seq++
			case <-gctx.Done():
				rec.Release()
				return gctx.Err()
			}
		}
		return gctx.Err()
	})

	// Workers: apply the parallel steps.
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		g.Go(func() error {
			defer wg.Done()
			for j := range jobs {
				out, err := applySteps(gctx, b.names, b.steps[:b.seq], counts, j.batch)
				j.batch.Release()
				if err != nil {
					return err
				}
				select {
				case results <- job{j.seq, out}:
				case <-gctx.Done():
					out.Release()
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { wg.Wait(); close(results) }()

	// Collector: restore order, apply sequential steps, emit.
	var written, batches int64
	report := func(done bool) {
		if opts.Progress == nil {
			return
		}
		p := Progress{RowsRead: rowsRead.Load(), RowsWritten: written, Batches: batches,
			TotalBytes: -1, Elapsed: time.Since(start), Done: done}
		if bc != nil {
			p.BytesRead, p.TotalBytes = bc.BytesRead(), bc.TotalBytes()
		}
		opts.Progress(p)
	}
	g.Go(func() (err error) {
		pending := map[int64]arrow.RecordBatch{}
		defer func() {
			for _, r := range pending {
				r.Release()
			}
		}()
		var next int64
		deliver := func(rec arrow.RecordBatch) error {
			defer func() { <-tokens }()
			out, err := applySteps(gctx, b.names[b.seq:], b.steps[b.seq:], counts[b.seq:], rec)
			rec.Release()
			if err != nil {
				return err
			}
			defer out.Release()
			if out.NumRows() == 0 {
				return nil
			}
			if err := callEmit(gctx, emit, out); err != nil {
				return err
			}
			written += out.NumRows()
			batches++
			report(false)
			return nil
		}
		for r := range results {
			if opts.Unordered {
				if err := deliver(r.batch); err != nil {
					return err
				}
				continue
			}
			pending[r.seq] = r.batch
			for {
				rec, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if err := deliver(rec); err != nil {
					return err
				}
			}
		}
		return nil
	})

	err = g.Wait()
	// Release whatever was left in flight after a failure.
	for j := range jobs {
		j.batch.Release()
	}
	for j := range results {
		j.batch.Release()
	}
	for _, s := range sides {
		if err == nil {
			if cerr := s.sink.Commit(ctx); cerr != nil {
				err = fmt.Errorf("commit quarantine sink: %w", cerr)
			}
		}
	}
	if err != nil {
		for _, s := range sides {
			s.sink.Abort()
		}
	}

	stats = Stats{RowsRead: rowsRead.Load(), RowsWritten: written, Batches: batches, Elapsed: time.Since(start)}
	if bc != nil {
		stats.BytesRead = bc.BytesRead()
	}
	for i, st := range b.steps {
		ss := StageStats{Name: b.names[i], RowsIn: counts[i].in.Load(), RowsOut: counts[i].out.Load()}
		if c, ok := st.(Counter); ok {
			ss.Counts = c.Counts()
		}
		stats.Stages = append(stats.Stages, ss)
	}
	if err == nil {
		report(true)
	}
	return stats, err
}

// applySteps runs rec through steps. It does not release rec; the result is
// owned by the caller.
func applySteps(ctx context.Context, names []string, steps []Step, counts []stepCounts, rec arrow.RecordBatch) (out arrow.RecordBatch, err error) {
	rec.Retain()
	cur := rec
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			cur.Release()
			return nil, err
		}
		counts[i].in.Add(cur.NumRows())
		next, err := applyStep(ctx, st, cur)
		cur.Release()
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", names[i], err)
		}
		counts[i].out.Add(next.NumRows())
		cur = next
	}
	return cur, nil
}

func applyStep(ctx context.Context, st Step, rec arrow.RecordBatch) (out arrow.RecordBatch, err error) {
	defer recoverTo(&err, "")
	out, err = st.Apply(ctx, rec)
	switch {
	case err != nil && out != nil:
		out.Release()
		out = nil
	case err == nil && out == nil:
		err = errors.New("step returned neither a batch nor an error")
	}
	return out, err
}

func callEmit(ctx context.Context, emit func(context.Context, arrow.RecordBatch) error, rec arrow.RecordBatch) (err error) {
	defer recoverTo(&err, "sink")
	return emit(ctx, rec)
}

// recoverTo turns a panic into an error wrapping ErrPanic.
func recoverTo(err *error, where string) {
	if r := recover(); r != nil {
		if where != "" {
			where += ": "
		}
		*err = fmt.Errorf("%s%w: %v\n%s", where, ErrPanic, r, debug.Stack())
	}
}
