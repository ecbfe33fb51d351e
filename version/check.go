package version

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// CheckReport is the result of Check.
type CheckReport struct {
	Store   store.CheckReport // the store's own check
	Commits int               // commits reachable from refs, verified
	Refs    int               // branches and tags
	// Problems describes each thing found wrong, one line each.
	Problems []string
}

// maxProblems bounds the problems a Check lists.
const maxProblems = 1000

// Check verifies the repository: the store's packs and blobs (see
// store.Store.Check), every ref, every commit reachable from them (it
// decodes, matches its ID, its blob and tree blob are in the store, its
// tree decodes, each entry's blob is in the store) and the recorded
// commits and reflogs. It returns the report and, if it found any problem,
// an error wrapping ErrCorrupt that names the first.
func (r *Repository) Check(ctx context.Context) (CheckReport, error) {
	if err := r.check(); err != nil {
		return CheckReport{}, err
	}
	var rep CheckReport
	problem := func(format string, a ...any) {
		if len(rep.Problems) < maxProblems {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, a...))
		}
	}
	var err error
	rep.Store, err = r.st.Check(ctx, store.CheckOptions{})
	if errors.Is(err, store.ErrCorrupt) {
		problem("store: %v", err)
	} else if err != nil {
		return rep, fmt.Errorf("version: check: %w", err)
	}

	// Refs, recorded commits and reflogs.
	type ref struct {
		dataset string
		id      store.Digest
	}
	var refs []ref
	err = r.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for _, prefix := range []string{refKeyPrefix, commitKeyPrefix, reflogKeyPrefix} {
			p := []byte(prefix)
			for it.Seek(p); it.ValidForPrefix(p); it.Next() {
				if err := ctx.Err(); err != nil {
					return err
				}
				item := it.Item()
				k := item.KeyCopy(nil)
				v, err := item.ValueCopy(nil)
				if err != nil {
					return err
				}
				switch prefix {
				case refKeyPrefix:
					rep.Refs++
					ds, _, _, ok := parseRefKey(k)
					if !ok {
						problem("bad ref key %q", printableKey(k))
						continue
					}
					d, err := refValue(k, v)
					if err != nil {
						problem("%v", err)
						continue
					}
					refs = append(refs, ref{ds, d})
				case commitKeyPrefix:
					if len(k) != len(commitKeyPrefix)+store.DigestSize {
						problem("bad commit key %q", printableKey(k))
						continue
					}
					var id store.Digest
					copy(id[:], k[len(commitKeyPrefix):])
					if store.Sum(v) != id {
						problem("commit record %s does not match its digest", id)
					} else if _, err := decodeCommit(id, v); err != nil {
						problem("%v", err)
					}
				case reflogKeyPrefix:
					var e ReflogEntry
					if err := json.Unmarshal(v, &e); err != nil {
						problem("reflog entry %q: %v", printableKey(k), err)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("version: check: %w", err)
	}

	// Everything the refs reach.
	heads := make([]store.Digest, len(refs))
	for i, rf := range refs {
		heads[i] = rf.id
		c, err := r.readCommit(ctx, rf.id)
		if err == nil && c.Dataset != rf.dataset {
			problem("a ref of dataset %q points to commit %s of dataset %q", rf.dataset, rf.id, c.Dataset)
		}
	}
	has := make(map[store.Digest]bool)
	inStore := func(d store.Digest) (bool, error) {
		if ok, seen := has[d]; seen {
			return ok, nil
		}
		ok, err := r.st.Has(ctx, d)
		if err != nil {
			return false, err
		}
		has[d] = ok
		return ok, nil
	}
	err = r.walkCommits(ctx, heads, func(c Commit, tree []Entry, err error) error {
		rep.Commits++
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			problem("%v", err)
			return nil
		}
		for _, d := range []store.Digest{c.ID, c.Tree} {
			ok, err := inStore(d)
			if err != nil {
				return err
			}
			if !ok {
				problem("commit %s: blob %s is missing", c.ID, d)
			}
		}
		for _, e := range tree {
			ok, err := inStore(e.Digest)
			if err != nil {
				return err
			}
			if !ok {
				problem("commit %s: entry %q: blob %s is missing", c.ID, e.Path, e.Digest)
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("version: check: %w", err)
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("version: check: %w: %d problems, first: %s", ErrCorrupt, len(rep.Problems), rep.Problems[0])
	}
	return rep, nil
}
