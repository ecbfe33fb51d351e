package online

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Memory is an online store held in the process's memory: for tests, for
// small feature sets and as the reference the other stores are tested
// against. Its zero value is not usable; call [NewMemory].
type Memory struct {
	mu     sync.RWMutex
	views  map[string]*memView
	closed bool
}

type memView struct {
	mu   sync.RWMutex
	recs map[string]*memRecord
}

type memRecord struct {
	eventTime time.Time
	features  []string // shared by the records of one Write
	values    []Value
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{views: map[string]*memView{}} }

var _ Store = (*Memory)(nil)

// Write implements [Store.Write].
func (m *Memory) Write(ctx context.Context, view string, features []string, recs []Record) error {
	if err := CheckWrite(view, features, recs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	v := m.views[view]
	if v == nil {
		v = &memView{recs: map[string]*memRecord{}}
		m.views[view] = v
	}
	m.mu.Unlock()

	names := slices.Clone(features)
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range recs {
		old := v.recs[string(r.Key)]
		if old != nil && r.EventTime.Before(old.eventTime) {
			continue
		}
		v.recs[string(r.Key)] = &memRecord{eventTime: r.EventTime, features: names, values: slices.Clone(r.Values)}
	}
	return nil
}

// Read implements [Store.Read].
func (m *Memory) Read(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time) ([][]Result, error) {
	out := NewResults(len(keys), len(features))
	if err := m.ReadInto(ctx, view, features, keys, maxAge, now, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadInto implements [Store.ReadInto].
func (m *Memory) ReadInto(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time, out [][]Result) error {
	if err := CheckReadInto(view, features, keys, out); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	v := m.views[view]
	m.mu.RUnlock()
	if v == nil {
		return nil
	}
	d := NewDecoder(features)
	v.mu.RLock()
	defer v.mu.RUnlock()
	for i, k := range keys {
		r := v.recs[string(k)]
		if r == nil {
			continue
		}
		et := r.eventTime.UTC()
		old := expired(et, maxAge, now)
		for pos, name := range r.features {
			j := d.lookup(name, pos)
			if j < 0 {
				continue
			}
			if old {
				out[i][j] = Result{Status: Expired, EventTime: et}
			} else {
				out[i][j] = Result{Status: Present, EventTime: et, Value: r.values[pos]}
			}
		}
	}
	return nil
}

// DeleteView implements [Store.DeleteView].
func (m *Memory) DeleteView(ctx context.Context, view string) error {
	if err := ValidViewName(view); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	delete(m.views, view)
	return nil
}

// Close implements [Store.Close]; the store's data is dropped.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.views = nil
	return nil
}
