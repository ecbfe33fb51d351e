package pipeline

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Value is the set of Go types a Derive function takes and returns. Each
// maps to one Arrow type, which the column must have exactly:
//
//	int64   ↔ int64           float64 ↔ float64    bool   ↔ bool
//	int32   ↔ int32           float32 ↔ float32    string ↔ utf8, large_utf8
//	time.Time ↔ timestamp (any unit and zone), date32, date64
//
// Types defined on the basic ones (type Celsius float64) are accepted too.
// time.Time is a struct, so it is listed as itself: a type defined as a
// time.Time (type Day time.Time) is not a Value.
type Value interface {
	~int64 | ~int32 | ~float64 | ~float32 | ~bool | ~string | time.Time
}

// Derive1 appends a column called name computed by fn from column a. For
// each row, fn gets a's value; where a is null, the result is null and fn is
// not called.
//
// The result's Arrow type follows R (see Value); a time.Time result is
// written as a timestamp in microseconds with the zone of the first
// timestamp input ("" for a date or naive input), or "UTC" when no input is a
// time. The new column is nullable when an input is. Times handed to fn
// are in the column's zone, and in UTC for naive timestamps and dates.
// Strings handed to fn share the batch's memory and are valid only during
// the call: copy them (strings.Clone) to keep them.
//
// fn is called from several goroutines at once and must be safe for that.
// A panic in fn fails the batch with an error wrapping ErrPanic that gives
// the row within the batch and the inputs; the run stops there.
//
// Binding fails with ErrSchema when an input column is missing or its type
// does not match the Go type, and when name is empty or already a column.
func Derive1[A, R Value](name, a string, fn func(A) R) Stage {
	return &deriveStage[R]{
		name: name, cols: []string{a}, kinds: []valueKind{kindOf[A]()}, out: kindOf[R](),
		nilFn: fn == nil,
		loop: func(cols []arrow.Array, valid []uint64, lo int, out []R, row *int) {
			ra := newReader[A](cols[0])
			var zero R
			for k := range out {
				i := lo + k
				if valid != nil && valid[i/64]&(1<<(i%64)) == 0 {
					out[k] = zero
					continue
				}
				*row = i
				out[k] = fn(ra.at(i))
			}
		},
	}
}

// Derive2 appends a column called name computed by fn from columns a and b,
// as Derive1 does.
func Derive2[A, B, R Value](name, a, b string, fn func(A, B) R) Stage {
	return &deriveStage[R]{
		name: name, cols: []string{a, b}, kinds: []valueKind{kindOf[A](), kindOf[B]()}, out: kindOf[R](),
		nilFn: fn == nil,
		loop: func(cols []arrow.Array, valid []uint64, lo int, out []R, row *int) {
			ra, rb := newReader[A](cols[0]), newReader[B](cols[1])
			var zero R
			for k := range out {
				i := lo + k
				if valid != nil && valid[i/64]&(1<<(i%64)) == 0 {
					out[k] = zero
					continue
				}
				*row = i
				out[k] = fn(ra.at(i), rb.at(i))
			}
		},
	}
}

// Derive3 appends a column called name computed by fn from columns a, b and
// c, as Derive1 does.
func Derive3[A, B, C, R Value](name, a, b, c string, fn func(A, B, C) R) Stage {
	return &deriveStage[R]{
		name: name, cols: []string{a, b, c}, kinds: []valueKind{kindOf[A](), kindOf[B](), kindOf[C]()}, out: kindOf[R](),
		nilFn: fn == nil,
		loop: func(cols []arrow.Array, valid []uint64, lo int, out []R, row *int) {
			ra, rb, rc := newReader[A](cols[0]), newReader[B](cols[1]), newReader[C](cols[2])
			var zero R
			for k := range out {
				i := lo + k
				if valid != nil && valid[i/64]&(1<<(i%64)) == 0 {
					out[k] = zero
					continue
				}
				*row = i
				out[k] = fn(ra.at(i), rb.at(i), rc.at(i))
			}
		},
	}
}

// valueKind is the Go kind behind a Value type.
type valueKind uint8

const (
	kindInt64 valueKind = iota
	kindInt32
	kindFloat64
	kindFloat32
	kindBool
	kindString
	kindTime
)

var kindNames = [...]string{"int64", "int32", "float64", "float32", "bool", "string", "time.Time"}

