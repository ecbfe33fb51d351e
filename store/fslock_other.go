//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package store

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// errNoFileLock is returned by the FS compare-and-swap on systems without
// flock(2) or LockFileEx, where processes cannot exclude each other.
var errNoFileLock = fmt.Errorf("file locks for compare-and-swap are not implemented on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func tryLockFile(*os.File) (bool, error) { return false, errNoFileLock }
func lockFile(*os.File) error            { return errNoFileLock }
func unlockFile(*os.File) error          { return errNoFileLock }
