package version

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/internal/miniotest"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/store/s3"
)

// A rmtPlace is a shared place for a remote: each call of open returns a
// new client on it, as another machine would have.
type rmtPlace struct {
	name string
	open func(t *testing.T) store.Backend
}

// rmtMemory is a remote in memory, shared by every client.
func rmtMemory() rmtPlace {
	m := store.NewMemory()
	return rmtPlace{name: "Memory", open: func(*testing.T) store.Backend { return m }}
}

// rmtMinIO is a MinIO server started for one top-level test; each place
// is a fresh bucket prefix on it.
type rmtMinIO struct {
	endpoint, accessKey, secretKey string
	buckets                        atomic.Int64
}

func startMinIO(t *testing.T) *rmtMinIO {
	t.Helper()
	e, a, s := miniotest.Start(t)
	return &rmtMinIO{endpoint: e, accessKey: a, secretKey: s}
}

func (m *rmtMinIO) place(t *testing.T) rmtPlace {
	t.Helper()
	bucket := fmt.Sprintf("kiln-remote-%d-%d", m.buckets.Add(1), rand.Uint32())
	open := func(t *testing.T, create bool) store.Backend {
		t.Helper()
		b, err := s3.New(context.Background(), s3.Options{
			Endpoint: m.endpoint, AccessKey: m.accessKey, SecretKey: m.secretKey,
			Bucket: bucket, Prefix: "team/datasets", CreateBucket: create,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	open(t, true)
	return rmtPlace{name: "MinIO", open: func(t *testing.T) store.Backend { return open(t, false) }}
}

func rmtOpen(t *testing.T, author string) *Repository {
	t.Helper()
	r, err := Open(context.Background(), filepath.Join(t.TempDir(), author), Options{Author: author})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func rmtRemote(t *testing.T, b store.Backend, opts RemoteOptions) *Remote {
	t.Helper()
	rm, err := NewRemote(context.Background(), b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rm.Close(); err != nil {
			t.Error(err)
		}
	})
	return rm
}

// rmtCommit commits, on top of parent (zero: a new branch), parent's tree
// with files (path → content) added or replaced.
func rmtCommit(t *testing.T, r *Repository, dataset, branch string, parent store.Digest, files map[string]string, msg string) Commit {
	t.Helper()
	ctx := context.Background()
	var entries []Entry
	if !parent.IsZero() {
		pc, err := r.ReadCommit(ctx, parent)
		if err != nil {
			t.Fatal(err)
		}
		if entries, err = r.Tree(ctx, pc); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range files {
		d, err := r.Store().Put(ctx, strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		entries = slices.DeleteFunc(entries, func(e Entry) bool { return e.Path == p })
		entries = append(entries, Entry{Path: p, Digest: d, Size: int64(len(content)), Mode: 0o644})
	}
	c, err := r.CommitEntries(ctx, dataset, entries, CommitOptions{Branch: branch, Parent: parent, Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rmtHead(t *testing.T, r *Repository, dataset, branch string) store.Digest {
	t.Helper()
	d, err := r.head(dataset, branch)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rmtRead(t *testing.T, r *Repository, spec, path string) string {
	t.Helper()
	rc, err := r.ReadFile(context.Background(), spec, path)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rmtMessages returns the messages of spec's history, sorted.
func rmtMessages(t *testing.T, r *Repository, spec string) []string {
	t.Helper()
	var out []string
	for c, err := range r.Log(context.Background(), spec) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c.Message)
	}
	slices.Sort(out)
	return out
}

func rmtCheck(t *testing.T, r *Repository) {
	t.Helper()
	rep, err := r.Check(context.Background())
	if err != nil {
		t.Fatalf("Check: %v (%v)", err, rep.Problems)
	}
}

// rmtRefs lists a dataset's refs on the remote as "kind/name commit".
func rmtRemoteRefs(t *testing.T, rm *Remote, dataset string) map[string]store.Digest {
	t.Helper()
	refs, err := rm.Refs(context.Background(), dataset)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]store.Digest)
	for _, ref := range refs {
		if ref.Dataset != dataset {
			t.Errorf("remote ref %+v of dataset %q", ref, dataset)
		}
		out[string(ref.Kind)+"/"+ref.Name] = ref.Commit
	}
	return out
}

func TestRemoteMemory(t *testing.T) {
	t.Run("PushPull", func(t *testing.T) { testPushPull(t, rmtMemory()) })
	t.Run("ConcurrentPushers", func(t *testing.T) { testConcurrentPushers(t, rmtMemory(), 20) })
	t.Run("ManyPushers", func(t *testing.T) { testManyPushers(t, rmtMemory(), 6, 4) })
}

// TestRemoteMinIO runs the remote tests through a real S3 server.
func TestRemoteMinIO(t *testing.T) {
	srv := startMinIO(t)
	t.Run("PushPull", func(t *testing.T) { testPushPull(t, srv.place(t)) })
	t.Run("ConcurrentPushers", func(t *testing.T) { testConcurrentPushers(t, srv.place(t), 8) })
	t.Run("ManyPushers", func(t *testing.T) { testManyPushers(t, srv.place(t), 4, 3) })
	t.Run("CorruptRef", func(t *testing.T) { testCorruptRef(t, srv.place(t)) })
}

func testPushPull(t *testing.T, place rmtPlace) {
	ctx := context.Background()
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	var progress []TransferProgress
	rmA := rmtRemote(t, place.open(t), RemoteOptions{Progress: func(p TransferProgress) { progress = append(progress, p) }})
	rmB := rmtRemote(t, place.open(t), RemoteOptions{})

	c1 := rmtCommit(t, alice, "flights", "main", store.Digest{}, map[string]string{"a.csv": "a,1\n", "b.csv": "b,2\n", "c.csv": "c,3\n"}, "first")
	c2 := rmtCommit(t, alice, "flights", "main", c1.ID, map[string]string{"b.csv": "b,22\n"}, "second")
	if err := alice.Tag(ctx, "flights", "v1", c1.ID); err != nil {
		t.Fatal(err)
	}

	stats, err := alice.Push(ctx, rmA, "flights")
	if err != nil {
		t.Fatal(err)
	}
	// 2 commits, 2 trees, 4 files.
	if stats.Commits != 2 || stats.Blobs != 8 {
		t.Errorf("first push: %d commits, %d blobs; want 2, 8", stats.Commits, stats.Blobs)
	}
	wantUpdates := []RefUpdate{
		{Ref: Ref{Dataset: "flights", Kind: BranchRef, Name: "main", Commit: c2.ID}, New: c2.ID},
		{Ref: Ref{Dataset: "flights", Kind: TagRef, Name: "v1", Commit: c1.ID}, New: c1.ID},
	}
	if d := cmp.Diff(wantUpdates, stats.Refs); d != "" {
		t.Errorf("first push: ref updates (-want +got):\n%s", d)
	}
	if len(progress) == 0 {
		t.Fatal("no progress reported")
	}
	if last := progress[len(progress)-1]; last.Phase != PhaseRefs || last.Blobs != int64(stats.Blobs) || last.Bytes != stats.Bytes {
		t.Errorf("last progress %+v, stats %+v", last, stats)
	}
	want := map[string]store.Digest{"heads/main": c2.ID, "tags/v1": c1.ID}
	if d := cmp.Diff(want, rmtRemoteRefs(t, rmB, "flights")); d != "" {
		t.Errorf("remote refs (-want +got):\n%s", d)
	}

	// Nothing new: nothing sent.
	stats, err = alice.Push(ctx, rmA, "flights")
	if err != nil || stats.Blobs != 0 || stats.Commits != 0 || len(stats.Refs) != 0 {
		t.Errorf("second push: %+v, %v; want nothing done", stats, err)
	}

	// bob fetches: remote-tracking branch and tag.
	stats, err = bob.Fetch(ctx, rmB, "flights")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Commits != 2 || stats.Blobs != 8 {
		t.Errorf("fetch: %d commits, %d blobs; want 2, 8", stats.Commits, stats.Blobs)
	}
	wantUpdates = []RefUpdate{
		{Ref: Ref{Dataset: "flights", Kind: BranchRef, Name: "origin/main", Commit: c2.ID}, New: c2.ID},
		{Ref: Ref{Dataset: "flights", Kind: TagRef, Name: "v1", Commit: c1.ID}, New: c1.ID},
	}
	if d := cmp.Diff(wantUpdates, stats.Refs); d != "" {
		t.Errorf("fetch: ref updates (-want +got):\n%s", d)
	}
	if got := rmtRead(t, bob, "flights@origin/main", "b.csv"); got != "b,22\n" {
		t.Errorf("bob reads %q", got)
	}
	if got := rmtRead(t, bob, "flights@v1", "b.csv"); got != "b,2\n" {
		t.Errorf("bob reads %q at v1", got)
	}
	// bob pulls main: created.
	stats, err = bob.Pull(ctx, rmB, "flights", "main")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Blobs != 0 || len(stats.Refs) != 1 || stats.Refs[0].Ref.Name != "main" || stats.Refs[0].New != c2.ID || !stats.Refs[0].Old.IsZero() {
		t.Errorf("pull after fetch: %+v", stats)
	}
	if d := cmp.Diff([]string{"first", "second"}, rmtMessages(t, bob, "flights")); d != "" {
		t.Errorf("bob's log (-want +got):\n%s", d)
	}
	got, err := bob.ReadCommit(ctx, c2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(c2, got); d != "" {
		t.Errorf("fetched commit (-want +got):\n%s", d)
	}
	rmtCheck(t, bob)

	// bob commits one changed file; only it, its tree and commit travel.
	c3 := rmtCommit(t, bob, "flights", "main", c2.ID, map[string]string{"c.csv": "c,33\n"}, "third")
	stats, err = bob.Push(ctx, rmB, "flights")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Commits != 1 || stats.Blobs != 3 {
		t.Errorf("incremental push: %d commits, %d blobs; want 1, 3", stats.Commits, stats.Blobs)
	}
	wantUpdates = []RefUpdate{{Ref: Ref{Dataset: "flights", Kind: BranchRef, Name: "main", Commit: c3.ID}, Old: c2.ID, New: c3.ID}}
	if d := cmp.Diff(wantUpdates, stats.Refs); d != "" {
		t.Errorf("incremental push: ref updates (-want +got):\n%s", d)
	}
	// The remote-tracking branch is not pushed as a branch.
	if refs := rmtRemoteRefs(t, rmB, "flights"); len(refs) != 2 {
		t.Errorf("remote refs %v, want main and v1", refs)
	}

	stats, err = alice.Pull(ctx, rmA, "flights", "main")
	if err != nil {
		t.Fatal(err)
	}
	if stats.Commits != 1 || stats.Blobs != 3 {
		t.Errorf("incremental pull: %d commits, %d blobs; want 1, 3", stats.Commits, stats.Blobs)
	}
	if h := rmtHead(t, alice, "flights", "main"); h != c3.ID {
		t.Errorf("alice's main at %s after pull, want %s", h, c3.ID)
	}
	if got := rmtRead(t, alice, "flights", "c.csv"); got != "c,33\n" {
		t.Errorf("alice reads %q", got)
	}
	// Pulling again changes nothing; a local head ahead of the remote stays.
	c4 := rmtCommit(t, alice, "flights", "main", c3.ID, map[string]string{"d.csv": "d\n"}, "fourth")
	stats, err = alice.Pull(ctx, rmA, "flights", "main")
	if err != nil || len(stats.Refs) != 0 {
		t.Errorf("pull while ahead: %+v, %v", stats, err)
	}
	if h := rmtHead(t, alice, "flights", "main"); h != c4.ID {
		t.Errorf("alice's main moved to %s by a pull while ahead", h)
	}
	rmtCheck(t, alice)

	ds, err := rmB.Datasets(ctx)
	if err != nil || !slices.Equal(ds, []string{"flights"}) {
		t.Errorf("Datasets = %v, %v", ds, err)
	}
}

// testConcurrentPushers: two repositories commit diverging changes and
// push them to one branch at the same moment, round after round. Exactly
// one wins each round; the loser fetches, rebuilds its change on the
// winner's head and pushes again. In the end the branch holds every
// change.
func testConcurrentPushers(t *testing.T, place rmtPlace, rounds int) {
	ctx := context.Background()
	repos := []*Repository{rmtOpen(t, "alice"), rmtOpen(t, "bob")}
	remotes := []*Remote{rmtRemote(t, place.open(t), RemoteOptions{}), rmtRemote(t, place.open(t), RemoteOptions{})}
	base := rmtCommit(t, repos[0], "ds", "main", store.Digest{}, map[string]string{"base": "0"}, "base")
	if _, err := repos[0].Push(ctx, remotes[0], "ds"); err != nil {
		t.Fatal(err)
	}
	if _, err := repos[1].Pull(ctx, remotes[1], "ds", "main"); err != nil {
		t.Fatal(err)
	}
	want := []string{"base"}
	var made []store.Digest // the commits that won
	made = append(made, base.ID)
	for round := range rounds {
		commits := make([]Commit, 2)
		for i, r := range repos {
			file := fmt.Sprintf("%s-%02d", r.author, round)
			commits[i] = rmtCommit(t, r, "ds", "main", rmtHead(t, r, "ds", "main"), map[string]string{file: file}, file)
			want = append(want, file)
		}
		var (
			errs  [2]error
			start = make(chan struct{})
			wg    sync.WaitGroup
		)
		for i := range repos {
			wg.Go(func() {
				<-start
				_, errs[i] = repos[i].Push(ctx, remotes[i], "ds", "main")
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both pushes won", round)
				}
				winner = i
			case !errors.Is(err, ErrConflict):
				t.Fatalf("round %d: push of %s: %v, want ErrConflict or success", round, repos[i].author, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both pushes lost: %v", round, errs)
		}
		made = append(made, commits[winner].ID)
		loser := 1 - winner
		r, rm := repos[loser], remotes[loser]
		if h := rmtRemoteRefs(t, rm, "ds")["heads/main"]; h != commits[winner].ID {
			t.Fatalf("round %d: remote main at %s, want the winner's %s", round, h, commits[winner].ID)
		}

		// The loser cannot pull (diverged): it rebuilds its change on the
		// remote's head and pushes.
		if _, err := r.Pull(ctx, rm, "ds", "main"); !errors.Is(err, ErrConflict) {
			t.Fatalf("round %d: pull of the loser: %v, want ErrConflict", round, err)
		}
		theirs := rmtHead(t, r, "ds", rm.Name()+"/main")
		if theirs != commits[winner].ID {
			t.Fatalf("round %d: origin/main at %s after fetch, want %s", round, theirs, commits[winner].ID)
		}
		file := fmt.Sprintf("%s-%02d", r.author, round)
		if err := r.SetBranch(ctx, "ds", "main", commits[loser].ID, theirs); err != nil {
			t.Fatal(err)
		}
		rebased := rmtCommit(t, r, "ds", "main", theirs, map[string]string{file: file}, file)
		if _, err := r.Push(ctx, rm, "ds"); err != nil {
			t.Fatalf("round %d: push after rebase: %v", round, err)
		}
		made = append(made, rebased.ID)
		if _, err := repos[winner].Pull(ctx, remotes[winner], "ds", "main"); err != nil {
			t.Fatalf("round %d: pull of the winner: %v", round, err)
		}
	}

	// A third repository gets it all.
	carol := rmtOpen(t, "carol")
	rm := rmtRemote(t, place.open(t), RemoteOptions{Name: "shared"})
	if _, err := carol.Pull(ctx, rm, "ds", "main"); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if d := cmp.Diff(want, rmtMessages(t, carol, "ds")); d != "" {
		t.Errorf("history on the remote (-want +got):\n%s", d)
	}
	history := map[store.Digest]bool{}
	for c, err := range carol.Log(ctx, "ds") {
		if err != nil {
			t.Fatal(err)
		}
		history[c.ID] = true
	}
	for _, id := range made {
		if !history[id] {
			t.Errorf("pushed commit %s is not in the remote's history", id)
		}
	}
	c, err := carol.Resolve(ctx, "ds")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := carol.Tree(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree) != 2*rounds+1 {
		t.Errorf("final tree has %d files, want %d", len(tree), 2*rounds+1)
	}
	rmtCheck(t, carol)
}

// testManyPushers: n repositories each make k commits and push each,
// fetching and rebuilding on the remote's head whenever they lose; no
// commit is lost.
func testManyPushers(t *testing.T, place rmtPlace, n, k int) {
	ctx := context.Background()
	var (
		mu     sync.Mutex
		want   []string
		losses atomic.Int64
		wg     sync.WaitGroup
	)
	repos := make([]*Repository, n)
	remotes := make([]*Remote, n)
	for i := range n {
		repos[i] = rmtOpen(t, fmt.Sprintf("user%d", i))
		remotes[i] = rmtRemote(t, place.open(t), RemoteOptions{})
	}
	errc := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			r, rm := repos[i], remotes[i]
			for j := range k {
				file := fmt.Sprintf("%s-%d", r.author, j)
				for attempt := 0; ; attempt++ {
					if attempt > 100 {
						errc <- fmt.Errorf("%s: too many attempts", file)
						return
					}
					// Build on the remote's head (if any).
					_, err := r.Fetch(ctx, rm, "ds")
					if err != nil && !errors.Is(err, ErrNotFound) {
						errc <- err
						return
					}
					parent, err := r.head("ds", rm.Name()+"/main")
					if err != nil {
						errc <- err
						return
					}
					head, err := r.head("ds", "main")
					if err != nil {
						errc <- err
						return
					}
					if head != parent {
						if err := r.SetBranch(ctx, "ds", "main", head, parent); err != nil {
							errc <- err
							return
						}
					}
					var entries []Entry
					if !parent.IsZero() {
						pc, err := r.ReadCommit(ctx, parent)
						if err == nil {
							entries, err = r.Tree(ctx, pc)
						}
						if err != nil {
							errc <- err
							return
						}
					}
					d, err := r.Store().Put(ctx, strings.NewReader(file))
					if err != nil {
						errc <- err
						return
					}
					entries = append(entries, Entry{Path: file, Digest: d, Size: int64(len(file))})
					if _, err := r.CommitEntries(ctx, "ds", entries, CommitOptions{Parent: parent, Message: file}); err != nil {
						errc <- err
						return
					}
					_, err = r.Push(ctx, rm, "ds", "main")
					if err == nil {
						break
					}
					if !errors.Is(err, ErrConflict) {
						errc <- err
						return
					}
					losses.Add(1)
				}
				mu.Lock()
				want = append(want, file)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	t.Logf("%d pushes lost a race and were retried", losses.Load())
	last := rmtOpen(t, "last")
	if _, err := last.Pull(ctx, rmtRemote(t, place.open(t), RemoteOptions{}), "ds", "main"); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if d := cmp.Diff(want, rmtMessages(t, last, "ds")); d != "" {
		t.Errorf("history on the remote (-want +got):\n%s", d)
	}
	rmtCheck(t, last)
}

func TestRemoteNotFastForward(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	rm := rmtRemote(t, m, RemoteOptions{})
	ca := rmtCommit(t, alice, "ds", "main", store.Digest{}, map[string]string{"x": "alice"}, "alice")
	if _, err := alice.Push(ctx, rm, "ds"); err != nil {
		t.Fatal(err)
	}
	// bob never fetched: his main does not descend from the remote's.
	cb := rmtCommit(t, bob, "ds", "main", store.Digest{}, map[string]string{"x": "bob"}, "bob")
	stats, err := bob.Push(ctx, rm, "ds")
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("push of an unrelated history: %v, want ErrConflict", err)
	}
	if stats.Blobs != 0 || len(stats.Refs) != 0 {
		t.Errorf("refused push sent %+v", stats)
	}
	if h := rmtRemoteRefs(t, rm, "ds")["heads/main"]; h != ca.ID {
		t.Errorf("remote main moved to %s", h)
	}
	// Nor can he pull.
	if _, err := bob.Pull(ctx, rm, "ds", "main"); !errors.Is(err, ErrConflict) {
		t.Errorf("pull into a diverged branch: %v, want ErrConflict", err)
	}
	if h := rmtHead(t, bob, "ds", "main"); h != cb.ID {
		t.Errorf("bob's main moved to %s", h)
	}
	// He can push his branch under another name, though.
	if err := bob.SetBranch(ctx, "ds", "bob", store.Digest{}, cb.ID); err != nil {
		t.Fatal(err)
	}
	stats, err = bob.Push(ctx, rm, "ds", "bob")
	if err != nil || len(stats.Refs) != 1 {
		t.Errorf("push of a new branch: %+v, %v", stats, err)
	}
	// Pushing all pushes what can be pushed and reports the rest.
	cb2 := rmtCommit(t, bob, "ds", "bob", cb.ID, map[string]string{"y": "bob"}, "bob 2")
	stats, err = bob.Push(ctx, rm, "ds")
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), `branch "main"`) {
		t.Errorf("push of all: %v, want ErrConflict naming main", err)
	}
	if len(stats.Refs) != 1 || stats.Refs[0].New != cb2.ID || stats.Refs[0].Old != cb.ID {
		t.Errorf("push of all: %+v", stats.Refs)
	}
	// Unknown refs.
	if _, err := bob.Push(ctx, rm, "ds", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("push of a missing branch: %v, want ErrNotFound", err)
	}
	if _, err := bob.Push(ctx, rm, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("push of a missing dataset: %v, want ErrNotFound", err)
	}
	if _, err := bob.Fetch(ctx, rm, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("fetch of a dataset the remote lacks: %v, want ErrNotFound", err)
	}
	if _, err := bob.Pull(ctx, rm, "ds", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("pull of a branch the remote lacks: %v, want ErrNotFound", err)
	}
	if _, err := bob.Push(ctx, rm, "bad//name"); !errors.Is(err, ErrBadName) {
		t.Errorf("push of a bad name: %v, want ErrBadName", err)
	}
}

// TestRemoteRaceLost: the remote's branch moves between Push's check and
// its conditional write. A move that keeps the push a fast-forward is
// retried; one that does not is a conflict.
func TestRemoteRaceLost(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	alice := rmtOpen(t, "alice")
	rm := rmtRemote(t, m, RemoteOptions{})
	c1 := rmtCommit(t, alice, "ds", "main", store.Digest{}, map[string]string{"x": "1"}, "1")
	c2 := rmtCommit(t, alice, "ds", "main", c1.ID, map[string]string{"x": "2"}, "2")
	c3 := rmtCommit(t, alice, "ds", "main", c2.ID, map[string]string{"x": "3"}, "3")
	if _, err := alice.Push(ctx, rm, "ds"); err != nil {
		t.Fatal(err)
	}
	obj := remoteRefName("ds", BranchRef, "main")
	set := func(d store.Digest) string {
		t.Helper()
		_, tag, err := rm.refs.Load(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		tag, err = rm.refs.Swap(ctx, obj, encodeRemoteRef(d), tag)
		if err != nil {
			t.Fatal(err)
		}
		return tag
	}
	tag := set(c1.ID)
	// Someone moved it to c2 after we loaded c1: still a fast-forward.
	set(c2.ID)
	u, moved, err := alice.pushRef(ctx, rm, pushRef{ref: Ref{Dataset: "ds", Kind: BranchRef, Name: "main", Commit: c3.ID}, old: c1.ID, tag: tag})
	if err != nil || !moved || u.Old != c2.ID || u.New != c3.ID {
		t.Errorf("pushRef after a fast-forward move: %+v, %v, %v", u, moved, err)
	}
	// Someone moved it to a commit we do not have: a conflict.
	other := store.Sum([]byte("someone else's commit"))
	tag = set(c1.ID)
	set(other)
	_, _, err = alice.pushRef(ctx, rm, pushRef{ref: Ref{Dataset: "ds", Kind: BranchRef, Name: "main", Commit: c3.ID}, old: c1.ID, tag: tag})
	if !errors.Is(err, ErrConflict) {
		t.Errorf("pushRef after a diverging move: %v, want ErrConflict", err)
	}
	if d, _, _ := rm.loadRef(ctx, "ds", BranchRef, "main"); d != other {
		t.Errorf("remote main at %s, want it left at %s", d, other)
	}
	// Someone pushed the very commit: nothing to do.
	tag = set(c1.ID)
	set(c3.ID)
	_, moved, err = alice.pushRef(ctx, rm, pushRef{ref: Ref{Dataset: "ds", Kind: BranchRef, Name: "main", Commit: c3.ID}, old: c1.ID, tag: tag})
	if err != nil || moved {
		t.Errorf("pushRef of a commit pushed meanwhile: moved %v, %v", moved, err)
	}
}

func TestRemoteTags(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	rm := rmtRemote(t, m, RemoteOptions{})
	c1 := rmtCommit(t, alice, "ds", "main", store.Digest{}, map[string]string{"x": "1"}, "1")
	if err := alice.Tag(ctx, "ds", "v1", c1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Push(ctx, rm, "ds"); err != nil {
		t.Fatal(err)
	}
	// bob has a tag v1 of his own.
	b1 := rmtCommit(t, bob, "ds", "main", store.Digest{}, map[string]string{"x": "b"}, "b")
	if err := bob.Tag(ctx, "ds", "v1", b1.ID); err != nil {
		t.Fatal(err)
	}
	stats, err := bob.Fetch(ctx, rm, "ds")
	if !errors.Is(err, ErrConflict) {
		t.Errorf("fetch of a tag that differs: %v, want ErrConflict", err)
	}
	// The rest of the fetch went through.
	if h := rmtHead(t, bob, "ds", "origin/main"); h != c1.ID || len(stats.Refs) != 1 {
		t.Errorf("origin/main at %s, refs %+v", h, stats.Refs)
	}
	if c, err := bob.Resolve(ctx, "ds@v1"); err != nil || c.ID != b1.ID {
		t.Errorf("bob's v1 moved: %v, %v", c.ID, err)
	}
	// Pushing his v1 conflicts too, and leaves the remote's.
	if _, err := bob.Push(ctx, rm, "ds", "v1"); !errors.Is(err, ErrConflict) {
		t.Errorf("push of a tag that differs: %v, want ErrConflict", err)
	}
	if got := rmtRemoteRefs(t, rm, "ds")["tags/v1"]; got != c1.ID {
		t.Errorf("remote v1 at %s", got)
	}
	// A pull still moves the branch, and reports the tag.
	if err := bob.SetBranch(ctx, "ds", "main", b1.ID, store.Digest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Pull(ctx, rm, "ds", "main"); !errors.Is(err, ErrConflict) {
		t.Errorf("pull with a tag that differs: %v, want ErrConflict", err)
	}
	if h := rmtHead(t, bob, "ds", "main"); h != c1.ID {
		t.Errorf("bob's main at %s after pull, want %s", h, c1.ID)
	}
	// Fetching a tag the repository has on the same commit is fine.
	carol := rmtOpen(t, "carol")
	if _, err := carol.Fetch(ctx, rm, "ds"); err != nil {
		t.Fatal(err)
	}
	stats, err = carol.Fetch(ctx, rm, "ds")
	if err != nil || len(stats.Refs) != 0 || stats.Blobs != 0 {
		t.Errorf("second fetch: %+v, %v; want nothing done", stats, err)
	}
}

func TestRemoteCorruptRef(t *testing.T) { testCorruptRef(t, rmtMemory()) }

func testCorruptRef(t *testing.T, place rmtPlace) {
	ctx := context.Background()
	b := place.open(t)
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	rm := rmtRemote(t, b, RemoteOptions{})
	rmtCommit(t, alice, "ds", "main", store.Digest{}, map[string]string{"x": "1"}, "1")
	if _, err := alice.Push(ctx, rm, "ds"); err != nil {
		t.Fatal(err)
	}
	for _, content := range []string{"garbage", "blake3:1234\n", store.Sum(nil).String(), "blake3:" + strings.Repeat("0", 64) + "\n", ""} {
		if err := b.Put(ctx, "refs/ds@heads/main", strings.NewReader(content), int64(len(content))); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.Fetch(ctx, rm, "ds"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("fetch of ref %q: %v, want ErrCorrupt", content, err)
		}
		if _, err := alice.Push(ctx, rm, "ds"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("push with ref %q: %v, want ErrCorrupt", content, err)
		}
		if _, err := rm.Refs(ctx, "ds"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Refs with ref %q: %v, want ErrCorrupt", content, err)
		}
	}
	// A ref to a commit the remote does not have.
	missing := store.Sum([]byte("no such commit"))
	content := missing.String() + "\n"
	if err := b.Put(ctx, "refs/ds@heads/main", strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Fetch(ctx, rm, "ds"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), missing.String()) {
		t.Errorf("fetch of a ref to a missing commit: %v, want ErrCorrupt naming it", err)
	}
	if refs, err := bob.Refs(ctx, "ds"); err != nil || len(refs) != 0 {
		t.Errorf("failed fetches left refs %v, %v", refs, err)
	}
	// A stray object among the refs.
	if err := b.Put(ctx, "refs/stray", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := rm.Datasets(ctx); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Datasets with a stray object: %v, want ErrCorrupt", err)
	}
}

// TestRemoteMissingObjects: a remote ref whose commit is there but not
// all it reaches, or whose commit is of another dataset, is corrupt, and a
// fetch of it changes no ref.
func TestRemoteMissingObjects(t *testing.T) {
	ctx := context.Background()
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	c := rmtCommit(t, alice, "ds", "main", store.Digest{}, map[string]string{"x": "1", "y": "2"}, "1")
	other := rmtCommit(t, alice, "other", "main", store.Digest{}, map[string]string{"z": "3"}, "other")
	m := store.NewMemory()
	rm := rmtRemote(t, m, RemoteOptions{})
	// Only the commit and tree blobs reach the remote.
	for _, d := range []store.Digest{c.ID, c.Tree, other.ID, other.Tree} {
		rc, err := alice.Store().Get(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rm.Store().Put(ctx, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	if _, err := rm.refs.Swap(ctx, remoteRefName("ds", BranchRef, "main"), encodeRemoteRef(c.ID), ""); err != nil {
		t.Fatal(err)
	}
	_, err := bob.Fetch(ctx, rm, "ds")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `entry "x"`) && !strings.Contains(err.Error(), `entry "y"`) {
		t.Errorf("fetch with missing files: %v, want ErrCorrupt naming an entry", err)
	}
	if _, err := rm.refs.Swap(ctx, remoteRefName("ds", BranchRef, "wrong"), encodeRemoteRef(other.ID), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Fetch(ctx, rm, "ds"); !errors.Is(err, ErrCorrupt) {
		t.Errorf("fetch of a ref to another dataset's commit: %v, want ErrCorrupt", err)
	}
	if refs, err := bob.Refs(ctx, "ds"); err != nil || len(refs) != 0 {
		t.Errorf("failed fetches left refs %v, %v", refs, err)
	}
	rmtCheck(t, bob)
}

// failingBackend fails every Put after the first ok ones.
type failingBackend struct {
	*store.Memory
	ok atomic.Int64
}

func (f *failingBackend) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if f.ok.Add(-1) < 0 {
		return errors.New("injected failure")
	}
	return f.Memory.Put(ctx, name, r, size)
}

// TestRemoteFailedPush: a push whose objects cannot all be written moves
// no ref; pushing again once the remote works completes it.
func TestRemoteFailedPush(t *testing.T) {
	ctx := context.Background()
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("f%02d", i)] = strings.Repeat(fmt.Sprint(i), 1000)
	}
	rmtCommit(t, alice, "ds", "main", store.Digest{}, files, "many files")
	fb := &failingBackend{Memory: store.NewMemory()}
	fb.ok.Store(1) // the store's config
	rm := rmtRemote(t, fb, RemoteOptions{})
	if _, err := alice.Push(ctx, rm, "ds"); err == nil {
		t.Fatal("push through a failing backend succeeded")
	}
	if refs := rmtRemoteRefs(t, rm, "ds"); len(refs) != 0 {
		t.Fatalf("failed push moved refs: %v", refs)
	}
	fb.ok.Store(1 << 40)
	rm2 := rmtRemote(t, fb, RemoteOptions{})
	if _, err := alice.Push(ctx, rm2, "ds"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Pull(ctx, rm2, "ds", "main"); err != nil {
		t.Fatal(err)
	}
	if got := rmtRead(t, bob, "ds", "f07"); got != files["f07"] {
		t.Errorf("bob reads %.20q…", got)
	}
	rmtCheck(t, bob)
}

// plainBackend hides the Swapper methods of a backend.
type plainBackend struct{ store.Backend }

func TestNewRemoteErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewRemote(ctx, plainBackend{store.NewMemory()}, RemoteOptions{}); err == nil || !strings.Contains(err.Error(), "Swapper") {
		t.Errorf("NewRemote on a plain Backend: %v", err)
	}
	if _, err := NewRemote(ctx, store.NewMemory(), RemoteOptions{Name: "../up"}); !errors.Is(err, ErrBadName) {
		t.Errorf("NewRemote with a bad name: %v, want ErrBadName", err)
	}
	// A remote chunking otherwise than the repository.
	m := store.NewMemory()
	odd := store.ChunkerParams{Min: 64 << 10, Avg: 256 << 10, Max: 1 << 20}
	if odd == store.DefaultChunkerParams {
		t.Fatal("pick other parameters")
	}
	rm := rmtRemote(t, m, RemoteOptions{Store: store.Options{Chunker: odd}})
	if rm.Name() != "origin" {
		t.Errorf("default name %q", rm.Name())
	}
	alice := rmtOpen(t, "alice")
	rmtCommit(t, alice, "ds", "main", store.Digest{}, map[string]string{"x": "1"}, "1")
	if _, err := alice.Push(ctx, rm, "ds"); !errors.Is(err, store.ErrConfig) {
		t.Errorf("push to a remote with other chunking: %v, want store.ErrConfig", err)
	}
	if _, err := alice.Fetch(ctx, rm, "ds"); !errors.Is(err, store.ErrConfig) {
		t.Errorf("fetch from a remote with other chunking: %v, want store.ErrConfig", err)
	}
	// Reopened with other options: refused by the store.
	if _, err := NewRemote(ctx, m, RemoteOptions{Store: store.Options{Chunker: store.DefaultChunkerParams}}); !errors.Is(err, store.ErrConfig) {
		t.Errorf("NewRemote with other chunking than the remote's: %v, want store.ErrConfig", err)
	}
	// Closed.
	rm2, err := NewRemote(ctx, store.NewMemory(), RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rm2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rm2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := alice.Push(ctx, rm2, "ds"); !errors.Is(err, ErrClosed) {
		t.Errorf("push to a closed remote: %v, want ErrClosed", err)
	}
	if _, err := rm2.Refs(ctx, "ds"); !errors.Is(err, ErrClosed) {
		t.Errorf("Refs of a closed remote: %v, want ErrClosed", err)
	}
}

// TestRemoteLayout: refs are objects under refs/ holding the commit's
// digest, one per ref even for datasets whose names nest, and the data is
// a store under objects/.
func TestRemoteLayout(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	rm := rmtRemote(t, m, RemoteOptions{})
	alice := rmtOpen(t, "alice")
	// Names that a "<dataset>/heads/<branch>" layout would mix up.
	a := rmtCommit(t, alice, "x", "heads/main", store.Digest{}, map[string]string{"f": "a"}, "a")
	b := rmtCommit(t, alice, "x/heads", "main", store.Digest{}, map[string]string{"f": "b"}, "b")
	for _, ds := range []string{"x", "x/heads"} {
		if _, err := alice.Push(ctx, rm, ds); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]store.Digest{"refs/x@heads/heads/main": a.ID, "refs/x/heads@heads/main": b.ID} {
		data, _, err := m.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != want.String()+"\n" {
			t.Errorf("%s holds %q, want %s", name, data, want)
		}
	}
	if d := cmp.Diff(map[string]store.Digest{"heads/heads/main": a.ID}, rmtRemoteRefs(t, rm, "x")); d != "" {
		t.Errorf("refs of x (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]store.Digest{"heads/main": b.ID}, rmtRemoteRefs(t, rm, "x/heads")); d != "" {
		t.Errorf("refs of x/heads (-want +got):\n%s", d)
	}
	ds, err := rm.Datasets(ctx)
	if err != nil || !slices.Equal(ds, []string{"x", "x/heads"}) {
		t.Errorf("Datasets = %v, %v", ds, err)
	}
	if _, err := m.Stat(ctx, "objects/config"); err != nil {
		t.Errorf("no store under objects/: %v", err)
	}
	// A second repository gets both, each whole.
	bob := rmtOpen(t, "bob")
	for _, ds := range []string{"x", "x/heads"} {
		if _, err := bob.Fetch(ctx, rm, ds); err != nil {
			t.Fatal(err)
		}
	}
	if got := rmtRead(t, bob, "x@origin/heads/main", "f"); got != "a" {
		t.Errorf("x@origin/heads/main:f = %q", got)
	}
	if got := rmtRead(t, bob, "x/heads@origin/main", "f"); got != "b" {
		t.Errorf("x/heads@origin/main:f = %q", got)
	}
}

// TestRemoteSharedBlobs: blobs that the remote has from another dataset
// are not sent again, and a push of a large blob is verified end to end.
func TestRemoteSharedBlobs(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	rm := rmtRemote(t, m, RemoteOptions{})
	alice, bob := rmtOpen(t, "alice"), rmtOpen(t, "bob")
	big := strings.Repeat("0123456789abcdef", 200_000) // 3.2 MB, several chunks
	rmtCommit(t, alice, "one", "main", store.Digest{}, map[string]string{"big": big}, "one")
	rmtCommit(t, alice, "two", "main", store.Digest{}, map[string]string{"big": big, "small": "s"}, "two")
	st1, err := alice.Push(ctx, rm, "one")
	if err != nil {
		t.Fatal(err)
	}
	if st1.Blobs != 3 || st1.Bytes < int64(len(big)) {
		t.Errorf("push of one: %+v", st1)
	}
	st2, err := alice.Push(ctx, rm, "two")
	if err != nil {
		t.Fatal(err)
	}
	if st2.Blobs != 3 || st2.Bytes > 10_000 { // commit, tree, small
		t.Errorf("push of two: %d blobs, %d bytes; want 3 small ones", st2.Blobs, st2.Bytes)
	}
	if _, err := bob.Pull(ctx, rm, "one", "main"); err != nil {
		t.Fatal(err)
	}
	st3, err := bob.Pull(ctx, rm, "two", "main")
	if err != nil {
		t.Fatal(err)
	}
	if st3.Blobs != 3 || st3.Bytes > 10_000 {
		t.Errorf("pull of two: %d blobs, %d bytes; want 3 small ones", st3.Blobs, st3.Bytes)
	}
	if got := rmtRead(t, bob, "two", "big"); got != big {
		t.Error("big file differs after the round trip")
	}
	rmtCheck(t, bob)
}
