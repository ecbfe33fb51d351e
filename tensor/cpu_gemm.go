package tensor

import (
	"math"

	"github.com/kilnml/kiln/tensor/internal/kern"
)

// matLayout says how a rank-3 view's matrices [rows, cols] map to the
// row-major (lda) form kern takes: trans when stored column-major.
func matLayout(v View) (trans bool, ld int, ok bool) {
	rows, cols := v.Shape[1], v.Shape[2]
	s1, s2 := v.Strides[1], v.Strides[2]
	if (s2 == 1 || cols <= 1) && (rows <= 1 || s1 >= max(cols, 1)) {
		if rows <= 1 {
			s1 = max(cols, 1)
		}
		return false, s1, true
	}
	if (s1 == 1 || rows <= 1) && (cols <= 1 || s2 >= max(rows, 1)) {
		if cols <= 1 {
			s2 = max(rows, 1)
		}
		return true, s2, true
	}
	return false, 0, false
}

// denseCopy returns a contiguous copy of v on the CPU.
func denseCopy(v View) View {
	n := 1
	for _, d := range v.Shape {
		n *= d
	}
	buf, _ := cpuDev.Alloc(v.DType, n)
	c := View{Buf: buf, DType: v.DType, Shape: v.Shape, Strides: contiguousStrides(v.Shape)}
	_ = cpuDev.Copy(c, v)
	return c
}

func act64(a Activation, x float64) float64 {
	switch a {
	case ActReLU:
		return max(x, 0)
	case ActGELU:
		return 0.5 * x * (1 + math.Tanh(0.7978845608028654*(x+0.044715*x*x*x)))
	case ActSigmoid:
		return 1 / (1 + math.Exp(-x))
	case ActTanh:
		return math.Tanh(x)
	}
	return x
}

func (*cpuDevice) Gemm(c, a, b View, args GemmArgs) error {
	batch, m, n, k := c.Shape[0], c.Shape[1], c.Shape[2], a.Shape[2]
	if batch == 0 || m == 0 || n == 0 {
		return nil
	}
	// C must be row-major with positive row stride; otherwise compute into
	// a dense copy and copy back.
	if c.Strides[2] != 1 && n > 1 || m > 1 && c.Strides[1] < n {
		tmp := c
		if args.Beta != 0 {
			tmp = denseCopy(c)
		} else {
			buf, _ := cpuDev.Alloc(c.DType, batch*m*n)
			tmp = View{Buf: buf, DType: c.DType, Shape: c.Shape, Strides: contiguousStrides(c.Shape)}
		}
		if err := cpuDev.Gemm(tmp, a, b, args); err != nil {
			return err
		}
		return cpuDev.Copy(c, tmp)
	}
	ldc := c.Strides[1]
	if m <= 1 {
		ldc = n
	}
	ta, lda, ok := matLayout(a)
	if !ok {
		a = denseCopy(a)
		ta, lda, _ = matLayout(a)
	}
	tb, ldb, ok := matLayout(b)
	if !ok {
		b = denseCopy(b)
		tb, ldb, _ = matLayout(b)
	}
	if args.Bias.Buf != nil && args.Bias.Strides[0] != 1 && n > 1 {
		args.Bias = denseCopy(args.Bias)
	}
	sa, sb, sc := a.Strides[0], b.Strides[0], c.Strides[0]
	if batch == 1 {
		sa, sb, sc = 0, 0, 0
	}
	if c.DType == Float64 {
		return gemm64(c, a, b, args, ta, tb, lda, ldb, ldc, sa, sb, sc)
	}
	cs := hostF32(c.Buf)[c.Offset:]
	var ep kern.Epilogue
	ep.Act = kern.Act(args.Act)
	if args.Bias.Buf != nil {
		ep.Bias = hostF32(args.Bias.Buf)[args.Bias.Offset : args.Bias.Offset+n]
	}
	if k == 0 {
		// No products: C = act(beta·C + bias).
		for bi := range batch {
			for i := range m {
				row := cs[bi*sc+i*ldc:][:n]
				for j := range row {
					var v float32
					if args.Beta != 0 {
						v = float32(args.Beta) * row[j]
					}
					if ep.Bias != nil {
						v += ep.Bias[j]
					}
					row[j] = kern.ActScalar(ep.Act, v)
				}
			}
		}
		return nil
	}
	as := hostF32(a.Buf)[a.Offset:]
	bs := hostF32(b.Buf)[b.Offset:]
	if batch == 1 {
		kern.Sgemm(kern.Default(), ta, tb, m, n, k, float32(args.Alpha), as, lda, bs, ldb, float32(args.Beta), cs, ldc, ep)
		return nil
	}
	kern.SgemmBatched(kern.Default(), ta, tb, m, n, k, float32(args.Alpha), as, lda, sa, bs, ldb, sb,
		float32(args.Beta), cs, ldc, sc, batch, ep)
	return nil
}

func gemm64(c, a, b View, args GemmArgs, ta, tb bool, lda, ldb, ldc, sa, sb, sc int) error {
	batch, m, n, k := c.Shape[0], c.Shape[1], c.Shape[2], a.Shape[2]
	cs := hostF64(c.Buf)[c.Offset:]
	as := hostF64(a.Buf)[a.Offset:]
	bs := hostF64(b.Buf)[b.Offset:]
	var bias []float64
	if args.Bias.Buf != nil {
		bias = hostF64(args.Bias.Buf)[args.Bias.Offset : args.Bias.Offset+n]
	}
	for bi := range batch {
		cb := cs[bi*sc:]
		if k == 0 {
			for i := range m {
				row := cb[i*ldc:][:n]
				for j := range row {
					if args.Beta == 0 {
						row[j] = 0
					} else {
						row[j] *= args.Beta
					}
				}
			}
		} else {
			kern.Dgemm(ta, tb, m, n, k, args.Alpha, as[bi*sa:], lda, bs[bi*sb:], ldb, args.Beta, cb, ldc)
		}
		if bias == nil && args.Act == ActNone {
			continue
		}
		for i := range m {
			row := cb[i*ldc:][:n]
			for j := range row {
				v := row[j]
				if bias != nil {
					v += bias[j]
				}
				row[j] = act64(args.Act, v)
			}
		}
	}
	return nil
}
