// Command drift compares a current data file with a reference data file
// column by column and says which columns drifted (package monitor). Other
// programs can drive it:
//
//	go run ./examples/drift -ref REF.(csv|parquet) -cur CUR.(csv|parquet) \
//	    [-columns a,b] [-exact] [-json] [-html REPORT.html]
//
// By default both files are profiled in one pass each
// (monitor.ProfileSource: counts, quantile sketches, top-k categories) and
// the profiles are compared (monitor.Compare): memory stays small whatever
// the size of the files, and statistics computed from sketches carry an
// error interval that the verdict accounts for. With -exact both files are
// read whole and every statistic is computed from the full data
// (monitor.CompareExact).
//
// -columns names the columns to compare (default: every numeric and
// categorical column of the reference). Each column's method and threshold
// are monitor's defaults: for references of at most 1000 values the tests
// (Kolmogorov–Smirnov for numbers, chi-square or Z for categories, drift
// when p < 0.05), above that the distances (Wasserstein normalized by the
// reference's standard deviation and Jensen–Shannon, drift when > 0.1).
// The dataset drifts when at least half of the columns drift.
//
// Without -json, a table goes to standard output. With -json, one JSON
// object per column per line
//
//	{"column":..,"type":"numeric|categorical","method":..,"statistic":..,"p_value":..,"threshold":..,"drift":..,"stats":{...}}
//
// then the summary line
//
//	{"columns":N,"drifted":K,"share":..,"dataset_drift":..}
//
// p_value is null for distances, and any statistic that is NaN or infinite
// is written as null. With -exact, stats holds for numeric columns ks_d and
// ks_p (scipy.stats.ks_2samp, default options), wasserstein
// (scipy.stats.wasserstein_distance), wasserstein_norm (that over the
// reference's population standard deviation), psi and js over ten bins
// whose inner edges are the reference's deciles; for categorical columns
// psi and js over the union of categories, chi2 and chi2_p
// (scipy.stats.chi2_contingency of the 2×K table of counts). See
// monitor.CompareExact for the exact definitions.
//
// -html writes a self-contained HTML report with a chart per column
// (Report.WriteHTML).
//
// Input formats come from the extensions: .csv, .tsv, .parquet, .arrow,
// .ndjson (CSV and NDJSON may be .gz or .zst).
//
// The exit status is 0 whatever the verdict, 2 for bad flags and 1 for
// other errors (standard error says what).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "drift:", err)
		os.Exit(1)
	}
}

// errUsage marks errors in the command line; run has already printed them
// with the usage.
var errUsage = errors.New("usage")

const usageLine = "usage: drift -ref REF.(csv|parquet) -cur CUR.(csv|parquet) [-columns a,b] [-exact] [-json] [-html REPORT.html]"

// config is the parsed command line.
type config struct {
	ref, cur, html string
	columns        []string
	exact, json    bool
}

// run is the command: it parses args, compares the files and writes the
// result to stdout. Usage errors are printed to stderr with the usage and
// returned wrapping errUsage; other errors are returned for the caller to
// print.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("drift", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.ref, "ref", "", "reference data `file` (.csv, .tsv, .parquet, .arrow, .ndjson)")
	fs.StringVar(&c.cur, "cur", "", "current data `file`")
	columns := fs.String("columns", "", "comma-separated `columns` to compare (default: every numeric and categorical column)")
	fs.BoolVar(&c.exact, "exact", false, "compare the full data instead of profiles (memory grows with the data)")
	fs.BoolVar(&c.json, "json", false, "write one JSON object per column per line, then a summary line")
	fs.StringVar(&c.html, "html", "", "write an HTML report to `file`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *columns != "" {
		for _, name := range strings.Split(*columns, ",") {
			if name = strings.TrimSpace(name); name != "" {
				c.columns = append(c.columns, name)
			}
		}
	}
	var problem string
	switch {
	case c.ref == "" || c.cur == "":
		problem = "need -ref and -cur"
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case *columns != "" && len(c.columns) == 0:
		problem = "-columns names no column"
	}
	if problem != "" {
		fmt.Fprintln(stderr, "drift:", problem)
		fs.Usage()
		return fmt.Errorf("%w: %s", errUsage, problem)
	}
	refSrc, err := openSource(c.ref)
	if err == nil {
		var curSrc pipeline.Source
		if curSrc, err = openSource(c.cur); err == nil {
			return compare(ctx, c, refSrc, curSrc, stdout)
		}
	}
	if errors.Is(err, errUsage) {
		msg := strings.TrimPrefix(err.Error(), "usage: ")
		fmt.Fprintln(stderr, "drift:", msg)
		fs.Usage()
	}
	return err
}

