package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/kilnml/kiln/pipeline"
)

// The pit suite's feature columns, after "airport__" in the output.
var pitFeatures = []string{"avg_delay_1h", "max_delay_1h", "flights_1h", "avg_distance_1h"}

// runPit is the pit suite: a point-in-time join of every flight of
// flights-3m (origin, date as event time) with hourly per-airport
// statistics that become available at the end of each hour, TTL 24h,
// Parquet → Parquet. Kiln is the examples/historical process (wall time,
// start-up included); DuckDB runs COPY (... ASOF LEFT JOIN ...) TO parquet,
// timed inside node around the statement, with the same threads. Both
// outputs are then compared: row count, and per column the null count and
// an order-independent sum of hashes (exact) or of values.
func runPit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pit", flag.ContinueOnError)
	src := fs.String("parquet", defaultFlightsParquet(), "flights Parquet `file` (date, delay, distance, origin)")
	dir := fs.String("dir", "/tmp/kiln-bench/pit", "`folder` for the entity and feature files, built when missing")
	threads := fs.Int("threads", runtime.NumCPU(), "`threads`: GOMAXPROCS of the historical process and DuckDB's SET threads")
	runs := fs.Int("runs", 5, "timed `runs` of each side; the median counts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *threads < 1 {
		return fmt.Errorf("-threads must be at least 1, not %d", *threads)
	}
	duck, err := findDuckDB()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	ent := filepath.Join(*dir, "entities.parquet")
	feat := filepath.Join(*dir, "airport_hourly.parquet")
	if _, err := os.Stat(feat); err != nil {
		start := time.Now()
		ne, nf, err := buildPitInputs(ctx, *src, ent, feat)
		if err != nil {
			return err
		}
		fmt.Printf("built %s (%d rows) and %s (%d rows) in %.1f s\n", ent, ne, feat, nf, time.Since(start).Seconds())
	}
	tmp, err := os.MkdirTemp("", "kiln-bench-pit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	bin := filepath.Join(tmp, "historical")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/historical")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./examples/historical: %w\n%s", err, out)
	}
	for _, p := range []string{ent, feat} {
		if err := warmCache(p); err != nil {
			return err
		}
	}
	size, err := fileSize(ent)
	if err != nil {
		return err
	}
	kilnOut := filepath.Join(tmp, "kiln.parquet")
	duckOut := filepath.Join(tmp, "duckdb.parquet")
	spec := map[string]any{
		"entities": map[string]any{"path": ent, "keys": []string{"origin"}, "timestamp": "event_timestamp"},
		"views": []map[string]any{{"name": "airport", "path": feat, "keys": []string{"origin"},
			"timestamp": "event_timestamp", "ttl": "24h", "features": pitFeatures}},
		"out": kilnOut,
	}
	specJSON, _ := json.Marshal(spec)
	specPath := filepath.Join(tmp, "spec.json")
	if err := os.WriteFile(specPath, specJSON, 0o644); err != nil {
		return err
	}
	sel := []string{"e.origin", "e.event_timestamp"}
	for _, f := range pitFeatures {
		sel = append(sel, fmt.Sprintf("CASE WHEN f.event_timestamp >= e.event_timestamp - INTERVAL 24 HOUR THEN f.%s END AS airport__%s", f, f))
	}
	job := duckJob{
		Setup: []string{"SET threads=" + strconv.Itoa(*threads)},
		Timed: "COPY (SELECT " + strings.Join(sel, ", ") + " FROM read_parquet(" + sqlString(ent) + ") e ASOF LEFT JOIN read_parquet(" +
			sqlString(feat) + ") f ON e.origin = f.origin AND e.event_timestamp >= f.event_timestamp) TO " + sqlString(duckOut) + " (FORMAT parquet)",
	}
	fmt.Printf("entities %s: %d bytes; features %s; %d threads\n", ent, size, feat, *threads)
	var (
		kilnRows, peerRows int64 = -1, -1
		peakKiB            int64
		duckWall           []time.Duration
		version            string
	)
	t, err := alternate(ctx, *runs, size, "duckdb",
		func(ctx context.Context, _ int) (time.Duration, error) {
			os.Remove(kilnOut)
			cmd := exec.CommandContext(ctx, bin, "-spec", specPath)
			cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(*threads))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			if err != nil {
				return 0, fmt.Errorf("historical: %w: %s", err, strings.TrimSpace(stderr.String()))
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				peakKiB = max(peakKiB, ru.Maxrss)
			}
			var rep struct {
				Rows int64 `json:"rows"`
			}
			if err := json.Unmarshal(lastLine(stdout.Bytes()), &rep); err != nil {
				return 0, fmt.Errorf("historical: reading its report %q: %w", stdout.String(), err)
			}
			return d, sameRows("kiln", &kilnRows, rep.Rows)
		},
		func(ctx context.Context, _ int) (time.Duration, error) {
			os.Remove(duckOut)
			res, err := duck.run(ctx, job)
			if err != nil {
				return 0, err
			}
			n, err := scalar(res.Timed)
			if err != nil {
				return 0, fmt.Errorf("duckdb COPY count: %w", err)
			}
			rows, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("duckdb COPY count: %w", err)
			}
			duckWall = append(duckWall, res.Wall)
			version = res.Version
			return res.query(), sameRows("duckdb", &peerRows, rows)
		})
	if err != nil {
		return err
	}
	if kilnRows != peerRows {
		return fmt.Errorf("kiln wrote %d rows, duckdb %d", kilnRows, peerRows)
	}
	if err := comparePitOutputs(ctx, duck, kilnOut, duckOut); err != nil {
		return err
	}
	wall, err := median(duckWall)
	if err != nil {
		return err
	}
	km, _ := median(t.kiln)
	pm, _ := median(t.peer)
	fmt.Printf("rows: %d on both sides, values identical (duckdb %s)\n", kilnRows, version)
	fmt.Printf("kiln: examples/historical process wall time, start-up included; peak RSS %.1f MiB\n", float64(peakKiB)/1024)
	fmt.Printf("duckdb: the ratio uses the COPY statement timed inside node; whole node process median %.3f s\n", wall.Seconds())
	fmt.Printf("time ratio kiln/duckdb: %.3f (target ≤ 0.7)\n", km.Seconds()/pm.Seconds())
	k, p, err := t.speeds(size)
	if err != nil {
		return err
	}
	return finish(result{Suite: "pit", Kiln: k, Peer: p, PeerName: "duckdb", Unit: "MB/s",
		Extra: []extra{
			{"kiln_seconds", km.Seconds()},
			{"peer_seconds", pm.Seconds()},
			{"kiln_peak_rss_mb", float64(peakKiB) / 1024},
		}}, t)
}

