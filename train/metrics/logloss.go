package metrics

import "math"

// logLossEps is the clipping bound of scikit-learn 1.2's log_loss for float64
// input (eps="auto", numpy's float64 machine epsilon, 2⁻⁵²).
const logLossEps = 0x1p-52

// LogLoss returns the mean negative log-likelihood (cross-entropy) of labels
// yTrue (0..numClasses-1) under proba, an n×numClasses row-major matrix of
// predicted class probabilities (scikit-learn 1.2's log_loss with
// labels=0..numClasses-1). As scikit-learn does, each probability is first
// clipped to [ε, 1−ε] with ε = 2⁻⁵² ≈ 2.2e-16 (float64 machine epsilon,
// scikit-learn's default eps="auto") and each row is then divided by its
// sum, so rows need not sum to 1 and a zero probability for the true class
// costs about 36 rather than +Inf. For binary problems pass numClasses 2 or
// use [BinaryLogLoss].
func LogLoss(yTrue []int32, proba []float64, numClasses int) (float64, error) {
	if err := checkProba("LogLoss", yTrue, proba, numClasses); err != nil {
		return 0, err
	}
	k := numClasses
	total := 0.0
	for i, y := range yTrue {
		sum := 0.0
		for _, p := range proba[i*k : (i+1)*k] {
			sum += clipProb(p)
		}
		total -= math.Log(clipProb(proba[i*k+int(y)]) / sum)
	}
	return total / float64(len(yTrue)), nil
}

// BinaryLogLoss returns the mean negative log-likelihood of binary labels
// yTrue (0 or 1) under p1, the predicted probabilities of class 1; it equals
// [LogLoss] with rows (1−p1, p1), including scikit-learn's clipping to
// [ε, 1−ε]. Unlike scikit-learn called without labels, a yTrue holding only
// one class is accepted (the classes are known to be 0 and 1).
func BinaryLogLoss(yTrue []int32, p1 []float64) (float64, error) {
	const fn = "BinaryLogLoss"
	if _, err := checkBinaryScores(fn, yTrue, p1); err != nil {
		return 0, err
	}
	total := 0.0
	for i, y := range yTrue {
		c := clipProb(p1[i])
		row := [2]float64{1 - c, c}
		total -= math.Log(row[y] / (row[0] + row[1]))
	}
	return total / float64(len(yTrue)), nil
}

// clipProb clips a probability to [logLossEps, 1-logLossEps] (numpy's clip).
func clipProb(p float64) float64 {
	return min(max(p, logLossEps), 1-logLossEps)
}
