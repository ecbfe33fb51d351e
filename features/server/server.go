// Package server serves a Kiln feature store over HTTP with the JSON API of
// Feast's feature server, so that a Feast HTTP client works against it
// unchanged:
//
//	POST /get-online-features   latest feature values of entities
//	POST /push                  write rows to the online store
//	GET  /health                200 "ok" while the handler serves
//
// # /get-online-features
//
// The request names features ("view:feature", "view" for all its features,
// "ondemand:output") or a feature service, and the entities as columns of
// join-key values; extra columns are request data for on-demand features:
//
//	{"features": ["driver_stats:conv_rate", "driver_stats:acc_rate"],
//	 "entities": {"driver_id": [1001, 1002]},
//	 "full_feature_names": false}
//
//	{"feature_service": "driver_model", "entities": {"driver_id": [1001]}}
//
// The response is columnar, as Feast's: metadata.feature_names names the
// columns (the entity columns of the request first, then the features, named
// "feature", or "view__feature" with full_feature_names), and results[i]
// holds column i for every entity row, with one status and event time per
// value:
//
//	{"metadata": {"feature_names": ["driver_id", "conv_rate", "acc_rate"]},
//	 "results": [
//	  {"values": [1001, 1002], "statuses": ["PRESENT", "PRESENT"],
//	   "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]},
//	  {"values": [0.5, null], "statuses": ["PRESENT", "NOT_FOUND"],
//	   "event_timestamps": ["2021-04-12T10:59:42Z", "1970-01-01T00:00:00Z"]},
//	  ...]}
//
// A status is PRESENT, NULL_VALUE (found, but null), NOT_FOUND or
// OUTSIDE_MAX_AGE (older than the view's TTL; the value is null). Values are
// JSON numbers, strings, booleans or null; bytes are base64 strings and times
// RFC 3339 strings, as in protobuf's JSON mapping that Feast uses. A value
// that is a NaN or an infinity is written as null.
//
// # /push
//
// The request is Feast's PushFeaturesRequest: push_source_name names the
// feature view to write (a Kiln view is its own push source; feature_view_name
// is accepted too), df holds the rows as columns — the view's join keys, its
// event-time column, its created-time column if it has one and every feature
// — and to must be "online" (the default): pushing to the offline store is not
// supported here. Times are RFC 3339 strings, "2006-01-02 15:04:05" (UTC
// unless a zone is given) or dates. A successful push answers 200 with an
// empty JSON object.
//
// # Errors, limits and metrics
//
// Errors are JSON objects {"error": "...", "status_code": N} (the shape of
// Feast's Go server): 400 for malformed JSON or a request that does not fit
// the definitions (a missing join key, a wrong type), 404 for unknown
// features, views or services, 401 without the bearer token, 405 for a wrong
// method, 413 for a body above Options.MaxBodyBytes, 504 past
// Options.Timeout and 500 otherwise. A bad request never affects the others.
// Metrics are Prometheus collectors registered with Options.Registerer.
package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/features/online"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultTimeout      = 5 * time.Second
)

// Options configure the handler returned by New. The zero value is valid.
type Options struct {
	// MaxBodyBytes is the largest request body accepted; a larger one is
	// answered 413. Zero means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Timeout bounds the work of one request (its context's deadline);
	// a request past it is answered 504. Zero means DefaultTimeout (5 s).
	// Set the http.Server's ReadHeaderTimeout, ReadTimeout and
	// WriteTimeout too: they bound what happens outside the handler.
	Timeout time.Duration
	// BearerToken, when set, is required of every request but GET /health
	// as the header "Authorization: Bearer <token>"; others are answered
	// 401.
	BearerToken string
	// Registerer receives the server's Prometheus collectors:
	// kiln_feature_server_requests_total{path,code},
	// kiln_feature_server_request_duration_seconds{path} and
	// kiln_feature_server_in_flight_requests. Nil registers none. Collectors
	// already registered (by another handler on the same registerer) are
	// shared.
	Registerer prometheus.Registerer
	// Logger receives a line per request answered 500 or panicking. Nil
	// discards them.
	Logger *slog.Logger
}

