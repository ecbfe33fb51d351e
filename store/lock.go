package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Lock objects live under locksPrefix. A GC lock is named
// "locks/gc-<owner>", where owner is 16 random hexadecimal digits drawn when
// the lock is taken, and holds a JSON [LockInfo].
//
// Why one object per owner rather than a single "locks/gc": a [Backend] has
// no create-if-absent, only Put (which replaces) and List, so two processes
// cannot race for one name. Instead each writes its own object and then
// lists the prefix; it holds the lock only if it sees no other live lock.
// This is mutual exclusion as long as List reflects every Put that finished
// before it started (the filesystem does, and so do S3 and MinIO, which are
// strongly consistent): of two contenders A and B, whichever lists last
// lists after the other's Put finished, so it sees that lock and backs off.
// Both may back off, never both proceed.
const (
	locksPrefix  = "locks/"
	gcLockPrefix = locksPrefix + "gc-"
)

// Default lock timings. A lock whose last refresh is older than
// DefaultLockStale is taken to belong to a crashed process and is removed by
// the next contender; a holder refreshes it every DefaultLockStale/4 and
// gives up (its operation fails) if it could not refresh for
// DefaultLockStale/2.
const DefaultLockStale = 5 * time.Minute

// LockInfo is the content of a lock object: who holds it and when they last
// refreshed it.
type LockInfo struct {
	Kind  string    `json:"kind"`  // "gc"
	Owner string    `json:"owner"` // random id of this holder
	PID   int       `json:"pid"`   // process id of the holder
	Host  string    `json:"host"`  // host name of the holder
	Time  time.Time `json:"time"`  // when the lock was taken or last refreshed
}

func (li LockInfo) String() string {
	return fmt.Sprintf("%s lock held by pid %d on %s since %s", li.Kind, li.PID, li.Host, li.Time.UTC().Format(time.RFC3339))
}

// errLockLost is returned by an operation whose lock could not be refreshed
// in time, so another process may have taken it over.
var errLockLost = errors.New("store: repository lock lost (could not refresh it in time)")

// repoLock is a held lock object. Its refresher runs until release.
type repoLock struct {
	b     Backend
	name  string
	info  LockInfo
	stale time.Duration

	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	lastOK  time.Time // local clock: when the object was last written
	lostErr error
}

// acquireGCLock takes the exclusive GC lock on b, removing stale locks
// first, or fails with an error wrapping [ErrLocked] naming the holder.
// stale is the age after which an unrefreshed lock counts as abandoned; zero
// means [DefaultLockStale].
func acquireGCLock(ctx context.Context, b Backend, stale time.Duration) (*repoLock, error) {
	if stale <= 0 {
		stale = DefaultLockStale
	}
	if err := checkOtherLocks(ctx, b, gcLockPrefix, "", stale); err != nil {
		return nil, err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("store: lock id: %w", err)
	}
	host, _ := os.Hostname()
	l := &repoLock{
		b:     b,
		name:  gcLockPrefix + hex.EncodeToString(id[:]),
		info:  LockInfo{Kind: "gc", Owner: hex.EncodeToString(id[:]), PID: os.Getpid(), Host: host},
		stale: stale,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if err := l.write(ctx); err != nil {
		return nil, fmt.Errorf("store: write lock %s: %w", l.name, err)
	}
	if err := checkOtherLocks(ctx, b, gcLockPrefix, l.name, stale); err != nil {
		// Lost the race (or the other holder did): step back.
		_ = b.Delete(context.WithoutCancel(ctx), l.name)
		return nil, err
	}
	go l.refresher()
	return l, nil
}

// checkOtherLocks lists the locks under prefix other than own. Stale ones
// are deleted; a live one makes it fail with ErrLocked.
func checkOtherLocks(ctx context.Context, b Backend, prefix, own string, stale time.Duration) error {
	var live []string
	for oi, err := range b.List(ctx, prefix) {
		if err != nil {
			return fmt.Errorf("store: list locks: %w", err)
		}
		if oi.Name == own {
			continue
		}
		li, err := readLock(ctx, b, oi.Name)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		// The later of the recorded time and the backend's write time
		// counts, so that neither a slow clock on the holder's host nor one
		// here makes a live lock look stale.
		last := oi.Modified
		if err == nil && li.Time.After(last) {
			last = li.Time
		}
		if time.Since(last) > stale {
			// Abandoned by a crashed holder: remove it. Losing a race to
			// delete it is fine.
			if err := b.Delete(ctx, oi.Name); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("store: remove stale lock %s: %w", oi.Name, err)
			}
			continue
		}
		if err != nil {
			// Unreadable but fresh (being written): treat it as held.
			live = append(live, fmt.Sprintf("%s (unreadable: %v)", oi.Name, err))
			continue
		}
		live = append(live, li.String())
	}
	if len(live) > 0 {
		return fmt.Errorf("%w: %s", ErrLocked, strings.Join(live, "; "))
	}
	return nil
}

// readLock reads and decodes one lock object.
func readLock(ctx context.Context, b Backend, name string) (LockInfo, error) {
	rc, err := b.Get(ctx, name, 0, -1)
	if err != nil {
		return LockInfo{}, err
	}
	defer rc.Close()
	var li LockInfo
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		return LockInfo{}, err
	}
	if err := json.Unmarshal(buf.Bytes(), &li); err != nil {
		return LockInfo{}, fmt.Errorf("lock %s: %w", name, err)
	}
	return li, nil
}

// write (re)writes the lock object with the current time.
func (l *repoLock) write(ctx context.Context) error {
	l.info.Time = time.Now().UTC()
	data, err := json.Marshal(l.info)
	if err != nil {
		return err
	}
	if err := l.b.Put(ctx, l.name, bytes.NewReader(data), int64(len(data))); err != nil {
		return err
	}
	l.mu.Lock()
	l.lastOK = time.Now()
	l.mu.Unlock()
	return nil
}

// refresher rewrites the lock every stale/4 until release. If the object has
// disappeared (another process judged it stale and removed it) the lock is
// lost for good.
func (l *repoLock) refresher() {
	defer close(l.done)
	t := time.NewTicker(l.stale / 4)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.stale/4)
		_, err := l.b.Stat(ctx, l.name)
		if errors.Is(err, ErrNotFound) {
			l.mu.Lock()
			l.lostErr = fmt.Errorf("%w: %s was removed by another process", errLockLost, l.name)
			l.mu.Unlock()
			cancel()
			return
		}
		if err == nil {
			err = l.write(ctx)
		}
		cancel()
		_ = err // a failed refresh is retried; check reports the lock lost once too long has passed
	}
}

// check reports whether the lock is still safely held: it was refreshed
// within half the stale timeout, so no other process can have judged it
// abandoned. Destructive steps call it first.
func (l *repoLock) check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr != nil {
		return l.lostErr
	}
	if age := time.Since(l.lastOK); age > l.stale/2 {
		return fmt.Errorf("%w: last refreshed %s ago", errLockLost, age.Round(time.Second))
	}
	return nil
}

// release stops the refresher and deletes the lock object.
func (l *repoLock) release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	err := l.b.Delete(context.WithoutCancel(ctx), l.name)
	if errors.Is(err, ErrNotFound) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("store: release lock %s: %w", l.name, err)
	}
	return nil
}
