package store_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/kilnml/kiln/store"
)

const stBenchSize = 1 << 30

// stBenchFS returns an FS backend in a fresh folder under $KILN_STORE_BENCH_DIR
// (for example /dev/shm, to take the disk's fsync out of the figure), or
// under b.TempDir() when it is not set.
func stBenchFS(b *testing.B) store.Backend {
	dir := b.TempDir()
	if root := os.Getenv("KILN_STORE_BENCH_DIR"); root != "" {
		var err error
		if dir, err = os.MkdirTemp(root, "kiln-store-bench-"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	fs, err := store.NewFS(dir)
	if err != nil {
		b.Fatal(err)
	}
	return fs
}

// BenchmarkPut stores 1 GiB of generated incompressible bytes into a fresh
// FS repository under t.TempDir (page cache); it reports GB/s.
func BenchmarkPut(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := stOpen(b, stBenchFS(b), store.Options{})
		b.StartTimer()
		if _, err := s.Put(context.Background(), stNewGen(1, stBenchSize)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(stBenchSize)
	b.ReportMetric(float64(stBenchSize)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkGet reads back and verifies 1 GiB from an FS repository.
func BenchmarkGet(b *testing.B) {
	s := stOpen(b, stBenchFS(b), store.Options{})
	d, err := s.Put(context.Background(), stNewGen(2, stBenchSize))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rc, err := s.Get(context.Background(), d)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != stBenchSize {
			b.Fatal(n, err)
		}
		rc.Close()
	}
	b.SetBytes(stBenchSize)
	b.ReportMetric(float64(stBenchSize)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkGen is the cost of the generator alone, to subtract from Put.
func BenchmarkGen(b *testing.B) {
	for b.Loop() {
		io.Copy(io.Discard, stNewGen(1, stBenchSize))
	}
	b.SetBytes(stBenchSize)
}

// BenchmarkPutMemory is BenchmarkPut into the memory backend.
func BenchmarkPutMemory(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := stOpen(b, store.NewMemory(), store.Options{})
		b.StartTimer()
		if _, err := s.Put(context.Background(), stNewGen(1, stBenchSize)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(stBenchSize)
	b.ReportMetric(float64(stBenchSize)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkBatchPutSmall stores 4 KiB blobs in a Batch (one op is one blob),
// as when versioning a folder of many small files.
func BenchmarkBatchPutSmall(b *testing.B) {
	s := stOpen(b, stBenchFS(b), store.Options{})
	batch := s.Batch()
	data := stData(3, 4096+8)
	i := 0
	for b.Loop() {
		i++
		copy(data, []byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)})
		if _, err := batch.Put(context.Background(), bytes.NewReader(data[:4096])); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4096)
}

// BenchmarkGetSmall reads back and verifies a 4 KiB blob.
func BenchmarkGetSmall(b *testing.B) {
	s := stOpen(b, stBenchFS(b), store.Options{})
	d := stPut(b, s, stData(4, 4096))
	for b.Loop() {
		rc, err := s.Get(context.Background(), d)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
	b.SetBytes(4096)
}
