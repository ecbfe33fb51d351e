//go:build amd64 && !purego

package kern

//go:generate go run unary_gen.go

// The AVX2+FMA transcendental kernels of unary_amd64.s (written by
// unary_gen.go), over n float32, n
// a multiple of 8. exp is the Cephes expf reduction (x = n·ln2 + r,
// |r| ≤ ln2/2, degree-5 polynomial, 2^n applied in two halves so that
// results in the subnormal range round once); log is Cephes logf
// (subnormal inputs scaled by 2^23 first). sigmoid is 1/(1+exp(-x)); GELU
// (tanh form) is computed as x/(1+exp(-2u)), u = √(2/π)(x+0.044715x³),
// which equals 0.5x(1+tanh u) without its cancellation for negative x;
// tanh is a Cephes polynomial below |x| 0.625 and 1-2/(exp(2|x|)+1) above.

//go:noescape
func expAVX2(dst, a *float32, n int)

//go:noescape
func logAVX2(dst, a *float32, n int)

//go:noescape
func sigmoidAVX2(dst, a *float32, n int)

//go:noescape
func tanhAVX2(dst, a *float32, n int)

//go:noescape
func geluAVX2(dst, a *float32, n int)

// unaryMathAsm does the vector part of the transcendental unary ops on
// dst and a (whose length is a multiple of 8); it returns how many leading
// elements it did.
func unaryMathAsm(op UnOp, dst, a []float32) int {
	var f func(dst, a *float32, n int)
	switch op {
	case OpExp:
		f = expAVX2
	case OpLog:
		f = logAVX2
	case OpSigmoid:
		f = sigmoidAVX2
	case OpTanh:
		f = tanhAVX2
	case OpGELU:
		f = geluAVX2
	default:
		return 0
	}
	if len(dst) == 0 {
		return 0
	}
	f(&dst[0], &a[0], len(dst))
	return len(dst)
}
