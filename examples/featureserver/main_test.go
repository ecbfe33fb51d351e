package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// lines is an io.Writer that sends each line written to it on a channel.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
	ch  chan string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		i := bytes.IndexByte(l.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.buf.Next(i + 1))
		select {
		case l.ch <- strings.TrimSpace(line):
		default:
		}
	}
}

// setup applies an entity and a view over a Parquet file to a new
// repository and returns its folder.
func setup(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	csv := filepath.Join(dir, "driver_stats.csv")
	if err := os.WriteFile(csv, []byte("driver_id,event_timestamp,conv_rate\n"+
		"1001,2026-01-01T10:00:00Z,0.5\n1002,2026-01-01T10:00:00Z,0.25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(dir, "driver_stats.parquet")
	if _, err := pipeline.New(pipeline.CSV(csv, pipeline.CSVOptions{})).Run(ctx,
		pipeline.ToParquet(table, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(dir, "repo")
	repo, err := version.Open(ctx, repoDir, version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, "feature_store")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Apply(ctx,
		features.Entity{Name: "driver", JoinKeys: []features.Field{{Name: "driver_id", Type: features.TypeInt64}}},
		features.FeatureView{Name: "driver_stats", Entities: []string{"driver"},
			Features: []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}},
			Source:   features.BatchSource{Path: table, Timestamp: "event_timestamp"}, Online: true},
	); err != nil {
		t.Fatal(err)
	}
	return repoDir
}

func TestFeatureServer(t *testing.T) {
	repoDir := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lines{ch: make(chan string, 16)}
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-repo", repoDir, "-addr", "127.0.0.1:0", "-token", "tok", "-materialize"}, out, &stderr)
	}()
	var addr string
	timeout := time.After(30 * time.Second)
	for addr == "" {
		select {
		case line := <-out.ch:
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				addr = a
			}
		case code := <-done:
			t.Fatalf("exited with %d: %s", code, stderr.String())
		case <-timeout:
			t.Fatal("not listening after 30 s")
		}
	}

	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/get-online-features",
		strings.NewReader(`{"features":["driver_stats:conv_rate"],"entities":{"driver_id":[1001,1003]}}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var got, want any
	json.Unmarshal(body, &got)
	json.Unmarshal([]byte(`{"metadata":{"feature_names":["driver_id","conv_rate"]},"results":[
		{"values":[1001,1003],"statuses":["PRESENT","PRESENT"],"event_timestamps":["1970-01-01T00:00:00Z","1970-01-01T00:00:00Z"]},
		{"values":[0.5,null],"statuses":["PRESENT","NOT_FOUND"],"event_timestamps":["2026-01-01T10:00:00Z","1970-01-01T00:00:00Z"]}]}`), &want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("response (-want +got):\n%s", d)
	}

	// The metrics counted it.
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `kiln_feature_server_requests_total{code="200",path="/get-online-features"} 1`) {
		t.Errorf("metrics lack the request:\n%s", body)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown after 15 s")
	}
}

func TestFeatureServerFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-addr", ":0"}, &stdout, &stderr); code != 2 {
		t.Errorf("no -repo: exit %d, want 2", code)
	}
}
