package train

import (
	"errors"
	"fmt"

	"github.com/kilnml/kiln/tensor"
)

// A Var is a value in a computation that train can differentiate: a tensor
// together with how it was computed. Operations on Vars (Add, MatMul,
// Linear, the losses, ...) record themselves as they run (define-by-run),
// and Backward walks the record in reverse to fill the Grad of every
// parameter the result depends on.
//
// Parameters are Vars made by NewParam; inputs are Vars made by Const.
// Operations never panic on bad input: a failed operation returns a Var
// that carries the error, every operation on it carries it on, and
// Backward (or Err) reports the first one, so a model's forward pass can
// be written without an error check after every line.
type Var struct {
	// Value is the tensor the Var holds.
	Value *tensor.Tensor
	// Grad is the gradient of the last Backward's output with respect to
	// Value, for parameters; Backward adds into it, so it accumulates over
	// several Backward calls until ZeroGrad (or an optimizer's ZeroGrad)
	// sets it back to nil. Nil until a Backward reached the Var.
	Grad *tensor.Tensor
	// Name identifies a parameter in checkpoints and optimizer state
	// ("0.weight"); layers set it.
	Name string

	requiresGrad bool
	node         *node
	err          error
}

// A node records how a Var was computed: its inputs and the function that
// turns the output's gradient into the inputs'.
type node struct {
	inputs []*Var
	// backward receives the gradient of the output and returns one
	// gradient per input (nil for an input that needs none).
	backward func(g *tensor.Tensor) ([]*tensor.Tensor, error)
	op       string
	// viewGrads is set when backward may return views of g.
	viewGrads bool
}

// NewParam returns a parameter: a Var whose gradient Backward computes.
func NewParam(name string, value *tensor.Tensor) *Var {
	if value == nil {
		return failed(fmt.Errorf("train: parameter %q: %w", name, ErrNilTensor))
	}
	return &Var{Value: value, Name: name, requiresGrad: true}
}

// Const returns a Var that holds an input: no gradient flows into it.
func Const(value *tensor.Tensor) *Var {
	if value == nil {
		return failed(fmt.Errorf("train: constant: %w", ErrNilTensor))
	}
	return &Var{Value: value}
}

// Err returns the error the Var carries, if an operation that led to it
// failed.
func (v *Var) Err() error {
	if v == nil {
		return fmt.Errorf("train: nil Var: %w", ErrNilTensor)
	}
	return v.err
}

// RequiresGrad reports whether gradients flow into the Var: true for
// parameters and for results of operations on them.
func (v *Var) RequiresGrad() bool { return v != nil && v.requiresGrad }

// ZeroGrad drops the accumulated gradient.
func (v *Var) ZeroGrad() {
	if v != nil {
		v.Grad = nil
	}
}

// Shape returns the shape of the Var's value (nil when it carries an
// error).
func (v *Var) Shape() []int {
	if v == nil || v.Value == nil {
		return nil
	}
	return v.Value.Shape()
}

// ErrNilTensor is returned for a nil tensor or Var where a value is needed.
var ErrNilTensor = errors.New("train: nil tensor")

func failed(err error) *Var { return &Var{err: err} }
