package tensor

import (
	"fmt"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FromArrow returns a 1-D CPU tensor with the values of arr. A float32 or
// float64 array whose values start on a 64-byte boundary (the case of
// arrays built by arrow-go's allocators at offset 0) is viewed without a
// copy: the tensor then shares the array's memory, so the caller must keep
// arr retained, and its memory unchanged, while it uses the tensor (Clone
// the tensor to detach it). Other float arrays are copied; integer arrays
// are converted to float32 (a copy). An array with a null is an [ErrNull]
// error naming the row; other types are [ErrDType] errors.
func FromArrow(arr arrow.Array) (*Tensor, error) {
	if arr == nil {
		return nil, fmt.Errorf("%w: nil array", ErrShape)
	}
	if err := noNulls(arr, ""); err != nil {
		return nil, err
	}
	switch a := arr.(type) {
	case *array.Float32:
		return viewF32(a.Float32Values(), []int{a.Len()})
	case *array.Float64:
		v := a.Float64Values()
		if len(v) > 0 && uintptr(unsafe.Pointer(&v[0]))%align == 0 {
			return &Tensor{buf: &cpuBuffer{dt: Float64, f64: v}, dt: Float64, shape: []int{len(v)}, strides: []int{1}}, nil
		}
		return FromFloat64s(v)
	}
	v, err := columnF32(arr)
	if err != nil {
		return nil, err
	}
	return viewF32(v, []int{len(v)})
}

// viewF32 wraps v without a copy when it is aligned, else copies it.
func viewF32(v []float32, shape []int) (*Tensor, error) {
	if len(v) > 0 && uintptr(unsafe.Pointer(&v[0]))%align == 0 {
		return &Tensor{buf: &cpuBuffer{dt: Float32, f32: v}, dt: Float32, shape: shape, strides: contiguousStrides(shape)}, nil
	}
	return FromFloat32s(v, shape...)
}

func noNulls(arr arrow.Array, col string) error {
	if arr.NullN() == 0 {
		return nil
	}
	for i := range arr.Len() {
		if arr.IsNull(i) {
			if col != "" {
				return fmt.Errorf("%w: column %q row %d", ErrNull, col, i)
			}
			return fmt.Errorf("%w: row %d", ErrNull, i)
		}
	}
	return nil
}

func convert[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float64](v []T) []float32 {
	out := alignedF32(len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// columnF32 returns arr's values as float32: the array's own memory for
// float32, a converted copy for other numeric types.
func columnF32(arr arrow.Array) ([]float32, error) {
	switch a := arr.(type) {
	case *array.Float32:
		return a.Float32Values(), nil
	case *array.Float64:
		return convert(a.Float64Values()), nil
	case *array.Int8:
		return convert(a.Int8Values()), nil
	case *array.Int16:
		return convert(a.Int16Values()), nil
	case *array.Int32:
		return convert(a.Int32Values()), nil
	case *array.Int64:
		return convert(a.Int64Values()), nil
	case *array.Uint8:
		return convert(a.Uint8Values()), nil
	case *array.Uint16:
		return convert(a.Uint16Values()), nil
	case *array.Uint32:
		return convert(a.Uint32Values()), nil
	case *array.Uint64:
		return convert(a.Uint64Values()), nil
	}
	return nil, fmt.Errorf("%w: arrow type %v has no tensor counterpart", ErrDType, arr.DataType())
}

// FromBatch returns the named columns of b (all columns when cols is
// empty) as a rows×len(cols) float32 matrix on the CPU. Numeric columns
// are copied and converted to float32. A single FixedSizeList<float32>
// column of width w gives a rows×w matrix that shares the batch's memory
// when it is 64-byte aligned (see [FromArrow] for what the caller must
// then keep retained). A null is an [ErrNull] error naming the column and
// row.
func FromBatch(b arrow.RecordBatch, cols ...string) (*Tensor, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil batch", ErrShape)
	}
	var arrs []arrow.Array
	var names []string
	if len(cols) == 0 {
		for i := range int(b.NumCols()) {
			arrs = append(arrs, b.Column(i))
			names = append(names, b.ColumnName(i))
		}
	}
	for _, c := range cols {
		idx := b.Schema().FieldIndices(c)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%w: no column %q in the batch", ErrShape, c)
		}
		arrs = append(arrs, b.Column(idx[0]))
		names = append(names, c)
	}
	rows := int(b.NumRows())
	if len(arrs) == 1 {
		if fl, ok := arrs[0].(*array.FixedSizeList); ok {
			return fromFixedSizeList(fl, names[0])
		}
	}
	t, err := New(Float32, rows, len(arrs))
	if err != nil {
		return nil, err
	}
	out := hostF32(t.buf)
	for j, a := range arrs {
		if err := noNulls(a, names[j]); err != nil {
			return nil, err
		}
		v, err := columnF32(a)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", names[j], err)
		}
		for i := range rows {
			out[i*len(arrs)+j] = v[i]
		}
	}
	return t, nil
}

