// kernels.cu: the CUDA kernels of Kiln's GPU tensor backend. Every kernel
// takes one argument struct (abi.cuh) and uses grid-stride loops, so any
// 1-D grid is correct. No atomics: all results are deterministic.
#include "abi.cuh"
#include "index.cuh"
#include "kmath.cuh"
#include "optim.cuh"

#define KGLOBAL extern "C" __global__

KD i64 gtid() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }
KD i64 gstride() { return (i64)gridDim.x * blockDim.x; }
KD bool aligned16(const void* p) { return ((u64)p & 15) == 0; }

// 16-byte vector of T (float4 / double2 worth).
template <typename T>
struct alignas(16) Vec {
  enum { N = 16 / sizeof(T) };
  T v[N];
};

// ---------------------------------------------------------------- binary

template <typename T>
KD T binop(int op, T x, T y);

template <>
KD float binop<float>(int op, float x, float y) {
  switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_MAX: return (x != x || y != y) ? u2f(0x7fc00000u) : kmaxf(x, y);
    case B_MIN: return (x != x || y != y) ? u2f(0x7fc00000u) : kminf(x, y);
    case B_POW: return (float)kpow((double)x, (double)y);
    case B_RELUGRAD: return y > 0 ? x : 0.0f;
    case B_SIGMOIDGRAD: return x * y * (1.0f - y);
    case B_TANHGRAD: return x * (1.0f - y * y);
    case B_GELUGRAD: return (float)((double)x * kgelugrad((double)y));
  }
  return u2f(0x7fc00000u);
}

template <>
KD double binop<double>(int op, double x, double y) {
  switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_MAX: return (x != x || y != y) ? K_NAN : kmax(x, y);
    case B_MIN: return (x != x || y != y) ? K_NAN : kmin(x, y);
    case B_POW: return kpow(x, y);
    case B_RELUGRAD: return y > 0 ? x : 0.0;
    case B_SIGMOIDGRAD: return x * y * (1.0 - y);
    case B_TANHGRAD: return x * (1.0 - y * y);
    case B_GELUGRAD: return x * kgelugrad(y);
  }
  return K_NAN;
}

// d[i] = op(a[i*sa], b[i*sb]) with sa, sb in {0, 1}; d contiguous.
// OP >= 0 fixes the op at compile time; -1 reads it at run time (the
// costly ops, to keep the PTX small).
template <typename T, int OP0>
KD void binary_contig_run(const BinaryArgs& A) {
  const int OP = OP0 >= 0 ? OP0 : (int)A.op;
  T* d = (T*)A.d;
  const T* a = (const T*)A.a;
  const T* b = (const T*)A.b;
  const i64 n = A.n, sa = A.L.st[1][0], sb = A.L.st[2][0];
  const i64 tid = gtid(), nth = gstride();
  i64 start = 0;
  if (aligned16(d) && (sa == 0 || aligned16(a)) && (sb == 0 || aligned16(b))) {
    typedef Vec<T> V;
    const i64 nv = n / V::N;
    const T a0 = (sa == 0 && n > 0) ? a[0] : T(0);
    const T b0 = (sb == 0 && n > 0) ? b[0] : T(0);
    if (sa && sb) {
      for (i64 i = tid; i < nv; i += nth) {
        V x = ((const V*)a)[i], y = ((const V*)b)[i], r;
#pragma unroll
        for (int k = 0; k < V::N; k++) r.v[k] = binop<T>(OP, x.v[k], y.v[k]);
        ((V*)d)[i] = r;
      }
    } else if (sa) {
      for (i64 i = tid; i < nv; i += nth) {
        V x = ((const V*)a)[i], r;
#pragma unroll
        for (int k = 0; k < V::N; k++) r.v[k] = binop<T>(OP, x.v[k], b0);
        ((V*)d)[i] = r;
      }
    } else if (sb) {
      for (i64 i = tid; i < nv; i += nth) {
        V y = ((const V*)b)[i], r;
#pragma unroll
        for (int k = 0; k < V::N; k++) r.v[k] = binop<T>(OP, a0, y.v[k]);
        ((V*)d)[i] = r;
      }
    } else {
      const T c = binop<T>(OP, a0, b0);
      V r;
#pragma unroll
      for (int k = 0; k < V::N; k++) r.v[k] = c;
      for (i64 i = tid; i < nv; i += nth) ((V*)d)[i] = r;
    }
    start = nv * V::N;
  }
  for (i64 i = start + tid; i < n; i += nth) d[i] = binop<T>(OP, a[i * sa], b[i * sb]);
}

