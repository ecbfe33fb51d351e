package version_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// Two people share a dataset through a remote. Here the remote is in
// memory; a team would put it in an S3 bucket with store/s3:
//
//	b, err := s3.New(ctx, s3.Options{Endpoint: "s3.amazonaws.com", Bucket: "ml-data", Prefix: "kiln", Secure: true})
//	remote, err := version.NewRemote(ctx, b, version.RemoteOptions{})
//
// When both push to one branch at the same time, one wins and the other
// gets ErrConflict; it fetches, builds on the remote's head and pushes
// again, and no commit is lost.
func ExampleRepository_Push() {
	dir, err := os.MkdirTemp("", "kiln-remote-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	open := func(name string) *version.Repository {
		repo, err := version.Open(ctx, filepath.Join(dir, name), version.Options{Author: name})
		if err != nil {
			log.Fatal(err)
		}
		return repo
	}
	ada, bob := open("ada"), open("bob")
	defer ada.Close()
	defer bob.Close()
	remote, err := version.NewRemote(ctx, store.NewMemory(), version.RemoteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer remote.Close()

	// Each works in a folder of their own, committed whole to main.
	work := func(repo *version.Repository) string { return repo.Dir() + "-work" }
	commit := func(repo *version.Repository, file, content string) {
		if err := os.MkdirAll(work(repo), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work(repo), file), []byte(content), 0o644); err != nil {
			log.Fatal(err)
		}
		if _, err := repo.CommitFiles(ctx, "labels", []string{work(repo)}, version.CommitOptions{Message: "add " + file}); err != nil {
			log.Fatal(err)
		}
	}

	commit(ada, "cats.csv", "id,label\n1,cat\n")
	stats, err := ada.Push(ctx, remote, "labels")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ada pushed %d commit, %d blobs; remote main created: %v\n", stats.Commits, stats.Blobs, stats.Refs[0].Old.IsZero())

	// bob pulls the dataset and checks it out in his folder.
	if _, err := bob.Pull(ctx, remote, "labels", "main"); err != nil {
		log.Fatal(err)
	}
	if _, err := bob.Checkout(ctx, "labels@main", work(bob), version.CheckoutOptions{}); err != nil {
		log.Fatal(err)
	}
	content, err := os.ReadFile(filepath.Join(work(bob), "cats.csv"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("bob has cats.csv: %q\n", content)

	// Both add a file; ada pushes first.
	commit(ada, "dogs.csv", "id,label\n2,dog\n")
	commit(bob, "birds.csv", "id,label\n3,bird\n")
	if _, err := ada.Push(ctx, remote, "labels"); err != nil {
		log.Fatal(err)
	}
	_, err = bob.Push(ctx, remote, "labels")
	fmt.Println("bob's push conflicts:", errors.Is(err, version.ErrConflict))

	// bob fetches ada's commit, checks it out beside his new file, and
	// commits his folder again on top of it.
	if _, err := bob.Fetch(ctx, remote, "labels"); err != nil {
		log.Fatal(err)
	}
	mine, err := bob.Resolve(ctx, "labels@main")
	if err != nil {
		log.Fatal(err)
	}
	theirs, err := bob.Resolve(ctx, "labels@origin/main")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := bob.Checkout(ctx, "labels@origin/main", work(bob), version.CheckoutOptions{}); err != nil {
		log.Fatal(err)
	}
	if err := bob.SetBranch(ctx, "labels", "main", mine.ID, theirs.ID); err != nil {
		log.Fatal(err)
	}
	if _, err := bob.CommitFiles(ctx, "labels", []string{work(bob)}, version.CommitOptions{Message: "add birds.csv", Parent: theirs.ID}); err != nil {
		log.Fatal(err)
	}
	if _, err := bob.Push(ctx, remote, "labels"); err != nil {
		log.Fatal(err)
	}

	if _, err := ada.Pull(ctx, remote, "labels", "main"); err != nil {
		log.Fatal(err)
	}
	for c, err := range ada.Log(ctx, "labels") {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", c.Author, c.Message)
	}
	head, err := ada.Resolve(ctx, "labels")
	if err != nil {
		log.Fatal(err)
	}
	files, err := ada.Tree(ctx, head)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		fmt.Println(f.Path)
	}
	// Output:
	// ada pushed 1 commit, 3 blobs; remote main created: true
	// bob has cats.csv: "id,label\n1,cat\n"
	// bob's push conflicts: true
	// bob: add birds.csv
	// ada: add dogs.csv
	// ada: add cats.csv
	// birds.csv
	// cats.csv
	// dogs.csv
}
