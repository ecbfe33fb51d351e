package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
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

	"github.com/parquet-go/parquet-go"

	"github.com/kilnml/kiln/examples/internal/story"
	"github.com/kilnml/kiln/internal/redistest"
	"github.com/kilnml/kiln/version"
)

// setup tells the story into a temporary folder (quickly: one epoch on a
// sample), then registers the champion's artifact twice more, as versions
// 2 (aliased "challenger") and 3.
func setup(t *testing.T) (dir string, champion int) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	res, err := story.Run(ctx, story.Config{Data: "../../testdata/flights-20k.csv", Dir: dir, Seed: 1, Epochs: 1, MaxTrainRows: 4000})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := version.Open(ctx, filepath.Join(dir, "repo"), version.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	mv, err := repo.ResolveModel(ctx, story.ModelName+"@"+championAlias)
	if err != nil {
		t.Fatal(err)
	}
	if mv.Version != res.Model.Version {
		t.Fatalf("champion is version %d, the story registered %d", mv.Version, res.Model.Version)
	}
	for range 2 {
		rc, err := repo.OpenModel(ctx, fmt.Sprintf("%s/%d", mv.Name, mv.Version))
		if err != nil {
			t.Fatal(err)
		}
		nv, err := repo.RegisterModel(ctx, story.ModelName, rc, mv.Meta)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if nv.Version == mv.Version+1 {
			if err := repo.SetAlias(ctx, story.ModelName, challengerAlias, nv.Version); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir, mv.Version
}

// flights reads requests from the test data.
func flights(t *testing.T, n int) []story.Request {
	t.Helper()
	f, err := os.Open("../../testdata/flights-20k.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil { // date,delay,distance,origin,destination
		t.Fatal(err)
	}
	var out []story.Request
	for len(out) < n {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		when, err := time.Parse("2006-01-02 15:04:05", rec[0])
		if err != nil {
			t.Fatal(err)
		}
		dist, err := strconv.ParseFloat(rec[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, story.Request{Origin: rec[3], Destination: rec[4], Distance: dist, Time: when})
	}
	return out
}

type client struct {
	t     *testing.T
	base  string
	http  *http.Client
	token string // sent as a bearer token when set
}

func (c *client) post(path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (c *client) get(path string) (int, []byte) {
	c.t.Helper()
	resp, err := c.http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// result is one load-test request as the client saw it.
type result struct {
	start, end time.Time
	status     int
	err        error
	resp       response
}

func TestService(t *testing.T) {
	dir, champ := setup(t)
	newVersion := champ + 2 // version 2 is the challenger, 3 the champion to be
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := newServer(ctx, config{
		Dir:         dir,
		LogQueue:    32, // small: the load meets backpressure
		LogFileRows: 500,
		Reload:      100 * time.Millisecond,
		DriftWindow: 200,
		AdminToken:  "test-token",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, ln, 10*time.Second) }()
	c := &client{t: t, base: "http://" + ln.Addr().String(), http: &http.Client{
		Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	if status, body, err := c.post("/admin/alias", "application/json", []byte(`{"alias":"champion","version":1}`)); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("POST /admin/alias without the token = %d %s %v, want 401", status, body, err)
	}
	c.token = "test-token"
	answered := 0 // 200 answers: each has a champion and a shadow row in the log

	reqs := flights(t, 2000)
	body := func(r story.Request) []byte {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("bad input", func(t *testing.T) {
		good := string(body(reqs[0]))
		big := `{"origin":"` + strings.Repeat("A", maxBody) + `"}`
		for _, tc := range []struct {
			name, ct, body string
			status         int
			msg            string
		}{
			{"malformed", "application/json", `{"origin":`, 400, "malformed JSON"},
			{"empty", "application/json", ``, 400, "empty body"},
			{"not an object", "application/json", `42`, 400, "malformed JSON"},
			{"trailing data", "application/json", good + `{}`, 400, "data after"},
			{"unknown field", "application/json", `{"origin":"ORD","destination":"LGA","distance":733,"time":"2001-01-15T08:30:00Z","seats":3}`, 400, "unknown field"},
			{"missing fields", "application/json", `{"origin":"ORD"}`, 400, "missing fields: destination, distance, time"},
			{"bad time", "application/json", `{"origin":"ORD","destination":"LGA","distance":733,"time":"yesterday"}`, 400, "malformed JSON"},
			{"bad airport", "application/json", `{"origin":"O'HARE","destination":"LGA","distance":733,"time":"2001-01-15T08:30:00Z"}`, 400, "airport"},
			{"bad distance", "application/json", `{"origin":"ORD","destination":"LGA","distance":-5,"time":"2001-01-15T08:30:00Z"}`, 400, "distance"},
			{"not JSON", "text/plain", good, 415, "content type"},
			{"too large", "application/json", big, 413, "larger than"},
			{"empty batch", "application/json", `[]`, 400, "a batch holds"},
			{"bad batch item", "application/json", `[` + good + `,{"origin":"ORD"}]`, 400, "request 1: missing fields"},
		} {
			status, b, err := c.post("/predict", tc.ct, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error string }
			if status != tc.status || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, tc.msg) {
				t.Errorf("%s: got %d %s, want %d and an error with %q", tc.name, status, b, tc.status, tc.msg)
			}
		}
		if st, _ := c.get("/predict"); st != http.StatusMethodNotAllowed {
			t.Errorf("GET /predict: %d, want 405", st)
		}
		// An airport the online store has no features for is scored with
		// zero traffic features, as flights from airports without recent
		// departures were in training.
		status, b, err := c.post("/predict", "application/json",
			[]byte(`{"origin":"zzz","destination":"LGA","distance":733,"time":"2001-01-15T08:30:00Z"}`))
		if err != nil {
			t.Fatal(err)
		}
		var r response
		if status != 200 || json.Unmarshal(b, &r) != nil || r.Inputs["origin_departures"] != 0 || r.Probability < 0 || r.Probability > 1 {
			t.Errorf("unknown airport: %d %s", status, b)
		}
		answered++
	})

	t.Run("batch", func(t *testing.T) {
		b, _ := json.Marshal(reqs[:5])
		status, out, err := c.post("/predict", "application/json", b)
		if err != nil {
			t.Fatal(err)
		}
		var rs []response
		if status != 200 || json.Unmarshal(out, &rs) != nil || len(rs) != 5 {
			t.Fatalf("batch: %d %s", status, out)
		}
		for _, r := range rs {
			if r.Model != fmt.Sprintf("%s/%d", story.ModelName, champ) || r.Probability < 0 || r.Probability > 1 || len(r.Inputs) == 0 {
				t.Errorf("batch answer %+v", r)
			}
		}
		answered += 5
	})

	// The load: workers × perWorker requests; the champion alias moves to
	// the new version when half of them are answered.
	const workers, perWorker = 8, 150
	results := make([][]result, workers)
	var (
		mu                 sync.Mutex
		done               int
		moveStart, moveEnd time.Time
		moveStatus         int
		moveBody           []byte
		moveErr            error
		moveOnce           sync.Once
		moveWG             sync.WaitGroup
		loadStart          = time.Now()
	)
	move := func() {
		moveWG.Add(1)
		go func() {
			defer moveWG.Done()
			moveStart = time.Now()
			moveStatus, moveBody, moveErr = c.post("/admin/alias", "application/json",
				[]byte(fmt.Sprintf(`{"alias":"champion","version":%d}`, newVersion)))
			mu.Lock()
			moveEnd = time.Now()
			mu.Unlock()
		}()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				req := reqs[(w*perWorker+i)%len(reqs)]
				r := result{start: time.Now()}
				var b []byte
				r.status, b, r.err = c.post("/predict", "application/json", body(req))
				r.end = time.Now()
				if r.err == nil && r.status == 200 {
					r.err = json.Unmarshal(b, &r.resp)
				} else if r.err == nil {
					r.err = fmt.Errorf("status %d: %s", r.status, b)
				}
				results[w] = append(results[w], r)
				mu.Lock()
				done++
				if done == workers*perWorker/2 {
					moveOnce.Do(move)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	moveWG.Wait()
	elapsed := time.Since(loadStart)
	if moveErr != nil || moveStatus != 200 {
		t.Fatalf("moving the alias: %d %s %v", moveStatus, moveBody, moveErr)
	}

	var (
		errs      int
		lat       []time.Duration
		byModel   = map[string]int{}
		champName = fmt.Sprintf("%s/%d", story.ModelName, champ)
		newName   = fmt.Sprintf("%s/%d", story.ModelName, newVersion)
		modelOf   = map[string]string{}
	)
	for _, rs := range results {
		for _, r := range rs {
			if r.err != nil {
				errs++
				if errs < 5 {
					t.Errorf("request: %v", r.err)
				}
				continue
			}
			answered++
			lat = append(lat, r.end.Sub(r.start))
			byModel[r.resp.Model]++
			modelOf[r.resp.RequestID] = r.resp.Model
			switch {
			case r.start.After(moveEnd) && r.resp.Model != newName:
				t.Errorf("request sent after the move answered by %s", r.resp.Model)
			case r.end.Before(moveStart) && r.resp.Model != champName:
				t.Errorf("request answered before the move by %s", r.resp.Model)
			}
		}
	}
	if errs > 0 || len(lat) != workers*perWorker {
		t.Fatalf("%d errors, %d of %d requests answered", errs, len(lat), workers*perWorker)
	}
	if byModel[champName] == 0 || byModel[newName] == 0 {
		t.Errorf("answers by model %v: want both %s and %s", byModel, champName, newName)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("load: %d requests (%d workers) in %.2fs = %.0f req/s; latency p50 %v, p99 %v, max %v; answers by model %v",
		len(lat), workers, elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), pct(0.5), pct(0.99), lat[len(lat)-1], byModel)

	// The poller sees the alias where the admin call left it: no flapping.
	time.Sleep(250 * time.Millisecond)
	if d := s.dep.Load(); d.name != newName || d.shadowN != fmt.Sprintf("%s/%d", story.ModelName, champ+1) {
		t.Errorf("serving %s (shadow %s) after the move", d.name, d.shadowN)
	}

	t.Run("drift", func(t *testing.T) {
		status, b := c.get("/drift?flush=1")
		var d struct {
			Model   string
			Monitor struct{ Rows int64 }
			Last    *struct {
				Rows    int64
				Columns []struct{ Column string }
			}
		}
		if status != 200 || json.Unmarshal(b, &d) != nil || d.Model != newName || d.Last == nil || len(d.Last.Columns) == 0 || d.Monitor.Rows == 0 {
			t.Errorf("/drift: %d %.400s", status, b)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		status, b := c.get("/metrics")
		text := string(b)
		for _, want := range []string{
			fmt.Sprintf(`kiln_service_requests_total{model=%q,status="200"}`, champName),
			fmt.Sprintf(`kiln_service_requests_total{model=%q,status="400"}`, champName),
			fmt.Sprintf(`kiln_service_request_duration_seconds_bucket{model=%q,status="200",le=`, newName),
			fmt.Sprintf(`kiln_service_predictions_total{model="%s/%d",role="shadow"}`, story.ModelName, champ+1),
			`kiln_service_model_version{alias="champion"} ` + strconv.Itoa(newVersion),
			`kiln_service_reloads_total{result="ok"}`,
			`kiln_service_log_rows_written_total`,
			`kiln_monitor_rows_observed_total{monitor="` + newName + `"}`,
			`kiln_monitor_column_drift{column="distance",method=`,
			`kiln_monitor_dataset_drift{monitor="` + newName + `"}`,
		} {
			if status != 200 || !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	// Graceful shutdown: the log must hold every answered prediction.
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no shutdown after 30s")
	}
	rows, files := readLog(t, dir)
	t.Logf("log: %d rows in %d files; %d log calls met a full queue", len(rows), len(files), s.plog.blocked.Load())
	seen := map[string]map[string]int{"champion": {}, "shadow": {}}
	for _, r := range rows {
		if seen[r.Role] == nil {
			t.Fatalf("row with role %q", r.Role)
		}
		seen[r.Role][r.RequestID]++
		if r.Role == "champion" {
			if m, ok := modelOf[r.RequestID]; ok && m != r.Model {
				t.Errorf("request %s: answered by %s, logged as %s", r.RequestID, m, r.Model)
			}
		} else if r.Model != fmt.Sprintf("%s/%d", story.ModelName, champ+1) || r.Error != "" {
			t.Errorf("shadow row %+v", r)
		}
		if r.Probability < 0 || r.Probability > 1 || len(r.Inputs) == 0 || r.Origin == "" || r.Departure.IsZero() {
			t.Errorf("row %+v", r)
		}
	}
	for role, ids := range seen {
		if len(ids) != answered {
			t.Errorf("%d %s rows' request IDs, %d answered requests", len(ids), role, answered)
		}
		for id, n := range ids {
			if n != 1 {
				t.Errorf("request %s: %d %s rows", id, n, role)
			}
		}
	}
	for id := range modelOf {
		if seen["champion"][id] != 1 || seen["shadow"][id] != 1 {
			t.Errorf("request %s: %d champion rows, %d shadow rows", id, seen["champion"][id], seen["shadow"][id])
		}
	}
	if len(rows) != 2*answered {
		t.Errorf("%d rows, want %d (champion + shadow for %d answers)", len(rows), 2*answered, answered)
	}
}

// readLog reads every prediction log file in dir back with parquet-go, and
// checks that no temporary file is left.
func readLog(t *testing.T, dir string) ([]Row, []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "predictions-*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".predictions-*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	var rows []Row
	for _, f := range files {
		rs, err := parquet.ReadFile[Row](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rows = append(rows, rs...)
	}
	return rows, files
}

// TestPredLogBackpressure writes from many goroutines through a tiny queue:
// every row arrives, in rotated files, and nothing waits forever.
func TestPredLogBackpressure(t *testing.T) {
	dir := t.TempDir()
	l, err := newPredLog(logOptions{Path: filepath.Join(dir, "predictions.parquet"), Queue: 2, FileRows: 700, GroupRows: 64})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 16, 250
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := Row{Time: time.Now(), RequestID: fmt.Sprintf("%d-%d", w, i), Role: "champion", Model: "m/1",
					Probability: 0.5, Inputs: map[string]float64{"x": float64(i)}}
				if err := l.Log(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(context.Background(), Row{}); err != errLogClosed {
		t.Errorf("Log after Close: %v", err)
	}
	rows, files := readLog(t, dir)
	if len(rows) != writers*each || len(files) != (writers*each+699)/700 || l.blocked.Load() == 0 {
		t.Errorf("%d rows in %d files, %d blocked calls; want %d rows in %d files, some blocked", len(rows), len(files),
			l.blocked.Load(), writers*each, (writers*each+699)/700)
	}
	ids := map[string]bool{}
	for _, r := range rows {
		if ids[r.RequestID] || r.Inputs["x"] < 0 {
			t.Errorf("row %+v twice or wrong", r)
		}
		ids[r.RequestID] = true
	}
}

func TestFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "-dir is required") {
		t.Errorf("no -dir: exit %d, %s", code, errOut.String())
	}
	errOut.Reset()
	if code := run(context.Background(), []string{"-dir", t.TempDir()}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "champion") {
		t.Errorf("empty repository: exit %d, %s", code, errOut.String())
	}
}

// TestRedis serves from Redis, filled at start (story.Materialize), and
// checks that it answers as the Badger store the story wrote does.
func TestRedis(t *testing.T) {
	srv := redistest.Start(t)
	dir, _ := setup(t)
	req, err := json.Marshal(flights(t, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	predict := func(cfg config) response {
		t.Helper()
		s, err := newServer(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}()
		ts := httptest.NewServer(s.handler())
		defer ts.Close()
		resp, err := http.Post(ts.URL+"/predict", "application/json", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r response
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		return r
	}
	fromBadger := predict(config{Dir: dir, Reload: -1})
	fromRedis := predict(config{Dir: dir, Reload: -1, Redis: srv.Addr(), Materialize: true})
	if fromBadger.Inputs["origin_departures"] == 0 || !maps.Equal(fromBadger.Inputs, fromRedis.Inputs) || fromBadger.Probability != fromRedis.Probability {
		t.Errorf("Badger answers %+v, Redis %+v", fromBadger, fromRedis)
	}
}

// TestPredLogRestart checks that a log started in the same second as an
// earlier one on the same path does not overwrite its files.
func TestPredLogRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "predictions.parquet")
	for i := range 3 {
		l, err := newPredLog(logOptions{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Log(context.Background(), Row{RequestID: strconv.Itoa(i), Inputs: map[string]float64{}}); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if rows, files := readLog(t, filepath.Dir(path)); len(rows) != 3 || len(files) != 3 {
		t.Errorf("%d rows in %d files, want 3 in 3", len(rows), len(files))
	}
}

// TestAdminOff checks that the alias endpoint is off without a token.
func TestAdminOff(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/admin/alias", strings.NewReader(`{"alias":"champion","version":2}`))
	req.Header.Set("Authorization", "Bearer ")
	(&server{}).handleAlias(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "-admin-token") {
		t.Fatalf("POST /admin/alias with no token configured = %d %s, want 403 naming -admin-token", rec.Code, rec.Body)
	}
}
