package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
)

// runStore is the store suite: Put of a generated file into a fresh
// filesystem store against `restic backup` of the same file into a fresh
// local restic repository (the ratio), and against `b3sum` hashing it; Get
// with verification; and the dedup figures of the store's acceptance
// criteria.
func runStore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("store", flag.ContinueOnError)
	sizeText := fs.String("size", "1GiB", "`size` of the generated input (KiB, MiB, GiB suffixes)")
	runs := fs.Int("runs", 3, "timed `runs` of each side; the median counts")
	dir := fs.String("dir", "", "work `folder` (default: a new folder in the system temp dir, removed at the end)")
	flights := fs.String("parquet", defaultFlightsParquet(), "flights-3m Parquet `file` for the CSV dedup measure (\"\" skips it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	size, err := parseSize(*sizeText)
	if err != nil {
		return err
	}
	restic, err := exec.LookPath("restic")
	if err != nil {
		return fmt.Errorf("restic not found (%s)", installHint)
	}
	b3sum, err := exec.LookPath("b3sum")
	if err != nil {
		return fmt.Errorf("b3sum not found (%s)", installHint)
	}
	work := *dir
	if work == "" {
		if work, err = os.MkdirTemp("", "kiln-bench-store-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	input := filepath.Join(work, "input.bin")
	if err := writeRandomFile(input, size, 1); err != nil {
		return err
	}
	if err := warmCache(input); err != nil {
		return err
	}
	fmt.Printf("input %s: %d bytes (%.1f MB, random), GOMAXPROCS %d, %d CPUs\n", input, size, float64(size)/1e6, runtime.GOMAXPROCS(0), runtime.NumCPU())

	want, err := fileDigest(input)
	if err != nil {
		return err
	}
	lastRepo := filepath.Join(work, "kiln-last")
	kilnPut := func(ctx context.Context, run int) (time.Duration, error) {
		repo := filepath.Join(work, "kiln-"+strconv.Itoa(run))
		b, err := freshRepo(repo)
		if err != nil {
			return 0, err
		}
		s, err := store.Open(ctx, b, store.Options{})
		if err != nil {
			return 0, err
		}
		f, err := os.Open(input)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		start := time.Now()
		d, err := s.Put(ctx, f)
		if err != nil {
			return 0, err
		}
		if err := s.Close(); err != nil {
			return 0, err
		}
		el := time.Since(start)
		if d != want {
			return 0, fmt.Errorf("Put returned %s, want %s", d, want)
		}
		os.RemoveAll(lastRepo)
		return el, os.Rename(repo, lastRepo)
	}
	resticBackup := func(ctx context.Context, run int) (time.Duration, error) {
		repo := filepath.Join(work, "restic-"+strconv.Itoa(run))
		defer os.RemoveAll(repo)
		os.RemoveAll(repo)
		env := append(os.Environ(), "RESTIC_PASSWORD=kiln-bench", "RESTIC_REPOSITORY="+repo, "RESTIC_CACHE_DIR="+filepath.Join(work, "restic-cache"))
		init := exec.CommandContext(ctx, restic, "init", "--quiet")
		init.Env = env
		if out, err := init.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("restic init: %v\n%s", err, out)
		}
		cmd := exec.CommandContext(ctx, restic, "backup", "--quiet", input)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("restic backup: %v\n%s", err, out)
		}
		return time.Since(start), nil
	}
	if out, err := exec.CommandContext(ctx, restic, "version").Output(); err == nil {
		fmt.Printf("peer: %s", out)
	}
	t, err := alternate(ctx, *runs, size, "restic", kilnPut, resticBackup)
	if err != nil {
		return err
	}

	// b3sum: hashing only, all cores.
	var b3 []time.Duration
	for range *runs {
		start := time.Now()
		out, err := exec.CommandContext(ctx, b3sum, "--no-names", input).Output()
		if err != nil {
			return fmt.Errorf("b3sum: %w", err)
		}
		b3 = append(b3, time.Since(start))
		if got := "blake3:" + strings.TrimSpace(string(out)); got != want.String() {
			return fmt.Errorf("b3sum says %s, Kiln %s", got, want)
		}
	}
	b3m, _ := median(b3)
	fmt.Printf("b3sum: median %.3f s (%.1f MB/s), same digest as Put\n", b3m.Seconds(), speed(size, b3m))

	// Get with verification, from the last Put's repository.
	var gets []time.Duration
	for range *runs {
		d, err := timeGet(ctx, lastRepo, want, size)
		if err != nil {
			return err
		}
		gets = append(gets, d)
	}
	gm, _ := median(gets)
	fmt.Printf("Get (verified): median %.3f s (%.1f MB/s)\n", gm.Seconds(), speed(size, gm))

	edit, err := dedupEdits(ctx, work, input, size)
	if err != nil {
		return err
	}
	fmt.Printf("dedup, file + 1 MiB changed in the middle + 1 MiB inserted near the start: stored %.4f× the first file's bytes\n", edit)
	extras := []extra{}
	kilnSpeed, peerSpeed, err := t.speeds(size)
	if err != nil {
		return err
	}
	extras = append(extras,
		extra{"b3sum", speed(size, b3m)},
		extra{"ratio_b3sum", kilnSpeed / speed(size, b3m)},
		extra{"get_gbs", speed(size, gm) / 1000},
		extra{"put_gbs", kilnSpeed / 1000},
		extra{"dedup_edits_pct", (edit - 1) * 100},
	)
	if *flights != "" {
		csvRatio, err := dedupFlights(ctx, work, *flights)
		if err != nil {
			return err
		}
		fmt.Printf("dedup, flights CSV Jan–May then Jan–June: second Put stored %.4f× June's bytes\n", csvRatio)
		extras = append(extras, extra{"dedup_csv_pct", csvRatio * 100})
	}
	return finish(result{Suite: "store", Kiln: kilnSpeed, Peer: peerSpeed, PeerName: "restic", Unit: "MB/s", Extra: extras}, t)
}

