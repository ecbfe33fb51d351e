package train

import (
	"context"
	"errors"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
)

// minimizeGonum minimizes f from x0 with gonum's L-BFGS (memory 10, as
// SciPy's L-BFGS-B that scikit-learn uses) and its Moré–Thuente
// strong-Wolfe line search. eval returns f(x) and writes ∇f(x) into g; a
// value and gradient computed together are cached, since gonum asks for
// them separately at the same point. It stops converged when the largest
// gradient component is at most pgtol or f changes by at most
// ftol·max(|f|, 1) over an iteration; not converged after maxIter
// iterations. ctx is checked at every evaluation.
func minimizeGonum(ctx context.Context, eval func(x, g []float64) float64, x0 []float64, maxIter int, pgtol, ftol float64) (lbfgsResult, error) {
	var cx, cg []float64
	var cf float64
	at := func(x []float64) {
		if cx != nil && slices.Equal(cx, x) {
			return
		}
		if cx == nil {
			cx, cg = make([]float64, len(x)), make([]float64, len(x))
		}
		copy(cx, x)
		cf = eval(cx, cg)
	}
	var ctxErr error
	prob := optimize.Problem{
		Func: func(x []float64) float64 {
			if err := ctx.Err(); err != nil {
				ctxErr = err
				return math.NaN()
			}
			at(x)
			return cf
		},
		Grad: func(g, x []float64) {
			at(x)
			copy(g, cg)
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: pgtol,
		MajorIterations:   maxIter,
		Converger:         &optimize.FunctionConverge{Relative: ftol, Absolute: ftol, Iterations: 1},
	}
	res, err := optimize.Minimize(prob, x0, settings, &optimize.LBFGS{Store: 10})
	if ctxErr != nil {
		return lbfgsResult{}, ctxErr
	}
	if res == nil {
		return lbfgsResult{}, err
	}
	out := lbfgsResult{x: res.X, f: res.F, iters: res.MajorIterations}
	switch res.Status {
	case optimize.GradientThreshold, optimize.FunctionConvergence:
		out.converged = true
	case optimize.IterationLimit:
	default:
		if err != nil && !errors.Is(err, optimize.ErrLinesearcherFailure) {
			return lbfgsResult{}, err
		}
	}
	return out, nil
}
