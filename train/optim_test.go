package train

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

// asOpt turns a constructor's result into an Optimizer (a nil pointer
// must not become a non-nil interface).
func asOpt[T Optimizer](o T, err error) (Optimizer, error) {
	if err != nil {
		return nil, err
	}
	return o, nil
}

func vec32(t *testing.T, shape []int, v ...float32) *tensor.Tensor {
	t.Helper()
	if shape == nil {
		shape = []int{len(v)}
	}
	x, err := tensor.FromFloat32s(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func values(t *testing.T, x *tensor.Tensor) []float64 {
	t.Helper()
	v, err := x.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func closeRel(got, want, rel float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// optimGrads are the gradients of the three steps of the golden tests.
var optimGrads = [][]float32{{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.05}, {0.01, 0.02, -0.6}}

// optimGolden holds parameter values after each of three steps from
// p = [0.5, -1.5, 2] with the gradients optimGrads, computed by PyTorch
// 1.13 (float32) with this script:
//
//	import torch
//	p = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
//	o = torch.optim.Adam([p], lr=0.01)  # and so on, options as in the name
//	for g in [[0.1, -0.2, 0.3], [-0.4, 0.5, 0.05], [0.01, 0.02, -0.6]]:
//	    p.grad = torch.tensor(g); o.step(); print(p.tolist())
//
// (Beta2 0.5 in the AMSGrad cases makes the squared average shrink at the
// third step, so the maximum matters.)
var optimGolden = []struct {
	name string
	mk   func(ps []*Var) (Optimizer, error)
	want [][]float64
}{
	{"SGD LR: 0.1", func(ps []*Var) (Optimizer, error) { return asOpt(NewSGD(ps, SGDOptions{LR: 0.1})) },
		[][]float64{{0.49000001, -1.48000002, 1.97000003}, {0.530000031, -1.52999997, 1.96500003}, {0.529000044, -1.53199995, 2.0250001}}},
	{"SGD LR: 0.1, Momentum: 0.9", func(ps []*Var) (Optimizer, error) { return asOpt(NewSGD(ps, SGDOptions{LR: 0.1, Momentum: 0.9})) },
		[][]float64{{0.49000001, -1.48000002, 1.97000003}, {0.521000028, -1.51199996, 1.93800008}, {0.547900021, -1.54279995, 1.96920013}}},
	{"SGD LR: 0.1, Momentum: 0.9, Dampening: 0.5, WeightDecay: 0.01", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewSGD(ps, SGDOptions{LR: 0.1, Momentum: 0.9, Dampening: 0.5, WeightDecay: 0.01}))
	},
		[][]float64{{0.489499986, -1.47850001, 1.96800005}, {0.499805242, -1.48341072, 1.93571603}, {0.508330047, -1.48808873, 1.93569255}}},
	{"SGD LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.1", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewSGD(ps, SGDOptions{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.1}))
	},
		[][]float64{{0.471500009, -1.43350005, 1.90499997}, {0.526391506, -1.4729135, 1.81880498}, {0.532135904, -1.45210183, 1.84231722}}},
	{"Adam LR: 0.01", func(ps []*Var) (Optimizer, error) { return asOpt(NewAdam(ps, AdamOptions{LR: 0.01})) },
		[][]float64{{0.49000001, -1.49000001, 1.99000001}, {0.495595038, -1.4944222, 1.98216677}, {0.499763757, -1.49807537, 1.98513031}}},
	{"Adam LR: 0.01, Beta1: 0.8, Beta2: 0.5, Eps: 1e-3, WeightDecay: 0.1", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewAdam(ps, AdamOptions{LR: 0.01, Beta1: 0.8, Beta2: 0.5, Eps: 1e-3, WeightDecay: 0.1}))
	},
		[][]float64{{0.49006623, -1.4900285, 1.99001992}, {0.494338423, -1.49115014, 1.97983706}, {0.496880889, -1.48996675, 1.9785825}}},
	{"Adam LR: 0.01, Beta2: 0.5, AMSGrad: true", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewAdam(ps, AdamOptions{LR: 0.01, Beta2: 0.5, AMSGrad: true}))
	},
		[][]float64{{0.49000001, -1.49000001, 1.99000001}, {0.494919419, -1.49396968, 1.98312426}, {0.498152077, -1.49686313, 1.98558283}}},
	{"AdamW LR: 0.01", func(ps []*Var) (Optimizer, error) { return asOpt(NewAdamW(ps, AdamOptions{LR: 0.01})) },
		[][]float64{{0.489950001, -1.48985004, 1.98979998}, {0.495496035, -1.49412322, 1.98176777}, {0.499615192, -1.4976269, 1.98453307}}},
	{"AdamW LR: 0.1, Beta2: 0.5, WeightDecay: 0.5, AMSGrad: true", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewAdamW(ps, AdamOptions{LR: 0.1, Beta2: 0.5, WeightDecay: 0.5, AMSGrad: true}))
	},
		[][]float64{{0.375, -1.32499993, 1.79999995}, {0.405443937, -1.29844713, 1.64124227}, {0.41749835, -1.26245952, 1.58376575}}},
	{"RMSProp defaults", func(ps []*Var) (Optimizer, error) { return asOpt(NewRMSProp(ps, RMSPropOptions{})) },
		[][]float64{{0.400000095, -1.4000001, 1.9000001}, {0.497042865, -1.49291182, 1.8834796}, {0.494605303, -1.49664438, 1.97285438}}},
	{"RMSProp LR: 0.01, Momentum: 0.9", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewRMSProp(ps, RMSPropOptions{LR: 0.01, Momentum: 0.9}))
	},
		[][]float64{{0.400000095, -1.4000001, 1.89999998}, {0.40704295, -1.4029119, 1.79347956}, {0.410943955, -1.40926504, 1.78698599}}},
	{"RMSProp LR: 0.01, Alpha: 0.9, Centered: true", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewRMSProp(ps, RMSPropOptions{LR: 0.01, Alpha: 0.9, Centered: true}))
	},
		[][]float64{{0.466666669, -1.4666667, 1.9666667}, {0.498349905, -1.49677622, 1.96082509}, {0.497519344, -1.49804544, 1.98991513}}},
	{"RMSProp LR: 0.01, Alpha: 0.9, Eps: 1e-4, Centered: true, Momentum: 0.5, WeightDecay: 0.1", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewRMSProp(ps, RMSPropOptions{LR: 0.01, Alpha: 0.9, Eps: 1e-4, Centered: true, Momentum: 0.5, WeightDecay: 0.1}))
	},
		[][]float64{{0.466740578, -1.46669841, 1.96668887}, {0.479912847, -1.47308397, 1.93403137}, {0.481456369, -1.46783125, 1.93758678}}},
	{"AdaGrad LR: 0.1", func(ps []*Var) (Optimizer, error) { return asOpt(NewAdaGrad(ps, AdaGradOptions{LR: 0.1})) },
		[][]float64{{0.399999976, -1.39999998, 1.89999998}, {0.497014225, -1.49284768, 1.88356006}, {0.494589567, -1.49655902, 1.97275531}}},
	{"AdaGrad LR: 0.1, LRDecay: 0.5, WeightDecay: 0.1, InitialAccumulator: 0.2, Eps: 1e-6", func(ps []*Var) (Optimizer, error) {
		return asOpt(NewAdaGrad(ps, AdaGradOptions{LR: 0.1, LRDecay: 0.5, WeightDecay: 0.1, InitialAccumulator: 0.2, Eps: 1e-6}))
	},
		[][]float64{{0.468200147, -1.43836856, 1.92546451}, {0.508157015, -1.47378981, 1.90279627}, {0.503023982, -1.46445572, 1.92769969}}},
}