func kindOf[T Value]() valueKind {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Int64:
		return kindInt64
	case reflect.Int32:
		return kindInt32
	case reflect.Float64:
		return kindFloat64
	case reflect.Float32:
		return kindFloat32
	case reflect.Bool:
		return kindBool
	case reflect.String:
		return kindString
	}
	return kindTime // the only struct in Value
}

// accepts reports whether a column of type dt can be read as kind k.
func (k valueKind) accepts(dt arrow.DataType) bool {
	switch k {
	case kindInt64:
		return dt.ID() == arrow.INT64
	case kindInt32:
		return dt.ID() == arrow.INT32
	case kindFloat64:
		return dt.ID() == arrow.FLOAT64
	case kindFloat32:
		return dt.ID() == arrow.FLOAT32
	case kindBool:
		return dt.ID() == arrow.BOOL
	case kindString:
		return dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
	}
	return dt.ID() == arrow.TIMESTAMP || dt.ID() == arrow.DATE32 || dt.ID() == arrow.DATE64
}

// deriveStage is Derive1, 2 or 3; loop holds the arity-specific part.
type deriveStage[R Value] struct {
	name  string
	cols  []string
	kinds []valueKind
	out   valueKind
	nilFn bool
	// loop computes out[k] for row lo+k of cols, or the zero R for rows
	// whose bit in valid is clear (valid nil: no nulls), and keeps *row at
	// the row whose fn call is under way.
	loop func(cols []arrow.Array, valid []uint64, lo int, out []R, row *int)
}

func (s *deriveStage[R]) Name() string { return "derive(" + s.name + ")" }

func (s *deriveStage[R]) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	if s.nilFn {
		return nil, fmt.Errorf("derive %q: nil function", s.name)
	}
	if s.name == "" {
		return nil, fmt.Errorf("%w: derive: empty column name", ErrSchema)
	}
	if in.HasField(s.name) {
		return nil, fmt.Errorf("%w: derive: column %q already exists", ErrSchema, s.name)
	}
	st := &deriveStep[R]{stage: s, mem: mem, in: in, idx: make([]int, len(s.cols))}
	nullable := false
	var tz *string
	for k, c := range s.cols {
		i, err := fieldIndex(in, c)
		if err != nil {
			return nil, err
		}
		f := in.Field(i)
		if !s.kinds[k].accepts(f.Type) {
			return nil, fmt.Errorf("%w: derive %q: column %q is %s, which the function's %s argument cannot take",
				ErrSchema, s.name, c, f.Type, kindNames[s.kinds[k]])
		}
		if ts, ok := f.Type.(*arrow.TimestampType); ok {
			if _, err := loadZone(ts.TimeZone); err != nil {
				return nil, err
			}
		}
		if tz == nil && s.kinds[k] == kindTime {
			z := ""
			if ts, ok := f.Type.(*arrow.TimestampType); ok {
				z = ts.TimeZone
			}
			tz = &z
		}
		nullable = nullable || f.Nullable
		st.idx[k] = i
	}
	var dt arrow.DataType
	switch s.out {
	case kindInt64:
		dt = arrow.PrimitiveTypes.Int64
	case kindInt32:
		dt = arrow.PrimitiveTypes.Int32
	case kindFloat64:
		dt = arrow.PrimitiveTypes.Float64
	case kindFloat32:
		dt = arrow.PrimitiveTypes.Float32
	case kindBool:
		dt = arrow.FixedWidthTypes.Boolean
	case kindString:
		dt = arrow.BinaryTypes.String
	default:
		z := "UTC"
		if tz != nil {
			z = *tz
		}
		dt = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: z}
	}
	fields := append(in.Fields(), arrow.Field{Name: s.name, Type: dt, Nullable: nullable})
	md := in.Metadata()
	st.schema = arrow.NewSchema(fields, &md)
	return st, nil
}

type deriveStep[R Value] struct {
	stage  *deriveStage[R]
	mem    memory.Allocator
	in     *arrow.Schema
	schema *arrow.Schema
	idx    []int
}

func (s *deriveStep[R]) Schema() *arrow.Schema { return s.schema }

// deriveChunk bounds the scratch space of results that are not written to
// Arrow memory directly (bool, string, time.Time). A multiple of 64.
const deriveChunk = 4096

