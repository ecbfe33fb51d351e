package store

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strings"
)

// WithPrefix returns a view of b under "prefix/": the view's object "x" is
// b's object "prefix/x", its List yields only the objects under the prefix,
// with the prefix stripped from their names, and it cannot reach objects
// outside it. Several stores (or a store and the references beside it) can
// so share one backend. If b is a [Swapper] the view is one too: a type
// assertion of the result to Swapper succeeds.
//
// prefix must be a valid object name (see [ValidName]), optionally followed
// by "/"; "p" and "p/" give the same view. An empty prefix returns b
// itself. The view of an invalid prefix fails every call with an error
// wrapping [ErrBadName] that names the prefix.
//
// Names given to the view are validated as such, so a bad name is reported
// as given; a valid name that becomes too long once prefixed (more than
// [MaxNameLen] bytes in all) is refused by b, with an error naming the
// prefixed name.
func WithPrefix(b Backend, prefix string) Backend {
	if prefix == "" {
		return b
	}
	p := &prefixed{b: b, prefix: strings.TrimSuffix(prefix, "/") + "/"}
	if err := ValidName(strings.TrimSuffix(prefix, "/")); err != nil {
		p.err = fmt.Errorf("store: WithPrefix: %w", err)
	}
	if s, ok := b.(Swapper); ok {
		return &prefixedSwapper{prefixed: p, s: s}
	}
	return p
}

// prefixed is the view WithPrefix returns for a plain Backend.
type prefixed struct {
	b      Backend
	prefix string // ends with "/"
	err    error  // the prefix's problem, if it is invalid
}

// key checks name and returns its name in the underlying backend.
func (p *prefixed) key(name string) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	if err := ValidName(name); err != nil {
		return "", err
	}
	return p.prefix + name, nil
}

// Put implements [Backend.Put].
func (p *prefixed) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	key, err := p.key(name)
	if err != nil {
		return err
	}
	return p.b.Put(ctx, key, r, size)
}

// Get implements [Backend.Get].
func (p *prefixed) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	key, err := p.key(name)
	if err != nil {
		return nil, err
	}
	return p.b.Get(ctx, key, off, length)
}

// Stat implements [Backend.Stat]; the name it reports is the view's.
func (p *prefixed) Stat(ctx context.Context, name string) (ObjectInfo, error) {
	key, err := p.key(name)
	if err != nil {
		return ObjectInfo{}, err
	}
	info, err := p.b.Stat(ctx, key)
	if err != nil {
		return ObjectInfo{}, err
	}
	info.Name = name
	return info, nil
}

// List implements [Backend.List], listing the prefixed names in b and
// stripping the prefix.
func (p *prefixed) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if p.err != nil {
			yield(ObjectInfo{}, p.err)
			return
		}
		if err := validPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		for info, err := range p.b.List(ctx, p.prefix+prefix) {
			if err != nil {
				yield(ObjectInfo{}, err)
				return
			}
			name, ok := strings.CutPrefix(info.Name, p.prefix)
			if !ok {
				continue // not under the prefix: b listed more than asked
			}
			info.Name = name
			if !yield(info, nil) {
				return
			}
		}
	}
}

// Delete implements [Backend.Delete].
func (p *prefixed) Delete(ctx context.Context, name string) error {
	key, err := p.key(name)
	if err != nil {
		return err
	}
	return p.b.Delete(ctx, key)
}

// prefixedSwapper is the view WithPrefix returns for a Swapper.
type prefixedSwapper struct {
	*prefixed
	s Swapper
}

// Load implements [Swapper.Load].
func (p *prefixedSwapper) Load(ctx context.Context, name string) ([]byte, string, error) {
	key, err := p.key(name)
	if err != nil {
		return nil, "", err
	}
	return p.s.Load(ctx, key)
}

// Swap implements [Swapper.Swap].
func (p *prefixedSwapper) Swap(ctx context.Context, name string, data []byte, tag string) (string, error) {
	key, err := p.key(name)
	if err != nil {
		return "", err
	}
	return p.s.Swap(ctx, key, data, tag)
}

// SwapDelete implements [Swapper.SwapDelete].
func (p *prefixedSwapper) SwapDelete(ctx context.Context, name string, tag string) error {
	key, err := p.key(name)
	if err != nil {
		return err
	}
	return p.s.SwapDelete(ctx, key, tag)
}
