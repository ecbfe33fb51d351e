package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

// fusedParams returns two identical sets of parameters (a matrix, a
// vector and a scalar) with random values.
func fusedParams(t testing.TB, seed uint64, rows, cols int) (a, b []*Var) {
	t.Helper()
	r := tensor.NewRNG(seed)
	for i, shape := range [][]int{{rows, cols}, {cols}, {}} {
		x, err := tensor.New(tensor.Float32, shape...)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Uniform(x, -1, 1); err != nil {
			t.Fatal(err)
		}
		y, err := x.Clone()
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("p%d", i)
		a = append(a, NewParam(name, x))
		b = append(b, NewParam(name, y))
	}
	return a, b
}

// setGrads gives both parameter sets the same random gradients; the
// scalar gets none on odd steps, so its step count lags.
func setGrads(t testing.TB, r *tensor.RNG, step int, a, b []*Var) {
	t.Helper()
	for i := range a {
		a[i].Grad, b[i].Grad = nil, nil
		if i == 2 && step%2 == 1 {
			continue
		}
		g, err := tensor.New(tensor.Float32, a[i].Value.Shape()...)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Normal(g, 0, 1); err != nil {
			t.Fatal(err)
		}
		a[i].Grad, b[i].Grad = g, g
	}
}

func sameBits32(t *testing.T, what string, x, y *tensor.Tensor) {
	t.Helper()
	if x.DType() != y.DType() || fmt.Sprint(x.Shape()) != fmt.Sprint(y.Shape()) {
		t.Fatalf("%s: %v and %v", what, x, y)
	}
	u, _ := x.Float64s()
	v, _ := y.Float64s()
	for i := range u {
		if math.Float64bits(u[i]) != math.Float64bits(v[i]) {
			t.Fatalf("%s[%d]: fused %v, composed %v", what, i, u[i], v[i])
		}
	}
}

// TestFusedMatchesComposed checks that the fused updates of Adam, AdamW
// and SGD give the bits of the composed elementwise operations, for the
// parameters and every state slot, over several steps.
func TestFusedMatchesComposed(t *testing.T) {
	type ctor func([]*Var) (Optimizer, error)
	adam := func(o AdamOptions) ctor {
		return func(p []*Var) (Optimizer, error) { return asOpt(NewAdam(p, o)) }
	}
	adamw := func(o AdamOptions) ctor {
		return func(p []*Var) (Optimizer, error) { return asOpt(NewAdamW(p, o)) }
	}
	sgd := func(o SGDOptions) ctor {
		return func(p []*Var) (Optimizer, error) { return asOpt(NewSGD(p, o)) }
	}
	cases := []struct {
		name string
		new  ctor
	}{
		{"Adam", adam(AdamOptions{})},
		{"Adam/l2", adam(AdamOptions{LR: 0.01, WeightDecay: 0.05})},
		{"Adam/amsgrad", adam(AdamOptions{LR: 0.02, Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, AMSGrad: true})},
		{"Adam/amsgrad+l2", adam(AdamOptions{LR: 0.02, WeightDecay: 0.1, AMSGrad: true})},
		{"AdamW", adamw(AdamOptions{LR: 0.01})},
		{"AdamW/amsgrad", adamw(AdamOptions{LR: 0.01, WeightDecay: 0.2, AMSGrad: true})},
		{"AdamW/nodecay", adamw(AdamOptions{NoWeightDecay: true})},
		{"SGD", sgd(SGDOptions{LR: 0.1})},
		{"SGD/wd", sgd(SGDOptions{LR: 0.1, WeightDecay: 0.01})},
		{"SGD/momentum", sgd(SGDOptions{LR: 0.05, Momentum: 0.9})},
		{"SGD/dampening", sgd(SGDOptions{LR: 0.05, Momentum: 0.9, Dampening: 0.25, WeightDecay: 0.03})},
		{"SGD/nesterov", sgd(SGDOptions{LR: 0.05, Momentum: 0.8, Nesterov: true, WeightDecay: 0.1})},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// 300×257 crosses the CPU's tiles of fused updates.
			pf, pc := fusedParams(t, uint64(ci+1), 300, 257)
			of, err := c.new(pf)
			if err != nil {
				t.Fatal(err)
			}
			oc, err := c.new(pc)
			if err != nil {
				t.Fatal(err)
			}
			setComposed(oc)
			r := tensor.NewRNG(uint64(100 + ci))
			for step := range 5 {
				setGrads(t, r, step, pf, pc)
				if step == 3 {
					of.SetLR(of.LR() / 2)
					oc.SetLR(oc.LR() / 2)
				}
				if err := of.Step(); err != nil {
					t.Fatal(err)
				}
				if err := oc.Step(); err != nil {
					t.Fatal(err)
				}
			}
			for i := range pf {
				sameBits32(t, pf[i].Name, pf[i].Value, pc[i].Value)
			}
			if n := len(base(of).ws); n != 0 {
				t.Fatalf("the fused optimizer allocated scratch space on %d devices: it fell back", n)
			}
			sf, sc := of.State(), oc.State()
			if len(sf.Slots) != len(sc.Slots) || sf.Steps != sc.Steps {
				t.Fatalf("state: %d slots and %d steps, composed %d and %d", len(sf.Slots), sf.Steps, len(sc.Slots), sc.Steps)
			}
			for k, v := range sf.Slots {
				w, ok := sc.Slots[k]
				if !ok {
					t.Fatalf("slot %q missing from the composed state", k)
				}
				sameBits32(t, k, v, w)
			}
			// A state saved from the fused path resumes on the composed
			// one (and the other way) to the same bits.
			if err := of.LoadState(sc); err != nil {
				t.Fatal(err)
			}
			if err := oc.LoadState(sf); err != nil {
				t.Fatal(err)
			}
			setGrads(t, r, 6, pf, pc)
			if err := of.Step(); err != nil {
				t.Fatal(err)
			}
			if err := oc.Step(); err != nil {
				t.Fatal(err)
			}
			for i := range pf {
				sameBits32(t, pf[i].Name, pf[i].Value, pc[i].Value)
			}
		})
	}
}

