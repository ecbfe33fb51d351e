package train

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

// The want values below are PyTorch 1.13's learning rates for steps
// 0, 1, 2, … (the optimizer's lr read before each scheduler.step()),
// from torch.optim.lr_scheduler with an SGD optimizer of lr 0.1 (the
// schedule's base) and the arguments in the comments.
func TestScheduleLRPyTorchGolden(t *testing.T) {
	cases := []struct {
		name string
		s    Schedule
		want []float64
	}{
		// StepLR(step_size=3, gamma=0.5)
		{"StepLR", StepLR{Base: 0.1, StepSize: 3, Gamma: 0.5}, []float64{0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125}},
		// MultiStepLR(milestones=[2, 5, 5, 8]) (gamma 0.1 by default;
		// the repeated milestone counts twice)
		{"MultiStepLR", MultiStepLR{Base: 0.1, Milestones: []int{8, 5, 2, 5}}, []float64{0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.00010000000000000005, 0.00010000000000000005, 0.00010000000000000005, 1.0000000000000006e-05, 1.0000000000000006e-05}},
		// ExponentialLR(gamma=0.9)
		{"ExponentialLR", ExponentialLR{Base: 0.1, Gamma: 0.9}, []float64{0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002, 0.06561000000000002, 0.05904900000000002, 0.05314410000000002, 0.04782969000000002, 0.043046721000000024, 0.03874204890000002}},
		// CosineAnnealingWarmRestarts(T_0=4, eta_min=0.01)
		{"CosineLR fixed period", CosineLR{Base: 0.1, Min: 0.01, Period: 4}, []float64{0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363, 0.1, 0.08681980515339464, 0.05500000000000001, 0.023180194846605363}},
		// CosineAnnealingWarmRestarts(T_0=3, T_mult=2, eta_min=0.001)
		{"CosineLR period mult 2", CosineLR{Base: 0.1, Min: 0.001, Period: 3, PeriodMult: 2}, []float64{0.1, 0.07525000000000001, 0.025750000000000012, 0.1, 0.09336825748732973, 0.07525000000000001, 0.0505, 0.025750000000000012, 0.007631742512670284, 0.1, 0.09831332840130888, 0.09336825748732973, 0.0855017856687341, 0.07525000000000001, 0.06331154273257478, 0.0505, 0.03768845726742523, 0.025750000000000012, 0.0154982143312659, 0.007631742512670284, 0.0026866715986911243, 0.1}},
		// OneCycleLR(max_lr=0.1, total_steps=10), steps 0 to 10
		{"OneCycleLR defaults", OneCycleLR{MaxLR: 0.1, TotalSteps: 10}, []float64{0.0040000000000000036, 0.052000000000000005, 0.1, 0.09504846320134738, 0.0811745653949763, 0.06112620219362893, 0.03887419780637107, 0.0188258346050237, 0.004951936798652629, 4e-07, 0.004951936798652624}},
		// OneCycleLR(max_lr=1, total_steps=20, pct_start=0.25,
		// div_factor=10, final_div_factor=100), steps 0 to 20
		{"OneCycleLR", OneCycleLR{MaxLR: 1, TotalSteps: 20, PctStart: 0.25, DivFactor: 10, FinalDivFactor: 100}, []float64{0.09999999999999998, 0.23180194846605362, 0.55, 0.8681980515339464, 1.0, 0.9890847265665359, 0.956815956092479, 0.9046039886902862, 0.8347307378762497, 0.75025, 0.6548539886902862, 0.552711967402193, 0.4482880325978072, 0.3461460113097138, 0.2507500000000001, 0.16626926212375048, 0.0963960113097138, 0.044184043907520815, 0.011915273433464057, 0.001, 0.011915273433464057}},
	}
	for _, tc := range cases {
		for step, want := range tc.want {
			if got := tc.s.LR(step); !closeRel(got, want, 1e-12) {
				t.Errorf("%s: LR(%d) = %v, PyTorch %v", tc.name, step, got, want)
			}
		}
	}
}

