package features

import (
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/kilnml/kiln/internal/sketch"
)

// Quantile modes for FitOptions.Quantiles.
const (
	// QuantilesExact keeps every value of a column in memory and computes
	// quantiles exactly, with NumPy's default ("linear") interpolation.
	QuantilesExact = "exact"
	// QuantilesSketch summarizes each column in a KLL sketch
	// (internal/sketch) of FitOptions.SketchK (default 200) and answers
	// with a normalized rank error of about 1.7/SketchK (about 1% at the
	// default) with high probability, in O(k log n) memory. The minimum and
	// maximum stay exact. Fits merged from partitions are not bit-identical
	// to a fit of the whole in this mode.
	QuantilesSketch = "sketch"
)

// quantileLinear returns the q-quantile (0 <= q <= 1) of sorted, a sorted
// slice with no NaN, with NumPy's default 'linear' method: the virtual index
// (n-1)q interpolated between its neighbours as numpy's _lerp does it. It
// returns NaN for an empty slice.
func quantileLinear(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * q
	lo := math.Floor(h)
	i := int(lo)
	if i < 0 {
		return sorted[0]
	}
	if i >= n-1 {
		return sorted[n-1]
	}
	return lerp(sorted[i], sorted[i+1], h-lo)
}

// lerp interpolates as numpy's _lerp: a + (b-a)t, or b - (b-a)(1-t) for
// t >= 0.5, which keeps the result monotonic and exact at the ends.
func lerp(a, b, t float64) float64 {
	d := b - a
	if t >= 0.5 {
		return b - float64(d*(1-t))
	}
	return a + float64(d*t)
}

// medianMean returns the median of sorted as numpy.median and
// numpy.ma.median compute it: the middle value, or the mean (a+b)/2 of the
// two middle values. NaN for an empty slice.
func medianMean(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	a, b := sorted[n/2-1], sorted[n/2]
	return (a + b) / 2
}

// quantiles collects the non-missing values of one column for quantile
// statistics, exactly or in a sketch.
type quantiles interface {
	add(x float64)
	merge(o quantiles) error
	count() int64
	// quantile returns the q-quantile: NumPy linear for exact, the sketch's
	// answer otherwise.
	quantile(q float64) float64
	// median returns the median as numpy.median computes it (exact) or the
	// sketch's 0.5-quantile.
	median() float64
}

func newQuantiles(o FitOptions) quantiles {
	if o.Quantiles == QuantilesSketch {
		return &sketchQuantiles{s: sketch.NewKLL(o.SketchK)}
	}
	return &exactQuantiles{}
}

// exactQuantiles keeps all values; merging appends. Queries select order
// statistics in place (expected linear time, as numpy.partition) rather
// than sorting, and the answer does not depend on input order or
// partitioning (-0 is stored as +0 so that equal values are identical).
type exactQuantiles struct {
	vals []float64
}

func (e *exactQuantiles) add(x float64) {
	if x == 0 {
		x = 0
	}
	e.vals = append(e.vals, x)
}

func (e *exactQuantiles) merge(o quantiles) error {
	oe, ok := o.(*exactQuantiles)
	if !ok {
		return fmt.Errorf("features: merging exact quantiles with %T", o)
	}
	e.vals = append(e.vals, oe.vals...)
	return nil
}

func (e *exactQuantiles) count() int64 { return int64(len(e.vals)) }

// pair returns the order statistics i and i+1 (i+1 clamped to the last).
func (e *exactQuantiles) pair(i int) (float64, float64) {
	xs := e.vals
	selectK(xs, i)
	a := xs[i]
	if i+1 >= len(xs) {
		return a, a
	}
	b := xs[i+1]
	for _, x := range xs[i+2:] {
		if x < b {
			b = x
		}
	}
	return a, b
}

func (e *exactQuantiles) quantile(q float64) float64 {
	n := len(e.vals)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * q
	lo := math.Floor(h)
	i := int(lo)
	if i < 0 {
		i, lo, h = 0, 0, 0
	}
	if i >= n-1 {
		a, _ := e.pair(n - 1)
		return a
	}
	a, b := e.pair(i)
	return lerp(a, b, h-lo)
}

func (e *exactQuantiles) median() float64 {
	n := len(e.vals)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		a, _ := e.pair(n / 2)
		return a
	}
	a, b := e.pair(n/2 - 1)
	return (a + b) / 2
}

// selectK reorders xs (no NaN) so that xs[k] holds the value it would hold
// sorted, with no larger value before it and no smaller one after it.
// Quickselect with a median-of-three pivot; a range that does not shrink
// fast enough is sorted instead, which bounds the worst case at O(n log n).
func selectK(xs []float64, k int) {
	lo, hi := 0, len(xs)-1
	budget := 2*bits.Len(uint(len(xs))) + 8
	for hi > lo {
		if hi-lo < 24 || budget == 0 {
			slices.Sort(xs[lo : hi+1])
			return
		}
		budget--
		mid := lo + (hi-lo)/2
		if xs[mid] < xs[lo] {
			xs[mid], xs[lo] = xs[lo], xs[mid]
		}
		if xs[hi] < xs[lo] {
			xs[hi], xs[lo] = xs[lo], xs[hi]
		}
		if xs[hi] < xs[mid] {
			xs[hi], xs[mid] = xs[mid], xs[hi]
		}
		pivot := xs[mid]
		i, j := lo, hi
		for i <= j {
			for xs[i] < pivot {
				i++
			}
			for xs[j] > pivot {
				j--
			}
			if i <= j {
				xs[i], xs[j] = xs[j], xs[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return // j < k < i: xs[k] equals the pivot and is in place
		}
	}
}

type sketchQuantiles struct{ s *sketch.KLL }

func (k *sketchQuantiles) add(x float64) { k.s.Add(x) }

func (k *sketchQuantiles) merge(o quantiles) error {
	ok2, ok := o.(*sketchQuantiles)
	if !ok {
		return fmt.Errorf("features: merging sketch quantiles with %T", o)
	}
	return k.s.Merge(ok2.s)
}

func (k *sketchQuantiles) count() int64               { return k.s.Count() }
func (k *sketchQuantiles) quantile(q float64) float64 { return k.s.Quantile(q) }
func (k *sketchQuantiles) median() float64            { return k.s.Quantile(0.5) }
