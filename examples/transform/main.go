// Command transform fits Kiln feature transforms (package features) on one
// file and applies them to another, so that training and serving use the
// same fitted state. Other programs can drive it: its last line on standard
// output is one JSON object describing the run.
//
//	go run ./examples/transform -spec SPEC.json -fit TRAIN.(csv|parquet) \
//	    -apply DATA.(csv|parquet) -out OUT.(csv|parquet) [-state STATE.json] [-keep COLS]
//
// SPEC.json names the transforms, in order, with scikit-learn's parameter
// names:
//
//	{"transforms":[
//	  {"name":"standard","columns":["temp_max","temp_min"]},
//	  {"name":"impute","columns":["wind"],"strategy":"median","add_indicator":true},
//	  {"name":"onehot","columns":["weather"],"handle_unknown":"ignore"}]}
//
// The kinds are standard, minmax, maxabs, robust, log1p, clip, impute,
// onehot, ordinal, hash, cross, kbins, datetime, target and passthrough (see
// package features). The output file holds the columns named by the fitted
// transforms, in spec order (one-hot columns are "<column>_<category>"), as
// float64, after the input columns listed in -keep.
//
// With -fit, the transforms are fitted on TRAIN and, when -state is given,
// the fitted state is saved there (JSON, format "kiln.features"). Without
// -fit, -state is required and the saved state is applied; a -spec given
// then must name the same transforms over the same columns as the state.
// -apply and -out go together; with -fit and -state they may be left out to
// only fit and save.
//
// Input formats come from the extensions: .csv, .tsv, .parquet, .arrow,
// .ndjson (CSV and NDJSON may be .gz or .zst); so do output formats.
//
// On success the last line is
//
//	{"fit_rows":N,"rows":M,"outputs":["..."],"state":"STATE.json","seconds":S}
//
// (fit_rows is 0 when a saved state was applied, rows is 0 when nothing was
// applied). On failure the error goes to standard error, the exit status is
// 1 (2 for bad flags) and no output or state file is left behind.
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
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kilnml/kiln/features"
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
	FitRows int64    `json:"fit_rows"`
	Rows    int64    `json:"rows"`
	Outputs []string `json:"outputs"`
	State   string   `json:"state,omitempty"`
	Seconds float64  `json:"seconds"`
}

// config is the parsed command line.
type config struct {
	spec, fit, apply, out, state string
	keep                         []string
}

var errUsage = errors.New("usage")

const usageLine = "usage: transform -spec SPEC.json -fit TRAIN.(csv|parquet) -apply DATA.(csv|parquet) -out OUT.(csv|parquet) [-state STATE.json] [-keep COLS]\n" +
	"       transform -state STATE.json -apply DATA -out OUT [-keep COLS]   (apply a saved state)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("transform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.spec, "spec", "", "JSON `file` naming the transforms (required with -fit)")
	fs.StringVar(&c.fit, "fit", "", "`file` to fit the transforms on")
	fs.StringVar(&c.apply, "apply", "", "`file` to apply the fitted transforms to")
	fs.StringVar(&c.out, "out", "", "output `file` for the transformed -apply data")
	fs.StringVar(&c.state, "state", "", "fitted state `file`: written after -fit, read without -fit")
	keep := fs.String("keep", "", "comma-separated input `columns` copied to the output before the transform outputs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, usageLine)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *keep != "" {
		c.keep = strings.Split(*keep, ",")
	}
	if err := c.check(); err != nil || fs.NArg() > 0 {
		if err != nil {
			fmt.Fprintln(stderr, "transform:", err)
		}
		fs.Usage()
		return 2
	}
	s, err := transform(ctx, c)
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintln(stderr, "transform:", strings.TrimPrefix(err.Error(), "usage: "))
			return 2
		}
		fmt.Fprintln(stderr, "transform:", err)
		return 1
	}
	line, _ := json.Marshal(s)
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

