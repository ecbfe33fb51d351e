package features

import (
	"math"
	"math/big"
)

// exactSum accumulates a sum of float64 values exactly, in a fixed-point
// superaccumulator covering the whole float64 range (after Neal, "Fast exact
// summation using small and large superaccumulators", 2015): each value is
// split into three 32-bit digits added to int64 limbs, with carries
// propagated only every 2^30 additions. The sum is therefore independent of
// the order of the values and of how they were split into partial sums, and
// the mean and variance derived from it are correctly rounded.
//
// Values must be finite.
type exactSum struct {
	limbs [sumLimbs]int64
	adds  int
}

const (
	sumLimbs = 70
	// Each add puts less than 2^32 into a limb, so 2^30 adds leave headroom
	// in an int64 before carries must be propagated.
	sumNormalizeEvery = 1 << 30
)

func (s *exactSum) add(x float64) {
	b := math.Float64bits(x)
	exp := int(b>>52) & 0x7ff
	mant := b & (1<<52 - 1)
	if exp == 0 {
		if mant == 0 {
			return
		}
		exp = 1
	} else {
		mant |= 1 << 52
	}
	// x = ±mant * 2^(exp-1075); bit position from 2^-1074 is exp-1.
	p := exp - 1
	idx := p >> 5
	off := uint(p & 31)
	lo := mant << off
	var hi uint64
	if off > 0 {
		hi = mant >> (64 - off)
	}
	d0 := int64(lo & 0xffffffff)
	d1 := int64(lo >> 32)
	d2 := int64(hi)
	if b>>63 != 0 {
		d0, d1, d2 = -d0, -d1, -d2
	}
	s.limbs[idx] += d0
	s.limbs[idx+1] += d1
	s.limbs[idx+2] += d2
	s.adds++
	if s.adds >= sumNormalizeEvery {
		s.normalize()
	}
}

// normalize propagates carries so that every limb but the last is in
// [0, 2^32).
func (s *exactSum) normalize() {
	for i := 0; i < sumLimbs-1; i++ {
		c := s.limbs[i] >> 32
		s.limbs[i] -= c << 32
		s.limbs[i+1] += c
	}
	s.adds = 0
}

func (s *exactSum) merge(o *exactSum) {
	if s.adds+o.adds >= sumNormalizeEvery {
		s.normalize()
		oc := *o
		oc.normalize()
		o = &oc
	}
	for i := range s.limbs {
		s.limbs[i] += o.limbs[i]
	}
	s.adds += o.adds
}

// bigInt returns the sum in units of 2^-1074.
func (s *exactSum) bigInt() *big.Int {
	z := new(big.Int)
	var t big.Int
	for i := sumLimbs - 1; i >= 0; i-- {
		z.Lsh(z, 32)
		z.Add(z, t.SetInt64(s.limbs[i]))
	}
	return z
}

// value returns the sum correctly rounded to float64 (±Inf if it
// overflows).
func (s *exactSum) value() float64 {
	r := new(big.Rat).SetFrac(s.bigInt(), new(big.Int).Lsh(big.NewInt(1), 1074))
	f, _ := r.Float64()
	return f
}

// momentSum accumulates the exact sum and sum of squares of values for a
// correctly rounded mean and population variance that do not depend on
// partitioning. Squares are split exactly into x*x and its rounding error
// with FMA; values above maxSquarable are rejected by the caller.
type momentSum struct {
	n   int64
	s1  exactSum
	s2  exactSum
	sq  bool // whether squares are accumulated
	bad bool // a value too large to square was added
}

// maxSquarable is the largest magnitude whose square is finite with
// headroom; larger values make the variance unavailable (an error).
const maxSquarable = 1e150

func (m *momentSum) add(x float64) {
	m.n++
	m.s1.add(x)
	if m.sq {
		if math.Abs(x) > maxSquarable {
			m.bad = true
			return
		}
		p := x * x
		m.s2.add(p)
		m.s2.add(math.FMA(x, x, -p))
	}
}

func (m *momentSum) merge(o *momentSum) {
	m.n += o.n
	m.s1.merge(&o.s1)
	m.s2.merge(&o.s2)
	m.bad = m.bad || o.bad
}

// mean returns sum/n correctly rounded, or NaN for n == 0.
func (m *momentSum) mean() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	r := new(big.Rat).SetFrac(m.s1.bigInt(), new(big.Int).Lsh(big.NewInt(m.n), 1074))
	f, _ := r.Float64()
	return f
}

// variance returns the population variance (n*S2 - S1^2)/n^2 computed
// exactly and rounded once, or NaN for n == 0.
func (m *momentSum) variance() float64 {
	if m.n == 0 {
		return math.NaN()
	}
	a := m.s1.bigInt() // S1 * 2^1074
	b := m.s2.bigInt() // S2 * 2^1074
	n := big.NewInt(m.n)
	num := new(big.Int).Mul(b, n)
	num.Lsh(num, 1074)
	num.Sub(num, new(big.Int).Mul(a, a)) // (n*S2 - S1^2) * 2^2148
	if num.Sign() < 0 {
		num.SetInt64(0)
	}
	den := new(big.Int).Mul(n, n)
	den.Lsh(den, 2148)
	f, _ := new(big.Rat).SetFrac(num, den).Float64()
	return f
}
