package features

import (
	"fmt"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow"
)

// CSR is a matrix in compressed sparse row form, the layout of SciPy's
// csr_matrix: the stored values of row r are Values[Indptr[r]:Indptr[r+1]],
// at the columns Indices[Indptr[r]:Indptr[r+1]], which increase within a
// row. Columns not stored in a row are zero.
type CSR struct {
	Rows, Cols int
	Indptr     []int64 // len Rows+1, Indptr[0] == 0
	Indices    []int32
	Values     []float64
}

// At returns the value at row r, column c.
func (m *CSR) At(r, c int) float64 {
	for p := m.Indptr[r]; p < m.Indptr[r+1]; p++ {
		if int(m.Indices[p]) == c {
			return m.Values[p]
		}
	}
	return 0
}

// onesApplier is implemented by transforms whose outputs are indicator
// columns with at most a few ones per row (one-hot): Sparse asks them for
// the positions of the ones instead of rows of mostly zeros.
type onesApplier interface {
	// onesPerRow is the most ones a row has.
	onesPerRow() int
	// applyOnes sets pos[r*onesPerRow()+i], for each row r, to the output
	// index (within the transform's outputs, increasing with i) of a one,
	// or -1 for none.
	applyOnes(cols []arrow.Array, pos []int32) error
}

// Sparse computes the outputs of rec, the same values as Apply, as a CSR
// matrix with one column per output that stores only the non-zero values
// (NaN is stored). One-hot encodings fill it without ever writing their
// zeros, which is the form to use when they have many categories, as
// scikit-learn's default sparse output is. dst, when not nil, is reused.
func (ct *ColumnTransformer) Sparse(rec arrow.RecordBatch, dst *CSR) (m *CSR, err error) {
	if !ct.fitted {
		return dst, ErrNotFitted
	}
	idx, err := columnIndex(rec.Schema(), ct.inputs, "apply")
	if err != nil {
		return dst, err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("features: panic while applying: %v\n%s", p, debug.Stack())
		}
	}()
	n := int(rec.NumRows())
	if dst == nil {
		dst = &CSR{}
	}
	dst.Rows, dst.Cols = n, len(ct.outputs)
	dst.Indptr = append(dst.Indptr[:0], make([]int64, n+1)...)
	dst.Indices, dst.Values = dst.Indices[:0], dst.Values[:0]

	// Each step's outputs for the whole batch: dense columns, or the
	// positions of its ones.
	type stepOut struct {
		dense [][]float64
		ones  []int32
		per   int
	}
	outs := make([]stepOut, len(ct.steps))
	cols := make([]arrow.Array, 0, 8)
	for i, t := range ct.steps {
		cols = cols[:0]
		for _, p := range ct.stepIn[i] {
			cols = append(cols, rec.Column(idx[p]))
		}
		if oa, ok := t.(onesApplier); ok {
			per := oa.onesPerRow()
			pos := make([]int32, n*per)
			if err := oa.applyOnes(cols, pos); err != nil {
				return dst, fmt.Errorf("transform %d (%s): %w", i, t.Kind(), err)
			}
			outs[i] = stepOut{ones: pos, per: per}
			continue
		}
		k := ct.outOff[i+1] - ct.outOff[i]
		buf := make([]float64, n*k)
		d := make([][]float64, k)
		for j := range d {
			d[j] = buf[j*n : (j+1)*n : (j+1)*n]
		}
		if err := t.Apply(cols, d); err != nil {
			return dst, fmt.Errorf("transform %d (%s): %w", i, t.Kind(), err)
		}
		outs[i] = stepOut{dense: d}
	}
	// At most this many values per row: reserve them, which saves the
	// copies of growing.
	perRow := 0
	for _, o := range outs {
		perRow += o.per + len(o.dense)
	}
	if need := n * perRow; cap(dst.Indices) < need {
		dst.Indices = make([]int32, 0, need)
		dst.Values = make([]float64, 0, need)
	}
	for r := range n {
		for i, o := range outs {
			off := int32(ct.outOff[i])
			if o.ones != nil {
				for _, p := range o.ones[r*o.per : (r+1)*o.per] {
					if p >= 0 {
						dst.Indices = append(dst.Indices, off+p)
						dst.Values = append(dst.Values, 1)
					}
				}
				continue
			}
			for j, col := range o.dense {
				if v := col[r]; v != 0 {
					dst.Indices = append(dst.Indices, off+int32(j))
					dst.Values = append(dst.Values, v)
				}
			}
		}
		dst.Indptr[r+1] = int64(len(dst.Indices))
	}
	return dst, nil
}
