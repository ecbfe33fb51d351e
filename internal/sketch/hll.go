// Package sketch holds small, mergeable summaries of streams of values that
// the version and monitor packages share.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Precision bounds of a HyperLogLog.
const (
	MinPrecision = 4
	MaxPrecision = 18
)

// HLL is a HyperLogLog sketch: it estimates the number of distinct values
// added to it from 2^p registers of one byte each, with a relative standard
// error of about 1.04/sqrt(2^p) (0.81% at precision 14, in 16 KiB). Values
// are added as 64-bit hashes; use Hash or HashUint64 so that sketches built
// in different places agree.
//
// Adding is order-independent and idempotent, so a sketch built from any
// split of a stream, merged in any order, has the same registers. The
// estimate is Ertl's improved estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017), which needs no empirical bias
// tables and is accurate from a handful of values to billions.
//
// The zero value is not usable; make one with NewHLL. An HLL is not safe for
// concurrent use.
type HLL struct {
	p   uint8
	reg []uint8
}

// ErrPrecision is returned for a precision outside [MinPrecision, MaxPrecision]
// and when merging sketches of different precisions.
var ErrPrecision = errors.New("sketch: bad HyperLogLog precision")

// NewHLL returns an empty sketch of 2^precision registers.
func NewHLL(precision int) (*HLL, error) {
	if precision < MinPrecision || precision > MaxPrecision {
		return nil, fmt.Errorf("%w: %d (want %d..%d)", ErrPrecision, precision, MinPrecision, MaxPrecision)
	}
	return &HLL{p: uint8(precision), reg: make([]uint8, 1<<precision)}, nil
}

// Precision returns the sketch's precision p (it has 2^p registers).
func (h *HLL) Precision() int { return int(h.p) }

// AddHash adds a value by its 64-bit hash, which must be well mixed (every
// bit equally likely), as Hash and HashUint64 are.
func (h *HLL) AddHash(x uint64) {
	p := h.p
	i := x >> (64 - p)
	// The rank is the position of the first 1 bit after the index bits;
	// the sentinel bit bounds it at 64-p+1.
	w := x<<p | 1<<(p-1)
	r := uint8(bits.LeadingZeros64(w)) + 1
	if r > h.reg[i] {
		h.reg[i] = r
	}
}

// Add adds the value whose canonical bytes are b.
func (h *HLL) Add(b []byte) { h.AddHash(Hash(b)) }

// AddString adds the value whose canonical bytes are those of s.
func (h *HLL) AddString(s string) { h.AddHash(xxhash.Sum64String(s)) }

// AddUint64 adds the 8-byte value v (its canonical bytes are v in little
// endian order).
func (h *HLL) AddUint64(v uint64) { h.AddHash(HashUint64(v)) }

// Merge adds every value of o to h; both must have the same precision.
func (h *HLL) Merge(o *HLL) error {
	if o.p != h.p {
		return fmt.Errorf("%w: cannot merge precision %d into %d", ErrPrecision, o.p, h.p)
	}
	for i, r := range o.reg {
		if r > h.reg[i] {
			h.reg[i] = r
		}
	}
	return nil
}

// Reset empties the sketch.
func (h *HLL) Reset() { clear(h.reg) }

// Clone returns an independent copy of h.
func (h *HLL) Clone() *HLL {
	return &HLL{p: h.p, reg: append([]uint8(nil), h.reg...)}
}

// Empty reports whether nothing was added.
func (h *HLL) Empty() bool {
	for _, r := range h.reg {
		if r != 0 {
			return false
		}
	}
	return true
}

// Estimate returns the estimated number of distinct values added, rounded
// to the nearest integer. An empty sketch gives 0.
func (h *HLL) Estimate() uint64 {
	m := float64(len(h.reg))
	q := 64 - int(h.p)
	var count [65]int
	for _, r := range h.reg {
		count[r]++
	}
	if count[0] == len(h.reg) {
		return 0
	}
	z := m * hllTau(1-float64(count[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(count[k]))
	}
	z += m * hllSigma(float64(count[0])/m)
	e := m * m / (2 * math.Ln2 * z)
	if e >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(math.Round(e))
}

// hllSigma is σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1), the correction for empty
// registers.
func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y := 1.0
	z := x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

// hllTau is τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))^2 2^-k) / 3, the
// correction for saturated registers.
func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y := 1.0
	z := 1 - x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// hllMagic starts the binary form of an HLL.
const hllMagic = "HLL1"

// MarshalBinary encodes the sketch: "HLL1", the precision byte, then the
// registers.
func (h *HLL) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, len(hllMagic)+1+len(h.reg))
	b = append(b, hllMagic...)
	b = append(b, h.p)
	return append(b, h.reg...), nil
}

// UnmarshalBinary decodes a sketch written by MarshalBinary, replacing h.
func (h *HLL) UnmarshalBinary(b []byte) error {
	if len(b) < len(hllMagic)+1 || string(b[:len(hllMagic)]) != hllMagic {
		return errors.New("sketch: not an encoded HyperLogLog")
	}
	p := int(b[len(hllMagic)])
	if p < MinPrecision || p > MaxPrecision {
		return fmt.Errorf("%w: %d in encoded HyperLogLog", ErrPrecision, p)
	}
	reg := b[len(hllMagic)+1:]
	if len(reg) != 1<<p {
		return fmt.Errorf("sketch: encoded HyperLogLog of precision %d has %d registers, want %d", p, len(reg), 1<<p)
	}
	for _, r := range reg {
		if int(r) > 64-p+1 {
			return fmt.Errorf("sketch: encoded HyperLogLog has a register of %d, above %d", r, 64-p+1)
		}
	}
	h.p = uint8(p)
	h.reg = append(h.reg[:0], reg...)
	return nil
}

// Hash is the 64-bit hash of a value's canonical bytes that sketches use:
// XXH64 with seed 0. Values shorter than 32 bytes, the common case of keys
// and codes, are hashed inline, which is several times faster than a call
// for values of a few bytes.
func Hash(b []byte) uint64 {
	if len(b) >= 32 {
		return xxhash.Sum64(b)
	}
	h := uint64(prime5) + uint64(len(b))
	for ; len(b) >= 8; b = b[8:] {
		k := binary.LittleEndian.Uint64(b) * prime2
		k = bits.RotateLeft64(k, 31) * prime1
		h ^= k
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// XXH64 constants.
const (
	prime1 = 11400714785074694791
	prime2 = 14029467366897019727
	prime3 = 1609587929392839161
	prime4 = 9650029242287828579
	prime5 = 2870177450012600261
)

// HashUint64 returns Hash of the 8 bytes of v in little-endian order,
// computed without going through memory.
func HashUint64(v uint64) uint64 {
	h := uint64(prime5) + 8
	k := v * prime2
	k = bits.RotateLeft64(k, 31) * prime1
	h ^= k
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}
