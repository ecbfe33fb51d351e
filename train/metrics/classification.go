package metrics

import (
	"math"
	"slices"
)

// maxConfusionClasses bounds the side of a confusion matrix (a 65536×65536
// matrix of int64 already takes 32 GiB).
const maxConfusionClasses = 1 << 16

// checkLabels validates a pair of label slices: same, non-zero length and no
// negative label. It returns the largest label.
func checkLabels(fn string, yTrue, yPred []int32) (maxLabel int32, err error) {
	if len(yTrue) != len(yPred) {
		return 0, inputErr(fn, "yTrue has %d labels but yPred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return 0, inputErr(fn, "empty input")
	}
	if maxLabel, err = checkLabelSlice(fn, "yTrue", yTrue); err != nil {
		return 0, err
	}
	m, err := checkLabelSlice(fn, "yPred", yPred)
	if err != nil {
		return 0, err
	}
	return max(maxLabel, m), nil
}

// checkLabelSlice rejects negative labels and returns the largest label.
func checkLabelSlice(fn, name string, y []int32) (int32, error) {
	var m int32
	for i, v := range y {
		if v < 0 {
			return 0, inputErr(fn, "%s[%d] is %d; labels must be non-negative", name, i, v)
		}
		m = max(m, v)
	}
	return m, nil
}

// Accuracy returns the fraction of samples whose predicted label equals the
// true label (scikit-learn's accuracy_score).
func Accuracy(yTrue, yPred []int32) (float64, error) {
	if _, err := checkLabels("Accuracy", yTrue, yPred); err != nil {
		return 0, err
	}
	correct := 0
	for i, t := range yTrue {
		if t == yPred[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(yTrue)), nil
}

// classCounts holds, for every label present in yTrue or yPred (sorted),
// the true positives, the number of predictions and the number of true
// samples of that label.
type classCounts struct {
	labels  []int32
	tp      []int64
	predSum []int64
	trueSum []int64
}

// countClasses tallies per-class counts. Labels must have been validated.
func countClasses(yTrue, yPred []int32, maxLabel int32) classCounts {
	n := len(yTrue)
	// Index labels densely when the label range is small compared with the
	// input; otherwise through a map of the labels actually present.
	var index func(int32) int
	var labels []int32
	if int64(maxLabel) < 2*int64(n)+1024 {
		present := make([]bool, int(maxLabel)+1)
		for i := range yTrue {
			present[yTrue[i]] = true
			present[yPred[i]] = true
		}
		pos := make([]int, len(present))
		for l, ok := range present {
			if ok {
				pos[l] = len(labels)
				labels = append(labels, int32(l))
			}
		}
		index = func(l int32) int { return pos[l] }
	} else {
		seen := make(map[int32]struct{})
		for i := range yTrue {
			seen[yTrue[i]] = struct{}{}
			seen[yPred[i]] = struct{}{}
		}
		for l := range seen {
			labels = append(labels, l)
		}
		slices.Sort(labels)
		pos := make(map[int32]int, len(labels))
		for i, l := range labels {
			pos[l] = i
		}
		index = func(l int32) int { return pos[l] }
	}
	c := classCounts{
		labels:  labels,
		tp:      make([]int64, len(labels)),
		predSum: make([]int64, len(labels)),
		trueSum: make([]int64, len(labels)),
	}
	for i, t := range yTrue {
		p := yPred[i]
		ti, pi := index(t), index(p)
		c.trueSum[ti]++
		c.predSum[pi]++
		if t == p {
			c.tp[ti]++
		}
	}
	return c
}

// divide returns num/den, or 0 when den is 0 (scikit-learn's zero_division=0).
func divide(num, den int64) float64 {
	if den == 0 {
		return 0
	}
	return float64(num) / float64(den)
}

// fScore is scikit-learn's F1 from a precision and a recall (0 when both are 0).
func fScore(p, r float64) float64 {
	den := p + r
	if den == 0 {
		return 0
	}
	return 2 * p * r / den
}

type prfKind uint8

const (
	kindPrecision prfKind = iota
	kindRecall
	kindF1
)

// prf computes precision, recall or F1 with the given average.
func prf(fn string, yTrue, yPred []int32, avg Average, kind prfKind) (float64, error) {
	maxLabel, err := checkLabels(fn, yTrue, yPred)
	if err != nil {
		return 0, err
	}
	if avg > Weighted {
		return 0, inputErr(fn, "unknown average %v; use Binary, Macro, Micro or Weighted", avg)
	}
	if avg == Binary && maxLabel > 1 {
		return 0, inputErr(fn, "average Binary needs labels 0 and 1 but found label %d; use Macro, Micro or Weighted for multiclass labels", maxLabel)
	}
	c := countClasses(yTrue, yPred, maxLabel)
	metric := func(tp, predSum, trueSum int64) float64 {
		p, r := divide(tp, predSum), divide(tp, trueSum)
		switch kind {
		case kindPrecision:
			return p
		case kindRecall:
			return r
		}
		return fScore(p, r)
	}
	switch avg {
	case Binary:
		var tp, predSum, trueSum int64
		for i, l := range c.labels {
			if l == 1 {
				tp, predSum, trueSum = c.tp[i], c.predSum[i], c.trueSum[i]
			}
		}
		return metric(tp, predSum, trueSum), nil
	case Micro:
		var tp, predSum, trueSum int64
		for i := range c.labels {
			tp += c.tp[i]
			predSum += c.predSum[i]
			trueSum += c.trueSum[i]
		}
		return metric(tp, predSum, trueSum), nil
	case Macro:
		sum := 0.0
		for i := range c.labels {
			sum += metric(c.tp[i], c.predSum[i], c.trueSum[i])
		}
		return sum / float64(len(c.labels)), nil
	default: // Weighted
		sum, weights := 0.0, 0.0
		for i := range c.labels {
			w := float64(c.trueSum[i])
			sum += metric(c.tp[i], c.predSum[i], c.trueSum[i]) * w
			weights += w
		}
		return sum / weights, nil
	}
}

// Precision returns tp/(tp+fp): the fraction of predictions of a class that
// are correct, reduced over classes as avg says (scikit-learn's
// precision_score with zero_division=0). A class that is never predicted has
// precision 0. With [Binary] (the zero value), labels must be 0 or 1 and the
// result is the precision of class 1.
func Precision(yTrue, yPred []int32, avg Average) (float64, error) {
	return prf("Precision", yTrue, yPred, avg, kindPrecision)
}

// Recall returns tp/(tp+fn): the fraction of samples of a class that are
// predicted as that class, reduced over classes as avg says (scikit-learn's
// recall_score with zero_division=0). A class absent from yTrue (present only
// in yPred) has recall 0. With [Binary] (the zero value), labels must be 0 or
// 1 and the result is the recall of class 1.
func Recall(yTrue, yPred []int32, avg Average) (float64, error) {
	return prf("Recall", yTrue, yPred, avg, kindRecall)
}

// F1 returns the harmonic mean of precision and recall,
// 2·precision·recall/(precision+recall) (0 when both are 0), reduced over
// classes as avg says (scikit-learn's f1_score with zero_division=0): Macro
// and Weighted average the per-class F1 scores; Micro takes the F1 of the
// micro precision and recall. With [Binary] (the zero value), labels must be
// 0 or 1 and the result is the F1 of class 1.
func F1(yTrue, yPred []int32, avg Average) (float64, error) {
	return prf("F1", yTrue, yPred, avg, kindF1)
}

// ConfusionMatrix returns the numClasses×numClasses matrix whose element
// [i][j] counts the samples of true label i predicted as label j (rows are
// true labels, columns predicted labels, as scikit-learn's confusion_matrix
// with labels 0..numClasses-1). numClasses 0 means the largest label in
// yTrue or yPred plus one; a label ≥ numClasses is an error, and so is a
// numClasses above 65536.
func ConfusionMatrix(yTrue, yPred []int32, numClasses int) ([][]int64, error) {
	const fn = "ConfusionMatrix"
	maxLabel, err := checkLabels(fn, yTrue, yPred)
	if err != nil {
		return nil, err
	}
	switch {
	case numClasses < 0:
		return nil, inputErr(fn, "numClasses is %d; it must be positive, or 0 to infer it", numClasses)
	case numClasses == 0:
		numClasses = int(maxLabel) + 1
	case int(maxLabel) >= numClasses:
		return nil, inputErr(fn, "label %d is out of range for numClasses %d", maxLabel, numClasses)
	}
	if numClasses > maxConfusionClasses {
		return nil, inputErr(fn, "%d classes is too many for a confusion matrix (at most %d)", numClasses, maxConfusionClasses)
	}
	cells := make([]int64, numClasses*numClasses)
	m := make([][]int64, numClasses)
	for i := range m {
		m[i] = cells[i*numClasses : (i+1)*numClasses : (i+1)*numClasses]
	}
	for i, t := range yTrue {
		m[t][yPred[i]]++
	}
	return m, nil
}

// checkFinite rejects NaN and infinite values.
func checkFinite(fn, name string, x []float64) error {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return inputErr(fn, "%s[%d] is %v; values must be finite", name, i, v)
		}
	}
	return nil
}