func fromFixedSizeList(fl *array.FixedSizeList, name string) (*Tensor, error) {
	width := int(fl.DataType().(*arrow.FixedSizeListType).Len())
	if err := noNulls(fl, name); err != nil {
		return nil, err
	}
	child, ok := fl.ListValues().(*array.Float32)
	if !ok {
		return nil, fmt.Errorf("%w: column %q is a fixed-size list of %v, not float32", ErrDType, name, fl.ListValues().DataType())
	}
	rows := fl.Len()
	if rows == 0 {
		return New(Float32, 0, width)
	}
	start, _ := fl.ValueOffsets(0)
	vals := child.Float32Values()[start : int(start)+rows*width]
	for i := range vals {
		if child.IsNull(int(start) + i) {
			return nil, fmt.Errorf("%w: column %q row %d element %d", ErrNull, name, i/max(width, 1), i%max(width, 1))
		}
	}
	return viewF32(vals, []int{rows, width})
}

// ToArrow returns a 1-D tensor's values as a new Arrow array (Float32 or
// Float64, as the tensor) allocated from mem; the caller releases it.
func (t *Tensor) ToArrow(mem memory.Allocator) (arrow.Array, error) {
	if t.invalid() {
		return nil, errNil
	}
	if len(t.shape) != 1 {
		return nil, fmt.Errorf("%w: ToArrow of a rank-%d tensor %v (want 1-D)", ErrShape, len(t.shape), t.shape)
	}
	if t.dt == Float64 {
		v, err := t.Float64s()
		if err != nil {
			return nil, err
		}
		bld := array.NewFloat64Builder(mem)
		defer bld.Release()
		bld.AppendValues(v, nil)
		return bld.NewArray(), nil
	}
	v, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	bld := array.NewFloat32Builder(mem)
	defer bld.Release()
	bld.AppendValues(v, nil)
	return bld.NewArray(), nil
}

// ToBatch returns a 2-D tensor as a record batch with one column per
// tensor column (float32 or float64, as the tensor), named by names (nil:
// "c0", "c1", …), allocated from mem; the caller releases it.
func (t *Tensor) ToBatch(mem memory.Allocator, names []string) (arrow.RecordBatch, error) {
	if t.invalid() {
		return nil, errNil
	}
	if len(t.shape) != 2 {
		return nil, fmt.Errorf("%w: ToBatch of a rank-%d tensor %v (want 2-D)", ErrShape, len(t.shape), t.shape)
	}
	rows, cols := t.shape[0], t.shape[1]
	if names == nil {
		for j := range cols {
			names = append(names, fmt.Sprintf("c%d", j))
		}
	}
	if len(names) != cols {
		return nil, fmt.Errorf("%w: %d names for %d columns", ErrShape, len(names), cols)
	}
	v, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	typ := arrow.DataType(arrow.PrimitiveTypes.Float32)
	if t.dt == Float64 {
		typ = arrow.PrimitiveTypes.Float64
	}
	fields := make([]arrow.Field, cols)
	arrs := make([]arrow.Array, cols)
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	for j := range cols {
		fields[j] = arrow.Field{Name: names[j], Type: typ}
		if t.dt == Float64 {
			bld := array.NewFloat64Builder(mem)
			bld.Reserve(rows)
			for i := range rows {
				bld.UnsafeAppend(v[i*cols+j])
			}
			arrs[j] = bld.NewArray()
			bld.Release()
		} else {
			bld := array.NewFloat32Builder(mem)
			bld.Reserve(rows)
			for i := range rows {
				bld.UnsafeAppend(float32(v[i*cols+j]))
			}
			arrs[j] = bld.NewArray()
			bld.Release()
		}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(rows)), nil
}
