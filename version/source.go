package version

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
)

// SourceOptions configure Repository.Source. The zero value reads every
// Parquet entry of the commit, all columns.
type SourceOptions struct {
	// Path names the one entry to read. Empty means every entry whose path
	// ends in ".parquet" (any case), one after the other in path order;
	// they must have the same columns (names, types and nullability).
	Path string
	// Parquet configures the reading of each entry: the columns to read,
	// the batch size, the row groups decoded at once, the allocator.
	Parquet pipeline.ParquetOptions
}

// Source returns a pipeline source of the table in a dataset version:
// spec names the version as Resolve does ("flights", "flights@v2",
// "flights@main~1"), and opts the entry or entries to read. The entries
// are read straight from the repository's store, a column chunk at a
// time, and every chunk is verified against its digest as it is read; a
// mismatch ends the stream with an error wrapping store.ErrCorrupt. The
// source may be read many times, also after later commits, for as long as
// the repository is open.
func (r *Repository) Source(ctx context.Context, spec string, opts SourceOptions) (pipeline.Source, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	c, err := r.Resolve(ctx, spec)
	if err != nil {
		return nil, err
	}
	entries, err := r.Tree(ctx, c)
	if err != nil {
		return nil, err
	}
	s := &tableSource{r: r, name: spec, opts: opts.Parquet}
	if opts.Path != "" {
		e := findEntry(entries, opts.Path)
		if e == nil {
			return nil, fmt.Errorf("version: source %s: no entry %q: %w", spec, opts.Path, ErrNotFound)
		}
		s.parts = []Entry{*e}
	} else {
		for _, e := range entries {
			if isParquetPath(e.Path) {
				s.parts = append(s.parts, e)
			}
		}
		if len(s.parts) == 0 {
			return nil, fmt.Errorf("version: source %s: no .parquet entry in commit %s: %w", spec, c.ID, ErrNotFound)
		}
	}
	for _, e := range s.parts {
		s.total += e.Size
	}
	return s, nil
}

// isParquetPath reports whether an entry path names a Parquet file.
func isParquetPath(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".parquet") }

// tableSource reads Parquet entries of a commit, one after the other.
type tableSource struct {
	r     *Repository
	name  string // the spec, for errors
	parts []Entry
	opts  pipeline.ParquetOptions
	total int64

	mu     sync.Mutex
	schema *arrow.Schema

	read atomic.Int64
}

// BytesRead implements pipeline.ByteCounter: the bytes of the entries read
// from the store so far by the current or last call to Batches.
func (s *tableSource) BytesRead() int64 { return s.read.Load() }

// TotalBytes implements pipeline.ByteCounter: the size of the entries.
func (s *tableSource) TotalBytes() int64 { return s.total }

// part returns a Parquet source over entry i whose reads use ctx.
func (s *tableSource) part(ctx context.Context, i int) *pipeline.ParquetSource {
	e := s.parts[i]
	ra := &blobReaderAt{ctx: ctx, st: s.r.st, d: e.Digest, size: e.Size, n: &s.read}
	return pipeline.ParquetReaderAt(s.name+":"+e.Path, ra, e.Size, s.opts)
}

// Schema reads the footers of the entries and returns their common
// schema: that of the first entry.
func (s *tableSource) Schema(ctx context.Context) (*arrow.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	if err := s.r.check(); err != nil {
		return nil, err
	}
	var first *arrow.Schema
	for i := range s.parts {
		sc, err := s.part(ctx, i).Schema(ctx)
		if err != nil {
			return nil, fmt.Errorf("version: source %s: %w", s.name, err)
		}
		if first == nil {
			first = sc
			continue
		}
		if err := sameColumns(first, sc); err != nil {
			return nil, fmt.Errorf("version: source %s: entry %q: %w (entry %q has %s)", s.name, s.parts[i].Path, err, s.parts[0].Path, columnList(first))
		}
	}
	s.schema = first
	return first, nil
}

// Batches yields the batches of every entry in turn. Batches of an entry
// whose schema differs from the first one's only in metadata are given the
// first one's schema.
func (s *tableSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		s.read.Store(0)
		schema, err := s.Schema(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		for i := range s.parts {
			src := s.part(ctx, i)
			for rec, err := range src.Batches(ctx) {
				if err == nil {
					err = s.r.check()
				}
				if err != nil {
					if rec != nil {
						rec.Release()
					}
					yield(nil, fmt.Errorf("version: source %s: %w", s.name, err))
					return
				}
				if !rec.Schema().Equal(schema) {
					if err := sameColumns(schema, rec.Schema()); err != nil {
						rec.Release()
						yield(nil, fmt.Errorf("version: source %s: entry %q: %w", s.name, s.parts[i].Path, err))
						return
					}
					re := array.NewRecordBatch(schema, rec.Columns(), rec.NumRows())
					rec.Release()
					rec = re
				}
				if !yield(rec, nil) {
					return
				}
			}
		}
	}
}

// sameColumns reports, as an error, how got's columns differ from want's:
// names, types and nullability, in order. Metadata is not compared.
func sameColumns(want, got *arrow.Schema) error {
	if want.NumFields() != got.NumFields() {
		return fmt.Errorf("%w: %d columns (%s), want %d", pipeline.ErrSchema, got.NumFields(), columnList(got), want.NumFields())
	}
	for i, w := range want.Fields() {
		g := got.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) || g.Nullable != w.Nullable {
			return fmt.Errorf("%w: column %d is %s, want %s", pipeline.ErrSchema, i+1, columnText(g), columnText(w))
		}
	}
	return nil
}

func columnText(f arrow.Field) string {
	s := fmt.Sprintf("%q %s", f.Name, f.Type)
	if !f.Nullable {
		s += " not null"
	}
	return s
}

func columnList(sc *arrow.Schema) string {
	var parts []string
	for _, f := range sc.Fields() {
		parts = append(parts, columnText(f))
	}
	return strings.Join(parts, ", ")
}

// blobReaderAt reads a blob of the store at offsets, through
// store.ReadRange, so that every chunk it reads is verified. It lives for
// one Schema or Batches call of a source, whose context it carries.
type blobReaderAt struct {
	ctx  context.Context
	st   *store.Store
	d    store.Digest
	size int64
	n    *atomic.Int64 // bytes read, if set
}

func (b *blobReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("version: blob %s: read at negative offset %d", b.d, off)
	}
	if off >= b.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), b.size-off)
	rc, err := b.st.ReadRange(b.ctx, b.d, off, want)
	if err != nil {
		return 0, err
	}
	k, err := io.ReadFull(rc, p[:want])
	rc.Close()
	if b.n != nil {
		b.n.Add(int64(k))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return k, fmt.Errorf("version: blob %s: %d bytes at %d: %w: shorter than its entry says", b.d, want, off, ErrCorrupt)
	}
	if err != nil {
		return k, err
	}
	if want < int64(len(p)) {
		return k, io.EOF
	}
	return k, nil
}

// blobSource returns a Parquet source over blob d of size bytes, for reads
// made with ctx.
func (r *Repository) blobSource(ctx context.Context, name string, d store.Digest, size int64, opts pipeline.ParquetOptions) *pipeline.ParquetSource {
	return pipeline.ParquetReaderAt(name, &blobReaderAt{ctx: ctx, st: r.st, d: d, size: size}, size, opts)
}
