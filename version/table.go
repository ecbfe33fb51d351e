package version

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
)

// TableOptions configure Repository.CommitTable. The zero value commits the
// table alone, as "data.parquet", on top of the head of "main".
type TableOptions struct {
	CommitOptions
	// Path is the entry the table is stored as. Empty means "data.parquet".
	Path string
	// Keep keeps the other entries of the parent commit (the branch's head,
	// or CommitOptions.Parent when set) and replaces only Path. Without
	// Keep the commit holds the table alone.
	Keep bool
}

// defaultTablePath is the entry a table is committed as by default.
const defaultTablePath = "data.parquet"

// tableRows is the number of rows handed to the Parquet writer at a time,
// and tableRowGroup the rows in a row group. The writer's pages depend on
// the batches it is given; cutting the stream into slices of a fixed size
// first makes its output depend on the data alone. The slices are small so
// that little is copied: only the rows of a slice that straddles two input
// batches are.
const (
	tableRows     = 1 << 13
	tableRowGroup = 1 << 17
)

// tableParquet are the fixed options of the Parquet files CommitTable
// writes: the same rows give the same bytes, hence the same digest.
var tableParquet = pipeline.ParquetWriteOptions{
	Compression:      "zstd",
	CompressionLevel: 3,
	RowGroupRows:     tableRowGroup,
}

// CommitTable commits the rows of src as a Parquet entry of dataset (see
// TableOptions and CommitOptions). The file is written deterministically
// (zstd, row groups of 131,072 rows, the Arrow schema stored), so the same
// rows with the same schema give the same digest, whatever the batches
// they come in, and committing unchanged data stores nothing new. The
// entry's TableInfo (schema, rows, column statistics) is computed while
// the file is written, in the same pass over src.
//
// The file is written under the repository's tmp folder, stored, then
// removed. A failure leaves the branch as it was.
func (r *Repository) CommitTable(ctx context.Context, dataset string, src pipeline.Source, opts TableOptions) (Commit, error) {
	if err := r.check(); err != nil {
		return Commit{}, err
	}
	branch, err := commitNames(dataset, opts.CommitOptions)
	if err != nil {
		return Commit{}, err
	}
	path := opts.Path
	if path == "" {
		path = defaultTablePath
	}
	if err := ValidPath(path); err != nil {
		return Commit{}, fmt.Errorf("version: commit %s: %w", dataset, err)
	}
	d, size, info, err := r.putTable(ctx, src)
	if err != nil {
		return Commit{}, fmt.Errorf("version: commit %s: table: %w", dataset, err)
	}
	entry := Entry{Path: path, Digest: d, Size: size, Mode: 0o644}
	if tableEncodable(info) {
		entry.Table = info
	}
	if !opts.Keep {
		return r.CommitEntries(ctx, dataset, []Entry{entry}, opts.CommitOptions)
	}
	for {
		co := opts.CommitOptions
		if co.Parent.IsZero() {
			if co.Parent, err = r.head(dataset, branch); err != nil {
				return Commit{}, fmt.Errorf("version: commit %s@%s: %w", dataset, branch, err)
			}
		}
		entries := []Entry{entry}
		if !co.Parent.IsZero() {
			parent, err := r.ReadCommit(ctx, co.Parent)
			if err != nil {
				return Commit{}, fmt.Errorf("version: commit %s@%s: parent: %w", dataset, branch, err)
			}
			old, err := r.Tree(ctx, parent)
			if err != nil {
				return Commit{}, fmt.Errorf("version: commit %s@%s: parent: %w", dataset, branch, err)
			}
			for _, e := range old {
				if e.Path != path {
					entries = append(entries, e)
				}
			}
		}
		c, err := r.CommitEntries(ctx, dataset, entries, co)
		if errors.Is(err, ErrConflict) && opts.Parent.IsZero() {
			continue // the branch moved since its head was read: keep the new head's entries
		}
		return c, err
	}
}

// putTable writes src as deterministic Parquet to a temporary file,
// computing its TableInfo on the way, and stores the file.
func (r *Repository) putTable(ctx context.Context, src pipeline.Source) (store.Digest, int64, *TableInfo, error) {
	tmpDir := filepath.Join(r.dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return store.Digest{}, 0, nil, err
	}
	f, err := os.CreateTemp(tmpDir, "table-*.parquet")
	if err != nil {
		return store.Digest{}, 0, nil, err
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)

	info, err := writeTable(ctx, src, pipeline.ToParquet(name, tableParquet))
	if err != nil {
		return store.Digest{}, 0, nil, err
	}
	f, err = os.Open(name)
	if err != nil {
		return store.Digest{}, 0, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return store.Digest{}, 0, nil, err
	}
	d, err := r.st.Put(ctx, f)
	if err != nil {
		return store.Digest{}, 0, nil, err
	}
	return d, st.Size(), info, nil
}