// parseSize parses a byte count with an optional KiB, MiB or GiB suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// writeRandomFile writes size pseudo-random bytes from seed to path, unless
// it already holds exactly those.
func writeRandomFile(path string, size int64, seed byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := io.CopyN(w, randomReader(seed), size); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func randomReader(seed byte) io.Reader {
	return rand.NewChaCha8([32]byte{seed, 'k', 'i', 'l', 'n'})
}

func fileDigest(path string) (store.Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return store.Digest{}, err
	}
	defer f.Close()
	h := store.NewHasher()
	if _, err := io.Copy(h, f); err != nil {
		return store.Digest{}, err
	}
	return h.Sum(), nil
}

// freshRepo empties the folder dir and returns a filesystem backend on it.
func freshRepo(dir string) (*store.FS, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return store.NewFS(dir)
}

// timeGet reads d from the repository in dir through a verifying Get.
func timeGet(ctx context.Context, dir string, d store.Digest, size int64) (time.Duration, error) {
	b, err := store.NewFS(dir)
	if err != nil {
		return 0, err
	}
	s, err := store.Open(ctx, b, store.Options{})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	runtime.GC()
	start := time.Now()
	rc, err := s.Get(ctx, d)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("Get read %d bytes, want %d", n, size)
	}
	return time.Since(start), nil
}

// repoBytes is the total size of every object in the repository at dir.
func repoBytes(ctx context.Context, b store.Backend) (int64, error) {
	var n int64
	for oi, err := range b.List(ctx, "") {
		if err != nil {
			return 0, err
		}
		n += oi.Size
	}
	return n, nil
}

