//go:build unix

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a child that runs
// TestCrashHelper in one of two modes, chosen by environment variables:
//
//	KILN_CRASH_MODE=put  Put random blobs in a loop; after each Put returns,
//	                     append "digest seed size" to KILN_CRASH_LOG and fsync.
//	KILN_CRASH_MODE=gc   Put some garbage, then GC with the logged digests as
//	                     roots, in a loop.
//
// The parent SIGKILLs the child at a random moment, then checks the
// repository in KILN_CRASH_DIR: Check is clean and every logged Put reads
// back and verifies.
const (
	crashModeEnv = "KILN_CRASH_MODE"
	crashDirEnv  = "KILN_CRASH_DIR"
	crashLogEnv  = "KILN_CRASH_LOG"
	crashSeedEnv = "KILN_CRASH_SEED"
)

// crashLockStale is the GC lock timeout in the crash test: short, so that a
// killed GC's lock goes stale and the next GC proceeds.
const crashLockStale = 400 * time.Millisecond

type crashPut struct {
	d    Digest
	seed uint64
	size int
}

// crashData is the content of a logged Put.
func crashData(seed uint64, size int) []byte {
	b := make([]byte, size)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	key[31] = 0xc7
	rand.NewChaCha8(key).Read(b)
	// Repeat the first part so that blobs also dedup within themselves.
	if size > 256<<10 {
		copy(b[size/2:], b[:min(size/4, size-size/2)])
	}
	return b
}

func readCrashLog(path string) ([]crashPut, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []crashPut
	for line := range strings.SplitAfterSeq(string(data), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break // cut short by the kill: that Put was not reported complete
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("bad log line %q", line)
		}
		d, err := ParseDigest(f[0])
		if err != nil {
			return nil, err
		}
		seed, err1 := strconv.ParseUint(f[1], 10, 64)
		size, err2 := strconv.Atoi(f[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		out = append(out, crashPut{d, seed, size})
	}
	return out, nil
}

// TestCrashHelper is the child of TestCrash; it does nothing in a normal run.
func TestCrashHelper(t *testing.T) {
	mode := os.Getenv(crashModeEnv)
	if mode == "" {
		t.Skip("helper process for TestCrash")
	}
	if err := crashChild(mode, os.Getenv(crashDirEnv), os.Getenv(crashLogEnv), os.Getenv(crashSeedEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "crash helper:", err)
		os.Exit(3)
	}
}

func crashChild(mode, dir, logPath, seedText string) error {
	ctx := context.Background()
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		return err
	}
	b, err := NewFS(dir)
	if err != nil {
		return err
	}
	s, err := Open(ctx, b, Options{})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	for i := uint64(0); ; i++ {
		switch mode {
		case "put":
			ps := seed<<20 | i
			size := rng.IntN(3 << 20)
			if rng.IntN(4) == 0 {
				size = rng.IntN(20 << 10) // small: a single chunk
			}
			d, err := s.Put(ctx, bytes.NewReader(crashData(ps, size)))
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(logf, "%s %d %d\n", d, ps, size); err != nil {
				return err
			}
			if err := logf.Sync(); err != nil {
				return err
			}
		case "gc":
			for j := range 2 {
				size := rng.IntN(2 << 20)
				if _, err := s.Put(ctx, bytes.NewReader(crashData(1<<63|seed<<20|i<<2|uint64(j), size))); err != nil {
					return err
				}
			}
			puts, err := readCrashLog(logPath)
			if err != nil {
				return err
			}
			roots := make([]Digest, len(puts))
			for k, p := range puts {
				roots[k] = p.d
			}
			_, err = s.GC(ctx, roots, GCOptions{Grace: -1, RepackThreshold: 0.2, LockStale: crashLockStale})
			if errors.Is(err, ErrLocked) {
				time.Sleep(crashLockStale / 4) // a killed GC's lock: wait for it to go stale
				continue
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("unknown mode %q", mode)
		}
	}
}

func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: 50 child processes")
	}
	dir := filepath.Join(t.TempDir(), "repo")
	logPath := filepath.Join(t.TempDir(), "puts.log")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	const kills = 50
	var killedPut, killedGC, maxPuts int
	for round := range kills {
		mode := "put"
		if round%2 == 1 {
			mode = "gc"
		}
		var stderr bytes.Buffer
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			crashModeEnv+"="+mode, crashDirEnv+"="+dir, crashLogEnv+"="+logPath,
			crashSeedEnv+"="+strconv.Itoa(round+1))
		cmd.Stderr = &stderr
		cmd.Stdout = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		wait := time.Duration(100+rng.IntN(900)) * time.Millisecond
		select {
		case err := <-done:
			t.Fatalf("round %d: %s child exited before the kill: %v\n%s", round, mode, err, stderr.Bytes())
		case <-time.After(wait):
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		err := <-done
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("round %d: %s child: %v, want killed\n%s", round, mode, err, stderr.Bytes())
		}
		if mode == "put" {
			killedPut++
		} else {
			killedGC++
		}

		puts, err := readCrashLog(logPath)
		if err != nil {
			t.Fatal(err)
		}
		maxPuts = len(puts)
		b, err := NewFS(dir)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(t.Context(), b, Options{})
		if err != nil {
			t.Fatalf("round %d (%s killed after %v): open: %v", round, mode, wait, err)
		}
		if rep, err := s.Check(t.Context(), CheckOptions{}); err != nil {
			t.Fatalf("round %d (%s killed after %v): Check: %v\n%+v", round, mode, wait, err, rep)
		}
		for _, p := range puts {
			rc, err := s.Get(t.Context(), p.d)
			if err != nil {
				t.Fatalf("round %d (%s killed after %v): completed Put %s: %v", round, mode, wait, p.d, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("round %d: read %s: %v", round, p.d, err)
			}
			if !bytes.Equal(got, crashData(p.seed, p.size)) {
				t.Fatalf("round %d: %s reads back other bytes", round, p.d)
			}
		}
		s.Close()
	}
	t.Logf("%d kills (%d in Put, %d in GC); %d completed Puts checked after each", kills, killedPut, killedGC, maxPuts)
}
