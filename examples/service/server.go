package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/kilnml/kiln/examples/internal/story"
	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	redisstore "github.com/kilnml/kiln/features/online/redis"
	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/monitor/prom"
	"github.com/kilnml/kiln/version"
)

// The aliases the service serves.
const (
	championAlias   = "champion"
	challengerAlias = "challenger"
)

// config configures a server.
type config struct {
	// Dir is the story's folder: Dir/repo (version repository) and
	// Dir/online (Badger online store).
	Dir string
	// Redis, when set, is the address of the Redis online store used
	// instead of Badger.
	Redis string
	// Materialize writes the repository's feature views into the online
	// store before serving (story.Materialize).
	Materialize bool
	// LogPath names the Parquet prediction log (default Dir/predictions.parquet).
	LogPath string
	// LogQueue, LogFileRows and LogFileAge configure the log (see logOptions).
	LogQueue    int
	LogFileRows int64
	LogFileAge  time.Duration
	// Reload is how often the aliases are checked (0: 2s; negative: never,
	// only POST /admin/alias reloads).
	Reload time.Duration
	// AdminToken is the bearer token POST /admin/alias needs; empty turns
	// the endpoint off.
	AdminToken string
	// DriftWindow is the drift monitor's tumbling window in rows (0: 1000).
	DriftWindow int64
	// MaxBatch bounds the requests of a batch (0: 1000).
	MaxBatch int
	// ShadowWorkers bounds the shadow predictions in flight (0: 64); when
	// all are busy a request waits for one (backpressure, nothing dropped).
	ShadowWorkers int
	// Timeout bounds one /predict call (0: 5s).
	Timeout time.Duration
	// Logger receives the service's log lines, StoreLogger those of the
	// repository's and the online store's Badger databases (nil: Logger).
	Logger      *slog.Logger
	StoreLogger *slog.Logger
}

// deployment is the set of models serving at one moment. Requests load it
// once and use it to the end, so an alias move never changes a request
// half-way; the old models stay usable until their last request ends.
type deployment struct {
	champion *story.Model
	name     string       // "flight_delay/3"
	shadow   *story.Model // nil when there is no challenger, or it is the champion
	shadowN  string
	mon      *monitor.Monitor // drift monitor of the champion's inputs; nil without a reference
	monIdx   map[string]int
}

