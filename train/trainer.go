package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/train/metrics"
	"github.com/kilnml/kiln/train/safetensors"
)

// Tracker records an experiment: the trainer logs its options once and
// its metrics after every epoch. version.Run satisfies it.
type Tracker interface {
	LogParams(ctx context.Context, params map[string]string) error
	LogMetrics(ctx context.Context, step int64, m map[string]float64) error
}

// ErrNonFinite is returned when a training loss is NaN or infinite: the
// trainer stops rather than corrupting the weights further.
var ErrNonFinite = errors.New("train: loss is not finite")

// ErrStop, returned by an OnEpoch callback, ends Fit early without an
// error.
var ErrStop = errors.New("train: stop")

// EarlyStopping stops training when the monitored metric has not improved
// by more than MinDelta for Patience epochs.
type EarlyStopping struct {
	// Patience is the number of epochs without improvement tolerated
	// (0 means 5).
	Patience int
	// MinDelta is the least change that counts as an improvement.
	MinDelta float64
	// RestoreBest puts back the weights of the best epoch when training
	// ends. After a resume, only epochs run since are candidates (a
	// checkpoint holds the weights of its own epoch; BestOnly checkpoints
	// keep the best ones on disk).
	RestoreBest bool
}

// CheckpointOptions configure checkpoints. A checkpoint is a folder
// "epoch-NNNN" under Dir holding model.safetensors (parameters and layer
// state), optimizer.safetensors and trainer.json; it is written under a
// temporary name and renamed, so a crash leaves the previous ones whole.
type CheckpointOptions struct {
	// Dir is where checkpoints go; empty means none are written.
	Dir string
	// Keep is the number of most recent checkpoints kept (0 means 3).
	Keep int
	// BestOnly writes a checkpoint only after an epoch that improved the
	// monitored metric.
	BestOnly bool
}

// ScheduleUnit says when a Schedule advances.
type ScheduleUnit uint8

const (
	// PerEpoch sets the rate from the epoch index before each epoch.
	PerEpoch ScheduleUnit = iota
	// PerStep sets the rate from the step index before each optimizer
	// step.
	PerStep
)

// TrainerOptions configure a Trainer. The zero value trains 10 epochs of
// shuffled batches of 32 with Adam (rate 1e-3) and no validation.
type TrainerOptions struct {
	// Epochs is the number of passes over the training set (0 means 10).
	Epochs int
	// BatchSize is the number of rows per step (0 means 32).
	BatchSize int
	// NoShuffle keeps the rows in order; by default every epoch visits
	// them in a permutation that depends on Seed and the epoch only.
	NoShuffle bool
	// DropLast drops each epoch's last, short batch.
	DropLast bool
	// Seed seeds the batch order.
	Seed uint64
	// Optimizer updates the model's parameters; nil means Adam with its
	// defaults over Model.Params.
	Optimizer Optimizer
	// Schedule, if not nil, sets the learning rate per epoch or per step
	// (ScheduleUnit).
	Schedule     Schedule
	ScheduleUnit ScheduleUnit
	// Plateau, if not nil, lowers the rate when the monitored metric
	// stalls (observed after each epoch; not with Schedule).
	Plateau *ReduceOnPlateau
	// ClipNorm, when > 0, scales the gradients so that their global L2
	// norm is at most ClipNorm before each step; ClipValue, when > 0,
	// clamps each gradient element to ±ClipValue.
	ClipNorm, ClipValue float64
	// Validation is evaluated after every epoch (loss and metrics,
	// prefixed "val_").
	Validation *Dataset
	// Monitor is the metric early stopping, BestOnly checkpoints and
	// Plateau watch: "val_loss" when there is a validation set, else
	// "loss". Metrics named *loss, *error, rmse and mae are minimized, the
	// others maximized.
	Monitor string
	// EarlyStopping, if not nil, ends training when Monitor stalls.
	EarlyStopping *EarlyStopping
	// Checkpoint configures checkpoints written after epochs.
	Checkpoint CheckpointOptions
	// ResumeFrom is a checkpoint folder to resume from: weights, layer
	// state, optimizer, schedule and plateau state, early-stopping
	// progress, epoch and step are restored, so the run continues exactly
	// as if it had not stopped (with the same options).
	ResumeFrom string
	// Progress, if not nil, is called after every step.
	Progress func(Progress)
	// OnEpoch, if not nil, is called after every epoch with its log;
	// returning ErrStop ends training, another error aborts it.
	OnEpoch func(EpochLog) error
	// Tracker, if not nil, receives the options as parameters at the start
	// and each epoch's metrics.
	Tracker Tracker
	// Device, if not nil, is where training runs (tensor.CPU(), or a GPU
	// of tensor/cuda). Before the first step Fit moves the model's
	// parameters to it (each Var stays the same, its Value is replaced by
	// a copy on the device), its layer state (a Stateful model's tensors,
	// such as BatchNorm's running statistics) and the optimizer's state.
	// Weights and optimizer state then stay resident on the device for
	// the whole run; each batch's X and Y are uploaded per step
	// (categorical codes and class labels are index slices that the
	// device's kernels read). The model is left on the device: Evaluate
	// and MLP.Predict run it there and return results in host memory, and
	// checkpoints and saved models are written from it. nil means the
	// device the model's parameters are on: the CPU unless moved.
	Device tensor.Device
}

