package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxNameLen is the longest object name, in bytes, that [ValidName] accepts.
const MaxNameLen = 1024

// ObjectInfo describes one object held by a [Backend].
type ObjectInfo struct {
	Name     string    // the object's name, as given to Put
	Size     int64     // length in bytes
	Modified time.Time // when the object was last written (the backend's clock)
}

// Backend holds immutable named objects: the storage under a [Store]. The
// store only writes objects whose name is derived from their content, so a
// Put of a name that already exists carries the same bytes.
//
// Names are slash-separated paths such as "packs/ab/abcd…"; see [ValidName].
// Every method validates its name (or prefix) first and fails with an error
// wrapping [ErrBadName] for one that is refused, before touching storage.
//
// Implementations are safe for concurrent use by multiple goroutines.
type Backend interface {
	// Put stores the bytes read from r under name. size is the number of
	// bytes r yields, or -1 if unknown; when it is not -1 and r yields a
	// different count, Put fails. Put is atomic: readers see either the
	// previous object (if any) or the whole new one, never a part; a Put that
	// fails or whose ctx is cancelled leaves nothing behind. Putting a name
	// that exists replaces it atomically.
	Put(ctx context.Context, name string, r io.Reader, size int64) error

	// Get returns a reader of length bytes of the object starting at byte
	// off; length -1 reads to the end. A range that ends past the end of the
	// object is clipped to it; one that starts past the end (off > size),
	// a negative off or a length below -1 is an error wrapping [ErrRange].
	// off == size yields an empty reader. A missing object is an error
	// wrapping [ErrNotFound]. The caller must close the reader.
	Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)

	// Stat describes the object, or fails with an error wrapping
	// [ErrNotFound].
	Stat(ctx context.Context, name string) (ObjectInfo, error)

	// List yields the objects whose names start with prefix, sorted by name
	// (byte order). The prefix is a plain string prefix, not a folder: "a/b"
	// matches "a/b/c" and "a/bc". An empty prefix lists everything; a
	// non-empty one must be a valid name, or a valid name followed by "/".
	// An error ends the sequence.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]

	// Delete removes the object, or fails with an error wrapping
	// [ErrNotFound] if it does not exist.
	Delete(ctx context.Context, name string) error
}

// ValidName reports whether name may name an object in a [Backend]; the error
// wraps [ErrBadName] and quotes the name. A valid name is at most
// [MaxNameLen] bytes of valid UTF-8, made of segments separated by '/', none
// of which is empty, "." or ".."; it holds no backslash, NUL or other control
// byte (below 0x20, and 0x7f). So a name never starts or ends with '/',
// never holds "//", and always stays inside the folder or bucket prefix it is
// joined to.
func ValidName(name string) error {
	if reason := nameProblem(name); reason != "" {
		return fmt.Errorf("%w %q: %s", ErrBadName, name, reason)
	}
	return nil
}

// nameProblem returns why name is refused, or "" if it is valid.
func nameProblem(name string) string {
	switch {
	case name == "":
		return "empty"
	case len(name) > MaxNameLen:
		return fmt.Sprintf("longer than %d bytes", MaxNameLen)
	case name[0] == '/':
		return "absolute"
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == 0:
			return "holds NUL"
		case c < 0x20 || c == 0x7f:
			return fmt.Sprintf("holds control byte %#02x", c)
		case c == '\\':
			return "holds a backslash"
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "":
			return "empty segment"
		case ".", "..":
			return fmt.Sprintf("segment %q", seg)
		}
	}
	return ""
}

// validPrefix checks a List prefix: empty, a valid name, or a valid name
// followed by a single '/'.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if reason := nameProblem(strings.TrimSuffix(prefix, "/")); reason != "" {
		return fmt.Errorf("%w: prefix %q: %s", ErrBadName, prefix, reason)
	}
	return nil
}

// copyBufSize is the buffer size backends copy object bytes with.
const copyBufSize = 1 << 20

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyCtx copies from r to w until r ends, checking ctx before every read.
// When size >= 0 it reads at most size+1 bytes, enough to tell that r yields
// more than size, and returns the count copied; the caller compares it with
// size.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader, size int64) (int64, error) {
	if wt, ok := r.(io.WriterTo); ok {
		// An in-memory source (a pack being written) hands its bytes over
		// without passing through a copy buffer.
		cw := &limitCtxWriter{ctx: ctx, w: w, limit: size}
		n, err := wt.WriteTo(cw)
		if errors.Is(err, errTooMuch) {
			err = nil // the caller sees n > size
		}
		return n, err
	}
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	if size >= 0 {
		r = io.LimitReader(r, size+1)
	}
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := r.Read(buf)
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("reading object data: %w", rerr)
		}
	}
}

// errTooMuch stops a WriteTo that yields more than the announced size.
var errTooMuch = errors.New("more bytes than announced")

// limitCtxWriter checks ctx before every write and, when limit >= 0, accepts
// at most limit+1 bytes (enough for the caller to see a size mismatch).
type limitCtxWriter struct {
	ctx   context.Context
	w     io.Writer
	limit int64
	n     int64
}

func (c *limitCtxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if c.limit >= 0 && c.n+int64(len(p)) > c.limit+1 {
		p = p[:c.limit+1-c.n]
		n, err := c.w.Write(p)
		c.n += int64(n)
		if err == nil {
			err = errTooMuch
		}
		return n, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// clipRange checks a Get range against an object of the given size and
// returns the number of bytes to read from off.
func clipRange(name string, size, off, length int64) (int64, error) {
	if off < 0 || length < -1 || off > size {
		return 0, fmt.Errorf("store: get %q: offset %d, length %d of a %d-byte object: %w", name, off, length, size, ErrRange)
	}
	if length == -1 || length > size-off {
		return size - off, nil
	}
	return length, nil
}