// server is the prediction service: models from a version repository,
// features from an online store, a drift monitor, a Parquet log and
// Prometheus metrics.
type server struct {
	cfg   config
	log   *slog.Logger
	repo  *version.Repository
	store online.Store
	plog  *predLog
	dep   atomic.Pointer[deployment]

	reloadMu sync.Mutex // one reload at a time
	monColl  monitorCollector

	shadowSem chan struct{}
	shadowWG  sync.WaitGroup
	shadowMu  sync.RWMutex // closing vs shadowWG.Add
	closing   bool

	metrics   *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	preds     *prometheus.CounterVec
	shadowErr prometheus.Counter
	reloads   *prometheus.CounterVec
	version   *prometheus.GaugeVec

	bootID string
	seq    atomic.Uint64

	stopReload context.CancelFunc
	reloadDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// newServer opens the repository and the online store, loads the models,
// starts the prediction log and the alias poller. Close releases it all.
func newServer(ctx context.Context, cfg config) (_ *server, err error) {
	if cfg.Dir == "" {
		return nil, errors.New("no -dir")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StoreLogger == nil {
		cfg.StoreLogger = cfg.Logger
	}
	if cfg.LogPath == "" {
		cfg.LogPath = filepath.Join(cfg.Dir, "predictions.parquet")
	}
	if cfg.Reload == 0 {
		cfg.Reload = 2 * time.Second
	}
	if cfg.DriftWindow <= 0 {
		cfg.DriftWindow = 1000
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.ShadowWorkers <= 0 {
		cfg.ShadowWorkers = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	s := &server{
		cfg:       cfg,
		log:       cfg.Logger,
		shadowSem: make(chan struct{}, cfg.ShadowWorkers),
		bootID:    strconv.FormatInt(time.Now().UnixNano()%1e12, 36),
	}
	defer func() {
		if err != nil {
			s.closeResources()
		}
	}()
	// The repository is opened for the life of the service: a version
	// repository has one opener at a time, so while the service runs, alias
	// moves go through it (POST /admin/alias).
	if s.repo, err = version.Open(ctx, filepath.Join(cfg.Dir, "repo"), version.Options{Logger: cfg.StoreLogger, LockTimeout: 5 * time.Second}); err != nil {
		return nil, err
	}
	if cfg.Redis != "" {
		st, err := redisstore.Open(ctx, &goredis.UniversalOptions{Addrs: []string{cfg.Redis}}, redisstore.Options{})
		if err != nil {
			return nil, fmt.Errorf("redis %s: %w", cfg.Redis, err)
		}
		s.store = st
	} else {
		st, err := badgerstore.Open(filepath.Join(cfg.Dir, "online"), badgerstore.Options{Logger: cfg.StoreLogger})
		if err != nil {
			return nil, fmt.Errorf("online store: %w", err)
		}
		s.store = st
	}
	if cfg.Materialize {
		t := time.Now()
		if err := story.Materialize(ctx, s.repo, s.store); err != nil {
			return nil, fmt.Errorf("materialize: %w", err)
		}
		s.log.Info("materialized the feature views into the online store", "seconds", time.Since(t).Seconds())
	}
	s.initMetrics()
	if _, err := s.reload(ctx); err != nil {
		return nil, err
	}
	if s.plog, err = newPredLog(logOptions{Path: cfg.LogPath, Queue: cfg.LogQueue, FileRows: cfg.LogFileRows,
		FileAge: cfg.LogFileAge, Logger: cfg.Logger}); err != nil {
		return nil, err
	}
	s.initLogMetrics()
	rctx, cancel := context.WithCancel(context.Background())
	s.stopReload, s.reloadDone = cancel, make(chan struct{})
	go s.pollAliases(rctx)
	return s, nil
}

func (s *server) initMetrics() {
	s.metrics = prometheus.NewRegistry()
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kiln_service_requests_total", Help: "Prediction requests answered, by serving model and HTTP status.",
	}, []string{"model", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "kiln_service_request_duration_seconds", Help: "Time to answer a prediction request, by serving model and HTTP status.",
		Buckets: prometheus.ExponentialBuckets(100e-6, 2, 16),
	}, []string{"model", "status"})
	s.preds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kiln_service_predictions_total", Help: "Predictions made, by model and role (champion or shadow).",
	}, []string{"model", "role"})
	s.shadowErr = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kiln_service_shadow_errors_total", Help: "Shadow predictions that failed (logged with their error).",
	})
	s.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kiln_service_reloads_total", Help: "Model reloads after an alias moved, by result (ok or error).",
	}, []string{"result"})
	s.version = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kiln_service_model_version", Help: "Version each alias serves (0: none).",
	}, []string{"alias"})
	s.metrics.MustRegister(s.requests, s.latency, s.preds, s.shadowErr, s.reloads, s.version, &s.monColl,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

func (s *server) initLogMetrics() {
	l := s.plog
	s.metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "kiln_service_log_queue_rows", Help: "Rows waiting for the Parquet writer."},
			func() float64 { return float64(l.Queued()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiln_service_log_rows_written_total", Help: "Rows written to the Parquet log."},
			func() float64 { return float64(l.written.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiln_service_log_files_total", Help: "Parquet log files completed."},
			func() float64 { return float64(l.files.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiln_service_log_backpressure_total", Help: "Log calls that waited for room in a full queue."},
			func() float64 { return float64(l.blocked.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "kiln_service_log_backpressure_seconds_total", Help: "Time log calls spent waiting for room."},
			func() float64 { return float64(l.waited.Load()) / 1e9 }),
	)
}

// monitorCollector exports the current champion's drift monitor; the
// monitor changes with the champion.
type monitorCollector struct {
	cur atomic.Pointer[prom.Collector]
}

func (c *monitorCollector) Describe(ch chan<- *prometheus.Desc) { prom.NewCollector().Describe(ch) }

func (c *monitorCollector) Collect(ch chan<- prometheus.Metric) {
	if p := c.cur.Load(); p != nil {
		p.Collect(ch)
	}
}

// resolveVersion returns the version alias points at, 0 when it does not
// exist.
func (s *server) resolveVersion(ctx context.Context, alias string) (int, error) {
	mv, err := s.repo.ResolveModel(ctx, story.ModelName+"@"+alias)
	if errors.Is(err, version.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return mv.Version, nil
}

// reload loads the models the aliases point at when they moved, and swaps
// them in atomically. Requests in flight finish on the models they started
// with. It reports whether anything changed.
func (s *server) reload(ctx context.Context) (bool, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	champ, err := s.resolveVersion(ctx, championAlias)
	if err != nil {
		return false, err
	}
	if champ == 0 {
		return false, fmt.Errorf("model %s@%s: %w", story.ModelName, championAlias, version.ErrNotFound)
	}
	chall, err := s.resolveVersion(ctx, challengerAlias)
	if err != nil {
		return false, err
	}
	if chall == champ {
		chall = 0 // shadow-scoring the champion against itself is pointless
	}
	old := s.dep.Load()
	if old != nil && old.champion.Version.Version == champ && modelVersion(old.shadow) == chall {
		return false, nil
	}
	d := &deployment{}
	if old != nil && old.champion.Version.Version == champ {
		d.champion, d.name, d.mon, d.monIdx = old.champion, old.name, old.mon, old.monIdx
	} else {
		if d.champion, err = story.LoadModel(ctx, s.repo, fmt.Sprintf("%s/%d", story.ModelName, champ)); err != nil {
			s.reloads.WithLabelValues("error").Inc()
			return false, fmt.Errorf("load champion: %w", err)
		}
		d.name = modelName(d.champion)
		if ref := d.champion.Reference(); ref != nil {
			d.mon, err = monitor.New(monitor.Options{Name: d.name, Reference: ref, Columns: d.champion.InputNames(),
				Window: monitor.Tumbling(s.cfg.DriftWindow)})
			if err != nil {
				s.reloads.WithLabelValues("error").Inc()
				return false, fmt.Errorf("drift monitor of %s: %w", d.name, err)
			}
			d.monIdx = make(map[string]int)
			for _, c := range d.mon.Columns() {
				d.monIdx[c] = d.mon.Index(c)
			}
		}
	}
	switch {
	case chall == 0:
	case old != nil && modelVersion(old.shadow) == chall:
		d.shadow, d.shadowN = old.shadow, old.shadowN
	case old != nil && old.champion.Version.Version == chall:
		d.shadow, d.shadowN = old.champion, old.name
	default:
		// A challenger that does not load must not hold back the
		// champion: serve without a shadow, and try again at the next poll.
		if d.shadow, err = story.LoadModel(ctx, s.repo, fmt.Sprintf("%s/%d", story.ModelName, chall)); err != nil {
			s.reloads.WithLabelValues("error").Inc()
			s.log.Error("challenger not loaded; serving without a shadow", "version", chall, "err", err)
			d.shadow = nil
		} else {
			d.shadowN = modelName(d.shadow)
		}
	}
	s.dep.Store(d)
	if d.mon != nil {
		s.monColl.cur.Store(prom.NewCollector(d.mon))
	} else {
		s.monColl.cur.Store(nil)
	}
	s.version.WithLabelValues(championAlias).Set(float64(champ))
	s.version.WithLabelValues(challengerAlias).Set(float64(chall))
	if old != nil {
		s.reloads.WithLabelValues("ok").Inc()
		if old.mon != nil && old.mon != d.mon {
			// Requests still on the old deployment may observe into it:
			// they get ErrClosed, which observe ignores.
			old.mon.Close()
		}
	}
	s.log.Info("serving", "champion", d.name, "shadow", d.shadowN)
	return true, nil
}

func modelVersion(m *story.Model) int {
	if m == nil {
		return 0
	}
	return m.Version.Version
}

func modelName(m *story.Model) string {
	return fmt.Sprintf("%s/%d", m.Version.Name, m.Version.Version)
}

// pollAliases reloads every cfg.Reload until ctx ends.
func (s *server) pollAliases(ctx context.Context) {
	defer close(s.reloadDone)
	if s.cfg.Reload < 0 {
		return
	}
	t := time.NewTicker(s.cfg.Reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("reload failed; still serving the previous models", "err", err)
			}
		}
	}
}

// handler returns the service's HTTP routes.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /predict", s.handlePredict)
	mux.HandleFunc("GET /drift", s.handleDrift)
	mux.HandleFunc("GET /models", s.handleModels)
	mux.HandleFunc("POST /admin/alias", s.handleAlias)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{}))
	return mux
}

// Request body limits.
const (
	maxBody       = 64 << 10 // one request
	maxBatchBytes = 8 << 20  // a batch
)

// response is the answer to one request.
type response struct {
	RequestID string `json:"request_id"`
	story.Prediction
}

// httpError is an error with its HTTP status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// handlePredict answers POST /predict: a JSON story.Request gives one
// response object, a JSON array of them (a batch) an array of responses in
// the same order.
func (s *server) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d := s.dep.Load()
	status := http.StatusOK
	defer func() {
		code := strconv.Itoa(status)
		s.requests.WithLabelValues(d.name, code).Inc()
		s.latency.WithLabelValues(d.name, code).Observe(time.Since(start).Seconds())
	}()
	out, err := s.predict(r, d)
	if err != nil {
		var he *httpError
		if !errors.As(err, &he) {
			he = &httpError{status: http.StatusInternalServerError, msg: err.Error()}
			if errors.Is(err, context.DeadlineExceeded) {
				he.status = http.StatusGatewayTimeout
			}
		}
		status = he.status
		if status >= 500 {
			s.log.Error("predict", "err", err)
		}
		writeJSON(w, status, map[string]string{"error": he.msg})
		return
	}
	writeJSON(w, status, out)
}

