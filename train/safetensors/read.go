package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kilnml/kiln/tensor"
)

// growStep is the size up to which Read allocates a buffer at once when
// the input's length is unknown; longer reads grow their buffer as the
// bytes arrive.
const growStep = 1 << 20

// entry is one tensor of a parsed header.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end uint64
	hasShape   bool
	hasOffsets bool
}

// ReadFile reads the safetensors file at path (see Read). The file must
// end where its data ends: trailing bytes are an ErrFormat error.
func ReadFile(path string, opts ReadOptions) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	file, size, err := read(f, opts)
	if err != nil {
		return nil, &pathError{path, err}
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: read %s: %w", path, err)
	}
	if fi.Mode().IsRegular() && fi.Size() != size {
		return nil, &pathError{path, fmt.Errorf("%w: %d bytes after the end of the data", ErrFormat, fi.Size()-size)}
	}
	return file, nil
}

// pathError adds the file's path to an error of read.
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string {
	return "safetensors: read " + e.path + ": " + strings.TrimPrefix(e.err.Error(), "safetensors: ")
}

func (e *pathError) Unwrap() error { return e.err }

// Read reads one safetensors file from r, consuming exactly its bytes
// (the 8-byte length, the header and the data that the header describes).
//
// The header is validated in full before any data is read; see ErrFormat
// for what is checked. Errors name the offending tensor. Input that ends
// early is an ErrFormat error that also wraps io.ErrUnexpectedEOF; other
// errors of r are returned wrapped.
func Read(r io.Reader, opts ReadOptions) (*File, error) {
	f, _, err := read(r, opts)
	return f, err
}

// read implements Read and also returns the number of bytes consumed.
func read(r io.Reader, opts ReadOptions) (*File, int64, error) {
	maxHeader, maxBytes := opts.MaxHeaderBytes, opts.MaxBytes
	if maxHeader < 0 || maxBytes < 0 {
		return nil, 0, fmt.Errorf("%w: negative ReadOptions (MaxHeaderBytes %d, MaxBytes %d)", ErrInput, maxHeader, maxBytes)
	}
	if maxHeader == 0 {
		maxHeader = DefaultMaxHeaderBytes
	}
	avail := remaining(r)

	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, 0, shortErr(err, "input ends before the 8-byte header length")
	}
	n := binary.LittleEndian.Uint64(pre[:])
	switch {
	case n > uint64(maxHeader) || n > math.MaxInt-8:
		return nil, 0, fmt.Errorf("%w: header length %d exceeds the limit of %d bytes (ReadOptions.MaxHeaderBytes)", ErrFormat, n, maxHeader)
	case maxBytes > 0 && 8+n > uint64(maxBytes):
		return nil, 0, fmt.Errorf("%w: header length %d makes the file larger than the limit of %d bytes (ReadOptions.MaxBytes)", ErrFormat, n, maxBytes)
	case avail >= 0 && 8+n > uint64(avail):
		return nil, 0, fmt.Errorf("%w: header length %d exceeds the %d bytes of input after the length: %w", ErrFormat, n, avail-8, io.ErrUnexpectedEOF)
	}
	hdr, err := readN(r, int(n), avail >= 0)
	if err != nil {
		return nil, 0, shortErr(err, fmt.Sprintf("input ends after %d of the %d header bytes", len(hdr), n))
	}
	entries, meta, err := parseHeader(hdr)
	if err != nil {
		return nil, 0, err
	}
	dataLen, err := checkLayout(entries)
	if err != nil {
		return nil, 0, err
	}
	total := 8 + n + dataLen // no overflow: both are below MaxInt
	if maxBytes > 0 && total > uint64(maxBytes) {
		return nil, 0, fmt.Errorf("%w: the header describes a file of %d bytes, larger than the limit of %d bytes (ReadOptions.MaxBytes)", ErrFormat, total, maxBytes)
	}
	if avail >= 0 && total > uint64(avail) {
		return nil, 0, shortData(entries, uint64(avail)-8-n)
	}
	for _, e := range entries {
		if !loadable(e.dtype) {
			return nil, 0, fmt.Errorf("%w: tensor %q has dtype %s; Read loads F32, F64, F16 and BF16", ErrDType, e.name, e.dtype)
		}
	}
	src := r
	if avail < 0 && dataLen > growStep {
		// Unknown input length: read the data first, growing the buffer
		// only as bytes arrive, so that a forged header cannot make us
		// allocate its claimed size.
		data, err := readN(r, int(dataLen), false)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, 0, shortData(entries, uint64(len(data)))
			}
			return nil, 0, fmt.Errorf("safetensors: read data: %w", err)
		}
		src = bytes.NewReader(data)
	}

	file := &File{
		Tensors:  make(map[string]*tensor.Tensor, len(entries)),
		Metadata: meta,
		Names:    make([]string, 0, len(entries)),
	}
	scratch := make([]byte, chunkBytes)
	for _, e := range entries { // in offset order
		t, err := readTensor(src, e, scratch)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, 0, fmt.Errorf("%w: tensor %q: data ends before byte %d of the data region: %w", ErrFormat, e.name, e.end, io.ErrUnexpectedEOF)
			}
			return nil, 0, fmt.Errorf("safetensors: read tensor %q: %w", e.name, err)
		}
		file.Tensors[e.name] = t
		file.Names = append(file.Names, e.name)
	}
	slices.Sort(file.Names)
	return file, int64(total), nil
}

