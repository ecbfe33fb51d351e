package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/pipeline"
)

// runDrift is the drift suite: a drift report on -cols numeric columns
// with a -rows reference and a -cur current window, three ways.
//
//  1. Kiln's service path: the reference is profiled once
//     (monitor.ProfileSource, timed apart as profile_s); then a
//     monitor.Monitor built on that profile observes the current rows in
//     4096-row batches from -observers goroutines and Flush evaluates the
//     window into a Report. The timed part is Observe + Flush.
//  2. Kiln exact: monitor.CompareExact on in-memory sources
//     (pipeline.FromBatches) with KS on every column (its Stats also hold
//     the exact Wasserstein distance).
//  3. The peer, peers/drift.py: scipy.stats.ks_2samp and
//     scipy.stats.wasserstein_distance per column on the same values, read
//     with numpy.fromfile from little-endian float64 files (reading not
//     timed).
//
// Each time is the median of -runs runs. The JSON line's kiln and peer are
// reports per minute of (1) and (3), so ratio is the peer's time over the
// service path's; exact_ratio is the peer's time over (2)'s. Kiln's exact
// KS statistic and Wasserstein distance must agree with SciPy's within
// 1e-9 relative, or the suite fails.
//
// The data are seeded: column j has shape j%5 (normal, lognormal,
// integer-valued with many ties, uniform, a two-normal mixture) and every
// fourth column (j%4 == 1) is shifted and scaled in the current data.
func runDrift(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("drift", flag.ContinueOnError)
	refRows := fs.Int("rows", 1_000_000, "reference `rows`")
	curRows := fs.Int("cur", 100_000, "current window `rows`")
	cols := fs.Int("cols", 20, "numeric `columns`")
	runs := fs.Int("runs", 3, "timed `runs` of each side; the median counts")
	seed := fs.Uint64("seed", 9, "`seed` of the synthetic data")
	observers := fs.Int("observers", 1, "`goroutines` calling Observe in the service path")
	python := fs.String("python", "/usr/bin/python3", "`python3` with SciPy (Debian python3-scipy)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *runs < 1:
		return fmt.Errorf("-runs must be at least 1, not %d", *runs)
	case *refRows < 1 || *curRows < 1 || *cols < 1:
		return fmt.Errorf("-rows, -cur and -cols must be at least 1")
	case *observers < 1:
		return fmt.Errorf("-observers must be at least 1, not %d", *observers)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kiln-bench-drift-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ref, cur := driftData(*seed, *cols, *refRows, *curRows)
	for j := range ref {
		if err := writeFloat64s(filepath.Join(tmp, fmt.Sprintf("ref_%02d.f64", j)), ref[j]); err != nil {
			return err
		}
		if err := writeFloat64s(filepath.Join(tmp, fmt.Sprintf("cur_%02d.f64", j)), cur[j]); err != nil {
			return err
		}
	}
	schema := driftSchema(*cols)
	refBatches := driftBatches(schema, ref, 65536)
	curBatches := driftBatches(schema, cur, 4096)
	defer func() {
		for _, b := range append(refBatches, curBatches...) {
			b.Release()
		}
	}()
	fmt.Printf("drift: %d numeric columns, reference %d rows, current %d rows, %d runs\n", *cols, *refRows, *curRows, *runs)

	// (1) Kiln service path.
	var profileTimes, serviceTimes []time.Duration
	var prof *monitor.Profile
	for range *runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		src := pipeline.FromBatches(schema, refBatches...)
		t0 := time.Now()
		p, err := monitor.ProfileSource(ctx, src, monitor.ProfileOptions{})
		profileTimes = append(profileTimes, time.Since(t0))
		src.Release()
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		prof = p
	}
	var report *monitor.Report
	var stateBytes int
	for i := range *runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := monitor.New(monitor.Options{
			Name:      "bench",
			Reference: prof,
			// Longer than the window observed: Flush evaluates it.
			Window: monitor.Tumbling(2 * int64(*curRows)),
		})
		if err != nil {
			return fmt.Errorf("monitor: %w", err)
		}
		d, r, err := observeWindow(m, curBatches, *observers)
		stateBytes = m.StateBytes()
		m.Close()
		if err != nil {
			return fmt.Errorf("run %d: service path: %w", i+1, err)
		}
		if r == nil || r.Rows != int64(*curRows) || len(r.Columns) != *cols {
			return fmt.Errorf("run %d: service path: report of %v rows and %v columns, want %d and %d", i+1, reportRows(r), reportCols(r), *curRows, *cols)
		}
		serviceTimes = append(serviceTimes, d)
		report = r
	}

	// (2) Kiln exact.
	methods := make(map[string]monitor.Method, *cols)
	for _, f := range schema.Fields() {
		methods[f.Name] = monitor.MethodKS
	}
	var exactTimes []time.Duration
	var exact *monitor.Report
	for i := range *runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		rs := pipeline.FromBatches(schema, refBatches...)
		cs := pipeline.FromBatches(schema, curBatches...)
		t0 := time.Now()
		r, err := monitor.CompareExact(ctx, rs, cs, monitor.ExactOptions{Drift: monitor.DriftOptions{Methods: methods}})
		exactTimes = append(exactTimes, time.Since(t0))
		rs.Release()
		cs.Release()
		if err != nil {
			return fmt.Errorf("run %d: exact: %w", i+1, err)
		}
		exact = r
	}

	// (3) SciPy.
	out, err := runPython(ctx, *python, filepath.Join(root, "internal", "bench", "peers", "drift.py"),
		tmp, strconv.Itoa(*cols), strconv.Itoa(*refRows), strconv.Itoa(*curRows), strconv.Itoa(*runs))
	if err != nil {
		return err
	}
	var pr driftPeerResult
	if err := json.Unmarshal(out, &pr); err != nil {
		return fmt.Errorf("drift.py: reading %q: %w", out, err)
	}
	if len(pr.Seconds) != *runs || len(pr.KSD) != *cols || len(pr.KSP) != *cols || len(pr.Wasserstein) != *cols {
		return fmt.Errorf("drift.py: %d runs and %d/%d/%d statistics, want %d runs and %d", len(pr.Seconds), len(pr.KSD), len(pr.KSP), len(pr.Wasserstein), *runs, *cols)
	}
	var peerTimes []time.Duration
	for _, s := range pr.Seconds {
		peerTimes = append(peerTimes, time.Duration(s*float64(time.Second)))
	}

	// Agreement of the exact statistics with SciPy's.
	var maxD, maxW, maxP float64
	for j, c := range exact.Columns {
		d, w, p := c.Stats["ks_d"], c.Stats["wasserstein"], c.Stats["ks_p"]
		rd, rw, rp := relDiff(d, pr.KSD[j]), relDiff(w, pr.Wasserstein[j]), relDiff(p, pr.KSP[j])
		maxD, maxW, maxP = max(maxD, rd), max(maxW, rw), max(maxP, rp)
		if !(rd <= 1e-9) || !(rw <= 1e-9) {
			return fmt.Errorf("column %s: Kiln D=%v W=%v, SciPy D=%v W=%v: more than 1e-9 relative apart", c.Column, d, w, pr.KSD[j], pr.Wasserstein[j])
		}
	}
	drifted := 0
	for _, c := range exact.Columns {
		if c.Stats["ks_p"] < 0.05 {
			drifted++
		}
	}

	pm, km, em := mustMedian(peerTimes), mustMedian(serviceTimes), mustMedian(exactTimes)
	prm := mustMedian(profileTimes)
	for i := range *runs {
		fmt.Printf("run %d/%d: service %.1f ms, exact %.1f ms, scipy %.1f ms, profile %.1f ms\n", i+1, *runs,
			ms(serviceTimes[i]), ms(exactTimes[i]), ms(peerTimes[i]), ms(profileTimes[i]))
	}
	fmt.Printf("  service path (Observe %d rows × %d columns from %d goroutine(s) + Flush): median %.1f ms, %.1f ns per value; %d of %d columns drift (%s defaults), state %d bytes per column\n",
		*curRows, *cols, *observers, ms(km), float64(km.Nanoseconds())/float64(*curRows**cols), report.Drifted, *cols, report.Columns[0].Method, stateBytes/(*cols))
	fmt.Printf("  reference profile of %d rows: median %.1f ms, %d bytes (%.1f KiB per column)\n",
		*refRows, ms(prm), prof.Size(), float64(prof.Size())/1024/float64(*cols))
	fmt.Printf("  exact (CompareExact, KS + Wasserstein + PSI/JS): median %.1f ms; %d of %d columns with ks_p < 0.05\n", ms(em), drifted, *cols)
	fmt.Printf("  scipy %s ks_2samp + wasserstein_distance: median %.1f ms\n", pr.Scipy, ms(pm))
	fmt.Printf("  agreement with SciPy, max relative difference: D %.1e, W %.1e, p %.1e\n", maxD, maxW, maxP)
	fmt.Printf("  scipy / service path: %.1f×; scipy / exact: %.1f×\n", pm.Seconds()/km.Seconds(), pm.Seconds()/em.Seconds())

	res := result{Suite: "drift", Kiln: 60 / km.Seconds(), Peer: 60 / pm.Seconds(), PeerName: "scipy", Unit: "reports/min",
		Extra: []extra{
			{"exact", 60 / em.Seconds()},
			{"exact_ratio", pm.Seconds() / em.Seconds()},
			{"service_ms", ms(km)},
			{"exact_ms", ms(em)},
			{"peer_ms", ms(pm)},
			{"profile_s", prm.Seconds()},
			{"state_bytes_per_column", float64(stateBytes) / float64(*cols)},
		}}
	line, err := res.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// driftPeerResult is drift.py's output line.
