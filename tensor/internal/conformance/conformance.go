// Package conformance checks a [tensor.Device] against float64 references
// computed on the host: every operation on random shapes (odd sizes, 1×N,
// N×1, empty), on contiguous, transposed, sliced and broadcast views, plus
// the errors for mixed devices, types and shapes. Package tensor runs it
// on the CPU for every kernel tier; tensor/cuda runs it on a GPU.
//
// Tolerances (float32 results against float64 references):
//   - exact: copies, views, Neg/Abs/ReLU/Square, Maximum/Minimum,
//     Gather, Concat;
//   - elementwise arithmetic and transcendental functions: |err| ≤
//     2e-6 + 4e-6·|ref|;
//   - matrix products: |err| ≤ 2e-6·(k+2)·max|a|·max|b| + 1e-5·|ref|;
//   - sums and means over n values: |err| ≤ 2e-6·n·max|x|; softmax,
//     log-sum-exp and variance: 1e-5 relative plus 1e-5 absolute.
//
// float64 tensors are held to 1e-9 relative everywhere.
package conformance

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/kilnml/kiln/tensor"
)

// Run checks dev. It fails t on the first mismatch of each case.
func Run(t *testing.T, dev tensor.Device) {
	t.Helper()
	c := &checker{dev: dev, rng: rand.New(rand.NewPCG(7, 11))}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		c.dt = dt
		t.Run(dt.String(), func(t *testing.T) {
			t.Run("Views", func(t *testing.T) { c.views(t) })
			t.Run("Binary", func(t *testing.T) { c.binary(t) })
			t.Run("Unary", func(t *testing.T) { c.unary(t) })
			t.Run("MatMul", func(t *testing.T) { c.matmul(t) })
			t.Run("Gemm", func(t *testing.T) { c.gemm(t) })
			t.Run("Reduce", func(t *testing.T) { c.reduce(t) })
			t.Run("Softmax", func(t *testing.T) { c.softmax(t) })
			t.Run("GatherScatter", func(t *testing.T) { c.gatherScatter(t) })
			t.Run("ConcatSplit", func(t *testing.T) { c.concatSplit(t) })
			t.Run("Random", func(t *testing.T) { c.random(t) })
		})
	}
	t.Run("Errors", func(t *testing.T) { c.errs(t) })
}

type checker struct {
	dev tensor.Device
	dt  tensor.DType
	rng *rand.Rand
}

// host is a logical array: row-major values of a shape.
type host struct {
	shape []int
	v     []float64
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}

func ravel(idx, shape []int) int {
	i := 0
	for d := range shape {
		i = i*shape[d] + idx[d]
	}
	return i
}

// at returns h's value at idx, broadcasting (idx may have more axes).
func (h host) at(idx []int) float64 {
	lead := len(idx) - len(h.shape)
	j := 0
	for d := range h.shape {
		x := idx[lead+d]
		if h.shape[d] == 1 {
			x = 0
		}
		j = j*h.shape[d] + x
	}
	return h.v[j]
}

func (c *checker) randHost(shape []int, lo, hi float64) host {
	h := host{shape: slices.Clone(shape), v: make([]float64, size(shape))}
	for i := range h.v {
		x := lo + (hi-lo)*c.rng.Float64()
		if c.dt == tensor.Float32 {
			x = float64(float32(x))
		}
		h.v[i] = x
	}
	return h
}

// layout is how an input tensor is laid out in its buffer.
type layout int

const (
	contiguous layout = iota
	transposed        // stored with the last two axes swapped
	sliced            // a window of a larger tensor
	broadcast         // first axis broadcast from size 1 (values repeat)
	nLayouts
)

func (l layout) String() string {
	return [...]string{"contiguous", "transposed", "sliced", "broadcast"}[l]
}

