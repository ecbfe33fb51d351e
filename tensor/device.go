package tensor

// A Device owns memory and runs the kernels of the operations on tensors
// stored in it. [CPU] is the default; other devices (tensor/cuda)
// implement this interface outside the package.
//
// The package validates every call before it reaches a device: the views
// a kernel receives have the shapes, element types and device the method
// documents, and all buffers belong to the device. A device may still
// return an error (out of memory, a failed launch). A device may run its
// kernels asynchronously; CopyToHost and Synchronize wait for them.
//
// Views handed to kernels may overlap only where documented (dst may be
// the same view as an input of Binary, Unary and Copy); broadcast inputs
// have stride 0 along the broadcast axes.
type Device interface {
	// Name identifies the device in errors and logs ("cpu", "cuda:0").
	Name() string
	// Alloc returns a zeroed buffer of n elements of type dt.
	Alloc(dt DType, n int) (Buffer, error)
	// CopyFromHost copies src ([]float32 or []float64, of dst's type) into
	// dst starting at element offset.
	CopyFromHost(dst Buffer, offset int, src any) error
	// CopyToHost copies len(dst) elements of src starting at element
	// offset into dst ([]float32 or []float64, of src's type).
	CopyToHost(dst any, src Buffer, offset int) error
	// Synchronize waits until all work queued on the device is done.
	Synchronize() error

	// Copy copies src into dst (same shape), converting the element type
	// when they differ.
	Copy(dst, src View) error
	// Fill sets every element of dst to v.
	Fill(dst View, v float64) error
	// Gemm computes, for every batch index, C = act(alpha·A·B + beta·C +
	// bias) where A, B and C are rank-3 views [batch, m, k], [batch, k,
	// n] and [batch, m, n] of one dtype. A and B may have any strides
	// (a transposed matrix has its last two strides swapped; a shared
	// matrix has batch stride 0); C's strides are positive and its
	// matrices do not overlap. When beta is 0, C is not read.
	Gemm(c, a, b View, args GemmArgs) error
	// Binary sets dst = a op b elementwise; the three views have one
	// shape and one dtype.
	Binary(op BinaryOp, dst, a, b View) error
	// Unary sets dst = op(a) elementwise; param is the exponent of
	// PowScalar.
	Unary(op UnaryOp, dst, a View, param float64) error
	// Reduce reduces src along the axes where dst has size 1 and src does
	// not; dst has src's rank. For ReduceVar, param is the delta degrees
	// of freedom (the divisor is n-param). For ReduceArgMax, dst holds the
	// index along the single reduced axis (src and dst may then differ in
	// dtype).
	Reduce(op ReduceOp, dst, src View, param float64) error
	// Softmax sets dst to the softmax of src along axis (log-softmax when
	// log is true); dst and src have one shape.
	Softmax(dst, src View, axis int, log bool) error
	// Gather sets dst[i, ...] = table[idx[i], ...]; every index is in
	// range.
	Gather(dst, table View, idx []int32) error
	// ScatterAdd adds src[i, ...] into dst[idx[i], ...] for i in
	// increasing order (so repeated indices sum deterministically); every
	// index is in range.
	ScatterAdd(dst View, idx []int32, src View) error
	// RandomFill fills dst, in logical (row-major) order, with the numbers
	// described by args; see [RandomArgs] for the exact stream every
	// device must produce.
	RandomFill(dst View, args RandomArgs) error
}

// A Buffer is a device's storage of elements of one type.
type Buffer interface {
	// Device returns the device that owns the buffer.
	Device() Device
	// DType returns the element type.
	DType() DType
	// Len returns the number of elements.
	Len() int
}

// A View is the part of a buffer a tensor sees: element (i0, i1, …) is at
// Offset + Σ ik·Strides[k] (in elements). Strides may be 0 (broadcast);
// views built by the package never have negative strides.
type View struct {
	Buf     Buffer
	DType   DType
	Shape   []int
	Strides []int
	Offset  int
}

// GemmArgs are the scalars and epilogue of [Device.Gemm].
type GemmArgs struct {
	Alpha, Beta float64
	// Bias, when its Buf is not nil, is a rank-1 view of n values added to
	// every row of C.
	Bias View
	// Act is applied last.
	Act Activation
}

// Activation is an activation function fused into [Gemm].
type Activation uint8

const (
	// ActNone applies nothing.
	ActNone Activation = iota
	// ActReLU is max(x, 0).
	ActReLU
	// ActGELU is the tanh approximation of GELU.
	ActGELU
	// ActSigmoid is 1/(1+e^-x).
	ActSigmoid
	// ActTanh is tanh(x).
	ActTanh
)

// BinaryOp is an elementwise binary operation.
type BinaryOp uint8

// The binary operations. Maximum and Minimum return NaN when either
// operand is NaN.
//
// The Grad operations are the backward passes of activations, for
// automatic differentiation: with dy the gradient of the activation's
// output, they return the gradient of its input.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
	OpMaximum
	OpMinimum
	OpPow
	// OpReLUGrad(dy, y) is dy where y > 0 and 0 elsewhere (y is ReLU's
	// output, or its input).
	OpReLUGrad
	// OpSigmoidGrad(dy, y) is dy·y·(1-y), y being Sigmoid's output.
	OpSigmoidGrad
	// OpTanhGrad(dy, y) is dy·(1-y²), y being Tanh's output.
	OpTanhGrad
	// OpGELUGrad(dy, x) is dy·GELU'(x) for the tanh approximation, x being
	// GELU's input.
	OpGELUGrad
)

