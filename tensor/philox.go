package tensor

import (
	"math"
	"math/bits"
)

// philox4x32 is the Philox4x32-10 counter-based generator of Salmon et
// al., "Parallel random numbers: as easy as 1, 2, 3" (SC 2011).
func philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	const (
		m0 = 0xD2511F53
		m1 = 0xCD9E8D57
		w0 = 0x9E3779B9
		w1 = 0xBB67AE85
	)
	for r := range 10 {
		if r > 0 {
			key[0] += w0
			key[1] += w1
		}
		hi0, lo0 := bits.Mul32(m0, ctr[0])
		hi1, lo1 := bits.Mul32(m1, ctr[2])
		ctr = [4]uint32{hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0}
	}
	return ctr
}

func philoxBlock(seed, block uint64, attempt uint32) [4]uint32 {
	return philox4x32([4]uint32{uint32(block), uint32(block >> 32), attempt, 0},
		[2]uint32{uint32(seed), uint32(seed >> 32)})
}

// normalPair returns the pair of standard normal values of block by
// Marsaglia's polar method (see RandomArgs).
func normalPair(seed, block uint64) (float64, float64) {
	for attempt := uint32(0); ; attempt++ {
		w := philoxBlock(seed, block, attempt)
		for c := 0; c < 4; c += 2 {
			v1 := 2*((float64(w[c])+0.5)*0x1p-32) - 1
			v2 := 2*((float64(w[c+1])+0.5)*0x1p-32) - 1
			s := float64(v1*v1) + float64(v2*v2)
			if s > 0 && s < 1 {
				f := math.Sqrt(float64(-2*portableLog(s)) / s)
				return float64(v1 * f), float64(v2 * f)
			}
		}
	}
}

// portableLog is fdlibm's log (the algorithm of Go's pure-Go math.Log)
// with every product explicitly rounded, so that it gives the same bits on
// every architecture (math.Log is assembly on amd64 and the compiler may
// fuse multiply-adds elsewhere). x is positive and finite.
func portableLog(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		l1    = 6.666666666666735130e-01
		l2    = 3.999999999940941908e-01
		l3    = 2.857142874366239149e-01
		l4    = 2.222219843214978396e-01
		l5    = 1.818357216161805012e-01
		l6    = 1.531383769920937332e-01
		l7    = 1.479819860511658591e-01
	)
	f1, ki := math.Frexp(x)
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	t1 := float64(s2 * (l1 + float64(s4*(l3+float64(s4*(l5+float64(s4*l7)))))))
	t2 := float64(s4 * (l2 + float64(s4*(l4+float64(s4*l6)))))
	r := t1 + t2
	hfsq := float64(float64(0.5*f) * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+r)) + float64(k*ln2Lo))) - f)
}
