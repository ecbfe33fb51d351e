package tensor

import "fmt"

// A DType is the element type of a tensor.
type DType uint8

const (
	// Float32 is the type of training and inference tensors; the fast
	// kernels are float32.
	Float32 DType = iota
	// Float64 is for references and statistics; its kernels are plain Go
	// loops.
	Float64
)

// Size returns the size of one element in bytes.
func (d DType) Size() int {
	if d == Float64 {
		return 8
	}
	return 4
}

// String returns "float32" or "float64".
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

func (d DType) valid() bool { return d == Float32 || d == Float64 }
