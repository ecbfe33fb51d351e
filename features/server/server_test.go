package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	"github.com/kilnml/kiln/features/server"
	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/version"
)

// fixture is a feature store with:
//   - entity driver (driver_id int64);
//   - view driver_stats (no TTL): conv_rate float64, trips int64, f0…f{n-1}
//     float64, rows for drivers 1001 and 1002 (1003 has a null conv_rate);
//   - view old_stats (TTL 1 h, rows from January 2026): rating float64;
//   - service ranking: driver_stats:conv_rate, old_stats:rating;
//
// all materialized into online.
func fixture(t testing.TB, extra int, onl online.Store) *features.FeatureStore {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()

	var hdr, fcols strings.Builder
	for i := range extra {
		fmt.Fprintf(&hdr, ",f%d", i)
		fmt.Fprintf(&fcols, ",%d.5", i)
	}
	csv := "driver_id,event_timestamp,conv_rate,trips" + hdr.String() + "\n" +
		"1001,2026-01-01T09:00:00Z,0.1,1" + fcols.String() + "\n" +
		"1001,2026-01-01T10:00:00Z,0.5,10" + fcols.String() + "\n" +
		"1002,2026-01-01T10:00:00Z,0.25,3" + fcols.String() + "\n" +
		"1003,2026-01-01T10:00:00Z,,4" + fcols.String() + "\n"
	stats := toParquet(t, dir, "driver_stats", csv)
	old := toParquet(t, dir, "old_stats", "driver_id,event_timestamp,rating\n1001,2026-01-01T10:00:00Z,4.5\n")

	repo, err := version.Open(ctx, filepath.Join(dir, "repo"), version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	reg, err := features.OpenRegistry(ctx, repo, "fs")
	if err != nil {
		t.Fatal(err)
	}
	feats := []features.Field{{Name: "conv_rate", Type: features.TypeFloat64}, {Name: "trips", Type: features.TypeInt64}}
	for i := range extra {
		feats = append(feats, features.Field{Name: fmt.Sprintf("f%d", i), Type: features.TypeFloat64})
	}
	if _, err := reg.Apply(ctx,
		features.Entity{Name: "driver", JoinKeys: []features.Field{{Name: "driver_id", Type: features.TypeInt64}}},
		features.FeatureView{Name: "driver_stats", Entities: []string{"driver"}, Features: feats,
			Source: features.BatchSource{Path: stats, Timestamp: "event_timestamp"}, Online: true},
		features.FeatureView{Name: "old_stats", Entities: []string{"driver"}, TTL: time.Hour,
			Features: []features.Field{{Name: "rating", Type: features.TypeFloat64}},
			Source:   features.BatchSource{Path: old, Timestamp: "event_timestamp"}, Online: true},
		features.FeatureService{Name: "ranking", Features: []string{"driver_stats:conv_rate", "old_stats:rating"}},
	); err != nil {
		t.Fatal(err)
	}
	if onl == nil {
		onl = online.NewMemory()
	}
	t.Cleanup(func() { onl.Close() })
	fs, err := features.NewStore(reg, features.StoreOptions{Online: onl})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Materialize(ctx, []string{"driver_stats", "old_stats"},
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return fs
}

func toParquet(t testing.TB, dir, name, csv string) string {
	t.Helper()
	src := filepath.Join(dir, name+".csv")
	if err := os.WriteFile(src, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name+".parquet")
	if _, err := pipeline.New(pipeline.CSV(src, pipeline.CSVOptions{})).Run(context.Background(),
		pipeline.ToParquet(dst, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	return dst
}

// post sends body to srv's path and returns the status and decoded JSON.
func post(t testing.TB, c *http.Client, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("POST %s: Content-Type %q", url, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("POST %s: response %q is not JSON: %v", url, data, err)
	}
	return resp.StatusCode, out
}

func TestGetOnlineFeatures(t *testing.T) {
	srv := httptest.NewServer(server.New(fixture(t, 0, nil), server.Options{}))
	defer srv.Close()
	const epoch = "1970-01-01T00:00:00Z"
	const t10 = "2026-01-01T10:00:00Z"
	tests := []struct {
		name, body string
		want       string
	}{{
		name: "features",
		body: `{"features":["driver_stats:conv_rate","driver_stats:trips"],"entities":{"driver_id":[1001,1002,9999,1003]}}`,
		want: `{"metadata":{"feature_names":["driver_id","conv_rate","trips"]},"results":[
			{"values":[1001,1002,9999,1003],"statuses":["PRESENT","PRESENT","PRESENT","PRESENT"],"event_timestamps":["` + epoch + `","` + epoch + `","` + epoch + `","` + epoch + `"]},
			{"values":[0.5,0.25,null,null],"statuses":["PRESENT","PRESENT","NOT_FOUND","NULL_VALUE"],"event_timestamps":["` + t10 + `","` + t10 + `","` + epoch + `","` + t10 + `"]},
			{"values":[10,3,null,4],"statuses":["PRESENT","PRESENT","NOT_FOUND","PRESENT"],"event_timestamps":["` + t10 + `","` + t10 + `","` + epoch + `","` + t10 + `"]}]}`,
	}, {
		name: "full feature names",
		body: `{"features":["driver_stats:trips"],"entities":{"driver_id":[1002]},"full_feature_names":true}`,
		want: `{"metadata":{"feature_names":["driver_id","driver_stats__trips"]},"results":[
			{"values":[1002],"statuses":["PRESENT"],"event_timestamps":["` + epoch + `"]},
			{"values":[3],"statuses":["PRESENT"],"event_timestamps":["` + t10 + `"]}]}`,
	}, {
		name: "feature service, outside max age",
		body: `{"feature_service":"ranking","entities":{"driver_id":[1001]}}`,
		want: `{"metadata":{"feature_names":["driver_id","conv_rate","rating"]},"results":[
			{"values":[1001],"statuses":["PRESENT"],"event_timestamps":["` + epoch + `"]},
			{"values":[0.5],"statuses":["PRESENT"],"event_timestamps":["` + t10 + `"]},
			{"values":[null],"statuses":["OUTSIDE_MAX_AGE"],"event_timestamps":["` + t10 + `"]}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := post(t, srv.Client(), srv.URL+"/get-online-features", "", tt.body)
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, got)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("response (-want +got):\n%s", d)
			}
		})
	}
}

// TestBadRequests sends bad requests, concurrently with good ones, and
// checks each gets its 4xx with a JSON error while the good ones keep
// being answered.
func TestBadRequests(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(server.New(fixture(t, 0, nil), server.Options{MaxBodyBytes: 4096, Registerer: reg}))
	defer srv.Close()
	good := `{"features":["driver_stats:trips"],"entities":{"driver_id":[1002]}}`
	tests := []struct {
		name, path, body string
		code             int
	}{
		{"malformed JSON", "/get-online-features", `{"features":["driver_stats:trips"],`, 400},
		{"not an object", "/get-online-features", `[1,2]`, 400},
		{"empty body", "/get-online-features", ``, 400},
		{"trailing data", "/get-online-features", good + `{}`, 400},
		{"wrong field type", "/get-online-features", `{"features":"driver_stats:trips","entities":{"driver_id":[1]}}`, 400},
		{"object as entity value", "/get-online-features", `{"features":["driver_stats:trips"],"entities":{"driver_id":[{}]}}`, 400},
		{"no entities", "/get-online-features", `{"features":["driver_stats:trips"]}`, 400},
		{"uneven entity columns", "/get-online-features", `{"features":["driver_stats:trips"],"entities":{"driver_id":[1,2],"x":[1]}}`, 400},
		{"features and service", "/get-online-features", `{"features":["driver_stats:trips"],"feature_service":"ranking","entities":{"driver_id":[1]}}`, 400},
		{"no features", "/get-online-features", `{"entities":{"driver_id":[1]}}`, 400},
		{"missing join key", "/get-online-features", `{"features":["driver_stats:trips"],"entities":{"driver":[1]}}`, 400},
		{"wrong join key type", "/get-online-features", `{"features":["driver_stats:trips"],"entities":{"driver_id":[true]}}`, 400},
		{"unknown feature", "/get-online-features", `{"features":["driver_stats:nope"],"entities":{"driver_id":[1]}}`, 404},
		{"unknown view", "/get-online-features", `{"features":["nope:trips"],"entities":{"driver_id":[1]}}`, 404},
		{"unknown service", "/get-online-features", `{"feature_service":"nope","entities":{"driver_id":[1]}}`, 404},
		{"oversized body", "/get-online-features", `{"features":["driver_stats:trips"],"entities":{"driver_id":[` + strings.Repeat("1,", 4096) + `1]}}`, 413},
		{"unknown path", "/nope", good, 404},
		{"push malformed", "/push", `{"push_source_name":`, 400},
		{"push unknown view", "/push", `{"push_source_name":"nope","df":{"driver_id":[1]}}`, 404},
		{"push missing column", "/push", `{"push_source_name":"driver_stats","df":{"driver_id":[1],"event_timestamp":["2026-01-02 00:00:00"]}}`, 400},
		{"push wrong type", "/push", `{"push_source_name":"driver_stats","df":{"driver_id":["a"],"event_timestamp":["2026-01-02 00:00:00"],"conv_rate":[1.0],"trips":[1]}}`, 400},
		{"push bad time", "/push", `{"push_source_name":"driver_stats","df":{"driver_id":[1],"event_timestamp":["yesterday"],"conv_rate":[1.0],"trips":[1]}}`, 400},
		{"push offline", "/push", `{"push_source_name":"driver_stats","to":"offline","df":{"driver_id":[1]}}`, 400},
		{"push oversized", "/push", `{"push_source_name":"driver_stats","df":{"driver_id":[` + strings.Repeat("1,", 4096) + `1]}}`, 413},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	goodErr := make(chan error, 1)
	wg.Add(1)
	go func() { // good requests all along
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			resp, err := srv.Client().Post(srv.URL+"/get-online-features", "application/json", strings.NewReader(good))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("good request answered %d", resp.StatusCode)
				}
			}
			if err != nil {
				select {
				case goodErr <- err:
				default:
				}
				return
			}
		}
	}()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := post(t, srv.Client(), srv.URL+tt.path, "", tt.body)
			if code != tt.code {
				t.Errorf("status %d, want %d: %v", code, tt.code, got)
			}
			if msg, _ := got["error"].(string); msg == "" {
				t.Errorf("no error message: %v", got)
			}
			if sc, _ := got["status_code"].(float64); int(sc) != tt.code {
				t.Errorf("status_code %v, want %d", got["status_code"], tt.code)
			}
			// Still serving.
			if code, got := post(t, srv.Client(), srv.URL+"/get-online-features", "", good); code != 200 {
				t.Fatalf("good request after a bad one: %d %v", code, got)
			}
		})
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-goodErr:
		t.Fatal(err)
	default:
	}

	// Wrong method.
	resp, err := srv.Client().Get(srv.URL + "/get-online-features")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET /get-online-features: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// Metrics counted the answers.
	counts := requestCounts(t, reg)
	if counts["/get-online-features 413"] != 1 || counts["/push 404"] != 1 || counts["/get-online-features 405"] != 1 {
		t.Errorf("request counts: %v", counts)
	}
	if counts["/get-online-features 200"] < len(tests) {
		t.Errorf("request counts: %v, want ≥ %d good ones", counts, len(tests))
	}
}

// requestCounts returns kiln_feature_server_requests_total by "path code".
func requestCounts(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var sawDuration bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "kiln_feature_server_requests_total":
			for _, m := range mf.GetMetric() {
				var path, code string
				for _, l := range m.GetLabel() {
					switch l.GetName() {
					case "path":
						path = l.GetValue()
					case "code":
						code = l.GetValue()
					}
				}
				counts[path+" "+code] = int(m.GetCounter().GetValue())
			}
		case "kiln_feature_server_request_duration_seconds":
			sawDuration = true
		}
	}
	if !sawDuration {
		t.Error("no kiln_feature_server_request_duration_seconds")
	}
	return counts
}

func TestPush(t *testing.T) {
	srv := httptest.NewServer(server.New(fixture(t, 0, nil), server.Options{}))
	defer srv.Close()
	// Feast's example request: an extra column and a created column that
	// the view does not have are ignored.
	code, got := post(t, srv.Client(), srv.URL+"/push", "", `{
		"push_source_name": "driver_stats",
		"df": {"driver_id": [1001, 1004], "event_timestamp": ["2026-01-02 10:59:42", "2026-01-02T11:00:00+01:00"],
		       "created": ["2026-01-02 10:59:42", "2026-01-02 10:59:42"],
		       "conv_rate": [0.75, null], "trips": [11, 1], "string_feature": ["x", "y"]},
		"to": "online"}`)
	if code != 200 {
		t.Fatalf("push: %d %v", code, got)
	}
	code, got = post(t, srv.Client(), srv.URL+"/get-online-features", "",
		`{"features":["driver_stats:conv_rate","driver_stats:trips"],"entities":{"driver_id":[1001,1004]},"full_feature_names":true}`)
	if code != 200 {
		t.Fatalf("get: %d %v", code, got)
	}
	want := map[string]any{
		"metadata": map[string]any{"feature_names": []any{"driver_id", "driver_stats__conv_rate", "driver_stats__trips"}},
		"results": []any{
			map[string]any{"values": []any{1001.0, 1004.0}, "statuses": []any{"PRESENT", "PRESENT"},
				"event_timestamps": []any{"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"}},
			map[string]any{"values": []any{0.75, nil}, "statuses": []any{"PRESENT", "NULL_VALUE"},
				"event_timestamps": []any{"2026-01-02T10:59:42Z", "2026-01-02T10:00:00Z"}},
			map[string]any{"values": []any{11.0, 1.0}, "statuses": []any{"PRESENT", "PRESENT"},
				"event_timestamps": []any{"2026-01-02T10:59:42Z", "2026-01-02T10:00:00Z"}},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after push (-want +got):\n%s", d)
	}
}

func TestBearerToken(t *testing.T) {
	srv := httptest.NewServer(server.New(fixture(t, 0, nil), server.Options{BearerToken: "s3cret"}))
	defer srv.Close()
	body := `{"features":["driver_stats:trips"],"entities":{"driver_id":[1002]}}`
	for _, tok := range []string{"", "wrong", "s3cretx", "s3cre"} {
		code, got := post(t, srv.Client(), srv.URL+"/get-online-features", tok, body)
		if code != http.StatusUnauthorized {
			t.Errorf("token %q: %d %v", tok, code, got)
		}
	}
	if code, got := post(t, srv.Client(), srv.URL+"/get-online-features", "s3cret", body); code != 200 {
		t.Errorf("right token: %d %v", code, got)
	}
	// Health needs no token.
	resp, err := srv.Client().Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/health: %d", resp.StatusCode)
	}
}

// slowStore is an online store whose reads wait for their context to end.
type slowStore struct{ online.Store }

func (s slowStore) Read(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time) ([][]online.Result, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (s slowStore) ReadInto(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time, out [][]online.Result) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestTimeout(t *testing.T) {
	fs := fixture(t, 0, slowStore{online.NewMemory()})
	srv := httptest.NewServer(server.New(fs, server.Options{Timeout: 20 * time.Millisecond}))
	defer srv.Close()
	code, got := post(t, srv.Client(), srv.URL+"/get-online-features", "",
		`{"features":["driver_stats:trips"],"entities":{"driver_id":[1002]}}`)
	if code != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504: %v", code, got)
	}
}

// BenchmarkServerOneEntity loads the server on loopback with one-entity
// requests of 1 and of 50 features read from Badger, from parallel
// HTTP/1.1 clients (keep-alive), and reports the throughput and the latency
// percentiles seen by the clients.
func BenchmarkServerOneEntity(b *testing.B) {
	onl, err := badgerstore.Open(b.TempDir(), badgerstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fs := fixture(b, 48, onl)
	srv := httptest.NewServer(server.New(fs, server.Options{Registerer: prometheus.NewRegistry()}))
	defer srv.Close()
	refs := make([]string, 0, 50)
	refs = append(refs, `"driver_stats:conv_rate"`, `"driver_stats:trips"`)
	for i := range 48 {
		refs = append(refs, fmt.Sprintf(`"driver_stats:f%d"`, i))
	}
	for _, n := range []int{1, 50} {
		b.Run(fmt.Sprintf("features=%d", n), func(b *testing.B) {
			body := []byte(`{"features":[` + strings.Join(refs[:n], ",") + `],"entities":{"driver_id":[1001]}}`)
			loadServer(b, srv, body)
		})
	}
}

// loadServer posts body to srv's /get-online-features from 4×GOMAXPROCS
// connections and reports req/s, p50 and p99.
func loadServer(b *testing.B, srv *httptest.Server, body []byte) {
	client := srv.Client()
	// Check the answer once.
	resp, err := client.Post(srv.URL+"/get-online-features", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || bytes.Contains(out, []byte("NOT_FOUND")) {
		b.Fatalf("%d %s", resp.StatusCode, out)
	}

	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	// The load generator speaks HTTP/1.1 on raw keep-alive connections, as
	// wrk does, so that the client's cost stays small beside the server's
	// on a machine of few cores.
	req := fmt.Appendf(nil, "POST /get-online-features HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	addr := srv.Listener.Addr().String()
	b.SetParallelism(4) // 4 connections per GOMAXPROCS
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		r := bufio.NewReaderSize(conn, 16<<10)
		var mine []time.Duration
		buf := make([]byte, 0, 16<<10)
		for pb.Next() {
			t0 := time.Now()
			if _, err := conn.Write(req); err != nil {
				b.Error(err)
				return
			}
			if buf, err = readResponse(r, buf); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lats = append(lats, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lats) == 0 {
		return
	}
	slices.Sort(lats)
	pct := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))].Microseconds()) }
	b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// readResponse reads one HTTP/1.1 response of status 200 with a
// Content-Length from r, its body into buf.
func readResponse(r *bufio.Reader, buf []byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return buf, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return buf, fmt.Errorf("response %q", line)
	}
	n := -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return buf, err
			}
		}
	}
	if n < 0 {
		return buf, errors.New("response without Content-Length")
	}
	buf = slices.Grow(buf[:0], n)[:n]
	_, err = io.ReadFull(r, buf)
	return buf, err
}
