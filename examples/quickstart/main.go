// Command quickstart tells Kiln's whole story on the 20,000-flight testdata
// slice, with the embedded defaults and no servers, in a few seconds:
//
//	go run ./examples/quickstart [-data testdata/flights-20k.csv] [-dir DIR]
//
// It ingests and validates the flights, commits them to a version
// repository, defines airport traffic features in the repository's feature
// registry and materializes them to an embedded Badger store, builds a
// point-in-time correct training set, fits the transforms, trains a
// classifier of "delay > 15 minutes" in a tracked run, registers it with its
// lineage as flight_delay@champion, predicts a few flights from the online
// features, and compares a drifted batch with the training inputs.
//
// Into DIR (a new temporary folder unless -dir names one; its path is
// printed) it writes:
//
//	DIR/repo/           the version repository: datasets, feature registry, runs, models
//	DIR/online/         the Badger online store
//	DIR/staging/        the validated flights and the rejected rows
//	DIR/report.html     the drift report
//
// The code of the story is in examples/internal/story; examples/service
// serves the model it registers.
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
	data := flag.String("data", "testdata/flights-20k.csv", "flights CSV or Parquet file")
	dir := flag.String("dir", "", "output folder (default: a new temporary folder)")
	flag.Parse()
	if _, err := run(ctx, *data, *dir, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, data, dir string, w io.Writer) (*story.Result, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", "kiln-quickstart-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	fmt.Fprintf(w, "Kiln quickstart: %s → %s\n", data, dir)
	start := time.Now()
	res, err := story.Run(ctx, story.Config{Data: data, Dir: dir, Out: w, Seed: 1})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "\ndone in %.1f s: the repository is %s, the online store %s, the report %s\n", time.Since(start).Seconds(), res.Repo, res.Online, res.Report)
	return res, nil
}
