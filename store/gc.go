package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultGCGrace is the grace period used when GCOptions.Grace is zero.
const DefaultGCGrace = 24 * time.Hour

// GCOptions configure [Store.GC]. The zero value is valid: a 24-hour grace
// period, repacking of packs with more than half their bytes dead, no
// progress reports.
type GCOptions struct {
	// Grace protects recent objects: a pack whose pack or index object was
	// written less than Grace ago is kept whole, and every blob manifest in
	// it counts as a root. Zero means DefaultGCGrace (24 h). A negative
	// value means no grace at all, which is safe only when nothing else
	// writes to the repository while GC runs.
	Grace time.Duration
	// RepackThreshold is the fraction of a pack's bytes that must be dead
	// (unreachable, or a duplicate of a record kept elsewhere) for GC to
	// copy its live records into a new pack and delete it. Zero means 0.5;
	// 1 or more never repacks, so only wholly dead packs are deleted.
	RepackThreshold float64
	// LockStale is how long an unrefreshed GC lock of another process is
	// honoured before it counts as abandoned. Zero means DefaultLockStale.
	LockStale time.Duration
	// DryRun computes what GC would do and reports it in GCStats, taking no
	// lock and writing or deleting nothing.
	DryRun bool
	// Progress, when set, is called from the goroutine running GC at the
	// start of each phase and as work in it completes.
	Progress func(GCProgress)
}

// GCProgress is a snapshot of a running GC for progress bars.
type GCProgress struct {
	// Phase is "list", "mark", "repack", "delete" or "done".
	Phase string
	// Done and Total count the phase's units: indexes read (list), blobs
	// marked (mark), packs read (repack), objects deleted (delete).
	Done, Total int64
}

// GCStats is what a GC did (or, with DryRun, would do).
type GCStats struct {
	Packs        int   // packs with an index before GC
	PackBytes    int64 // their total size
	LiveBlobs    int   // blob manifests reached from the roots and from recent packs
	LiveChunks   int   // chunks reached
	Missing      int   // chunks reached that no pack holds (Check reports these)
	Young        int   // packs kept whole because they are younger than the grace period
	Deleted      int   // packs deleted because nothing in them is live
	Repacked     int   // packs whose live records were copied out and which were then deleted
	Written      int   // new packs written by repacking
	Orphans      int   // packs without an index, older than the grace period, deleted
	BytesCopied  int64 // bytes of records copied into new packs
	BytesFreed   int64 // pack bytes deleted (orphans included) less the bytes written
	BytesAfter   int64 // total size of the packs with an index after GC
	Elapsed      time.Duration
	DeadPackKeys int // dead records in packs GC left in place (under the repack threshold)
}

// gcPack is what GC knows of one pack.
type gcPack struct {
	id       string
	index    *gcIndex
	modified time.Time // the later of the pack's and its index's write times
	hasPack  bool
	young    bool
	live     []gcEntry // records chosen as the copy to keep
	liveSize int64
}

type gcLoc struct {
	pack  *gcPack
	entry gcEntry
}

// gcKey identifies a record: a chunk and a manifest may share a digest.
type gcKey struct {
	d    Digest
	kind uint8
}

