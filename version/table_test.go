package version

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
)

// openTableRepo opens a repository in a temporary folder, closed at the
// end of the test.
func openTableRepo(t testing.TB) *Repository {
	t.Helper()
	r, err := Open(context.Background(), t.TempDir(), Options{Author: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// flightsWhole returns the rows of flights-20k as one batch.
func flightsWhole(t testing.TB) arrow.RecordBatch {
	t.Helper()
	schema, recs := readAll(t, pipeline.Parquet(flights20k, pipeline.ParquetOptions{}))
	rec := concatBatches(schema, recs)
	t.Cleanup(rec.Release)
	return rec
}

// sourceOf returns a source yielding rec's rows in batches of the given
// sizes.
func sourceOf(t testing.TB, rec arrow.RecordBatch, sizes ...int64) pipeline.Source {
	t.Helper()
	batches := rebatch(rec.Schema(), []arrow.RecordBatch{rec}, sizes)
	src := pipeline.FromBatches(rec.Schema(), batches...)
	for _, b := range batches {
		b.Release()
	}
	t.Cleanup(src.Release)
	return src
}

// readSource reads a source into one batch.
func readSource(t testing.TB, src pipeline.Source) arrow.RecordBatch {
	t.Helper()
	schema, recs := readAll(t, src)
	rec := concatBatches(schema, recs)
	t.Cleanup(rec.Release)
	return rec
}

// sameRows fails the test unless a and b hold the same columns and values.
func sameRows(t testing.TB, want, got arrow.RecordBatch) {
	t.Helper()
	if err := sameColumns(want.Schema(), got.Schema()); err != nil {
		t.Fatalf("schemas differ: %v", err)
	}
	if want.NumRows() != got.NumRows() {
		t.Fatalf("%d rows, want %d", got.NumRows(), want.NumRows())
	}
	for i := range want.NumCols() {
		if !array.Equal(want.Column(int(i)), got.Column(int(i))) {
			t.Fatalf("column %q differs", want.ColumnName(int(i)))
		}
	}
}

// tableStatsOpts compares TableInfos by what the tree keeps of them.
var tableStatsOpts = cmp.Options{cmpopts.IgnoreFields(TableInfo{}, "Schema")}

func TestCommitTableDeterministic(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)

	c1, err := r.CommitTable(ctx, "flights", sourceOf(t, whole, 65536), TableOptions{CommitOptions: CommitOptions{Message: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	tree1, err := r.Tree(ctx, c1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree1) != 1 || tree1[0].Path != "data.parquet" || tree1[0].Mode != 0o644 || tree1[0].Table == nil {
		t.Fatalf("tree %+v", tree1)
	}
	e := tree1[0]
	want := statsOf(t, whole.Schema(), []arrow.RecordBatch{whole})
	if diff := cmp.Diff(want, e.Table, tableStatsOpts); diff != "" {
		t.Errorf("table info (-want +got):\n%s", diff)
	}
	if err := sameColumns(whole.Schema(), e.Table.Schema); err != nil {
		t.Errorf("table schema: %v", err)
	}
	// The entry's blob is a Parquet file of the rows.
	sameRows(t, whole, readSource(t, r.blobSource(ctx, "blob", e.Digest, e.Size, pipeline.ParquetOptions{})))

	// Other batch splits, and other sources of the same rows, give the same
	// bytes.
	sources := map[string]pipeline.Source{
		"batches of 1000":        sourceOf(t, whole, 1000),
		"odd batches":            sourceOf(t, whole, 7, 9001, 3, 70000),
		"parquet file":           pipeline.Parquet(flights20k, pipeline.ParquetOptions{BatchRows: 4096}),
		"csv file, same columns": pipeline.CSV("../testdata/flights-20k.csv", pipeline.CSVOptions{}),
	}
	for name, src := range sources {
		c, err := r.CommitTable(ctx, "flights", src, TableOptions{CommitOptions: CommitOptions{Branch: "other"}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tree, err := r.Tree(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if tree[0].Digest != e.Digest {
			t.Errorf("%s: digest %s, want %s (schema %v)", name, tree[0].Digest, e.Digest, tree[0].Table.Schema)
		}
		if c.Tree != c1.Tree {
			t.Errorf("%s: tree %s, want %s", name, c.Tree, c1.Tree)
		}
	}
	// Nothing was left behind in tmp.
	left, err := os.ReadDir(filepath.Join(r.Dir(), "tmp"))
	if err != nil || len(left) != 0 {
		t.Errorf("tmp holds %v (%v)", left, err)
	}
}

func TestCommitTableKeepAndPath(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)
	readme, err := r.Store().Put(ctx, strings.NewReader("# flights\n"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := r.CommitEntries(ctx, "ds", []Entry{{Path: "README.md", Digest: readme, Size: 10}}, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	small := whole.NewSlice(0, 100)
	defer small.Release()
	c, err := r.CommitTable(ctx, "ds", sourceOf(t, small, 40), TableOptions{Path: "tables/jan.parquet", Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Parents) != 1 || c.Parents[0] != base.ID {
		t.Fatalf("parents %v, want [%s]", c.Parents, base.ID)
	}
	tree, err := r.Tree(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range tree {
		paths = append(paths, e.Path)
	}
	if diff := cmp.Diff([]string{"README.md", "tables/jan.parquet"}, paths); diff != "" {
		t.Fatalf("paths (-want +got):\n%s", diff)
	}
	if tree[1].Table == nil || tree[1].Table.Rows != 100 {
		t.Fatalf("table entry %+v", tree[1])
	}

	// Keep replaces the entry at Path and keeps the rest.
	mid := whole.NewSlice(100, 300)
	defer mid.Release()
	c2, err := r.CommitTable(ctx, "ds", sourceOf(t, mid, 64), TableOptions{Path: "tables/jan.parquet", Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	tree2, _ := r.Tree(ctx, c2)
	if len(tree2) != 2 || tree2[0].Digest != readme || tree2[1].Table.Rows != 200 {
		t.Fatalf("tree after replacing: %+v", tree2)
	}

	// Keep with a stale Parent is a conflict and changes nothing.
	_, err = r.CommitTable(ctx, "ds", sourceOf(t, small, 100), TableOptions{Keep: true, CommitOptions: CommitOptions{Parent: base.ID}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("stale parent: %v, want ErrConflict", err)
	}
	head, _ := r.Resolve(ctx, "ds")
	if head.ID != c2.ID {
		t.Fatalf("head moved to %s after a conflict", head.ID)
	}

	// Without Keep the table is alone.
	c3, err := r.CommitTable(ctx, "ds", sourceOf(t, small, 100), TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tree3, _ := r.Tree(ctx, c3)
	if len(tree3) != 1 || tree3[0].Path != "data.parquet" {
		t.Fatalf("tree without Keep: %+v", tree3)
	}
}

// failingSource yields the batches of src, then fails.
type failingSource struct {
	pipeline.Source
	after int
}

var errSourceBroke = errors.New("source broke")

func (s failingSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		n := 0
		for rec, err := range s.Source.Batches(ctx) {
			if err != nil {
				yield(nil, err)
				return
			}
			if n == s.after {
				rec.Release()
				yield(nil, errSourceBroke)
				return
			}
			n++
			if !yield(rec, nil) {
				return
			}
		}
	}
}

func TestCommitTableErrors(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)
	first, err := r.CommitTable(ctx, "f", sourceOf(t, whole.NewSlice(0, 10), 10), TableOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// A source that fails half-way: no commit, nothing left in tmp, and no
	// memory held (the batches come from a checked allocator).
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	data, err := os.ReadFile(flights20k)
	if err != nil {
		t.Fatal(err)
	}
	pq := pipeline.ParquetReaderAt("flights", bytes.NewReader(data), int64(len(data)), pipeline.ParquetOptions{Allocator: mem, BatchRows: 3000})
	_, err = r.CommitTable(ctx, "f", failingSource{pq, 3}, TableOptions{})
	if !errors.Is(err, errSourceBroke) {
		t.Fatalf("failing source: %v", err)
	}
	mem.AssertSize(t, 0)
	// The same source read whole: still nothing leaks.
	if _, err := r.CommitTable(ctx, "g", pq, TableOptions{}); err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)

	head, err := r.Resolve(ctx, "f")
	if err != nil || head.ID != first.ID {
		t.Fatalf("head %s (%v), want %s", head.ID, err, first.ID)
	}
	left, _ := os.ReadDir(filepath.Join(r.Dir(), "tmp"))
	if len(left) != 0 {
		t.Errorf("tmp holds %v", left)
	}

	// Bad names and paths are refused before reading anything.
	for _, tc := range []struct {
		dataset string
		opts    TableOptions
	}{
		{"../x", TableOptions{}},
		{"f", TableOptions{Path: "/abs.parquet"}},
		{"f", TableOptions{Path: "a/../b.parquet"}},
		{"f", TableOptions{CommitOptions: CommitOptions{Branch: "-x"}}},
	} {
		_, err := r.CommitTable(ctx, tc.dataset, failingSource{pq, 0}, tc.opts)
		if !errors.Is(err, ErrBadName) {
			t.Errorf("%q %+v: %v, want ErrBadName", tc.dataset, tc.opts, err)
		}
	}

	// A cancelled context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.CommitTable(cctx, "f", sourceOf(t, whole, 1000), TableOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// A closed repository.
	r.Close()
	if _, err := r.CommitTable(ctx, "f", sourceOf(t, whole, 1000), TableOptions{}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
}

func TestSourceRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)
	if _, err := r.CommitTable(ctx, "flights", sourceOf(t, whole, 5000), TableOptions{CommitOptions: CommitOptions{Message: "v1"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Tag(ctx, "flights", "v1", mustResolve(t, r, "flights").ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CommitTable(ctx, "flights", sourceOf(t, whole.NewSlice(0, 10), 5), TableOptions{}); err != nil {
		t.Fatal(err)
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) }) // after the batches read are released
	src, err := r.Source(ctx, "flights@v1", SourceOptions{Parquet: pipeline.ParquetOptions{Allocator: mem, BatchRows: 7000}})
	if err != nil {
		t.Fatal(err)
	}
	got := readSource(t, src)
	sameRows(t, whole, got)
	bc := src.(pipeline.ByteCounter)
	if bc.TotalBytes() <= 0 || bc.BytesRead() < bc.TotalBytes()/2 {
		t.Errorf("BytesRead %d of TotalBytes %d", bc.BytesRead(), bc.TotalBytes())
	}
	// Read again, the head this time, some columns.
	src2, err := r.Source(ctx, "flights", SourceOptions{Path: "data.parquet", Parquet: pipeline.ParquetOptions{Columns: []string{"origin", "delay"}}})
	if err != nil {
		t.Fatal(err)
	}
	got2 := readSource(t, src2)
	if got2.NumRows() != 10 || got2.NumCols() != 2 || got2.ColumnName(0) != "origin" {
		t.Fatalf("head: %d rows, %d columns", got2.NumRows(), got2.NumCols())
	}
	// Early stop releases everything.
	n := 0
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if n++; n == 2 {
			break
		}
	}

	if _, err := r.Source(ctx, "flights", SourceOptions{Path: "nope.parquet"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing entry: %v", err)
	}
	if _, err := r.Source(ctx, "nosuch", SourceOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing dataset: %v", err)
	}
	readme, _ := r.Store().Put(ctx, strings.NewReader("hi"))
	if _, err := r.CommitEntries(ctx, "docs", []Entry{{Path: "README", Digest: readme, Size: 2}}, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Source(ctx, "docs", SourceOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("no parquet entry: %v", err)
	}
	// A non-Parquet entry named explicitly fails on reading.
	src3, err := r.Source(ctx, "docs", SourceOptions{Path: "README"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src3.Schema(ctx); err == nil || !strings.Contains(err.Error(), "README") {
		t.Errorf("reading a text entry as Parquet: %v", err)
	}
}

func mustResolve(t testing.TB, r *Repository, spec string) Commit {
	t.Helper()
	c, err := r.Resolve(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeParquet writes rec to path as a Parquet file with default options.
func writeParquet(t testing.TB, path string, rec arrow.RecordBatch) int64 {
	t.Helper()
	ctx := context.Background()
	sink := pipeline.ToParquet(path, pipeline.ParquetWriteOptions{})
	if err := sink.Open(ctx, rec.Schema()); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := sink.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// dailyPartition is flights-20k made into day k of a week: rows rotated by
// k sevenths (so no column chunk repeats another day's) and dates moved k
// days on.
func dailyPartition(t testing.TB, whole arrow.RecordBatch, k int) arrow.RecordBatch {
	t.Helper()
	n := whole.NumRows()
	off := int64(k) * n / 7
	a, b := whole.NewSlice(off, n), whole.NewSlice(0, off)
	defer a.Release()
	defer b.Release()
	rot := concatBatches(whole.Schema(), []arrow.RecordBatch{a, b})
	defer rot.Release()
	cols := make([]arrow.Array, rot.NumCols())
	for i := range cols {
		cols[i] = rot.Column(i)
	}
	ts := rot.Column(0).(*array.Timestamp)
	tb := array.NewTimestampBuilder(memory.DefaultAllocator, ts.DataType().(*arrow.TimestampType))
	defer tb.Release()
	for i := range ts.Len() {
		tb.Append(ts.Value(i) + arrow.Timestamp(int64(k)*86400e6))
	}
	shifted := tb.NewArray()
	defer shifted.Release()
	cols[0] = shifted
	rec := array.NewRecordBatch(rot.Schema(), cols, rot.NumRows())
	t.Cleanup(rec.Release)
	return rec
}

// dirBytes is the total size of the files under dir.
func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCommitPartitions commits a folder of six daily Parquet partitions,
// then the folder with a seventh: the second commit stores at most 1.05
// times the new partition's size (flights-20k spans two days, so the test
// makes a week of days from it; the benchmark does months of flights-3m).
// Each partition gets its TableInfo from parquetTableInfo.
func TestCommitPartitions(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)
	dir := t.TempDir()
	var parts []arrow.RecordBatch
	var sizes []int64
	for k := range 7 {
		parts = append(parts, dailyPartition(t, whole, k))
		if k < 6 {
			sizes = append(sizes, writeParquet(t, filepath.Join(dir, fmt.Sprintf("day=%d.parquet", k+1)), parts[k]))
		}
	}
	// A file named .parquet that is not Parquet stays a plain entry.
	if err := os.WriteFile(filepath.Join(dir, "notes.parquet"), []byte("not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	objects := filepath.Join(r.Dir(), "objects")
	before := dirBytes(t, objects)
	c1, err := r.CommitFiles(ctx, "flights", []string{dir}, CommitOptions{Message: "six days"})
	if err != nil {
		t.Fatal(err)
	}
	mid := dirBytes(t, objects)
	var sixDays int64
	for _, s := range sizes {
		sixDays += s
	}
	t.Logf("six partitions of %v bytes: stored %d bytes", sizes, mid-before)

	seventh := writeParquet(t, filepath.Join(dir, "day=7.parquet"), parts[6])
	c2, err := r.CommitFiles(ctx, "flights", []string{dir}, CommitOptions{Message: "seven days"})
	if err != nil {
		t.Fatal(err)
	}
	grew := dirBytes(t, objects) - mid
	t.Logf("seventh partition of %d bytes: stored %d bytes (%.3f×)", seventh, grew, float64(grew)/float64(seventh))
	if float64(grew) > 1.05*float64(seventh) {
		t.Errorf("adding a partition of %d bytes stored %d bytes, more than 1.05×", seventh, grew)
	}
	if grew < seventh*9/10 {
		t.Errorf("adding a partition of %d bytes stored only %d bytes: is it stored at all?", seventh, grew)
	}

	tree, err := r.Tree(ctx, c2)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree) != 8 {
		t.Fatalf("%d entries, want 8", len(tree))
	}
	for k, e := range tree[:7] {
		if e.Table == nil {
			t.Fatalf("entry %q has no table info", e.Path)
		}
		want := statsOf(t, parts[k].Schema(), []arrow.RecordBatch{parts[k]})
		if diff := cmp.Diff(want, e.Table, tableStatsOpts); diff != "" {
			t.Errorf("entry %q: table info (-want +got):\n%s", e.Path, diff)
		}
	}
	if tree[7].Path != "notes.parquet" || tree[7].Table != nil {
		t.Errorf("non-Parquet entry %+v", tree[7])
	}

	// Reading the version back: the seven partitions in path order.
	src, err := r.Source(ctx, "flights", SourceOptions{})
	if err == nil {
		_, err = src.Schema(ctx)
	}
	if err == nil {
		t.Fatal("a source over a folder with a non-Parquet .parquet entry read without error")
	}
	src, err = r.Source(ctx, fmt.Sprintf("flights@%s", c1.ID), SourceOptions{Path: "day=3.parquet"})
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, parts[2], readSource(t, src))

	// Diff of the two versions: one partition added, nothing else.
	rep, err := r.Diff(ctx, "flights~1", "flights")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].Path != "day=7.parquet" || rep.Changes[0].Kind != Added || rep.Changes[0].RowsDelta != 20000 {
		t.Errorf("diff %+v", rep.Changes)
	}
}

// TestSourceSeveralEntries reads a commit of several partitions with the
// same columns as one source, and refuses partitions whose columns differ.
func TestSourceSeveralEntries(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)
	var entries []Entry
	var want []arrow.RecordBatch
	for k, span := range [][2]int64{{0, 5000}, {5000, 5001}, {5001, 20000}} {
		part := whole.NewSlice(span[0], span[1])
		defer part.Release()
		want = append(want, part)
		path := filepath.Join(t.TempDir(), "p.parquet")
		size := writeParquet(t, path, part)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := r.Store().Put(ctx, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, Entry{Path: fmt.Sprintf("part-%d.parquet", k), Digest: d, Size: size})
	}
	if _, err := r.CommitEntries(ctx, "parts", entries, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	src, err := r.Source(ctx, "parts", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, whole, readSource(t, src))

	// A partition of other columns.
	other := whole.NewSlice(0, 10)
	defer other.Release()
	cols := other.Columns()[:4]
	narrow := array.NewRecordBatch(arrow.NewSchema(other.Schema().Fields()[:4], nil), cols, 10)
	defer narrow.Release()
	path := filepath.Join(t.TempDir(), "n.parquet")
	size := writeParquet(t, path, narrow)
	f, _ := os.Open(path)
	d, err := r.Store().Put(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	entries = append(entries, Entry{Path: "part-9.parquet", Digest: d, Size: size})
	if _, err := r.CommitEntries(ctx, "parts", entries, CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	src, err = r.Source(ctx, "parts", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Schema(ctx)
	if !errors.Is(err, pipeline.ErrSchema) || !strings.Contains(err.Error(), "part-9.parquet") {
		t.Errorf("partitions of other columns: %v", err)
	}
	for _, err := range src.Batches(ctx) {
		if !errors.Is(err, pipeline.ErrSchema) {
			t.Errorf("Batches: %v", err)
		}
		break
	}
}

// TestSourceCorruptBlob damages the packs holding a table and reads it: the
// source fails with store.ErrCorrupt instead of yielding bad rows.
func TestSourceCorruptBlob(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)
	if _, err := r.CommitTable(ctx, "flights", sourceOf(t, whole, 20000), TableOptions{}); err != nil {
		t.Fatal(err)
	}
	src, err := r.Source(ctx, "flights", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Schema(ctx); err != nil {
		t.Fatal(err)
	}
	// Flip bytes in the middle of the largest pack: the table's data.
	var largest string
	var size int64
	filepath.WalkDir(filepath.Join(r.Dir(), "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "pack") {
			if info, err := d.Info(); err == nil && info.Size() > size {
				largest, size = p, info.Size()
			}
		}
		return nil
	})
	if largest == "" {
		t.Fatal("no pack found")
	}
	data, err := os.ReadFile(largest)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 3; i < 2*len(data)/3; i += 997 {
		data[i] ^= 0x55
	}
	os.Chmod(largest, 0o644)
	if err := os.WriteFile(largest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var last error
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			last = err
			break
		}
		rec.Release()
	}
	if !errors.Is(last, store.ErrCorrupt) {
		t.Errorf("reading a damaged table: %v, want store.ErrCorrupt", last)
	}
}

const flights3M = "../../shared/data/flights-3m.parquet"

// BenchmarkCommitTableFlights3M commits flights-3m (read from its Parquet
// file) as a table: read, statistics, deterministic Parquet, store.
func BenchmarkCommitTableFlights3M(b *testing.B) {
	if _, err := os.Stat(flights3M); err != nil {
		b.Skipf("%s: %v", flights3M, err)
	}
	ctx := context.Background()
	r := openTableRepo(b)
	for b.Loop() {
		if _, err := r.CommitTable(ctx, "flights", pipeline.Parquet(flights3M, pipeline.ParquetOptions{}), TableOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(3e6*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

// BenchmarkSourceFlights3M reads flights-3m back from the store.
func BenchmarkSourceFlights3M(b *testing.B) {
	if _, err := os.Stat(flights3M); err != nil {
		b.Skipf("%s: %v", flights3M, err)
	}
	ctx := context.Background()
	r := openTableRepo(b)
	if _, err := r.CommitTable(ctx, "flights", pipeline.Parquet(flights3M, pipeline.ParquetOptions{}), TableOptions{}); err != nil {
		b.Fatal(err)
	}
	src, err := r.Source(ctx, "flights", SourceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var rows int64
		for rec, err := range src.Batches(ctx) {
			if err != nil {
				b.Fatal(err)
			}
			rows += rec.NumRows()
			rec.Release()
		}
		if rows != 3e6 {
			b.Fatalf("%d rows", rows)
		}
	}
	b.ReportMetric(3e6*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mrows/s")
}

// TestCommitTableDeterministicFallback checks determinism where the
// Parquet writer's pages depend on the batches it gets: float columns
// and dictionaries that outgrow their limit half-way through a batch.
func TestCommitTableDeterministicFallback(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	const n = 200000
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "key", Type: arrow.BinaryTypes.String},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	xb := b.Field(0).(*array.Float64Builder)
	kb := b.Field(1).(*array.StringBuilder)
	ib := b.Field(2).(*array.Int64Builder)
	v := uint64(1)
	for i := range n {
		v = v*6364136223846793005 + 1442695040888963407
		if i%97 == 0 {
			xb.AppendNull()
		} else {
			xb.Append(float64(v>>11) / (1 << 53))
		}
		kb.Append(fmt.Sprintf("key-%016x", v))
		ib.Append(int64(v >> 1))
	}
	rec := b.NewRecordBatch()
	defer rec.Release()

	var first store.Digest
	for _, sizes := range [][]int64{{n}, {999, 65535, 3}, {8191, 8193}, {100000, 1}} {
		c, err := r.CommitTable(ctx, "fallback", sourceOf(t, rec, sizes...), TableOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tree, err := r.Tree(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if first.IsZero() {
			first = tree[0].Digest
			if tree[0].Table.Rows != n || tree[0].Table.Columns[0].Nulls != (n+96)/97 {
				t.Fatalf("table %+v", tree[0].Table)
			}
			continue
		}
		if tree[0].Digest != first {
			t.Errorf("batches of %v: digest %s, want %s", sizes, tree[0].Digest, first)
		}
	}
}

func TestRechunker(t *testing.T) {
	whole := flightsWhole(t)
	for _, sizes := range [][]int64{{20000}, {1}, {3, 8192, 5000}, {8192}, {16385}} {
		if sizes[0] == 1 && testing.Short() {
			continue
		}
		var got []arrow.RecordBatch
		rc := rechunker{rows: 8192, write: func(rec arrow.RecordBatch) error {
			rec.Retain()
			got = append(got, rec)
			return nil
		}}
		for _, b := range rebatch(whole.Schema(), []arrow.RecordBatch{whole}, sizes) {
			if err := rc.add(b); err != nil {
				t.Fatal(err)
			}
			b.Release()
		}
		if err := rc.flush(); err != nil {
			t.Fatal(err)
		}
		var lens []int64
		for _, g := range got {
			lens = append(lens, g.NumRows())
		}
		if diff := cmp.Diff([]int64{8192, 8192, 3616}, lens); diff != "" {
			t.Errorf("batches of %v: output sizes (-want +got):\n%s", sizes, diff)
		}
		out := concatBatches(whole.Schema(), got)
		sameRows(t, whole, out)
		out.Release()
		for _, g := range got {
			g.Release()
		}
	}
}

// TestCommitTableEmpty commits a table of no rows and reads it back.
func TestCommitTableEmpty(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	c, err := r.CommitTable(ctx, "empty", pipeline.FromBatches(schema), TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := r.Tree(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	want := &TableInfo{Rows: 0, Columns: []ColumnStats{{Name: "a", Type: "int64"}}}
	if diff := cmp.Diff(want, tree[0].Table, tableStatsOpts); diff != "" {
		t.Errorf("table info (-want +got):\n%s", diff)
	}
	src, err := r.Source(ctx, "empty", SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, recs := readAll(t, src)
	var rows int64
	for _, rec := range recs {
		rows += rec.NumRows()
	}
	if rows != 0 || sc.NumFields() != 1 || sc.Field(0).Name != "a" {
		t.Errorf("read back %d rows, schema %v", rows, sc)
	}
}