// base returns o's optBase.
func base(o Optimizer) *optBase {
	switch o := o.(type) {
	case *Adam:
		return &o.optBase
	case *SGD:
		return &o.optBase
	}
	panic(fmt.Sprintf("no fused updates in %T", o))
}

// setComposed turns o's fused updates off.
func setComposed(o Optimizer) { base(o).composed = true }

// TestFusedFallback checks that a parameter the fused update cannot take
// (a non-contiguous view) is updated by the composed operations.
func TestFusedFallback(t *testing.T) {
	x, err := tensor.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	xt, err := x.T()
	if err != nil {
		t.Fatal(err)
	}
	y, err := xt.Clone()
	if err != nil {
		t.Fatal(err)
	}
	pf, pc := NewParam("w", xt), NewParam("w", y)
	of, err := NewAdam([]*Var{pf}, AdamOptions{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := NewAdam([]*Var{pc}, AdamOptions{LR: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	oc.composed = true
	g, err := tensor.FromFloat32s([]float32{0.5, -1, 2, 0.25, 3, -4}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		pf.Grad, pc.Grad = g, g
		if err := of.Step(); err != nil {
			t.Fatal(err)
		}
		if err := oc.Step(); err != nil {
			t.Fatal(err)
		}
	}
	sameBits32(t, "w", pf.Value, pc.Value)
}

// BenchmarkAdamStep compares a fused and a composed Adam step of one
// 2048×2048 parameter on the CPU.
func BenchmarkAdamStep(b *testing.B) {
	for _, composed := range []bool{false, true} {
		name := "fused"
		if composed {
			name = "composed"
		}
		b.Run(name, func(b *testing.B) {
			p, _ := fusedParams(b, 1, 2048, 2048)
			p = p[:1]
			g, err := tensor.New(tensor.Float32, 2048, 2048)
			if err != nil {
				b.Fatal(err)
			}
			if err := tensor.NewRNG(2).Normal(g, 0, 1); err != nil {
				b.Fatal(err)
			}
			o, err := NewAdam(p, AdamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			o.composed = composed
			p[0].Grad = g
			b.SetBytes(4 * 2048 * 2048)
			b.ResetTimer()
			for range b.N {
				if err := o.Step(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
