package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// hiveNull is the partition value Hive, Spark and Arrow write for a null.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// GlobOptions configure a source over many files. The zero value picks each
// file's format from its extension, with each format's default options, and
// turns key=value folders into columns.
type GlobOptions struct {
	// CSV, Parquet, NDJSON and Arrow are the options for files of each
	// format. A .tsv file is read as CSV with Delimiter '\t' unless
	// CSV.Delimiter is set. When CSV.Schema or NDJSON.Schema is nil, CSV and
	// NDJSON files after the first file are read with the first file's
	// schema (inferred or not), so that every file has the same types and a
	// value that does not fit is a *ParseError naming its file and row.
	CSV     CSVOptions
	Parquet ParquetOptions
	NDJSON  NDJSONOptions
	Arrow   ArrowOptions
	// Open, when set, opens every file instead of the choice by extension.
	Open func(path string) (Source, error)
	// NoPartitions turns off hive partitioning. By default, folders named
	// key=value below the root (the folder given to Dir; for Glob, the
	// folder before the pattern's first wildcard) become columns appended
	// after the files' own, in folder order. A column is int64 when every
	// value of it parses as a decimal integer, and string otherwise. Values
	// are URL-unescaped ("a%2Fb" is "a/b"), and __HIVE_DEFAULT_PARTITION__
	// is a null. Every file must lie below the same keys in the same order.
	NoPartitions bool
	// Allocator allocates the partition columns, and the batches of every
	// format whose options leave Allocator nil. Nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
}

// GlobSource reads many files as one source: the files in path order, each
// file's batches in order, with partition columns appended. The schema is
// the first file's plus the partition columns; a later file with different
// columns is an error wrapping ErrSchema that names both files.
//
// Formats by extension, after removing .gz or .zst: .csv and .tsv (CSV),
// .parquet and .pq (Parquet), .ndjson, .jsonl and .json (NDJSON), .arrow,
// .arrows, .ipc and .feather (Arrow IPC). Any other file is an error unless
// GlobOptions.Open handles it.
type GlobSource struct {
	pattern string // Glob's pattern, or "" for Dir
	root    string
	opts    GlobOptions

	mu     sync.Mutex
	files  []globFile
	parts  []partCol
	schema *arrow.Schema
	first  *arrow.Schema // the first file's schema

	done  atomic.Int64                // bytes of the files finished
	cur   atomic.Pointer[ByteCounter] // the file being read
	total atomic.Int64
}

type globFile struct {
	path  string
	size  int64
	parts []string // partition values, unescaped
	nulls []bool   // parts[i] is null
	keys  []string // partition keys, to check every file has the same
}

type partCol struct {
	key   string
	isInt bool
}

// Glob returns a source reading the files that match pattern, sorted by
// path. The pattern is that of filepath.Match, plus "**" as a whole path
// element, which matches any number of folders (including none). Matching
// directories are skipped.
func Glob(pattern string, opts GlobOptions) *GlobSource {
	s := &GlobSource{pattern: pattern, root: globRoot(pattern), opts: opts}
	s.total.Store(-1)
	return s
}

// Dir returns a source reading every file below root, recursively, sorted
// by path. Files and folders whose names start with '.' or '_' (such as
// .DS_Store or Spark's _SUCCESS) are skipped.
func Dir(root string, opts GlobOptions) *GlobSource {
	s := &GlobSource{root: filepath.Clean(root), opts: opts}
	s.total.Store(-1)
	return s
}

// BytesRead implements ByteCounter: bytes read from the files so far.
func (s *GlobSource) BytesRead() int64 {
	n := s.done.Load()
	if c := s.cur.Load(); c != nil {
		n += (*c).BytesRead()
	}
	return n
}

// TotalBytes implements ByteCounter: the files' total size on disk, known
// once Schema or Batches has listed them.
func (s *GlobSource) TotalBytes() int64 { return s.total.Load() }

// globRoot is the folder part of pattern before its first wildcard.
func globRoot(pattern string) string {
	dir := filepath.Dir(pattern)
	for dir != "." && dir != string(filepath.Separator) && hasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	if hasMeta(dir) {
		return "."
	}
	return dir
}

func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") }

