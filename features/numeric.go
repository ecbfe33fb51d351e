package features

import (
	"fmt"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// numBase holds what every numeric transform has: its kind and columns. A
// numeric transform reads int, uint, float and bool columns (bool as 0 and
// 1); null and NaN are missing values, passed through as NaN; ±Inf is an
// error (ErrNonFinite) at fit and at apply time.
type numBase struct {
	kind string
	cols []string
}

func (b *numBase) Kind() string     { return b.kind }
func (b *numBase) Inputs() []string { return b.cols }

// fmtNum formats a number for error messages.
func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func checkArity(kind string, what string, got, want int) error {
	if got != want {
		return fmt.Errorf("features: %s: %d %s for %d columns", kind, got, what, want)
	}
	return nil
}

// addNum converts each column of one fit batch and calls f with every
// non-missing value; ±Inf is an error naming column and row.
func addNum(kind string, cols []string, arrs []arrow.Array, scratch *[]float64, f func(j int, x float64)) error {
	if err := checkArity(kind, "arrays", len(arrs), len(cols)); err != nil {
		return err
	}
	for j, a := range arrs {
		xs, err := floatsOf(kind, cols[j], a, (*scratch)[:0])
		*scratch = xs
		if err != nil {
			return err
		}
		for i, x := range xs {
			if x != x {
				continue
			}
			if math.IsInf(x, 0) {
				return inputErr(kind, cols[j], i, fmtNum(x), ErrNonFinite)
			}
			f(j, x)
		}
	}
	return nil
}

// applyNum converts each column of a batch into out[j] and replaces every
// value x by f(j, x); missing values (NaN) are passed to f too. ±Inf is an
// error naming column and row.
func applyNum(kind string, cols []string, arrs []arrow.Array, out [][]float64, f func(j int, x float64) float64) error {
	if err := checkArity(kind, "arrays", len(arrs), len(cols)); err != nil {
		return err
	}
	if err := checkArity(kind, "outputs", len(out), len(cols)); err != nil {
		return err
	}
	for j, a := range arrs {
		o := out[j]
		if len(o) != a.Len() {
			return fmt.Errorf("features: %s: output %d has %d rows for %d", kind, j, len(o), a.Len())
		}
		xs, err := floatsOf(kind, cols[j], a, o[:0])
		if err != nil {
			return err
		}
		for i, x := range xs {
			if math.IsInf(x, 0) {
				return inputErr(kind, cols[j], i, fmtNum(x), ErrNonFinite)
			}
			xs[i] = f(j, x)
		}
	}
	return nil
}

// applyNumRow is applyNum for one row.
func applyNumRow(kind string, cols []string, in []Value, out []float64, f func(j int, x float64) float64) error {
	if err := checkArity(kind, "values", len(in), len(cols)); err != nil {
		return err
	}
	if err := checkArity(kind, "outputs", len(out), len(cols)); err != nil {
		return err
	}
	for j := range in {
		x, err := numOf(kind, cols[j], in[j])
		if err != nil {
			return err
		}
		if math.IsInf(x, 0) {
			return inputErr(kind, cols[j], -1, fmtNum(x), ErrNonFinite)
		}
		out[j] = f(j, x)
	}
	return nil
}

// handleZerosInScale replaces scales too close to zero by 1, as
// scikit-learn's _handle_zeros_in_scale does (scale < 10*eps).
func handleZerosInScale(scale float64) float64 {
	if scale < 10*eps || scale != scale {
		return 1
	}
	return scale
}

const eps = 2.220446049250313e-16 // numpy.finfo(float64).eps

// checkLen checks a loaded state slice's length.
func checkLen(kind, field string, got, want int) error {
	if got != want {
		return fmt.Errorf("%w: %s: %s has %d values for %d columns", ErrState, kind, field, got, want)
	}
	return nil
}

// validColumns validates a spec's column list.
func validColumns(kind string, cols []string) error {
	if len(cols) == 0 {
		return fmt.Errorf("%w: %s: no columns", ErrSpec, kind)
	}
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if c == "" {
			return fmt.Errorf("%w: %s: empty column name", ErrSpec, kind)
		}
		if seen[c] {
			return fmt.Errorf("%w: %s: column %q listed twice", ErrSpec, kind, c)
		}
		seen[c] = true
	}
	return nil
}

// mergeTypeErr reports a Merge with a Fitter of another transform.
func mergeTypeErr(kind string, other Fitter) error {
	return fmt.Errorf("features: %s: cannot merge a %T", kind, other)
}
