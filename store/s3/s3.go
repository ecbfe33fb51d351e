// Package s3 is a [store.Backend] on S3-compatible object storage: Amazon
// S3, MinIO and the other services that speak the S3 API. It is a separate
// package so that importing store does not pull in an S3 client.
//
// Objects are stored in one bucket under an optional key prefix, so several
// repositories can share a bucket:
//
//	b, err := s3.New(ctx, s3.Options{
//		Endpoint:  "s3.eu-west-1.amazonaws.com",
//		Bucket:    "ml-artifacts",
//		Prefix:    "kiln/team-a",
//		AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"),
//		SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
//		Secure:    true,
//	})
//	if err != nil { ... }
//	repo, err := store.Open(ctx, b, store.Options{})
//
// The object "packs/ab/abcd" is then the key "kiln/team-a/packs/ab/abcd".
//
// Put streams: memory stays bounded by Options.PartSize whatever the size of
// the object, and an object larger than one part is sent as a multipart
// upload, which S3 makes visible only once complete. A Put that fails
// midway aborts its upload; if even the abort cannot reach the server (the
// context was cancelled, the network is down), the uploaded parts stay as an
// incomplete multipart upload that Get, Stat and List never show but that
// takes space until it is aborted. MinIO removes such uploads after a day by
// default; on Amazon S3, give the bucket a lifecycle rule with
// AbortIncompleteMultipartUpload.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/kilnml/kiln/store"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrNoBucket is returned by [New] when Options.Bucket does not exist and
// Options.CreateBucket is false.
var ErrNoBucket = errors.New("s3: bucket does not exist")

// DefaultPartSize is the part size of multipart uploads when
// Options.PartSize is zero.
const DefaultPartSize = 16 << 20

// Limits on Options.PartSize set by the S3 API: every part but the last must
// hold at least 5 MiB, and no part more than 5 GiB.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
)

// smallPut is the most bytes of an object of unknown size that Put reads
// ahead to send it in one request instead of a multipart upload.
const smallPut = 1 << 20

// Options configures [New]. The zero value of each field is documented; the
// zero Options is not usable as such because Endpoint and Bucket are
// required.
type Options struct {
	// Endpoint is the server's host and optional port, such as
	// "s3.amazonaws.com" or "127.0.0.1:9000". A URL with an http:// or
	// https:// scheme is accepted too and sets Secure accordingly. Required.
	Endpoint string

	// Bucket is the name of the bucket holding the objects. It must exist
	// unless CreateBucket is set. Required.
	Bucket string

	// Prefix is put before every object name to form its key, so that
	// several repositories can share one bucket. A "/" is added after it if
	// it does not end with one, so "repo" and "repo/" both store "config"
	// as "repo/config" and two backends whose prefixes differ never see
	// each other's objects. The prefix must be a valid object name (see
	// store.ValidName), optionally ending with "/". Empty: keys are the
	// object names themselves, at the root of the bucket.
	Prefix string

	// AccessKey and SecretKey are the credentials. When both are empty, New
	// takes them from the environment (AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, then MINIO_ROOT_USER and MINIO_ROOT_PASSWORD,
	// then the default profile of ~/.aws/credentials) and falls back to
	// anonymous requests if none is set.
	AccessKey, SecretKey string

	// Region is the bucket's region, such as "us-east-1". Empty: found out
	// from the server with one request when first needed.
	Region string

	// Secure selects HTTPS. False: plain HTTP (fine on a loopback address,
	// not across a network).
	Secure bool

	// PartSize is the size of each part of a multipart upload, and so the
	// memory one Put uses at most for buffering; objects whose size is known
	// and at most PartSize go in one request. It must lie between
	// MinPartSize and MaxPartSize. An object of unknown size can have at
	// most 10,000 parts, so PartSize bounds it to 10,000 × PartSize bytes
	// (156 GiB with the default). Zero: DefaultPartSize (16 MiB).
	PartSize uint64

	// CreateBucket makes New create Bucket (in Region) when it does not
	// exist. False: New fails with ErrNoBucket instead.
	CreateBucket bool
}

