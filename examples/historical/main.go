// Command historical builds a point-in-time correct training set: for each
// entity row, the features of every view as they were at the row's time,
// using Kiln's features.PointInTimeJoin. Other programs can drive it: its
// last line on standard output is one JSON object describing the run.
//
//	go run ./examples/historical -spec SPEC.json
//
// SPEC.json names the entity rows, the feature views and the output:
//
//	{"entities":{"path":"E.parquet","keys":["origin"],"timestamp":"event_timestamp"},
//	 "views":[{"name":"airport","path":"F.parquet","keys":["origin"],"timestamp":"event_timestamp",
//	           "created":"","ttl":"24h","features":["avg_delay_1h"]}],
//	 "out":"OUT.parquet"}
//
// Paths are files, globs or folders of Parquet files (relative paths are
// relative to the working directory). A view's ttl is a Go duration ("24h",
// "90m"); empty or absent means no limit, and a feature row exactly ttl old
// still counts. features absent means every column but the keys and the
// times. created, when set, names the created-time column that breaks ties
// of equal event times. The output (.parquet, .arrow, .csv or .ndjson) holds
// the entity columns in input order, then "<view>__<feature>" columns. On
// success the last line is
//
//	{"rows":N,"seconds":S}
//
// On failure the error goes to standard error, the exit status is 1 (2 for
// bad flags or a bad spec) and no output file is left behind.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
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

// spec is the JSON document given by -spec.
type spec struct {
	Entities struct {
		Path      string   `json:"path"`
		Keys      []string `json:"keys"`
		Timestamp string   `json:"timestamp"`
	} `json:"entities"`
	Views []viewSpec `json:"views"`
	Out   string     `json:"out"`
}

type viewSpec struct {
	Name      string   `json:"name"`
	Path      string   `json:"path"`
	Keys      []string `json:"keys"`
	Timestamp string   `json:"timestamp"`
	Created   string   `json:"created"`
	TTL       string   `json:"ttl"`
	Features  []string `json:"features"`
}

// summary is the JSON object printed as the last line.
type summary struct {
	Rows    int64   `json:"rows"`
	Seconds float64 `json:"seconds"`
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("historical", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specPath := fs.String("spec", "", "JSON `file` naming the entity rows, the views and the output (required)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the join to `file`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: historical -spec SPEC.json [-cpuprofile FILE]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *specPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "historical:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "historical:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	s, err := historical(ctx, *specPath)
	if err != nil {
		fmt.Fprintln(stderr, "historical:", strings.TrimPrefix(err.Error(), "usage: "))
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	line, _ := json.Marshal(s)
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

func readSpec(path string) (*spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	var sp spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, path, err)
	}
	switch {
	case sp.Entities.Path == "":
		return nil, fmt.Errorf("%w: %s: entities.path is missing", errUsage, path)
	case sp.Entities.Timestamp == "":
		return nil, fmt.Errorf("%w: %s: entities.timestamp is missing", errUsage, path)
	case len(sp.Views) == 0:
		return nil, fmt.Errorf("%w: %s: no views", errUsage, path)
	case sp.Out == "":
		return nil, fmt.Errorf("%w: %s: out is missing", errUsage, path)
	}
	return &sp, nil
}

// parquetSource reads a Parquet file, glob or folder.
func parquetSource(path string) (pipeline.Source, error) {
	if strings.ContainsAny(path, "*?[") {
		return pipeline.Glob(path, pipeline.GlobOptions{}), nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return pipeline.Glob(filepath.Join(path, "*.parquet"), pipeline.GlobOptions{}), nil
	}
	return pipeline.Parquet(path, pipeline.ParquetOptions{}), nil
}

func historical(ctx context.Context, specPath string) (summary, error) {
	sp, err := readSpec(specPath)
	if err != nil {
		return summary{}, err
	}
	start := time.Now()
	ents, err := parquetSource(sp.Entities.Path)
	if err != nil {
		return summary{}, fmt.Errorf("entities: %w", err)
	}
	var views []features.PITView
	for i, v := range sp.Views {
		var ttl time.Duration
		if v.TTL != "" {
			if ttl, err = time.ParseDuration(v.TTL); err != nil || ttl < 0 {
				return summary{}, fmt.Errorf("%w: view %d (%q): ttl %q: want a duration such as \"24h\"", errUsage, i, v.Name, v.TTL)
			}
		}
		src, err := parquetSource(v.Path)
		if err != nil {
			return summary{}, fmt.Errorf("view %q: %w", v.Name, err)
		}
		views = append(views, features.PITView{Name: v.Name, Source: src, Keys: v.Keys, Timestamp: v.Timestamp,
			Created: v.Created, TTL: ttl, Features: v.Features})
	}
	sink, err := pipeline.SinkFor(sp.Out)
	if err != nil {
		return summary{}, fmt.Errorf("%w: out: %v", errUsage, err)
	}
	out, err := features.PointInTimeJoin(ctx, ents, features.EntityColumns{Keys: sp.Entities.Keys, Timestamp: sp.Entities.Timestamp}, views, features.PITOptions{})
	if err != nil {
		if errors.Is(err, features.ErrPIT) {
			err = fmt.Errorf("%w: %v", errUsage, err)
		}
		return summary{}, err
	}
	stats, err := pipeline.New(out).Run(ctx, sink, pipeline.RunOptions{})
	if err != nil {
		return summary{}, err
	}
	return summary{Rows: stats.RowsWritten, Seconds: time.Since(start).Seconds()}, nil
}
