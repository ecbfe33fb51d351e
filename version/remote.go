package version

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
	"golang.org/x/sync/errgroup"
)

// A remote keeps, on one store.Swapper (an S3 bucket prefix, say):
//
//	objects/...                       a store.Store holding commit, tree and file blobs
//	refs/<dataset>@heads/<branch>     the commit a branch names
//	refs/<dataset>@tags/<tag>         the commit a tag names
//
// A ref object holds the commit's digest in text ("blake3:<64 hex>") and a
// newline. Names never hold "@" (see ValidName), so the first "@" of a ref
// object's name ends its dataset: "refs/a/b@heads/main" is branch main of
// dataset "a/b", and no two refs share an object. Ref objects move only
// by compare-and-swap (store.Swapper.Swap), and only once every object the
// new commit reaches is durable in objects/: a ref on the remote never
// names missing data.
const (
	remoteObjects = "objects"
	remoteRefs    = "refs"

	// defaultRemoteName is the name of a remote opened without one.
	defaultRemoteName = "origin"

	// copyConcurrency bounds the blobs one push or fetch copies at once;
	// each copy streams through the stores with bounded memory.
	copyConcurrency = 4
	// hasProbes is how many missing blobs a push asks the remote about
	// (each miss lists the remote's indexes again, a request to S3) before
	// it sends small blobs without asking. Blobs beyond the parents' trees
	// are mostly new; one the remote holds already costs reading it here,
	// and is stored again only if the remote holds it in packs too old for
	// the store to rely on (see store.DefaultGCGrace).
	hasProbes = 8
	// smallBlob is the size below which a blob may be sent without asking.
	smallBlob = 1 << 20
)

// Phases of a transfer, in TransferProgress.Phase.
const (
	// PhaseObjects: blobs are being copied; Blobs and Bytes count those
	// copied so far.
	PhaseObjects = "objects"
	// PhaseFlush: every blob is copied; the transfer waits until they are
	// durable.
	PhaseFlush = "flush"
	// PhaseRefs: the objects are durable; refs are being updated.
	PhaseRefs = "refs"
)

// RemoteOptions configure NewRemote. The zero value is valid.
type RemoteOptions struct {
	// Name of the remote, used to name remote-tracking branches: Fetch
	// records the remote's branch "main" of a dataset as the local branch
	// "<Name>/main". It must be a valid name (see ValidName). Empty means
	// "origin".
	Name string
	// Store configures the object store on the remote (see store.Open): a
	// new remote is created with these settings, an existing one must
	// match them. Chunking parameters are part of a store's format and a
	// remote must use those of the repositories that push to and fetch
	// from it, so a remote for repositories created with non-default
	// store.Options.Chunker must be created with the same ones.
	Store store.Options
	// Progress, if not nil, is called during Push, Fetch and Pull: after
	// each blob copied, then once per phase (see PhaseObjects). Calls are
	// serialized.
	Progress func(TransferProgress)
}

// A Remote is a shared place on storage, typically an S3 bucket prefix
// (see store/s3), that repositories push datasets to and fetch them from,
// as Git remotes do. It holds an object store and the refs of every
// dataset pushed to it; refs move by conditional writes, so that of two
// repositories pushing to one branch at the same time exactly one wins and
// the other gets ErrConflict, and no commit is lost.
//
// On its storage a remote keeps a store.Store under "objects/" and one
// small object per ref under "refs/", named "<dataset>@heads/<branch>" or
// "<dataset>@tags/<tag>" and holding the commit's digest as text.
//
// A Remote is safe for concurrent use by multiple goroutines, and any
// number of processes and machines may use one remote at the same time.
type Remote struct {
	name     string
	refs     store.Swapper
	st       *store.Store
	progress func(TransferProgress)

	mu     sync.Mutex // guards closed
	closed bool
}

// A RefUpdate is a ref that a transfer created or moved: on the remote
// for Push, in the repository for Fetch and Pull. Old is zero for a ref
// that was created; Ref.Commit is New.
type RefUpdate struct {
	Ref      Ref
	Old, New store.Digest
}

// TransferStats describe what a Push, Fetch or Pull did.
type TransferStats struct {
	// Commits is how many commits were copied.
	Commits int
	// Blobs and Bytes count the blobs copied (commits, trees and files)
	// and their size. A push of many new blobs sends small ones without
	// asking the remote whether it has them, so they may include a few
	// that it held already.
	Blobs int
	Bytes int64
	// Refs are the refs created or moved, in the order they were updated.
	Refs []RefUpdate
}

// TransferProgress reports the progress of a transfer (see
// RemoteOptions.Progress).
type TransferProgress struct {
	Phase string // PhaseObjects, PhaseFlush or PhaseRefs
	// Blobs and Bytes count the blobs copied so far and their size.
	Blobs, Bytes int64
}

