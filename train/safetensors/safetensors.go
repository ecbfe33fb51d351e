// Package safetensors reads and writes tensors in the safetensors format,
// the simple, safe file format of Hugging Face for model weights and
// checkpoints, which PyTorch, JAX and most other frameworks read and
// write.
//
// # Format
//
// A safetensors file is
//
//   - 8 bytes: N, an unsigned 64-bit little-endian integer;
//   - N bytes: a UTF-8 JSON object, the header, padded with spaces;
//   - the data: the tensors' bytes, little-endian, row-major.
//
// The header maps every tensor name to its element type, shape and byte
// range in the data, and may hold string metadata under "__metadata__":
//
//	{"__metadata__":{"epoch":"3"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}
//
// data_offsets are [begin, end) relative to the first byte after the
// header, and the tensors cover the data exactly: no gaps, no overlaps, no
// bytes left over.
//
// # Element types
//
// Write stores float32 tensors as F32 and float64 tensors as F64. Read
// loads F32 and F64 tensors as float32 and float64 tensors and converts
// F16 and BF16 tensors to float32 (exactly: every half-precision value is
// a float32). Integer, boolean, 8-bit float and complex tensors (I8, I16,
// I32, I64, U8, U16, U32, U64, BOOL, F8_E4M3, F8_E5M2, F8_E8M0, C64) are
// not converted: Read validates them like the others, then fails with
// ErrDType naming the tensor and its type; so do the sub-byte types F4,
// F6_E2M3 and F6_E3M2.
//
// # Safety
//
// Read validates the whole header before it reads any data, and allocates
// nothing larger than the input has shown to hold: sizes are checked
// against the input's length when it is known (files, bytes.Reader and
// other readers with a Len or Seek method), and data is read in growing
// steps otherwise, so a forged header cannot make it allocate gigabytes
// from a few bytes of input. ReadOptions bound the header and file sizes.
package safetensors

import (
	"errors"

	"github.com/kilnml/kiln/tensor"
)

// Sentinel errors of package safetensors; the errors returned wrap one of
// them with the details (the tensor's name, the offending value), so test
// them with errors.Is.
var (
	// ErrFormat is returned by Read and ReadFile for input that is not a
	// valid safetensors file: a header length over the limit or past the
	// end of the input, a header that is not valid UTF-8 or not a JSON
	// object of the expected fields, duplicate names, an unknown dtype, a
	// negative or overflowing shape, data_offsets that do not match the
	// shape or do not cover the data exactly, data shorter than the
	// offsets, or a file larger than ReadOptions.MaxBytes.
	ErrFormat = errors.New("safetensors: invalid file")
	// ErrDType is returned by Read and ReadFile for a valid file holding
	// a tensor whose element type this package does not load (integers,
	// booleans, 8-bit floats, complex numbers).
	ErrDType = errors.New("safetensors: unsupported dtype")
	// ErrInput is returned for bad arguments: a nil tensor, an empty,
	// reserved or non-UTF-8 name or metadata string given to Write, or
	// negative ReadOptions.
	ErrInput = errors.New("safetensors: invalid argument")
)

// DefaultMaxHeaderBytes is the header length limit Read applies when
// ReadOptions.MaxHeaderBytes is 0: 100 MiB.
const DefaultMaxHeaderBytes = 100 << 20

// ReadOptions bound what Read and ReadFile accept. The zero value is valid
// and reads any well-formed file whose header is at most 100 MiB.
type ReadOptions struct {
	// MaxHeaderBytes is the largest header length N accepted; a larger
	// one is an ErrFormat error before anything else is read. 0 means
	// DefaultMaxHeaderBytes (100 MiB); negative is an ErrInput error.
	MaxHeaderBytes int64
	// MaxBytes is the largest file accepted, counting the 8-byte length,
	// the header and the data; a header announcing more is an ErrFormat
	// error before any data is read. 0 means no limit beyond the size of
	// the input itself; negative is an ErrInput error.
	MaxBytes int64
}

// A File is the content of a safetensors file.
type File struct {
	// Tensors maps every tensor name to a contiguous CPU tensor: float32
	// for F32, F16 and BF16 data, float64 for F64 data. A tensor of
	// shape [] is a rank-0 scalar.
	Tensors map[string]*tensor.Tensor
	// Metadata is the header's "__metadata__" object; empty (not nil)
	// when the file has none.
	Metadata map[string]string
	// Names lists the keys of Tensors, sorted (byte-wise, as sort.Strings).
	Names []string
}

// metadataKey is the header key reserved for the metadata object.
const metadataKey = "__metadata__"

// dtypeSizes gives the element size in bytes of every dtype name the
// format defines with a whole number of bytes.
var dtypeSizes = map[string]uint64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8, "C64": 8,
}

// loadable reports whether Read converts dtype name to a tensor.
func loadable(dtype string) bool {
	switch dtype {
	case "F32", "F64", "F16", "BF16":
		return true
	}
	return false
}
