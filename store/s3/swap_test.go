package s3_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/store/s3"
	"github.com/minio/minio-go/v7"
)

// TestSwap runs the compare-and-swap suite, each subtest on a fresh bucket
// of one MinIO server: directly, under a key prefix, and through a
// store.WithPrefix view.
func TestSwap(t *testing.T) {
	srv := startServer(t)
	for _, tc := range []struct {
		name string
		new  func(t *testing.T) store.Swapper
	}{
		{"Root", func(t *testing.T) store.Swapper {
			return srv.backend(t, s3.Options{Bucket: srv.newBucket(t)})
		}},
		{"Prefix", func(t *testing.T) store.Swapper {
			return srv.backend(t, s3.Options{Bucket: srv.newBucket(t), Prefix: "some/prefix"})
		}},
		{"View", func(t *testing.T) store.Swapper {
			b := srv.backend(t, s3.Options{Bucket: srv.newBucket(t), Prefix: "repo"})
			return store.WithPrefix(b, "refs").(store.Swapper)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { backendtest.RunSwap(t, tc.new) })
	}
}

// TestSwapETag: the tag is the object's ETag as any S3 client sees it, and
// a write by another client behind the backend's back is a change that
// Swap notices.
func TestSwapETag(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	b := srv.backend(t, s3.Options{Bucket: bucket, Prefix: "p"})
	c := srv.client(t)
	ctx := t.Context()

	tag, err := b.Swap(ctx, "ref", []byte("v1"), "")
	if err != nil {
		t.Fatal(err)
	}
	oi, err := c.StatObject(ctx, bucket, "p/ref", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if oi.ETag != tag {
		t.Errorf("Swap returned tag %q, the object's ETag is %q", tag, oi.ETag)
	}

	if _, err := c.PutObject(ctx, bucket, "p/ref", bytes.NewReader([]byte("v2")), 2, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Swap(ctx, "ref", []byte("v3"), tag); !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("Swap after another client's write: error %v, want one wrapping ErrPrecondition", err)
	}
	if err := b.SwapDelete(ctx, "ref", tag); !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("SwapDelete after another client's write: error %v, want one wrapping ErrPrecondition", err)
	}
	data, tag2, err := b.Load(ctx, "ref")
	if err != nil || string(data) != "v2" {
		t.Fatalf("Load = %q, %v; want v2", data, err)
	}

	// "*" would match any ETag in an If-Match header: it is refused, not
	// sent.
	if _, err := b.Swap(ctx, "ref", []byte("v4"), "*"); !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("Swap with tag *: error %v, want one wrapping ErrPrecondition", err)
	}
	if _, err := b.Swap(ctx, "ref", []byte("v4"), `"`+tag2+`"`); !errors.Is(err, store.ErrPrecondition) {
		t.Errorf("Swap with a quoted tag: error %v, want one wrapping ErrPrecondition", err)
	}
	if data, _, _ := b.Load(ctx, "ref"); string(data) != "v2" {
		t.Errorf("after refused Swaps, ref = %q, want v2", data)
	}
}
