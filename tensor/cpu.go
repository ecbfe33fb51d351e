package tensor

import (
	"fmt"
	"unsafe"

	"github.com/kilnml/kiln/tensor/internal/kern"
)

// cpuDevice is the host device: storage is Go memory, kernels are those of
// package kern run on kern.Default's pool.
type cpuDevice struct{}

var cpuDev Device = &cpuDevice{}

// CPU returns the host device, the default one: its buffers are Go
// slices aligned to 64 bytes, and its float32 kernels are the SIMD kernels
// of the best tier the processor supports, spread over GOMAXPROCS
// threads with results that do not depend on the number of threads.
func CPU() Device { return cpuDev }

// cpuBuffer is a CPU buffer: exactly one of f32 and f64 is set.
type cpuBuffer struct {
	dt  DType
	f32 []float32
	f64 []float64
}

func (b *cpuBuffer) Device() Device { return cpuDev }
func (b *cpuBuffer) DType() DType   { return b.dt }
func (b *cpuBuffer) Len() int {
	if b.dt == Float64 {
		return len(b.f64)
	}
	return len(b.f32)
}

func hostF32(b Buffer) []float32 { return b.(*cpuBuffer).f32 }
func hostF64(b Buffer) []float64 { return b.(*cpuBuffer).f64 }

const align = 64

// alignedF32 returns a zeroed slice of n float32 starting on a 64-byte
// boundary.
func alignedF32(n int) []float32 {
	s := make([]float32, n+align/4)
	k := 0
	if p := uintptr(unsafe.Pointer(&s[0])) % align; p != 0 {
		k = int(align-p) / 4
	}
	return s[k : k+n : k+n]
}

// alignedF64 is alignedF32 for float64.
func alignedF64(n int) []float64 {
	s := make([]float64, n+align/8)
	k := 0
	if p := uintptr(unsafe.Pointer(&s[0])) % align; p != 0 {
		k = int(align-p) / 8
	}
	return s[k : k+n : k+n]
}

func (*cpuDevice) Name() string { return "cpu" }

func (*cpuDevice) Alloc(dt DType, n int) (Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: allocation of %d elements", ErrShape, n)
	}
	switch dt {
	case Float32:
		return &cpuBuffer{dt: dt, f32: alignedF32(n)}, nil
	case Float64:
		return &cpuBuffer{dt: dt, f64: alignedF64(n)}, nil
	}
	return nil, fmt.Errorf("%w: unknown %v", ErrDType, dt)
}

func cpuBuf(b Buffer) (*cpuBuffer, error) {
	cb, ok := b.(*cpuBuffer)
	if !ok || cb == nil {
		return nil, fmt.Errorf("%w: buffer is not a cpu buffer", ErrDevice)
	}
	return cb, nil
}

func (*cpuDevice) CopyFromHost(dst Buffer, offset int, src any) error {
	b, err := cpuBuf(dst)
	if err != nil {
		return err
	}
	switch s := src.(type) {
	case []float32:
		if b.dt != Float32 {
			return fmt.Errorf("%w: []float32 into a %v buffer", ErrDType, b.dt)
		}
		if offset < 0 || offset+len(s) > len(b.f32) {
			return fmt.Errorf("%w: copy of %d at %d into %d elements", ErrIndex, len(s), offset, len(b.f32))
		}
		copy(b.f32[offset:], s)
	case []float64:
		if b.dt != Float64 {
			return fmt.Errorf("%w: []float64 into a %v buffer", ErrDType, b.dt)
		}
		if offset < 0 || offset+len(s) > len(b.f64) {
			return fmt.Errorf("%w: copy of %d at %d into %d elements", ErrIndex, len(s), offset, len(b.f64))
		}
		copy(b.f64[offset:], s)
	default:
		return fmt.Errorf("%w: host data of type %T", ErrDType, src)
	}
	return nil
}

func (*cpuDevice) CopyToHost(dst any, src Buffer, offset int) error {
	b, err := cpuBuf(src)
	if err != nil {
		return err
	}
	switch d := dst.(type) {
	case []float32:
		if b.dt != Float32 {
			return fmt.Errorf("%w: %v buffer into []float32", ErrDType, b.dt)
		}
		if offset < 0 || offset+len(d) > len(b.f32) {
			return fmt.Errorf("%w: copy of %d at %d from %d elements", ErrIndex, len(d), offset, len(b.f32))
		}
		copy(d, b.f32[offset:])
	case []float64:
		if b.dt != Float64 {
			return fmt.Errorf("%w: %v buffer into []float64", ErrDType, b.dt)
		}
		if offset < 0 || offset+len(d) > len(b.f64) {
			return fmt.Errorf("%w: copy of %d at %d from %d elements", ErrIndex, len(d), offset, len(b.f64))
		}
		copy(d, b.f64[offset:])
	default:
		return fmt.Errorf("%w: host data of type %T", ErrDType, dst)
	}
	return nil
}

