package train_test

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train"
)

// linGolden is testdata/linear_golden.json, written by
// testdata/make_linear_golden.py with scikit-learn 1.2.1.
type linGolden struct {
	Sklearn string `json:"sklearn"`
	Linear  []struct {
		Name        string      `json:"name"`
		X           string      `json:"x"`
		Y           string      `json:"y"`
		L2          float64     `json:"l2"`
		NoIntercept bool        `json:"no_intercept"`
		Coef        [][]float64 `json:"coef"`
		Intercept   []float64   `json:"intercept"`
		Pred        any         `json:"pred"` // [n] or [n][t]
	} `json:"linear"`
	Logistic []struct {
		Name         string      `json:"name"`
		X            string      `json:"x"`
		C            float64     `json:"c"`
		NoPenalty    bool        `json:"no_penalty"`
		NoIntercept  bool        `json:"no_intercept"`
		Classes      []int32     `json:"classes"`
		Coef         [][]float64 `json:"coef"`
		Intercept    []float64   `json:"intercept"`
		OptCoef      [][]float64 `json:"opt_coef"`
		OptIntercept []float64   `json:"opt_intercept"`
		NIter        int         `json:"n_iter"`
		Pred         []int32     `json:"pred"`
		OptProba     [][]float64 `json:"opt_proba"`
	} `json:"logistic"`
}

var linGoldenOnce = sync.OnceValues(func() (*linGolden, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "linear_golden.json"))
	if err != nil {
		return nil, err
	}
	var g linGolden
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, err
	}
	return &g, nil
})