// list finds the files, sorted by path.
func (s *GlobSource) list() ([]string, error) {
	var paths []string
	switch {
	case s.pattern == "":
		st, err := os.Stat(s.root)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("pipeline: Dir %s: not a directory", s.root)
		}
		err = filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != s.root && hidden(d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pipeline: Dir %s: %w", s.root, err)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("pipeline: Dir %s: %w: no files in it (names starting with . or _ are skipped)", s.root, fs.ErrNotExist)
		}
	case strings.Contains(filepath.ToSlash(s.pattern), "**"):
		pat := strings.Split(filepath.ToSlash(filepath.Clean(s.pattern)), "/")
		for _, seg := range pat {
			if _, err := filepath.Match(seg, ""); err != nil {
				return nil, fmt.Errorf("pipeline: Glob %q: %w", s.pattern, err)
			}
		}
		err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == s.root {
					return filepath.SkipAll
				}
				return err
			}
			if !d.IsDir() && matchSegments(pat, strings.Split(filepath.ToSlash(p), "/")) {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pipeline: Glob %q: %w", s.pattern, err)
		}
	default:
		matches, err := filepath.Glob(s.pattern)
		if err != nil {
			return nil, fmt.Errorf("pipeline: Glob %q: %w", s.pattern, err)
		}
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && !st.IsDir() {
				paths = append(paths, m)
			}
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("pipeline: Glob %q: %w: no files match", s.pattern, fs.ErrNotExist)
	}
	slices.Sort(paths)
	return paths, nil
}

// matchSegments matches path elements against pattern elements, where "**"
// matches any number of elements.
func matchSegments(pat, path []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(path); i++ {
				if matchSegments(pat[1:], path[i:]) {
					return true
				}
			}
			return false
		}
		if len(path) == 0 {
			return false
		}
		if ok, _ := filepath.Match(pat[0], path[0]); !ok {
			return false
		}
		pat, path = pat[1:], path[1:]
	}
	return len(path) == 0
}

// resolve lists the files and their partitions. The caller holds s.mu.
func (s *GlobSource) resolve() error {
	if s.files != nil {
		return nil
	}
	paths, err := s.list()
	if err != nil {
		return err
	}
	files := make([]globFile, len(paths))
	var total int64
	for i, p := range paths {
		f := globFile{path: p, size: -1}
		if st, err := os.Stat(p); err == nil {
			f.size = st.Size()
			total += f.size
		}
		if !s.opts.NoPartitions {
			if err := f.partitions(s.root); err != nil {
				return err
			}
		}
		files[i] = f
	}
	var parts []partCol
	if len(files) > 0 {
		for _, k := range files[0].keys {
			parts = append(parts, partCol{key: k, isInt: true})
		}
	}
	for _, f := range files {
		if !slices.Equal(f.keys, files[0].keys) {
			return fmt.Errorf("%w: partition folders differ: %s lies below keys %q, %s below %q", ErrSchema, files[0].path, files[0].keys, f.path, f.keys)
		}
		for j, v := range f.parts {
			if parts[j].isInt && !f.nulls[j] {
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					parts[j].isInt = false
				}
			}
		}
	}
	s.files, s.parts = files, parts
	s.total.Store(total)
	return nil
}

// partitions reads the key=value folders of f's path below root.
func (f *globFile) partitions(root string) error {
	rel, err := filepath.Rel(root, filepath.Dir(f.path))
	if err != nil || rel == "." {
		return nil
	}
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" || seg == ".." {
			continue
		}
		key, err := url.PathUnescape(k)
		if err == nil {
			v, err = url.PathUnescape(v)
		}
		if err != nil {
			return fmt.Errorf("pipeline: %s: partition folder %q: %w", f.path, seg, err)
		}
		if slices.Contains(f.keys, key) {
			return fmt.Errorf("%w: %s: partition key %q appears twice in the path", ErrSchema, f.path, key)
		}
		f.keys = append(f.keys, key)
		f.parts = append(f.parts, v)
		f.nulls = append(f.nulls, v == hiveNull)
	}
	return nil
}

// format names a file's format from its extension.
func format(path string) string {
	switch strings.ToLower(filepath.Ext(stripCompression(path))) {
	case ".csv":
		return "csv"
	case ".tsv":
		return "tsv"
	case ".parquet", ".pq":
		return "parquet"
	case ".ndjson", ".jsonl", ".json":
		return "ndjson"
	case ".arrow", ".arrows", ".ipc", ".feather":
		return "arrow"
	}
	return ""
}

