package pipeline

import (
	"context"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// flights3M is the shared data folder's 3M-row flights file, beside the
// repository; benchmarks that need it skip without it.
const flights3M = "../../shared/data/flights-3m.parquet"

// BenchmarkParquetFlights3M reads the 3-million-row flights file (13 MB,
// 11 row groups, zstd) with the Parquet source and, as peers, with
// pqarrow's own FileReader with Parallel set: ReadTable, which decodes
// every column on its own goroutine into one table, and GetRecordReader,
// which streams batches like the source does. Every batch is released as it
// arrives.
func BenchmarkParquetFlights3M(b *testing.B) {
	st, err := os.Stat(flights3M)
	if err != nil {
		b.Skipf("%s not present", flights3M)
	}
	ctx := context.Background()
	run := func(b *testing.B, read func() int64) {
		b.SetBytes(st.Size())
		var rows int64
		for b.Loop() {
			rows = read()
		}
		if rows != 3000000 {
			b.Fatalf("read %d rows", rows)
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("kiln", func(b *testing.B) {
		run(b, func() int64 {
			var rows int64
			for rec, err := range Parquet(flights3M, ParquetOptions{}).Batches(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				rows += rec.NumRows()
				rec.Release()
			}
			return rows
		})
	})
	open := func(b *testing.B) (*file.Reader, *pqarrow.FileReader) {
		pf, err := file.OpenParquetFile(flights3M, false)
		if err != nil {
			b.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: 65536}, memory.DefaultAllocator)
		if err != nil {
			b.Fatal(err)
		}
		return pf, fr
	}
	b.Run("pqarrow-ReadTable", func(b *testing.B) {
		run(b, func() int64 {
			pf, fr := open(b)
			defer pf.Close()
			tbl, err := fr.ReadTable(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer tbl.Release()
			return tbl.NumRows()
		})
	})
	b.Run("pqarrow-RecordReader", func(b *testing.B) {
		run(b, func() int64 {
			pf, fr := open(b)
			defer pf.Close()
			rr, err := fr.GetRecordReader(ctx, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer rr.Release()
			var rows int64
			for rr.Next() {
				rows += rr.RecordBatch().NumRows()
			}
			if err := rr.Err(); err != nil {
				b.Fatal(err)
			}
			return rows
		})
	})
}
