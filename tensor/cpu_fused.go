package tensor

import (
	"math"

	"github.com/kilnml/kiln/tensor/internal/kern"
)

// The CPU's fused optimizer updates run the composed elementwise kernels
// of package kern (the very ones Binary and Unary run, so the bits are
// the same) on runs of fusedRun elements that stay in the L1 cache: each
// element of p, g and the state is read and written once per step
// instead of once per operation.

var _ OptimizerDevice = (*cpuDevice)(nil)

// fusedRun is the length of the runs the updates are computed on, with
// two scratch arrays of this length on the stack.
const fusedRun = 1024

// fusedTiles runs fn over [0, n) in runs of at most fusedRun elements,
// grouped in tiles of tileElems elements spread over the default pool (on
// the caller when n is small). The updates are elementwise, so the result
// does not depend on the tiling.
func fusedTiles(n int, fn func(lo, hi int, w0, w1 []float32)) {
	tile := func(lo, hi int) {
		var w0, w1 [fusedRun]float32
		for s := lo; s < hi; s += fusedRun {
			e := min(s+fusedRun, hi)
			fn(s, e, w0[:e-s], w1[:e-s])
		}
	}
	if n < 2*tileElems {
		tile(0, n)
		return
	}
	kern.Default().Run((n+tileElems-1)/tileElems, func(t int) {
		tile(t*tileElems, min((t+1)*tileElems, n))
	})
}

// span returns the n float32 elements of a contiguous CPU view.
func span(v View, n int) []float32 {
	return hostF32(v.Buf)[v.Offset : v.Offset+n : v.Offset+n]
}

func (*cpuDevice) AdamUpdate(p, g, m, v, vmax View, a AdamArgs) error {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	t := float64(a.Step)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2 := 1 - math.Pow(a.Beta2, t)
	var (
		decay  = a.Decoupled && a.WeightDecay != 0
		l2     = !a.Decoupled && a.WeightDecay != 0
		pdecay = float32(1 - a.LR*a.WeightDecay)
		wd     = float32(a.WeightDecay)
		b1     = float32(a.Beta1)
		omb1   = float32(1 - a.Beta1)
		b2     = float32(a.Beta2)
		omb2   = float32(1 - a.Beta2)
		bc2s   = float32(math.Sqrt(bc2))
		eps    = float32(a.Eps)
		ss     = float32(a.LR / bc1)
	)
	ps, gs, ms, vs := span(p, n), span(g, n), span(m, n), span(v, n)
	var vms []float32
	if a.AMSGrad {
		vms = span(vmax, n)
	}
	fusedTiles(n, func(lo, hi int, w0, w1 []float32) {
		p, g, m, v := ps[lo:hi], gs[lo:hi], ms[lo:hi], vs[lo:hi]
		if decay {
			kern.BinaryScalar(kern.OpMul, p, p, pdecay, false)
		}
		d := g
		if l2 {
			kern.BinaryScalar(kern.OpMul, w0, p, wd, false)
			kern.Binary(kern.OpAdd, w0, g, w0)
			d = w0
		}
		kern.BinaryScalar(kern.OpMul, m, m, b1, false)
		kern.BinaryScalar(kern.OpMul, w1, d, omb1, false)
		kern.Binary(kern.OpAdd, m, m, w1)
		kern.BinaryScalar(kern.OpMul, v, v, b2, false)
		kern.Binary(kern.OpMul, w1, d, d)
		kern.BinaryScalar(kern.OpMul, w1, w1, omb2, false)
		kern.Binary(kern.OpAdd, v, v, w1)
		src := v
		if vms != nil {
			src = vms[lo:hi]
			kern.Binary(kern.OpMax, src, src, v) // NaN if either is NaN
		}
		kern.Unary(kern.OpSqrt, w1, src, 0)
		kern.BinaryScalar(kern.OpDiv, w1, w1, bc2s, false)
		kern.BinaryScalar(kern.OpAdd, w1, w1, eps, false)
		kern.Binary(kern.OpDiv, w1, m, w1)
		kern.BinaryScalar(kern.OpMul, w1, w1, ss, false)
		kern.Binary(kern.OpSub, p, p, w1)
	})
	return nil
}

func (*cpuDevice) SGDUpdate(p, g, buf View, a SGDArgs) error {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	var (
		wd   = float32(a.WeightDecay)
		mu   = float32(a.Momentum)
		damp = float32(1 - a.Dampening)
		lr   = float32(a.LR)
	)
	ps, gs := span(p, n), span(g, n)
	var bs []float32
	if a.Momentum != 0 {
		bs = span(buf, n)
	}
	fusedTiles(n, func(lo, hi int, w0, w1 []float32) {
		p, g := ps[lo:hi], gs[lo:hi]
		d := g
		if a.WeightDecay != 0 {
			kern.BinaryScalar(kern.OpMul, w0, p, wd, false)
			kern.Binary(kern.OpAdd, w0, g, w0)
			d = w0
		}
		step := d
		if bs != nil {
			b := bs[lo:hi]
			if a.First {
				copy(b, d)
			} else {
				kern.BinaryScalar(kern.OpMul, b, b, mu, false)
				kern.BinaryScalar(kern.OpMul, w1, d, damp, false)
				kern.Binary(kern.OpAdd, b, b, w1)
			}
			step = b
			if a.Nesterov {
				kern.BinaryScalar(kern.OpMul, w1, b, mu, false)
				kern.Binary(kern.OpAdd, w1, d, w1)
				step = w1
			}
		}
		kern.BinaryScalar(kern.OpMul, w1, step, lr, false)
		kern.Binary(kern.OpSub, p, p, w1)
	})
	return nil
}
