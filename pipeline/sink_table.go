package pipeline

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TableSink collects the batches it is given into an [arrow.Table]. It
// copies nothing: it retains each batch's arrays, and the table's columns
// are chunked arrays of them, one chunk per batch.
type TableSink struct {
	lc      sinkLife
	batches []arrow.RecordBatch
	table   arrow.Table
}

// Collect returns a sink that gathers a run's output in memory. After a
// successful Commit, Table returns the result.
func Collect() *TableSink {
	return &TableSink{lc: sinkLife{kind: "table sink", name: "(memory)"}}
}

// Open records the schema of the table.
func (s *TableSink) Open(ctx context.Context, schema *arrow.Schema) error {
	if err := s.lc.beginOpen(ctx, schema); err != nil {
		return err
	}
	s.lc.opened(schema)
	return nil
}

// Write retains batch for the table.
func (s *TableSink) Write(ctx context.Context, batch arrow.RecordBatch) error {
	if err := s.lc.beginWrite(ctx, batch); err != nil {
		return err
	}
	batch.Retain()
	s.batches = append(s.batches, batch)
	return nil
}

// Commit builds the table from the batches written, in order.
func (s *TableSink) Commit(ctx context.Context) error {
	if err := s.lc.beginCommit(ctx); err != nil {
		if s.lc.state == sinkOpen {
			s.release()
			s.lc.failed(err)
		}
		return err
	}
	schema := s.lc.schema
	cols := make([]arrow.Column, schema.NumFields())
	var rows int64
	for _, b := range s.batches {
		rows += b.NumRows()
	}
	for i, f := range schema.Fields() {
		chunks := make([]arrow.Array, len(s.batches))
		for j, b := range s.batches {
			chunks[j] = b.Column(i)
		}
		chunked := arrow.NewChunked(f.Type, chunks)
		cols[i] = *arrow.NewColumn(f, chunked)
		chunked.Release()
	}
	s.table = array.NewTable(schema, cols, rows)
	for i := range cols {
		cols[i].Release()
	}
	s.release()
	s.lc.state = sinkCommitted
	return nil
}

// Table returns the table built by Commit, or nil before a successful
// Commit. The table belongs to the caller, who must call its Release once
// (however many times Table is called); its arrays are those of the batches
// that were written.
func (s *TableSink) Table() arrow.Table {
	return s.table
}

// Abort releases the batches collected so far. It may be called after a
// failed Commit.
func (s *TableSink) Abort() error {
	if ok, err := s.lc.beginAbort(); !ok {
		return err
	}
	s.release()
	return nil
}

func (s *TableSink) release() {
	for _, b := range s.batches {
		b.Release()
	}
	s.batches = nil
}
