package version

import (
	"context"
	"fmt"
	"io"
)

// ReadFile returns a reader of the content of the entry at path in the
// commit that spec names (see Resolve). The content is verified against its
// digest as it is read; the caller must close the reader. An entry that
// does not exist gives an error wrapping ErrNotFound.
func (r *Repository) ReadFile(ctx context.Context, spec, path string) (io.ReadCloser, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	fail := func(err error) (io.ReadCloser, error) {
		return nil, fmt.Errorf("version: read %s in %s: %w", quoteShort(path), quoteShort(spec), err)
	}
	if err := ValidPath(path); err != nil {
		return fail(err)
	}
	c, err := r.resolve(ctx, spec)
	if err != nil {
		return fail(err)
	}
	tree, err := r.readTree(ctx, c.Tree)
	if err != nil {
		return fail(err)
	}
	e := findEntry(tree, path)
	if e == nil {
		return fail(fmt.Errorf("%w: no entry %q in commit %s", ErrNotFound, path, c.ID))
	}
	rc, err := r.st.Get(ctx, e.Digest)
	if err != nil {
		return fail(corruptIf(err))
	}
	return rc, nil
}
