package kern

import (
	"os"
	"strconv"
	"testing"
)

// BenchmarkElementwise times dst = a + b, dst = relu(a) and copy(dst, a)
// on buffers of KILN_ELEM_N float32 (default 16M, 64 MiB each), on one
// thread and split over Default(); the bytes it reports are those read and
// written (12 per element for add, 8 for ReLU and copy). The elementwise
// suite of internal/bench runs it and compares the kernels with copy,
// setting KILN_ELEM_ROTATE=r to start each run at another case so that no
// case always follows the same one.
func BenchmarkElementwise(b *testing.B) {
	n := 16 << 20
	if s := os.Getenv("KILN_ELEM_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("KILN_ELEM_N=%q is not a positive count", s)
		}
		n = v
	}
	x, y, dst := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%1000) - 500
		y[i] = float32(i % 7)
	}
	p := Default()
	parCopy := func() {
		p.Run((n+parChunk-1)/parChunk, func(t int) {
			lo, hi := t*parChunk, min((t+1)*parChunk, n)
			copy(dst[lo:hi], x[lo:hi])
		})
	}
	cases := []struct {
		name  string
		bytes int64
		fn    func()
	}{
		{"copy/1", 8, func() { copy(dst, x) }},
		{"add/1", 12, func() { Binary(OpAdd, dst, x, y) }},
		{"relu/1", 8, func() { Unary(OpReLU, dst, x, 0) }},
		{"copy/pool", 8, parCopy},
		{"add/pool", 12, func() { BinaryPar(p, OpAdd, dst, x, y) }},
		{"relu/pool", 8, func() { UnaryPar(p, OpReLU, dst, x, 0) }},
	}
	if s := os.Getenv("KILN_ELEM_ROTATE"); s != "" {
		r, err := strconv.Atoi(s)
		if err != nil || r < 0 {
			b.Fatalf("KILN_ELEM_ROTATE=%q is not a count", s)
		}
		r %= len(cases)
		cases = append(cases[r:], cases[:r]...)
	}
	for _, c := range cases {
		c.fn() // page dst in
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(c.bytes * int64(n))
			for b.Loop() {
				c.fn()
			}
			b.ReportMetric(float64(p.Workers()), "pool-workers")
		})
	}
}
