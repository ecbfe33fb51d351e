package cuda

import (
	_ "embed"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/kilnml/kiln/tensor"
)

//go:generate bash kernels/build.sh

// ptx is Kiln's kernels, compiled to PTX for compute capability 8.0 by
// kernels/build.sh; the driver compiles it for the device at Open.
//
//go:embed kernels/kernels.ptx
var ptx string

// Options configure Open.
type Options struct {
	// Ordinal is the device's index among the CUDA devices (0 is the
	// first; CUDA_VISIBLE_DEVICES applies).
	Ordinal int
	// TF32 lets float32 matrix products use the tensor cores' TF32 mode:
	// inputs rounded to 10 bits of mantissa, several times faster on
	// Ampere and later. Off by default: products are then exact float32
	// as on the CPU.
	TF32 bool
	// StagingBytes is the size of each of the two pinned host buffers
	// that CopyFromHost and CopyToHost go through (0 means 8 MiB).
	StagingBytes int
}

// Info describes an opened device.
type Info struct {
	Name            string // "NVIDIA H100 80GB HBM3"
	Ordinal         int
	Major, Minor    int   // compute capability
	Multiprocessors int   // streaming multiprocessors
	TotalMemory     int64 // bytes
	DriverVersion   int   // e.g. 12040 for CUDA 12.4
	CUBLAS          string
	TF32            bool
}

// Device is a CUDA GPU as a [tensor.Device]. Its methods are safe for
// concurrent use; the work of all of them is queued, in order, on one
// stream, and runs asynchronously: CopyToHost and Synchronize wait for it,
// and an error of an earlier kernel may surface at that point.
type Device struct {
	name string
	info Info
	d    *driver
	bl   *cublasLib

	mu      sync.Mutex
	closed  bool
	ctx     uintptr
	cuDev   int32
	stream  uintptr
	handle  uintptr // cuBLAS
	module  uintptr
	fns     map[string]uintptr
	alloc   *allocator
	staging [2]staging
	next    int // staging slot to use next
	sc      *scratch
}

// staging is a pinned host buffer with the event of the last copy that
// used it.
type staging struct {
	ptr   uintptr
	bytes int
	ev    uintptr
	busy  bool // ev was recorded and not waited for
}

// scratch holds the host values whose addresses the driver and cuBLAS
// read during a call: heap memory, so it does not move.
type scratch struct {
	alpha32, beta32 float32
	alpha64, beta64 float64
	params          [1]unsafe.Pointer
	u64             uint64
	i32             int32
}

// Open opens the CUDA device o.Ordinal: it loads the driver and cuBLAS,
// retains the device's primary context, creates a stream and loads
// Kiln's kernels. It fails with an error wrapping ErrNoDriver, ErrNoDevice
// or ErrNoCUBLAS when the machine cannot run them; [OpenOrCPU] falls
// back to the CPU instead. Close releases the device.
func Open(o Options) (*Device, error) {
	d, err := loadDriver()
	if err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var count int32
	if err := d.call("cuDeviceGetCount", d.cuDeviceGetCount, uintptr(unsafe.Pointer(&count))); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	if o.Ordinal < 0 || o.Ordinal >= int(count) {
		return nil, fmt.Errorf("%w: ordinal %d, and the driver sees %d CUDA device(s)", ErrNoDevice, o.Ordinal, count)
	}
	bl, err := loadCUBLAS()
	if err != nil {
		return nil, err
	}
	dev := &Device{name: fmt.Sprintf("cuda:%d", o.Ordinal), d: d, bl: bl, fns: map[string]uintptr{}, sc: new(scratch)}
	if err := dev.open(o); err != nil {
		dev.release()
		return nil, err
	}
	return dev, nil
}

