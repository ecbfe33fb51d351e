package kern

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestUnaryMathAccuracy checks exp, log, sigmoid, tanh and GELU of every
// tier against float64 math over the whole float32 range: random bit
// patterns (so every exponent, subnormals included, is as likely as any
// other), a dense sweep of the interesting interval, and the special values.
// Tolerances, in float32 ulps of the exact result (an ulp of the smallest
// normal for subnormal results): exp, log and sigmoid 3; tanh and GELU 4,
// GELU of negative x 4+2|z|, where z = √(8/π)(x+0.044715x³) is the
// argument of its sigmoid: z is computed in float32, and the result's
// relative error is about |z| times that of z.
func TestUnaryMathAccuracy(t *testing.T) {
	type opCase struct {
		op     UnOp
		lo, hi float64 // sweep interval
		tol    float64
	}
	cases := []opCase{
		{OpExp, -105, 90, 3},
		{OpLog, 0, 4, 3},
		{OpSigmoid, -100, 100, 3},
		{OpTanh, -12, 12, 4},
		{OpGELU, -12, 12, 4},
	}
	r := rand.New(rand.NewPCG(21, 22))
	var in []float32
	for range 1 << 18 {
		in = append(in, math.Float32frombits(r.Uint32()))
	}
	in = append(in, specials...)
	in = append(in, float32(math.Copysign(0, -1)), math.MaxFloat32, math.Float32frombits(1), math.Float32frombits(0x007FFFFF),
		math.Float32frombits(0x00800000), 88.72283, 88.72284, 88.7229, -87.33654, -87.3366, -103.27, -103.97, -103.98, -104, -110)
	forTiers(t, func(t *testing.T) {
		for _, c := range cases {
			a := append([]float32(nil), in...)
			for i := range 1 << 16 {
				a = append(a, float32(c.lo+(c.hi-c.lo)*float64(i)/(1<<16)))
			}
			a = append(a, make([]float32, (8-len(a)%8)%8)...)
			dst := make([]float32, len(a))
			Unary(c.op, dst, a, 0)
			worst, at := 0.0, float32(0)
			for i, x := range a {
				want := refUn(c.op, x, 0)
				e := ulpErr(dst[i], want)
				tol := c.tol
				if c.op == OpGELU && x < 0 {
					v := float64(x)
					tol += 2 * math.Abs(1.5957691216057308*(v+0.044715*v*v*v))
				}
				if e > worst {
					worst, at = e, x
				}
				if e > tol {
					t.Errorf("op %d: f(%v) = %v, want %v (%.2f ulp)", c.op, x, dst[i], want, e)
					break
				}
			}
			t.Logf("op %d: worst %.2f ulp at %v", c.op, worst, at)
		}
	})
}

// BenchmarkUnary times the unary ops on 64K float32 (in cache), per
// tier.
func BenchmarkUnary(b *testing.B) {
	a := make([]float32, 64<<10)
	for i := range a {
		a[i] = float32(i%2000)/100 - 10
	}
	dst := make([]float32, len(a))
	for _, tier := range Tiers {
		if !Supported(tier) {
			continue
		}
		for _, op := range []struct {
			name string
			op   UnOp
		}{{"relu", OpReLU}, {"exp", OpExp}, {"log", OpLog}, {"sigmoid", OpSigmoid}, {"tanh", OpTanh}, {"gelu", OpGELU}} {
			b.Run(tier.String()+"/"+op.name, func(b *testing.B) {
				restore, _ := SetTier(tier)
				defer restore()
				b.SetBytes(int64(4 * len(a)))
				for b.Loop() {
					Unary(op.op, dst, a, 0)
				}
			})
		}
	}
}
