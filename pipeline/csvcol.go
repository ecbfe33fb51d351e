package pipeline

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// colKind is how a CSV column's text is converted.
type colKind uint8

const (
	kInt colKind = iota // any signed or unsigned integer width
	kFloat
	kBool
	kString
	kDate32
	kTimestamp
)

var (
	errNotInt   = errors.New("not an integer")
	errIntRange = errors.New("integer out of range for the column type")
	errNotFloat = errors.New("not a number")
	errNotBool  = errors.New("not a boolean (want true/false/1/0)")
)

// csvKind returns how to read a column of type t, or an error when CSV input
// cannot produce it.
func csvKind(t arrow.DataType) (colKind, error) {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return kInt, nil
	case arrow.FLOAT32, arrow.FLOAT64:
		return kFloat, nil
	case arrow.BOOL:
		return kBool, nil
	case arrow.STRING, arrow.LARGE_STRING:
		return kString, nil
	case arrow.DATE32:
		return kDate32, nil
	case arrow.TIMESTAMP:
		return kTimestamp, nil
	}
	return 0, fmt.Errorf("%w: CSV cannot produce columns of type %s (use int*, uint*, float*, bool, string, date32 or timestamp)", ErrSchema, t)
}

// csvCol accumulates one column of one chunk. Its slices are reused from
// chunk to chunk by the worker that owns it; finish copies them into Arrow
// buffers of the exact size.
type csvCol struct {
	kind   colKind
	typ    arrow.DataType
	min    int64 // integer range of typ
	max    int64
	umax   uint64 // for unsigned
	signed bool
	f32    bool
	unit   arrow.TimeUnit
	ts     *tsParser
	// The date of the last ISO timestamp and its day number: timestamps in
	// files tend to come in runs of one day.
	lastDate [10]byte
	lastDays int64
	n        int
	nulls    int
	hasNull  bool
	valid    []byte
	i64      []int64
	f64      []float64
	bits     []byte // bool values
	offs     []int32
	data     []byte
}

func newCSVCol(t arrow.DataType, ts *tsParser) (*csvCol, error) {
	k, err := csvKind(t)
	if err != nil {
		return nil, err
	}
	c := &csvCol{kind: k, typ: t, ts: ts, signed: true}
	switch t.ID() {
	case arrow.INT8:
		c.min, c.max = math.MinInt8, math.MaxInt8
	case arrow.INT16:
		c.min, c.max = math.MinInt16, math.MaxInt16
	case arrow.INT32:
		c.min, c.max = math.MinInt32, math.MaxInt32
	case arrow.INT64:
		c.min, c.max = math.MinInt64, math.MaxInt64
	case arrow.UINT8:
		c.signed, c.umax = false, math.MaxUint8
	case arrow.UINT16:
		c.signed, c.umax = false, math.MaxUint16
	case arrow.UINT32:
		c.signed, c.umax = false, math.MaxUint32
	case arrow.UINT64:
		c.signed, c.umax = false, math.MaxUint64
	case arrow.FLOAT32:
		c.f32 = true
	case arrow.TIMESTAMP:
		c.unit = t.(*arrow.TimestampType).Unit
	}
	return c, nil
}

func (c *csvCol) reset(capRows int) {
	c.n, c.nulls, c.hasNull = 0, 0, false
	c.valid = c.valid[:0]
	switch c.kind {
	case kInt, kDate32, kTimestamp:
		c.i64 = growTo(c.i64, capRows)
	case kFloat:
		c.f64 = growTo(c.f64, capRows)
	case kBool:
		c.bits = c.bits[:0]
	case kString:
		c.offs = append(growTo(c.offs, capRows+1), 0)
		c.data = c.data[:0]
	}
}

func growTo[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, 0, n)
	}
	return s[:0]
}

// setValid records row c.n as valid once a null has been seen.
func (c *csvCol) setValid() {
	if c.hasNull {
		i := c.n
		if i>>3 >= len(c.valid) {
			c.valid = append(c.valid, 0)
		}
		c.valid[i>>3] |= 1 << (i & 7)
	}
}