func (dev *Device) open(o Options) error {
	d := dev.d
	if err := d.call("cuDeviceGet", d.cuDeviceGet, uintptr(unsafe.Pointer(&dev.cuDev)), uintptr(o.Ordinal)); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	cd := uintptr(dev.cuDev)
	var nameBuf [256]byte
	if err := d.call("cuDeviceGetName", d.cuDeviceGetName, uintptr(unsafe.Pointer(&nameBuf[0])), 255, cd); err != nil {
		return err
	}
	attr := func(a int) (int, error) {
		var v int32
		err := d.call(fmt.Sprintf("cuDeviceGetAttribute(%d)", a), d.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a), cd)
		return int(v), err
	}
	const attrSMs, attrMajor, attrMinor = 16, 75, 76
	var err error
	info := Info{Name: goString(&nameBuf[0]), Ordinal: o.Ordinal, DriverVersion: d.version, CUBLAS: dev.bl.path, TF32: o.TF32}
	if info.Multiprocessors, err = attr(attrSMs); err != nil {
		return err
	}
	if info.Major, err = attr(attrMajor); err != nil {
		return err
	}
	if info.Minor, err = attr(attrMinor); err != nil {
		return err
	}
	var total uint64
	if err := d.call("cuDeviceTotalMem_v2", d.cuDeviceTotalMem, uintptr(unsafe.Pointer(&total)), cd); err != nil {
		return err
	}
	info.TotalMemory = int64(total)
	dev.info = info
	if info.Major < 7 {
		return fmt.Errorf("%w: %s has compute capability %d.%d; Kiln's kernels need 7.0 or later", ErrNoDevice, info.Name, info.Major, info.Minor)
	}
	if err := d.call("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&dev.ctx)), cd); err != nil {
		return err
	}
	if err := d.call("cuCtxSetCurrent", d.cuCtxSetCurrent, dev.ctx); err != nil {
		return err
	}
	const streamNonBlocking = 1
	if err := d.call("cuStreamCreate", d.cuStreamCreate, uintptr(unsafe.Pointer(&dev.stream)), streamNonBlocking); err != nil {
		return err
	}
	if err := dev.loadModule(); err != nil {
		return err
	}
	bl := dev.bl
	if err := bl.call("cublasCreate_v2", bl.create, uintptr(unsafe.Pointer(&dev.handle))); err != nil {
		return err
	}
	if err := bl.call("cublasSetStream_v2", bl.setStream, dev.handle, dev.stream); err != nil {
		return err
	}
	mode := uintptr(cublasDefaultMath)
	if o.TF32 {
		mode = cublasTF32TensorOpMath
	}
	if err := bl.call("cublasSetMathMode", bl.setMathMode, dev.handle, mode); err != nil {
		return err
	}
	sb := o.StagingBytes
	if sb <= 0 {
		sb = 8 << 20
	}
	for i := range dev.staging {
		s := &dev.staging[i]
		const portable = 1
		if err := d.call(fmt.Sprintf("cuMemHostAlloc(%d bytes)", sb), d.cuMemHostAlloc, uintptr(unsafe.Pointer(&s.ptr)), uintptr(sb), portable); err != nil {
			return err
		}
		s.bytes = sb
		const disableTiming = 2
		if err := d.call("cuEventCreate", d.cuEventCreate, uintptr(unsafe.Pointer(&s.ev)), disableTiming); err != nil {
			return err
		}
	}
	dev.alloc = newAllocator(dev, max(256<<20, info.TotalMemory/16))
	return nil
}

