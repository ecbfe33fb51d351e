package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kilnml/kiln/store"
)

func ExampleSwapper() {
	ctx := context.Background()
	var s store.Swapper = store.NewMemory()

	// Move a branch head from whatever it is to a new commit, retrying
	// when another writer moved it first.
	advance := func(commit string) error {
		for {
			old, tag, err := s.Load(ctx, "refs/heads/main")
			if errors.Is(err, store.ErrNotFound) {
				old, tag, err = nil, "", nil // no branch yet: create it
			}
			if err != nil {
				return err
			}
			next := append(old, commit+"\n"...)
			_, err = s.Swap(ctx, "refs/heads/main", next, tag)
			if !errors.Is(err, store.ErrPrecondition) {
				return err
			}
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if err := advance(c); err != nil {
			fmt.Println(err)
			return
		}
	}
	data, tag, _ := s.Load(ctx, "refs/heads/main")
	fmt.Printf("%q\n", data)

	// A writer holding an old tag is refused.
	_, err := s.Swap(ctx, "refs/heads/main", []byte("c0\n"), store.Sum([]byte("c1\n")).Hex())
	fmt.Println(errors.Is(err, store.ErrPrecondition))
	fmt.Println(s.SwapDelete(ctx, "refs/heads/main", tag))
	// Output:
	// "c1\nc2\n"
	// true
	// <nil>
}

func ExampleWithPrefix() {
	ctx := context.Background()
	shared := store.NewMemory()
	teamA := store.WithPrefix(shared, "repos/team-a")
	teamB := store.WithPrefix(shared, "repos/team-b")

	for _, b := range []store.Backend{teamA, teamB} {
		if err := b.Put(ctx, "config", strings.NewReader("{}"), 2); err != nil {
			fmt.Println(err)
			return
		}
	}
	for info, err := range teamA.List(ctx, "") {
		fmt.Println("team a:", info.Name, err)
	}
	for info, err := range shared.List(ctx, "") {
		fmt.Println("shared:", info.Name, err)
	}
	// The view of a Swapper is a Swapper.
	_, ok := teamA.(store.Swapper)
	fmt.Println("swapper:", ok)
	// Output:
	// team a: config <nil>
	// shared: repos/team-a/config <nil>
	// shared: repos/team-b/config <nil>
	// swapper: true
}
