package train_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train"
)

// linStandardize returns the columns of rows scaled to mean 0 and
// (population) standard deviation 1, as scikit-learn's StandardScaler.
func linStandardize(rows [][]float64) [][]float64 {
	n, d := len(rows), len(rows[0])
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
	}
	for j := 0; j < d; j++ {
		var mean, ss float64
		for _, r := range rows {
			mean += r[j]
		}
		mean /= float64(n)
		for _, r := range rows {
			ss += (r[j] - mean) * (r[j] - mean)
		}
		sd := math.Sqrt(ss / float64(n))
		if sd == 0 {
			sd = 1
		}
		for i, r := range rows {
			out[i][j] = (r[j] - mean) / sd
		}
	}
	return out
}

func linLabels(v []float64) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

// linClassification rebuilds the logistic designs of make_linear_golden.py.
func linClassification(t testing.TB, design string) (*tensor.Tensor, []int32) {
	t.Helper()
	switch design {
	case "breast_cancer_std":
		tb := linLoadCSV(t, "breast_cancer.csv")
		return linTensor(t, linStandardize(tb.x)), linLabels(tb.target)
	case "digits_std":
		tb := linLoadCSV(t, "digits.csv.gz")
		return linTensor(t, linStandardize(tb.x)), linLabels(tb.target)
	case "iris":
		tb := linLoadCSV(t, "iris.csv")
		return linTensor(t, tb.x), linLabels(tb.target)
	case "iris_12":
		tb := linLoadCSV(t, "iris.csv")
		var rows [][]float64
		var y []int32
		for i, r := range tb.x {
			if tb.target[i] > 0 {
				rows = append(rows, r)
				y = append(y, int32(tb.target[i]))
			}
		}
		return linTensor(t, rows), y
	}
	t.Fatalf("unknown design %q", design)
	return nil, nil
}

func TestFitLogisticGolden(t *testing.T) {
	g := linLoadGolden(t)
	if len(g.Logistic) < 5 {
		t.Fatalf("golden file has %d logistic cases", len(g.Logistic))
	}
	for _, c := range g.Logistic {
		t.Run(c.Name, func(t *testing.T) {
			x, y := linClassification(t, c.X)
			m, err := train.FitLogistic(context.Background(), x, y, train.LogisticOptions{
				C: c.C, NoPenalty: c.NoPenalty, NoIntercept: c.NoIntercept, Tol: 1e-8, MaxIter: 10000,
			})
			if err != nil {
				t.Fatal(err)
			}
			if !m.Converged || m.Iterations == 0 {
				t.Errorf("Converged %v after %d iterations", m.Converged, m.Iterations)
			}
			t.Logf("%d iterations (scikit-learn %d)", m.Iterations, c.NIter)
			if !slices.Equal(m.Classes, c.Classes) {
				t.Fatalf("Classes %v, want %v", m.Classes, c.Classes)
			}
			if got, want := m.Coef.Shape(), []int{len(c.Coef), len(c.Coef[0])}; !slices.Equal(got, want) {
				t.Fatalf("Coef shape %v, want %v", got, want)
			}
			// Coefficients against the optimum of the objective (scikit-learn's
			// own fit stops a little short of it: see make_linear_golden.py).
			coef := linFloats(t, m.Coef)
			d := len(c.OptCoef[0])
			floor := 1e-2 * linMaxAbs(c.OptCoef)
			for k, row := range c.OptCoef {
				for j, want := range row {
					if got := coef[k*d+j]; !linClose(got, want, 1e-4, floor) {
						t.Errorf("Coef[%d][%d] = %.8g, want %.8g", k, j, got, want)
					}
				}
			}
			for k, want := range c.OptIntercept {
				if got := m.Intercept[k]; !linClose(got, want, 1e-4, floor) {
					t.Errorf("Intercept[%d] = %.8g, want %.8g", k, got, want)
				}
			}
			pred, err := m.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pred, c.Pred) {
				t.Errorf("Predict differs from scikit-learn's")
			}
			proba, err := m.PredictProba(x)
			if err != nil {
				t.Fatal(err)
			}
			k := len(c.Classes)
			if !slices.Equal(proba.Shape(), []int{len(y), k}) {
				t.Fatalf("PredictProba shape %v, want [%d %d]", proba.Shape(), len(y), k)
			}
			p := linFloats(t, proba)
			for i, row := range c.OptProba {
				for j, want := range row {
					if got := p[i*k+j]; math.Abs(got-want) > 1e-5 {
						t.Fatalf("PredictProba[%d][%d] = %.8g, want %.8g", i, j, got, want)
					}
				}
			}
		})
	}
}