// loadModule loads the embedded PTX (the driver compiles it for the
// device) and looks up every kernel.
func (dev *Device) loadModule() error {
	d := dev.d
	const logBytes = 16 << 10
	errLog := make([]byte, logBytes)
	const optErrBuf, optErrBufSize = 5, 6
	opts := []int32{optErrBuf, optErrBufSize}
	vals := []uintptr{uintptr(unsafe.Pointer(&errLog[0])), logBytes}
	image := append([]byte(ptx), 0)
	err := d.call("cuModuleLoadDataEx", d.cuModuleLoadDataEx, uintptr(unsafe.Pointer(&dev.module)),
		uintptr(unsafe.Pointer(&image[0])), uintptr(len(opts)), uintptr(unsafe.Pointer(&opts[0])), uintptr(unsafe.Pointer(&vals[0])))
	runtime.KeepAlive(image)
	runtime.KeepAlive(errLog)
	if err != nil {
		log := strings.TrimRight(string(errLog[:max(0, strings.IndexByte(string(errLog), 0))]), "\n")
		if log != "" {
			return fmt.Errorf("loading Kiln's kernels: %w: %s", err, log)
		}
		return fmt.Errorf("loading Kiln's kernels: %w", err)
	}
	for _, name := range kernelNames {
		cname := append([]byte(name), 0)
		var f uintptr
		if err := d.call("cuModuleGetFunction("+name+")", d.cuModuleGetFunction, uintptr(unsafe.Pointer(&f)), dev.module, uintptr(unsafe.Pointer(&cname[0]))); err != nil {
			return err
		}
		dev.fns[name] = f
	}
	return nil
}

// OpenOrCPU opens the CUDA device o.Ordinal, or returns [tensor.CPU] and
// the reason when it cannot (no driver, no device, no cuBLAS): code
// written against the returned device runs on either. The error is for
// logging; the device returned is always usable.
func OpenOrCPU(o Options) (tensor.Device, error) {
	d, err := Open(o)
	if err != nil {
		return tensor.CPU(), err
	}
	return d, nil
}

// Available reports whether a CUDA device can be opened, and why not.
func Available() error {
	d, err := loadDriver()
	if err != nil {
		return err
	}
	var count int32
	if err := d.call("cuDeviceGetCount", d.cuDeviceGetCount, uintptr(unsafe.Pointer(&count))); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	if count == 0 {
		return fmt.Errorf("%w: the driver loaded but sees no CUDA device", ErrNoDevice)
	}
	if _, err := loadCUBLAS(); err != nil {
		return err
	}
	return nil
}

// Info describes the device.
func (dev *Device) Info() Info { return dev.info }

// MemoryStats returns the figures of the device's caching allocator.
func (dev *Device) MemoryStats() AllocStats { return dev.alloc.Stats() }

// EmptyCache returns the allocator's cached blocks to the driver (after
// collecting dead buffers), for other processes or libraries.
func (dev *Device) EmptyCache() error {
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	if err := dev.syncLocked(); err != nil {
		return err
	}
	// Cleanups take the allocator's lock only, so collecting while
	// holding the device is safe.
	dev.alloc.collect()
	return dev.alloc.releaseCache()
}

// Close waits for the queued work and releases the device: buffers still
// alive must not be used afterwards.
func (dev *Device) Close() error {
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	err := dev.syncLocked()
	dev.closed = true
	if rerr := dev.alloc.releaseCache(); err == nil {
		err = rerr
	}
	dev.releaseLocked()
	return err
}

// release frees what open created, after a failed open.
func (dev *Device) release() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if dev.ctx != 0 {
		dev.d.call("cuCtxSetCurrent", dev.d.cuCtxSetCurrent, dev.ctx)
	}
	dev.releaseLocked()
}

func (dev *Device) releaseLocked() {
	d := dev.d
	for i := range dev.staging {
		s := &dev.staging[i]
		if s.ev != 0 {
			d.call("cuEventDestroy", d.cuEventDestroy, s.ev)
			s.ev = 0
		}
		if s.ptr != 0 {
			d.call("cuMemFreeHost", d.cuMemFreeHost, s.ptr)
			s.ptr = 0
		}
	}
	if dev.handle != 0 {
		dev.bl.call("cublasDestroy_v2", dev.bl.destroy, dev.handle)
		dev.handle = 0
	}
	if dev.module != 0 {
		d.call("cuModuleUnload", d.cuModuleUnload, dev.module)
		dev.module = 0
	}
	if dev.stream != 0 {
		d.call("cuStreamDestroy", d.cuStreamDestroy, dev.stream)
		dev.stream = 0
	}
	if dev.ctx != 0 {
		d.call("cuDevicePrimaryCtxRelease", d.cuDevicePrimaryCtxRelease, uintptr(dev.cuDev))
		dev.ctx = 0
	}
}

