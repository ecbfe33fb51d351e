// Package version versions datasets and models, and tracks the runs that
// produce them, in a repository embedded in the program: Git's model
// applied to data, with an MLflow-like model registry and experiment
// tracking, and no server to deploy.
//
// # Repositories
//
// A [Repository] lives in one folder: metadata (refs, reflogs, the
// registry, runs, a stat cache) in an embedded Badger database that syncs
// every commit and ref update to disk, and content in a [store.Store]
// (content-addressed, chunked, deduplicated, verified blobs). [Open] creates
// the folder if needed. One process at a time has a repository open; a
// second one waits up to [Options.LockTimeout] and then fails with
// [ErrLocked]. Within a process a Repository is safe for any number of
// goroutines.
//
// # Datasets, commits and refs
//
// A dataset is a named history of commits. A [Commit] is an immutable
// snapshot: a tree of [Entry] values (path, content digest, size, mode,
// and for Parquet files a [TableInfo] with the schema, row count and
// column statistics), the commits it follows, a message, an author, a time
// and a metadata map. A commit's ID is the digest of its canonical
// encoding, so commits are hash-linked like Git's and cannot change.
//
// Branches and tags name commits. A branch moves by compare-and-swap
// ([Repository.SetBranch], or [CommitOptions.Parent] on a commit): a writer
// that lost a race gets [ErrConflict] and nothing changes; each move is
// recorded in the branch's [Repository.Reflog]. Tags never move. Commits are
// named by specs, "dataset[@ref][~N]": "flights" is the head of branch
// main, "flights@v1" a tag or branch, "flights@3fa4c2d1" a commit ID prefix,
// "flights@main~2" two commits before main's head (see
// [Repository.Resolve]). Names are checked by [ValidName] and entry paths by
// [ValidPath], which refuse path tricks and control bytes.
//
// # Committing and reading data
//
// [Repository.CommitFiles] commits files and folders from disk,
// [Repository.CommitTable] a pipeline source written as deterministic
// Parquet (the same data always gives the same digest), and
// [Repository.CommitEntries] a tree of blobs already in the store. A commit
// stores its content first and makes it durable, then moves the branch:
// a crash at any moment leaves the branch on a complete commit.
// [Repository.Log] lists history, [Repository.Tree] and
// [Repository.ReadFile] read a commit back, [Repository.Source] reads its
// tables as a pipeline source, [Repository.Checkout] writes it to a folder
// and [Repository.Diff] compares two commits, schemas and statistics
// included.
//
// [Repository.Status] compares a working folder with a commit. A stat cache
// (size, mtime, ctime and inode of each file when it was last hashed) lets
// it read only the files that may have changed: a folder of 100,000
// unchanged files is checked in well under a second.
//
// # Models, runs and lineage
//
// The model registry ([Repository.RegisterModel]) gives each registered
// model artifact a version 1, 2, 3… with its framework, parameters,
// metrics, the dataset commits it was trained on, the run that produced it
// and the code revision, and moves aliases ("churn@champion") atomically
// ([Repository.SetAlias], [Repository.ResolveModel]). Runs
// ([Repository.StartRun]) record parameters, metric series, tags and
// artifacts, as an experiment tracker does; lineage queries go from a
// model to its data and runs ([Repository.ModelLineage]) and from a
// dataset commit to the models trained on it
// ([Repository.ModelsTrainedOn]).
//
// # Remotes, garbage collection and checks
//
// [Repository.Push], [Repository.Pull] and [Repository.Fetch] exchange
// refs and the objects they reach with a remote on S3-compatible storage,
// where refs move by conditional writes so that two machines pushing to one
// branch never lose a commit. Garbage collection ([Repository.GC]) keeps
// everything reachable from refs, reflogs, the registry and runs, and
// removes the rest through the store's GC.
// [Repository.Check] verifies the store and every commit the refs reach.
package version