// Backend is a [store.Backend] storing objects in an S3 bucket. Create one
// with [New]. It is safe for concurrent use by multiple goroutines.
type Backend struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string // "" or ends with "/"
	partSize uint64
	endpoint string // for error messages
}

var _ store.Backend = (*Backend)(nil)

// New connects to the server named by opts and returns a Backend on its
// bucket. It checks that the bucket exists, and creates it if it does not
// and opts.CreateBucket is set; a missing bucket is otherwise an error
// wrapping [ErrNoBucket]. Bad credentials or an unreachable server are
// reported here rather than on first use.
func New(ctx context.Context, opts Options) (*Backend, error) {
	endpoint, secure, err := parseEndpoint(opts.Endpoint, opts.Secure)
	if err != nil {
		return nil, err
	}
	if opts.Bucket == "" {
		return nil, errors.New("s3: Options.Bucket is empty")
	}
	prefix := opts.Prefix
	if prefix != "" {
		if err := store.ValidName(strings.TrimSuffix(prefix, "/")); err != nil {
			return nil, fmt.Errorf("s3: Options.Prefix: %w", err)
		}
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > MaxPartSize {
		return nil, fmt.Errorf("s3: Options.PartSize %d is outside [%d, %d]", partSize, MinPartSize, MaxPartSize)
	}

	var creds *credentials.Credentials
	if opts.AccessKey != "" || opts.SecretKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, "")
	} else {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
		})
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds:  creds,
		Secure: secure,
		Region: opts.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint %q: %w", opts.Endpoint, err)
	}
	b := &Backend{
		client:   client,
		core:     minio.Core{Client: client},
		bucket:   opts.Bucket,
		prefix:   prefix,
		partSize: partSize,
		endpoint: endpoint,
	}

	exists, err := client.BucketExists(ctx, opts.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %q at %s: %w", opts.Bucket, endpoint, err)
	}
	if !exists {
		if !opts.CreateBucket {
			return nil, fmt.Errorf("%w: %q at %s (create it, or set Options.CreateBucket)", ErrNoBucket, opts.Bucket, endpoint)
		}
		err := client.MakeBucket(ctx, opts.Bucket, minio.MakeBucketOptions{Region: opts.Region})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("s3: create bucket %q at %s: %w", opts.Bucket, endpoint, err)
		}
	}
	return b, nil
}

// parseEndpoint accepts "host[:port]" or an http(s) URL without a path.
func parseEndpoint(endpoint string, secure bool) (string, bool, error) {
	if endpoint == "" {
		return "", false, errors.New("s3: Options.Endpoint is empty")
	}
	if !strings.Contains(endpoint, "://") {
		return endpoint, secure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("s3: Options.Endpoint: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", false, fmt.Errorf("s3: Options.Endpoint %q: scheme must be http or https", endpoint)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.User != nil:
		return "", false, fmt.Errorf("s3: Options.Endpoint %q: want only a scheme, a host and a port", endpoint)
	}
	return u.Host, u.Scheme == "https", nil
}

// Bucket returns the name of the bucket the backend stores its objects in.
func (b *Backend) Bucket() string { return b.bucket }

// Prefix returns the prefix put before every object name to form its key:
// "" or a string ending with "/".
func (b *Backend) Prefix() string { return b.prefix }

// key maps a valid object name to its S3 key.
func (b *Backend) key(name string) string { return b.prefix + name }

// notFound reports whether err is S3's answer for a missing key.
func notFound(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.Code == minio.NoSuchKey || r.Code == "NotFound"
}

// Put stores the bytes read from r under name; see [store.Backend.Put].
//
// An object of known size up to Options.PartSize goes in one PUT request,
// a larger one as a multipart upload of PartSize parts. Of an object of
// unknown size (size -1), Put reads up to 1 MiB ahead and sends it in one
// request if r ends there, and as a multipart upload otherwise. Either way
// S3 makes the object visible only once it is complete, replacing any
// previous object of that name at once. When size is not -1, Put checks
// that r yields exactly size bytes and fails, storing nothing, if it does
// not.
func (b *Backend) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := store.ValidName(name); err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("s3: put %q: negative size %d", name, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: put %q: %w", name, err)
	}
	opts := minio.PutObjectOptions{
		PartSize:    b.partSize,
		ContentType: "application/octet-stream",
	}
	if size == -1 {
		buf := smallBufs.Get().(*[]byte)
		defer smallBufs.Put(buf)
		n, err := io.ReadFull(r, *buf)
		switch err {
		case io.EOF, io.ErrUnexpectedEOF: // r ended within the buffer: one request
			r, size = &sliceReader{b: (*buf)[:n]}, int64(n)
		case nil: // more to come
			r = io.MultiReader(&sliceReader{b: (*buf)[:n]}, r)
		default:
			return fmt.Errorf("s3: put %q: read: %w", name, err)
		}
	}
	if size == 0 {
		// The client sends an empty body without reading r: check it here.
		if err := (&exactReader{r: r}).checkEnd(); err != io.EOF {
			return fmt.Errorf("s3: put %q: %w", name, err)
		}
	}
	if size >= 0 {
		// Wrapping r also hides any io.ReaderAt, which would make the
		// client upload parts in parallel with one buffer per worker.
		r = &exactReader{r: r, left: size}
	}
	if _, err := b.client.PutObject(ctx, b.bucket, b.key(name), r, size, opts); err != nil {
		return fmt.Errorf("s3: put %q: %w", name, err)
	}
	return nil
}

