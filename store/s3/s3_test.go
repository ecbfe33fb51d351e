package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/internal/backendtest"
	"github.com/kilnml/kiln/internal/miniotest"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/store/s3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// server is a MinIO server started for one top-level test.
type server struct {
	endpoint, accessKey, secretKey string
}

func startServer(t *testing.T) server {
	t.Helper()
	e, a, s := miniotest.Start(t)
	return server{e, a, s}
}

var bucketSeq atomic.Int64

// newBucket returns the name of a fresh bucket, created on the server.
func (s server) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("kiln-test-%d-%d", bucketSeq.Add(1), rand.Uint32())
	s.backend(t, s3.Options{Bucket: name, CreateBucket: true})
	return name
}

// backend returns a Backend on the server with opts (Endpoint and
// credentials filled in).
func (s server) backend(t *testing.T, opts s3.Options) *s3.Backend {
	t.Helper()
	opts.Endpoint, opts.AccessKey, opts.SecretKey = s.endpoint, s.accessKey, s.secretKey
	b, err := s3.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// client returns a plain S3 client on the server, to look behind the
// backend's back.
func (s server) client(t *testing.T) *minio.Client {
	t.Helper()
	c, err := minio.New(s.endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.accessKey, s.secretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func put(t *testing.T, b store.Backend, name, data string) {
	t.Helper()
	if err := b.Put(t.Context(), name, strings.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, b store.Backend, name string, off, length int64) string {
	t.Helper()
	rc, err := b.Get(t.Context(), name, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", name, off, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): read: %v", name, off, length, err)
	}
	return string(data)
}

func names(t *testing.T, b store.Backend, prefix string) []string {
	t.Helper()
	var got []string
	for oi, err := range b.List(t.Context(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		got = append(got, oi.Name)
	}
	return got
}

// TestBackend runs the suite every store.Backend passes, each subtest on a
// fresh bucket of one MinIO server, half of them with a key prefix.
func TestBackend(t *testing.T) {
	srv := startServer(t)
	var n int
	backendtest.Run(t, func(t *testing.T) store.Backend {
		n++
		opts := s3.Options{Bucket: srv.newBucket(t)}
		if n%2 == 0 {
			opts.Prefix = "some/prefix"
		}
		return srv.backend(t, opts)
	})
}

func TestNewMissingBucket(t *testing.T) {
	srv := startServer(t)
	_, err := s3.New(t.Context(), s3.Options{
		Endpoint: srv.endpoint, AccessKey: srv.accessKey, SecretKey: srv.secretKey,
		Bucket: "no-such-bucket",
	})
	if !errors.Is(err, s3.ErrNoBucket) {
		t.Fatalf("New with a missing bucket: got %v, want ErrNoBucket", err)
	}
	if !strings.Contains(err.Error(), `"no-such-bucket"`) || !strings.Contains(err.Error(), "CreateBucket") {
		t.Errorf("error %q should name the bucket and the CreateBucket option", err)
	}

	// CreateBucket creates it, and a second New finds it.
	opts := s3.Options{Endpoint: srv.endpoint, AccessKey: srv.accessKey, SecretKey: srv.secretKey, Bucket: "made-by-new", CreateBucket: true}
	for range 2 {
		if _, err := s3.New(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
	}
	ok, err := srv.client(t).BucketExists(t.Context(), "made-by-new")
	if err != nil || !ok {
		t.Fatalf("bucket made by New: exists %v, err %v", ok, err)
	}
}

func TestNewBadOptions(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	base := s3.Options{Endpoint: srv.endpoint, AccessKey: srv.accessKey, SecretKey: srv.secretKey, Bucket: bucket}
	for _, tc := range []struct {
		name   string
		modify func(*s3.Options)
		want   string
	}{
		{"no endpoint", func(o *s3.Options) { o.Endpoint = "" }, "Endpoint is empty"},
		{"no bucket", func(o *s3.Options) { o.Bucket = "" }, "Bucket is empty"},
		{"endpoint path", func(o *s3.Options) { o.Endpoint = "http://" + srv.endpoint + "/x" }, "only a scheme"},
		{"endpoint scheme", func(o *s3.Options) { o.Endpoint = "ftp://" + srv.endpoint }, "http or https"},
		{"prefix dotdot", func(o *s3.Options) { o.Prefix = "a/../b" }, "invalid object name"},
		{"prefix absolute", func(o *s3.Options) { o.Prefix = "/a" }, "invalid object name"},
		{"part size small", func(o *s3.Options) { o.PartSize = 1 << 20 }, "PartSize"},
		{"wrong secret", func(o *s3.Options) { o.SecretKey = "not-the-secret" }, "signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := base
			tc.modify(&opts)
			_, err := s3.New(t.Context(), opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: got error %v, want one containing %q", err, tc.want)
			}
		})
	}

	// An http:// URL is accepted as the endpoint.
	opts := base
	opts.Endpoint = "http://" + srv.endpoint
	if _, err := s3.New(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
}

func TestPrefixIsolation(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	a := srv.backend(t, s3.Options{Bucket: bucket, Prefix: "repos/a"})
	ab := srv.backend(t, s3.Options{Bucket: bucket, Prefix: "repos/ab/"})
	root := srv.backend(t, s3.Options{Bucket: bucket})

	put(t, a, "config", "a's config")
	put(t, a, "packs/1", "a1")
	put(t, ab, "config", "ab's config")

	if diff := cmp.Diff([]string{"config", "packs/1"}, names(t, a, "")); diff != "" {
		t.Errorf("List of a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"config"}, names(t, ab, "")); diff != "" {
		t.Errorf("List of ab (-want +got):\n%s", diff)
	}
	if got := get(t, a, "config", 0, -1); got != "a's config" {
		t.Errorf("a: config = %q", got)
	}
	if got := get(t, ab, "config", 0, -1); got != "ab's config" {
		t.Errorf("ab: config = %q", got)
	}
	if _, err := ab.Stat(t.Context(), "packs/1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ab sees a's packs/1: Stat error %v", err)
	}
	if err := ab.Delete(t.Context(), "packs/1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ab deletes a's packs/1: error %v", err)
	}
	// The keys in the bucket are the prefix, a slash and the name.
	want := []string{"repos/a/config", "repos/a/packs/1", "repos/ab/config"}
	if diff := cmp.Diff(want, names(t, root, "")); diff != "" {
		t.Errorf("keys in the bucket (-want +got):\n%s", diff)
	}
	if got := a.Prefix(); got != "repos/a/" {
		t.Errorf("Prefix() = %q", got)
	}
}

// TestPutUnknownSizeMultipart streams 20 MiB of unknown size: it must arrive
// whole, as a multipart upload of 16 MiB parts (S3 gives a multipart object
// an ETag ending in "-<parts>").
func TestPutUnknownSizeMultipart(t *testing.T) {
	srv := startServer(t)
	bucket := srv.newBucket(t)
	b := srv.backend(t, s3.Options{Bucket: bucket, Prefix: "p"})

	const size = 20 << 20
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{1}).Read(data)
	// A plain io.Reader (no Len, Seek or ReadAt), so nothing can learn its size.
	r := struct{ io.Reader }{bytes.NewReader(data)}
	if err := b.Put(t.Context(), "big", r, -1); err != nil {
		t.Fatal(err)
	}

	oi, err := srv.client(t).StatObject(t.Context(), bucket, "p/big", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(oi.ETag, "-2") {
		t.Errorf("ETag %q: want a multipart upload of 2 parts", oi.ETag)
	}
	info, err := b.Stat(t.Context(), "big")
	if err != nil || info.Size != size {
		t.Fatalf("Stat: %+v, %v; want size %d", info, err, size)
	}
	rc, err := b.Get(t.Context(), "big", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
	// A range across the part boundary.
	const off = 16<<20 - 100
	if got := get(t, b, "big", off, 200); got != string(data[off:off+200]) {
		t.Errorf("range across the part boundary differs")
	}

	// Small objects of unknown size go in one request (no "-N" ETag).
	if err := b.Put(t.Context(), "small", struct{ io.Reader }{strings.NewReader("hello")}, -1); err != nil {
		t.Fatal(err)
	}
	oi, err = srv.client(t).StatObject(t.Context(), bucket, "p/small", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(oi.ETag, "-") {
		t.Errorf("small object ETag %q: want a single PUT", oi.ETag)
	}
	if got := get(t, b, "small", 0, -1); got != "hello" {
		t.Errorf("small = %q", got)
	}
}

// TestPutWrongSize: a reader that does not hold the announced size stores
// nothing, for single and multipart uploads alike.
func TestPutWrongSize(t *testing.T) {
	srv := startServer(t)
	b := srv.backend(t, s3.Options{Bucket: srv.newBucket(t), PartSize: s3.MinPartSize})
	for _, tc := range []struct {
		name     string
		have     int
		announce int64
	}{
		{"longer", 11, 10},
		{"shorter", 9, 10},
		{"longer multipart", 12 << 20, 11 << 20},
		{"shorter multipart", 11 << 20, 12 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := struct{ io.Reader }{bytes.NewReader(make([]byte, tc.have))}
			err := b.Put(t.Context(), "obj", r, tc.announce)
			if err == nil || !strings.Contains(err.Error(), "bytes than the size given") {
				t.Fatalf("Put of %d bytes announced as %d: error %v", tc.have, tc.announce, err)
			}
			if _, err := b.Stat(t.Context(), "obj"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after a failed Put: Stat error %v, want ErrNotFound", err)
			}
		})
	}
}

// TestPutCancelled: a Put whose context is cancelled in the middle of a
// multipart upload fails and leaves no object.
func TestPutCancelled(t *testing.T) {
	srv := startServer(t)
	b := srv.backend(t, s3.Options{Bucket: srv.newBucket(t), PartSize: s3.MinPartSize})
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancelAfter{n: 7 << 20, cancel: cancel}
	err := b.Put(ctx, "obj", r, -1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put cancelled midway: error %v, want context.Canceled", err)
	}
	if _, err := b.Stat(t.Context(), "obj"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a cancelled Put: Stat error %v, want ErrNotFound", err)
	}
}

// cancelAfter yields zero bytes forever and calls cancel once n are read.
type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	clear(p)
	c.n -= len(p)
	return len(p), nil
}
