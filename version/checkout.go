package version

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// CheckoutOptions configure Checkout. The zero value is valid.
type CheckoutOptions struct {
	// Force overwrites files of the folder that differ from the commit's
	// entries (and replaces symlinks in their place). Without it such
	// files make Checkout fail before it writes anything.
	Force bool
	// Progress, if not nil, is called after each file written, from one
	// goroutine at a time.
	Progress func(CheckoutProgress)
}

// CheckoutProgress reports the work of a Checkout so far.
type CheckoutProgress struct {
	Files    int   // files written so far
	FilesAll int   // files to write
	Bytes    int64 // bytes written so far
	BytesAll int64 // bytes to write
}

// CheckoutStats sum up a Checkout.
type CheckoutStats struct {
	Files   int   // files written (or whose mode was fixed)
	Bytes   int64 // bytes written
	Skipped int   // files already identical to their entry
}

// Checkout writes the files of the commit that spec names (see Resolve)
// into the folder outDir, creating it if needed. Files of the folder that
// are not in the commit are left alone; a file identical to its entry is
// not written again. A file that differs from its entry makes Checkout fail
// with an error wrapping ErrConflict, before anything is written, unless
// opts.Force is set.
//
// Each file is written to a temporary file in its target folder, verified
// against its digest as it is read from the store, synced and renamed into
// place, so a file is either its old or its new content. Written files get
// the mtime of the commit (or, for a commit of the last few seconds, a
// time 3 seconds before the checkout), which lets the stat cache trust them
// at once: Checkout fills the cache, and a Status of outDir right after it
// hashes none of the files it wrote (a later write to a file moves its
// mtime to the present, so the cache still sees it). Writes never leave
// outDir, whatever symlinks it holds.
func (r *Repository) Checkout(ctx context.Context, spec, outDir string, opts CheckoutOptions) (CheckoutStats, error) {
	if err := r.check(); err != nil {
		return CheckoutStats{}, err
	}
	st, err := r.checkout(ctx, spec, outDir, opts)
	if err != nil {
		return st, fmt.Errorf("version: checkout %s to %s: %w", quoteShort(spec), outDir, err)
	}
	return st, nil
}