// New returns an http.Handler serving fs with Feast's feature-server API
// (see the package documentation). It is safe for concurrent use.
func New(fs *features.FeatureStore, opts Options) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &server{fs: fs, opts: opts}
	s.metrics = newMetrics(opts.Registerer)
	return s
}

type server struct {
	fs      *features.FeatureStore
	opts    Options
	metrics *metrics
}

// route names the endpoint of a path, bounding the label values of metrics.
func route(path string) string {
	switch path {
	case "/get-online-features", "/push", "/health":
		return path
	}
	return "other"
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	path := route(r.URL.Path)
	sw := &statusWriter{ResponseWriter: w}
	s.metrics.inFlight.Inc()
	defer func() {
		p := recover()
		if p != nil && p != http.ErrAbortHandler {
			s.opts.Logger.Error("feature server: panic", "path", r.URL.Path, "panic", p)
			if sw.status == 0 {
				writeError(sw, http.StatusInternalServerError, fmt.Errorf("internal error: %v", p))
			}
		}
		s.metrics.inFlight.Dec()
		code := sw.status
		if code == 0 {
			code = http.StatusOK
		}
		s.metrics.observe(path, code, time.Since(start))
		if p == http.ErrAbortHandler {
			panic(p)
		}
	}()

	if path == "/health" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			methodNotAllowed(sw, "GET, HEAD")
			return
		}
		sw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(sw, "ok")
		return
	}
	if s.opts.BearerToken != "" && !s.authorized(r) {
		sw.Header().Set("WWW-Authenticate", `Bearer realm="kiln"`)
		writeError(sw, http.StatusUnauthorized, errors.New("missing or wrong bearer token"))
		return
	}
	switch path {
	case "/get-online-features":
		if r.Method != http.MethodPost {
			methodNotAllowed(sw, "POST")
			return
		}
		s.getOnlineFeatures(sw, r)
	case "/push":
		if r.Method != http.MethodPost {
			methodNotAllowed(sw, "POST")
			return
		}
		s.push(sw, r)
	default:
		writeError(sw, http.StatusNotFound, fmt.Errorf("no endpoint %s", r.URL.Path))
	}
}

func (s *server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(h[len(prefix):])), []byte(s.opts.BearerToken)) == 1
}

// bufPool holds the buffers of request bodies and responses.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readBody reads the body of r into buf, at most MaxBodyBytes; on failure
// it answers w and returns false.
func (s *server) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) bool {
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if _, err := buf.ReadFrom(body); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("request body larger than %d bytes", mbe.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("read request body: %w", err))
		return false
	}
	return true
}

// decodeJSON decodes data, one JSON value, into v, numbers as json.Number.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		if err == io.EOF {
			return errors.New("malformed JSON: empty body")
		}
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("malformed JSON: data after the request object")
	}
	return nil
}

// getOnlineFeaturesRequest is Feast's GetOnlineFeaturesRequest.
type getOnlineFeaturesRequest struct {
	Entities         map[string][]any `json:"entities"`
	FeatureService   *string          `json:"feature_service"`
	Features         []string         `json:"features"`
	FullFeatureNames bool             `json:"full_feature_names"`
	// RequestContext is request data for on-demand features (Feast's Go
	// server); its columns are merged into the entity rows.
	RequestContext map[string][]any `json:"request_context"`
}

