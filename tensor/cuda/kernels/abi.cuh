// abi.cuh: kernel argument structs. Every field is 8 bytes so the Go mirror
// (tensor/cuda/abi.go) has the same layout with no padding. Sizes and
// strides are in elements; pointers already include the view offset.
#pragma once
#include "compat.cuh"

#define KMAXR 8

struct Layout {            // 264 bytes
  i64 rank;                // 1..KMAXR
  i64 shape[KMAXR];        // row-major logical shape
  i64 st[3][KMAXR];        // strides of operand 0 (dst), 1 (a / src), 2 (b)
};

struct BinaryArgs { void* d; const void* a; const void* b; i64 n; i64 op; i64 pad; Layout L; };            // 312
struct UnaryArgs { void* d; const void* a; i64 n; i64 op; double param; i64 pad; Layout L; };              // 312
struct CopyArgs { void* d; const void* s; i64 n; i64 pad; Layout L; };                                      // 296
struct FillArgs { void* d; i64 n; double v; i64 pad; Layout L; };                                           // 296
struct ReduceArgs {                                                                                         // 392
  void* d; const void* s; i64 nout; i64 nred; i64 op; double param; i64 dst_f64;
  i64 krank; i64 kshape[KMAXR]; i64 kst_s[KMAXR]; i64 kst_d[KMAXR];  // kept dims
  i64 rrank; i64 rshape[KMAXR]; i64 rst[KMAXR];                        // reduced dims
};
struct SoftmaxArgs {                                                                                        // 264
  void* d; const void* s; i64 nrows; i64 len; i64 s_axis; i64 d_axis; i64 log; i64 pad;
  i64 rrank; i64 rshape[KMAXR]; i64 rst_s[KMAXR]; i64 rst_d[KMAXR];
};
struct GatherArgs { void* d; const void* t; const int* idx; i64 nidx; i64 inner; i64 d0; i64 t0; i64 pad; Layout L; };  // 328
struct ScatterArgs {                                                                                        // 344
  void* d; const void* s; const int* dest; const int* start; const int* rows;
  i64 nuniq; i64 inner; i64 d0; i64 s0; i64 pad; Layout L;
};
struct BiasActArgs { void* c; const void* bias; i64 batch; i64 m; i64 n; i64 cb; i64 cr; i64 cc; i64 bst; i64 act; i64 has_bias; i64 pad; };  // 96
struct AdamArgs {                                                                                           // 128
  float* p; const float* g; float* m; float* v; float* vmax; i64 n;
  double lr, beta1, beta2, eps, wd, bc2sqrt, step_size; i64 decoupled; i64 amsgrad; i64 pad;
};
struct SGDArgs { float* p; const float* g; float* buf; i64 n; double lr, momentum, dampening, wd; i64 nesterov; i64 first; };  // 80

// Op codes (Go's tensor constants).
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_RELUGRAD, B_SIGMOIDGRAD, B_TANHGRAD, B_GELUGRAD };
enum { U_NEG, U_EXP, U_LOG, U_TANH, U_SIGMOID, U_RELU, U_GELU, U_SQRT, U_ABS, U_POWSCALAR, U_SQUARE };
enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_ARGMAX, R_LSE, R_VAR };
enum { A_NONE, A_RELU, A_GELU, A_SIGMOID, A_TANH };