func (s *server) predict(r *http.Request, d *deployment) (any, error) {
	if ct := r.Header.Get("Content-Type"); !jsonContentType(ct) {
		return nil, errorf(http.StatusUnsupportedMediaType, "content type %q: send application/json", ct)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBatchBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes", mbe.Limit)
		}
		return nil, errorf(http.StatusBadRequest, "reading the body: %v", err)
	}
	body = bytes.TrimSpace(body)
	batch := len(body) > 0 && body[0] == '['
	if !batch && len(body) > maxBody {
		return nil, errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes", maxBody)
	}
	var reqs []story.Request
	if batch {
		var raw []json.RawMessage
		if err := decodeStrict(body, &raw); err != nil {
			return nil, err
		}
		if len(raw) == 0 || len(raw) > s.cfg.MaxBatch {
			return nil, errorf(http.StatusBadRequest, "a batch holds 1 to %d requests, not %d", s.cfg.MaxBatch, len(raw))
		}
		reqs = make([]story.Request, len(raw))
		for i, m := range raw {
			if err := parseRequest(m, &reqs[i]); err != nil {
				return nil, errorf(err.status, "request %d: %s", i, err.msg)
			}
		}
	} else {
		reqs = make([]story.Request, 1)
		if err := parseRequest(body, &reqs[0]); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		id = s.bootID + "-" + strconv.FormatUint(s.seq.Add(1), 10)
	}
	out := make([]response, len(reqs))
	rows := make([]Row, len(reqs))
	for i, req := range reqs {
		t := time.Now()
		p, err := d.champion.Predict(ctx, s.store, req)
		if err != nil {
			return nil, predictError(err, batch, i)
		}
		rid := id
		if batch {
			rid = id + "-" + strconv.Itoa(i)
		}
		out[i] = response{RequestID: rid, Prediction: p}
		rows[i] = makeRow(t, rid, "champion", p.Model, req, p, nil)
	}
	// The predictions count once they are in the log's queue: wait for
	// room rather than answer with a prediction the log will not have.
	if err := s.plog.Log(ctx, rows...); err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "%v", err)
	}
	for i := range out {
		s.preds.WithLabelValues(out[i].Model, "champion").Inc()
		s.observe(d, out[i].Inputs)
	}
	if d.shadow != nil {
		s.scoreShadow(d, reqs, out)
	}
	if batch {
		return out, nil
	}
	return out[0], nil
}