func TestOptimPyTorchGolden(t *testing.T) {
	for _, tc := range optimGolden {
		t.Run(tc.name, func(t *testing.T) {
			w := NewParam("w", vec32(t, nil, 0.5, -1.5, 2))
			// b never has a gradient: it must be left alone.
			b := NewParam("b", vec32(t, []int{2, 1}, 7, 8))
			opt, err := tc.mk([]*Var{w, b})
			if err != nil {
				t.Fatal(err)
			}
			for s, g := range optimGrads {
				w.Grad = vec32(t, nil, g...)
				if err := opt.Step(); err != nil {
					t.Fatalf("step %d: %v", s+1, err)
				}
				got := values(t, w.Value)
				for j := range got {
					if !closeRel(got[j], tc.want[s][j], 1e-6) {
						t.Errorf("step %d: w = %v, PyTorch %v", s+1, got, tc.want[s])
						break
					}
				}
			}
			if got := values(t, b.Value); !slices.Equal(got, []float64{7, 8}) {
				t.Errorf("parameter without gradient changed to %v", got)
			}
			st := opt.State()
			if st.Steps != 3 {
				t.Errorf("Steps = %d, want 3", st.Steps)
			}
			for k := range st.Slots {
				if k[:2] == "b/" {
					t.Errorf("parameter without gradient has state slot %q", k)
				}
			}
		})
	}
}

