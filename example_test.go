package kiln_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kilnml/kiln/pipeline"
)

// A pipeline reads a CSV file, drops rows that fail a check, keeps the late
// flights and writes them to Parquet.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kiln-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	src := pipeline.CSV("testdata/flights-20k.csv", pipeline.CSVOptions{})
	p := pipeline.New(src,
		pipeline.Validate(pipeline.ValidateOptions{
			Expect:    []pipeline.Expectation{pipeline.NotNull("origin")},
			OnFailure: pipeline.DropRow,
		}),
		pipeline.Filter(pipeline.Col("delay").Gt(15)),
	)
	stats, err := p.Run(ctx, pipeline.ToParquet(filepath.Join(dir, "late.parquet"), pipeline.ParquetWriteOptions{}), pipeline.RunOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("read %d rows, wrote %d late flights\n", stats.RowsRead, stats.RowsWritten)
	// Output: read 20000 rows, wrote 5862 late flights
}
