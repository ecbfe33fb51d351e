package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// elemCase is one kernel of the elementwise suite, as named by
// BenchmarkElementwise in tensor/internal/kern.
type elemCase struct {
	name  string // sub-benchmark
	bytes int64  // bytes read and written per element
}

var elemCases = []elemCase{
	{"copy/1", 8}, {"add/1", 12}, {"relu/1", 8},
	{"copy/pool", 8}, {"add/pool", 12}, {"relu/pool", 8},
}

var elemLine = regexp.MustCompile(`^BenchmarkElementwise/(\S+?)(-\d+)?\s+\d+\s+([0-9.]+) ns/op`)

// runElementwise times Kiln's elementwise kernels on big float32 buffers
// against Go's copy on the same buffers: dst = a + b (reads 2 and writes 1
// float per element), dst = relu(a) (reads 1, writes 1) and copy(dst, a)
// (reads 1, writes 1), each on one thread and split over kern.Default().
// The kernels live in an internal package that this command cannot
// import, so the suite builds the package's test binary once and runs its
// BenchmarkElementwise -runs times, starting each run at another kernel,
// and takes the median time of each.
func runElementwise(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("elementwise", flag.ContinueOnError)
	n := fs.Int("n", 16<<20, "float32 `elements` per buffer")
	runs := fs.Int("runs", 7, "timed `runs` of each kernel; the median counts")
	iters := fs.Int("iters", 5, "calls of each kernel per run (the mean is the run's time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *n < 1 || *runs < 1 || *iters < 1 {
		return fmt.Errorf("-n, -runs and -iters must be at least 1")
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kiln-elementwise-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "kern.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./tensor/internal/kern/")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the kern test binary: %v\n%s", err, out)
	}
	times := map[string][]time.Duration{}
	threads := 0
	for r := range *runs {
		cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", "^BenchmarkElementwise$",
			"-test.benchtime", fmt.Sprintf("%dx", *iters))
		cmd.Env = append(os.Environ(), fmt.Sprintf("KILN_ELEM_N=%d", *n), fmt.Sprintf("KILN_ELEM_ROTATE=%d", r))
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("run %d: %v\n%s", r+1, err, out)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if f := bytes.Fields(sc.Bytes()); len(f) > 1 && string(f[len(f)-1]) == "pool-workers" {
				if v, err := strconv.ParseFloat(string(f[len(f)-2]), 64); err == nil {
					threads = int(v)
				}
			}
			m := elemLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			ns, err := strconv.ParseFloat(m[3], 64)
			if err != nil {
				return fmt.Errorf("run %d: %q: %v", r+1, sc.Text(), err)
			}
			times[m[1]] = append(times[m[1]], time.Duration(ns))
		}
		fmt.Printf("run %d/%d:", r+1, *runs)
		for _, c := range elemCases {
			if ts := times[c.name]; len(ts) == r+1 {
				fmt.Printf(" %s %.2f ms", c.name, ts[r].Seconds()*1e3)
			}
		}
		fmt.Println()
	}
	med := map[string]time.Duration{}
	gbs := map[string]float64{}
	for _, c := range elemCases {
		if len(times[c.name]) != *runs {
			return fmt.Errorf("kernel %s: %d timings in %d runs", c.name, len(times[c.name]), *runs)
		}
		med[c.name], _ = median(times[c.name])
		gbs[c.name] = float64(c.bytes) * float64(*n) / 1e9 / med[c.name].Seconds()
	}
	// The pooled kernels are compared with the faster of the two copies:
	// Go's copy of a whole buffer uses non-temporal stores, which copies
	// of pool-sized chunks do not.
	bestCopy := "copy/1"
	if med["copy/pool"] < med[bestCopy] {
		bestCopy = "copy/pool"
	}
	fmt.Printf("elementwise: %d float32 per buffer (%d MiB), pool of %d workers, median of %d runs of %d calls\n",
		*n, *n*4>>20, threads, *runs, *iters)
	for _, c := range elemCases {
		ref := "copy/1"
		if c.name[len(c.name)-4:] == "pool" {
			ref = bestCopy
		}
		fmt.Printf("%-10s %7.3f ms  %6.2f GB/s read+written  bandwidth/%s %.2f  time %s/op %.2f\n",
			c.name, med[c.name].Seconds()*1e3, gbs[c.name], ref, gbs[c.name]/gbs[ref], ref,
			med[ref].Seconds()/med[c.name].Seconds())
	}
	res := result{
		Suite: "elementwise", Kiln: gbs["add/pool"], Peer: gbs[bestCopy], PeerName: "go copy", Unit: "GB/s",
		Extra: []extra{
			{"relu_gbs", gbs["relu/pool"]},
			{"add_time_copy_over_op", med[bestCopy].Seconds() / med["add/pool"].Seconds()},
			{"relu_time_copy_over_op", med[bestCopy].Seconds() / med["relu/pool"].Seconds()},
			{"threads", float64(threads)},
			{"add_1t_gbs", gbs["add/1"]},
			{"relu_1t_gbs", gbs["relu/1"]},
			{"copy_1t_gbs", gbs["copy/1"]},
		},
	}
	line, err := res.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}
