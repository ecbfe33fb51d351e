package server_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	"github.com/kilnml/kiln/features/server"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// Serve a feature store with Feast's HTTP API and ask it for the features
// of two drivers, one of them unknown.
func ExampleNew() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "kiln-server")
	defer os.RemoveAll(dir)

	// A feature table, its definitions, and the store materialized.
	csv := filepath.Join(dir, "driver_stats.csv")
	os.WriteFile(csv, []byte("driver_id,event_timestamp,conv_rate\n1001,2026-01-01T10:00:00Z,0.5\n"), 0o644)
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
	if _, err := reg.Apply(ctx,
		features.Entity{Name: "driver", JoinKeys: []features.Field{{Name: "driver_id", Type: features.TypeInt64}}},
		features.FeatureView{Name: "driver_stats", Entities: []string{"driver"},
			Features: []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}},
			Source:   features.BatchSource{Path: table, Timestamp: "event_timestamp"}, Online: true},
	); err != nil {
		log.Fatal(err)
	}
	fs, err := features.NewStore(reg, features.StoreOptions{Online: online.NewMemory()})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := fs.Materialize(ctx, []string{"driver_stats"}, time.Time{}, time.Now()); err != nil {
		log.Fatal(err)
	}

	// Serve it (here on a test server; in a program, http.Server with
	// timeouts, as examples/featureserver does).
	srv := httptest.NewServer(server.New(fs, server.Options{}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/get-online-features", "application/json", strings.NewReader(
		`{"features":["driver_stats:conv_rate"],"entities":{"driver_id":[1001,1002]}}`))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status)
	fmt.Println(string(body))
	// Output:
	// 200 OK
	// {"metadata":{"feature_names":["driver_id","conv_rate"]},"results":[{"values":[1001,1002],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},{"values":[0.5,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-01-01T10:00:00Z","1970-01-01T00:00:00Z"]}]}
}