// TestFitLogisticByHand checks the binary objective on data whose optimum
// is known: with one feature x = ±1 and labels split 3:1 on each side, the
// unpenalized optimum without intercept has σ(w) = 3/4, w = ln 3.
func TestFitLogisticByHand(t *testing.T) {
	x, _ := tensor.FromFloat32s([]float32{1, 1, 1, 1, -1, -1, -1, -1}, 8, 1)
	y := []int32{7, 7, 7, 3, 3, 3, 3, 7}
	m, err := train.FitLogistic(context.Background(), x, y, train.LogisticOptions{NoPenalty: true, NoIntercept: true, Tol: 1e-10})
	if err != nil {
		t.Fatal(err)
	}
	if w := linFloats(t, m.Coef)[0]; math.Abs(w-math.Log(3)) > 1e-8 || !m.Converged {
		t.Errorf("w = %.12g (converged %v), want ln 3 = %.12g", w, m.Converged, math.Log(3))
	}
	if !slices.Equal(m.Classes, []int32{3, 7}) {
		t.Errorf("Classes = %v", m.Classes)
	}
	// With the penalty (C = 1) the gradient 2·(4σ(w)-3)... : Σ(σ(w)-y_i)x_i + w = 0
	// ⇔ 8σ(w) - 6 + w = 0; check the fitted w satisfies it.
	m, err = train.FitLogistic(context.Background(), x, y, train.LogisticOptions{NoIntercept: true, Tol: 1e-10})
	if err != nil {
		t.Fatal(err)
	}
	w := linFloats(t, m.Coef)[0]
	if r := 8/(1+math.Exp(-w)) - 6 + w; math.Abs(r) > 1e-9 {
		t.Errorf("C=1: w = %.12g leaves gradient %.3g", w, r)
	}
	pred, _ := m.Predict(x)
	if want := []int32{7, 7, 7, 7, 3, 3, 3, 3}; !slices.Equal(pred, want) {
		t.Errorf("Predict = %v, want %v", pred, want)
	}
	proba, _ := m.PredictProba(x)
	p := linFloats(t, proba)
	if s := 1 / (1 + math.Exp(-w)); math.Abs(p[1]-s) > 1e-15 || math.Abs(p[0]-(1-s)) > 1e-15 {
		t.Errorf("PredictProba row 0 = %v, want [%v %v]", p[:2], 1-s, s)
	}
}

