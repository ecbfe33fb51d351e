package monitor_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/pipeline"
)

// A service profiles its training data once, keeps the profile (not the
// data) and feeds every request batch to a monitor that reports each
// window of 200 rows.
func Example() {
	ctx := context.Background()
	// Seattle's weather: 2012 and 2013 are the reference, 2014 and 2015
	// arrive later in batches.
	sink := pipeline.Collect()
	if _, err := pipeline.New(pipeline.CSV("../testdata/seattle-weather.csv", pipeline.CSVOptions{})).Run(ctx, sink, pipeline.RunOptions{}); err != nil {
		log.Fatal(err)
	}
	tbl := sink.Table()
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 731)
	defer tr.Release()
	tr.Next()
	train := tr.RecordBatch()

	pr, err := monitor.NewProfiler(train.Schema(), monitor.ProfileOptions{Columns: []string{"precipitation", "temp_max", "wind", "weather"}})
	if err != nil {
		log.Fatal(err)
	}
	if err := pr.Add(train); err != nil {
		log.Fatal(err)
	}
	ref := pr.Profile()

	m, err := monitor.New(monitor.Options{
		Name:      "weather",
		Reference: ref,
		Window:    monitor.Tumbling(200),
		OnWindow: func(r *monitor.Report) {
			fmt.Printf("window of %d rows: %d of %d columns drifted\n", r.Rows, r.Drifted, len(r.Columns))
			for _, c := range r.Columns {
				if c.Drift {
					fmt.Printf("  %s: %s p = %.2g\n", c.Column, c.Method, *c.PValue)
				}
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for tr.Next() {
		b := tr.RecordBatch()
		for i := int64(0); i < b.NumRows(); i += 100 {
			s := b.NewSlice(i, min(i+100, b.NumRows()))
			if err := m.Observe(s); err != nil {
				log.Fatal(err)
			}
			s.Release()
		}
	}
	// Output:
	// window of 200 rows: 2 of 4 columns drifted
	//   wind: ks p = 0.00088
	//   weather: chi2 p = 1.3e-05
	// window of 200 rows: 1 of 4 columns drifted
	//   weather: chi2 p = 3.4e-15
	// window of 200 rows: 3 of 4 columns drifted
	//   precipitation: ks p = 0.00013
	//   temp_max: ks p = 8.3e-12
	//   weather: chi2 p = 1.8e-10
}

func ExampleKS2Samp() {
	r, err := monitor.KS2Samp([]float64{0.99, 1.99}, []float64{1, 2, 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("D = %.4f, p = %.4f, exact: %v\n", r.D, r.PValue, r.Exact)
	// Output: D = 0.6667, p = 0.6000, exact: true
}

// Predictions are logged when served; labels come in later, and each
// window of joined labels gives the model's accuracy.
func ExamplePerformance() {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	p, err := monitor.NewPerformance(monitor.PerformanceOptions{
		Name:    "churn",
		Task:    monitor.Classification,
		Horizon: 24 * time.Hour,
		Window:  monitor.Tumbling(4),
		Now:     func() time.Time { return now },
		OnWindow: func(r monitor.PerformanceReport) {
			fmt.Printf("%d labels joined, accuracy %.2f\n", r.Joined, r.Accuracy)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	for i, pred := range []float64{1, 0, 1, 1} {
		p.Predict(fmt.Sprint("user-", i), pred)
	}
	now = now.Add(3 * time.Hour)
	for i, label := range []float64{1, 0, 0, 1} {
		p.Label(fmt.Sprint("user-", i), label)
	}
	// Output: 4 labels joined, accuracy 0.75
}