// remaining returns the number of bytes left in r when r can tell (a Len
// method, as bytes.Reader and strings.Reader have, or a Seek method), and
// -1 otherwise.
func remaining(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case io.Seeker:
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		end, err := v.Seek(0, io.SeekEnd)
		if _, err2 := v.Seek(cur, io.SeekStart); err != nil || err2 != nil || end < cur {
			return -1
		}
		return end - cur
	}
	return -1
}

// readN reads exactly n bytes. When the input is not known to hold them,
// buffers above growStep grow with the bytes actually read, so memory stays
// proportional to the input. It returns the bytes read so far with the
// error.
func readN(r io.Reader, n int, known bool) ([]byte, error) {
	if known || n <= growStep {
		buf := make([]byte, n)
		m, err := io.ReadFull(r, buf)
		return buf[:m], err
	}
	buf := make([]byte, 0, growStep)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), n-len(buf)))
		}
		end := min(cap(buf), n)
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// shortErr turns an error of io.ReadFull into ErrFormat when the input
// ended, and wraps it otherwise.
func shortErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %w", ErrFormat, what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("safetensors: read: %w", err)
}

// shortData is the error for a data region of have bytes that does not
// hold every tensor; it names the first tensor that does not fit.
func shortData(entries []entry, have uint64) error {
	for _, e := range entries {
		if e.end > have {
			return fmt.Errorf("%w: tensor %q: data_offsets end at byte %d but the data region has only %d bytes: %w",
				ErrFormat, e.name, e.end, have, io.ErrUnexpectedEOF)
		}
	}
	return fmt.Errorf("%w: data region shorter than the offsets: %w", ErrFormat, io.ErrUnexpectedEOF)
}

