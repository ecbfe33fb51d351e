// Package redistest starts a real Redis server for tests and benchmarks: a
// `redis-server` process found on PATH, listening on a free loopback port,
// with its working folder in a temporary directory, stopped when the test
// ends.
//
// When redis-server is missing, Start skips the test locally and fails it
// in CI (when $CI is set), where .ci/run installs it with
//
//	apt-get install redis-server
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// InstallCommand is the command that installs the server (Debian).
const InstallCommand = "apt-get install redis-server"

// StartTimeout bounds how long a start waits for the server to answer PING.
const StartTimeout = 20 * time.Second

// A Server is a running redis-server process.
type Server struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	out  *syncBuffer
}

// Addr returns the server's address, "127.0.0.1:PORT".
func (s *Server) Addr() string { return s.addr }

// Start runs a Redis server for the duration of the test t, with no
// persistence and its working folder in t.TempDir, and returns once it
// answers PING. It skips the test when redis-server is not on PATH (fails it
// when $CI is set), and fails it if the server does not start.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not found on PATH; CI must install it: %s", InstallCommand)
		}
		t.Skipf("redis-server not found on PATH: .ci/run installs it with %s", InstallCommand)
	}
	s, err := Launch(bin, t.TempDir())
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// Launch starts the redis-server binary bin with its working folder dir and
// returns once it answers PING; the caller must Kill it. A free port can be
// taken between our probe and the server's bind, so Launch tries three
// ports.
func Launch(bin, dir string) (*Server, error) {
	var lastErr error
	for range 3 {
		var s *Server
		if s, lastErr = launch(bin, dir); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func launch(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	out := &syncBuffer{}
	cmd := exec.Command(bin,
		"--port", port,
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
		"--databases", "1",
	)
	cmd.Dir = dir
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{addr: addr, cmd: cmd, done: make(chan struct{}), out: out}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		s.Kill()
		return nil, fmt.Errorf("redis-server on %s: %v\n--- server output ---\n%s", addr, err, out.String())
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	last := errors.New("no answer")
	for {
		if last = ping(s.addr); last == nil {
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("exited before it was ready (%v)", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v (last: %v)", StartTimeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ping sends one RESP PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// Kill kills the server (as a crash would: SIGKILL, no shutdown) and waits
// for it to exit. Calling it again does nothing.
func (s *Server) Kill() {
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

// Output returns what the server printed so far.
func (s *Server) Output() string { return s.out.String() }

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

// syncBuffer collects the server's output, bounded.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