// The want values are PyTorch 1.13's ReduceLROnPlateau: the optimizer's
// lr (starting at 1) after each scheduler.step(metric).
func TestReduceOnPlateauPyTorchGolden(t *testing.T) {
	ms := []float64{1.0, 0.9, 0.95, 0.95, 0.89999, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75}
	cases := []struct {
		name    string
		p       ReduceOnPlateau
		metrics []float64
		want    []float64
	}{
		// patience=2 (0.89999 is not better than 0.9 by the relative
		// threshold 1e-4)
		{"patience 2", ReduceOnPlateau{Patience: 2}, ms, []float64{1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002, 0.0010000000000000002}},
		// patience=1, cooldown=2, factor=0.5, min_lr=0.2
		{"cooldown and floor", ReduceOnPlateau{Patience: 1, Cooldown: 2, Factor: 0.5, MinLR: 0.2}, ms, []float64{1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2, 0.2}},
		// mode="max", patience=0, threshold=0.05, threshold_mode="abs"
		{"max abs no patience", ReduceOnPlateau{Mode: PlateauMax, Patience: -1, Threshold: 0.05, AbsoluteThreshold: true},
			[]float64{0.5, 0.6, 0.62, 0.7, 0.7, 0.76, 0.8}, []float64{1.0, 1.0, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.0010000000000000002}},
		// defaults: patience 10
		{"defaults", ReduceOnPlateau{}, constMetrics(25), []float64{1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002, 0.010000000000000002}},
	}
	for _, tc := range cases {
		p := tc.p
		lr := 1.0
		for i, m := range tc.metrics {
			lr = p.Observe(m, lr)
			if !closeRel(lr, tc.want[i], 1e-12) {
				t.Errorf("%s: LR after observation %d = %v, PyTorch %v", tc.name, i, lr, tc.want[i])
			}
		}
	}
}

func constMetrics(n int) []float64 {
	m := make([]float64, n)
	for i := range m {
		m[i] = 1
	}
	return m
}

// TestCosineLRWarmup checks the warmup and NoRestart by hand.
func TestCosineLRWarmup(t *testing.T) {
	s := CosineLR{Base: 1, Min: 0.2, Warmup: 4, Period: 4}
	// Warmup: (s+1)/4. Then 0.2 + 0.8·(1+cos(π·t/4))/2 for t = 0…3,
	// restarting at t = 4.
	c := func(t float64) float64 { return 0.2 + 0.8*(1+math.Cos(math.Pi*t/4))/2 }
	want := []float64{0.25, 0.5, 0.75, 1, 1, c(1), c(2), c(3), 1, c(1)}
	for step, w := range want {
		if got := s.LR(step); !closeRel(got, w, 1e-15) {
			t.Errorf("LR(%d) = %v, want %v", step, got, w)
		}
	}
	if got := s.LR(5); got != 0.2+0.4*(1+math.Sqrt2/2) && !closeRel(got, 0.2+0.4*(1+math.Sqrt2/2), 1e-15) {
		t.Errorf("LR(5) = %v", got)
	}
	s.NoRestart = true
	for _, step := range []int{8, 9, 100, math.MaxInt} {
		if got := s.LR(step); got != 0.2 {
			t.Errorf("NoRestart: LR(%d) = %v, want Min 0.2", step, got)
		}
	}
	// A huge step with a growing period neither loops long nor overflows.
	g := CosineLR{Base: 1, Period: 1, PeriodMult: 3}
	if got := g.LR(math.MaxInt); math.IsNaN(got) || got < 0 || got > 1 {
		t.Errorf("LR(MaxInt) with PeriodMult 3 = %v", got)
	}
	// Cycles of 1, 3, 9 steps: step 4 starts the third cycle.
	if got := g.LR(4); got != 1 {
		t.Errorf("LR(4) with periods 1, 3, 9 = %v, want 1", got)
	}
}