// dedupEdits puts the input, the input with 1 MiB changed in the middle,
// and the input with 1 MiB inserted near the start into a fresh store and
// returns the repository's total size over the input's.
func dedupEdits(ctx context.Context, work, input string, size int64) (float64, error) {
	repo := filepath.Join(work, "kiln-dedup")
	defer os.RemoveAll(repo)
	b, err := freshRepo(repo)
	if err != nil {
		return 0, err
	}
	s, err := store.Open(ctx, b, store.Options{})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	f, err := os.Open(input)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	const mib = 1 << 20
	patch := make([]byte, mib)
	io.ReadFull(randomReader(2), patch)
	insert := make([]byte, mib)
	io.ReadFull(randomReader(3), insert)
	mid := size / 2
	near := min(size/8, 3*mib+12345)
	variants := []struct {
		name string
		r    io.Reader
	}{
		{"original", io.NewSectionReader(f, 0, size)},
		{"1 MiB changed in the middle", io.MultiReader(io.NewSectionReader(f, 0, mid), bytes.NewReader(patch[:min(mib, size-mid)]), io.NewSectionReader(f, mid+mib, max(0, size-mid-mib)))},
		{"1 MiB inserted near the start", io.MultiReader(io.NewSectionReader(f, 0, near), bytes.NewReader(insert), io.NewSectionReader(f, near, size-near))},
	}
	var prev int64
	for _, v := range variants {
		if _, err := s.Put(ctx, v.r); err != nil {
			return 0, err
		}
		if err := s.Close(); err != nil {
			return 0, err
		}
		if s, err = store.Open(ctx, b, store.Options{}); err != nil {
			return 0, err
		}
		total, err := repoBytes(ctx, b)
		if err != nil {
			return 0, err
		}
		fmt.Printf("  %-30s repository %d bytes (+%d)\n", v.name, total, total-prev)
		prev = total
	}
	return float64(prev) / float64(size), nil
}

// dedupFlights exports flights as CSV for January–May and for
// January–June with Kiln's pipeline, puts both into a fresh store, and
// returns the bytes the second Put added over June's bytes.
func dedupFlights(ctx context.Context, work, parquetPath string) (float64, error) {
	export := func(name, before string) (string, int64, error) {
		out := filepath.Join(work, name)
		p := pipeline.New(pipeline.Parquet(parquetPath, pipeline.ParquetOptions{}),
			pipeline.Filter(pipeline.Col("date").Lt(before)))
		if _, err := p.Run(ctx, pipeline.ToCSV(out, pipeline.CSVWriteOptions{}), pipeline.RunOptions{}); err != nil {
			return "", 0, fmt.Errorf("export %s: %w", name, err)
		}
		n, err := fileSize(out)
		return out, n, err
	}
	may, mayN, err := export("flights-jan-may.csv", "2001-06-01")
	if err != nil {
		return 0, err
	}
	june, juneN, err := export("flights-jan-jun.csv", "2001-07-01")
	if err != nil {
		return 0, err
	}
	a, _ := os.ReadFile(may)
	bb, _ := os.ReadFile(june)
	if !bytes.HasPrefix(bb, a) {
		return 0, errors.New("the January–June CSV does not start with the January–May CSV")
	}
	a, bb = nil, nil
	fmt.Printf("  CSV Jan–May %d bytes, Jan–June %d bytes (June %d bytes)\n", mayN, juneN, juneN-mayN)
	repo := filepath.Join(work, "kiln-flights")
	defer os.RemoveAll(repo)
	b, err := freshRepo(repo)
	if err != nil {
		return 0, err
	}
	var sizes []int64
	for _, path := range []string{may, june} {
		s, err := store.Open(ctx, b, store.Options{})
		if err != nil {
			return 0, err
		}
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		_, err = s.Put(ctx, f)
		f.Close()
		if err == nil {
			err = s.Close()
		}
		if err != nil {
			return 0, err
		}
		n, err := repoBytes(ctx, b)
		if err != nil {
			return 0, err
		}
		sizes = append(sizes, n)
	}
	fmt.Printf("  repository after Jan–May %d bytes, after Jan–June %d bytes (+%d)\n", sizes[0], sizes[1], sizes[1]-sizes[0])
	return float64(sizes[1]-sizes[0]) / float64(juneN-mayN), nil
}
