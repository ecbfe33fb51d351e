package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/train"
	"github.com/kilnml/kiln/train/safetensors"
)

// splitCSV writes ../../train/testdata/NAME.csv to dir as NAME_train.csv
// and NAME_test.csv, every fourth data row going to the test file, and
// returns their paths.
func splitCSV(t *testing.T, dir, name string) (trainPath, testPath string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "train", "testdata", name+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	tr, te := []string{lines[0]}, []string{lines[0]}
	for i, l := range lines[1:] {
		if i%4 == 3 {
			te = append(te, l)
		} else {
			tr = append(tr, l)
		}
	}
	trainPath = filepath.Join(dir, name+"_train.csv")
	testPath = filepath.Join(dir, name+"_test.csv")
	if err := os.WriteFile(trainPath, []byte(strings.Join(tr, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testPath, []byte(strings.Join(te, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return trainPath, testPath
}

// trainCmd runs the command and, when it succeeds, parses the last line of
// its standard output.
func trainCmd(t *testing.T, args ...string) (code int, s summary, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	if code == 0 {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		last := lines[len(lines)-1]
		dec := json.NewDecoder(strings.NewReader(last))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("last line of stdout is not the JSON summary: %q: %v", out.String(), err)
		}
	}
	return code, s, errOut.String()
}

func keys(m map[string]float64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestModels(t *testing.T) {
	dir := t.TempDir()
	bcTrain, bcTest := splitCSV(t, dir, "breast_cancer")
	irisTrain, irisTest := splitCSV(t, dir, "iris")
	diTrain, diTest := splitCSV(t, dir, "diabetes")
	classifier := []string{"accuracy", "log_loss", "roc_auc"}
	regressor := []string{"mae", "r2", "rmse"}
	tests := []struct {
		name    string
		args    []string
		keys    []string
		check   string  // the metric checked against min (or max)
		min     float64 // the least acceptable value of check
		max     float64 // when not 0, the largest acceptable value of check
		epochs  int     // the number of epoch lines expected on stderr
		saveDir bool
	}{
		{"logistic breast_cancer", []string{"-train", bcTrain, "-test", bcTest, "-target", "target", "-model", "logistic"}, classifier, "accuracy", 0.93, 0, 0, true},
		{"softmax iris", []string{"-train", irisTrain, "-test", irisTest, "-target", "target", "-model", "softmax"}, classifier, "accuracy", 0.9, 0, 0, true},
		{"softmax breast_cancer", []string{"-train", bcTrain, "-test", bcTest, "-target", "target", "-model", "softmax"}, classifier, "roc_auc", 0.97, 0, 0, false},
		{"mlp breast_cancer", []string{"-train", bcTrain, "-test", bcTest, "-target", "target", "-model", "mlp", "-epochs", "10", "-hidden", "32,16"}, classifier, "accuracy", 0.9, 0, 10, true},
		{"mlp iris", []string{"-train", irisTrain, "-test", irisTest, "-target", "target", "-model", "mlp", "-epochs", "40", "-batch", "16", "-lr", "0.01", "-seed", "3"}, classifier, "accuracy", 0.85, 0, 40, false},
		{"linear diabetes", []string{"-train", diTrain, "-test", diTest, "-target", "target", "-model", "linear"}, regressor, "r2", 0.3, 0, 0, true},
		{"linear diabetes raw", []string{"-train", diTrain, "-test", diTest, "-target", "target", "-model", "linear", "-standardize=false", "-task", "regress"}, regressor, "r2", 0.3, 0, 0, true},
		{"mlp diabetes", []string{"-train", diTrain, "-test", diTest, "-target", "target", "-model", "mlp", "-task", "regress", "-epochs", "60", "-lr", "0.02", "-hidden", "32"}, regressor, "rmse", 0, 90, 60, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			save := filepath.Join(t.TempDir(), "model")
			if tt.saveDir {
				args = append(slices.Clone(args), "-save", save)
			}
			code, s, stderr := trainCmd(t, args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if s.Model != tt.args[7] {
				t.Errorf("model %q, want %q", s.Model, tt.args[7])
			}
			if !(s.TrainSeconds >= 0) {
				t.Errorf("train_seconds %v", s.TrainSeconds)
			}
			if diff := cmp.Diff(tt.keys, keys(s.Metrics)); diff != "" {
				t.Errorf("metric names (-want +got):\n%s", diff)
			}
			for k, v := range s.Metrics {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("metric %s = %v", k, v)
				}
			}
			if v := s.Metrics[tt.check]; v < tt.min || (tt.max != 0 && v > tt.max) {
				t.Errorf("%s = %v, want in [%v, %v]; all: %v", tt.check, v, tt.min, tt.max, s.Metrics)
			}
			if n := strings.Count(stderr, "\nepoch "); n != tt.epochs {
				t.Errorf("%d epoch lines on stderr, want %d:\n%s", n, tt.epochs, stderr)
			}
			if tt.saveDir {
				checkSaved(t, save, s.Model, !slices.Contains(args, "-standardize=false"))
			}
		})
	}
}

// checkSaved reads back what -save wrote.
func checkSaved(t *testing.T, dir, model string, standardized bool) {
	t.Helper()
	if model == "mlp" {
		m, err := train.LoadMLP(dir)
		if err != nil {
			t.Fatalf("LoadMLP: %v", err)
		}
		if len(m.Config.Features) == 0 || m.Config.Label != "target" {
			t.Errorf("loaded MLP config: %+v", m.Config)
		}
		_, err = os.Stat(filepath.Join(dir, "standardizer.json"))
		if standardized != (err == nil) {
			t.Errorf("standardizer.json: %v (standardized %v)", err, standardized)
		}
		return
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"), safetensors.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range f.Tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"coef", "intercept"}
	if standardized {
		want = append(want, "standardizer.mean", "standardizer.scale")
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("tensors (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg linearConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Model != model || cfg.Target != "target" || (cfg.Standardizer != nil) != standardized {
		t.Errorf("config.json: %s", data)
	}
	coef := f.Tensors["coef"]
	if coef == nil || coef.Shape()[len(coef.Shape())-1] != len(cfg.Features) {
		t.Errorf("coef %v for %d features", coef, len(cfg.Features))
	}
	if model == "linear" && cfg.Classes != nil || model != "linear" && len(cfg.Classes) < 2 {
		t.Errorf("classes %v for %s", cfg.Classes, model)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	irisTrain, irisTest := splitCSV(t, dir, "iris")
	strCSV := filepath.Join(dir, "str.csv")
	if err := os.WriteFile(strCSV, []byte("a,b,target\n1,x,0\n2,y,1\n3,z,0\n4,w,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := func(extra ...string) []string {
		return append([]string{"-train", irisTrain, "-test", irisTest, "-target", "target"}, extra...)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no flags", nil, 2, "usage:"},
		{"unknown flag", base("-model", "mlp", "-bogus"), 2, "usage:"},
		{"no model", base(), 2, "-model is required"},
		{"no test", []string{"-train", irisTrain, "-target", "target", "-model", "linear"}, 2, "-test is required"},
		{"bad model", base("-model", "tree"), 2, "-model \"tree\""},
		{"bad task", base("-model", "mlp", "-task", "cluster"), 2, "-task"},
		{"linear classify", base("-model", "linear", "-task", "classify"), 2, "regress"},
		{"logistic regress", base("-model", "logistic", "-task", "regress"), 2, "classify"},
		{"bad hidden", base("-model", "mlp", "-hidden", "64,x"), 2, "-hidden"},
		{"zero hidden", base("-model", "mlp", "-hidden", "0"), 2, "-hidden"},
		{"bad epochs", base("-model", "mlp", "-epochs", "0"), 2, "-epochs"},
		{"bad batch", base("-model", "mlp", "-batch", "-1"), 2, "-batch"},
		{"bad lr", base("-model", "mlp", "-lr", "0"), 2, "-lr"},
		{"extra args", base("-model", "mlp", "extra"), 2, "unexpected"},
		{"missing train", []string{"-train", filepath.Join(dir, "nope.csv"), "-test", irisTest, "-target", "target", "-model", "softmax"}, 1, "nope.csv"},
		{"missing test", []string{"-train", irisTrain, "-test", filepath.Join(dir, "nope.csv"), "-target", "target", "-model", "softmax"}, 1, "nope.csv"},
		{"unknown target", []string{"-train", irisTrain, "-test", irisTest, "-target", "species", "-model", "softmax"}, 1, "no target column \"species\""},
		{"logistic three classes", base("-model", "logistic"), 1, "2 classes"},
		{"string feature", []string{"-train", strCSV, "-test", strCSV, "-target", "target", "-model", "logistic"}, 1, "column \"b\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr does not mention %q:\n%s", tt.stderr, errOut.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout not empty: %q", out.String())
			}
		})
	}
}
