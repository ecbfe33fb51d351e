// Package badgerstore is the embedded online feature store: an
// [online.Store] kept in a Badger database (github.com/dgraph-io/badger/v4)
// in a local folder, the default of a Kiln feature store.
//
// Layout: one Badger key per view and entity, the view name length-prefixed
// (uvarint length, then the name) followed by the encoded entity key; its
// value is the record in online's codec (event time first, then the features
// with their names). A read of one entity is one point lookup; a write is a
// read-compare-write in a transaction, retried on conflicts, so a newer
// record is never replaced by an older one even with concurrent writers.
package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dgraph-io/badger/v4"
	"github.com/kilnml/kiln/features/online"
)

// Options configures a Store. The zero value is valid.
type Options struct {
	// InMemory keeps the database in memory only (dir is ignored and may be
	// empty): for tests and caches.
	InMemory bool
	// SyncWrites makes each Write durable (fsync) before it returns. By
	// default a crash may lose the last writes, which materialization
	// replays safely.
	SyncWrites bool
	// MemTableSize is Badger's memtable size in bytes; 0 keeps Badger's
	// default (64 MiB). A small one also lowers the size above which values
	// go to Badger's value log (to a tenth of it).
	MemTableSize int64
	// Logger receives Badger's log lines; nil discards them.
	Logger *slog.Logger
}

// Store is an online store in a Badger database. Its methods are safe for
// concurrent use.
//
// Reads share one read-only Badger transaction, a snapshot, until the next
// write through the Store: opening a transaction per read costs two
// hand-offs to Badger's watermark goroutine, which made the tail of a
// one-entity read several times its median. Badger is single-process, so
// every write goes through this Store, and a read that starts after a
// write returned sees it.
type Store struct {
	db     *badger.DB
	closed atomic.Bool

	gen  atomic.Uint64 // bumped after every write and view deletion
	mu   sync.Mutex    // guards snap and the snapshots' users
	snap *snapshot
}

// snapshot is a read-only transaction shared by concurrent reads.
type snapshot struct {
	txn   *badger.Txn
	gen   uint64 // s.gen when it was opened
	users int
	stale bool // replaced: discard when the last user leaves
}

// acquire returns a snapshot at least as new as the last write.
func (s *Store) acquire() *snapshot {
	g := s.gen.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap == nil || s.snap.gen != g {
		s.dropSnapLocked()
		s.snap = &snapshot{txn: s.db.NewTransaction(false), gen: g}
	}
	s.snap.users++
	return s.snap
}

func (s *Store) release(sn *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn.users--
	if sn.stale && sn.users == 0 {
		sn.txn.Discard()
	}
}

// dropSnapLocked retires the current snapshot; s.mu is held.
func (s *Store) dropSnapLocked() {
	if old := s.snap; old != nil {
		s.snap = nil
		old.stale = true
		if old.users == 0 {
			old.txn.Discard()
		}
	}
}

// changed marks the data as written: later reads take a new snapshot, and
// an unused old one stops holding back Badger's version cleanup.
func (s *Store) changed() {
	s.gen.Add(1)
	s.mu.Lock()
	if s.snap != nil && s.snap.users == 0 {
		s.dropSnapLocked()
	}
	s.mu.Unlock()
}

var _ online.Store = (*Store)(nil)

// maxBatch bounds the records written in one transaction.
const maxBatch = 1000

