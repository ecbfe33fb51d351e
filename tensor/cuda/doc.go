// Package cuda is Kiln's GPU backend: a [tensor.Device] for NVIDIA GPUs
// that needs no cgo and nothing at build time. The NVIDIA driver
// (libcuda.so.1) and cuBLAS are loaded when a device is opened, through
// purego; a program that imports this package builds with
// CGO_ENABLED=0, runs on machines without a GPU, and finds the GPU at run
// time. [OpenOrCPU] returns the CPU, with the reason, where there is none.
//
// # What runs where
//
// Matrix products (with batches, transposed and strided operands) are
// cuBLAS's SGEMM and DGEMM; float32 products are exact FP32 unless
// [Options].TF32 lets them use the tensor cores' TF32 mode. Everything
// else is Kiln's own kernels, written in CUDA C in kernels/*.cu and
// compiled to PTX for compute capability 8.0 (Ampere) by
// kernels/build.sh; the PTX is committed and embedded, and the driver
// compiles it for the GPU at hand when the device is opened (later GPUs
// included). The kernels cover elementwise operations with broadcasting
// and any strides, reductions, softmax and log-softmax, gather and
// scatter-add (deterministic: a destination's rows are added in order),
// the bias and activation epilogue of matrix products, and fused Adam and
// SGD updates ([tensor.OptimizerDevice]). Random fills use the CPU's
// generator and upload, so a seed gives the same numbers on every device.
// The device passes the same conformance suite as the CPU.
//
// # Memory and streams
//
// All work of a Device is queued, in order, on one stream and runs
// asynchronously: operations return once queued, and CopyToHost (so
// Tensor.To(tensor.CPU()), At, Float32s) and Synchronize wait. Copies
// from and to Go memory go through two pinned staging buffers; [Pinned]
// memory with [Device.Upload] and [Device.Download] lets a program copy
// without waiting at all.
//
// Device memory comes from a caching allocator: blocks of dead tensors
// are reused, not freed. Tensors have no Free method: a buffer goes back
// to the cache when the garbage collector finds it unreachable, and the
// allocator runs the collector itself when the memory handed out since
// the last collection passes a budget (a sixteenth of the device's
// memory) or when the device is full. [Device.MemoryStats] shows the
// figures; [Device.EmptyCache] returns cached memory to the driver.
//
// # Testing on a GPU
//
// The tests and benchmarks of this package skip without a GPU, saying
// why; KILN_REQUIRE_GPU=1 makes the skip a failure. On a GPU machine
// without Go, build the test binary elsewhere and carry it:
//
//	CGO_ENABLED=0 go test -c -o cuda.test ./tensor/cuda
//	KILN_REQUIRE_GPU=1 ./cuda.test -test.v
//	./cuda.test -test.run '^$' -test.bench . -test.benchtime 20x
//
// KILN_LIBCUDA and KILN_LIBCUBLAS name the libraries' paths when they are
// not where the loader, the CUDA toolkit or Python's nvidia wheels keep
// them.
package cuda
