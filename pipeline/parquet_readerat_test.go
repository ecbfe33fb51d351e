package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// failingReaderAt fails every ReadAt once more than ok reads were made.
type failingReaderAt struct {
	r     io.ReaderAt
	ok    int64
	calls atomic.Int64
}

var errInjected = errors.New("injected read failure")

func (f *failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if f.calls.Add(1) > f.ok {
		return 0, errInjected
	}
	return f.r.ReadAt(p, off)
}

func TestParquetReaderAtMatchesPath(t *testing.T) {
	path, tbl := flightsParquet(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := tableRows(t, tbl)
	for _, opts := range []ParquetOptions{
		{},
		{Parallelism: 1, BatchRows: 5000},
		{Parallelism: 4, Columns: []string{"time", "delay"}},
	} {
		opts.Allocator = checkedAlloc(t)
		src := ParquetReaderAt("flights", bytes.NewReader(data), int64(len(data)), opts)
		if src.TotalBytes() != -1 {
			t.Errorf("TotalBytes before reading = %d, want -1", src.TotalBytes())
		}
		fromPath := mustRead(t, Parquet(path, opts))
		got := mustRead(t, src)
		if diff := cmp.Diff(textRows(fromPath), textRows(got)); diff != "" {
			t.Errorf("%+v: ReaderAt and path sources differ (-path +readerat):\n%s", opts, diff)
		}
		if len(opts.Columns) == 0 {
			if diff := diffRows(want, textRows(got)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		}
		if diff := cmp.Diff(batchSizes(fromPath), batchSizes(got)); diff != "" {
			t.Errorf("batch sizes (-path +readerat):\n%s", diff)
		}
		if src.TotalBytes() != int64(len(data)) || src.BytesRead() <= 0 || src.BytesRead() > src.TotalBytes() {
			t.Errorf("BytesRead %d, TotalBytes %d, size %d", src.BytesRead(), src.TotalBytes(), len(data))
		}
		// The source may be read again.
		if again := mustRead(t, src); !cmp.Equal(textRows(got), textRows(again)) {
			t.Error("a second read gave other rows")
		}
	}
}

func TestParquetReaderAtErrors(t *testing.T) {
	path, _ := flightsParquet(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Not Parquet, and truncated Parquet: the error names the source.
	for _, bad := range [][]byte{[]byte("not a parquet file at all"), data[:len(data)/2], nil} {
		src := ParquetReaderAt("blob:1234", bytes.NewReader(bad), int64(len(bad)), ParquetOptions{})
		_, err := src.Schema(ctx)
		if err == nil || !strings.Contains(err.Error(), "blob:1234") {
			t.Errorf("%d bytes: Schema error %v, want one naming blob:1234", len(bad), err)
		}
	}

	// A read failure after the footer ends the stream with that error,
	// leaking nothing.
	mem := checkedAlloc(t)
	fr := &failingReaderAt{r: bytes.NewReader(data), ok: 4}
	src := ParquetReaderAt("flaky", fr, int64(len(data)), ParquetOptions{Allocator: mem, Parallelism: 2})
	var last error
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			last = err
			break
		}
		rec.Release()
	}
	if !errors.Is(last, errInjected) || !strings.Contains(last.Error(), "flaky") {
		t.Errorf("error %v, want the injected failure naming the source", last)
	}
}

func TestParquetReaderAtEarlyStopAndCancel(t *testing.T) {
	path, _ := flightsParquet(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedAlloc(t)
	checkEarlyStop(t, ParquetReaderAt("f", bytes.NewReader(data), int64(len(data)), ParquetOptions{Allocator: mem, BatchRows: 1000}), 3)
	checkCancel(t, ParquetReaderAt("f", bytes.NewReader(data), int64(len(data)), ParquetOptions{Allocator: mem, BatchRows: 1000}))
}
