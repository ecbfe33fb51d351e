package monitor

import (
	"time"
)

// defaultWindowRows is the length of the zero Window.
const defaultWindowRows = 10000

// maxPanes bounds the number of panes of a sliding window (Length/Step), so
// that a window's state stays small.
const maxPanes = 64

// Window says which rows a monitor evaluates together.
//
// A window is made of panes of Step rows (count windows) or StepDuration
// (time windows); a tumbling window has one pane (Step = length), a sliding
// window Length/Step panes and is evaluated each time a pane closes, over
// its last Length/Step panes, once that many have closed. Exactly one of
// Rows and Duration is set; the zero Window is tumbling by 10000 rows.
//
// Panes close between batches: a count pane closes after the batch that
// brings it to Step rows (the whole batch belongs to it), so a pane holds
// at least Step rows and a batch is never split. With one row per call
// (Monitor.ObserveRow) from one goroutine panes hold exactly Step rows. A
// time pane closes at the first call (Observe, ObserveRow, Flush, or the
// monitor's own ticker when it uses the real clock) at or after its end;
// rows belong to the pane open when they are observed. Counts are 32-bit:
// a pane holds at most 2³²−1 values per bin or category.
type Window struct {
	// Rows is the window length in rows (count windows).
	Rows int64
	// Duration is the window length in time (time windows).
	Duration time.Duration
	// Step is the slide of a count window in rows; 0: Rows (tumbling).
	// Rows must be a multiple of Step, in at most 64 panes.
	Step int64
	// StepDuration is the slide of a time window; 0: Duration (tumbling).
	// Duration must be a multiple of StepDuration, in at most 64 panes.
	StepDuration time.Duration
}

// Tumbling returns a count window of rows rows that do not overlap.
func Tumbling(rows int64) Window { return Window{Rows: rows} }

// TumblingTime returns a time window of length d; windows do not overlap.
func TumblingTime(d time.Duration) Window { return Window{Duration: d} }

// Sliding returns a count window of rows rows evaluated every step rows.
func Sliding(rows, step int64) Window { return Window{Rows: rows, Step: step} }

// SlidingTime returns a time window of length d evaluated every step.
func SlidingTime(d, step time.Duration) Window { return Window{Duration: d, StepDuration: step} }

// IsTime reports whether w is a time window.
func (w Window) IsTime() bool { return w.Duration != 0 }

// resolve checks w and returns the pane length (rows or nanoseconds) and
// the number of panes of a window.
func (w Window) resolve() (pane int64, panes int, err error) {
	switch {
	case w.Rows == 0 && w.Duration == 0:
		if w.Step != 0 || w.StepDuration != 0 {
			return 0, 0, inputErr("window: a step without a length (set Rows or Duration)")
		}
		return defaultWindowRows, 1, nil
	case w.Rows != 0 && w.Duration != 0:
		return 0, 0, inputErr("window: both Rows (%d) and Duration (%v) set; set exactly one", w.Rows, w.Duration)
	case w.Rows < 0 || w.Duration < 0 || w.Step < 0 || w.StepDuration < 0:
		return 0, 0, inputErr("window: negative length or step (%+v)", w)
	}
	var length, step int64
	if w.Rows != 0 {
		if w.StepDuration != 0 {
			return 0, 0, inputErr("window: StepDuration set on a count window (use Step)")
		}
		if w.Rows > 1<<32-1 {
			return 0, 0, inputErr("window: Rows %d too large (at most %d: counts are 32-bit)", w.Rows, int64(1<<32-1))
		}
		length, step = w.Rows, w.Step
	} else {
		if w.Step != 0 {
			return 0, 0, inputErr("window: Step set on a time window (use StepDuration)")
		}
		length, step = int64(w.Duration), int64(w.StepDuration)
	}
	if step == 0 {
		step = length
	}
	if step > length || length%step != 0 {
		return 0, 0, inputErr("window: length %d is not a multiple of step %d", length, step)
	}
	n := length / step
	if n > maxPanes {
		return 0, 0, inputErr("window: %d panes (length/step) is more than %d", n, maxPanes)
	}
	return step, int(n), nil
}

// ring holds the last panes of a window, oldest first once full.
type ring[T any] struct {
	panes []T // capacity: panes of a window
	next  int // where the next closed pane goes
	full  bool
}

// push stores a closed pane, replacing the oldest when full, and returns
// the slot so the caller may fill it in place.
func (r *ring[T]) push() *T {
	p := &r.panes[r.next]
	r.next++
	if r.next == len(r.panes) {
		r.next = 0
		r.full = true
	}
	return p
}

// filled is the number of panes held.
func (r *ring[T]) filled() int {
	if r.full {
		return len(r.panes)
	}
	return r.next
}

// each calls f on the panes held, oldest first.
func (r *ring[T]) each(f func(*T)) {
	if r.full {
		for i := r.next; i < len(r.panes); i++ {
			f(&r.panes[i])
		}
	}
	for i := 0; i < r.next; i++ {
		f(&r.panes[i])
	}
}
