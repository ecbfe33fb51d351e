package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The CUDA driver API as Kiln calls it: function addresses looked up in
// libcuda.so.1 at run time and called through purego (no cgo, nothing
// linked at build time).

// Result codes of the driver API that Kiln acts on.
const (
	cuSuccess     = 0
	cuOutOfMemory = 2
	cuNotReady    = 600
)

// driver holds the addresses of the driver API functions.
type driver struct {
	version int // cuDriverGetVersion, e.g. 12040

	cuGetErrorName, cuGetErrorString                        uintptr
	cuInit, cuDriverGetVersion                              uintptr
	cuDeviceGetCount, cuDeviceGet, cuDeviceGetName          uintptr
	cuDeviceTotalMem, cuDeviceGetAttribute                  uintptr
	cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease     uintptr
	cuCtxSetCurrent, cuCtxSynchronize                       uintptr
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize    uintptr
	cuStreamWaitEvent                                       uintptr
	cuEventCreate, cuEventDestroy, cuEventRecord            uintptr
	cuEventSynchronize, cuEventQuery, cuEventElapsedTime    uintptr
	cuMemAlloc, cuMemFree, cuMemGetInfo                     uintptr
	cuMemHostAlloc, cuMemFreeHost                           uintptr
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync uintptr
	cuMemsetD32Async                                        uintptr
	cuModuleLoadDataEx, cuModuleGetFunction, cuModuleUnload uintptr
	cuLaunchKernel                                          uintptr
}

var (
	drvOnce sync.Once
	drv     *driver
	drvErr  error
)

// loadDriver opens libcuda.so.1 and initializes the driver, once per
// process.
func loadDriver() (*driver, error) {
	drvOnce.Do(func() { drv, drvErr = openDriver() })
	return drv, drvErr
}

func openDriver() (*driver, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("%w: the CUDA backend supports Linux only (this is %s/%s)", ErrNoDriver, runtime.GOOS, runtime.GOARCH)
	}
	names := []string{"libcuda.so.1", "libcuda.so"}
	if p := os.Getenv("KILN_LIBCUDA"); p != "" {
		names = []string{p}
	}
	h, tried, err := dlopenFirst(names)
	if err != nil {
		return nil, fmt.Errorf("%w: no NVIDIA driver library could be loaded (tried %s): %v", ErrNoDriver, tried, err)
	}
	d := &driver{}
	syms := []struct {
		p    *uintptr
		name string
	}{
		{&d.cuGetErrorName, "cuGetErrorName"}, {&d.cuGetErrorString, "cuGetErrorString"},
		{&d.cuInit, "cuInit"}, {&d.cuDriverGetVersion, "cuDriverGetVersion"},
		{&d.cuDeviceGetCount, "cuDeviceGetCount"}, {&d.cuDeviceGet, "cuDeviceGet"},
		{&d.cuDeviceGetName, "cuDeviceGetName"}, {&d.cuDeviceTotalMem, "cuDeviceTotalMem_v2"},
		{&d.cuDeviceGetAttribute, "cuDeviceGetAttribute"},
		{&d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
		{&d.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"},
		{&d.cuCtxSetCurrent, "cuCtxSetCurrent"}, {&d.cuCtxSynchronize, "cuCtxSynchronize"},
		{&d.cuStreamCreate, "cuStreamCreate"}, {&d.cuStreamDestroy, "cuStreamDestroy_v2"},
		{&d.cuStreamSynchronize, "cuStreamSynchronize"}, {&d.cuStreamWaitEvent, "cuStreamWaitEvent"},
		{&d.cuEventCreate, "cuEventCreate"}, {&d.cuEventDestroy, "cuEventDestroy_v2"},
		{&d.cuEventRecord, "cuEventRecord"}, {&d.cuEventSynchronize, "cuEventSynchronize"},
		{&d.cuEventQuery, "cuEventQuery"}, {&d.cuEventElapsedTime, "cuEventElapsedTime"},
		{&d.cuMemAlloc, "cuMemAlloc_v2"}, {&d.cuMemFree, "cuMemFree_v2"}, {&d.cuMemGetInfo, "cuMemGetInfo_v2"},
		{&d.cuMemHostAlloc, "cuMemHostAlloc"}, {&d.cuMemFreeHost, "cuMemFreeHost"},
		{&d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"}, {&d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"},
		{&d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"}, {&d.cuMemsetD32Async, "cuMemsetD32Async"},
		{&d.cuModuleLoadDataEx, "cuModuleLoadDataEx"}, {&d.cuModuleGetFunction, "cuModuleGetFunction"},
		{&d.cuModuleUnload, "cuModuleUnload"}, {&d.cuLaunchKernel, "cuLaunchKernel"},
	}
	for _, s := range syms {
		p, err := purego.Dlsym(h, s.name)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("%w: %s lacks %s (driver too old?): %v", ErrNoDriver, tried, s.name, err)
		}
		*s.p = p
	}
	if err := d.call("cuInit", d.cuInit, 0); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDriver, err)
	}
	var v int32
	if err := d.call("cuDriverGetVersion", d.cuDriverGetVersion, uintptr(unsafe.Pointer(&v))); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDriver, err)
	}
	d.version = int(v)
	if d.version < 11000 {
		return nil, fmt.Errorf("%w: the driver supports CUDA %d.%d; Kiln needs 11.0 or later", ErrNoDriver, d.version/1000, d.version%1000/10)
	}
	return d, nil
}

