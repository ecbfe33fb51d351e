//go:build amd64 && !purego

package kern

// sgemmKernAVX2 is the AVX2+FMA 6×16 micro-kernel: it multiplies a packed
// 6×kc strip of A (column by column, 6 values each) by a packed kc×16
// strip of B (row by row, 16 values each), summing over k in order with
// fused multiply-adds, and stores the 6×16 product to c (row stride ldc
// elements), added to what c holds when accum is true. kc must be at least
// 1.
//
//go:noescape
func sgemmKernAVX2(kc int, a, b, c *float32, ldc int, accum bool)
