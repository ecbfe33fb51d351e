package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/kilnml/kiln/pipeline"
)

// runParquet is the parquet suite: reading a whole Parquet file into Arrow
// with Kiln's Parquet source against pqarrow's FileReader with parallel
// column reads. Speeds are in MB of file size per second.
func runParquet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("parquet", flag.ContinueOnError)
	path := fs.String("parquet", defaultFlightsParquet(), "Parquet `file` to read")
	runs := fs.Int("runs", 5, "timed `runs` of each side; the median counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size, err := fileSize(*path)
	if err != nil {
		return err
	}
	if err := warmCache(*path); err != nil {
		return err
	}
	fmt.Printf("input %s: %d bytes (%.1f MB), GOMAXPROCS %d\n",
		*path, size, float64(size)/1e6, runtime.GOMAXPROCS(0))
	var kilnRows, peerRows int64 = -1, -1
	t, err := alternate(ctx, *runs, size, "pqarrow",
		func(ctx context.Context, _ int) (time.Duration, error) {
			start := time.Now()
			var rows int64
			for rec, err := range pipeline.Parquet(*path, pipeline.ParquetOptions{}).Batches(ctx) {
				if err != nil {
					return 0, err
				}
				rows += rec.NumRows()
				rec.Release()
			}
			d := time.Since(start)
			return d, sameRows("kiln", &kilnRows, rows)
		},
		func(ctx context.Context, _ int) (time.Duration, error) {
			start := time.Now()
			fr, closeFile, err := openParquet(*path, pqarrow.ArrowReadProperties{Parallel: true, BatchSize: 64 << 10})
			if err != nil {
				return 0, err
			}
			defer closeFile()
			tbl, err := fr.ReadTable(ctx)
			if err != nil {
				return 0, fmt.Errorf("pqarrow: %w", err)
			}
			rows := tbl.NumRows()
			tbl.Release()
			d := time.Since(start)
			return d, sameRows("pqarrow", &peerRows, rows)
		})
	if err != nil {
		return err
	}
	if kilnRows != peerRows {
		return fmt.Errorf("kiln read %d rows, pqarrow %d", kilnRows, peerRows)
	}
	fmt.Printf("rows: %d on both sides; pqarrow FileReader{Parallel: true}.ReadTable\n", kilnRows)
	k, p, err := t.speeds(size)
	if err != nil {
		return err
	}
	return finish(result{Suite: "parquet", Kiln: k, Peer: p, PeerName: "pqarrow", Unit: "MB/s"}, t)
}
