//go:build !openblas

package main

// haveOpenBLAS reports whether OpenBLAS is linked in: it is only with the
// openblas build tag (go run -tags openblas ./internal/bench gemm), which
// needs cgo and libopenblas-dev.
const haveOpenBLAS = false

// openblasSgemm is not built in without the openblas tag.
func openblasSgemm(threads, n int, a, b, c []float32) {
	panic("bench: OpenBLAS is not built in (use -tags openblas)")
}
