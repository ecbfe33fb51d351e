package store_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/store"
)

func TestMemorySwap(t *testing.T) {
	backendtest.RunSwap(t, func(t *testing.T) store.Swapper { return store.NewMemory() })
}

func TestFSSwap(t *testing.T) {
	backendtest.RunSwap(t, func(t *testing.T) store.Swapper {
		root := t.TempDir()
		t.Cleanup(func() { checkFSSwapDisk(t, root) })
		return newFS(t, root)
	})
}

// checkFSSwapDisk checks that an FS root used for swaps holds nothing but
// objects with valid names and, in .tmp, the lock folder with lock files.
func checkFSSwapDisk(t *testing.T, root string) {
	t.Helper()
	for _, p := range diskFiles(t, filepath.Join(root, ".tmp")) {
		if p != "locks/" && !(strings.HasPrefix(p, "locks/") && strings.HasSuffix(p, ".lock")) {
			t.Errorf("unexpected file left in .tmp: %q", p)
		}
	}
	for _, p := range diskFiles(t, root) {
		if strings.HasPrefix(p, ".tmp/") || strings.HasSuffix(p, "/") {
			continue
		}
		if err := store.ValidName(p); err != nil {
			t.Errorf("file with an invalid name on disk: %v", err)
		}
	}
}

// TestFSSwapReserved: the temporary folder, which holds the lock files,
// cannot be reached through the swap methods.
func TestFSSwapReserved(t *testing.T) {
	b := newFS(t, t.TempDir())
	if _, err := b.Swap(t.Context(), "x", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".tmp", ".tmp/locks", ".tmp/locks/x.lock"} {
		if _, _, err := b.Load(t.Context(), name); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Load(%q): error %v, want one wrapping ErrBadName", name, err)
		}
		if _, err := b.Swap(t.Context(), name, nil, ""); !errors.Is(err, store.ErrBadName) {
			t.Errorf("Swap(%q): error %v, want one wrapping ErrBadName", name, err)
		}
		if err := b.SwapDelete(t.Context(), name, ""); !errors.Is(err, store.ErrBadName) {
			t.Errorf("SwapDelete(%q): error %v, want one wrapping ErrBadName", name, err)
		}
	}
}

// TestFSSwapTagIsContentHash: the FS tag of an object is the hexadecimal
// digest of its content, whichever way it was written, and the FS and
// memory backends agree on it.
func TestFSSwapTagIsContentHash(t *testing.T) {
	ctx := t.Context()
	fsb, mem := newFS(t, t.TempDir()), store.NewMemory()
	data := []byte("refs/heads/main -> blake3:…")
	want := store.Sum(data).Hex()
	for _, s := range []store.Swapper{fsb, mem} {
		tag, err := s.Swap(ctx, "ref", data, "")
		if err != nil || tag != want {
			t.Errorf("%T: Swap = %q, %v; want tag %q", s, tag, err, want)
		}
		if err := s.Put(ctx, "put", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		if _, tag, err := s.Load(ctx, "put"); err != nil || tag != want {
			t.Errorf("%T: Load of a Put object: tag %q, %v; want %q", s, tag, err, want)
		}
	}
}

// The FS process test re-executes the test binary as children running
// TestFSSwapChild, which increment a counter in the root named by
// swapChildEnv.
const (
	swapChildEnv       = "KILN_SWAP_CHILD_DIR"
	swapChildGoroutine = 4
	swapChildRounds    = 25
)

func TestFSSwapChild(t *testing.T) {
	root := os.Getenv(swapChildEnv)
	if root == "" {
		t.Skip("helper process for TestFSSwapProcesses")
	}
	incrementMany(t, newFS(t, root))
}

// incrementMany increments "counter" swapChildGoroutine × swapChildRounds
// times from as many goroutines.
func incrementMany(t *testing.T, s store.Swapper) {
	var wg sync.WaitGroup
	errs := make(chan error, swapChildGoroutine)
	for range swapChildGoroutine {
		wg.Go(func() {
			for range swapChildRounds {
				if _, err := backendtest.Increment(t.Context(), s, "counter"); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFSSwapProcesses: two child processes and this one increment one
// counter in a shared root at the same time; the file locks keep every
// increment.
func TestFSSwapProcesses(t *testing.T) {
	root := t.TempDir()
	const children = 2
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, children)
	errs := make([]error, children)
	for i := range children {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFSSwapChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), swapChildEnv+"="+root)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { errs[i] = cmd.Wait() })
	}
	b := newFS(t, root)
	incrementMany(t, b)
	wg.Wait()
	for i, err := range errs {
		if err != nil || !strings.Contains(outs[i].String(), "--- PASS: TestFSSwapChild") {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
	}
	data, _, err := b.Load(t.Context(), "counter")
	if err != nil {
		t.Fatal(err)
	}
	want := (children + 1) * swapChildGoroutine * swapChildRounds
	if got, err := strconv.Atoi(string(data)); err != nil || got != want {
		t.Errorf("counter = %q after %d increments by %d processes, want %d", data, want, children+1, want)
	}
	checkFSSwapDisk(t, root)
}
