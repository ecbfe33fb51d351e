package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kilnml/kiln/store"
	"github.com/kilnml/kiln/version"
)

// metaFlag collects repeated -meta K=V flags.
type metaFlag map[string]string

func (m metaFlag) String() string { return "" }

func (m metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	m[k] = v
	return nil
}

func cmdCommit(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("commit", "commit -name N -m MSG [-branch B] [-parent REF] [-author A] [-meta K=V]... PATH...")
	name := fs.String("name", "", "dataset name (required)")
	msg := fs.String("m", "", "commit message (required)")
	branch := fs.String("branch", "main", "branch to commit on")
	parent := fs.String("parent", "", "commit (REF of the dataset) the branch must still point at, else the commit fails with a conflict")
	author := fs.String("author", "", "author (default: $USER)")
	meta := metaFlag{}
	fs.Var(meta, "meta", "metadata `KEY=VALUE` (repeatable)")
	paths, err := fs.parse(args, 1, -1)
	if err != nil {
		return err
	}
	if *name == "" {
		return usagef("-name is required; usage: %s", fs.usage)
	}
	if *msg == "" {
		return usagef("-m is required; usage: %s", fs.usage)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return err
		}
	}
	if err := version.ValidName(*name); err != nil {
		return err
	}
	if err := version.ValidName(*branch); err != nil {
		return err
	}
	return a.withRepo(ctx, true, func(r *version.Repository) error {
		opts := version.CommitOptions{Branch: *branch, Message: *msg, Author: *author}
		if len(meta) > 0 {
			opts.Meta = meta
		}
		if *parent != "" {
			p, err := r.Resolve(ctx, *name+"@"+*parent)
			if err != nil {
				return fmt.Errorf("-parent: %w", err)
			}
			opts.Parent = p.ID
		}
		c, err := r.CommitFiles(ctx, *name, paths, opts)
		if err != nil {
			return err
		}
		tree, err := r.Tree(ctx, c)
		if err != nil {
			return err
		}
		var size int64
		for _, e := range tree {
			size += e.Size
		}
		if a.json {
			a.emit(commitResult{commitJSON: toCommitJSON(c), Branch: *branch, Files: len(tree), Bytes: size})
			return nil
		}
		a.printf("committed %s to %s@%s: %s, %s\n", c.ID, c.Dataset, *branch, count(len(tree), "file"), bytesText(size))
		return nil
	})
}

func cmdLog(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("log", "log [-n COUNT] N[@REF]")
	limit := fs.Int("n", 0, "list at most `COUNT` commits (0: all)")
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		n := 0
		for c, err := range r.Log(ctx, pos[0]) {
			if err != nil {
				return err
			}
			if a.json {
				a.emit(toCommitJSON(c))
			} else {
				if n > 0 {
					a.printf("\n")
				}
				printCommit(a, c)
			}
			if n++; *limit > 0 && n >= *limit {
				break
			}
		}
		return nil
	})
}

// printCommit prints a commit as git log does.
func printCommit(a *app, c version.Commit) {
	a.printf("commit %s\n", c.ID)
	if len(c.Parents) > 1 {
		short := make([]string, len(c.Parents))
		for i, p := range c.Parents {
			short[i] = shortID(p)
		}
		a.printf("Merge:  %s\n", strings.Join(short, " "))
	}
	a.printf("Author: %s\nDate:   %s\n", c.Author, c.Time.Local().Format("Mon Jan 2 15:04:05 2006 -0700"))
	for _, k := range sortedKeys(c.Meta) {
		a.printf("Meta:   %s=%s\n", k, c.Meta[k])
	}
	a.printf("\n")
	for line := range strings.SplitSeq(strings.TrimRight(c.Message, "\n"), "\n") {
		a.printf("    %s\n", line)
	}
}

func cmdCheckout(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("checkout", "checkout N[@REF] -out DIR [-force]")
	out := fs.String("out", "", "folder to write the files into (required)")
	force := fs.Bool("force", false, "overwrite files that differ from the commit's")
	pos, err := fs.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("-out is required; usage: %s", fs.usage)
	}
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		// Resolve first: a bad spec creates no folder.
		c, err := r.Resolve(ctx, pos[0])
		if err != nil {
			return err
		}
		created, err := firstMissing(*out)
		if err != nil {
			return err
		}
		st, err := r.Checkout(ctx, specOf(c), *out, version.CheckoutOptions{Force: *force})
		if err != nil {
			if created != "" {
				os.RemoveAll(created)
			}
			return err
		}
		if a.json {
			a.emit(checkoutJSON{Type: "checkout", Dataset: c.Dataset, Commit: c.ID.String(), Out: *out,
				Files: st.Files, Bytes: st.Bytes, Skipped: st.Skipped})
			return nil
		}
		a.printf("checked out %s (%s) into %s: %s written (%s), %d unchanged\n",
			pos[0], shortID(c.ID), *out, count(st.Files, "file"), bytesText(st.Bytes), st.Skipped)
		return nil
	})
}