// upload builds a tensor on the device from host values laid out as l
// (falling back to contiguous where l does not apply to the shape). For
// broadcast, h is overwritten so that its first axis repeats.
func (c *checker) upload(tb testing.TB, h *host, l layout) *tensor.Tensor {
	tb.Helper()
	r := len(h.shape)
	var base *tensor.Tensor
	var err error
	mk := func(v []float64, shape []int) *tensor.Tensor {
		var t *tensor.Tensor
		var err error
		if c.dt == tensor.Float64 {
			t, err = tensor.FromFloat64s(v, shape...)
		} else {
			f := make([]float32, len(v))
			for i, x := range v {
				f[i] = float32(x)
			}
			t, err = tensor.FromFloat32s(f, shape...)
		}
		if err != nil {
			tb.Fatal(err)
		}
		if t, err = t.To(c.dev); err != nil {
			tb.Fatal(err)
		}
		return t
	}
	switch {
	case l == transposed && r >= 2:
		ts := slices.Clone(h.shape)
		ts[r-1], ts[r-2] = ts[r-2], ts[r-1]
		bv := make([]float64, len(h.v))
		for i := range h.v {
			idx := unravel(i, h.shape)
			idx[r-1], idx[r-2] = idx[r-2], idx[r-1]
			bv[ravel(idx, ts)] = h.v[i]
		}
		base = mk(bv, ts)
		out, err := base.Transpose(-1, -2)
		if err != nil {
			tb.Fatal(err)
		}
		return out
	case l == sliced && r >= 1:
		bs := slices.Clone(h.shape)
		lead := 0 // rows before the window along axis 0 (rank ≥ 2)
		if r >= 2 {
			lead = 1
			bs[0] += 3
		}
		bs[r-1] += 2
		bv := make([]float64, size(bs))
		for i := range bv {
			bv[i] = 1e6 // never read
		}
		for i := range h.v {
			idx := unravel(i, h.shape)
			idx[0] += lead
			idx[r-1] += 2
			bv[ravel(idx, bs)] = h.v[i]
		}
		base = mk(bv, bs)
		out, err := base.Slice(0, lead, lead+h.shape[0])
		if r == 1 {
			out, err = base, nil
		}
		if err == nil {
			out, err = out.Slice(-1, 2, 2+h.shape[r-1])
		}
		if err != nil {
			tb.Fatal(err)
		}
		return out
	case l == broadcast && r >= 1 && h.shape[0] > 1:
		one := slices.Clone(h.shape)
		one[0] = 1
		row := h.v[:size(one)]
		for i := range h.v {
			h.v[i] = row[i%len(row)]
		}
		base = mk(row, one)
		out, err := base.BroadcastTo(h.shape...)
		if err != nil {
			tb.Fatal(err)
		}
		return out
	}
	base = mk(h.v, h.shape)
	_ = err
	return base
}

func (c *checker) download(tb testing.TB, t *tensor.Tensor) host {
	tb.Helper()
	v, err := t.Float64s()
	if err != nil {
		tb.Fatal(err)
	}
	return host{shape: t.Shape(), v: v}
}

// compare checks got against want with |err| ≤ abs + rel·|want| (float64
// tensors: 1e-9 relative), NaN matching NaN and infinities exactly.
func (c *checker) compare(tb testing.TB, what string, got host, want host, abs, rel float64) {
	tb.Helper()
	if c.dt == tensor.Float64 {
		abs, rel = 1e-12+abs*1e-7, 1e-9
	}
	if !slices.Equal(got.shape, want.shape) {
		tb.Fatalf("%s: shape %v, want %v", what, got.shape, want.shape)
	}
	for i := range want.v {
		g, w := got.v[i], want.v[i]
		if math.IsNaN(w) || math.IsInf(w, 0) {
			if !(math.IsNaN(w) && math.IsNaN(g)) && g != w {
				tb.Fatalf("%s: element %v = %v, want %v", what, unravel(i, want.shape), g, w)
			}
			continue
		}
		if math.IsNaN(g) || math.Abs(g-w) > abs+rel*math.Abs(w) {
			tb.Fatalf("%s: element %v = %v, want %v (|err| %.3g > %.3g)", what, unravel(i, want.shape), g, w,
				math.Abs(g-w), abs+rel*math.Abs(w))
		}
	}
}

// must returns a function that fails tb on an error and else returns the
// value: must(t)(x.Clone()).
func must[T any](tb testing.TB) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

type tt = *tensor.Tensor

func (c *checker) views(t *testing.T) {
	for _, shape := range [][]int{{1}, {7}, {3, 5}, {1, 9}, {9, 1}, {0, 4}, {4, 3, 6}, {2, 65, 33}} {
		for l := range nLayouts {
			h := c.randHost(shape, -1, 1)
			x := c.upload(t, &h, l)
			name := fmt.Sprintf("%v/%v", shape, l)
			c.compare(t, name+" values", c.download(t, x), h, 0, 0)
			y := must[tt](t)(x.Clone())
			if !y.IsContiguous() {
				t.Fatalf("%s: clone not contiguous", name)
			}
			c.compare(t, name+" clone", c.download(t, y), h, 0, 0)
			z := must[tt](t)(x.Contiguous())
			z = must[tt](t)(z.Reshape(-1))
			c.compare(t, name+" flat", c.download(t, z), host{shape: []int{len(h.v)}, v: h.v}, 0, 0)
			if len(shape) >= 2 {
				tt := must[tt](t)(x.Transpose(0, len(shape)-1))
				want := host{shape: tt.Shape(), v: make([]float64, len(h.v))}
				for i := range want.v {
					idx := unravel(i, want.shape)
					idx[0], idx[len(idx)-1] = idx[len(idx)-1], idx[0]
					want.v[i] = h.at(idx)
				}
				c.compare(t, name+" transpose", c.download(t, tt), want, 0, 0)
			}
		}
	}
}