// TestOptimFirstStepByHand checks first steps against formulas evaluated
// in float64 here.
func TestOptimFirstStepByHand(t *testing.T) {
	p0 := []float64{0.5, -1.5, 2}
	g := []float64{0.1, -0.2, 0.3}
	cases := []struct {
		name string
		mk   func(ps []*Var) (Optimizer, error)
		want func(p, g float64) float64
	}{
		// p - lr·g
		{"SGD", func(ps []*Var) (Optimizer, error) { return asOpt(NewSGD(ps, SGDOptions{})) },
			func(p, g float64) float64 { return p - 0.01*g }},
		// momentum buffer starts as the gradient: p - lr·(g + wd·p)
		{"SGD momentum wd", func(ps []*Var) (Optimizer, error) {
			return asOpt(NewSGD(ps, SGDOptions{LR: 0.5, Momentum: 0.9, WeightDecay: 0.2}))
		},
			func(p, g float64) float64 { return p - 0.5*(g+0.2*p) }},
		// m̂ = g, v̂ = g²: p - lr·g/(|g|+eps)
		{"Adam", func(ps []*Var) (Optimizer, error) { return asOpt(NewAdam(ps, AdamOptions{})) },
			func(p, g float64) float64 { return p - 1e-3*g/(math.Abs(g)+1e-8) }},
		// p·(1-lr·wd) - lr·g/(|g|+eps), wd = 0.01 by default
		{"AdamW", func(ps []*Var) (Optimizer, error) { return asOpt(NewAdamW(ps, AdamOptions{LR: 0.1})) },
			func(p, g float64) float64 { return p*(1-0.1*0.01) - 0.1*g/(math.Abs(g)+1e-8) }},
		{"AdamW NoWeightDecay", func(ps []*Var) (Optimizer, error) {
			return asOpt(NewAdamW(ps, AdamOptions{LR: 0.1, NoWeightDecay: true}))
		},
			func(p, g float64) float64 { return p - 0.1*g/(math.Abs(g)+1e-8) }},
		// s = (1-α)g²: p - lr·g/(sqrt(0.01)·|g| + eps) = p - 10·lr·sign(g)
		{"RMSProp", func(ps []*Var) (Optimizer, error) { return asOpt(NewRMSProp(ps, RMSPropOptions{})) },
			func(p, g float64) float64 { return p - 0.01*g/(0.1*math.Abs(g)+1e-8) }},
		// sum = acc + g²: p - lr·g/(sqrt(acc+g²)+eps)
		{"AdaGrad", func(ps []*Var) (Optimizer, error) {
			return asOpt(NewAdaGrad(ps, AdaGradOptions{InitialAccumulator: 0.5}))
		},
			func(p, g float64) float64 { return p - 0.01*g/(math.Sqrt(0.5+g*g)+1e-10) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := NewParam("w", vec32(t, nil, 0.5, -1.5, 2))
			opt, err := tc.mk([]*Var{w})
			if err != nil {
				t.Fatal(err)
			}
			w.Grad = vec32(t, nil, 0.1, -0.2, 0.3)
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			got := values(t, w.Value)
			for j := range got {
				want := tc.want(p0[j], float64(float32(g[j])))
				if !closeRel(got[j], want, 1e-6) {
					t.Errorf("w[%d] = %v, want %v", j, got[j], want)
				}
			}
		})
	}
}

// resumeGrads returns the gradients of step s for a parameter of n
// elements: fixed, varied values with some steps skipped.
func resumeGrads(t *testing.T, s, n int, shape []int, skipEvery int) *tensor.Tensor {
	t.Helper()
	if skipEvery > 0 && s%skipEvery == skipEvery-1 {
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(3*s+7*i+1))) * float32(1+i%3)
	}
	return vec32(t, shape, v...)
}

