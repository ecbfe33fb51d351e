package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kilnml/kiln/tensor"
)

// opaque hides the Len and Seek methods of a reader, so that Read cannot
// learn the input's length.
type opaque struct{ r io.Reader }

func (o opaque) Read(p []byte) (int, error) { return o.r.Read(p) }

// build returns a file made of header (unpadded) and data.
func build(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

// bits returns a tensor's elements as bit patterns (float32 bits for
// float32 tensors), so that NaNs and signed zeros compare exactly.
func bits(t *testing.T, x *tensor.Tensor) []uint64 {
	t.Helper()
	var out []uint64
	if x.DType() == tensor.Float64 {
		v, err := x.Float64s()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range v {
			out = append(out, math.Float64bits(f))
		}
		return out
	}
	v, err := x.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range v {
		out = append(out, uint64(math.Float32bits(f)))
	}
	return out
}

func mustF32(t *testing.T, v []float32, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32s(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func mustF64(t *testing.T, v []float64, shape ...int) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat64s(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestReadGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/read_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Metadata map[string]string
		Tensors  map[string]struct {
			DType string
			Shape []int
			Bits  []uint64
		}
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile("testdata/read_golden.safetensors", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Metadata, f.Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	wantNames := []string{"a_f32", "b_bf16", "d_f64", "empty", "h_f16", "s_scalar"}
	if diff := cmp.Diff(wantNames, f.Names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if len(f.Tensors) != len(want.Tensors) {
		t.Errorf("got %d tensors, want %d", len(f.Tensors), len(want.Tensors))
	}
	for name, w := range want.Tensors {
		got := f.Tensors[name]
		if got == nil {
			t.Errorf("tensor %q missing", name)
			continue
		}
		if got.DType().String() != w.DType {
			t.Errorf("%s: dtype %v, want %s", name, got.DType(), w.DType)
		}
		if diff := cmp.Diff(w.Shape, got.Shape()); diff != "" {
			t.Errorf("%s: shape (-want +got):\n%s", name, diff)
		}
		gb := bits(t, got)
		if len(w.Bits) == 0 && len(gb) == 0 {
			continue
		}
		if diff := cmp.Diff(w.Bits, gb); diff != "" {
			t.Errorf("%s: values (-want +got bit patterns):\n%s", name, diff)
		}
	}
	// Spot-check a few F16 conversions by value as well.
	h, _ := f.Tensors["h_f16"].Float32s()
	if h[4] != 65504 || h[6] != 5.9604645e-08 || !math.IsNaN(float64(h[10])) || !math.IsInf(float64(h[8]), 1) || !math.Signbit(float64(h[1])) {
		t.Errorf("F16 values %v", h)
	}
}

// writeGoldenInput is the fixed input of write_golden.safetensors (see
// testdata/make_golden.py).
func writeGoldenInput(t *testing.T) (map[string]*tensor.Tensor, map[string]string) {
	// layer.0/w is [[0,1],[2,3]] stored as the transpose of [[0,2],[1,3]]
	// with a trailing unit axis: a non-contiguous view.
	base := mustF32(t, []float32{0, 2, 1, 3}, 2, 2)
	tr, err := base.T()
	if err != nil {
		t.Fatal(err)
	}
	w3, err := tr.Unsqueeze(2)
	if err != nil {
		t.Fatal(err)
	}
	if w3.IsContiguous() {
		t.Fatal("test input should be a non-contiguous view")
	}
	empty, err := tensor.Zeros(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*tensor.Tensor{
			"weight":    mustF32(t, []float32{0.5, -1.25, 3.0, 0.1, 2.0e-8, -7.0}, 2, 3),
			"bias":      mustF64(t, []float64{1.0, -0.2, 1.0e300}, 3),
			"step":      tensor.Scalar(42),
			"empty":     empty,
			"layer.0/w": w3,
		}, map[string]string{
			"epoch": "3", "format": "kiln", `a"quote`: "<&>",
		}
}

func TestWriteGolden(t *testing.T) {
	want, err := os.ReadFile("testdata/write_golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	tensors, meta := writeGoldenInput(t)
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Write output differs from testdata/write_golden.safetensors:\ngot  %q\nwant %q", buf.Bytes(), want)
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteFile(path, tensors, meta); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("WriteFile output differs from testdata/write_golden.safetensors")
	}
	if n := binary.LittleEndian.Uint64(got); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
}

func TestRoundTrip(t *testing.T) {
	rng := tensor.NewRNG(7)
	big, _ := tensor.Zeros(300_000) // 1.2 MB: exercises the growing reads
	if err := rng.Normal(big, 0, 1); err != nil {
		t.Fatal(err)
	}
	m34, _ := tensor.Zeros(3, 4)
	if err := rng.Uniform(m34, -1, 1); err != nil {
		t.Fatal(err)
	}
	transposed, _ := m34.T()
	sliced, _ := m34.Slice(1, 1, 3)
	bcast, _ := mustF32(t, []float32{1, 2, 3}, 3).BroadcastTo(2, 3)
	d3, _ := tensor.New(tensor.Float64, 2, 3, 4)
	if err := rng.Normal(d3, 0, 10); err != nil {
		t.Fatal(err)
	}
	perm, _ := d3.Permute(2, 0, 1)
	e0, _ := tensor.Zeros(0)
	e302, _ := tensor.New(tensor.Float64, 3, 0, 2)
	specials := mustF32(t, []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32}, 6)
	in := map[string]*tensor.Tensor{
		"scalar":      tensor.Scalar(-3.5),
		"scalar64":    mustF64(t, []float64{math.Pi}),
		"big":         big,
		"transposed":  transposed,
		"sliced":      sliced,
		"bcast":       bcast,
		"permuted64":  perm,
		"empty0":      e0,
		"empty302":    e302,
		"specials":    specials,
		"unicode é/∑": mustF32(t, []float32{1}, 1, 1),
	}
	s64, _ := in["scalar64"].Reshape()
	in["scalar64"] = s64
	meta := map[string]string{"k": "v", "empty": "", "ü": "ñ\n\"\\"}

	var buf bytes.Buffer
	if err := Write(&buf, in, meta); err != nil {
		t.Fatal(err)
	}
	readers := map[string]func() io.Reader{
		"bytes.Reader": func() io.Reader { return bytes.NewReader(buf.Bytes()) },
		"opaque":       func() io.Reader { return opaque{bytes.NewReader(buf.Bytes())} },
		"file": func() io.Reader {
			p := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return f
		},
	}
	for rname, mk := range readers {
		t.Run(rname, func(t *testing.T) {
			f, err := Read(mk(), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(meta, f.Metadata); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			if len(f.Tensors) != len(in) || len(f.Names) != len(in) {
				t.Fatalf("got %d tensors / %d names, want %d", len(f.Tensors), len(f.Names), len(in))
			}
			for name, want := range in {
				got := f.Tensors[name]
				if got == nil {
					t.Fatalf("tensor %q missing", name)
				}
				if got.DType() != want.DType() || !cmp.Equal(got.Shape(), want.Shape(), cmpopts.EquateEmpty()) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
				if !got.IsContiguous() {
					t.Errorf("%s: read tensor not contiguous", name)
				}
				if diff := cmp.Diff(bits(t, want), bits(t, got)); diff != "" {
					t.Errorf("%s: values differ (-want +got):\n%s", name, diff)
				}
			}
		})
	}
	// Read consumes exactly the file: what follows stays in the reader.
	r := bytes.NewReader(append(bytes.Clone(buf.Bytes()), "tail"...))
	if _, err := Read(r, ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "tail" {
		t.Errorf("after Read, reader holds %q, want %q", rest, "tail")
	}
}

func TestWriteEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	want := build("{}      ", nil)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got %q, want %q", buf.Bytes(), want)
	}
	f, err := Read(&buf, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 0 || len(f.Names) != 0 || f.Metadata == nil || len(f.Metadata) != 0 {
		t.Errorf("got %+v", f)
	}
}

func TestReadCorrupt(t *testing.T) {
	w := func(dtype, shape, offs string) string {
		return `"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offs
	}
	one := `{"w":{` + w("F32", "[1]", "[0,4]") + `}}`
	huge := binary.LittleEndian.AppendUint64(nil, 1<<63)
	tests := []struct {
		name  string
		in    []byte
		opts  ReadOptions
		want  string // substring of the error
		isEOF bool
	}{
		{name: "empty input", in: nil, want: "8-byte header length", isEOF: true},
		{name: "short length", in: []byte{1, 2, 3, 4, 5}, want: "8-byte header length", isEOF: true},
		{name: "header over default limit", in: huge, want: "exceeds the limit"},
		{name: "header over MaxHeaderBytes", in: build(one, make([]byte, 4)), opts: ReadOptions{MaxHeaderBytes: 16}, want: "MaxHeaderBytes"},
		{name: "header past end of input", in: build(one, make([]byte, 4))[:20], want: "header", isEOF: true},
		{name: "file over MaxBytes", in: build(one, make([]byte, 4)), opts: ReadOptions{MaxBytes: 40}, want: "MaxBytes"},
		{name: "header over MaxBytes", in: build(one, make([]byte, 4)), opts: ReadOptions{MaxBytes: 20}, want: "MaxBytes"},
		{name: "not utf-8", in: build("{\"w\xff\":{"+w("F32", "[1]", "[0,4]")+"}}", make([]byte, 4)), want: "not valid UTF-8 (byte 3"},
		{name: "not an object", in: build(`[]`, nil), want: "does not start with '{'"},
		{name: "leading space", in: build(` {}`, nil), want: "does not start with '{'"},
		{name: "empty header", in: build(``, nil), want: "does not start with '{'"},
		{name: "truncated json", in: build(`{"w":{"dtype":"F32"`, nil), want: `tensor "w"`},
		{name: "bad json", in: build(`{"w":{"dtype":F32}}`, nil), want: `tensor "w"`},
		{name: "trailing value", in: build(`{}{}`, nil), want: "after the header object"},
		{name: "trailing garbage", in: build(`{} x`, nil), want: "after the header object"},
		{name: "tensor not object", in: build(`{"w":5}`, nil), want: `tensor "w": not an object`},
		{name: "unknown field", in: build(`{"w":{`+w("F32", "[1]", "[0,4]")+`,"offsets":[0,4]}}`, make([]byte, 4)), want: `tensor "w": unknown field "offsets"`},
		{name: "duplicate field", in: build(`{"w":{`+w("F32", "[1]", "[0,4]")+`,"dtype":"F32"}}`, make([]byte, 4)), want: `tensor "w": duplicate field "dtype"`},
		{name: "missing dtype", in: build(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), want: `tensor "w": missing dtype`},
		{name: "missing shape", in: build(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), want: `tensor "w": missing shape`},
		{name: "missing offsets", in: build(`{"w":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), want: `tensor "w": missing data_offsets`},
		{name: "dtype not string", in: build(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), want: `tensor "w": dtype is not a string`},
		{name: "unknown dtype", in: build(`{"w":{`+w("F128", "[1]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": unknown dtype "F128"`},
		{name: "lowercase dtype", in: build(`{"w":{`+w("f32", "[1]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": unknown dtype`},
		{name: "negative dim", in: build(`{"w":{`+w("F32", "[-1]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape [-1] has a negative dimension`},
		{name: "fractional dim", in: build(`{"w":{`+w("F32", "[1.5]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape: 1.5 is not an integer`},
		{name: "exponent dim", in: build(`{"w":{`+w("F32", "[1e0]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape: 1e0 is not an integer`},
		{name: "dim not number", in: build(`{"w":{`+w("F32", `["1"]`, "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape: 1 is not a number`},
		{name: "shape not array", in: build(`{"w":{`+w("F32", `1`, "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape is not an array`},
		{name: "shape overflow", in: build(`{"w":{`+w("F32", "[4294967296,4294967296]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape [4294967296 4294967296] has more elements`},
		{name: "empty shape overflow", in: build(`{"w":{`+w("F32", "[0,4294967296,4294967296]", "[0,0]")+`}}`, nil), want: `tensor "w": shape`},
		{name: "dim beyond int64", in: build(`{"w":{`+w("F32", "[99999999999999999999]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape: 99999999999999999999 is not an integer`},
		{name: "offsets wrong count", in: build(`{"w":{`+w("F32", "[1]", "[0,4,8]")+`}}`, make([]byte, 8)), want: `tensor "w": data_offsets [0 4 8] has 3 numbers`},
		{name: "negative offset", in: build(`{"w":{`+w("F32", "[1]", "[-4,0]")+`}}`, make([]byte, 4)), want: `tensor "w": data_offsets [-4 0] are negative`},
		{name: "begin after end", in: build(`{"w":{`+w("F32", "[0]", "[8,4]")+`}}`, make([]byte, 8)), want: `tensor "w": data_offsets [8, 4] begin after they end`},
		{name: "size mismatch", in: build(`{"w":{`+w("F32", "[1]", "[0,8]")+`}}`, make([]byte, 8)), want: `tensor "w": shape [1] of F32 needs 4 bytes but data_offsets [0, 8] span 8`},
		{name: "size mismatch f16", in: build(`{"w":{`+w("F16", "[3]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": shape [3] of F16 needs 6 bytes`},
		{name: "not starting at 0", in: build(`{"w":{`+w("F32", "[1]", "[4,8]")+`}}`, make([]byte, 8)), want: `tensor "w": data_offsets [4, 8] leave a gap of 4 bytes after byte 0`},
		{name: "gap", in: build(`{"a":{`+w("F32", "[1]", "[0,4]")+`},"w":{`+w("F32", "[1]", "[8,12]")+`}}`, make([]byte, 12)), want: `tensor "w": data_offsets [8, 12] leave a gap`},
		{name: "overlap", in: build(`{"a":{`+w("F32", "[2]", "[0,8]")+`},"w":{`+w("F32", "[1]", "[4,8]")+`}}`, make([]byte, 8)), want: `tensor "w": data_offsets [4, 8] overlap tensor "a"`},
		{name: "same range", in: build(`{"a":{`+w("F32", "[1]", "[0,4]")+`},"w":{`+w("F32", "[1]", "[0,4]")+`}}`, make([]byte, 4)), want: `tensor "w": data_offsets [0, 4] overlap tensor "a"`},
		{name: "duplicate name", in: build(`{"w":{`+w("F32", "[1]", "[0,4]")+`},"w":{`+w("F32", "[1]", "[4,8]")+`}}`, make([]byte, 8)), want: `tensor "w": duplicate name`},
		{name: "duplicate name escaped", in: build(`{"w":{`+w("F32", "[1]", "[0,4]")+`},"\u0077":{`+w("F32", "[1]", "[4,8]")+`}}`, make([]byte, 8)), want: `tensor "w": duplicate name`},
		{name: "duplicate metadata", in: build(`{"__metadata__":{},"__metadata__":{}}`, nil), want: `duplicate key "__metadata__"`},
		{name: "duplicate metadata key", in: build(`{"__metadata__":{"k":"a","k":"b"}}`, nil), want: `duplicate key "k"`},
		{name: "metadata not string", in: build(`{"__metadata__":{"k":1}}`, nil), want: `key "k": value is not a string`},
		{name: "metadata not object", in: build(`{"__metadata__":"x"}`, nil), want: `__metadata__: not an object`},
		{name: "data shorter than offsets", in: build(`{"a":{`+w("F32", "[1]", "[0,4]")+`},"w":{`+w("F32", "[2]", "[4,12]")+`}}`, make([]byte, 10)), want: `tensor "w": data`, isEOF: true},
		{name: "no data", in: build(one, nil), want: `tensor "w"`, isEOF: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{bytes.NewReader(tc.in), opaque{bytes.NewReader(tc.in)}} {
				f, err := Read(r, tc.opts)
				if err == nil {
					t.Fatalf("Read(%T) succeeded with %d tensors; want an error", r, len(f.Tensors))
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("Read(%T): error %v does not wrap ErrFormat", r, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Read(%T): error %q does not contain %q", r, err, tc.want)
				}
				if tc.isEOF && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("Read(%T): error %v does not wrap io.ErrUnexpectedEOF", r, err)
				}
			}
		})
	}
}

func TestReadValidEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		tensor string
		shape  []int
	}{
		{"metadata null", build(`{"__metadata__":null}`, nil), "", nil},
		{"whitespace and padding", build("{ \"w\" : {\"data_offsets\":[0,4], \"shape\":[1],\"dtype\":\"F32\"} }\n\t  ", make([]byte, 4)), "w", []int{1}},
		{"empty tensor between", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"F64","shape":[0,5],"data_offsets":[4,4]},"z":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)), "e", []int{0, 5}},
		{"empty tensor at end", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"e":{"dtype":"BF16","shape":[0],"data_offsets":[4,4]}}`, make([]byte, 4)), "e", []int{0}},
		{"empty name", build(`{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), "", []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read(bytes.NewReader(tc.in), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.shape == nil {
				return
			}
			x := f.Tensors[tc.tensor]
			if x == nil {
				t.Fatalf("tensor %q missing from %v", tc.tensor, f.Names)
			}
			if !cmp.Equal(x.Shape(), tc.shape, cmpopts.EquateEmpty()) {
				t.Errorf("shape %v, want %v", x.Shape(), tc.shape)
			}
		})
	}
}

func TestReadUnsupportedDType(t *testing.T) {
	for _, dt := range []string{"I64", "I32", "I16", "I8", "U8", "BOOL", "F8_E4M3", "F4"} {
		size := dtypeSizes[dt]
		if size == 0 {
			size = 1 // F4: rejected before its size matters
		}
		hdr := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"ids":{"dtype":"` + dt + `","shape":[2],"data_offsets":[4,` +
			itoa(int(4+2*size)) + `]}}`
		in := build(hdr, make([]byte, 4+2*size))
		_, err := Read(bytes.NewReader(in), ReadOptions{})
		if !errors.Is(err, ErrDType) || errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrDType only", dt, err)
			continue
		}
		if !strings.Contains(err.Error(), `tensor "ids" has dtype `+dt) {
			t.Errorf("%s: error %q does not name the tensor and dtype", dt, err)
		}
	}
}

func TestReadFileTrailingBytes(t *testing.T) {
	src, err := os.ReadFile("testdata/write_golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x.st")
	if err := os.WriteFile(p, append(src, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ReadFile(p, ReadOptions{})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "1 bytes after the end of the data") || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v, want ErrFormat about 1 trailing byte naming the file", err)
	}
	if !strings.HasPrefix(err.Error(), "safetensors: read ") || strings.Contains(err.Error(), "safetensors: invalid") {
		t.Errorf("error %q repeats the package prefix", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing"), ReadOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want os.ErrNotExist", err)
	}
}

func TestReadOptionsNegative(t *testing.T) {
	for _, o := range []ReadOptions{{MaxHeaderBytes: -1}, {MaxBytes: -1}} {
		if _, err := Read(bytes.NewReader(build("{}", nil)), o); !errors.Is(err, ErrInput) {
			t.Errorf("%+v: error %v, want ErrInput", o, err)
		}
	}
}

// TestReadNoOverAllocation checks that a header claiming gigabytes makes
// Read allocate only about what the input holds.
func TestReadNoOverAllocation(t *testing.T) {
	n := 1 << 28 // 1 GiB of F32
	hdr := `{"w":{"dtype":"F32","shape":[` + itoa(n) + `],"data_offsets":[0,` + itoa(4*n) + `]}}`
	in := build(hdr, make([]byte, 3<<20)) // 3 MiB of data only
	for _, r := range []io.Reader{bytes.NewReader(in), opaque{bytes.NewReader(in)}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Read(r, ReadOptions{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), `tensor "w"`) {
			t.Errorf("%T: error %v, want ErrFormat naming w", r, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%T: allocated %d bytes for a %d-byte input", r, alloc, len(in))
		}
	}
	// A header length of 100 MiB with a few bytes behind it.
	in = append(binary.LittleEndian.AppendUint64(nil, DefaultMaxHeaderBytes), "{}"...)
	for _, r := range []io.Reader{bytes.NewReader(in), opaque{bytes.NewReader(in)}} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Read(r, ReadOptions{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFormat) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%T: error %v, want ErrFormat", r, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
			t.Errorf("%T: allocated %d bytes for a %d-byte input", r, alloc, len(in))
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestHalfToFloat32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := halfToFloat32(uint16(h))
		sign, exp, mant := h>>15, (h>>10)&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && mant == 0:
			want = math.Inf(1)
		case exp == 0x1f:
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			if math.Signbit(float64(got)) != (sign == 1) || math.Float32bits(got)&0x7fffff != uint32(mant)<<13 {
				t.Fatalf("%#04x: NaN bits %#08x lose sign or payload", h, math.Float32bits(got))
			}
			continue
		case exp == 0:
			want = math.Ldexp(float64(mant), -24)
		default:
			want = math.Ldexp(1+float64(mant)/1024, exp-15)
		}
		if sign == 1 {
			want = -want
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign == 1) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestWriteInvalidInput(t *testing.T) {
	ok := tensor.Scalar(1)
	tests := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		meta    map[string]string
		want    string
	}{
		{"nil tensor", map[string]*tensor.Tensor{"a": ok, "w": nil}, nil, `tensor "w" is nil`},
		{"empty name", map[string]*tensor.Tensor{"": ok}, nil, "empty tensor name"},
		{"reserved name", map[string]*tensor.Tensor{"__metadata__": ok}, nil, "reserved"},
		{"bad utf-8 name", map[string]*tensor.Tensor{"w\xff": ok}, nil, "not valid UTF-8"},
		{"bad utf-8 metadata", map[string]*tensor.Tensor{"w": ok}, map[string]string{"k": "\xfe"}, `metadata "k"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tc.tensors, tc.meta)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrInput containing %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteWriterError(t *testing.T) {
	tensors, meta := writeGoldenInput(t)
	for _, n := range []int{0, 8, 100} {
		err := Write(&failWriter{n: n}, tensors, meta)
		if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("limit %d: error %v, want the writer's error", n, err)
		}
	}
}

func TestWriteFileKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	good := map[string]*tensor.Tensor{"w": mustF32(t, []float32{1, 2}, 2)}
	if err := WriteFile(path, good, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v (%v), want 0644", fi.Mode(), err)
	}
	old, _ := os.ReadFile(path)

	// Bad input: error, old file intact.
	if err := WriteFile(path, map[string]*tensor.Tensor{"w": nil}, nil); !errors.Is(err, ErrInput) {
		t.Errorf("error %v, want ErrInput", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
		t.Error("failed WriteFile changed the old file")
	}

	// Rename onto a non-empty directory fails after the data is written:
	// the directory stays and no temporary file is left behind.
	target := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, good, nil); err == nil {
		t.Error("WriteFile onto a directory succeeded")
	} else if !strings.HasPrefix(err.Error(), "safetensors: write "+target) {
		t.Errorf("error %q lacks the prefix and path", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"model.safetensors", "sub"}, names); diff != "" {
		t.Errorf("directory after failed writes (-want +got):\n%s", diff)
	}

	// Overwrite keeps the existing permissions.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, map[string]*tensor.Tensor{"v": tensor.Scalar(3)}, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("overwritten file mode %v, want 0600", fi.Mode())
	}
	f, err := ReadFile(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"v"}, f.Names); diff != "" {
		t.Errorf("names after overwrite (-want +got):\n%s", diff)
	}
}
