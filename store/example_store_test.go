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

// Store the files of a folder in one Batch: they share a pack instead of
// writing one pack and one index object per file.
func ExampleBatch() {
	ctx := context.Background()
	mem := store.NewMemory()
	s, err := store.Open(ctx, mem, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	files := map[string]string{"a.csv": "x,y\n1,2\n", "b.csv": "x,y\n3,4\n", "c.csv": "x,y\n5,6\n"}
	batch := s.Batch()
	digests := map[string]store.Digest{}
	for name, content := range files {
		d, err := batch.Put(ctx, strings.NewReader(content))
		if err != nil {
			log.Fatal(err)
		}
		digests[name] = d
	}
	if err := batch.Flush(ctx); err != nil { // now all three are durable
		log.Fatal(err)
	}
	fmt.Println(digests["b.csv"])

	packs := 0
	for _, err := range mem.List(ctx, "packs/") {
		if err != nil {
			log.Fatal(err)
		}
		packs++
	}
	fmt.Println(packs, "pack")
	// Output:
	// blake3:f4eba576df5c484491e0f8575e346aedba06987434af96f5448282c2f2aa6cc1
	// 1 pack
}