// jsonContentType reports whether a request's content type may hold JSON:
// none, application/json or a +json type, or curl's default for -d
// (application/x-www-form-urlencoded), so that a plain "curl -d" works.
func jsonContentType(ct string) bool {
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/x-www-form-urlencoded")
}

// predictError turns a model error into an answer. Requests are validated
// before they reach the model, so what remains is the service's: a timeout
// (504) or a failure (500).
func predictError(err error, batch bool, i int) error {
	prefix := ""
	if batch {
		prefix = fmt.Sprintf("request %d: ", i)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errorf(http.StatusGatewayTimeout, "%sprediction timed out: %v", prefix, err)
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// decodeStrict decodes one JSON value, refusing trailing data.
func decodeStrict(b []byte, v any) *httpError {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, "empty body: send a JSON request")
		}
		return errorf(http.StatusBadRequest, "malformed JSON: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed JSON: data after the request")
	}
	return nil
}

// parseRequest decodes and validates one request.
func parseRequest(b []byte, r *story.Request) *httpError {
	if err := decodeStrict(b, r); err != nil {
		return err
	}
	var missing []string
	r.Origin = strings.ToUpper(strings.TrimSpace(r.Origin))
	r.Destination = strings.ToUpper(strings.TrimSpace(r.Destination))
	if r.Origin == "" {
		missing = append(missing, "origin")
	}
	if r.Destination == "" {
		missing = append(missing, "destination")
	}
	if r.Distance == 0 {
		missing = append(missing, "distance")
	}
	if r.Time.IsZero() {
		missing = append(missing, "time")
	}
	if len(missing) > 0 {
		return errorf(http.StatusBadRequest, "missing fields: %s", strings.Join(missing, ", "))
	}
	for _, a := range []string{r.Origin, r.Destination} {
		if len(a) < 3 || len(a) > 4 || strings.ContainsFunc(a, func(c rune) bool { return !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') }) {
			return errorf(http.StatusBadRequest, "airport %q: want a 3- or 4-letter code", a)
		}
	}
	if r.Distance < 0 || r.Distance > 20000 || math.IsNaN(r.Distance) {
		return errorf(http.StatusBadRequest, "distance %g: want 0 < miles <= 20000", r.Distance)
	}
	return nil
}

func makeRow(t time.Time, id, role, model string, req story.Request, p story.Prediction, err error) Row {
	row := Row{
		Time: t, RequestID: id, Role: role, Model: model,
		Origin: req.Origin, Destination: req.Destination, Distance: req.Distance, Departure: req.Time,
		Probability: p.Probability, LatencyUS: time.Since(t).Microseconds(), Inputs: p.Inputs,
	}
	if err != nil {
		row.Error = err.Error()
		row.Probability = 0
	}
	return row
}

// observe feeds a prediction's inputs to the champion's drift monitor.
func (s *server) observe(d *deployment, inputs map[string]float64) {
	if d.mon == nil {
		return
	}
	vals := make([]monitor.Value, 0, len(d.monIdx))
	for name, i := range d.monIdx {
		if x, ok := inputs[name]; ok {
			vals = append(vals, monitor.Num(i, x))
		}
	}
	if err := d.mon.ObserveRow(vals...); err != nil && !errors.Is(err, monitor.ErrClosed) {
		s.log.Warn("drift monitor", "err", err)
	}
}

// scoreShadow scores the requests with the challenger in the background and
// logs its predictions. At most cfg.ShadowWorkers run at once: beyond,
// the request waits for a free worker (backpressure) rather than skip its
// shadow prediction. Close waits for the shadow predictions in flight.
func (s *server) scoreShadow(d *deployment, reqs []story.Request, out []response) {
	s.shadowMu.RLock()
	defer s.shadowMu.RUnlock()
	if s.closing {
		// Only after a shutdown that gave up waiting for this request.
		s.shadowErr.Add(float64(len(reqs)))
		s.log.Error("shutting down: shadow predictions not made", "rows", len(reqs))
		return
	}
	s.shadowSem <- struct{}{} // workers end within cfg.Timeout, so this wait is bounded
	s.shadowWG.Add(1)
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].RequestID
	}
	go func() {
		defer s.shadowWG.Done()
		defer func() { <-s.shadowSem }()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
		defer cancel()
		rows := make([]Row, len(reqs))
		for i, req := range reqs {
			t := time.Now()
			p, err := d.shadow.Predict(ctx, s.store, req)
			if err != nil {
				s.shadowErr.Inc()
			} else {
				s.preds.WithLabelValues(d.shadowN, "shadow").Inc()
			}
			rows[i] = makeRow(t, ids[i], "shadow", d.shadowN, req, p, err)
		}
		if err := s.plog.Log(context.Background(), rows...); err != nil {
			s.log.Error("shadow predictions not logged", "err", err, "rows", len(rows))
		}
	}()
}

