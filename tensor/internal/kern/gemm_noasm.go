//go:build !amd64 || purego

package kern

// sgemmKernAVX2 does not exist in this build: TierAVX2 is never supported,
// so it is never called.
func sgemmKernAVX2(kc int, a, b, c *float32, ldc int, accum bool) {
	panic("kern: AVX2 GEMM kernel called in a build without assembly")
}
