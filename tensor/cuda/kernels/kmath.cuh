// kmath.cuh: double-precision exp, log, tanh, pow and the activations built
// on them, from + - * /, fma, sqrt and bit manipulation only (no libdevice).
// Special cases follow Go's math package. float32 callers compute in double
// and round once. Also compiles as plain host C++ for testing.
#pragma once
#include "compat.cuh"

#define K_INF (u2d(0x7ff0000000000000ull))
#define K_NAN (u2d(0x7ff8000000000000ull))

KHD double kabs(double x) { return u2d(d2u(x) & 0x7fffffffffffffffull); }
KHD bool kisnan(double x) { return x != x; }
KHD bool ksignbit(double x) { return (d2u(x) >> 63) != 0; }

// 2^k for -1022 <= k <= 1023.
KHD double kpow2i(int k) { return u2d((u64)(k + 1023) << 52); }

// frac * 2^exp, as Go's math.Ldexp.
KHD double kldexp(double frac, i64 exp) {
  if (frac == 0 || frac != frac || kabs(frac) == K_INF) return frac;
  if (kabs(frac) < 2.2250738585072014e-308) {  // normalize a subnormal
    frac *= 4503599627370496.0;                 // 2^52
    exp -= 52;
  }
  u64 x = d2u(frac);
  exp += (i64)((x >> 52) & 0x7ff) - 1023;
  if (exp < -1075) return u2d(x & 0x8000000000000000ull);  // underflow: signed 0
  if (exp > 1023) return frac < 0 ? -K_INF : K_INF;
  double m = 1.0;
  if (exp < -1022) {  // subnormal result: one rounding in the final product
    exp += 53;
    m = 1.1102230246251565e-16;  // 2^-53
  }
  x &= ~(0x7ffull << 52);
  x |= (u64)(exp + 1023) << 52;
  return m * u2d(x);
}

// exp(x) with |error| about 1 ulp.
KHD double kexp(double x) {
  if (x != x) return x;
  if (x > 709.782712893384) return K_INF;
  if (x < -745.1332191019412) return 0.0;
  const double LOG2E = 1.4426950408889634;
  const double LN2HI = 6.93147180369123816490e-01;  // trailing zeros: k*LN2HI exact
  const double LN2LO = 1.90821492927058770002e-10;
  double k = K_RINT(x * LOG2E);
  double r = K_FMA(-k, LN2HI, x);
  r = K_FMA(-k, LN2LO, r);
  // |r| <= 0.347: Taylor series of degree 13 (truncation < 1e-17).
  double p = 1.0 / 6227020800.0;
  p = K_FMA(p, r, 1.0 / 479001600.0);
  p = K_FMA(p, r, 1.0 / 39916800.0);
  p = K_FMA(p, r, 1.0 / 3628800.0);
  p = K_FMA(p, r, 1.0 / 362880.0);
  p = K_FMA(p, r, 1.0 / 40320.0);
  p = K_FMA(p, r, 1.0 / 5040.0);
  p = K_FMA(p, r, 1.0 / 720.0);
  p = K_FMA(p, r, 1.0 / 120.0);
  p = K_FMA(p, r, 1.0 / 24.0);
  p = K_FMA(p, r, 1.0 / 6.0);
  p = K_FMA(p, r, 0.5);
  p = K_FMA(p, r * r, r);  // r + r^2 (1/2 + ...) = exp(r) - 1
  double y = 1.0 + p;
  int ki = (int)k;
  if (ki >= -1021 && ki <= 1023) return y * kpow2i(ki);
  // 2^k split in two exact powers; only the last product rounds.
  int k1 = ki >> 1, k2 = ki - k1;
  return (y * kpow2i(k1)) * kpow2i(k2);
}

// exp(y) - 1 for 0 <= y <= 1.25 (Taylor series, degree 22).
KHD double kexpm1_small(double y) {
  double p = 1.0 / 1124000727777607680000.0;  // 1/22!
  double f = 1124000727777607680000.0;
  for (int n = 21; n >= 2; n--) {
    f /= (double)(n + 1);  // f = n!
    p = K_FMA(p, y, 1.0 / f);
  }
  return K_FMA(p, y * y, y);
}

// log(x), error about 1 ulp (fdlibm's reduction, series for R).
KHD double klog(double x) {
  if (x != x) return x;
  if (x < 0) return K_NAN;
  if (x == 0) return -K_INF;
  if (x == K_INF) return x;
  u64 b = d2u(x);
  int e = 0;
  if (b < (1ull << 52)) {  // subnormal
    x *= 18014398509481984.0;  // 2^54
    b = d2u(x);
    e = -54;
  }
  e += (int)(b >> 52) - 1023;
  double m = u2d((b & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1,2)
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e++;
  }
  double f = m - 1.0;  // exact
  double s = f / (2.0 + f);
  double z = s * s;
  // R = 2z/3 + 2z^2/5 + ... + 2z^12/25
  double R = 2.0 / 25.0;
  R = K_FMA(R, z, 2.0 / 23.0);
  R = K_FMA(R, z, 2.0 / 21.0);
  R = K_FMA(R, z, 2.0 / 19.0);
  R = K_FMA(R, z, 2.0 / 17.0);
  R = K_FMA(R, z, 2.0 / 15.0);
  R = K_FMA(R, z, 2.0 / 13.0);
  R = K_FMA(R, z, 2.0 / 11.0);
  R = K_FMA(R, z, 2.0 / 9.0);
  R = K_FMA(R, z, 2.0 / 7.0);
  R = K_FMA(R, z, 2.0 / 5.0);
  R = K_FMA(R, z, 2.0 / 3.0);
  R *= z;
  const double LN2HI = 6.93147180369123816490e-01;
  const double LN2LO = 1.90821492927058770002e-10;
  double dk = (double)e;
  double hfsq = 0.5 * f * f;
  return dk * LN2HI - ((hfsq - (s * (hfsq + R) + dk * LN2LO)) - f);
}

