package version

import "errors"

// Errors returned by the package, wrapped with context; test with errors.Is.
var (
	// ErrNotFound: a dataset, ref, commit, model, version, alias or run
	// that does not exist.
	ErrNotFound = errors.New("version: not found")
	// ErrConflict: a compare-and-swap lost. Another writer moved the branch
	// or alias since it was read (in this process, another one, or on a
	// remote), or a push or pull is not a fast-forward. Nothing was changed;
	// read the new state and try again.
	ErrConflict = errors.New("version: conflict")
	// ErrLocked: another process has the repository open and did not close
	// it within Options.LockTimeout.
	ErrLocked = errors.New("version: repository locked by another process")
	// ErrBadName: a dataset, ref, model, alias, run, metric or path name
	// that is refused (see ValidName and ValidPath).
	ErrBadName = errors.New("version: bad name")
	// ErrCorrupt: metadata or an object that does not decode or does not
	// match its digest.
	ErrCorrupt = errors.New("version: corrupt metadata")
	// ErrClosed: the Repository was closed.
	ErrClosed = errors.New("version: repository closed")
)
