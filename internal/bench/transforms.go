package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/pipeline"
)

// transformsSpec is the column transformer both sides fit and apply:
// standard scaling of distance, median imputation of delay, and one-hot
// encoding of origin and destination. (Scaling delay as well would give two
// outputs named "delay", which Kiln rejects; scikit-learn would prefix
// them.)
const transformsSpec = `{"transforms":[
  {"name":"standard","columns":["distance"]},
  {"name":"impute","columns":["delay"],"strategy":"median"},
  {"name":"onehot","columns":["origin","destination"]}]}`

// runTransforms is the transforms suite: fitting and applying a column
// transformer over flights-3m already in memory, Kiln (package features)
// against scikit-learn's ColumnTransformer (peers/transforms.py, one
// long-lived python3 process). Loading the data is not timed on either
// side. Kiln fits with its parallel fitters and applies batch by batch on
// GOMAXPROCS goroutines, producing dense float64 columns; scikit-learn runs
// fit_transform with its defaults (one-hot output sparse). Speeds are in MB
// of CSV per second.
func runTransforms(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("transforms", flag.ContinueOnError)
	path := fs.String("csv", defaultFlightsCSV, "flights CSV `file` (write it with the prepare suite)")
	runs := fs.Int("runs", 5, "timed `runs` of each side; the median counts")
	workers := fs.Int("workers", 0, "Kiln's fit and apply `goroutines`; 0 means GOMAXPROCS")
	python := fs.String("python", "/usr/bin/python3", "`python3` with scikit-learn (Debian python3-sklearn)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *workers <= 0 {
		*workers = runtime.GOMAXPROCS(0)
	}
	size, err := fileSize(*path)
	if err != nil {
		return fmt.Errorf("%w (run: go run ./internal/bench prepare)", err)
	}
	spec, err := features.ParseSpec([]byte(transformsSpec))
	if err != nil {
		return err
	}

	// Kiln's copy of the data: every batch of the CSV, in memory.
	loadStart := time.Now()
	src := pipeline.CSV(*path, pipeline.CSVOptions{})
	schema, err := src.Schema(ctx)
	if err != nil {
		return err
	}
	var batches []arrow.RecordBatch
	var rows int64
	for b, err := range src.Batches(ctx) {
		if err != nil {
			return err
		}
		batches = append(batches, b)
		rows += b.NumRows()
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	mem := pipeline.FromBatches(schema, batches...)
	defer mem.Release()
	fmt.Printf("input %s: %d rows, %d bytes (%.1f MB), %d batches, loaded by Kiln in %.2f s; GOMAXPROCS %d, Kiln workers %d\n",
		*path, rows, size, float64(size)/1e6, len(batches), time.Since(loadStart).Seconds(), runtime.GOMAXPROCS(0), *workers)

	peer, err := startSklearn(ctx, *python, *path)
	if err != nil {
		return err
	}
	defer peer.close()
	fmt.Printf("scikit-learn %s loaded %d rows\n", peer.version, peer.rows)
	if peer.rows != rows {
		return fmt.Errorf("scikit-learn loaded %d rows, Kiln %d", peer.rows, rows)
	}

	var kilnCheck, peerCheck float64
	var kilnCols, peerCols int
	var kilnFit []time.Duration
	t, err := alternate(ctx, *runs, size, "scikit-learn",
		func(ctx context.Context, _ int) (time.Duration, error) {
			start := time.Now()
			check, cols, fit, err := kilnFitApply(ctx, spec, mem, batches, *workers)
			d := time.Since(start)
			kilnCheck, kilnCols = check, cols
			kilnFit = append(kilnFit, fit)
			return d, err
		},
		func(ctx context.Context, _ int) (time.Duration, error) {
			r, err := peer.run()
			if err != nil {
				return 0, err
			}
			if r.Rows != rows {
				return 0, fmt.Errorf("scikit-learn gave %d rows, want %d", r.Rows, rows)
			}
			peerCheck, peerCols = r.Check, r.Columns
			return time.Duration(r.Seconds * float64(time.Second)), nil
		})
	if err != nil {
		return err
	}
	// Both sides computed the same thing: as many outputs, and the same sum
	// of the scaled and imputed columns (to rounding of a 6-million-term
	// sum).
	if kilnCols != peerCols {
		return fmt.Errorf("kiln made %d output columns, scikit-learn %d", kilnCols, peerCols)
	}
	if d := math.Abs(kilnCheck - peerCheck); d > 1e-6*math.Max(1, math.Abs(peerCheck)) {
		return fmt.Errorf("check sums differ: kiln %v, scikit-learn %v", kilnCheck, peerCheck)
	}
	fm, _ := median(kilnFit)
	fmt.Printf("kiln fit alone: median %.3f s\n", fm.Seconds())
	fmt.Printf("outputs: %d columns on both sides; check sum of the numeric outputs kiln %.6g, scikit-learn %.6g\n",
		kilnCols, kilnCheck, peerCheck)
	k, p, err := t.speeds(size)
	if err != nil {
		return err
	}
	km, _ := median(t.kiln)
	pm, _ := median(t.peer)
	return finish(result{Suite: "transforms", Kiln: k, Peer: p, PeerName: "scikit-learn", Unit: "MB/s",
		Extra: []extra{
			{"kiln_mrows_per_s", float64(rows) / 1e6 / km.Seconds()},
			{"peer_mrows_per_s", float64(rows) / 1e6 / pm.Seconds()},
			{"kiln_fit_seconds", fm.Seconds()},
			{"outputs", float64(kilnCols)},
		}}, t)
}

// kilnFitApply fits a new column transformer on src and applies it to every
// batch, workers at a time, releasing each output once summed. It returns
// the sum of the first two outputs (scaled distance, imputed delay) and the
// number of outputs, and how long the fit took.
func kilnFitApply(ctx context.Context, spec features.Spec, src pipeline.Source, batches []arrow.RecordBatch, workers int) (float64, int, time.Duration, error) {
	start := time.Now()
	ct, err := features.New(spec)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := ct.Fit(ctx, src, features.FitOptions{Workers: workers}); err != nil {
		return 0, 0, 0, err
	}
	fit := time.Since(start)
	ncols := len(ct.Outputs())
	if ncols < 2 {
		return 0, 0, 0, fmt.Errorf("%d outputs", ncols)
	}
	sums := make([]float64, len(batches))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, b := range batches {
		g.Go(func() error {
			// Sparse output, as scikit-learn's default for one-hot.
			m, err := ct.Sparse(b, nil)
			if err != nil {
				return err
			}
			var s float64
			for p, c := range m.Indices {
				if c < 2 {
					s += m.Values[p]
				}
			}
			sums[i] = s
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, 0, err
	}
	var total float64
	for _, s := range sums {
		total += s
	}
	return total, ncols, fit, nil
}

// sklearnPeer is a running peers/transforms.py.
type sklearnPeer struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *bufio.Scanner
	stderr  *strings.Builder
	rows    int64
	version string
}

// sklearnRun is what the peer reports for one run.
type sklearnRun struct {
	Seconds float64 `json:"seconds"`
	Rows    int64   `json:"rows"`
	Columns int     `json:"columns"`
	Check   float64 `json:"check"`
	Error   string  `json:"error"`
}

// startSklearn starts the peer and waits until it has loaded the data.
func startSklearn(ctx context.Context, python, csvPath string) (*sklearnPeer, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "internal", "bench", "peers", "transforms.py")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("scikit-learn peer: %w", err)
	}
	cmd := exec.CommandContext(ctx, python, script, csvPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("scikit-learn peer: %w (install Debian python3-sklearn python3-pandas)", err)
	}
	p := &sklearnPeer{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout), stderr: &stderr}
	p.out.Buffer(make([]byte, 64<<10), 1<<20)
	var ready struct {
		Ready   int64  `json:"ready"`
		Sklearn string `json:"sklearn"`
	}
	if err := p.read(&ready); err != nil {
		p.close()
		return nil, err
	}
	p.rows, p.version = ready.Ready, ready.Sklearn
	return p, nil
}

// read decodes the peer's next line into v.
func (p *sklearnPeer) read(v any) error {
	if !p.out.Scan() {
		err := p.out.Err()
		if err == nil {
			err = errors.New("it exited")
		}
		return fmt.Errorf("scikit-learn peer: %v: %s", err, strings.TrimSpace(p.stderr.String()))
	}
	if err := json.Unmarshal(p.out.Bytes(), v); err != nil {
		return fmt.Errorf("scikit-learn peer: reading %q: %w", p.out.Text(), err)
	}
	return nil
}

// run asks the peer for one timed fit_transform.
func (p *sklearnPeer) run() (sklearnRun, error) {
	var r sklearnRun
	if _, err := io.WriteString(p.stdin, "run\n"); err != nil {
		return r, fmt.Errorf("scikit-learn peer: %w: %s", err, strings.TrimSpace(p.stderr.String()))
	}
	if err := p.read(&r); err != nil {
		return r, err
	}
	if r.Error != "" {
		return r, fmt.Errorf("scikit-learn peer: %s", r.Error)
	}
	return r, nil
}

// close stops the peer.
func (p *sklearnPeer) close() {
	io.WriteString(p.stdin, "quit\n")
	p.stdin.Close()
	p.cmd.Wait()
}
