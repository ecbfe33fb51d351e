package cuda

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/kilnml/kiln/tensor"
)

// Pinned is page-locked host memory: the device reads and writes it
// directly, so copies from and to it run asynchronously, overlapping the
// host's work (a data loader filling the next batch while the device
// trains on this one). Allocate with [Device.AllocPinned], fill or read it
// through Float32s or Float64s, and Free it when done.
type Pinned struct {
	dev  *Device
	ptr  uintptr
	dt   tensor.DType
	n    int
	ev   uintptr // recorded after the last copy that used the memory
	used bool
}

// AllocPinned returns n elements of pinned host memory.
func (dev *Device) AllocPinned(dt tensor.DType, n int) (*Pinned, error) {
	if n <= 0 {
		return nil, fmt.Errorf("%w: pinned buffer of %d elements", tensor.ErrShape, n)
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("%w: pinned buffer of %v", tensor.ErrDType, dt)
	}
	if err := dev.enter(); err != nil {
		return nil, err
	}
	defer dev.exit()
	p := &Pinned{dev: dev, dt: dt, n: n}
	bytes := n * elemSize(dt)
	const portable = 1
	if err := dev.d.call(fmt.Sprintf("cuMemHostAlloc(%d bytes)", bytes), dev.d.cuMemHostAlloc, uintptr(unsafe.Pointer(&p.ptr)), uintptr(bytes), portable); err != nil {
		return nil, err
	}
	const disableTiming = 2
	if err := dev.d.call("cuEventCreate", dev.d.cuEventCreate, uintptr(unsafe.Pointer(&p.ev)), disableTiming); err != nil {
		dev.d.call("cuMemFreeHost", dev.d.cuMemFreeHost, p.ptr)
		return nil, err
	}
	return p, nil
}

// Len is the number of elements.
func (p *Pinned) Len() int { return p.n }

// Float32s returns the memory as a slice (nil unless float32). Do not
// touch it while a copy is in flight: call Wait first.
func (p *Pinned) Float32s() []float32 {
	if p.ptr == 0 || p.dt != tensor.Float32 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(bytePtr(p.ptr))), p.n)
}

// Float64s returns the memory as a slice (nil unless float64).
func (p *Pinned) Float64s() []float64 {
	if p.ptr == 0 || p.dt != tensor.Float64 {
		return nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(bytePtr(p.ptr))), p.n)
}

// Wait blocks until the last copy that used p is done.
func (p *Pinned) Wait() error {
	if !p.used {
		return nil
	}
	if err := p.dev.enter(); err != nil {
		return err
	}
	defer p.dev.exit()
	if err := p.dev.d.call("cuEventSynchronize", p.dev.d.cuEventSynchronize, p.ev); err != nil {
		return err
	}
	p.used = false
	return nil
}

// Free waits for p's last copy and releases it.
func (p *Pinned) Free() error {
	if p.ptr == 0 {
		return nil
	}
	if err := p.Wait(); err != nil {
		return err
	}
	if err := p.dev.enter(); err != nil {
		return err
	}
	defer p.dev.exit()
	err := p.dev.d.call("cuMemFreeHost", p.dev.d.cuMemFreeHost, p.ptr)
	p.dev.d.call("cuEventDestroy", p.dev.d.cuEventDestroy, p.ev)
	p.ptr, p.ev = 0, 0
	return err
}

// dense returns the device address of a contiguous tensor of dev.
func (dev *Device) dense(what string, t *tensor.Tensor, dt tensor.DType, n int) (uintptr, error) {
	if t == nil {
		return 0, fmt.Errorf("%w: %s: nil tensor", tensor.ErrShape, what)
	}
	if t.Device() != tensor.Device(dev) {
		return 0, fmt.Errorf("%w: %s: a tensor of %s given to %s", tensor.ErrDevice, what, t.Device().Name(), dev.name)
	}
	if t.DType() != dt {
		return 0, fmt.Errorf("%w: %s: %v tensor and %v pinned memory", tensor.ErrDType, what, t.DType(), dt)
	}
	if t.Len() != n {
		return 0, fmt.Errorf("%w: %s: tensor of %d elements and pinned memory of %d", tensor.ErrShape, what, t.Len(), n)
	}
	if !t.IsContiguous() {
		return 0, fmt.Errorf("%w: %s: the tensor is not contiguous (use Contiguous first)", tensor.ErrShape, what)
	}
	v := t.View()
	return dev.ptr(v)
}

// Upload queues a copy of src into dst (a contiguous tensor of this
// device with src's type and length) and returns at once: src must not be
// changed until src.Wait returns; kernels queued after Upload see the
// data.
func (dev *Device) Upload(dst *tensor.Tensor, src *Pinned) error {
	pd, err := dev.dense("Upload", dst, src.dt, src.n)
	if err != nil {
		return err
	}
	return dev.pinnedCopy(src, func() error {
		return dev.d.call("cuMemcpyHtoDAsync_v2", dev.d.cuMemcpyHtoDAsync, pd, src.ptr, uintptr(src.n*elemSize(src.dt)), dev.stream)
	}, dst)
}

// Download queues a copy of src (a contiguous tensor of this device) into
// dst after the work queued before, and returns at once: dst holds the
// data once dst.Wait returns.
func (dev *Device) Download(dst *Pinned, src *tensor.Tensor) error {
	ps, err := dev.dense("Download", src, dst.dt, dst.n)
	if err != nil {
		return err
	}
	return dev.pinnedCopy(dst, func() error {
		return dev.d.call("cuMemcpyDtoHAsync_v2", dev.d.cuMemcpyDtoHAsync, dst.ptr, ps, uintptr(dst.n*elemSize(dst.dt)), dev.stream)
	}, src)
}

func (dev *Device) pinnedCopy(p *Pinned, cp func() error, t *tensor.Tensor) error {
	if p.ptr == 0 || p.dev != dev {
		return fmt.Errorf("%w: pinned memory freed or of another device", tensor.ErrDevice)
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	if err := cp(); err != nil {
		return err
	}
	if err := dev.d.call("cuEventRecord", dev.d.cuEventRecord, p.ev, dev.stream); err != nil {
		return err
	}
	p.used = true
	runtime.KeepAlive(t)
	return nil
}
