package pipeline_test

import (
	"bytes"
	"log"
	"os"

	"github.com/kilnml/kiln/pipeline"
)

func ExampleParquetReaderAt() {
	// Any io.ReaderAt will do: a file, bytes in memory, a blob in a store.
	data, err := os.ReadFile("../testdata/flights-20k.parquet")
	if err != nil {
		log.Fatal(err)
	}
	src := pipeline.ParquetReaderAt("flights", bytes.NewReader(data), int64(len(data)), pipeline.ParquetOptions{
		Columns: []string{"origin", "delay"},
	})
	printSource(src, 2)
	// Output:
	// origin:utf8 delay:int64
	// LAS 33
	// ATL 19
	// 20000 rows
}