template <typename T>
KD void binary_contig(const BinaryArgs& A) {
  switch (A.op) {
    case B_ADD: binary_contig_run<T, B_ADD>(A); break;
    case B_SUB: binary_contig_run<T, B_SUB>(A); break;
    case B_MUL: binary_contig_run<T, B_MUL>(A); break;
    case B_DIV: binary_contig_run<T, B_DIV>(A); break;
    case B_MAX: binary_contig_run<T, B_MAX>(A); break;
    case B_MIN: binary_contig_run<T, B_MIN>(A); break;
    case B_RELUGRAD: binary_contig_run<T, B_RELUGRAD>(A); break;
    case B_SIGMOIDGRAD: binary_contig_run<T, B_SIGMOIDGRAD>(A); break;
    case B_TANHGRAD: binary_contig_run<T, B_TANHGRAD>(A); break;
    default: binary_contig_run<T, -1>(A); break;
  }
}

template <typename T>
KD void binary_strided(const BinaryArgs& A) {
  T* d = (T*)A.d;
  const T* a = (const T*)A.a;
  const T* b = (const T*)A.b;
  const int op = (int)A.op;
  for (i64 i = gtid(); i < A.n; i += gstride()) {
    i64 o[3];
    lay_off<3>(A.L, i, o);
    d[o[0]] = binop<T>(op, a[o[1]], b[o[2]]);
  }
}

KGLOBAL void binary_contig_f32(const BinaryArgs a) { binary_contig<float>(a); }
KGLOBAL void binary_contig_f64(const BinaryArgs a) { binary_contig<double>(a); }
KGLOBAL void binary_strided_f32(const BinaryArgs a) { binary_strided<float>(a); }
KGLOBAL void binary_strided_f64(const BinaryArgs a) { binary_strided<double>(a); }

// ----------------------------------------------------------------- unary

// op(x); p is the PowScalar exponent (already rounded to T's precision).
template <typename T>
KD T unop(int op, T x, double p) {
  switch (op) {
    case U_NEG: return -x;
    case U_EXP: return (T)kexp((double)x);
    case U_LOG: return (T)klog((double)x);
    case U_TANH: return (T)ktanh((double)x);
    case U_SIGMOID: return (T)ksigmoid((double)x);
    case U_RELU: return sizeof(T) == 4 ? (T)kmaxf((float)x, 0.0f) : (T)kmax((double)x, 0.0);
    case U_GELU: return sizeof(T) == 4 ? (T)kgelu_f32path((double)x) : (T)kgelu((double)x);
    case U_SQRT: return sizeof(T) == 4 ? (T)K_SQRTF((float)x) : (T)K_SQRT((double)x);
    case U_ABS: return sizeof(T) == 4 ? (T)u2f(f2u((float)x) & 0x7fffffffu) : (T)kabs((double)x);
    case U_POWSCALAR: return (T)kpow((double)x, p);
    case U_SQUARE: return x * x;
  }
  return (T)K_NAN;
}

// The CPU rounds the float32 PowScalar exponent to float32 first.
template <typename T>
KD double unparam(double p) { return sizeof(T) == 4 ? (double)(float)p : p; }

