package train

import (
	"fmt"
	"math"
)

// A Schedule gives the learning rate of each step. It is a pure function
// of the step index (counted from 0), so a resumed run gets exactly the
// rates of an uninterrupted one; the Trainer calls opt.SetLR(s.LR(step))
// before each step (or epoch).
//
// The schedules of this package return NaN for an invalid configuration
// or step (their Validate method says why), which makes the optimizer's
// next Step fail instead of training with a made-up rate.
type Schedule interface {
	LR(step int) float64
}

// Interface checks.
var (
	_ Schedule = StepLR{}
	_ Schedule = MultiStepLR{}
	_ Schedule = ExponentialLR{}
	_ Schedule = CosineLR{}
	_ Schedule = OneCycleLR{}
)

func schedErr(kind, field string, v any, want string) error {
	return fmt.Errorf("train: %s: %s = %v, want %s: %w", kind, field, v, want, ErrInvalidOption)
}

func schedCheckBase(kind string, base float64) error {
	if !optFinite(base) || base <= 0 {
		return schedErr(kind, "Base", base, "a finite value > 0")
	}
	return nil
}

// StepLR multiplies the rate by Gamma every StepSize steps, as PyTorch's
// StepLR: LR(step) = Base·Gamma^⌊step/StepSize⌋.
type StepLR struct {
	// Base is the rate of step 0 (> 0).
	Base float64
	// StepSize is the number of steps between decays (> 0).
	StepSize int
	// Gamma is the decay factor (> 0); 0 means 0.1.
	Gamma float64
}

// Validate reports whether the schedule is usable.
func (s StepLR) Validate() error {
	if err := schedCheckBase("StepLR", s.Base); err != nil {
		return err
	}
	if s.StepSize <= 0 {
		return schedErr("StepLR", "StepSize", s.StepSize, "> 0")
	}
	if !optFinite(s.Gamma) || s.Gamma < 0 {
		return schedErr("StepLR", "Gamma", s.Gamma, "a finite value > 0 (0: 0.1)")
	}
	return nil
}

// LR returns the rate of step (NaN for an invalid schedule or a negative
// step).
func (s StepLR) LR(step int) float64 {
	if s.Validate() != nil || step < 0 {
		return math.NaN()
	}
	return s.Base * math.Pow(optDefault(s.Gamma, 0.1), float64(step/s.StepSize))
}

// MultiStepLR multiplies the rate by Gamma at each milestone, as PyTorch's
// MultiStepLR: LR(step) = Base·Gamma^n, with n the number of milestones
// ≤ step (a milestone listed twice counts twice).
type MultiStepLR struct {
	// Base is the rate of step 0 (> 0).
	Base float64
	// Milestones are the steps at which the rate decays (>= 0, in any
	// order).
	Milestones []int
	// Gamma is the decay factor (> 0); 0 means 0.1.
	Gamma float64
}

// Validate reports whether the schedule is usable.
func (s MultiStepLR) Validate() error {
	if err := schedCheckBase("MultiStepLR", s.Base); err != nil {
		return err
	}
	for i, m := range s.Milestones {
		if m < 0 {
			return schedErr("MultiStepLR", fmt.Sprintf("Milestones[%d]", i), m, ">= 0")
		}
	}
	if !optFinite(s.Gamma) || s.Gamma < 0 {
		return schedErr("MultiStepLR", "Gamma", s.Gamma, "a finite value > 0 (0: 0.1)")
	}
	return nil
}

// LR returns the rate of step (NaN for an invalid schedule or a negative
// step).
func (s MultiStepLR) LR(step int) float64 {
	if s.Validate() != nil || step < 0 {
		return math.NaN()
	}
	n := 0
	for _, m := range s.Milestones {
		if m <= step {
			n++
		}
	}
	return s.Base * math.Pow(optDefault(s.Gamma, 0.1), float64(n))
}

// ExponentialLR multiplies the rate by Gamma every step, as PyTorch's
// ExponentialLR: LR(step) = Base·Gamma^step.
type ExponentialLR struct {
	// Base is the rate of step 0 (> 0).
	Base float64
	// Gamma is the decay factor per step (> 0; it has no default).
	Gamma float64
}