// open makes the source for one file. The caller holds s.mu.
func (s *GlobSource) open(path string) (Source, error) {
	if s.opts.Open != nil {
		src, err := s.opts.Open(path)
		if err != nil {
			return nil, fmt.Errorf("pipeline: open %s: %w", path, err)
		}
		return src, nil
	}
	mem := s.opts.Allocator
	switch f := format(path); f {
	case "csv", "tsv":
		o := s.opts.CSV
		if f == "tsv" && o.Delimiter == 0 {
			o.Delimiter = '\t'
		}
		if o.Allocator == nil {
			o.Allocator = mem
		}
		if o.Schema == nil {
			o.Schema = s.first
		}
		return CSV(path, o), nil
	case "parquet":
		o := s.opts.Parquet
		if o.Allocator == nil {
			o.Allocator = mem
		}
		return Parquet(path, o), nil
	case "ndjson":
		o := s.opts.NDJSON
		if o.Allocator == nil {
			o.Allocator = mem
		}
		if o.Schema == nil {
			o.Schema = s.first
		}
		return NDJSON(path, o), nil
	case "arrow":
		o := s.opts.Arrow
		if o.Allocator == nil {
			o.Allocator = mem
		}
		return Arrow(path, o), nil
	}
	return nil, fmt.Errorf("pipeline: %s: unknown file format (want .csv, .tsv, .parquet, .pq, .ndjson, .jsonl, .json, .arrow, .arrows, .ipc or .feather, optionally .gz or .zst); set GlobOptions.Open to read it", path)
}

// fileSchema opens file i and checks its schema against the first file's.
// The caller holds s.mu.
func (s *GlobSource) fileSchema(ctx context.Context, i int) (Source, *arrow.Schema, error) {
	f := s.files[i]
	src, err := s.open(f.path)
	if err != nil {
		return nil, nil, err
	}
	sc, err := src.Schema(ctx)
	if err != nil {
		return nil, nil, err
	}
	if s.first == nil {
		for _, p := range s.parts {
			if sc.HasField(p.key) {
				return nil, nil, fmt.Errorf("%w: %s: partition key %q is also a column of the file", ErrSchema, f.path, p.key)
			}
		}
		s.first = sc
		return src, sc, nil
	}
	if d := schemaDiff(s.first, sc); d != "" {
		return nil, nil, fmt.Errorf("%w: %s and %s have different columns: %s", ErrSchema, s.files[0].path, f.path, d)
	}
	return src, sc, nil
}

// Schema lists the files and returns the first file's schema with the
// partition columns appended.
func (s *GlobSource) Schema(ctx context.Context) (*arrow.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	if err := s.resolve(); err != nil {
		return nil, err
	}
	_, first, err := s.fileSchema(ctx, 0)
	if err != nil {
		return nil, err
	}
	fields := slices.Clone(first.Fields())
	for _, p := range s.parts {
		t := arrow.DataType(arrow.BinaryTypes.String)
		if p.isInt {
			t = arrow.PrimitiveTypes.Int64
		}
		fields = append(fields, arrow.Field{Name: p.key, Type: t, Nullable: true})
	}
	md := first.Metadata()
	s.schema = arrow.NewSchema(fields, &md)
	return s.schema, nil
}

// Batches reads the files one after another.
func (s *GlobSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		schema, err := s.Schema(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		mem := s.opts.Allocator
		if mem == nil {
			mem = memory.DefaultAllocator
		}
		s.done.Store(0)
		defer s.cur.Store(nil)
		for i := range s.files {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			s.mu.Lock()
			src, _, err := s.fileSchema(ctx, i)
			s.mu.Unlock()
			if err != nil {
				yield(nil, err)
				return
			}
			if !s.readFile(ctx, mem, schema, i, src, yield) {
				return
			}
		}
	}
}

