package metrics

import (
	"math"
	"slices"
)

// checkBinaryScores validates binary labels (0 or 1) against finite scores
// and returns the number of positive labels.
func checkBinaryScores(fn string, yTrue []int32, score []float64) (positives int, err error) {
	if len(yTrue) != len(score) {
		return 0, inputErr(fn, "yTrue has %d labels but score has %d values", len(yTrue), len(score))
	}
	if len(yTrue) == 0 {
		return 0, inputErr(fn, "empty input")
	}
	for i, v := range yTrue {
		if v != 0 && v != 1 {
			return 0, inputErr(fn, "yTrue[%d] is %d; binary labels must be 0 or 1", i, v)
		}
		positives += int(v)
	}
	if err := checkFinite(fn, "score", score); err != nil {
		return 0, err
	}
	return positives, nil
}

// scored is one sample of a binary ranking problem.
type scored struct {
	score    float64
	positive bool
}

// binaryCurve is scikit-learn's _binary_clf_curve: the cumulative false and
// true positive counts at each distinct score threshold, from the highest
// score down. Samples with tied scores share one threshold. The input slice
// is sorted in place.
func binaryCurve(s []scored) (fps, tps []float64) {
	slices.SortFunc(s, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	var tp, fp float64
	for i, x := range s {
		if x.positive {
			tp++
		} else {
			fp++
		}
		if i == len(s)-1 || s[i+1].score != x.score {
			tps = append(tps, tp)
			fps = append(fps, fp)
		}
	}
	return fps, tps
}

// rocArea is scikit-learn's roc_curve (drop_intermediate=True) followed by
// auc: the trapezoidal area under the ROC curve. The slice is sorted in place.
// Both classes must be present.
func rocArea(s []scored) float64 {
	fps, tps := binaryCurve(s)
	// Drop points collinear with their neighbours, as roc_curve does: keep
	// the first and last points and every corner (a non-zero second
	// difference in fps or tps).
	if n := len(fps); n > 2 {
		keptF, keptT := []float64{fps[0]}, []float64{tps[0]}
		for i := 1; i < n-1; i++ {
			if fps[i+1]-2*fps[i]+fps[i-1] != 0 || tps[i+1]-2*tps[i]+tps[i-1] != 0 {
				keptF, keptT = append(keptF, fps[i]), append(keptT, tps[i])
			}
		}
		fps, tps = append(keptF, fps[n-1]), append(keptT, tps[n-1])
	}
	fpTotal, tpTotal := fps[len(fps)-1], tps[len(tps)-1]
	area := 0.0
	prevX, prevY := 0.0, 0.0 // the curve starts at (0, 0)
	for i := range fps {
		x, y := fps[i]/fpTotal, tps[i]/tpTotal
		area += (x - prevX) * (y + prevY) / 2
		prevX, prevY = x, y
	}
	return area
}

// ROCAUC returns the area under the receiver operating characteristic curve
// of binary labels yTrue (0 or 1) ranked by score, where a higher score means
// more likely to be class 1 (scikit-learn's roc_auc_score). Scores may be any
// finite numbers (probabilities, logits, margins). Samples with tied scores
// form a single threshold and the curve is integrated with the trapezoidal
// rule, so ties count as half-correct. Both classes must be present in yTrue:
// the area is undefined otherwise and an error is returned, as in
// scikit-learn.
func ROCAUC(yTrue []int32, score []float64) (float64, error) {
	const fn = "ROCAUC"
	pos, err := checkBinaryScores(fn, yTrue, score)
	if err != nil {
		return 0, err
	}
	if pos == 0 || pos == len(yTrue) {
		return 0, inputErr(fn, "only one class (%d) is present in yTrue; ROC AUC is undefined", yTrue[0])
	}
	s := make([]scored, len(yTrue))
	for i, v := range yTrue {
		s[i] = scored{score[i], v == 1}
	}
	return rocArea(s), nil
}

// PRAUC returns the average precision of binary labels yTrue (0 or 1) ranked
// by score (scikit-learn's average_precision_score): the sum over distinct
// score thresholds of (R_n − R_{n−1})·P_n, where P_n and R_n are the
// precision and recall at the n-th threshold. This step-function integral is
// not the trapezoidal area under the precision-recall curve, which is too
// optimistic. Tied scores form one threshold. When yTrue has no positive
// sample the result is 0, as in scikit-learn (which also warns).
func PRAUC(yTrue []int32, score []float64) (float64, error) {
	const fn = "PRAUC"
	if _, err := checkBinaryScores(fn, yTrue, score); err != nil {
		return 0, err
	}
	s := make([]scored, len(yTrue))
	for i, v := range yTrue {
		s[i] = scored{score[i], v == 1}
	}
	fps, tps := binaryCurve(s)
	tpTotal := tps[len(tps)-1]
	// Walk the thresholds from the lowest score (highest recall) up, as
	// scikit-learn does after reversing the curve; the curve ends at recall 0.
	sum := 0.0
	for j := len(tps) - 1; j >= 0; j-- {
		precision := tps[j] / (tps[j] + fps[j]) // every threshold holds at least one sample
		recall, next := 1.0, 0.0
		if tpTotal != 0 {
			recall = tps[j] / tpTotal
		}
		if j > 0 {
			next = 1
			if tpTotal != 0 {
				next = tps[j-1] / tpTotal
			}
		}
		sum += (next - recall) * precision
	}
	return -sum, nil
}

// checkProba validates an n×k row-major probability matrix against labels
// 0..k-1.
func checkProba(fn string, yTrue []int32, proba []float64, numClasses int) error {
	n := len(yTrue)
	if n == 0 {
		return inputErr(fn, "empty input")
	}
	if numClasses < 2 {
		return inputErr(fn, "numClasses is %d; it must be at least 2", numClasses)
	}
	if len(proba)%numClasses != 0 || len(proba)/numClasses != n {
		return inputErr(fn, "proba has %d values; want len(yTrue)×numClasses = %d×%d", len(proba), n, numClasses)
	}
	for i, v := range yTrue {
		if v < 0 || int(v) >= numClasses {
			return inputErr(fn, "yTrue[%d] is %d; labels must be in [0, %d)", i, v, numClasses)
		}
	}
	for i, v := range proba {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return inputErr(fn, "proba[%d] (row %d, class %d) is %v; values must be finite", i, i/numClasses, i%numClasses, v)
		}
	}
	return nil
}

