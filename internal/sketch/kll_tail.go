package sketch

import "math"

// TailMeans returns the weighted mean of the values the sketch holds below
// lo and of those at or above hi: estimates of the means of the added
// values in the two tails, exact when the sketch is. A tail that holds no
// value has mean NaN.
func (s *KLL) TailMeans(lo, hi float64) (below, above float64) {
	var sb, wb, sa, wa float64
	for h, l := range s.levels {
		w := math.Ldexp(1, h)
		for _, v := range l {
			if v < lo {
				sb += w * v
				wb += w
			}
			if v >= hi {
				sa += w * v
				wa += w
			}
		}
	}
	below, above = math.NaN(), math.NaN()
	if wb > 0 {
		below = sb / wb
	}
	if wa > 0 {
		above = sa / wa
	}
	return below, above
}
