package train

import (
	"math"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

func TestDropout(t *testing.T) {
	d, err := NewDropout(0.25, 5)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tensor.Full(1, 10000)
	p := NewParam("x", x)
	y := d.Forward(p)
	v, _ := y.Value.Float32s()
	zeros := 0
	for _, e := range v {
		switch e {
		case 0:
			zeros++
		case float32(1 / 0.75):
		default:
			t.Fatalf("element %v, want 0 or 1/(1-p)", e)
		}
	}
	if zeros < 2300 || zeros > 2700 {
		t.Fatalf("%d of 10000 dropped, want about 2500", zeros)
	}
	// The gradient goes through the kept elements only.
	if err := Sum(y).Backward(); err != nil {
		t.Fatal(err)
	}
	g, _ := p.Grad.Float32s()
	for i := range g {
		if g[i] != v[i] {
			t.Fatalf("grad %v at %d for output %v", g[i], i, v[i])
		}
	}
	// State restores the stream: the next mask repeats.
	st, _ := d.State()
	a, _ := d.Forward(Const(x)).Value.Float32s()
	if err := d.LoadState(st); err != nil {
		t.Fatal(err)
	}
	b, _ := d.Forward(Const(x)).Value.Float32s()
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("restored dropout state gives another mask")
		}
	}
	d.SetTraining(false)
	if out := d.Forward(p); out != p {
		t.Fatal("evaluation mode changed the input")
	}
	if _, err := NewDropout(1, 0); err == nil {
		t.Fatal("p = 1 accepted")
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	bn, _ := NewBatchNorm(2)
	x, _ := tensor.FromFloat32s([]float32{1, 10, 3, 20, 5, 30, 7, 40}, 4, 2)
	y := bn.Forward(Const(x))
	yv, _ := y.Value.Float32s()
	// Column 0: mean 4, population variance 5.
	want0 := (1 - 4) / math.Sqrt(5+1e-5)
	if math.Abs(float64(yv[0])-want0) > 1e-5 {
		t.Fatalf("normalized %v, want %v", yv[0], want0)
	}
	rm, _ := bn.RunningMean.Float32s()
	rv, _ := bn.RunningVar.Float32s()
	// running = 0.9·initial + 0.1·batch (unbiased variance 20/3 and 500/3).
	if math.Abs(float64(rm[0])-0.4) > 1e-6 || math.Abs(float64(rm[1])-2.5) > 1e-6 ||
		math.Abs(float64(rv[0])-(0.9+0.1*20.0/3)) > 1e-5 || math.Abs(float64(rv[1])-(0.9+0.1*500.0/3)) > 1e-4 {
		t.Fatalf("running mean %v, var %v", rm, rv)
	}
	bn.SetTraining(false)
	e := bn.Forward(Const(x))
	ev, _ := e.Value.Float32s()
	want := (1 - 0.4) / math.Sqrt(float64(rv[0])+1e-5)
	if math.Abs(float64(ev[0])-want) > 1e-5 {
		t.Fatalf("evaluation output %v, want %v", ev[0], want)
	}
	st, _ := bn.State()
	bn2, _ := NewBatchNorm(2)
	if err := bn2.LoadState(st); err != nil {
		t.Fatal(err)
	}
	if err := bn2.LoadState(map[string]*tensor.Tensor{}); err == nil {
		t.Fatal("empty state loaded")
	}
}

func TestInitScales(t *testing.T) {
	rng := tensor.NewRNG(1)
	for _, c := range []struct {
		init Init
		std  float64
	}{
		{InitDefault, 1 / math.Sqrt(3*400)},
		{InitXavierUniform, math.Sqrt(2.0 / 600)},
		{InitXavierNormal, math.Sqrt(2.0 / 600)},
		{InitHeUniform, math.Sqrt(2.0 / 400)},
		{InitHeNormal, math.Sqrt(2.0 / 400)},
	} {
		d, err := NewDense(rng, 400, 200, LinearLayerOptions{Init: c.init})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := d.Weight.Value.Float64s()
		var s float64
		for _, x := range v {
			s += x * x
		}
		std := math.Sqrt(s / float64(len(v)))
		if math.Abs(std-c.std)/c.std > 0.03 {
			t.Errorf("init %d: std %v, want %v", c.init, std, c.std)
		}
	}
	seq := NewSequential(mustDense(t, 3, 4), Act{tensor.ActReLU}, mustDense(t, 4, 2))
	var names []string
	for _, p := range seq.Params() {
		names = append(names, p.Name)
	}
	if len(names) != 4 || names[0] != "0.weight" || names[3] != "2.bias" {
		t.Fatalf("parameter names %v", names)
	}
}

func mustDense(t *testing.T, in, out int) *Dense {
	d, err := NewDense(tensor.NewRNG(0), in, out, LinearLayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEmbed(t *testing.T) {
	e, err := NewEmbed(tensor.NewRNG(1), 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	out := e.Lookup([]int32{3, 3, 0})
	if err := Sum(out).Backward(); err != nil {
		t.Fatal(err)
	}
	g, _ := e.Table.Grad.Float32s()
	want := []float32{1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2}
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("table gradient %v, want %v", g, want)
		}
	}
	if e.Lookup([]int32{4}).Err() == nil {
		t.Fatal("code 4 of 4 accepted")
	}
	if _, err := NewEmbed(tensor.NewRNG(1), 0, 3); err == nil {
		t.Fatal("empty vocabulary accepted")
	}
}
