// Command ingest reads files into Arrow and writes them out in another
// format, using Kiln's pipeline package. Other programs can drive it: its
// last line on standard output is one JSON object describing the run.
//
//	go run ./examples/ingest -in PATH_OR_GLOB [-format csv|parquet|ndjson|arrow] \
//	    -out FILE.(parquet|arrow|csv|ndjson) [-schema SCHEMA.json] [-progress]
//
// The input format comes from the file extension when -format is absent;
// .gz and .zst inputs are decompressed as they are read. A glob or a
// directory reads every matching file, and hive-style key=value folders
// become columns. SCHEMA.json fixes the columns of CSV and NDJSON input:
//
//	{"fields":[{"name":"x","type":"int64","nullable":true}]}
//
// On success the last line is
//
//	{"rows":N,"columns":C,"input_bytes":B,"seconds":S,"rows_per_second":R}
//
// On failure the error goes to standard error, the exit status is 1 (2 for
// bad flags) and no output file is left behind.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/kilnml/kiln/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// summary is the JSON object printed as the last line.
type summary struct {
	Rows          int64   `json:"rows"`
	Columns       int     `json:"columns"`
	InputBytes    int64   `json:"input_bytes"`
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"rows_per_second"`
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "input file, glob or directory (required)")
	format := fs.String("format", "", "input format: csv, parquet, ndjson or arrow (default: from the extension)")
	out := fs.String("out", "", "output file: .parquet, .arrow, .csv or .ndjson (required)")
	schemaPath := fs.String("schema", "", "JSON schema for csv and ndjson input")
	progress := fs.Bool("progress", false, "draw a progress bar on standard error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ingest -in PATH_OR_GLOB [-format csv|parquet|ndjson|arrow] -out FILE [-schema SCHEMA.json] [-progress]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	s, err := ingest(ctx, *in, *format, *out, *schemaPath, *progress, stderr)
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "ingest:", strings.TrimPrefix(err.Error(), "usage: "))
			return 2
		}
		fmt.Fprintln(stderr, "ingest:", err)
		return 1
	}
	line, _ := json.Marshal(s)
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

func ingest(ctx context.Context, in, format, out, schemaPath string, progress bool, stderr io.Writer) (summary, error) {
	var schema *arrow.Schema
	if schemaPath != "" {
		data, err := os.ReadFile(schemaPath)
		if err != nil {
			return summary{}, err
		}
		if schema, err = pipeline.ParseSchemaJSON(data); err != nil {
			return summary{}, fmt.Errorf("%s: %w", schemaPath, err)
		}
	}
	src, files, err := openSource(in, format, schema)
	if err != nil {
		return summary{}, err
	}
	sink, err := pipeline.SinkFor(out)
	if err != nil {
		return summary{}, fmt.Errorf("%w: -out: %v", errUsage, err)
	}
	var inputBytes int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			inputBytes += st.Size()
		}
	}
	opts := pipeline.RunOptions{}
	var bar *progressBar
	if progress {
		bar = &progressBar{w: stderr, total: inputBytes}
		opts.Progress = bar.update
	}
	start := time.Now()
	stats, err := pipeline.New(src).Run(ctx, sink, opts)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return summary{}, err
	}
	secs := time.Since(start).Seconds()
	sc, err := src.Schema(ctx)
	if err != nil {
		return summary{}, err
	}
	return summary{
		Rows:          stats.RowsWritten,
		Columns:       sc.NumFields(),
		InputBytes:    inputBytes,
		Seconds:       secs,
		RowsPerSecond: float64(stats.RowsWritten) / secs,
	}, nil
}

// openSource picks the source for a file, glob or directory, and lists the
// files it will read.
func openSource(in, format string, schema *arrow.Schema) (pipeline.Source, []string, error) {
	if format != "" && !map[string]bool{"csv": true, "parquet": true, "ndjson": true, "arrow": true}[format] {
		return nil, nil, fmt.Errorf("%w: -format %q: want csv, parquet, ndjson or arrow", errUsage, format)
	}
	var files []string
	st, statErr := os.Stat(in)
	switch {
	case statErr == nil && st.IsDir():
		err := filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	case statErr == nil:
		files = []string{in}
	case strings.ContainsAny(in, "*?["):
		var err error
		if files, err = filepath.Glob(in); err != nil {
			return nil, nil, fmt.Errorf("%w: -in %q: %v", errUsage, in, err)
		}
		if len(files) == 0 {
			return nil, nil, fmt.Errorf("-in %q matches no files", in)
		}
	default:
		return nil, nil, statErr
	}
	if format == "" {
		format = formatOf(files[0])
		if format == "" {
			return nil, nil, fmt.Errorf("%w: cannot tell the format of %s from its extension; pass -format", errUsage, files[0])
		}
	}
	if schema != nil && format != "csv" && format != "ndjson" {
		return nil, nil, fmt.Errorf("%w: -schema applies to csv and ndjson input, not %s (its files carry their own schema)", errUsage, format)
	}
	gopts := pipeline.GlobOptions{
		Open: func(path string) (pipeline.Source, error) {
			return fileSource(path, format, schema), nil
		},
	}
	if statErr == nil && st.IsDir() {
		return pipeline.Dir(in, gopts), files, nil
	}
	if len(files) > 1 || statErr != nil {
		return pipeline.Glob(in, gopts), files, nil
	}
	return fileSource(in, format, schema), files, nil
}

func fileSource(path, format string, schema *arrow.Schema) pipeline.Source {
	switch format {
	case "csv":
		opts := pipeline.CSVOptions{Schema: schema}
		if formatExt(path) == ".tsv" {
			opts.Delimiter = '\t'
		}
		return pipeline.CSV(path, opts)
	case "parquet":
		return pipeline.Parquet(path, pipeline.ParquetOptions{})
	case "ndjson":
		return pipeline.NDJSON(path, pipeline.NDJSONOptions{Schema: schema})
	default:
		return pipeline.Arrow(path, pipeline.ArrowOptions{})
	}
}

// formatExt is the extension of path once a compression extension is
// removed.
func formatExt(path string) string {
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".gz" || ext == ".zst" {
		ext = strings.ToLower(filepath.Ext(strings.TrimSuffix(path, filepath.Ext(path))))
	}
	return ext
}

func formatOf(path string) string {
	switch formatExt(path) {
	case ".csv", ".tsv", ".txt":
		return "csv"
	case ".parquet", ".pq":
		return "parquet"
	case ".ndjson", ".jsonl", ".json":
		return "ndjson"
	case ".arrow", ".ipc", ".feather":
		return "arrow"
	}
	return ""
}

// progressBar draws one line on a terminal, rewritten in place.
type progressBar struct {
	w     io.Writer
	total int64
	last  time.Time
	drawn bool
}

func (b *progressBar) update(p pipeline.Progress) {
	if !p.Done && time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	total := p.TotalBytes
	if total <= 0 {
		total = b.total
	}
	const width = 30
	bar := strings.Repeat(" ", width)
	pct := ""
	if total > 0 && p.BytesRead > 0 {
		frac := min(float64(p.BytesRead)/float64(total), 1)
		if p.Done {
			frac = 1
		}
		n := int(frac * width)
		bar = strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		pct = fmt.Sprintf("%3.0f%% ", frac*100)
	}
	secs := p.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.RowsWritten) / secs
	}
	fmt.Fprintf(b.w, "\r[%s] %s%d rows  %.0f rows/s  %.1fs ", bar, pct, p.RowsWritten, rate, secs)
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}
