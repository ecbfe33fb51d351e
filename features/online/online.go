// Package online defines Kiln's online feature stores: the [Store] interface
// that serves the latest feature values of entities at low latency, the typed
// [Value] they hold, the compact record codec the stores share, and [Memory],
// an in-process store. The embedded default lives in features/online/badger
// and the shared one in features/online/redis, so that importing this package
// pulls in neither Badger nor Redis.
//
// A store holds, per feature view and entity key, one record: the event time
// of the row it came from and the values of the features written with it. A
// write never replaces a record with an older one (by event time), so replays
// and out-of-order materialization are safe.
package online

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Sentinel errors of the online stores.
var (
	// ErrInvalidName is returned for a view name that [ValidViewName]
	// rejects and for empty, duplicated or oversized feature names.
	ErrInvalidName = errors.New("online: invalid name")
	// ErrInvalidRecord is returned by Write for a record with an empty key,
	// a zero event time or a number of values different from the number of
	// features.
	ErrInvalidRecord = errors.New("online: invalid record")
	// ErrCorrupt is returned by Read when a stored record cannot be decoded.
	ErrCorrupt = errors.New("online: corrupt record")
	// ErrClosed is returned by a store's methods after Close.
	ErrClosed = errors.New("online: store closed")
)

// A Record is one row to write: the entity key, the event time of the row
// and its feature values.
type Record struct {
	// Key is the encoded entity key; build it with [EncodeKey].
	Key []byte
	// EventTime orders the writes of one key: an older record is ignored.
	EventTime time.Time
	// Values are aligned with the feature names passed to Write.
	Values []Value
}

// Status says what a read found for one entity and feature.
type Status uint8

const (
	// Present: the value was found and is within the max age.
	Present Status = iota
	// NotFound: nothing is stored for the entity and view, or the stored
	// record does not hold the feature.
	NotFound
	// Expired: the stored value is older than the max age of the read.
	Expired
)