func TestOptimStateResumeBitIdentical(t *testing.T) {
	const steps, cut = 6, 3
	newParams := func() []*Var {
		w := NewParam("0.weight", vec32(t, []int{2, 3}, 0.1, -0.2, 0.3, 0.4, -0.5, 0.6))
		b := NewParam("0.bias", vec32(t, nil, 1, -1))
		return []*Var{w, b}
	}
	setGrads := func(ps []*Var, s int) {
		ps[0].Grad = resumeGrads(t, s, 6, []int{2, 3}, 0)
		ps[1].Grad = resumeGrads(t, s, 2, nil, 2) // no gradient every other step
	}
	for _, tc := range optimGolden {
		t.Run(tc.name, func(t *testing.T) {
			// Uninterrupted run, with a learning rate change on the way.
			ref := newParams()
			opt, err := tc.mk(ref)
			if err != nil {
				t.Fatal(err)
			}
			for s := range steps {
				if s == 4 {
					opt.SetLR(opt.LR() / 2)
				}
				setGrads(ref, s)
				if err := opt.Step(); err != nil {
					t.Fatal(err)
				}
			}
			// Interrupted run: state and values saved after cut steps.
			ps := newParams()
			opt1, err := tc.mk(ps)
			if err != nil {
				t.Fatal(err)
			}
			for s := range cut {
				setGrads(ps, s)
				if err := opt1.Step(); err != nil {
					t.Fatal(err)
				}
			}
			saved := opt1.State()
			// State returns copies: scribbling on an earlier copy changes
			// neither the optimizer nor a later copy.
			scratch := opt1.State()
			for _, x := range scratch.Slots {
				if err := tensor.Fill(x, 123); err != nil {
					t.Fatal(err)
				}
			}
			ps2 := newParams()
			for i := range ps {
				v, err := ps[i].Value.Clone()
				if err != nil {
					t.Fatal(err)
				}
				ps2[i].Value = v
			}
			opt2, err := tc.mk(ps2)
			if err != nil {
				t.Fatal(err)
			}
			if err := opt2.LoadState(saved); err != nil {
				t.Fatal(err)
			}
			// Loading copies too: the saved tensors may be reused.
			for _, x := range saved.Slots {
				if err := tensor.Fill(x, -9); err != nil {
					t.Fatal(err)
				}
			}
			for s := cut; s < steps; s++ {
				if s == 4 {
					opt2.SetLR(opt2.LR() / 2)
				}
				setGrads(ps2, s)
				if err := opt2.Step(); err != nil {
					t.Fatal(err)
				}
			}
			for i := range ref {
				want, got := values(t, ref[i].Value), values(t, ps2[i].Value)
				if !slices.Equal(got, want) {
					t.Errorf("%s after resume = %v, uninterrupted %v", ref[i].Name, got, want)
				}
			}
			if got := opt2.State().Steps; got != steps {
				t.Errorf("Steps after resume = %d, want %d", got, steps)
			}
		})
	}
}

