package pipeline

import (
	"context"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

const flights3M = "/work/shared/data/flights-3m.parquet"

func BenchmarkParquetFlights3M(b *testing.B) {
	st, err := os.Stat(flights3M)
	if err != nil {
		b.Skipf("%s not present", flights3M)
	}
	ctx := context.Background()
	b.Run("kiln", func(b *testing.B) {
		b.SetBytes(st.Size())
		var rows int64
		for b.Loop() {
			rows = 0
			for rec, err := range Parquet(flights3M, ParquetOptions{}).Batches(ctx) {
				if err != nil {
					b.Fatal(err)
				}
				rows += rec.NumRows()
				rec.Release()
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("pqarrow-parallel", func(b *testing.B) {
		b.SetBytes(st.Size())
		var rows int64
		for b.Loop() {
			pf, err := file.OpenParquetFile(flights3M, false)
			if err != nil {
				b.Fatal(err)
			}
			fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: 65536}, memory.DefaultAllocator)
			if err != nil {
				b.Fatal(err)
			}
			tbl, err := fr.ReadTable(ctx)
			if err != nil {
				b.Fatal(err)
			}
			rows = tbl.NumRows()
			tbl.Release()
			pf.Close()
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}
