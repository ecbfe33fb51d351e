package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/kilnml/kiln/tensor"
)

// chunkBytes is the size of the scratch buffers that data is encoded and
// decoded through.
const chunkBytes = 64 << 10

// Write writes tensors and metadata to w as a safetensors file.
//
// The tensors are stored in increasing order of their names, one after
// the other without padding: float32 tensors as F32, float64 tensors as
// F64, little-endian and row-major whatever their strides or device (views
// are written as contiguous tensors). The header is compact JSON with
// "__metadata__" first (omitted when metadata is empty) and its keys
// sorted, then the tensors in name order, each with dtype, shape and
// data_offsets; it is padded with spaces to a multiple of 8 bytes. The
// output is therefore a function of the arguments only.
//
// Every argument is checked before anything is written: a nil tensor, an
// empty name, the reserved name "__metadata__" or a name or metadata
// string that is not valid UTF-8 is an ErrInput error, and w is left
// untouched.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	names, hdr, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: write header length: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	scratch := make([]byte, chunkBytes)
	for _, name := range names {
		if err := writeData(w, tensors[name], scratch); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", name, err)
		}
	}
	return nil
}

// buildHeader validates the arguments and returns the sorted names and
// the padded JSON header.
func buildHeader(tensors map[string]*tensor.Tensor, metadata map[string]string) ([]string, []byte, error) {
	names := make([]string, 0, len(tensors))
	for name, t := range tensors {
		switch {
		case name == "":
			return nil, nil, fmt.Errorf("%w: empty tensor name", ErrInput)
		case name == metadataKey:
			return nil, nil, fmt.Errorf("%w: tensor name %q is reserved for the metadata", ErrInput, name)
		case !utf8.ValidString(name):
			return nil, nil, fmt.Errorf("%w: tensor name %q is not valid UTF-8", ErrInput, name)
		case t == nil:
			return nil, nil, fmt.Errorf("%w: tensor %q is nil", ErrInput, name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	keys := make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("%w: metadata %q: key or value is not valid UTF-8", ErrInput, k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var b bytes.Buffer
	b.WriteByte('{')
	if len(keys) > 0 {
		writeJSONString(&b, metadataKey)
		b.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, k)
			b.WriteByte(':')
			writeJSONString(&b, metadata[k])
		}
		b.WriteByte('}')
	}
	var offset uint64
	for i, name := range names {
		t := tensors[name]
		if i > 0 || len(keys) > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, name)
		b.WriteString(`:{"dtype":`)
		if t.DType() == tensor.Float64 {
			b.WriteString(`"F64"`)
		} else {
			b.WriteString(`"F32"`)
		}
		b.WriteString(`,"shape":[`)
		for j, d := range t.Shape() {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		size := uint64(t.Len()) * uint64(t.DType().Size())
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, offset, offset+size)
		offset += size
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return names, b.Bytes(), nil
}

// writeJSONString appends s as a JSON string, escaping only what JSON
// requires (no HTML escaping); s is valid UTF-8.
func writeJSONString(b *bytes.Buffer, s string) {
	var e bytes.Buffer
	enc := json.NewEncoder(&e)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a valid UTF-8 string always encodes
	b.Write(bytes.TrimSuffix(e.Bytes(), []byte("\n")))
}

// writeData writes t's elements in row-major order, little-endian, copying
// them to the host a block of rows at a time.
func writeData(w io.Writer, t *tensor.Tensor, scratch []byte) error {
	if t.Len() == 0 {
		return nil
	}
	size := t.DType().Size()
	if t.Rank() == 0 {
		return writeBlock(w, t, scratch)
	}
	rows := t.Shape()[0]
	rowLen := t.Len() / rows
	step := max(1, len(scratch)/size/rowLen)
	for r := 0; r < rows; r += step {
		block, err := t.Slice(0, r, min(rows, r+step))
		if err != nil {
			return err
		}
		if err := writeBlock(w, block, scratch); err != nil {
			return err
		}
	}
	return nil
}

// writeBlock copies t to the host and writes its elements.
func writeBlock(w io.Writer, t *tensor.Tensor, scratch []byte) error {
	if t.DType() == tensor.Float64 {
		v, err := t.Float64s()
		if err != nil {
			return err
		}
		for len(v) > 0 {
			n := min(len(v), len(scratch)/8)
			for i, x := range v[:n] {
				binary.LittleEndian.PutUint64(scratch[8*i:], math.Float64bits(x))
			}
			if _, err := w.Write(scratch[:8*n]); err != nil {
				return err
			}
			v = v[n:]
		}
		return nil
	}
	v, err := t.Float32s()
	if err != nil {
		return err
	}
	for len(v) > 0 {
		n := min(len(v), len(scratch)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(scratch[4*i:], math.Float32bits(x))
		}
		if _, err := w.Write(scratch[:4*n]); err != nil {
			return err
		}
		v = v[n:]
	}
	return nil
}

// WriteFile writes tensors and metadata as a safetensors file at path (see
// Write for the layout). It writes to a temporary file in the same
// directory, flushes it to stable storage and renames it over path, so
// path holds either its previous content or the complete new file, never
// a partial one; on error the temporary file is removed. A new file gets
// permissions 0644; an existing one keeps its permissions.
func WriteFile(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) (err error) {
	// Validate first so that bad input creates no file at all.
	if _, _, err := buildHeader(tensors, metadata); err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("safetensors: write %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := Write(bw, tensors, metadata); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir flushes a directory entry change (the rename) to stable storage
// where the platform supports it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) {
		return nil
	}
	return err
}
