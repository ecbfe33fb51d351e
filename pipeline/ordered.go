package pipeline

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
)

// chunkTask is one chunk of input on its way to a parser and then, in input
// order, to the consumer.
type chunkTask[C any] struct {
	chunk C
	done  chan chunkResult // receives exactly one result
}

type chunkResult struct {
	rec arrow.RecordBatch
	err error
}

// parseChunks is the engine of the text sources. next cuts the input into
// chunks; it is called from one goroutine and reports ok false at the end of
// the input. The chunks are parsed on par goroutines, each with the parse
// function newParser made for it (so it can keep scratch space), and the
// batches are yielded in input order. A nil batch with a nil error (a chunk
// of blank lines) is skipped. A panic in parse becomes an error wrapping
// ErrPanic. It stops at the first error, which it yields, or when yield
// returns false, and returns once every goroutine it started has ended. At
// most 2×par chunks are in flight.
func parseChunks[C any](ctx context.Context, par int,
	next func() (C, bool, error),
	newParser func() func(C) (arrow.RecordBatch, error),
	yield func(arrow.RecordBatch, error) bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// order carries every task, in input order, to the consumer; work
	// carries the same tasks to the parsers. work has room for every task
	// order and the parsers can hold, so sending to it never blocks.
	order := make(chan *chunkTask[C], par)
	work := make(chan *chunkTask[C], par+2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // splitter
		defer wg.Done()
		defer close(work)
		defer close(order)
		for ctx.Err() == nil {
			c, ok, err := next()
			t := &chunkTask[C]{chunk: c, done: make(chan chunkResult, 1)}
			if err != nil {
				t.done <- chunkResult{err: err}
			} else if !ok {
				return
			}
			select {
			case order <- t:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			work <- t
		}
	}()
	for range par {
		wg.Add(1)
		go func() { // parser
			defer wg.Done()
			parse := newParser()
			for t := range work {
				if err := ctx.Err(); err != nil {
					t.done <- chunkResult{err: err}
					continue
				}
				t.done <- safeParse(parse, t.chunk)
			}
		}()
	}
	stopped := false
	for t := range order {
		res := <-t.done
		if stopped {
			if res.rec != nil {
				res.rec.Release()
			}
			continue
		}
		if res.err == nil {
			res.err = ctx.Err()
		}
		if res.err != nil {
			if res.rec != nil {
				res.rec.Release()
			}
			yield(nil, res.err)
			stopped = true
			cancel()
			continue
		}
		if res.rec != nil && !yield(res.rec, nil) {
			stopped = true
			cancel()
		}
	}
	wg.Wait()
	if !stopped {
		if err := ctx.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// safeParse turns a panic in a parser (a bug, never bad input) into an error
// rather than a crash of the host program.
func safeParse[C any](parse func(C) (arrow.RecordBatch, error), c C) (res chunkResult) {
	defer func() {
		if r := recover(); r != nil {
			res = chunkResult{err: fmt.Errorf("pipeline: %w: %v", ErrPanic, r)}
		}
	}()
	rec, err := parse(c)
	return chunkResult{rec, err}
}
