// Command bench is Kiln's peer harness: it runs Kiln and a peer (DuckDB,
// arrow-go) on the same input in the same run, alternating several times,
// and compares their median speeds.
//
// Usage:
//
//	go run ./internal/bench SUITE [flags]
//
// Suites:
//
//	prepare          export flights-3m.parquet to /tmp/kiln-bench/flights-3m.csv
//	ingest           CSV → Arrow batches: Kiln vs DuckDB read_csv into a table
//	ingest-arrowcsv  CSV → Arrow batches: Kiln vs arrow-go csv.NewReader
//	csv2parquet      CSV → Parquet: examples/ingest vs DuckDB COPY ... TO parquet
//	parquet          Parquet → Arrow: Kiln vs pqarrow parallel ReadTable
//	store            Put of a 1 GiB file: Kiln vs restic backup (and b3sum); Get; dedup
//	transforms       fit + apply of scaling, imputation and one-hot: Kiln vs scikit-learn
//	logistic         logistic regression fit (L-BFGS): Kiln vs scikit-learn LogisticRegression
//	mlp              MLP training with Adam: Kiln vs PyTorch (digits, synthetic 784 features)
//	elementwise      float32 add and ReLU over 64 MiB buffers vs Go's copy
//	gemm             float32 GEMM n×n×n: Kiln vs OpenBLAS (-tags openblas) and gonum
//	testdata         write testdata/flights-20k.{csv,parquet}
//
// Each comparison suite prints readable lines and then, as its last line, one
// JSON object:
//
//	{"suite":..,"kiln":..,"peer":..,"peer_name":..,"unit":..,"ratio":..}
//
// kiln and peer are speeds computed from the median time of -runs runs
// (larger is faster), and ratio is kiln/peer: above 1, Kiln is faster.
//
// DuckDB runs in Node.js through the npm package @duckdb/node-api, installed
// by internal/bench/install-peers.sh into $KILN_BENCH_CACHE (default
// $HOME/.cache/kiln-bench), outside the repository.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

type suite struct {
	name string
	help string
	run  func(ctx context.Context, args []string) error
}

var suites = []suite{
	{"prepare", "write the benchmark CSV from flights-3m.parquet", runPrepare},
	{"ingest", "CSV → Arrow batches: Kiln vs DuckDB (same thread count)", runIngest},
	{"ingest-arrowcsv", "CSV → Arrow batches: Kiln vs arrow-go csv.NewReader", runIngestArrowCSV},
	{"csv2parquet", "CSV → Parquet: examples/ingest vs DuckDB COPY TO parquet", runCSV2Parquet},
	{"parquet", "Parquet → Arrow: Kiln vs pqarrow parallel reads", runParquet},
	{"store", "Put/Get of a 1 GiB file: Kiln vs restic backup and b3sum; dedup", runStore},
	{"version", "Status of 100,000 files vs git status; one changed file in 2 GiB; partition dedup", runVersion},
	{"pit", "point-in-time join, Parquet → Parquet: examples/historical vs DuckDB ASOF LEFT JOIN", runPit},
	{"transforms", "fit + apply of a column transformer: Kiln features vs scikit-learn ColumnTransformer", runTransforms},
	{"logistic", "logistic regression fit on breast_cancer and digits: Kiln vs scikit-learn", runLogistic},
	{"mlp", "MLP training with Adam on digits and synthetic 784 features: Kiln vs PyTorch", runMLP},
	{"online", "online store read p99: Badger 1×50, Redis 1×50 vs bare HMGET, Redis 100×50", runOnline},
	{"elementwise", "float32 add and ReLU (kern, pooled and 1 thread) vs Go's copy on 64 MiB buffers", runElementwise},
	{"gemm", "float32 GEMM n×n×n: Kiln vs OpenBLAS (-tags openblas) and gonum, GFLOP/s", runGemm},
	{"drift", "drift report, 20 numeric columns, 1M reference, 100k window: Kiln monitor and CompareExact vs SciPy ks_2samp + wasserstein_distance", runDrift},
	{"testdata", "write testdata/flights-20k.csv and .parquet", runTestdata},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: go run ./internal/bench SUITE [flags]\n\nsuites:\n")
	for _, s := range suites {
		fmt.Fprintf(os.Stderr, "  %-16s %s\n", s.name, s.help)
	}
	fmt.Fprintf(os.Stderr, "\nrun 'go run ./internal/bench SUITE -h' for a suite's flags\n")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	name := os.Args[1]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	for _, s := range suites {
		if s.name == name {
			err := s.run(ctx, os.Args[2:])
			if errors.Is(err, flag.ErrHelp) {
				os.Exit(0)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench %s: %v\n", name, err)
				os.Exit(1)
			}
			return
		}
	}
	fmt.Fprintf(os.Stderr, "bench: unknown suite %q\n\n", name)
	usage()
	os.Exit(2)
}

