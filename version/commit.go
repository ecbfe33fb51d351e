package version

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
	"golang.org/x/sync/errgroup"
)

// maxCommitBlob bounds the encoding of a commit read back.
const maxCommitBlob = 16 << 20

// encodeCommit returns the canonical encoding of c, whose digest is its ID.
func encodeCommit(c *Commit) ([]byte, error) {
	return json.Marshal(c)
}

// decodeCommit decodes the encoding of commit id, refusing anything that
// encodeCommit would not write with an error wrapping ErrCorrupt.
func decodeCommit(id store.Digest, data []byte) (Commit, error) {
	var c Commit
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Commit{}, fmt.Errorf("%w: commit %s: %v", ErrCorrupt, id, err)
	}
	if dec.More() {
		return Commit{}, fmt.Errorf("%w: commit %s: data after the commit", ErrCorrupt, id)
	}
	why := ""
	switch {
	case ValidName(c.Dataset) != nil:
		why = fmt.Sprintf("bad dataset name %s", quoteShort(c.Dataset))
	case c.Tree.IsZero():
		why = "no tree"
	case c.Time.IsZero():
		why = "no time"
	}
	for i, p := range c.Parents {
		if p.IsZero() || slices.Contains(c.Parents[:i], p) {
			why = "zero or repeated parent"
		}
	}
	if why != "" {
		return Commit{}, fmt.Errorf("%w: commit %s: %s", ErrCorrupt, id, why)
	}
	c.ID = id
	return c, nil
}

// ReadCommit returns commit id. One that is not in the repository, or a
// blob that is not a commit, gives an error wrapping ErrNotFound; one that
// does not decode or match its ID, one wrapping ErrCorrupt.
func (r *Repository) ReadCommit(ctx context.Context, id store.Digest) (Commit, error) {
	if err := r.check(); err != nil {
		return Commit{}, err
	}
	c, err := r.readCommit(ctx, id)
	if err != nil {
		return Commit{}, fmt.Errorf("version: %w", err)
	}
	return c, nil
}

// readCommit reads a commit from the commit records in Badger or, failing
// that, from the store.
func (r *Repository) readCommit(ctx context.Context, id store.Digest) (Commit, error) {
	c, _, _, err := r.readCommitData(ctx, id)
	return c, err
}

// readCommitData is readCommit that also returns the commit's encoding and
// whether it is recorded in Badger. A commit read from the store is not
// recorded here: the transaction that makes a ref point to it records it
// (so that a hex prefix finds it), without a sync of its own.
func (r *Repository) readCommitData(ctx context.Context, id store.Digest) (Commit, []byte, bool, error) {
	var data []byte
	key := commitKey(id)
	err := r.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		data, err = item.ValueCopy(nil)
		return err
	})
	if err != nil {
		return Commit{}, nil, false, fmt.Errorf("commit %s: %w", id, err)
	}
	if data != nil {
		if store.Sum(data) != id {
			return Commit{}, nil, false, fmt.Errorf("%w: commit %s: the record does not match its digest", ErrCorrupt, id)
		}
		c, err := decodeCommit(id, data)
		return c, data, true, err
	}
	data, err = r.readBlob(ctx, id, maxCommitBlob)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Commit{}, nil, false, fmt.Errorf("commit %s: %w", id, ErrNotFound)
	case errors.Is(err, ErrCorrupt): // too large to be a commit
		return Commit{}, nil, false, fmt.Errorf("%s is not a commit: %w", id, ErrNotFound)
	case err != nil:
		return Commit{}, nil, false, fmt.Errorf("commit %s: %w", id, corruptIf(err))
	}
	c, err := decodeCommit(id, data)
	if err != nil {
		if !bytes.HasPrefix(data, []byte(`{"dataset":`)) {
			return Commit{}, nil, false, fmt.Errorf("%s is not a commit: %w", id, ErrNotFound)
		}
		return Commit{}, nil, false, err
	}
	return c, data, false, nil
}

