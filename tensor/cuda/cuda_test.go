package cuda

import (
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/kilnml/kiln/tensor"
	"github.com/kilnml/kiln/tensor/internal/conformance"
)

// openGPU opens device 0 or skips the test, saying why; with
// KILN_REQUIRE_GPU=1 the skip is a failure.
func openGPU(tb testing.TB, o Options) *Device {
	tb.Helper()
	dev, err := Open(o)
	if err != nil {
		if os.Getenv("KILN_REQUIRE_GPU") == "1" {
			tb.Fatalf("KILN_REQUIRE_GPU=1 but no CUDA device: %v", err)
		}
		tb.Skipf("no CUDA device (set KILN_REQUIRE_GPU=1 to fail instead): %v", err)
	}
	tb.Cleanup(func() {
		if err := dev.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	tb.Logf("%v", dev)
	return dev
}

func TestConformance(t *testing.T) {
	dev := openGPU(t, Options{})
	conformance.Run(t, dev)
	if err := dev.Synchronize(); err != nil {
		t.Fatal(err)
	}
}

// TestNoGPU checks what a machine without a GPU sees: a clear error
// naming the cause and the CPU as the fallback device.
func TestNoGPU(t *testing.T) {
	if Available() == nil {
		t.Skip("a CUDA device is present")
	}
	err := Available()
	if !errors.Is(err, ErrNoDriver) && !errors.Is(err, ErrNoDevice) && !errors.Is(err, ErrNoCUBLAS) {
		t.Fatalf("Available() = %v, want an error wrapping ErrNoDriver, ErrNoDevice or ErrNoCUBLAS", err)
	}
	t.Logf("Available: %v", err)
	if _, oerr := Open(Options{}); oerr == nil || oerr.Error() != err.Error() && !errors.Is(oerr, ErrNoCUBLAS) {
		t.Fatalf("Open = %v, want %v", oerr, err)
	}
	dev, why := OpenOrCPU(Options{})
	if dev != tensor.CPU() || why == nil {
		t.Fatalf("OpenOrCPU = %v, %v; want the CPU and the reason", dev, why)
	}
	x, err2 := tensor.FromFloat32s([]float32{1, 2, 3}, 3)
	if err2 != nil {
		t.Fatal(err2)
	}
	if _, err := x.To(dev); err != nil {
		t.Fatal(err)
	}
}

func TestMissingLibraryNamed(t *testing.T) {
	if os.Getenv("KILN_LIBCUDA") != "" {
		t.Skip("KILN_LIBCUDA set")
	}
	_, tried, err := dlopenFirst([]string{"/nonexistent/libcuda.so.1"})
	if err == nil || !strings.Contains(tried, "/nonexistent/libcuda.so.1") {
		t.Fatalf("dlopenFirst = %q, %v", tried, err)
	}
}

// TestPTXMatchesABI checks, without a GPU, that the embedded PTX defines
// every kernel the package launches, each taking one parameter of the
// size of its Go argument struct.
func TestPTXMatchesABI(t *testing.T) {
	sizes := map[string]uintptr{
		"binary": unsafe.Sizeof(binaryArgs{}), "unary": unsafe.Sizeof(unaryArgs{}),
		"copy": unsafe.Sizeof(copyArgs{}), "fill": unsafe.Sizeof(fillArgs{}),
		"reduce": unsafe.Sizeof(reduceArgs{}), "softmax": unsafe.Sizeof(softmaxArgs{}),
		"gather": unsafe.Sizeof(gatherArgs{}), "scatter": unsafe.Sizeof(scatterArgs{}),
		"bias": unsafe.Sizeof(biasActArgs{}), "adam": unsafe.Sizeof(adamArgs{}), "sgd": unsafe.Sizeof(sgdArgs{}),
	}
	entry := regexp.MustCompile(`\.entry\s+(\w+)\s*\(\s*\.param\s+\.align\s+\d+\s+\.b8\s+\w+\[(\d+)\]\s*\)`)
	got := map[string]int{}
	for _, m := range entry.FindAllStringSubmatch(ptx, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] = n
	}
	for _, name := range kernelNames {
		size, ok := got[name]
		if !ok {
			t.Errorf("kernel %s: no single-struct entry in kernels.ptx", name)
			continue
		}
		want := sizes[name[:strings.IndexByte(name, '_')]]
		if want == 0 {
			t.Errorf("kernel %s: no argument struct known", name)
		} else if uintptr(size) != want {
			t.Errorf("kernel %s: PTX parameter of %d bytes, Go struct of %d", name, size, want)
		}
	}
	if !strings.Contains(ptx, ".target sm_80") && !strings.Contains(ptx, ".target sm_8") {
		t.Errorf("kernels.ptx does not target sm_80")
	}
}

func TestMerge(t *testing.T) {
	for _, c := range []struct {
		shape   []int
		strides [][]int
		sh      []int64
		st      [][]int64
	}{
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {12, 4, 1}}, []int64{24}, [][]int64{{1}, {1}}},
		{[]int{2, 3, 4}, [][]int{{12, 4, 1}, {0, 0, 1}}, []int64{6, 4}, [][]int64{{4, 1}, {0, 1}}},
		{[]int{2, 1, 4}, [][]int{{4, 99, 1}}, []int64{8}, [][]int64{{1}}},
		{[]int{}, [][]int{{}}, []int64{1}, [][]int64{{1}}},
		{[]int{3, 4}, [][]int{{1, 3}}, []int64{3, 4}, [][]int64{{1, 3}}},
		{[]int{2, 3, 4}, [][]int{{0, 0, 0}}, []int64{24}, [][]int64{{0}}},
	} {
		sh, st, _ := merge(c.shape, c.strides...)
		if !slices.Equal(sh, c.sh) || len(st) != len(c.st) {
			t.Errorf("merge(%v, %v) = %v %v, want %v %v", c.shape, c.strides, sh, st, c.sh, c.st)
			continue
		}
		for k := range st {
			if !slices.Equal(st[k], c.st[k]) {
				t.Errorf("merge(%v, %v) strides = %v, want %v", c.shape, c.strides, st, c.st)
			}
		}
	}
}

