package safetensors

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzRead checks that Read never panics, returns only its documented
// errors for malformed input, and that whatever it accepts survives a
// Write/Read round trip unchanged. Its corpus is testdata/fuzz/FuzzRead
// plus the seeds below.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"testdata/read_golden.safetensors", "testdata/write_golden.safetensors"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(build("{}", nil))
	f.Add(build(`{"__metadata__":{"a":"b"},"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, []byte{0, 0x3c, 0xff, 0x7b}))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F64","shape":[0],"data_offsets":[2,2]}}`, []byte{0x80, 0x3f}))
	f.Add(build(`{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(build(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))

	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := Read(bytes.NewReader(in), ReadOptions{})
		file2, err2 := Read(opaque{bytes.NewReader(in)}, ReadOptions{})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("known-length Read error %v, unknown-length Read error %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrDType) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrDType", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("Write of a file Read accepted: %v", err)
		}
		back, err := Read(&buf, ReadOptions{})
		if err != nil {
			t.Fatalf("Read of Write's output: %v", err)
		}
		for _, g := range []*File{file2, back} {
			if diff := cmp.Diff(file.Names, g.Names); diff != "" {
				t.Fatalf("names differ (-first +other):\n%s", diff)
			}
			if diff := cmp.Diff(file.Metadata, g.Metadata); diff != "" {
				t.Fatalf("metadata differ (-first +other):\n%s", diff)
			}
			for _, name := range file.Names {
				a, b := file.Tensors[name], g.Tensors[name]
				if a.DType() != b.DType() || !cmp.Equal(a.Shape(), b.Shape(), cmpopts.EquateEmpty()) || !cmp.Equal(bits(t, a), bits(t, b)) {
					t.Fatalf("tensor %q differs: %v vs %v", name, a, b)
				}
			}
		}
	})
}
