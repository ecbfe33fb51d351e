// Command quickstart is Kiln's first example: it ingests the CSV files in
// testdata, validates them, derives a label, writes Parquet and reads it back,
// printing what it did in a few lines.
//
//	go run ./examples/quickstart [-data testdata] [-out DIR]
//
// Nothing but Go is needed. Output goes to a new temporary folder unless -out
// names one.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/kilnml/kiln/pipeline"
)

func main() {
	data := flag.String("data", "testdata", "folder holding flights-20k.csv and seattle-weather.csv")
	out := flag.String("out", "", "folder for the Parquet output (default: a new temporary folder)")
	flag.Parse()
	if err := run(context.Background(), *data, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, out string, w io.Writer) error {
	if out == "" {
		dir, err := os.MkdirTemp("", "kiln-quickstart-")
		if err != nil {
			return err
		}
		out = dir
	}

	// Flights: check every row, set aside the ones that fail, label late
	// departures, write Parquet.
	flights := pipeline.CSV(filepath.Join(data, "flights-20k.csv"), pipeline.CSVOptions{})
	schema, err := flights.Schema(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "read the schema of %s: %s\n", filepath.Join(data, "flights-20k.csv"), describe(schema.Fields()))

	quarantine := pipeline.ToCSV(filepath.Join(out, "flights-rejected.csv"), pipeline.CSVWriteOptions{})
	p := pipeline.New(flights,
		pipeline.Validate(pipeline.ValidateOptions{
			Expect: []pipeline.Expectation{
				pipeline.NotNull("date"),
				pipeline.Matches("origin", `^[A-Z]{3}$`),
				pipeline.Matches("destination", `^[A-Z]{3}$`),
				pipeline.InRange("distance", 1, 6000),
				pipeline.InRange("delay", -60, 600),
			},
			OnFailure:  pipeline.QuarantineRow,
			Quarantine: quarantine,
		}),
		pipeline.Derive1("late", "delay", func(delay int64) bool { return delay > 15 }),
	)
	flightsOut := filepath.Join(out, "flights.parquet")
	start := time.Now()
	stats, err := p.Run(ctx, pipeline.ToParquet(flightsOut, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{})
	if err != nil {
		return err
	}
	v := stats.Stages[0]
	fmt.Fprintf(w, "validated %d flights: %d passed, %d set aside in %s\n",
		v.RowsIn, v.RowsOut, v.Counts["quarantined"], filepath.Join(out, "flights-rejected.csv"))
	fmt.Fprintf(w, "wrote %d rows with a derived \"late\" column to %s (%s) in %v\n",
		stats.RowsWritten, flightsOut, size(flightsOut), time.Since(start).Round(time.Millisecond))

	// Read the Parquet back and count late flights with a filter.
	late := pipeline.New(pipeline.Parquet(flightsOut, pipeline.ParquetOptions{}),
		pipeline.Filter(pipeline.Col("late").Eq(true)))
	table := pipeline.Collect()
	lstats, err := late.Run(ctx, table, pipeline.RunOptions{})
	if err != nil {
		return err
	}
	table.Table().Release()
	fmt.Fprintf(w, "read it back: %d of %d flights left more than 15 minutes late (%.1f%%)\n",
		lstats.RowsWritten, lstats.RowsRead, 100*float64(lstats.RowsWritten)/float64(max(lstats.RowsRead, 1)))

	// Weather: an explicit check of allowed values, dropping what fails.
	weather := pipeline.New(pipeline.CSV(filepath.Join(data, "seattle-weather.csv"), pipeline.CSVOptions{}),
		pipeline.Validate(pipeline.ValidateOptions{
			Expect: []pipeline.Expectation{
				pipeline.OneOf("weather", "drizzle", "rain", "sun", "snow", "fog"),
				pipeline.NotNull("temp_max"),
				pipeline.Unique("date"),
			},
			OnFailure: pipeline.DropRow,
		}))
	weatherOut := filepath.Join(out, "seattle-weather.parquet")
	wstats, err := weather.Run(ctx, pipeline.ToParquet(weatherOut, pipeline.ParquetWriteOptions{Compression: "zstd"}), pipeline.RunOptions{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %d days of Seattle weather to %s (%s), %d rows dropped\n",
		wstats.RowsWritten, weatherOut, size(weatherOut), wstats.Stages[0].Counts["dropped"])
	return nil
}

// describe lists fields as "name type, ...".
func describe(fs []arrow.Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = f.Name + " " + f.Type.String()
	}
	return strings.Join(parts, ", ")
}

func size(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f KiB", float64(st.Size())/1024)
}