type binCase struct{ a, b []int }

var binShapes = []binCase{
	{[]int{3, 4}, []int{3, 4}}, {[]int{5, 1}, []int{1, 7}}, {[]int{17}, []int{4, 17}},
	{[]int{2, 3, 4}, []int{4}}, {[]int{1}, []int{1, 1}}, {[]int{0, 3}, []int{3}},
	{[]int{1, 33}, []int{65, 1}}, {[]int{300, 129}, []int{129}}, {[]int{2, 1, 5}, []int{3, 1}},
	{[]int{70000}, []int{70000}}, {[]int{}, []int{6}},
}

func bin64(op tensor.BinaryOp, x, y float64) float64 {
	switch op {
	case tensor.OpAdd:
		return x + y
	case tensor.OpSub:
		return x - y
	case tensor.OpMul:
		return x * y
	case tensor.OpDiv:
		return x / y
	case tensor.OpMaximum:
		return math.Max(x, y)
	case tensor.OpMinimum:
		return math.Min(x, y)
	case tensor.OpReLUGrad:
		if y > 0 {
			return x
		}
		return 0
	case tensor.OpSigmoidGrad:
		return x * y * (1 - y)
	case tensor.OpTanhGrad:
		return x * (1 - y*y)
	case tensor.OpGELUGrad:
		// d/dx of 0.5·x·(1+tanh(c·(x+0.044715·x³))) by the five-point
		// difference of the float64 function (error ~1e-12), an independent
		// check of the closed form.
		g := func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x))) }
		const h = 1e-3
		return x * (g(y-2*h) - 8*g(y-h) + 8*g(y+h) - g(y+2*h)) / (12 * h)
	}
	return math.Pow(x, y)
}

func bcast(a, b []int) []int {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		out[i] = max(da, db)
		if da == 0 || db == 0 {
			out[i] = 0
		}
	}
	return out
}

func (c *checker) binary(t *testing.T) {
	fns := map[tensor.BinaryOp]func(a, b *tensor.Tensor) (*tensor.Tensor, error){
		tensor.OpAdd: tensor.Add, tensor.OpSub: tensor.Sub, tensor.OpMul: tensor.Mul, tensor.OpDiv: tensor.Div,
		tensor.OpMaximum: tensor.Maximum, tensor.OpMinimum: tensor.Minimum, tensor.OpPow: tensor.Pow,
	}
	for op := tensor.OpReLUGrad; op <= tensor.OpGELUGrad; op++ {
		fns[op] = func(a, b *tensor.Tensor) (*tensor.Tensor, error) {
			dst, err := tensor.NewOn(a.Device(), a.DType(), bcast(a.Shape(), b.Shape())...)
			if err != nil {
				return nil, err
			}
			return dst, tensor.Binary(op, dst, a, b)
		}
	}
	for op := tensor.OpAdd; op <= tensor.OpGELUGrad; op++ {
		for ci, bc := range binShapes {
			la, lb := layout(ci%int(nLayouts)), layout((ci+int(op))%int(nLayouts))
			lo, hi := -2.0, 2.0
			if op == tensor.OpPow {
				lo = 0.1
			}
			ha, hb := c.randHost(bc.a, lo, hi), c.randHost(bc.b, lo, hi)
			if op == tensor.OpDiv {
				for i := range hb.v {
					if math.Abs(hb.v[i]) < 0.1 {
						hb.v[i] = 0.5
					}
				}
			}
			a, b := c.upload(t, &ha, la), c.upload(t, &hb, lb)
			shape := bcast(bc.a, bc.b)
			want := host{shape: shape, v: make([]float64, size(shape))}
			for i := range want.v {
				idx := unravel(i, shape)
				want.v[i] = bin64(op, ha.at(idx), hb.at(idx))
				if c.dt == tensor.Float32 {
					want.v[i] = float64(float32(want.v[i]))
				}
			}
			name := fmt.Sprintf("op%d %v(%v) %v(%v)", op, bc.a, la, bc.b, lb)
			got := must[tt](t)(fns[op](a, b))
			c.compare(t, name, c.download(t, got), want, 2e-6, 4e-6)
			// In place into a contiguous a of the result's shape.
			if slices.Equal(bc.a, shape) {
				h2 := ha
				h2.v = slices.Clone(ha.v)
				a2 := c.upload(t, &h2, contiguous)
				if err := tensor.Binary(op, a2, a2, b); err != nil {
					t.Fatal(err)
				}
				c.compare(t, name+" in place", c.download(t, a2), want, 2e-6, 4e-6)
			}
		}
	}
}

