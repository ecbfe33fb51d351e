package tensor

import "github.com/kilnml/kiln/tensor/internal/kern"

// rowView returns row i (along axis 0) of v.
func rowView(v View, i int) View {
	return View{Buf: v.Buf, DType: v.DType, Shape: v.Shape[1:], Strides: v.Strides[1:], Offset: v.Offset + i*v.Strides[0]}
}

func (*cpuDevice) Gather(dst, table View, idx []int32) error {
	rowLen := 1
	for _, d := range dst.Shape[1:] {
		rowLen *= d
	}
	dense := isDense(dst.Shape[1:], dst.Strides[1:]) && isDense(table.Shape[1:], table.Strides[1:])
	per := max(1, tileElems/max(rowLen, 1))
	p := kern.Default()
	if len(idx)*rowLen < tileElems {
		p = nil
	}
	p.Run((len(idx)+per-1)/per, func(t int) {
		for i := t * per; i < min(len(idx), (t+1)*per); i++ {
			d, s := rowView(dst, i), rowView(table, int(idx[i]))
			if !dense {
				_ = copyRows(d, s)
				continue
			}
			if dst.DType == Float64 {
				copy(hostF64(dst.Buf)[d.Offset:d.Offset+rowLen], hostF64(table.Buf)[s.Offset:])
			} else {
				copy(hostF32(dst.Buf)[d.Offset:d.Offset+rowLen], hostF32(table.Buf)[s.Offset:])
			}
		}
	})
	return nil
}

// copyRows is Copy without the pool, for use inside a tile.
func copyRows(dst, src View) error {
	l := newLoop(dst.Shape, dst, src)
	inc := l.inc()
	l.run(nil, func(o [3]int, n int) {
		for i := range n {
			if dst.DType == Float64 {
				hostF64(dst.Buf)[o[0]+i*inc[0]] = hostF64(src.Buf)[o[1]+i*inc[1]]
			} else {
				hostF32(dst.Buf)[o[0]+i*inc[0]] = hostF32(src.Buf)[o[1]+i*inc[1]]
			}
		}
	})
	return nil
}

func isDense(shape, strides []int) bool {
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && strides[i] != s {
			return false
		}
		s *= shape[i]
	}
	return true
}

func (*cpuDevice) ScatterAdd(dst View, idx []int32, src View) error {
	rowLen := 1
	for _, d := range dst.Shape[1:] {
		rowLen *= d
	}
	dense := isDense(dst.Shape[1:], dst.Strides[1:]) && isDense(src.Shape[1:], src.Strides[1:])
	for i, r := range idx {
		d, s := rowView(dst, int(r)), rowView(src, i)
		switch {
		case dense && dst.DType == Float32:
			kern.Axpy(1, hostF32(src.Buf)[s.Offset:s.Offset+rowLen], hostF32(dst.Buf)[d.Offset:d.Offset+rowLen])
		case dense:
			ys, xs := hostF64(dst.Buf)[d.Offset:d.Offset+rowLen], hostF64(src.Buf)[s.Offset:]
			for j := range ys {
				ys[j] += xs[j]
			}
		default:
			l := newLoop(d.Shape, d, s)
			inc := l.inc()
			l.run(nil, func(o [3]int, n int) {
				for j := range n {
					if dst.DType == Float64 {
						hostF64(dst.Buf)[o[0]+j*inc[0]] += hostF64(src.Buf)[o[1]+j*inc[1]]
					} else {
						hostF32(dst.Buf)[o[0]+j*inc[0]] += hostF32(src.Buf)[o[1]+j*inc[1]]
					}
				}
			})
		}
	}
	return nil
}
