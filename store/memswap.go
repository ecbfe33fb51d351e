package store

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

var _ Swapper = (*Memory)(nil)

// Load implements [Swapper.Load]. The tag is the hexadecimal BLAKE3 digest
// of the content.
func (m *Memory) Load(ctx context.Context, name string) ([]byte, string, error) {
	if err := ValidName(name); err != nil {
		return nil, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("store: load %q: %w", name, err)
	}
	m.mu.RLock()
	obj, ok := m.objects[name]
	m.mu.RUnlock()
	if !ok {
		return nil, "", fmt.Errorf("store: load %q: %w", name, ErrNotFound)
	}
	if len(obj.data) > MaxSwapSize {
		return nil, "", fmt.Errorf("store: load %q: object of %d bytes, larger than MaxSwapSize (%d)", name, len(obj.data), MaxSwapSize)
	}
	// obj.data is never modified once stored: hash and copy it unlocked.
	return bytes.Clone(obj.data), contentTag(obj.data), nil
}

// Swap implements [Swapper.Swap], holding the backend's lock while it
// compares and writes.
func (m *Memory) Swap(ctx context.Context, name string, data []byte, tag string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	if err := checkSwapData("swap", name, data); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("store: swap %q: %w", name, err)
	}
	stored := bytes.Clone(data)
	if stored == nil {
		stored = []byte{}
	}
	newTag := contentTag(stored)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkTagLocked("swap", name, tag); err != nil {
		return "", err
	}
	m.objects[name] = memObject{data: stored, modified: time.Now()}
	return newTag, nil
}

// SwapDelete implements [Swapper.SwapDelete].
func (m *Memory) SwapDelete(ctx context.Context, name string, tag string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: swap-delete %q: %w", name, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[name]; !ok {
		return fmt.Errorf("store: swap-delete %q: %w", name, ErrNotFound)
	}
	if err := m.checkTagLocked("swap-delete", name, tag); err != nil {
		return err
	}
	delete(m.objects, name)
	return nil
}

// checkTagLocked fails with ErrPrecondition unless the object name has the
// tag want ("" = absent). m.mu must be held.
func (m *Memory) checkTagLocked(op, name, want string) error {
	obj, ok := m.objects[name]
	have := ""
	if ok {
		have = contentTag(obj.data)
	}
	if have != want {
		return preconditionError(op, name, want, have)
	}
	return nil
}
