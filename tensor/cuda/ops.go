package cuda

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"unsafe"

	"github.com/kilnml/kiln/tensor"
)

// The tensor.Device operations: each checks its views, merges their
// dimensions where the strides allow (so most views become one or two
// dimensions), and queues Kiln's kernels or cuBLAS on the device's
// stream.

// ptr returns the device address of a view's first element.
func (dev *Device) ptr(v tensor.View) (uintptr, error) {
	b, err := dev.devBuf(v.Buf)
	if err != nil {
		return 0, err
	}
	return b.ptr + uintptr(v.Offset*elemSize(b.dt)), nil
}

func numel(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}

// merge drops size-1 dimensions of shape and merges neighbours that every
// operand walks with one stride. It returns the merged shape and strides
// (row-major; one dimension of size 1 when nothing is left) and the
// element count.
func merge(shape []int, strides ...[]int) ([]int64, [][]int64, int64) {
	n := numel(shape)
	var sh []int64
	st := make([][]int64, len(strides))
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] == 1 {
			continue
		}
		if len(sh) > 0 {
			last := len(sh) - 1
			ok := true
			for k := range strides {
				if int64(strides[k][i]) != st[k][last]*sh[last] {
					ok = false
					break
				}
			}
			if ok {
				sh[last] *= int64(shape[i])
				continue
			}
		}
		sh = append(sh, int64(shape[i]))
		for k := range strides {
			st[k] = append(st[k], int64(strides[k][i]))
		}
	}
	if len(sh) == 0 {
		sh = []int64{1}
		for k := range st {
			st[k] = []int64{1}
		}
	}
	slices.Reverse(sh)
	for k := range st {
		slices.Reverse(st[k])
	}
	return sh, st, n
}

// toLayout packs a merged shape (rank <= maxRank) and up to three
// operands' strides.
func toLayout(sh []int64, st [][]int64) layout {
	var l layout
	l.rank = int64(len(sh))
	copy(l.shape[:], sh)
	for k := range st {
		copy(l.st[k][:], st[k])
	}
	return l
}

// sub returns v with its first axis fixed at i.
func sub(v tensor.View, i int) tensor.View {
	return tensor.View{Buf: v.Buf, DType: v.DType, Shape: v.Shape[1:], Strides: v.Strides[1:], Offset: v.Offset + i*v.Strides[0]}
}

func suffix(dt tensor.DType) string {
	if dt == tensor.Float64 {
		return "_f64"
	}
	return "_f32"
}

func (dev *Device) checkView(what string, v tensor.View) error {
	b, err := dev.devBuf(v.Buf)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if v.DType != b.dt {
		return fmt.Errorf("%w: %s: view of type %v over a %v buffer", tensor.ErrDType, what, v.DType, b.dt)
	}
	if len(v.Strides) != len(v.Shape) {
		return fmt.Errorf("%w: %s: %d strides for shape %v", tensor.ErrShape, what, len(v.Strides), v.Shape)
	}
	if numel(v.Shape) == 0 {
		return nil
	}
	hi := int64(v.Offset)
	for i, d := range v.Shape {
		if v.Strides[i] < 0 {
			return fmt.Errorf("%w: %s: negative stride in %v", tensor.ErrShape, what, v.Strides)
		}
		hi += int64(d-1) * int64(v.Strides[i])
	}
	if v.Offset < 0 || hi >= int64(b.n) {
		return fmt.Errorf("%w: %s: view %v (strides %v, offset %d) reaches past a buffer of %d", tensor.ErrShape, what, v.Shape, v.Strides, v.Offset, b.n)
	}
	return nil
}

// checkViews checks every view (see checkView).
func (dev *Device) checkViews(what string, views ...tensor.View) error {
	for _, v := range views {
		if err := dev.checkView(what, v); err != nil {
			return err
		}
	}
	return nil
}

// checkLike checks the views of an operation whose inputs have dst's
// shape (and, when sameType is set, its element type).
func (dev *Device) checkLike(what string, sameType bool, dst tensor.View, ins ...tensor.View) error {
	if err := dev.checkViews(what, dst); err != nil {
		return err
	}
	if err := dev.checkViews(what, ins...); err != nil {
		return err
	}
	for _, in := range ins {
		if err := sameShape(what, dst.Shape, in.Shape); err != nil {
			return err
		}
		if sameType && in.DType != dst.DType {
			return fmt.Errorf("%w: %s of %v into %v", tensor.ErrDType, what, in.DType, dst.DType)
		}
	}
	return nil
}