func (c *checker) unary(t *testing.T) {
	type uc struct {
		op     tensor.UnaryOp
		fn     func(*tensor.Tensor) (*tensor.Tensor, error)
		ref    func(float64) float64
		lo, hi float64
	}
	gelu := func(x float64) float64 {
		return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x)))
	}
	cases := []uc{
		{tensor.OpNeg, tensor.Neg, func(x float64) float64 { return -x }, -3, 3},
		{tensor.OpExp, tensor.Exp, math.Exp, -20, 20},
		{tensor.OpLog, tensor.Log, math.Log, 1e-3, 1e3},
		{tensor.OpTanh, tensor.Tanh, math.Tanh, -6, 6},
		{tensor.OpSigmoid, tensor.Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }, -20, 20},
		{tensor.OpReLU, tensor.ReLU, func(x float64) float64 { return math.Max(x, 0) }, -3, 3},
		{tensor.OpGELU, tensor.GELU, gelu, -6, 6},
		{tensor.OpSqrt, tensor.Sqrt, math.Sqrt, 0, 100},
		{tensor.OpAbs, tensor.Abs, math.Abs, -3, 3},
		{tensor.OpSquare, tensor.Square, func(x float64) float64 { return x * x }, -3, 3},
		{tensor.OpPowScalar, func(a *tensor.Tensor) (*tensor.Tensor, error) { return tensor.PowScalar(a, 1.5) },
			func(x float64) float64 { return math.Pow(x, 1.5) }, 0, 4},
	}
	for _, u := range cases {
		for si, shape := range [][]int{{0}, {1}, {13}, {5, 9}, {9, 5}, {3, 4, 70}, {100001}} {
			l := layout(si % int(nLayouts))
			h := c.randHost(shape, u.lo, u.hi)
			x := c.upload(t, &h, l)
			want := host{shape: shape, v: make([]float64, len(h.v))}
			for i, v := range h.v {
				want.v[i] = u.ref(v)
			}
			name := fmt.Sprintf("unary%d %v %v", u.op, shape, l)
			c.compare(t, name, c.download(t, must[tt](t)(u.fn(x))), want, 2e-6, 4e-6)
		}
	}
}

// matmulRef computes a·b on host arrays of rank 3 ([batch, m, k]), batch
// broadcast from 1.
func matmulRef(a, b host, m, k, n int) (host, float64) {
	ba, bb := size(a.shape)/max(m*k, 1), size(b.shape)/max(k*n, 1)
	if m*k == 0 {
		ba = 1
		if len(a.shape) == 3 {
			ba = a.shape[0]
		}
	}
	if k*n == 0 {
		bb = 1
		if len(b.shape) == 3 {
			bb = b.shape[0]
		}
	}
	batch := max(ba, bb)
	out := host{v: make([]float64, batch*m*n)}
	maxA, maxB := 0.0, 0.0
	for _, x := range a.v {
		maxA = math.Max(maxA, math.Abs(x))
	}
	for _, x := range b.v {
		maxB = math.Max(maxB, math.Abs(x))
	}
	for q := range batch {
		qa, qb := q%ba, q%bb
		for i := range m {
			for j := range n {
				var s float64
				for l := range k {
					s += a.v[qa*m*k+i*k+l] * b.v[qb*k*n+l*n+j]
				}
				out.v[q*m*n+i*n+j] = s
			}
		}
	}
	return out, maxA * maxB
}

