package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
)

// fsLockDir is the folder, inside the reserved temporary folder, that holds
// the lock files of Swap and SwapDelete.
const fsLockDir = fsTempDir + "/locks"

var _ Swapper = (*FS)(nil)

// Load implements [Swapper.Load]. The tag is the hexadecimal BLAKE3 digest
// of the content. Load takes no lock: objects are replaced by renaming a
// complete file into place, so it reads one version or the other, whole.
func (f *FS) Load(ctx context.Context, name string) ([]byte, string, error) {
	if err := f.checkName(name); err != nil {
		return nil, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("store: load %q: %w", name, err)
	}
	file, err := f.openObject("load", name)
	if err != nil {
		return nil, "", err
	}
	defer file.Close()
	data, err := readSwapObject(name, &ctxReader{ctx: ctx, r: file})
	if err != nil {
		return nil, "", err
	}
	return data, contentTag(data), nil
}

// Swap implements [Swapper.Swap]. It holds the object's lock (see below)
// while it hashes the current file and, if the tag matches, writes the new
// one as Put does: a temporary file, fsynced, renamed into place, and the
// folder fsynced.
//
// The lock is an flock(2) lock (LockFileEx on Windows) on a file in the
// folder .tmp/locks under the root, one per object name, so Swap and
// SwapDelete exclude each other across goroutines and processes sharing the
// root; the operating system releases the lock of a process that dies. Lock
// files are small, empty and left in place: removing one while another
// process waits on it would let two processes hold locks on two different
// files. Waiting for the lock ends when ctx does.
func (f *FS) Swap(ctx context.Context, name string, data []byte, tag string) (string, error) {
	if err := f.checkName(name); err != nil {
		return "", err
	}
	if err := checkSwapData("swap", name, data); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("store: swap %q: %w", name, err)
	}
	lock, err := f.lockObject(ctx, "swap", name)
	if err != nil {
		return "", err
	}
	defer unlockObject(lock)
	have, err := f.objectTag(ctx, "swap", name)
	if err != nil {
		return "", err
	}
	if have != tag {
		return "", preconditionError("swap", name, tag, have)
	}
	if err := f.Put(ctx, name, bytes.NewReader(data), int64(len(data))); err != nil {
		return "", err
	}
	return contentTag(data), nil
}

// SwapDelete implements [Swapper.SwapDelete], under the object's lock like
// [FS.Swap].
func (f *FS) SwapDelete(ctx context.Context, name string, tag string) error {
	if err := f.checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: swap-delete %q: %w", name, err)
	}
	lock, err := f.lockObject(ctx, "swap-delete", name)
	if err != nil {
		return err
	}
	defer unlockObject(lock)
	have, err := f.objectTag(ctx, "swap-delete", name)
	if err != nil {
		return err
	}
	switch {
	case have == "":
		return fmt.Errorf("store: swap-delete %q: %w", name, ErrNotFound)
	case have != tag:
		return preconditionError("swap-delete", name, tag, have)
	}
	return f.Delete(ctx, name)
}

// openObject opens the object name for reading; a missing one is an error
// wrapping ErrNotFound, and anything but a regular file an error.
func (f *FS) openObject(op, name string) (*os.File, error) {
	if _, err := f.lstatObject(op, name); err != nil {
		return nil, err
	}
	file, err := f.root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, f.pathError(op, name, err)
	}
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("not a regular file (mode %v)", fi.Mode())
	}
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("store: %s %q: %w", op, name, err)
	}
	return file, nil
}

// objectTag returns the tag of the object name, hashing the whole file
// (which may be larger than MaxSwapSize if Put wrote it), or "" if there is
// no such object.
func (f *FS) objectTag(ctx context.Context, op, name string) (string, error) {
	file, err := f.openObject(op, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return "", nil
		}
		return "", err
	}
	defer file.Close()
	h := NewHasher()
	if _, err := copyCtx(ctx, h, file, -1); err != nil {
		return "", fmt.Errorf("store: %s %q: %w", op, name, err)
	}
	return h.Sum().Hex(), nil
}

// lockFileName is the name, in fsLockDir, of the lock file of the object
// name: a hash of the name, so that the folder stays flat and the lock files
// of "a" and "a.lock/b" cannot collide with each other.
func lockFileName(name string) string {
	return Sum([]byte(name)).Hex()[:32] + ".lock"
}

// lockObject opens the lock file of the object name and takes an exclusive
// lock on it, waiting until it is free or ctx ends. unlockObject releases
// it.
func (f *FS) lockObject(ctx context.Context, op, name string) (*os.File, error) {
	lockPath := path.Join(fsLockDir, lockFileName(name))
	var file *os.File
	for attempt := 0; ; attempt++ {
		var err error
		file, err = f.root.OpenFile(filepath.FromSlash(lockPath), os.O_RDWR|os.O_CREATE, 0o644)
		if err == nil {
			break
		}
		// The folder is made on first use, and NewFS may remove it when it
		// has stayed empty for a day.
		if !isNotExist(err) || attempt == 10 {
			return nil, fmt.Errorf("store: %s %q: open lock file: %w", op, name, err)
		}
		if err := f.root.MkdirAll(filepath.FromSlash(fsLockDir), 0o755); err != nil {
			return nil, fmt.Errorf("store: %s %q: make lock folder: %w", op, name, err)
		}
	}
	ok, err := tryLockFile(file)
	if err == nil && ok {
		return file, nil
	}
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("store: %s %q: lock: %w", op, name, err)
	}
	// Held by someone else: wait in the kernel, and give up when ctx ends.
	done := make(chan error, 1)
	go func() { done <- lockFile(file) }()
	select {
	case err := <-done:
		if err != nil {
			file.Close()
			return nil, fmt.Errorf("store: %s %q: lock: %w", op, name, err)
		}
		return file, nil
	case <-ctx.Done():
		// The waiter still holds the file: close it (which releases the
		// lock, should it have been granted) once the wait ends.
		go func() {
			<-done
			file.Close()
		}()
		return nil, fmt.Errorf("store: %s %q: waiting for its lock: %w", op, name, ctx.Err())
	}
}

// unlockObject releases a lock taken by lockObject.
func unlockObject(file *os.File) {
	unlockFile(file)
	file.Close() // releases the lock anyway, should unlocking have failed
}