// Validate reports whether the schedule is usable.
func (s ExponentialLR) Validate() error {
	if err := schedCheckBase("ExponentialLR", s.Base); err != nil {
		return err
	}
	if !optFinite(s.Gamma) || s.Gamma <= 0 {
		return schedErr("ExponentialLR", "Gamma", s.Gamma, "a finite value > 0")
	}
	return nil
}

// LR returns the rate of step (NaN for an invalid schedule or a negative
// step).
func (s ExponentialLR) LR(step int) float64 {
	if s.Validate() != nil || step < 0 {
		return math.NaN()
	}
	return s.Base * math.Pow(s.Gamma, float64(step))
}

// CosineLR is a linear warmup followed by cosine annealing with warm
// restarts (SGDR, PyTorch's CosineAnnealingWarmRestarts):
//
//   - steps 0 … Warmup-1 rise linearly: LR(s) = Base·(s+1)/Warmup, so the
//     first step uses Base/Warmup and the last warmup step Base;
//   - then, with t = s - Warmup counted within the current cycle of
//     length T: LR = Min + (Base-Min)·(1+cos(π·t/T))/2;
//   - the first cycle lasts Period steps and each next one PeriodMult
//     times longer (PeriodMult 0 or 1: all cycles last Period steps);
//     at the start of a cycle the rate jumps back to Base. With NoRestart
//     the rate stays at Min after the first cycle instead.
//
// For a single cosine decay over a run of N steps, set Period to
// N - Warmup (and NoRestart if steps may go beyond).
type CosineLR struct {
	// Base is the peak rate (> 0).
	Base float64
	// Min is the lowest rate (>= 0 and <= Base); 0 means 0.
	Min float64
	// Warmup is the number of warmup steps (>= 0); 0 means none.
	Warmup int
	// Period is the length of the first cosine cycle in steps (> 0; it
	// has no default).
	Period int
	// PeriodMult multiplies the length of each next cycle (>= 0); 0 and 1
	// keep it fixed.
	PeriodMult int
	// NoRestart keeps the rate at Min after the first cycle.
	NoRestart bool
}

// Validate reports whether the schedule is usable.
func (s CosineLR) Validate() error {
	const kind = "CosineLR"
	if err := schedCheckBase(kind, s.Base); err != nil {
		return err
	}
	if !optFinite(s.Min) || s.Min < 0 || s.Min > s.Base {
		return schedErr(kind, "Min", s.Min, fmt.Sprintf("a value in [0, Base=%v]", s.Base))
	}
	if s.Warmup < 0 {
		return schedErr(kind, "Warmup", s.Warmup, ">= 0")
	}
	if s.Period <= 0 {
		return schedErr(kind, "Period", s.Period, "> 0 (the length of a cosine cycle in steps)")
	}
	if s.PeriodMult < 0 {
		return schedErr(kind, "PeriodMult", s.PeriodMult, ">= 0")
	}
	return nil
}

// LR returns the rate of step (NaN for an invalid schedule or a negative
// step).
func (s CosineLR) LR(step int) float64 {
	if s.Validate() != nil || step < 0 {
		return math.NaN()
	}
	if step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	t, period := step-s.Warmup, s.Period
	if t >= period {
		if s.NoRestart {
			return s.Min
		}
		if s.PeriodMult <= 1 {
			t %= period
		} else {
			for t >= period {
				t -= period
				if period > math.MaxInt/s.PeriodMult {
					period = math.MaxInt // t is now below any further cycle length
					break
				}
				period *= s.PeriodMult
			}
		}
	}
	return s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*float64(t)/float64(period)))/2
}

// OneCycleLR is PyTorch's OneCycleLR with cosine annealing and two phases
// (three_phase=False): the rate rises from MaxLR/DivFactor to MaxLR over
// the first PctStart·TotalSteps-1 steps, then falls to
// MaxLR/DivFactor/FinalDivFactor at step TotalSteps-1. Like PyTorch, a
// step beyond TotalSteps is an error (LR returns NaN).
type OneCycleLR struct {
	// MaxLR is the peak rate (> 0).
	MaxLR float64
	// TotalSteps is the number of steps of the run (> 0).
	TotalSteps int
	// PctStart is the fraction of the steps spent rising, in (0, 1);
	// 0 means 0.3. PctStart·TotalSteps must be above 1.
	PctStart float64
	// DivFactor sets the first rate, MaxLR/DivFactor (> 0); 0 means 25.
	DivFactor float64
	// FinalDivFactor sets the last rate, MaxLR/DivFactor/FinalDivFactor
	// (> 0); 0 means 1e4.
	FinalDivFactor float64
}

