package train

import (
	"fmt"
	"slices"

	"github.com/kilnml/kiln/tensor"
)

// Backward computes the gradient of v, which must hold a single element
// (a loss), with respect to every parameter v depends on, and adds it
// into their Grad. The record of operations that led to v is kept, so
// Backward may be called again (gradients then accumulate).
func (v *Var) Backward() error {
	if err := v.Err(); err != nil {
		return err
	}
	if v.Value.Len() != 1 {
		return fmt.Errorf("train: Backward of a %v value: %w (use BackwardWith for non-scalars)", v.Value.Shape(), tensor.ErrShape)
	}
	seed, err := tensor.NewOn(v.Value.Device(), v.Value.DType(), v.Value.Shape()...)
	if err != nil {
		return err
	}
	if err := tensor.Fill(seed, 1); err != nil {
		return err
	}
	return v.backward(seed)
}

// BackwardWith is Backward for a value of any shape: grad, of v's shape,
// is the gradient of the final result with respect to v (the
// vector of a vector-Jacobian product).
func (v *Var) BackwardWith(grad *tensor.Tensor) error {
	if err := v.Err(); err != nil {
		return err
	}
	if grad == nil || !slices.Equal(grad.Shape(), v.Value.Shape()) {
		return fmt.Errorf("train: BackwardWith: gradient of shape %v for a value of shape %v: %w", shapeOf(grad), v.Value.Shape(), tensor.ErrShape)
	}
	return v.backward(grad)
}

func shapeOf(t *tensor.Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape()
}

// backward runs the recorded operations in reverse topological order.
//
// Ownership: a gradient tensor may be shared (an operation that passes
// its output gradient through unchanged, or returns a view of it, hands
// the same storage to several inputs), so accumulation writes in place
// only into tensors this pass allocated for the purpose, and a
// parameter's Grad is always storage of its own.
func (v *Var) backward(seed *tensor.Tensor) error {
	if !v.requiresGrad {
		return nil
	}
	order := topoOrder(v)
	type acc struct {
		g     *tensor.Tensor
		owned bool // g is this pass's own storage: safe to add into
	}
	grads := make(map[*Var]acc, len(order))
	grads[v] = acc{g: seed}
	for i := len(order) - 1; i >= 0; i-- {
		u := order[i]
		a, ok := grads[u]
		if !ok {
			continue
		}
		delete(grads, u)
		if u.node == nil {
			if err := accumulateLeaf(u, a.g, a.owned); err != nil {
				return err
			}
			continue
		}
		gs, err := u.node.backward(a.g)
		if err != nil {
			return fmt.Errorf("train: backward of %s: %w", u.node.op, err)
		}
		for j, in := range u.node.inputs {
			if j >= len(gs) || gs[j] == nil || !in.requiresGrad {
				continue
			}
			gi := gs[j]
			if !slices.Equal(gi.Shape(), in.Value.Shape()) {
				return fmt.Errorf("train: backward of %s gave a %v gradient for a %v input: %w", u.node.op, gi.Shape(), in.Value.Shape(), tensor.ErrShape)
			}
			owned := !u.node.viewGrads && gi != a.g
			for k := range gs {
				if k != j && gs[k] == gi {
					owned = false
				}
			}
			prev, ok := grads[in]
			switch {
			case !ok:
				grads[in] = acc{g: gi, owned: owned}
			case prev.owned:
				if err := tensor.Binary(tensor.OpAdd, prev.g, prev.g, gi); err != nil {
					return err
				}
			default:
				sum, err := tensor.Add(prev.g, gi)
				if err != nil {
					return err
				}
				grads[in] = acc{g: sum, owned: true}
			}
		}
	}
	return nil
}

func accumulateLeaf(u *Var, g *tensor.Tensor, owned bool) error {
	if u.Grad == nil {
		if !owned {
			c, err := g.Clone()
			if err != nil {
				return err
			}
			g = c
		}
		u.Grad = g
		return nil
	}
	return tensor.Binary(tensor.OpAdd, u.Grad, u.Grad, g)
}

// topoOrder returns the Vars that v depends on and that need gradients,
// inputs before the operations that use them, v last.
func topoOrder(v *Var) []*Var {
	var order []*Var
	seen := map[*Var]bool{v: true}
	type frame struct {
		v    *Var
		next int
	}
	stack := []frame{{v: v}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.v.node != nil && f.next < len(f.v.node.inputs) {
			in := f.v.node.inputs[f.next]
			f.next++
			if in.requiresGrad && !seen[in] {
				seen[in] = true
				stack = append(stack, frame{v: in})
			}
			continue
		}
		order = append(order, f.v)
		stack = stack[:len(stack)-1]
	}
	return order
}

// record returns the Var holding out, computed from inputs by op, with
// back as its backward function; no record is kept when no input needs a
// gradient.
func record(op string, out *tensor.Tensor, back func(g *tensor.Tensor) ([]*tensor.Tensor, error), inputs ...*Var) *Var {
	v := &Var{Value: out}
	for _, in := range inputs {
		if in.requiresGrad {
			v.requiresGrad = true
			break
		}
	}
	if v.requiresGrad {
		v.node = &node{inputs: inputs, backward: back, op: op}
	}
	return v
}

// recordViews is record for an operation whose backward returns views of
// its output gradient.
func recordViews(op string, out *tensor.Tensor, back func(g *tensor.Tensor) ([]*tensor.Tensor, error), inputs ...*Var) *Var {
	v := record(op, out, back, inputs...)
	if v.node != nil {
		v.node.viewGrads = true
	}
	return v
}

// firstErr returns the first error carried by vs (a nil Var is one).
func firstErr(vs ...*Var) error {
	for _, v := range vs {
		if err := v.Err(); err != nil {
			return err
		}
	}
	return nil
}

// Detach returns a Var holding the same value with no record: no
// gradient flows through it.
func (v *Var) Detach() *Var {
	if err := v.Err(); err != nil {
		return failed(err)
	}
	return &Var{Value: v.Value}
}
