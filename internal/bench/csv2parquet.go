package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ingestReport is the JSON line examples/ingest prints last.
type ingestReport struct {
	Rows       int64   `json:"rows"`
	Columns    int     `json:"columns"`
	InputBytes int64   `json:"input_bytes"`
	Seconds    float64 `json:"seconds"`
}

// buildIngest builds examples/ingest into dir and returns the binary's path.
func buildIngest(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ingest")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/ingest")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/ingest: %w\n%s", err, out)
	}
	return bin, nil
}

// runCSV2Parquet is the csv2parquet suite: the examples/ingest command
// (timed as a whole process, start-up included) against DuckDB's
// COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet), timed inside
// node around the statement. It also reports the ingest process's peak RSS.
func runCSV2Parquet(ctx context.Context, args []string) error {
	path, threads, runs, size, err := csvSuiteFlags("csv2parquet", "`threads`: GOMAXPROCS of the ingest process and DuckDB's SET threads", args)
	if err != nil {
		return err
	}
	duck, err := findDuckDB()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "kiln-bench-csv2parquet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := buildIngest(ctx, tmp)
	if err != nil {
		return err
	}
	if err := warmCache(*path); err != nil {
		return err
	}
	fmt.Printf("input %s: %d bytes (%.1f MB), %d threads\n", *path, size, float64(size)/1e6, *threads)

	kilnOut := filepath.Join(tmp, "kiln.parquet")
	duckOut := filepath.Join(tmp, "duckdb.parquet")
	job := duckJob{
		Setup: []string{"SET threads=" + strconv.Itoa(*threads)},
		Timed: "COPY (SELECT * FROM read_csv(" + sqlString(*path) + ")) TO " + sqlString(duckOut) + " (FORMAT parquet)",
	}
	var (
		kilnRows, peerRows int64 = -1, -1
		peakKiB            int64
		kilnSize, duckSize int64
		duckWall           []time.Duration
		version            string
	)
	t, err := alternate(ctx, *runs, size, "duckdb",
		func(ctx context.Context, _ int) (time.Duration, error) {
			cmd := exec.CommandContext(ctx, bin, "-in", *path, "-out", kilnOut)
			cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(*threads))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			d := time.Since(start)
			if err != nil {
				return 0, fmt.Errorf("ingest: %w: %s", err, strings.TrimSpace(stderr.String()))
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				peakKiB = max(peakKiB, ru.Maxrss)
			}
			var rep ingestReport
			if err := json.Unmarshal(lastLine(stdout.Bytes()), &rep); err != nil {
				return 0, fmt.Errorf("ingest: reading its report %q: %w", stdout.String(), err)
			}
			if kilnSize, err = fileSize(kilnOut); err != nil {
				return 0, fmt.Errorf("ingest: %w", err)
			}
			os.Remove(kilnOut)
			return d, sameRows("kiln", &kilnRows, rep.Rows)
		},
		func(ctx context.Context, _ int) (time.Duration, error) {
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
			if duckSize, err = fileSize(duckOut); err != nil {
				return 0, fmt.Errorf("duckdb: %w", err)
			}
			os.Remove(duckOut)
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
	if peakKiB == 0 {
		return errors.New("no peak RSS reported for the ingest process")
	}
	wall, err := median(duckWall)
	if err != nil {
		return err
	}
	peakMB := float64(peakKiB) / 1024
	fmt.Printf("rows: %d on both sides; output kiln %d bytes, duckdb %s %d bytes\n", kilnRows, kilnSize, version, duckSize)
	fmt.Printf("kiln: examples/ingest process wall time, start-up included; peak RSS %d KiB (%.1f MiB)\n", peakKiB, peakMB)
	fmt.Printf("duckdb: the ratio uses the COPY statement timed inside node; whole node process median %.3f s (%.1f MB/s)\n",
		wall.Seconds(), speed(size, wall))
	k, p, err := t.speeds(size)
	if err != nil {
		return err
	}
	return finish(result{Suite: "csv2parquet", Kiln: k, Peer: p, PeerName: "duckdb", Unit: "MB/s",
		Extra: []extra{
			{"kiln_peak_rss_mb", peakMB},
			{"peer_process", speed(size, wall)},
		}}, t)
}
