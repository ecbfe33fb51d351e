package features

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// murmur3 returns MurmurHash3 x86 32-bit of data with seed, as a signed
// 32-bit integer, as scikit-learn's murmurhash3_bytes_s32 returns it.
func murmur3(data []byte, seed uint32) int32 {
	const c1, c2 = 0xcc9e2d51, 0x1b873593
	h := seed
	n := len(data)
	i := 0
	for ; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
		h = bits.RotateLeft32(h, 13)
		h = h*5 + 0xe6546b64
	}
	var k uint32
	switch n & 3 {
	case 3:
		k ^= uint32(data[i+2]) << 16
		fallthrough
	case 2:
		k ^= uint32(data[i+1]) << 8
		fallthrough
	case 1:
		k ^= uint32(data[i])
		k *= c1
		k = bits.RotateLeft32(k, 15)
		k *= c2
		h ^= k
	}
	h ^= uint32(n)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int32(h)
}

// hashSlot maps a feature name to its output index and sign, as
// scikit-learn's FeatureHasher does: index abs(h) mod n (with scikit-learn's
// special case for h = -2^31), sign -1 for negative h when alternate_sign.
func hashSlot(key []byte, n int, alternate bool) (int, float64) {
	h := murmur3(key, 0)
	var idx int
	if h == math.MinInt32 {
		idx = int((2147483647 - int64(n-1)) % int64(n))
	} else {
		a := int64(h)
		if a < 0 {
			a = -a
		}
		idx = int(a % int64(n))
	}
	sign := 1.0
	if alternate && h < 0 {
		sign = -1
	}
	return idx, sign
}

// HashParams are the parameters of the "hash" transform, named after
// scikit-learn's FeatureHasher.
type HashParams struct {
	// NFeatures is the number of outputs (required: scikit-learn's default
	// of 2^20 dense columns is not useful here). At most 2^24.
	NFeatures int `json:"n_features"`
	// InputType is "dict" (default) or "string", see Hash.
	InputType string `json:"input_type"`
	// AlternateSign flips the sign of features whose hash is negative
	// (default true), so collisions cancel on average.
	AlternateSign *bool `json:"alternate_sign,omitempty"`
}

// Hash is the "hash" transform, scikit-learn's FeatureHasher applied to the
// row of its input columns. With input_type "dict" a row is the dict
// {column: value}: a string value adds 1 to the feature "column=value", a
// number adds itself to the feature "column" (as FeatureHasher does; a zero
// adds nothing). With input_type "string" a row is the list of its string
// values, each adding 1 to the feature named by the value. A feature name
// is hashed with MurmurHash3 (x86, 32-bit, seed 0) of its UTF-8 bytes.
// Missing values (null, NaN) add nothing: the key is absent from the row.
// Outputs are named "<columns joined by _>_hash_<i>". It needs no fit.
type Hash struct {
	columns   []string
	params    HashParams
	alternate bool
	prefixes  [][]byte
	outputs   []string
}

func init() {
	registerKind("hash", kind{New: newHashSpec, Load: loadHash})
}

func newHashSpec(columns []string, raw json.RawMessage) (Transform, error) {
	var p HashParams
	if err := decodeParams("hash", raw, &p); err != nil {
		return nil, err
	}
	return NewHash(columns, p)
}

func loadHash(columns []string, params, _ json.RawMessage) (Transform, error) {
	return newHashSpec(columns, params)
}

// NewHash returns a feature hasher.
func NewHash(columns []string, p HashParams) (*Hash, error) {
	if err := validColumns("hash", columns); err != nil {
		return nil, err
	}
	if p.NFeatures < 1 || p.NFeatures > 1<<24 {
		return nil, fmt.Errorf("%w: hash: n_features %d (want 1 to 2^24; it is required)", ErrSpec, p.NFeatures)
	}
	if p.InputType == "" {
		p.InputType = "dict"
	}
	if p.InputType != "dict" && p.InputType != "string" {
		return nil, fmt.Errorf("%w: hash: input_type %q (want dict or string)", ErrSpec, p.InputType)
	}
	t := &Hash{columns: slices.Clone(columns), params: p, alternate: p.AlternateSign == nil || *p.AlternateSign}
	for _, c := range columns {
		t.prefixes = append(t.prefixes, []byte(c+"="))
	}
	base := strings.Join(columns, "_") + "_hash_"
	for i := range p.NFeatures {
		t.outputs = append(t.outputs, base+strconv.Itoa(i))
	}
	return t, nil
}

func (t *Hash) Kind() string      { return "hash" }
func (t *Hash) Inputs() []string  { return slices.Clone(t.columns) }
func (t *Hash) Outputs() []string { return slices.Clone(t.outputs) }
func (t *Hash) Fitted() bool      { return true }
func (t *Hash) Params() any       { return t.params }
func (t *Hash) State() any        { return nil }