template <typename T, int OP0>
KD void unary_contig_run(const UnaryArgs& A) {
  const int OP = OP0 >= 0 ? OP0 : (int)A.op;  // -1: op read at run time
  T* d = (T*)A.d;
  const T* a = (const T*)A.a;
  const i64 n = A.n, tid = gtid(), nth = gstride();
  const double p = unparam<T>(A.param);
  i64 start = 0;
  if (aligned16(d) && aligned16(a)) {
    typedef Vec<T> V;
    const i64 nv = n / V::N;
    for (i64 i = tid; i < nv; i += nth) {
      V x = ((const V*)a)[i], r;
#pragma unroll
      for (int k = 0; k < V::N; k++) r.v[k] = unop<T>(OP, x.v[k], p);
      ((V*)d)[i] = r;
    }
    start = nv * V::N;
  }
  for (i64 i = start + tid; i < n; i += nth) d[i] = unop<T>(OP, a[i], p);
}

template <typename T>
KD void unary_contig(const UnaryArgs& A) {
  switch (A.op) {
    case U_NEG: unary_contig_run<T, U_NEG>(A); break;
    case U_EXP: unary_contig_run<T, U_EXP>(A); break;
    case U_RELU: unary_contig_run<T, U_RELU>(A); break;
    case U_SQRT: unary_contig_run<T, U_SQRT>(A); break;
    case U_ABS: unary_contig_run<T, U_ABS>(A); break;
    default: unary_contig_run<T, -1>(A); break;
    case U_SQUARE: unary_contig_run<T, U_SQUARE>(A); break;
  }
}

template <typename T>
KD void unary_strided(const UnaryArgs& A) {
  T* d = (T*)A.d;
  const T* a = (const T*)A.a;
  const int op = (int)A.op;
  const double p = unparam<T>(A.param);
  for (i64 i = gtid(); i < A.n; i += gstride()) {
    i64 o[2];
    lay_off<2>(A.L, i, o);
    d[o[0]] = unop<T>(op, a[o[1]], p);
  }
}

KGLOBAL void unary_contig_f32(const UnaryArgs a) { unary_contig<float>(a); }
KGLOBAL void unary_contig_f64(const UnaryArgs a) { unary_contig<double>(a); }
KGLOBAL void unary_strided_f32(const UnaryArgs a) { unary_strided<float>(a); }
KGLOBAL void unary_strided_f64(const UnaryArgs a) { unary_strided<double>(a); }

// ------------------------------------------------------------ copy, fill

template <typename D, typename S>
KD void copy_run(const CopyArgs& A) {
  D* d = (D*)A.d;
  const S* s = (const S*)A.s;
  for (i64 i = gtid(); i < A.n; i += gstride()) {
    i64 o[2];
    lay_off<2>(A.L, i, o);
    d[o[0]] = (D)s[o[1]];
  }
}

KGLOBAL void copy_f32f32(const CopyArgs a) { copy_run<float, float>(a); }
KGLOBAL void copy_f64f64(const CopyArgs a) { copy_run<double, double>(a); }
KGLOBAL void copy_f32f64(const CopyArgs a) { copy_run<float, double>(a); }
KGLOBAL void copy_f64f32(const CopyArgs a) { copy_run<double, float>(a); }

template <typename T>
KD void fill_run(const FillArgs& A) {
  T* d = (T*)A.d;
  const T v = (T)A.v;
  for (i64 i = gtid(); i < A.n; i += gstride()) {
    i64 o[1];
    lay_off<1>(A.L, i, o);
    d[o[0]] = v;
  }
}

KGLOBAL void fill_f32(const FillArgs a) { fill_run<float>(a); }
KGLOBAL void fill_f64(const FillArgs a) { fill_run<double>(a); }

// ------------------------------------------------------------ reductions

struct CSum { template <typename S> KD S operator()(S a, S b) const { return a + b; } };
struct CMax {
  KD float operator()(float a, float b) const { return kmaxf(a, b); }
  KD double operator()(double a, double b) const { return kmax(a, b); }
};
struct CMin {
  KD float operator()(float a, float b) const { return kminf(a, b); }
  KD double operator()(double a, double b) const { return kmin(a, b); }
};