// UnaryOp is an elementwise unary operation.
type UnaryOp uint8

// The unary operations. OpPowScalar raises to the power given as the
// parameter; OpGELU is the tanh approximation.
const (
	OpNeg UnaryOp = iota
	OpExp
	OpLog
	OpTanh
	OpSigmoid
	OpReLU
	OpGELU
	OpSqrt
	OpAbs
	OpPowScalar
	OpSquare
)

// ReduceOp is a reduction along axes.
type ReduceOp uint8

// The reductions. ReduceMax and ReduceMin return NaN when a value is NaN;
// ReduceArgMax returns the index of the first largest value (of the first
// NaN if any).
const (
	ReduceSum ReduceOp = iota
	ReduceMean
	ReduceMax
	ReduceMin
	ReduceArgMax
	ReduceLogSumExp
	ReduceVar
)

// Distribution is the law of a random fill.
type Distribution uint8

const (
	// Uniform draws from [A, B).
	Uniform Distribution = iota
	// Normal draws from the normal law of mean A and standard deviation B.
	Normal
)

// RandomArgs describe a random fill. The numbers are a function of Seed,
// Counter and the element's position only, so every device and every
// number of threads produces the same values:
//
// Philox4x32-10 with key (Seed low 32 bits, Seed high 32 bits) maps a
// counter block (c low, c high, attempt, 0) to four 32-bit words.
//
//   - Uniform float32: element i takes word i%4 of block Counter+i/4 with
//     attempt 0; u = (w>>8)·2⁻²⁴ and the value is float32(A) +
//     float32(float32(B-A)·u), each operation rounded to float32.
//   - Uniform float64: element i takes words 2(i%2) and 2(i%2)+1 of block
//     Counter+i/2; u = ((w0<<32 | w1)>>11)·2⁻⁵³ and the value is
//     A + (B-A)·u in float64, each operation rounded.
//   - Normal: elements 2j and 2j+1 come from block Counter+j by
//     Marsaglia's polar method: for attempt 0, 1, …, each block gives two
//     candidates (v1, v2) = (2u(w0)-1, 2u(w1)-1) and then (w2, w3), with
//     u(w) = (w+0.5)·2⁻³²; the first with 0 < s = v1²+v2² < 1 gives
//     z = v·sqrt(-2·ln(s)/s), every operation rounded to float64, ln the
//     portable fdlibm algorithm. The value is A + B·z in float64, then
//     rounded to the tensor's type.
//
// A fill of n elements uses ceil(n/4) blocks (Uniform float32) or
// ceil(n/2) blocks (otherwise): the [RNG] advances its counter by that.
type RandomArgs struct {
	Dist    Distribution
	A, B    float64
	Seed    uint64
	Counter uint64
}

// An OptimizerDevice is a [Device] with fused optimizer updates: one
// kernel per parameter instead of a dozen elementwise operations. Package
// train uses them when the parameters' device implements this interface
// (the CPU and tensor/cuda do) and composes elementwise operations
// otherwise; see [FusedAdam] and [FusedSGD].
//
// The views are contiguous float32 views of one shape on the device; the
// update is computed in float32 in the order documented on [AdamArgs] and
// [SGDArgs], each operation rounded, so every device gives the bits of
// the composed operations.
type OptimizerDevice interface {
	Device
	// AdamUpdate applies one Adam or AdamW step to p, m, v (and vmax with
	// AMSGrad; vmax.Buf is nil otherwise) from the gradient g.
	AdamUpdate(p, g, m, v, vmax View, a AdamArgs) error
	// SGDUpdate applies one SGD step to p (and the momentum buffer buf;
	// buf.Buf is nil when Momentum is 0) from the gradient g.
	SGDUpdate(p, g, buf View, a SGDArgs) error
}

// AdamArgs are the scalars of a fused Adam step. With t = Step (the
// parameter's 1-based update count), bc1 = 1-β1^t and bc2 = 1-β2^t, in
// float32 with the constants rounded once:
//
//	p = p·(1 - LR·WeightDecay)             (Decoupled, WeightDecay ≠ 0)
//	g = g + p·WeightDecay                  (not Decoupled, WeightDecay ≠ 0)
//	m = m·β1 + g·(1-β1)
//	v = v·β2 + (g·g)·(1-β2)
//	vmax = max(vmax, v), s = vmax          (AMSGrad; else s = v)
//	p = p - (m / (sqrt(s)/sqrt(bc2) + Eps))·(LR/bc1)
type AdamArgs struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	Decoupled, AMSGrad                 bool
	Step                               int
}

// SGDArgs are the scalars of a fused SGD step, in float32 with the
// constants rounded once:
//
//	g = g + p·WeightDecay                   (WeightDecay ≠ 0)
//	buf = g (First), else buf·Momentum + g·(1-Dampening)   (Momentum ≠ 0)
//	d = g + buf·Momentum (Nesterov), else buf               (Momentum ≠ 0; else d = g)
//	p = p - d·LR
type SGDArgs struct {
	LR, Momentum, Dampening, WeightDecay float64
	Nesterov, First                      bool
}
