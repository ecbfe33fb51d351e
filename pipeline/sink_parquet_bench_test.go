package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// skFlightsBatches reads a Parquet file into batches of batchRows rows, as a
// CSV or Parquet source would deliver them.
func skFlightsBatches(tb testing.TB, path string, batchRows int64) ([]arrow.RecordBatch, int64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("%s not present", path)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{Parallel: true}, memory.DefaultAllocator)
	if err != nil {
		tb.Fatal(err)
	}
	defer tbl.Release()
	var size int64
	for i := 0; i < int(tbl.NumCols()); i++ {
		for _, c := range tbl.Column(i).Data().Chunks() {
			size += skDataBytes(c.Data())
		}
	}
	tr := array.NewTableReader(tbl, batchRows)
	defer tr.Release()
	var out []arrow.RecordBatch
	for tr.Next() {
		rec := tr.RecordBatch()
		rec.Retain()
		out = append(out, rec)
	}
	tb.Cleanup(func() {
		for _, r := range out {
			r.Release()
		}
	})
	return out, size
}

// skDataBytes is the size of an array's buffers.
func skDataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += skDataBytes(c)
	}
	return n
}

// BenchmarkParquetSinkFlights writes the 3M-row flights table (timestamp,
// two int64, two strings), held in memory as 65,536-row batches, through
// ToParquet. MB/s counts the table's in-memory Arrow bytes.
//
//	go test ./pipeline -run '^$' -bench ParquetSinkFlights -benchtime 5x
func BenchmarkParquetSinkFlights(b *testing.B) {
	batches, size := skFlightsBatches(b, flights3M, 65536)
	var rows int64
	for _, r := range batches {
		rows += r.NumRows()
	}
	schema := batches[0].Schema()
	ctx := context.Background()
	run := func(b *testing.B, opts ParquetWriteOptions) {
		dir := b.TempDir()
		b.SetBytes(size)
		for b.Loop() {
			sink := ToParquet(filepath.Join(dir, "flights.parquet"), opts)
			if err := sink.Open(ctx, schema); err != nil {
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
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("kiln", func(b *testing.B) { run(b, ParquetWriteOptions{}) })
	b.Run("kiln-serial", func(b *testing.B) { run(b, ParquetWriteOptions{Parallelism: 1}) })
	b.Run("kiln-zstd", func(b *testing.B) { run(b, ParquetWriteOptions{Compression: "zstd"}) })
	// The plain pqarrow.FileWriter, for comparison: what a sink built
	// directly on it would do.
	b.Run("pqarrow-filewriter", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Create(filepath.Join(dir, "flights.parquet"))
			if err != nil {
				b.Fatal(err)
			}
			props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(1<<20))
			w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range batches {
				if err := w.WriteBuffered(r); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
