package cuda

import (
	"fmt"
	"os"
	"sync"

	"github.com/ebitengine/purego"
)

// cuBLAS, loaded at run time like the driver.

// cublasLib holds the addresses of the cuBLAS functions Kiln calls.
type cublasLib struct {
	path string

	create, destroy, setStream, setMathMode       uintptr
	sgemm, dgemm, sgemmStrided, dgemmStrided      uintptr
	getStatusName, getStatusString, getVersionRaw uintptr
}

// cuBLAS enums.
const (
	cublasOpN = 0
	cublasOpT = 1

	cublasDefaultMath      = 0
	cublasTF32TensorOpMath = 3

	cublasStatusAllocFailed = 3
)

var (
	blasOnce sync.Once
	blas     *cublasLib
	blasErr  error
)

func loadCUBLAS() (*cublasLib, error) {
	blasOnce.Do(func() { blas, blasErr = openCUBLAS() })
	return blas, blasErr
}

func openCUBLAS() (*cublasLib, error) {
	names := libraryCandidates("libcublas.so", []string{"13", "12", "11"})
	if p := os.Getenv("KILN_LIBCUBLAS"); p != "" {
		names = []string{p}
	}
	h, tried, err := dlopenFirst(names)
	if err != nil {
		return nil, fmt.Errorf("%w (tried %s; set KILN_LIBCUBLAS to its path): %v", ErrNoCUBLAS, tried, err)
	}
	l := &cublasLib{path: tried}
	for _, s := range []struct {
		p    *uintptr
		name string
	}{
		{&l.create, "cublasCreate_v2"}, {&l.destroy, "cublasDestroy_v2"},
		{&l.setStream, "cublasSetStream_v2"}, {&l.setMathMode, "cublasSetMathMode"},
		{&l.sgemm, "cublasSgemm_v2"}, {&l.dgemm, "cublasDgemm_v2"},
		{&l.sgemmStrided, "cublasSgemmStridedBatched"}, {&l.dgemmStrided, "cublasDgemmStridedBatched"},
	} {
		p, err := purego.Dlsym(h, s.name)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("%w: %s lacks %s: %v", ErrNoCUBLAS, tried, s.name, err)
		}
		*s.p = p
	}
	// Optional: better error messages.
	l.getStatusName, _ = purego.Dlsym(h, "cublasGetStatusName")
	l.getStatusString, _ = purego.Dlsym(h, "cublasGetStatusString")
	return l, nil
}

// call calls a cuBLAS function and turns a failed status into an error.
func (l *cublasLib) call(what string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if r == 0 {
		return nil
	}
	name, desc := fmt.Sprintf("CUBLAS_STATUS_%d", r), ""
	if l.getStatusName != 0 {
		if p, _, _ := purego.SyscallN(l.getStatusName, r); p != 0 {
			name = goString(bytePtr(p))
		}
	}
	if l.getStatusString != 0 {
		if p, _, _ := purego.SyscallN(l.getStatusString, r); p != 0 {
			desc = goString(bytePtr(p))
		}
	}
	return &DriverError{Call: what, Code: int(r), Name: name, Desc: desc, oom: r == cublasStatusAllocFailed}
}