// Progress is reported after each training step.
type Progress struct {
	Epoch, Step    int // Step counts every step since the start of training
	Batch, Batches int // the batch within the epoch, and the epoch's count
	Loss           float64
	LR             float64
}

// EpochLog is what one epoch measured.
type EpochLog struct {
	Epoch   int                `json:"epoch"`
	Steps   int                `json:"steps"`
	Seconds float64            `json:"seconds"`
	LR      float64            `json:"lr"`
	Metrics map[string]float64 `json:"metrics"`
}

// History is the record of a Fit.
type History struct {
	Epochs []EpochLog `json:"epochs"`
	// BestEpoch is the epoch with the best monitored value (-1 if none).
	BestEpoch int `json:"best_epoch"`
	// Stopped says why training ended early: "early stopping", "callback"
	// or "" when every epoch ran.
	Stopped string `json:"stopped,omitempty"`
}

// Trainer fits models. Create one per run with NewTrainer.
type Trainer struct {
	o TrainerOptions
}

// NewTrainer checks the options and returns a trainer.
func NewTrainer(o TrainerOptions) (*Trainer, error) {
	if o.Epochs < 0 || o.BatchSize < 0 {
		return nil, fmt.Errorf("train: %d epochs of batches of %d", o.Epochs, o.BatchSize)
	}
	if o.Epochs == 0 {
		o.Epochs = 10
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Schedule != nil && o.Plateau != nil {
		return nil, fmt.Errorf("train: Schedule and Plateau both set the learning rate; use one")
	}
	if o.ClipNorm < 0 || o.ClipValue < 0 || math.IsNaN(o.ClipNorm) || math.IsNaN(o.ClipValue) {
		return nil, fmt.Errorf("train: negative gradient clipping (norm %v, value %v)", o.ClipNorm, o.ClipValue)
	}
	if o.Checkpoint.Keep < 0 {
		return nil, fmt.Errorf("train: Checkpoint.Keep %d", o.Checkpoint.Keep)
	}
	if o.Checkpoint.Keep == 0 {
		o.Checkpoint.Keep = 3
	}
	if o.EarlyStopping != nil && o.EarlyStopping.Patience == 0 {
		es := *o.EarlyStopping
		es.Patience = 5
		o.EarlyStopping = &es
	}
	if o.Monitor == "" {
		o.Monitor = "loss"
		if o.Validation != nil {
			o.Monitor = "val_loss"
		}
	}
	return &Trainer{o: o}, nil
}

// trainerState is what trainer.json holds.
type trainerState struct {
	Epoch     int           `json:"epoch"` // epochs completed
	Step      int           `json:"step"`
	LR        float64       `json:"lr"`
	Best      *float64      `json:"best,omitempty"`
	BestEpoch int           `json:"best_epoch"`
	Bad       int           `json:"bad_epochs"`
	Plateau   *PlateauState `json:"plateau,omitempty"`
	History   []EpochLog    `json:"history"`
}

func minimized(metric string) bool {
	return strings.HasSuffix(metric, "loss") || strings.HasSuffix(metric, "error") ||
		strings.HasSuffix(metric, "rmse") || strings.HasSuffix(metric, "mae")
}

// Fit trains m on data. It returns the history so far with an error when
// ctx is cancelled, a loss goes non-finite (ErrNonFinite) or a step fails.
// Results depend only on the model's initial state, the data and the
// options: not on GOMAXPROCS.
func (t *Trainer) Fit(ctx context.Context, m Model, data *Dataset) (*History, error) {
	o := t.o
	if m == nil || data == nil {
		return nil, fmt.Errorf("train: Fit: nil model or dataset")
	}
	params := m.Params()
	opt := o.Optimizer
	if opt == nil {
		var err error
		if opt, err = NewAdam(params, AdamOptions{}); err != nil {
			return nil, err
		}
	}
	st := trainerState{LR: opt.LR(), BestEpoch: -1}
	if o.Plateau != nil {
		if err := o.Plateau.Validate(); err != nil {
			return nil, err
		}
	}
	dev := o.Device
	if dev != nil {
		if err := moveModel(m, opt, dev); err != nil {
			return nil, err
		}
	} else {
		dev = modelDevice(m)
	}
	if o.ResumeFrom != "" {
		var err error
		if st, err = loadCheckpoint(o.ResumeFrom, m, opt); err != nil {
			return nil, err
		}
		if o.Plateau != nil && st.Plateau != nil {
			o.Plateau.SetState(*st.Plateau)
		}
		if dev != nil {
			// The layer state was loaded in host memory.
			if err := moveModel(m, opt, dev); err != nil {
				return nil, err
			}
		}
	}
	if o.Tracker != nil && o.ResumeFrom == "" {
		if err := o.Tracker.LogParams(ctx, t.params(opt)); err != nil {
			return nil, fmt.Errorf("train: tracker: %w", err)
		}
	}
	hist := &History{Epochs: st.History, BestEpoch: st.BestEpoch}
	var best []*tensor.Tensor // the best epoch's weights, for RestoreBest
	restore := func() error {
		if best == nil {
			return nil
		}
		for i, p := range params {
			if err := tensor.Copy(p.Value, best[i]); err != nil {
				return err
			}
		}
		return nil
	}
	batches := (data.Len() + o.BatchSize - 1) / o.BatchSize
	if o.DropLast {
		batches = data.Len() / o.BatchSize
	}
	for epoch := st.Epoch; epoch < o.Epochs; epoch++ {
		if err := ctx.Err(); err != nil {
			return hist, err
		}
		if o.Schedule != nil && o.ScheduleUnit == PerEpoch {
			opt.SetLR(o.Schedule.LR(epoch))
		}
		setTraining(m, true) // validation left it in evaluation mode
		start := time.Now()
		var lossSum float64
		var rows, bi int
		for b, err := range data.Batches(o.BatchSize, BatchOptions{Shuffle: !o.NoShuffle, Seed: o.Seed, Epoch: epoch, DropLast: o.DropLast}) {
			if err != nil {
				return hist, err
			}
			if err := ctx.Err(); err != nil {
				return hist, err
			}
			if o.Schedule != nil && o.ScheduleUnit == PerStep {
				opt.SetLR(o.Schedule.LR(st.Step))
			}
			if b, err = batchTo(b, dev); err != nil {
				return hist, fmt.Errorf("train: epoch %d batch %d: %w", epoch, bi, err)
			}
			loss := m.Loss(m.Forward(b), b)
			if err := loss.Err(); err != nil {
				return hist, fmt.Errorf("train: epoch %d batch %d: %w", epoch, bi, err)
			}
			lv, err := loss.Value.At(make([]int, loss.Value.Rank())...)
			if err != nil {
				return hist, err
			}
			if math.IsNaN(lv) || math.IsInf(lv, 0) {
				return hist, fmt.Errorf("%w: %v at epoch %d batch %d", ErrNonFinite, lv, epoch, bi)
			}
			opt.ZeroGrad()
			if err := loss.Backward(); err != nil {
				return hist, fmt.Errorf("train: epoch %d batch %d: %w", epoch, bi, err)
			}
			if o.ClipValue > 0 {
				if err := ClipGradValue(params, o.ClipValue); err != nil {
					return hist, err
				}
			}
			if o.ClipNorm > 0 {
				if _, err := ClipGradNorm(params, o.ClipNorm); err != nil {
					return hist, err
				}
			}
			if err := opt.Step(); err != nil {
				return hist, fmt.Errorf("train: epoch %d batch %d: %w", epoch, bi, err)
			}
			n := len(b.Rows)
			lossSum += lv * float64(n)
			rows += n
			st.Step++
			bi++
			if o.Progress != nil {
				o.Progress(Progress{Epoch: epoch, Step: st.Step, Batch: bi, Batches: batches, Loss: lv, LR: opt.LR()})
			}
		}
		log := EpochLog{Epoch: epoch, Steps: bi, LR: opt.LR(), Metrics: map[string]float64{}}
		if rows > 0 {
			log.Metrics["loss"] = lossSum / float64(rows)
		}
		if o.Validation != nil {
			vm, err := Evaluate(ctx, m, o.Validation, 0)
			if err != nil {
				return hist, fmt.Errorf("train: validation after epoch %d: %w", epoch, err)
			}
			for k, v := range vm {
				log.Metrics["val_"+k] = v
			}
		}
		log.Seconds = time.Since(start).Seconds()
		mon, ok := log.Metrics[o.Monitor]
		if !ok {
			return hist, fmt.Errorf("train: monitored metric %q is not among the epoch's metrics", o.Monitor)
		}
		improved := false
		if !math.IsNaN(mon) {
			delta := 0.0
			if o.EarlyStopping != nil {
				delta = o.EarlyStopping.MinDelta
			}
			switch {
			case st.Best == nil:
				improved = true
			case minimized(o.Monitor):
				improved = mon < *st.Best-delta
			default:
				improved = mon > *st.Best+delta
			}
		}
		if improved {
			v := mon
			st.Best, st.BestEpoch, st.Bad = &v, epoch, 0
			if o.EarlyStopping != nil && o.EarlyStopping.RestoreBest {
				if best == nil {
					best = make([]*tensor.Tensor, len(params))
				}
				for i, p := range params {
					c, err := p.Value.Clone()
					if err != nil {
						return hist, err
					}
					best[i] = c
				}
			}
		} else {
			st.Bad++
		}
		if o.Plateau != nil {
			opt.SetLR(o.Plateau.Observe(mon, opt.LR()))
			ps := o.Plateau.State()
			st.Plateau = &ps
		}
		st.Epoch = epoch + 1
		st.LR = opt.LR()
		hist.Epochs = append(hist.Epochs, log)
		hist.BestEpoch = st.BestEpoch
		st.History = hist.Epochs
		if o.Tracker != nil {
			if err := o.Tracker.LogMetrics(ctx, int64(epoch), log.Metrics); err != nil {
				return hist, fmt.Errorf("train: tracker: %w", err)
			}
		}
		if o.Checkpoint.Dir != "" && (!o.Checkpoint.BestOnly || improved) {
			if err := saveCheckpoint(o.Checkpoint, m, opt, st); err != nil {
				return hist, err
			}
		}
		if o.OnEpoch != nil {
			if err := o.OnEpoch(log); errors.Is(err, ErrStop) {
				hist.Stopped = "callback"
				break
			} else if err != nil {
				return hist, err
			}
		}
		if o.EarlyStopping != nil && st.Bad >= o.EarlyStopping.Patience {
			hist.Stopped = "early stopping"
			break
		}
	}
	if o.EarlyStopping != nil && o.EarlyStopping.RestoreBest {
		if err := restore(); err != nil {
			return hist, err
		}
	}
	setTraining(m, false)
	return hist, nil
}

func (t *Trainer) params(opt Optimizer) map[string]string {
	o := t.o
	p := map[string]string{
		"epochs":     strconv.Itoa(o.Epochs),
		"batch_size": strconv.Itoa(o.BatchSize),
		"seed":       strconv.FormatUint(o.Seed, 10),
		"optimizer":  fmt.Sprintf("%T", opt),
		"lr":         strconv.FormatFloat(opt.LR(), 'g', -1, 64),
		"shuffle":    strconv.FormatBool(!o.NoShuffle),
		"monitor":    o.Monitor,
	}
	if o.ClipNorm > 0 {
		p["clip_norm"] = strconv.FormatFloat(o.ClipNorm, 'g', -1, 64)
	}
	if o.ClipValue > 0 {
		p["clip_value"] = strconv.FormatFloat(o.ClipValue, 'g', -1, 64)
	}
	if o.Schedule != nil {
		p["schedule"] = fmt.Sprintf("%+v", o.Schedule)
	}
	return p
}

// modelDevice returns the device of m's first parameter (nil when it has
// none).
func modelDevice(m Model) tensor.Device {
	for _, p := range m.Params() {
		if p != nil && p.Value != nil {
			return p.Value.Device()
		}
	}
	return nil
}

// moveModel moves m's parameters (keeping each Var) and the tensors of its
// layer state to dev, and opt's state after them when a parameter moved.
func moveModel(m Model, opt Optimizer, dev tensor.Device) error {
	moved := false
	for _, p := range m.Params() {
		if p == nil || p.Value == nil || p.Value.Device() == dev {
			continue
		}
		v, err := p.Value.To(dev)
		if err != nil {
			return fmt.Errorf("train: moving parameter %q to %s: %w", p.Name, dev.Name(), err)
		}
		p.Value, p.Grad = v, nil
		moved = true
	}
	if s, ok := m.(Stateful); ok {
		ls, err := s.State()
		if err != nil {
			return err
		}
		change := false
		for k, t := range ls {
			if t != nil && t.Device() != dev {
				if ls[k], err = t.To(dev); err != nil {
					return fmt.Errorf("train: moving layer state %q to %s: %w", k, dev.Name(), err)
				}
				change = true
			}
		}
		if change {
			if err := s.LoadState(ls); err != nil {
				return fmt.Errorf("train: moving layer state to %s: %w", dev.Name(), err)
			}
		}
	}
	if moved && opt != nil {
		// LoadState puts each slot on its parameter's device.
		if ost := opt.State(); len(ost.Slots) > 0 {
			if err := opt.LoadState(ost); err != nil {
				return fmt.Errorf("train: moving the optimizer state to %s: %w", dev.Name(), err)
			}
		}
	}
	return nil
}

// batchTo returns b with X and Y on dev (b itself when they are there
// already, or dev is nil).
func batchTo(b *Batch, dev tensor.Device) (*Batch, error) {
	if b == nil || dev == nil {
		return b, nil
	}
	up := func(t *tensor.Tensor) bool { return t != nil && t.Device() != dev }
	if !up(b.X) && !up(b.Y) {
		return b, nil
	}
	c := *b
	var err error
	if up(b.X) {
		if c.X, err = b.X.To(dev); err != nil {
			return nil, fmt.Errorf("train: uploading a batch to %s: %w", dev.Name(), err)
		}
	}
	if up(b.Y) {
		if c.Y, err = b.Y.To(dev); err != nil {
			return nil, fmt.Errorf("train: uploading a batch to %s: %w", dev.Name(), err)
		}
	}
	return &c, nil
}

func setTraining(m Model, training bool) {
	if t, ok := m.(Trainable); ok {
		t.SetTraining(training)
	}
}

// Evaluate computes m's loss and metrics over d in evaluation mode, in
// batches of batchSize rows (0 means 1024): for a classifier "loss",
// "accuracy", "log_loss" and, with two classes, "roc_auc"; for a
// regressor "loss", "rmse", "mae" and "r2". The model runs on the device
// of its parameters, the batches uploaded to it. The model is left in
// evaluation mode.
func Evaluate(ctx context.Context, m Model, d *Dataset, batchSize int) (map[string]float64, error) {
	if batchSize <= 0 {
		batchSize = 1024
	}
	if m == nil || d == nil {
		return nil, fmt.Errorf("train: Evaluate: nil model or dataset")
	}
	dev := modelDevice(m)
	setTraining(m, false)
	var lossSum float64
	var pred []int32
	var proba, yhat []float64
	var k int
	for b, err := range d.Batches(batchSize, BatchOptions{}) {
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if b, err = batchTo(b, dev); err != nil {
			return nil, err
		}
		out := m.Forward(b)
		loss := m.Loss(out, b)
		if err := loss.Err(); err != nil {
			return nil, err
		}
		lv, err := loss.Value.At(make([]int, loss.Value.Rank())...)
		if err != nil {
			return nil, err
		}
		lossSum += lv * float64(len(b.Rows))
		if d.Labels != nil {
			p, err := tensor.Softmax(out.Value, 1)
			if err != nil {
				return nil, err
			}
			pv, err := p.Float64s()
			if err != nil {
				return nil, err
			}
			k = out.Value.Shape()[1]
			proba = append(proba, pv...)
			for i := range len(b.Rows) {
				pred = append(pred, int32(argmax(pv[i*k:(i+1)*k])))
			}
		} else {
			v, err := out.Value.Float64s()
			if err != nil {
				return nil, err
			}
			yhat = append(yhat, v...)
		}
	}
	res := map[string]float64{"loss": lossSum / float64(max(d.Len(), 1))}
	if d.Labels != nil {
		acc, err := metrics.Accuracy(d.Labels, pred)
		if err != nil {
			return nil, err
		}
		res["accuracy"] = acc
		if ll, err := metrics.LogLoss(d.Labels, proba, k); err == nil {
			res["log_loss"] = ll
		}
		if k == 2 {
			p1 := make([]float64, len(pred))
			for i := range p1 {
				p1[i] = proba[2*i+1]
			}
			if auc, err := metrics.ROCAUC(d.Labels, p1); err == nil {
				res["roc_auc"] = auc
			}
		}
		return res, nil
	}
	y, err := d.Y.Float64s()
	if err != nil {
		return nil, err
	}
	if len(yhat) != len(y) {
		return nil, fmt.Errorf("train: Evaluate: %d predictions for %d rows (regressor output must be [n, 1])", len(yhat), len(y))
	}
	for name, f := range map[string]func(a, b []float64) (float64, error){"rmse": metrics.RMSE, "mae": metrics.MAE, "r2": metrics.R2} {
		if v, err := f(y, yhat); err == nil {
			res[name] = v
		}
	}
	return res, nil
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] || x != x && v[best] == v[best] {
			best = i
		}
	}
	return best
}

