package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// runTestdata writes the flights slices kept in testdata/: the first rows of
// flights-3m.parquet as CSV (with a header) and as Parquet (snappy, one row
// group, Arrow schema stored). Running it again gives identical files.
func runTestdata(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("testdata", flag.ContinueOnError)
	src := fs.String("parquet", defaultFlightsParquet(), "Parquet `file` to slice")
	dir := fs.String("dir", "", "`folder` to write into (default: testdata/ of the module)")
	rows := fs.Int64("rows", 20000, "number of leading `rows` to keep")
	name := fs.String("name", "flights-20k", "base `name` of the files written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("testdata: unexpected arguments %q", fs.Args())
	}
	if *rows <= 0 {
		return fmt.Errorf("testdata: -rows must be positive, not %d", *rows)
	}
	if *dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		*dir = filepath.Join(root, "testdata")
	}
	csvPath := filepath.Join(*dir, *name+".csv")
	n, size, err := exportCSV(ctx, *src, csvPath, *rows)
	if err != nil {
		return err
	}
	if n != *rows {
		return fmt.Errorf("testdata: %s has only %d rows, not %d", *src, n, *rows)
	}
	fmt.Printf("wrote %s: %d rows, %d bytes\n", csvPath, n, size)

	pqPath := filepath.Join(*dir, *name+".parquet")
	rec, err := headRows(ctx, *src, *rows)
	if err != nil {
		return err
	}
	defer rec.Release()
	if err := writeParquetFile(pqPath, rec); err != nil {
		return err
	}
	st, err := os.Stat(pqPath)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d rows, %d bytes\n", pqPath, rec.NumRows(), st.Size())
	return nil
}

// headRows reads the first n rows of a Parquet file into one record batch,
// normalised for Kiln's tests: large_string columns become string, and field
// metadata (parquet field ids) is dropped.
func headRows(ctx context.Context, path string, n int64) (arrow.RecordBatch, error) {
	fr, closeSrc, err := openParquet(path, pqarrow.ArrowReadProperties{BatchSize: n})
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rr.Release()

	var parts []arrow.RecordBatch
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	var got int64
	for got < n && rr.Next() {
		rec := rr.RecordBatch()
		take := min(rec.NumRows(), n-got)
		parts = append(parts, rec.NewSlice(0, take))
		got += take
	}
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if got < n {
		return nil, fmt.Errorf("%s has only %d rows, not %d", path, got, n)
	}

	in := rr.Schema()
	fields := make([]arrow.Field, in.NumFields())
	cols := make([]arrow.Array, in.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	mem := memory.DefaultAllocator
	for i, f := range in.Fields() {
		chunks := make([]arrow.Array, len(parts))
		for j, p := range parts {
			chunks[j] = p.Column(i)
		}
		col, err := array.Concatenate(chunks, mem)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		if f.Type.ID() == arrow.LARGE_STRING {
			narrow := toString(mem, col.(*array.LargeString))
			col.Release()
			col = narrow
		}
		cols[i] = col
		fields[i] = arrow.Field{Name: f.Name, Type: col.DataType(), Nullable: f.Nullable}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n)
	return rec, nil
}

// toString copies a large_string array into a string array.
func toString(mem memory.Allocator, a *array.LargeString) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.Reserve(a.Len())
	b.ReserveData(len(a.ValueBytes()))
	for i := range a.Len() {
		if a.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(a.Value(i))
		}
	}
	return b.NewArray()
}

// writeParquetFile writes rec to path as one snappy-compressed row group with
// the Arrow schema stored in the file metadata, through a temporary name.
func writeParquetFile(path string, rec arrow.RecordBatch) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp makes the file private; give it the usual permissions.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithMaxRowGroupLength(max(rec.NumRows(), 1)),
	)
	fw, err := pqarrow.NewFileWriter(rec.Schema(), tmp, props,
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fw.Write(rec); err != nil {
		fw.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Close also closes tmp.
	if err := fw.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
