package version

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/kilnml/kiln/store"
)

// GCOptions configure Repository.GC. The zero value is valid.
type GCOptions struct {
	// Grace protects what was written recently, by this process or
	// another: see store.GCOptions.Grace. Zero means store.DefaultGCGrace
	// (24 h); a negative value means none, safe only while nothing else
	// writes to the repository.
	Grace time.Duration
	// RepackThreshold: see store.GCOptions.RepackThreshold. Zero means 0.5.
	RepackThreshold float64
	// DryRun reports what GC would delete and deletes nothing.
	DryRun bool
	// Progress, when set, is called as the store's GC proceeds.
	Progress func(store.GCProgress)
}

// GC deletes from the store what nothing in the repository needs any more.
// Its roots are every branch and tag of every dataset, every commit a
// reflog mentions (so a branch moved back can be restored), every model
// version's artifact and every run's artifacts; from a commit, its
// ancestors, trees and files are kept. Commits, fetches and pulls of this
// Repository wait while GC runs.
func (r *Repository) GC(ctx context.Context, opts GCOptions) (store.GCStats, error) {
	if err := r.check(); err != nil {
		return store.GCStats{}, err
	}
	// Commits, fetches and pulls in progress finish first, and new ones
	// wait until GC is done: they may rely on blobs that only their commit
	// will make reachable.
	r.gcMu.Lock()
	defer r.gcMu.Unlock()
	roots, err := r.gcRoots(ctx)
	if err != nil {
		return store.GCStats{}, fmt.Errorf("version: gc: %w", err)
	}
	st, err := r.st.GC(ctx, roots, store.GCOptions{Grace: opts.Grace, RepackThreshold: opts.RepackThreshold, DryRun: opts.DryRun, Progress: opts.Progress})
	if err != nil {
		return st, fmt.Errorf("version: gc: %w", err)
	}
	return st, nil
}

// gcRoots lists the blobs the repository needs: commits, trees and files
// reachable from refs and reflogs, and registry and run artifacts.
func (r *Repository) gcRoots(ctx context.Context) ([]store.Digest, error) {
	heads, err := r.allHeads(ctx)
	if err != nil {
		return nil, err
	}
	seen := make(map[store.Digest]bool)
	var roots []store.Digest
	add := func(d store.Digest) {
		if !seen[d] {
			seen[d] = true
			roots = append(roots, d)
		}
	}
	if err := r.reachable(ctx, heads, func(c Commit, entries []Entry) error {
		add(c.ID)
		add(c.Tree)
		for _, e := range entries {
			add(e.Digest)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	reg, err := r.registryRoots(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range reg {
		add(d)
	}
	return roots, nil
}

// allHeads returns the commits of every ref of every dataset and every
// commit a reflog entry names.
func (r *Repository) allHeads(ctx context.Context) ([]store.Digest, error) {
	seen := make(map[store.Digest]bool)
	var heads []store.Digest
	add := func(d store.Digest) {
		if !d.IsZero() && !seen[d] {
			seen[d] = true
			heads = append(heads, d)
		}
	}
	err := r.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(refKeyPrefix)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			d, err := getRef(txn, item.KeyCopy(nil))
			if err != nil {
				return err
			}
			add(d)
		}
		it2 := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(reflogKeyPrefix)})
		defer it2.Close()
		for it2.Rewind(); it2.Valid(); it2.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it2.Item()
			var e ReflogEntry
			if err := item.Value(func(val []byte) error { return json.Unmarshal(val, &e) }); err != nil {
				return fmt.Errorf("%w: reflog entry %q: %v", ErrCorrupt, printableKey(item.Key()), err)
			}
			add(e.Old)
			add(e.New)
		}
		return nil
	})
	return heads, err
}