// Arg-max state: the value and index of the first largest element, or the
// first NaN (v NaN). i == -1 marks an empty state.
struct AM { double v; i64 i; };
KD AM am_comb(AM a, AM b) {
  if (a.i < 0) return b;
  if (b.i < 0) return a;
  bool an = a.v != a.v, bn = b.v != b.v;
  if (an || bn) {
    if (an && bn) return a.i < b.i ? a : b;
    return an ? a : b;
  }
  if (a.v > b.v) return a;
  if (b.v > a.v) return b;
  return a.i < b.i ? a : b;
}
struct CArg { KD AM operator()(AM a, AM b) const { return am_comb(a, b); } };
KD AM shfl_xor(AM s, int k) {
  AM r;
  r.v = shfl_xor(s.v, k);
  r.i = shfl_xor(s.i, k);
  return r;
}

// Deterministic block tree: warp butterflies, then warp 0 combines the
// warp partials. Every thread gets the result. blockDim.x is a multiple of
// 32, at most 1024. shm holds 32 entries.
template <typename S, typename C>
KD S block_reduce(S v, C comb, S ident, S* shm) {
#pragma unroll
  for (int k = 16; k >= 1; k >>= 1) v = comb(v, shfl_xor(v, k));
  const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();  // shm may still be read from a previous call
  if (lane == 0) shm[w] = v;
  __syncthreads();
  if (w == 0) {
    S t = lane < nw ? shm[lane] : ident;
#pragma unroll
    for (int k = 16; k >= 1; k >>= 1) t = comb(t, shfl_xor(t, k));
    if (lane == 0) shm[0] = t;
  }
  __syncthreads();
  return shm[0];
}

// Offsets of output o: source base and destination.
KD void red_out(const ReduceArgs& A, i64 o, i64* so, i64* dof) {
  if (A.krank == 0) {
    *so = 0;
    *dof = 0;
    return;
  }
  dims_off2(o, A.krank, A.kshape, A.kst_s, A.kst_d, so, dof);
}

KD void red_store(const ReduceArgs& A, i64 dof, double r) {
  if (A.dst_f64)
    ((double*)A.d)[dof] = r;
  else
    ((float*)A.d)[dof] = (float)r;
}

// Source element j of a reduction row.
template <typename T>
KD T red_at(const ReduceArgs& A, const T* s, i64 j) {
  return s[dims_off1(j, A.rrank, A.rshape, A.rst)];
}

template <typename T>
KD double sum_finish(T s, i64 n, bool mean) {
  return mean ? (double)(s / (T)n) : (double)s;
}

// One block per output.
template <typename T>
KD void reduce_block(const ReduceArgs& A) {
  __shared__ double shd[32];
  __shared__ float shf[32];
  __shared__ AM sha[32];
  const T* src = (const T*)A.s;
  const i64 n = A.nred;
  const int op = (int)A.op;
  for (i64 o = blockIdx.x; o < A.nout; o += gridDim.x) {
    i64 so, dof;
    red_out(A, o, &so, &dof);
    const T* s = src + so;
    T* shT = sizeof(T) == 4 ? (T*)shf : (T*)shd;
    double r;
    switch (op) {
      case R_SUM:
      case R_MEAN: {
        T acc = 0;
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) acc += red_at(A, s, j);
        acc = block_reduce<T>(acc, CSum(), T(0), shT);
        r = sum_finish<T>(acc, n, op == R_MEAN);
        break;
      }
      case R_MAX:
      case R_MIN:
      case R_LSE: {
        bool mn = op == R_MIN;
        T ident = (T)(mn ? K_INF : -K_INF);
        T acc = ident;
        if (mn) {
          for (i64 j = threadIdx.x; j < n; j += blockDim.x) acc = CMin()(acc, red_at(A, s, j));
          acc = block_reduce<T>(acc, CMin(), ident, shT);
        } else {
          for (i64 j = threadIdx.x; j < n; j += blockDim.x) acc = CMax()(acc, red_at(A, s, j));
          acc = block_reduce<T>(acc, CMax(), ident, shT);
        }
        if (op != R_LSE || acc != acc || kabs((double)acc) == K_INF) {
          r = (double)acc;
          break;
        }
        const T m = acc;
        T se = 0;
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) se += (T)kexp((double)(red_at(A, s, j) - m));
        se = block_reduce<T>(se, CSum(), T(0), shT);
        r = (double)(m + (T)klog((double)se));
        break;
      }
      case R_ARGMAX: {
        AM st = {0.0, -1};
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
          AM e = {(double)red_at(A, s, j), j};
          st = am_comb(st, e);
        }
        AM id = {0.0, -1};
        st = block_reduce<AM>(st, CArg(), id, sha);
        r = (double)st.i;
        break;
      }
      case R_VAR: {
        double acc = 0;
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) acc += (double)red_at(A, s, j);
        const double mean = block_reduce<double>(acc, CSum(), 0.0, shd) / (double)n;
        double ss = 0;
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
          double dv = (double)red_at(A, s, j) - mean;
          ss += dv * dv;
        }
        ss = block_reduce<double>(ss, CSum(), 0.0, shd);
        r = ss / ((double)n - A.param);
        break;
      }
      default:
        r = K_NAN;
    }
    if (threadIdx.x == 0) red_store(A, dof, r);
  }
}