func TestBlasOperand(t *testing.T) {
	for _, c := range []struct {
		r, c, sr, sc int
		trans        uintptr
		ld           int
		ok           bool
	}{
		{4, 5, 5, 1, cublasOpN, 5, true}, // row-major
		{4, 5, 1, 4, cublasOpT, 4, true}, // transposed
		{4, 5, 8, 1, cublasOpN, 8, true}, // row-major slice of a wider matrix
		{4, 5, 2, 2, 0, 0, false},        // every other element: copy first
		{4, 5, 0, 1, 0, 0, false},        // broadcast rows: copy first
		{1, 5, 0, 1, cublasOpN, 5, true}, // one row: its stride does not matter
		{4, 1, 1, 0, cublasOpN, 1, true}, // one column
		{4, 5, 3, 1, 0, 0, false},        // overlapping rows
	} {
		tr, ld, ok := blasOperand(c.r, c.c, c.sr, c.sc)
		if ok != c.ok || ok && (tr != c.trans || ld != c.ld) {
			t.Errorf("blasOperand(%d, %d, %d, %d) = %d, %d, %v; want %d, %d, %v", c.r, c.c, c.sr, c.sc, tr, ld, ok, c.trans, c.ld, c.ok)
		}
	}
}

func TestGroupRows(t *testing.T) {
	idx := []int32{3, 1, 3, 0, 1, 3}
	dest, start, rows := groupRows(idx)
	want := struct{ dest, start, rows []int32 }{[]int32{0, 1, 3}, []int32{0, 1, 3, 6}, []int32{3, 1, 4, 0, 2, 5}}
	if !slices.Equal(dest, want.dest) || !slices.Equal(start, want.start) || !slices.Equal(rows, want.rows) {
		t.Fatalf("groupRows(%v) = %v %v %v, want %v", idx, dest, start, rows, want)
	}
}
