//go:build amd64 && !purego

package kern

import "unsafe"

//go:generate go run elem_gen.go

// The AVX2 kernels of elem_amd64.s, written by elem_gen.go (the functions
// of one family differ only in their arithmetic). Each handles the first n
// elements, n a multiple of 8; the caller does the rest. The NT variants
// write dst with non-temporal stores, which must be 32-byte aligned: for
// results too big to stay in cache they save the read of each line of dst
// before its write.

//go:noescape
func binAddAVX2(dst, a, b *float32, n int)

//go:noescape
func binSubAVX2(dst, a, b *float32, n int)

//go:noescape
func binMulAVX2(dst, a, b *float32, n int)

//go:noescape
func binDivAVX2(dst, a, b *float32, n int)

//go:noescape
func binMaxAVX2(dst, a, b *float32, n int)

//go:noescape
func binMinAVX2(dst, a, b *float32, n int)

//go:noescape
func binAddNTAVX2(dst, a, b *float32, n int)

//go:noescape
func binSubNTAVX2(dst, a, b *float32, n int)

//go:noescape
func binMulNTAVX2(dst, a, b *float32, n int)

//go:noescape
func binDivNTAVX2(dst, a, b *float32, n int)

//go:noescape
func binMaxNTAVX2(dst, a, b *float32, n int)

//go:noescape
func binMinNTAVX2(dst, a, b *float32, n int)

//go:noescape
func binsAddAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsSubAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsMulAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsDivAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsMaxAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsMinAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binrSubAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binrDivAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsAddNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsSubNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsMulNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsDivNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsMaxNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binsMinNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binrSubNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func binrDivNTAVX2(dst, a *float32, s float32, n int)

//go:noescape
func unReLUAVX2(dst, a *float32, n int)

//go:noescape
func unNegAVX2(dst, a *float32, n int)

//go:noescape
func unAbsAVX2(dst, a *float32, n int)

//go:noescape
func unSqrtAVX2(dst, a *float32, n int)

//go:noescape
func unSquareAVX2(dst, a *float32, n int)

//go:noescape
func unReLUNTAVX2(dst, a *float32, n int)

//go:noescape
func unNegNTAVX2(dst, a *float32, n int)

//go:noescape
func unAbsNTAVX2(dst, a *float32, n int)

//go:noescape
func unSqrtNTAVX2(dst, a *float32, n int)

//go:noescape
func unSquareNTAVX2(dst, a *float32, n int)

//go:noescape
func axpyAVX2(alpha float32, x, y *float32, n int)

//go:noescape
func sumVecAVX2(a *float32, n int, out *[8]float32)

//go:noescape
func maxVecAVX2(a *float32, n int, out *[8]float32) (nan int)

//go:noescape
func minVecAVX2(a *float32, n int, out *[8]float32) (nan int)

// useAVX2 reports whether the AVX2 kernels run now.
func useAVX2() bool { return Current() >= TierAVX2 }

// Kernel tables indexed by op, then [plain, non-temporal].
var (
	binKern = [...][2]func(dst, a, b *float32, n int){
		OpAdd: {binAddAVX2, binAddNTAVX2}, OpSub: {binSubAVX2, binSubNTAVX2},
		OpMul: {binMulAVX2, binMulNTAVX2}, OpDiv: {binDivAVX2, binDivNTAVX2},
		OpMax: {binMaxAVX2, binMaxNTAVX2}, OpMin: {binMinAVX2, binMinNTAVX2},
	}
	binsKern = [...][2]func(dst, a *float32, s float32, n int){
		OpAdd: {binsAddAVX2, binsAddNTAVX2}, OpSub: {binsSubAVX2, binsSubNTAVX2},
		OpMul: {binsMulAVX2, binsMulNTAVX2}, OpDiv: {binsDivAVX2, binsDivNTAVX2},
		OpMax: {binsMaxAVX2, binsMaxNTAVX2}, OpMin: {binsMinAVX2, binsMinNTAVX2},
	}
	binrKern = [...][2]func(dst, a *float32, s float32, n int){
		OpSub: {binrSubAVX2, binrSubNTAVX2}, OpDiv: {binrDivAVX2, binrDivNTAVX2},
	}
	unKern = [...][2]func(dst, a *float32, n int){
		OpReLU: {unReLUAVX2, unReLUNTAVX2}, OpNeg: {unNegAVX2, unNegNTAVX2},
		OpAbs: {unAbsAVX2, unAbsNTAVX2}, OpSqrt: {unSqrtAVX2, unSqrtNTAVX2},
		OpSquare: {unSquareAVX2, unSquareNTAVX2},
	}
)

