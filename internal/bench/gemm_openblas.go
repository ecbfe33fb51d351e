//go:build openblas

package main

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import "unsafe"

// haveOpenBLAS reports whether OpenBLAS is linked in (the openblas build
// tag).
const haveOpenBLAS = true

// openblasSgemm computes C = A·B for row-major n×n float32 matrices with
// OpenBLAS's cblas_sgemm on threads threads.
func openblasSgemm(threads, n int, a, b, c []float32) {
	C.openblas_set_num_threads(C.int(threads))
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(n), C.blasint(n), C.blasint(n),
		1, (*C.float)(unsafe.Pointer(&a[0])), C.blasint(n), (*C.float)(unsafe.Pointer(&b[0])), C.blasint(n),
		0, (*C.float)(unsafe.Pointer(&c[0])), C.blasint(n))
}