// Open opens (creating it if needed) the store in folder dir.
func Open(dir string, opts Options) (*Store, error) {
	bo := badger.DefaultOptions(dir).WithInMemory(opts.InMemory).WithSyncWrites(opts.SyncWrites)
	if opts.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	if opts.MemTableSize > 0 {
		bo = bo.WithMemTableSize(opts.MemTableSize).WithValueThreshold(min(bo.ValueThreshold, opts.MemTableSize/10))
	}
	if opts.Logger != nil {
		bo = bo.WithLogger(slogAdapter{opts.Logger})
	} else {
		bo = bo.WithLogger(nil)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open %q: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// viewPrefix returns the key prefix of view's records.
func viewPrefix(dst []byte, view string) []byte {
	dst = appendUvarint(dst, uint64(len(view)))
	return append(dst, view...)
}

func appendUvarint(dst []byte, n uint64) []byte {
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	return append(dst, byte(n))
}

// Write implements [online.Store.Write].
func (s *Store) Write(ctx context.Context, view string, features []string, recs []online.Record) error {
	if err := online.CheckWrite(view, features, recs); err != nil {
		return err
	}
	if s.closed.Load() {
		return online.ErrClosed
	}
	prefix := viewPrefix(nil, view)
	for len(recs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(recs), maxBatch)
		done, err := s.writeBatch(ctx, prefix, features, recs[:n])
		if done > 0 {
			s.changed()
		}
		if err != nil {
			return fmt.Errorf("badgerstore: write %q: %w", view, err)
		}
		recs = recs[done:]
	}
	return nil
}

// writeBatch writes a prefix of recs in one transaction, retrying on
// conflicts, and returns how many records it wrote (fewer than len(recs)
// when the transaction grew too big).
func (s *Store) writeBatch(ctx context.Context, prefix []byte, features []string, recs []online.Record) (int, error) {
	var key, val []byte
	var stamp []byte
	for {
		txn := s.db.NewTransaction(true)
		done := 0
		var err error
		for _, r := range recs {
			key = append(append(key[:0], prefix...), r.Key...)
			stamp = online.AppendTimePrefix(stamp[:0], r.EventTime)
			older := false
			item, gerr := txn.Get(key)
			switch {
			case gerr == nil:
				err = item.Value(func(old []byte) error {
					if len(old) < online.TimePrefixLen {
						return fmt.Errorf("%w: %d bytes", online.ErrCorrupt, len(old))
					}
					older = string(stamp) < string(old[:online.TimePrefixLen])
					return nil
				})
			case errors.Is(gerr, badger.ErrKeyNotFound):
			default:
				err = gerr
			}
			if err != nil {
				break
			}
			if !older {
				val = online.AppendRecord(make([]byte, 0, online.RecordSize(features, r.Values)), r.EventTime, features, r.Values)
				if err = txn.Set(append([]byte(nil), key...), val); err != nil {
					if errors.Is(err, badger.ErrTxnTooBig) && done > 0 {
						err = nil
						break
					}
					break
				}
			}
			done++
		}
		if err == nil {
			err = txn.Commit()
			if err == nil {
				return done, nil
			}
		}
		txn.Discard()
		if !errors.Is(err, badger.ErrConflict) {
			return 0, err
		}
		if cerr := ctx.Err(); cerr != nil {
			return 0, cerr
		}
	}
}

// Read implements [online.Store.Read].
func (s *Store) Read(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time) ([][]online.Result, error) {
	out := online.NewResults(len(keys), len(features))
	if err := s.ReadInto(ctx, view, features, keys, maxAge, now, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadInto implements [online.Store.ReadInto].
func (s *Store) ReadInto(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time, out [][]online.Result) error {
	if err := online.CheckReadInto(view, features, keys, out); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return online.ErrClosed
	}
	d := online.NewDecoder(features)
	var buf [256]byte
	prefix := viewPrefix(buf[:0], view)
	np := len(prefix)
	sn := s.acquire()
	defer s.release(sn)
	err := func(txn *badger.Txn) error {
		for i, k := range keys {
			if i%256 == 255 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			key := append(prefix[:np], k...)
			item, err := txn.Get(key)
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := item.Value(func(v []byte) error {
				// Decode in place, then copy only the string values out
				// of Badger's buffer, which is valid during this call.
				if err := d.Decode(unsafe.String(unsafe.SliceData(v), len(v)), maxAge, now, out[i]); err != nil {
					return err
				}
				online.Detach(out[i])
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}(sn.txn)
	if err != nil {
		return fmt.Errorf("badgerstore: read %q: %w", view, err)
	}
	return nil
}

// DeleteView implements [online.Store.DeleteView]. Badger's DropPrefix
// blocks other writes while it runs.
func (s *Store) DeleteView(ctx context.Context, view string) error {
	if err := online.ValidViewName(view); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return online.ErrClosed
	}
	err := s.db.DropPrefix(viewPrefix(nil, view))
	s.changed()
	if err != nil {
		return fmt.Errorf("badgerstore: delete view %q: %w", view, err)
	}
	return nil
}

// Close closes the database. Calling it again does nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	s.dropSnapLocked()
	s.mu.Unlock()
	return s.db.Close()
}

// slogAdapter makes a *slog.Logger a badger.Logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Errorf(f string, args ...any) { a.l.Error(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Warningf(f string, args ...any) {
	a.l.Warn(fmt.Sprintf(f, args...))
}
func (a slogAdapter) Infof(f string, args ...any)  { a.l.Info(fmt.Sprintf(f, args...)) }
func (a slogAdapter) Debugf(f string, args ...any) { a.l.Debug(fmt.Sprintf(f, args...)) }