func TestOptimLoadStateErrors(t *testing.T) {
	mkParams := func() []*Var {
		return []*Var{NewParam("w", vec32(t, nil, 1, 2, 3)), NewParam("b", vec32(t, nil, 4))}
	}
	ps := mkParams()
	adam, err := NewAdam(ps, AdamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps[0].Grad = vec32(t, nil, 1, 1, 1)
	ps[1].Grad = vec32(t, nil, 1)
	if err := adam.Step(); err != nil {
		t.Fatal(err)
	}
	good := adam.State()
	edit := func(f func(s *OptimizerState)) OptimizerState {
		s := OptimizerState{Steps: good.Steps, LR: good.LR, Slots: map[string]*tensor.Tensor{}}
		for k, v := range good.Slots {
			s.Slots[k] = v
		}
		f(&s)
		return s
	}
	step2, _ := tensor.FromFloat64s([]float64{2})
	step2, _ = step2.Reshape()
	cases := []struct {
		name string
		s    OptimizerState
	}{
		{"unknown parameter", edit(func(s *OptimizerState) { s.Slots["v/exp_avg"] = s.Slots["w/exp_avg"] })},
		{"unknown slot", edit(func(s *OptimizerState) { s.Slots["w/momentum_buffer"] = s.Slots["w/exp_avg"] })},
		{"no slash", edit(func(s *OptimizerState) { s.Slots["w"] = s.Slots["w/exp_avg"] })},
		{"wrong shape", edit(func(s *OptimizerState) { s.Slots["w/exp_avg"] = s.Slots["b/exp_avg"] })},
		{"wrong dtype", edit(func(s *OptimizerState) {
			x, _ := tensor.FromFloat64s([]float64{1, 2, 3})
			s.Slots["w/exp_avg"] = x
		})},
		{"missing slot", edit(func(s *OptimizerState) { delete(s.Slots, "w/exp_avg_sq") })},
		{"missing step", edit(func(s *OptimizerState) { delete(s.Slots, "b/step") })},
		{"bad step", edit(func(s *OptimizerState) {
			x, _ := tensor.FromFloat64s([]float64{1.5})
			x, _ = x.Reshape()
			s.Slots["b/step"] = x
		})},
		{"nil slot", edit(func(s *OptimizerState) { s.Slots["w/exp_avg"] = nil })},
		{"negative LR", edit(func(s *OptimizerState) { s.LR = -1 })},
		{"NaN LR", edit(func(s *OptimizerState) { s.LR = math.NaN() })},
		{"negative steps", edit(func(s *OptimizerState) { s.Steps = -1 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := mkParams()
			opt, err := NewAdam(ps, AdamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := opt.LoadState(good); err != nil {
				t.Fatal(err)
			}
			opt.SetLR(0.5)
			err = opt.LoadState(tc.s)
			if !errors.Is(err, ErrStateMismatch) {
				t.Fatalf("LoadState error = %v, want ErrStateMismatch", err)
			}
			// Nothing changed.
			if opt.LR() != 0.5 || len(opt.State().Slots) != len(good.Slots) {
				t.Errorf("failed LoadState changed the optimizer: LR %v, %d slots", opt.LR(), len(opt.State().Slots))
			}
		})
	}
	// AMSGrad needs a slot plain Adam does not keep.
	ams, err := NewAdam(mkParams(), AdamOptions{AMSGrad: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ams.LoadState(good); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("Adam state into AMSGrad Adam: %v, want ErrStateMismatch", err)
	}
	// SGD keeps no exp_avg.
	sgd, err := NewSGD(mkParams(), SGDOptions{Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	if err := sgd.LoadState(good); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("Adam state into SGD: %v, want ErrStateMismatch", err)
	}
	// An empty state (a fresh optimizer's) loads and resets.
	ps2 := mkParams()
	fresh, err := NewAdam(ps2, AdamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := adam.LoadState(fresh.State()); err != nil {
		t.Fatal(err)
	}
	if s := adam.State(); s.Steps != 0 || len(s.Slots) != 0 {
		t.Errorf("after loading a fresh state: %d steps, %d slots", s.Steps, len(s.Slots))
	}
	// The step slot is kept exactly.
	s := edit(func(s *OptimizerState) { s.Slots["b/step"] = step2 })
	if err := adam.LoadState(s); err != nil {
		t.Fatal(err)
	}
	if v, _ := adam.State().Slots["b/step"].At(); v != 2 {
		t.Errorf("b/step = %v, want 2", v)
	}
}

func TestOptimOptionErrors(t *testing.T) {
	ps := func() []*Var { return []*Var{NewParam("w", vec32(t, nil, 1))} }
	nan := math.NaN()
	cases := []struct {
		name string
		mk   func() error
	}{
		{"SGD negative LR", func() error { _, err := NewSGD(ps(), SGDOptions{LR: -1}); return err }},
		{"SGD NaN LR", func() error { _, err := NewSGD(ps(), SGDOptions{LR: nan}); return err }},
		{"SGD infinite LR", func() error { _, err := NewSGD(ps(), SGDOptions{LR: math.Inf(1)}); return err }},
		{"SGD negative momentum", func() error { _, err := NewSGD(ps(), SGDOptions{Momentum: -0.1}); return err }},
		{"SGD negative weight decay", func() error { _, err := NewSGD(ps(), SGDOptions{WeightDecay: -1}); return err }},
		{"SGD Nesterov without momentum", func() error { _, err := NewSGD(ps(), SGDOptions{Nesterov: true}); return err }},
		{"SGD Nesterov with dampening", func() error {
			_, err := NewSGD(ps(), SGDOptions{Nesterov: true, Momentum: 0.9, Dampening: 0.1})
			return err
		}},
		{"SGD NaN dampening", func() error { _, err := NewSGD(ps(), SGDOptions{Dampening: nan}); return err }},
		{"Adam beta1 1", func() error { _, err := NewAdam(ps(), AdamOptions{Beta1: 1}); return err }},
		{"Adam beta2 negative", func() error { _, err := NewAdam(ps(), AdamOptions{Beta2: -0.5}); return err }},
		{"Adam negative eps", func() error { _, err := NewAdam(ps(), AdamOptions{Eps: -1}); return err }},
		{"Adam negative LR", func() error { _, err := NewAdam(ps(), AdamOptions{LR: -1e-3}); return err }},
		{"Adam NoWeightDecay with decay", func() error {
			_, err := NewAdam(ps(), AdamOptions{NoWeightDecay: true, WeightDecay: 0.1})
			return err
		}},
		{"AdamW NoWeightDecay with decay", func() error {
			_, err := NewAdamW(ps(), AdamOptions{NoWeightDecay: true, WeightDecay: 0.1})
			return err
		}},
		{"AdamW negative decay", func() error { _, err := NewAdamW(ps(), AdamOptions{WeightDecay: -0.1}); return err }},
		{"RMSProp alpha 1", func() error { _, err := NewRMSProp(ps(), RMSPropOptions{Alpha: 1}); return err }},
		{"RMSProp negative momentum", func() error { _, err := NewRMSProp(ps(), RMSPropOptions{Momentum: -1}); return err }},
		{"RMSProp negative LR", func() error { _, err := NewRMSProp(ps(), RMSPropOptions{LR: -1}); return err }},
		{"AdaGrad negative LR decay", func() error { _, err := NewAdaGrad(ps(), AdaGradOptions{LRDecay: -1}); return err }},
		{"AdaGrad negative accumulator", func() error {
			_, err := NewAdaGrad(ps(), AdaGradOptions{InitialAccumulator: -1})
			return err
		}},
		{"AdaGrad negative eps", func() error { _, err := NewAdaGrad(ps(), AdaGradOptions{Eps: -1}); return err }},
	}
	for _, tc := range cases {
		if err := tc.mk(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: error %v, want ErrInvalidOption", tc.name, err)
		}
	}
}

func TestOptimParamErrors(t *testing.T) {
	w := NewParam("w", vec32(t, nil, 1))
	f64, _ := tensor.FromFloat64s([]float64{1})
	cases := []struct {
		name   string
		params []*Var
		want   error
	}{
		{"empty", nil, ErrBadParams},
		{"nil", []*Var{w, nil}, ErrBadParams},
		{"twice", []*Var{w, w}, ErrBadParams},
		{"same name", []*Var{w, NewParam("w", vec32(t, nil, 2))}, ErrBadParams},
		{"unnamed", []*Var{NewParam("", vec32(t, nil, 2))}, ErrBadParams},
		{"float64", []*Var{NewParam("d", f64)}, ErrBadParams},
		{"failed Var", []*Var{NewParam("x", nil)}, ErrNilTensor},
	}
	for _, tc := range cases {
		for _, mk := range []func([]*Var) (Optimizer, error){
			func(ps []*Var) (Optimizer, error) { return asOpt(NewSGD(ps, SGDOptions{})) },
			func(ps []*Var) (Optimizer, error) { return asOpt(NewAdam(ps, AdamOptions{})) },
			func(ps []*Var) (Optimizer, error) { return asOpt(NewAdamW(ps, AdamOptions{})) },
			func(ps []*Var) (Optimizer, error) { return asOpt(NewRMSProp(ps, RMSPropOptions{})) },
			func(ps []*Var) (Optimizer, error) { return asOpt(NewAdaGrad(ps, AdaGradOptions{})) },
		} {
			if _, err := mk(tc.params); !errors.Is(err, tc.want) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			}
		}
	}
}

func TestOptimStepErrors(t *testing.T) {
	w := NewParam("w", vec32(t, nil, 1, 2))
	opt, err := NewAdam([]*Var{w}, AdamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A gradient of the wrong shape or type fails before anything changes.
	w.Grad = vec32(t, nil, 1, 2, 3)
	if err := opt.Step(); !errors.Is(err, ErrBadParams) {
		t.Errorf("wrong-shape gradient: %v, want ErrBadParams", err)
	}
	w.Grad, _ = tensor.FromFloat64s([]float64{1, 2})
	if err := opt.Step(); !errors.Is(err, ErrBadParams) {
		t.Errorf("float64 gradient: %v, want ErrBadParams", err)
	}
	if s := opt.State(); s.Steps != 0 || len(s.Slots) != 0 {
		t.Errorf("failed steps changed the state: %+v", s)
	}
	if got := values(t, w.Value); !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("failed steps changed the parameter: %v", got)
	}
	// Bad learning rates, such as an invalid schedule's NaN.
	w.Grad = vec32(t, nil, 1, 1)
	for _, lr := range []float64{-1, math.NaN(), math.Inf(1), StepLR{}.LR(0)} {
		opt.SetLR(lr)
		if err := opt.Step(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("Step with LR %v: %v, want ErrInvalidOption", lr, err)
		}
	}
}

func TestOptimDefaultsAndZeroGrad(t *testing.T) {
	w := NewParam("w", vec32(t, nil, 1, 2))
	b := NewParam("b", vec32(t, nil, 3))
	ps := []*Var{w, b}
	for _, tc := range []struct {
		mk   func([]*Var) (Optimizer, error)
		want float64
	}{
		{func(ps []*Var) (Optimizer, error) { return asOpt(NewSGD(ps, SGDOptions{})) }, 0.01},
		{func(ps []*Var) (Optimizer, error) { return asOpt(NewAdam(ps, AdamOptions{})) }, 1e-3},
		{func(ps []*Var) (Optimizer, error) { return asOpt(NewAdamW(ps, AdamOptions{})) }, 1e-3},
		{func(ps []*Var) (Optimizer, error) { return asOpt(NewRMSProp(ps, RMSPropOptions{})) }, 0.01},
		{func(ps []*Var) (Optimizer, error) { return asOpt(NewAdaGrad(ps, AdaGradOptions{})) }, 0.01},
	} {
		opt, err := tc.mk(ps)
		if err != nil {
			t.Fatal(err)
		}
		if opt.LR() != tc.want {
			t.Errorf("%T: default LR %v, want %v", opt, opt.LR(), tc.want)
		}
		opt.SetLR(0.25)
		if opt.LR() != 0.25 {
			t.Errorf("%T: LR after SetLR(0.25) = %v", opt, opt.LR())
		}
		w.Grad, b.Grad = vec32(t, nil, 1, 1), vec32(t, nil, 1)
		opt.ZeroGrad()
		if w.Grad != nil || b.Grad != nil {
			t.Errorf("%T: ZeroGrad left gradients", opt)
		}
		// With no gradient, Step changes nothing but counts.
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		if s := opt.State(); s.Steps != 1 || len(s.Slots) != 0 {
			t.Errorf("%T: step without gradients: %d steps, %d slots", opt, s.Steps, len(s.Slots))
		}
	}
	if got := values(t, w.Value); !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("steps without gradients changed w to %v", got)
	}
}

// TestOptimSGDScratchReuse runs parameters of different sizes through one
// optimizer, so the shared scratch buffers are grown and viewed in
// several shapes (a scalar parameter included).
func TestOptimSGDScratchReuse(t *testing.T) {
	small := NewParam("small", vec32(t, nil, 1))
	big := NewParam("big", vec32(t, []int{2, 2}, 1, 2, 3, 4))
	sc := NewParam("scalar", tensor.Scalar(5))
	opt, err := NewSGD([]*Var{small, big, sc}, SGDOptions{LR: 0.5, Momentum: 0.5, Nesterov: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		small.Grad = vec32(t, nil, 2)
		big.Grad = vec32(t, []int{2, 2}, 2, 4, 6, 8)
		sc.Grad = tensor.Scalar(2)
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	}
	// Step 1: buf = g, d = g + 0.5·g = 1.5g, p -= 0.75g.
	// Step 2: buf = 0.5g + g = 1.5g, d = g + 0.75g = 1.75g, p -= 0.875g.
	// Total: p - 1.625g.
	if got := values(t, small.Value); got[0] != 1-1.625*2 {
		t.Errorf("small = %v, want %v", got, 1-1.625*2)
	}
	want := []float64{1 - 1.625*2, 2 - 1.625*4, 3 - 1.625*6, 4 - 1.625*8}
	if got := values(t, big.Value); !slices.Equal(got, want) {
		t.Errorf("big = %v, want %v", got, want)
	}
	if got := values(t, sc.Value); got[0] != 5-1.625*2 {
		t.Errorf("scalar = %v, want %v", got, 5-1.625*2)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := NewParam("a", vec32(t, nil, 0, 0))
	b := NewParam("b", vec32(t, nil, 0))
	c := NewParam("c", vec32(t, nil, 0)) // no gradient
	set := func() {
		a.Grad = vec32(t, nil, 3, 4)
		b.Grad = vec32(t, nil, -12)
		c.Grad = nil
	}
	ps := []*Var{a, b, c}
	// Under the bound: unchanged, total returned.
	set()
	total, err := ClipGradNorm(ps, 20)
	if err != nil || total != 13 {
		t.Fatalf("ClipGradNorm = %v, %v; want 13", total, err)
	}
	if got := values(t, a.Grad); !slices.Equal(got, []float64{3, 4}) {
		t.Errorf("unclipped a.Grad = %v", got)
	}
	// Over the bound: scaled by maxNorm/(total+1e-6) (PyTorch).
	set()
	total, err = ClipGradNorm(ps, 6.5)
	if err != nil || total != 13 {
		t.Fatalf("ClipGradNorm = %v, %v; want 13", total, err)
	}
	coef := 6.5 / (13 + 1e-6)
	want := []float64{3 * coef, 4 * coef, -12 * coef}
	got := append(values(t, a.Grad), values(t, b.Grad)...)
	for i := range want {
		if !closeRel(got[i], want[i], 1e-6) {
			t.Errorf("clipped grads = %v, want %v", got, want)
			break
		}
	}
	if c.Grad != nil {
		t.Error("nil gradient was set")
	}
	// After clipping, the norm is the bound.
	if n, _ := ClipGradNorm(ps, 100); !closeRel(n, 6.5, 1e-6) {
		t.Errorf("norm after clipping = %v, want 6.5", n)
	}
	// Exactly at the bound, PyTorch still scales by 13/(13+1e-6) < 1.
	set()
	if _, err := ClipGradNorm(ps, 13); err != nil {
		t.Fatal(err)
	}
	if got := values(t, b.Grad); got[0] == -12 || !closeRel(got[0], -12*13/(13+1e-6), 1e-7) {
		t.Errorf("b.Grad at the bound = %v, want %v", got[0], -12*13/(13+1e-6))
	}
	// Non-finite norm: error, gradients unchanged.
	set()
	b.Grad = vec32(t, nil, float32(math.Inf(1)))
	total, err = ClipGradNorm(ps, 1)
	if !errors.Is(err, ErrNonFiniteNorm) || !math.IsInf(total, 1) {
		t.Errorf("infinite gradient: %v, %v; want +Inf, ErrNonFiniteNorm", total, err)
	}
	if got := values(t, a.Grad); !slices.Equal(got, []float64{3, 4}) {
		t.Errorf("a.Grad after a non-finite norm = %v", got)
	}
	set()
	a.Grad = vec32(t, nil, float32(math.NaN()), 1)
	if _, err := ClipGradNorm(ps, 1); !errors.Is(err, ErrNonFiniteNorm) {
		t.Errorf("NaN gradient: %v, want ErrNonFiniteNorm", err)
	}
	// Bad arguments.
	set()
	for _, m := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := ClipGradNorm(ps, m); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("maxNorm %v: %v, want ErrInvalidOption", m, err)
		}
	}
	if _, err := ClipGradNorm([]*Var{a, a}, 1); !errors.Is(err, ErrBadParams) {
		t.Errorf("parameter twice: %v, want ErrBadParams", err)
	}
	if _, err := ClipGradNorm([]*Var{nil}, 1); !errors.Is(err, ErrBadParams) {
		t.Errorf("nil parameter: %v, want ErrBadParams", err)
	}
	if n, err := ClipGradNorm(nil, 1); n != 0 || err != nil {
		t.Errorf("no parameters: %v, %v; want 0, nil", n, err)
	}
}

func TestClipGradValue(t *testing.T) {
	a := NewParam("a", vec32(t, nil, 0, 0, 0, 0, 0))
	b := NewParam("b", vec32(t, nil, 0))
	a.Grad = vec32(t, nil, -3, 0.5, 2, -1, float32(math.NaN()))
	if err := ClipGradValue([]*Var{a, b}, 1); err != nil {
		t.Fatal(err)
	}
	got := values(t, a.Grad)
	want := []float64{-1, 0.5, 1, -1}
	if !slices.Equal(got[:4], want) || !math.IsNaN(got[4]) {
		t.Errorf("clipped = %v, want %v and NaN", got, want)
	}
	if b.Grad != nil {
		t.Error("nil gradient was set")
	}
	for _, c := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := ClipGradValue([]*Var{a}, c); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("clip %v: %v, want ErrInvalidOption", c, err)
		}
	}
	if err := ClipGradValue([]*Var{a, a}, 1); !errors.Is(err, ErrBadParams) {
		t.Errorf("parameter twice: %v, want ErrBadParams", err)
	}
}
