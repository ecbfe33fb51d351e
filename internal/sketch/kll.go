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

	caps    []int     // capacity per level, recomputed by grow
	scratch []float64 // sort buffers, not part of the state
	buckets []int32
	bidx    []int32
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
	if len(s.caps) == len(s.levels) {
		return s.caps[h]
	}
	return s.computeCapacity(h)
}

func (s *KLL) computeCapacity(h int) int {
	depth := len(s.levels) - h - 1
	c := int(math.Ceil(float64(s.k)*math.Pow(2.0/3.0, float64(depth)))) + 1
	return max(c, 2)
}

func (s *KLL) grow() {
	s.levels = append(s.levels, nil)
	s.caps = s.caps[:0]
	s.max = 0
	for h := range s.levels {
		c := s.computeCapacity(h)
		s.caps = append(s.caps, c)
		s.max += c
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
		s.sortLevel(lv)
		off := 0
		if s.coin() {
			off = 1
		}
		// An odd item out stays at this level.
		keep := len(lv) % 2
		up := s.levels[h+1]
		before := len(up)
		for i := keep + off; i < len(lv); i += 2 {
			up = append(up, lv[i])
		}
		s.levels[h+1] = up
		s.levels[h] = lv[:keep]
		s.size -= len(lv) - keep - (len(up) - before)
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
	s.prepare()
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

// AddMany adds the values of xs in order. Non-finite values are ignored.
// xs is not modified or retained.
//
// Unlike a sequence of Add calls, which compacts as soon as the sketch is
// full (often a handful of values at a time once it is warm), AddMany
// appends at least k values to the lowest level before compacting, so that
// each compaction sorts and halves a larger run. This is still a KLL
// compaction schedule (larger compactions at a level only lower the rank
// error, and the sketch holds no more values once the call returns), but
// the sketch's state depends on how values were split among calls: the
// same calls in the same order give the same sketch.
func (s *KLL) AddMany(xs []float64) {
	for len(xs) > 0 {
		chunk := xs[:min(max(s.max-s.size, s.k), len(xs))]
		xs = xs[len(chunk):]
		lv := s.levels[0]
		lo, hi := s.min, s.maxv
		added := 0
		for _, x := range chunk {
			if x-x != 0 { // NaN or ±Inf
				continue
			}
			lo = min(lo, x)
			hi = max(hi, x)
			lv = append(lv, x)
			added++
		}
		s.levels[0] = lv
		s.min, s.maxv = lo, hi
		if added == 0 {
			continue
		}
		s.n += int64(added)
		s.size += added
		s.sorted = nil
		for s.size >= s.max {
			before := s.size
			s.compress()
			if s.size >= before {
				s.grow()
			}
		}
	}
}

// Clone returns an independent copy of s, which answers and evolves exactly
// as s would.
func (s *KLL) Clone() *KLL {
	c := *s
	c.sorted = nil
	c.scratch, c.buckets, c.bidx = nil, nil, nil
	c.caps = slices.Clone(s.caps)
	c.levels = make([][]float64, len(s.levels))
	for h, l := range s.levels {
		c.levels[h] = append(make([]float64, 0, max(len(l), s.capacity(h))), l...)
	}
	return &c
}

// Exact reports whether the sketch still holds every value added (no
// compaction has happened), so that its quantiles, ranks and CDF are exact.
func (s *KLL) Exact() bool {
	for _, l := range s.levels[1:] {
		if len(l) > 0 {
			return false
		}
	}
	return true
}

// RankError returns the normalized rank error the sketch's answers are
// stated to have: 0 when Exact, otherwise 2/k. Quantile, Rank and CDF
// answers are then within RankError of the true normalized rank with high
// probability (the bound the package's tests check; Apache DataSketches
// measures about 1.65/k at 99% confidence for this compaction scheme). A
// count of the values in an interval, the difference of two ranks, is
// within 2·RankError·Count.
func (s *KLL) RankError() float64 {
	if s.Exact() {
		return 0
	}
	return 2 / float64(s.k)
}

// prepare fills the sorted cache: the held values in ascending order with
// their cumulative weights.
func (s *KLL) prepare() {
	if s.sorted != nil {
		return
	}
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

// WeightBelow returns, for each point, the sketch's estimate of the number
// of values added that are strictly less than the point: the total weight
// of the held values below it. The weights are integers (a held value at
// level h stands for 2^h values) and the total weight equals Count, so the
// answers are exact counts when the sketch is Exact. An empty sketch gives
// zeros. NaN points give 0.
func (s *KLL) WeightBelow(points []float64) []float64 {
	out := make([]float64, len(points))
	if s.n == 0 {
		return out
	}
	s.prepare()
	for i, p := range points {
		j, _ := slices.BinarySearchFunc(s.sorted, p, func(e weighted, t float64) int {
			if e.v < t {
				return -1
			}
			return 1
		})
		if j > 0 {
			out[i] = s.sorted[j-1].w
		}
	}
	return out
}

// CDF returns, for each point, the approximate fraction of the values added
// that are strictly less than the point (WeightBelow divided by Count). An
// empty sketch gives NaNs.
func (s *KLL) CDF(points []float64) []float64 {
	out := s.WeightBelow(points)
	for i := range out {
		if s.n == 0 {
			out[i] = math.NaN()
		} else {
			out[i] /= s.total
		}
	}
	return out
}

// EvenQuantiles returns the m−1 quantiles at i/m, i = 1..m−1, each chosen
// as Quantile does (the smallest held value whose cumulative weight reaches
// i·Count/m) but with the target computed without rounding q first. For an
// exact sketch these are the "inverted CDF" sample quantiles. It returns nil
// for an empty sketch or m < 2.
func (s *KLL) EvenQuantiles(m int) []float64 {
	if s.n == 0 || m < 2 {
		return nil
	}
	s.prepare()
	out := make([]float64, m-1)
	j := 0
	for i := 1; i < m; i++ {
		target := float64(i) * s.total / float64(m)
		for j < len(s.sorted)-1 && s.sorted[j].w < target {
			j++
		}
		out[i-1] = s.sorted[j].v
	}
	return out
}

// sortLevel sorts the finite values of a level ascending, as slices.Sort
// would (the same order; only −0 and +0, which compare equal, may be
// ordered differently). Values are distributed into about len(lv)/2
// buckets by linear interpolation between the minimum and the maximum,
// which is monotone in the value, and each bucket is then sorted; for
// smooth distributions this is close to linear time, and a skewed one
// falls back to comparison sorts of the crowded buckets.
func (s *KLL) sortLevel(lv []float64) {
	n := len(lv)
	if n <= 32 {
		insertionSort(lv)
		return
	}
	if n < 64 {
		slices.Sort(lv)
		return
	}
	lo, hi := lv[0], lv[0]
	for _, x := range lv[1:] {
		if x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	nb := n / 2
	scale := float64(nb) / (hi - lo)
	if !(scale > 0) || math.IsInf(scale, 0) || math.IsInf(hi-lo, 0) {
		if lo != hi {
			slices.Sort(lv)
		}
		return
	}
	if cap(s.buckets) < nb+1 {
		s.buckets = make([]int32, nb+1, 2*nb+1)
	}
	cnt := s.buckets[:nb+1]
	clear(cnt)
	last := nb - 1
	if cap(s.bidx) < n {
		s.bidx = make([]int32, n, 2*n)
	}
	bidx := s.bidx[:n]
	for i, x := range lv {
		b := int32(min(int((x-lo)*scale), last))
		bidx[i] = b
		cnt[b+1]++
	}
	for i := 1; i <= nb; i++ {
		cnt[i] += cnt[i-1]
	}
	if cap(s.scratch) < n {
		s.scratch = make([]float64, n, 2*n)
	}
	out := s.scratch[:n]
	for i, x := range lv {
		b := bidx[i]
		out[cnt[b]] = x
		cnt[b]++
	}
	// cnt[b] is now the end of bucket b.
	start := 0
	for b := range nb {
		end := int(cnt[b])
		if seg := out[start:end]; len(seg) > 1 {
			if len(seg) <= 24 {
				insertionSort(seg)
			} else {
				slices.Sort(seg)
			}
		}
		start = end
	}
	copy(lv, out)
}

func insertionSort(a []float64) {
	for i := 1; i < len(a); i++ {
		x := a[i]
		j := i
		for j > 0 && a[j-1] > x {
			a[j] = a[j-1]
			j--
		}
		a[j] = x
	}
}