func sameShape(what string, a, b []int) error {
	if !slices.Equal(a, b) {
		return fmt.Errorf("%w: %s: shapes %v and %v differ", tensor.ErrShape, what, a, b)
	}
	return nil
}

// Binary sets dst = a op b.
func (dev *Device) Binary(op tensor.BinaryOp, dst, a, b tensor.View) error {
	if err := dev.checkLike("Binary", true, dst, a, b); err != nil {
		return err
	}
	if op > tensor.OpGELUGrad {
		return fmt.Errorf("cuda: Binary: unknown operation %d", op)
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	return dev.binaryLocked(op, dst, a, b)
}

func (dev *Device) binaryLocked(op tensor.BinaryOp, dst, a, b tensor.View) error {
	sh, st, n := merge(dst.Shape, dst.Strides, a.Strides, b.Strides)
	if n == 0 {
		return nil
	}
	if len(sh) > maxRank {
		for i := range dst.Shape[0] {
			if err := dev.binaryLocked(op, sub(dst, i), sub(a, i), sub(b, i)); err != nil {
				return err
			}
		}
		return nil
	}
	pd, _ := dev.ptr(dst)
	pa, _ := dev.ptr(a)
	pb, _ := dev.ptr(b)
	args := &binaryArgs{d: pd, a: pa, b: pb, n: n, op: int64(op), l: toLayout(sh, st)}
	if len(sh) == 1 && st[0][0] == 1 && st[1][0] <= 1 && st[2][0] <= 1 {
		return dev.launch("binary_contig"+suffix(dst.DType), dev.gridFor(n, 4), 256, unsafe.Pointer(args))
	}
	return dev.launch("binary_strided"+suffix(dst.DType), dev.gridFor(n, 1), 256, unsafe.Pointer(args))
}

// Unary sets dst = op(a).
func (dev *Device) Unary(op tensor.UnaryOp, dst, a tensor.View, param float64) error {
	if err := dev.checkLike("Unary", true, dst, a); err != nil {
		return err
	}
	if op > tensor.OpSquare {
		return fmt.Errorf("cuda: Unary: unknown operation %d", op)
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	return dev.unaryLocked(op, dst, a, param)
}

func (dev *Device) unaryLocked(op tensor.UnaryOp, dst, a tensor.View, param float64) error {
	sh, st, n := merge(dst.Shape, dst.Strides, a.Strides)
	if n == 0 {
		return nil
	}
	if len(sh) > maxRank {
		for i := range dst.Shape[0] {
			if err := dev.unaryLocked(op, sub(dst, i), sub(a, i), param); err != nil {
				return err
			}
		}
		return nil
	}
	pd, _ := dev.ptr(dst)
	pa, _ := dev.ptr(a)
	args := &unaryArgs{d: pd, a: pa, n: n, op: int64(op), param: param, l: toLayout(sh, st)}
	if len(sh) == 1 && st[0][0] == 1 && st[1][0] == 1 {
		return dev.launch("unary_contig"+suffix(dst.DType), dev.gridFor(n, 4), 256, unsafe.Pointer(args))
	}
	return dev.launch("unary_strided"+suffix(dst.DType), dev.gridFor(n, 1), 256, unsafe.Pointer(args))
}

// Copy copies src into dst, converting the element type when they differ.
func (dev *Device) Copy(dst, src tensor.View) error {
	if err := dev.checkLike("Copy", false, dst, src); err != nil {
		return err
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	return dev.copyLocked(dst, src)
}

func (dev *Device) copyLocked(dst, src tensor.View) error {
	sh, st, n := merge(dst.Shape, dst.Strides, src.Strides)
	if n == 0 {
		return nil
	}
	if len(sh) > maxRank {
		for i := range dst.Shape[0] {
			if err := dev.copyLocked(sub(dst, i), sub(src, i)); err != nil {
				return err
			}
		}
		return nil
	}
	pd, _ := dev.ptr(dst)
	ps, _ := dev.ptr(src)
	if dst.DType == src.DType && len(sh) == 1 && st[0][0] == 1 && st[1][0] == 1 {
		bytes := n * int64(elemSize(dst.DType))
		return dev.d.call("cuMemcpyDtoDAsync_v2", dev.d.cuMemcpyDtoDAsync, pd, ps, uintptr(bytes), dev.stream)
	}
	name := "copy_f32"
	if dst.DType == tensor.Float64 {
		name = "copy_f64"
	}
	name += suffix(src.DType)[1:]
	args := &copyArgs{d: pd, s: ps, n: n, l: toLayout(sh, st)}
	return dev.launch(name, dev.gridFor(n, 1), 256, unsafe.Pointer(args))
}

// Fill sets every element of dst to v.
func (dev *Device) Fill(dst tensor.View, v float64) error {
	if err := dev.checkView("Fill", dst); err != nil {
		return err
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	return dev.fillLocked(dst, v)
}

func (dev *Device) fillLocked(dst tensor.View, v float64) error {
	sh, st, n := merge(dst.Shape, dst.Strides)
	if n == 0 {
		return nil
	}
	if len(sh) > maxRank {
		for i := range dst.Shape[0] {
			if err := dev.fillLocked(sub(dst, i), v); err != nil {
				return err
			}
		}
		return nil
	}
	pd, _ := dev.ptr(dst)
	if dst.DType == tensor.Float32 && len(sh) == 1 && st[0][0] == 1 {
		return dev.memset32(pd, math.Float32bits(float32(v)), n)
	}
	args := &fillArgs{d: pd, n: n, v: v, l: toLayout(sh, st)}
	return dev.launch("fill"+suffix(dst.DType), dev.gridFor(n, 1), 256, unsafe.Pointer(args))
}

// contigLocked returns a dense copy of v in a new buffer (or v itself
// when it is dense).
func (dev *Device) contigLocked(v tensor.View) (tensor.View, error) {
	if isDense(v) {
		return v, nil
	}
	b, err := dev.allocLocked(v.DType, int(numel(v.Shape)), false)
	if err != nil {
		return tensor.View{}, err
	}
	out := tensor.View{Buf: b, DType: v.DType, Shape: v.Shape, Strides: denseStrides(v.Shape)}
	return out, dev.copyLocked(out, v)
}

func denseStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	return st
}

func isDense(v tensor.View) bool {
	s := 1
	for i := len(v.Shape) - 1; i >= 0; i-- {
		if v.Shape[i] != 1 && v.Strides[i] != s {
			return false
		}
		s *= v.Shape[i]
	}
	return true
}

// Gemm computes C = act(alpha·A·B + beta·C + bias) for every batch index
// with cuBLAS (row-major C is computed as the column-major product
// Cᵀ = Bᵀ·Aᵀ, so no operand is copied unless its strides fit neither
// orientation).
func (dev *Device) Gemm(c, a, b tensor.View, args tensor.GemmArgs) error {
	if err := dev.checkViews("Gemm", c, a, b); err != nil {
		return err
	}
	for _, v := range []tensor.View{c, a, b} {
		if len(v.Shape) != 3 {
			return fmt.Errorf("%w: Gemm wants rank-3 views, got %v", tensor.ErrShape, v.Shape)
		}
	}
	if a.DType != c.DType || b.DType != c.DType {
		return fmt.Errorf("%w: Gemm of %v and %v into %v", tensor.ErrDType, a.DType, b.DType, c.DType)
	}
	batch, m, k, n := c.Shape[0], c.Shape[1], a.Shape[2], c.Shape[2]
	if a.Shape[0] != batch || b.Shape[0] != batch || a.Shape[1] != m || b.Shape[1] != k || b.Shape[2] != n {
		return fmt.Errorf("%w: Gemm of %v and %v into %v", tensor.ErrShape, a.Shape, b.Shape, c.Shape)
	}
	if args.Bias.Buf != nil {
		if err := dev.checkView("Gemm bias", args.Bias); err != nil {
			return err
		}
		if len(args.Bias.Shape) != 1 || args.Bias.Shape[0] != n || args.Bias.DType != c.DType {
			return fmt.Errorf("%w: Gemm bias %v %v for %d columns of %v", tensor.ErrShape, args.Bias.Shape, args.Bias.DType, n, c.DType)
		}
	}
	for _, d := range []int{batch, m, n, k} {
		if d > math.MaxInt32 {
			return fmt.Errorf("%w: Gemm dimension %d exceeds cuBLAS's 32-bit sizes", tensor.ErrShape, d)
		}
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	return dev.gemmLocked(c, a, b, args)
}

// blasOperand describes a row-major matrix operand X (r×c, strides sr,
// sc) for cuBLAS: trans tells whether the column-major matrix at its
// address must be transposed to give Xᵀ, ld is its leading dimension.
func blasOperand(r, c, sr, sc int) (trans uintptr, ld int, ok bool) {
	if c == 1 {
		sc = 1
	}
	if r == 1 {
		sr = max(c, 1)
	}
	switch {
	case sc == 1 && sr >= max(c, 1):
		return cublasOpN, sr, true
	case sr == 1 && sc >= max(r, 1):
		return cublasOpT, sc, true
	}
	return 0, 0, false
}

func (dev *Device) gemmLocked(c, a, b tensor.View, args tensor.GemmArgs) error {
	batch, m, k, n := c.Shape[0], c.Shape[1], a.Shape[2], c.Shape[2]
	if batch == 0 || m == 0 || n == 0 {
		return nil
	}
	ta, lda, okA := blasOperand(m, k, a.Strides[1], a.Strides[2])
	if !okA || (batch > 1 && a.Strides[0] < 0) {
		var err error
		if a, err = dev.contigLocked(a); err != nil {
			return err
		}
		ta, lda, _ = blasOperand(m, k, a.Strides[1], a.Strides[2])
	}
	tb, ldb, okB := blasOperand(k, n, b.Strides[1], b.Strides[2])
	if !okB {
		var err error
		if b, err = dev.contigLocked(b); err != nil {
			return err
		}
		tb, ldb, _ = blasOperand(k, n, b.Strides[1], b.Strides[2])
	}
	// C must be row-major with unit column stride for cuBLAS; otherwise
	// compute into a dense temporary.
	out := c
	cst1, cst2 := c.Strides[1], c.Strides[2]
	if n == 1 {
		cst2 = 1
	}
	if m == 1 {
		cst1 = n
	}
	direct := cst2 == 1 && cst1 >= n && (batch == 1 || c.Strides[0] >= m*cst1 || m == 1 && c.Strides[0] >= n)
	if !direct {
		tmp, err := dev.allocLocked(c.DType, batch*m*n, false)
		if err != nil {
			return err
		}
		out = tensor.View{Buf: tmp, DType: c.DType, Shape: c.Shape, Strides: denseStrides(c.Shape)}
		if args.Beta != 0 {
			if err := dev.copyLocked(out, c); err != nil {
				return err
			}
		}
		cst1 = n
	}
	pa, _ := dev.ptr(a)
	pb, _ := dev.ptr(b)
	pc, _ := dev.ptr(out)
	sa, sb, scb := a.Strides[0], b.Strides[0], out.Strides[0]
	if batch == 1 {
		sa, sb, scb = 0, 0, m*cst1
	}
	// Column-major: C'(n×m) = op(B')·op(A') with B' the memory of B and A'
	// that of A.
	var err error
	if c.DType == tensor.Float64 {
		dev.sc.alpha64, dev.sc.beta64 = args.Alpha, args.Beta
		alpha, beta := uintptr(unsafe.Pointer(&dev.sc.alpha64)), uintptr(unsafe.Pointer(&dev.sc.beta64))
		if batch == 1 {
			err = dev.bl.call("cublasDgemm_v2", dev.bl.dgemm, dev.handle, tb, ta, uintptr(n), uintptr(m), uintptr(k),
				alpha, pb, uintptr(ldb), pa, uintptr(lda), beta, pc, uintptr(cst1))
		} else {
			err = dev.bl.call("cublasDgemmStridedBatched", dev.bl.dgemmStrided, dev.handle, tb, ta, uintptr(n), uintptr(m), uintptr(k),
				alpha, pb, uintptr(ldb), uintptr(sb), pa, uintptr(lda), uintptr(sa), beta, pc, uintptr(cst1), uintptr(scb), uintptr(batch))
		}
	} else {
		dev.sc.alpha32, dev.sc.beta32 = float32(args.Alpha), float32(args.Beta)
		alpha, beta := uintptr(unsafe.Pointer(&dev.sc.alpha32)), uintptr(unsafe.Pointer(&dev.sc.beta32))
		if batch == 1 {
			err = dev.bl.call("cublasSgemm_v2", dev.bl.sgemm, dev.handle, tb, ta, uintptr(n), uintptr(m), uintptr(k),
				alpha, pb, uintptr(ldb), pa, uintptr(lda), beta, pc, uintptr(cst1))
		} else {
			err = dev.bl.call("cublasSgemmStridedBatched", dev.bl.sgemmStrided, dev.handle, tb, ta, uintptr(n), uintptr(m), uintptr(k),
				alpha, pb, uintptr(ldb), uintptr(sb), pa, uintptr(lda), uintptr(sa), beta, pc, uintptr(cst1), uintptr(scb), uintptr(batch))
		}
	}
	if err != nil {
		return fmt.Errorf("Gemm %d×(%d×%d · %d×%d) on %s: %w", batch, m, k, k, n, dev.name, err)
	}
	if args.Bias.Buf != nil || args.Act != tensor.ActNone {
		ba := &biasActArgs{c: pc, batch: int64(batch), m: int64(m), n: int64(n), cb: int64(scb), cr: int64(cst1), cc: 1, act: int64(args.Act)}
		if args.Bias.Buf != nil {
			ba.bias, _ = dev.ptr(args.Bias)
			ba.bst, ba.hasBias = int64(args.Bias.Strides[0]), 1
		}
		total := int64(batch) * int64(m) * int64(n)
		if err := dev.launch("bias_act"+suffix(c.DType), dev.gridFor(total, 1), 256, unsafe.Pointer(ba)); err != nil {
			return err
		}
	}
	if !direct {
		return dev.copyLocked(c, out)
	}
	return nil
}

// Reduce reduces src along the axes where dst has size 1 and src does not.
func (dev *Device) Reduce(op tensor.ReduceOp, dst, src tensor.View, param float64) error {
	if err := dev.checkViews("Reduce", dst, src); err != nil {
		return err
	}
	if len(dst.Shape) != len(src.Shape) {
		return fmt.Errorf("%w: Reduce of %v into %v", tensor.ErrShape, src.Shape, dst.Shape)
	}
	if op > tensor.ReduceVar {
		return fmt.Errorf("cuda: Reduce: unknown operation %d", op)
	}
	if op != tensor.ReduceArgMax && dst.DType != src.DType {
		return fmt.Errorf("%w: Reduce of %v into %v", tensor.ErrDType, src.DType, dst.DType)
	}
	var kShape, kS, kD, rShape, rS []int
	for i := range src.Shape {
		switch {
		case dst.Shape[i] == src.Shape[i]:
			kShape = append(kShape, src.Shape[i])
			kS = append(kS, src.Strides[i])
			kD = append(kD, dst.Strides[i])
		case dst.Shape[i] == 1:
			rShape = append(rShape, src.Shape[i])
			rS = append(rS, src.Strides[i])
		default:
			return fmt.Errorf("%w: Reduce of %v into %v", tensor.ErrShape, src.Shape, dst.Shape)
		}
	}
	ksh, kst, nout := merge(kShape, kS, kD)
	rsh, rst, nred := merge(rShape, rS)
	if nout == 0 {
		return nil
	}
	if nred == 0 || len(ksh) > maxRank || len(rsh) > maxRank {
		return dev.viaHost([]tensor.View{src}, dst, func(cpu tensor.Device, in []tensor.View, out tensor.View) error {
			return cpu.Reduce(op, out, in[0], param)
		})
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	pd, _ := dev.ptr(dst)
	ps, _ := dev.ptr(src)
	a := &reduceArgs{d: pd, s: ps, nout: nout, nred: nred, op: int64(op), param: param, krank: int64(len(ksh)), rrank: int64(len(rsh))}
	if dst.DType == tensor.Float64 {
		a.dstF64 = 1
	}
	if nout == 1 && len(kShape) == 0 {
		a.krank = 0
	} else {
		copy(a.kshape[:], ksh)
		copy(a.kstS[:], kst[0])
		copy(a.kstD[:], kst[1])
	}
	copy(a.rshape[:], rsh)
	copy(a.rst[:], rst[0])
	// One thread per output when outputs are many and each is short or
	// they sit side by side in src (column sums); else a block per output.
	if nred <= 16 && nout >= 4096 || a.krank > 0 && a.kstS[a.krank-1] == 1 && nout >= 1<<17 && nred <= 4096 {
		return dev.launch("reduce_thread"+suffix(src.DType), dev.gridFor(nout, 1), 256, unsafe.Pointer(a))
	}
	return dev.launch("reduce_block"+suffix(src.DType), int(min(nout, int64(dev.info.Multiprocessors)*64)), 256, unsafe.Pointer(a))
}

// Softmax sets dst to the (log-)softmax of src along axis.
func (dev *Device) Softmax(dst, src tensor.View, axis int, log bool) error {
	if err := dev.checkLike("Softmax", true, dst, src); err != nil {
		return err
	}
	if axis < 0 || axis >= len(src.Shape) {
		return fmt.Errorf("%w: Softmax axis %d of %v", tensor.ErrShape, axis, src.Shape)
	}
	if numel(src.Shape) == 0 {
		return nil
	}
	var rShape, rS, rD []int
	for i := range src.Shape {
		if i != axis {
			rShape = append(rShape, src.Shape[i])
			rS = append(rS, src.Strides[i])
			rD = append(rD, dst.Strides[i])
		}
	}
	rsh, rst, nrows := merge(rShape, rS, rD)
	if len(rsh) > maxRank {
		return dev.viaHost([]tensor.View{src}, dst, func(cpu tensor.Device, in []tensor.View, out tensor.View) error {
			return cpu.Softmax(out, in[0], axis, log)
		})
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	pd, _ := dev.ptr(dst)
	ps, _ := dev.ptr(src)
	a := &softmaxArgs{d: pd, s: ps, nrows: nrows, length: int64(src.Shape[axis]),
		sAxis: int64(src.Strides[axis]), dAxis: int64(dst.Strides[axis]), rrank: int64(len(rsh))}
	if log {
		a.log = 1
	}
	copy(a.rshape[:], rsh)
	copy(a.rstS[:], rst[0])
	copy(a.rstD[:], rst[1])
	return dev.launch("softmax"+suffix(src.DType), int(min(nrows, int64(dev.info.Multiprocessors)*64)), 256, unsafe.Pointer(a))
}

// uploadInt32Locked copies host int32 values to scratch device memory.
func (dev *Device) uploadInt32Locked(vals []int32) (*buffer, error) {
	b, err := dev.allocBytes(4 * max(len(vals), 1))
	if err != nil {
		return nil, err
	}
	if len(vals) > 0 {
		if err := dev.uploadLocked(b.ptr, unsafe.Pointer(&vals[0]), 4*len(vals)); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// rest returns the layout of the trailing axes (all but the first) of
// two views of one trailing shape.
func rest(a, b tensor.View) ([]int64, [][]int64, int64) {
	return merge(a.Shape[1:], a.Strides[1:], b.Strides[1:])
}

// checkIndexed checks the views of Gather and ScatterAdd: rows has one
// row per index, table the rows the indices pick, with rows' trailing
// shape and type.
func (dev *Device) checkIndexed(what string, rows, table tensor.View, idx []int32) error {
	if err := dev.checkViews(what, rows, table); err != nil {
		return err
	}
	if len(rows.Shape) == 0 || len(table.Shape) != len(rows.Shape) || rows.Shape[0] != len(idx) || !slices.Equal(rows.Shape[1:], table.Shape[1:]) {
		return fmt.Errorf("%w: %s with %d indices between %v and %v", tensor.ErrShape, what, len(idx), rows.Shape, table.Shape)
	}
	if rows.DType != table.DType {
		return fmt.Errorf("%w: %s between %v and %v", tensor.ErrDType, what, rows.DType, table.DType)
	}
	for i, x := range idx {
		if x < 0 || int(x) >= table.Shape[0] {
			return fmt.Errorf("%w: %s index %d at %d, for %d rows", tensor.ErrIndex, what, x, i, table.Shape[0])
		}
	}
	return nil
}

// Gather sets dst[i, ...] = table[idx[i], ...].
func (dev *Device) Gather(dst, table tensor.View, idx []int32) error {
	if err := dev.checkIndexed("Gather", dst, table, idx); err != nil {
		return err
	}
	sh, st, inner := rest(dst, table)
	if inner == 0 || len(idx) == 0 {
		return nil
	}
	if len(sh) > maxRank {
		return dev.viaHost([]tensor.View{table}, dst, func(cpu tensor.Device, in []tensor.View, out tensor.View) error {
			return cpu.Gather(out, in[0], idx)
		})
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	ib, err := dev.uploadInt32Locked(idx)
	if err != nil {
		return err
	}
	pd, _ := dev.ptr(dst)
	pt, _ := dev.ptr(table)
	a := &gatherArgs{d: pd, t: pt, idx: ib.ptr, nidx: int64(len(idx)), inner: inner,
		d0: int64(dst.Strides[0]), t0: int64(table.Strides[0]), l: toLayout(sh, st)}
	err = dev.launch("gather"+suffix(dst.DType), dev.gridFor(int64(len(idx))*inner, 1), 256, unsafe.Pointer(a))
	keep(ib)
	return err
}

// keep marks a scratch buffer as used up to here: its block must not
// return to the cache before the kernels that read it are queued (blocks
// are then reused only by later work on the same stream).
//
//go:noinline
func keep(b *buffer) { _ = b }

// ScatterAdd adds src[i, ...] into dst[idx[i], ...] in increasing i. The
// rows are grouped by destination on the host (a stable counting sort),
// and a thread per destination element adds its group in order, so the
// sums are those of the sequential loop.
func (dev *Device) ScatterAdd(dst tensor.View, idx []int32, src tensor.View) error {
	if err := dev.checkIndexed("ScatterAdd", src, dst, idx); err != nil {
		return err
	}
	sh, st, inner := rest(dst, src)
	if inner == 0 || len(idx) == 0 {
		return nil
	}
	if len(sh) > maxRank {
		return dev.viaHost([]tensor.View{src}, dst, func(cpu tensor.Device, in []tensor.View, out tensor.View) error {
			return cpu.ScatterAdd(out, idx, in[0])
		})
	}
	dest, start, rows := groupRows(idx)
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	all := make([]int32, 0, len(dest)+len(start)+len(rows))
	all = append(append(append(all, dest...), start...), rows...)
	ib, err := dev.uploadInt32Locked(all)
	if err != nil {
		return err
	}
	pd, _ := dev.ptr(dst)
	ps, _ := dev.ptr(src)
	a := &scatterArgs{d: pd, s: ps, dest: ib.ptr, start: ib.ptr + uintptr(4*len(dest)), rows: ib.ptr + uintptr(4*(len(dest)+len(start))),
		nuniq: int64(len(dest)), inner: inner, d0: int64(dst.Strides[0]), s0: int64(src.Strides[0]), l: toLayout(sh, st)}
	err = dev.launch("scatter_add"+suffix(dst.DType), dev.gridFor(int64(len(dest))*inner, 1), 256, unsafe.Pointer(a))
	keep(ib)
	return err
}

// groupRows groups the positions of idx by value: dest lists the distinct
// values in increasing order, and group u's positions, increasing, are
// rows[start[u]:start[u+1]].
func groupRows(idx []int32) (dest, start, rows []int32) {
	order := make([]int32, len(idx))
	for i := range order {
		order[i] = int32(i)
	}
	sort.SliceStable(order, func(x, y int) bool { return idx[order[x]] < idx[order[y]] })
	for k, i := range order {
		if k == 0 || idx[i] != idx[order[k-1]] {
			dest = append(dest, idx[i])
			start = append(start, int32(k))
		}
	}
	start = append(start, int32(len(order)))
	return dest, start, order
}

// RandomFill fills dst with the numbers of args. The stream is generated
// by the CPU's implementation (bit-identical by construction) and
// uploaded.
func (dev *Device) RandomFill(dst tensor.View, args tensor.RandomArgs) error {
	if err := dev.checkView("RandomFill", dst); err != nil {
		return err
	}
	return dev.viaHost(nil, dst, func(cpu tensor.Device, _ []tensor.View, out tensor.View) error {
		return cpu.RandomFill(out, args)
	})
}

// viaHost runs fn on the CPU over dense host copies of the views ins and
// out, then copies out back: for the rare layouts the kernels do not take
// (more than eight unmergeable axes, empty reductions) and for random
// streams.
func (dev *Device) viaHost(ins []tensor.View, out tensor.View, fn func(cpu tensor.Device, in []tensor.View, out tensor.View) error) error {
	cpu := tensor.CPU()
	down := func(v tensor.View) (tensor.View, error) {
		n := int(numel(v.Shape))
		if err := dev.enter(); err != nil {
			return tensor.View{}, err
		}
		dv, err := dev.contigLocked(v)
		dev.exit()
		if err != nil {
			return tensor.View{}, err
		}
		hb, err := cpu.Alloc(v.DType, n)
		if err != nil {
			return tensor.View{}, err
		}
		hv := tensor.View{Buf: hb, DType: v.DType, Shape: v.Shape, Strides: denseStrides(v.Shape)}
		if n == 0 {
			return hv, nil
		}
		h := hostAlloc(v.DType, n)
		if err := dev.CopyToHost(h, dv.Buf, dv.Offset); err != nil {
			return tensor.View{}, err
		}
		return hv, cpu.CopyFromHost(hb, 0, h)
	}
	hin := make([]tensor.View, len(ins))
	for i, v := range ins {
		var err error
		if hin[i], err = down(v); err != nil {
			return err
		}
	}
	hout, err := down(out)
	if err != nil {
		return err
	}
	if err := fn(cpu, hin, hout); err != nil {
		return err
	}
	n := int(numel(out.Shape))
	if n == 0 {
		return nil
	}
	h := hostAlloc(out.DType, n)
	if err := cpu.CopyToHost(h, hout.Buf, 0); err != nil {
		return err
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	tb, err := dev.allocLocked(out.DType, n, false)
	if err != nil {
		return err
	}
	p, _, _, _ := hostSlice(h)
	if err := dev.uploadLocked(tb.ptr, p, n*elemSize(out.DType)); err != nil {
		return err
	}
	return dev.copyLocked(out, tensor.View{Buf: tb, DType: out.DType, Shape: out.Shape, Strides: denseStrides(out.Shape)})
}

func hostAlloc(dt tensor.DType, n int) any {
	if dt == tensor.Float64 {
		return make([]float64, n)
	}
	return make([]float32, n)
}

// AdamUpdate applies one fused Adam or AdamW step (one kernel).
func (dev *Device) AdamUpdate(p, g, m, v, vmax tensor.View, a tensor.AdamArgs) error {
	views := []tensor.View{p, g, m, v}
	if a.AMSGrad {
		views = append(views, vmax)
	}
	if err := dev.checkFused("AdamUpdate", views); err != nil {
		return err
	}
	if a.Step < 1 {
		return fmt.Errorf("cuda: AdamUpdate: step %d, want >= 1", a.Step)
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	n := numel(p.Shape)
	if n == 0 {
		return nil
	}
	t := float64(a.Step)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2 := 1 - math.Pow(a.Beta2, t)
	args := &adamArgs{n: n, lr: a.LR, beta1: a.Beta1, beta2: a.Beta2, eps: a.Eps, wd: a.WeightDecay,
		bc2sqrt: math.Sqrt(bc2), stepSize: a.LR / bc1}
	args.p, _ = dev.ptr(p)
	args.g, _ = dev.ptr(g)
	args.m, _ = dev.ptr(m)
	args.v, _ = dev.ptr(v)
	if a.AMSGrad {
		args.vmax, _ = dev.ptr(vmax)
		args.amsgrad = 1
	}
	if a.Decoupled {
		args.decoupled = 1
	}
	return dev.launch("adam_f32", dev.gridFor(n, 4), 256, unsafe.Pointer(args))
}

// SGDUpdate applies one fused SGD step (one kernel).
func (dev *Device) SGDUpdate(p, g, buf tensor.View, a tensor.SGDArgs) error {
	views := []tensor.View{p, g}
	if a.Momentum != 0 {
		views = append(views, buf)
	}
	if err := dev.checkFused("SGDUpdate", views); err != nil {
		return err
	}
	if err := dev.enter(); err != nil {
		return err
	}
	defer dev.exit()
	n := numel(p.Shape)
	if n == 0 {
		return nil
	}
	args := &sgdArgs{n: n, lr: a.LR, momentum: a.Momentum, dampening: a.Dampening, wd: a.WeightDecay}
	args.p, _ = dev.ptr(p)
	args.g, _ = dev.ptr(g)
	if a.Momentum != 0 {
		args.buf, _ = dev.ptr(buf)
	}
	if a.Nesterov {
		args.nesterov = 1
	}
	if a.First {
		args.first = 1
	}
	return dev.launch("sgd_f32", dev.gridFor(n, 4), 256, unsafe.Pointer(args))
}

// checkFused checks the views of a fused update: dense float32 views of
// one shape on this device.
func (dev *Device) checkFused(what string, views []tensor.View) error {
	for _, v := range views {
		if err := dev.checkView(what, v); err != nil {
			return err
		}
		if v.DType != tensor.Float32 {
			return fmt.Errorf("%w: %s of %v, want float32", tensor.ErrDType, what, v.DType)
		}
		if err := sameShape(what, views[0].Shape, v.Shape); err != nil {
			return err
		}
		if !isDense(v) {
			return fmt.Errorf("%w: %s of a non-contiguous view (strides %v)", tensor.ErrShape, what, v.Strides)
		}
	}
	return nil
}

var (
	_ tensor.Device          = (*Device)(nil)
	_ tensor.OptimizerDevice = (*Device)(nil)
)
