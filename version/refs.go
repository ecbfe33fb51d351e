package version

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// RefKind is the kind of a ref: a branch or a tag.
type RefKind string

// The kinds of refs.
const (
	// BranchRef: a branch, which moves as commits are made on it (with
	// compare-and-swap, see SetBranch) and keeps a reflog.
	BranchRef RefKind = "heads"
	// TagRef: a tag, which names one commit for good.
	TagRef RefKind = "tags"
)

// A Ref names a commit of a dataset: a branch or a tag.
type Ref struct {
	Dataset string
	Kind    RefKind
	Name    string
	Commit  store.Digest
}

// A ReflogEntry records one move of a branch: from Old (zero when the
// branch was created) to New (zero when it was deleted).
type ReflogEntry struct {
	Old     store.Digest `json:"old"`
	New     store.Digest `json:"new"`
	Time    time.Time    `json:"time"`
	Author  string       `json:"author"`
	Message string       `json:"message"`
}

// defaultBranch is the branch a spec or commit without one means.
const defaultBranch = "main"

// Badger key prefixes of this file's records.
const (
	refKeyPrefix    = "ref/"    // ref/<dataset>\x00<kind>\x00<name> → 32-byte digest
	reflogKeyPrefix = "reflog/" // reflog/<dataset>\x00<branch>\x00<%020d seq> → JSON
	commitKeyPrefix = "commit/" // commit/<32 bytes> → the commit's encoding
)

func refKey(dataset string, kind RefKind, name string) []byte {
	return []byte(refKeyPrefix + dataset + "\x00" + string(kind) + "\x00" + name)
}

func reflogKeys(dataset, branch string) []byte {
	return []byte(reflogKeyPrefix + dataset + "\x00" + branch + "\x00")
}

func commitKey(d store.Digest) []byte {
	return append([]byte(commitKeyPrefix), d[:]...)
}

// parseRefKey splits a ref key into its dataset, kind and name.
func parseRefKey(k []byte) (dataset string, kind RefKind, name string, ok bool) {
	rest, ok := bytes.CutPrefix(k, []byte(refKeyPrefix))
	if !ok {
		return "", "", "", false
	}
	parts := strings.Split(string(rest), "\x00")
	if len(parts) != 3 {
		return "", "", "", false
	}
	kind = RefKind(parts[1])
	if kind != BranchRef && kind != TagRef || ValidName(parts[0]) != nil || ValidName(parts[2]) != nil {
		return "", "", "", false
	}
	return parts[0], kind, parts[2], true
}

// refValue decodes the value of a ref key.
func refValue(key, val []byte) (store.Digest, error) {
	var d store.Digest
	if len(val) != store.DigestSize {
		return d, fmt.Errorf("%w: ref %q: value of %d bytes, want %d", ErrCorrupt, printableKey(key), len(val), store.DigestSize)
	}
	copy(d[:], val)
	if d.IsZero() {
		return d, fmt.Errorf("%w: ref %q: zero digest", ErrCorrupt, printableKey(key))
	}
	return d, nil
}

// printableKey shows a Badger key in an error message.
func printableKey(k []byte) string {
	var b strings.Builder
	for _, c := range k {
		if c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, "\\x%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// getRef reads a ref in txn; the zero Digest if it does not exist.
func getRef(txn *badger.Txn, key []byte) (store.Digest, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return store.Digest{}, nil
	}
	if err != nil {
		return store.Digest{}, fmt.Errorf("version: read ref %q: %w", printableKey(key), err)
	}
	var d store.Digest
	err = item.Value(func(val []byte) error {
		var err error
		d, err = refValue(key, val)
		return err
	})
	return d, err
}

// head returns the commit a branch points to, zero if it does not exist.
func (r *Repository) head(dataset, branch string) (store.Digest, error) {
	var d store.Digest
	err := r.db.View(func(txn *badger.Txn) error {
		var err error
		d, err = getRef(txn, refKey(dataset, BranchRef, branch))
		return err
	})
	return d, err
}

// lookupRef returns the commit of a branch or, failing that, a tag.
func (r *Repository) lookupRef(dataset, name string) (store.Digest, bool, error) {
	var d store.Digest
	err := r.db.View(func(txn *badger.Txn) error {
		for _, kind := range []RefKind{BranchRef, TagRef} {
			var err error
			if d, err = getRef(txn, refKey(dataset, kind, name)); err != nil || !d.IsZero() {
				return err
			}
		}
		return nil
	})
	return d, !d.IsZero(), err
}

// appendReflog adds e as the newest entry of a branch's reflog in txn.
func appendReflog(txn *badger.Txn, dataset, branch string, e ReflogEntry) error {
	prefix := reflogKeys(dataset, branch)
	seq := uint64(1)
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: prefix})
	it.Seek(append(bytes.Clone(prefix), 0xff))
	if it.ValidForPrefix(prefix) {
		k := it.Item().Key()
		n, err := strconv.ParseUint(string(k[len(prefix):]), 10, 64)
		if err != nil {
			it.Close()
			return fmt.Errorf("%w: reflog key %q", ErrCorrupt, printableKey(k))
		}
		seq = n + 1
	}
	it.Close()
	val, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return txn.Set(fmt.Appendf(prefix, "%020d", seq), val)
}