func (c *checker) matmul(t *testing.T) {
	sizes := []int{1, 3, 7, 17, 33, 65, 130}
	for i := range 24 {
		m, k, n := sizes[c.rng.IntN(len(sizes))], sizes[c.rng.IntN(len(sizes))], sizes[c.rng.IntN(len(sizes))]
		switch i {
		case 0:
			m = 0
		case 1:
			k = 0
		case 2:
			n = 0
		case 3:
			m, k, n = 1, 257, 1
		}
		la, lb := layout(i%3), layout((i/3)%3)
		ha, hb := c.randHost([]int{m, k}, -1, 1), c.randHost([]int{k, n}, -1, 1)
		a, b := c.upload(t, &ha, la), c.upload(t, &hb, lb)
		want, scale := matmulRef(ha, hb, m, k, n)
		want.shape = []int{m, n}
		got := must[tt](t)(tensor.MatMul(a, b))
		c.compare(t, fmt.Sprintf("%dx%dx%d %v·%v", m, k, n, la, lb), c.download(t, got), want,
			2e-6*float64(k+2)*scale, 1e-5)
	}
	// Batched, with batch broadcasting.
	for _, bc := range []struct{ a, b, out []int }{
		{[]int{4, 5, 6}, []int{4, 6, 3}, []int{4, 5, 3}},
		{[]int{3, 5, 6}, []int{6, 7}, []int{3, 5, 7}},
		{[]int{1, 5, 6}, []int{2, 6, 7}, []int{2, 5, 7}},
		{[]int{2, 1, 9, 4}, []int{3, 4, 2}, []int{2, 3, 9, 2}},
	} {
		ha, hb := c.randHost(bc.a, -1, 1), c.randHost(bc.b, -1, 1)
		a, b := c.upload(t, &ha, transposed), c.upload(t, &hb, contiguous)
		got := must[tt](t)(tensor.MatMul(a, b))
		ra, rb := len(bc.a), len(bc.b)
		m, k, n := bc.a[ra-2], bc.a[ra-1], bc.b[rb-1]
		want := host{shape: bc.out, v: make([]float64, size(bc.out))}
		for i := range want.v {
			idx := unravel(i, bc.out)
			var s float64
			for l := range k {
				ia := append(slices.Clone(idx[:len(idx)-2]), idx[len(idx)-2], l)
				ib := append(slices.Clone(idx[:len(idx)-2]), l, idx[len(idx)-1])
				s += ha.at(ia[len(ia)-ra:]) * hb.at(ib[len(ib)-rb:])
			}
			want.v[i] = s
		}
		_ = m
		_ = n
		c.compare(t, fmt.Sprintf("batched %v·%v", bc.a, bc.b), c.download(t, got), want, 2e-6*float64(k+2), 1e-5)
	}
}

func act(a tensor.Activation, x float64) float64 {
	switch a {
	case tensor.ActReLU:
		return math.Max(x, 0)
	case tensor.ActGELU:
		return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x)))
	case tensor.ActSigmoid:
		return 1 / (1 + math.Exp(-x))
	case tensor.ActTanh:
		return math.Tanh(x)
	}
	return x
}

func (c *checker) gemm(t *testing.T) {
	for i := range 20 {
		m, k, n := 1+c.rng.IntN(40), 1+c.rng.IntN(70), 1+c.rng.IntN(40)
		if i == 0 {
			k = 0
		}
		opts := tensor.GemmOptions{TransA: i%2 == 1, TransB: i%4 >= 2, Alpha: []float64{0, 1, -0.5, 2}[i%4],
			Beta: []float64{0, 0, 1, 0.5, -1}[i%5], Act: tensor.Activation(i % 5)}
		as, bs := []int{m, k}, []int{k, n}
		if opts.TransA {
			as = []int{k, m}
		}
		if opts.TransB {
			bs = []int{n, k}
		}
		ha, hb, hc := c.randHost(as, -1, 1), c.randHost(bs, -1, 1), c.randHost([]int{m, n}, -1, 1)
		a, b := c.upload(t, &ha, layout(i%3)), c.upload(t, &hb, layout((i+1)%3))
		var hbias host
		if i%3 != 0 {
			hbias = c.randHost([]int{n}, -1, 1)
			opts.Bias = c.upload(t, &hbias, contiguous)
		}
		dst := c.upload(t, &hc, layout((i+2)%3))
		if opts.Beta == 0 {
			if err := tensor.Fill(dst, math.NaN()); err != nil {
				t.Fatal(err)
			}
		}
		if err := tensor.Gemm(dst, a, b, opts); err != nil {
			t.Fatal(err)
		}
		alpha := opts.Alpha
		if alpha == 0 {
			alpha = 1
		}
		want := host{shape: []int{m, n}, v: make([]float64, m*n)}
		for r := range m {
			for j := range n {
				var s float64
				for l := range k {
					av := ha.v[r*k+l]
					if opts.TransA {
						av = ha.v[l*m+r]
					}
					bv := hb.v[l*n+j]
					if opts.TransB {
						bv = hb.v[j*k+l]
					}
					s += av * bv
				}
				v := alpha * s
				if opts.Beta != 0 {
					v += opts.Beta * hc.v[r*n+j]
				}
				if opts.Bias != nil {
					v += hbias.v[j]
				}
				want.v[r*n+j] = act(opts.Act, v)
			}
		}
		c.compare(t, fmt.Sprintf("gemm %dx%dx%d %+v", m, k, n, opts), c.download(t, dst), want,
			2e-6*float64(k+4)*math.Max(1, math.Abs(alpha)), 1e-5)
	}
}