func (s *server) getOnlineFeatures(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	if !s.readBody(w, r, buf) {
		return
	}
	var req getOnlineFeaturesRequest
	if !parseGetOnlineFeatures(buf.Bytes(), &req) {
		req = getOnlineFeaturesRequest{}
		if err := decodeJSON(buf.Bytes(), &req); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
	}
	if len(req.Entities) == 0 {
		writeError(w, http.StatusBadRequest, errors.New(`"entities" is missing or empty`))
		return
	}
	service := req.FeatureService != nil && *req.FeatureService != ""
	if service == (len(req.Features) > 0) {
		writeError(w, http.StatusBadRequest, errors.New(`give either "features" or "feature_service"`))
		return
	}
	rows := make(map[string][]online.Value, len(req.Entities)+len(req.RequestContext))
	n := -1
	for _, cols := range []map[string][]any{req.Entities, req.RequestContext} {
		for name, col := range cols {
			if _, dup := rows[name]; dup {
				writeError(w, http.StatusBadRequest, fmt.Errorf("column %q given twice", name))
				return
			}
			if n >= 0 && len(col) != n {
				writeError(w, http.StatusBadRequest, fmt.Errorf("column %q has %d values, others %d", name, len(col), n))
				return
			}
			n = len(col)
			vals := make([]online.Value, len(col))
			for i, v := range col {
				val, err := jsonValue(v)
				if err != nil {
					writeError(w, http.StatusBadRequest, fmt.Errorf("column %q, row %d: %w", name, i, err))
					return
				}
				vals[i] = val
			}
			rows[name] = vals
		}
	}
	if n == 0 {
		writeError(w, http.StatusBadRequest, errors.New("no entity rows"))
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	var (
		res features.OnlineResult
		err error
	)
	if service {
		res, err = s.fs.GetOnlineService(ctx, *req.FeatureService, rows)
	} else {
		res, err = s.fs.GetOnlineFeatures(ctx, req.Features, rows)
	}
	if err != nil {
		s.fail(w, r, ctx, err)
		return
	}

	buf.Reset()
	appendResponse(buf, &res, req.FullFeatureNames)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

func putBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 4<<20 {
		bufPool.Put(buf)
	}
}

// jsonValue converts a decoded JSON scalar to a Value: integers to Int,
// other numbers to Float.
func jsonValue(v any) (online.Value, error) {
	switch v := v.(type) {
	case nil:
		return online.Null(), nil
	case bool:
		return online.Bool(v), nil
	case string:
		return online.String(v), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return online.Int(i), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return online.Value{}, fmt.Errorf("number %s out of range", v)
		}
		return online.Float(f), nil
	}
	return online.Value{}, errors.New("not a number, string, boolean or null")
}

