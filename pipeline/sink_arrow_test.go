package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// skReadIPC reads every batch of an Arrow IPC file or stream.
func skReadIPC(t testing.TB, data []byte, stream bool, mem memory.Allocator) []arrow.RecordBatch {
	t.Helper()
	var out []arrow.RecordBatch
	t.Cleanup(func() {
		for _, b := range out {
			b.Release()
		}
	})
	if stream {
		r, err := ipc.NewReader(bytes.NewReader(data), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		for r.Next() {
			rec := r.RecordBatch()
			rec.Retain()
			out = append(out, rec)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		rec.Retain()
		out = append(out, rec)
	}
	return out
}

func TestArrowSinkRoundTrip(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skTypesBatch(t, mem)
	defer rec.Release()
	nested, _, err := array.RecordFromJSON(mem, arrow.NewSchema([]arrow.Field{
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "s", Type: arrow.StructOf(arrow.Field{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
	}, nil), strings.NewReader(`[{"l": [1, null], "s": {"a": "x"}}, {"l": null, "s": null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer nested.Release()
	for _, batch := range []arrow.RecordBatch{rec, nested} {
		for _, opts := range []ArrowWriteOptions{{}, {Stream: true}, {Compression: "zstd"}, {Compression: "lz4", Stream: true, Parallelism: 1}} {
			t.Run(fmt.Sprintf("%d cols %+v", batch.NumCols(), opts), func(t *testing.T) {
				opts.Allocator = mem
				path := filepath.Join(t.TempDir(), "x.arrow")
				skWriteAll(t, ToArrow(path, opts), batch.Schema(), batch, batch)
				got := skReadIPC(t, skReadBack(t, path), opts.Stream, mem)
				if len(got) != 2 {
					t.Fatalf("read %d batches, want 2", len(got))
				}
				for _, g := range got {
					if !g.Schema().Equal(batch.Schema()) {
						t.Errorf("schema\n%v\nwant\n%v", g.Schema(), batch.Schema())
					}
					if !array.RecordApproxEqual(g, batch, array.WithNaNsEqual(true)) {
						t.Errorf("batch\n%v\nwant\n%v", g, batch)
					}
				}
			})
		}
	}
}

func TestArrowSinkStream(t *testing.T) {
	mem := checkedAlloc(t)
	batches := skReadArrowFile(t, "../testdata/flights-200k.arrow", mem)
	var buf bytes.Buffer
	// Stream is forced by ToArrowStream.
	skWriteAll(t, ToArrowStream(&buf, ArrowWriteOptions{Allocator: mem, Compression: "zstd"}), batches[0].Schema(), batches...)
	got := skReadIPC(t, buf.Bytes(), true, mem)
	if len(got) != len(batches) {
		t.Fatalf("read %d batches, want %d", len(got), len(batches))
	}
	for i := range got {
		if !array.RecordEqual(got[i], batches[i]) {
			t.Fatalf("batch %d differs", i)
		}
	}

	// Abort drops what is buffered (here everything: less than 1 MiB).
	small := skSimpleBatch(mem, 3)
	defer small.Release()
	var aborted bytes.Buffer
	sink := ToArrowStream(&aborted, ArrowWriteOptions{Allocator: mem})
	if err := sink.Open(context.Background(), small.Schema()); err != nil {
		t.Fatal(err)
	}
	sink.Write(context.Background(), small)
	sink.Abort()
	if aborted.Len() != 0 {
		t.Errorf("aborted stream flushed %d bytes, want none (all was buffered)", aborted.Len())
	}
}

func TestArrowSinkOptions(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skSimpleBatch(mem, 3)
	defer rec.Release()
	sink := ToArrow(filepath.Join(t.TempDir(), "x.arrow"), ArrowWriteOptions{Compression: "snappy"})
	if err := sink.Open(context.Background(), rec.Schema()); err == nil || !strings.Contains(err.Error(), `unknown compression "snappy"`) {
		t.Errorf("Open with snappy: %v", err)
	}
	if err := sink.Abort(); err != nil {
		t.Errorf("Abort: %v", err)
	}
}

// TestArrowSinkDictionaryReplacement writes two batches whose dictionaries
// differ: a stream carries both, the file format refuses the second and the
// sink fails cleanly.
func TestArrowSinkDictionaryReplacement(t *testing.T) {
	mem := checkedAlloc(t)
	mk := func(values ...string) arrow.RecordBatch {
		b := array.NewDictionaryBuilder(mem, skDictS).(*array.BinaryDictionaryBuilder)
		defer b.Release()
		for _, v := range values {
			b.AppendString(v)
		}
		arr := b.NewArray()
		defer arr.Release()
		return skOneColumn("d", arr)
	}
	one, two := mk("a", "b"), mk("c")
	defer one.Release()
	defer two.Release()

	var buf bytes.Buffer
	skWriteAll(t, ToArrowStream(&buf, ArrowWriteOptions{Allocator: mem}), one.Schema(), one, two)
	got := skReadIPC(t, buf.Bytes(), true, mem)
	if len(got) != 2 || !array.RecordEqual(got[1], two) {
		t.Errorf("stream with a replaced dictionary read back as %v", got)
	}

	dir := t.TempDir()
	sink := ToArrow(filepath.Join(dir, "d.arrow"), ArrowWriteOptions{Allocator: mem})
	ctx := context.Background()
	if err := sink.Open(ctx, one.Schema()); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, one); err != nil {
		t.Fatal(err)
	}
	err := sink.Write(ctx, two)
	if err == nil {
		err = sink.Commit(ctx)
	}
	if err == nil {
		t.Fatalf("file with a replaced dictionary was written")
	}
	if names := skDirNames(t, dir); len(names) != 0 {
		t.Errorf("after the failure, files = %q", names)
	}
	if err := sink.Abort(); err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("Abort: %v", err)
	}
}

// BenchmarkArrowSink writes the 3M-row flights table as an IPC file.
//
//	go test ./pipeline -run '^$' -bench ArrowSink
func BenchmarkArrowSink(b *testing.B) {
	batches, size := skFlightsBatches(b, flights3M, 65536)
	ctx := context.Background()
	for _, comp := range []string{"", "zstd"} {
		b.Run("compression="+comp, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				sink := ToArrowStream(io.Discard, ArrowWriteOptions{Compression: comp})
				if err := sink.Open(ctx, batches[0].Schema()); err != nil {
					b.Fatal(err)
				}
				for _, r := range batches {
					if err := sink.Write(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
				if err := sink.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
