package metrics

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// golden mirrors testdata/golden.json, written by testdata/make_golden.py
// (run /usr/bin/python3 train/metrics/testdata/make_golden.py from the
// repository root to regenerate it with scikit-learn).
type golden struct {
	Sklearn        string `json:"sklearn"`
	Classification []struct {
		Name            string             `json:"name"`
		YTrue           []int32            `json:"y_true"`
		YPred           []int32            `json:"y_pred"`
		NumClasses      int                `json:"num_classes"`
		Accuracy        float64            `json:"accuracy"`
		ConfusionMatrix [][]int64          `json:"confusion_matrix"`
		Precision       map[string]float64 `json:"precision"`
		Recall          map[string]float64 `json:"recall"`
		F1              map[string]float64 `json:"f1"`
	} `json:"classification"`
	Scores []struct {
		Name          string    `json:"name"`
		YTrue         []int32   `json:"y_true"`
		Score         []float64 `json:"score"`
		PRAUC         float64   `json:"pr_auc"`
		ROCAUC        *float64  `json:"roc_auc"`
		BinaryLogLoss *float64  `json:"binary_log_loss"`
	} `json:"scores"`
	Proba []struct {
		Name        string    `json:"name"`
		YTrue       []int32   `json:"y_true"`
		NumClasses  int       `json:"num_classes"`
		Proba       []float64 `json:"proba"`
		LogLoss     float64   `json:"log_loss"`
		ROCMacro    *float64  `json:"roc_auc_macro"`
		ROCWeighted *float64  `json:"roc_auc_weighted"`
		ROCMicro    *float64  `json:"roc_auc_micro"`
	} `json:"proba"`
	Regression []struct {
		Name  string    `json:"name"`
		YTrue []float64 `json:"y_true"`
		YPred []float64 `json:"y_pred"`
		RMSE  float64   `json:"rmse"`
		MAE   float64   `json:"mae"`
		R2    *float64  `json:"r2"`
	} `json:"regression"`
}

func loadGolden(t *testing.T) *golden {
	t.Helper()
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Classification) == 0 || len(g.Scores) == 0 || len(g.Proba) == 0 || len(g.Regression) == 0 {
		t.Fatal("golden.json has an empty section")
	}
	return &g
}

// checkClose fails unless got is within 1e-12 relative of want (values
// that are exactly zero must be within 1e-15).
func checkClose(t *testing.T, what string, got float64, err error, want float64) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: unexpected error: %v", what, err)
		return
	}
	if math.Abs(got-want) > 1e-12*math.Max(math.Abs(got), math.Abs(want))+1e-15 || math.IsNaN(got) {
		t.Errorf("%s = %.17g, scikit-learn %.17g (diff %.3g)", what, got, want, got-want)
	}
}

var averages = map[string]Average{"binary": Binary, "macro": Macro, "micro": Micro, "weighted": Weighted}

func TestGoldenClassification(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Classification {
		t.Run(c.Name, func(t *testing.T) {
			got, err := Accuracy(c.YTrue, c.YPred)
			checkClose(t, "Accuracy", got, err, c.Accuracy)
			fns := []struct {
				name string
				fn   func([]int32, []int32, Average) (float64, error)
				want map[string]float64
			}{{"Precision", Precision, c.Precision}, {"Recall", Recall, c.Recall}, {"F1", F1, c.F1}}
			for _, f := range fns {
				if len(f.want) < 3 {
					t.Fatalf("%s: golden has only %v", f.name, f.want)
				}
				for name, want := range f.want {
					got, err := f.fn(c.YTrue, c.YPred, averages[name])
					checkClose(t, f.name+"/"+name, got, err, want)
				}
			}
			cm, err := ConfusionMatrix(c.YTrue, c.YPred, c.NumClasses)
			if err != nil {
				t.Fatal(err)
			}
			if !equalMatrix(cm, c.ConfusionMatrix) {
				t.Errorf("ConfusionMatrix = %v, scikit-learn %v", cm, c.ConfusionMatrix)
			}
		})
	}
}

func equalMatrix(a, b [][]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

func TestGoldenScores(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Scores {
		t.Run(c.Name, func(t *testing.T) {
			got, err := PRAUC(c.YTrue, c.Score)
			checkClose(t, "PRAUC", got, err, c.PRAUC)
			got, err = ROCAUC(c.YTrue, c.Score)
			if c.ROCAUC != nil {
				checkClose(t, "ROCAUC", got, err, *c.ROCAUC)
			} else if err == nil {
				t.Errorf("ROCAUC with one class = %v, want an error", got)
			}
			if c.BinaryLogLoss != nil {
				got, err = BinaryLogLoss(c.YTrue, c.Score)
				checkClose(t, "BinaryLogLoss", got, err, *c.BinaryLogLoss)
				// The same through LogLoss with two columns.
				proba := make([]float64, 0, 2*len(c.Score))
				for _, p := range c.Score {
					proba = append(proba, 1-p, p)
				}
				got, err = LogLoss(c.YTrue, proba, 2)
				checkClose(t, "LogLoss k=2", got, err, *c.BinaryLogLoss)
			}
		})
	}
}

func TestGoldenProba(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Proba {
		t.Run(c.Name, func(t *testing.T) {
			got, err := LogLoss(c.YTrue, c.Proba, c.NumClasses)
			checkClose(t, "LogLoss", got, err, c.LogLoss)
			for _, r := range []struct {
				avg  Average
				want *float64
			}{{Macro, c.ROCMacro}, {Weighted, c.ROCWeighted}, {Micro, c.ROCMicro}} {
				got, err := ROCAUCMulti(c.YTrue, c.Proba, c.NumClasses, r.avg)
				if r.want == nil {
					// Rows that do not sum to one: scikit-learn refuses.
					if err == nil {
						t.Errorf("ROCAUCMulti/%v = %v, want an error", r.avg, got)
					}
					continue
				}
				checkClose(t, "ROCAUCMulti/"+r.avg.String(), got, err, *r.want)
			}
		})
	}
}

func TestGoldenRegression(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Regression {
		t.Run(c.Name, func(t *testing.T) {
			got, err := RMSE(c.YTrue, c.YPred)
			checkClose(t, "RMSE", got, err, c.RMSE)
			got, err = MAE(c.YTrue, c.YPred)
			checkClose(t, "MAE", got, err, c.MAE)
			got, err = R2(c.YTrue, c.YPred)
			if c.R2 != nil {
				checkClose(t, "R2", got, err, *c.R2)
			} else if err == nil {
				t.Errorf("R2 = %v, want an error (scikit-learn: NaN)", got)
			}
		})
	}
}