// collectGarbage runs GC on the repository held by b; see Store.GC.
//
// Safety with other writers, in this or other processes:
//
//   - Two GCs never run at once: GC takes the lock object locks/gc-<owner>
//     (see acquireGCLock), refreshes it while it runs, and checks it is
//     still held before each deletion.
//   - Writers take no lock. A writer writes a pack, then its index; a GC
//     keeps every pack (and everything a manifest in it lists) whose pack
//     or index object is younger than the grace period, measured from the
//     moment GC listed the repository. So anything a Put is writing, or
//     wrote less than Grace before GC started, survives, and so does every
//     chunk its manifests need, wherever that chunk lives.
//   - Deduplication is the remaining hazard: a Put may find a chunk that
//     already exists in an old pack and rely on it without writing it
//     again, while GC, not yet seeing the Put's manifest, deletes that old,
//     unreachable pack. This is safe as long as (a) a Put never relies on a
//     record in a pack whose index is older than Grace/2 (it writes the
//     chunk again instead: the duplicate costs space, which a later GC
//     reclaims), and (b) a Put writes its manifest less than Grace/2 after
//     deciding to rely on a record. Put keeps (a) for the default grace:
//     it relies only on packs younger than reuseWindow (12 h), so a GC with
//     a shorter Grace than the default is safe only while no other process
//     writes. (b) holds for any Put that takes less than 12 h. Proof: GC deletes pack P only if P's
//     index is older than tL-Grace, tL being when GC listed the indexes. A
//     Put relying on P at time tX had P younger than Grace/2, so
//     tX < tL-Grace/2, and it wrote its manifest by tX+Grace/2 < tL: the
//     manifest was in the listing, GC marked the chunk, and the chunk was
//     kept (in P or copied out of it). The same holds for a caller's root:
//     it must be recorded (say, by version) within Grace/2 of its Put, or
//     be passed to GC as a root.
//   - Clocks: ages come from the backend's write times (ObjectInfo.Modified)
//     compared with this host's clock, so the grace period must dwarf the
//     clock skew between them (24 h against seconds).
//
// Interruption at any point leaves a readable repository: new packs are
// written with their index before any old index is deleted, an old index is
// deleted before its pack, and a pack without an index is ignored by
// readers. An interrupted GC leaves duplicates or index-less packs, which
// the next GC removes.
func collectGarbage(ctx context.Context, b Backend, roots []Digest, opts GCOptions) (st GCStats, err error) {
	start := time.Now()
	defer func() { st.Elapsed = time.Since(start) }()
	grace := opts.Grace
	switch {
	case grace == 0:
		grace = DefaultGCGrace
	case grace < 0:
		grace = 0
	}
	threshold := opts.RepackThreshold
	if threshold == 0 {
		threshold = 0.5
	}
	progress := func(phase string, done, total int64) {
		if opts.Progress != nil {
			opts.Progress(GCProgress{Phase: phase, Done: done, Total: total})
		}
	}

	var lock *repoLock
	if !opts.DryRun {
		lock, err = acquireGCLock(ctx, b, opts.LockStale)
		if err != nil {
			return st, err
		}
		defer func() {
			if rerr := lock.release(ctx); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	check := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if lock != nil {
			return lock.check()
		}
		return nil
	}

	// List. The cutoff is taken before listing, so an object written after
	// the listing started is younger than the cutoff by construction.
	listedAt := time.Now()
	cutoff := listedAt.Add(-grace)
	packs, orphans, err := gcList(ctx, b, progress)
	if err != nil {
		return st, err
	}
	for _, p := range packs {
		p.young = p.modified.After(cutoff)
		st.Packs++
		st.PackBytes += int64(p.index.PackSize)
		if p.young {
			st.Young++
		}
	}

	// Where every record is.
	locs := map[gcKey][]gcLoc{}
	for _, p := range packs {
		for _, e := range p.index.Entries {
			k := gcKey{e.Key, e.Kind}
			locs[k] = append(locs[k], gcLoc{p, e})
		}
	}

	// Mark.
	liveManifests := map[Digest]bool{}
	liveChunks := map[Digest]bool{}
	var queue []Digest
	for _, r := range roots {
		if _, ok := locs[gcKey{r, gcKindManifest}]; !ok {
			if _, ok := locs[gcKey{r, gcKindChunk}]; !ok {
				return st, fmt.Errorf("store: gc: root %s: %w", r, ErrNotFound)
			}
		}
		queue = append(queue, r)
	}
	for _, p := range packs {
		if !p.young {
			continue
		}
		for _, e := range p.index.Entries {
			if e.Kind == gcKindManifest {
				queue = append(queue, e.Key)
			}
		}
	}
	total := int64(len(queue))
	for i, d := range queue {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if ml, ok := locs[gcKey{d, gcKindManifest}]; ok {
			if liveManifests[d] {
				continue
			}
			liveManifests[d] = true
			chunks, err := gcLoadManifest(ctx, b, d, ml)
			if err != nil {
				return st, err
			}
			for _, c := range chunks {
				liveChunks[c] = true
			}
		} else {
			liveChunks[d] = true
		}
		if i%64 == 0 {
			progress("mark", int64(i+1), total)
		}
	}
	progress("mark", total, total)
	st.LiveBlobs, st.LiveChunks = len(liveManifests), len(liveChunks)

	// Choose one copy of every live record: one in a young pack if there is
	// one (it is kept anyway), else the first in pack order. Records in
	// young packs are all kept.
	choose := func(k gcKey) {
		ls := locs[k]
		if len(ls) == 0 {
			st.Missing++
			return
		}
		for _, l := range ls {
			if l.pack.young {
				return
			}
		}
		l := ls[0]
		l.pack.live = append(l.pack.live, l.entry)
		l.pack.liveSize += l.entry.size()
	}
	for _, d := range slices.SortedFunc(maps.Keys(liveManifests), cmpDigest) {
		choose(gcKey{d, gcKindManifest})
	}
	for _, d := range slices.SortedFunc(maps.Keys(liveChunks), cmpDigest) {
		choose(gcKey{d, gcKindChunk})
	}

	// Decide.
	var dead, repack []*gcPack
	for _, p := range packs {
		switch {
		case p.young:
		case len(p.live) == 0:
			dead = append(dead, p)
		case float64(int64(p.index.PackSize)-p.liveSize) > threshold*float64(p.index.PackSize) && threshold < 1:
			repack = append(repack, p)
		default:
			st.DeadPackKeys += len(p.index.Entries) - len(p.live)
		}
	}
	var oldOrphans []ObjectInfo
	for _, o := range orphans {
		if !o.Modified.After(cutoff) {
			oldOrphans = append(oldOrphans, o)
		}
	}
	st.Deleted, st.Repacked, st.Orphans = len(dead), len(repack), len(oldOrphans)
	var freed int64
	for _, p := range dead {
		freed += int64(p.index.PackSize)
	}
	for _, p := range repack {
		freed += int64(p.index.PackSize)
		st.BytesCopied += p.liveSize
	}
	for _, o := range oldOrphans {
		freed += o.Size
	}
	packSize := 0
	if len(repack) > 0 {
		if packSize, err = gcPackSize(ctx, b); err != nil {
			return st, err
		}
	}
	if opts.DryRun {
		// Each new pack adds its magic; records are not split across packs,
		// so this is an estimate when several packs are written.
		if st.BytesCopied > 0 {
			st.Written = int((st.BytesCopied + int64(packSize) - 1) / int64(packSize))
			st.BytesCopied += int64(st.Written * len(gcPackMagic))
		}
		st.BytesFreed = freed - st.BytesCopied
		st.BytesAfter = st.PackBytes - freed + st.BytesCopied
		for _, o := range oldOrphans {
			st.BytesAfter += o.Size // orphans were not counted in PackBytes
		}
		progress("done", 0, 0)
		return st, nil
	}

	// Repack: copy the live records of each repacked pack into new packs,
	// each written with its index before anything is deleted.
	if len(repack) > 0 {
		w := &gcPackWriter{b: b, target: packSize}
		for i, p := range repack {
			if err := check(); err != nil {
				return st, err
			}
			progress("repack", int64(i), int64(len(repack)))
			name := gcPackName(p.id)
			data, err := gcReadAll(ctx, b, name)
			if err != nil {
				return st, fmt.Errorf("store: gc: read %s: %w", name, err)
			}
			if uint64(len(data)) != p.index.PackSize {
				return st, fmt.Errorf("store: gc: %w: pack %s is %d bytes, its index says %d", ErrCorrupt, name, len(data), p.index.PackSize)
			}
			slices.SortFunc(p.live, func(a, b gcEntry) int { return cmp.Compare(a.Offset, b.Offset) })
			for _, e := range p.live {
				rec, _, err := gcRecord(data, name, e)
				if err != nil {
					return st, fmt.Errorf("store: gc: %w", err)
				}
				if err := w.add(ctx, e, rec); err != nil {
					return st, fmt.Errorf("store: gc: %w", err)
				}
			}
		}
		if err := w.flush(ctx); err != nil {
			return st, fmt.Errorf("store: gc: %w", err)
		}
		progress("repack", int64(len(repack)), int64(len(repack)))
		st.Written = len(w.written)
		freed -= w.bytes
		st.BytesCopied = w.bytes
	}

	// Delete: every old index first, then the packs, so that an
	// interruption leaves index-less packs (ignored, removed next time)
	// rather than indexes naming missing packs.
	gone := append(slices.Clone(dead), repack...)
	n := int64(2*len(gone) + len(oldOrphans))
	var done int64
	progress("delete", 0, n)
	for _, p := range gone {
		if err := check(); err != nil {
			return st, err
		}
		if err := gcDelete(ctx, b, gcIndexName(p.id)); err != nil {
			return st, err
		}
		done++
		progress("delete", done, n)
	}
	for _, p := range gone {
		if err := check(); err != nil {
			return st, err
		}
		if p.hasPack {
			if err := gcDelete(ctx, b, gcPackName(p.id)); err != nil {
				return st, err
			}
		}
		done++
		progress("delete", done, n)
	}
	for _, o := range oldOrphans {
		if err := check(); err != nil {
			return st, err
		}
		if err := gcDelete(ctx, b, o.Name); err != nil {
			return st, err
		}
		done++
		progress("delete", done, n)
	}
	st.BytesFreed = freed
	st.BytesAfter = st.PackBytes + st.BytesCopied
	for _, p := range gone {
		st.BytesAfter -= int64(p.index.PackSize)
	}
	progress("done", n, n)
	return st, nil
}

func cmpDigest(a, b Digest) int {
	for i := range a {
		if c := cmp.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// gcDelete deletes one object; one already gone is fine.
func gcDelete(ctx context.Context, b Backend, name string) error {
	if err := b.Delete(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: gc: delete %s: %w", name, err)
	}
	return nil
}

// gcList lists the packs and indexes and reads every index. It returns the
// packs that have an index, and the pack objects without one. An index
// whose pack is missing is returned too (hasPack false) so that its records
// count as present: Check reports it, and GC deletes it only when nothing in
// it is live.
func gcList(ctx context.Context, b Backend, progress func(string, int64, int64)) ([]*gcPack, []ObjectInfo, error) {
	packObjs := map[string]ObjectInfo{}
	for oi, err := range b.List(ctx, "packs/") {
		if err != nil {
			return nil, nil, fmt.Errorf("store: gc: list packs: %w", err)
		}
		if id := gcPackID(oi.Name); id != "" {
			packObjs[id] = oi
		}
	}
	var idxObjs []ObjectInfo
	for oi, err := range b.List(ctx, "index/") {
		if err != nil {
			return nil, nil, fmt.Errorf("store: gc: list indexes: %w", err)
		}
		if gcIndexID(oi.Name) != "" {
			idxObjs = append(idxObjs, oi)
		}
	}
	packs := make([]*gcPack, len(idxObjs))
	var mu sync.Mutex
	var done int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(8, runtime.GOMAXPROCS(0)))
	for i, oi := range idxObjs {
		g.Go(func() error {
			data, err := gcReadAll(gctx, b, oi.Name)
			if errors.Is(err, ErrNotFound) {
				return nil // deleted since the listing (an interrupted GC's leftovers going)
			}
			if err != nil {
				return fmt.Errorf("store: gc: read %s: %w", oi.Name, err)
			}
			ix, err := gcParseIndex(oi.Name, data)
			if err != nil {
				return fmt.Errorf("store: gc: %w", err)
			}
			id := gcIndexID(oi.Name)
			if ix.Pack != id {
				return fmt.Errorf("store: gc: %w: index %s names pack %s", ErrCorrupt, oi.Name, ix.Pack)
			}
			p := &gcPack{id: id, index: ix, modified: oi.Modified}
			if po, ok := packObjs[id]; ok {
				p.hasPack = true
				if po.Modified.After(p.modified) {
					p.modified = po.Modified
				}
			}
			packs[i] = p
			mu.Lock()
			done++
			if done%64 == 0 {
				progress("list", done, int64(len(idxObjs)))
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	packs = slices.DeleteFunc(packs, func(p *gcPack) bool { return p == nil })
	progress("list", int64(len(idxObjs)), int64(len(idxObjs)))
	indexed := map[string]bool{}
	for _, p := range packs {
		indexed[p.id] = true
	}
	var orphans []ObjectInfo
	for _, id := range slices.Sorted(maps.Keys(packObjs)) {
		if !indexed[id] {
			orphans = append(orphans, packObjs[id])
		}
	}
	return packs, orphans, nil
}

// gcLoadManifest reads the manifest d from the first copy that reads and
// verifies, and returns its chunk digests.
func gcLoadManifest(ctx context.Context, b Backend, d Digest, copies []gcLoc) ([]Digest, error) {
	var firstErr error
	for _, l := range copies {
		if !l.pack.hasPack {
			continue
		}
		name := gcPackName(l.pack.id)
		rc, err := b.Get(ctx, name, int64(l.entry.Offset), l.entry.size())
		if err == nil {
			var rec []byte
			rec, err = io.ReadAll(rc)
			rc.Close()
			if err == nil && int64(len(rec)) != l.entry.size() {
				err = fmt.Errorf("%w: %s: record cut short", ErrCorrupt, name)
			}
			if err == nil {
				// Parse it as a one-record pack.
				e := l.entry
				e.Offset = 0
				var raw []byte
				if _, raw, err = gcRecord(rec, name, e); err == nil {
					return gcParseManifest(raw) // verified by gcRecord
				}
			}
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%w: no pack holds it", ErrNotFound)
	}
	return nil, fmt.Errorf("store: gc: manifest %s: %w", d, firstErr)
}

// GC deletes what is no longer needed: it marks the blobs in roots (their
// manifests and chunks) and everything in packs younger than opts.Grace as
// live, deletes packs in which nothing is live and packs without an index
// (left by a crash) once they are older than the grace period, and copies
// the live records of packs that are mostly dead (opts.RepackThreshold) into
// new packs before deleting those. A root that is not in the store is an
// error wrapping ErrNotFound, and nothing is deleted.
//
// Only one GC runs on a repository at a time: another one, in any process,
// fails with an error wrapping ErrLocked. Puts may run concurrently in this
// and other processes; the grace period protects what they write (see the
// package documentation of collectGarbage's rules in gc.go: a Put must not
// take longer than half the grace period). GC may be interrupted at any
// point (ctx cancelled, process killed): the repository stays readable and
// Check clean, and the next GC removes what was left over.
//
// After GC, this Store forgets the records it deleted and loads the indexes
// of the new packs. Other Stores on the repository, in this process or
// others, keep reading too: when a read finds a pack gone, the Store drops
// the packs whose indexes are gone, loads the new indexes and reads the
// records from where the GC moved them.
func (s *Store) GC(ctx context.Context, roots []Digest, opts GCOptions) (GCStats, error) {
	st, err := collectGarbage(ctx, s.b, roots, opts)
	if opts.DryRun {
		return st, err
	}
	if ferr := s.forgetMissing(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	return st, err
}

// forgetMissing drops the records of packs whose index is gone from the
// Store's lookup tables and loads indexes written since, so that a record
// moved by a repack is found in its new pack.
func (s *Store) forgetMissing(ctx context.Context) error {
	present := map[string]bool{}
	for oi, err := range s.b.List(ctx, "index/") {
		if err != nil {
			return fmt.Errorf("store: list indexes: %w", err)
		}
		if id := gcIndexID(oi.Name); id != "" {
			present[id] = true
		}
	}
	s.mu.Lock()
	gone := map[int32]bool{}
	for i, p := range s.packs {
		if p.durable() && !present[p.id.String()] {
			gone[int32(i)] = true
			delete(s.loaded, p.id)
		}
	}
	for _, m := range []map[Digest]loc{s.chunks, s.manifests} {
		for d, l := range m {
			if gone[l.pack] {
				delete(m, d)
			}
		}
	}
	s.mu.Unlock()
	return s.refresh(ctx)
}
