package pipeline

import (
	"context"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// StructOptions configure a Go struct source. The zero value is valid.
type StructOptions struct {
	// BatchRows is the largest number of rows in a batch. Zero means 65,536.
	BatchRows int
	// Allocator allocates the batches. Nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// StructSource yields Go values of a struct type T (or pointer to struct) as
// record batches, one column per exported field.
//
// A column is named by the field's `parquet:"name,..."` tag, so that a struct
// written with parquet-go reads the same here, or else by the field's Go
// name; `parquet:"-"` and unexported fields are skipped. The fields of an
// embedded (anonymous, non-pointer) struct are columns of their own, as if
// declared in T. Supported field types, including named types with these
// underlying types:
//
//	int, int64 → int64; int8, int16, int32 → the same width
//	uint, uint64 → uint64; uint8, uint16, uint32 → the same width
//	float32, float64, bool, string → the same
//	[]byte → binary
//	time.Time → timestamp[us, tz=UTC]
//	a pointer to any of these → the same, nullable (nil is null)
//
// Other fields (maps, nested structs, other slices, interfaces, channels)
// are an error naming the field. Non-pointer columns are non-nullable, unless
// the tag carries parquet-go's "optional" option, which makes the zero value
// a null. Other tag options are ignored.
type StructSource[T any] struct {
	rows []T
	seq  iter.Seq[T]
	opts StructOptions

	once sync.Once
	plan *structPlan
	err  error
}

// FromStructs returns a source yielding rows. The slice is read, not
// copied, each time Batches runs.
func FromStructs[T any](rows []T, opts StructOptions) *StructSource[T] {
	return &StructSource[T]{rows: rows, opts: opts}
}

// FromSeq returns a source yielding the values of seq. Each call to Batches
// ranges over seq once more; a seq that can be ranged over only once makes a
// source that can be read once.
func FromSeq[T any](seq iter.Seq[T], opts StructOptions) *StructSource[T] {
	return &StructSource[T]{seq: seq, opts: opts}
}

// structKind is how a field's values are read.
type structKind uint8

const (
	skInt structKind = iota // Go int
	skInt8
	skInt16
	skInt32
	skInt64
	skUint // Go uint
	skUint8
	skUint16
	skUint32
	skUint64
	skFloat32
	skFloat64
	skBool
	skString
	skBytes
	skTime
)

// structCol is one column: where its field lies in a row and how to read it.
type structCol struct {
	name     string
	path     string // Go field path for messages, "Embedded.Field"
	kind     structKind
	off      uintptr // offset of the field from the start of the row
	ptr      bool    // the field is a pointer; nil is null
	zeroNull bool    // parquet "optional": the zero value is null
}

type structPlan struct {
	schema *arrow.Schema
	cols   []structCol
	rowPtr bool // T is a pointer to the struct
}

var timeType = reflect.TypeFor[time.Time]()

func (s *StructSource[T]) prepare() (*structPlan, error) {
	s.once.Do(func() { s.plan, s.err = planStruct(reflect.TypeFor[T]()) })
	return s.plan, s.err
}

func planStruct(t reflect.Type) (*structPlan, error) {
	p := &structPlan{}
	st := t
	if st.Kind() == reflect.Pointer {
		p.rowPtr = true
		st = st.Elem()
	}
	if st.Kind() != reflect.Struct || st == timeType {
		return nil, fmt.Errorf("%w: pipeline: struct source: %s is not a struct type or a pointer to one", ErrSchema, t)
	}
	if err := p.addFields(st, 0, st.Name()+"."); err != nil {
		return nil, err
	}
	if len(p.cols) == 0 {
		return nil, fmt.Errorf("%w: pipeline: struct source: %s has no exported fields to make columns from", ErrSchema, t)
	}
	fields := make([]arrow.Field, len(p.cols))
	seen := map[string]string{}
	for i, c := range p.cols {
		if other, dup := seen[c.name]; dup {
			return nil, fmt.Errorf("%w: pipeline: struct source: fields %s and %s are both named %q", ErrSchema, other, c.path, c.name)
		}
		seen[c.name] = c.path
		fields[i] = arrow.Field{Name: c.name, Type: structArrowType(c.kind), Nullable: c.ptr || c.zeroNull}
	}
	p.schema = arrow.NewSchema(fields, nil)
	return p, nil
}

// addFields adds the columns of struct type st, which lies at offset base in
// a row; prefix is the Go path to st ("Row." or "Row.Embedded.").
func (p *structPlan) addFields(st reflect.Type, base uintptr, prefix string) error {
	for i := range st.NumField() {
		f := st.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if name == "-" && opts == "" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct && f.Type != timeType {
			if err := p.addFields(f.Type, base+f.Offset, prefix+f.Name+"."); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		c := structCol{name: f.Name, path: prefix + f.Name, off: base + f.Offset}
		if name != "" {
			c.name = name
		}
		for _, o := range strings.Split(opts, ",") {
			if o == "optional" {
				c.zeroNull = true
			}
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			c.ptr, c.zeroNull = true, false
			ft = ft.Elem()
		}
		k, ok := structKindOf(ft)
		if !ok {
			return fmt.Errorf("%w: pipeline: struct source: field %s has type %s, which has no column type; tag it `parquet:\"-\"` to skip it", ErrSchema, c.path, f.Type)
		}
		c.kind = k
		p.cols = append(p.cols, c)
	}
	return nil
}

func structKindOf(t reflect.Type) (structKind, bool) {
	if t == timeType {
		return skTime, true
	}
	switch t.Kind() {
	case reflect.Int:
		return skInt, true
	case reflect.Int8:
		return skInt8, true
	case reflect.Int16:
		return skInt16, true
	case reflect.Int32:
		return skInt32, true
	case reflect.Int64:
		return skInt64, true
	case reflect.Uint:
		return skUint, true
	case reflect.Uint8:
		return skUint8, true
	case reflect.Uint16:
		return skUint16, true
	case reflect.Uint32:
		return skUint32, true
	case reflect.Uint64:
		return skUint64, true
	case reflect.Float32:
		return skFloat32, true
	case reflect.Float64:
		return skFloat64, true
	case reflect.Bool:
		return skBool, true
	case reflect.String:
		return skString, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return skBytes, true
		}
	}
	return 0, false
}

func structArrowType(k structKind) arrow.DataType {
	switch k {
	case skInt, skInt64:
		return arrow.PrimitiveTypes.Int64
	case skInt8:
		return arrow.PrimitiveTypes.Int8
	case skInt16:
		return arrow.PrimitiveTypes.Int16
	case skInt32:
		return arrow.PrimitiveTypes.Int32
	case skUint, skUint64:
		return arrow.PrimitiveTypes.Uint64
	case skUint8:
		return arrow.PrimitiveTypes.Uint8
	case skUint16:
		return arrow.PrimitiveTypes.Uint16
	case skUint32:
		return arrow.PrimitiveTypes.Uint32
	case skFloat32:
		return arrow.PrimitiveTypes.Float32
	case skFloat64:
		return arrow.PrimitiveTypes.Float64
	case skBool:
		return arrow.FixedWidthTypes.Boolean
	case skString:
		return arrow.BinaryTypes.String
	case skBytes:
		return arrow.BinaryTypes.Binary
	default:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	}
}

// Schema returns the schema derived from T's fields.
func (s *StructSource[T]) Schema(ctx context.Context) (*arrow.Schema, error) {
	p, err := s.prepare()
	if err != nil {
		return nil, err
	}
	return p.schema, nil
}

func (s *StructSource[T]) batchRows() int {
	if s.opts.BatchRows > 0 {
		return s.opts.BatchRows
	}
	return 65536
}

// Batches yields the rows in batches of BatchRows.
func (s *StructSource[T]) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		p, err := s.prepare()
		if err != nil {
			yield(nil, err)
			return
		}
		mem := s.opts.Allocator
		if mem == nil {
			mem = memory.DefaultAllocator
		}
		n := s.batchRows()
		b := &structBuilder{plan: p, mem: mem}
		var row int64 // index of the first row of the next batch
		emit := func(rows []T) bool {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return false
			}
			rec, err := b.build(rowPointers(b.ptrs[:0], rows, p.rowPtr), row)
			b.ptrs = b.ptrs[:0]
			if err != nil {
				yield(nil, err)
				return false
			}
			row += int64(len(rows))
			return yield(rec, nil)
		}
		if s.seq == nil {
			for start := 0; start < len(s.rows); start += n {
				if !emit(s.rows[start:min(start+n, len(s.rows))]) {
					return
				}
			}
			return
		}
		buf := make([]T, 0, min(n, 4096))
		for v := range s.seq {
			buf = append(buf, v)
			if len(buf) == n {
				ok := emit(buf)
				clear(buf)
				buf = buf[:0]
				if !ok {
					return
				}
			} else if len(buf)&1023 == 0 && ctx.Err() != nil {
				yield(nil, ctx.Err())
				return
			}
		}
		if len(buf) > 0 {
			emit(buf)
		}
	}
}

