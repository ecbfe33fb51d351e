package version_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// Example versions a folder of files: commit it twice, list the history,
// check a version out into another folder and ask what changed there.
func Example() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "kiln-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	repo, err := version.Open(ctx, filepath.Join(tmp, "repo"), version.Options{Author: "ann"})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	// A dataset folder, committed twice.
	data := filepath.Join(tmp, "data")
	write := func(name, content string) {
		p := filepath.Join(data, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write("labels.csv", "id,label\n1,cat\n2,dog\n")
	write("images/1.txt", "a cat")
	write("images/2.txt", "a dog")
	when := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	if _, err := repo.CommitFiles(ctx, "pets", []string{data}, version.CommitOptions{Message: "first labels", Time: when}); err != nil {
		log.Fatal(err)
	}
	write("labels.csv", "id,label\n1,cat\n2,dog\n3,cat\n")
	write("images/3.txt", "another cat")
	second, err := repo.CommitFiles(ctx, "pets", []string{data}, version.CommitOptions{Message: "three pets", Time: when.Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	if err := repo.Tag(ctx, "pets", "v2", second.ID); err != nil {
		log.Fatal(err)
	}

	// History, newest first.
	for c, err := range repo.Log(ctx, "pets") {
		if err != nil {
			log.Fatal(err)
		}
		tree, err := repo.Tree(ctx, c)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s: %q, %d files\n", c.Time.Format(time.DateTime), c.Author, c.Message, len(tree))
	}

	// Check out the first version, then compare the folder with v2.
	work := filepath.Join(tmp, "work")
	st, err := repo.Checkout(ctx, "pets@v2~1", work, version.CheckoutOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("checked out", st.Files, "files")
	rep, err := repo.Status(ctx, "pets@v2", work, version.StatusOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range rep.Changes {
		fmt.Println(c.Kind, c.Path)
	}
	fmt.Println("files hashed:", rep.Rehashed)
	// Output:
	// 2024-05-01 10:00:00 ann: "three pets", 4 files
	// 2024-05-01 09:00:00 ann: "first labels", 3 files
	// checked out 3 files
	// removed images/3.txt
	// modified labels.csv
	// files hashed: 0
}

// ExampleRepository_SetBranch moves a branch with compare-and-swap: a
// writer that read an old head loses and is told so.
func ExampleRepository_SetBranch() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "kiln-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	repo, err := version.Open(ctx, tmp, version.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer repo.Close()

	first, err := repo.CommitEntries(ctx, "d", nil, version.CommitOptions{Message: "empty"})
	if err != nil {
		log.Fatal(err)
	}
	second, err := repo.CommitEntries(ctx, "d", nil, version.CommitOptions{Message: "still empty"})
	if err != nil {
		log.Fatal(err)
	}
	// Start a branch "review" at the first commit, then move it to the
	// second, expecting it at the first.
	if err := repo.SetBranch(ctx, "d", "review", store.Digest{}, first.ID); err != nil {
		log.Fatal(err)
	}
	if err := repo.SetBranch(ctx, "d", "review", first.ID, second.ID); err != nil {
		log.Fatal(err)
	}
	// A writer that still thinks the branch is at the first commit loses.
	err = repo.SetBranch(ctx, "d", "review", first.ID, first.ID)
	fmt.Println(errors.Is(err, version.ErrConflict))

	moves, err := repo.Reflog(ctx, "d", "review")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(moves), "moves")
	// Output:
	// true
	// 2 moves
}

// ExampleValidName shows names that are refused.
func ExampleValidName() {
	for _, name := range []string{"flights", "team/flights-2024", "../etc", "a b", ".hidden"} {
		fmt.Printf("%-18q %v\n", name, version.ValidName(name))
	}
	// Output:
	// "flights"          <nil>
	// "team/flights-2024" <nil>
	// "../etc"           version: bad name "../etc": segment ".."
	// "a b"              version: bad name "a b": byte ' ' at 1 (allowed: letters, digits, '.', '_', '-' and '/')
	// ".hidden"          version: bad name ".hidden": segment ".hidden" starts with '.'
}