// Walks the reduced elements of one row in order (odometer over rshape).
struct RowIter {
  i64 idx[KMAXR];
  i64 off;
};
KD void row_begin(RowIter& it) {
#pragma unroll
  for (int d = 0; d < KMAXR; d++) it.idx[d] = 0;
  it.off = 0;
}
KD void row_next(const ReduceArgs& A, RowIter& it) {
#pragma unroll
  for (int d = KMAXR - 1; d >= 0; d--) {
    if (d < A.rrank) {
      it.off += A.rst[d];
      if (++it.idx[d] < A.rshape[d] || d == 0) return;
      it.off -= A.rst[d] * A.rshape[d];
      it.idx[d] = 0;
    }
  }
}

// One thread per output, reducing in order.
template <typename T>
KD void reduce_thread(const ReduceArgs& A) {
  const T* src = (const T*)A.s;
  const i64 n = A.nred;
  const int op = (int)A.op;
  for (i64 o = gtid(); o < A.nout; o += gstride()) {
    i64 so, dof;
    red_out(A, o, &so, &dof);
    const T* s = src + so;
    RowIter it;
    double r;
    switch (op) {
      case R_SUM:
      case R_MEAN: {
        T acc = 0;
        row_begin(it);
        for (i64 j = 0; j < n; j++, row_next(A, it)) acc += s[it.off];
        r = sum_finish<T>(acc, n, op == R_MEAN);
        break;
      }
      case R_MAX:
      case R_MIN:
      case R_LSE: {
        bool mn = op == R_MIN;
        T acc = (T)(mn ? K_INF : -K_INF);
        row_begin(it);
        for (i64 j = 0; j < n; j++, row_next(A, it)) acc = mn ? CMin()(acc, s[it.off]) : CMax()(acc, s[it.off]);
        if (op != R_LSE || acc != acc || kabs((double)acc) == K_INF) {
          r = (double)acc;
          break;
        }
        const T m = acc;
        T se = 0;
        row_begin(it);
        for (i64 j = 0; j < n; j++, row_next(A, it)) se += (T)kexp((double)(s[it.off] - m));
        r = (double)(m + (T)klog((double)se));
        break;
      }
      case R_ARGMAX: {
        AM st = {0.0, -1};
        row_begin(it);
        for (i64 j = 0; j < n; j++, row_next(A, it)) {
          AM e = {(double)s[it.off], j};
          st = am_comb(st, e);
        }
        r = (double)st.i;
        break;
      }
      case R_VAR: {
        double acc = 0;
        row_begin(it);
        for (i64 j = 0; j < n; j++, row_next(A, it)) acc += (double)s[it.off];
        const double mean = acc / (double)n;
        double ss = 0;
        row_begin(it);
        for (i64 j = 0; j < n; j++, row_next(A, it)) {
          double dv = (double)s[it.off] - mean;
          ss += dv * dv;
        }
        r = ss / ((double)n - A.param);
        break;
      }
      default:
        r = K_NAN;
    }
    red_store(A, dof, r);
  }
}

