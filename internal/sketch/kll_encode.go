package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// kllMagic starts the binary form of a KLL.
const kllMagic = "KLL1"

// Bounds that an encoded KLL must respect.
const (
	kllMaxK      = 1 << 16
	kllMaxLevels = 60
)

// ErrKLLEncoding is wrapped by the errors of KLL.UnmarshalBinary.
var ErrKLLEncoding = errors.New("sketch: bad encoded KLL")

// MarshalBinary encodes the sketch: "KLL1"; k, the count and the number of
// levels as unsigned varints; the minimum, the maximum (float64 bits, little
// endian) and the generator state (uint64, little endian); then each level
// as its length (unsigned varint) and its values (float64 bits, little
// endian). The encoding holds the whole state, so a decoded sketch answers
// and evolves exactly as the original.
func (s *KLL) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, len(kllMagic)+3*binary.MaxVarintLen64+24+len(s.levels)*binary.MaxVarintLen64+8*s.size)
	b = append(b, kllMagic...)
	b = binary.AppendUvarint(b, uint64(s.k))
	b = binary.AppendUvarint(b, uint64(s.n))
	b = binary.AppendUvarint(b, uint64(len(s.levels)))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.min))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.maxv))
	b = binary.LittleEndian.AppendUint64(b, s.rng)
	for _, l := range s.levels {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, v := range l {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b, nil
}

// UnmarshalBinary decodes a sketch written by MarshalBinary, replacing s.
// It checks everything a hostile input could get wrong (k, the number of
// levels, lengths against the bytes left, finite values within [min, max],
// level weights that add up to the count, a state that Add could reach)
// and allocates no more than the input's size; errors wrap ErrKLLEncoding
// and leave s unchanged.
func (s *KLL) UnmarshalBinary(b []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrKLLEncoding, fmt.Sprintf(format, args...))
	}
	if len(b) < len(kllMagic) || string(b[:len(kllMagic)]) != kllMagic {
		return bad("missing %q magic", kllMagic)
	}
	b = b[len(kllMagic):]
	uv := func(what string) (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, bad("truncated or overlong %s", what)
		}
		b = b[n:]
		return v, nil
	}
	k, err := uv("k")
	if err != nil {
		return err
	}
	if k < 8 || k > kllMaxK {
		return bad("k = %d outside [8, %d]", k, kllMaxK)
	}
	n, err := uv("count")
	if err != nil {
		return err
	}
	if n > math.MaxInt64 {
		return bad("count %d too large", n)
	}
	nl, err := uv("level count")
	if err != nil {
		return err
	}
	if nl < 1 || nl > kllMaxLevels {
		return bad("%d levels outside [1, %d]", nl, kllMaxLevels)
	}
	if len(b) < 24 {
		return bad("truncated header")
	}
	lo := math.Float64frombits(binary.LittleEndian.Uint64(b))
	hi := math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
	rng := binary.LittleEndian.Uint64(b[16:])
	b = b[24:]
	if rng == 0 {
		return bad("zero generator state")
	}
	t := &KLL{k: int(k), n: int64(n), min: lo, maxv: hi, rng: rng}
	for range nl {
		t.grow()
	}
	var weight uint64
	for h := range int(nl) {
		m, err := uv("level length")
		if err != nil {
			return err
		}
		if m > uint64(len(b)/8) {
			return bad("level %d claims %d values, %d bytes left", h, m, len(b))
		}
		lv := make([]float64, m, max(int(m), t.capacity(h)))
		for i := range lv {
			v := math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			if v-v != 0 {
				return bad("non-finite value at level %d", h)
			}
			if v < lo || v > hi {
				return bad("value %v at level %d outside [min %v, max %v]", v, h, lo, hi)
			}
			lv[i] = v
		}
		b = b[8*m:]
		t.levels[h] = lv
		t.size += int(m)
		w := m << uint(h)
		if m != 0 && (w>>uint(h) != m || weight+w < weight) {
			return bad("level weights overflow")
		}
		weight += w
	}
	if len(b) != 0 {
		return bad("%d trailing bytes", len(b))
	}
	if weight != n {
		return bad("level weights add up to %d, count is %d", weight, n)
	}
	if n == 0 {
		if !math.IsInf(lo, 1) || !math.IsInf(hi, -1) {
			return bad("empty sketch with min %v, max %v", lo, hi)
		}
	} else if lo-lo != 0 || hi-hi != 0 {
		return bad("non-finite min %v or max %v", lo, hi)
	}
	if t.size >= t.max {
		return bad("%d values held, capacity %d", t.size, t.max)
	}
	if t.size == 0 && n != 0 {
		return bad("no values held for count %d", n)
	}
	*s = *t
	return nil
}