func TestFitLogisticMaxIterAndContext(t *testing.T) {
	x, y := linClassification(t, "iris")
	m, err := train.FitLogistic(context.Background(), x, y, train.LogisticOptions{MaxIter: 3})
	if err != nil {
		t.Fatal(err)
	}
	if m.Converged || m.Iterations != 3 {
		t.Errorf("MaxIter 3: Converged %v, Iterations %d; want false, 3", m.Converged, m.Iterations)
	}
	if _, err := m.Predict(x); err != nil {
		t.Errorf("Predict on an unconverged model: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := train.FitLogistic(ctx, x, y, train.LogisticOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
	// Defaults (tol 1e-4, 100 iterations) converge on standardized data.
	xb, yb := linClassification(t, "breast_cancer_std")
	m, err = train.FitLogistic(context.Background(), xb, yb, train.LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Converged {
		t.Errorf("breast_cancer defaults: not converged after %d iterations", m.Iterations)
	}
}

func TestFitLogisticErrors(t *testing.T) {
	ctx := context.Background()
	x, _ := tensor.FromFloat64s([]float64{1, 2, 3, 4, 5, 6}, 3, 2)
	xNaN, _ := tensor.FromFloat64s([]float64{1, 2, math.NaN(), 4, 5, 6}, 3, 2)
	x1, _ := tensor.FromFloat64s([]float64{1, 2, 3}, 3)
	for _, c := range []struct {
		name string
		x    *tensor.Tensor
		y    []int32
		o    train.LogisticOptions
		want error
		msg  string
	}{
		{"labels length", x, []int32{0, 1}, train.LogisticOptions{}, tensor.ErrShape, "2 labels for 3 rows"},
		{"one class", x, []int32{4, 4, 4}, train.LogisticOptions{}, train.ErrData, "every label is 4"},
		{"NaN", xNaN, []int32{0, 1, 0}, train.LogisticOptions{}, train.ErrData, "x[1, 0] is NaN"},
		{"rank 1", x1, []int32{0, 1, 0}, train.LogisticOptions{}, tensor.ErrShape, "want [n d]"},
		{"negative C", x, []int32{0, 1, 0}, train.LogisticOptions{C: -1}, train.ErrData, "C = -1"},
		{"negative MaxIter", x, []int32{0, 1, 0}, train.LogisticOptions{MaxIter: -1}, train.ErrData, "MaxIter"},
		{"nil x", nil, []int32{0, 1, 0}, train.LogisticOptions{}, train.ErrNilTensor, "x"},
	} {
		_, err := train.FitLogistic(ctx, c.x, c.y, c.o)
		if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.msg) || !strings.HasPrefix(fmt.Sprint(err), "train: ") {
			t.Errorf("%s: err = %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
	m, err := train.FitLogistic(ctx, x, []int32{0, 1, 2}, train.LogisticOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x3, _ := tensor.FromFloat64s(make([]float64, 3), 1, 3)
	if _, err := m.Predict(x3); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Predict 3 columns: err = %v, want ErrShape", err)
	}
	if _, err := m.PredictProba(xNaN); !errors.Is(err, train.ErrData) {
		t.Errorf("PredictProba NaN: err = %v, want ErrData", err)
	}
	bad := *m
	bad.Classes = []int32{0, 1}
	if _, err := bad.Predict(x); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Predict with 2 classes and 3 coefficient rows: err = %v, want ErrShape", err)
	}
}

// BenchmarkFitLogistic fits scikit-learn's default LogisticRegression
// problem (C = 1, tol 1e-4) on standardized breast_cancer (569×30, binary)
// and digits (1797×64, 10 classes).
func BenchmarkFitLogistic(b *testing.B) {
	for _, design := range []string{"breast_cancer_std", "digits_std"} {
		b.Run(design, func(b *testing.B) {
			x, y := linClassification(b, design)
			var m *train.LogisticModel
			for b.Loop() {
				var err error
				m, err = train.FitLogistic(context.Background(), x, y, train.LogisticOptions{})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(m.Iterations), "iterations")
		})
	}
}

func ExampleFitLogistic() {
	// Hours studied and passed (1) or not (0).
	hours, _ := tensor.FromFloat64s([]float64{0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5}, 10, 1)
	passed := []int32{0, 0, 0, 0, 1, 0, 1, 1, 1, 1}
	m, err := train.FitLogistic(context.Background(), hours, passed, train.LogisticOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	coef, _ := m.Coef.At(0, 0)
	fmt.Printf("classes %v, coef %.3f, intercept %.3f, converged %v\n", m.Classes, coef, m.Intercept[0], m.Converged)
	query, _ := tensor.FromFloat64s([]float64{1, 4}, 2, 1)
	proba, _ := m.PredictProba(query)
	p1, _ := proba.At(0, 1)
	p2, _ := proba.At(1, 1)
	fmt.Printf("P(pass | 1 h) = %.2f, P(pass | 4 h) = %.2f\n", p1, p2)
	// Output:
	// classes [0 1], coef 1.223, intercept -3.364, converged true
	// P(pass | 1 h) = 0.11, P(pass | 4 h) = 0.82
}
