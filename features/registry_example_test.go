package features_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// Define an entity, a feature view over a Parquet file and a feature
// service, apply them to a registry kept in a version repository, change
// the view, and read it back as it is and as it was.
func ExampleRegistry() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "kiln-registry")
	defer os.RemoveAll(dir)

	// A feature table: one row per driver and hour.
	csv := filepath.Join(dir, "driver_stats.csv")
	os.WriteFile(csv, []byte("driver_id,event_timestamp,conv_rate,trips\n"+
		"1001,2026-01-01T10:00:00Z,0.5,10\n"+
		"1002,2026-01-01T10:00:00Z,0.25,3\n"), 0o644)
	table := filepath.Join(dir, "driver_stats.parquet")
	if _, err := pipeline.New(pipeline.CSV(csv, pipeline.CSVOptions{})).Run(ctx,
		pipeline.ToParquet(table, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		log.Fatal(err)
	}

	repo, err := version.Open(ctx, filepath.Join(dir, "repo"), version.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, "feature_store")
	if err != nil {
		log.Fatal(err)
	}

	driver := features.Entity{Name: "driver", JoinKeys: []features.Field{{Name: "driver_id", Type: features.TypeInt64}}}
	stats := features.FeatureView{
		Name:     "driver_stats",
		Entities: []string{"driver"},
		Features: []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}},
		TTL:      24 * time.Hour,
		Source:   features.BatchSource{Path: table, Timestamp: "event_timestamp"},
		Online:   true,
	}
	model := features.FeatureService{Name: "ranking", Features: []string{"driver_stats:conv_rate"}}
	v, err := reg.Apply(ctx, driver, stats, model)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied version", v)

	// A feature the source does not have is refused, and nothing changes.
	bad := stats
	bad.Features = []features.Field{{Name: "rating", Type: features.TypeFloat64}}
	_, err = reg.Apply(ctx, bad)
	fmt.Println(err != nil)

	// Add a feature: a new version.
	stats.Features = append(stats.Features, features.Field{Name: "trips", Type: features.TypeInt64})
	if v, err = reg.Apply(ctx, stats); err != nil {
		log.Fatal(err)
	}
	fmt.Println("applied version", v)

	for _, ref := range []string{"driver_stats@1", "driver_stats"} {
		view, err := reg.View(ctx, ref)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ref, view.Features)
	}
	// Output:
	// applied version 1
	// true
	// applied version 2
	// driver_stats@1 [{conv_rate float64}]
	// driver_stats [{conv_rate float64} {trips int64}]
}