func (c *checker) reduce(t *testing.T) {
	type rc struct {
		name string
		fn   func(x *tensor.Tensor, keep bool, axes ...int) (*tensor.Tensor, error)
		ref  func(v []float64) float64
	}
	sum := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s
	}
	mean := func(v []float64) float64 { return sum(v) / float64(len(v)) }
	variance := func(ddof int) func(v []float64) float64 {
		return func(v []float64) float64 {
			m := mean(v)
			var s float64
			for _, x := range v {
				s += (x - m) * (x - m)
			}
			return s / float64(len(v)-ddof)
		}
	}
	cases := []rc{
		{"sum", tensor.Sum, sum},
		{"mean", tensor.Mean, mean},
		{"max", tensor.Max, func(v []float64) float64 { return slices.Max(append(v, math.Inf(-1))) }},
		{"min", tensor.Min, func(v []float64) float64 { return slices.Min(append(v, math.Inf(1))) }},
		{"logsumexp", tensor.LogSumExp, func(v []float64) float64 {
			m := slices.Max(v)
			var s float64
			for _, x := range v {
				s += math.Exp(x - m)
			}
			return m + math.Log(s)
		}},
		{"var0", func(x *tensor.Tensor, keep bool, axes ...int) (*tensor.Tensor, error) {
			return tensor.Var(x, 0, keep, axes...)
		}, variance(0)},
		{"var1", func(x *tensor.Tensor, keep bool, axes ...int) (*tensor.Tensor, error) {
			return tensor.Var(x, 1, keep, axes...)
		}, variance(1)},
	}
	shapes := []struct {
		shape []int
		axes  []int
	}{
		{[]int{7}, nil}, {[]int{5, 9}, []int{1}}, {[]int{5, 9}, []int{0}}, {[]int{1, 33}, []int{-1}},
		{[]int{33, 1}, []int{0}}, {[]int{4, 6, 5}, []int{0, 2}}, {[]int{4, 6, 5}, nil}, {[]int{3, 70000}, []int{1}},
		{[]int{300, 130}, []int{0}}, {[]int{2, 3, 4, 5}, []int{1, 3}},
	}
	for _, rcase := range cases {
		for si, s := range shapes {
			l := layout(si % int(nLayouts))
			h := c.randHost(s.shape, -2, 2)
			x := c.upload(t, &h, l)
			red := make([]bool, len(s.shape))
			for i := range red {
				red[i] = len(s.axes) == 0
			}
			for _, a := range s.axes {
				red[(a+len(red))%len(red)] = true
			}
			keep := slices.Clone(s.shape)
			var squeezed []int
			for i := range keep {
				if red[i] {
					keep[i] = 1
				} else {
					squeezed = append(squeezed, keep[i])
				}
			}
			groups := make([][]float64, size(keep))
			maxAbs := 0.0
			for i, v := range h.v {
				idx := unravel(i, s.shape)
				for d := range idx {
					if red[d] {
						idx[d] = 0
					}
				}
				g := ravel(idx, keep)
				groups[g] = append(groups[g], v)
				maxAbs = math.Max(maxAbs, math.Abs(v))
			}
			want := host{shape: keep, v: make([]float64, len(groups))}
			n := 1
			for i, g := range groups {
				want.v[i] = rcase.ref(g)
				n = len(g)
			}
			abs, rel := 1e-5, 1e-5
			if rcase.name == "sum" || rcase.name == "mean" {
				abs = 2e-6 * float64(n) * maxAbs
				if rcase.name == "mean" {
					abs /= float64(n)
				}
			}
			name := fmt.Sprintf("%s %v axes %v %v", rcase.name, s.shape, s.axes, l)
			got := must[tt](t)(rcase.fn(x, true, s.axes...))
			c.compare(t, name, c.download(t, got), want, abs, rel)
			got = must[tt](t)(rcase.fn(x, false, s.axes...))
			want.shape = squeezed
			if squeezed == nil {
				want.shape = []int{}
			}
			c.compare(t, name+" squeezed", c.download(t, got), want, abs, rel)
		}
	}
	// ArgMax, with ties and a NaN.
	h := host{shape: []int{3, 4}, v: []float64{1, 5, 5, 2, -1, -3, -2, -1, 0, math.NaN(), 7, 7}}
	x := c.upload(t, &h, transposed)
	got := must[[]int32](t)(tensor.ArgMax(x, 1))
	if want := []int32{1, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("ArgMax axis 1 = %v, want %v", got, want)
	}
	got = must[[]int32](t)(tensor.ArgMax(x, 0))
	if want := []int32{0, 2, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("ArgMax axis 0 = %v, want %v", got, want)
	}
}