// appendResponse writes Feast's GetOnlineFeaturesResponse for res.
func appendResponse(buf *bytes.Buffer, res *features.OnlineResult, full bool) {
	b := buf.AvailableBuffer()
	b = append(b, `{"metadata":{"feature_names":[`...)
	for i, name := range res.Names {
		if i > 0 {
			b = append(b, ',')
		}
		if k := i - res.NumKeys; !full && k >= 0 && k < len(res.Refs) {
			// "view__feature" → "feature" (Refs[k] is "view:feature").
			ref := res.Refs[k]
			if j := strings.IndexByte(ref, ':'); j >= 0 && len(name) > j+2 && name[:j] == ref[:j] && name[j:j+2] == "__" {
				name = name[j+2:]
			}
		}
		b = appendString(b, name)
	}
	b = append(b, `]},"results":[`...)
	for i := range res.Names {
		if i > 0 {
			b = append(b, ',')
		}
		var (
			vals     []online.Value
			statuses []online.Status
			times    []time.Time
		)
		if i < len(res.Values) {
			vals = res.Values[i]
		}
		if i < len(res.Status) {
			statuses = res.Status[i]
		}
		if i < len(res.EventTimes) {
			times = res.EventTimes[i]
		}
		b = append(b, `{"values":[`...)
		for j, v := range vals {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v)
		}
		b = append(b, `],"statuses":[`...)
		for j, v := range vals {
			if j > 0 {
				b = append(b, ',')
			}
			st := online.Present
			if j < len(statuses) {
				st = statuses[j]
			}
			b = append(b, statusName(st, v)...)
		}
		b = append(b, `],"event_timestamps":[`...)
		for j := range vals {
			if j > 0 {
				b = append(b, ',')
			}
			var t time.Time
			if j < len(times) {
				t = times[j]
			}
			b = appendTimestamp(b, t)
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	buf.Write(b)
}

// statusName is Feast's FieldStatus name of a result.
func statusName(st online.Status, v online.Value) string {
	switch st {
	case online.Present:
		if v.IsNull() {
			return `"NULL_VALUE"`
		}
		return `"PRESENT"`
	case online.NotFound:
		return `"NOT_FOUND"`
	case online.Expired:
		return `"OUTSIDE_MAX_AGE"`
	}
	return `"INVALID"`
}

var epoch = time.Unix(0, 0).UTC()

// appendTimestamp writes t as protobuf's JSON mapping of a Timestamp does
// (RFC 3339 in UTC; the zero time is the Unix epoch).
func appendTimestamp(b []byte, t time.Time) []byte {
	if t.IsZero() {
		t = epoch
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendValue(b []byte, v online.Value) []byte {
	switch v.Kind() {
	case online.KindInt:
		i, _ := v.AsInt()
		return strconv.AppendInt(b, i, 10)
	case online.KindFloat:
		f, _ := v.AsFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case online.KindBool:
		x, _ := v.AsBool()
		return strconv.AppendBool(b, x)
	case online.KindString:
		s, _ := v.AsString()
		return appendString(b, s)
	case online.KindBytes:
		x, _ := v.AsBytes()
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, x)
		return append(b, '"')
	case online.KindTime:
		t, _ := v.AsTime()
		return appendTimestamp(b, t)
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// pushRequest is Feast's PushFeaturesRequest.
type pushRequest struct {
	PushSourceName     string           `json:"push_source_name"`
	FeatureViewName    string           `json:"feature_view_name"`
	DF                 map[string][]any `json:"df"`
	To                 string           `json:"to"`
	AllowRegistryCache *bool            `json:"allow_registry_cache"`
	TransformOnWrite   *bool            `json:"transform_on_write"`
}

func (s *server) push(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	if !s.readBody(w, r, buf) {
		return
	}
	var req pushRequest
	if err := decodeJSON(buf.Bytes(), &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	view := req.PushSourceName
	if view == "" {
		view = req.FeatureViewName
	}
	if view == "" {
		writeError(w, http.StatusBadRequest, errors.New(`"push_source_name" is missing`))
		return
	}
	switch req.To {
	case "", "online":
	case "offline", "online_and_offline":
		writeError(w, http.StatusBadRequest, fmt.Errorf("push to %q is not supported: only \"online\"", req.To))
		return
	default:
		writeError(w, http.StatusBadRequest, fmt.Errorf("%q is not a push destination: use \"online\"", req.To))
		return
	}
	if len(req.DF) == 0 {
		writeError(w, http.StatusBadRequest, errors.New(`"df" is missing or empty`))
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	batch, err := s.pushBatch(ctx, view, req.DF)
	if err != nil {
		s.fail(w, r, ctx, err)
		return
	}
	defer batch.Release()
	if err := s.fs.Push(ctx, view, batch); err != nil {
		s.fail(w, r, ctx, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
}

// badRequest marks an error of the request itself.
type badRequest struct{ err error }

func (e badRequest) Error() string { return e.err.Error() }
func (e badRequest) Unwrap() error { return e.err }

// pushBatch builds the record batch of df typed by view's definition: its
// join keys, event-time and created-time columns and features.
func (s *server) pushBatch(ctx context.Context, name string, df map[string][]any) (arrow.RecordBatch, error) {
	reg := s.fs.Registry()
	view, err := reg.View(ctx, name)
	if err != nil {
		return nil, err
	}
	var fields []features.Field
	for _, e := range view.Entities {
		ent, err := reg.Entity(ctx, e)
		if err != nil {
			return nil, err
		}
		fields = append(fields, ent.JoinKeys...)
	}
	fields = append(fields, features.Field{Name: view.Source.Timestamp, Type: features.TypeTimestamp})
	if view.Source.Created != "" {
		fields = append(fields, features.Field{Name: view.Source.Created, Type: features.TypeTimestamp})
	}
	fields = append(fields, view.Features...)

	n := -1
	for name, col := range df {
		if n >= 0 && len(col) != n {
			return nil, badRequest{fmt.Errorf("df column %q has %d values, others %d", name, len(col), n)}
		}
		n = len(col)
	}
	if n == 0 {
		return nil, badRequest{errors.New("df has no rows")}
	}
	arrowFields := make([]arrow.Field, 0, len(fields))
	cols := make([]arrow.Array, 0, len(fields))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		col, ok := df[f.Name]
		if !ok {
			return nil, badRequest{fmt.Errorf("df lacks column %q of view %q: %w", f.Name, name, features.ErrMissingColumn)}
		}
		arr, dt, err := buildColumn(f.Type, col)
		if err != nil {
			return nil, badRequest{fmt.Errorf("df column %q: %w", f.Name, err)}
		}
		arrowFields = append(arrowFields, arrow.Field{Name: f.Name, Type: dt, Nullable: true})
		cols = append(cols, arr)
	}
	return array.NewRecordBatch(arrow.NewSchema(arrowFields, nil), cols, int64(n)), nil
}

// timeLayouts are the layouts of times accepted in df, tried in order;
// those without a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339 or \"2006-01-02 15:04:05\")", s)
}

// buildColumn builds the Arrow array of a df column of type t.
func buildColumn(t features.ValueType, col []any) (arrow.Array, arrow.DataType, error) {
	mem := memory.DefaultAllocator
	wrong := func(i int, v any) error {
		return fmt.Errorf("row %d: %v is not a %s: %w", i, v, t, features.ErrType)
	}
	number := func(i int, v any, parse func(string) (float64, error)) (float64, error) {
		n, ok := v.(json.Number)
		if !ok {
			return 0, wrong(i, v)
		}
		x, err := parse(string(n))
		if err != nil {
			return 0, wrong(i, v)
		}
		return x, nil
	}
	switch t {
	case features.TypeInt64:
		return build(array.NewInt64Builder(mem), col, arrow.PrimitiveTypes.Int64, func(i int, v any) (int64, error) {
			n, ok := v.(json.Number)
			if !ok {
				return 0, wrong(i, v)
			}
			x, err := strconv.ParseInt(string(n), 10, 64)
			if err != nil {
				return 0, wrong(i, v)
			}
			return x, nil
		})
	case features.TypeFloat64:
		return build(array.NewFloat64Builder(mem), col, arrow.PrimitiveTypes.Float64, func(i int, v any) (float64, error) {
			return number(i, v, parseFloat)
		})
	case features.TypeBool:
		return build(array.NewBooleanBuilder(mem), col, arrow.FixedWidthTypes.Boolean, func(i int, v any) (bool, error) {
			b, ok := v.(bool)
			if !ok {
				return false, wrong(i, v)
			}
			return b, nil
		})
	case features.TypeString:
		return build(array.NewStringBuilder(mem), col, arrow.BinaryTypes.String, func(i int, v any) (string, error) {
			str, ok := v.(string)
			if !ok {
				return "", wrong(i, v)
			}
			return str, nil
		})
	case features.TypeBytes:
		return build(array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary), col, arrow.BinaryTypes.Binary, func(i int, v any) ([]byte, error) {
			str, ok := v.(string)
			if !ok {
				return nil, wrong(i, v)
			}
			x, err := base64.StdEncoding.DecodeString(str)
			if err != nil {
				return nil, fmt.Errorf("row %d: bytes must be base64: %w", i, err)
			}
			return x, nil
		})
	case features.TypeTimestamp:
		dt := &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		return build(array.NewTimestampBuilder(mem, dt), col, dt, func(i int, v any) (arrow.Timestamp, error) {
			if str, ok := v.(string); ok {
				tm, err := parseTime(str)
				if err != nil {
					return 0, fmt.Errorf("row %d: %w", i, err)
				}
				return arrow.Timestamp(tm.UnixMicro()), nil
			}
			// A number is Unix seconds, as pandas would read an integer column.
			x, err := number(i, v, parseFloat)
			return arrow.Timestamp(math.Round(x * 1e6)), err
		})
	}
	return nil, nil, fmt.Errorf("unsupported type %q", t)
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// builder is the part of an arrow-go array builder of T that build uses.
type builder[T any] interface {
	Append(T)
	AppendNull()
	NewArray() arrow.Array
	Release()
}

// build appends the values of col, converted by conv (nil is a null), to
// bld and returns the array, of type dt.
func build[T any](bld builder[T], col []any, dt arrow.DataType, conv func(i int, v any) (T, error)) (arrow.Array, arrow.DataType, error) {
	defer bld.Release()
	for i, v := range col {
		if v == nil {
			bld.AppendNull()
			continue
		}
		x, err := conv(i, v)
		if err != nil {
			return nil, nil, err
		}
		bld.Append(x)
	}
	return bld.NewArray(), dt, nil
}

// fail answers an error of the feature store with its status code.
func (s *server) fail(w http.ResponseWriter, r *http.Request, ctx context.Context, err error) {
	code := statusOf(ctx, err)
	if code >= 500 {
		s.opts.Logger.Error("feature server: request failed", "path", r.URL.Path, "status", code, "err", err)
	}
	writeError(w, code, err)
}

// statusOf maps an error to an HTTP status: 404 for what the registry does
// not know, 400 for requests that do not fit the definitions, 504 past the
// deadline, 500 otherwise.
func statusOf(ctx context.Context, err error) int {
	var br badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, features.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, features.ErrMissingColumn), errors.Is(err, features.ErrType),
		errors.Is(err, features.ErrDefinition), errors.Is(err, features.ErrMissingValue),
		errors.Is(err, features.ErrSpec), errors.Is(err, features.ErrNotOnline),
		errors.Is(err, online.ErrInvalidName), errors.Is(err, online.ErrInvalidRecord):
		return http.StatusBadRequest
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		// The client went away; 499 as nginx logs it.
		return 499
	}
	return http.StatusInternalServerError
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("method not allowed: use %s", allow))
}

// writeError answers {"error": msg, "status_code": code}.
func writeError(w http.ResponseWriter, code int, err error) {
	b := append([]byte(`{"error":`), appendString(nil, err.Error())...)
	b = append(b, `,"status_code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// metrics are the server's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// byRoute caches the label-bound duration observers.
	byRoute map[string]prometheus.Observer
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiln_feature_server_requests_total",
			Help: "Requests answered by the Kiln feature server, by path and status code.",
		}, []string{"path", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kiln_feature_server_request_duration_seconds",
			Help:    "Time to answer a request of the Kiln feature server, by path.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"path"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kiln_feature_server_in_flight_requests",
			Help: "Requests the Kiln feature server is answering.",
		}),
	}
	if reg != nil {
		m.requests = register(reg, m.requests)
		m.duration = register(reg, m.duration)
		m.inFlight = register(reg, m.inFlight)
	}
	m.byRoute = make(map[string]prometheus.Observer)
	for _, p := range []string{"/get-online-features", "/push", "/health", "other"} {
		m.byRoute[p] = m.duration.WithLabelValues(p)
	}
	return m
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}

func (m *metrics) observe(path string, code int, d time.Duration) {
	m.requests.WithLabelValues(path, strconv.Itoa(code)).Inc()
	m.byRoute[path].Observe(d.Seconds())
}
