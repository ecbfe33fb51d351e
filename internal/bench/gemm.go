package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/kilnml/kiln/tensor"
)

// runGemm times C = A·B for square float32 matrices: Kiln's CPU device
// Gemm (kern.Sgemm on the pool of kern.Default) against OpenBLAS
// cblas_sgemm (with the openblas build tag) and gonum's pure-Go Sgemm, on
// -threads threads (GOMAXPROCS and the OpenBLAS thread count are set to
// it). With -threads above 1, Kiln on one thread (GOMAXPROCS 1) is timed
// too, for the scaling figure. Sides alternate in a rotating order; each
// run of a side times enough calls for about -min seconds, and the median
// run counts.
func runGemm(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gemm", flag.ContinueOnError)
	n := fs.Int("n", 1024, "matrix `size` (n×n times n×n)")
	threads := fs.Int("threads", 1, "`threads` for every side")
	runs := fs.Int("runs", 7, "timed `runs` of each side; the median counts")
	minTime := fs.Duration("min", 300*time.Millisecond, "least `time` of one run (repeating the call)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *threads < 1 || *runs < 1 {
		return fmt.Errorf("-n, -threads and -runs must be at least 1")
	}
	old := runtime.GOMAXPROCS(*threads)
	defer runtime.GOMAXPROCS(old)
	size := *n
	r := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float32, size*size), make([]float32, size*size)
	for i := range a {
		a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	flops := 2 * float64(size) * float64(size) * float64(size)
	ta, err := tensor.FromFloat32s(a, 1, size, size)
	if err != nil {
		return err
	}
	tb, err := tensor.FromFloat32s(b, 1, size, size)
	if err != nil {
		return err
	}
	tc, err := tensor.New(tensor.Float32, 1, size, size)
	if err != nil {
		return err
	}
	av, bv, cv := ta.View(), tb.View(), tc.View()
	cpu := tensor.CPU()
	kilnOn := func(procs int) func(c []float32) {
		return func(c []float32) {
			runtime.GOMAXPROCS(procs)
			defer runtime.GOMAXPROCS(*threads)
			if err := cpu.Gemm(cv, av, bv, tensor.GemmArgs{Alpha: 1}); err != nil {
				panic(err)
			}
		}
	}

	type side struct {
		name string
		call func(c []float32)
		c    []float32
		reps int
		ds   []time.Duration
	}
	kilnName := fmt.Sprintf("kiln-%dt", *threads)
	sides := []*side{{name: kilnName, call: kilnOn(*threads)}}
	if *threads > 1 {
		sides = append(sides, &side{name: "kiln-1t", call: kilnOn(1)})
	}
	if haveOpenBLAS {
		sides = append(sides, &side{name: "openblas", call: func(c []float32) { openblasSgemm(*threads, size, a, b, c) }})
	}
	sides = append(sides, &side{name: "gonum", call: func(c []float32) {
		gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, size, size, size, 1, a, size, b, size, 0, c, size)
	}})

	// Warm up, pick the repetitions, and check the sides agree.
	fmt.Printf("gemm %d×%d×%d float32, %d thread(s)\n", size, size, size, *threads)
	for i, s := range sides {
		s.c = make([]float32, size*size)
		start := time.Now()
		s.call(s.c)
		d := time.Since(start)
		s.reps = max(1, int(minTime.Seconds()/max(d.Seconds(), 1e-9)))
		if i == 0 || s.name == "kiln-1t" { // Kiln writes into tc
			if s.c, err = tc.Float32s(); err != nil {
				return err
			}
		}
	}
	for _, s := range sides[1:] {
		if d := maxRelDiff(sides[0].c, s.c); d > 1e-3 {
			return fmt.Errorf("%s and %s disagree: max relative difference %g", sides[0].name, s.name, d)
		}
	}
	for i := range *runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Printf("run %d/%d:", i+1, *runs)
		for j := range sides {
			s := sides[(i+j)%len(sides)]
			runtime.GC()
			start := time.Now()
			for range s.reps {
				s.call(s.c)
			}
			d := time.Since(start) / time.Duration(s.reps)
			s.ds = append(s.ds, d)
			fmt.Printf(" %s %.2f ms (%.1f GFLOP/s)", s.name, d.Seconds()*1e3, flops/d.Seconds()/1e9)
		}
		fmt.Println()
	}
	speed := map[string]float64{}
	for _, s := range sides {
		m, err := median(s.ds)
		if err != nil {
			return err
		}
		speed[s.name] = flops / m.Seconds() / 1e9
		fmt.Printf("median %-9s %8.2f ms  %7.1f GFLOP/s\n", s.name, m.Seconds()*1e3, speed[s.name])
	}
	kiln := speed[kilnName]
	res := result{Suite: "gemm", Kiln: kiln, Unit: "GFLOP/s"}
	if haveOpenBLAS {
		res.Peer, res.PeerName = speed["openblas"], "openblas"
		fmt.Printf("kiln/openblas %.3f\n", kiln/speed["openblas"])
	} else {
		res.Peer, res.PeerName = speed["gonum"], "gonum"
		fmt.Println("openblas: not built in (go run -tags openblas ./internal/bench gemm)")
	}
	fmt.Printf("kiln/gonum %.2f\n", kiln/speed["gonum"])
	res.Extra = append(res.Extra,
		extra{"n", float64(size)}, extra{"threads", float64(*threads)},
		extra{"gonum", speed["gonum"]}, extra{"kiln_over_gonum", kiln / speed["gonum"]})
	if *threads > 1 {
		sc := kiln / speed["kiln-1t"]
		fmt.Printf("kiln %d threads / 1 thread %.2f\n", *threads, sc)
		res.Extra = append(res.Extra, extra{"kiln_1t", speed["kiln-1t"]}, extra{"kiln_scaling", sc})
	}
	line, err := res.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// maxRelDiff is the largest |x-y| over the elements, relative to the
// largest |x|.
func maxRelDiff(x, y []float32) float64 {
	var d, m float64
	for i := range x {
		d = max(d, math.Abs(float64(x[i])-float64(y[i])))
		m = max(m, math.Abs(float64(x[i])))
	}
	if m == 0 {
		return d
	}
	return d / m
}
