package kern

import "math"

// Act is an activation applied by a GEMM epilogue.
type Act uint8

const (
	ActNone Act = iota
	ActReLU
	ActGELU // tanh approximation
	ActSigmoid
	ActTanh
)

// Epilogue is work fused into a GEMM's output: C = act(alpha·op(A)·op(B) +
// beta·C + bias), bias broadcast along the rows (one value per column of
// C).
type Epilogue struct {
	Bias []float32 // nil, or n values
	Act  Act
}

// Sgemm computes C = act(alpha·op(A)·op(B) + beta·C + bias) for row-major
// float32 matrices: op(A) is m×k (A is k×m when transA), op(B) is k×n (B is
// n×k when transB), C is m×n; lda, ldb and ldc are the row strides. When
// beta is 0, C is not read (NaNs in it do not propagate); when alpha is 0 or
// k is 0, A and B are not read. p runs the tiles (nil: one goroutine).
//
// Large problems are blocked Goto/BLIS style (see sgemmBlocked); the sum
// over k of each element of C is formed in the same order whatever p's
// size, so results are bit-identical for any number of workers. Sgemm
// panics when a slice is too short for its shape and stride: callers
// (package tensor) validate shapes first.
func Sgemm(p *Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) {
	if m <= 0 || n <= 0 {
		return
	}
	checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, ep)
	if k <= 0 || alpha == 0 {
		sgemmScale(m, n, beta, c, ldc, ep)
		return
	}
	if m*n*k <= gemmSmall {
		sgemmSmall(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep)
		return
	}
	sgemmBlocked(p, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep)
}

// SgemmBatched runs batch independent Sgemm calls; matrix i of A starts at
// a[i*strideA], and likewise for B and C. A stride of 0 shares one matrix
// across the batch (not allowed for C when batch > 1). Small matrices are
// spread over p one matrix per tile; large ones each use all of p.
func SgemmBatched(p *Pool, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int,
	b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int, ep Epilogue) {
	if batch <= 0 || m <= 0 || n <= 0 {
		return
	}
	if batch > 1 && strideC == 0 {
		panic("kern: SgemmBatched with strideC 0 and more than one matrix")
	}
	one := func(i int, q *Pool) {
		Sgemm(q, transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc, ep)
	}
	if p != nil && p.Workers() > 1 && batch > 1 && m*n*max(k, 1) < gemmBatchPar {
		p.Run(batch, func(i int) { one(i, nil) })
		return
	}
	for i := range batch {
		one(i, p)
	}
}

// ActScalar applies act to one value, as the epilogue does.
func ActScalar(act Act, v float32) float32 {
	switch act {
	case ActReLU:
		return max(v, 0)
	case ActGELU:
		return unScalar(OpGELU, v, 0)
	case ActSigmoid:
		return float32(1 / (1 + math.Exp(-float64(v))))
	case ActTanh:
		return float32(math.Tanh(float64(v)))
	}
	return v
}

// actOp returns the unary op that applies act (act is not ActNone).
func actOp(act Act) UnOp {
	switch act {
	case ActReLU:
		return OpReLU
	case ActGELU:
		return OpGELU
	case ActSigmoid:
		return OpSigmoid
	case ActTanh:
		return OpTanh
	}
	panic("kern: unknown activation")
}

// Dgemm is Sgemm for float64, without an epilogue: the reference the
// float32 kernels are tested against, and the kernel of float64 tensors.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int,
	b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := range m {
		for j := range n {
			var s float64
			for l := range k {
				var av, bv float64
				if transA {
					av = a[l*lda+i]
				} else {
					av = a[i*lda+l]
				}
				if transB {
					bv = b[j*ldb+l]
				} else {
					bv = b[l*ldb+j]
				}
				s += av * bv
			}
			v := alpha * s
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}