func (s *deriveStep[R]) Apply(ctx context.Context, in arrow.RecordBatch) (rec arrow.RecordBatch, err error) {
	if err := checkBatch(in, s.in); err != nil {
		return nil, err
	}
	n := int(in.NumRows())
	cols := make([]arrow.Array, len(s.idx))
	var valid []uint64
	for k, i := range s.idx {
		cols[k] = in.Column(i)
		if cols[k].NullN() > 0 {
			if valid == nil {
				valid = make([]uint64, words(n))
				validWords(cols[k], n, valid)
				continue
			}
			v := make([]uint64, words(n))
			validWords(cols[k], n, v)
			for w := range valid {
				valid[w] &= v[w]
			}
		}
	}

	row := -1
	defer func() {
		if r := recover(); r != nil {
			err = s.panicError(r, cols, row)
		}
	}()
	dt := s.schema.Field(len(s.schema.Fields()) - 1).Type
	var out arrow.Array
	switch s.stage.out {
	case kindInt64, kindInt32, kindFloat64, kindFloat32:
		// Results go straight into the Arrow buffer.
		size := dt.(arrow.FixedWidthDataType).BitWidth() / 8
		buf := memory.NewResizableBuffer(s.mem)
		defer buf.Release()
		buf.Resize(n * size)
		var vals []R
		if n > 0 {
			vals = unsafe.Slice((*R)(unsafe.Pointer(unsafe.SliceData(buf.Bytes()))), n)
		}
		s.stage.loop(cols, valid, 0, vals, &row)
		out = newFixedArray(s.mem, dt, n, buf, valid)
	case kindTime:
		buf := memory.NewResizableBuffer(s.mem)
		defer buf.Release()
		buf.Resize(n * 8)
		ts := arrow.GetData[int64](buf.Bytes())
		chunk := make([]R, min(n, deriveChunk))
		for lo := 0; lo < n; lo += deriveChunk {
			part := chunk[:min(deriveChunk, n-lo)]
			s.stage.loop(cols, valid, lo, part, &row)
			for k := range part {
				ts[lo+k] = (*time.Time)(unsafe.Pointer(&part[k])).UnixMicro()
			}
		}
		if valid != nil {
			for i := range n {
				if valid[i/64]&(1<<(i%64)) == 0 {
					ts[i] = 0
				}
			}
		}
		out = newFixedArray(s.mem, dt, n, buf, valid)
	case kindBool:
		// Results are packed straight into the values bitmap.
		buf := memory.NewResizableBuffer(s.mem)
		defer buf.Release()
		buf.Resize(words(n) * 8)
		bm := arrow.GetData[uint64](buf.Bytes())
		clear(bm)
		chunk := make([]R, min(n, deriveChunk))
		for lo := 0; lo < n; lo += deriveChunk {
			part := chunk[:min(deriveChunk, n-lo)]
			s.stage.loop(cols, valid, lo, part, &row) // null rows get false
			for k := range part {
				i := lo + k
				bm[i/64] |= b2u(*(*bool)(unsafe.Pointer(&part[k]))) << (i % 64)
			}
		}
		buf.Resize((n + 7) / 8)
		out = newFixedArray(s.mem, dt, n, buf, valid)
	default:
		// Strings: offsets and bytes appended a chunk at a time.
		offBuf := memory.NewResizableBuffer(s.mem)
		defer offBuf.Release()
		offBuf.Resize((n + 1) * 4)
		offs := arrow.GetData[int32](offBuf.Bytes())
		data := memory.NewResizableBuffer(s.mem)
		defer data.Release()
		size := 0
		chunk := make([]R, min(n, deriveChunk))
		for lo := 0; lo < n; lo += deriveChunk {
			part := chunk[:min(deriveChunk, n-lo)]
			s.stage.loop(cols, valid, lo, part, &row) // null rows get ""
			total := size
			for k := range part {
				total += len(*(*string)(unsafe.Pointer(&part[k])))
			}
			if total > math.MaxInt32 {
				return nil, fmt.Errorf("derive %q: more than 2 GiB of strings in one batch", s.stage.name)
			}
			if total > data.Cap() {
				data.Reserve(max(total, 2*data.Cap()))
			}
			data.ResizeNoShrink(total)
			b := data.Bytes()
			for k := range part {
				offs[lo+k] = int32(size)
				size += copy(b[size:], *(*string)(unsafe.Pointer(&part[k])))
			}
		}
		offs[n] = int32(size)
		var bitmap *memory.Buffer
		nulls := 0
		if valid != nil {
			nulls = n - countBits(valid)
		}
		if nulls > 0 {
			bitmap = memory.NewResizableBuffer(s.mem)
			defer bitmap.Release()
			bitmap.Resize((n + 7) / 8)
			copy(bitmap.Bytes(), arrow.GetBytes(valid))
		}
		d := array.NewData(dt, n, []*memory.Buffer{bitmap, offBuf, data}, nil, nulls, 0)
		defer d.Release()
		out = array.MakeFromData(d)
	}
	defer out.Release()
	all := append(in.Columns()[:len(in.Columns()):len(in.Columns())], out)
	return array.NewRecordBatch(s.schema, all, int64(n)), nil
}