// parseHeader parses and validates the JSON header: its syntax, its
// fields and their types. The layout of the data is checked by
// checkLayout.
func parseHeader(hdr []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(hdr) {
		i := 0
		for i < len(hdr) {
			r, size := utf8.DecodeRune(hdr[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return nil, nil, fmt.Errorf("%w: header is not valid UTF-8 (byte %d of the header)", ErrFormat, i)
	}
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, fmt.Errorf("%w: header does not start with '{'", ErrFormat)
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: header: "+format, append([]any{ErrFormat}, args...)...)
	}
	if _, err := dec.Token(); err != nil { // '{', checked above
		return nil, nil, bad("%v", err)
	}
	var (
		entries []entry
		meta    = map[string]string{}
		seen    = map[string]bool{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad("%v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, nil, bad("unexpected %v", tok)
		}
		if seen[key] {
			if key == metadataKey {
				return nil, nil, bad("duplicate key %q", key)
			}
			return nil, nil, bad("tensor %q: duplicate name", key)
		}
		seen[key] = true
		if key == metadataKey {
			if err := parseMetadata(dec, meta); err != nil {
				return nil, nil, bad("%s: %v", metadataKey, err)
			}
			continue
		}
		e, err := parseEntry(dec, key)
		if err != nil {
			return nil, nil, bad("tensor %q: %v", key, err)
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, bad("%v", err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, bad("after the header object: %v", err)
		}
		return nil, nil, bad("unexpected %v after the header object", tok)
	}
	return entries, meta, nil
}

// parseMetadata reads the metadata object (or null) into meta.
func parseMetadata(dec *json.Decoder, meta map[string]string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("not an object (found %v)", tok)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := tok.(string)
		if _, dup := meta[k]; dup {
			return fmt.Errorf("duplicate key %q", k)
		}
		tok, err = dec.Token()
		if err != nil {
			return err
		}
		v, ok := tok.(string)
		if !ok {
			return fmt.Errorf("key %q: value is not a string", k)
		}
		meta[k] = v
	}
	_, err = dec.Token() // '}'
	return err
}

// parseEntry reads one tensor's object.
func parseEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	tok, err := dec.Token()
	if err != nil {
		return e, err
	}
	if tok != json.Delim('{') {
		return e, fmt.Errorf("not an object (found %v)", tok)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return e, err
		}
		field, _ := tok.(string)
		if seen[field] {
			return e, fmt.Errorf("duplicate field %q", field)
		}
		seen[field] = true
		switch field {
		case "dtype":
			tok, err := dec.Token()
			if err != nil {
				return e, err
			}
			s, ok := tok.(string)
			if !ok {
				return e, fmt.Errorf("dtype is not a string (found %v)", tok)
			}
			e.dtype = s
		case "shape":
			dims, err := intArray(dec, "shape")
			if err != nil {
				return e, err
			}
			e.shape = make([]int, len(dims))
			for i, d := range dims {
				if d < 0 {
					return e, fmt.Errorf("shape %v has a negative dimension", dims)
				}
				if d > math.MaxInt {
					return e, fmt.Errorf("shape %v: dimension %d too large", dims, d)
				}
				e.shape[i] = int(d)
			}
			e.hasShape = true
		case "data_offsets":
			offs, err := intArray(dec, "data_offsets")
			if err != nil {
				return e, err
			}
			if len(offs) != 2 {
				return e, fmt.Errorf("data_offsets %v has %d numbers, want 2", offs, len(offs))
			}
			if offs[0] < 0 || offs[1] < 0 {
				return e, fmt.Errorf("data_offsets %v are negative", offs)
			}
			e.begin, e.end = uint64(offs[0]), uint64(offs[1])
			e.hasOffsets = true
		default:
			return e, fmt.Errorf("unknown field %q", field)
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return e, err
	}
	switch {
	case e.dtype == "":
		return e, errors.New("missing dtype")
	case !e.hasShape:
		return e, errors.New("missing shape")
	case !e.hasOffsets:
		return e, errors.New("missing data_offsets")
	}
	return e, nil
}

// intArray reads a JSON array of integers.
func intArray(dec *json.Decoder, what string) ([]int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("%s is not an array (found %v)", what, tok)
	}
	var out []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: %v is not a number", what, tok)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s is not an integer in the int64 range", what, num)
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return out, nil
}

