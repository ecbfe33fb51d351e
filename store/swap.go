package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// MaxSwapSize is the largest object, in bytes, that [Swapper.Load] reads and
// [Swapper.Swap] writes. Compare-and-swap objects are small mutable records
// (a branch head, a lock, a counter), not data.
const MaxSwapSize = 1 << 20

// A Swapper is a [Backend] that can also replace a small mutable object only
// if it is unchanged since it was read: the compare-and-swap under refs
// shared through a remote. [FS], [Memory] and the S3 backend in store/s3
// are Swappers, and so is a [WithPrefix] view of one.
//
// Every version of an object has a tag, an opaque non-empty string that
// Load returns with the content and Swap returns for what it wrote. A
// reader passes the tag it got back to Swap or SwapDelete, which then
// succeed only if the object still has that tag, so of several writers
// that loaded the same version exactly one wins and the others fail with
// [ErrPrecondition]. The usual pattern is a loop:
//
//	for {
//		data, tag, err := s.Load(ctx, name)
//		if errors.Is(err, store.ErrNotFound) {
//			data, tag, err = nil, "", nil // create it
//		}
//		if err != nil {
//			return err
//		}
//		_, err = s.Swap(ctx, name, update(data), tag)
//		if !errors.Is(err, store.ErrPrecondition) {
//			return err // nil: done
//		}
//		// Someone else changed it: load the new version and try again.
//	}
//
// Tags identify an object's content (the filesystem and memory backends
// use a hash of it, S3 its ETag, which is a hash too for objects written
// by Swap), so an object rewritten with the very bytes it held keeps its
// tag: "unchanged" means "holds the same bytes", which is what a
// reference needs. Tags of different backends are not comparable.
//
// Swap and SwapDelete are atomic with respect to each other, also across
// processes sharing the storage. Put and Delete of the same name do not
// take part: they replace or remove the object unconditionally, and a Swap
// that races them may overwrite their work. Objects that Put wrote can be
// loaded and swapped like any other.
//
// Names are validated as for every [Backend] method: an invalid one fails
// with an error wrapping [ErrBadName] before storage is touched.
type Swapper interface {
	Backend

	// Load returns the object's content and its version tag, or an error
	// wrapping ErrNotFound. The caller owns the returned slice. An object
	// larger than MaxSwapSize is an error.
	Load(ctx context.Context, name string) (data []byte, tag string, err error)

	// Swap writes data under name if the object's current tag is tag (""
	// means the object must not exist) and returns the tag of the new
	// version. When the object has another tag, is absent although tag is
	// not "", or exists although tag is "", Swap writes nothing and fails
	// with an error wrapping ErrPrecondition. data is at most MaxSwapSize
	// bytes; Swap does not keep it after returning. The write is atomic and
	// durable like Put's.
	Swap(ctx context.Context, name string, data []byte, tag string) (string, error)

	// SwapDelete removes the object if its tag is tag. It fails with an
	// error wrapping ErrPrecondition if the object has another tag (and
	// leaves it alone), and with one wrapping ErrNotFound if there is no
	// such object.
	SwapDelete(ctx context.Context, name string, tag string) error
}

// contentTag is the version tag of an object on the filesystem and memory
// backends: the hexadecimal BLAKE3 digest of its content.
func contentTag(data []byte) string {
	return Sum(data).Hex()
}

// checkSwapData refuses data too large for Swap.
func checkSwapData(op, name string, data []byte) error {
	if len(data) > MaxSwapSize {
		return fmt.Errorf("store: %s %q: %d bytes, more than MaxSwapSize (%d)", op, name, len(data), MaxSwapSize)
	}
	return nil
}

// readSwapObject reads all of r, an object being loaded, failing if it holds
// more than MaxSwapSize bytes.
func readSwapObject(name string, r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, MaxSwapSize+1))
	if err != nil {
		return nil, fmt.Errorf("store: load %q: %w", name, err)
	}
	if n > MaxSwapSize {
		return nil, fmt.Errorf("store: load %q: object larger than MaxSwapSize (%d bytes)", name, MaxSwapSize)
	}
	return buf.Bytes(), nil
}

// preconditionError reports a tag mismatch on name. have is the object's
// tag, "" if it does not exist.
func preconditionError(op, name, want, have string) error {
	switch {
	case want == "":
		return fmt.Errorf("store: %s %q: %w: object exists (tag %s), want none", op, name, ErrPrecondition, have)
	case have == "":
		return fmt.Errorf("store: %s %q: %w: object does not exist, want tag %s", op, name, ErrPrecondition, want)
	}
	return fmt.Errorf("store: %s %q: %w: object has tag %s, want %s", op, name, ErrPrecondition, have, want)
}
