package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
)

// CheckOptions configure [Store.Check]. The zero value is valid.
type CheckOptions struct {
	// Progress, if not nil, is called after each pack is verified, from
	// one goroutine at a time.
	Progress func(CheckProgress)
}

// CheckProgress reports the work of a Check so far.
type CheckProgress struct {
	Packs    int   // packs verified so far
	PacksAll int   // packs to verify
	Bytes    int64 // pack bytes read so far
	BytesAll int64 // pack bytes to read
}

// CheckReport is the result of [Store.Check].
type CheckReport struct {
	Packs     int   // packs with an index that were verified
	Chunks    int   // chunk records verified
	Manifests int   // blob manifests verified
	Bytes     int64 // pack bytes read

	// Unreferenced lists packs that have no index: leftovers of an
	// interrupted write, harmless, removed by GC. They are not problems.
	Unreferenced []string
	// Missing lists objects that are referenced but absent: a pack whose
	// index exists, or a chunk that a manifest lists and no pack holds.
	Missing []Problem
	// Corrupt lists objects and records that fail verification.
	Corrupt []Problem
}

// Clean reports whether the check found nothing missing or corrupt.
func (r CheckReport) Clean() bool { return len(r.Missing) == 0 && len(r.Corrupt) == 0 }

// Problem is one thing Check found wrong.
type Problem struct {
	Object string // the backend object concerned ("packs/..", "index/..")
	Digest Digest // the chunk or blob concerned; zero for a whole object
	Reason string
}

func (p Problem) String() string {
	if p.Digest.IsZero() {
		return p.Object + ": " + p.Reason
	}
	return p.Object + ": " + p.Digest.String() + ": " + p.Reason
}

// Check reads every index and every pack of the repository and verifies
// each record: chunks against their digests, manifests against their
// checksums, and that every chunk a manifest lists is present. It returns
// the report, and an error wrapping ErrCorrupt (naming the first problem)
// if anything is missing or corrupt. Packs without an index are reported as
// Unreferenced and are not an error.
func (s *Store) Check(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	var rep CheckReport
	packs := make(map[packID]int64) // pack objects and sizes
	for oi, err := range s.b.List(ctx, "packs/") {
		if err != nil {
			return rep, fmt.Errorf("store: check: list packs: %w", err)
		}
		if id, ok := parsePackName(oi.Name); ok {
			packs[id] = oi.Size
		}
	}
	var indexes []packID
	for oi, err := range s.b.List(ctx, "index/") {
		if err != nil {
			return rep, fmt.Errorf("store: check: list indexes: %w", err)
		}
		if id, ok := parseIndexName(oi.Name); ok {
			indexes = append(indexes, id)
		}
	}
	var (
		mu        sync.Mutex
		chunks    = make(map[Digest]bool) // chunk keys with a valid record
		manifests = make(map[Digest][]manifestEntry)
		prog      CheckProgress
	)
	indexed := make(map[packID]bool)
	for _, id := range indexes {
		indexed[id] = true
		prog.PacksAll++
		prog.BytesAll += packs[id]
	}
	for id := range packs {
		if !indexed[id] {
			rep.Unreferenced = append(rep.Unreferenced, packName(id))
		}
	}
	addProblem := func(list *[]Problem, p Problem) {
		mu.Lock()
		*list = append(*list, p)
		mu.Unlock()
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.workers)
	for _, id := range indexes {
		g.Go(func() error {
			iname, pname := indexName(id), packName(id)
			data, err := readObject(gctx, s.b, iname)
			if errors.Is(err, ErrNotFound) {
				return nil // removed meanwhile
			}
			if err != nil {
				return fmt.Errorf("store: check: read %s: %w", iname, err)
			}
			size, entries, err := decodeIndex(data, id)
			if err != nil {
				addProblem(&rep.Corrupt, Problem{Object: iname, Reason: err.Error()})
				return nil
			}
			actual, ok := packs[id]
			if !ok {
				addProblem(&rep.Missing, Problem{Object: pname, Reason: "pack of " + iname + " is missing"})
				return nil
			}
			if actual != size {
				addProblem(&rep.Corrupt, Problem{Object: pname, Reason: fmt.Sprintf("size %d, index says %d", actual, size)})
				return nil
			}
			pack, err := readObject(gctx, s.b, pname)
			if errors.Is(err, ErrNotFound) {
				addProblem(&rep.Missing, Problem{Object: pname, Reason: "pack of " + iname + " is missing"})
				return nil
			}
			if err != nil {
				return fmt.Errorf("store: check: read %s: %w", pname, err)
			}
			if int64(len(pack)) != size || string(pack[:min(len(pack), len(packMagic))]) != packMagic {
				addProblem(&rep.Corrupt, Problem{Object: pname, Reason: "bad magic or size"})
				return nil
			}
			var nChunks, nMan int
			for _, e := range entries {
				l := loc{flags: e.Flags, off: e.Offset, raw: e.Raw, stored: e.Stored}
				rec := pack[e.Offset : int64(e.Offset)+recordHdrSize+int64(e.Stored)]
				raw, err := s.openRecord(rec, e.Key, e.Kind, l)
				if err == nil && e.Kind == kindManifest {
					var ents []manifestEntry
					_, ents, err = decodeManifest(raw)
					if err == nil {
						mu.Lock()
						manifests[e.Key] = ents
						mu.Unlock()
						nMan++
					} else {
						err = fmt.Errorf("blob manifest: %w", err)
					}
				}
				if err != nil {
					addProblem(&rep.Corrupt, Problem{Object: pname, Digest: e.Key, Reason: err.Error()})
					continue
				}
				if e.Kind == kindChunk {
					mu.Lock()
					chunks[e.Key] = true
					mu.Unlock()
					nChunks++
				}
			}
			mu.Lock()
			rep.Packs++
			rep.Chunks += nChunks
			rep.Manifests += nMan
			rep.Bytes += size
			prog.Packs++
			prog.Bytes += size
			p := prog
			if opts.Progress != nil {
				opts.Progress(p)
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rep, err
	}
	for d, ents := range manifests {
		for _, e := range ents {
			if !chunks[e.Digest] {
				rep.Missing = append(rep.Missing, Problem{Digest: e.Digest, Reason: "chunk of blob " + d.String() + " is in no pack"})
			}
		}
	}
	sort.Strings(rep.Unreferenced)
	for _, l := range [][]Problem{rep.Missing, rep.Corrupt} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Object != l[j].Object {
				return l[i].Object < l[j].Object
			}
			return l[i].Digest.String() < l[j].Digest.String()
		})
	}
	if !rep.Clean() {
		first := append(append([]Problem(nil), rep.Missing...), rep.Corrupt...)[0]
		return rep, fmt.Errorf("store: check: %d missing, %d corrupt; first: %s: %w", len(rep.Missing), len(rep.Corrupt), first, ErrCorrupt)
	}
	return rep, nil
}
