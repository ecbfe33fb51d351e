package train

import (
	"context"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/kilnml/kiln/tensor"
)

// LogisticOptions configure FitLogistic. The zero value is scikit-learn's
// LogisticRegression() default: L2 penalty with C = 1, an intercept, at
// most 100 L-BFGS iterations, tolerance 1e-4.
type LogisticOptions struct {
	// C is the inverse of the L2 penalty strength, as in scikit-learn: the
	// objective adds ||W||²/(2C) to the summed log loss. 0 means 1.
	// Negative is an error.
	C float64
	// NoPenalty drops the L2 penalty (scikit-learn's penalty="none"); C is
	// then ignored. Without a penalty, separable classes have no finite
	// optimum and a multinomial model is not unique.
	NoPenalty bool
	// MaxIter bounds the number of L-BFGS iterations; 0 means 100.
	MaxIter int
	// Tol stops the optimization once every component of the objective's
	// gradient is at most Tol in absolute value (scikit-learn's tol, passed
	// to L-BFGS as pgtol). The gradient is that of the summed, not the
	// mean, loss. 0 means 1e-4.
	Tol float64
	// NoIntercept fits a model without intercepts (fit_intercept=False).
	NoIntercept bool
}

// A LogisticModel is a fitted logistic regression. With two classes it is a
// binary model: the probability of Classes[1] is σ(x·Coef[0] +
// Intercept[0]). With k > 2 classes it is a multinomial (softmax) model
// with one row of Coef and one intercept per class. Its fields are
// exported so that a model can be stored and rebuilt.
type LogisticModel struct {
	// Classes are the distinct labels seen in training, in increasing
	// order.
	Classes []int32
	// Coef holds the coefficients as a float64 tensor: 1×d for a binary
	// model, k×d for a multinomial one (scikit-learn's coef_).
	Coef *tensor.Tensor
	// Intercept holds 1 (binary) or k (multinomial) intercepts, zeros when
	// fitted with NoIntercept.
	Intercept []float64
	// Iterations is the number of L-BFGS iterations the fit took.
	Iterations int
	// Converged reports whether the fit met its tolerance. When it did not
	// (MaxIter reached, or a line search that could make no further
	// progress), the model holds the best point found, as scikit-learn
	// returns one after a ConvergenceWarning.
	Converged bool
}

// FitLogistic fits a logistic regression of the labels y on the rows of x
// (n×d, float32 or float64), like scikit-learn's
// LogisticRegression(solver="lbfgs", multi_class="auto"): two distinct
// labels give a binary model, more a multinomial one.
//
// It minimizes, in float64, the objective of scikit-learn 1.2: the sum over
// rows of the log loss plus ||W||²/(2C), the intercepts not penalized,
// from all-zero coefficients with the L-BFGS of gonum.org/v1/gonum/optimize
// (10 correction pairs, as SciPy's L-BFGS-B keeps for scikit-learn, and a
// Moré–Thuente strong-Wolfe line search). It stops when the gradient's
// largest component is at most o.Tol or when an iteration changes the
// objective by at most 64ε relative (SciPy's ftol as scikit-learn sets
// it); it also stops, with Converged false, after o.MaxIter iterations or
// when the line search finds no step that lowers the objective.
//
// ctx is checked at every evaluation; when it is done, FitLogistic returns
// its error. Errors wrap tensor.ErrShape for a shape mismatch and ErrData
// for NaN or infinite values or a single class.
func FitLogistic(ctx context.Context, x *tensor.Tensor, y []int32, o LogisticOptions) (*LogisticModel, error) {
	const fn = "FitLogistic"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("train: %s: %w", fn, err)
	}
	c, maxIter, tol := o.C, o.MaxIter, o.Tol
	if c == 0 {
		c = 1
	}
	if maxIter == 0 {
		maxIter = 100
	}
	if tol == 0 {
		tol = 1e-4
	}
	switch {
	case math.IsNaN(c) || c < 0 || math.IsInf(c, 0):
		return nil, fmt.Errorf("train: %s: C = %v must be finite and > 0: %w", fn, o.C, ErrData)
	case maxIter < 0:
		return nil, fmt.Errorf("train: %s: MaxIter = %d must be >= 0: %w", fn, o.MaxIter, ErrData)
	case math.IsNaN(tol) || tol < 0:
		return nil, fmt.Errorf("train: %s: Tol = %v must be >= 0: %w", fn, o.Tol, ErrData)
	}
	xs, n, d, err := linMatrix(fn, "x", x)
	if err != nil {
		return nil, err
	}
	if len(y) != n {
		return nil, fmt.Errorf("train: %s: %d labels for %d rows of x: %w", fn, len(y), n, tensor.ErrShape)
	}
	classes := slices.Clone(y)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return nil, fmt.Errorf("train: %s: every label is %d; logistic regression needs at least 2 classes: %w", fn, classes[0], ErrData)
	}
	idx := make([]int32, n)
	for i, v := range y {
		j, _ := slices.BinarySearch(classes, v)
		idx[i] = int32(j)
	}

	k := len(classes)
	rows := k // rows of W
	if k == 2 {
		rows = 1
	}
	p := &logisticProblem{
		x: xs, y: idx, n: n, d: d, k: rows,
		intercept: !o.NoIntercept,
		z:         make([]float64, n*rows),
	}
	if !o.NoPenalty {
		p.alpha = 1 / c
	}
	dim := rows * d
	if p.intercept {
		dim += rows
	}
	res, err := minimizeGonum(ctx, p.eval, make([]float64, dim), maxIter, tol, 64*0x1p-52)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", fn, err)
	}
	m := &LogisticModel{Classes: classes, Intercept: make([]float64, rows), Iterations: res.iters, Converged: res.converged}
	m.Coef, err = tensor.FromFloat64s(res.x[:rows*d], rows, d)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", fn, err)
	}
	if p.intercept {
		copy(m.Intercept, res.x[rows*d:])
	}
	return m, nil
}

