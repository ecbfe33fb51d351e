package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a [Backend] that keeps objects in memory, for tests and
// short-lived stores. The zero value is not usable; call [NewMemory]. It is
// safe for concurrent use.
//
// Put copies the bytes it reads, and readers returned by Get read a private
// view of an object that later Puts and Deletes do not disturb, so callers
// never share memory with the backend.
type Memory struct {
	mu      sync.RWMutex
	objects map[string]memObject
}

type memObject struct {
	data     []byte // never modified once stored
	modified time.Time
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory {
	return &Memory{objects: make(map[string]memObject)}
}

// Put implements [Backend.Put]. It reads the whole object before storing it,
// so the object is invisible until it is complete.
func (m *Memory) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: put %q: %w", name, err)
	}
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(min(size, 64<<20)))
	}
	n, err := copyCtx(ctx, &buf, r, size)
	if err != nil {
		return fmt.Errorf("store: put %q: %w", name, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("store: put %q: reader yielded %d bytes, want %d", name, n, size)
	}
	data := buf.Bytes()
	if cap(data)-len(data) > len(data)/4 {
		// Do not keep much spare capacity alive in the map.
		data = bytes.Clone(data)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: put %q: %w", name, err)
	}
	m.objects[name] = memObject{data: data, modified: time.Now()}
	return nil
}

// Get implements [Backend.Get].
func (m *Memory) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: get %q: %w", name, err)
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("store: get %q: %w", name, ErrNotFound)
	}
	n, err := clipRange(name, int64(len(obj.data)), off, length)
	if err != nil {
		return nil, err
	}
	// obj.data is never written after it is stored, so a reader over it is
	// a private, read-only view.
	return io.NopCloser(&ctxReader{ctx: ctx, r: bytes.NewReader(obj.data[off : off+n])}), nil
}

// Stat implements [Backend.Stat].
func (m *Memory) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	if err := ValidName(name); err != nil {
		return ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, fmt.Errorf("store: stat %q: %w", name, err)
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return ObjectInfo{}, fmt.Errorf("store: stat %q: %w", name, ErrNotFound)
	}
	return ObjectInfo{Name: name, Size: int64(len(obj.data)), Modified: obj.modified}, nil
}

// List implements [Backend.List]. It lists a snapshot taken when iteration
// starts; the loop body may call other methods of m.
func (m *Memory) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := validPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		if err := ctx.Err(); err != nil {
			yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
			return
		}
		m.mu.RLock()
		infos := make([]ObjectInfo, 0, len(m.objects))
		for name, obj := range m.objects {
			if strings.HasPrefix(name, prefix) {
				infos = append(infos, ObjectInfo{Name: name, Size: int64(len(obj.data)), Modified: obj.modified})
			}
		}
		m.mu.RUnlock()
		slices.SortFunc(infos, func(a, b ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
		for _, info := range infos {
			if err := ctx.Err(); err != nil {
				yield(ObjectInfo{}, fmt.Errorf("store: list %q: %w", prefix, err))
				return
			}
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Delete implements [Backend.Delete].
func (m *Memory) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: delete %q: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[name]; !ok {
		return fmt.Errorf("store: delete %q: %w", name, ErrNotFound)
	}
	delete(m.objects, name)
	return nil
}