func (c *checker) softmax(t *testing.T) {
	for si, s := range []struct {
		shape []int
		axis  int
		scale float64
	}{{[]int{1, 1}, 1, 1}, {[]int{5, 9}, -1, 1}, {[]int{5, 9}, 0, 1}, {[]int{3, 4, 1000}, 2, 50}, {[]int{7, 2, 3}, 1, 1}, {[]int{4, 1}, 0, 1}} {
		for _, log := range []bool{false, true} {
			l := layout(si % int(nLayouts))
			h := c.randHost(s.shape, -s.scale, s.scale)
			x := c.upload(t, &h, l)
			ax := (s.axis + len(s.shape)) % len(s.shape)
			want := host{shape: s.shape, v: make([]float64, len(h.v))}
			for i := range h.v {
				idx := unravel(i, s.shape)
				m := math.Inf(-1)
				for j := range s.shape[ax] {
					idx[ax] = j
					m = math.Max(m, h.at(idx))
				}
				var sum float64
				for j := range s.shape[ax] {
					idx[ax] = j
					sum += math.Exp(h.at(idx) - m)
				}
				x := h.v[i]
				if log {
					want.v[i] = x - m - math.Log(sum)
				} else {
					want.v[i] = math.Exp(x-m) / sum
				}
			}
			fn := tensor.Softmax
			if log {
				fn = tensor.LogSoftmax
			}
			got := must[tt](t)(fn(x, s.axis))
			c.compare(t, fmt.Sprintf("softmax %v axis %d log %v %v", s.shape, s.axis, log, l), c.download(t, got), want, 1e-5, 1e-5)
		}
	}
}

func (c *checker) gatherScatter(t *testing.T) {
	for li, shape := range [][]int{{10, 7}, {10}, {6, 3, 5}} {
		h := c.randHost(shape, -1, 1)
		table := c.upload(t, &h, layout(li%3))
		idx := []int32{3, 0, 9 % int32(shape[0]), 3, 5}
		got := must[tt](t)(tensor.Gather(table, idx))
		row := size(shape[1:])
		want := host{shape: append([]int{len(idx)}, shape[1:]...)}
		for _, r := range idx {
			want.v = append(want.v, h.v[int(r)*row:int(r+1)*row]...)
		}
		c.compare(t, fmt.Sprintf("gather %v", shape), c.download(t, got), want, 0, 0)

		hs := c.randHost(want.shape, -1, 1)
		src := c.upload(t, &hs, layout((li+1)%3))
		hd := c.randHost(shape, -1, 1)
		dst := c.upload(t, &hd, contiguous)
		if err := tensor.ScatterAdd(dst, idx, src); err != nil {
			t.Fatal(err)
		}
		for i, r := range idx {
			for j := range row {
				hd.v[int(r)*row+j] += hs.v[i*row+j]
			}
		}
		c.compare(t, fmt.Sprintf("scatter-add %v", shape), c.download(t, dst), hd, 1e-6, 1e-6)
		if _, err := tensor.Gather(table, []int32{int32(shape[0])}); !errors.Is(err, tensor.ErrIndex) {
			t.Errorf("Gather out of range: %v, want ErrIndex", err)
		}
		if err := tensor.ScatterAdd(dst, []int32{-1, 0, 0, 0, 0}, src); !errors.Is(err, tensor.ErrIndex) {
			t.Errorf("ScatterAdd out of range: %v, want ErrIndex", err)
		}
	}
}

func (c *checker) concatSplit(t *testing.T) {
	ha, hb := c.randHost([]int{3, 4}, -1, 1), c.randHost([]int{3, 2}, -1, 1)
	a, b := c.upload(t, &ha, transposed), c.upload(t, &hb, sliced)
	got := must[tt](t)(tensor.Concat(1, a, b))
	want := host{shape: []int{3, 6}}
	for i := range 3 {
		want.v = append(want.v, ha.v[i*4:i*4+4]...)
		want.v = append(want.v, hb.v[i*2:i*2+2]...)
	}
	c.compare(t, "concat", c.download(t, got), want, 0, 0)
	parts := must[[]*tensor.Tensor](t)(tensor.Split(got, 1, 4, 0, 2))
	c.compare(t, "split 0", c.download(t, parts[0]), ha, 0, 0)
	c.compare(t, "split 2", c.download(t, parts[2]), hb, 0, 0)
	got = must[tt](t)(tensor.Concat(0, a, a))
	c.compare(t, "concat 0", c.download(t, got), host{shape: []int{6, 4}, v: append(slices.Clone(ha.v), ha.v...)}, 0, 0)
	if _, err := tensor.Concat(0, a, b); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Concat of mismatched shapes: %v, want ErrShape", err)
	}
	if _, err := tensor.Split(got, 0, 2, 2); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Split with wrong sizes: %v, want ErrShape", err)
	}
}

