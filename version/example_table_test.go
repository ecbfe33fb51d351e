package version_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// ExampleRepository_CommitTable commits a table from a pipeline source,
// reads it back by name and compares two versions.
func ExampleRepository_CommitTable() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kiln-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	repo, err := version.Open(ctx, dir, version.Options{Author: "ann"})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	// Version 1: the flights of a CSV file, stored as Parquet.
	flights := pipeline.CSV("../testdata/flights-20k.csv", pipeline.CSVOptions{})
	v1, err := repo.CommitTable(ctx, "flights", flights, version.TableOptions{
		CommitOptions: version.CommitOptions{Message: "import"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := repo.Tag(ctx, "flights", "v1", v1.ID); err != nil {
		log.Fatal(err)
	}
	tree, err := repo.Tree(ctx, v1)
	if err != nil {
		log.Fatal(err)
	}
	table := tree[0].Table
	fmt.Println(tree[0].Path, table.Rows, "rows")
	for _, c := range table.Columns[1:3] {
		fmt.Printf("%s: min %s, max %s, mean %.2f\n", c.Name, c.Min, c.Max, *c.Mean)
	}

	// Read it back as a pipeline source.
	src, err := repo.Source(ctx, "flights@v1", version.SourceOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var rows int64
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			log.Fatal(err)
		}
		rows += rec.NumRows()
		rec.Release()
	}
	fmt.Println("read back", rows, "rows")

	// Version 2: the same rows committed again store nothing new.
	v2, err := repo.CommitTable(ctx, "flights", pipeline.Parquet("../testdata/flights-20k.parquet", pipeline.ParquetOptions{}), version.TableOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same tree:", v2.Tree == v1.Tree)

	rep, err := repo.Diff(ctx, "flights@v1", "flights")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("changes:", len(rep.Changes))
	// Output:
	// data.parquet 20000 rows
	// delay: min -80, max 1191, mean 13.79
	// distance: min 31, max 4962, mean 754.37
	// read back 20000 rows
	// same tree: true
	// changes: 0
}
