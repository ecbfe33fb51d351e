package cuda

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train"
)

// These tests and benchmarks need a GPU; they skip without one (fail with
// KILN_REQUIRE_GPU=1). On a machine without Go, build the test binary
// here and run it there:
//
//	CGO_ENABLED=0 go test -c -o cuda.test ./tensor/cuda
//	KILN_REQUIRE_GPU=1 ./cuda.test -test.v
//	./cuda.test -test.run '^$' -test.bench . -test.benchtime 20x

func randTensor(tb testing.TB, dev tensor.Device, seed uint64, shape ...int) *tensor.Tensor {
	tb.Helper()
	t, err := tensor.NewOn(dev, tensor.Float32, shape...)
	if err != nil {
		tb.Fatal(err)
	}
	if err := tensor.NewRNG(seed).Uniform(t, -1, 1); err != nil {
		tb.Fatal(err)
	}
	return t
}

func host32(tb testing.TB, t *tensor.Tensor) []float32 {
	tb.Helper()
	c, err := t.To(tensor.CPU())
	if err != nil {
		tb.Fatal(err)
	}
	v, err := c.Float32s()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestTF32 checks that TF32 products are close to FP32 ones (about 1e-3
// relative) and that the option is what changes them.
func TestTF32(t *testing.T) {
	fp32 := openGPU(t, Options{})
	tf32 := openGPU(t, Options{TF32: true})
	const n = 512
	a32, b32 := randTensor(t, fp32, 1, n, n), randTensor(t, fp32, 2, n, n)
	a19, b19 := randTensor(t, tf32, 1, n, n), randTensor(t, tf32, 2, n, n)
	c32, err := tensor.MatMul(a32, b32)
	if err != nil {
		t.Fatal(err)
	}
	c19, err := tensor.MatMul(a19, b19)
	if err != nil {
		t.Fatal(err)
	}
	cpu, err := tensor.MatMul(randTensor(t, tensor.CPU(), 1, n, n), randTensor(t, tensor.CPU(), 2, n, n))
	if err != nil {
		t.Fatal(err)
	}
	x, y, z := host32(t, c32), host32(t, c19), host32(t, cpu)
	var d32, d19 float64
	for i := range z {
		d32 = max(d32, math.Abs(float64(x[i]-z[i])))
		d19 = max(d19, math.Abs(float64(y[i]-z[i])))
	}
	t.Logf("max |GPU FP32 - CPU| = %.3g, max |GPU TF32 - CPU| = %.3g (sums of %d products of values in ±1)", d32, d19, n)
	if d32 > 1e-3 {
		t.Errorf("FP32 product differs from the CPU's by %g", d32)
	}
	if d19 > 0.1 || d19 <= d32 {
		t.Errorf("TF32 product differs from the CPU's by %g (FP32: %g): want larger than FP32's and below 0.1", d19, d32)
	}
}

func TestPinnedAsync(t *testing.T) {
	dev := openGPU(t, Options{})
	const n = 1 << 20
	p, err := dev.AllocPinned(tensor.Float32, n)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Free()
	for i, v := range p.Float32s() {
		_ = v
		p.Float32s()[i] = float32(i)
	}
	x, err := tensor.NewOn(dev, tensor.Float32, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Upload(x, p); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	y, err := tensor.Mul(x, tensor.Scalar(2))
	if err == nil {
		err = dev.Download(p, y)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	for i, v := range p.Float32s() {
		if v != 2*float32(i) {
			t.Fatalf("element %d = %v, want %v", i, v, 2*float32(i))
		}
	}
	short, err := x.Slice(0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Download(p, short); err == nil {
		t.Fatal("Download of a tensor of another length succeeded")
	}
}

func TestAllocatorOnDevice(t *testing.T) {
	dev := openGPU(t, Options{})
	for range 200 {
		if _, err := tensor.NewOn(dev, tensor.Float32, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	st := dev.MemoryStats()
	t.Logf("%+v", st)
	if st.CacheHits == 0 && st.Collections == 0 {
		t.Errorf("200 allocations of 4 MiB with none reused: %+v", st)
	}
	if err := dev.EmptyCache(); err != nil {
		t.Fatal(err)
	}
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tensor.NewOn(dev, tensor.Float32, 4); !errors.Is(err, ErrClosed) {
		t.Fatalf("allocation after Close = %v, want ErrClosed", err)
	}
}

// mlp784 builds the acceptance MLP 784→2048→2048→10 on dev.
func mlp784(tb testing.TB, dev tensor.Device) (*train.Sequential, []*train.Var) {
	tb.Helper()
	rng := tensor.NewRNG(1)
	var layers []train.Layer
	for i, sz := range [][2]int{{784, 2048}, {2048, 2048}, {2048, 10}} {
		act := tensor.ActReLU
		if i == 2 {
			act = tensor.ActNone
		}
		d, err := train.NewDense(rng, sz[0], sz[1], train.LinearLayerOptions{Act: act})
		if err != nil {
			tb.Fatal(err)
		}
		layers = append(layers, d)
	}
	m := train.NewSequential(layers...)
	ps := m.Params()
	for _, p := range ps {
		v, err := p.Value.To(dev)
		if err != nil {
			tb.Fatal(err)
		}
		p.Value = v
	}
	return m, ps
}

// mlpStep runs one training step: forward, cross-entropy, backward, Adam.
func mlpStep(m *train.Sequential, opt train.Optimizer, x *train.Var, labels []int32) error {
	loss := train.CrossEntropy(m.Forward(x), labels, train.CrossEntropyOptions{})
	if err := loss.Err(); err != nil {
		return err
	}
	opt.ZeroGrad()
	if err := loss.Backward(); err != nil {
		return err
	}
	return opt.Step()
}

func mlpData(tb testing.TB, dev tensor.Device) (*train.Var, []int32) {
	x := randTensor(tb, dev, 3, 1024, 784)
	labels := make([]int32, 1024)
	for i := range labels {
		labels[i] = int32(i * 7 % 10)
	}
	return train.Const(x), labels
}

// TestMLPTrainsOnGPU trains the acceptance MLP for a few steps on the GPU
// and on the CPU from the same weights: losses agree to float32 rounding.
func TestMLPTrainsOnGPU(t *testing.T) {
	dev := openGPU(t, Options{})
	losses := map[string][]float64{}
	for _, d := range []tensor.Device{tensor.CPU(), dev} {
		m, ps := mlp784(t, d)
		opt, err := train.NewAdam(ps, train.AdamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		x, labels := mlpData(t, d)
		for range 5 {
			loss := train.CrossEntropy(m.Forward(x), labels, train.CrossEntropyOptions{})
			if err := loss.Err(); err != nil {
				t.Fatal(err)
			}
			lv, err := loss.Value.At()
			if err != nil {
				t.Fatal(err)
			}
			losses[d.Name()] = append(losses[d.Name()], lv)
			opt.ZeroGrad()
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range ps {
			if p.Value.Device() != d {
				t.Fatalf("%s: parameter %s left the device", d.Name(), p.Name)
			}
		}
	}
	c, g := losses["cpu"], losses[dev.Name()]
	t.Logf("losses: cpu %v, %s %v", c, dev.Name(), g)
	for i := range c {
		if math.Abs(c[i]-g[i]) > 1e-3*math.Abs(c[i])+1e-4 {
			t.Errorf("step %d: loss %v on the CPU, %v on the GPU", i, c[i], g[i])
		}
	}
	if g[4] >= g[0] {
		t.Errorf("the loss did not fall on the GPU: %v", g)
	}
}

// BenchmarkGemm8192 is the acceptance product: 8192³ in FP32 and TF32.
func BenchmarkGemm8192(b *testing.B) {
	for _, tf := range []bool{false, true} {
		name := "FP32"
		if tf {
			name = "TF32"
		}
		b.Run(name, func(b *testing.B) {
			dev := openGPU(b, Options{TF32: tf})
			const n = 8192
			x, y := randTensor(b, dev, 1, n, n), randTensor(b, dev, 2, n, n)
			out, err := tensor.NewOn(dev, tensor.Float32, n, n)
			if err != nil {
				b.Fatal(err)
			}
			run := func() {
				if err := tensor.Gemm(out, x, y, tensor.GemmOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			run()
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				run()
			}
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			sec := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(2*n*n*n/sec/1e12, "TFLOPS")
			b.ReportMetric(sec*1e3, "ms/op")
		})
	}
}

// BenchmarkAdd256M compares an elementwise add over 256M floats with a
// device-to-device copy of as many (bandwidth counts bytes read and
// written: 3 GiB for the add, 2 GiB for the copy).
func BenchmarkAdd256M(b *testing.B) {
	dev := openGPU(b, Options{})
	const n = 256 << 20
	x, err := tensor.NewOn(dev, tensor.Float32, n)
	if err != nil {
		b.Fatal(err)
	}
	y, _ := tensor.NewOn(dev, tensor.Float32, n)
	z, err := tensor.NewOn(dev, tensor.Float32, n)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		bytes float64
		run   func() error
	}{
		{"add", 3 * 4 * n, func() error { return tensor.Binary(tensor.OpAdd, z, x, y) }},
		{"copy", 2 * 4 * n, func() error { return tensor.Copy(z, x) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			if err := c.run(); err != nil {
				b.Fatal(err)
			}
			dev.Synchronize()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
			}
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			sec := time.Since(start).Seconds() / float64(b.N)
			b.ReportMetric(c.bytes/sec/1e9, "GB/s")
			b.ReportMetric(sec*1e3, "ms/op")
		})
	}
}

// BenchmarkMLPStep is one Adam training step of the MLP 784→2048→2048→10
// on a batch of 1024 (the acceptance's PyTorch comparison).
func BenchmarkMLPStep(b *testing.B) {
	for _, tf := range []bool{false, true} {
		b.Run(fmt.Sprintf("TF32=%v", tf), func(b *testing.B) {
			dev := openGPU(b, Options{TF32: tf})
			m, ps := mlp784(b, dev)
			opt, err := train.NewAdam(ps, train.AdamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			x, labels := mlpData(b, dev)
			for range 5 {
				if err := mlpStep(m, opt, x, labels); err != nil {
					b.Fatal(err)
				}
			}
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := mlpStep(m, opt, x, labels); err != nil {
					b.Fatal(err)
				}
			}
			if err := dev.Synchronize(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N)*1e3, "ms/step")
		})
	}
}