// NewRemote opens the remote kept on b, creating it if b is empty. b must
// be a store.Swapper (store.FS, store.Memory and store/s3's Backend are,
// and so is a store.WithPrefix view of one), which Push needs to move refs
// safely; another Backend is refused. The store under objects/ is opened
// with opts.Store, and a remote whose store was created with other
// settings gives an error wrapping store.ErrConfig.
func NewRemote(ctx context.Context, b store.Backend, opts RemoteOptions) (*Remote, error) {
	name := opts.Name
	if name == "" {
		name = defaultRemoteName
	}
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("version: remote: name: %w", err)
	}
	if b == nil {
		return nil, fmt.Errorf("version: remote %s: no backend", name)
	}
	if _, ok := b.(store.Swapper); !ok {
		return nil, fmt.Errorf("version: remote %s: backend %T cannot compare-and-swap objects (it is not a store.Swapper), which refs on a remote need", name, b)
	}
	st, err := store.Open(ctx, store.WithPrefix(b, remoteObjects), opts.Store)
	if err != nil {
		return nil, fmt.Errorf("version: remote %s: %w", name, err)
	}
	return &Remote{
		name:     name,
		refs:     store.WithPrefix(b, remoteRefs).(store.Swapper),
		st:       st,
		progress: opts.Progress,
	}, nil
}

// Name returns the remote's name (RemoteOptions.Name, or "origin").
func (rm *Remote) Name() string { return rm.name }

// Store returns the object store on the remote.
func (rm *Remote) Store() *store.Store { return rm.st }

// Close waits for writes to the remote's store to finish and releases it.
// Later calls of the Remote's methods, and transfers through it, fail with
// ErrClosed; Close itself may be called more than once.
func (rm *Remote) Close() error {
	rm.mu.Lock()
	if rm.closed {
		rm.mu.Unlock()
		return nil
	}
	rm.closed = true
	rm.mu.Unlock()
	if err := rm.st.Close(); err != nil {
		return fmt.Errorf("version: remote %s: close: %w", rm.name, err)
	}
	return nil
}

