// optim.cuh: float32 Adam and SGD element updates. Every float operation
// is rounded on its own (inline PTX .rn instructions on the device, which
// are never contracted into FMAs), so results match the CPU bit for bit.
#pragma once
#include "kmath.cuh"

#if defined(__CUDA_ARCH__)
KHD float fmul_rn(float a, float b) { float r; asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r; }
KHD float fadd_rn(float a, float b) { float r; asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r; }
KHD float fsub_rn(float a, float b) { float r; asm("sub.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r; }
KHD float fdiv_rn(float a, float b) { float r; asm("div.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); return r; }
KHD float fsqrt_rn(float a) { float r; asm("sqrt.rn.f32 %0, %1;" : "=f"(r) : "f"(a)); return r; }
#else
// host (tests): build with -ffp-contract=off
KHD float fmul_rn(float a, float b) { return a * b; }
KHD float fadd_rn(float a, float b) { return a + b; }
KHD float fsub_rn(float a, float b) { return a - b; }
KHD float fdiv_rn(float a, float b) { return a / b; }
KHD float fsqrt_rn(float a) { return __builtin_sqrtf(a); }
#endif

// Adam constants, each rounded to float once.
struct AdamK {
  float decay, wd, b1, omb1, b2, omb2, bc2sqrt, eps, step;
  bool decoupled_wd, coupled_wd, ams;
};

KHD AdamK adam_consts(double lr, double beta1, double beta2, double eps, double wd, double bc2sqrt,
                      double step_size, bool decoupled, bool amsgrad) {
  AdamK k;
  k.decay = (float)(1.0 - lr * wd);
  k.wd = (float)wd;
  k.b1 = (float)beta1;
  k.omb1 = (float)(1.0 - beta1);
  k.b2 = (float)beta2;
  k.omb2 = (float)(1.0 - beta2);
  k.bc2sqrt = (float)bc2sqrt;
  k.eps = (float)eps;
  k.step = (float)step_size;
  k.decoupled_wd = decoupled && wd != 0;
  k.coupled_wd = !decoupled && wd != 0;
  k.ams = amsgrad;
  return k;
}

// One Adam element; vmax is read and written only with AMSGrad.
KHD void adam_elem(const AdamK& k, float& p, float g, float& m, float& v, float& vmax) {
  if (k.decoupled_wd) p = fmul_rn(p, k.decay);
  float gg = g;
  if (k.coupled_wd) gg = fadd_rn(g, fmul_rn(p, k.wd));
  m = fadd_rn(fmul_rn(m, k.b1), fmul_rn(gg, k.omb1));
  v = fadd_rn(fmul_rn(v, k.b2), fmul_rn(fmul_rn(gg, gg), k.omb2));
  float src = v;
  if (k.ams) {
    vmax = kmaxf(vmax, v);
    src = vmax;
  }
  float den = fadd_rn(fdiv_rn(fsqrt_rn(src), k.bc2sqrt), k.eps);
  p = fsub_rn(p, fmul_rn(fdiv_rn(m, den), k.step));
}

struct SGDK {
  float wd, mom, omd, lr;
  bool has_wd, has_mom, nesterov, first;
};

KHD SGDK sgd_consts(double lr, double momentum, double dampening, double wd, bool nesterov, bool first) {
  SGDK k;
  k.wd = (float)wd;
  k.mom = (float)momentum;
  k.omd = (float)(1.0 - dampening);
  k.lr = (float)lr;
  k.has_wd = wd != 0;
  k.has_mom = momentum != 0;
  k.nesterov = nesterov;
  k.first = first;
  return k;
}

// One SGD element; buf is used only with momentum.
KHD void sgd_elem(const SGDK& k, float& p, float g, float& buf) {
  float gg = g;
  if (k.has_wd) gg = fadd_rn(g, fmul_rn(p, k.wd));
  float step = gg;
  if (k.has_mom) {
    buf = k.first ? gg : fadd_rn(fmul_rn(buf, k.mom), fmul_rn(gg, k.omd));
    step = k.nesterov ? fadd_rn(gg, fmul_rn(buf, k.mom)) : buf;
  }
  p = fsub_rn(p, fmul_rn(step, k.lr));
}
