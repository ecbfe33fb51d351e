package tensor

import (
	"math"

	"github.com/kilnml/kiln/tensor/internal/kern"
)

// rowsView describes a reduction or softmax as M rows of K values: row i's
// values are at rows[i] + j·step in the source, j in [0, K).
type rowsView struct {
	m, k   int
	outer  []int // shapes of the kept dimensions
	srcSt  []int // source strides of the kept dimensions
	dstSt  []int // destination strides of the kept dimensions
	src    View  // possibly a dense copy
	step   int
	dstOff int
}

// offsets returns the source and destination offsets of row i.
func (r *rowsView) offsets(i int) (src, dst int) {
	src, dst = r.src.Offset, r.dstOff
	for d := len(r.outer) - 1; d >= 0; d-- {
		x := i % r.outer[d]
		i /= r.outer[d]
		src += x * r.srcSt[d]
		dst += x * r.dstSt[d]
	}
	return src, dst
}

// rowsOf arranges src as rows over the axes marked in red, which are
// moved last; when they cannot be walked with a single stride, the source
// is copied densely first.
func rowsOf(dst, src View, red []bool) rowsView {
	var r rowsView
	var keptAxes, redAxes []int
	for i := range src.Shape {
		if red[i] {
			redAxes = append(redAxes, i)
		} else {
			keptAxes = append(keptAxes, i)
		}
	}
	r.m, r.k = 1, 1
	for _, a := range keptAxes {
		r.m *= src.Shape[a]
		r.outer = append(r.outer, src.Shape[a])
		r.srcSt = append(r.srcSt, src.Strides[a])
		r.dstSt = append(r.dstSt, dst.Strides[a])
	}
	// Can the reduced axes be walked with one stride?
	step, ok, expect := 0, true, 0
	for i := len(redAxes) - 1; i >= 0; i-- {
		a := redAxes[i]
		if src.Shape[a] == 1 {
			continue
		}
		if expect == 0 {
			step = src.Strides[a]
			expect = step * src.Shape[a]
		} else if src.Strides[a] != expect {
			ok = false
		} else {
			expect *= src.Shape[a]
		}
		r.k *= src.Shape[a]
	}
	r.src, r.step, r.dstOff = src, max(step, 1), dst.Offset
	if !ok {
		perm := append(append([]int{}, keptAxes...), redAxes...)
		pv := View{Buf: src.Buf, DType: src.DType, Offset: src.Offset}
		for _, a := range perm {
			pv.Shape = append(pv.Shape, src.Shape[a])
			pv.Strides = append(pv.Strides, src.Strides[a])
		}
		d := denseCopy(pv)
		r.src, r.step = d, 1
		r.srcSt = d.Strides[:len(keptAxes)]
	}
	return r
}

// scratch is per-tile working memory of a row loop.
type scratch struct {
	f32, tmp []float32
	f64      []float64
}

// getTmp returns a second float32 buffer, distinct from get32's.
func (s *scratch) getTmp(n int) []float32 {
	if cap(s.tmp) < n {
		s.tmp = make([]float32, n)
	}
	return s.tmp[:n]
}

func (s *scratch) get32(n int) []float32 {
	if cap(s.f32) < n {
		s.f32 = make([]float32, n)
	}
	return s.f32[:n]
}

func (s *scratch) get64(n int) []float64 {
	if cap(s.f64) < n {
		s.f64 = make([]float64, n)
	}
	return s.f64[:n]
}

// run calls fn for every row, rows grouped in tiles over p.
func (r *rowsView) run(fn func(src, dst int, sc *scratch)) {
	per := max(1, tileElems/max(r.k, 1))
	tiles := (r.m + per - 1) / per
	p := kern.Default()
	if r.m*r.k < tileElems {
		p = nil
	}
	p.Run(tiles, func(t int) {
		var sc scratch
		for i := t * per; i < min(r.m, (t+1)*per); i++ {
			s, d := r.offsets(i)
			fn(s, d, &sc)
		}
	})
}

