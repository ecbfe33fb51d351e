package monitor

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchColumns is the width of the Observe benchmarks.
const benchColumns = 20

// benchBatch returns a 20-column float64 batch of rows rows (column j is
// normal with mean j) and the matching reference profile.
func benchSetup(tb testing.TB, rows int) (arrow.RecordBatch, *Profile) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	fields := make([]arrow.Field, benchColumns)
	cols := make([]arrow.Array, benchColumns)
	ref := &Profile{}
	for j := range fields {
		name := fmt.Sprintf("x%d", j)
		fields[j] = arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64}
		refVals := make([]float64, 20000)
		for i := range refVals {
			refVals[i] = rng.NormFloat64() + float64(j)
		}
		ref.Columns = append(ref.Columns, refNumeric(name, refVals, 100))
		b := array.NewFloat64Builder(memory.DefaultAllocator)
		for i := 0; i < rows; i++ {
			b.Append(rng.NormFloat64()*1.1 + float64(j) + 0.05)
		}
		cols[j] = b.NewArray()
		b.Release()
	}
	ref.Rows = 20000
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(rows)), ref
}

// BenchmarkObserveNumeric observes 4096-row batches of 20 float64 columns
// from parallel goroutines; ns/value is the time per value per core.
func BenchmarkObserveNumeric(b *testing.B) {
	batch, ref := benchSetup(b, 4096)
	m, err := New(Options{Reference: ref, Window: Tumbling(1 << 20)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := m.Observe(batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	// ns per value per core: the CPU time the process spent (user and
	// system, all threads) per value observed, which other processes on a
	// busy machine do not inflate; wall-ns/value is elapsed × GOMAXPROCS
	// per value, which they do.
	values := float64(b.N) * 4096 * benchColumns
	b.ReportMetric(float64(cpuTime()-cpu0)/values, "ns/value")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())*float64(parallelism())/values, "wall-ns/value")
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkObserveRow observes rows of 20 numbers one at a time.
func BenchmarkObserveRow(b *testing.B) {
	_, ref := benchSetup(b, 1)
	m, err := New(Options{Reference: ref, Window: Tumbling(1 << 20)})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		row := make([]Value, benchColumns)
		x := 0.0
		for pb.Next() {
			for j := range row {
				row[j] = Num(j, x+float64(j))
			}
			x += 0.001
			if err := m.ObserveRow(row...); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkWindow100k is the service path of a report: a 100k-row window
// observed in 4096-row batches, then Flush.
func BenchmarkWindow100k(b *testing.B) {
	batch, ref := benchSetup(b, 4096)
	for i := 0; i < b.N; i++ {
		m, err := New(Options{Reference: ref, Window: Tumbling(1 << 30)})
		if err != nil {
			b.Fatal(err)
		}
		for r := 0; r < 100000; r += 4096 {
			if err := m.Observe(batch); err != nil {
				b.Fatal(err)
			}
		}
		if m.Flush() == nil {
			b.Fatal("no report")
		}
		m.Close()
	}
}