// driftResponse is the answer of GET /drift.
type driftResponse struct {
	Model   string                `json:"model"`
	Monitor *monitor.MonitorStats `json:"monitor,omitempty"`
	// Last is the last evaluated window (null before the first window is
	// full; GET /drift?flush=1 evaluates the open window now).
	Last json.RawMessage `json:"last"`
}

func (s *server) handleDrift(w http.ResponseWriter, r *http.Request) {
	d := s.dep.Load()
	resp := driftResponse{Model: d.name, Last: json.RawMessage("null")}
	if d.mon == nil {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	st := d.mon.Stats()
	resp.Monitor = &st
	rep := d.mon.Last()
	if f := r.URL.Query().Get("flush"); f == "1" || f == "true" {
		if fr := d.mon.Flush(); fr != nil {
			rep = fr
		}
	}
	if rep != nil {
		var buf bytes.Buffer
		if err := rep.WriteJSON(&buf); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		resp.Last = bytes.TrimSpace(buf.Bytes())
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) handleModels(w http.ResponseWriter, r *http.Request) {
	d := s.dep.Load()
	out := map[string]any{championAlias: d.champion.Version}
	if d.shadow != nil {
		out[challengerAlias] = d.shadow.Version
	}
	writeJSON(w, http.StatusOK, out)
}

// aliasRequest is the body of POST /admin/alias.
type aliasRequest struct {
	Alias   string `json:"alias"`
	Version int    `json:"version"` // 0 deletes the alias (not champion)
}

// handleAlias moves an alias in the repository the service holds open, then
// reloads at once: a request sent after the answer is served by the new
// version.
func (s *server) handleAlias(w http.ResponseWriter, r *http.Request) {
	if s.cfg.AdminToken == "" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "POST /admin/alias is off: start the service with -admin-token (or $KILN_SERVICE_ADMIN_TOKEN) to turn it on"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.cfg.AdminToken)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "admin token required"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 4096))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	var req aliasRequest
	if err := decodeStrict(body, &req); err != nil {
		writeJSON(w, err.status, map[string]string{"error": err.msg})
		return
	}
	if req.Alias == "" || req.Version < 0 || (req.Version == 0 && req.Alias == championAlias) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"alias\": NAME, \"version\": N} (N = 0 deletes; champion cannot be deleted)"})
		return
	}
	if req.Version == 0 {
		cur, err := s.resolveVersion(r.Context(), req.Alias)
		if err == nil && cur != 0 {
			err = s.repo.SwapAlias(r.Context(), story.ModelName, req.Alias, cur, 0)
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
	} else if err := s.repo.SetAlias(r.Context(), story.ModelName, req.Alias, req.Version); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, version.ErrNotFound) {
			status = http.StatusNotFound
		} else if strings.Contains(err.Error(), "invalid") {
			status = http.StatusBadRequest
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	if _, err := s.reload(r.Context()); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "alias moved, reload failed: " + err.Error()})
		return
	}
	s.handleModels(w, r)
}

// serve answers on ln until ctx ends, then shuts down gracefully: it stops
// accepting, waits for the requests in flight (up to grace), and closes the
// server (Close).
func (s *server) serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), grace)
		err = srv.Shutdown(sctx)
		cancel()
		if err != nil {
			// Grace is over: cut the connections left. Their handlers may
			// still run; a prediction they can no longer log is answered
			// 503, never returned unlogged.
			srv.Close()
		}
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops the alias poller, waits for the shadow predictions in flight,
// writes the rest of the prediction log, and closes the monitors, the
// online store and the repository. Call it once the HTTP server no longer
// runs handlers.
func (s *server) Close() error {
	s.closeOnce.Do(func() {
		if s.stopReload != nil {
			s.stopReload()
			<-s.reloadDone
		}
		s.shadowMu.Lock()
		s.closing = true
		s.shadowMu.Unlock()
		s.shadowWG.Wait()
		if s.plog != nil {
			s.closeErr = s.plog.Close()
		}
		if err := s.closeResources(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *server) closeResources() error {
	var errs []error
	if d := s.dep.Load(); d != nil && d.mon != nil {
		d.mon.Close()
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.repo != nil {
		errs = append(errs, s.repo.Close())
	}
	return errors.Join(errs...)
}
