// Package tensor is Kiln's n-dimensional array: float32 and float64
// tensors with NumPy-style views and broadcasting, the operations that
// training and inference need (matrix products with fused bias and
// activation, elementwise arithmetic and functions, reductions, softmax,
// gathers and scatters), a seeded random generator that gives the same
// numbers on every machine, and conversions from and to Arrow arrays and
// record batches.
//
// # Devices
//
// A [Tensor] lives on a [Device]. [CPU] is the default: its float32
// kernels are SIMD assembly (AVX2+FMA on amd64, chosen at run time; pure
// Go elsewhere and under the purego build tag) spread over GOMAXPROCS
// threads. Work is cut into tiles that depend only on the shapes, so
// results are bit-identical whatever the number of threads. Other devices
// (tensor/cuda) implement the [Device] interface outside this package;
// [Tensor.To] moves a tensor between devices explicitly, and operations on
// tensors of different devices fail with [ErrDevice].
//
// # Views
//
// Slice, Reshape, Transpose, Permute, T, BroadcastTo, Squeeze and
// Unsqueeze return views that share the tensor's storage; the operations
// read views in place (a transposed matrix multiplies without a copy).
// Operations allocate their result; the Into forms ([Binary], [Unary],
// [Gemm], [ReduceInto], [SoftmaxInto], [ScatterAdd], [Copy]) write into a given tensor
// for loops that must not allocate.
//
// # Errors
//
// Operations never panic on bad input: they return errors wrapping
// [ErrShape] (with both shapes in the message), [ErrDType], [ErrDevice],
// [ErrIndex] or [ErrNull].
//
// # Numerics
//
// float32 results differ from a float64 computation by rounding only:
// elementwise functions within a few units in the last place, sums and
// products within the usual bounds of float32 accumulation (the kernel
// tiers add in different orders). Softmax, log-softmax and log-sum-exp
// subtract the maximum first. float64 tensors use plain Go loops, for
// references and statistics.
package tensor