// vecSpan returns where the vector kernel's part of dst starts and ends:
// [0, len&^7), or, with non-temporal stores, from the first 32-byte aligned
// element (the Go code does the elements before, which give the same bits).
func vecSpan(dst []float32, nt bool) (lo, hi int, ntOK int) {
	if nt && len(dst) > 0 {
		p := uintptr(unsafe.Pointer(&dst[0]))
		if p%4 == 0 {
			lo = int((32-p%32)%32) / 4
			if lo <= len(dst) {
				return lo, lo + (len(dst)-lo)&^7, 1
			}
		}
	}
	return 0, len(dst) &^ 7, 0
}

// binaryAsm runs the vector kernel of Binary on a span of dst and returns
// it ([0, 0) when no kernel applies).
func binaryAsm(op BinOp, dst, a, b []float32, nt bool) (lo, hi int) {
	if int(op) >= len(binKern) || binKern[op][0] == nil || !useAVX2() {
		return 0, 0
	}
	lo, hi, k := vecSpan(dst, nt)
	if hi > lo {
		binKern[op][k](&dst[lo], &a[lo], &b[lo], hi-lo)
	}
	return lo, hi
}

// binaryScalarAsm is binaryAsm for BinaryScalar.
func binaryScalarAsm(op BinOp, dst, a []float32, s float32, left, nt bool) (lo, hi int) {
	tab := binsKern[:]
	if left && (op == OpSub || op == OpDiv) {
		tab = binrKern[:]
	}
	if int(op) >= len(tab) || tab[op][0] == nil || !useAVX2() {
		return 0, 0
	}
	lo, hi, k := vecSpan(dst, nt)
	if hi > lo {
		tab[op][k](&dst[lo], &a[lo], s, hi-lo)
	}
	return lo, hi
}

// unaryAsm is binaryAsm for Unary.
func unaryAsm(op UnOp, dst, a []float32, nt bool) (lo, hi int) {
	if !useAVX2() {
		return 0, 0
	}
	if int(op) >= len(unKern) || unKern[op][0] == nil {
		n := len(dst) &^ 7
		return 0, unaryMathAsm(op, dst[:n], a[:n])
	}
	lo, hi, k := vecSpan(dst, nt)
	if hi > lo {
		unKern[op][k](&dst[lo], &a[lo], hi-lo)
	}
	return lo, hi
}

// axpyAsm does the vector part of Axpy and returns how many leading
// elements it did.
func axpyAsm(alpha float32, x, y []float32) int {
	n := len(y) &^ 7
	if n == 0 || !useAVX2() {
		return 0
	}
	axpyAVX2(alpha, &x[0], &y[0], n)
	return n
}

// sumAsm adds the first n&^7 elements of a into 8 lanes, in the order Sum
// documents, and returns how many it added.
func sumAsm(a []float32, lanes *[8]float32) int {
	n := len(a) &^ 7
	if n == 0 || !useAVX2() {
		return 0
	}
	sumVecAVX2(&a[0], n, lanes)
	return n
}

// extremeAsm folds the first n&^7 elements of a into 8 lanes of maxima
// (or minima when least) and reports how many it read and whether any was
// NaN.
func extremeAsm(a []float32, least bool, lanes *[8]float32) (n int, nan bool) {
	n = len(a) &^ 7
	if n == 0 || !useAVX2() {
		return 0, false
	}
	var m int
	if least {
		m = minVecAVX2(&a[0], n, lanes)
	} else {
		m = maxVecAVX2(&a[0], n, lanes)
	}
	return n, m != 0
}