KGLOBAL void reduce_block_f32(const ReduceArgs a) { reduce_block<float>(a); }
KGLOBAL void reduce_block_f64(const ReduceArgs a) { reduce_block<double>(a); }
KGLOBAL void reduce_thread_f32(const ReduceArgs a) { reduce_thread<float>(a); }
KGLOBAL void reduce_thread_f64(const ReduceArgs a) { reduce_thread<double>(a); }

// --------------------------------------------------------------- softmax

// One block per row: max, sum of exp(x - max), then the write pass.
template <typename T>
KD void softmax_run(const SoftmaxArgs& A) {
  __shared__ T sh[32];
  const T* src = (const T*)A.s;
  T* dst = (T*)A.d;
  const i64 len = A.len, sa = A.s_axis, da = A.d_axis;
  if (len <= 0) return;
  for (i64 row = blockIdx.x; row < A.nrows; row += gridDim.x) {
    i64 so = 0, dof = 0;
    if (A.rrank > 0) dims_off2(row, A.rrank, A.rshape, A.rst_s, A.rst_d, &so, &dof);
    const T* s = src + so;
    T* d = dst + dof;
    T m = (T)-K_INF;
    for (i64 j = threadIdx.x; j < len; j += blockDim.x) m = CMax()(m, s[j * sa]);
    m = block_reduce<T>(m, CMax(), (T)-K_INF, sh);
    T se = 0;
    for (i64 j = threadIdx.x; j < len; j += blockDim.x) se += (T)kexp((double)(s[j * sa] - m));
    se = block_reduce<T>(se, CSum(), T(0), sh);
    if (A.log) {
      const T ls = (T)klog((double)se);
      for (i64 j = threadIdx.x; j < len; j += blockDim.x) d[j * da] = (s[j * sa] - m) - ls;
    } else {
      for (i64 j = threadIdx.x; j < len; j += blockDim.x) d[j * da] = (T)kexp((double)(s[j * sa] - m)) / se;
    }
  }
}

KGLOBAL void softmax_f32(const SoftmaxArgs a) { softmax_run<float>(a); }
KGLOBAL void softmax_f64(const SoftmaxArgs a) { softmax_run<double>(a); }

// ------------------------------------------------------- gather, scatter

template <typename T>
KD void gather_run(const GatherArgs& A) {
  T* d = (T*)A.d;
  const T* t = (const T*)A.t;
  const i64 inner = A.inner, total = A.nidx * inner;
  for (i64 i = gtid(); i < total; i += gstride()) {
    const i64 r = i / inner, e = i - r * inner;
    i64 o[2];
    lay_off<2>(A.L, e, o);
    d[r * A.d0 + o[0]] = t[(i64)A.idx[r] * A.t0 + o[1]];
  }
}

KGLOBAL void gather_f32(const GatherArgs a) { gather_run<float>(a); }
KGLOBAL void gather_f64(const GatherArgs a) { gather_run<double>(a); }

// Scatter-add from a host-built CSR: group u adds the source rows
// rows[start[u] .. start[u+1]) in order into destination row dest[u].
template <typename T>
KD void scatter_run(const ScatterArgs& A) {
  T* d = (T*)A.d;
  const T* s = (const T*)A.s;
  const i64 inner = A.inner, total = A.nuniq * inner;
  for (i64 i = gtid(); i < total; i += gstride()) {
    const i64 u = i / inner, e = i - u * inner;
    i64 o[2];
    lay_off<2>(A.L, e, o);
    T* p = d + (i64)A.dest[u] * A.d0 + o[0];
    T acc = *p;
    for (i64 k = A.start[u], k1 = A.start[u + 1]; k < k1; k++) acc += s[(i64)A.rows[k] * A.s0 + o[1]];
    *p = acc;
  }
}