// writeTable copies src into sink in slices of tableRows rows and returns
// the statistics of the rows, computed by a second goroutine while the
// sink encodes.
func writeTable(ctx context.Context, src pipeline.Source, sink pipeline.Sink) (info *TableInfo, err error) {
	schema, err := src.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if err := sink.Open(ctx, schema); err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			sink.Abort()
		}
	}()

	ts := newTableStats(schema)
	statsIn := make(chan arrow.RecordBatch, 2)
	statsErr := make(chan error, 1)
	go func() {
		var err error
		for rec := range statsIn {
			if err == nil {
				err = ts.add(ctx, rec)
			}
			rec.Release()
		}
		statsErr <- err
	}()
	closed := false
	stopStats := func() error {
		if closed {
			return nil
		}
		closed = true
		close(statsIn)
		return <-statsErr
	}
	defer stopStats()

	rc := rechunker{rows: tableRows, write: func(rec arrow.RecordBatch) error { return sink.Write(ctx, rec) }}
	defer rc.release()
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			return nil, err
		}
		if !rec.Schema().Equal(schema) {
			if err := sameColumns(schema, rec.Schema()); err != nil {
				rec.Release()
				return nil, err
			}
		}
		settleNullCounts(rec)
		rec.Retain()
		select {
		case statsIn <- rec:
		case <-ctx.Done():
			rec.Release()
			rec.Release()
			return nil, ctx.Err()
		}
		err = rc.add(rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	if err := rc.flush(); err != nil {
		return nil, err
	}
	if err := stopStats(); err != nil {
		return nil, err
	}
	if err := sink.Commit(ctx); err != nil {
		return nil, err
	}
	committed = true
	return ts.info(), nil
}

// rechunker cuts a stream of batches into batches of exactly rows rows
// (the last one may be shorter), slicing where it can and concatenating
// the pieces that straddle two input batches.
type rechunker struct {
	rows    int64
	write   func(arrow.RecordBatch) error
	pending []arrow.RecordBatch
	n       int64 // rows in pending
}

func (c *rechunker) add(rec arrow.RecordBatch) error {
	total := rec.NumRows()
	for off := int64(0); off < total; {
		if c.n == 0 && total-off >= c.rows {
			sl := rec.NewSlice(off, off+c.rows)
			err := c.write(sl)
			sl.Release()
			if err != nil {
				return err
			}
			off += c.rows
			continue
		}
		take := min(c.rows-c.n, total-off)
		c.pending = append(c.pending, rec.NewSlice(off, off+take))
		c.n += take
		off += take
		if c.n == c.rows {
			if err := c.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the pending rows as one batch.
func (c *rechunker) flush() error {
	if c.n == 0 {
		return nil
	}
	defer c.release()
	if len(c.pending) == 1 {
		return c.write(c.pending[0])
	}
	schema := c.pending[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, a := range cols {
			if a != nil {
				a.Release()
			}
		}
	}()
	parts := make([]arrow.Array, len(c.pending))
	for i := range cols {
		for j, p := range c.pending {
			parts[j] = p.Column(i)
		}
		a, err := array.Concatenate(parts, memory.DefaultAllocator)
		if err != nil {
			return err
		}
		cols[i] = a
	}
	rec := array.NewRecordBatch(schema, cols, c.n)
	defer rec.Release()
	return c.write(rec)
}

// release drops the pending slices.
func (c *rechunker) release() {
	for _, p := range c.pending {
		p.Release()
	}
	c.pending = slices.Delete(c.pending, 0, len(c.pending))
	c.n = 0
}

// parquetTableInfo describes the Parquet blob d of size bytes: its schema,
// rows and column statistics, read in one pass from the store. An error
// means the blob is not a readable Parquet file (or could not be read).
func parquetTableInfo(ctx context.Context, r *Repository, d store.Digest, size int64) (*TableInfo, error) {
	return tableInfoOf(ctx, r.blobSource(ctx, "blob "+d.String(), d, size, pipeline.ParquetOptions{}))
}

// settleNullCounts computes now the null counts that arrow-go counts lazily
// and caches in the array data on first use, so that the statistics and the
// Parquet writer, which read rec on two goroutines, do not race to cache them.
func settleNullCounts(rec arrow.RecordBatch) {
	for _, col := range rec.Columns() {
		settleArray(col)
	}
}

func settleArray(a arrow.Array) {
	a.NullN()
	for _, child := range a.Data().Children() {
		c := array.MakeFromData(child)
		settleArray(c)
		c.Release()
	}
	if d, ok := a.(*array.Dictionary); ok {
		settleArray(d.Dictionary())
	}
}
