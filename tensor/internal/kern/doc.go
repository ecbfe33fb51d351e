// Package kern holds the CPU kernels of package tensor: GEMM, elementwise,
// unary and reduction loops over float32 slices, each in up to three tiers
// (pure Go, AVX2+FMA assembly, AVX-512 assembly), and the persistent worker
// pool they split their work over.
//
// Work is cut into tiles whose bounds depend only on the problem's shape,
// never on the number of workers, and each tile is computed by one worker
// in a fixed order: results are bit-identical whatever GOMAXPROCS is. The
// tiers are not bit-identical to each other (vector code sums in another
// order and uses fused multiply-add); each is tested against a float64
// reference within a stated tolerance.
package kern
