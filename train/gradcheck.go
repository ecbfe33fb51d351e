package train

import (
	"fmt"
	"math"

	"github.com/kilnml/kiln/tensor"
)

// GradCheckOptions configure CheckGradient. The zero value suits float64
// inputs of moderate size.
type GradCheckOptions struct {
	// Step is the finite-difference step (0: 1e-6).
	Step float64
	// Tol is the tolerance on |analytic - numeric| / max(1, |numeric|)
	// (0: 1e-5).
	Tol float64
}

// CheckGradient compares the gradients Backward computes for f, a
// function of the inputs giving a single-element result, with central
// finite differences (f(x+h) - f(x-h)) / 2h element by element. Use
// float64 inputs: float32 rounding swamps the differences. It returns an
// error naming the first input and element that disagree. f must be
// deterministic (no dropout).
func CheckGradient(f func(xs []*Var) *Var, inputs []*tensor.Tensor, o GradCheckOptions) error {
	h, tol := o.Step, o.Tol
	if h == 0 {
		h = 1e-6
	}
	if tol == 0 {
		tol = 1e-5
	}
	vals := make([][]float64, len(inputs))
	for i, t := range inputs {
		v, err := t.Float64s()
		if err != nil {
			return err
		}
		vals[i] = v
	}
	build := func() ([]*Var, error) {
		xs := make([]*Var, len(inputs))
		for i, t := range inputs {
			c, err := fromValues(t, vals[i])
			if err != nil {
				return nil, err
			}
			xs[i] = NewParam(fmt.Sprintf("x%d", i), c)
		}
		return xs, nil
	}
	eval := func() (float64, error) {
		xs, err := build()
		if err != nil {
			return 0, err
		}
		y := f(xs)
		if err := y.Err(); err != nil {
			return 0, err
		}
		if y.Value.Len() != 1 {
			return 0, fmt.Errorf("train: CheckGradient: f gave a %v value, want one element", y.Value.Shape())
		}
		v, err := y.Value.Float64s()
		if err != nil {
			return 0, err
		}
		return v[0], nil
	}
	xs, err := build()
	if err != nil {
		return err
	}
	y := f(xs)
	if err := y.Backward(); err != nil {
		return err
	}
	for i, x := range xs {
		var analytic []float64
		if x.Grad != nil {
			if analytic, err = x.Grad.Float64s(); err != nil {
				return err
			}
		} else {
			analytic = make([]float64, len(vals[i]))
		}
		for j := range vals[i] {
			orig := vals[i][j]
			vals[i][j] = orig + h
			fp, err := eval()
			if err != nil {
				return err
			}
			vals[i][j] = orig - h
			fm, err := eval()
			if err != nil {
				return err
			}
			vals[i][j] = orig
			num := (fp - fm) / (2 * h)
			if d := math.Abs(analytic[j] - num); !(d <= tol*math.Max(1, math.Abs(num))) {
				return fmt.Errorf("train: CheckGradient: input %d element %d: backward gives %.10g, finite differences %.10g", i, j, analytic[j], num)
			}
		}
	}
	return nil
}

// fromValues returns a tensor of like's type and shape holding vals.
func fromValues(like *tensor.Tensor, vals []float64) (*tensor.Tensor, error) {
	return hostTensor(like, vals, like.Shape()...)
}
