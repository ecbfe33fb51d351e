package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestTableSink(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skTypesBatch(t, mem)
	defer rec.Release()
	ctx := context.Background()

	sink := Collect()
	if sink.Table() != nil {
		t.Errorf("Table before Commit is not nil")
	}
	skWriteAll(t, sink, rec.Schema(), rec, rec, rec)
	tbl := sink.Table()
	if tbl == nil {
		t.Fatal("no table after Commit")
	}
	skCheckTable(t, tbl, []arrow.RecordBatch{rec, rec, rec})
	if tbl.Column(0).Data().Len() != 12 || len(tbl.Column(0).Data().Chunks()) != 3 {
		t.Errorf("column 0 has %d rows in %d chunks, want 12 in 3", tbl.Column(0).Data().Len(), len(tbl.Column(0).Data().Chunks()))
	}
	if err := sink.Abort(); !errors.Is(err, ErrClosed) {
		t.Errorf("Abort after Commit: %v, want ErrClosed", err)
	}
	// The table outlives the sink and the batches: release both; the leak
	// check at the end of the test proves the table held the last
	// references.
	tbl.Release()

	// Abort releases what was collected.
	sink = Collect()
	if err := sink.Open(ctx, rec.Schema()); err != nil {
		t.Fatal(err)
	}
	sink.Write(ctx, rec)
	sink.Write(ctx, rec)
	if err := sink.Abort(); err != nil {
		t.Errorf("Abort: %v", err)
	}
	if sink.Table() != nil {
		t.Errorf("Table after Abort is not nil")
	}

	// No batches: an empty table with the schema.
	sink = Collect()
	skWriteAll(t, sink, rec.Schema())
	if got := sink.Table(); got.NumRows() != 0 || !got.Schema().Equal(rec.Schema()) {
		t.Errorf("empty table: %d rows, schema %v", got.NumRows(), got.Schema())
	} else {
		got.Release()
	}

	// A cancelled Commit releases everything too.
	sink = Collect()
	if err := sink.Open(ctx, rec.Schema()); err != nil {
		t.Fatal(err)
	}
	sink.Write(ctx, rec)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := sink.Commit(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Commit: %v", err)
	}
	sink.Abort()
}

// TestTableSinkRun collects a pipeline's output.
func TestTableSinkRun(t *testing.T) {
	mem := checkedAlloc(t)
	var batches []arrow.RecordBatch
	for i := range 4 {
		batches = append(batches, skSimpleBatch(mem, 100*(i+1)))
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	sink := Collect()
	stats, err := New(&sinkTestSource{schema: batches[0].Schema(), batches: batches}).Run(context.Background(), sink, RunOptions{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	tbl := sink.Table()
	defer tbl.Release()
	if tbl.NumRows() != 1000 || stats.RowsWritten != 1000 {
		t.Errorf("table has %d rows, run wrote %d, want 1000", tbl.NumRows(), stats.RowsWritten)
	}
	skCheckTable(t, tbl, batches)
}

// BenchmarkTableSink collects the 3M-row flights table.
//
//	go test ./pipeline -run '^$' -bench TableSink
func BenchmarkTableSink(b *testing.B) {
	batches, size := skFlightsBatches(b, flights3M, 65536)
	ctx := context.Background()
	b.SetBytes(size)
	for b.Loop() {
		sink := Collect()
		if err := sink.Open(ctx, batches[0].Schema()); err != nil {
			b.Fatal(err)
		}
		for _, r := range batches {
			if err := sink.Write(ctx, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := sink.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		sink.Table().Release()
	}
}