// firstMissing returns the outermost folder of the path dir that does not
// exist yet ("" if dir exists): the one to remove to undo a MkdirAll(dir).
func firstMissing(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	missing := ""
	for p := abs; ; p = filepath.Dir(p) {
		_, err := os.Lstat(p)
		if err == nil {
			return missing, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		missing = p
		if filepath.Dir(p) == p {
			return missing, nil
		}
	}
}

// specOf is the spec naming exactly commit c.
func specOf(c version.Commit) string { return c.Dataset + "@" + c.ID.String() }

func cmdStatus(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("status", "status N[@REF] PATH")
	pos, err := fs.parse(args, 2, 2)
	if err != nil {
		return err
	}
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		c, err := r.Resolve(ctx, pos[0])
		if err != nil {
			return err
		}
		rep, err := r.Status(ctx, specOf(c), pos[1], version.StatusOptions{})
		if err != nil {
			return err
		}
		for _, ch := range rep.Changes {
			if a.json {
				a.emit(changeJSON{Type: "change", Path: ch.Path, Kind: string(ch.Kind), Old: toEntryJSON(ch.Old), New: toEntryJSON(ch.New)})
			} else {
				a.printf("%-9s %s\n", ch.Kind, ch.Path)
			}
		}
		if a.json {
			a.emit(statusJSON{Type: "status", Dataset: c.Dataset, Commit: c.ID.String(), Dir: pos[1],
				Files: rep.Files, Rehashed: rep.Rehashed, Changes: len(rep.Changes), Clean: rep.Clean})
			return nil
		}
		if rep.Clean {
			a.printf("clean: %s matches %s (%s); %s, %d read again\n", pos[1], pos[0], shortID(c.ID), count(rep.Files, "file"), rep.Rehashed)
		} else {
			a.printf("%s in %s against %s (%s); %s, %d read again\n", count(len(rep.Changes), "change"), pos[1], pos[0], shortID(c.ID), count(rep.Files, "file"), rep.Rehashed)
		}
		return nil
	})
}

func cmdDiff(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("diff", "diff N REF1 REF2")
	pos, err := fs.parse(args, 3, 3)
	if err != nil {
		return err
	}
	if err := version.ValidName(pos[0]); err != nil {
		return err
	}
	from, to := pos[0]+"@"+pos[1], pos[0]+"@"+pos[2]
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		rep, err := r.Diff(ctx, from, to)
		if err != nil {
			return err
		}
		counts := map[version.ChangeKind]int{}
		for _, d := range rep.Changes {
			counts[d.Kind]++
			if a.json {
				a.emit(toDiffChangeJSON(d))
			} else {
				printEntryDiff(a, d)
			}
		}
		if a.json {
			a.emit(diffJSON{Type: "diff", Dataset: pos[0], From: rep.From.ID.String(), To: rep.To.ID.String(),
				Changes: len(rep.Changes), Added: counts[version.Added], Removed: counts[version.Removed], Modified: counts[version.Modified]})
			return nil
		}
		a.printf("%s from %s (%s) to %s (%s): %d added, %d removed, %d modified\n",
			count(len(rep.Changes), "change"), from, shortID(rep.From.ID), to, shortID(rep.To.ID),
			counts[version.Added], counts[version.Removed], counts[version.Modified])
		return nil
	})
}