// saveCheckpoint writes epoch-NNNN under o.Dir and prunes old ones.
func saveCheckpoint(o CheckpointOptions, m Model, opt Optimizer, st trainerState) error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	name := fmt.Sprintf("epoch-%04d", st.Epoch)
	tmp, err := os.MkdirTemp(o.Dir, ".tmp-"+name+"-")
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp)
	weights := map[string]*tensor.Tensor{}
	for _, p := range m.Params() {
		weights[p.Name] = p.Value
	}
	if s, ok := m.(Stateful); ok {
		ls, err := s.State()
		if err != nil {
			return err
		}
		for k, v := range ls {
			weights["state/"+k] = v
		}
	}
	if err := safetensors.WriteFile(filepath.Join(tmp, "model.safetensors"), weights, nil); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	ost := opt.State()
	meta := map[string]string{"steps": strconv.FormatInt(ost.Steps, 10), "lr": strconv.FormatFloat(ost.LR, 'g', -1, 64)}
	if err := safetensors.WriteFile(filepath.Join(tmp, "optimizer.safetensors"), ost.Slots, meta); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(tmp, "trainer.json"), js); err != nil {
		return err
	}
	return publishCheckpoint(o, tmp, name)
}

func publishCheckpoint(o CheckpointOptions, tmp, name string) error {
	final := filepath.Join(o.Dir, name)
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	names, err := Checkpoints(o.Dir)
	if err != nil {
		return err
	}
	for len(names) > o.Keep {
		if err := os.RemoveAll(filepath.Join(o.Dir, names[0])); err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
		names = names[1:]
	}
	return nil
}

