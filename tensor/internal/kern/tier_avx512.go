package kern

// haveAVX512Kernels reports whether the AVX-512 tier has kernels of its own.
// It has none yet: they cannot be verified on the machines Kiln is built
// and tested on (AVX2 only), so AVX-512 CPUs run the AVX2 tier.
const haveAVX512Kernels = false