// readFile yields one file's batches with its partition columns, and
// reports whether to go on.
func (s *GlobSource) readFile(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, i int, src Source, yield func(arrow.RecordBatch, error) bool) bool {
	f := &s.files[i]
	bc, counts := src.(ByteCounter)
	if counts {
		s.cur.Store(&bc)
	}
	consts := make([]arrow.Array, len(s.parts)) // partition values, as long as the longest batch so far
	defer func() {
		s.cur.Store(nil)
		if counts {
			s.done.Add(bc.BytesRead())
		} else if f.size > 0 {
			s.done.Add(f.size)
		}
		for _, a := range consts {
			if a != nil {
				a.Release()
			}
		}
	}()
	nfile := schema.NumFields() - len(s.parts)
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			if i > 0 && errors.Is(err, ErrSchema) {
				err = fmt.Errorf("%s read with the columns of %s: %w", f.path, s.files[0].path, err)
			}
			yield(nil, err)
			return false
		}
		if int(rec.NumCols()) != nfile {
			rec.Release()
			yield(nil, fmt.Errorf("%w: %s: a batch has %d columns, the schema %d", ErrSchema, f.path, rec.NumCols(), nfile))
			return false
		}
		if err := checkNulls(f.path, schema, rec); err != nil {
			rec.Release()
			yield(nil, err)
			return false
		}
		n := rec.NumRows()
		cols := make([]arrow.Array, 0, schema.NumFields())
		cols = append(cols, rec.Columns()...)
		var sliced []arrow.Array
		for j, p := range s.parts {
			if consts[j] == nil || int64(consts[j].Len()) < n {
				if consts[j] != nil {
					consts[j].Release()
				}
				consts[j] = constColumn(mem, p, f.parts[j], f.nulls[j], n)
			}
			a := consts[j]
			if int64(a.Len()) != n {
				a = array.NewSlice(a, 0, n)
				sliced = append(sliced, a)
			}
			cols = append(cols, a)
		}
		out := array.NewRecordBatch(schema, cols, n)
		rec.Release()
		for _, a := range sliced {
			a.Release()
		}
		if !yield(out, nil) {
			return false
		}
	}
	return true
}

// checkNulls rejects nulls in a column the schema says is not nullable,
// which a later file whose column is nullable may hold.
func checkNulls(path string, schema *arrow.Schema, rec arrow.RecordBatch) error {
	for j, c := range rec.Columns() {
		if !schema.Field(j).Nullable && c.NullN() > 0 {
			return fmt.Errorf("%w: %s: column %q holds nulls, but the first file's column is not nullable", ErrSchema, path, schema.Field(j).Name)
		}
	}
	return nil
}

// constColumn makes a column of n copies of one partition value.
func constColumn(mem memory.Allocator, p partCol, v string, null bool, n int64) arrow.Array {
	if p.isInt {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		if null {
			b.AppendNulls(int(n))
		} else {
			x, _ := strconv.ParseInt(v, 10, 64)
			b.Reserve(int(n))
			for range n {
				b.UnsafeAppend(x)
			}
		}
		return b.NewArray()
	}
	b := array.NewStringBuilder(mem)
	defer b.Release()
	if null {
		b.AppendNulls(int(n))
	} else {
		b.Reserve(int(n))
		b.ReserveData(len(v) * int(n))
		for range n {
			b.Append(v)
		}
	}
	return b.NewArray()
}

// schemaDiff describes how got differs from want in column names, types or
// nullability, or returns "" when they match. Metadata is not compared, and
// a column that is nullable in want may be non-nullable in got.
func schemaDiff(want, got *arrow.Schema) string {
	var diffs []string
	for i := range max(want.NumFields(), got.NumFields()) {
		switch {
		case i >= want.NumFields():
			f := got.Field(i)
			diffs = append(diffs, fmt.Sprintf("extra column %d %q (%s)", i+1, f.Name, f.Type))
		case i >= got.NumFields():
			f := want.Field(i)
			diffs = append(diffs, fmt.Sprintf("missing column %d %q (%s)", i+1, f.Name, f.Type))
		default:
			w, g := want.Field(i), got.Field(i)
			switch {
			case w.Name != g.Name:
				diffs = append(diffs, fmt.Sprintf("column %d is %q, want %q", i+1, g.Name, w.Name))
			case !arrow.TypeEqual(w.Type, g.Type):
				diffs = append(diffs, fmt.Sprintf("column %q is %s, want %s", w.Name, g.Type, w.Type))
			case g.Nullable && !w.Nullable:
				diffs = append(diffs, fmt.Sprintf("column %q is nullable, want non-nullable", w.Name))
			}
		}
	}
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}