// PredictProba returns the class probabilities of the rows of x (n×d,
// float32 or float64) as an n×k float64 tensor whose columns follow
// Classes (k = 2 for a binary model: 1-p and p, as scikit-learn).
func (m *LogisticModel) PredictProba(x *tensor.Tensor) (*tensor.Tensor, error) {
	z, n, rows, err := m.decision("LogisticModel.PredictProba", x)
	if err != nil {
		return nil, err
	}
	if rows == 1 {
		out := make([]float64, 2*n)
		for i, v := range z {
			p := linSigmoid(v)
			out[2*i], out[2*i+1] = 1-p, p
		}
		return tensor.FromFloat64s(out, n, 2)
	}
	for i := 0; i < n; i++ {
		linSoftmaxRow(z[i*rows : i*rows+rows])
	}
	return tensor.FromFloat64s(z, n, rows)
}

// Predict returns the most probable class label of every row of x (n×d,
// float32 or float64): Classes[1] when the binary decision value is > 0,
// else Classes[0]; for a multinomial model the class of the largest
// decision value (the first on ties).
func (m *LogisticModel) Predict(x *tensor.Tensor) ([]int32, error) {
	z, n, rows, err := m.decision("LogisticModel.Predict", x)
	if err != nil {
		return nil, err
	}
	out := make([]int32, n)
	for i := range out {
		if rows == 1 {
			if z[i] > 0 {
				out[i] = m.Classes[1]
			} else {
				out[i] = m.Classes[0]
			}
			continue
		}
		zi := z[i*rows : i*rows+rows]
		best := 0
		for j, v := range zi {
			if v > zi[best] {
				best = j
			}
		}
		out[i] = m.Classes[best]
	}
	return out, nil
}

// decision returns x·Coefᵀ + Intercept (n×rows).
func (m *LogisticModel) decision(fn string, x *tensor.Tensor) ([]float64, int, int, error) {
	if m == nil || m.Coef == nil {
		return nil, 0, 0, fmt.Errorf("train: %s: model has no coefficients: %w", fn, ErrNilTensor)
	}
	if m.Coef.Rank() != 2 {
		return nil, 0, 0, fmt.Errorf("train: %s: Coef has shape %v, want [k d]: %w", fn, m.Coef.Shape(), tensor.ErrShape)
	}
	rows, d := m.Coef.Shape()[0], m.Coef.Shape()[1]
	k := len(m.Classes)
	if k < 2 || (k == 2) != (rows == 1) || (k > 2 && rows != k) || len(m.Intercept) != rows {
		return nil, 0, 0, fmt.Errorf("train: %s: Coef has shape %v, %d classes and %d intercepts, want 1×d and 1 for 2 classes, k×d and k for k > 2: %w",
			fn, m.Coef.Shape(), k, len(m.Intercept), tensor.ErrShape)
	}
	coef, err := m.Coef.Float64s()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("train: %s: %w", fn, err)
	}
	xs, n, dx, err := linMatrix(fn, "x", x)
	if err != nil {
		return nil, 0, 0, err
	}
	if dx != d {
		return nil, 0, 0, fmt.Errorf("train: %s: x has %d columns, the model %d features: %w", fn, dx, d, tensor.ErrShape)
	}
	z := make([]float64, n*rows)
	linAffine(z, xs, coef, m.Intercept, n, d, rows)
	return z, n, rows, nil
}

