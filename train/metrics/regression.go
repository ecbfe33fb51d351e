package metrics

import "math"

// checkRegression validates a pair of regression slices.
func checkRegression(fn string, yTrue, yPred []float64) error {
	if len(yTrue) != len(yPred) {
		return inputErr(fn, "yTrue has %d values but yPred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return inputErr(fn, "empty input")
	}
	if err := checkFinite(fn, "yTrue", yTrue); err != nil {
		return err
	}
	return checkFinite(fn, "yPred", yPred)
}

// sumSquaredError returns Σ (yTrue[i] − yPred[i])².
func sumSquaredError(yTrue, yPred []float64) float64 {
	sum := 0.0
	for i, t := range yTrue {
		d := t - yPred[i]
		sum += d * d
	}
	return sum
}

// RMSE returns the root mean squared error √(Σ(yTrue−yPred)²/n)
// (scikit-learn's mean_squared_error with squared=False).
func RMSE(yTrue, yPred []float64) (float64, error) {
	if err := checkRegression("RMSE", yTrue, yPred); err != nil {
		return 0, err
	}
	return math.Sqrt(sumSquaredError(yTrue, yPred) / float64(len(yTrue))), nil
}

// MAE returns the mean absolute error Σ|yTrue−yPred|/n (scikit-learn's
// mean_absolute_error).
func MAE(yTrue, yPred []float64) (float64, error) {
	if err := checkRegression("MAE", yTrue, yPred); err != nil {
		return 0, err
	}
	sum := 0.0
	for i, t := range yTrue {
		sum += math.Abs(yPred[i] - t)
	}
	return sum / float64(len(yTrue)), nil
}

// R2 returns the coefficient of determination 1 − Σ(yTrue−yPred)²/Σ(yTrue−ȳ)²
// (scikit-learn's r2_score). It is 1 for perfect predictions, 0 for
// predicting the mean, and negative for worse. When yTrue is constant (every
// value equal) the ratio is undefined and, as scikit-learn does, the result
// is 1 if the predictions are perfect and 0 otherwise. Fewer than two
// samples is an error (scikit-learn returns NaN).
func R2(yTrue, yPred []float64) (float64, error) {
	const fn = "R2"
	if err := checkRegression(fn, yTrue, yPred); err != nil {
		return 0, err
	}
	if len(yTrue) < 2 {
		return 0, inputErr(fn, "R² is undefined for fewer than two samples")
	}
	num := sumSquaredError(yTrue, yPred)
	constant := true
	mean := 0.0
	for _, t := range yTrue {
		mean += t
		constant = constant && t == yTrue[0]
	}
	mean /= float64(len(yTrue))
	den := 0.0
	if !constant {
		for _, t := range yTrue {
			d := t - mean
			den += d * d
		}
	}
	switch {
	case num == 0:
		return 1, nil
	case den == 0:
		return 0, nil
	}
	return 1 - num/den, nil
}