func (t *Hash) checkType(i int, dt arrow.DataType) error {
	if isStringType(dt) || (t.params.InputType == "dict" && isNumericType(dt)) {
		return nil
	}
	want := "a string or a number"
	if t.params.InputType == "string" {
		want = "a string"
	}
	return fmt.Errorf("%w: hash: column %q has type %s, want %s", ErrType, t.columns[i], dt, want)
}

// NewFitter returns a fitter that checks types and learns nothing.
func (t *Hash) NewFitter(types []arrow.DataType) (Fitter, error) {
	if len(types) != len(t.columns) {
		return nil, fmt.Errorf("features: hash: %d column types for %d columns", len(types), len(t.columns))
	}
	for i, dt := range types {
		if err := t.checkType(i, dt); err != nil {
			return nil, err
		}
	}
	return statelessFitter{t}, nil
}

// key returns the feature name of a string value of column i.
func (t *Hash) key(buf []byte, i int, s string) []byte {
	if t.params.InputType == "dict" {
		buf = append(buf[:0], t.prefixes[i]...)
		return append(buf, s...)
	}
	return append(buf[:0], s...)
}

func (t *Hash) Apply(cols []arrow.Array, out [][]float64) error {
	rows, err := checkApply("hash", len(t.columns), len(t.outputs), cols, out)
	if err != nil {
		return err
	}
	for _, o := range out {
		clear(o)
	}
	n := t.params.NFeatures
	var buf []byte
	var nums []float64
	for i, arr := range cols {
		if err := t.checkType(i, arr.DataType()); err != nil {
			return err
		}
		if isNumericType(arr.DataType()) {
			if nums, err = floatsOf("hash", t.columns[i], arr, nums); err != nil {
				return err
			}
			idx, sign := hashSlot([]byte(t.columns[i]), n, t.alternate)
			o := out[idx]
			for r, x := range nums {
				if x != x || x == 0 {
					continue
				}
				if math.IsInf(x, 0) {
					return inputErr("hash", t.columns[i], r, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
				}
				o[r] += sign * x
			}
			continue
		}
		if d, ok := arr.(*array.Dictionary); ok {
			dict := d.Dictionary()
			idxs := make([]int, dict.Len())
			signs := make([]float64, dict.Len())
			for j := range idxs {
				s, ok := stringAt(dict, j)
				if !ok {
					idxs[j] = -1
					continue
				}
				buf = t.key(buf, i, s)
				idxs[j], signs[j] = hashSlot(buf, n, t.alternate)
			}
			for r := range rows {
				if d.IsNull(r) {
					continue
				}
				j := d.GetValueIndex(r)
				if idxs[j] >= 0 {
					out[idxs[j]][r] += signs[j]
				}
			}
			continue
		}
		for r := range rows {
			s, ok := stringAt(arr, r)
			if !ok {
				continue
			}
			buf = t.key(buf, i, s)
			idx, sign := hashSlot(buf, n, t.alternate)
			out[idx][r] += sign
		}
	}
	return nil
}

func (t *Hash) ApplyRow(in []Value, out []float64) error {
	if err := checkRow("hash", len(t.columns), len(t.outputs), in, out); err != nil {
		return err
	}
	clear(out)
	n := t.params.NFeatures
	var arr [128]byte
	buf := arr[:0]
	for i, v := range in {
		if v.IsNull() {
			continue
		}
		if s, ok := v.Str(); ok {
			buf = t.key(buf, i, s)
			idx, sign := hashSlot(buf, n, t.alternate)
			out[idx] += sign
			continue
		}
		x, ok := v.Num()
		if !ok || t.params.InputType == "string" {
			want := "a string or a number"
			if t.params.InputType == "string" {
				want = "a string"
			}
			return inputErr("hash", t.columns[i], -1, v.String(), fmt.Errorf("%w: got a %s, want %s", ErrType, v.kindName(), want))
		}
		if x != x || x == 0 {
			continue
		}
		if math.IsInf(x, 0) {
			return inputErr("hash", t.columns[i], -1, v.String(), ErrNonFinite)
		}
		buf = append(buf[:0], t.columns[i]...)
		idx, sign := hashSlot(buf, n, t.alternate)
		out[idx] += sign * x
	}
	return nil
}

// statelessFitter is the fitter of a transform with no fitted state: it
// learns nothing and finishes with the transform itself.
type statelessFitter struct{ t Transform }

func (f statelessFitter) Add([]arrow.Array) error { return nil }
func (f statelessFitter) Merge(other Fitter) error {
	if _, ok := other.(statelessFitter); !ok {
		return mergeTypeErr(f.t.Kind(), other)
	}
	return nil
}
func (f statelessFitter) Finish() (Transform, error) { return f.t, nil }