// comparePitOutputs checks, with DuckDB, that both outputs hold the same
// rows: the same count, and per feature column the same null count and the
// same sum of hashes of (origin, time, value), which does not depend on row
// order.
func comparePitOutputs(ctx context.Context, duck *duckDB, kilnOut, duckOut string) error {
	q := func(path string) string {
		parts := []string{"count(*)"}
		for _, f := range pitFeatures {
			c := "airport__" + f
			parts = append(parts, "count("+c+")",
				"sum(hash(origin, epoch_us(event_timestamp), "+c+"))::VARCHAR")
		}
		return "SELECT " + strings.Join(parts, ", ") + " FROM read_parquet(" + sqlString(path) + ")"
	}
	res, err := duck.run(ctx, duckJob{Timed: q(kilnOut), After: []string{q(duckOut)}})
	if err != nil {
		return fmt.Errorf("comparing outputs: %w", err)
	}
	if len(res.Timed) != 1 || len(res.After) != 1 || len(res.After[0]) != 1 {
		return fmt.Errorf("comparing outputs: unexpected result shape")
	}
	k, d := res.Timed[0], res.After[0][0]
	str := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	}
	for i := range k {
		if str(k[i]) != str(d[i]) {
			return fmt.Errorf("outputs differ in check %d: kiln %s, duckdb %s", i, str(k[i]), str(d[i]))
		}
	}
	fmt.Printf("check: rows %s; non-null per feature:", str(k[0]))
	for i := range pitFeatures {
		fmt.Printf(" %s", str(k[1+2*i]))
	}
	fmt.Println()
	return nil
}

