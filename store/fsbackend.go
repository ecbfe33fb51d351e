package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// fsTempDir is the folder under an FS root that holds objects being written.
// Its name is reserved: FS refuses object names whose first segment it is.
const fsTempDir = ".tmp"

// fsStaleTemp is the age after which NewFS removes a leftover temporary file
// (one left by a process that died in the middle of a Put).
const fsStaleTemp = 24 * time.Hour

// FS is a [Backend] that keeps each object as a regular file under a root
// folder: the object "packs/ab/cd" is the file root/packs/ab/cd, and
// subfolders are created as needed and removed when a Delete empties them.
// It is safe for concurrent use, also by several processes sharing a root.
//
// Put writes root/.tmp/<random>, fsyncs it, renames it into place and fsyncs
// the folder, so an object is either absent or complete, also after a crash.
// The name ".tmp" (as a first segment) is therefore reserved, and FS refuses
// it with [ErrBadName]. Because objects are files and folders, FS cannot hold
// both an object "a" and an object "a/b"; Put of the second one fails.
//
// FS never reads or writes outside its root: all access goes through an
// [os.Root], which refuses symbolic links that leave it, and FS only treats
// regular files as objects (a symbolic link is not an object; List skips it
// and Get and Stat refuse it).
type FS struct {
	root *os.Root
}

var _ Backend = (*FS)(nil)

// NewFS returns a backend that keeps objects under the folder root, creating
// it if needed. It removes temporary files older than a day left by
// interrupted Puts. Call Close to release the folder handle.
func NewFS(root string) (*FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store: NewFS: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("store: NewFS: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("store: NewFS: %w", err)
	}
	if err := r.Mkdir(fsTempDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		r.Close()
		return nil, fmt.Errorf("store: NewFS: %w", err)
	}
	f := &FS{root: r}
	f.removeStaleTemps()
	return f, nil
}

// Root returns the absolute path of the folder holding the objects.
func (f *FS) Root() string { return f.root.Name() }

// Close releases the handle on the root folder. The FS must not be used
// afterwards.
func (f *FS) Close() error { return f.root.Close() }

// removeStaleTemps removes, best effort, temporary files older than
// fsStaleTemp. Younger ones may belong to a Put in progress elsewhere.
func (f *FS) removeStaleTemps() {
	d, err := f.root.Open(fsTempDir)
	if err != nil {
		return
	}
	entries, _ := d.ReadDir(-1)
	d.Close()
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > fsStaleTemp {
			f.root.Remove(path.Join(fsTempDir, e.Name()))
		}
	}
}

// checkName validates name, also refusing the reserved temporary folder.
func (f *FS) checkName(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if name == fsTempDir || strings.HasPrefix(name, fsTempDir+"/") {
		return fmt.Errorf("%w %q: %q is reserved by the filesystem backend", ErrBadName, name, fsTempDir)
	}
	return nil
}

// Put implements [Backend.Put].
func (f *FS) Put(ctx context.Context, name string, r io.Reader, size int64) (err error) {
	if err := f.checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: put %q: %w", name, err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("store: put %q: %w", name, err)
		}
	}()
	tmp := path.Join(fsTempDir, randomName())
	file, err := f.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			file.Close()
			f.root.Remove(tmp)
		}
	}()
	n, err := copyCtx(ctx, file, r, size)
	if err != nil {
		return err
	}
	if size >= 0 && n != size {
		return fmt.Errorf("reader yielded %d bytes, want %d", n, size)
	}
	if err := file.Sync(); err != nil {
		return err
	}
	if err := file.Close(); err != nil {
		done = true
		f.root.Remove(tmp)
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := path.Dir(name)
	created := false
	for attempt := 0; ; attempt++ {
		if dir != "." {
			if _, err := f.root.Lstat(dir); err != nil {
				if err := f.root.MkdirAll(filepath.FromSlash(dir), 0o755); err != nil {
					return err
				}
				created = true
			}
		}
		err = f.root.Rename(tmp, filepath.FromSlash(name))
		// A concurrent Delete may have removed the folder, now empty,
		// between MkdirAll and Rename: make it again.
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 10 {
			break
		}
	}
	if err != nil {
		return err
	}
	done = true
	// Make the rename durable, and the folders it needed if they are new.
	for d := dir; ; d = path.Dir(d) {
		if err := f.syncDir(d); err != nil {
			return err
		}
		if !created || d == "." {
			break
		}
	}
	return nil
}

// Get implements [Backend.Get].
func (f *FS) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := f.checkName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: get %q: %w", name, err)
	}
	if _, err := f.lstatObject("get", name); err != nil {
		return nil, err
	}
	file, err := f.root.Open(filepath.FromSlash(name))
	if err != nil {
		return nil, f.pathError("get", name, err)
	}
	fi, err := file.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("store: get %q: not a regular file", name)
	}
	if err != nil {
		file.Close()
		return nil, err
	}
	n, err := clipRange(name, fi.Size(), off, length)
	if err != nil {
		file.Close()
		return nil, err
	}
	return &fileReader{r: ctxReader{ctx: ctx, r: io.NewSectionReader(file, off, n)}, f: file}, nil
}