// CommitEntries commits a tree of entries whose content is already in the
// repository's store (see Repository.Store) on a branch of dataset (see
// CommitOptions). Entries may come in any order; they are sorted by path.
// A path that ValidPath refuses or that appears twice gives an error
// wrapping ErrBadName; an entry whose blob is not in the store, one
// wrapping ErrNotFound that names its path. Modes are normalized to 0o755
// (any execute bit) or 0o644; Table is kept as given.
func (r *Repository) CommitEntries(ctx context.Context, dataset string, entries []Entry, opts CommitOptions) (Commit, error) {
	if err := r.check(); err != nil {
		return Commit{}, err
	}
	defer r.beginWrite()()
	branch, err := commitNames(dataset, opts)
	if err != nil {
		return Commit{}, err
	}
	es := slices.Clone(entries)
	for i := range es {
		if err := ValidPath(es[i].Path); err != nil {
			return Commit{}, fmt.Errorf("version: commit %s: %w", dataset, err)
		}
		es[i].Mode = normMode(es[i].Mode)
	}
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(es); i++ {
		if es[i].Path == es[i-1].Path {
			return Commit{}, fmt.Errorf("version: commit %s: %w: path %q appears twice", dataset, ErrBadName, es[i].Path)
		}
	}
	for _, e := range es {
		info, err := r.st.Stat(ctx, e.Digest)
		if errors.Is(err, store.ErrNotFound) {
			return Commit{}, fmt.Errorf("version: commit %s: entry %q: blob %s: %w", dataset, e.Path, e.Digest, ErrNotFound)
		}
		if err != nil {
			return Commit{}, fmt.Errorf("version: commit %s: entry %q: %w", dataset, e.Path, err)
		}
		if info.Size != e.Size {
			return Commit{}, fmt.Errorf("version: commit %s: entry %q: size %d, but blob %s has %d bytes", dataset, e.Path, e.Size, e.Digest, info.Size)
		}
	}
	return r.commitTree(ctx, dataset, branch, es, r.st.Batch(), opts)
}

// commitNames checks the dataset and branch names of a commit and returns
// the branch.
func commitNames(dataset string, opts CommitOptions) (string, error) {
	if err := ValidName(dataset); err != nil {
		return "", fmt.Errorf("version: commit: dataset: %w", err)
	}
	branch := opts.Branch
	if branch == "" {
		branch = defaultBranch
	}
	if err := ValidName(branch); err != nil {
		return "", fmt.Errorf("version: commit %s: branch: %w", dataset, err)
	}
	return branch, nil
}

// commitTree stores the tree of entries (sorted, valid) and a commit of it,
// flushes batch (which holds the entries' new blobs), and moves the branch
// to the commit.
func (r *Repository) commitTree(ctx context.Context, dataset, branch string, entries []Entry, batch *store.Batch, opts CommitOptions) (Commit, error) {
	fail := func(err error) (Commit, error) {
		return Commit{}, fmt.Errorf("version: commit %s@%s: %w", dataset, branch, err)
	}
	enc, err := encodeTree(entries)
	if err != nil {
		return fail(err)
	}
	tree, err := batch.Put(ctx, bytes.NewReader(enc))
	if err != nil {
		return fail(err)
	}
	c := Commit{
		Dataset: dataset,
		Tree:    tree,
		Message: opts.Message,
		Author:  opts.Author,
		Time:    opts.Time.UTC(),
	}
	if c.Author == "" {
		c.Author = r.author
	}
	if opts.Time.IsZero() {
		c.Time = time.Now().UTC()
	}
	if len(opts.Meta) > 0 {
		c.Meta = maps.Clone(opts.Meta)
	}
	key := refKey(dataset, BranchRef, branch)
	msg, _, _ := strings.Cut(c.Message, "\n")
	// Commits of this process to the branch take turns from here, so that
	// they do not store and flush commits that then lose the race.
	lock := branchLock(r.dir, dataset, branch)
	lock.Lock()
	defer lock.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		head, err := r.head(dataset, branch)
		if err != nil {
			return fail(err)
		}
		if !opts.Parent.IsZero() && head != opts.Parent {
			return fail(fmt.Errorf("%w: branch is at %s, not %s", ErrConflict, digestOrNone(head), opts.Parent))
		}
		c.Parents = nil
		if !head.IsZero() {
			c.Parents = []store.Digest{head}
		}
		data, err := encodeCommit(&c)
		if err != nil {
			return fail(err)
		}
		id, err := batch.Put(ctx, bytes.NewReader(data))
		if err != nil {
			return fail(err)
		}
		// Everything the commit reaches is durable before the branch moves.
		if err := batch.Flush(ctx); err != nil {
			return fail(err)
		}
		moved := false
		err = r.db.Update(func(txn *badger.Txn) error {
			cur, err := getRef(txn, key)
			if err != nil {
				return err
			}
			if cur != head {
				moved = true
				return nil
			}
			if err := txn.Set(commitKey(id), data); err != nil {
				return err
			}
			if err := txn.Set(key, id[:]); err != nil {
				return err
			}
			return appendReflog(txn, dataset, branch, ReflogEntry{Old: head, New: id, Time: c.Time, Author: c.Author, Message: "commit: " + msg})
		})
		if errors.Is(err, badger.ErrConflict) {
			moved = true // someone else's transaction touched the branch first
		} else if err != nil {
			return fail(err)
		}
		if moved {
			continue // read the new head; with opts.Parent set that is a conflict
		}
		c.ID = id
		return c, nil
	}
}