func TestScheduleInvalid(t *testing.T) {
	cases := []struct {
		name string
		s    interface {
			Schedule
			Validate() error
		}
	}{
		{"StepLR zero value", StepLR{}},
		{"StepLR no step size", StepLR{Base: 0.1}},
		{"StepLR negative gamma", StepLR{Base: 0.1, StepSize: 1, Gamma: -1}},
		{"StepLR NaN base", StepLR{Base: math.NaN(), StepSize: 1}},
		{"MultiStepLR negative milestone", MultiStepLR{Base: 0.1, Milestones: []int{-1}}},
		{"MultiStepLR negative base", MultiStepLR{Base: -0.1}},
		{"ExponentialLR no gamma", ExponentialLR{Base: 0.1}},
		{"CosineLR no period", CosineLR{Base: 0.1}},
		{"CosineLR min above base", CosineLR{Base: 0.1, Min: 0.2, Period: 3}},
		{"CosineLR negative warmup", CosineLR{Base: 0.1, Period: 3, Warmup: -1}},
		{"CosineLR negative mult", CosineLR{Base: 0.1, Period: 3, PeriodMult: -2}},
		{"OneCycleLR no total", OneCycleLR{MaxLR: 0.1}},
		{"OneCycleLR no max", OneCycleLR{TotalSteps: 10}},
		{"OneCycleLR pct 1", OneCycleLR{MaxLR: 0.1, TotalSteps: 10, PctStart: 1}},
		{"OneCycleLR no warmup step", OneCycleLR{MaxLR: 0.1, TotalSteps: 10, PctStart: 0.1}},
		{"OneCycleLR negative div", OneCycleLR{MaxLR: 0.1, TotalSteps: 10, DivFactor: -1}},
	}
	for _, tc := range cases {
		if err := tc.s.Validate(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: Validate = %v, want ErrInvalidOption", tc.name, err)
		}
		if got := tc.s.LR(0); !math.IsNaN(got) {
			t.Errorf("%s: LR(0) = %v, want NaN", tc.name, got)
		}
	}
	valid := []interface {
		Schedule
		Validate() error
	}{
		StepLR{Base: 0.1, StepSize: 1},
		MultiStepLR{Base: 0.1},
		ExponentialLR{Base: 0.1, Gamma: 1.5},
		CosineLR{Base: 0.1, Period: 1},
		OneCycleLR{MaxLR: 0.1, TotalSteps: 10},
	}
	for _, s := range valid {
		if err := s.Validate(); err != nil {
			t.Errorf("%#v: %v", s, err)
		}
		if got := s.LR(-1); !math.IsNaN(got) {
			t.Errorf("%#v: LR(-1) = %v, want NaN", s, got)
		}
	}
	// Like PyTorch, OneCycleLR accepts steps up to TotalSteps only.
	if got := (OneCycleLR{MaxLR: 0.1, TotalSteps: 10}).LR(11); !math.IsNaN(got) {
		t.Errorf("OneCycleLR beyond TotalSteps: %v, want NaN", got)
	}
	for _, p := range []ReduceOnPlateau{
		{Mode: 2}, {Factor: 1}, {Factor: -0.5}, {Threshold: -1}, {Cooldown: -1}, {MinLR: -1}, {MinLR: math.Inf(1)},
	} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidOption", p, err)
		}
		if got := p.Observe(1, 0.1); !math.IsNaN(got) {
			t.Errorf("%+v: Observe = %v, want NaN", p, got)
		}
	}
}

// TestReduceOnPlateauState checks that a scheduler restored from State
// (through JSON, as a checkpoint would) continues like the original.
func TestReduceOnPlateauState(t *testing.T) {
	ms := []float64{1, 0.9, 0.95, 0.95, 0.89999, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.71, 0.72, 0.73}
	cfg := ReduceOnPlateau{Patience: 1, Cooldown: 2, Factor: 0.5}
	for cut := range ms {
		ref, p := cfg, cfg
		lrRef, lr := 1.0, 1.0
		for _, m := range ms[:cut] {
			lrRef = ref.Observe(m, lrRef)
			lr = p.Observe(m, lr)
		}
		data, err := json.Marshal(p.State())
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		var st PlateauState
		if err := json.Unmarshal(data, &st); err != nil {
			t.Fatal(err)
		}
		q := cfg
		q.SetState(st)
		for i, m := range ms[cut:] {
			lrRef = ref.Observe(m, lrRef)
			lr = q.Observe(m, lr)
			if lr != lrRef {
				t.Fatalf("cut %d, observation %d: LR %v, uninterrupted %v", cut, cut+i, lr, lrRef)
			}
		}
		if q.State() != ref.State() {
			t.Errorf("cut %d: state %+v, uninterrupted %+v", cut, q.State(), ref.State())
		}
	}
	// A NaN metric never improves and sets no best.
	var p ReduceOnPlateau
	p.Observe(math.NaN(), 1)
	if s := p.State(); s.HasBest || s.BadEpochs != 1 {
		t.Errorf("after a NaN metric: %+v", s)
	}
	p.Observe(5, 1)
	if s := p.State(); !s.HasBest || s.Best != 5 || s.BadEpochs != 0 {
		t.Errorf("after metric 5: %+v", s)
	}
}

// TestScheduleDrivesOptimizer runs an optimizer under a schedule the way
// the Trainer does.
func TestScheduleDrivesOptimizer(t *testing.T) {
	w := NewParam("w", vec32(t, nil, 0))
	opt, err := NewSGD([]*Var{w}, SGDOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := StepLR{Base: 1, StepSize: 2, Gamma: 0.5}
	for step := range 5 {
		opt.SetLR(s.LR(step))
		w.Grad = vec32(t, nil, -1)
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	}
	// w = 1 + 1 + 0.5 + 0.5 + 0.25
	if got := values(t, w.Value); got[0] != 3.25 {
		t.Errorf("w = %v, want 3.25", got[0])
	}
}
