package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kilnml/kiln/store"
	"github.com/minio/minio-go/v7"
)

var _ store.Swapper = (*Backend)(nil)

// Load returns the object's content and its ETag as version tag, with one
// GET request; see [store.Swapper.Load].
func (b *Backend) Load(ctx context.Context, name string) ([]byte, string, error) {
	if err := store.ValidName(name); err != nil {
		return nil, "", err
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("s3: load %q: %w", name, err)
	}
	body, info, _, err := b.core.GetObject(ctx, b.bucket, b.key(name), minio.GetObjectOptions{})
	if err != nil {
		if notFound(err) {
			return nil, "", fmt.Errorf("s3: load %q: %w", name, store.ErrNotFound)
		}
		return nil, "", fmt.Errorf("s3: load %q: %w", name, err)
	}
	defer body.Close()
	if info.Size > store.MaxSwapSize {
		return nil, "", fmt.Errorf("s3: load %q: object of %d bytes, larger than store.MaxSwapSize (%d)", name, info.Size, store.MaxSwapSize)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(body, store.MaxSwapSize+1))
	switch {
	case err != nil:
		return nil, "", fmt.Errorf("s3: load %q: %w", name, err)
	case n > store.MaxSwapSize:
		return nil, "", fmt.Errorf("s3: load %q: object larger than store.MaxSwapSize (%d bytes)", name, store.MaxSwapSize)
	case info.Size >= 0 && n != info.Size:
		return nil, "", fmt.Errorf("s3: load %q: read %d bytes of a %d-byte object", name, n, info.Size)
	case info.ETag == "":
		return nil, "", fmt.Errorf("s3: load %q: the server sent no ETag", name)
	}
	return buf.Bytes(), info.ETag, nil
}

// Swap writes data under name if the object's ETag is tag; see
// [store.Swapper.Swap]. It sends one conditional PUT request, with
// "If-Match: <tag>", or "If-None-Match: *" when tag is "", which the server
// checks and applies atomically (Amazon S3 since 2024, MinIO), and maps the
// server's "412 Precondition Failed" (and S3's "409
// ConditionalRequestConflict", for a conditional write racing another) to
// [store.ErrPrecondition]. The new tag is the ETag the server returns.
//
// Should the response be lost and the client retry the request after the
// server applied it, the retry fails with ErrPrecondition although the
// object holds data: a caller that then loads and retries does its update
// twice. The client retries only on network errors and server errors
// (5xx), which a healthy server on a good network does not produce.
func (b *Backend) Swap(ctx context.Context, name string, data []byte, tag string) (string, error) {
	if err := store.ValidName(name); err != nil {
		return "", err
	}
	if len(data) > store.MaxSwapSize {
		return "", fmt.Errorf("s3: swap %q: %d bytes, more than store.MaxSwapSize (%d)", name, len(data), store.MaxSwapSize)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("s3: swap %q: %w", name, err)
	}
	if !validTag(tag) {
		// "If-Match: *" would match any object: refuse what Load never
		// returns rather than send it.
		return "", fmt.Errorf("s3: swap %q: %w: %q is not an ETag", name, store.ErrPrecondition, tag)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if tag == "" {
		opts.SetMatchETagExcept("*")
	} else {
		opts.SetMatchETag(tag)
	}
	// One request (data is at most a part), which the client can resend
	// from the start if it must retry.
	info, err := b.client.PutObject(ctx, b.bucket, b.key(name), bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		if cerr := conditionFailed(err, tag); cerr != "" {
			return "", fmt.Errorf("s3: swap %q: %w: %s", name, store.ErrPrecondition, cerr)
		}
		return "", fmt.Errorf("s3: swap %q: %w", name, err)
	}
	if info.ETag == "" {
		return "", fmt.Errorf("s3: swap %q: the server sent no ETag", name)
	}
	return info.ETag, nil
}

// SwapDelete removes the object if its ETag is tag; see
// [store.Swapper.SwapDelete].
//
// S3 servers do not all support conditional deletes (MinIO does not, and
// the S3 client this package uses cannot send one), so SwapDelete checks the
// ETag with a HEAD request and then removes the object with a plain DELETE.
// The two requests are not atomic: a Swap by another client between them
// is deleted with the object, and is lost. Use SwapDelete where deletes are
// rare and made by one writer (pruning a branch), not as a lock release
// that others race.
func (b *Backend) SwapDelete(ctx context.Context, name string, tag string) error {
	if err := store.ValidName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: swap-delete %q: %w", name, err)
	}
	oi, err := b.client.StatObject(ctx, b.bucket, b.key(name), minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return fmt.Errorf("s3: swap-delete %q: %w", name, store.ErrNotFound)
		}
		return fmt.Errorf("s3: swap-delete %q: %w", name, err)
	}
	if tag == "" || oi.ETag != tag {
		return fmt.Errorf("s3: swap-delete %q: %w: object has ETag %s, want %q", name, store.ErrPrecondition, oi.ETag, tag)
	}
	if err := b.client.RemoveObject(ctx, b.bucket, b.key(name), minio.RemoveObjectOptions{}); err != nil {
		if notFound(err) || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return fmt.Errorf("s3: swap-delete %q: %w", name, store.ErrNotFound)
		}
		return fmt.Errorf("s3: swap-delete %q: %w", name, err)
	}
	return nil
}

// validTag reports whether tag may be sent in an If-Match header: "" (no
// If-Match) or an ETag, which holds no quote and is not the wildcard.
func validTag(tag string) bool {
	return tag != "*" && !strings.ContainsAny(tag, "\"\r\n")
}

// conditionFailed returns why a conditional PUT was refused, or "" if err
// is something else.
func conditionFailed(err error, tag string) string {
	r := minio.ToErrorResponse(err)
	switch {
	case r.Code == "PreconditionFailed" || r.StatusCode == http.StatusPreconditionFailed:
		if tag == "" {
			return "object exists, want none"
		}
		return fmt.Sprintf("object's ETag is not %s", tag)
	case r.Code == "ConditionalRequestConflict":
		return "a concurrent conditional write won"
	case tag != "" && notFound(err):
		// If-Match on a missing object: S3 and MinIO answer NoSuchKey.
		return fmt.Sprintf("object does not exist, want ETag %s", tag)
	}
	return ""
}
