package features_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// Materialize a feature view to an online store and read the latest
// features of two drivers, as a service answering a request would.
func ExampleFeatureStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "kiln-store")
	defer os.RemoveAll(dir)

	// A feature table: one row per driver and hour, the latest an hour ago.
	hour := time.Now().UTC().Truncate(time.Hour)
	csv := filepath.Join(dir, "driver_stats.csv")
	os.WriteFile(csv, []byte(fmt.Sprintf("driver_id,event_timestamp,conv_rate,trips\n"+
		"1001,%[1]s,0.5,10\n1001,%[2]s,0.75,12\n1002,%[1]s,0.25,3\n",
		hour.Add(-2*time.Hour).Format(time.RFC3339), hour.Add(-time.Hour).Format(time.RFC3339))), 0o644)
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
		Features: []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}, {Name: "trips", Type: features.TypeInt64}},
		TTL:      24 * time.Hour,
		Source:   features.BatchSource{Path: table, Timestamp: "event_timestamp"},
		Online:   true,
	}
	if _, err := reg.Apply(ctx, driver, stats); err != nil {
		log.Fatal(err)
	}

	// The online store: in memory here; badgerstore.Open for the embedded
	// default, redisstore.Open for a shared one.
	fs, err := features.NewStore(reg, features.StoreOptions{Online: online.NewMemory()})
	if err != nil {
		log.Fatal(err)
	}
	st, err := fs.MaterializeIncremental(ctx, nil, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written:", st.RowsWritten())

	res, err := fs.GetOnlineFeatures(ctx, []string{"driver_stats:conv_rate", "driver_stats:trips"},
		map[string][]online.Value{"driver_id": {online.Int(1001), online.Int(1002), online.Int(1003)}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Names)
	for r := range res.Rows() {
		fmt.Println(res.Values[0][r], res.Values[1][r], res.Values[2][r], res.Status[2][r])
	}
	// Output:
	// written: 2
	// [driver_id driver_stats__conv_rate driver_stats__trips]
	// 1001 0.75 12 present
	// 1002 0.25 3 present
	// 1003 null null not_found
}