// compare runs the comparison and writes its output.
func compare(ctx context.Context, c config, refSrc, curSrc pipeline.Source, stdout io.Writer) error {
	var r *monitor.Report
	if c.exact {
		var err error
		r, err = monitor.CompareExact(ctx, refSrc, curSrc, monitor.ExactOptions{Columns: c.columns})
		if err != nil {
			return err
		}
	} else {
		opts := monitor.ProfileOptions{Columns: c.columns}
		refProf, err := monitor.ProfileSource(ctx, refSrc, opts)
		if err != nil {
			return fmt.Errorf("profile %s: %w", c.ref, err)
		}
		curProf, err := monitor.ProfileSource(ctx, curSrc, opts)
		if err != nil {
			return fmt.Errorf("profile %s: %w", c.cur, err)
		}
		if r, err = monitor.Compare(refProf, curProf, monitor.DriftOptions{}); err != nil {
			return err
		}
	}
	r.Name = filepath.Base(c.ref) + " vs " + filepath.Base(c.cur)
	if c.html != "" {
		if err := writeHTML(c.html, r); err != nil {
			return err
		}
	}
	if c.json {
		return writeJSONLines(stdout, r)
	}
	return writeTable(stdout, r, c.exact)
}

// columnLine is one column's JSON line.
type columnLine struct {
	Column    string              `json:"column"`
	Type      string              `json:"type"`
	Method    string              `json:"method"`
	Statistic *float64            `json:"statistic"`
	PValue    *float64            `json:"p_value"`
	Threshold *float64            `json:"threshold"`
	Drift     bool                `json:"drift"`
	Stats     map[string]*float64 `json:"stats"`
}

// summaryLine is the last JSON line.
type summaryLine struct {
	Columns      int      `json:"columns"`
	Drifted      int      `json:"drifted"`
	Share        *float64 `json:"share"`
	DatasetDrift bool     `json:"dataset_drift"`
}

// finite returns &x, or nil (JSON null) when x is NaN or infinite.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func writeJSONLines(w io.Writer, r *monitor.Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, d := range r.Columns {
		l := columnLine{
			Column: d.Column, Type: d.Kind.String(), Method: string(d.Method),
			Statistic: finite(d.Statistic), Threshold: finite(d.Threshold), Drift: d.Drift,
			Stats: make(map[string]*float64, len(d.Stats)),
		}
		if d.PValue != nil {
			l.PValue = finite(*d.PValue)
		}
		for k, v := range d.Stats {
			l.Stats[k] = finite(v)
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
	}
	return enc.Encode(summaryLine{Columns: len(r.Columns), Drifted: r.Drifted, Share: finite(r.Share), DatasetDrift: r.DatasetDrift})
}

func writeTable(w io.Writer, r *monitor.Report, exact bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "column\ttype\tmethod\tstatistic\tp-value\tthreshold\tverdict\t")
	for _, d := range r.Columns {
		p := "-"
		if d.PValue != nil {
			p = num(*d.PValue)
		}
		verdict := "ok"
		if d.Drift {
			verdict = "DRIFT"
		}
		if d.Uncertain {
			verdict += " (uncertain)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.Column, d.Kind, d.Method, num(d.Statistic), p, num(d.Threshold), verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	mode := "profiles"
	if exact {
		mode = "exact"
	}
	verdict := "no dataset drift"
	if r.DatasetDrift {
		verdict = "DATASET DRIFT"
	}
	_, err := fmt.Fprintf(w, "%s: %d of %d columns drifted (share %.3g, drift at >= %.3g; %d current rows, %s)\n",
		verdict, r.Drifted, len(r.Columns), r.Share, r.ShareThreshold, r.Rows, mode)
	return err
}

// num formats a statistic for the table.
func num(x float64) string {
	a := math.Abs(x)
	if x != 0 && (a < 1e-3 || a >= 1e6) {
		return strconv.FormatFloat(x, 'e', 3, 64)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// writeHTML writes the report's HTML to a temporary file beside path and
// renames it into place.
func writeHTML(path string, r *monitor.Report) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = r.WriteHTML(f)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// openSource opens a data file by its extension.
func openSource(path string) (pipeline.Source, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	ext := strings.ToLower(filepath.Ext(path))
	if ext == ".gz" || ext == ".zst" {
		ext = strings.ToLower(filepath.Ext(strings.TrimSuffix(path, filepath.Ext(path))))
	}
	switch ext {
	case ".csv", ".txt":
		return pipeline.CSV(path, pipeline.CSVOptions{}), nil
	case ".tsv":
		return pipeline.CSV(path, pipeline.CSVOptions{Delimiter: '\t'}), nil
	case ".parquet", ".pq":
		return pipeline.Parquet(path, pipeline.ParquetOptions{}), nil
	case ".ndjson", ".jsonl", ".json":
		return pipeline.NDJSON(path, pipeline.NDJSONOptions{}), nil
	case ".arrow", ".ipc", ".feather":
		return pipeline.Arrow(path, pipeline.ArrowOptions{}), nil
	}
	return nil, fmt.Errorf("%w: cannot tell the format of %s from its extension (want .csv, .tsv, .parquet, .arrow or .ndjson)", errUsage, path)
}
