package metrics_test

import (
	"fmt"

	"github.com/kilnml/kiln/train/metrics"
)

func Example() {
	yTrue := []int32{0, 1, 1, 0, 1, 0}
	p1 := []float64{0.2, 0.9, 0.4, 0.3, 0.7, 0.6} // predicted probability of class 1
	yPred := make([]int32, len(p1))
	for i, p := range p1 {
		if p >= 0.5 {
			yPred[i] = 1
		}
	}
	acc, _ := metrics.Accuracy(yTrue, yPred)
	f1, _ := metrics.F1(yTrue, yPred, metrics.Binary)
	auc, _ := metrics.ROCAUC(yTrue, p1)
	ll, _ := metrics.BinaryLogLoss(yTrue, p1)
	fmt.Printf("accuracy %.3f  F1 %.3f  ROC AUC %.3f  log loss %.4f\n", acc, f1, auc, ll)
	// Output: accuracy 0.667  F1 0.667  ROC AUC 0.889  log loss 0.4791
}

func ExampleF1() {
	yTrue := []int32{0, 0, 1, 1, 2, 2}
	yPred := []int32{0, 1, 1, 1, 0, 0} // class 2 is never predicted
	for _, avg := range []metrics.Average{metrics.Macro, metrics.Micro, metrics.Weighted} {
		f1, err := metrics.F1(yTrue, yPred, avg)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%-8s %.4f\n", avg, f1)
	}
	// Output:
	// macro    0.4000
	// micro    0.5000
	// weighted 0.4000
}

func ExampleConfusionMatrix() {
	cm, _ := metrics.ConfusionMatrix([]int32{0, 0, 1, 2, 2}, []int32{0, 1, 1, 2, 0}, 0)
	for _, row := range cm {
		fmt.Println(row)
	}
	// Output:
	// [1 1 0]
	// [0 1 0]
	// [1 0 1]
}

func ExampleLogLoss() {
	yTrue := []int32{0, 2, 1}
	proba := []float64{ // 3 samples × 3 classes, row-major
		0.7, 0.2, 0.1,
		0.1, 0.3, 0.6,
		0.2, 0.5, 0.3,
	}
	ll, _ := metrics.LogLoss(yTrue, proba, 3)
	auc, _ := metrics.ROCAUCMulti(yTrue, proba, 3, metrics.Macro)
	fmt.Printf("log loss %.4f  one-vs-rest ROC AUC %.3f\n", ll, auc)
	// Output: log loss 0.5202  one-vs-rest ROC AUC 1.000
}

func ExampleR2() {
	r2, _ := metrics.R2([]float64{1, 2, 3}, []float64{1, 2, 4})
	rmse, _ := metrics.RMSE([]float64{1, 2, 3}, []float64{1, 2, 4})
	fmt.Printf("R² %.2f  RMSE %.4f\n", r2, rmse)
	// Output: R² 0.50  RMSE 0.5774
}