// branchLocks holds a mutex per repository folder, dataset and branch.
var branchLocks sync.Map // [3]string → *sync.Mutex

func branchLock(dir, dataset, branch string) *sync.Mutex {
	k := [3]string{dir, dataset, branch}
	if m, ok := branchLocks.Load(k); ok {
		return m.(*sync.Mutex)
	}
	m, _ := branchLocks.LoadOrStore(k, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// CommitFiles commits files and folders to a branch of dataset (see
// CommitOptions). A path naming a file becomes an entry named by its base
// name; a path naming a folder contributes its regular files, at paths
// relative to it (the folder's contents are at the root of the tree).
// Several paths merge into one tree; two files at one entry path are an
// error. Symlinks to files are followed; a symlink to a folder is an error
// naming it. An entry is executable (0o755) if its file has any execute
// bit, else 0o644.
//
// The files' content is stored in one store.Batch, made durable before the
// branch moves. Files whose size, mtime, ctime and inode match the stat
// cache (see Status) and whose content is already in the store are not
// read again. A file with the content of an entry of the parent commit
// keeps that entry's table description; a new ".parquet" entry is
// described (schema, rows, column statistics) if it reads as Parquet, and
// is a plain file otherwise.
func (r *Repository) CommitFiles(ctx context.Context, dataset string, paths []string, opts CommitOptions) (Commit, error) {
	if err := r.check(); err != nil {
		return Commit{}, err
	}
	defer r.beginWrite()()
	branch, err := commitNames(dataset, opts)
	if err != nil {
		return Commit{}, err
	}
	fail := func(err error) (Commit, error) {
		return Commit{}, fmt.Errorf("version: commit %s@%s: %w", dataset, branch, err)
	}
	if len(paths) == 0 {
		return fail(errors.New("no files or folders to commit"))
	}

	// Find the files: one group per working folder, for the stat cache.
	type group struct {
		folder string
		files  []walkFile
		cache  map[string]statEntry // nil: look entries up one by one
	}
	var groups []*group
	byFolder := make(map[string]*group)
	source := make(map[string]string) // entry path → the file it comes from
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return fail(err)
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			return fail(err)
		}
		var g *group
		var files []walkFile
		if fi.IsDir() {
			if files, err = walkFolder(ctx, abs); err != nil {
				return fail(err)
			}
			g = byFolder[abs]
			if g == nil {
				g = &group{folder: abs, cache: map[string]statEntry{}}
				byFolder[abs] = g
				groups = append(groups, g)
			}
		} else {
			wf, err := fileOf(abs, filepath.Base(abs), fi.Mode().Type())
			if err != nil {
				return fail(err)
			}
			files = []walkFile{wf}
			folder := filepath.Dir(abs)
			g = byFolder[folder]
			if g == nil {
				g = &group{folder: folder}
				byFolder[folder] = g
				groups = append(groups, g)
			}
		}
		for _, f := range files {
			if prev, ok := source[f.rel]; ok {
				if prev == f.abs {
					continue // the same file named twice
				}
				return fail(fmt.Errorf("%w: entry %q would be both %s and %s", ErrBadName, f.rel, prev, f.abs))
			}
			source[f.rel] = f.abs
			g.files = append(g.files, f)
		}
	}
	for _, g := range groups {
		if g.cache != nil {
			if g.cache, err = r.loadStatCache(g.folder); err != nil {
				return fail(err)
			}
		}
	}

	// Table descriptions of the parent's entries, by content.
	parent := opts.Parent
	if parent.IsZero() {
		if parent, err = r.head(dataset, branch); err != nil {
			return fail(err)
		}
	}
	tables := make(map[store.Digest]*TableInfo)
	inParent := make(map[store.Digest]bool) // blobs the parent's tree holds
	if !parent.IsZero() {
		pc, err := r.commitOf(ctx, dataset, parent)
		if err != nil {
			return fail(fmt.Errorf("parent: %w", err))
		}
		pt, err := r.readTree(ctx, pc.Tree)
		if err != nil {
			return fail(fmt.Errorf("parent: %w", err))
		}
		for _, e := range pt {
			inParent[e.Digest] = true
			if e.Table != nil {
				tables[e.Digest] = e.Table
			}
		}
	}

	// Store the files, on all cores.
	batch := r.st.Batch()
	var (
		mu      sync.Mutex
		entries []Entry
		updates []statUpdate
		// Store.Has looks for indexes written by others at each miss; after
		// a few misses, files not in the parent are simply put again (a put
		// of stored content only hashes it).
		hasMisses atomic.Int32
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for _, grp := range groups {
		for _, f := range grp.files {
			g.Go(func() error {
				e := Entry{Path: f.rel, Mode: f.mode, Size: f.key.size}
				ce, ok := grp.cache[f.rel]
				if grp.cache == nil {
					var err error
					if ce, ok, err = r.getStatEntry(grp.folder, f.rel); err != nil {
						return err
					}
				}
				known := false
				if ok && ce.fresh(f.key) {
					known = inParent[ce.digest]
					if !known && hasMisses.Load() < 8 {
						has, err := r.st.Has(gctx, ce.digest)
						if err != nil {
							return err
						}
						if known = has; !has {
							hasMisses.Add(1)
						}
					}
					e.Digest = ce.digest
				}
				if !known {
					d, key, size, err := putFile(gctx, batch, f.abs)
					if err != nil {
						return err
					}
					e.Digest, e.Size = d, size
					if key != (statKey{}) {
						mu.Lock()
						updates = append(updates, statUpdate{folder: grp.folder, path: f.rel, entry: statEntry{key: key, digest: d, written: time.Now().UnixNano()}})
						mu.Unlock()
					}
				}
				if t := tables[e.Digest]; t != nil {
					e.Table = t
				} else if strings.HasSuffix(strings.ToLower(e.Path), ".parquet") {
					t, err := parquetTableInfo(gctx, r, e.Digest, e.Size)
					if err := gctx.Err(); err != nil {
						return err
					}
					if err == nil && t != nil && tableEncodable(t) {
						e.Table = t
					}
				}
				mu.Lock()
				entries = append(entries, e)
				mu.Unlock()
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	c, err := r.commitTree(ctx, dataset, branch, entries, batch, opts)
	// The cache entries hold whether or not the commit went through.
	if werr := r.writeStatCache(updates); werr != nil && err == nil {
		return c, werr
	}
	return c, err
}

// putFile stores the content of the file at abs with batch, and returns
// its digest, the stat of the open file (taken before reading) and the
// number of bytes read.
func putFile(ctx context.Context, batch *store.Batch, abs string) (store.Digest, statKey, int64, error) {
	f, err := os.Open(abs)
	if err != nil {
		return store.Digest{}, statKey{}, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return store.Digest{}, statKey{}, 0, err
	}
	cr := &countReader{r: f}
	d, err := batch.Put(ctx, cr)
	if err != nil {
		return store.Digest{}, statKey{}, 0, fmt.Errorf("store %s: %w", abs, err)
	}
	key := statKeyOf(fi)
	if cr.n != key.size {
		key = statKey{} // it changed while read: do not cache
	}
	return d, key, cr.n, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