// dlopenFirst opens the first library of names that loads.
func dlopenFirst(names []string) (uintptr, string, error) {
	var last error
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, n, nil
		}
		last = err
	}
	return 0, fmt.Sprint(names), last
}

// call calls a driver function and turns a failure into an error naming
// it.
func (d *driver) call(what string, fn uintptr, args ...uintptr) error {
	r, _, _ := purego.SyscallN(fn, args...)
	if r == cuSuccess {
		return nil
	}
	return d.err(what, r)
}

// err describes the driver result code r of the call what.
func (d *driver) err(what string, r uintptr) error {
	name, desc := fmt.Sprintf("CUDA_ERROR_%d", r), ""
	if d.cuGetErrorName != 0 {
		var p *byte
		if q, _, _ := purego.SyscallN(d.cuGetErrorName, r, uintptr(unsafe.Pointer(&p))); q == cuSuccess && p != nil {
			name = goString(p)
		}
		p = nil
		if q, _, _ := purego.SyscallN(d.cuGetErrorString, r, uintptr(unsafe.Pointer(&p))); q == cuSuccess && p != nil {
			desc = goString(p)
		}
	}
	return &DriverError{Call: what, Code: int(r), Name: name, Desc: desc, oom: r == cuOutOfMemory}
}

// DriverError is a failed call of the CUDA driver or of cuBLAS.
type DriverError struct {
	Call string // the function, with what it was asked ("cuMemAlloc_v2(1073741824 bytes)")
	Code int    // the result code
	Name string // CUDA_ERROR_OUT_OF_MEMORY, CUBLAS_STATUS_...
	Desc string // the library's description, when it gives one
	oom  bool
}

func (e *DriverError) Error() string {
	if e.Desc != "" {
		return fmt.Sprintf("cuda: %s: %s (%s)", e.Call, e.Name, e.Desc)
	}
	return fmt.Sprintf("cuda: %s: %s", e.Call, e.Name)
}

// Is makes errors.Is(err, ErrOutOfMemory) hold for out-of-memory results.
func (e *DriverError) Is(target error) bool {
	return target == ErrOutOfMemory && e.oom
}

// goString copies a NUL-terminated C string.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// libraryCandidates lists where a CUDA library named base (e.g.
// "libcublas.so") may be: the loader's path first (versioned names, newest
// first), then the usual toolkit folders and Python wheels' nvidia/
// folders.
func libraryCandidates(base string, versions []string) []string {
	var out []string
	for _, v := range versions {
		out = append(out, base+"."+v)
	}
	out = append(out, base)
	var dirs []string
	if p := os.Getenv("CUDA_HOME"); p != "" {
		dirs = append(dirs, filepath.Join(p, "lib64"))
	}
	if p := os.Getenv("CUDA_PATH"); p != "" {
		dirs = append(dirs, filepath.Join(p, "lib64"))
	}
	dirs = append(dirs, "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu")
	for _, pat := range []string{
		"/usr/local/cuda-*/lib64",
		"/usr/local/lib/python3*/dist-packages/nvidia/cu*/lib",
		"/usr/local/lib/python3*/site-packages/nvidia/cu*/lib",
		"/usr/lib/python3*/dist-packages/nvidia/cu*/lib",
		"/opt/conda/lib",
		"/opt/conda/lib/python3*/site-packages/nvidia/cu*/lib",
	} {
		m, _ := filepath.Glob(pat)
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		dirs = append(dirs, m...)
	}
	for _, d := range dirs {
		for _, v := range versions {
			p := filepath.Join(d, base+"."+v)
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// Errors of the package; test with errors.Is.
var (
	// ErrNoDriver: the NVIDIA driver library (libcuda.so.1) is missing,
	// too old, or failed to initialize.
	ErrNoDriver = errors.New("cuda: no usable NVIDIA driver")
	// ErrNoDevice: the driver loaded but there is no such device.
	ErrNoDevice = errors.New("cuda: no such CUDA device")
	// ErrNoCUBLAS: cuBLAS could not be loaded.
	ErrNoCUBLAS = errors.New("cuda: cuBLAS not found")
	// ErrOutOfMemory: device or pinned host memory ran out, even after
	// the allocator released its cache.
	ErrOutOfMemory = errors.New("cuda: out of memory")
	// ErrClosed: the device was closed.
	ErrClosed = errors.New("cuda: device closed")
)

// bytePtr turns an address returned by a C function into a pointer
// without the conversion vet warns about (the memory is C's, not Go's).
func bytePtr(p uintptr) *byte { return *(**byte)(unsafe.Pointer(&p)) }
