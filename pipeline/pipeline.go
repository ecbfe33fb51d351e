package pipeline

import (
	"context"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A Source yields record batches that all share one schema.
//
// A Source value describes one input (a file, a glob, a slice of structs). It
// may be read more than once unless its documentation says otherwise.
type Source interface {
	// Schema returns the schema of every batch the source yields. It may read
	// a sample of the input (CSV inference) and caches what it learned, so
	// calling it again is cheap.
	Schema(ctx context.Context) (*arrow.Schema, error)

	// Batches yields the source's batches in input order. The consumer owns
	// each batch it receives and must Release it. Iteration stops at the
	// first error, which is yielded with a nil batch. Breaking out of the
	// loop early releases everything the source holds.
	Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error]
}

// ByteCounter is implemented by sources that read bytes from files or
// readers, so that a run can report input progress.
type ByteCounter interface {
	// BytesRead reports how many input bytes have been consumed so far by
	// the current or last call to Batches. It is safe for concurrent use.
	BytesRead() int64
	// TotalBytes reports the size of the input in bytes, or -1 when it is
	// not known (a stream, a compressed file).
	TotalBytes() int64
}

// A Stage transforms batches. Stages are declared before any data flows: Bind
// checks the stage against its input schema and fixes the output schema, so a
// pipeline with a missing column or a wrong type fails before it reads a row.
type Stage interface {
	// Name identifies the stage in statistics and errors.
	Name() string
	// Bind prepares the stage for batches of schema in. Arrays the step
	// creates are allocated from mem.
	Bind(mem memory.Allocator, in *arrow.Schema) (Step, error)
}

// A Step is a Stage bound to an input schema.
type Step interface {
	// Schema is the schema of every batch Apply returns.
	Schema() *arrow.Schema
	// Apply transforms one batch. It must not release in. It returns a new
	// batch owned by the caller, which may be in itself retained, and which
	// may have zero rows. Unless the step is Sequential, Apply is called
	// concurrently on different batches.
	Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error)
}

// Sequential is implemented by steps that keep state across batches (a
// uniqueness check, a running count). A run applies a sequential step and the
// steps after it to one batch at a time, in input order unless the run is
// unordered.
type Sequential interface {
	Sequential() bool
}

// Counter is implemented by steps that report what they did beyond rows in
// and out (rows dropped, rows quarantined, failures per expectation). The
// returned map is a snapshot.
type Counter interface {
	Counts() map[string]int64
}

// A Sink receives the output of a run. A file sink writes to a temporary name
// beside its destination and renames it on Commit, so a failed or cancelled
// run leaves no partial output behind.
//
// A Sink is used once: Open, any number of Write calls from one goroutine,
// then exactly one of Commit or Abort.
type Sink interface {
	// Open prepares the sink for batches of the given schema.
	Open(ctx context.Context, schema *arrow.Schema) error
	// Write writes one batch. The sink does not release the batch; it
	// retains it if it keeps it past the call.
	Write(ctx context.Context, batch arrow.RecordBatch) error
	// Commit finishes the output and makes it visible under its final name.
	Commit(ctx context.Context) error
	// Abort discards the output. It is safe to call after a failed Open,
	// Write or Commit.
	Abort() error
}
