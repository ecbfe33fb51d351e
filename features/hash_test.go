package features

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMurmur3(t *testing.T) {
	// Reference values: scikit-learn's murmurhash3_32 tests and the
	// SMHasher reference implementation.
	cases := []struct {
		in   string
		seed uint32
		want int32
	}{
		{"foo", 0, -156908512},
		{"foo", 42, -1322301282},
		{"", 0, 0},
		{"", 1, 0x514E28B7},
		{"hello", 0, 0x248bfa47},
		{"Hello, world!", 1234, -0x0509324d /* 0xfaf6cdb3 */},
	}
	for _, c := range cases {
		if got := murmur3([]byte(c.in), c.seed); got != c.want {
			t.Errorf("murmur3(%q, %d) = %d, want %d", c.in, c.seed, got, c.want)
		}
	}
}

// slotOf computes a feature's index and sign from its hash by hand.
func f2Slot(key string, n int) (int, float64) {
	h := int64(murmur3([]byte(key), 0))
	sign := 1.0
	if h < 0 {
		sign = -1
		h = -h
	}
	return int(h % int64(n)), sign
}

func TestHashString(t *testing.T) {
	mem := f2Mem(t)
	a := f2Str(t, mem, "foo", "foo", f2Null)
	b := f2Str(t, mem, "hello", "foo", "hello")
	tr := f2New(t, "hash", []string{"a", "b"}, `{"n_features":8,"input_type":"string"}`)
	if got := tr.Outputs(); len(got) != 8 || got[0] != "a_b_hash_0" || got[7] != "a_b_hash_7" {
		t.Fatalf("outputs %v", got)
	}
	// "foo" hashes to -156908512: index 156908512 mod 8 = 0, sign -1.
	// "hello" hashes to 0x248bfa47 = 613153351: index 7, sign +1.
	want := [][]float64{
		{-1, 0, 0, 0, 0, 0, 0, 1},
		{-2, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0, 0, 0, 0, 0, 1},
	}
	fitted := f2Fit(t, tr, a, b)
	f2Same(t, f2Apply(t, fitted, a, b), want)
	f2Same(t, f2Apply(t, f2RoundTrip(t, fitted), a, b), want)
	// Without alternate_sign every feature counts +1.
	pos := f2New(t, "hash", []string{"a", "b"}, `{"n_features":8,"input_type":"string","alternate_sign":false}`)
	f2Same(t, f2Apply(t, pos, f2Dict(t, mem, "foo", "foo", f2Null), b), [][]float64{
		{1, 0, 0, 0, 0, 0, 0, 1}, {2, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 1},
	})
	// Numbers are not strings in input_type "string".
	if _, err := tr.NewFitter(f2Types([]arrowArray{a, f2F64(t, mem, 1, 2, 3)})); !errors.Is(err, ErrType) {
		t.Fatalf("numeric column: %v", err)
	}
	if err := tr.ApplyRow([]Value{String("x"), Float(1)}, make([]float64, 8)); !errors.Is(err, ErrType) {
		t.Fatalf("numeric value: %v", err)
	}
}

func TestHashDict(t *testing.T) {
	mem := f2Mem(t)
	c := f2Str(t, mem, "foo", "bar", f2Null)
	x := f2F64Null(t, mem, 2.5, 0, math.NaN())
	const n = 16
	tr := f2New(t, "hash", []string{"c", "x"}, `{"n_features":16}`)
	want := make([][]float64, 3)
	for r := range want {
		want[r] = make([]float64, n)
	}
	i, s := f2Slot("c=foo", n)
	want[0][i] += s
	j, s2 := f2Slot("x", n)
	want[0][j] += s2 * 2.5
	i, s = f2Slot("c=bar", n)
	want[1][i] += s
	got := f2Apply(t, tr, c, x)
	f2Same(t, got, want)
	if err := tr.ApplyRow([]Value{String("a"), Float(math.Inf(-1))}, make([]float64, n)); !errors.Is(err, ErrNonFinite) {
		t.Fatalf("Inf: %v", err)
	}
	for _, bad := range []string{`{}`, `{"n_features":0}`, `{"n_features":4,"input_type":"pair"}`, `{"n_features":4,"x":1}`} {
		if _, err := kinds["hash"].New([]string{"c"}, json.RawMessage(bad)); !errors.Is(err, ErrSpec) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	// Stateless: merged fit is the transform itself.
	merged := f2FitMerged(t, tr, c, x)
	if d := cmp.Diff(tr.Outputs(), merged.Outputs()); d != "" {
		t.Fatal(d)
	}
}

var timeZero = time.Unix(0, 0)