KGLOBAL void scatter_add_f32(const ScatterArgs a) { scatter_run<float>(a); }
KGLOBAL void scatter_add_f64(const ScatterArgs a) { scatter_run<double>(a); }

// ---------------------------------------------------------- bias + act

template <typename T>
KD T act(int a, T x) {
  switch (a) {
    case A_RELU: return sizeof(T) == 4 ? (T)kmaxf((float)x, 0.0f) : (T)kmax((double)x, 0.0);
    case A_GELU: return sizeof(T) == 4 ? (T)kgelu_f32path((double)x) : (T)kgelu((double)x);
    case A_SIGMOID: return (T)ksigmoid((double)x);
    case A_TANH: return (T)ktanh((double)x);
  }
  return x;
}

template <typename T>
KD void bias_act_run(const BiasActArgs& A) {
  T* c = (T*)A.c;
  const T* bias = (const T*)A.bias;
  const i64 n = A.n, mn = A.m * n, total = A.batch * mn;
  const int a = (int)A.act;
  for (i64 i = gtid(); i < total; i += gstride()) {
    const i64 b = i / mn, rem = i - b * mn;
    const i64 r = rem / n, j = rem - r * n;
    T* p = c + b * A.cb + r * A.cr + j * A.cc;
    T v = *p;
    if (A.has_bias) v = v + bias[j * A.bst];
    *p = act<T>(a, v);
  }
}

KGLOBAL void bias_act_f32(const BiasActArgs a) { bias_act_run<float>(a); }
KGLOBAL void bias_act_f64(const BiasActArgs a) { bias_act_run<double>(a); }

// ------------------------------------------------------------ optimizers

KGLOBAL void adam_f32(const AdamArgs A) {
  const AdamK k = adam_consts(A.lr, A.beta1, A.beta2, A.eps, A.wd, A.bc2sqrt, A.step_size, A.decoupled != 0,
                              A.amsgrad != 0);
  const i64 n = A.n, tid = gtid(), nth = gstride();
  const bool ams = A.amsgrad != 0;
  i64 start = 0;
  if (aligned16(A.p) && aligned16(A.g) && aligned16(A.m) && aligned16(A.v) && (!ams || aligned16(A.vmax))) {
    typedef Vec<float> V;
    const i64 nv = n / 4;
    for (i64 i = tid; i < nv; i += nth) {
      V p = ((V*)A.p)[i], g = ((const V*)A.g)[i], m = ((V*)A.m)[i], v = ((V*)A.v)[i], vm;
      if (ams) vm = ((V*)A.vmax)[i];
#pragma unroll
      for (int e = 0; e < 4; e++) adam_elem(k, p.v[e], g.v[e], m.v[e], v.v[e], vm.v[e]);
      ((V*)A.p)[i] = p;
      ((V*)A.m)[i] = m;
      ((V*)A.v)[i] = v;
      if (ams) ((V*)A.vmax)[i] = vm;
    }
    start = nv * 4;
  }
  for (i64 i = start + tid; i < n; i += nth) {
    float vm = ams ? A.vmax[i] : 0.0f;
    adam_elem(k, A.p[i], A.g[i], A.m[i], A.v[i], vm);
    if (ams) A.vmax[i] = vm;
  }
}

KGLOBAL void sgd_f32(const SGDArgs A) {
  const SGDK k = sgd_consts(A.lr, A.momentum, A.dampening, A.wd, A.nesterov != 0, A.first != 0);
  const bool mom = k.has_mom;
  for (i64 i = gtid(); i < A.n; i += gstride()) {
    float b = mom ? A.buf[i] : 0.0f;
    float p = A.p[i];
    sgd_elem(k, p, A.g[i], b);
    A.p[i] = p;
    if (mom) A.buf[i] = b;
  }
}
