package version

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// tempPrefix starts the names of the temporary files Checkout writes; the
// walk of a working folder skips them (a crash may leave one behind).
const tempPrefix = ".kiln-tmp-"

// A walkFile is a regular file found in a working folder.
type walkFile struct {
	rel  string      // slash-separated path in the folder, valid by ValidPath
	abs  string      // OS path
	mode fs.FileMode // 0o644 or 0o755
	key  statKey
}

// walkFolder lists the regular files under root (an absolute folder), in
// no particular order, reading folders in parallel. Symlinks to files are
// followed (the file's stat is the target's); a symlink to a folder, a
// dangling one, another kind of file or a path that ValidPath refuses is
// an error naming it.
func walkFolder(ctx context.Context, root string) ([]walkFile, error) {
	w := &walker{ctx: ctx, sem: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))*2)}
	w.dir(root, "")
	w.wg.Wait()
	if err := w.err.Load(); err != nil {
		return nil, *err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return w.files, nil
}

type walker struct {
	ctx context.Context
	sem chan struct{} // bounds the extra goroutines
	wg  sync.WaitGroup
	err atomic.Pointer[error]

	mu    sync.Mutex
	files []walkFile
}

func (w *walker) fail(err error) {
	w.err.CompareAndSwap(nil, &err)
}

func (w *walker) stopped() bool {
	return w.err.Load() != nil || w.ctx.Err() != nil
}

// dir lists one folder and walks its subfolders, in new goroutines while
// the semaphore allows.
func (w *walker) dir(abs, rel string) {
	if w.stopped() {
		return
	}
	files, subdirs, err := readFolder(abs, rel)
	if err != nil {
		w.fail(err)
		return
	}
	if len(files) > 0 {
		w.mu.Lock()
		w.files = append(w.files, files...)
		w.mu.Unlock()
	}
	for _, name := range subdirs {
		if w.stopped() {
			return
		}
		cabs := abs + string(filepath.Separator) + name
		crel := childPath(rel, name)
		select {
		case w.sem <- struct{}{}:
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				defer func() { <-w.sem }()
				w.dir(cabs, crel)
			}()
		default:
			w.dir(cabs, crel)
		}
	}
}

func childPath(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// readFolderPortable lists the folder abs (named rel in the walk): its
// files, and the names of its subfolders.
func readFolderPortable(abs, rel string) ([]walkFile, []string, error) {
	f, err := os.Open(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("version: %w", err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("version: read folder %s: %w", abs, err)
	}
	var subdirs []string
	files := make([]walkFile, 0, len(ents))
	for _, de := range ents {
		name := de.Name()
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		if de.IsDir() {
			subdirs = append(subdirs, name)
			continue
		}
		wf, err := fileOf(abs+string(filepath.Separator)+name, childPath(rel, name), de.Type())
		if err != nil {
			return nil, nil, err
		}
		files = append(files, wf)
	}
	return files, subdirs, nil
}

// fileOf describes the file at abs, of type t (from its folder entry),
// named rel in its working folder.
func fileOf(abs, rel string, t fs.FileMode) (walkFile, error) {
	if err := ValidPath(rel); err != nil {
		return walkFile{}, fmt.Errorf("version: file %s: %w", abs, err)
	}
	var fi fs.FileInfo
	var err error
	switch {
	case t.IsRegular():
		fi, err = os.Lstat(abs)
	case t&fs.ModeSymlink != 0:
		fi, err = os.Stat(abs)
		if errors.Is(err, fs.ErrNotExist) {
			return walkFile{}, fmt.Errorf("version: %s: dangling symlink", abs)
		}
		if err == nil && fi.IsDir() {
			return walkFile{}, fmt.Errorf("version: %s: symlink to a folder (not followed; link its files instead)", abs)
		}
	default:
		return walkFile{}, fmt.Errorf("version: %s: not a regular file (%v)", abs, t)
	}
	if err != nil {
		return walkFile{}, fmt.Errorf("version: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return walkFile{}, fmt.Errorf("version: %s: not a regular file (%v)", abs, fi.Mode().Type())
	}
	return walkFile{rel: rel, abs: abs, mode: normMode(fi.Mode()), key: statKeyOf(fi)}, nil
}
