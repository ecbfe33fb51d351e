package store

import "errors"

// Sentinel errors. Errors returned by this package and by its backends wrap
// them, so test with [errors.Is]; the wrapping error names the object, digest
// or value concerned.
var (
	// ErrNotFound is returned when a named object is absent from a Backend
	// (Get, Stat, Delete), or when a blob or chunk digest is not in the store
	// (Get, ReadRange, Stat).
	ErrNotFound = errors.New("store: not found")
	// ErrCorrupt is returned when stored bytes do not match their digest or
	// cannot be decoded: a chunk, pack, index or blob list that fails
	// verification in Get, ReadRange or Check. The wrapping error names the
	// digest or object concerned.
	ErrCorrupt = errors.New("store: corrupt data")
	// ErrBadDigest is returned by ParseDigest and Digest.UnmarshalText for
	// text that is not "blake3:" followed by exactly 64 lowercase hexadecimal
	// digits.
	ErrBadDigest = errors.New("store: malformed digest")
	// ErrBadName is returned by ValidName, and by every Backend method given
	// such a name: an object name that is empty, absolute, longer than 1024
	// bytes, or contains ".", ".." or empty segments, a backslash, or control
	// bytes (including NUL).
	ErrBadName = errors.New("store: invalid object name")
	// ErrLocked is returned when an operation needs the repository lock (GC)
	// and another process or goroutine holds it.
	ErrLocked = errors.New("store: repository locked")
	// ErrRange is returned by [Backend.Get] and [Store.ReadRange] for a range
	// that starts past the end of the object, or for a negative offset or a
	// length below -1.
	ErrRange = errors.New("store: range not satisfiable")
	// ErrConfig is returned by [Open] when the repository's config object
	// cannot be read or does not match the options given (different chunker
	// parameters, pack size or compression set explicitly).
	ErrConfig = errors.New("store: config mismatch")
	// ErrPrecondition is returned by [Swapper.Swap] and [Swapper.SwapDelete]
	// when the object is not in the state the caller expected: its version
	// tag differs from the one given (the object changed since it was
	// loaded, or was removed), or it exists although the tag "" asked that
	// it does not. Load the object again and retry.
	ErrPrecondition = errors.New("store: precondition failed")
)
