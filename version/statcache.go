package version

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/store"
)

// The stat cache remembers, for each file of a working folder that was
// hashed (by Status, CommitFiles or Checkout), what lstat said about it and
// its digest, so that a file whose size, mtime, ctime and inode are
// unchanged need not be read again. Entries live under
// "stat/<absolute folder>\x00<path in the folder>".
const statKeyPrefix = "stat/"

// racyWindow: an entry is trusted only for a file whose mtime is older than
// the entry by this much. A file written in the same timestamp tick as the
// entry could change again without its mtime changing ("racily clean", as
// Git calls it); such a file is hashed again until its entry is old enough.
const racyWindow = 2 * time.Second

// statKey is what a cache entry must match: from lstat (or stat of a
// symlink's target).
type statKey struct {
	size  int64
	mtime int64 // ns since the epoch
	ctime int64 // ns since the epoch; 0 where unknown
	ino   uint64
}

// statEntry is a stat cache entry.
type statEntry struct {
	key     statKey
	digest  store.Digest
	written int64 // ns since the epoch: when the entry was made
}

const (
	statEntryVersion = 1
	statEntryLen     = 1 + 5*8 + store.DigestSize
)

// fresh reports whether e may be trusted for a file whose stat is k.
func (e statEntry) fresh(k statKey) bool {
	return e.key == k && k.mtime < e.written-int64(racyWindow)
}

func (e statEntry) encode() []byte {
	b := make([]byte, 0, statEntryLen)
	b = append(b, statEntryVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.key.size))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.key.mtime))
	b = binary.LittleEndian.AppendUint64(b, uint64(e.key.ctime))
	b = binary.LittleEndian.AppendUint64(b, e.key.ino)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.written))
	return append(b, e.digest[:]...)
}

func decodeStatEntry(b []byte) (statEntry, bool) {
	if len(b) != statEntryLen || b[0] != statEntryVersion {
		return statEntry{}, false
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[1+8*i:]) }
	e := statEntry{
		key:     statKey{size: int64(u(0)), mtime: int64(u(1)), ctime: int64(u(2)), ino: u(3)},
		written: int64(u(4)),
	}
	copy(e.digest[:], b[1+5*8:])
	return e, true
}

func statPrefixKey(folder string) []byte {
	return []byte(statKeyPrefix + folder + "\x00")
}

func statCacheKey(folder, path string) []byte {
	return []byte(statKeyPrefix + folder + "\x00" + path)
}

// loadStatCache reads the cache entries of a folder (absolute) with one
// prefix iteration. Entries that do not decode are left out: they are
// hashed again and rewritten.
func (r *Repository) loadStatCache(folder string) (map[string]statEntry, error) {
	prefix := statPrefixKey(folder)
	m := make(map[string]statEntry)
	err := r.db.View(func(txn *badger.Txn) error {
		// Values are small and kept in the LSM tree: read them in place.
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var e statEntry
			var ok bool
			if err := item.Value(func(v []byte) error {
				e, ok = decodeStatEntry(v)
				return nil
			}); err != nil {
				return err
			}
			if ok {
				m[string(item.Key()[len(prefix):])] = e
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("version: stat cache of %s: %w", folder, err)
	}
	return m, nil
}

// getStatEntry reads one cache entry.
func (r *Repository) getStatEntry(folder, path string) (statEntry, bool, error) {
	var e statEntry
	var ok bool
	err := r.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(statCacheKey(folder, path))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			e, ok = decodeStatEntry(v)
			return nil
		})
	})
	return e, ok, err
}

// statUpdate is a change to the stat cache.
type statUpdate struct {
	folder, path string
	entry        statEntry
	del          bool
}

// writeStatCache applies updates in one write batch.
func (r *Repository) writeStatCache(updates []statUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	wb := r.db.NewWriteBatch()
	defer wb.Cancel()
	for _, u := range updates {
		k := statCacheKey(u.folder, u.path)
		var err error
		if u.del {
			err = wb.Delete(k)
		} else {
			err = wb.Set(k, u.entry.encode())
		}
		if err != nil {
			return fmt.Errorf("version: write stat cache: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("version: write stat cache: %w", err)
	}
	return nil
}

// statKeyOf returns the cache key of a file described by fi.
func statKeyOf(fi fs.FileInfo) statKey {
	k := statKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	sysStat(fi, &k)
	return k
}
