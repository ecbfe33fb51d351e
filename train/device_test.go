package train

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

// fakeDev is a device other than the CPU that runs the CPU's kernels on
// its own buffers: a host tensor handed to one of its operations fails
// with ErrDevice, so training on it finds every place where host memory
// meets the device's, with results that must be the CPU's bits.
type fakeDev struct {
	name string
	self tensor.Device // the outer device (a fakeOptDev embeds a fakeDev)
}

// fakeOptDev is fakeDev with the CPU's fused optimizer updates.
type fakeOptDev struct{ fakeDev }

type fakeBuf struct {
	d  tensor.Device
	in tensor.Buffer
}

func (b *fakeBuf) Device() tensor.Device { return b.d }
func (b *fakeBuf) DType() tensor.DType   { return b.in.DType() }
func (b *fakeBuf) Len() int              { return b.in.Len() }

// fakeHost runs the fake devices' kernels.
var fakeHost = tensor.CPU()

func (d *fakeDev) Name() string { return d.name }

func (d *fakeDev) Alloc(dt tensor.DType, n int) (tensor.Buffer, error) {
	in, err := fakeHost.Alloc(dt, n)
	if err != nil {
		return nil, err
	}
	return &fakeBuf{d: d.self, in: in}, nil
}

// in unwraps a buffer of this device.
func (d *fakeDev) in(b tensor.Buffer) (tensor.Buffer, error) {
	fb, ok := b.(*fakeBuf)
	if !ok || fb.d.Name() != d.name {
		return nil, fmt.Errorf("%w: a %T handed to %s", tensor.ErrDevice, b, d.name)
	}
	return fb.in, nil
}

// uv unwraps the buffers of views.
func (d *fakeDev) uv(vs ...*tensor.View) error {
	for _, v := range vs {
		if v.Buf == nil {
			continue
		}
		in, err := d.in(v.Buf)
		if err != nil {
			return err
		}
		v.Buf = in
	}
	return nil
}

func (d *fakeDev) CopyFromHost(dst tensor.Buffer, off int, src any) error {
	in, err := d.in(dst)
	if err != nil {
		return err
	}
	return fakeHost.CopyFromHost(in, off, src)
}

func (d *fakeDev) CopyToHost(dst any, src tensor.Buffer, off int) error {
	in, err := d.in(src)
	if err != nil {
		return err
	}
	return fakeHost.CopyToHost(dst, in, off)
}

func (d *fakeDev) Synchronize() error { return nil }

func (d *fakeDev) Copy(dst, src tensor.View) error {
	if err := d.uv(&dst, &src); err != nil {
		return err
	}
	return fakeHost.Copy(dst, src)
}

func (d *fakeDev) Fill(dst tensor.View, v float64) error {
	if err := d.uv(&dst); err != nil {
		return err
	}
	return fakeHost.Fill(dst, v)
}

func (d *fakeDev) Gemm(c, a, b tensor.View, args tensor.GemmArgs) error {
	if err := d.uv(&c, &a, &b, &args.Bias); err != nil {
		return err
	}
	return fakeHost.Gemm(c, a, b, args)
}

func (d *fakeDev) Binary(op tensor.BinaryOp, dst, a, b tensor.View) error {
	if err := d.uv(&dst, &a, &b); err != nil {
		return err
	}
	return fakeHost.Binary(op, dst, a, b)
}

func (d *fakeDev) Unary(op tensor.UnaryOp, dst, a tensor.View, param float64) error {
	if err := d.uv(&dst, &a); err != nil {
		return err
	}
	return fakeHost.Unary(op, dst, a, param)
}

func (d *fakeDev) Reduce(op tensor.ReduceOp, dst, src tensor.View, param float64) error {
	if err := d.uv(&dst, &src); err != nil {
		return err
	}
	return fakeHost.Reduce(op, dst, src, param)
}

func (d *fakeDev) Softmax(dst, src tensor.View, axis int, log bool) error {
	if err := d.uv(&dst, &src); err != nil {
		return err
	}
	return fakeHost.Softmax(dst, src, axis, log)
}

func (d *fakeDev) Gather(dst, table tensor.View, idx []int32) error {
	if err := d.uv(&dst, &table); err != nil {
		return err
	}
	return fakeHost.Gather(dst, table, idx)
}

func (d *fakeDev) ScatterAdd(dst tensor.View, idx []int32, src tensor.View) error {
	if err := d.uv(&dst, &src); err != nil {
		return err
	}
	return fakeHost.ScatterAdd(dst, idx, src)
}

func (d *fakeDev) RandomFill(dst tensor.View, args tensor.RandomArgs) error {
	if err := d.uv(&dst); err != nil {
		return err
	}
	return fakeHost.RandomFill(dst, args)
}

func (d *fakeOptDev) AdamUpdate(p, g, m, v, vmax tensor.View, a tensor.AdamArgs) error {
	if err := d.uv(&p, &g, &m, &v, &vmax); err != nil {
		return err
	}
	return fakeHost.(tensor.OptimizerDevice).AdamUpdate(p, g, m, v, vmax, a)
}

