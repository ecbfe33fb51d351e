// Package miniotest starts a real MinIO server for tests: a `minio server`
// process on a free loopback port, with its data in a temporary folder,
// stopped when the test ends.
//
// The server binary is looked up on PATH, then in $GOBIN or $GOPATH/bin
// (where `go install` puts it). When it is missing, Start skips the test
// locally and fails it in CI (when $CI is set), where .ci/run installs it
// with
//
//	go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// InstallCommand is the command that installs the MinIO server this
// package uses.
const InstallCommand = "go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// StartTimeout bounds how long Start waits for the server to answer its
// liveness probe.
const StartTimeout = 60 * time.Second

// Start runs a MinIO server for the duration of the test t and returns its
// endpoint ("127.0.0.1:PORT", plain HTTP) and root credentials, which are
// random. The server keeps its data in a folder from t.TempDir and is
// killed at cleanup. Start returns once the server answers both its liveness
// and its cluster health probes, and fails the test, with the server's
// output, if that takes longer than StartTimeout.
//
// Each call starts its own server (about a second); a package that needs
// many buckets can share one server and create a bucket per test.
func Start(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("minio server not found (%v); CI must install it: %s", err, InstallCommand)
		}
		t.Skipf("minio server not found: .ci/run installs it with %s", InstallCommand)
	}

	accessKey = "kiln-" + randomHex(6)
	secretKey = randomHex(20)
	dir := t.TempDir()

	// A free port can be taken by someone else between our probe and the
	// server's bind; try a few times.
	var lastErr error
	for range 3 {
		var srv *server
		srv, lastErr = start(bin, dir, accessKey, secretKey)
		if lastErr == nil {
			t.Cleanup(srv.stop)
			return srv.endpoint, accessKey, secretKey
		}
	}
	t.Fatalf("miniotest: %v", lastErr)
	return "", "", ""
}

// Binary returns the path of the minio server: "minio" on PATH, or in $GOBIN
// or $GOPATH/bin (asking the go command where they are if the environment
// does not say).
func Binary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, "minio")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New(`"minio" is neither on PATH nor in $GOPATH/bin`)
}

var goBinDirs = sync.OnceValue(func() []string {
	var dirs []string
	add := func(gobin, gopath string) {
		if gobin != "" {
			dirs = append(dirs, gobin)
		}
		for p := range strings.SplitSeq(gopath, string(os.PathListSeparator)) {
			if p != "" {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
	}
	add(os.Getenv("GOBIN"), os.Getenv("GOPATH"))
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) == 2 {
			add(strings.TrimSpace(lines[0]), strings.TrimSpace(lines[1]))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
})

type server struct {
	endpoint string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	out      *syncBuffer
}

func start(bin, dir, accessKey, secretKey string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	consolePort, err := freePort()
	if err != nil {
		return nil, err
	}
	endpoint := net.JoinHostPort("127.0.0.1", port)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"),
		"--address", endpoint,
		"--console-address", net.JoinHostPort("127.0.0.1", consolePort),
		"--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+accessKey,
		"MINIO_ROOT_PASSWORD="+secretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on", // no terminal colours, no prompts
	)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{endpoint: endpoint, cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		cmd.Wait()
		close(s.done)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := s.waitLive(ctx); err != nil {
		s.stop()
		return nil, fmt.Errorf("minio server on %s: %v\n--- server output ---\n%s", endpoint, err, out.String())
	}
	return s, nil
}

// waitLive polls the liveness endpoint, then the cluster health endpoint
// (the server answers the former before it serves S3 requests, which fail
// with "Server not initialized" until the latter answers 200), until both
// answer 200, the process exits or ctx ends.
func (s *server) waitLive(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	probes := []string{"/minio/health/live", "/minio/health/cluster"}
	last := "no answer"
	for {
		for len(probes) > 0 {
			status, err := probe(ctx, client, "http://"+s.endpoint+probes[0])
			if err != nil {
				last = err.Error()
				break
			}
			if status != http.StatusOK {
				last = fmt.Sprintf("%s: %d", probes[0], status)
				break
			}
			probes = probes[1:]
		}
		if len(probes) == 0 {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited before it was ready (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v (last probe: %s)", StartTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stop kills the server and waits for it to exit, so that t.TempDir's
// removal does not race with its writes.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// syncBuffer collects the server's output; the process writes it from two
// goroutines of os/exec while a failing Start reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 { // keep memory bounded for a chatty server
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
