//go:build unix

package version

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kilnml/kiln/store"
)

// The process tests re-execute the test binary as a child that runs
// TestCoreChildHelper in a mode chosen by environment variables:
//
//	KILN_CORE_CHILD=crash  open the repository, print "ready", then commit in
//	                       a loop (CommitFiles and CommitEntries, on two
//	                       branches) until killed; after each commit
//	                       returns, append "branch id" to KILN_CORE_LOG and
//	                       fsync.
//	KILN_CORE_CHILD=turns  KILN_CORE_N times: Open (waiting for the other
//	                       process), commit, log, Close. With
//	                       KILN_CORE_PARENT=1 the commit names its parent and
//	                       retries on ErrConflict.
const (
	coreChildEnv  = "KILN_CORE_CHILD"
	coreRepoEnv   = "KILN_CORE_REPO"
	coreLogEnv    = "KILN_CORE_LOG"
	coreSeedEnv   = "KILN_CORE_SEED"
	coreNEnv      = "KILN_CORE_N"
	coreParentEnv = "KILN_CORE_PARENT"
)

// TestCoreChildHelper is the child of the process tests; it does nothing
// in a normal run.
func TestCoreChildHelper(t *testing.T) {
	mode := os.Getenv(coreChildEnv)
	if mode == "" {
		t.Skip("helper process for TestCrashCommit and TestTwoProcessesCommit")
	}
	if err := coreChild(mode); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	os.Exit(0)
}