func (c *checker) random(t *testing.T) {
	x := must[tt](t)(tensor.NewOn(c.dev, c.dt, 301, 67))
	ref := must[tt](t)(tensor.New(c.dt, 301, 67))
	r, rr := tensor.NewRNG(42), tensor.NewRNG(42)
	if err := r.Uniform(x, -2, 3); err != nil {
		t.Fatal(err)
	}
	if err := rr.Uniform(ref, -2, 3); err != nil {
		t.Fatal(err)
	}
	hv := c.download(t, x)
	c.compare(t, "uniform equals the CPU stream", hv, c.download(t, ref), 0, 0)
	var s float64
	for _, v := range hv.v {
		if v < -2 || v >= 3 {
			t.Fatalf("uniform value %v outside [-2, 3)", v)
		}
		s += v
	}
	if m := s / float64(len(hv.v)); math.Abs(m-0.5) > 0.05 {
		t.Errorf("uniform mean %v, want about 0.5", m)
	}
	// Normal into a transposed view.
	xt := must[tt](t)(x.T())
	if err := r.Normal(xt, 1, 2); err != nil {
		t.Fatal(err)
	}
	reft := must[tt](t)(ref.T())
	if err := rr.Normal(reft, 1, 2); err != nil {
		t.Fatal(err)
	}
	hv = c.download(t, xt)
	c.compare(t, "normal equals the CPU stream", hv, c.download(t, reft), 0, 0)
	var s2 float64
	s = 0
	for _, v := range hv.v {
		s += v
		s2 += v * v
	}
	n := float64(len(hv.v))
	m := s / n
	sd := math.Sqrt(s2/n - m*m)
	if math.Abs(m-1) > 0.05 || math.Abs(sd-2) > 0.05 {
		t.Errorf("normal mean %v sd %v, want 1 and 2", m, sd)
	}
}

// otherDevice is a device distinct from any real one; its tensors exist
// only to be rejected.
type otherDevice struct{ tensor.Device }

type otherBuffer struct {
	tensor.Buffer
	dev tensor.Device
}

func (b otherBuffer) Device() tensor.Device { return b.dev }

func (d *otherDevice) Name() string { return "other" }

func (d *otherDevice) Alloc(dt tensor.DType, n int) (tensor.Buffer, error) {
	b, err := d.Device.Alloc(dt, n)
	return otherBuffer{Buffer: b, dev: d}, err
}

func (c *checker) errs(t *testing.T) {
	c.dt = tensor.Float32
	h1, h2 := c.randHost([]int{2, 3}, -1, 1), c.randHost([]int{4}, -1, 1)
	a, b := c.upload(t, &h1, contiguous), c.upload(t, &h2, contiguous)
	_, err := tensor.Add(a, b)
	if !errors.Is(err, tensor.ErrShape) || !strings.Contains(err.Error(), "[2 3]") || !strings.Contains(err.Error(), "[4]") {
		t.Errorf("Add [2 3] + [4]: %v, want ErrShape naming both shapes", err)
	}
	if _, err := tensor.MatMul(a, a); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("MatMul [2 3]·[2 3]: %v, want ErrShape", err)
	}
	if _, err := a.Reshape(4, 2); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Reshape: %v, want ErrShape", err)
	}
	if _, err := tensor.Sum(a, false, 2); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Sum axis 2 of rank 2: %v, want ErrShape", err)
	}
	d := must[tt](t)(tensor.NewOn(c.dev, tensor.Float64, 2, 3))
	if _, err := tensor.Add(a, d); !errors.Is(err, tensor.ErrDType) {
		t.Errorf("float32 + float64: %v, want ErrDType", err)
	}
	other := &otherDevice{Device: tensor.CPU()}
	o := must[tt](t)(tensor.NewOn(other, tensor.Float32, 2, 3))
	if _, err := tensor.Add(a, o); !errors.Is(err, tensor.ErrDevice) {
		t.Errorf("Add across devices: %v, want ErrDevice", err)
	}
	if _, err := tensor.MatMul(a, must[tt](t)(o.T())); !errors.Is(err, tensor.ErrDevice) {
		t.Errorf("MatMul across devices: %v, want ErrDevice", err)
	}
	if _, err := tensor.Concat(0, a, o); !errors.Is(err, tensor.ErrDevice) {
		t.Errorf("Concat across devices: %v, want ErrDevice", err)
	}
	if _, err := tensor.Add(nil, a); err == nil {
		t.Error("Add(nil, a) succeeded")
	}
	if _, err := tensor.MatMul(&tensor.Tensor{}, a); err == nil {
		t.Error("MatMul of the zero Tensor succeeded")
	}
	bc := must[tt](t)(b.BroadcastTo(3, 4))
	if err := tensor.Unary(tensor.OpExp, bc, bc, 0); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("writing into a broadcast view: %v, want ErrShape", err)
	}
}
