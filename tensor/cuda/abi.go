package cuda

// The arguments of Kiln's kernels (kernels/abi.cuh): every kernel takes
// one struct by value whose fields are all 8 bytes wide, so the Go and C
// layouts agree without padding rules. Pointers include the view's
// element offset; strides and sizes count elements.

const maxRank = 8

// layout is a strided index space over up to three operands (0: the
// destination, 1 and 2: the inputs).
type layout struct {
	rank  int64
	shape [maxRank]int64
	st    [3][maxRank]int64
}

type binaryArgs struct {
	d, a, b uintptr
	n, op   int64
	_       int64
	l       layout
}

type unaryArgs struct {
	d, a  uintptr
	n, op int64
	param float64
	_     int64
	l     layout
}

type copyArgs struct {
	d, s uintptr
	n    int64
	_    int64
	l    layout
}

type fillArgs struct {
	d uintptr
	n int64
	v float64
	_ int64
	l layout
}

type reduceArgs struct {
	d, s               uintptr
	nout, nred, op     int64
	param              float64
	dstF64             int64
	krank              int64
	kshape, kstS, kstD [maxRank]int64
	rrank              int64
	rshape, rst        [maxRank]int64
}

type softmaxArgs struct {
	d, s               uintptr
	nrows, length      int64
	sAxis, dAxis, log  int64
	_                  int64
	rrank              int64
	rshape, rstS, rstD [maxRank]int64
}

type gatherArgs struct {
	d, t, idx           uintptr
	nidx, inner, d0, t0 int64
	_                   int64
	l                   layout
}

type scatterArgs struct {
	d, s, dest, start, rows uintptr
	nuniq, inner, d0, s0    int64
	_                       int64
	l                       layout
}

type biasActArgs struct {
	c, bias         uintptr
	batch, m, n     int64
	cb, cr, cc, bst int64
	act, hasBias    int64
	_               int64
}

type adamArgs struct {
	p, g, m, v, vmax                             uintptr
	n                                            int64
	lr, beta1, beta2, eps, wd, bc2sqrt, stepSize float64
	decoupled, amsgrad                           int64
	_                                            int64
}

type sgdArgs struct {
	p, g, buf                   uintptr
	n                           int64
	lr, momentum, dampening, wd float64
	nesterov, first             int64
}

// kernelNames lists every kernel the package launches; Open looks each up
// in the embedded PTX, and a test checks the PTX defines them all.
var kernelNames = []string{
	"binary_contig_f32", "binary_contig_f64", "binary_strided_f32", "binary_strided_f64",
	"unary_contig_f32", "unary_contig_f64", "unary_strided_f32", "unary_strided_f64",
	"copy_f32f32", "copy_f64f64", "copy_f32f64", "copy_f64f32",
	"fill_f32", "fill_f64",
	"reduce_block_f32", "reduce_block_f64", "reduce_thread_f32", "reduce_thread_f64",
	"softmax_f32", "softmax_f64",
	"gather_f32", "gather_f64", "scatter_add_f32", "scatter_add_f64",
	"bias_act_f32", "bias_act_f64",
	"adam_f32", "sgd_f32",
}