// tanh(x); tanh(+-inf) = +-1, tanh(-0) = -0.
KHD double ktanh(double x) {
  if (x != x || x == 0) return x;
  double a = kabs(x);
  double t;
  if (a > 22.0) {
    t = 1.0;
  } else if (a >= 0.625) {
    t = 1.0 - 2.0 / (kexp(2.0 * a) + 1.0);
  } else {
    double e = kexpm1_small(2.0 * a);
    t = e / (e + 2.0);
  }
  return x < 0 ? -t : t;
}

KHD double ksqrt(double x) { return K_SQRT(x); }

KHD bool kisoddint(double y) {
  if (kabs(y) >= 9007199254740992.0) return false;  // 2^53: all even
  double t = K_FLOOR(y);
  if (t != y) return false;
  double h = t * 0.5;
  return K_FLOOR(h) != h;
}

// frexp: x = f * 2^e with 0.5 <= |f| < 1 (x finite, non-zero).
KHD double kfrexp(double x, i64* e) {
  i64 adj = 0;
  if (kabs(x) < 2.2250738585072014e-308) {
    x *= 4503599627370496.0;  // 2^52
    adj = -52;
  }
  u64 b = d2u(x);
  *e = adj + (i64)((b >> 52) & 0x7ff) - 1022;
  return u2d((b & 0x800fffffffffffffull) | 0x3fe0000000000000ull);
}

// pow(x, y) with the special cases and the algorithm of Go's math.Pow:
// integer part by repeated squaring, fractional part by exp(yf*log(x)).
// Out of line: large, and rarely hot.
KHDN double kpow(double x, double y) {
  if (y == 0 || x == 1) return 1;
  if (y == 1) return x;
  if (x != x || y != y) return K_NAN;
  if (x == 0) {
    if (y < 0) return (ksignbit(x) && kisoddint(y)) ? -K_INF : K_INF;
    // y > 0
    return (ksignbit(x) && kisoddint(y)) ? x : 0.0;
  }
  if (kabs(y) == K_INF) {
    if (x == -1) return 1;
    if ((kabs(x) < 1) == (y > 0)) return 0;
    return K_INF;
  }
  if (kabs(x) == K_INF) {
    if (x < 0) {  // Pow(-0, -y)
      x = -0.0;
      y = -y;
      if (y < 0) return kisoddint(y) ? -K_INF : K_INF;
      return kisoddint(y) ? x : 0.0;
    }
    return y < 0 ? 0.0 : K_INF;
  }
  if (y == 0.5) return ksqrt(x);
  if (y == -0.5) return 1.0 / ksqrt(x);

  double ay = kabs(y);
  double yi = K_FLOOR(ay), yf = ay - yi;
  if (yf != 0 && x < 0) return K_NAN;
  if (yi >= 9223372036854775808.0) {  // 2^63
    if (x == -1) return 1;
    if ((kabs(x) < 1) == (y > 0)) return 0;
    return K_INF;
  }
  double a1 = 1.0;
  i64 ae = 0;
  if (yf != 0) {
    if (yf > 0.5) {
      yf -= 1.0;
      yi += 1.0;
    }
    a1 = kexp(yf * klog(x));
  }
  i64 xe;
  double x1 = kfrexp(x, &xe);
  for (i64 i = (i64)yi; i != 0; i >>= 1) {
    if (xe < -(1 << 12) || (1 << 12) < xe) {
      ae += xe;
      break;
    }
    if (i & 1) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe <<= 1;
    if (x1 < 0.5) {
      x1 += x1;
      xe--;
    }
  }
  if (y < 0) {
    a1 = 1.0 / a1;
    ae = -ae;
  }
  return kldexp(a1, ae);
}

// Go's max/min: NaN if either is NaN; max(-0, +0) = +0, min(-0, +0) = -0.
KHD double kmax(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a > b) return a;
  if (b > a) return b;
  return u2d(d2u(a) & d2u(b));
}
KHD double kmin(double a, double b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a < b) return a;
  if (b < a) return b;
  return u2d(d2u(a) | d2u(b));
}
KHD float kmaxf(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a > b) return a;
  if (b > a) return b;
  return u2f(f2u(a) & f2u(b));
}
KHD float kminf(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a < b) return a;
  if (b < a) return b;
  return u2f(f2u(a) | f2u(b));
}

// Activations (float64 reference formulas of the CPU device).
KHD double ksigmoid(double x) { return 1.0 / (1.0 + kexp(-x)); }
KHD double kgelu(double x) {
  return 0.5 * x * (1.0 + ktanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
// float32 GELU as the CPU computes it: x/(1+exp(-2u)) in double.
KHD double kgelu_f32path(double v) {
  return v / (1.0 + kexp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
}
KHD double kgelugrad(double x) {
  const double c = 0.7978845608028654;
  double u = c * (x + 0.044715 * x * x * x);
  double t = ktanh(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * x * x);
}
