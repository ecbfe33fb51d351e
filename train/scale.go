package train

import (
	"fmt"
	"math"

	"github.com/kilnml/kiln/tensor"
)

// Standardizer centres and scales the numeric features of datasets with
// the mean and standard deviation of a training set (scikit-learn's
// StandardScaler: population standard deviation, and a constant column
// is only centred).
type Standardizer struct {
	Features []string  `json:"features"`
	Mean     []float64 `json:"mean"`
	Scale    []float64 `json:"scale"`
}

// FitStandardizer computes the per-feature mean and standard deviation of
// d's X, in float64.
func FitStandardizer(d *Dataset) (*Standardizer, error) {
	if d == nil || d.X == nil {
		return nil, fmt.Errorf("train: FitStandardizer: %w: no features", ErrData)
	}
	n, k := d.X.Shape()[0], d.X.Shape()[1]
	if n == 0 {
		return nil, fmt.Errorf("train: FitStandardizer: %w: no rows", ErrData)
	}
	x, err := d.X.Float64s()
	if err != nil {
		return nil, err
	}
	s := &Standardizer{Features: d.Features, Mean: make([]float64, k), Scale: make([]float64, k)}
	for i := range n {
		for j := range k {
			s.Mean[j] += x[i*k+j]
		}
	}
	for j := range k {
		s.Mean[j] /= float64(n)
	}
	for i := range n {
		for j := range k {
			dv := x[i*k+j] - s.Mean[j]
			s.Scale[j] += dv * dv
		}
	}
	for j := range k {
		sd := math.Sqrt(s.Scale[j] / float64(n))
		if sd == 0 || math.IsNaN(sd) {
			sd = 1
		}
		s.Scale[j] = sd
	}
	return s, nil
}

// Transform returns a copy of d whose X is standardized; the other fields
// are shared with d.
func (s *Standardizer) Transform(d *Dataset) (*Dataset, error) {
	if d == nil || d.X == nil || d.X.Rank() != 2 || d.X.Shape()[1] != len(s.Mean) {
		return nil, fmt.Errorf("train: Standardizer: %w: dataset has %v features, fitted on %d", ErrData, shapeOf(d.X), len(s.Mean))
	}
	k := len(s.Mean)
	mean := make([]float32, k)
	inv := make([]float32, k)
	for j := range k {
		mean[j] = float32(s.Mean[j])
		inv[j] = float32(1 / s.Scale[j])
	}
	mt, err := tensor.FromFloat32s(mean, k)
	if err != nil {
		return nil, err
	}
	it, err := tensor.FromFloat32s(inv, k)
	if err != nil {
		return nil, err
	}
	x, err := tensor.Sub(d.X, mt)
	if err != nil {
		return nil, err
	}
	if err := tensor.Binary(tensor.OpMul, x, x, it); err != nil {
		return nil, err
	}
	out := *d
	out.X = x
	return &out, nil
}
