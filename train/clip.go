package train

import (
	"fmt"
	"math"

	"github.com/kilnml/kiln/tensor"
)

// ClipGradNorm scales the gradients of params so that their total L2 norm
// is at most maxNorm, as PyTorch's torch.nn.utils.clip_grad_norm_: with
// total the norm of all gradients together (parameters whose Grad is nil
// are skipped), every gradient is multiplied by maxNorm/(total+1e-6) when
// that factor is below 1. It returns total, the norm before clipping.
//
// Each gradient's sum of squares is computed in float32 on its device;
// the sums are added in float64 in parameter order. maxNorm must be
// positive and finite (ErrInvalidOption). An infinite or NaN total is an
// error wrapping ErrNonFiniteNorm (returned with the total) and leaves the
// gradients unchanged.
func ClipGradNorm(params []*Var, maxNorm float64) (total float64, err error) {
	if !optFinite(maxNorm) || maxNorm <= 0 {
		return 0, optErr("ClipGradNorm", "maxNorm", maxNorm, "a finite value > 0")
	}
	if err := checkClipParams("ClipGradNorm", params); err != nil {
		return 0, err
	}
	var sum float64
	for _, p := range params {
		g := p.Grad
		if g == nil {
			continue
		}
		sq, err := tensor.Square(g)
		if err != nil {
			return 0, fmt.Errorf("train: ClipGradNorm: gradient of %q: %w", p.Name, err)
		}
		s, err := tensor.Sum(sq, false)
		if err != nil {
			return 0, fmt.Errorf("train: ClipGradNorm: gradient of %q: %w", p.Name, err)
		}
		v, err := s.At()
		if err != nil {
			return 0, fmt.Errorf("train: ClipGradNorm: gradient of %q: %w", p.Name, err)
		}
		sum += v
	}
	total = math.Sqrt(sum)
	if !optFinite(total) {
		return total, fmt.Errorf("train: ClipGradNorm: total norm %v: %w", total, ErrNonFiniteNorm)
	}
	coef := maxNorm / (total + 1e-6)
	if coef >= 1 {
		return total, nil
	}
	for _, p := range params {
		g := p.Grad
		if g == nil {
			continue
		}
		c, err := tensor.Scalar(float32(coef)).To(g.Device())
		if err == nil {
			err = tensor.Binary(tensor.OpMul, g, g, c)
		}
		if err != nil {
			return total, fmt.Errorf("train: ClipGradNorm: scaling gradient of %q: %w", p.Name, err)
		}
	}
	return total, nil
}

// ClipGradValue clamps every gradient element of params to [-clip, clip],
// as PyTorch's torch.nn.utils.clip_grad_value_ (a NaN stays NaN).
// Parameters whose Grad is nil are skipped. clip must be positive and
// finite (ErrInvalidOption).
func ClipGradValue(params []*Var, clip float64) error {
	if !optFinite(clip) || clip <= 0 {
		return optErr("ClipGradValue", "clip", clip, "a finite value > 0")
	}
	if err := checkClipParams("ClipGradValue", params); err != nil {
		return err
	}
	for _, p := range params {
		g := p.Grad
		if g == nil {
			continue
		}
		dev := g.Device()
		hi, err := tensor.Scalar(float32(clip)).To(dev)
		if err != nil {
			return fmt.Errorf("train: ClipGradValue: gradient of %q: %w", p.Name, err)
		}
		lo, err := tensor.Scalar(float32(-clip)).To(dev)
		if err == nil {
			err = tensor.Binary(tensor.OpMinimum, g, g, hi)
		}
		if err == nil {
			err = tensor.Binary(tensor.OpMaximum, g, g, lo)
		}
		if err != nil {
			return fmt.Errorf("train: ClipGradValue: gradient of %q: %w", p.Name, err)
		}
	}
	return nil
}

// checkClipParams validates the parameters of a clipping function: non-nil,
// each listed once, float32 gradients.
func checkClipParams(kind string, params []*Var) error {
	seen := make(map[*Var]int, len(params))
	for i, p := range params {
		if p == nil {
			return fmt.Errorf("train: %s: parameter %d is nil: %w", kind, i, ErrBadParams)
		}
		if j, ok := seen[p]; ok {
			return fmt.Errorf("train: %s: parameters %d and %d are the same Var (its gradient would be counted twice): %w", kind, j, i, ErrBadParams)
		}
		seen[p] = i
		if p.Grad != nil && p.Grad.DType() != tensor.Float32 {
			return fmt.Errorf("train: %s: gradient of parameter %d (%q) is %s, want float32: %w", kind, i, p.Name, p.Grad.DType(), ErrBadParams)
		}
	}
	return nil
}