// fileReader is the reader Get returns: it reads a section of f and closes
// it.
type fileReader struct {
	r ctxReader
	f *os.File
}

func (r *fileReader) Read(p []byte) (int, error) { return r.r.Read(p) }
func (r *fileReader) Close() error               { return r.f.Close() }

// Stat implements [Backend.Stat].
func (f *FS) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	if err := f.checkName(name); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("store: stat %q: %w", name, err)
	}
	fi, err := f.lstatObject("stat", name)
	if err != nil {
		return ObjectInfo{}, err
	}
	return ObjectInfo{Name: name, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// lstatObject returns the file info of the object name, an error wrapping
// ErrNotFound if there is no such file (a folder is not an object), or an
// error if it is something other than a regular file.
func (f *FS) lstatObject(op, name string) (fs.FileInfo, error) {
	fi, err := f.root.Lstat(filepath.FromSlash(name))
	if err != nil {
		return nil, f.pathError(op, name, err)
	}
	switch {
	case fi.IsDir():
		return nil, fmt.Errorf("store: %s %q: %w (a folder)", op, name, ErrNotFound)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("store: %s %q: not a regular file (mode %v)", op, name, fi.Mode())
	}
	return fi, nil
}

// pathError wraps an error from the file system about name, mapping a
// missing file (or a missing folder on its path) to ErrNotFound.
func (f *FS) pathError(op, name string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("store: %s %q: %w", op, name, ErrNotFound)
	}
	return fmt.Errorf("store: %s %q: %w", op, name, err)
}

// isNotExist reports whether err means that a path does not exist, also
// because one of its folders is a file.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// List implements [Backend.List]. It reads only the folder that holds the
// prefix's last segment, and the subfolders that can hold matching names.
func (f *FS) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := validPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		dir := "."
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			dir = prefix[:i]
		}
		if dir != "." {
			// Do not list through a symbolic link.
			if fi, err := f.root.Lstat(filepath.FromSlash(dir)); err != nil || !fi.IsDir() {
				if err != nil && !isNotExist(err) {
					yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
				}
				return
			}
		}
		f.walk(ctx, dir, prefix, yield)
	}
}

// walk yields the objects under the folder dir whose names start with
// prefix, in byte order of their names, and reports whether to go on.
func (f *FS) walk(ctx context.Context, dir, prefix string, yield func(ObjectInfo, error) bool) bool {
	if err := ctx.Err(); err != nil {
		return yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
	}
	d, err := f.root.Open(filepath.FromSlash(dir))
	if err != nil {
		if isNotExist(err) { // removed by a concurrent Delete
			return true
		}
		return yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
	}
	type entry struct {
		key  string // the name, with "/" appended for a folder
		full string
		e    fs.DirEntry
	}
	list := make([]entry, 0, len(entries))
	for _, e := range entries {
		full := e.Name()
		if dir != "." {
			full = dir + "/" + full
		} else if full == fsTempDir {
			continue
		}
		if ValidName(full) != nil {
			continue // not a name this backend could have written
		}
		switch {
		case e.IsDir():
			if strings.HasPrefix(full+"/", prefix) || strings.HasPrefix(prefix, full+"/") {
				list = append(list, entry{e.Name() + "/", full, e})
			}
		case e.Type().IsRegular():
			if strings.HasPrefix(full, prefix) {
				list = append(list, entry{e.Name(), full, e})
			}
		}
	}
	// Sorting folders as "name/" lists the whole tree in byte order of the
	// object names: a folder's objects all start with "name/".
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	for _, en := range list {
		if en.e.IsDir() {
			if !f.walk(ctx, en.full, prefix, yield) {
				return false
			}
			continue
		}
		fi, err := en.e.Info()
		if err != nil {
			if isNotExist(err) { // deleted meanwhile
				continue
			}
			return yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
		}
		if !yield(ObjectInfo{Name: en.full, Size: fi.Size(), Modified: fi.ModTime()}, nil) {
			return false
		}
	}
	return true
}

// Delete implements [Backend.Delete]. It then removes the object's folders
// that it left empty, best effort.
func (f *FS) Delete(ctx context.Context, name string) error {
	if err := f.checkName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete %q: %w", name, err)
	}
	if _, err := f.lstatObject("delete", name); err != nil {
		return err
	}
	if err := f.root.Remove(filepath.FromSlash(name)); err != nil {
		return f.pathError("delete", name, err)
	}
	d := path.Dir(name)
	for ; d != "."; d = path.Dir(d) {
		if f.root.Remove(filepath.FromSlash(d)) != nil {
			break // not empty, or gone already
		}
	}
	if err := f.syncDir(d); err != nil {
		return fmt.Errorf("store: delete %q: %w", name, err)
	}
	return nil
}

// syncDir fsyncs the folder dir so that entries made or removed in it are
// durable. It does nothing on Windows, which cannot sync folders, and
// ignores file systems that do not support it.
func (f *FS) syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := f.root.Open(filepath.FromSlash(dir))
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	err = d.Sync()
	d.Close()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// randomName returns a fresh name for a temporary file.
func randomName() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