func (*cpuDevice) Reduce(op ReduceOp, dst, src View, param float64) error {
	red := make([]bool, len(src.Shape))
	for i := range red {
		red[i] = dst.Shape[i] == 1 && src.Shape[i] != 1
	}
	if (op == ReduceSum || op == ReduceMean) && src.DType == Float32 && dst.DType == Float32 && sumOuter(dst, src, red) {
		if op == ReduceMean {
			n := 1
			for i, d := range src.Shape {
				if red[i] {
					n *= d
				}
			}
			d := hostF32(dst.Buf)[dst.Offset : dst.Offset+size(dst.Shape)]
			kern.BinaryScalar(kern.OpDiv, d, d, float32(n), false)
		}
		return nil
	}
	r := rowsOf(dst, src, red)
	k := r.k
	set := func(d int, v float64) {
		if dst.DType == Float64 {
			hostF64(dst.Buf)[d] = v
		} else {
			hostF32(dst.Buf)[d] = float32(v)
		}
	}
	if r.src.DType == Float64 {
		s := hostF64(r.src.Buf)
		r.run(func(so, d int, sc *scratch) {
			row := sc.get64(k)
			for j := range row {
				row[j] = s[so+j*r.step]
			}
			set(d, reduce64(op, row, param, sc))
		})
		return nil
	}
	s := hostF32(r.src.Buf)
	r.run(func(so, d int, sc *scratch) {
		var row []float32
		if r.step == 1 {
			row = s[so : so+k]
		} else {
			row = sc.get32(k)
			for j := range row {
				row[j] = s[so+j*r.step]
			}
		}
		set(d, reduce32(op, row, param, sc))
	})
	return nil
}

func reduce32(op ReduceOp, row []float32, param float64, sc *scratch) float64 {
	switch op {
	case ReduceSum:
		return float64(kern.Sum(row))
	case ReduceMean:
		return float64(kern.Sum(row) / float32(len(row)))
	case ReduceMax:
		return float64(kern.MaxOf(row))
	case ReduceMin:
		return float64(kern.MinOf(row))
	case ReduceArgMax:
		best := 0
		for j, x := range row {
			if x != x {
				return float64(j)
			}
			if x > row[best] {
				best = j
			}
		}
		return float64(best)
	case ReduceLogSumExp:
		m := kern.MaxOf(row)
		if math.IsInf(float64(m), 0) || m != m {
			return float64(m)
		}
		tmp := sc.getTmp(len(row))
		kern.BinaryScalar(kern.OpSub, tmp, row, m, false)
		kern.Unary(kern.OpExp, tmp, tmp, 0)
		return float64(m + float32(math.Log(float64(kern.Sum(tmp)))))
	case ReduceVar:
		var mean float64
		for _, x := range row {
			mean += float64(x)
		}
		mean /= float64(len(row))
		var ss float64
		for _, x := range row {
			d := float64(x) - mean
			ss += d * d
		}
		return ss / (float64(len(row)) - param)
	}
	return math.NaN()
}

func reduce64(op ReduceOp, row []float64, param float64, _ *scratch) float64 {
	switch op {
	case ReduceSum, ReduceMean:
		var s float64
		for _, x := range row {
			s += x
		}
		if op == ReduceMean {
			s /= float64(len(row))
		}
		return s
	case ReduceMax, ReduceMin:
		m := math.Inf(-1)
		if op == ReduceMin {
			m = math.Inf(1)
		}
		for _, x := range row {
			if x != x {
				return x
			}
			if op == ReduceMax {
				m = max(m, x)
			} else {
				m = min(m, x)
			}
		}
		return m
	case ReduceArgMax:
		best := 0
		for j, x := range row {
			if x != x {
				return float64(j)
			}
			if x > row[best] {
				best = j
			}
		}
		return float64(best)
	case ReduceLogSumExp:
		m := reduce64(ReduceMax, row, 0, nil)
		if math.IsInf(m, 0) || m != m {
			return m
		}
		var s float64
		for _, x := range row {
			s += math.Exp(x - m)
		}
		return m + math.Log(s)
	case ReduceVar:
		mean := reduce64(ReduceMean, row, 0, nil)
		var ss float64
		for _, x := range row {
			d := x - mean
			ss += d * d
		}
		return ss / (float64(len(row)) - param)
	}
	return math.NaN()
}

