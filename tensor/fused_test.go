package tensor

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// composedAdam is the reference: the documented order as elementwise
// operations (as package train composes them).
func composedAdam(t *testing.T, p, g, m, v, vmax *Tensor, a AdamArgs) {
	t.Helper()
	n := p.Shape()
	ws0, _ := New(Float32, n...)
	ws1, _ := New(Float32, n...)
	s := func(x float64) *Tensor { return Scalar(float32(x)) }
	bin := func(op BinaryOp, d, x, y *Tensor) {
		if err := Binary(op, d, x, y); err != nil {
			t.Fatal(err)
		}
	}
	d := g
	if a.WeightDecay != 0 {
		if a.Decoupled {
			bin(OpMul, p, p, s(1-a.LR*a.WeightDecay))
		} else {
			bin(OpMul, ws0, p, s(a.WeightDecay))
			bin(OpAdd, ws0, g, ws0)
			d = ws0
		}
	}
	bin(OpMul, m, m, s(a.Beta1))
	bin(OpMul, ws1, d, s(1-a.Beta1))
	bin(OpAdd, m, m, ws1)
	bin(OpMul, v, v, s(a.Beta2))
	bin(OpMul, ws1, d, d)
	bin(OpMul, ws1, ws1, s(1-a.Beta2))
	bin(OpAdd, v, v, ws1)
	src := v
	if a.AMSGrad {
		bin(OpMaximum, vmax, vmax, v)
		src = vmax
	}
	st := float64(a.Step)
	bc1, bc2 := 1-math.Pow(a.Beta1, st), 1-math.Pow(a.Beta2, st)
	if err := Unary(OpSqrt, ws1, src, 0); err != nil {
		t.Fatal(err)
	}
	bin(OpDiv, ws1, ws1, s(math.Sqrt(bc2)))
	bin(OpAdd, ws1, ws1, s(a.Eps))
	bin(OpDiv, ws1, m, ws1)
	bin(OpMul, ws1, ws1, s(a.LR/bc1))
	bin(OpSub, p, p, ws1)
}

func composedSGD(t *testing.T, p, g, buf *Tensor, a SGDArgs) {
	t.Helper()
	n := p.Shape()
	ws0, _ := New(Float32, n...)
	ws1, _ := New(Float32, n...)
	s := func(x float64) *Tensor { return Scalar(float32(x)) }
	bin := func(op BinaryOp, d, x, y *Tensor) {
		if err := Binary(op, d, x, y); err != nil {
			t.Fatal(err)
		}
	}
	d := g
	if a.WeightDecay != 0 {
		bin(OpMul, ws0, p, s(a.WeightDecay))
		bin(OpAdd, ws0, g, ws0)
		d = ws0
	}
	if a.Momentum != 0 {
		if a.First {
			_ = Copy(buf, d)
		} else {
			bin(OpMul, buf, buf, s(a.Momentum))
			bin(OpMul, ws1, d, s(1-a.Dampening))
			bin(OpAdd, buf, buf, ws1)
		}
		if a.Nesterov {
			bin(OpMul, ws1, buf, s(a.Momentum))
			bin(OpAdd, ws1, d, ws1)
		} else {
			_ = Copy(ws1, buf)
		}
	} else {
		_ = Copy(ws1, d)
	}
	bin(OpMul, ws1, ws1, s(a.LR))
	bin(OpSub, p, p, ws1)
}

