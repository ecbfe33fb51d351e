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
	"strings"
	"time"
)

// installHint tells the user how to get the peers.
const installHint = "run: bash internal/bench/install-peers.sh"

// peerCache returns the folder that holds the peers: $KILN_BENCH_CACHE, or
// $HOME/.cache/kiln-bench.
func peerCache() (string, error) {
	if d := os.Getenv("KILN_BENCH_CACHE"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no KILN_BENCH_CACHE and no home folder: %w", err)
	}
	return filepath.Join(home, ".cache", "kiln-bench"), nil
}

// duckDB runs SQL in a fresh in-memory DuckDB inside Node.js, one process
// per job, through peers/duckdb.mjs.
type duckDB struct {
	node   string // path of the node executable
	npm    string // folder holding node_modules/@duckdb/node-api
	script string // path of duckdb.mjs
}

// findDuckDB locates node, the @duckdb/node-api package and the peer script,
// or says what to run to install them.
func findDuckDB() (*duckDB, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("DuckDB peer: node is not on PATH; %s", installHint)
	}
	cache, err := peerCache()
	if err != nil {
		return nil, err
	}
	npm := filepath.Join(cache, "npm")
	pkg := filepath.Join(npm, "node_modules", "@duckdb", "node-api", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return nil, fmt.Errorf("DuckDB peer: @duckdb/node-api is not installed in %s; %s", npm, installHint)
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	script := filepath.Join(root, "internal", "bench", "peers", "duckdb.mjs")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("DuckDB peer: %w", err)
	}
	return &duckDB{node: node, npm: npm, script: script}, nil
}

// duckJob is what duckdb.mjs runs: setup statements, the timed statement,
// then checks.
type duckJob struct {
	Setup []string `json:"setup,omitempty"`
	Timed string   `json:"timed"`
	After []string `json:"after,omitempty"`
}

// duckResult is what duckdb.mjs reports.
type duckResult struct {
	Version string        `json:"version"`
	Seconds float64       `json:"seconds"` // the timed statement alone
	Timed   [][]*string   `json:"timed"`   // rows of the timed statement
	After   [][][]*string `json:"after"`   // rows of each check
	Wall    time.Duration `json:"-"`       // the whole node process
}

// query is the duration of the timed statement.
func (r duckResult) query() time.Duration {
	return time.Duration(r.Seconds * float64(time.Second))
}

// run runs job in a new node process.
func (d *duckDB) run(ctx context.Context, job duckJob) (duckResult, error) {
	spec, err := json.Marshal(job)
	if err != nil {
		return duckResult{}, err
	}
	cmd := exec.CommandContext(ctx, d.node, d.script, string(spec))
	cmd.Dir = d.npm
	cmd.Env = append(os.Environ(), "KILN_BENCH_NPM="+d.npm)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return duckResult{}, fmt.Errorf("duckdb: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res duckResult
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &res); err != nil {
		return duckResult{}, fmt.Errorf("duckdb: reading its report %q: %w", stdout.String(), err)
	}
	res.Wall = wall
	return res, nil
}

// scalar returns the single value of a one-row, one-column result.
func scalar(rows [][]*string) (string, error) {
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] == nil {
		return "", errors.New("expected one value")
	}
	return *rows[0][0], nil
}

// lastLine returns the last non-empty line of b.
func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, "\r\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
