package metrics

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		call func() error
		want string // substring of the message
	}{
		{"Accuracy length", func() error { _, err := Accuracy([]int32{0, 1}, []int32{0}); return err }, "metrics: Accuracy: yTrue has 2 labels but yPred has 1"},
		{"Accuracy empty", func() error { _, err := Accuracy(nil, nil); return err }, "metrics: Accuracy: empty input"},
		{"Accuracy negative", func() error { _, err := Accuracy([]int32{0, 1}, []int32{0, -3}); return err }, "yPred[1] is -3"},
		{"Precision negative true", func() error { _, err := Precision([]int32{-1}, []int32{0}, Macro); return err }, "metrics: Precision: yTrue[0] is -1"},
		{"Precision binary multiclass", func() error { _, err := Precision([]int32{0, 2}, []int32{0, 1}, Binary); return err }, "average Binary needs labels 0 and 1 but found label 2"},
		{"Recall bad average", func() error { _, err := Recall([]int32{0}, []int32{0}, Average(9)); return err }, "unknown average Average(9)"},
		{"F1 length", func() error { _, err := F1([]int32{0}, []int32{0, 1}, Micro); return err }, "metrics: F1: yTrue has 1 labels but yPred has 2"},
		{"ConfusionMatrix out of range", func() error { _, err := ConfusionMatrix([]int32{0, 3}, []int32{0, 1}, 3); return err }, "label 3 is out of range for numClasses 3"},
		{"ConfusionMatrix negative classes", func() error { _, err := ConfusionMatrix([]int32{0}, []int32{0}, -1); return err }, "numClasses is -1"},
		{"ConfusionMatrix huge", func() error { _, err := ConfusionMatrix([]int32{0}, []int32{math.MaxInt32}, 0); return err }, "too many for a confusion matrix"},
		{"ROCAUC one class", func() error { _, err := ROCAUC([]int32{1, 1}, []float64{0.2, 0.3}); return err }, "only one class (1) is present in yTrue"},
		{"ROCAUC label 2", func() error { _, err := ROCAUC([]int32{0, 2}, []float64{0.2, 0.3}); return err }, "yTrue[1] is 2; binary labels must be 0 or 1"},
		{"ROCAUC NaN", func() error { _, err := ROCAUC([]int32{0, 1}, []float64{nan, 0.3}); return err }, "score[0] is NaN"},
		{"ROCAUC length", func() error { _, err := ROCAUC([]int32{0, 1}, []float64{0.3}); return err }, "yTrue has 2 labels but score has 1 values"},
		{"PRAUC empty", func() error { _, err := PRAUC(nil, nil); return err }, "metrics: PRAUC: empty input"},
		{"PRAUC Inf", func() error { _, err := PRAUC([]int32{0, 1}, []float64{0, math.Inf(1)}); return err }, "score[1] is +Inf"},
		{"ROCAUCMulti shape", func() error { _, err := ROCAUCMulti([]int32{0, 1, 2}, make([]float64, 8), 3, Macro); return err }, "proba has 8 values; want len(yTrue)×numClasses = 3×3"},
		{"ROCAUCMulti not probabilities", func() error {
			_, err := ROCAUCMulti([]int32{0, 1, 2}, []float64{1, 0, 0, 0, 1, 0, 0, 0.5, 0.4}, 3, Macro)
			return err
		}, "row 2 of proba sums to 0.9"},
		{"ROCAUCMulti missing class", func() error {
			_, err := ROCAUCMulti([]int32{0, 1, 1}, []float64{1, 0, 0, 0, 1, 0, 0, 0.5, 0.5}, 3, Macro)
			return err
		}, "class 2 never occurs in yTrue"},
		{"ROCAUCMulti binary average", func() error {
			_, err := ROCAUCMulti([]int32{0, 1, 2}, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, Binary)
			return err
		}, "average Binary is undefined for 3 classes"},
		{"ROCAUCMulti label", func() error { _, err := ROCAUCMulti([]int32{0, 3}, make([]float64, 6), 3, Macro); return err }, "yTrue[1] is 3; labels must be in [0, 3)"},
		{"LogLoss one class", func() error { _, err := LogLoss([]int32{0}, []float64{1}, 1); return err }, "numClasses is 1; it must be at least 2"},
		{"LogLoss NaN", func() error { _, err := LogLoss([]int32{0}, []float64{0.5, nan}, 2); return err }, "proba[1] (row 0, class 1) is NaN"},
		{"BinaryLogLoss label", func() error { _, err := BinaryLogLoss([]int32{0, 2}, []float64{0.5, 0.5}); return err }, "metrics: BinaryLogLoss: yTrue[1] is 2"},
		{"RMSE length", func() error { _, err := RMSE([]float64{1}, []float64{1, 2}); return err }, "metrics: RMSE: yTrue has 1 values but yPred has 2"},
		{"MAE NaN", func() error { _, err := MAE([]float64{1, nan}, []float64{1, 2}); return err }, "yTrue[1] is NaN"},
		{"R2 empty", func() error { _, err := R2(nil, nil); return err }, "metrics: R2: empty input"},
		{"R2 one sample", func() error { _, err := R2([]float64{1}, []float64{1}); return err }, "fewer than two samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error %v does not wrap ErrInput", err)
			}
			if !strings.HasPrefix(err.Error(), "metrics: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestHand checks small cases worked out by hand.
func TestHand(t *testing.T) {
	yTrue := []int32{0, 0, 1, 1, 2, 2}
	yPred := []int32{0, 1, 1, 1, 0, 0}
	// Class 0: tp 1, predicted 3, true 2 → P 1/3, R 1/2, F1 2/5.
	// Class 1: tp 2, predicted 3, true 2 → P 2/3, R 1,   F1 4/5.
	// Class 2: tp 0, predicted 0, true 2 → P 0 (zero division), R 0, F1 0.
	cases := []struct {
		name string
		fn   func([]int32, []int32, Average) (float64, error)
		avg  Average
		want float64
	}{
		{"Precision macro", Precision, Macro, (1.0/3 + 2.0/3 + 0) / 3},
		{"Recall macro", Recall, Macro, (0.5 + 1 + 0) / 3},
		{"F1 macro", F1, Macro, (0.4 + 0.8 + 0) / 3},
		{"F1 weighted", F1, Weighted, (0.4*2 + 0.8*2 + 0*2) / 6},
		{"F1 micro", F1, Micro, 0.5},
	}
	for _, c := range cases {
		got, err := c.fn(yTrue, yPred, c.avg)
		checkClose(t, c.name, got, err, c.want)
	}
	cm, err := ConfusionMatrix(yTrue, yPred, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int64{{1, 1, 0}, {0, 2, 0}, {2, 0, 0}}
	if !equalMatrix(cm, want) {
		t.Errorf("ConfusionMatrix = %v, want %v", cm, want)
	}
	// Binary: yTrue 1 1 0 0, yPred 1 0 1 0 → tp 1, fp 1, fn 1: P = R = F1 = 1/2.
	got, err := F1([]int32{1, 1, 0, 0}, []int32{1, 0, 1, 0}, Binary)
	checkClose(t, "F1 binary", got, err, 0.5)
	// ROC with a tie between a positive and a negative: of the 4 pairs,
	// 3 are ranked correctly and 1 is tied (counts 1/2) → 3.5/4.
	got, err = ROCAUC([]int32{0, 0, 1, 1}, []float64{0.1, 0.5, 0.5, 0.9})
	checkClose(t, "ROCAUC tie", got, err, 3.5/4)
	// R2: yTrue 1 2 3, yPred 1 2 4: SSres 1, SStot 2 → 0.5.
	got, err = R2([]float64{1, 2, 3}, []float64{1, 2, 4})
	checkClose(t, "R2", got, err, 0.5)
	// Log loss of a certain wrong prediction is clipped: −log(ε/(1+ε−ε)) ≈ 36.04.
	got, err = BinaryLogLoss([]int32{1}, []float64{0})
	checkClose(t, "BinaryLogLoss clipped", got, err, -math.Log(0x1p-52/(1-0x1p-52+0x1p-52)))
}

// mannWhitney is an independent reference for the binary ROC AUC: the
// fraction of (positive, negative) pairs ranked correctly, ties counting 1/2.
func mannWhitney(yTrue []int32, score []float64) float64 {
	var good float64
	var pairs int
	for i, a := range yTrue {
		if a != 1 {
			continue
		}
		for j, b := range yTrue {
			if b != 0 {
				continue
			}
			pairs++
			switch {
			case score[i] > score[j]:
				good++
			case score[i] == score[j]:
				good += 0.5
			}
		}
	}
	return good / float64(pairs)
}

// TestProperties checks identities on random inputs.
func TestProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 200 {
		n := 2 + rng.IntN(60)
		k := 2 + rng.IntN(6)
		yTrue := make([]int32, n)
		yPred := make([]int32, n)
		for i := range yTrue {
			yTrue[i] = int32(rng.IntN(k))
			yPred[i] = int32(rng.IntN(k))
			if rng.IntN(2) == 0 {
				yPred[i] = yTrue[i]
			}
		}
		acc, err := Accuracy(yTrue, yPred)
		if err != nil {
			t.Fatal(err)
		}
		// Micro precision, recall and F1 equal the accuracy for single-label data.
		for _, fn := range []func([]int32, []int32, Average) (float64, error){Precision, Recall, F1} {
			got, err := fn(yTrue, yPred, Micro)
			checkClose(t, "micro vs accuracy", got, err, acc)
		}
		// The confusion matrix's trace over n is the accuracy, and its total is n.
		cm, err := ConfusionMatrix(yTrue, yPred, k)
		if err != nil {
			t.Fatal(err)
		}
		var trace, total int64
		for i := range cm {
			trace += cm[i][i]
			for _, v := range cm[i] {
				total += v
			}
		}
		if total != int64(n) || float64(trace)/float64(n) != acc {
			t.Fatalf("iter %d: confusion matrix total %d trace %d, n %d accuracy %v", iter, total, trace, n, acc)
		}
		// Sparse labels (far apart, taking the map path) give the same macro
		// and weighted scores as dense ones.
		sparseT, sparseP := make([]int32, n), make([]int32, n)
		for i := range yTrue {
			sparseT[i] = yTrue[i]*100_000_000 + 7
			sparseP[i] = yPred[i]*100_000_000 + 7
		}
		for _, avg := range []Average{Macro, Weighted} {
			dense, err1 := F1(yTrue, yPred, avg)
			sparse, err2 := F1(sparseT, sparseP, avg)
			if err1 != nil || err2 != nil || dense != sparse {
				t.Fatalf("iter %d: F1 %v dense %v (%v) sparse %v (%v)", iter, avg, dense, err1, sparse, err2)
			}
		}

		// Binary ranking: ROC AUC equals the Mann–Whitney statistic and is
		// unchanged by a strictly increasing transform of the scores.
		yb := make([]int32, n)
		score := make([]float64, n)
		for i := range yb {
			yb[i] = int32(i % 2)
			score[i] = float64(rng.IntN(8)) / 8 // many ties
			if yb[i] == 1 {
				score[i] += float64(rng.IntN(3)) / 8
			}
		}
		auc, err := ROCAUC(yb, score)
		checkClose(t, "ROCAUC vs Mann-Whitney", auc, err, mannWhitney(yb, score))
		transformed := make([]float64, n)
		for i, s := range score {
			transformed[i] = math.Exp(3*s) - 10
		}
		got, err := ROCAUC(yb, transformed)
		checkClose(t, "ROCAUC monotone transform", got, err, auc)
		// Two-class ROCAUCMulti is ROCAUC of the second column.
		proba := make([]float64, 0, 2*n)
		for _, s := range score {
			p := s / 2
			proba = append(proba, 1-p, p)
		}
		got, err = ROCAUCMulti(yb, proba, 2, Macro)
		checkClose(t, "ROCAUCMulti k=2", got, err, auc)
		// Average precision lies in (0, 1].
		ap, err := PRAUC(yb, score)
		if err != nil || ap <= 0 || ap > 1 {
			t.Fatalf("iter %d: PRAUC = %v, %v", iter, ap, err)
		}
	}
}

func TestRegressionIdentities(t *testing.T) {
	y := []float64{1.5, -2, 3.25, 0, 7}
	if r2, err := R2(y, y); err != nil || r2 != 1 {
		t.Errorf("R2(y, y) = %v, %v; want 1", r2, err)
	}
	mean := make([]float64, len(y))
	for i := range mean {
		mean[i] = (1.5 - 2 + 3.25 + 0 + 7) / 5
	}
	r2, err := R2(y, mean)
	checkClose(t, "R2 of the mean", r2, err, 0)
	// A constant yTrue of a value whose floating-point mean is inexact still
	// counts as constant: 1 if perfect, 0 otherwise.
	c := []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}
	if r2, err := R2(c, c); err != nil || r2 != 1 {
		t.Errorf("R2 constant perfect = %v, %v", r2, err)
	}
	p := append([]float64(nil), c...)
	p[3] = 0.2
	if r2, err := R2(c, p); err != nil || r2 != 0 {
		t.Errorf("R2 constant imperfect = %v, %v", r2, err)
	}
	rmse, err1 := RMSE(y, p[:5])
	mae, err2 := MAE(y, p[:5])
	if err1 != nil || err2 != nil || rmse < mae {
		t.Errorf("RMSE %v (%v) < MAE %v (%v)", rmse, err1, mae, err2)
	}
}

func TestAverageString(t *testing.T) {
	for a, want := range map[Average]string{Binary: "binary", Macro: "macro", Micro: "micro", Weighted: "weighted", 7: "Average(7)"} {
		if got := a.String(); got != want {
			t.Errorf("Average(%d).String() = %q, want %q", uint8(a), got, want)
		}
	}
}