func linLoadGolden(t testing.TB) *linGolden {
	t.Helper()
	g, err := linGoldenOnce()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// linTable is a CSV data set from testdata: the feature columns and the
// target column.
type linTable struct {
	cols   []string
	x      [][]float64 // rows
	target []float64
}

func (tb *linTable) col(name string) []float64 {
	j := slices.Index(tb.cols, name)
	out := make([]float64, len(tb.x))
	for i, r := range tb.x {
		out[i] = r[j]
	}
	return out
}

func linLoadCSV(t testing.TB, name string) *linTable {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	ti := slices.Index(header, "target")
	tb := &linTable{}
	for j, h := range header {
		if j != ti {
			tb.cols = append(tb.cols, h)
		}
	}
	for _, rec := range recs[1:] {
		row := make([]float64, 0, len(rec)-1)
		for j, s := range rec {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			if j == ti {
				tb.target = append(tb.target, v)
			} else {
				row = append(row, v)
			}
		}
		tb.x = append(tb.x, row)
	}
	return tb
}

// linTensor returns rows as an n×d float64 tensor.
func linTensor(t testing.TB, rows [][]float64) *tensor.Tensor {
	t.Helper()
	var flat []float64
	for _, r := range rows {
		flat = append(flat, r...)
	}
	x, err := tensor.FromFloat64s(flat, len(rows), len(rows[0]))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func linFloats(t testing.TB, x *tensor.Tensor) []float64 {
	t.Helper()
	v, err := x.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// linClose reports whether got is within rel of want, relative to
// max(|want|, floor): coefficients are compared relative to their own size,
// with a floor of a fraction of the largest one so that coefficients that
// are zero in exact arithmetic are not compared to their rounding noise.
func linClose(got, want, rel, floor float64) bool {
	return math.Abs(got-want) <= rel*math.Max(math.Abs(want), floor)
}

func linMaxAbs(v [][]float64) float64 {
	var m float64
	for _, r := range v {
		for _, x := range r {
			m = math.Max(m, math.Abs(x))
		}
	}
	return m
}

// linDesign rebuilds the design matrices and targets of make_linear_golden.py.
func linDesign(t *testing.T, design, target string) (*tensor.Tensor, *tensor.Tensor) {
	t.Helper()
	tb := linLoadCSV(t, "diabetes.csv")
	rows := tb.x
	switch design {
	case "diabetes":
	case "diabetes_dup":
		bmi := slices.Index(tb.cols, "bmi")
		rows = nil
		for _, r := range tb.x {
			rows = append(rows, append(slices.Clone(r), r[bmi]))
		}
	case "diabetes_wide":
		rows = rows[:6]
	default:
		t.Fatalf("unknown design %q", design)
	}
	n := len(rows)
	var y *tensor.Tensor
	var err error
	switch target {
	case "y":
		y, err = tensor.FromFloat64s(tb.target[:n], n)
	case "y2":
		bmi, s5 := tb.col("bmi"), tb.col("s5")
		v := make([]float64, 0, 2*n)
		for i := 0; i < n; i++ {
			v = append(v, tb.target[i], 100*s5[i]+bmi[i])
		}
		y, err = tensor.FromFloat64s(v, n, 2)
	default:
		t.Fatalf("unknown target %q", target)
	}
	if err != nil {
		t.Fatal(err)
	}
	return linTensor(t, rows), y
}

func TestFitLinearGolden(t *testing.T) {
	g := linLoadGolden(t)
	if len(g.Linear) < 10 {
		t.Fatalf("golden file has %d linear cases", len(g.Linear))
	}
	for _, c := range g.Linear {
		t.Run(c.Name, func(t *testing.T) {
			x, y := linDesign(t, c.X, c.Y)
			m, err := train.FitLinear(x, y, train.LinearOptions{L2: c.L2, NoIntercept: c.NoIntercept})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.Coef.Shape(), []int{len(c.Coef), len(c.Coef[0])}; !slices.Equal(got, want) {
				t.Fatalf("Coef shape %v, want %v", got, want)
			}
			coef := linFloats(t, m.Coef)
			floor := 1e-3 * linMaxAbs(c.Coef)
			d := len(c.Coef[0])
			for k, row := range c.Coef {
				for j, want := range row {
					if got := coef[k*d+j]; !linClose(got, want, 1e-7, floor) {
						t.Errorf("Coef[%d][%d] = %.12g, want %.12g", k, j, got, want)
					}
				}
				if got, want := m.Intercept[k], c.Intercept[k]; !linClose(got, want, 1e-7, 1e-3*math.Abs(c.Intercept[0])+1e-9) {
					t.Errorf("Intercept[%d] = %.12g, want %.12g", k, got, want)
				}
			}
			if c.L2 == 0 && c.X == "diabetes" && m.Rank != 10 || c.X == "diabetes_dup" && c.L2 == 0 && m.Rank != 10 || c.X == "diabetes_wide" && c.L2 == 0 && m.Rank != 5 {
				t.Errorf("Rank = %d", m.Rank)
			}
			pred, err := m.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			var want []float64
			switch p := c.Pred.(type) {
			case []any:
				for _, v := range p {
					switch v := v.(type) {
					case float64:
						want = append(want, v)
					case []any:
						for _, w := range v {
							want = append(want, w.(float64))
						}
					}
				}
			}
			wantShape := []int{x.Shape()[0]}
			if c.Y == "y2" {
				wantShape = append(wantShape, 2)
			}
			if !slices.Equal(pred.Shape(), wantShape) {
				t.Fatalf("Predict shape %v, want %v", pred.Shape(), wantShape)
			}
			got := linFloats(t, pred)
			if len(got) != len(want) {
				t.Fatalf("%d predictions, want %d", len(got), len(want))
			}
			for i := range got {
				if !linClose(got[i], want[i], 1e-9, 1) {
					t.Errorf("prediction %d = %.12g, want %.12g", i, got[i], want[i])
					break
				}
			}
		})
	}
}

func TestFitLinearByHand(t *testing.T) {
	// y = 2x + 1 exactly on x = 0..3.
	x, _ := tensor.FromFloat32s([]float32{0, 1, 2, 3}, 4, 1)
	y, _ := tensor.FromFloat32s([]float32{1, 3, 5, 7}, 4)
	m, err := train.FitLinear(x, y, train.LinearOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := linFloats(t, m.Coef); math.Abs(c[0]-2) > 1e-12 || math.Abs(m.Intercept[0]-1) > 1e-12 {
		t.Errorf("OLS: coef %v intercept %v, want 2 and 1", c, m.Intercept)
	}
	// Ridge α = 1: centred x = ±0.5, ±1.5, Σx² = 5, Σxy = 10 → w = 10/6,
	// b = mean(y) - w·mean(x) = 4 - 1.5·10/6 = 1.5.
	m, err = train.FitLinear(x, y, train.LinearOptions{L2: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c := linFloats(t, m.Coef); math.Abs(c[0]-10.0/6) > 1e-12 || math.Abs(m.Intercept[0]-1.5) > 1e-12 {
		t.Errorf("ridge: coef %v intercept %v, want 1.6667 and 1.5", c, m.Intercept)
	}
	// Without intercept, ridge α = 1: w = Σxy/(Σx²+1) = (3+10+21)/(14+1).
	m, err = train.FitLinear(x, y, train.LinearOptions{L2: 1, NoIntercept: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := linFloats(t, m.Coef); math.Abs(c[0]-34.0/15) > 1e-12 || m.Intercept[0] != 0 {
		t.Errorf("ridge without intercept: coef %v intercept %v, want 2.2667 and 0", c, m.Intercept)
	}
	// A constant column has rank 0 after centring: coefficient 0, intercept mean(y).
	xc, _ := tensor.FromFloat64s([]float64{5, 5, 5}, 3, 1)
	yc, _ := tensor.FromFloat64s([]float64{1, 2, 6}, 3)
	m, err = train.FitLinear(xc, yc, train.LinearOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := linFloats(t, m.Coef); c[0] != 0 || math.Abs(m.Intercept[0]-3) > 1e-12 || m.Rank != 0 {
		t.Errorf("constant column: coef %v intercept %v rank %d, want 0, 3, 0", c, m.Intercept, m.Rank)
	}
	// Predict on a strided (transposed) float32 view.
	xt, _ := tensor.FromFloat32s([]float32{10, 20}, 1, 2)
	xtt, _ := xt.T()
	m, _ = train.FitLinear(x, y, train.LinearOptions{})
	p, err := m.Predict(xtt)
	if err != nil {
		t.Fatal(err)
	}
	if got := linFloats(t, p); math.Abs(got[0]-21) > 1e-9 || math.Abs(got[1]-41) > 1e-9 {
		t.Errorf("Predict = %v, want [21 41]", got)
	}
}

func TestFitLinearErrors(t *testing.T) {
	x, _ := tensor.FromFloat64s([]float64{1, 2, 3, 4, 5, 6}, 3, 2)
	y, _ := tensor.FromFloat64s([]float64{1, 2, 3}, 3)
	y4, _ := tensor.FromFloat64s([]float64{1, 2, 3, 4}, 4)
	x1, _ := tensor.FromFloat64s([]float64{1, 2, 3}, 3)
	y3d, _ := tensor.FromFloat64s(make([]float64, 3), 3, 1, 1)
	xNaN, _ := tensor.FromFloat64s([]float64{1, 2, 3, math.NaN(), 5, 6}, 3, 2)
	yInf, _ := tensor.FromFloat64s([]float64{1, math.Inf(1), 3}, 3)
	x0, _ := tensor.New(tensor.Float64, 0, 2)
	y0, _ := tensor.New(tensor.Float64, 0)
	for _, c := range []struct {
		name string
		x, y *tensor.Tensor
		o    train.LinearOptions
		want error
		msg  string
	}{
		{"y length", x, y4, train.LinearOptions{}, tensor.ErrShape, "x has 3 rows"},
		{"x rank 1", x1, y, train.LinearOptions{}, tensor.ErrShape, "want [n d]"},
		{"y rank 3", x, y3d, train.LinearOptions{}, tensor.ErrShape, "y has shape"},
		{"NaN in x", xNaN, y, train.LinearOptions{}, train.ErrData, "x[1, 1] is NaN"},
		{"Inf in y", x, yInf, train.LinearOptions{}, train.ErrData, "y[1] is +Inf"},
		{"no rows", x0, y0, train.LinearOptions{}, train.ErrData, "no rows"},
		{"negative L2", x, y, train.LinearOptions{L2: -1}, train.ErrData, "L2"},
		{"nil x", nil, y, train.LinearOptions{}, train.ErrNilTensor, "x"},
		{"nil y", x, nil, train.LinearOptions{}, train.ErrNilTensor, "y"},
	} {
		_, err := train.FitLinear(c.x, c.y, c.o)
		if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.msg) || !strings.HasPrefix(fmt.Sprint(err), "train: ") {
			t.Errorf("%s: err = %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
	m, err := train.FitLinear(x, y, train.LinearOptions{L2: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Predict(x1); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("Predict rank 1: err = %v, want ErrShape", err)
	}
	x3, _ := tensor.FromFloat64s(make([]float64, 6), 2, 3)
	if _, err := m.Predict(x3); !errors.Is(err, tensor.ErrShape) || !strings.Contains(err.Error(), "3 columns") {
		t.Errorf("Predict 3 columns: err = %v, want ErrShape", err)
	}
	if _, err := m.Predict(xNaN); !errors.Is(err, train.ErrData) {
		t.Errorf("Predict NaN: err = %v, want ErrData", err)
	}
	if _, err := (&train.LinearModel{}).Predict(x); !errors.Is(err, train.ErrNilTensor) {
		t.Errorf("Predict on empty model: err = %v, want ErrNilTensor", err)
	}
}

func ExampleFitLinear() {
	// Four houses: size (100 m²) and rooms, and their price.
	x, _ := tensor.FromFloat64s([]float64{
		1.0, 3,
		1.5, 4,
		2.0, 4,
		0.8, 2,
	}, 4, 2)
	price, _ := tensor.FromFloat64s([]float64{300, 420, 510, 230}, 4)
	m, err := train.FitLinear(x, price, train.LinearOptions{L2: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	coef, _ := m.Coef.Float64s()
	fmt.Printf("coef %.1f, intercept %.1f\n", coef, m.Intercept[0])
	next, _ := tensor.FromFloat64s([]float64{1.2, 3}, 1, 2)
	p, _ := m.Predict(next)
	v, _ := p.At(0)
	fmt.Printf("predicted price %.0f\n", v)
	// Output:
	// coef [124.5 57.5], intercept 13.2
	// predicted price 335
}