// printEntryDiff prints one entry of a diff and, for tables, what changed
// in its schema and statistics.
func printEntryDiff(a *app, d version.EntryDiff) {
	line := fmt.Sprintf("%-9s %s", d.Kind, d.Path)
	switch {
	case d.Kind == version.Modified && d.Old != nil && d.New != nil:
		line += fmt.Sprintf("  %s -> %s", bytesText(d.Old.Size), bytesText(d.New.Size))
	case d.New != nil:
		line += "  " + bytesText(d.New.Size)
	case d.Old != nil:
		line += "  " + bytesText(d.Old.Size)
	}
	if d.RowsDelta != 0 {
		line += fmt.Sprintf(", rows %+d", d.RowsDelta)
	}
	a.printf("%s\n", line)
	for _, s := range d.Schema {
		switch s.Kind {
		case version.ColumnAdded:
			a.printf("    column %s added (%s)\n", s.Column, s.NewType)
		case version.ColumnRemoved:
			a.printf("    column %s removed (%s)\n", s.Column, s.OldType)
		default:
			a.printf("    column %s type %s -> %s\n", s.Column, s.OldType, s.NewType)
		}
	}
	for _, c := range d.Columns {
		var parts []string
		if c.NullsDelta != 0 {
			parts = append(parts, fmt.Sprintf("nulls %+d", c.NullsDelta))
		}
		if c.DistinctDelta != 0 {
			parts = append(parts, fmt.Sprintf("distinct ~%+d", c.DistinctDelta))
		}
		if c.OldMin != c.NewMin {
			parts = append(parts, fmt.Sprintf("min %s -> %s", orNone(c.OldMin), orNone(c.NewMin)))
		}
		if c.OldMax != c.NewMax {
			parts = append(parts, fmt.Sprintf("max %s -> %s", orNone(c.OldMax), orNone(c.NewMax)))
		}
		if c.MeanDelta != nil && *c.MeanDelta != 0 {
			parts = append(parts, fmt.Sprintf("mean %+.6g", *c.MeanDelta))
		}
		if len(parts) > 0 {
			a.printf("    column %s: %s\n", c.Column, strings.Join(parts, ", "))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func cmdTag(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("tag", "tag N[@REF] TAG")
	pos, err := fs.parse(args, 2, 2)
	if err != nil {
		return err
	}
	if err := version.ValidName(pos[1]); err != nil {
		return err
	}
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		c, err := r.Resolve(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := r.Tag(ctx, c.Dataset, pos[1], c.ID); err != nil {
			return err
		}
		if a.json {
			a.emit(tagJSON{Type: "tag", Dataset: c.Dataset, Tag: pos[1], Commit: c.ID.String()})
			return nil
		}
		a.printf("tagged %s (%s) as %s@%s\n", pos[0], shortID(c.ID), c.Dataset, pos[1])
		return nil
	})
}

func cmdGC(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("gc", "gc [-grace DUR] [-dry-run]")
	grace := fs.Duration("grace", store.DefaultGCGrace, "keep unreferenced data younger than this; 0 deletes it too (only while nothing else writes)")
	dryRun := fs.Bool("dry-run", false, "report what would be deleted, delete nothing")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	g := *grace
	if g == 0 {
		g = -1 // version.GCOptions: negative means no grace period
	}
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		st, err := r.GC(ctx, version.GCOptions{Grace: g, DryRun: *dryRun})
		if err != nil {
			return err
		}
		if a.json {
			a.emit(toGCJSON(st, *dryRun))
			return nil
		}
		verb, freed := "deleted", "freed"
		if *dryRun {
			verb, freed = "would delete", "would free"
		}
		a.printf("gc: %d packs (%s), %d live blobs, %d live chunks\n", st.Packs, bytesText(st.PackBytes), st.LiveBlobs, st.LiveChunks)
		a.printf("gc: %s %d packs and %d orphans, repack %d into %d (%s copied), kept %d young; %s %s, %s left\n",
			verb, st.Deleted, st.Orphans, st.Repacked, st.Written, bytesText(st.BytesCopied), st.Young,
			freed, bytesText(st.BytesFreed), bytesText(st.BytesAfter))
		if st.Missing > 0 {
			a.printf("gc: %d chunks are missing: run check\n", st.Missing)
		}
		return nil
	})
}

func cmdCheck(ctx context.Context, a *app, args []string) error {
	fs := a.newFlags("check", "check")
	if _, err := fs.parse(args, 0, 0); err != nil {
		return err
	}
	return a.withRepo(ctx, false, func(r *version.Repository) error {
		rep, err := r.Check(ctx)
		if err != nil && !errors.Is(err, version.ErrCorrupt) {
			return err
		}
		for _, p := range rep.Problems {
			if a.json {
				a.emit(problemJSON{Type: "problem", Problem: p})
			} else {
				a.printf("problem: %s\n", p)
			}
		}
		s := rep.Store
		if a.json {
			a.emit(checkJSON{Type: "check", Clean: err == nil, Problems: len(rep.Problems), Commits: rep.Commits, Refs: rep.Refs,
				Packs: s.Packs, Chunks: s.Chunks, Manifests: s.Manifests, Bytes: s.Bytes, Unreferenced: len(s.Unreferenced)})
		} else {
			a.printf("store: %s, %s, %s, %s verified\n", count(s.Packs, "pack"), count(s.Chunks, "chunk"), count(s.Manifests, "blob manifest"), bytesText(s.Bytes))
			a.printf("refs: %s, %s verified\n", count(rep.Refs, "ref"), count(rep.Commits, "commit"))
			if err == nil {
				a.printf("clean\n")
			}
		}
		if err != nil {
			return fmt.Errorf("%d problems found: %w", len(rep.Problems), err)
		}
		return nil
	})
}

// bytesText writes a byte count for people.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit*unit || f <= -unit*unit {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f/unit, "KMGTPE"[i])
}

// count writes n things: "1 file", "3 files".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// shortID is the first 12 hex digits of a digest: enough to name a commit
// in a spec ("flights@1a2b3c4d5e6f").
func shortID(d store.Digest) string { return d.Hex()[:12] }
