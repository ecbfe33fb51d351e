package s3_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/kilnml/kiln/store/s3"
)

// Example stores and reads back an object in a bucket of an S3-compatible
// server. It runs against the server named by $KILN_S3_ENDPOINT (with
// $KILN_S3_ACCESS_KEY, $KILN_S3_SECRET_KEY and the bucket $KILN_S3_BUCKET),
// such as a local MinIO: `minio server /tmp/data` then
// KILN_S3_ENDPOINT=127.0.0.1:9000 KILN_S3_BUCKET=kiln
// KILN_S3_ACCESS_KEY=minioadmin KILN_S3_SECRET_KEY=minioadmin.
func Example() {
	ctx := context.Background()
	b, err := s3.New(ctx, s3.Options{
		Endpoint:     os.Getenv("KILN_S3_ENDPOINT"),
		Bucket:       os.Getenv("KILN_S3_BUCKET"),
		Prefix:       "kiln/example",
		AccessKey:    os.Getenv("KILN_S3_ACCESS_KEY"),
		SecretKey:    os.Getenv("KILN_S3_SECRET_KEY"),
		CreateBucket: true,
	})
	if err != nil {
		log.Fatal(err)
	}

	// Size -1: the size is not known in advance; Put streams all the same.
	if err := b.Put(ctx, "notes/hello.txt", strings.NewReader("hello, object storage"), -1); err != nil {
		log.Fatal(err)
	}
	// Bytes 7 to 12.
	rc, err := b.Get(ctx, "notes/hello.txt", 7, 6)
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", data)
	for oi, err := range b.List(ctx, "notes/") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(oi.Name, oi.Size)
	}
}
