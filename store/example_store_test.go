package store_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/kilnml/kiln/store"
)

// Open a repository in a folder, store a blob and read it back verified.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "kiln-store-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	fs, err := store.NewFS(dir)
	if err != nil {
		log.Fatal(err)
	}
	s, err := store.Open(ctx, fs, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	d, err := s.Put(ctx, strings.NewReader("hello, kiln\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d)

	rc, err := s.Get(ctx, d) // every chunk is verified as it is read
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", data)

	rep, err := s.Check(ctx, store.CheckOptions{})
	fmt.Println(rep.Packs, rep.Chunks, err)
	// Output:
	// blake3:aef8595db4e7e6bce21352ff69996be1c0c832ff2b3558a23e301fd614b45dff
	// "hello, kiln\n"
	// 1 1 <nil>
}