// checkLayout checks every entry's dtype, element count and byte range,
// sorts entries by offset and checks that they cover the data region
// exactly; it returns the region's length.
func checkLayout(entries []entry) (uint64, error) {
	for _, e := range entries {
		size, ok := dtypeSizes[e.dtype]
		if !ok {
			if e.dtype == "F4" || e.dtype == "F6_E2M3" || e.dtype == "F6_E3M2" {
				return 0, fmt.Errorf("%w: tensor %q has dtype %s; Read loads F32, F64, F16 and BF16", ErrDType, e.name, e.dtype)
			}
			return 0, fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrFormat, e.name, e.dtype)
		}
		// count is the number of elements; nonzero the product of the
		// nonzero dimensions, which must fit too so that a tensor with a
		// zero dimension still has representable strides.
		count, nonzero := uint64(1), uint64(1)
		limit := uint64(math.MaxInt) / size
		for _, d := range e.shape {
			if d == 0 {
				count = 0
				continue
			}
			if nonzero > limit/uint64(d) {
				return 0, fmt.Errorf("%w: tensor %q: shape %v has more elements than fit in memory", ErrFormat, e.name, e.shape)
			}
			nonzero *= uint64(d)
			count *= uint64(d)
		}
		if e.begin > e.end {
			return 0, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] begin after they end", ErrFormat, e.name, e.begin, e.end)
		}
		if e.end-e.begin != count*size {
			return 0, fmt.Errorf("%w: tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
				ErrFormat, e.name, e.shape, e.dtype, count*size, e.begin, e.end, e.end-e.begin)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if a.begin != b.begin {
			return cmpU64(a.begin, b.begin)
		}
		if a.end != b.end {
			return cmpU64(a.end, b.end)
		}
		if a.name < b.name {
			return -1
		}
		return 1
	})
	var pos uint64
	prev := ""
	for _, e := range entries {
		switch {
		case e.begin < pos:
			return 0, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] overlap tensor %q, which ends at %d", ErrFormat, e.name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return 0, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] leave a gap of %d bytes after byte %d", ErrFormat, e.name, e.begin, e.end, e.begin-pos, pos)
		}
		pos, prev = e.end, e.name
	}
	if pos > math.MaxInt/2 {
		return 0, fmt.Errorf("%w: data region of %d bytes is too large", ErrFormat, pos)
	}
	return pos, nil
}

func cmpU64(a, b uint64) int {
	if a < b {
		return -1
	}
	return 1
}

// readTensor reads one tensor's bytes from r and returns it as a CPU
// tensor (F16 and BF16 converted to float32).
func readTensor(r io.Reader, e entry, scratch []byte) (*tensor.Tensor, error) {
	dt := tensor.Float32
	if e.dtype == "F64" {
		dt = tensor.Float64
	}
	t, err := tensor.New(dt, e.shape...)
	if err != nil {
		return nil, err
	}
	count := t.Len()
	if count == 0 {
		return t, nil
	}
	size := int(dtypeSizes[e.dtype])
	buf, dev := t.View().Buf, t.Device()
	per := len(scratch) / size
	var f32 []float32
	var f64 []float64
	if dt == tensor.Float64 {
		f64 = make([]float64, min(per, count))
	} else {
		f32 = make([]float32, min(per, count))
	}
	for off := 0; off < count; off += per {
		n := min(per, count-off)
		b := scratch[:n*size]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		switch e.dtype {
		case "F64":
			for i := range n {
				f64[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
			}
			err = dev.CopyFromHost(buf, off, f64[:n])
		case "F32":
			for i := range n {
				f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			err = dev.CopyFromHost(buf, off, f32[:n])
		case "F16":
			for i := range n {
				f32[i] = halfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			}
			err = dev.CopyFromHost(buf, off, f32[:n])
		case "BF16":
			for i := range n {
				f32[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			}
			err = dev.CopyFromHost(buf, off, f32[:n])
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32, exactly
// (NaN payloads are kept in the high mantissa bits).
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant·2⁻²⁴, exact in float32
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
