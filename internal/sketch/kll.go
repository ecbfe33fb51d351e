package sketch

import (
	"errors"
	"math"
	"slices"
)

// DefaultKLLK is the accuracy parameter NewKLL uses for k <= 0.
const DefaultKLLK = 200

// KLL is a quantile sketch after Karnin, Lang and Liberty ("Optimal
// Quantile Approximation in Streams", 2016), in the lazy-compaction form of
// the authors' reference implementation. It keeps O(k log(n/k)) of the n
// values added; a value is kept at level h with weight 2^h, and a full level
// is sorted and halved (keeping the odd or the even positions, chosen by a
// coin flip) into the level above.
//
// Rank error: a quantile answered by the sketch has a normalized rank error
// (|rank(answer)/n - q|) of about 1.7/k with high probability: about 1% for
// the default k = 200 (Apache DataSketches measures 1.65% at 99% confidence
// for the same k and compaction scheme). The minimum and maximum are exact.
// Below about k values the sketch holds every value and is exact.
//
// Coin flips come from a deterministic generator, so the same values added
// in the same order (and merged in the same order) give the same answers.
// Values must be finite; NaN and ±Inf are ignored by Add and counted
// separately. A KLL is not safe for concurrent use.
type KLL struct {
	k      int
	levels [][]float64
	size   int // values held, all levels
	max    int // capacity, all levels
	n      int64
	min    float64
	maxv   float64
	rng    uint64
	sorted []weighted // cache for Quantile, nil when stale
	total  float64
}

type weighted struct {
	v float64
	w float64
}

// ErrKLLMismatch is returned when merging sketches with different k.
var ErrKLLMismatch = errors.New("sketch: merging KLL sketches with different k")

// NewKLL returns an empty sketch with accuracy parameter k (DefaultKLLK for
// k <= 0; at least 8).
func NewKLL(k int) *KLL {
	if k <= 0 {
		k = DefaultKLLK
	}
	k = max(k, 8)
	s := &KLL{k: k, min: math.Inf(1), maxv: math.Inf(-1), rng: 0x9e3779b97f4a7c15}
	s.grow()
	return s
}

// K returns the sketch's accuracy parameter.
func (s *KLL) K() int { return s.k }

// Count returns the number of finite values added (merged sketches
// included).
func (s *KLL) Count() int64 { return s.n }

// Min returns the smallest value added, or NaN for an empty sketch.
func (s *KLL) Min() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.min
}

// Max returns the largest value added, or NaN for an empty sketch.
func (s *KLL) Max() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.maxv
}

func (s *KLL) capacity(h int) int {
	depth := len(s.levels) - h - 1
	c := int(math.Ceil(float64(s.k)*math.Pow(2.0/3.0, float64(depth)))) + 1
	return max(c, 2)
}

func (s *KLL) grow() {
	s.levels = append(s.levels, nil)
	s.max = 0
	for h := range s.levels {
		s.max += s.capacity(h)
	}
}

func (s *KLL) coin() bool {
	// xorshift64*
	s.rng ^= s.rng >> 12
	s.rng ^= s.rng << 25
	s.rng ^= s.rng >> 27
	return (s.rng*2685821657736338717)>>63 == 1
}

// Add adds one value. Non-finite values are ignored.
func (s *KLL) Add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	s.n++
	s.min = min(s.min, x)
	s.maxv = max(s.maxv, x)
	s.levels[0] = append(s.levels[0], x)
	s.size++
	s.sorted = nil
	if s.size >= s.max {
		s.compress()
	}
}

func (s *KLL) compress() {
	for h := 0; h < len(s.levels); h++ {
		if len(s.levels[h]) < s.capacity(h) {
			continue
		}
		if h+1 >= len(s.levels) {
			s.grow()
		}
		lv := s.levels[h]
		slices.Sort(lv)
		off := 0
		if s.coin() {
			off = 1
		}
		// An odd item out stays at this level.
		keep := len(lv) % 2
		up := s.levels[h+1]
		for i := keep + off; i < len(lv); i += 2 {
			up = append(up, lv[i])
		}
		s.levels[h+1] = up
		s.levels[h] = lv[:keep]
		s.size = 0
		for _, l := range s.levels {
			s.size += len(l)
		}
		if s.size < s.max {
			break
		}
	}
}

// Merge adds the values summarized by o into s. o is not changed.
func (s *KLL) Merge(o *KLL) error {
	if o.k != s.k {
		return ErrKLLMismatch
	}
	if o.n == 0 {
		return nil
	}
	for len(s.levels) < len(o.levels) {
		s.grow()
	}
	for h, l := range o.levels {
		s.levels[h] = append(s.levels[h], l...)
	}
	s.n += o.n
	s.min = min(s.min, o.min)
	s.maxv = max(s.maxv, o.maxv)
	s.size = 0
	for _, l := range s.levels {
		s.size += len(l)
	}
	s.sorted = nil
	for s.size >= s.max {
		before := s.size
		s.compress()
		if s.size >= before {
			s.grow()
		}
	}
	return nil
}

// Quantile returns an approximate q-quantile (0 <= q <= 1) of the values
// added: the smallest kept value whose cumulative weight reaches q times the
// total. Quantile(0) and Quantile(1) are the exact minimum and maximum. It
// returns NaN for an empty sketch or q outside [0, 1].
func (s *KLL) Quantile(q float64) float64 {
	if s.n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	if q == 0 {
		return s.min
	}
	if q == 1 {
		return s.maxv
	}
	if s.sorted == nil {
		s.total = 0
		for h, l := range s.levels {
			w := math.Ldexp(1, h)
			for _, v := range l {
				s.sorted = append(s.sorted, weighted{v, w})
			}
		}
		slices.SortFunc(s.sorted, func(a, b weighted) int {
			switch {
			case a.v < b.v:
				return -1
			case a.v > b.v:
				return 1
			}
			return 0
		})
		var cum float64
		for i := range s.sorted {
			cum += s.sorted[i].w
			s.sorted[i].w = cum
		}
		s.total = cum
	}
	target := q * s.total
	i, _ := slices.BinarySearchFunc(s.sorted, target, func(e weighted, t float64) int {
		switch {
		case e.w < t:
			return -1
		case e.w > t:
			return 1
		}
		return 0
	})
	if i >= len(s.sorted) {
		i = len(s.sorted) - 1
	}
	return s.sorted[i].v
}

// Rank returns the approximate fraction of values added that are <= x.
func (s *KLL) Rank(x float64) float64 {
	if s.n == 0 {
		return math.NaN()
	}
	var w, total float64
	for h, l := range s.levels {
		lw := math.Ldexp(1, h)
		for _, v := range l {
			total += lw
			if v <= x {
				w += lw
			}
		}
	}
	return w / total
}