// rowPointers appends the address of each row's struct to dst; a nil
// pointer row stays nil.
func rowPointers[T any](dst []unsafe.Pointer, rows []T, rowPtr bool) []unsafe.Pointer {
	for i := range rows {
		p := unsafe.Pointer(&rows[i])
		if rowPtr {
			p = *(*unsafe.Pointer)(p)
		}
		dst = append(dst, p)
	}
	return dst
}

// structBuilder turns rows into batches, reusing its scratch slices.
type structBuilder struct {
	plan   *structPlan
	mem    memory.Allocator
	ptrs   []unsafe.Pointer
	valid  []bool
	i8     []int8
	i16    []int16
	i32    []int32
	i64    []int64
	u8     []uint8
	u16    []uint16
	u32    []uint32
	u64    []uint64
	f32    []float32
	f64    []float64
	bools  []bool
	strs   []string
	bins   [][]byte
	stamps []arrow.Timestamp
}

// build makes a batch of the rows whose structs lie at ptrs; first is the
// number of the first row, for errors.
func (b *structBuilder) build(ptrs []unsafe.Pointer, first int64) (arrow.RecordBatch, error) {
	for i, p := range ptrs {
		if p == nil {
			return nil, fmt.Errorf("pipeline: struct source: row %d is a nil pointer", first+int64(i))
		}
	}
	cols := make([]arrow.Array, len(b.plan.cols))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i := range b.plan.cols {
		cols[i] = b.column(&b.plan.cols[i], ptrs)
	}
	return array.NewRecordBatch(b.plan.schema, cols, int64(len(ptrs))), nil
}