func (d *fakeOptDev) SGDUpdate(p, g, buf tensor.View, a tensor.SGDArgs) error {
	if err := d.uv(&p, &g, &buf); err != nil {
		return err
	}
	return fakeHost.(tensor.OptimizerDevice).SGDUpdate(p, g, buf, a)
}

func newFakeDev() *fakeDev {
	d := &fakeDev{name: "fake"}
	d.self = d
	return d
}

func newFakeOptDev() *fakeOptDev {
	d := &fakeOptDev{fakeDev{name: "fakeopt"}}
	d.self = d
	return d
}

// devices are the Device options every device test runs with; the first
// (nil, the CPU) is the reference.
func devices() []tensor.Device {
	return []tensor.Device{nil, tensor.CPU(), newFakeDev(), newFakeOptDev()}
}

func devName(d tensor.Device) string {
	if d == nil {
		return "nil"
	}
	return d.Name()
}

// TestFitDevice trains the digits classifier (dropout, gradient
// clipping, a per-step schedule, validation) with each Device option: the
// weights, the history and the evaluation must be the bits of the
// CPU's, and the model must be left on the device.
func TestFitDevice(t *testing.T) {
	tr, te := digits(t)
	var ref [][]float32
	var refHist *History
	var refEval map[string]float64
	var refPred []float32
	for _, dev := range devices() {
		t.Run(devName(dev), func(t *testing.T) {
			m, err := NewMLP(tr, Classification, MLPOptions{Hidden: []int{32, 16}, Dropout: 0.2, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			tn, err := NewTrainer(TrainerOptions{
				Epochs: 3, BatchSize: 64, Seed: 5, Device: dev, Validation: te, ClipNorm: 5,
				Schedule: CosineLR{Base: 2e-3, Min: 1e-4, Warmup: 5, Period: 40}, ScheduleUnit: PerStep,
			})
			if err != nil {
				t.Fatal(err)
			}
			h, err := tn.Fit(context.Background(), m, tr)
			if err != nil {
				t.Fatal(err)
			}
			if dev != nil {
				for _, p := range m.Params() {
					if p.Value.Device() != dev {
						t.Fatalf("%s is on %s after Fit, want %s", p.Name, p.Value.Device().Name(), dev.Name())
					}
				}
			}
			ev, err := Evaluate(context.Background(), m, te, 100)
			if err != nil {
				t.Fatal(err)
			}
			pr, err := m.Predict(&Batch{X: te.X, Codes: te.Codes})
			if err != nil {
				t.Fatal(err)
			}
			if pr.Device() != tensor.CPU() {
				t.Fatalf("Predict returned a tensor on %s", pr.Device().Name())
			}
			pv, err := pr.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			w := weights(t, m)
			if dev == nil {
				ref, refHist, refEval, refPred = w, h, ev, pv
				return
			}
			if !sameBits(w, ref) {
				t.Fatal("weights differ from the CPU's")
			}
			for i, e := range h.Epochs {
				for k, v := range e.Metrics {
					if r := refHist.Epochs[i].Metrics[k]; math.Float64bits(v) != math.Float64bits(r) {
						t.Fatalf("epoch %d %s = %v, CPU %v", i, k, v, r)
					}
				}
			}
			for k, v := range refEval {
				if ev[k] != v {
					t.Fatalf("Evaluate %s = %v, CPU %v", k, ev[k], v)
				}
			}
			if !sameBits([][]float32{pv}, [][]float32{refPred}) {
				t.Fatal("Predict differs from the CPU's")
			}
		})
	}
}

// TestFitDeviceRegression trains a regressor with an embedded categorical
// column and SGD with Nesterov momentum on each device.
func TestFitDeviceRegression(t *testing.T) {
	const n = 256
	x := make([]float32, n)
	y := make([]float32, n)
	codes := make([]int32, n)
	for i := range n {
		x[i] = float32(i%13)/6 - 1
		codes[i] = int32(i % 3)
		y[i] = 0.5*x[i] + float32(codes[i]) - 1
	}
	xt, _ := tensor.FromFloat32s(x, n, 1)
	yt, _ := tensor.FromFloat32s(y, n)
	d := &Dataset{Features: []string{"x"}, X: xt, Categorical: []string{"c"}, Codes: [][]int32{codes}, Cardinality: []int{3}, Label: "y", Y: yt}
	var ref [][]float32
	var refRow []float32
	for _, dev := range devices() {
		t.Run(devName(dev), func(t *testing.T) {
			m, err := NewMLP(d, Regression, MLPOptions{Hidden: []int{8}, Seed: 4, EmbeddingDim: 2, Huber: 1})
			if err != nil {
				t.Fatal(err)
			}
			opt, err := NewSGD(m.Params(), SGDOptions{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4})
			if err != nil {
				t.Fatal(err)
			}
			tn, err := NewTrainer(TrainerOptions{Epochs: 4, BatchSize: 32, Optimizer: opt, Validation: d, Device: dev})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tn.Fit(context.Background(), m, d); err != nil {
				t.Fatal(err)
			}
			row, err := m.PredictRow([]float32{0.5}, []int32{2})
			if err != nil {
				t.Fatal(err)
			}
			if dev == nil {
				ref, refRow = weights(t, m), row
				return
			}
			if !sameBits(weights(t, m), ref) || !sameBits([][]float32{row}, [][]float32{refRow}) {
				t.Fatal("results differ from the CPU's")
			}
		})
	}
}

// bnModel is a model with layer state (BatchNorm's running statistics).
type bnModel struct{ *Sequential }

func (m bnModel) Forward(b *Batch) *Var { return m.Sequential.Forward(Const(b.X)) }
func (m bnModel) Loss(out *Var, b *Batch) *Var {
	return CrossEntropy(out, b.Labels, CrossEntropyOptions{})
}

func newBNModel(t *testing.T, in, classes int) bnModel {
	t.Helper()
	rng := tensor.NewRNG(11)
	d1, err := NewDense(rng, in, 16, LinearLayerOptions{Act: tensor.ActReLU})
	if err != nil {
		t.Fatal(err)
	}
	bn, err := NewBatchNorm(16)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := NewDense(rng, 16, classes, LinearLayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return bnModel{NewSequential(d1, bn, d2)}
}

// TestFitDeviceLayerState moves a model with BatchNorm to the device, and
// resumes a checkpointed run there.
func TestFitDeviceLayerState(t *testing.T) {
	tr, te := digits(t)
	k := len(tr.ClassNames)
	in := len(tr.Features)
	fit := func(dev tensor.Device, epochs int, ckpt, resume string) bnModel {
		m := newBNModel(t, in, k)
		opt, err := NewAdamW(m.Params(), AdamOptions{LR: 3e-3, AMSGrad: true})
		if err != nil {
			t.Fatal(err)
		}
		tn, err := NewTrainer(TrainerOptions{
			Epochs: epochs, BatchSize: 128, Seed: 2, Optimizer: opt, Validation: te, Device: dev,
			Checkpoint: CheckpointOptions{Dir: ckpt}, ResumeFrom: resume,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tn.Fit(context.Background(), m, tr); err != nil {
			t.Fatal(err)
		}
		return m
	}
	state := func(m bnModel) [][]float32 {
		s, err := m.State()
		if err != nil {
			t.Fatal(err)
		}
		var out [][]float32
		for _, k := range []string{"1.running_mean", "1.running_var"} {
			v, err := s[k].Float32s()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	ref := fit(nil, 3, "", "")
	for _, dev := range devices()[2:] {
		t.Run(dev.Name(), func(t *testing.T) {
			m := fit(dev, 3, "", "")
			if !sameBits(weights(t, m), weights(t, ref)) || !sameBits(state(m), state(ref)) {
				t.Fatal("training on the device differs from the CPU's")
			}
			if s, _ := m.State(); s["1.running_mean"].Device() != dev {
				t.Fatalf("running mean on %s", s["1.running_mean"].Device().Name())
			}
			dir := t.TempDir()
			fit(dev, 2, dir, "")
			r := fit(dev, 3, "", filepath.Join(dir, "epoch-0002"))
			if !sameBits(weights(t, r), weights(t, ref)) || !sameBits(state(r), state(ref)) {
				t.Fatal("resumed training on the device differs from the CPU's")
			}
			if s, _ := r.State(); s["1.running_mean"].Device() != dev {
				t.Fatalf("running mean on %s after resume", s["1.running_mean"].Device().Name())
			}
		})
	}
}

// TestMoveModelMovesOptimizerState checks that an optimizer that already
// stepped on the CPU follows its parameters to the device.
func TestMoveModelMovesOptimizerState(t *testing.T) {
	pa, pb := fusedParams(t, 9, 4, 5)
	oa, err := NewAdam(pa, AdamOptions{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := NewAdam(pb, AdamOptions{LR: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	r := tensor.NewRNG(1)
	setGrads(t, r, 0, pa, pb)
	if err := oa.Step(); err != nil {
		t.Fatal(err)
	}
	if err := ob.Step(); err != nil {
		t.Fatal(err)
	}
	dev := newFakeOptDev()
	if err := moveModel(bnModel{&Sequential{Layers: []Layer{paramLayer(pb)}}}, ob, dev); err != nil {
		t.Fatal(err)
	}
	for i, st := range ob.slots {
		for k, v := range st {
			if v.Device() != dev {
				t.Fatalf("slot %s/%s stayed on %s", pb[i].Name, k, v.Device().Name())
			}
		}
	}
	setGrads(t, r, 0, pa, pb)
	for _, p := range pb {
		if p.Grad, err = p.Grad.To(dev); err != nil {
			t.Fatal(err)
		}
	}
	if err := oa.Step(); err != nil {
		t.Fatal(err)
	}
	if err := ob.Step(); err != nil {
		t.Fatal(err)
	}
	for i := range pa {
		sameBits32(t, pa[i].Name, pa[i].Value, pb[i].Value)
	}
}

// paramLayer is a Layer holding parameters and doing nothing.
type paramLayer []*Var

func (l paramLayer) Params() []*Var      { return l }
func (l paramLayer) Forward(x *Var) *Var { return x }