// check validates the combination of flags.
func (c config) check() error {
	switch {
	case c.fit != "" && c.spec == "":
		return errors.New("-fit needs -spec")
	case c.fit == "" && c.state == "":
		return errors.New("need -fit (with -spec) or -state (a saved state to apply)")
	case (c.apply == "") != (c.out == ""):
		return errors.New("-apply and -out go together")
	case c.apply == "" && c.fit == "":
		return errors.New("nothing to do: give -apply and -out")
	case c.apply == "" && c.state == "":
		return errors.New("nothing to do: give -apply and -out, or -state to save the fit")
	}
	if c.out != "" {
		for _, p := range []string{c.fit, c.apply, c.spec, c.state} {
			if p != "" && samePath(p, c.out) {
				return fmt.Errorf("-out %s would overwrite an input", c.out)
			}
		}
	}
	if c.fit != "" && c.state != "" {
		for _, p := range []string{c.fit, c.apply, c.spec} {
			if p != "" && samePath(p, c.state) {
				return fmt.Errorf("-state %s would overwrite an input", c.state)
			}
		}
	}
	return nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

func transform(ctx context.Context, c config) (summary, error) {
	start := time.Now()
	var s summary
	var ct *features.ColumnTransformer
	var specData []byte
	if c.spec != "" {
		data, err := os.ReadFile(c.spec)
		if err != nil {
			return s, err
		}
		specData = data
	}
	if c.fit != "" {
		spec, err := features.ParseSpec(specData)
		if err != nil {
			return s, fmt.Errorf("%s: %w", c.spec, err)
		}
		if ct, err = features.New(spec); err != nil {
			return s, fmt.Errorf("%s: %w", c.spec, err)
		}
		src, err := openSource(c.fit)
		if err != nil {
			return s, err
		}
		var rows atomic.Int64
		opts := features.FitOptions{Progress: func(n int64) { rows.Store(n) }}
		if err := ct.Fit(ctx, src, opts); err != nil {
			return s, fmt.Errorf("fit %s: %w", c.fit, err)
		}
		s.FitRows = rows.Load()
		if c.state != "" {
			data, err := ct.MarshalJSON()
			if err != nil {
				return s, err
			}
			if err := writeFileAtomic(c.state, append(data, '\n')); err != nil {
				return s, err
			}
			s.State = c.state
		}
	} else {
		data, err := os.ReadFile(c.state)
		if err != nil {
			return s, err
		}
		if ct, err = features.Load(data); err != nil {
			return s, fmt.Errorf("%s: %w", c.state, err)
		}
		if specData != nil {
			if err := sameSteps(specData, data); err != nil {
				return s, fmt.Errorf("-spec %s and -state %s: %w", c.spec, c.state, err)
			}
		}
		s.State = c.state
	}
	s.Outputs = ct.Outputs()
	if c.apply != "" {
		src, err := openSource(c.apply)
		if err != nil {
			return s, err
		}
		sink, err := pipeline.SinkFor(c.out)
		if err != nil {
			return s, fmt.Errorf("%w: -out: %v", errUsage, err)
		}
		stats, err := pipeline.New(src, ct.Stage(features.StageOptions{Keep: c.keep})).Run(ctx, sink, pipeline.RunOptions{})
		if err != nil {
			return s, fmt.Errorf("apply to %s: %w", c.apply, err)
		}
		s.Rows = stats.RowsWritten
	}
	s.Seconds = time.Since(start).Seconds()
	return s, nil
}

// step is the part of a spec entry, or of a saved state's entry, that
// names a transform and its columns.
type step struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
}

// sameSteps checks that a spec and a saved state list the same transforms
// over the same columns, in order.
func sameSteps(spec, state []byte) error {
	var a, b struct {
		Transforms []step `json:"transforms"`
	}
	if err := json.Unmarshal(spec, &a); err != nil {
		return err
	}
	if err := json.Unmarshal(state, &b); err != nil {
		return err
	}
	if !slices.EqualFunc(a.Transforms, b.Transforms, func(x, y step) bool {
		return x.Name == y.Name && slices.Equal(x.Columns, y.Columns)
	}) {
		return fmt.Errorf("they name different transforms: %s vs %s", stepsLine(a.Transforms), stepsLine(b.Transforms))
	}
	return nil
}

func stepsLine(steps []step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.Name+"("+strings.Join(s.Columns, ",")+")")
	}
	return "[" + strings.Join(parts, " ") + "]"
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

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so a failure leaves no partial file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