func (s Status) String() string {
	switch s {
	case Present:
		return "present"
	case NotFound:
		return "not_found"
	case Expired:
		return "expired"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// A Result is what a read found for one entity and feature.
type Result struct {
	Status Status
	// EventTime is the event time of the stored record (zero when
	// NotFound); it is set for Expired results too.
	EventTime time.Time
	// Value is the value when Present, else null.
	Value Value
}

// A Store is an online feature store. Its methods are safe for concurrent
// use.
type Store interface {
	// Write stores records of view (features names the columns of Values).
	// A record older (by EventTime) than what is stored for its key and view
	// is ignored: replays are safe. A record with the same event time as the
	// stored one replaces it. The record replaces the stored one as a whole:
	// features not in features are no longer found for that key.
	Write(ctx context.Context, view string, features []string, recs []Record) error
	// Read returns out[i][j] for keys[i] and features[j] of view; maxAge > 0
	// marks values whose event time is before now-maxAge as Expired (and no
	// value). A view never written reads as NotFound everywhere.
	Read(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time) ([][]Result, error)
	// ReadInto is Read into out, which must hold len(keys) rows of
	// len(features) results (as [NewResults] makes them); every result is
	// overwritten. A service that reads again and again reuses out, so
	// that a read allocates nothing per value.
	ReadInto(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time, out [][]Result) error
	// DeleteView removes every record of view.
	DeleteView(ctx context.Context, view string) error
	// Close releases the store's resources.
	Close() error
}

// MaxViewNameLen is the longest view name accepted.
const MaxViewNameLen = 200

// MaxFeatureNameLen is the longest feature name accepted.
const MaxFeatureNameLen = 1024

// ValidViewName reports whether name can name a view in an online store:
// 1 to [MaxViewNameLen] bytes of ASCII letters, digits, '_', '-', '.' and
// ':', not starting with '-', '.' or ':'. The error wraps [ErrInvalidName].
func ValidViewName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty view name", ErrInvalidName)
	}
	if len(name) > MaxViewNameLen {
		return fmt.Errorf("%w: view name longer than %d bytes", ErrInvalidName, MaxViewNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			(i > 0 && (c == '-' || c == '.' || c == ':'))
		if !ok {
			return fmt.Errorf("%w: view name %q: byte %d (%q) not allowed", ErrInvalidName, name, i, c)
		}
	}
	return nil
}

// ValidFeatures checks a list of feature names: non-empty, unique, each 1 to
// [MaxFeatureNameLen] bytes. The error wraps [ErrInvalidName].
func ValidFeatures(features []string) error {
	// A service reads the same feature lists again and again; the last
	// list validated for each length is remembered, and comparing against
	// it costs a pointer comparison per name when the caller passes the
	// same strings.
	slot := &validLists[len(features)%len(validLists)]
	if last := slot.Load(); last != nil && slices.Equal(*last, features) {
		return nil
	}
	if err := validFeatures(features); err != nil {
		return err
	}
	list := slices.Clone(features)
	slot.Store(&list)
	return nil
}

// validLists holds recently validated feature lists, by length.
var validLists [16]atomic.Pointer[[]string]

func validFeatures(features []string) error {
	if len(features) == 0 {
		return fmt.Errorf("%w: no features", ErrInvalidName)
	}
	var seen map[string]struct{}
	if len(features) > 8 {
		seen = make(map[string]struct{}, len(features))
	}
	for i, f := range features {
		if f == "" || len(f) > MaxFeatureNameLen {
			return fmt.Errorf("%w: feature %d: name of %d bytes", ErrInvalidName, i, len(f))
		}
		if seen != nil {
			if _, dup := seen[f]; dup {
				return fmt.Errorf("%w: feature %q listed twice", ErrInvalidName, f)
			}
			seen[f] = struct{}{}
			continue
		}
		for _, g := range features[:i] {
			if g == f {
				return fmt.Errorf("%w: feature %q listed twice", ErrInvalidName, f)
			}
		}
	}
	return nil
}

// CheckWrite validates the arguments of [Store.Write]; stores call it before
// writing anything.
func CheckWrite(view string, features []string, recs []Record) error {
	if err := ValidViewName(view); err != nil {
		return err
	}
	if err := ValidFeatures(features); err != nil {
		return err
	}
	for i, r := range recs {
		switch {
		case len(r.Key) == 0:
			return fmt.Errorf("%w: record %d: empty key", ErrInvalidRecord, i)
		case r.EventTime.IsZero():
			return fmt.Errorf("%w: record %d: zero event time", ErrInvalidRecord, i)
		case len(r.Values) != len(features):
			return fmt.Errorf("%w: record %d: %d values for %d features", ErrInvalidRecord, i, len(r.Values), len(features))
		}
	}
	return nil
}

// CheckRead validates the arguments of [Store.Read].
func CheckRead(view string, features []string) error {
	if err := ValidViewName(view); err != nil {
		return err
	}
	return ValidFeatures(features)
}

// CheckReadInto validates the arguments of [Store.ReadInto] and sets every
// result of out to NotFound; stores call it before reading anything.
func CheckReadInto(view string, features []string, keys [][]byte, out [][]Result) error {
	if err := CheckRead(view, features); err != nil {
		return err
	}
	if len(out) != len(keys) {
		return fmt.Errorf("%w: %d result rows for %d keys", ErrShape, len(out), len(keys))
	}
	for i, row := range out {
		if len(row) != len(features) {
			return fmt.Errorf("%w: result row %d holds %d results for %d features", ErrShape, i, len(row), len(features))
		}
	}
	for _, row := range out {
		for j := range row {
			row[j] = Result{Status: NotFound}
		}
	}
	return nil
}

// ErrShape reports results that do not match the keys and features of a
// read.
var ErrShape = errors.New("online: results do not match the read")

// NewResults returns len(keys) rows of n results, all NotFound, backed by
// one allocation.
func NewResults(keys, n int) [][]Result {
	flat := make([]Result, keys*n)
	for i := range flat {
		flat[i].Status = NotFound
	}
	out := make([][]Result, keys)
	for i := range out {
		out[i] = flat[i*n : (i+1)*n : (i+1)*n]
	}
	return out
}

// expired reports whether a record of event time t is too old for a read
// at now with maxAge (0: no limit). A record exactly maxAge old is not
// expired.
func expired(t time.Time, maxAge time.Duration, now time.Time) bool {
	return maxAge > 0 && t.Before(now.Add(-maxAge))
}