// Validate reports whether the schedule is usable.
func (s OneCycleLR) Validate() error {
	const kind = "OneCycleLR"
	if !optFinite(s.MaxLR) || s.MaxLR <= 0 {
		return schedErr(kind, "MaxLR", s.MaxLR, "a finite value > 0")
	}
	if s.TotalSteps <= 0 {
		return schedErr(kind, "TotalSteps", s.TotalSteps, "> 0")
	}
	pct := optDefault(s.PctStart, 0.3)
	if !(pct > 0 && pct < 1) {
		return schedErr(kind, "PctStart", s.PctStart, "a value in (0, 1) (0: 0.3)")
	}
	if pct*float64(s.TotalSteps)-1 <= 0 {
		return fmt.Errorf("train: %s: PctStart·TotalSteps = %v·%d leaves no warmup step (it must be above 1): %w",
			kind, pct, s.TotalSteps, ErrInvalidOption)
	}
	if !optFinite(s.DivFactor) || s.DivFactor < 0 {
		return schedErr(kind, "DivFactor", s.DivFactor, "a finite value > 0 (0: 25)")
	}
	if !optFinite(s.FinalDivFactor) || s.FinalDivFactor < 0 {
		return schedErr(kind, "FinalDivFactor", s.FinalDivFactor, "a finite value > 0 (0: 1e4)")
	}
	return nil
}

// LR returns the rate of step (NaN for an invalid schedule, a negative
// step or one beyond TotalSteps).
func (s OneCycleLR) LR(step int) float64 {
	if s.Validate() != nil || step < 0 || step > s.TotalSteps {
		return math.NaN()
	}
	pct := optDefault(s.PctStart, 0.3)
	initial := s.MaxLR / optDefault(s.DivFactor, 25)
	final := initial / optDefault(s.FinalDivFactor, 1e4)
	end1 := pct*float64(s.TotalSteps) - 1
	end2 := float64(s.TotalSteps) - 1
	anneal := func(start, end, p float64) float64 {
		return end + (start-end)/2*(math.Cos(math.Pi*p)+1)
	}
	x := float64(step)
	if x <= end1 {
		return anneal(initial, s.MaxLR, x/end1)
	}
	return anneal(s.MaxLR, final, (x-end1)/(end2-end1))
}

// PlateauMode says whether ReduceOnPlateau's metric should go down or up.
type PlateauMode uint8

const (
	// PlateauMin expects the metric to decrease (a loss); the default.
	PlateauMin PlateauMode = iota
	// PlateauMax expects the metric to increase (an accuracy).
	PlateauMax
)

// ReduceOnPlateau lowers the learning rate when a metric stops improving,
// as PyTorch's ReduceLROnPlateau. Call Observe once per evaluation (per
// epoch, usually) with the metric and the current rate; it returns the
// rate to use next. The zero value is PyTorch's default configuration
// (mode min, factor 0.1, patience 10, relative threshold 1e-4, no
// cooldown, no floor).
//
// An observation improves on the best one so far when, in relative mode,
// metric < best·(1-Threshold) (PlateauMin) or metric > best·(1+Threshold)
// (PlateauMax), and in absolute mode metric < best-Threshold or metric >
// best+Threshold. A NaN metric never improves. After more than Patience
// observations without improvement the rate becomes max(lr·Factor, MinLR)
// (unchanged when that lowers it by no more than 1e-8), and the next
// Cooldown observations count no bad ones.
//
// ReduceOnPlateau is not safe for concurrent use. State and SetState save
// and restore its progress for checkpoints.
type ReduceOnPlateau struct {
	// Mode says whether the metric should decrease (PlateauMin, the
	// default) or increase.
	Mode PlateauMode
	// Factor multiplies the rate on a plateau, in (0, 1); 0 means 0.1.
	Factor float64
	// Patience is the number of observations without improvement
	// tolerated before the rate is lowered; 0 means 10 (PyTorch's
	// default) and a negative value means none (lower on the first
	// observation that does not improve).
	Patience int
	// Threshold is the least change that counts as an improvement,
	// relative to the best value unless AbsoluteThreshold is set (> 0);
	// 0 means 1e-4.
	Threshold float64
	// AbsoluteThreshold makes Threshold an absolute difference
	// (PyTorch's threshold_mode "abs").
	AbsoluteThreshold bool
	// Cooldown is the number of observations after a reduction during
	// which bad observations are not counted (>= 0); 0 means none.
	Cooldown int
	// MinLR is the lowest rate (>= 0); 0 means 0.
	MinLR float64

	st PlateauState
}