// smallBufs holds the read-ahead buffers of Put with an unknown size.
var smallBufs = sync.Pool{New: func() any {
	b := make([]byte, smallPut)
	return &b
}}

// sliceReader reads a byte slice. Unlike bytes.Reader it has no ReadAt, so
// that an io.MultiReader around it stays a plain stream.
type sliceReader struct{ b []byte }

func (s *sliceReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

// exactReader yields the bytes of r and fails unless r holds exactly left
// bytes. A read that would deliver the last expected byte first checks that
// r ends there, and a read that finds r short fails: in both cases it
// returns no bytes with its error, because the S3 client reads with
// io.ReadFull, which drops an error that comes with a full buffer, and stops
// once it has size bytes: a surplus reported late would go unseen and a
// truncated object be stored.
type exactReader struct {
	r    io.Reader
	left int64
}

// errTooLong and errTooShort are wrapped into Put's error when r does not
// yield the announced size.
var (
	errTooLong  = errors.New("reader holds more bytes than the size given")
	errTooShort = errors.New("reader holds fewer bytes than the size given")
)

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, e.checkEnd()
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		return 0, errTooShort
	case err != nil && err != io.EOF:
		return n, err
	case e.left == 0:
		if err := e.checkEnd(); err != io.EOF {
			return 0, err
		}
		return n, nil // io.EOF on the next call
	}
	return n, nil
}