// moduleRoot returns the folder holding go.mod, searching upwards from the
// working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run from inside the Kiln module")
		}
		dir = parent
	}
}

// measurement is one timed run of one side.
type measurement func(ctx context.Context, run int) (time.Duration, error)

// alternate runs kiln and peer runs times each, alternating which side goes
// first so that neither always runs on a warmer (or more tired) machine, and
// prints each pair as it goes. Speeds are size bytes over the time.
func alternate(ctx context.Context, runs int, size int64, peerName string, kiln, peer measurement) (timings, error) {
	if runs < 1 {
		return timings{}, fmt.Errorf("-runs must be at least 1, not %d", runs)
	}
	var t timings
	for i := range runs {
		if err := ctx.Err(); err != nil {
			return t, err
		}
		var kd, pd time.Duration
		var err error
		sides := []struct {
			name string
			m    measurement
			d    *time.Duration
		}{{"kiln", kiln, &kd}, {peerName, peer, &pd}}
		if i%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, s := range sides {
			runtime.GC()
			if *s.d, err = s.m(ctx, i); err != nil {
				return t, fmt.Errorf("run %d, %s: %w", i+1, s.name, err)
			}
		}
		t.kiln = append(t.kiln, kd)
		t.peer = append(t.peer, pd)
		fmt.Printf("run %d/%d: kiln %.3f s (%.1f MB/s), %s %.3f s (%.1f MB/s)\n", i+1, runs,
			kd.Seconds(), speed(size, kd), peerName, pd.Seconds(), speed(size, pd))
	}
	return t, nil
}

// finish prints the medians and the JSON result line, which must be the
// last line of output.
func finish(r result, t timings) error {
	km, _ := median(t.kiln)
	pm, _ := median(t.peer)
	fmt.Printf("median of %d runs: kiln %.3f s, %s %.3f s\n", len(t.kiln), km.Seconds(), r.PeerName, pm.Seconds())
	line, err := r.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// fileSize returns the size of path in bytes.
func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if st.IsDir() {
		return 0, fmt.Errorf("%s is a directory", path)
	}
	return st.Size(), nil
}

// warmCache reads path once so that every run finds it in the page cache.
func warmCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// sameRows records n as the row count of side on its first run and checks
// that later runs agree.
func sameRows(side string, seen *int64, n int64) error {
	if *seen >= 0 && *seen != n {
		return fmt.Errorf("%s read %d rows, %d on an earlier run", side, n, *seen)
	}
	*seen = n
	return nil
}

// schemaLine renders a schema as "name type, name type, ...".
func schemaLine(s *arrow.Schema) string {
	var out []byte
	for i, f := range s.Fields() {
		if i > 0 {
			out = append(out, ", "...)
		}
		out = append(out, f.Name...)
		out = append(out, ' ')
		out = append(out, f.Type.String()...)
	}
	return string(out)
}