func randT(t *testing.T, r *RNG, n int, lo, hi float64) *Tensor {
	t.Helper()
	x, err := New(Float32, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Uniform(x, lo, hi); err != nil {
		t.Fatal(err)
	}
	return x
}

func clones(t *testing.T, ts ...*Tensor) []*Tensor {
	out := make([]*Tensor, len(ts))
	for i, x := range ts {
		if x == nil {
			continue
		}
		c, err := x.Clone()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

func sameBits(t *testing.T, what string, a, b *Tensor) {
	t.Helper()
	x, _ := a.Float32s()
	y, _ := b.Float32s()
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			t.Fatalf("%s[%d]: fused %v (%#x), composed %v (%#x)", what, i, x[i], math.Float32bits(x[i]), y[i], math.Float32bits(y[i]))
		}
	}
}

func TestFusedAdamBits(t *testing.T) {
	cases := []AdamArgs{
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		{LR: 3e-2, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.1},
		{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Decoupled: true},
		{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, AMSGrad: true},
		{LR: 5e-3, Beta1: 0.5, Beta2: 0.9, Eps: 1e-3, WeightDecay: 0.2, Decoupled: true, AMSGrad: true},
	}
	for _, n := range []int{1, 37, 2*tileElems + 129} {
		for ci, a := range cases {
			r := NewRNG(uint64(7 + ci))
			p := randT(t, r, n, -1, 1)
			m, _ := New(Float32, n)
			v, _ := New(Float32, n)
			var vmax *Tensor
			if a.AMSGrad {
				vmax, _ = New(Float32, n)
			}
			c := clones(t, p, m, v, vmax)
			for step := 1; step <= 4; step++ {
				g := randT(t, r, n, -2, 2)
				a.Step = step
				if err := FusedAdam(p, g, m, v, vmax, a); err != nil {
					t.Fatal(err)
				}
				composedAdam(t, c[0], g, c[1], c[2], c[3], a)
			}
			sameBits(t, "p", p, c[0])
			sameBits(t, "m", m, c[1])
			sameBits(t, "v", v, c[2])
			if a.AMSGrad {
				sameBits(t, "vmax", vmax, c[3])
			}
		}
	}
}

func TestFusedSGDBits(t *testing.T) {
	cases := []SGDArgs{
		{LR: 0.1},
		{LR: 0.05, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9},
		{LR: 0.05, Momentum: 0.9, Dampening: 0.3, WeightDecay: 0.02},
		{LR: 0.05, Momentum: 0.8, Nesterov: true, WeightDecay: 0.1},
	}
	for _, n := range []int{3, 2*tileElems + 5} {
		for ci, a := range cases {
			r := NewRNG(uint64(70 + ci))
			p := randT(t, r, n, -1, 1)
			var buf *Tensor
			if a.Momentum != 0 {
				buf, _ = New(Float32, n)
			}
			c := clones(t, p, buf)
			for step := 1; step <= 4; step++ {
				g := randT(t, r, n, -2, 2)
				a.First = step == 1
				if err := FusedSGD(p, g, buf, a); err != nil {
					t.Fatal(err)
				}
				composedSGD(t, c[0], g, c[1], a)
			}
			sameBits(t, "p", p, c[0])
			if buf != nil {
				sameBits(t, "buf", buf, c[1])
			}
		}
	}
}

func TestFusedAdamNaN(t *testing.T) {
	p, _ := FromFloat32s([]float32{1, 2, 3})
	g, _ := FromFloat32s([]float32{float32(math.NaN()), 1, float32(math.Inf(1))})
	m, _ := New(Float32, 3)
	v, _ := New(Float32, 3)
	vmax, _ := New(Float32, 3)
	c := clones(t, p, m, v, vmax)
	a := AdamArgs{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, AMSGrad: true, Step: 1}
	if err := FusedAdam(p, g, m, v, vmax, a); err != nil {
		t.Fatal(err)
	}
	composedAdam(t, c[0], g, c[1], c[2], c[3], a)
	sameBits(t, "p", p, c[0])
	sameBits(t, "vmax", vmax, c[3])
}

// noOptDevice is a device without fused updates; only Alloc works.
type noOptDevice struct{ Device }

type noOptBuffer struct {
	d  *noOptDevice
	dt DType
	n  int
}

func (b *noOptBuffer) Device() Device { return b.d }
func (b *noOptBuffer) DType() DType   { return b.dt }
func (b *noOptBuffer) Len() int       { return b.n }

func (d *noOptDevice) Name() string { return "noopt" }
func (d *noOptDevice) Alloc(dt DType, n int) (Buffer, error) {
	return &noOptBuffer{d: d, dt: dt, n: n}, nil
}

func TestFusedErrors(t *testing.T) {
	mk := func(shape ...int) *Tensor {
		x, err := New(Float32, shape...)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	ok := AdamArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	p, g, m, v := mk(2, 3), mk(2, 3), mk(2, 3), mk(2, 3)
	f64, _ := New(Float64, 2, 3)
	other := mk(3, 2)
	pt, _ := mk(3, 2).T()
	dev := &noOptDevice{}
	q, _ := NewOn(dev, Float32, 2, 3)
	qg, _ := NewOn(dev, Float32, 2, 3)
	qm, _ := NewOn(dev, Float32, 2, 3)
	qv, _ := NewOn(dev, Float32, 2, 3)
	whole := mk(12)
	lo, _ := whole.Slice(0, 0, 6)
	mid, _ := whole.Slice(0, 3, 9)
	lo, _ = lo.Reshape(2, 3)
	mid, _ = mid.Reshape(2, 3)
	args := func(f func(*AdamArgs)) AdamArgs { a := ok; f(&a); return a }
	for _, c := range []struct {
		name          string
		p, g, m, v, x *Tensor
		a             AdamArgs
		want          error // nil: any error that is not ErrUnsupported
	}{
		{"nil p", nil, g, m, v, nil, ok, ErrShape},
		{"float64", p, f64, m, v, nil, ok, ErrDType},
		{"shape", p, g, other, v, nil, ok, ErrShape},
		{"device", p, qg, m, v, nil, ok, ErrDevice},
		{"vmax without AMSGrad", p, g, m, v, mk(2, 3), ok, ErrShape},
		{"AMSGrad without vmax", p, g, m, v, nil, args(func(a *AdamArgs) { a.AMSGrad = true }), ErrShape},
		{"overlap", lo, g, mid, v, nil, ok, ErrShape},
		{"NaN LR", p, g, m, v, nil, args(func(a *AdamArgs) { a.LR = math.NaN() }), nil},
		{"step 0", p, g, m, v, nil, args(func(a *AdamArgs) { a.Step = 0 }), nil},
		{"not contiguous", pt, g, m, v, nil, ok, errors.ErrUnsupported},
		{"no fused device", q, qg, qm, qv, nil, ok, errors.ErrUnsupported},
	} {
		err := FusedAdam(c.p, c.g, c.m, c.v, c.x, c.a)
		switch {
		case err == nil:
			t.Errorf("%s: no error", c.name)
		case c.want == nil && errors.Is(err, errors.ErrUnsupported):
			t.Errorf("%s: %v is ErrUnsupported", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	sgd := SGDArgs{LR: 0.1, Momentum: 0.9}
	if err := FusedSGD(p, g, nil, sgd); !errors.Is(err, ErrShape) {
		t.Errorf("SGD momentum without buffer: %v", err)
	}
	if err := FusedSGD(p, g, m, SGDArgs{LR: 0.1}); !errors.Is(err, ErrShape) {
		t.Errorf("SGD buffer without momentum: %v", err)
	}
	if err := FusedSGD(q, qg, qm, sgd); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SGD on a device without fused updates: %v", err)
	}
	if err := FusedSGD(p, g, m, SGDArgs{LR: math.Inf(1), Momentum: 0.9}); err == nil || errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SGD infinite LR: %v", err)
	}
	// Nothing changed on error.
	for _, x := range []*Tensor{p, g, m, v} {
		if vals, _ := x.Float32s(); slices.ContainsFunc(vals, func(f float32) bool { return f != 0 }) {
			t.Fatal("a failed fused update wrote")
		}
	}
}