// enter locks the device to this goroutine and its OS thread and makes
// its context current there.
func (dev *Device) enter() error {
	dev.mu.Lock()
	if dev.closed {
		dev.mu.Unlock()
		return fmt.Errorf("%s: %w", dev.name, ErrClosed)
	}
	runtime.LockOSThread()
	if r, _, _ := purego.SyscallN(dev.d.cuCtxSetCurrent, dev.ctx); r != cuSuccess {
		err := dev.d.err("cuCtxSetCurrent", r)
		runtime.UnlockOSThread()
		dev.mu.Unlock()
		return err
	}
	return nil
}

func (dev *Device) exit() {
	runtime.UnlockOSThread()
	dev.mu.Unlock()
}

// Name is "cuda:N".
func (dev *Device) Name() string { return dev.name }

// String describes the device.
func (dev *Device) String() string {
	return fmt.Sprintf("%s (%s, compute %d.%d, %d SMs, %.1f GiB)", dev.name, dev.info.Name, dev.info.Major, dev.info.Minor,
		dev.info.Multiprocessors, float64(dev.info.TotalMemory)/(1<<30))
}

// buffer is device memory holding elements of one type.
type buffer struct {
	dev   *Device
	dt    tensor.DType
	n     int
	ptr   uintptr
	class int64
}

func (b *buffer) Device() tensor.Device { return b.dev }
func (b *buffer) DType() tensor.DType   { return b.dt }
func (b *buffer) Len() int              { return b.n }

func elemSize(dt tensor.DType) int {
	if dt == tensor.Float64 {
		return 8
	}
	return 4
}

// rawAlloc and rawFree are the allocator's access to the driver; the
// caller holds the device (enter).
func (dev *Device) rawAlloc(bytes int64) (uintptr, error) {
	var p uintptr
	err := dev.d.call(fmt.Sprintf("cuMemAlloc_v2(%d bytes)", bytes), dev.d.cuMemAlloc, uintptr(unsafe.Pointer(&p)), uintptr(bytes))
	return p, err
}

func (dev *Device) rawFree(p uintptr) error {
	return dev.d.call("cuMemFree_v2", dev.d.cuMemFree, p)
}

// Alloc returns a zeroed buffer of n elements.
func (dev *Device) Alloc(dt tensor.DType, n int) (tensor.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: allocation of %d elements on %s", tensor.ErrShape, n, dev.name)
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("%w: %v on %s", tensor.ErrDType, dt, dev.name)
	}
	if err := dev.enter(); err != nil {
		return nil, err
	}
	defer dev.exit()
	return dev.allocLocked(dt, n, true)
}

