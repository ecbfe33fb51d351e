package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

// rand64 returns a float64 tensor of shape with values uniform in [lo, hi).
func rand64(t *testing.T, seed uint64, lo, hi float64, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.New(tensor.Float64, shape...)
	if err != nil {
		t.Fatal(err)
	}
	if err := tensor.NewRNG(seed).Uniform(x, lo, hi); err != nil {
		t.Fatal(err)
	}
	return x
}

// weighted turns a Var of any shape into a scalar with a fixed random
// weighting, so that every element's gradient is checked.
func weighted(t *testing.T, y *Var, seed uint64) *Var {
	if y.Err() != nil {
		return y
	}
	w := rand64(t, seed, -1, 1, y.Value.Shape()...)
	return Sum(Mul(y, Const(w)))
}

func TestGradients(t *testing.T) {
	type tc struct {
		name   string
		inputs []*tensor.Tensor
		f      func(xs []*Var) *Var
	}
	labels := []int32{2, 0, 1, 2}
	cases := []tc{
		{"Add broadcast", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4), rand64(t, 2, -1, 1, 4)}, func(x []*Var) *Var { return weighted(t, Add(x[0], x[1]), 9) }},
		{"Add same", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4), rand64(t, 2, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, Add(x[0], x[1]), 9) }},
		{"Add self", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, Add(x[0], x[0]), 9) }},
		{"Sub broadcast", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 1), rand64(t, 2, -1, 1, 1, 4)}, func(x []*Var) *Var { return weighted(t, Sub(x[0], x[1]), 9) }},
		{"Mul broadcast", []*tensor.Tensor{rand64(t, 1, -1, 1, 2, 3, 4), rand64(t, 2, -1, 1, 3, 1)}, func(x []*Var) *Var { return weighted(t, Mul(x[0], x[1]), 9) }},
		{"Div", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4), rand64(t, 2, 0.5, 2, 4)}, func(x []*Var) *Var { return weighted(t, Div(x[0], x[1]), 9) }},
		{"Neg", []*tensor.Tensor{rand64(t, 1, -1, 1, 5)}, func(x []*Var) *Var { return weighted(t, Neg(x[0]), 9) }},
		{"Scale", []*tensor.Tensor{rand64(t, 1, -1, 1, 5)}, func(x []*Var) *Var { return weighted(t, Scale(x[0], -2.5), 9) }},
		{"AddScalar", []*tensor.Tensor{rand64(t, 1, -1, 1, 5)}, func(x []*Var) *Var { return weighted(t, AddScalar(x[0], 3), 9) }},
		{"Exp", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, Exp(x[0]), 9) }},
		{"Log", []*tensor.Tensor{rand64(t, 1, 0.5, 3, 3, 4)}, func(x []*Var) *Var { return weighted(t, Log(x[0]), 9) }},
		{"Sqrt", []*tensor.Tensor{rand64(t, 1, 0.5, 3, 3, 4)}, func(x []*Var) *Var { return weighted(t, Sqrt(x[0]), 9) }},
		{"Square", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, Square(x[0]), 9) }},
		{"Pow", []*tensor.Tensor{rand64(t, 1, 0.5, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, Pow(x[0], -1.5), 9) }},
		{"Abs", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, Abs(x[0]), 9) }},
		{"Tanh", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, Tanh(x[0]), 9) }},
		{"Sigmoid", []*tensor.Tensor{rand64(t, 1, -3, 3, 3, 4)}, func(x []*Var) *Var { return weighted(t, Sigmoid(x[0]), 9) }},
		{"ReLU", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, ReLU(x[0]), 9) }},
		{"GELU", []*tensor.Tensor{rand64(t, 1, -3, 3, 3, 4)}, func(x []*Var) *Var { return weighted(t, GELU(x[0]), 9) }},
		{"MatMul", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 5), rand64(t, 2, -1, 1, 5, 2)}, func(x []*Var) *Var { return weighted(t, MatMul(x[0], x[1]), 9) }},
		{"MatMul batched broadcast", []*tensor.Tensor{rand64(t, 1, -1, 1, 2, 3, 5), rand64(t, 2, -1, 1, 5, 2)}, func(x []*Var) *Var { return weighted(t, MatMul(x[0], x[1]), 9) }},
		{"MatMul transposed view", []*tensor.Tensor{rand64(t, 1, -1, 1, 5, 3), rand64(t, 2, -1, 1, 5, 2)}, func(x []*Var) *Var {
			return weighted(t, MatMul(Transpose(x[0], 0, 1), x[1]), 9)
		}},
		{"Sum all", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4)}, func(x []*Var) *Var { return Sum(Square(x[0])) }},
		{"Sum axis", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, Sum(x[0], 1), 9) }},
		{"Mean axis", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4, 2)}, func(x []*Var) *Var { return weighted(t, Mean(x[0], 0, 2), 9) }},
		{"MeanKeep", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, MeanKeep(x[0], -1), 9) }},
		{"Reshape", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, Reshape(Square(x[0]), 2, -1), 9) }},
		{"Reshape of transpose", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, Reshape(Transpose(x[0], 0, 1), 12), 9) }},
		{"Concat", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 2), rand64(t, 2, -1, 1, 3, 4)}, func(x []*Var) *Var { return weighted(t, Concat(1, x[0], x[1]), 9) }},
		{"Embedding repeated", []*tensor.Tensor{rand64(t, 1, -1, 1, 5, 3)}, func(x []*Var) *Var { return weighted(t, Embedding(x[0], []int32{4, 0, 4, 2}), 9) }},
		{"LogSoftmax", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, LogSoftmax(x[0], 1), 9) }},
		{"Softmax axis 0", []*tensor.Tensor{rand64(t, 1, -2, 2, 3, 4)}, func(x []*Var) *Var { return weighted(t, Softmax(x[0], 0), 9) }},
		{"Linear", []*tensor.Tensor{rand64(t, 1, -1, 1, 4, 3), rand64(t, 2, -1, 1, 5, 3), rand64(t, 3, -1, 1, 5)}, func(x []*Var) *Var {
			return weighted(t, Linear(x[0], x[1], x[2], tensor.ActNone), 9)
		}},
		{"Linear no bias", []*tensor.Tensor{rand64(t, 1, -1, 1, 4, 3), rand64(t, 2, -1, 1, 5, 3)}, func(x []*Var) *Var {
			return weighted(t, Linear(x[0], x[1], nil, tensor.ActNone), 9)
		}},
		{"LayerNorm", []*tensor.Tensor{rand64(t, 1, -1, 1, 4, 5), rand64(t, 2, 0.5, 1.5, 5), rand64(t, 3, -1, 1, 5)}, func(x []*Var) *Var {
			ln := &LayerNorm{Weight: x[1], Bias: x[2], Eps: 1e-5}
			return weighted(t, ln.Forward(x[0]), 9)
		}},
		{"BatchNorm training", []*tensor.Tensor{rand64(t, 1, -1, 1, 6, 3), rand64(t, 2, 0.5, 1.5, 3), rand64(t, 3, -1, 1, 3)}, func(x []*Var) *Var {
			bn, _ := NewBatchNorm(3)
			bn.Weight, bn.Bias = x[1], x[2]
			return weighted(t, bn.Forward(x[0]), 9)
		}},
		{"MSELoss", []*tensor.Tensor{rand64(t, 1, -1, 1, 4, 2)}, func(x []*Var) *Var { return MSELoss(x[0], Const(rand64(t, 5, -1, 1, 4, 2))) }},
		{"MAELoss", []*tensor.Tensor{rand64(t, 1, -1, 1, 4, 2)}, func(x []*Var) *Var { return MAELoss(x[0], Const(rand64(t, 5, -1, 1, 4, 2))) }},
		{"HuberLoss", []*tensor.Tensor{rand64(t, 1, -2, 2, 4, 3)}, func(x []*Var) *Var { return HuberLoss(x[0], Const(rand64(t, 5, -1, 1, 4, 3)), 0.7) }},
		{"BCEWithLogits", []*tensor.Tensor{rand64(t, 1, -4, 4, 6)}, func(x []*Var) *Var {
			y, _ := tensor.FromFloat64s([]float64{0, 1, 1, 0, 0.3, 1})
			return BCEWithLogits(x[0], Const(y))
		}},
		{"CrossEntropy", []*tensor.Tensor{rand64(t, 1, -2, 2, 4, 3)}, func(x []*Var) *Var { return CrossEntropy(x[0], labels, CrossEntropyOptions{}) }},
		{"CrossEntropy weighted smoothed", []*tensor.Tensor{rand64(t, 1, -2, 2, 4, 3)}, func(x []*Var) *Var {
			return CrossEntropy(x[0], labels, CrossEntropyOptions{ClassWeights: []float64{0.5, 2, 1}, LabelSmoothing: 0.1})
		}},
		{"shared subexpression", []*tensor.Tensor{rand64(t, 1, -1, 1, 3, 3)}, func(x []*Var) *Var {
			a := Tanh(x[0])
			return weighted(t, Add(Mul(a, a), MatMul(a, Transpose(a, 0, 1))), 9)
		}},
	}
	for _, act := range []tensor.Activation{tensor.ActReLU, tensor.ActGELU, tensor.ActSigmoid, tensor.ActTanh} {
		cases = append(cases, tc{fmt.Sprintf("Linear act %d", act), []*tensor.Tensor{rand64(t, 1, -1, 1, 4, 3), rand64(t, 2, -1, 1, 5, 3), rand64(t, 3, -1, 1, 5)}, func(x []*Var) *Var {
			return weighted(t, Linear(x[0], x[1], x[2], act), 9)
		}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := CheckGradient(c.f, c.inputs, GradCheckOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGradCheckFails makes sure the checker catches a wrong gradient.
func TestGradCheckFails(t *testing.T) {
	wrong := func(x []*Var) *Var {
		v := x[0]
		out, _ := tensor.Square(v.Value)
		return Sum(record("wrongSquare", out, func(g *tensor.Tensor) ([]*tensor.Tensor, error) {
			h, err := tensor.Mul(g, v.Value) // missing the factor 2
			return []*tensor.Tensor{h}, err
		}, v))
	}
	if err := CheckGradient(wrong, []*tensor.Tensor{rand64(t, 1, 0.5, 1, 3)}, GradCheckOptions{}); err == nil {
		t.Fatal("a wrong gradient passed the check")
	}
}

func TestCrossEntropyValue(t *testing.T) {
	// Two rows, three classes; hand-computed with logsumexp.
	z, _ := tensor.FromFloat64s([]float64{1, 2, 3, 0, 0, 0}, 2, 3)
	lse0 := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	lse1 := math.Log(3)
	lp := [][]float64{{1 - lse0, 2 - lse0, 3 - lse0}, {-lse1, -lse1, -lse1}}
	labels := []int32{0, 2}
	w := []float64{2, 1, 0.5}
	eps := 0.2
	var num float64
	for i, y := range labels {
		num += (1 - eps) * w[y] * -lp[i][y]
		for c := range 3 {
			num += eps / 3 * w[c] * -lp[i][c]
		}
	}
	want := num / (w[0] + w[2])
	got := CrossEntropy(Const(z), labels, CrossEntropyOptions{ClassWeights: w, LabelSmoothing: eps})
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	v, _ := got.Value.At()
	if math.Abs(v-want) > 1e-12 {
		t.Fatalf("got %v, want %v", v, want)
	}
}

func TestOpErrors(t *testing.T) {
	a := Const(rand64(t, 1, 0, 1, 2, 3))
	b := Const(rand64(t, 1, 0, 1, 4, 5))
	for name, v := range map[string]*Var{
		"Add":             Add(a, b),
		"MatMul":          MatMul(a, b),
		"Linear":          Linear(a, b, nil, tensor.ActNone),
		"CrossEntropy":    CrossEntropy(a, []int32{0, 3}, CrossEntropyOptions{}),
		"CrossEntropy n":  CrossEntropy(a, []int32{0}, CrossEntropyOptions{}),
		"propagated":      Tanh(Add(a, b)),
		"Embedding index": Embedding(b, []int32{7}),
		"nil":             Add(a, nil),
		"MSE shapes":      MSELoss(a, b),
	} {
		if v.Err() == nil {
			t.Errorf("%s: no error", name)
		}
		if err := v.Backward(); err == nil {
			t.Errorf("%s: Backward gave no error", name)
		}
	}
	if err := Add(NewParam("p", rand64(t, 1, 0, 1, 2)), a).Backward(); err == nil {
		t.Error("Backward of a non-scalar gave no error")
	}
}

func TestGradAccumulates(t *testing.T) {
	p := NewParam("p", rand64(t, 1, 0, 1, 3))
	for range 2 {
		if err := Sum(Scale(p, 3)).Backward(); err != nil {
			t.Fatal(err)
		}
	}
	g, _ := p.Grad.Float64s()
	for _, v := range g {
		if v != 6 {
			t.Fatalf("grad %v, want 6 everywhere", g)
		}
	}
	p.ZeroGrad()
	if p.Grad != nil {
		t.Fatal("ZeroGrad left a gradient")
	}
	// A parameter used twice through a pass-through op must get storage of
	// its own: scaling its Grad must not touch another parameter's.
	q := NewParam("q", rand64(t, 2, 0, 1, 3))
	if err := Sum(Add(p, q)).Backward(); err != nil {
		t.Fatal(err)
	}
	if err := tensor.Fill(p.Grad, 5); err != nil {
		t.Fatal(err)
	}
	gq, _ := q.Grad.Float64s()
	if gq[0] != 1 {
		t.Fatalf("q's gradient changed with p's: %v", gq)
	}
}