func (c *csvCol) appendNull() {
	if !c.hasNull {
		c.hasNull = true
		nb := (c.n >> 3) + 1
		c.valid = c.valid[:0]
		for range nb {
			c.valid = append(c.valid, 0xff)
		}
		// clear the bits at and after row n in the last byte
		c.valid[nb-1] &= byte(1<<(c.n&7)) - 1
	} else if c.n>>3 >= len(c.valid) {
		c.valid = append(c.valid, 0)
	}
	c.nulls++
	switch c.kind {
	case kInt, kDate32, kTimestamp:
		c.i64 = append(c.i64, 0)
	case kFloat:
		c.f64 = append(c.f64, 0)
	case kBool:
		c.appendBit(false)
	case kString:
		c.offs = append(c.offs, int32(len(c.data)))
	}
	c.n++
}

func (c *csvCol) appendBit(v bool) {
	if c.n>>3 >= len(c.bits) {
		c.bits = append(c.bits, 0)
	}
	if v {
		c.bits[c.n>>3] |= 1 << (c.n & 7)
	}
}

// trimSpace trims ASCII blanks around numbers, dates and booleans.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// parseInt parses a decimal integer with an optional sign.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, errNotInt
	}
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		if len(b) > 19 {
			return parseIntSlow(b, neg)
		}
		return 0, errNotInt
	}
	var v uint64
	for _, ch := range b {
		d := ch - '0'
		if d > 9 {
			return 0, errNotInt
		}
		v = v*10 + uint64(d)
	}
	if neg {
		if v > 1<<63 {
			return 0, errIntRange
		}
		return -int64(v), nil
	}
	if v > math.MaxInt64 {
		return 0, errIntRange
	}
	return int64(v), nil
}

// parseIntSlow handles long digit strings (leading zeros, overflow).
func parseIntSlow(b []byte, neg bool) (int64, error) {
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	for _, ch := range b {
		if ch-'0' > 9 {
			return 0, errNotInt
		}
	}
	if len(b) > 19 {
		return 0, errIntRange
	}
	if neg {
		return parseInt(append([]byte{'-'}, b...))
	}
	return parseInt(b)
}

func parseUint(b []byte) (uint64, error) {
	if len(b) > 0 && b[0] == '+' {
		b = b[1:]
	}
	v, err := strconv.ParseUint(unsafe.String(unsafe.SliceData(b), len(b)), 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, errIntRange
		}
		return 0, errNotInt
	}
	return v, nil
}

func parseBool(b []byte) (bool, bool) {
	switch len(b) {
	case 1:
		switch b[0] {
		case '1', 't', 'T':
			return true, true
		case '0', 'f', 'F':
			return false, true
		}
	case 4:
		if (b[0]|0x20) == 't' && (b[1]|0x20) == 'r' && (b[2]|0x20) == 'u' && (b[3]|0x20) == 'e' {
			return true, true
		}
	case 5:
		if (b[0]|0x20) == 'f' && (b[1]|0x20) == 'a' && (b[2]|0x20) == 'l' && (b[3]|0x20) == 's' && (b[4]|0x20) == 'e' {
			return false, true
		}
	}
	return false, false
}

func parseFloat(b []byte) (float64, error) {
	v, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errNotFloat
	}
	return v, nil
}

// append converts one non-null field and appends it.
func (c *csvCol) append(field []byte) error {
	switch c.kind {
	case kString:
		c.data = append(c.data, field...)
		if len(c.data) > math.MaxInt32 {
			return fmt.Errorf("%w: more than 2 GiB of text in one batch; lower BatchRows", ErrTooLarge)
		}
		c.setValid()
		c.offs = append(c.offs, int32(len(c.data)))
	case kInt:
		field = trimSpace(field)
		var v int64
		if c.signed {
			var err error
			if v, err = parseInt(field); err != nil {
				return err
			}
			if v < c.min || v > c.max {
				return errIntRange
			}
		} else {
			u, err := parseUint(field)
			if err != nil {
				return err
			}
			if u > c.umax {
				return errIntRange
			}
			v = int64(u)
		}
		c.setValid()
		c.i64 = append(c.i64, v)
	case kFloat:
		v, err := parseFloat(trimSpace(field))
		if err != nil {
			return err
		}
		c.setValid()
		c.f64 = append(c.f64, v)
	case kBool:
		v, ok := parseBool(trimSpace(field))
		if !ok {
			return errNotBool
		}
		c.setValid()
		c.appendBit(v)
	case kDate32:
		field = trimSpace(field)
		d, ok := parseISODate(field)
		if !ok || len(field) != 10 {
			return errNotDate
		}
		c.setValid()
		c.i64 = append(c.i64, d)
	case kTimestamp:
		sec, nsec, ok := c.parseTimestamp(trimSpace(field))
		if !ok {
			return errNotTimestamp
		}
		v, ok := toUnit(sec, nsec, c.unit)
		if !ok {
			return errTSRange
		}
		c.setValid()
		c.i64 = append(c.i64, v)
	}
	c.n++
	return nil
}

