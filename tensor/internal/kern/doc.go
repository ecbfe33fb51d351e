// Package kern holds the CPU kernels of package tensor: GEMM, elementwise,
// unary and reduction loops over float32 slices, each in up to three tiers
// (pure Go, AVX2+FMA assembly, AVX-512 assembly), and the persistent worker
// pool they split their work over.
//
// Work is cut into tiles whose bounds depend only on the problem's shape,
// never on the number of workers, and each tile is computed by one worker
// in a fixed order: results are bit-identical whatever GOMAXPROCS is.
// Across tiers, add, subtract, multiply, divide, max, min, the simple unary
// ops, Axpy and Sum give the same bits (Sum adds in one fixed order on every
// tier); GEMM (fused multiply-add, blocked sums) and the exp/log family do
// not, and each tier is tested against a float64 reference within a stated
// tolerance.
package kern
