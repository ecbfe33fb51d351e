package kern

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestReduceUnaligned checks Sum, MaxOf and MinOf on subslices starting
// at every offset of a vector, against the Go tier.
func TestReduceUnaligned(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	base := randVec(r, 300)
	for i := range base {
		if base[i] != base[i] || math.IsInf(float64(base[i]), 0) {
			base[i] = 1.25
		}
	}
	type res struct{ sum, max, min float32 }
	want := map[[2]int]res{}
	forTiers(t, func(t *testing.T) {
		for off := range 9 {
			for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 64, 71, 200, 291} {
				a := base[off : off+n]
				got := res{Sum(a), MaxOf(a), MinOf(a)}
				k := [2]int{off, n}
				if w, ok := want[k]; ok {
					if !sameBits(got.sum, w.sum) || !sameBits(got.max, w.max) || !sameBits(got.min, w.min) {
						t.Fatalf("off %d n %d: %v, go tier %v", off, n, got, w)
					}
				} else {
					want[k] = got
				}
			}
		}
	})
}

func BenchmarkReduce(b *testing.B) {
	a := make([]float32, 64<<10)
	for i := range a {
		a[i] = float32(i%1000) - 500
	}
	for _, tier := range Tiers {
		if !Supported(tier) {
			continue
		}
		for _, f := range []struct {
			name string
			fn   func([]float32) float32
		}{{"sum", Sum}, {"max", MaxOf}} {
			b.Run(tier.String()+"/"+f.name, func(b *testing.B) {
				restore, _ := SetTier(tier)
				defer restore()
				b.SetBytes(int64(4 * len(a)))
				for b.Loop() {
					f.fn(a)
				}
			})
		}
	}
}
