package tensor

import (
	"fmt"

	"github.com/kilnml/kiln/tensor/internal/kern"
)

// An RNG fills tensors with seeded random numbers. The numbers depend only
// on the seed and the sequence of fills: they are the same on every
// machine, every device and for any GOMAXPROCS (see [RandomArgs] for the
// exact stream). An RNG is not safe for concurrent use.
type RNG struct {
	seed, counter uint64
}

// NewRNG returns a generator for seed.
func NewRNG(seed uint64) *RNG { return &RNG{seed: seed} }

// RNGState is the full state of an [RNG], for checkpoints.
type RNGState struct {
	Seed, Counter uint64
}

// State returns the generator's state; SetState with it resumes the
// stream exactly.
func (r *RNG) State() RNGState { return RNGState{Seed: r.seed, Counter: r.counter} }

// SetState restores a state returned by State.
func (r *RNG) SetState(s RNGState) { r.seed, r.counter = s.Seed, s.Counter }

// Uniform fills t with values drawn uniformly from [lo, hi).
func (r *RNG) Uniform(t *Tensor, lo, hi float64) error {
	return r.fill(t, RandomArgs{Dist: Uniform, A: lo, B: hi})
}

// Normal fills t with values drawn from the normal law of mean mean and
// standard deviation std.
func (r *RNG) Normal(t *Tensor, mean, std float64) error {
	return r.fill(t, RandomArgs{Dist: Normal, A: mean, B: std})
}

func (r *RNG) fill(t *Tensor, args RandomArgs) error {
	if t.invalid() {
		return errNil
	}
	args.Seed, args.Counter = r.seed, r.counter
	if err := t.Device().RandomFill(t.view(), args); err != nil {
		return err
	}
	n := uint64(t.Len())
	if args.Dist == Uniform && t.dt == Float32 {
		r.counter += (n + 3) / 4
	} else {
		r.counter += (n + 1) / 2
	}
	return nil
}

func (*cpuDevice) RandomFill(dst View, args RandomArgs) error {
	if args.Dist != Uniform && args.Dist != Normal {
		return fmt.Errorf("tensor: unknown distribution %d", args.Dist)
	}
	n := size(dst.Shape)
	out := dst
	dense := isDense(dst.Shape, dst.Strides)
	if !dense {
		buf, _ := cpuDev.Alloc(dst.DType, n)
		out = View{Buf: buf, DType: dst.DType, Shape: dst.Shape, Strides: contiguousStrides(dst.Shape)}
	}
	const tile = 4096
	p := kern.Default()
	if n < tile {
		p = nil
	}
	p.Run((n+tile-1)/tile, func(t int) {
		lo, hi := t*tile, min(n, (t+1)*tile)
		if dst.DType == Float64 {
			randomValues(hostF64(out.Buf)[out.Offset+lo:out.Offset+hi], args, Float64, uint64(lo))
		} else {
			randomValues(hostF32(out.Buf)[out.Offset+lo:out.Offset+hi], args, Float32, uint64(lo))
		}
	})
	if dense {
		return nil
	}
	return cpuDev.Copy(dst, out)
}

// randomValues sets out to elements lo, lo+1, … of the stream; lo is a
// multiple of 4.
func randomValues[T float32 | float64](out []T, args RandomArgs, dt DType, lo uint64) {
	hi := lo + uint64(len(out))
	switch {
	case args.Dist == Uniform && dt == Float32:
		a, w := float32(args.A), float32(args.B-args.A)
		for i := lo; i < hi; i += 4 {
			blk := philoxBlock(args.Seed, args.Counter+i/4, 0)
			for j := range min(4, hi-i) {
				u := float32(blk[j]>>8) * 0x1p-24
				out[i-lo+j] = T(a + float32(w*u))
			}
		}
	case args.Dist == Uniform:
		w := args.B - args.A
		for i := lo; i < hi; i += 2 {
			blk := philoxBlock(args.Seed, args.Counter+i/2, 0)
			for j := range min(2, hi-i) {
				x := (uint64(blk[2*j])<<32 | uint64(blk[2*j+1])) >> 11
				out[i-lo+j] = T(args.A + float64(w*(float64(x)*0x1p-53)))
			}
		}
	default:
		for i := lo; i < hi; i += 2 {
			z0, z1 := normalPair(args.Seed, args.Counter+i/2)
			out[i-lo] = T(args.A + float64(args.B*z0))
			if i+1 < hi {
				out[i-lo+1] = T(args.A + float64(args.B*z1))
			}
		}
	}
}
