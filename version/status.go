package version

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kilnml/kiln/store"
	"golang.org/x/sync/errgroup"
)

// ChangeKind says how an entry differs between two versions.
type ChangeKind string

// The kinds of change.
const (
	Added    ChangeKind = "added"    // only in the newer version
	Removed  ChangeKind = "removed"  // only in the older version
	Modified ChangeKind = "modified" // in both, with other content or mode
)

// StatusOptions configure Status. The zero value is valid.
type StatusOptions struct {
	// Progress, if not nil, is called once the folder is listed and after
	// each file hashed, from one goroutine at a time.
	Progress func(StatusProgress)
}

// StatusProgress reports the work of a Status so far.
type StatusProgress struct {
	Files  int   // files in the folder
	ToHash int   // files whose stat changed since they were last hashed
	Hashed int   // of those, hashed so far
	Bytes  int64 // bytes hashed so far
}

// A FileChange is a file of a working folder that differs from the commit
// Status compares it with. Old is the commit's entry (nil when Added), New
// describes the file (nil when Removed; its Table is nil).
type FileChange struct {
	Path string
	Kind ChangeKind
	Old  *Entry
	New  *Entry
}

// StatusReport is the result of Status.
type StatusReport struct {
	Changes  []FileChange // sorted by path
	Files    int          // regular files in the folder
	Rehashed int          // files read and hashed (the others matched the stat cache)
	Clean    bool         // no changes
}

// Status compares the files of the folder dir with the commit that spec
// names (see Resolve), as CommitFiles of dir would see them: a file is
// Modified if its content or its execute bit differ from the entry's.
//
// Only files that may have changed are read. A stat cache in the
// repository, filled by Status, CommitFiles and Checkout, holds each file's
// size, mtime, ctime, inode and digest as of when it was last hashed; a file
// whose lstat matches its entry is not read, unless its mtime is within 2
// seconds of the entry's making ("racily clean": it could have changed
// again within one timestamp tick). The folder is listed in parallel, the
// cache read in one pass and updated in one batch.
func (r *Repository) Status(ctx context.Context, spec, dir string, opts StatusOptions) (StatusReport, error) {
	if err := r.check(); err != nil {
		return StatusReport{}, err
	}
	rep, err := r.status(ctx, spec, dir, opts)
	if err != nil {
		return StatusReport{}, fmt.Errorf("version: status of %s against %s: %w", dir, quoteShort(spec), err)
	}
	return rep, nil
}

func (r *Repository) status(ctx context.Context, spec, dir string, opts StatusOptions) (StatusReport, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return StatusReport{}, err
	}
	if fi, err := os.Stat(abs); err != nil {
		return StatusReport{}, err
	} else if !fi.IsDir() {
		return StatusReport{}, fmt.Errorf("%s is not a folder", dir)
	}

	// List the folder while the commit's tree and the cache are read.
	var (
		files   []walkFile
		walkErr error
		wg      sync.WaitGroup
	)
	wg.Go(func() { files, walkErr = walkFolder(ctx, abs) })
	c, err := r.resolve(ctx, spec)
	var tree []Entry
	var cache map[string]statEntry
	if err == nil {
		tree, err = r.readTree(ctx, c.Tree)
	}
	if err == nil {
		cache, err = r.loadStatCache(abs)
	}
	wg.Wait()
	if err := errors.Join(err, walkErr); err != nil {
		return StatusReport{}, err
	}

	// Files whose stat matches their cache entry keep its digest; the
	// others are hashed.
	digests := make([]store.Digest, len(files))
	var toHash []int
	for i, f := range files {
		ce, ok := cache[f.rel]
		if ok {
			delete(cache, f.rel) // what stays in cache is stale
			if ce.fresh(f.key) {
				digests[i] = ce.digest
				continue
			}
		}
		toHash = append(toHash, i)
	}
	prog := StatusProgress{Files: len(files), ToHash: len(toHash)}
	var mu sync.Mutex // guards prog and the Progress calls
	if opts.Progress != nil {
		opts.Progress(prog)
	}
	updates := make([]statUpdate, 0, len(toHash)+len(cache))
	for p := range cache {
		updates = append(updates, statUpdate{folder: abs, path: p, del: true})
	}
	hashed := make([]statUpdate, len(toHash))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for j, i := range toHash {
		g.Go(func() error {
			f := &files[i]
			d, key, n, err := hashFile(f.abs)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s vanished while read", f.abs)
			}
			if err != nil {
				return err
			}
			digests[i] = d
			if key != (statKey{}) {
				hashed[j] = statUpdate{folder: abs, path: f.rel, entry: statEntry{key: key, digest: d, written: time.Now().UnixNano()}}
			}
			if opts.Progress != nil {
				mu.Lock()
				prog.Hashed++
				prog.Bytes += n
				opts.Progress(prog)
				mu.Unlock()
			}
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return StatusReport{}, err
	}
	for _, u := range hashed {
		if u.path != "" {
			updates = append(updates, u)
		}
	}

	// Compare with the tree.
	rep := StatusReport{Files: len(files), Rehashed: len(toHash)}
	index := make(map[string]int, len(tree))
	for i, e := range tree {
		index[e.Path] = i
	}
	found := make([]bool, len(tree))
	for i, f := range files {
		cur := &Entry{Path: f.rel, Digest: digests[i], Size: f.key.size, Mode: f.mode}
		ti, ok := index[f.rel]
		if !ok {
			rep.Changes = append(rep.Changes, FileChange{Path: f.rel, Kind: Added, New: cur})
			continue
		}
		found[ti] = true
		if old := &tree[ti]; old.Digest != cur.Digest || old.Mode != cur.Mode {
			rep.Changes = append(rep.Changes, FileChange{Path: f.rel, Kind: Modified, Old: old, New: cur})
		}
	}
	for i := range tree {
		if !found[i] {
			rep.Changes = append(rep.Changes, FileChange{Path: tree[i].Path, Kind: Removed, Old: &tree[i]})
		}
	}
	slices.SortFunc(rep.Changes, func(a, b FileChange) int { return strings.Compare(a.Path, b.Path) })
	rep.Clean = len(rep.Changes) == 0
	if err := r.writeStatCache(updates); err != nil {
		return StatusReport{}, err
	}
	return rep, nil
}

// hashBufPool holds read buffers of hashFile.
var hashBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// hashFile returns the digest of the content of the file at abs (that of
// the blob it would be), the stat of the open file taken before reading
// (zero if the file changed size meanwhile) and the bytes read.
func hashFile(abs string) (store.Digest, statKey, int64, error) {
	f, err := os.Open(abs)
	if err != nil {
		return store.Digest{}, statKey{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return store.Digest{}, statKey{}, 0, err
	}
	h := store.NewHasher()
	bp := hashBufPool.Get().(*[]byte)
	defer hashBufPool.Put(bp)
	n, err := io.CopyBuffer(h, struct{ io.Reader }{f}, *bp)
	if err != nil {
		return store.Digest{}, statKey{}, 0, fmt.Errorf("read %s: %w", abs, err)
	}
	key := statKeyOf(fi)
	if n != key.size {
		key = statKey{}
	}
	return h.Sum(), key, n, nil
}