// ROCAUCMulti returns the one-vs-rest ROC AUC of multiclass labels yTrue
// (0..numClasses-1) against proba, an n×numClasses row-major matrix of class
// probabilities (scikit-learn's roc_auc_score with multi_class="ovr"). Each
// class's AUC is the [ROCAUC] of "this class" against "every other class",
// ranked by that class's column of proba; avg reduces them:
//
//   - [Macro]: the unweighted mean over classes;
//   - [Weighted]: the mean weighted by each class's number of samples in yTrue;
//   - [Micro]: one AUC over all n×numClasses (label, probability) pairs.
//
// [Binary] is an error for more than two classes. As in scikit-learn, every
// class must occur in yTrue and every row of proba must sum to 1 (within
// 1e-8 + 1e-5·|sum|, numpy's allclose), otherwise an error is returned.
// With numClasses 2 the result is ROCAUC(yTrue, proba[:, 1]) whatever avg.
func ROCAUCMulti(yTrue []int32, proba []float64, numClasses int, avg Average) (float64, error) {
	const fn = "ROCAUCMulti"
	if err := checkProba(fn, yTrue, proba, numClasses); err != nil {
		return 0, err
	}
	if avg > Weighted {
		return 0, inputErr(fn, "unknown average %v; use Macro, Weighted or Micro", avg)
	}
	k := numClasses
	for i := range yTrue {
		sum := 0.0
		for _, p := range proba[i*k : (i+1)*k] {
			sum += p
		}
		if math.Abs(1-sum) > 1e-8+1e-5*math.Abs(sum) {
			return 0, inputErr(fn, "row %d of proba sums to %v; class probabilities must sum to 1", i, sum)
		}
	}
	support := make([]int, k)
	for _, v := range yTrue {
		support[v]++
	}
	for c, s := range support {
		if s == 0 {
			return 0, inputErr(fn, "class %d never occurs in yTrue; its one-vs-rest ROC AUC is undefined", c)
		}
	}
	if k == 2 {
		p1 := make([]float64, len(yTrue))
		for i := range p1 {
			p1[i] = proba[2*i+1]
		}
		return ROCAUC(yTrue, p1)
	}
	switch avg {
	case Binary:
		return 0, inputErr(fn, "average Binary is undefined for %d classes; use Macro, Weighted or Micro", k)
	case Micro:
		s := make([]scored, len(proba))
		for i, v := range yTrue {
			for c := range k {
				s[i*k+c] = scored{proba[i*k+c], int(v) == c}
			}
		}
		return rocArea(s), nil
	}
	s := make([]scored, len(yTrue))
	sum, weights := 0.0, 0.0
	for c := range k {
		for i, v := range yTrue {
			s[i] = scored{proba[i*k+c], int(v) == c}
		}
		auc := rocArea(s)
		if avg == Weighted {
			w := float64(support[c])
			sum += auc * w
			weights += w
		} else {
			sum += auc
		}
	}
	if avg == Weighted {
		return sum / weights, nil
	}
	return sum / float64(k), nil
}
