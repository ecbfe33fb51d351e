package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kilnml/kiln/store"
)

func ExampleSum() {
	d := store.Sum([]byte("hello, world"))
	fmt.Println(d)
	// Output: blake3:a1a55887535397bf461902491c8779188a5dd1f8c3951b3d9cf6ecba194e87b0
}

func ExampleParseDigest() {
	d, err := store.ParseDigest("blake3:a1a55887535397bf461902491c8779188a5dd1f8c3951b3d9cf6ecba194e87b0")
	fmt.Println(d == store.Sum([]byte("hello, world")), err)

	_, err = store.ParseDigest("blake3:D7FD53A8")
	fmt.Println(errors.Is(err, store.ErrBadDigest))
	// Output:
	// true <nil>
	// true
}

func ExampleHasher() {
	h := store.NewHasher()
	io.Copy(h, strings.NewReader("hello, "))
	io.WriteString(h, "world")
	fmt.Println(h.Sum() == store.Sum([]byte("hello, world")))
	// Output: true
}

func ExampleNewChunker() {
	data := bytes.Repeat([]byte("kiln "), 200_000) // 1 MB
	c := store.NewChunker(bytes.NewReader(data), store.DefaultChunkerParams)
	var total, chunks int
	for {
		chunk, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		// chunk is valid until the next call of Next: hash or copy it now.
		_ = store.Sum(chunk)
		total += len(chunk)
		chunks++
	}
	fmt.Println(total == len(data), chunks > 1)
	// Output: true true
}
