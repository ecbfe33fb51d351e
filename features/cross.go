package features

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// CrossParams are the parameters of the "cross" transform.
type CrossParams struct {
	// NFeatures is the number of hash buckets, the number of outputs
	// (required, 1 to 2^24).
	NFeatures int `json:"n_features"`
	// AlternateSign gives -1 instead of 1 to crosses whose hash is negative,
	// as FeatureHasher does. Default false: outputs are 0/1 indicators.
	AlternateSign bool `json:"alternate_sign"`
}

// Cross is the "cross" transform, a hashed feature cross of two or more
// columns (strings or numbers). A row's cross is the feature name
//
//	<col1>=<value1>^<col2>=<value2>^...
//
// in column order, hashed like the "hash" transform (MurmurHash3 x86 32-bit,
// seed 0, index abs(h) mod n_features) into one of n_features outputs, which
// is set to 1 (or the sign with alternate_sign). Numbers are written in
// Go's shortest form ('g' format, so 3 and 3.0 are both "3", 0.5 is
// "0.5"). A row with a missing value (null, NaN) in any column has no
// cross: all its outputs are 0. Outputs are named
// "<col1>_x_<col2>..._<i>". It needs no fit.
type Cross struct {
	columns  []string
	params   CrossParams
	prefixes []string
	outputs  []string
}

func init() {
	registerKind("cross", kind{New: newCrossSpec, Load: loadCross})
}

func newCrossSpec(columns []string, raw json.RawMessage) (Transform, error) {
	var p CrossParams
	if err := decodeParams("cross", raw, &p); err != nil {
		return nil, err
	}
	return NewCross(columns, p)
}

func loadCross(columns []string, params, _ json.RawMessage) (Transform, error) {
	return newCrossSpec(columns, params)
}

// NewCross returns a hashed feature cross.
func NewCross(columns []string, p CrossParams) (*Cross, error) {
	if err := validColumns("cross", columns); err != nil {
		return nil, err
	}
	if len(columns) < 2 {
		return nil, fmt.Errorf("%w: cross: needs at least two columns", ErrSpec)
	}
	if p.NFeatures < 1 || p.NFeatures > 1<<24 {
		return nil, fmt.Errorf("%w: cross: n_features %d (want 1 to 2^24; it is required)", ErrSpec, p.NFeatures)
	}
	t := &Cross{columns: slices.Clone(columns), params: p}
	for i, c := range columns {
		pre := c + "="
		if i > 0 {
			pre = "^" + pre
		}
		t.prefixes = append(t.prefixes, pre)
	}
	base := strings.Join(columns, "_x_") + "_"
	for i := range p.NFeatures {
		t.outputs = append(t.outputs, base+strconv.Itoa(i))
	}
	return t, nil
}

func (t *Cross) Kind() string      { return "cross" }
func (t *Cross) Inputs() []string  { return slices.Clone(t.columns) }
func (t *Cross) Outputs() []string { return slices.Clone(t.outputs) }
func (t *Cross) Fitted() bool      { return true }
func (t *Cross) Params() any       { return t.params }
func (t *Cross) State() any        { return nil }

func (t *Cross) checkType(i int, dt arrow.DataType) error {
	if isStringType(dt) || isNumericType(dt) {
		return nil
	}
	return fmt.Errorf("%w: cross: column %q has type %s, want a string or a number", ErrType, t.columns[i], dt)
}

// NewFitter returns a fitter that checks types and learns nothing.
func (t *Cross) NewFitter(types []arrow.DataType) (Fitter, error) {
	if len(types) != len(t.columns) {
		return nil, fmt.Errorf("features: cross: %d column types for %d columns", len(types), len(t.columns))
	}
	for i, dt := range types {
		if err := t.checkType(i, dt); err != nil {
			return nil, err
		}
	}
	return statelessFitter{t}, nil
}

// appendNum writes a number of a cross.
func appendNum(buf []byte, x float64) []byte {
	if x == 0 {
		x = 0
	}
	return strconv.AppendFloat(buf, x, 'g', -1, 64)
}

func (t *Cross) Apply(cols []arrow.Array, out [][]float64) error {
	rows, err := checkApply("cross", len(t.columns), len(t.outputs), cols, out)
	if err != nil {
		return err
	}
	for _, o := range out {
		clear(o)
	}
	nums := make([][]float64, len(cols))
	for i, arr := range cols {
		if err := t.checkType(i, arr.DataType()); err != nil {
			return err
		}
		if isNumericType(arr.DataType()) {
			if nums[i], err = floatsOf("cross", t.columns[i], arr, nil); err != nil {
				return err
			}
			for r, x := range nums[i] {
				if math.IsInf(x, 0) {
					return inputErr("cross", t.columns[i], r, strconv.FormatFloat(x, 'g', -1, 64), ErrNonFinite)
				}
			}
		}
	}
	var buf []byte
rowLoop:
	for r := range rows {
		buf = buf[:0]
		for i, arr := range cols {
			buf = append(buf, t.prefixes[i]...)
			if nums[i] != nil {
				x := nums[i][r]
				if x != x {
					continue rowLoop
				}
				buf = appendNum(buf, x)
				continue
			}
			s, ok := stringAt(arr, r)
			if !ok {
				continue rowLoop
			}
			buf = append(buf, s...)
		}
		idx, sign := hashSlot(buf, t.params.NFeatures, t.params.AlternateSign)
		out[idx][r] = sign
	}
	return nil
}

func (t *Cross) ApplyRow(in []Value, out []float64) error {
	if err := checkRow("cross", len(t.columns), len(t.outputs), in, out); err != nil {
		return err
	}
	clear(out)
	var arr [128]byte
	buf := arr[:0]
	missing := false
	for i, v := range in {
		buf = append(buf, t.prefixes[i]...)
		if v.IsNull() {
			missing = true
			continue
		}
		if s, ok := v.Str(); ok {
			buf = append(buf, s...)
			continue
		}
		x, ok := v.Num()
		if !ok {
			return inputErr("cross", t.columns[i], -1, v.String(), fmt.Errorf("%w: got a %s, want a string or a number", ErrType, v.kindName()))
		}
		if math.IsInf(x, 0) {
			return inputErr("cross", t.columns[i], -1, v.String(), ErrNonFinite)
		}
		if x != x {
			missing = true
			continue
		}
		buf = appendNum(buf, x)
	}
	if missing {
		return nil
	}
	idx, sign := hashSlot(buf, t.params.NFeatures, t.params.AlternateSign)
	out[idx] = sign
	return nil
}
