// index.cuh: linear index -> element offsets (row-major, last dim fastest).
#pragma once
#include "abi.cuh"

// Offsets of the first NOPS operands of L for linear index i.
template <int NOPS>
KHD void lay_off(const Layout& L, i64 i, i64* off) {
#pragma unroll
  for (int k = 0; k < NOPS; k++) off[k] = 0;
  i64 rank = L.rank;
  if (rank == 1) {
#pragma unroll
    for (int k = 0; k < NOPS; k++) off[k] = i * L.st[k][0];
    return;
  }
#pragma unroll
  for (int d = KMAXR - 1; d >= 0; d--) {
    if (d < rank) {
      i64 s = L.shape[d];
      i64 q = i / s, x = i - q * s;
      i = q;
#pragma unroll
      for (int k = 0; k < NOPS; k++) off[k] += x * L.st[k][d];
    }
  }
}

// Offsets of index i over (rank, shape) with one or two stride vectors.
KHD i64 dims_off1(i64 i, i64 rank, const i64* shape, const i64* st) {
  if (rank == 1) return i * st[0];
  i64 o = 0;
#pragma unroll
  for (int d = KMAXR - 1; d >= 0; d--) {
    if (d < rank) {
      i64 s = shape[d];
      i64 q = i / s, x = i - q * s;
      i = q;
      o += x * st[d];
    }
  }
  return o;
}

KHD void dims_off2(i64 i, i64 rank, const i64* shape, const i64* st0, const i64* st1, i64* o0, i64* o1) {
  i64 a = 0, b = 0;
#pragma unroll
  for (int d = KMAXR - 1; d >= 0; d--) {
    if (d < rank) {
      i64 s = shape[d];
      i64 q = i / s, x = i - q * s;
      i = q;
      a += x * st0[d];
      b += x * st1[d];
    }
  }
  *o0 = a;
  *o1 = b;
}
