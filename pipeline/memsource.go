package pipeline

import (
	"context"
	"fmt"
	"iter"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// MemorySource yields record batches held in memory. It can be read any
// number of times, also concurrently; each read yields the same batches,
// retained for the consumer. Call Release when the source is no longer
// needed.
type MemorySource struct {
	schema  *arrow.Schema
	batches []arrow.RecordBatch
	err     error
	once    sync.Once
}

// FromBatches returns a source yielding batches, which it retains. A nil
// schema means the first batch's. A batch whose columns differ from the
// schema's in name, type or nullability makes Schema and Batches return an
// error wrapping ErrSchema (metadata is not compared).
func FromBatches(schema *arrow.Schema, batches ...arrow.RecordBatch) *MemorySource {
	s := &MemorySource{schema: schema}
	if schema == nil && len(batches) > 0 {
		s.schema = batches[0].Schema()
	}
	if s.schema == nil {
		s.err = fmt.Errorf("%w: FromBatches: no schema and no batches to take one from", ErrSchema)
	}
	for i, b := range batches {
		if s.err == nil {
			if d := schemaDiff(s.schema, b.Schema()); d != "" {
				s.err = fmt.Errorf("%w: FromBatches: batch %d differs from the schema: %s", ErrSchema, i, d)
			}
		}
		b.Retain()
		s.batches = append(s.batches, b)
	}
	return s
}

// FromTable returns a source yielding tbl's rows in batches of at most
// batchRows rows (zero means 65,536). Batches are zero-copy slices of the
// table's chunks and never span two chunks; the source keeps what it needs,
// so the caller may release tbl.
func FromTable(tbl arrow.Table, batchRows int) *MemorySource {
	if batchRows <= 0 {
		batchRows = 65536
	}
	s := &MemorySource{schema: tbl.Schema()}
	tr := array.NewTableReader(tbl, int64(batchRows))
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		rec.Retain()
		s.batches = append(s.batches, rec)
	}
	if err := tr.Err(); err != nil {
		s.err = fmt.Errorf("pipeline: FromTable: %w", err)
	}
	return s
}

// Schema returns the batches' schema.
func (s *MemorySource) Schema(ctx context.Context) (*arrow.Schema, error) {
	if s.err != nil {
		return nil, s.err
	}
	return s.schema, nil
}

// Batches yields the batches in order, each retained once for the consumer.
func (s *MemorySource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		if s.err != nil {
			yield(nil, s.err)
			return
		}
		for _, b := range s.batches {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			b.Retain()
			if !yield(b, nil) {
				return
			}
		}
	}
}

// NumRows is the total number of rows in the source.
func (s *MemorySource) NumRows() int64 {
	var n int64
	for _, b := range s.batches {
		n += b.NumRows()
	}
	return n
}

// Release releases the source's batches. It is safe to call more than once;
// the source must not be read afterwards.
func (s *MemorySource) Release() {
	s.once.Do(func() {
		for _, b := range s.batches {
			b.Release()
		}
		s.batches = nil
		if s.err == nil {
			s.err = fmt.Errorf("pipeline: memory source used after Release")
		}
	})
}
