// Command flights tells Kiln's whole story (see examples/quickstart) on
// three million US flights: predicting delay > 15 minutes from airport
// traffic features built with point-in-time joins, printing each step's
// time. Run it from the repository root:
//
//	go run ./examples/flights [-data ../shared/data/flights-3m.parquet] [-dir DIR] [-epochs 3] [-max-train-rows 500000]
//
// -data is a flights CSV or Parquet file with the columns date, delay,
// distance, origin and destination. Output goes to DIR (a new temporary
// folder unless -dir names one): DIR/repo, DIR/online, DIR/report.html.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/kilnml/kiln/examples/internal/story"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := story.Config{Out: os.Stdout, Timings: true, Seed: 1}
	flag.StringVar(&c.Data, "data", "../shared/data/flights-3m.parquet", "flights CSV or Parquet file")
	flag.StringVar(&c.Dir, "dir", "", "output folder (default: a new temporary folder)")
	flag.IntVar(&c.Epochs, "epochs", 3, "passes over the training sample")
	flag.IntVar(&c.MaxTrainRows, "max-train-rows", 500000, "train on a random sample of at most this many flights (0: all)")
	flag.Parse()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "flights:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c story.Config, w io.Writer) error {
	if c.Dir == "" {
		d, err := os.MkdirTemp("", "kiln-flights-")
		if err != nil {
			return err
		}
		c.Dir = d
	}
	fmt.Fprintf(w, "Kiln flights: %s → %s\n", c.Data, c.Dir)
	start := time.Now()
	res, err := story.Run(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nstep times:\n")
	for i, s := range res.Steps {
		fmt.Fprintf(w, "  %2d. %-45s %7.2f s\n", i+1, s.Name, s.Seconds)
	}
	fmt.Fprintf(w, "  total %50.2f s\n", time.Since(start).Seconds())
	return nil
}