// newFixedArray wraps a values buffer of n fixed-width values, with the
// validity in valid (nil: no nulls), as an array of type dt.
func newFixedArray(mem memory.Allocator, dt arrow.DataType, n int, values *memory.Buffer, valid []uint64) arrow.Array {
	var bitmap *memory.Buffer
	nulls := 0
	if valid != nil {
		nulls = n - countBits(valid)
	}
	if nulls > 0 {
		bitmap = memory.NewResizableBuffer(mem)
		defer bitmap.Release()
		nb := (n + 7) / 8
		bitmap.Resize(nb)
		copy(bitmap.Bytes(), arrow.GetBytes(valid)[:nb])
	}
	data := array.NewData(dt, n, []*memory.Buffer{bitmap, values}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

func (s *deriveStep[R]) panicError(r any, cols []arrow.Array, row int) error {
	var args strings.Builder
	for k, c := range cols {
		if k > 0 {
			args.WriteString(", ")
		}
		v := "?"
		if row >= 0 && row < c.Len() {
			v = clip(c.ValueStr(row))
		}
		fmt.Fprintf(&args, "%s=%s", s.stage.cols[k], v)
	}
	return fmt.Errorf("derive %q: %w: %v (batch row %d: %s)\n%s", s.stage.name, ErrPanic, r, row+1, args.String(), debug.Stack())
}

// reader reads a column as Go values of type A.
type reader[A Value] struct {
	direct []A         // the column's own memory, when the layouts agree
	get    func(int) A // otherwise
}

func (r *reader[A]) at(i int) A {
	if r.get == nil {
		return r.direct[i]
	}
	return r.get(i)
}

// as reinterprets v as an A; A's underlying type must be V.
func as[A, V any](v V) A { return *(*A)(unsafe.Pointer(&v)) }

// view reinterprets s as a []A; A's underlying type must be V.
func view[A, V any](s []V) []A {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*A)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// newReader returns a reader of arr, whose type Bind checked against A.
func newReader[A Value](arr arrow.Array) reader[A] {
	data := arr.Data()
	switch a := arr.(type) {
	case *array.Int64:
		return reader[A]{direct: view[A](arrow.GetValues[int64](data, 1))}
	case *array.Int32:
		return reader[A]{direct: view[A](arrow.GetValues[int32](data, 1))}
	case *array.Float64:
		return reader[A]{direct: view[A](arrow.GetValues[float64](data, 1))}
	case *array.Float32:
		return reader[A]{direct: view[A](arrow.GetValues[float32](data, 1))}
	case *array.Boolean:
		return reader[A]{get: func(i int) A { return as[A](a.Value(i)) }}
	case *array.String:
		return reader[A]{get: func(i int) A { return as[A](a.Value(i)) }}
	case *array.LargeString:
		return reader[A]{get: func(i int) A { return as[A](a.Value(i)) }}
	case *array.Date32:
		v := arrow.GetValues[int32](data, 1)
		return reader[A]{get: func(i int) A { return as[A](time.Unix(int64(v[i])*86400, 0).UTC()) }}
	case *array.Date64:
		v := arrow.GetValues[int64](data, 1)
		return reader[A]{get: func(i int) A { return as[A](time.UnixMilli(v[i]).UTC()) }}
	case *array.Timestamp:
		ts := a.DataType().(*arrow.TimestampType)
		loc, _ := loadZone(ts.TimeZone) // checked by Bind
		if loc == nil {
			loc = time.UTC
		}
		v := arrow.GetValues[int64](data, 1)
		switch ts.Unit {
		case arrow.Second:
			return reader[A]{get: func(i int) A { return as[A](time.Unix(v[i], 0).In(loc)) }}
		case arrow.Millisecond:
			return reader[A]{get: func(i int) A { return as[A](time.UnixMilli(v[i]).In(loc)) }}
		case arrow.Microsecond:
			return reader[A]{get: func(i int) A { return as[A](time.UnixMicro(v[i]).In(loc)) }}
		default:
			return reader[A]{get: func(i int) A { return as[A](time.Unix(0, v[i]).In(loc)) }}
		}
	}
	panic(fmt.Sprintf("pipeline: derive cannot read %s", arr.DataType()))
}
