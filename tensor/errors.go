package tensor

import "errors"

// Sentinel errors of package tensor. Errors returned by the package wrap
// one of them with the details (both shapes for a shape mismatch, the
// offending index, the device names), so test them with [errors.Is].
var (
	// ErrShape is returned when shapes do not fit an operation: operands
	// that do not broadcast, a reshape to another number of elements, an
	// axis out of range, a matrix product with mismatched inner sizes.
	ErrShape = errors.New("tensor: shape mismatch")
	// ErrDType is returned when operands have different element types, or
	// an Arrow array's type has no tensor counterpart.
	ErrDType = errors.New("tensor: dtype mismatch")
	// ErrDevice is returned when the operands of one operation live on
	// different devices, or a buffer is handed to a device it does not
	// belong to.
	ErrDevice = errors.New("tensor: device mismatch")
	// ErrIndex is returned for an index out of range: in At, Slice,
	// Gather and ScatterAdd.
	ErrIndex = errors.New("tensor: index out of range")
	// ErrNull is returned by the Arrow conversions for a null value, with
	// the column and row in the message.
	ErrNull = errors.New("tensor: null value")
)
