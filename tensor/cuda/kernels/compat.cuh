// compat.cuh: qualifiers, bit casts and warp shuffles that work under nvcc,
// clang (CUDA mode without the CUDA headers) and a plain host C++ compiler
// (the host build is only used to test the math helpers).
#pragma once

typedef long long i64;
typedef unsigned long long u64;

// K_CUDA: compiling CUDA (nvcc defines __CUDACC__, clang defines __CUDA__).
#if defined(__CUDACC__) || defined(__CUDA__)
#define K_CUDA 1
#endif

#if defined(K_CUDA)
#if !defined(__NVCC__)
// clang without the CUDA headers: spell out the qualifiers.
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __forceinline__ __attribute__((always_inline))
#include <__clang_cuda_builtin_vars.h>
#define KHD __host__ __device__ inline __attribute__((always_inline))
#define KHDN __host__ __device__ inline __attribute__((noinline))
#define KD __device__ inline __attribute__((always_inline))
#else
#define KHD __host__ __device__ __forceinline__
#define KHDN __host__ __device__ __noinline__
#define KD __device__ __forceinline__
#endif
#else
// plain host C++ (tests)
#define KHD static inline
#define KHDN static inline
#define KD static inline
#endif

// Rounding and fused helpers.
#if defined(__NVCC__)
#define K_RINT(x) rint(x)
#define K_FLOOR(x) floor(x)
#define K_SQRT(x) sqrt(x)
#define K_SQRTF(x) sqrtf(x)
#define K_FMA(a, b, c) fma(a, b, c)
#else
#define K_RINT(x) __builtin_rint(x)
#define K_FLOOR(x) __builtin_floor(x)
#define K_SQRT(x) __builtin_sqrt(x)
#define K_SQRTF(x) __builtin_sqrtf(x)
#define K_FMA(a, b, c) __builtin_fma(a, b, c)
#endif

KHD u64 d2u(double x) {
#if defined(__NVCC__) && defined(__CUDA_ARCH__)
  return (u64)__double_as_longlong(x);
#else
  u64 r;
  __builtin_memcpy(&r, &x, 8);
  return r;
#endif
}
KHD double u2d(u64 x) {
#if defined(__NVCC__) && defined(__CUDA_ARCH__)
  return __longlong_as_double((long long)x);
#else
  double r;
  __builtin_memcpy(&r, &x, 8);
  return r;
#endif
}
KHD unsigned f2u(float x) {
#if defined(__NVCC__) && defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  unsigned r;
  __builtin_memcpy(&r, &x, 4);
  return r;
#endif
}
KHD float u2f(unsigned x) {
#if defined(__NVCC__) && defined(__CUDA_ARCH__)
  return __uint_as_float(x);
#else
  float r;
  __builtin_memcpy(&r, &x, 4);
  return r;
#endif
}

#if defined(K_CUDA)
// Butterfly (xor) warp shuffles over the full warp.
#if defined(__NVCC__)
KD float shfl_xor(float v, int k) { return __shfl_xor_sync(0xffffffffu, v, k); }
KD double shfl_xor(double v, int k) { return __shfl_xor_sync(0xffffffffu, v, k); }
KD i64 shfl_xor(i64 v, int k) { return __shfl_xor_sync(0xffffffffu, v, k); }
#else
KD float shfl_xor(float v, int k) { return __nvvm_shfl_sync_bfly_f32(0xffffffffu, v, k, 0x1f); }
KD i64 shfl_xor(i64 v, int k) {
  int lo = __nvvm_shfl_sync_bfly_i32(0xffffffffu, (int)(unsigned)(u64)v, k, 0x1f);
  int hi = __nvvm_shfl_sync_bfly_i32(0xffffffffu, (int)(unsigned)((u64)v >> 32), k, 0x1f);
  return (i64)(((u64)(unsigned)hi << 32) | (u64)(unsigned)lo);
}
KD double shfl_xor(double v, int k) { return u2d((u64)shfl_xor((i64)d2u(v), k)); }
#endif
#endif
