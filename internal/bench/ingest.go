package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/csv"

	"github.com/kilnml/kiln/pipeline"
)

// kilnCSV reads path through pipeline.CSV to the end, releasing each batch,
// and returns the number of rows and the time it took. The source is new for
// each call, so the time includes schema inference when opts has no schema.
func kilnCSV(ctx context.Context, path string, opts pipeline.CSVOptions) (int64, time.Duration, error) {
	start := time.Now()
	var rows int64
	for rec, err := range pipeline.CSV(path, opts).Batches(ctx) {
		if err != nil {
			return rows, 0, err
		}
		rows += rec.NumRows()
		rec.Release()
	}
	return rows, time.Since(start), nil
}

// csvSuiteFlags parses the flags the CSV suites share (-csv, -threads,
// -runs) and returns them with the CSV file's size.
func csvSuiteFlags(suite, threadsDoc string, args []string) (path *string, threads, runs *int, size int64, err error) {
	fs := flag.NewFlagSet(suite, flag.ContinueOnError)
	path = fs.String("csv", defaultFlightsCSV, "CSV `file` to read (see the prepare suite)")
	threads = fs.Int("threads", runtime.NumCPU(), threadsDoc)
	runs = fs.Int("runs", 5, "timed `runs` of each side; the median counts")
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, 0, err
	}
	if *threads < 1 {
		return nil, nil, nil, 0, fmt.Errorf("-threads must be at least 1, not %d", *threads)
	}
	size, err = fileSize(*path)
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("%w (to make it: go run ./internal/bench prepare)", err)
	}
	return path, threads, runs, size, nil
}

// runIngest is the ingest suite: CSV → Arrow batches with Kiln against
// DuckDB's read_csv into an in-memory table, with the same thread count.
func runIngest(ctx context.Context, args []string) error {
	path, threads, runs, size, err := csvSuiteFlags("ingest", "`threads` for both Kiln (Parallelism) and DuckDB (SET threads)", args)
	if err != nil {
		return err
	}
	duck, err := findDuckDB()
	if err != nil {
		return err
	}
	if err := warmCache(*path); err != nil {
		return err
	}
	opts := pipeline.CSVOptions{Parallelism: *threads}
	if err := describeKilnCSV(ctx, *path, opts); err != nil {
		return err
	}
	fmt.Printf("input %s: %d bytes (%.1f MB), %d threads, GOMAXPROCS %d\n",
		*path, size, float64(size)/1e6, *threads, runtime.GOMAXPROCS(0))

	job := duckJob{
		Setup: []string{"SET threads=" + strconv.Itoa(*threads)},
		Timed: "CREATE TABLE t AS SELECT * FROM read_csv(" + sqlString(*path) + ")",
		After: []string{
			"SELECT count(*) FROM t",
			"SELECT string_agg(column_name || ' ' || column_type, ', ') FROM (DESCRIBE t)",
		},
	}
	var kilnRows, peerRows int64 = -1, -1
	described := false
	t, err := alternate(ctx, *runs, size, "duckdb",
		func(ctx context.Context, _ int) (time.Duration, error) {
			rows, d, err := kilnCSV(ctx, *path, opts)
			if err != nil {
				return 0, err
			}
			if err := sameRows("kiln", &kilnRows, rows); err != nil {
				return 0, err
			}
			return d, nil
		},
		func(ctx context.Context, _ int) (time.Duration, error) {
			res, err := duck.run(ctx, job)
			if err != nil {
				return 0, err
			}
			if len(res.After) != 2 {
				return 0, fmt.Errorf("duckdb: expected 2 check results, got %d", len(res.After))
			}
			n, err := scalar(res.After[0])
			if err != nil {
				return 0, fmt.Errorf("duckdb row count: %w", err)
			}
			rows, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("duckdb row count: %w", err)
			}
			if err := sameRows("duckdb", &peerRows, rows); err != nil {
				return 0, err
			}
			if !described {
				cols, _ := scalar(res.After[1])
				fmt.Printf("duckdb %s: %s\n", res.Version, cols)
				described = true
			}
			return res.query(), nil
		})
	if err != nil {
		return err
	}
	if kilnRows != peerRows {
		return fmt.Errorf("kiln read %d rows, duckdb %d", kilnRows, peerRows)
	}
	fmt.Printf("rows: %d on both sides; duckdb timed inside node around the query only\n", kilnRows)
	k, p, err := t.speeds(size)
	if err != nil {
		return err
	}
	return finish(result{Suite: "ingest", Kiln: k, Peer: p, PeerName: "duckdb", Unit: "MB/s"}, t)
}

// runIngestArrowCSV is the ingest-arrowcsv suite: Kiln against arrow-go's
// csv.NewReader with default options (one row per batch). Both get the same
// explicit schema, the one Kiln infers from the file.
func runIngestArrowCSV(ctx context.Context, args []string) error {
	path, threads, runs, size, err := csvSuiteFlags("ingest-arrowcsv", "`threads` for Kiln (arrow-go's reader has one)", args)
	if err != nil {
		return err
	}
	if err := warmCache(*path); err != nil {
		return err
	}
	schema, err := pipeline.CSV(*path, pipeline.CSVOptions{}).Schema(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("input %s: %d bytes (%.1f MB); schema given to both: %s\n",
		*path, size, float64(size)/1e6, schemaLine(schema))
	opts := pipeline.CSVOptions{Schema: schema, Parallelism: *threads}
	var kilnRows, peerRows int64 = -1, -1
	t, err := alternate(ctx, *runs, size, "arrow-go-csv",
		func(ctx context.Context, _ int) (time.Duration, error) {
			rows, d, err := kilnCSV(ctx, *path, opts)
			if err != nil {
				return 0, err
			}
			return d, sameRows("kiln", &kilnRows, rows)
		},
		func(ctx context.Context, _ int) (time.Duration, error) {
			rows, d, err := arrowCSV(*path, schema)
			if err != nil {
				return 0, err
			}
			return d, sameRows("arrow-go", &peerRows, rows)
		})
	if err != nil {
		return err
	}
	if kilnRows != peerRows {
		return fmt.Errorf("kiln read %d rows, arrow-go %d", kilnRows, peerRows)
	}
	fmt.Printf("rows: %d on both sides; arrow-go csv.NewReader(f, schema, csv.WithHeader(true)), otherwise default options\n", kilnRows)
	k, p, err := t.speeds(size)
	if err != nil {
		return err
	}
	return finish(result{Suite: "ingest-arrowcsv", Kiln: k, Peer: p, PeerName: "arrow-go-csv", Unit: "MB/s"}, t)
}

// arrowCSV reads path with arrow-go's CSV reader and its default options.
func arrowCSV(path string, schema *arrow.Schema) (int64, time.Duration, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := csv.NewReader(f, schema, csv.WithHeader(true))
	defer r.Release()
	var rows int64
	for r.Next() {
		rows += r.RecordBatch().NumRows()
	}
	if err := r.Err(); err != nil {
		return rows, 0, fmt.Errorf("arrow-go csv: row %d: %w", rows+1, err)
	}
	return rows, time.Since(start), nil
}

// describeKilnCSV prints the schema Kiln infers for path.
func describeKilnCSV(ctx context.Context, path string, opts pipeline.CSVOptions) error {
	schema, err := pipeline.CSV(path, opts).Schema(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("kiln: %s\n", schemaLine(schema))
	return nil
}