func (c *csvCol) parseTimestamp(b []byte) (int64, int64, bool) {
	if len(b) >= 10 && c.lastDate[4] == '-' && [10]byte(b[:10]) == c.lastDate {
		if sec, nsec, _, ok := isoTimeOfDay(b, c.lastDays); ok {
			return sec, nsec, true
		}
	}
	if days, ok := parseISODate(b); ok {
		c.lastDate, c.lastDays = [10]byte(b[:10]), days
		if sec, nsec, _, ok := isoTimeOfDay(b, days); ok {
			return sec, nsec, true
		}
	}
	sec, nsec, _, ok := c.ts.parse(b)
	return sec, nsec, ok
}

// finish builds the column's Arrow array from what was appended.
func (c *csvCol) finish(mem memory.Allocator) arrow.Array {
	var valid *memory.Buffer
	if c.hasNull {
		valid = newBuffer(mem, c.valid[:bitutil.BytesForBits(int64(c.n))])
	}
	var bufs []*memory.Buffer
	switch c.kind {
	case kInt, kDate32, kTimestamp:
		bufs = []*memory.Buffer{valid, c.intValues(mem)}
	case kFloat:
		if c.f32 {
			b := memory.NewResizableBuffer(mem)
			b.Resize(c.n * 4)
			out := arrow.Float32Traits.CastFromBytes(b.Bytes())
			for i, v := range c.f64[:c.n] {
				out[i] = float32(v)
			}
			bufs = []*memory.Buffer{valid, b}
		} else {
			bufs = []*memory.Buffer{valid, newBuffer(mem, arrow.Float64Traits.CastToBytes(c.f64[:c.n]))}
		}
	case kBool:
		bits := c.bits
		for len(bits) < int(bitutil.BytesForBits(int64(c.n))) {
			bits = append(bits, 0)
		}
		c.bits = bits
		bufs = []*memory.Buffer{valid, newBuffer(mem, bits[:bitutil.BytesForBits(int64(c.n))])}
	case kString:
		if c.typ.ID() == arrow.LARGE_STRING {
			b := memory.NewResizableBuffer(mem)
			b.Resize((c.n + 1) * 8)
			out := arrow.Int64Traits.CastFromBytes(b.Bytes())
			for i, v := range c.offs[:c.n+1] {
				out[i] = int64(v)
			}
			bufs = []*memory.Buffer{valid, b, newBuffer(mem, c.data)}
		} else {
			bufs = []*memory.Buffer{valid, newBuffer(mem, arrow.Int32Traits.CastToBytes(c.offs[:c.n+1])), newBuffer(mem, c.data)}
		}
	}
	data := array.NewData(c.typ, c.n, bufs, nil, c.nulls, 0)
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}

// intValues narrows the int64 scratch to the column's width.
func (c *csvCol) intValues(mem memory.Allocator) *memory.Buffer {
	vals := c.i64[:c.n]
	width := 8
	switch c.typ.ID() {
	case arrow.INT8, arrow.UINT8:
		width = 1
	case arrow.INT16, arrow.UINT16:
		width = 2
	case arrow.INT32, arrow.UINT32, arrow.DATE32:
		width = 4
	}
	if width == 8 {
		return newBuffer(mem, arrow.Int64Traits.CastToBytes(vals))
	}
	b := memory.NewResizableBuffer(mem)
	b.Resize(len(vals) * width)
	out := b.Bytes()
	switch width {
	case 1:
		for i, v := range vals {
			out[i] = byte(v)
		}
	case 2:
		o := arrow.Uint16Traits.CastFromBytes(out)
		for i, v := range vals {
			o[i] = uint16(v)
		}
	case 4:
		o := arrow.Uint32Traits.CastFromBytes(out)
		for i, v := range vals {
			o[i] = uint32(v)
		}
	}
	return b
}

// newBuffer copies b into a buffer from mem.
func newBuffer(mem memory.Allocator, b []byte) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(b))
	copy(buf.Bytes(), b)
	return buf
}