func (*cpuDevice) Synchronize() error { return nil }

func (*cpuDevice) Copy(dst, src View) error {
	l := newLoop(dst.Shape, dst, src)
	inc := l.inc()
	if dst.DType == Float32 && src.DType == Float32 && transposeCopy(&l) {
		return nil
	}
	switch {
	case dst.DType == Float32 && src.DType == Float32:
		d, s := hostF32(dst.Buf), hostF32(src.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			if inc[0] == 1 && inc[1] == 1 {
				copy(d[o[0]:o[0]+n], s[o[1]:o[1]+n])
				return
			}
			for i := range n {
				d[o[0]+i*inc[0]] = s[o[1]+i*inc[1]]
			}
		})
	case dst.DType == Float64 && src.DType == Float64:
		d, s := hostF64(dst.Buf), hostF64(src.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			if inc[0] == 1 && inc[1] == 1 {
				copy(d[o[0]:o[0]+n], s[o[1]:o[1]+n])
				return
			}
			for i := range n {
				d[o[0]+i*inc[0]] = s[o[1]+i*inc[1]]
			}
		})
	case dst.DType == Float32:
		d, s := hostF32(dst.Buf), hostF64(src.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			for i := range n {
				d[o[0]+i*inc[0]] = float32(s[o[1]+i*inc[1]])
			}
		})
	default:
		d, s := hostF64(dst.Buf), hostF32(src.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			for i := range n {
				d[o[0]+i*inc[0]] = float64(s[o[1]+i*inc[1]])
			}
		})
	}
	return nil
}

func (*cpuDevice) Fill(dst View, v float64) error {
	l := newLoop(dst.Shape, dst)
	inc := l.inc()[0]
	if dst.DType == Float64 {
		d := hostF64(dst.Buf)
		l.run(kern.Default(), func(o [3]int, n int) {
			for i := range n {
				d[o[0]+i*inc] = v
			}
		})
		return nil
	}
	d, x := hostF32(dst.Buf), float32(v)
	l.run(kern.Default(), func(o [3]int, n int) {
		for i := range n {
			d[o[0]+i*inc] = x
		}
	})
	return nil
}

// transposeCopy copies float32 views whose innermost two axes are
// transposed between source and destination (the Contiguous copy of a
// transposed matrix) in cache-sized blocks. It reports false, doing
// nothing, for other layouts.
func transposeCopy(l *loop) bool {
	r := len(l.shape)
	if r < 2 || l.st[r-1][0] != 1 || l.st[r-2][1] != 1 || l.st[r-1][1] == 1 || l.n < 4096 {
		return false
	}
	const blk = 32
	rows, cols := l.shape[r-2], l.shape[r-1]
	outer := l.n / (rows * cols)
	rb, cb := (rows+blk-1)/blk, (cols+blk-1)/blk
	dRow, sCol := l.st[r-2][0], l.st[r-1][1]
	return transposeRun(l, outer, rb, cb, rows, cols, dRow, sCol)
}

func transposeRun(l *loop, outer, rb, cb, rows, cols, dRow, sCol int) bool {
	const blk = 32
	r := len(l.shape)
	d, s := l.bufs32()
	kern.Default().Run(outer*rb, func(t int) {
		o, bi := t/rb, t%rb
		do, so := l.off[0], l.off[1]
		for i := r - 3; i >= 0; i-- {
			x := o % l.shape[i]
			o /= l.shape[i]
			do += x * l.st[i][0]
			so += x * l.st[i][1]
		}
		i0, i1 := bi*blk, min(rows, (bi+1)*blk)
		for bj := range cb {
			j0, j1 := bj*blk, min(cols, (bj+1)*blk)
			for j := j0; j < j1; j++ {
				sj := so + j*sCol
				for i := i0; i < i1; i++ {
					d[do+i*dRow+j] = s[sj+i]
				}
			}
		}
	})
	return true
}
