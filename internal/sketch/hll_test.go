package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"
)

func TestHashUint64MatchesHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, v := range append([]uint64{0, 1, math.MaxUint64, 1 << 63}, func() []uint64 {
		var vs []uint64
		for range 1000 {
			vs = append(vs, rng.Uint64())
		}
		return vs
	}()...) {
		b := binary.LittleEndian.AppendUint64(nil, v)
		if got, want := HashUint64(v), Hash(b); got != want {
			t.Fatalf("HashUint64(%#x) = %#x, Hash of its bytes = %#x", v, got, want)
		}
	}
}

func TestHashMatchesXXH64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 80 {
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if got, want := Hash(b), xxhash.Sum64(b); got != want {
				t.Fatalf("Hash of %d bytes %x = %#x, XXH64 = %#x", n, b, got, want)
			}
		}
	}
}

func BenchmarkHash3(b *testing.B) {
	v := []byte("SFO")
	var s uint64
	for b.Loop() {
		s += Hash(v)
	}
	_ = s
}

func TestNewHLLPrecision(t *testing.T) {
	for _, p := range []int{-1, 0, 3, 19, 64} {
		if _, err := NewHLL(p); err == nil {
			t.Errorf("NewHLL(%d) succeeded", p)
		}
	}
	for p := MinPrecision; p <= MaxPrecision; p++ {
		h, err := NewHLL(p)
		if err != nil {
			t.Fatal(err)
		}
		if h.Precision() != p || len(h.reg) != 1<<p {
			t.Fatalf("NewHLL(%d): precision %d, %d registers", p, h.Precision(), len(h.reg))
		}
	}
}

// TestHLLAccuracy checks the estimate against the true count over a range
// of cardinalities: within 4 standard errors for each, and the mean
// absolute relative error near the theoretical 1.04/sqrt(m).
func TestHLLAccuracy(t *testing.T) {
	for _, p := range []int{10, 14} {
		m := float64(int(1) << p)
		se := 1.04 / math.Sqrt(m)
		var sumErr float64
		var trials int
		for _, n := range []int{1, 2, 3, 10, 100, 1000, 5000, 20000, 100000, 500000} {
			for seed := range uint64(3) {
				h, _ := NewHLL(p)
				rng := rand.New(rand.NewPCG(seed, uint64(n)))
				for range n {
					h.AddUint64(rng.Uint64())
				}
				got := float64(h.Estimate())
				rel := math.Abs(got-float64(n)) / float64(n)
				if n <= 10 && p == 14 && got != float64(n) {
					// With 16,384 registers, tiny sets are counted exactly
					// (two values in one register are unlikely).
					t.Errorf("p=%d n=%d: estimate %v, want exact", p, n, got)
				}
				if rel > 4*se && math.Abs(got-float64(n)) > 1 {
					t.Errorf("p=%d n=%d seed=%d: estimate %v, relative error %.4f > 4σ = %.4f", p, n, seed, got, rel, 4*se)
				}
				sumErr += rel
				trials++
			}
		}
		mean := sumErr / float64(trials)
		if mean > 1.5*se {
			t.Errorf("p=%d: mean relative error %.4f, want ≤ %.4f", p, mean, 1.5*se)
		}
		t.Logf("p=%d: mean relative error %.4f (σ = %.4f)", p, mean, se)
	}
}

func TestHLLDuplicatesAndStrings(t *testing.T) {
	h, _ := NewHLL(14)
	for i := range 100000 {
		h.AddString(fmt.Sprintf("key-%d", i%777))
		h.Add([]byte(fmt.Sprintf("key-%d", i%777))) // same bytes, same value
	}
	if got := h.Estimate(); got < 770 || got > 784 {
		t.Fatalf("777 distinct strings added many times: estimate %d", got)
	}
}

func TestHLLEmpty(t *testing.T) {
	h, _ := NewHLL(14)
	if !h.Empty() || h.Estimate() != 0 {
		t.Fatalf("empty sketch: Empty %v, Estimate %d", h.Empty(), h.Estimate())
	}
	h.AddUint64(7)
	if h.Empty() || h.Estimate() != 1 {
		t.Fatalf("one value: Empty %v, Estimate %d", h.Empty(), h.Estimate())
	}
	h.Reset()
	if !h.Empty() {
		t.Fatal("Reset left registers set")
	}
}

// TestHLLSplitMerge checks that sketches of any split of a stream, merged,
// equal the sketch of the whole stream, register for register.
func TestHLLSplitMerge(t *testing.T) {
	whole, _ := NewHLL(12)
	vals := make([]uint64, 50000)
	rng := rand.New(rand.NewPCG(9, 9))
	for i := range vals {
		vals[i] = rng.Uint64N(20000)
		whole.AddUint64(vals[i])
	}
	for _, parts := range []int{2, 3, 7, 100} {
		merged, _ := NewHLL(12)
		for k := range parts {
			part, _ := NewHLL(12)
			for _, v := range vals[k*len(vals)/parts : (k+1)*len(vals)/parts] {
				part.AddUint64(v)
			}
			if err := merged.Merge(part); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(whole.reg, merged.reg); diff != "" {
			t.Fatalf("%d parts merged differ from the whole (-whole +merged):\n%s", parts, diff)
		}
	}
	other, _ := NewHLL(13)
	if err := whole.Merge(other); err == nil {
		t.Fatal("merging precisions 13 into 12 succeeded")
	}
}

func TestHLLBinaryRoundTrip(t *testing.T) {
	h, _ := NewHLL(11)
	for i := range uint64(3000) {
		h.AddUint64(i)
	}
	b, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var g HLL
	if err := g.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if g.Precision() != 11 || g.Estimate() != h.Estimate() || !cmp.Equal(g.reg, h.reg) {
		t.Fatal("round trip changed the sketch")
	}
	c := h.Clone()
	before := append([]uint8(nil), h.reg...)
	for i := range uint64(5000) {
		c.AddUint64(i << 20)
	}
	if !cmp.Equal(before, h.reg) || cmp.Equal(c.reg, h.reg) {
		t.Fatal("Clone shares registers with the original")
	}
	bad := [][]byte{nil, []byte("HLL"), []byte("XXXX\x0b"), append([]byte("HLL1\x03"), make([]byte, 8)...),
		append([]byte("HLL1\x0b"), make([]byte, 10)...), append(append([]byte("HLL1\x04"), make([]byte, 15)...), 62)}
	for _, b := range bad {
		if err := g.UnmarshalBinary(b); err == nil {
			t.Errorf("UnmarshalBinary(%q) succeeded", b)
		}
	}
}

func BenchmarkHLLAddUint64(b *testing.B) {
	h, _ := NewHLL(14)
	var i uint64
	for b.Loop() {
		h.AddUint64(i)
		i++
	}
}

func BenchmarkHLLEstimate(b *testing.B) {
	h, _ := NewHLL(14)
	for i := range uint64(100000) {
		h.AddUint64(i)
	}
	for b.Loop() {
		h.Estimate()
	}
}
