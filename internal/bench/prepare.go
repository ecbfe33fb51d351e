package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// defaultFlightsCSV is where prepare writes the benchmark CSV and where the
// CSV suites read it by default.
const defaultFlightsCSV = "/tmp/kiln-bench/flights-3m.csv"

// defaultFlightsParquet returns ../shared/data/flights-3m.parquet relative to
// the module root, where the project keeps its real data.
func defaultFlightsParquet() string {
	root, err := moduleRoot()
	if err != nil {
		return filepath.Join("..", "shared", "data", "flights-3m.parquet")
	}
	return filepath.Join(root, "..", "shared", "data", "flights-3m.parquet")
}

// runPrepare is the prepare suite: it exports a Parquet file to CSV, one row
// group at a time, for the CSV suites to read.
func runPrepare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	src := fs.String("parquet", defaultFlightsParquet(), "Parquet `file` to export")
	out := fs.String("out", defaultFlightsCSV, "CSV `file` to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("prepare: unexpected arguments %q", fs.Args())
	}
	start := time.Now()
	rows, size, err := exportCSV(ctx, *src, *out, -1)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d rows, %d bytes (%.1f MB) in %.2f s\n",
		*out, rows, size, float64(size)/1e6, time.Since(start).Seconds())
	return nil
}

// openParquet opens path for reading through pqarrow.
func openParquet(path string, props pqarrow.ArrowReadProperties) (*pqarrow.FileReader, func() error, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, nil, err // already names the file
		}
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	fr, err := pqarrow.NewFileReader(pf, props, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return fr, pf.Close, nil
}

// exportCSV writes the first limit rows of the Parquet file src (all of them
// when limit < 0) to the CSV file dst, with a header. It writes to a
// temporary name and renames it on success.
func exportCSV(ctx context.Context, src, dst string, limit int64) (rows, size int64, err error) {
	fr, closeSrc, err := openParquet(src, pqarrow.ArrowReadProperties{BatchSize: 64 << 10})
	if err != nil {
		return 0, 0, err
	}
	defer closeSrc()
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", src, err)
	}
	defer rr.Release()
	w, err := newCSVWriter(rr.Schema())
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", src, err)
	}

	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp*")
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	buf := w.header(nil)
	for rr.Next() {
		rec := rr.RecordBatch()
		n := rec.NumRows()
		if limit >= 0 && rows+n > limit {
			n = limit - rows
		}
		if n == rec.NumRows() {
			buf = w.batch(buf, rec)
		} else {
			part := rec.NewSlice(0, n)
			buf = w.batch(buf, part)
			part.Release()
		}
		rows += n
		if _, err := bw.Write(buf); err != nil {
			return 0, 0, err
		}
		size += int64(len(buf))
		buf = buf[:0]
		if limit >= 0 && rows >= limit {
			break
		}
	}
	// The record reader reports io.EOF once it has read everything.
	if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
		return 0, 0, fmt.Errorf("read %s: %w", src, err)
	}
	if _, err := bw.Write(buf); err != nil {
		return 0, 0, err
	}
	size += int64(len(buf))
	if err := bw.Flush(); err != nil {
		return 0, 0, err
	}
	// CreateTemp makes the file private; give it the usual permissions.
	if err := tmp.Chmod(0o644); err != nil {
		return 0, 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, 0, err
	}
	return rows, size, os.Rename(tmp.Name(), dst)
}