func (*cpuDevice) Softmax(dst, src View, axis int, log bool) error {
	red := make([]bool, len(src.Shape))
	red[axis] = true
	// The destination is walked like the source: rows over the same kept
	// axes, with its own stride along axis.
	r := rowsOf(dst, src, red)
	k, dstep := src.Shape[axis], dst.Strides[axis]
	if r.src.DType == Float64 {
		s, d := hostF64(r.src.Buf), hostF64(dst.Buf)
		r.run(func(so, do int, sc *scratch) {
			row := sc.get64(k)
			for j := range row {
				row[j] = s[so+j*r.step]
			}
			softmax64(row, log)
			for j, v := range row {
				d[do+j*dstep] = v
			}
		})
		return nil
	}
	s, d := hostF32(r.src.Buf), hostF32(dst.Buf)
	r.run(func(so, do int, sc *scratch) {
		if r.step == 1 && dstep == 1 {
			softmax32(d[do:do+k], s[so:so+k], log, sc)
			return
		}
		row := sc.get32(k)
		for j := range row {
			row[j] = s[so+j*r.step]
		}
		softmax32(row, row, log, sc)
		for j, v := range row {
			d[do+j*dstep] = v
		}
	})
	return nil
}

// softmax32 writes the (log-)softmax of x into out (which may be x).
func softmax32(out, x []float32, log bool, sc *scratch) {
	if len(x) == 0 {
		return
	}
	m := kern.MaxOf(x)
	if log {
		tmp := sc.getTmp(len(x))
		kern.BinaryScalar(kern.OpSub, tmp, x, m, false)
		kern.Unary(kern.OpExp, tmp, tmp, 0)
		ls := float32(math.Log(float64(kern.Sum(tmp))))
		kern.BinaryScalar(kern.OpSub, out, x, m, false)
		kern.BinaryScalar(kern.OpSub, out, out, ls, false)
		return
	}
	kern.BinaryScalar(kern.OpSub, out, x, m, false)
	kern.Unary(kern.OpExp, out, out, 0)
	kern.BinaryScalar(kern.OpDiv, out, out, kern.Sum(out), false)
}

func softmax64(x []float64, log bool) {
	m := reduce64(ReduceMax, x, 0, nil)
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	ls := math.Log(s)
	for i, v := range x {
		if log {
			x[i] = v - m - ls
		} else {
			x[i] = math.Exp(v-m) / s
		}
	}
}

// sumOuter sums a contiguous float32 source over leading axes into a
// contiguous destination, adding whole rows (the bias gradient of a
// batch): acc += row for each reduced row in order, in column tiles. It
// reports false, doing nothing, when the layout does not fit.
func sumOuter(dst, src View, red []bool) bool {
	if !isDense(src.Shape, src.Strides) || !isDense(dst.Shape, dst.Strides) {
		return false
	}
	lead := 0
	for lead < len(red) && (red[lead] || src.Shape[lead] == 1) {
		lead++
	}
	for _, r := range red[lead:] {
		if r {
			return false
		}
	}
	rows, cols := 1, 1
	for i, d := range src.Shape {
		if i < lead {
			rows *= d
		} else {
			cols *= d
		}
	}
	if rows < 2 || cols < 2 {
		return false
	}
	s := hostF32(src.Buf)[src.Offset:]
	d := hostF32(dst.Buf)[dst.Offset : dst.Offset+cols]
	const tile = 1024
	p := kern.Default()
	if rows*cols < tileElems {
		p = nil
	}
	p.Run((cols+tile-1)/tile, func(t int) {
		c0, c1 := t*tile, min(cols, (t+1)*tile)
		acc := d[c0:c1]
		copy(acc, s[c0:c1])
		for r := 1; r < rows; r++ {
			kern.Axpy(1, s[r*cols+c0:r*cols+c1], acc)
		}
	})
	return true
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