// buildPitInputs writes the entity rows (origin, event_timestamp = date) and
// the hourly per-airport statistics (event_timestamp = end of the hour)
// with Kiln's pipeline.
func buildPitInputs(ctx context.Context, src, entPath, featPath string) (int64, int64, error) {
	in := pipeline.Parquet(src, pipeline.ParquetOptions{Columns: []string{"origin", "date", "delay", "distance"}})
	sc, err := in.Schema(ctx)
	if err != nil {
		return 0, 0, err
	}
	tsType, ok := sc.Field(1).Type.(*arrow.TimestampType)
	if !ok {
		return 0, 0, fmt.Errorf("%s: date is %s, want a timestamp", src, sc.Field(1).Type)
	}
	entSchema := arrow.NewSchema([]arrow.Field{
		{Name: "origin", Type: sc.Field(0).Type, Nullable: true},
		{Name: "event_timestamp", Type: tsType, Nullable: true},
	}, nil)
	sink := pipeline.ToParquet(entPath, pipeline.ParquetWriteOptions{})
	if err := sink.Open(ctx, entSchema); err != nil {
		return 0, 0, err
	}
	type hourKey struct {
		origin string
		hour   int64 // start of the hour, in the timestamp's unit
	}
	type agg struct {
		n, delayN, distN  int64
		delaySum, distSum float64
		maxDelay          int64
		hasMax            bool
	}
	groups := map[hourKey]*agg{}
	hourUnits := int64(time.Hour) / int64(tsType.Unit.Multiplier())
	var nent int64
	for b, err := range in.Batches(ctx) {
		if err != nil {
			sink.Abort()
			return 0, 0, err
		}
		rec := array.NewRecordBatch(entSchema, b.Columns()[:2], b.NumRows())
		err = sink.Write(ctx, rec)
		rec.Release()
		if err != nil {
			b.Release()
			sink.Abort()
			return 0, 0, err
		}
		nent += b.NumRows()
		origin := b.Column(0).(interface {
			IsNull(int) bool
			Value(int) string
		})
		date := b.Column(1).(*array.Timestamp)
		delay := b.Column(2).(*array.Int64)
		dist := b.Column(3).(*array.Int64)
		for i := range int(b.NumRows()) {
			if origin.IsNull(i) || date.IsNull(i) {
				continue
			}
			t := int64(date.Value(i))
			h := t - ((t%hourUnits)+hourUnits)%hourUnits
			k := hourKey{origin.Value(i), h}
			g := groups[k]
			if g == nil {
				g = &agg{}
				groups[k] = g
			}
			g.n++
			if delay.IsValid(i) {
				v := delay.Value(i)
				g.delayN++
				g.delaySum += float64(v)
				if !g.hasMax || v > g.maxDelay {
					g.maxDelay, g.hasMax = v, true
				}
			}
			if dist.IsValid(i) {
				g.distN++
				g.distSum += float64(dist.Value(i))
			}
		}
		b.Release()
	}
	if err := sink.Commit(ctx); err != nil {
		return 0, 0, err
	}
	keys := make([]hourKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b hourKey) int {
		if c := cmp.Compare(a.hour, b.hour); c != 0 {
			return c
		}
		return cmp.Compare(a.origin, b.origin)
	})
	mem := memory.DefaultAllocator
	ob := array.NewStringBuilder(mem)
	tb := array.NewTimestampBuilder(mem, tsType)
	ad := array.NewFloat64Builder(mem)
	md := array.NewInt64Builder(mem)
	nb := array.NewInt64Builder(mem)
	as := array.NewFloat64Builder(mem)
	for _, k := range keys {
		g := groups[k]
		ob.Append(k.origin)
		tb.Append(arrow.Timestamp(k.hour + hourUnits))
		if g.delayN > 0 {
			ad.Append(g.delaySum / float64(g.delayN))
			md.Append(g.maxDelay)
		} else {
			ad.AppendNull()
			md.AppendNull()
		}
		nb.Append(g.n)
		if g.distN > 0 {
			as.Append(math.Round(g.distSum/float64(g.distN)*100) / 100)
		} else {
			as.AppendNull()
		}
	}
	builders := []array.Builder{ob, tb, ad, md, nb, as}
	cols := make([]arrow.Array, len(builders))
	for i, bl := range builders {
		cols[i] = bl.NewArray()
		bl.Release()
	}
	fields := []arrow.Field{
		{Name: "origin", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "event_timestamp", Type: tsType, Nullable: true},
	}
	for i, f := range pitFeatures {
		fields = append(fields, arrow.Field{Name: f, Type: cols[2+i].DataType(), Nullable: true})
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(keys)))
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	fsrc := pipeline.FromBatches(nil, rec)
	defer fsrc.Release()
	if _, err := pipeline.New(fsrc).Run(ctx, pipeline.ToParquet(featPath, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		return 0, 0, err
	}
	return nent, int64(len(keys)), nil
}