type driftPeerResult struct {
	Scipy       string    `json:"scipy"`
	Numpy       string    `json:"numpy"`
	Seconds     []float64 `json:"seconds"`
	KSD         []float64 `json:"ks_d"`
	KSP         []float64 `json:"ks_p"`
	Wasserstein []float64 `json:"wasserstein"`
}

// observeWindow feeds batches to m from n goroutines (batch i goes to
// goroutine i%n) and flushes, returning the time taken and the report.
func observeWindow(m *monitor.Monitor, batches []arrow.RecordBatch, n int) (time.Duration, *monitor.Report, error) {
	t0 := time.Now()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(batches); i += n {
				if err := m.Observe(batches[i]); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	r := m.Flush()
	d := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return d, nil, err
		}
	}
	return d, r, nil
}

func reportRows(r *monitor.Report) any {
	if r == nil {
		return "no report"
	}
	return r.Rows
}

func reportCols(r *monitor.Report) any {
	if r == nil {
		return "no report"
	}
	return len(r.Columns)
}

// relDiff is |a − b| / max(|a|, |b|) (0 when both are 0, +Inf when one is
// NaN).
func relDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.Inf(1)
	}
	den := max(math.Abs(a), math.Abs(b))
	if den < 1e-300 {
		return 0
	}
	return math.Abs(a-b) / den
}