func coreChild(mode string) error {
	ctx := context.Background()
	dir, logPath := os.Getenv(coreRepoEnv), os.Getenv(coreLogEnv)
	seed, err := strconv.ParseUint(os.Getenv(coreSeedEnv), 10, 64)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	record := func(branch string, id store.Digest) error {
		if _, err := fmt.Fprintf(logf, "%s %s\n", branch, id); err != nil {
			return err
		}
		return logf.Sync()
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	switch mode {
	case "crash":
		r, err := Open(ctx, dir, Options{LockTimeout: 10 * time.Second, Author: "child"})
		if err != nil {
			return err
		}
		fmt.Println("ready") // the parent kills at a random moment from now
		work := filepath.Join(filepath.Dir(logPath), fmt.Sprintf("work-%d", seed))
		for i := 0; ; i++ {
			branch := []string{"main", "dev"}[rng.IntN(2)]
			var c Commit
			if i%2 == 0 {
				// A folder of a few files, some of them unchanged.
				files := make(map[string][]byte)
				for j := range 1 + rng.IntN(6) {
					b := make([]byte, rng.IntN(64<<10))
					rand.NewChaCha8([32]byte{byte(seed), byte(j), byte(rng.IntN(3))}).Read(b)
					files[fmt.Sprintf("f%d.bin", j)] = b
				}
				os.RemoveAll(work)
				for p, b := range files {
					if err := os.MkdirAll(work, 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(work, p), b, 0o644); err != nil {
						return err
					}
				}
				if len(files) == 0 {
					continue
				}
				c, err = r.CommitFiles(ctx, "data", []string{work}, CommitOptions{Branch: branch, Message: fmt.Sprint(i)})
			} else {
				b := make([]byte, rng.IntN(64<<10))
				rand.NewChaCha8([32]byte{byte(seed), byte(i), 9}).Read(b)
				d, perr := r.Store().Put(ctx, bytes.NewReader(b))
				if perr != nil {
					return perr
				}
				c, err = r.CommitEntries(ctx, "data", []Entry{{Path: "blob", Digest: d, Size: int64(len(b)), Mode: 0o644}}, CommitOptions{Branch: branch, Message: fmt.Sprint(i)})
			}
			if err != nil {
				return err
			}
			if err := record(branch, c.ID); err != nil {
				return err
			}
		}
	case "turns":
		n, err := strconv.Atoi(os.Getenv(coreNEnv))
		if err != nil {
			return err
		}
		withParent := os.Getenv(coreParentEnv) == "1"
		for i := range n {
			r, err := Open(ctx, dir, Options{LockTimeout: 30 * time.Second, Author: fmt.Sprint("child", seed)})
			if err != nil {
				return err
			}
			d, err := r.Store().Put(ctx, strings.NewReader(fmt.Sprintf("child %d commit %d", seed, i)))
			if err != nil {
				return err
			}
			for {
				opts := CommitOptions{Message: fmt.Sprintf("child %d commit %d", seed, i)}
				if withParent {
					if opts.Parent, err = r.head("shared", "main"); err != nil {
						return err
					}
				}
				c, err := r.CommitEntries(ctx, "shared", []Entry{{Path: fmt.Sprintf("c%d", seed), Digest: d, Size: int64(len(fmt.Sprintf("child %d commit %d", seed, i)))}}, opts)
				if withParent && errors.Is(err, ErrConflict) {
					continue
				}
				if err != nil {
					return err
				}
				if err := record("main", c.ID); err != nil {
					return err
				}
				break
			}
			if err := r.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// coreChildCmd prepares a child process.
func coreChildCmd(mode, repo, logPath string, seed int, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	var out bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestCoreChildHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), coreChildEnv+"="+mode, coreRepoEnv+"="+repo, coreLogEnv+"="+logPath, coreSeedEnv+"="+strconv.Itoa(seed))
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// readCoreLog reads the "branch id" lines the children completed.
func readCoreLog(t testing.TB, path string) map[string][]store.Digest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := make(map[string][]store.Digest)
	for line := range strings.SplitAfterSeq(string(data), "\n") {
		if !strings.HasSuffix(line, "\n") {
			break // cut short by the kill: that commit was not reported
		}
		branch, id, ok := strings.Cut(strings.TrimSpace(line), " ")
		d, err := store.ParseDigest(id)
		if !ok || err != nil {
			t.Fatalf("bad log line %q", line)
		}
		out[branch] = append(out[branch], d)
	}
	return out
}

// TestCrashCommit SIGKILLs a committing process 50 times at random
// moments. After each kill the repository opens, Check is clean (no ref
// points at missing data), and every commit whose call returned is on its
// branch.
func TestCrashCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: 50 child processes")
	}
	ctx := context.Background()
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	logPath := filepath.Join(base, "commits.log")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	const kills = 50
	for round := range kills {
		cmd, out := coreChildCmd("crash", repo, logPath, round+1)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		ready := make(chan bool, 1)
		go func() {
			line, err := bufio.NewReader(pr).ReadString('\n')
			ready <- err == nil && line == "ready\n"
			pr.Close()
		}()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case ok := <-ready:
			if !ok {
				t.Fatalf("round %d: child did not get ready\n%s", round, out.Bytes())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: child not ready after 30 s\n%s", round, out.Bytes())
		}
		wait := time.Duration(rng.IntN(120)) * time.Millisecond
		select {
		case err := <-done:
			t.Fatalf("round %d: child exited before the kill: %v\n%s", round, err, out.Bytes())
		case <-time.After(wait):
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		var ee *exec.ExitError
		if err := <-done; !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("round %d: child: %v, want killed\n%s", round, err, out.Bytes())
		}

		r, err := Open(ctx, repo, Options{LockTimeout: 5 * time.Second})
		if err != nil {
			t.Fatalf("round %d (killed after %v): open: %v", round, wait, err)
		}
		rep, err := r.Check(ctx)
		if err != nil {
			t.Fatalf("round %d (killed after %v): Check: %v\n%q", round, wait, err, rep.Problems)
		}
		for branch, ids := range readCoreLog(t, logPath) {
			log := coreLog(t, r, "data@"+branch)
			for _, id := range ids {
				if !slices.Contains(log, id) {
					t.Fatalf("round %d: commit %s returned but is not on %s", round, id, branch)
				}
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	logged := readCoreLog(t, logPath)
	t.Logf("%d kills; %d + %d commits completed and found on their branches", kills, len(logged["main"]), len(logged["dev"]))
	if len(logged["main"])+len(logged["dev"]) == 0 {
		t.Error("no commit completed in 50 rounds: the test tests nothing")
	}
}

// TestTwoProcessesCommit: two processes take turns (Options.LockTimeout)
// committing to one branch, one on top of whatever is there, the other
// naming its parent and retrying on ErrConflict. No commit is lost.
func TestTwoProcessesCommit(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	logPath := filepath.Join(base, "commits.log")
	const n = 8
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 2 {
		cmd, out := coreChildCmd("turns", repo, logPath, i+1, coreNEnv+"="+strconv.Itoa(n), coreParentEnv+"="+strconv.Itoa(i))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].Bytes())
		}
	}
	r, err := Open(ctx, repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	made := readCoreLog(t, logPath)["main"]
	log := coreLog(t, r, "shared")
	if len(made) != 2*n || len(log) != 2*n {
		t.Errorf("%d commits made, %d in the log; want %d", len(made), len(log), 2*n)
	}
	for _, id := range made {
		if !slices.Contains(log, id) {
			t.Errorf("commit %s is not on the branch", id)
		}
	}
	if _, err := r.Check(ctx); err != nil {
		t.Error(err)
	}
}