// PlateauState is the progress of a ReduceOnPlateau, for checkpoints. It
// holds no infinities (unless a metric was infinite), so it encodes as
// JSON.
type PlateauState struct {
	// HasBest is false until an observation (other than NaN) was made.
	HasBest bool
	// Best is the best metric observed (meaningful when HasBest).
	Best float64
	// BadEpochs is the number of observations since the last
	// improvement (reset by a reduction and during cooldown).
	BadEpochs int
	// CooldownCounter is the number of cooldown observations left.
	CooldownCounter int
}

// Validate reports whether the configuration is usable.
func (p *ReduceOnPlateau) Validate() error {
	const kind = "ReduceOnPlateau"
	if p.Mode != PlateauMin && p.Mode != PlateauMax {
		return schedErr(kind, "Mode", p.Mode, "PlateauMin or PlateauMax")
	}
	if f := optDefault(p.Factor, 0.1); !(f > 0 && f < 1) {
		return schedErr(kind, "Factor", p.Factor, "a value in (0, 1) (0: 0.1)")
	}
	if !optFinite(p.Threshold) || p.Threshold < 0 {
		return schedErr(kind, "Threshold", p.Threshold, "a finite value > 0 (0: 1e-4)")
	}
	if p.Cooldown < 0 {
		return schedErr(kind, "Cooldown", p.Cooldown, ">= 0")
	}
	if !optFinite(p.MinLR) || p.MinLR < 0 {
		return schedErr(kind, "MinLR", p.MinLR, "a finite value >= 0")
	}
	return nil
}

// better reports whether metric improves on the best so far.
func (p *ReduceOnPlateau) better(metric float64) bool {
	if math.IsNaN(metric) {
		return false
	}
	if !p.st.HasBest {
		return true
	}
	th, best := optDefault(p.Threshold, 1e-4), p.st.Best
	switch {
	case p.Mode == PlateauMin && !p.AbsoluteThreshold:
		return metric < best*(1-th)
	case p.Mode == PlateauMin:
		return metric < best-th
	case !p.AbsoluteThreshold:
		return metric > best*(1+th)
	default:
		return metric > best+th
	}
}

// Observe records one evaluation of the metric made while training with
// rate lr, and returns the rate to use from now on: lr, or a lowered rate
// on a plateau. It returns NaN for an invalid configuration (see
// Validate), which makes the optimizer's next Step fail.
func (p *ReduceOnPlateau) Observe(metric, lr float64) (newLR float64) {
	if p.Validate() != nil {
		return math.NaN()
	}
	if p.better(metric) {
		p.st.HasBest, p.st.Best, p.st.BadEpochs = true, metric, 0
	} else {
		p.st.BadEpochs++
	}
	if p.st.CooldownCounter > 0 {
		p.st.CooldownCounter--
		p.st.BadEpochs = 0
	}
	patience := p.Patience
	if patience == 0 {
		patience = 10
	} else if patience < 0 {
		patience = 0
	}
	if p.st.BadEpochs > patience {
		p.st.CooldownCounter, p.st.BadEpochs = p.Cooldown, 0
		if n := math.Max(lr*optDefault(p.Factor, 0.1), p.MinLR); lr-n > 1e-8 {
			return n
		}
	}
	return lr
}

// State returns the progress of the scheduler.
func (p *ReduceOnPlateau) State() PlateauState { return p.st }

// SetState restores progress returned by State.
func (p *ReduceOnPlateau) SetState(s PlateauState) { p.st = s }
