package version

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// Options configure Open. The zero value is valid.
type Options struct {
	// LockTimeout is how long Open waits for another process that has the
	// repository open to close it, retrying, before it fails with an error
	// wrapping ErrLocked. Zero fails at once.
	LockTimeout time.Duration
	// Store configures the object store under the repository (chunking,
	// pack size, compression are fixed when the repository is created).
	Store store.Options
	// Author is the default author of commits, runs and model versions
	// made without one. Empty means $USER.
	Author string
	// Logger receives Badger's log lines (warnings and errors only). Nil
	// discards them.
	Logger *slog.Logger
}

// Repository is a versioned repository of datasets, models and runs in one
// folder: metadata in a Badger database under meta/, data in a store under
// objects/. It is safe for concurrent use by many goroutines. One process
// at a time has a repository open (Open waits up to Options.LockTimeout).
type Repository struct {
	dir    string
	db     *badger.DB
	st     *store.Store
	author string

	// gcMu keeps GC and writes that rely on blobs already in the store
	// apart: a commit that finds a blob present and refers to it must not
	// have it deleted by a GC whose roots were computed before the commit.
	// Writes hold it shared, GC exclusively.
	gcMu sync.RWMutex

	mu     sync.Mutex // guards closed and runs
	closed bool
	runs   map[*Run]struct{} // handles not ended: Close flushes their metrics
}

// Layout of a repository folder.
const (
	metaDir    = "meta"
	objectsDir = "objects"
)

// Open opens the repository in dir, creating the folder and an empty
// repository if it does not exist.
func Open(ctx context.Context, dir string, opts Options) (*Repository, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("version: open %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, objectsDir), 0o755); err != nil {
		return nil, fmt.Errorf("version: open %s: %w", dir, err)
	}
	bopts := badger.DefaultOptions(filepath.Join(abs, metaDir)).
		WithSyncWrites(true). // every commit and ref update is durable when it returns
		WithLogger(badgerLogger{opts.Logger}).
		WithNumVersionsToKeep(1).
		WithMemTableSize(16 << 20).
		WithValueLogFileSize(64 << 20).
		WithBlockCacheSize(32 << 20).
		WithIndexCacheSize(16 << 20).
		WithNumCompactors(2).
		WithCompactL0OnClose(false)
	var db *badger.DB
	deadline := time.Now().Add(opts.LockTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		db, err = badger.Open(bopts)
		if err == nil {
			break
		}
		if !isLockErr(err) {
			return nil, fmt.Errorf("version: open %s: metadata: %w", dir, err)
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("version: open %s: %w", dir, ErrLocked)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("version: open %s: %w", dir, ctx.Err())
		}
	}
	fs, err := store.NewFS(filepath.Join(abs, objectsDir))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("version: open %s: %w", dir, err)
	}
	st, err := store.Open(ctx, fs, opts.Store)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("version: open %s: %w", dir, err)
	}
	author := opts.Author
	if author == "" {
		author = os.Getenv("USER")
	}
	return &Repository{dir: abs, db: db, st: st, author: author, runs: make(map[*Run]struct{})}, nil
}

// beginWrite holds off GC until the returned function is called.
func (r *Repository) beginWrite() func() {
	r.gcMu.RLock()
	return r.gcMu.RUnlock
}

// isLockErr reports whether Badger refused to open because another process
// holds its directory lock.
func isLockErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Cannot acquire directory lock")
}

// Dir returns the repository's folder (absolute).
func (r *Repository) Dir() string { return r.dir }

// Store returns the object store holding the repository's data.
func (r *Repository) Store() *store.Store { return r.st }

// Close flushes and closes the repository. Later calls fail with ErrClosed;
// Close itself may be called more than once.
//
// The metrics that runs not yet ended have logged are flushed first; the
// runs stay "running" (a later ResumeRun continues them). Close does not
// wait for calls in progress on other goroutines: finish them first.
func (r *Repository) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	runs := make([]*Run, 0, len(r.runs))
	for run := range r.runs {
		runs = append(runs, run)
	}
	r.mu.Unlock()
	var errs []error
	for _, run := range runs {
		if err := run.Flush(context.Background()); err != nil && !errors.Is(err, errRunEnded) {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	if r.closed { // closed meanwhile by another goroutine
		r.mu.Unlock()
		return errors.Join(errs...)
	}
	r.closed = true
	r.mu.Unlock()
	return errors.Join(append(errs, r.st.Close(), r.db.Close())...)
}

// check fails with ErrClosed once the repository is closed.
func (r *Repository) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	return nil
}

// badgerLogger passes Badger's warnings and errors to a slog.Logger.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
	}
}
func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "badger")
	}
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}
