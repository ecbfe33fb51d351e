package tensor

import (
	"testing"
	"unsafe"
)

func TestCPUAlignment(t *testing.T) {
	for n := 1; n < 70; n++ {
		for _, dt := range []DType{Float32, Float64} {
			x, err := New(dt, n)
			if err != nil {
				t.Fatal(err)
			}
			var p uintptr
			if dt == Float32 {
				p = uintptr(unsafe.Pointer(&hostF32(x.buf)[0]))
			} else {
				p = uintptr(unsafe.Pointer(&hostF64(x.buf)[0]))
			}
			if p%64 != 0 {
				t.Fatalf("%v buffer of %d elements at %#x is not 64-byte aligned", dt, n, p)
			}
		}
	}
}