// logisticProblem evaluates the objective and its gradient. The parameter
// vector is W (k×d, row-major) followed by the k intercepts when fitted.
type logisticProblem struct {
	x         []float64 // n×d
	y         []int32   // class index per row
	n, d, k   int       // k: rows of W (1 for binary)
	alpha     float64   // 1/C, or 0 without penalty
	intercept bool

	z []float64 // n×k scratch: decision values, then residuals
}

// eval returns the objective at w and writes its gradient into g.
func (p *logisticProblem) eval(w, g []float64) float64 {
	n, d, k := p.n, p.d, p.k
	coef := w[:k*d]
	gcoef := g[:k*d]
	xm := blas64.General{Rows: n, Cols: d, Stride: d, Data: p.x}
	z := blas64.General{Rows: n, Cols: k, Stride: k, Data: p.z}
	wm := blas64.General{Rows: k, Cols: d, Stride: d, Data: coef}
	gm := blas64.General{Rows: k, Cols: d, Stride: d, Data: gcoef}

	// Z = X·Wᵀ (+ b).
	if k == 1 {
		blas64.Gemv(blas.NoTrans, 1, xm, blas64.Vector{N: d, Inc: 1, Data: coef}, 0, blas64.Vector{N: n, Inc: 1, Data: p.z})
	} else {
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, xm, wm, 0, z)
	}
	var b []float64
	if p.intercept {
		b = w[k*d:]
		for i := 0; i < n; i++ {
			zi := p.z[i*k : i*k+k]
			for j := range zi {
				zi[j] += b[j]
			}
		}
	}

	// Loss, and the residuals ∂loss/∂z in place of z.
	var loss float64
	if k == 1 {
		for i, zi := range p.z {
			yi := float64(p.y[i])
			// log(1+e^z) - y·z, and σ(z) - y, computed stably.
			if zi > 0 {
				e := math.Exp(-zi)
				loss += zi + math.Log1p(e) - yi*zi
				p.z[i] = 1/(1+e) - yi
			} else {
				e := math.Exp(zi)
				loss += math.Log1p(e) - yi*zi
				p.z[i] = e/(1+e) - yi
			}
		}
	} else {
		for i := 0; i < n; i++ {
			zi := p.z[i*k : i*k+k]
			yi := int(p.y[i])
			mx := zi[0]
			for _, v := range zi[1:] {
				mx = max(mx, v)
			}
			var s float64
			for j, v := range zi {
				e := math.Exp(v - mx)
				zi[j] = e
				s += e
			}
			// log Σ e^z - z_y = log s + max - z_y = -log(e_y / s).
			loss -= math.Log(zi[yi] / s)
			inv := 1 / s
			for j := range zi {
				zi[j] *= inv
			}
			zi[yi]--
		}
	}

	// ∂/∂W = Rᵀ·X + αW; ∂/∂b = Σ_i R_i.
	if k == 1 {
		blas64.Gemv(blas.Trans, 1, xm, blas64.Vector{N: n, Inc: 1, Data: p.z}, 0, blas64.Vector{N: d, Inc: 1, Data: gcoef})
	} else {
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, z, xm, 0, gm)
	}
	if p.alpha != 0 {
		var sq float64
		for j, v := range coef {
			sq += v * v
			gcoef[j] += p.alpha * v
		}
		loss += 0.5 * p.alpha * sq
	}
	if p.intercept {
		gb := g[k*d:]
		clear(gb)
		for i := 0; i < n; i++ {
			zi := p.z[i*k : i*k+k]
			for j, v := range zi {
				gb[j] += v
			}
		}
	}
	return loss
}

func linSigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// linSoftmaxRow replaces z by its softmax.
func linSoftmaxRow(z []float64) {
	mx := z[0]
	for _, v := range z[1:] {
		mx = max(mx, v)
	}
	var s float64
	for j, v := range z {
		z[j] = math.Exp(v - mx)
		s += z[j]
	}
	for j := range z {
		z[j] /= s
	}
}

// lbfgsResult is the outcome of minimizeGonum.
type lbfgsResult struct {
	x         []float64
	f         float64
	iters     int
	converged bool
}