// allocLocked allocates a buffer, zeroed when zero is set.
func (dev *Device) allocLocked(dt tensor.DType, n int, zero bool) (*buffer, error) {
	bytes := int64(n) * int64(elemSize(dt))
	// The allocator may collect garbage, and cleanups take the
	// allocator's lock only, so holding the device is safe.
	p, c, err := dev.alloc.alloc(bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: allocating %d×%v: %w", dev.name, n, dt, err)
	}
	b := &buffer{dev: dev, dt: dt, n: n, ptr: p, class: c}
	a := dev.alloc
	runtime.AddCleanup(b, func(blk [2]int64) { a.put(uintptr(blk[0]), blk[1]) }, [2]int64{int64(p), c})
	if zero && bytes > 0 {
		if err := dev.memset32(p, 0, (bytes+3)/4); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// allocBytes returns scratch device memory for the length of a call; the
// caller keeps the buffer alive until the kernels that use it are queued.
func (dev *Device) allocBytes(bytes int) (*buffer, error) {
	return dev.allocLocked(tensor.Float32, (bytes+3)/4, false)
}

func (dev *Device) memset32(p uintptr, v uint32, n int64) error {
	return dev.d.call("cuMemsetD32Async", dev.d.cuMemsetD32Async, p, uintptr(v), uintptr(n), dev.stream)
}

// devBuf checks that b is one of dev's buffers.
func (dev *Device) devBuf(b tensor.Buffer) (*buffer, error) {
	db, ok := b.(*buffer)
	if !ok || db.dev != dev {
		name := "nil"
		if b != nil && b.Device() != nil {
			name = b.Device().Name()
		}
		return nil, fmt.Errorf("%w: a buffer of %s given to %s", tensor.ErrDevice, name, dev.name)
	}
	return db, nil
}

// Synchronize waits for the queued work; it returns the first error of
// an asynchronous kernel, if any.
func (dev *Device) Synchronize() error {
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	return dev.syncLocked()
}

func (dev *Device) syncLocked() error {
	return dev.d.call("cuStreamSynchronize", dev.d.cuStreamSynchronize, dev.stream)
}

// hostSlice returns the address, element type and length of a host
// slice given to CopyFromHost or CopyToHost.
func hostSlice(s any) (unsafe.Pointer, tensor.DType, int, error) {
	switch v := s.(type) {
	case []float32:
		return unsafe.Pointer(unsafe.SliceData(v)), tensor.Float32, len(v), nil
	case []float64:
		return unsafe.Pointer(unsafe.SliceData(v)), tensor.Float64, len(v), nil
	}
	return nil, 0, 0, fmt.Errorf("%w: host data of type %T, want []float32 or []float64", tensor.ErrDType, s)
}

// CopyFromHost copies src into dst from element offset on. The data go
// through pinned staging buffers; the call returns once src has been
// read, before the device has the data.
func (dev *Device) CopyFromHost(dst tensor.Buffer, offset int, src any) error {
	db, err := dev.devBuf(dst)
	if err != nil {
		return err
	}
	p, dt, n, err := hostSlice(src)
	if err != nil {
		return err
	}
	if dt != db.dt {
		return fmt.Errorf("%w: copying %v host data into a %v buffer of %s", tensor.ErrDType, dt, db.dt, dev.name)
	}
	if offset < 0 || offset+n > db.n {
		return fmt.Errorf("%w: copying %d elements at offset %d into a buffer of %d on %s", tensor.ErrShape, n, offset, db.n, dev.name)
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	err = dev.uploadLocked(db.ptr+uintptr(offset*elemSize(dt)), p, n*elemSize(dt))
	runtime.KeepAlive(src)
	return err
}

// uploadLocked copies bytes from host memory at src to device address dst
// through the staging buffers.
func (dev *Device) uploadLocked(dst uintptr, src unsafe.Pointer, bytes int) error {
	d := dev.d
	for off := 0; off < bytes; {
		s := &dev.staging[dev.next]
		dev.next = (dev.next + 1) % len(dev.staging)
		if s.busy {
			if err := d.call("cuEventSynchronize", d.cuEventSynchronize, s.ev); err != nil {
				return err
			}
			s.busy = false
		}
		n := min(bytes-off, s.bytes)
		copy(unsafe.Slice(bytePtr(s.ptr), n), unsafe.Slice((*byte)(unsafe.Add(src, off)), n))
		if err := d.call("cuMemcpyHtoDAsync_v2", d.cuMemcpyHtoDAsync, dst+uintptr(off), s.ptr, uintptr(n), dev.stream); err != nil {
			return err
		}
		if err := d.call("cuEventRecord", d.cuEventRecord, s.ev, dev.stream); err != nil {
			return err
		}
		s.busy = true
		off += n
	}
	return nil
}

// CopyToHost copies len(dst) elements of src from element offset on into
// dst, after the work queued before.
func (dev *Device) CopyToHost(dst any, src tensor.Buffer, offset int) error {
	sb, err := dev.devBuf(src)
	if err != nil {
		return err
	}
	p, dt, n, err := hostSlice(dst)
	if err != nil {
		return err
	}
	if dt != sb.dt {
		return fmt.Errorf("%w: copying a %v buffer of %s into %v host memory", tensor.ErrDType, sb.dt, dev.name, dt)
	}
	if offset < 0 || offset+n > sb.n {
		return fmt.Errorf("%w: copying %d elements at offset %d out of a buffer of %d on %s", tensor.ErrShape, n, offset, sb.n, dev.name)
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	err = dev.downloadLocked(p, sb.ptr+uintptr(offset*elemSize(dt)), n*elemSize(dt))
	runtime.KeepAlive(dst)
	runtime.KeepAlive(sb)
	return err
}

// downloadLocked copies bytes from device address src to host memory at
// dst through the staging buffers, two chunks in flight.
func (dev *Device) downloadLocked(dst unsafe.Pointer, src uintptr, bytes int) error {
	d := dev.d
	type chunk struct {
		s      *staging
		off, n int
	}
	var pending []chunk
	drain := func(c chunk) error {
		if err := d.call("cuEventSynchronize", d.cuEventSynchronize, c.s.ev); err != nil {
			return err
		}
		c.s.busy = false
		copy(unsafe.Slice((*byte)(unsafe.Add(dst, c.off)), c.n), unsafe.Slice(bytePtr(c.s.ptr), c.n))
		return nil
	}
	for off := 0; off < bytes; {
		s := &dev.staging[dev.next]
		dev.next = (dev.next + 1) % len(dev.staging)
		if len(pending) == len(dev.staging) {
			if err := drain(pending[0]); err != nil {
				return err
			}
			pending = pending[1:]
		}
		if s.busy {
			if err := d.call("cuEventSynchronize", d.cuEventSynchronize, s.ev); err != nil {
				return err
			}
			s.busy = false
		}
		n := min(bytes-off, s.bytes)
		if err := d.call("cuMemcpyDtoHAsync_v2", d.cuMemcpyDtoHAsync, s.ptr, src+uintptr(off), uintptr(n), dev.stream); err != nil {
			return err
		}
		if err := d.call("cuEventRecord", d.cuEventRecord, s.ev, dev.stream); err != nil {
			return err
		}
		s.busy = true
		pending = append(pending, chunk{s, off, n})
		off += n
	}
	for _, c := range pending {
		if err := drain(c); err != nil {
			return err
		}
	}
	if bytes == 0 {
		return dev.syncLocked()
	}
	return nil
}

// launch queues kernel name over grid blocks of block threads with args,
// a pointer to the kernel's argument struct.
func (dev *Device) launch(name string, grid, block int, args unsafe.Pointer) error {
	f := dev.fns[name]
	if f == 0 {
		return fmt.Errorf("cuda: kernel %s not loaded", name)
	}
	grid = max(1, min(grid, 1<<31-1))
	dev.sc.params[0] = args
	r, _, _ := purego.SyscallN(dev.d.cuLaunchKernel, f,
		uintptr(grid), 1, 1, uintptr(block), 1, 1, 0, dev.stream,
		uintptr(unsafe.Pointer(&dev.sc.params[0])), 0)
	dev.sc.params[0] = nil
	if r != cuSuccess {
		return dev.d.err("cuLaunchKernel("+name+")", r)
	}
	return nil
}

// gridFor returns the number of blocks of 256 threads for n elements,
// capped so that grid-stride loops keep every multiprocessor busy.
func (dev *Device) gridFor(n int64, perThread int64) int {
	b := (n + 256*perThread - 1) / (256 * perThread)
	return int(max(1, min(b, int64(dev.info.Multiprocessors)*32)))
}

var errUnsupportedDType = errors.New("unsupported element type")
