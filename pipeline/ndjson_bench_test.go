package pipeline

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// writeFlightsNDJSON writes the first rows of flights-3m.parquet as NDJSON
// and returns the file's path.
func writeFlightsNDJSON(tb testing.TB, rows int64) string {
	tb.Helper()
	if _, err := os.Stat(flights3M); err != nil {
		tb.Skipf("%s not present", flights3M)
	}
	path := filepath.Join(tb.TempDir(), "flights.ndjson")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var n int64
	var line []byte
	for rec, err := range Parquet(flights3M, ParquetOptions{}).Batches(context.Background()) {
		if err != nil {
			tb.Fatal(err)
		}
		date := rec.Column(0).(*array.Timestamp)
		delay := rec.Column(1).(*array.Int64)
		dist := rec.Column(2).(*array.Int64)
		orig := rec.Column(3).(*array.LargeString)
		dest := rec.Column(4).(*array.LargeString)
		for i := 0; i < int(rec.NumRows()) && n < rows; i++ {
			line = append(line[:0], `{"date":"`...)
			line = time.UnixMicro(int64(date.Value(i))).UTC().AppendFormat(line, "2006-01-02 15:04:05")
			line = append(line, `","delay":`...)
			line = strconv.AppendInt(line, delay.Value(i), 10)
			line = append(line, `,"distance":`...)
			line = strconv.AppendInt(line, dist.Value(i), 10)
			line = append(line, `,"origin":`...)
			line = strconv.AppendQuote(line, orig.Value(i))
			line = append(line, `,"destination":`...)
			line = strconv.AppendQuote(line, dest.Value(i))
			line = append(line, "}\n"...)
			w.Write(line)
			n++
		}
		rec.Release()
		if n >= rows {
			break
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func BenchmarkNDJSONFlights200k(b *testing.B) {
	path := writeFlightsNDJSON(b, 200000)
	st, _ := os.Stat(path)
	ctx := context.Background()
	for _, par := range []int{1, 0} {
		name := "parallel=" + strconv.Itoa(par)
		if par == 0 {
			name = "parallel=GOMAXPROCS"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(st.Size())
			var rows int64
			var schema *arrow.Schema
			for b.Loop() {
				rows = 0
				src := NDJSON(path, NDJSONOptions{Parallelism: par})
				for rec, err := range src.Batches(ctx) {
					if err != nil {
						b.Fatal(err)
					}
					rows += rec.NumRows()
					schema = rec.Schema()
					rec.Release()
				}
			}
			if rows != 200000 || schema.NumFields() != 5 {
				b.Fatalf("read %d rows, schema %v", rows, schema)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkNDJSONFlights200kArrowGo reads the same file with arrow-go's own
// JSON reader and the schema Kiln infers, for comparison.
func BenchmarkNDJSONFlights200kArrowGo(b *testing.B) {
	path := writeFlightsNDJSON(b, 200000)
	st, _ := os.Stat(path)
	schema, err := NDJSON(path, NDJSONOptions{}).Schema(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	var rows int64
	for b.Loop() {
		rows = 0
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := array.NewJSONReader(bufio.NewReaderSize(f, 1<<20), schema, array.WithChunk(65536))
		for r.Next() {
			rows += r.RecordBatch().NumRows()
		}
		if err := r.Err(); err != nil {
			b.Fatal(err)
		}
		r.Release()
		f.Close()
	}
	if rows != 200000 {
		b.Fatalf("read %d rows", rows)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
