package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// runVersion is the version suite: Status of an unchanged folder of many
// small files against `git status` of the same folder in a Git repository
// (the ratio); Status of a large folder with one file changed (how many
// files it re-hashes); and the bytes a commit of flights-3m in monthly
// Parquet partitions stores when one more partition is added.
func runVersion(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	files := fs.Int("files", 100_000, "small `files` in the status folder")
	bigFiles := fs.Int("big-files", 2000, "`files` of the large folder")
	bigText := fs.String("big-size", "2GiB", "total `size` of the large folder")
	runs := fs.Int("runs", 5, "timed `runs` of each side; the median counts")
	dir := fs.String("dir", "", "work `folder` (default: a new folder in the system temp dir, removed at the end)")
	flights := fs.String("parquet", defaultFlightsParquet(), "flights-3m Parquet `file` for the partition measure (\"\" skips it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bigSize, err := parseSize(*bigText)
	if err != nil {
		return err
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return fmt.Errorf("git not found (apt-get install -y git)")
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "kiln-bench-version-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}

	// 1. Status of an unchanged folder of small files, against git status.
	small := filepath.Join(work, "small")
	if err := writeSmallFiles(small, *files); err != nil {
		return err
	}
	repoDir := filepath.Join(work, "repo")
	os.RemoveAll(repoDir)
	repo, err := version.Open(ctx, repoDir, version.Options{})
	if err != nil {
		return err
	}
	defer repo.Close()
	start := time.Now()
	if _, err := repo.CommitFiles(ctx, "small", []string{small}, version.CommitOptions{Message: "small files"}); err != nil {
		return err
	}
	fmt.Printf("commit of %d small files: %.2f s\n", *files, time.Since(start).Seconds())
	// The Git repository lives beside the folder, not in it, so that both
	// sides look at the same files.
	gitEnv := append(os.Environ(), "GIT_DIR="+filepath.Join(work, "small.git"), "GIT_WORK_TREE="+small, "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=b@e", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=b@e")
	gitRun := func(args ...string) error {
		cmd := exec.CommandContext(ctx, git, args...)
		cmd.Dir = small
		cmd.Env = gitEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, a := range [][]string{{"init", "-q"}, {"add", "-A"}, {"commit", "-q", "-m", "small files"}} {
		if err := gitRun(a...); err != nil {
			return err
		}
	}
	if out, err := exec.CommandContext(ctx, git, "version").Output(); err == nil {
		fmt.Printf("peer: %s", out)
	}
	kilnStatus := func(ctx context.Context, run int) (time.Duration, error) {
		start := time.Now()
		rep, err := repo.Status(ctx, "small", small, version.StatusOptions{})
		if err != nil {
			return 0, err
		}
		el := time.Since(start)
		if !rep.Clean || rep.Files != *files {
			return 0, fmt.Errorf("status: clean %v, %d files (want %d), %d changes", rep.Clean, rep.Files, *files, len(rep.Changes))
		}
		if run > 0 && rep.Rehashed != 0 {
			return 0, fmt.Errorf("status of an unchanged folder re-hashed %d files", rep.Rehashed)
		}
		return el, nil
	}
	gitStatus := func(ctx context.Context, run int) (time.Duration, error) {
		cmd := exec.CommandContext(ctx, git, "status", "--porcelain")
		cmd.Dir = small
		cmd.Env = gitEnv
		start := time.Now()
		out, err := cmd.Output()
		el := time.Since(start)
		if err != nil {
			return 0, fmt.Errorf("git status: %w", err)
		}
		if len(out) != 0 {
			return 0, fmt.Errorf("git status is not clean: %.200s", out)
		}
		return el, nil
	}
	if _, err := kilnStatus(ctx, 0); err != nil { // warm: the first Status after a commit may hash racily clean files
		return err
	}
	if _, err := gitStatus(ctx, 0); err != nil {
		return err
	}
	t, err := alternate(ctx, *runs, 0, "git status", kilnStatus, gitStatus)
	if err != nil {
		return err
	}
	km, _ := median(t.kiln)
	pm, _ := median(t.peer)
	os.RemoveAll(filepath.Join(work, "small.git"))
	os.RemoveAll(small)

	// 2. A large folder with one file changed: only that file is re-hashed.
	big := filepath.Join(work, "big")
	per := bigSize / int64(*bigFiles)
	if err := os.MkdirAll(big, 0o755); err != nil {
		return err
	}
	for i := range *bigFiles {
		if err := writeRandomFile(filepath.Join(big, fmt.Sprintf("part-%05d.bin", i)), per, byte(i)); err != nil {
			return err
		}
	}
	start = time.Now()
	if _, err := repo.CommitFiles(ctx, "big", []string{big}, version.CommitOptions{Message: "big folder"}); err != nil {
		return err
	}
	fmt.Printf("commit of %d files, %d bytes: %.2f s\n", *bigFiles, per*int64(*bigFiles), time.Since(start).Seconds())
	time.Sleep(2100 * time.Millisecond) // past the racily-clean window of the commit's stat cache
	if _, err := repo.Status(ctx, "big", big, version.StatusOptions{}); err != nil {
		return err
	}
	changed := filepath.Join(big, fmt.Sprintf("part-%05d.bin", *bigFiles/2))
	if err := flipByte(changed, per/2); err != nil {
		return err
	}
	start = time.Now()
	rep, err := repo.Status(ctx, "big", big, version.StatusOptions{})
	if err != nil {
		return err
	}
	bigStatus := time.Since(start)
	fmt.Printf("status of %d files with one changed: %.3f s, %d changes, %d re-hashed\n", rep.Files, bigStatus.Seconds(), len(rep.Changes), rep.Rehashed)
	if len(rep.Changes) != 1 || rep.Rehashed != 1 {
		return fmt.Errorf("status found %d changes and re-hashed %d files, want 1 and 1", len(rep.Changes), rep.Rehashed)
	}
	os.RemoveAll(big)

	// 3. flights-3m in monthly Parquet partitions, then one more partition.
	var partRatio float64 = -1
	if *flights != "" {
		if partRatio, err = partitionDedup(ctx, work, *flights); err != nil {
			return err
		}
	}

	fmt.Printf("median of %d runs: kiln status %.3f s, git status %.3f s (%d files)\n", len(t.kiln), km.Seconds(), pm.Seconds(), *files)
	r := result{Suite: "version", Kiln: float64(*files) / km.Seconds(), Peer: float64(*files) / pm.Seconds(), PeerName: "git status", Unit: "files/s",
		Extra: []extra{{"status_s", km.Seconds()}, {"big_status_s", bigStatus.Seconds()}, {"big_rehashed", float64(rep.Rehashed)}, {"partition_ratio", partRatio}}}
	line, err := r.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// writeSmallFiles writes n small files of distinct content into folders of
// 1,000 files each.
func writeSmallFiles(dir string, n int) error {
	os.RemoveAll(dir)
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		content := fmt.Sprintf("record %d: the quick brown fox jumps over the lazy dog\n", i)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d.txt", i)), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// flipByte inverts the byte at off of the file at path, keeping its size.
func flipByte(path string, off int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	b[0] ^= 0xff
	_, err = f.WriteAt(b, off)
	return err
}

// partitionDedup writes flights as monthly Parquet partitions, commits
// January–May as a folder, then the folder with June added, and returns the
// store bytes the second commit added over June's file size. (flights-3m
// holds January–June 2001 and six rows of July: the six-then-seven split is
// reported too, but July's partition is too small for a meaningful ratio.)
func partitionDedup(ctx context.Context, work, parquetPath string) (float64, error) {
	parts := filepath.Join(work, "partitions")
	os.RemoveAll(parts)
	if err := os.MkdirAll(parts, 0o755); err != nil {
		return 0, err
	}
	bounds := []string{"2001-01-01", "2001-02-01", "2001-03-01", "2001-04-01", "2001-05-01", "2001-06-01", "2001-07-01", "2001-08-01"}
	var sizes []int64
	for m := 0; m+1 < len(bounds); m++ {
		out := filepath.Join(work, fmt.Sprintf("month=%02d.parquet", m+1))
		p := pipeline.New(pipeline.Parquet(parquetPath, pipeline.ParquetOptions{}),
			pipeline.Filter(pipeline.Col("date").Ge(bounds[m])), pipeline.Filter(pipeline.Col("date").Lt(bounds[m+1])))
		if _, err := p.Run(ctx, pipeline.ToParquet(out, pipeline.ParquetWriteOptions{}), pipeline.RunOptions{}); err != nil {
			return 0, fmt.Errorf("partition %d: %w", m+1, err)
		}
		n, err := fileSize(out)
		if err != nil {
			return 0, err
		}
		sizes = append(sizes, n)
	}
	repoDir := filepath.Join(work, "repo-partitions")
	os.RemoveAll(repoDir)
	defer os.RemoveAll(repoDir)
	repo, err := version.Open(ctx, repoDir, version.Options{})
	if err != nil {
		return 0, err
	}
	defer repo.Close()
	objects, err := store.NewFS(filepath.Join(repoDir, "objects"))
	if err != nil {
		return 0, err
	}
	commitMonths := func(n int) (int64, error) {
		for m := range n {
			name := fmt.Sprintf("month=%02d.parquet", m+1)
			if err := os.Rename(filepath.Join(work, name), filepath.Join(parts, name)); err != nil && !os.IsNotExist(err) {
				return 0, err
			}
		}
		if _, err := repo.CommitFiles(ctx, "flights", []string{parts}, version.CommitOptions{Message: fmt.Sprintf("%d months", n)}); err != nil {
			return 0, err
		}
		return repoBytes(ctx, objects)
	}
	var stored []int64
	for _, n := range []int{5, 6, 7} {
		b, err := commitMonths(n)
		if err != nil {
			return 0, err
		}
		stored = append(stored, b)
	}
	june := float64(stored[1]-stored[0]) / float64(sizes[5])
	july := float64(stored[2]-stored[1]) / float64(sizes[6])
	fmt.Printf("flights partitions: Jan–May then + June (%d bytes): stored %d bytes, %.4f× June's file\n", sizes[5], stored[1]-stored[0], june)
	fmt.Printf("flights partitions: six months then + July (%d bytes, 6 rows): stored %d bytes, %.2f× July's file\n", sizes[6], stored[2]-stored[1], july)
	return june, nil
}
