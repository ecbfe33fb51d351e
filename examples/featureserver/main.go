// Command featureserver serves a Kiln feature store over HTTP with Feast's
// feature-server API (see package features/server), on the embedded default:
// the registry in a version repository and the online store in Badger under
// the repository's folder.
//
//	go run ./examples/featureserver -repo REPO -registry feature_store -addr :6566
//
// Flags:
//
//	-addr         address to listen on (default ":6566", Feast's port)
//	-repo         folder of the version repository (created if missing)
//	-registry     name of the registry in the repository (default "feature_store")
//	-online       folder of the Badger online store (default REPO/online/REGISTRY)
//	-token        bearer token required of clients (default $KILN_FEATURE_SERVER_TOKEN; empty: none)
//	-materialize  materialize every online view incrementally up to now before serving
//
// It serves POST /get-online-features, POST /push, GET /health and the
// Prometheus metrics at GET /metrics, writes "listening on ADDR" on standard
// output once it accepts connections, and shuts down gracefully on SIGINT or
// SIGTERM. For example, with a view driver_stats of entity driver_id:
//
//	curl -X POST http://localhost:6566/get-online-features \
//	  -d '{"features":["driver_stats:conv_rate"],"entities":{"driver_id":[1001,1002]}}'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kilnml/kiln/features"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	"github.com/kilnml/kiln/features/server"
	"github.com/kilnml/kiln/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("featureserver", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", ":6566", "address to listen on")
	repoDir := flags.String("repo", "", "folder of the version repository (required)")
	regName := flags.String("registry", "feature_store", "name of the registry in the repository")
	onlineDir := flags.String("online", "", "folder of the Badger online store (default REPO/online/REGISTRY)")
	token := flags.String("token", os.Getenv("KILN_FEATURE_SERVER_TOKEN"), "bearer token required of clients (empty: none)")
	materialize := flags.Bool("materialize", false, "materialize every online view incrementally up to now before serving")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *repoDir == "" || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "featureserver: -repo is required, and no arguments are taken")
		flags.Usage()
		return 2
	}
	if *onlineDir == "" {
		*onlineDir = filepath.Join(*repoDir, "online", *regName)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := serve(ctx, *addr, *repoDir, *regName, *onlineDir, *token, *materialize, stdout, logger); err != nil {
		fmt.Fprintln(stderr, "featureserver:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, addr, repoDir, regName, onlineDir, token string, materialize bool, stdout io.Writer, logger *slog.Logger) error {
	repo, err := version.Open(ctx, repoDir, version.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer repo.Close()
	reg, err := features.OpenRegistry(ctx, repo, regName)
	if err != nil {
		return err
	}
	onl, err := badgerstore.Open(onlineDir, badgerstore.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer onl.Close()
	fs, err := features.NewStore(reg, features.StoreOptions{Online: onl, Logger: logger})
	if err != nil {
		return err
	}
	if materialize {
		views, err := reg.Views(ctx)
		if err != nil {
			return err
		}
		var names []string
		for _, v := range views {
			if v.Online {
				names = append(names, v.Name)
			}
		}
		if len(names) > 0 {
			stats, err := fs.MaterializeIncremental(ctx, names, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "materialized %d views, %d records\n", len(names), stats.RowsWritten())
		}
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.Handle("/", server.New(fs, server.Options{BearerToken: token, Registerer: metrics, Logger: logger}))
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