// driftData makes the suite's seeded columns: ref[j] has refRows values and
// cur[j] curRows values of shape j%5; columns with j%4 == 1 are shifted and
// scaled in cur.
func driftData(seed uint64, cols, refRows, curRows int) (ref, cur [][]float64) {
	gen := func(rng *rand.Rand, shape, n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			switch shape {
			case 0:
				x[i] = rng.NormFloat64()
			case 1:
				x[i] = math.Exp(0.75 * rng.NormFloat64())
			case 2:
				x[i] = math.Floor(20 + 4*rng.NormFloat64())
			case 3:
				x[i] = 10 * rng.Float64()
			default:
				if rng.Float64() < 0.7 {
					x[i] = rng.NormFloat64()
				} else {
					x[i] = 4 + 0.5*rng.NormFloat64()
				}
			}
		}
		return x
	}
	ref = make([][]float64, cols)
	cur = make([][]float64, cols)
	var wg sync.WaitGroup
	for j := range cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref[j] = gen(rand.New(rand.NewPCG(seed, uint64(2*j))), j%5, refRows)
			cur[j] = gen(rand.New(rand.NewPCG(seed, uint64(2*j+1))), j%5, curRows)
			if j%4 == 1 {
				for i := range cur[j] {
					cur[j][i] = 1.05*cur[j][i] + 0.1
				}
			}
		}()
	}
	wg.Wait()
	return ref, cur
}

// driftSchema is cols non-nullable float64 columns c00, c01, ...
func driftSchema(cols int) *arrow.Schema {
	fields := make([]arrow.Field, cols)
	for j := range fields {
		fields[j] = arrow.Field{Name: fmt.Sprintf("c%02d", j), Type: arrow.PrimitiveTypes.Float64}
	}
	return arrow.NewSchema(fields, nil)
}

// driftBatches cuts the columns into batches of size rows.
func driftBatches(schema *arrow.Schema, data [][]float64, size int) []arrow.RecordBatch {
	n := len(data[0])
	var out []arrow.RecordBatch
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		arrs := make([]arrow.Array, len(data))
		for j := range data {
			b := array.NewFloat64Builder(memory.DefaultAllocator)
			b.AppendValues(data[j][lo:hi], nil)
			arrs[j] = b.NewArray()
			b.Release()
		}
		out = append(out, array.NewRecordBatch(schema, arrs, int64(hi-lo)))
		for _, a := range arrs {
			a.Release()
		}
	}
	return out
}

// writeFloat64s writes x as little-endian float64 values.
func writeFloat64s(path string, x []float64) error {
	buf := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(v))
	}
	return os.WriteFile(path, buf, 0o644)
}
