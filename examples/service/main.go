// Command service is an HTTP prediction service for the flight delay model
// of the Kiln story (see examples/quickstart): it serves the model version
// aliased "champion" in a version repository, reads the flights' airport
// features from an online store, scores the "challenger" in shadow, feeds a
// drift monitor, logs every prediction to Parquet and exports Prometheus
// metrics.
//
//	go run ./examples/quickstart -dir DIR      # writes DIR/repo and DIR/online
//	go run ./examples/service -dir DIR [-addr :8080] [-redis ADDR] [-log predictions.parquet]
//
// Flags:
//
//	-dir          the story's folder: DIR/repo (version repository) and DIR/online (Badger online store)
//	-addr         address to listen on (default ":8080")
//	-redis        Redis address (host:port) of the online store, instead of Badger at DIR/online
//	-materialize  write the repository's feature views into the online store before serving
//	              (default: on with -redis, which starts empty; off with Badger, which the story filled)
//	-log          Parquet prediction log (default DIR/predictions.parquet; see below)
//	-log-rows     rows per log file before the next one starts (default 1000000)
//	-log-age      age at which a log file is closed and the next one starts (default 5m)
//	-reload       how often the aliases are checked for a move (default 2s; 0 or less: never)
//	-admin-token  bearer token that POST /admin/alias requires (default $KILN_SERVICE_ADMIN_TOKEN;
//	              empty: the endpoint is off)
//	-drift-window rows per drift monitor window (default 1000)
//	-v            log informational lines too (loads, reloads, log files)
//
// # Endpoints
//
//	POST /predict      {"origin":"ORD","destination":"LGA","distance":733,"time":"2001-01-15T08:30:00Z"}
//	                   → {"request_id":"…","model":"flight_delay/1","probability":0.27,"inputs":{…}}
//	                   A JSON array of requests (at most 1000) is a batch: the answer is an array.
//	                   400: malformed JSON, unknown or missing fields, invalid values; 413: body too large;
//	                   415: not JSON; 503: the prediction log is broken or closing; 504: the prediction
//	                   timed out. An airport code the online store has no features for (one without
//	                   recent departures) is scored with zero traffic features, as in training.
//	GET  /drift        the champion drift monitor's counters and last window report (JSON; the report
//	                   is null until a window of -drift-window rows, or ?flush=1 with at least 100 rows
//	                   in the open window, has been evaluated)
//	GET  /models       the versions serving as champion and challenger
//	POST /admin/alias  {"alias":"champion","version":3}: moves the alias and reloads at once
//	GET  /metrics      Prometheus: kiln_service_requests_total and kiln_service_request_duration_seconds
//	                   by model and status, predictions by model and role, reloads, the prediction
//	                   log's queue and backpressure, and the drift monitor's kiln_monitor_* gauges
//	GET  /healthz
//
// # Models and reloads
//
// A version repository has one opener at a time (version.Open locks it), so
// the service holds DIR/repo open while it runs: to promote a model, move
// the alias through the service (POST /admin/alias, which reloads at
// once), or stop it, move the alias with any Kiln program and start it
// again. The service also checks the aliases every -reload, for moves made
// by code that shares its repository handle. A reload loads the new
// version, then swaps it in atomically: requests in flight finish on the
// models they started with. When the challenger alias is missing, or points
// at the champion's version, nothing is scored in shadow.
//
// # Prediction log
//
// Every champion prediction and every shadow prediction (same request_id,
// role "shadow") is a row of the Parquet log, written with parquet-go's
// typed writer. -log DIR/predictions.parquet writes
// DIR/predictions-<start time>-000001.parquet, -000002… : a file is closed
// (footer, fsync, rename from a hidden temporary name) after -log-rows rows,
// after -log-age, and at shutdown, so every visible file is complete.
// Handlers enqueue rows into a bounded queue before answering; when the
// writer falls behind they wait for room (backpressure) and never drop a
// row. A request is answered only once its prediction is queued, and a
// graceful shutdown writes the whole queue: every answered prediction is in
// the log. A write error breaks the log, and the service then answers 503
// rather than predict without logging.
//
// # Shutdown
//
// On SIGINT or SIGTERM the service stops accepting connections, waits for
// the requests in flight (up to 30 s) and for the shadow predictions they
// started, writes the rest of the log, and closes the drift monitor, the
// online store and the repository.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("service", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var cfg config
	addr := flags.String("addr", ":8080", "address to listen on")
	flags.StringVar(&cfg.Dir, "dir", "", "the story's folder: DIR/repo and DIR/online (required)")
	flags.StringVar(&cfg.Redis, "redis", "", "Redis address of the online store (default: Badger at DIR/online)")
	flags.BoolVar(&cfg.Materialize, "materialize", false, "materialize the feature views into the online store before serving (default: true with -redis)")
	flags.StringVar(&cfg.LogPath, "log", "", "Parquet prediction log (default DIR/predictions.parquet)")
	flags.Int64Var(&cfg.LogFileRows, "log-rows", 1_000_000, "rows per prediction log file")
	flags.DurationVar(&cfg.LogFileAge, "log-age", 5*time.Minute, "age at which a prediction log file is closed")
	flags.DurationVar(&cfg.Reload, "reload", 2*time.Second, "how often to check the aliases (0 or less: never)")
	flags.StringVar(&cfg.AdminToken, "admin-token", os.Getenv("KILN_SERVICE_ADMIN_TOKEN"), "bearer token for POST /admin/alias (empty: the endpoint is off)")
	flags.Int64Var(&cfg.DriftWindow, "drift-window", 1000, "rows per drift monitor window")
	verbose := flags.Bool("v", false, "log informational lines too")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if cfg.Dir == "" || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "service: -dir is required, and no arguments are taken")
		flags.Usage()
		return 2
	}
	materializeSet := false
	flags.Visit(func(f *flag.Flag) { materializeSet = materializeSet || f.Name == "materialize" })
	if !materializeSet && cfg.Redis != "" {
		cfg.Materialize = true
		fmt.Fprintln(stdout, "materializing the feature views into Redis first (-materialize=false to skip)")
	}
	if cfg.Reload <= 0 {
		cfg.Reload = -1
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.StoreLogger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := newServer(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "service:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		fmt.Fprintln(stderr, "service:", err)
		return 1
	}
	d := s.dep.Load()
	fmt.Fprintf(stdout, "serving %s (shadow: %s), logging to %s\n", d.name, orNone(d.shadowN), s.cfg.LogPath)
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	if err := s.serve(ctx, ln, 30*time.Second); err != nil {
		fmt.Fprintln(stderr, "service:", err)
		return 1
	}
	fmt.Fprintf(stdout, "stopped; %d predictions logged in %d files\n", s.plog.written.Load(), s.plog.files.Load())
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