// refUpdate runs fn in a read-write transaction, again while Badger reports
// a conflict with another transaction.
func (r *Repository) refUpdate(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for {
		err := r.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// Datasets returns the names of the datasets that have at least one ref,
// sorted.
func (r *Repository) Datasets(ctx context.Context) ([]string, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	var out []string
	err := r.db.View(func(txn *badger.Txn) error {
		prefix := []byte(refKeyPrefix)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			ds, _, _, ok := parseRefKey(k)
			if !ok {
				return fmt.Errorf("%w: bad ref key %q", ErrCorrupt, printableKey(k))
			}
			out = append(out, ds)
			it.Seek([]byte(refKeyPrefix + ds + "\x01")) // past this dataset's refs
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: datasets: %w", err)
	}
	return out, nil
}

// Refs returns the branches, then the tags, of a dataset, each sorted by
// name. A dataset without refs has none: the result is empty.
func (r *Repository) Refs(ctx context.Context, dataset string) ([]Ref, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := ValidName(dataset); err != nil {
		return nil, fmt.Errorf("version: refs: dataset: %w", err)
	}
	var out []Ref
	err := r.db.View(func(txn *badger.Txn) error {
		prefix := []byte(refKeyPrefix + dataset + "\x00")
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			ds, kind, name, ok := parseRefKey(k)
			if !ok || ds != dataset {
				return fmt.Errorf("%w: bad ref key %q", ErrCorrupt, printableKey(k))
			}
			ref := Ref{Dataset: ds, Kind: kind, Name: name}
			if err := item.Value(func(val []byte) error {
				var err error
				ref.Commit, err = refValue(k, val)
				return err
			}); err != nil {
				return err
			}
			out = append(out, ref)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: refs of %q: %w", dataset, err)
	}
	return out, nil
}

// SetBranch moves a branch of a dataset from old to new, atomically, if it
// still points to old: a compare-and-swap. A zero old means the branch must
// not exist (it is created); a zero new deletes it. If the branch does not
// point to old, nothing changes and the error wraps ErrConflict. new must
// be a commit of the dataset (else the error wraps ErrNotFound). The move
// is recorded in the branch's reflog.
func (r *Repository) SetBranch(ctx context.Context, dataset, branch string, old, new store.Digest) error {
	if err := r.check(); err != nil {
		return err
	}
	if err := errors.Join(ValidName(dataset), ValidName(branch)); err != nil {
		return fmt.Errorf("version: set branch: %w", err)
	}
	var rec []byte // the commit's encoding, to record
	if !new.IsZero() {
		_, data, recorded, err := r.commitOfData(ctx, dataset, new)
		if err != nil {
			return fmt.Errorf("version: set branch %s@%s: %w", dataset, branch, err)
		}
		if !recorded {
			rec = data
		}
	}
	key := refKey(dataset, BranchRef, branch)
	err := r.refUpdate(ctx, func(txn *badger.Txn) error {
		cur, err := getRef(txn, key)
		if err != nil {
			return err
		}
		if cur != old {
			return fmt.Errorf("%w: branch is at %s, not %s", ErrConflict, digestOrNone(cur), digestOrNone(old))
		}
		if old == new {
			return nil
		}
		msg := "set to " + new.String()
		if new.IsZero() {
			msg = "delete"
			err = txn.Delete(key)
		} else {
			err = txn.Set(key, new[:])
		}
		if err != nil {
			return err
		}
		if rec != nil {
			if err := txn.Set(commitKey(new), rec); err != nil {
				return err
			}
		}
		return appendReflog(txn, dataset, branch, ReflogEntry{Old: old, New: new, Time: time.Now().UTC(), Author: r.author, Message: "branch: " + msg})
	})
	if err != nil {
		return fmt.Errorf("version: set branch %s@%s: %w", dataset, branch, err)
	}
	return nil
}

func digestOrNone(d store.Digest) string {
	if d.IsZero() {
		return "none"
	}
	return d.String()
}

// commitOf reads commit id and checks that it belongs to dataset; one of
// another dataset is not found.
func (r *Repository) commitOf(ctx context.Context, dataset string, id store.Digest) (Commit, error) {
	c, _, _, err := r.commitOfData(ctx, dataset, id)
	return c, err
}

// commitOfData is commitOf that also returns what readCommitData does.
func (r *Repository) commitOfData(ctx context.Context, dataset string, id store.Digest) (Commit, []byte, bool, error) {
	c, data, recorded, err := r.readCommitData(ctx, id)
	if err != nil {
		return Commit{}, nil, false, err
	}
	if c.Dataset != dataset {
		return Commit{}, nil, false, fmt.Errorf("commit %s is of dataset %q: %w", id, c.Dataset, ErrNotFound)
	}
	return c, data, recorded, nil
}

// Tag names commit, a commit of dataset, tag. Tags never move: if the tag
// exists, even on the same commit, nothing changes and the error wraps
// ErrConflict.
func (r *Repository) Tag(ctx context.Context, dataset, tag string, commit store.Digest) error {
	if err := r.check(); err != nil {
		return err
	}
	if err := errors.Join(ValidName(dataset), ValidName(tag)); err != nil {
		return fmt.Errorf("version: tag: %w", err)
	}
	_, data, recorded, err := r.commitOfData(ctx, dataset, commit)
	if err != nil {
		return fmt.Errorf("version: tag %s@%s: %w", dataset, tag, err)
	}
	key := refKey(dataset, TagRef, tag)
	err = r.refUpdate(ctx, func(txn *badger.Txn) error {
		cur, err := getRef(txn, key)
		if err != nil {
			return err
		}
		if !cur.IsZero() {
			return fmt.Errorf("%w: tag exists (at %s)", ErrConflict, cur)
		}
		if !recorded {
			if err := txn.Set(commitKey(commit), data); err != nil {
				return err
			}
		}
		return txn.Set(key, commit[:])
	})
	if err != nil {
		return fmt.Errorf("version: tag %s@%s: %w", dataset, tag, err)
	}
	return nil
}

// Reflog returns the moves of a branch, newest first. A branch that never
// existed has none.
func (r *Repository) Reflog(ctx context.Context, dataset, branch string) ([]ReflogEntry, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := errors.Join(ValidName(dataset), ValidName(branch)); err != nil {
		return nil, fmt.Errorf("version: reflog: %w", err)
	}
	var out []ReflogEntry
	err := r.db.View(func(txn *badger.Txn) error {
		prefix := reflogKeys(dataset, branch)
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: prefix})
		defer it.Close()
		for it.Seek(append(bytes.Clone(prefix), 0xff)); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			var e ReflogEntry
			if err := item.Value(func(val []byte) error { return json.Unmarshal(val, &e) }); err != nil {
				return fmt.Errorf("%w: reflog entry %q: %v", ErrCorrupt, printableKey(item.Key()), err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: reflog of %s@%s: %w", dataset, branch, err)
	}
	return out, nil
}

// A spec names a commit: "dataset[@ref][~N]".
type spec struct {
	dataset string
	ref     string // "" = the default branch
	back    int    // first-parent generations to go back
}

// maxBack bounds N in "~N".
const maxBack = 1 << 30

func parseSpec(s string) (spec, error) {
	var sp spec
	rest := s
	if i := strings.LastIndexByte(rest, '~'); i >= 0 {
		n := rest[i+1:]
		sp.back = 1
		if n != "" {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 || v > maxBack || n[0] == '+' {
				return sp, fmt.Errorf("%w: spec %s: bad generation count %q after \"~\"", ErrBadName, quoteShort(s), n)
			}
			sp.back = v
		}
		rest = rest[:i]
	}
	ds, ref, hasRef := strings.Cut(rest, "@")
	if hasRef && ref == "" {
		return sp, fmt.Errorf("%w: spec %s: empty ref after \"@\"", ErrBadName, quoteShort(s))
	}
	if err := ValidName(ds); err != nil {
		return sp, fmt.Errorf("spec %s: dataset: %w", quoteShort(s), err)
	}
	if hasRef && !strings.HasPrefix(ref, store.DigestPrefix) {
		if err := ValidName(ref); err != nil {
			return sp, fmt.Errorf("spec %s: ref: %w", quoteShort(s), err)
		}
	}
	sp.dataset, sp.ref = ds, ref
	return sp, nil
}

// Resolve returns the commit that spec names. A spec is
// "dataset[@ref][~N]": ref is a branch, a tag (a branch wins over a tag of
// the same name), a full commit ID ("blake3:<64 hex digits>") or a prefix of
// at least 8 hexadecimal digits of the ID of a commit of the dataset (one
// that matches several commits is refused); no ref means the branch "main".
// "~N" then goes back N generations along first parents ("~" alone is
// "~1"). A malformed spec gives an error wrapping ErrBadName; a ref or
// commit that does not exist, one wrapping ErrNotFound.
func (r *Repository) Resolve(ctx context.Context, spec string) (Commit, error) {
	if err := r.check(); err != nil {
		return Commit{}, err
	}
	c, err := r.resolve(ctx, spec)
	if err != nil {
		return Commit{}, fmt.Errorf("version: resolve %s: %w", quoteShort(spec), err)
	}
	return c, nil
}

func (r *Repository) resolve(ctx context.Context, s string) (Commit, error) {
	sp, err := parseSpec(s)
	if err != nil {
		return Commit{}, err
	}
	id, err := r.resolveRef(sp.dataset, sp.ref)
	if err != nil {
		return Commit{}, err
	}
	c, err := r.commitOf(ctx, sp.dataset, id)
	if err != nil {
		return Commit{}, err
	}
	for i := range sp.back {
		if len(c.Parents) == 0 {
			return Commit{}, fmt.Errorf("%w: commit %s has %d first-parent ancestors, not %d", ErrNotFound, id, i, sp.back)
		}
		if c, err = r.commitOf(ctx, sp.dataset, c.Parents[0]); err != nil {
			return Commit{}, err
		}
	}
	return c, nil
}

// resolveRef finds the commit ID a ref of a dataset names.
func (r *Repository) resolveRef(dataset, ref string) (store.Digest, error) {
	if ref == "" {
		ref = defaultBranch
	}
	if strings.HasPrefix(ref, store.DigestPrefix) {
		d, err := store.ParseDigest(ref)
		if err != nil {
			return d, fmt.Errorf("%w: %w", ErrBadName, err)
		}
		return d, nil
	}
	d, ok, err := r.lookupRef(dataset, ref)
	if err != nil || ok {
		return d, err
	}
	if len(ref) >= 8 && isHex(ref) {
		return r.commitByPrefix(dataset, strings.ToLower(ref))
	}
	return d, fmt.Errorf("%w: no branch or tag %q of dataset %q", ErrNotFound, ref, dataset)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// commitByPrefix finds the one commit of dataset whose ID's hex digits
// start with prefix (lower case), among the commits the repository has
// recorded.
func (r *Repository) commitByPrefix(dataset, prefix string) (store.Digest, error) {
	if len(prefix) > 2*store.DigestSize {
		return store.Digest{}, fmt.Errorf("%w: no commit %q of dataset %q", ErrNotFound, prefix, dataset)
	}
	var whole []byte
	for i := 0; i+1 < len(prefix); i += 2 {
		v, _ := strconv.ParseUint(prefix[i:i+2], 16, 8)
		whole = append(whole, byte(v))
	}
	var found []store.Digest
	err := r.db.View(func(txn *badger.Txn) error {
		p := append([]byte(commitKeyPrefix), whole...)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != len(commitKeyPrefix)+store.DigestSize {
				return fmt.Errorf("%w: bad commit key %q", ErrCorrupt, printableKey(k))
			}
			var d store.Digest
			copy(d[:], k[len(commitKeyPrefix):])
			if !strings.HasPrefix(d.Hex(), prefix) {
				continue
			}
			var head struct {
				Dataset string `json:"dataset"`
			}
			if err := item.Value(func(val []byte) error { return json.Unmarshal(val, &head) }); err != nil {
				return fmt.Errorf("%w: commit %s: %v", ErrCorrupt, d, err)
			}
			if head.Dataset == dataset {
				found = append(found, d)
			}
		}
		return nil
	})
	switch {
	case err != nil:
		return store.Digest{}, err
	case len(found) == 0:
		return store.Digest{}, fmt.Errorf("%w: no branch, tag or commit %q of dataset %q", ErrNotFound, prefix, dataset)
	case len(found) > 1:
		return store.Digest{}, fmt.Errorf("%w: commit prefix %q is ambiguous: %d commits of dataset %q match", ErrNotFound, prefix, len(found), dataset)
	}
	return found[0], nil
}