// field returns the address of column c's value in the row at p, or nil
// when it is null through a nil pointer.
func field(c *structCol, p unsafe.Pointer) unsafe.Pointer {
	f := unsafe.Add(p, c.off)
	if c.ptr {
		return *(*unsafe.Pointer)(f)
	}
	return f
}

// gather reads column c of every row into vals as V, converting from the
// field's type F; valid is nil when the column cannot hold nulls.
func gather[F comparable, V any](c *structCol, ptrs []unsafe.Pointer, vals []V, valid []bool, conv func(F) V) ([]V, []bool) {
	vals = vals[:0]
	nullable := c.ptr || c.zeroNull
	if nullable {
		valid = valid[:0]
	} else {
		valid = nil
	}
	var zero F
	for _, p := range ptrs {
		f := field(c, p)
		if f == nil {
			var v V
			vals = append(vals, v)
			valid = append(valid, false)
			continue
		}
		x := *(*F)(f)
		vals = append(vals, conv(x))
		if nullable {
			valid = append(valid, !(c.zeroNull && x == zero))
		}
	}
	return vals, valid
}

func same[T any](v T) T { return v }

func (b *structBuilder) column(c *structCol, ptrs []unsafe.Pointer) arrow.Array {
	var valid []bool
	defer func() {
		if valid != nil {
			b.valid = valid // keep the grown scratch
		}
	}()
	switch c.kind {
	case skInt:
		b.i64, valid = gather(c, ptrs, b.i64, b.valid, func(v int) int64 { return int64(v) })
		return buildFixed(array.NewInt64Builder(b.mem), b.i64, valid)
	case skInt64:
		b.i64, valid = gather(c, ptrs, b.i64, b.valid, same[int64])
		return buildFixed(array.NewInt64Builder(b.mem), b.i64, valid)
	case skInt8:
		b.i8, valid = gather(c, ptrs, b.i8, b.valid, same[int8])
		return buildFixed(array.NewInt8Builder(b.mem), b.i8, valid)
	case skInt16:
		b.i16, valid = gather(c, ptrs, b.i16, b.valid, same[int16])
		return buildFixed(array.NewInt16Builder(b.mem), b.i16, valid)
	case skInt32:
		b.i32, valid = gather(c, ptrs, b.i32, b.valid, same[int32])
		return buildFixed(array.NewInt32Builder(b.mem), b.i32, valid)
	case skUint:
		b.u64, valid = gather(c, ptrs, b.u64, b.valid, func(v uint) uint64 { return uint64(v) })
		return buildFixed(array.NewUint64Builder(b.mem), b.u64, valid)
	case skUint64:
		b.u64, valid = gather(c, ptrs, b.u64, b.valid, same[uint64])
		return buildFixed(array.NewUint64Builder(b.mem), b.u64, valid)
	case skUint8:
		b.u8, valid = gather(c, ptrs, b.u8, b.valid, same[uint8])
		return buildFixed(array.NewUint8Builder(b.mem), b.u8, valid)
	case skUint16:
		b.u16, valid = gather(c, ptrs, b.u16, b.valid, same[uint16])
		return buildFixed(array.NewUint16Builder(b.mem), b.u16, valid)
	case skUint32:
		b.u32, valid = gather(c, ptrs, b.u32, b.valid, same[uint32])
		return buildFixed(array.NewUint32Builder(b.mem), b.u32, valid)
	case skFloat32:
		b.f32, valid = gather(c, ptrs, b.f32, b.valid, same[float32])
		return buildFixed(array.NewFloat32Builder(b.mem), b.f32, valid)
	case skFloat64:
		b.f64, valid = gather(c, ptrs, b.f64, b.valid, same[float64])
		return buildFixed(array.NewFloat64Builder(b.mem), b.f64, valid)
	case skBool:
		b.bools, valid = gather(c, ptrs, b.bools, b.valid, same[bool])
		return buildFixed(array.NewBooleanBuilder(b.mem), b.bools, valid)
	case skString:
		b.strs, valid = gather(c, ptrs, b.strs, b.valid, same[string])
		bld := array.NewStringBuilder(b.mem)
		n := 0
		for _, s := range b.strs {
			n += len(s)
		}
		bld.ReserveData(n)
		a := buildFixed(bld, b.strs, valid)
		clear(b.strs) // do not keep the rows' strings alive
		return a
	case skBytes:
		b.bins, valid = gatherBytes(c, ptrs, b.bins, b.valid)
		bld := array.NewBinaryBuilder(b.mem, arrow.BinaryTypes.Binary)
		n := 0
		for _, s := range b.bins {
			n += len(s)
		}
		bld.ReserveData(n)
		a := buildFixed(bld, b.bins, valid)
		clear(b.bins)
		return a
	default: // skTime
		b.stamps, valid = gatherTime(c, ptrs, b.stamps, b.valid)
		bld := array.NewTimestampBuilder(b.mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
		return buildFixed(bld, b.stamps, valid)
	}
}

// gatherBytes is gather for []byte, which is not comparable.
func gatherBytes(c *structCol, ptrs []unsafe.Pointer, vals [][]byte, valid []bool) ([][]byte, []bool) {
	vals, valid = vals[:0], valid[:0]
	nullable := c.ptr || c.zeroNull
	for _, p := range ptrs {
		f := field(c, p)
		var x []byte
		if f != nil {
			x = *(*[]byte)(f)
		}
		vals = append(vals, x)
		if nullable {
			valid = append(valid, f != nil && !(c.zeroNull && len(x) == 0))
		}
	}
	if !nullable {
		valid = nil
	}
	return vals, valid
}

// gatherTime is gather for time.Time, whose zero test is IsZero.
func gatherTime(c *structCol, ptrs []unsafe.Pointer, vals []arrow.Timestamp, valid []bool) ([]arrow.Timestamp, []bool) {
	vals, valid = vals[:0], valid[:0]
	nullable := c.ptr || c.zeroNull
	for _, p := range ptrs {
		f := field(c, p)
		var v arrow.Timestamp
		ok := f != nil
		if ok {
			t := (*time.Time)(f)
			v = arrow.Timestamp(t.UnixMicro())
			ok = !(c.zeroNull && t.IsZero())
		}
		vals = append(vals, v)
		if nullable {
			valid = append(valid, ok)
		}
	}
	if !nullable {
		valid = nil
	}
	return vals, valid
}

// valuesBuilder is an arrow builder that takes a slice of values at once.
type valuesBuilder[V any] interface {
	array.Builder
	AppendValues([]V, []bool)
}

func buildFixed[V any, B valuesBuilder[V]](b B, vals []V, valid []bool) arrow.Array {
	defer b.Release()
	b.AppendValues(vals, valid)
	return b.NewArray()
}