// Checkpoints lists the checkpoint folders under dir, oldest first; the
// last is the one to resume from.
func Checkpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train: checkpoints: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "epoch-") {
			if _, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "epoch-")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// loadCheckpoint restores a checkpoint into m and opt.
func loadCheckpoint(dir string, m Model, opt Optimizer) (trainerState, error) {
	var st trainerState
	js, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return st, fmt.Errorf("train: resume: %w", err)
	}
	if err := json.Unmarshal(js, &st); err != nil {
		return st, fmt.Errorf("train: resume %s: trainer.json: %w", dir, err)
	}
	if st.Epoch < 0 || st.Step < 0 {
		return st, fmt.Errorf("train: resume %s: corrupt trainer.json (epoch %d, step %d)", dir, st.Epoch, st.Step)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, "model.safetensors"), safetensors.ReadOptions{})
	if err != nil {
		return st, fmt.Errorf("train: resume: %w", err)
	}
	weights := map[string]*tensor.Tensor{}
	state := map[string]*tensor.Tensor{}
	for k, v := range f.Tensors {
		if s, ok := strings.CutPrefix(k, "state/"); ok {
			state[s] = v
		} else {
			weights[k] = v
		}
	}
	for _, p := range m.Params() {
		// The checkpoint is read into host memory; the model may be on
		// another device.
		if w, ok := weights[p.Name]; ok && p.Value != nil && w.Device() != p.Value.Device() {
			if weights[p.Name], err = w.To(p.Value.Device()); err != nil {
				return st, fmt.Errorf("train: resume %s: %w", dir, err)
			}
		}
	}
	if err := loadParams(m.Params(), weights); err != nil {
		return st, fmt.Errorf("train: resume %s: %w", dir, err)
	}
	if s, ok := m.(Stateful); ok {
		if err := s.LoadState(state); err != nil {
			return st, fmt.Errorf("train: resume %s: %w", dir, err)
		}
	}
	of, err := safetensors.ReadFile(filepath.Join(dir, "optimizer.safetensors"), safetensors.ReadOptions{})
	if err != nil {
		return st, fmt.Errorf("train: resume: %w", err)
	}
	steps, err := strconv.ParseInt(of.Metadata["steps"], 10, 64)
	if err != nil {
		return st, fmt.Errorf("train: resume %s: optimizer steps: %w", dir, err)
	}
	lr, err := strconv.ParseFloat(of.Metadata["lr"], 64)
	if err != nil {
		return st, fmt.Errorf("train: resume %s: optimizer lr: %w", dir, err)
	}
	if err := opt.LoadState(OptimizerState{Steps: steps, LR: lr, Slots: of.Tensors}); err != nil {
		return st, fmt.Errorf("train: resume %s: %w", dir, err)
	}
	return st, nil
}
