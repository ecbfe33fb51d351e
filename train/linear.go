package train

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/kilnml/kiln/tensor"
)

// LinearOptions configure FitLinear. The zero value fits ordinary least
// squares with an intercept, like scikit-learn's LinearRegression().
type LinearOptions struct {
	// L2 is the ridge penalty α of scikit-learn's Ridge(alpha=α): the fit
	// minimizes ||y - Xw - b||² + α·||w||² (the intercept b is not
	// penalized). 0 means ordinary least squares. Negative is an error.
	L2 float64
	// NoIntercept fits y ≈ Xw without an intercept (scikit-learn's
	// fit_intercept=False); by default the columns of X and y are centred
	// first and the intercept is recovered from the means.
	NoIntercept bool
}

// A LinearModel is a fitted linear regression: y ≈ x·Coefᵀ + Intercept.
// Its fields are exported so that a model can be stored and rebuilt.
type LinearModel struct {
	// Coef holds the coefficients as a float64 tensor of shape t×d, one row
	// per target and one column per feature (scikit-learn's coef_ layout,
	// with a single row for a 1-D target).
	Coef *tensor.Tensor
	// Intercept holds one intercept per target (zeros when fitted with
	// NoIntercept).
	Intercept []float64
	// MultiOutput records that the model was fitted to an n×t target:
	// Predict then returns n×t predictions, and n otherwise.
	MultiOutput bool
	// Rank is the effective rank of the (centred) design matrix that an
	// ordinary least-squares fit found; it is d for a ridge fit.
	Rank int
}

// FitLinear fits a linear regression of y on x: ordinary least squares, or
// ridge regression when o.L2 > 0.
//
// x is n×d and y is n (one target) or n×t (t targets), float32 or float64;
// everything is computed in float64. Unless o.NoIntercept is set, the
// columns of x and y are centred first and the intercept is recovered from
// the means, as scikit-learn does.
//
// Least squares is solved with a singular value decomposition and returns
// the minimum-norm solution when x is rank deficient (collinear columns,
// more columns than rows), as numpy.linalg.lstsq does: singular values
// below max(n, d)·ε times the largest are treated as zero. Ridge solves
// (XᵀX + αI)·w = Xᵀy by Cholesky factorization (scikit-learn's "cholesky"
// solver); the result matches Ridge(alpha=α) to rounding.
//
// Errors wrap tensor.ErrShape for a shape mismatch and ErrData for NaN or
// infinite values or an empty x.
func FitLinear(x, y *tensor.Tensor, o LinearOptions) (*LinearModel, error) {
	if math.IsNaN(o.L2) || math.IsInf(o.L2, 0) || o.L2 < 0 {
		return nil, fmt.Errorf("train: FitLinear: L2 = %v must be finite and >= 0: %w", o.L2, ErrData)
	}
	xs, n, d, err := linMatrix("FitLinear", "x", x)
	if err != nil {
		return nil, err
	}
	if y == nil {
		return nil, fmt.Errorf("train: FitLinear: y: %w", ErrNilTensor)
	}
	multi := y.Rank() == 2
	if y.Rank() != 1 && !multi {
		return nil, fmt.Errorf("train: FitLinear: y has shape %v, want [%d] or [%d t]: %w", y.Shape(), n, n, tensor.ErrShape)
	}
	if y.Shape()[0] != n {
		return nil, fmt.Errorf("train: FitLinear: y has shape %v but x has %d rows: %w", y.Shape(), n, tensor.ErrShape)
	}
	t := 1
	if multi {
		t = y.Shape()[1]
	}
	if t == 0 {
		return nil, fmt.Errorf("train: FitLinear: y has shape %v, no targets: %w", y.Shape(), tensor.ErrShape)
	}
	ys, err := linFloats("FitLinear", "y", y)
	if err != nil {
		return nil, err
	}

	// Centre the columns of x and y.
	xMean := make([]float64, d)
	yMean := make([]float64, t)
	if !o.NoIntercept {
		linColumnMeans(xMean, xs, n, d)
		linColumnMeans(yMean, ys, n, t)
		linSubtractRows(xs, xMean, n, d)
		linSubtractRows(ys, yMean, n, t)
	}
	xm := mat.NewDense(n, d, xs)
	ym := mat.NewDense(n, t, ys)

	var w mat.Dense // d×t
	rank := d
	if o.L2 == 0 {
		var svd mat.SVD
		if !svd.Factorize(xm, mat.SVDThin) {
			return nil, fmt.Errorf("train: FitLinear: singular value decomposition of the %d×%d design matrix did not converge: %w", n, d, ErrData)
		}
		rank = svd.Rank(float64(max(n, d)) * 0x1p-52)
		if rank == 0 {
			// x is zero (after centring): every coefficient is 0.
			w.ReuseAs(d, t)
			w.Zero()
		} else {
			svd.SolveTo(&w, ym, rank)
		}
	} else {
		var a mat.SymDense
		a.SymOuterK(1, xm.T())
		for j := 0; j < d; j++ {
			a.SetSym(j, j, a.At(j, j)+o.L2)
		}
		var b mat.Dense
		b.Mul(xm.T(), ym)
		var chol mat.Cholesky
		if !chol.Factorize(&a) {
			return nil, fmt.Errorf("train: FitLinear: XᵀX + %v·I is not positive definite (L2 too small for the scale of x): %w", o.L2, ErrData)
		}
		if err := chol.SolveTo(&w, &b); err != nil {
			return nil, fmt.Errorf("train: FitLinear: ridge solve: %w", err)
		}
	}

	coef := make([]float64, t*d)
	intercept := make([]float64, t)
	for k := 0; k < t; k++ {
		b := yMean[k]
		for j := 0; j < d; j++ {
			c := w.At(j, k)
			coef[k*d+j] = c
			b -= xMean[j] * c
		}
		if !o.NoIntercept {
			intercept[k] = b
		}
	}
	ct, err := tensor.FromFloat64s(coef, t, d)
	if err != nil {
		return nil, fmt.Errorf("train: FitLinear: %w", err)
	}
	return &LinearModel{Coef: ct, Intercept: intercept, MultiOutput: multi, Rank: rank}, nil
}