// checkEnd returns io.EOF if the underlying reader is at its end and
// errTooLong if it holds another byte.
func (e *exactReader) checkEnd() error {
	var one [1]byte
	for range 100 {
		n, err := e.r.Read(one[:])
		if n > 0 {
			return errTooLong
		}
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// Get returns a reader of a byte range of the object; see
// [store.Backend.Get]. It sends one ranged GET request (and a HEAD request
// when the range is empty or starts at or past the end of the object), then
// streams the response body; the context governs the reads from the body
// too, so cancelling it makes them fail.
func (b *Backend) Get(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if err := store.ValidName(name); err != nil {
		return nil, err
	}
	if off < 0 || length < -1 {
		return nil, fmt.Errorf("s3: get %q: %w: offset %d, length %d", name, store.ErrRange, off, length)
	}
	if length == 0 {
		// S3 cannot express an empty range: check the object and the offset.
		if err := b.checkOffset(ctx, name, off); err != nil {
			return nil, err
		}
		return io.NopCloser(strings.NewReader("")), nil
	}
	var opts minio.GetObjectOptions
	var err error
	switch {
	case length > 0 && length <= math.MaxInt64-off:
		err = opts.SetRange(off, off+length-1)
	case off > 0: // to the end, or past it
		err = opts.SetRange(off, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("s3: get %q: %w", name, err)
	}
	body, _, _, err := b.core.GetObject(ctx, b.bucket, b.key(name), opts)
	if err != nil {
		switch {
		case notFound(err):
			return nil, fmt.Errorf("s3: get %q: %w", name, store.ErrNotFound)
		case minio.ToErrorResponse(err).Code == minio.InvalidRange:
			// The range starts at or past the end: the object exists and
			// off >= size (S3 refuses even "bytes=0-" of an empty object).
			if err := b.checkOffset(ctx, name, off); err != nil {
				return nil, err
			}
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, fmt.Errorf("s3: get %q: %w", name, err)
	}
	return body, nil
}

// checkOffset returns nil if the object exists and off is at most its size,
// and an error wrapping store.ErrNotFound or store.ErrRange otherwise.
func (b *Backend) checkOffset(ctx context.Context, name string, off int64) error {
	info, err := b.Stat(ctx, name)
	if err != nil {
		return err
	}
	if off > info.Size {
		return fmt.Errorf("s3: get %q: %w: offset %d past the end (size %d)", name, store.ErrRange, off, info.Size)
	}
	return nil
}

// Stat describes the object with one HEAD request; see
// [store.Backend.Stat]. Modified is S3's Last-Modified time, to the second.
func (b *Backend) Stat(ctx context.Context, name string) (store.ObjectInfo, error) {
	if err := store.ValidName(name); err != nil {
		return store.ObjectInfo{}, err
	}
	oi, err := b.client.StatObject(ctx, b.bucket, b.key(name), minio.StatObjectOptions{})
	if err != nil {
		if notFound(err) {
			return store.ObjectInfo{}, fmt.Errorf("s3: stat %q: %w", name, store.ErrNotFound)
		}
		return store.ObjectInfo{}, fmt.Errorf("s3: stat %q: %w", name, err)
	}
	return store.ObjectInfo{Name: name, Size: oi.Size, Modified: oi.LastModified}, nil
}

// List yields the objects whose names start with prefix, sorted by name;
// see [store.Backend.List]. It pages through S3's ListObjectsV2 as the
// sequence is consumed (1000 keys a request), so memory does not grow with
// the number of objects; stopping the iteration early stops the listing.
// The order is S3's, which is byte order of the keys.
func (b *Backend) List(ctx context.Context, prefix string) iter.Seq2[store.ObjectInfo, error] {
	return func(yield func(store.ObjectInfo, error) bool) {
		if prefix != "" {
			if err := store.ValidName(strings.TrimSuffix(prefix, "/")); err != nil {
				yield(store.ObjectInfo{}, fmt.Errorf("s3: list prefix %q: %w", prefix, err))
				return
			}
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops the client's listing goroutine on an early return
		objects := b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{
			Prefix:    b.key(prefix),
			Recursive: true,
		})
		for oi := range objects {
			if oi.Err != nil {
				err := oi.Err
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(store.ObjectInfo{}, fmt.Errorf("s3: list %q: %w", prefix, err))
				return
			}
			name, ok := strings.CutPrefix(oi.Key, b.prefix)
			if !ok || store.ValidName(name) != nil {
				// Not an object this backend could have written (say, a
				// "folder/" marker made by a console): skip it.
				continue
			}
			if !yield(store.ObjectInfo{Name: name, Size: oi.Size, Modified: oi.LastModified}, nil) {
				return
			}
		}
		// The client closes the channel without an error when ctx is
		// cancelled; do not let a cancelled listing pass for a complete one.
		if err := ctx.Err(); err != nil {
			yield(store.ObjectInfo{}, fmt.Errorf("s3: list %q: %w", prefix, err))
		}
	}
}

// Delete removes the object; see [store.Backend.Delete]. S3 deletes a
// missing key without complaint, so Delete first checks that the object
// exists with a HEAD request. The check and the removal are two requests:
// when two goroutines or processes delete the same object at once, both may
// succeed.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if _, err := b.Stat(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("s3: delete %q: %w", name, store.ErrNotFound)
		}
		return err
	}
	if err := b.client.RemoveObject(ctx, b.bucket, b.key(name), minio.RemoveObjectOptions{}); err != nil {
		if notFound(err) || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return fmt.Errorf("s3: delete %q: %w", name, store.ErrNotFound)
		}
		return fmt.Errorf("s3: delete %q: %w", name, err)
	}
	return nil
}