func (r *Repository) checkout(ctx context.Context, spec, outDir string, opts CheckoutOptions) (CheckoutStats, error) {
	start := time.Now()
	var stats CheckoutStats
	c, err := r.resolve(ctx, spec)
	if err != nil {
		return stats, err
	}
	tree, err := r.readTree(ctx, c.Tree)
	if err != nil {
		return stats, err
	}
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return stats, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return stats, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return stats, err
	}
	defer root.Close()
	cache, err := r.loadStatCache(abs)
	if err != nil {
		return stats, err
	}
	mtime := c.Time
	if limit := start.Add(-racyWindow - time.Second); mtime.After(limit) {
		mtime = limit
	}

	// Plan: what to write, what is already there, what is in the way.
	type job struct {
		e   *Entry
		act int
	}
	var (
		jobs      []job
		conflicts []string
		updates   []statUpdate
		mu        sync.Mutex
	)
	acts := make([]int, len(tree))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for i := range tree {
		e := &tree[i]
		g.Go(func() error {
			act, upd, why, err := r.checkoutPlan(gctx, root, abs, e, cache[e.Path])
			if err != nil {
				return err
			}
			acts[i] = act
			mu.Lock()
			defer mu.Unlock()
			if why != "" {
				conflicts = append(conflicts, why)
			}
			if upd != nil {
				updates = append(updates, *upd)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return stats, err
	}
	if len(conflicts) > 0 && !opts.Force {
		slices.Sort(conflicts)
		return stats, fmt.Errorf("%w: %d files differ from the commit, first %s (use Force to overwrite)", ErrConflict, len(conflicts), conflicts[0])
	}
	var prog CheckoutProgress
	for i, a := range acts {
		jobs = append(jobs, job{&tree[i], a})
		if a == actWrite {
			prog.FilesAll++
			prog.BytesAll += tree[i].Size
		}
	}

	// Write.
	dirs := make(map[string]bool)
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(max(4, 2*runtime.GOMAXPROCS(0)))
	for _, j := range jobs {
		switch j.act {
		case actSkip:
			mu.Lock()
			stats.Skipped++
			mu.Unlock()
			continue
		case actChmod:
			if err := root.Chmod(filepath.FromSlash(j.e.Path), j.e.Mode); err != nil {
				g.Wait()
				return stats, err
			}
			mu.Lock()
			stats.Files++
			mu.Unlock()
			continue
		}
		dir := path.Dir(j.e.Path)
		if !dirs[dir] {
			dirs[dir] = true
			if err := root.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
				g.Wait()
				return stats, err
			}
		}
		g.Go(func() error {
			key, err := r.writeEntry(gctx, root, j.e, mtime)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			stats.Files++
			stats.Bytes += j.e.Size
			updates = append(updates, statUpdate{folder: abs, path: j.e.Path, entry: statEntry{key: key, digest: j.e.Digest, written: time.Now().UnixNano()}})
			if opts.Progress != nil {
				prog.Files++
				prog.Bytes += j.e.Size
				opts.Progress(prog)
			}
			return nil
		})
	}
	werr := g.Wait()
	// The renames are durable once their folders are synced.
	for dir := range dirs {
		if err := syncDir(root, dir); err != nil && werr == nil {
			werr = err
		}
	}
	if err := r.writeStatCache(updates); err != nil && werr == nil {
		werr = err
	}
	return stats, werr
}

// What Checkout does with an entry.
const (
	actWrite = iota // write the file
	actSkip         // identical already
	actChmod        // identical content, other mode
)

// checkoutPlan decides what Checkout does with entry e: write it, skip it
// (identical; with a cache update if it was hashed) or fix its mode. why
// is set when a file in the way differs.
func (r *Repository) checkoutPlan(ctx context.Context, root *os.Root, abs string, e *Entry, ce statEntry) (act int, upd *statUpdate, why string, err error) {
	name := filepath.FromSlash(e.Path)
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return actWrite, nil, "", nil
	case errors.Is(err, syscall.ENOTDIR):
		return actWrite, nil, fmt.Sprintf("%q (a parent is a file)", e.Path), nil
	case err != nil:
		return 0, nil, "", err
	case fi.IsDir():
		return 0, nil, "", fmt.Errorf("%w: %q is a folder in %s", ErrConflict, e.Path, abs)
	case !fi.Mode().IsRegular():
		return actWrite, nil, fmt.Sprintf("%q (a %v)", e.Path, fi.Mode().Type()), nil
	}
	key := statKeyOf(fi)
	d := ce.digest
	if !ce.fresh(key) {
		if fi.Size() != e.Size {
			return actWrite, nil, fmt.Sprintf("%q (%d bytes, the entry has %d)", e.Path, fi.Size(), e.Size), nil
		}
		var n int64
		d, key, n, err = hashFile(filepath.Join(abs, name))
		if err != nil {
			return 0, nil, "", err
		}
		if key != (statKey{}) && n == e.Size {
			upd = &statUpdate{folder: abs, path: e.Path, entry: statEntry{key: key, digest: d, written: time.Now().UnixNano()}}
		}
	}
	if d != e.Digest {
		return actWrite, upd, fmt.Sprintf("%q (other content)", e.Path), nil
	}
	if normMode(fi.Mode()) != e.Mode {
		return actChmod, upd, "", nil
	}
	return actSkip, upd, "", nil
}

// writeEntry writes the content of e to a temporary file next to its path
// in root, verified, synced, with mode e.Mode and the given mtime, and
// renames it into place. It returns the stat cache key of the result.
func (r *Repository) writeEntry(ctx context.Context, root *os.Root, e *Entry, mtime time.Time) (statKey, error) {
	name := filepath.FromSlash(e.Path)
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(name), tempPrefix+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return statKey{}, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			root.Remove(tmp)
		}
	}()
	rc, err := r.st.Get(ctx, e.Digest)
	if err != nil {
		return statKey{}, fmt.Errorf("entry %q: %w", e.Path, corruptIf(err))
	}
	n, err := io.Copy(f, rc) // Get verifies the content as it goes
	rc.Close()
	if err != nil {
		return statKey{}, fmt.Errorf("entry %q: %w", e.Path, corruptIf(err))
	}
	if n != e.Size {
		return statKey{}, fmt.Errorf("%w: entry %q: blob %s has %d bytes, the entry says %d", ErrCorrupt, e.Path, e.Digest, n, e.Size)
	}
	if err := f.Chmod(e.Mode); err != nil {
		return statKey{}, err
	}
	if err := root.Chtimes(tmp, mtime, mtime); err != nil {
		return statKey{}, err
	}
	if err := f.Sync(); err != nil {
		return statKey{}, err
	}
	if err := f.Close(); err != nil {
		return statKey{}, err
	}
	if err := root.Rename(tmp, name); err != nil {
		return statKey{}, err
	}
	ok = true
	fi, err := root.Lstat(name)
	if err != nil {
		return statKey{}, err
	}
	return statKeyOf(fi), nil
}

// syncDir syncs a folder of root so that renames into it are durable.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(filepath.FromSlash(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