// Predict returns x·Coefᵀ + Intercept for the rows of x (n×d, float32 or
// float64) as a float64 tensor: n values, or n×t when the model was fitted
// to several targets. NaN or infinite inputs are an ErrData error.
func (m *LinearModel) Predict(x *tensor.Tensor) (*tensor.Tensor, error) {
	coef, t, d, err := m.check()
	if err != nil {
		return nil, err
	}
	xs, n, dx, err := linMatrix("LinearModel.Predict", "x", x)
	if err != nil {
		return nil, err
	}
	if dx != d {
		return nil, fmt.Errorf("train: LinearModel.Predict: x has %d columns, the model %d features: %w", dx, d, tensor.ErrShape)
	}
	out := make([]float64, n*t)
	linAffine(out, xs, coef, m.Intercept, n, d, t)
	if m.MultiOutput {
		return tensor.FromFloat64s(out, n, t)
	}
	return tensor.FromFloat64s(out, n)
}

func (m *LinearModel) check() (coef []float64, t, d int, err error) {
	if m == nil || m.Coef == nil {
		return nil, 0, 0, fmt.Errorf("train: LinearModel.Predict: model has no coefficients: %w", ErrNilTensor)
	}
	if m.Coef.Rank() != 2 {
		return nil, 0, 0, fmt.Errorf("train: LinearModel.Predict: Coef has shape %v, want [t d]: %w", m.Coef.Shape(), tensor.ErrShape)
	}
	t, d = m.Coef.Shape()[0], m.Coef.Shape()[1]
	if len(m.Intercept) != t || (!m.MultiOutput && t != 1) {
		return nil, 0, 0, fmt.Errorf("train: LinearModel.Predict: Coef has shape %v but %d intercepts (MultiOutput %v): %w", m.Coef.Shape(), len(m.Intercept), m.MultiOutput, tensor.ErrShape)
	}
	coef, err = m.Coef.Float64s()
	return coef, t, d, err
}

// linAffine sets out (n×t) = x (n×d) · wᵀ (w t×d) + b.
func linAffine(out, x, w, b []float64, n, d, t int) {
	for i := 0; i < n; i++ {
		xi := x[i*d : i*d+d]
		oi := out[i*t : i*t+t]
		for k := 0; k < t; k++ {
			oi[k] = linDot(xi, w[k*d:k*d+d]) + b[k]
		}
	}
}

// linDot returns Σ a[i]·b[i] with four accumulators.
func linDot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// linMatrix returns a copy of the n×d matrix x as row-major float64s,
// checking its rank and that every value is finite; fn and name say where
// in an error message.
func linMatrix(fn, name string, x *tensor.Tensor) ([]float64, int, int, error) {
	if x == nil {
		return nil, 0, 0, fmt.Errorf("train: %s: %s: %w", fn, name, ErrNilTensor)
	}
	if x.Rank() != 2 {
		return nil, 0, 0, fmt.Errorf("train: %s: %s has shape %v, want [n d]: %w", fn, name, x.Shape(), tensor.ErrShape)
	}
	n, d := x.Shape()[0], x.Shape()[1]
	if n == 0 {
		return nil, 0, 0, fmt.Errorf("train: %s: %s has no rows: %w", fn, name, ErrData)
	}
	data, err := linFloats(fn, name, x)
	return data, n, d, err
}

// linFloats returns the elements of x as float64s, checking that they are
// finite.
func linFloats(fn, name string, x *tensor.Tensor) ([]float64, error) {
	data, err := x.Float64s()
	if err != nil {
		return nil, fmt.Errorf("train: %s: %s: %w", fn, name, err)
	}
	for i, v := range data {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			shape := x.Shape()
			if len(shape) == 2 && shape[1] > 0 {
				return nil, fmt.Errorf("train: %s: %s[%d, %d] is %v: %w", fn, name, i/shape[1], i%shape[1], v, ErrData)
			}
			return nil, fmt.Errorf("train: %s: %s[%d] is %v: %w", fn, name, i, v, ErrData)
		}
	}
	return data, nil
}

func linColumnMeans(mean, x []float64, n, d int) {
	for i := 0; i < n; i++ {
		row := x[i*d : i*d+d]
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
}

func linSubtractRows(x, v []float64, n, d int) {
	for i := 0; i < n; i++ {
		row := x[i*d : i*d+d]
		for j := range row {
			row[j] -= v[j]
		}
	}
}
