package tensor

import "fmt"

// Binary sets dst = a op b elementwise, broadcasting a and b to dst's
// shape with NumPy's rules (which must be the broadcast of their shapes).
// dst may be a or b (in-place update) but must not otherwise overlap them.
func Binary(op BinaryOp, dst, a, b *Tensor) error {
	if err := sameSet(dst, a, b); err != nil {
		return err
	}
	if op > OpGELUGrad {
		return fmtOpErr("binary", int(op))
	}
	shape, err := broadcastShapes(a.shape, b.shape)
	if err != nil {
		return err
	}
	if err := checkShape(dst, shape); err != nil {
		return err
	}
	if err := writable(dst); err != nil {
		return err
	}
	av, _ := a.BroadcastTo(shape...)
	bv, _ := b.BroadcastTo(shape...)
	return dst.Device().Binary(op, dst.view(), av.view(), bv.view())
}

func binary(op BinaryOp, a, b *Tensor) (*Tensor, error) {
	if err := sameSet(a, b); err != nil {
		return nil, err
	}
	shape, err := broadcastShapes(a.shape, b.shape)
	if err != nil {
		return nil, err
	}
	dst, err := like(a, shape)
	if err != nil {
		return nil, err
	}
	if err := Binary(op, dst, a, b); err != nil {
		return nil, err
	}
	return dst, nil
}

// Add returns a + b, broadcasting.
func Add(a, b *Tensor) (*Tensor, error) { return binary(OpAdd, a, b) }

// Sub returns a - b, broadcasting.
func Sub(a, b *Tensor) (*Tensor, error) { return binary(OpSub, a, b) }

// Mul returns a · b elementwise, broadcasting.
func Mul(a, b *Tensor) (*Tensor, error) { return binary(OpMul, a, b) }

// Div returns a / b elementwise, broadcasting.
func Div(a, b *Tensor) (*Tensor, error) { return binary(OpDiv, a, b) }

// Maximum returns the elementwise maximum (NaN if either is NaN).
func Maximum(a, b *Tensor) (*Tensor, error) { return binary(OpMaximum, a, b) }

// Minimum returns the elementwise minimum (NaN if either is NaN).
func Minimum(a, b *Tensor) (*Tensor, error) { return binary(OpMinimum, a, b) }

// Pow returns a raised to b elementwise, broadcasting.
func Pow(a, b *Tensor) (*Tensor, error) { return binary(OpPow, a, b) }

// Unary sets dst = op(a) elementwise; dst has a's shape and may be a.
// param is the exponent of OpPowScalar and is ignored otherwise.
func Unary(op UnaryOp, dst, a *Tensor, param float64) error {
	if err := sameSet(dst, a); err != nil {
		return err
	}
	if op > OpSquare {
		return fmtOpErr("unary", int(op))
	}
	if err := checkShape(dst, a.shape); err != nil {
		return err
	}
	if err := writable(dst); err != nil {
		return err
	}
	return dst.Device().Unary(op, dst.view(), a.view(), param)
}

func unary(op UnaryOp, a *Tensor, param float64) (*Tensor, error) {
	if a.invalid() {
		return nil, errNil
	}
	dst, err := like(a, a.shape)
	if err != nil {
		return nil, err
	}
	if err := Unary(op, dst, a, param); err != nil {
		return nil, err
	}
	return dst, nil
}

// Exp returns e^a elementwise.
func Exp(a *Tensor) (*Tensor, error) { return unary(OpExp, a, 0) }

// Log returns the natural logarithm elementwise.
func Log(a *Tensor) (*Tensor, error) { return unary(OpLog, a, 0) }

// Tanh returns tanh(a) elementwise.
func Tanh(a *Tensor) (*Tensor, error) { return unary(OpTanh, a, 0) }

// Sigmoid returns 1/(1+e^-a) elementwise.
func Sigmoid(a *Tensor) (*Tensor, error) { return unary(OpSigmoid, a, 0) }

// ReLU returns max(a, 0) elementwise.
func ReLU(a *Tensor) (*Tensor, error) { return unary(OpReLU, a, 0) }

// GELU returns the tanh approximation of GELU elementwise.
func GELU(a *Tensor) (*Tensor, error) { return unary(OpGELU, a, 0) }

// Sqrt returns the square root elementwise.
func Sqrt(a *Tensor) (*Tensor, error) { return unary(OpSqrt, a, 0) }

// Abs returns |a| elementwise.
func Abs(a *Tensor) (*Tensor, error) { return unary(OpAbs, a, 0) }

// Neg returns -a elementwise.
func Neg(a *Tensor) (*Tensor, error) { return unary(OpNeg, a, 0) }

// Square returns a² elementwise.
func Square(a *Tensor) (*Tensor, error) { return unary(OpSquare, a, 0) }

// PowScalar returns a^p elementwise.
func PowScalar(a *Tensor, p float64) (*Tensor, error) { return unary(OpPowScalar, a, p) }

// Fill sets every element of t to v.
func Fill(t *Tensor, v float64) error {
	if t.invalid() {
		return errNil
	}
	if err := writable(t); err != nil {
		return err
	}
	return t.Device().Fill(t.view(), v)
}

// Copy copies src into dst (same shape, same device), converting the
// element type if they differ.
func Copy(dst, src *Tensor) error {
	if dst.invalid() || src.invalid() {
		return errNil
	}
	if dst.Device() != src.Device() {
		return fmt.Errorf("%w: %s and %s", ErrDevice, dst.Device().Name(), src.Device().Name())
	}
	if err := checkShape(dst, src.shape); err != nil {
		return err
	}
	if err := writable(dst); err != nil {
		return err
	}
	return dst.Device().Copy(dst.view(), src.view())
}

func fmtOpErr(kind string, op int) error {
	return fmt.Errorf("tensor: unknown %s operation %d", kind, op)
}