func (rm *Remote) check() error {
	if rm == nil {
		return errors.New("version: nil Remote")
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.closed {
		return fmt.Errorf("version: remote %s: %w", rm.name, ErrClosed)
	}
	return nil
}

// remoteRefName is the name, in the refs view, of a ref's object.
func remoteRefName(dataset string, kind RefKind, name string) string {
	return dataset + "@" + string(kind) + "/" + name
}

// parseRemoteRefName splits the name of a ref object (in the refs view).
func parseRemoteRefName(obj string) (dataset string, kind RefKind, name string, ok bool) {
	dataset, rest, ok := strings.Cut(obj, "@")
	if !ok {
		return "", "", "", false
	}
	k, name, ok := strings.Cut(rest, "/")
	kind = RefKind(k)
	if !ok || kind != BranchRef && kind != TagRef || ValidName(dataset) != nil || ValidName(name) != nil {
		return "", "", "", false
	}
	return dataset, kind, name, true
}

// encodeRemoteRef is the content of a ref object naming commit d.
func encodeRemoteRef(d store.Digest) []byte {
	return append([]byte(d.String()), '\n')
}

// decodeRemoteRef decodes the content of ref object obj.
func decodeRemoteRef(obj string, data []byte) (store.Digest, error) {
	text, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok {
		return store.Digest{}, fmt.Errorf("%w: remote ref %s: no newline at the end", ErrCorrupt, quoteShort(obj))
	}
	d, err := store.ParseDigest(string(text))
	if err != nil {
		return store.Digest{}, fmt.Errorf("%w: remote ref %s: %v", ErrCorrupt, quoteShort(obj), err)
	}
	if d.IsZero() {
		return store.Digest{}, fmt.Errorf("%w: remote ref %s: zero digest", ErrCorrupt, quoteShort(obj))
	}
	return d, nil
}

// remoteRef is a ref as loaded from the remote, with its version tag.
type remoteRef struct {
	Ref
	tag string
}

// loadRef loads one ref object: the zero Digest and tag "" if it does not
// exist.
func (rm *Remote) loadRef(ctx context.Context, dataset string, kind RefKind, name string) (store.Digest, string, error) {
	obj := remoteRefName(dataset, kind, name)
	data, tag, err := rm.refs.Load(ctx, obj)
	if errors.Is(err, store.ErrNotFound) {
		return store.Digest{}, "", nil
	}
	if err != nil {
		return store.Digest{}, "", err
	}
	d, err := decodeRemoteRef(obj, data)
	return d, tag, err
}

// listRefs loads every ref of dataset on the remote: branches, then tags,
// each sorted by name.
func (rm *Remote) listRefs(ctx context.Context, dataset string) ([]remoteRef, error) {
	var out []remoteRef
	for _, kind := range []RefKind{BranchRef, TagRef} {
		var names []string
		for info, err := range rm.refs.List(ctx, dataset+"@"+string(kind)+"/") {
			if err != nil {
				return nil, err
			}
			ds, k, name, ok := parseRemoteRefName(info.Name)
			if !ok || ds != dataset || k != kind {
				return nil, fmt.Errorf("%w: remote ref object %s: not a ref name", ErrCorrupt, quoteShort(info.Name))
			}
			names = append(names, name)
		}
		slices.Sort(names)
		refs := make([]remoteRef, len(names))
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for i, name := range names {
			g.Go(func() error {
				d, tag, err := rm.loadRef(gctx, dataset, kind, name)
				refs[i] = remoteRef{Ref: Ref{Dataset: dataset, Kind: kind, Name: name, Commit: d}, tag: tag}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, r := range refs {
			if !r.Commit.IsZero() { // removed between List and Load
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Refs returns the branches, then the tags, of a dataset on the remote,
// each sorted by name. A ref object that does not hold a commit digest
// gives an error wrapping ErrCorrupt.
func (rm *Remote) Refs(ctx context.Context, dataset string) ([]Ref, error) {
	if err := rm.check(); err != nil {
		return nil, err
	}
	if err := ValidName(dataset); err != nil {
		return nil, fmt.Errorf("version: remote %s: refs: dataset: %w", rm.name, err)
	}
	refs, err := rm.listRefs(ctx, dataset)
	if err != nil {
		return nil, fmt.Errorf("version: remote %s: refs of %q: %w", rm.name, dataset, err)
	}
	out := make([]Ref, len(refs))
	for i, r := range refs {
		out[i] = r.Ref
	}
	return out, nil
}

// Datasets returns the names of the datasets that have at least one ref
// on the remote, sorted.
func (rm *Remote) Datasets(ctx context.Context) ([]string, error) {
	if err := rm.check(); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	var out []string
	for info, err := range rm.refs.List(ctx, "") {
		if err != nil {
			return nil, fmt.Errorf("version: remote %s: datasets: %w", rm.name, err)
		}
		ds, _, _, ok := parseRemoteRefName(info.Name)
		if !ok {
			return nil, fmt.Errorf("version: remote %s: datasets: %w: ref object %s: not a ref name", rm.name, ErrCorrupt, quoteShort(info.Name))
		}
		if !seen[ds] {
			seen[ds] = true
			out = append(out, ds)
		}
	}
	slices.Sort(out)
	return out, nil
}

// sameChunking refuses a remote whose store chunks content otherwise than
// the repository's.
func (r *Repository) sameChunking(rm *Remote) error {
	local, remote := r.st.ChunkerParams(), rm.st.ChunkerParams()
	if local != remote {
		return fmt.Errorf("%w: the remote's store chunks with %+v, the repository's with %+v (create the remote with RemoteOptions.Store.Chunker set to the repository's Store().ChunkerParams())", store.ErrConfig, remote, local)
	}
	return nil
}

// transfer counts what a push or fetch copies and reports its progress.
type transfer struct {
	progress func(TransferProgress)
	mu       sync.Mutex // serializes progress calls and guards the counts
	commits  int
	blobs    int64
	bytes    int64
}

func (t *transfer) copied(commit bool, n int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if commit {
		t.commits++
	}
	t.blobs++
	t.bytes += n
	if t.progress != nil {
		t.progress(TransferProgress{Phase: PhaseObjects, Blobs: t.blobs, Bytes: t.bytes})
	}
}

func (t *transfer) phase(p string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.progress != nil {
		t.progress(TransferProgress{Phase: p, Blobs: t.blobs, Bytes: t.bytes})
	}
}

func (t *transfer) stats() TransferStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return TransferStats{Commits: t.commits, Blobs: int(t.blobs), Bytes: t.bytes}
}

// blobToCopy is a blob a transfer copies.
type blobToCopy struct {
	digest store.Digest
	size   int64 // -1 if unknown
	commit bool
	what   string // for error messages
}

// copyBlob copies blob b from src (named srcName in errors) into batch,
// verified: src.Get checks the content against its digest, and so does the
// digest batch.Put computes. A blob that src lacks or holds damaged is an
// error wrapping ErrCorrupt: a commit that src has refers to it.
func copyBlob(ctx context.Context, src *store.Store, srcName string, batch *store.Batch, b blobToCopy) (int64, error) {
	rc, err := src.Get(ctx, b.digest)
	if err != nil {
		return 0, fmt.Errorf("%s: read from %s: %w", b.what, srcName, corruptIf(err))
	}
	defer rc.Close()
	cr := &readErrs{r: rc}
	d, err := batch.Put(ctx, cr)
	if cr.err != nil {
		return 0, fmt.Errorf("%s: read from %s: %w", b.what, srcName, corruptIf(cr.err))
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", b.what, err)
	}
	if d != b.digest {
		return 0, fmt.Errorf("%s: read from %s: %w: content has digest %s", b.what, srcName, ErrCorrupt, d)
	}
	if b.size >= 0 && cr.n != b.size {
		return 0, fmt.Errorf("%s: read from %s: %w: %d bytes, want %d", b.what, srcName, ErrCorrupt, cr.n, b.size)
	}
	return cr.n, nil
}

// readErrs counts the bytes read through it and keeps its reader's error,
// to tell a bad source from a failing destination.
type readErrs struct {
	r   io.Reader
	n   int64
	err error
}

func (c *readErrs) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// copyBlobs copies each blob of todo from src into batch, on a few
// goroutines, unless skip (called concurrently) says that the destination
// has it already.
func copyBlobs(ctx context.Context, src *store.Store, srcName string, batch *store.Batch, todo []blobToCopy, skip func(context.Context, blobToCopy) (bool, error), t *transfer) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyConcurrency)
	for _, b := range todo {
		g.Go(func() error {
			has, err := skip(gctx, b)
			if err != nil || has {
				return err
			}
			n, err := copyBlob(gctx, src, srcName, batch, b)
			if err != nil {
				return err
			}
			t.copied(b.commit, n)
			return nil
		})
	}
	return g.Wait()
}

// readStoreBlob reads a whole blob of at most limit bytes from st,
// verified against its digest.
func readStoreBlob(ctx context.Context, st *store.Store, d store.Digest, limit int64) ([]byte, error) {
	info, err := st.Stat(ctx, d)
	if err != nil {
		return nil, err
	}
	if info.Size > limit {
		return nil, fmt.Errorf("%w: blob %s has %d bytes, more than %d", ErrCorrupt, d, info.Size, limit)
	}
	rc, err := st.Get(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, info.Size+1))
	if _, err := io.Copy(buf, rc); err != nil {
		return nil, err
	}
	if int64(buf.Len()) != info.Size {
		return nil, fmt.Errorf("%w: blob %s: read %d bytes, want %d", store.ErrCorrupt, d, buf.Len(), info.Size)
	}
	return buf.Bytes(), nil
}

// ancestry returns the commits reachable from heads (the heads included)
// that the repository has. Heads and parents it does not have are left
// out, not followed.
func (r *Repository) ancestry(ctx context.Context, heads []store.Digest) (map[store.Digest]bool, error) {
	seen := make(map[store.Digest]bool)
	stack := slices.Clone(heads)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		c, err := r.readCommit(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		seen[id] = true
		stack = append(stack, c.Parents...)
	}
	return seen, nil
}

// isAncestor reports whether commit anc is desc or one of its ancestors,
// among the commits the repository has.
func (r *Repository) isAncestor(ctx context.Context, anc, desc store.Digest) (bool, error) {
	if anc == desc {
		return true, nil
	}
	seen := map[store.Digest]bool{desc: true}
	stack := []store.Digest{desc}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c, err := r.readCommit(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		for _, p := range c.Parents {
			if p == anc {
				return true, nil
			}
			if !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return false, nil
}

// treeBlobs returns the blobs of the trees of commits, read from the
// repository.
func (r *Repository) treeBlobs(ctx context.Context, commits []store.Digest) (map[store.Digest]bool, error) {
	known := make(map[store.Digest]bool)
	trees := make(map[store.Digest]bool)
	for _, id := range commits {
		c, err := r.readCommit(ctx, id)
		if err != nil {
			return nil, err
		}
		if trees[c.Tree] {
			continue
		}
		trees[c.Tree] = true
		entries, err := r.readTree(ctx, c.Tree)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			known[e.Digest] = true
		}
	}
	return known, nil
}

// Push sends refs of dataset, and every commit, tree and file they reach
// that the remote lacks, to the remote rm. refs are names of branches or
// tags of the dataset (a branch wins over a tag of the same name); none
// means every branch and tag of the dataset except rm's remote-tracking
// branches (those named "<remote name>/..."; see Fetch).
//
// Objects go first, in one batch made durable before any ref moves, so a
// ref on the remote never names missing data, whatever fails or crashes.
// Then each branch moves on the remote only if that is a fast-forward:
// the remote's branch is absent or its commit is the local head or one of
// its ancestors. Otherwise, when another repository pushed commits that
// this one has not fetched and built on, the branch is left as it is and
// the error wraps ErrConflict: Fetch or Pull, build on the remote's head
// (see CommitOptions.Parent), and push again. The move is a conditional
// write; if another push moved the branch between the check and the
// write, Push loads it again and retries once if the move is still a
// fast-forward, and gives ErrConflict otherwise. So of several repositories
// pushing diverging commits to one branch at the same time exactly one
// wins, and no pushed commit is ever dropped from a remote branch. Tags are
// created on the remote if absent; one that names another commit there is
// an ErrConflict. Refs that can be pushed are pushed even when others
// conflict; the returned stats list them, and the error names the others.
//
// A ref name that is neither a branch nor a tag of the dataset gives an
// error wrapping ErrNotFound, a ref object on the remote that does not
// hold a commit digest one wrapping ErrCorrupt, and a remote whose store
// chunks content otherwise than the repository's one wrapping
// store.ErrConfig (see RemoteOptions.Store).
func (r *Repository) Push(ctx context.Context, rm *Remote, dataset string, refs ...string) (TransferStats, error) {
	if err := r.check(); err != nil {
		return TransferStats{}, err
	}
	if err := rm.check(); err != nil {
		return TransferStats{}, err
	}
	stats, err := r.push(ctx, rm, dataset, refs)
	if err != nil {
		return stats, fmt.Errorf("version: push %s to %s: %w", quoteShort(dataset), rm.name, err)
	}
	return stats, nil
}

// pushRef is a ref Push moves on the remote.
type pushRef struct {
	ref Ref          // the local ref; Commit is where the remote's goes
	old store.Digest // the remote's commit, zero if absent
	tag string       // the remote ref object's version tag
}

func (r *Repository) push(ctx context.Context, rm *Remote, dataset string, names []string) (TransferStats, error) {
	if err := ValidName(dataset); err != nil {
		return TransferStats{}, fmt.Errorf("dataset: %w", err)
	}
	if err := r.sameChunking(rm); err != nil {
		return TransferStats{}, err
	}

	// The local refs to push.
	local, err := r.Refs(ctx, dataset)
	if err != nil {
		return TransferStats{}, err
	}
	var want []Ref
	if len(names) == 0 {
		for _, ref := range local {
			if ref.Kind == BranchRef && strings.HasPrefix(ref.Name, rm.name+"/") {
				continue // a remote-tracking branch of rm
			}
			want = append(want, ref)
		}
		if len(want) == 0 {
			return TransferStats{}, fmt.Errorf("%w: dataset %q has no branches or tags", ErrNotFound, dataset)
		}
	} else {
		for _, name := range names {
			if err := ValidName(name); err != nil {
				return TransferStats{}, fmt.Errorf("ref: %w", err)
			}
			i := slices.IndexFunc(local, func(ref Ref) bool { return ref.Kind == BranchRef && ref.Name == name })
			if i < 0 {
				i = slices.IndexFunc(local, func(ref Ref) bool { return ref.Kind == TagRef && ref.Name == name })
			}
			if i < 0 {
				return TransferStats{}, fmt.Errorf("%w: no branch or tag %q of dataset %q", ErrNotFound, name, dataset)
			}
			if !slices.Contains(want, local[i]) {
				want = append(want, local[i])
			}
		}
	}

	// The remote's refs: what it has, and where each ref starts from.
	remote, err := rm.listRefs(ctx, dataset)
	if err != nil {
		return TransferStats{}, err
	}
	var remoteHeads []store.Digest
	at := make(map[[2]string]remoteRef)
	for _, rr := range remote {
		remoteHeads = append(remoteHeads, rr.Commit)
		at[[2]string{string(rr.Kind), rr.Name}] = rr
	}
	haves, err := r.ancestry(ctx, remoteHeads)
	if err != nil {
		return TransferStats{}, err
	}

	var (
		todo      []pushRef
		conflicts []error
	)
	for _, ref := range want {
		rr := at[[2]string{string(ref.Kind), ref.Name}]
		if rr.Commit == ref.Commit {
			continue // up to date
		}
		if !rr.Commit.IsZero() {
			if ref.Kind == TagRef {
				conflicts = append(conflicts, fmt.Errorf("%w: tag %q is at %s on the remote, at %s here", ErrConflict, ref.Name, rr.Commit, ref.Commit))
				continue
			}
			ff, err := r.isAncestor(ctx, rr.Commit, ref.Commit)
			if err != nil {
				return TransferStats{}, err
			}
			if !ff {
				conflicts = append(conflicts, notFastForward(ref, rr.Commit))
				continue
			}
		}
		todo = append(todo, pushRef{ref: ref, old: rr.Commit, tag: rr.tag})
	}

	t := &transfer{progress: rm.progress}
	if len(todo) > 0 {
		heads := make([]store.Digest, len(todo))
		for i, p := range todo {
			heads[i] = p.ref.Commit
		}
		if err := r.sendObjects(ctx, rm, heads, haves, t); err != nil {
			return t.stats(), err
		}
		t.phase(PhaseRefs)
	}
	var updates []RefUpdate
	for _, p := range todo {
		u, moved, err := r.pushRef(ctx, rm, p)
		if err != nil {
			if !errors.Is(err, ErrConflict) {
				stats := t.stats()
				stats.Refs = updates
				return stats, err
			}
			conflicts = append(conflicts, err)
			continue
		}
		if moved {
			updates = append(updates, u)
		}
	}
	stats := t.stats()
	stats.Refs = updates
	return stats, errors.Join(conflicts...)
}

func notFastForward(ref Ref, remote store.Digest) error {
	return fmt.Errorf("%w: branch %q is at %s on the remote, which is not an ancestor of %s here (fetch, build on it and push again)", ErrConflict, ref.Name, remote, ref.Commit)
}

// sendObjects copies to the remote the commits reachable from heads but
// not in haves (commits the remote has, with all they reach), their trees
// and files, and makes them durable.
func (r *Repository) sendObjects(ctx context.Context, rm *Remote, heads []store.Digest, haves map[store.Digest]bool, t *transfer) error {
	// The commits to send, and the commits the remote has that they follow.
	var (
		commits  []Commit
		boundary []store.Digest
		seen     = make(map[store.Digest]bool)
		stack    = slices.Clone(heads)
	)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if haves[id] {
			boundary = append(boundary, id)
			continue
		}
		c, err := r.readCommit(ctx, id)
		if err != nil {
			return err
		}
		commits = append(commits, c)
		stack = append(stack, c.Parents...)
	}
	// Files of the boundary commits' trees are on the remote already.
	known, err := r.treeBlobs(ctx, boundary)
	if err != nil {
		return err
	}
	var todo []blobToCopy
	add := func(b blobToCopy) {
		if !known[b.digest] {
			known[b.digest] = true
			todo = append(todo, b)
		}
	}
	for _, c := range commits {
		add(blobToCopy{digest: c.ID, size: -1, commit: true, what: "commit " + c.ID.String()})
		entries, err := r.readTree(ctx, c.Tree)
		if err != nil {
			return err
		}
		info, err := r.st.Stat(ctx, c.Tree)
		if err != nil {
			return fmt.Errorf("tree of commit %s: %w", c.ID, corruptIf(err))
		}
		add(blobToCopy{digest: c.Tree, size: info.Size, what: "tree of commit " + c.ID.String()})
		for _, e := range entries {
			add(blobToCopy{digest: e.Digest, size: e.Size, what: fmt.Sprintf("entry %q of commit %s", e.Path, c.ID)})
		}
	}

	// Ask the remote about the first few blobs; after that, small blobs go
	// without asking, as each miss lists the remote's indexes.
	var misses atomic.Int32
	skip := func(ctx context.Context, b blobToCopy) (bool, error) {
		if b.size < smallBlob && misses.Load() >= hasProbes { // commits (size -1) are small
			return false, nil
		}
		has, err := rm.st.Has(ctx, b.digest)
		if err != nil {
			return false, fmt.Errorf("%s: remote: %w", b.what, err)
		}
		if !has {
			misses.Add(1)
		}
		return has, nil
	}
	batch := rm.st.Batch()
	if err := copyBlobs(ctx, r.st, "the repository", batch, todo, skip, t); err != nil {
		return err
	}
	t.phase(PhaseFlush)
	if err := batch.Flush(ctx); err != nil {
		return fmt.Errorf("remote: %w", err)
	}
	return nil
}

// pushRef moves the remote's ref p to p.ref.Commit if it is still at
// p.old, reloading and checking again once if it moved. moved is false if
// the remote's ref turned out to be there already.
func (r *Repository) pushRef(ctx context.Context, rm *Remote, p pushRef) (u RefUpdate, moved bool, err error) {
	obj := remoteRefName(p.ref.Dataset, p.ref.Kind, p.ref.Name)
	data := encodeRemoteRef(p.ref.Commit)
	old, tag := p.old, p.tag
	for attempt := 0; ; attempt++ {
		_, err := rm.refs.Swap(ctx, obj, data, tag)
		if err == nil {
			return RefUpdate{Ref: p.ref, Old: old, New: p.ref.Commit}, true, nil
		}
		if !errors.Is(err, store.ErrPrecondition) {
			return RefUpdate{}, false, err
		}
		// Another push moved the ref since it was loaded.
		cur, curTag, err := rm.loadRef(ctx, p.ref.Dataset, p.ref.Kind, p.ref.Name)
		if err != nil {
			return RefUpdate{}, false, err
		}
		switch {
		case cur == p.ref.Commit:
			return RefUpdate{}, false, nil // someone pushed the same commit
		case !cur.IsZero() && p.ref.Kind == TagRef:
			return RefUpdate{}, false, fmt.Errorf("%w: tag %q was created on the remote at %s meanwhile", ErrConflict, p.ref.Name, cur)
		case attempt > 0:
			return RefUpdate{}, false, fmt.Errorf("%w: branch %q moved on the remote twice while pushing", ErrConflict, p.ref.Name)
		case !cur.IsZero():
			ff, err := r.isAncestor(ctx, cur, p.ref.Commit)
			if err != nil {
				return RefUpdate{}, false, err
			}
			if !ff {
				return RefUpdate{}, false, notFastForward(p.ref, cur)
			}
		}
		old, tag = cur, curTag
	}
}

// Fetch copies every branch and tag of dataset on the remote rm, and the
// commits, trees and files they reach that the repository lacks, into the
// repository. The objects are made durable, then the commits recorded,
// then the refs set: each branch "b" of the remote becomes the local
// remote-tracking branch "<remote name>/b" (an ordinary branch, moved to
// the remote's commit whatever it pointed to), and each tag is created
// if absent. A local tag of the same name on another commit is left as it
// is, and the error wraps ErrConflict once the other refs are set.
//
// A dataset with no refs on the remote gives an error wrapping
// ErrNotFound; a ref object that does not hold a commit digest, or a
// commit, tree or file that is missing on the remote or does not match its
// digest, one wrapping ErrCorrupt (and nothing changes in the
// repository's refs).
func (r *Repository) Fetch(ctx context.Context, rm *Remote, dataset string) (TransferStats, error) {
	if err := r.check(); err != nil {
		return TransferStats{}, err
	}
	defer r.beginWrite()()
	if err := rm.check(); err != nil {
		return TransferStats{}, err
	}
	stats, _, err := r.fetch(ctx, rm, dataset)
	if err != nil {
		return stats, fmt.Errorf("version: fetch %s from %s: %w", quoteShort(dataset), rm.name, err)
	}
	return stats, nil
}

// fetch does Fetch's work and returns the remote's refs too. An error that
// only reports conflicting tags wraps ErrConflict and comes with a
// complete fetch otherwise.
func (r *Repository) fetch(ctx context.Context, rm *Remote, dataset string) (TransferStats, []remoteRef, error) {
	if err := ValidName(dataset); err != nil {
		return TransferStats{}, nil, fmt.Errorf("dataset: %w", err)
	}
	if err := r.sameChunking(rm); err != nil {
		return TransferStats{}, nil, err
	}
	remote, err := rm.listRefs(ctx, dataset)
	if err != nil {
		return TransferStats{}, nil, err
	}
	if len(remote) == 0 {
		return TransferStats{}, nil, fmt.Errorf("%w: the remote has no branches or tags of dataset %q", ErrNotFound, dataset)
	}
	for _, rr := range remote {
		if rr.Kind == BranchRef {
			if err := ValidName(rm.name + "/" + rr.Name); err != nil {
				return TransferStats{}, nil, fmt.Errorf("remote-tracking branch of %q: %w", rr.Name, err)
			}
		}
	}

	// What the repository has: everything its refs of the dataset reach.
	local, err := r.Refs(ctx, dataset)
	if err != nil {
		return TransferStats{}, nil, err
	}
	localHeads := make([]store.Digest, len(local))
	for i, ref := range local {
		localHeads[i] = ref.Commit
	}
	haves, err := r.ancestry(ctx, localHeads)
	if err != nil {
		return TransferStats{}, nil, err
	}

	t := &transfer{progress: rm.progress}
	records, err := r.receiveObjects(ctx, rm, dataset, remote, haves, t)
	if err != nil {
		return t.stats(), nil, err
	}

	// Record the commits, then set the refs.
	if len(records) > 0 {
		wb := r.db.NewWriteBatch()
		for id, data := range records {
			if err := wb.Set(commitKey(id), data); err != nil {
				wb.Cancel()
				return t.stats(), nil, fmt.Errorf("record commits: %w", err)
			}
		}
		if err := wb.Flush(); err != nil {
			return t.stats(), nil, fmt.Errorf("record commits: %w", err)
		}
	}
	t.phase(PhaseRefs)
	stats := t.stats()
	var conflicts []error
	for _, rr := range remote {
		switch rr.Kind {
		case BranchRef:
			name := rm.name + "/" + rr.Name
			old, err := r.forceBranch(ctx, dataset, name, rr.Commit)
			if err != nil {
				return stats, nil, err
			}
			if old != rr.Commit {
				stats.Refs = append(stats.Refs, RefUpdate{Ref: Ref{Dataset: dataset, Kind: BranchRef, Name: name, Commit: rr.Commit}, Old: old, New: rr.Commit})
			}
		case TagRef:
			created, err := r.fetchTag(ctx, rr.Ref)
			if errors.Is(err, ErrConflict) {
				conflicts = append(conflicts, err)
				continue
			}
			if err != nil {
				return stats, nil, err
			}
			if created {
				stats.Refs = append(stats.Refs, RefUpdate{Ref: rr.Ref, New: rr.Commit})
			}
		}
	}
	return stats, remote, errors.Join(conflicts...)
}

// receiveObjects copies from the remote the commits its refs reach that
// are not in haves (with all they reach), their trees and files, makes
// them durable in the repository's store, and returns the encodings of
// the commits to record.
func (r *Repository) receiveObjects(ctx context.Context, rm *Remote, dataset string, remote []remoteRef, haves map[store.Digest]bool, t *transfer) (map[store.Digest][]byte, error) {
	// readBlob reads a blob from the repository if it has it, else from
	// the remote.
	readBlob := func(d store.Digest, limit int64) ([]byte, error) {
		has, err := r.st.Has(ctx, d)
		if err != nil {
			return nil, err
		}
		if has {
			return readStoreBlob(ctx, r.st, d, limit)
		}
		data, err := readStoreBlob(ctx, rm.st, d, limit)
		if err != nil {
			return nil, fmt.Errorf("remote: %w", corruptIf(err))
		}
		return data, nil
	}

	records := make(map[store.Digest][]byte)
	var (
		commits  []Commit
		boundary []store.Digest
		seen     = make(map[store.Digest]bool)
		stack    []store.Digest
		parentOf = make(map[store.Digest]store.Digest) // for error messages
	)
	for _, rr := range remote {
		stack = append(stack, rr.Commit)
	}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[id] {
			continue
		}
		seen[id] = true
		if haves[id] {
			boundary = append(boundary, id)
			continue
		}
		data, err := readBlob(id, maxCommitBlob)
		if err != nil {
			if child, ok := parentOf[id]; ok {
				return nil, fmt.Errorf("commit %s (parent of %s): %w", id, child, err)
			}
			return nil, fmt.Errorf("commit %s: %w", id, err)
		}
		c, err := decodeCommit(id, data)
		if err != nil {
			return nil, fmt.Errorf("remote: %w", err)
		}
		if c.Dataset != dataset {
			return nil, fmt.Errorf("remote: %w: commit %s is of dataset %q, not %q", ErrCorrupt, id, c.Dataset, dataset)
		}
		records[id] = data
		commits = append(commits, c)
		for _, p := range c.Parents {
			if !seen[p] {
				parentOf[p] = id
				stack = append(stack, p)
			}
		}
	}

	known, err := r.treeBlobs(ctx, boundary)
	if err != nil {
		return nil, err
	}
	var todo []blobToCopy
	add := func(b blobToCopy) {
		if !known[b.digest] {
			known[b.digest] = true
			todo = append(todo, b)
		}
	}
	for _, c := range commits {
		add(blobToCopy{digest: c.ID, size: -1, commit: true, what: "commit " + c.ID.String()})
		tree, err := readBlob(c.Tree, maxTreeBlob)
		if err != nil {
			return nil, fmt.Errorf("tree of commit %s: %w", c.ID, err)
		}
		entries, err := decodeTree(tree)
		if err != nil {
			return nil, fmt.Errorf("remote: tree of commit %s: %w", c.ID, err)
		}
		add(blobToCopy{digest: c.Tree, size: -1, what: "tree of commit " + c.ID.String()})
		for _, e := range entries {
			add(blobToCopy{digest: e.Digest, size: e.Size, what: fmt.Sprintf("entry %q of commit %s", e.Path, c.ID)})
		}
	}

	skip := func(ctx context.Context, b blobToCopy) (bool, error) {
		return r.st.Has(ctx, b.digest)
	}
	batch := r.st.Batch()
	if err := copyBlobs(ctx, rm.st, "the remote", batch, todo, skip, t); err != nil {
		return nil, err
	}
	t.phase(PhaseFlush)
	if err := batch.Flush(ctx); err != nil {
		return nil, err
	}
	return records, nil
}

// forceBranch points a branch at commit whatever it pointed to, and
// returns where it was (zero if it did not exist).
func (r *Repository) forceBranch(ctx context.Context, dataset, branch string, commit store.Digest) (store.Digest, error) {
	for {
		cur, err := r.head(dataset, branch)
		if err != nil {
			return store.Digest{}, err
		}
		if cur == commit {
			return cur, nil
		}
		err = r.SetBranch(ctx, dataset, branch, cur, commit)
		if err == nil {
			return cur, nil
		}
		if !errors.Is(err, ErrConflict) {
			return store.Digest{}, err
		}
		if err := ctx.Err(); err != nil {
			return store.Digest{}, err
		}
	}
}

// fetchTag creates a fetched tag unless the repository has it already.
func (r *Repository) fetchTag(ctx context.Context, ref Ref) (created bool, err error) {
	for attempt := 0; ; attempt++ {
		var cur store.Digest
		err := r.db.View(func(txn *badger.Txn) error {
			var err error
			cur, err = getRef(txn, refKey(ref.Dataset, TagRef, ref.Name))
			return err
		})
		switch {
		case err != nil:
			return false, err
		case cur == ref.Commit:
			return false, nil
		case !cur.IsZero():
			return false, fmt.Errorf("%w: tag %q is at %s here, at %s on the remote", ErrConflict, ref.Name, cur, ref.Commit)
		}
		err = r.Tag(ctx, ref.Dataset, ref.Name, ref.Commit)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, ErrConflict) || attempt > 0 {
			return false, err
		}
		// Created meanwhile: look again.
	}
}

// Pull fetches dataset from the remote rm (see Fetch), then fast-forwards
// the local branch to the remote's branch of the same name: it creates
// the branch if the repository has none, moves it if the remote's commit
// descends from the local head, and leaves it if the local head already
// holds the remote's commit (it is ahead). If the two have diverged,
// each with commits the other lacks, the branch is left as it is and the
// error wraps ErrConflict: build on the remote-tracking branch
// "<remote name>/<branch>" and push. If the local branch moves while Pull
// runs the error also wraps ErrConflict. A branch that the remote does not
// have gives an error wrapping ErrNotFound. The stats are the fetch's,
// with the move of the local branch last in Refs.
func (r *Repository) Pull(ctx context.Context, rm *Remote, dataset, branch string) (TransferStats, error) {
	if err := r.check(); err != nil {
		return TransferStats{}, err
	}
	defer r.beginWrite()()
	if err := rm.check(); err != nil {
		return TransferStats{}, err
	}
	stats, err := r.pull(ctx, rm, dataset, branch)
	if err != nil {
		return stats, fmt.Errorf("version: pull %s@%s from %s: %w", quoteShort(dataset), quoteShort(branch), rm.name, err)
	}
	return stats, nil
}

func (r *Repository) pull(ctx context.Context, rm *Remote, dataset, branch string) (TransferStats, error) {
	if err := ValidName(branch); err != nil {
		return TransferStats{}, fmt.Errorf("branch: %w", err)
	}
	stats, remote, fetchErr := r.fetch(ctx, rm, dataset)
	if fetchErr != nil && remote == nil {
		return stats, fetchErr
	}
	// fetchErr, if any, reports conflicting tags: the branch can go on,
	// and the error is returned with the outcome.
	i := slices.IndexFunc(remote, func(rr remoteRef) bool { return rr.Kind == BranchRef && rr.Name == branch })
	if i < 0 {
		return stats, errors.Join(fetchErr, fmt.Errorf("%w: the remote has no branch %q of dataset %q", ErrNotFound, branch, dataset))
	}
	target := remote[i].Commit
	head, err := r.head(dataset, branch)
	if err != nil {
		return stats, err
	}
	if head == target {
		return stats, fetchErr
	}
	if !head.IsZero() {
		ff, err := r.isAncestor(ctx, head, target)
		if err != nil {
			return stats, err
		}
		if !ff {
			ahead, err := r.isAncestor(ctx, target, head)
			if err != nil {
				return stats, err
			}
			if ahead {
				return stats, fetchErr
			}
			return stats, errors.Join(fetchErr, fmt.Errorf("%w: branch %q has diverged from the remote's (at %s here, %s there): build on %s@%s/%s and push", ErrConflict, branch, head, target, dataset, rm.name, branch))
		}
	}
	if err := r.SetBranch(ctx, dataset, branch, head, target); err != nil {
		return stats, errors.Join(fetchErr, err)
	}
	stats.Refs = append(stats.Refs, RefUpdate{Ref: Ref{Dataset: dataset, Kind: BranchRef, Name: branch, Commit: target}, Old: head, New: target})
	return stats, fetchErr
}
