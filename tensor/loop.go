package tensor

import "github.com/kilnml/kiln/tensor/internal/kern"

// tileElems is the number of elements of one tile of an elementwise loop:
// tiles depend only on the shape, never on the number of workers.
const tileElems = 1 << 15

// A loop walks up to three views of one shape in row-major order, after
// merging the dimensions that are laid out alike in every view and
// dropping those of size 1. The last remaining dimension is the inner
// run handed to a kernel.
type loop struct {
	shape []int    // at least one dimension
	st    [][3]int // strides per dimension, per operand
	off   [3]int
	n     int
	views []View
}

// bufs32 returns the float32 storage of the first two operands.
func (l *loop) bufs32() (a, b []float32) {
	return hostF32(l.views[0].Buf), hostF32(l.views[1].Buf)
}

func newLoop(shape []int, views ...View) loop {
	l := loop{views: views}
	l.n = 1
	for _, d := range shape {
		l.n *= d
	}
	for k, v := range views {
		l.off[k] = v.Offset
	}
	// Walk from the innermost dimension out, merging when possible.
	var dims []int
	var st [][3]int
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] == 1 {
			continue
		}
		var s [3]int
		for k, v := range views {
			s[k] = v.Strides[i]
		}
		if j := len(dims) - 1; j >= 0 {
			merge := true
			for k := range views {
				if s[k] != st[j][k]*dims[j] {
					merge = false
					break
				}
			}
			if merge {
				dims[j] *= shape[i]
				continue
			}
		}
		dims = append(dims, shape[i])
		st = append(st, s)
	}
	if len(dims) == 0 {
		dims, st = []int{1}, [][3]int{{}}
	}
	// Reverse to row-major order.
	for i, j := 0, len(dims)-1; i < j; i, j = i+1, j-1 {
		dims[i], dims[j] = dims[j], dims[i]
		st[i], st[j] = st[j], st[i]
	}
	l.shape, l.st = dims, st
	return l
}

// inc returns the strides of the inner run.
func (l *loop) inc() [3]int { return l.st[len(l.st)-1] }

// run calls fn for every inner run (or piece of one) with the offsets of
// its first element in each operand and its length. Runs are grouped into
// tiles of about tileElems elements, spread over p.
func (l *loop) run(p *kern.Pool, fn func(off [3]int, n int)) {
	if l.n == 0 {
		return
	}
	last := len(l.shape) - 1
	inner := l.shape[last]
	rows := l.n / inner
	inc := l.st[last]
	pieces := (inner + tileElems - 1) / tileElems
	pieceLen := (inner + pieces - 1) / pieces
	rowsPer := 1
	if pieces == 1 {
		rowsPer = max(1, tileElems/inner)
	}
	var tiles int
	if pieces > 1 {
		tiles = rows * pieces
	} else {
		tiles = (rows + rowsPer - 1) / rowsPer
	}
	if l.n < tileElems {
		p = nil
	}
	p.Run(tiles, func(t int) {
		row, start, count := t*rowsPer, 0, inner
		nrows := min(rowsPer, rows-row)
		if pieces > 1 {
			row, start = t/pieces, (t%pieces)*pieceLen
			count = min(pieceLen, inner-start)
			nrows = 1
		}
		idx := make([]int, last)
		r := row
		for i := last - 1; i >= 0; i-- {
			idx[i] = r % l.shape[i]
			r /= l.shape[i]
		}
		for range nrows {
			off := l.off
			for i, x := range idx {
				for k := range 3 {
					off[k] += x * l.st[i][k]
				}
			}
			for k := range 3 {
				off[k] += start * inc[k]
			}
			fn(off, count)
			for i := last - 1; i >= 0; i-- {
				idx[i]++
				if idx[i] < l.shape[i] {
					break
				}
				idx[i] = 0
			}
		}
	})
}
