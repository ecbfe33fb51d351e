package pipeline

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// SinkFor returns the file sink that the extension of path names, with
// default options:
//
//	.parquet .pq            ToParquet
//	.arrow .ipc .feather    ToArrow (IPC file format)
//	.csv                    ToCSV
//	.tsv                    ToCSV with a tab delimiter
//	.ndjson .jsonl          ToNDJSON
//
// CSV, TSV and NDJSON paths may end in .gz or .zst as well; the output is
// then compressed. Any other extension is an error that lists these.
func SinkFor(path string) (Sink, error) {
	base := strings.ToLower(filepath.Ext(stripCompression(path)))
	zipped := compression(path) != ""
	switch base {
	case ".parquet", ".pq":
		if !zipped {
			return ToParquet(path, ParquetWriteOptions{}), nil
		}
	case ".arrow", ".ipc", ".feather":
		if !zipped {
			return ToArrow(path, ArrowWriteOptions{}), nil
		}
	case ".csv":
		return ToCSV(path, CSVWriteOptions{}), nil
	case ".tsv":
		return ToCSV(path, CSVWriteOptions{Delimiter: '\t'}), nil
	case ".ndjson", ".jsonl":
		return ToNDJSON(path, NDJSONWriteOptions{}), nil
	}
	return nil, fmt.Errorf("pipeline: no sink for %q: supported extensions are .parquet .pq .arrow .ipc .feather .csv .tsv .ndjson .jsonl "+
		"(.csv, .tsv, .ndjson and .jsonl may end in .gz or .zst)", path)
}

// Sink states.
const (
	sinkNew = iota
	sinkOpen
	sinkFailed // Open, Write or Commit failed and released everything
	sinkCommitted
	sinkAborted
)

// sinkLife tracks the state shared by every sink and checks calls against
// it: Open once, Write only while open, then one Commit or Abort. A sink
// whose Open, Write or Commit fails releases its resources (and removes its
// temporary file) at once and is left in sinkFailed, where only Abort is of
// use.
type sinkLife struct {
	kind   string // "parquet sink", used in errors
	name   string // destination, used in errors
	state  int
	err    error // the failure that put the sink in sinkFailed
	schema *arrow.Schema
}

// errorf returns an error prefixed with the sink's kind and destination.
func (l *sinkLife) errorf(format string, args ...any) error {
	return fmt.Errorf("pipeline: %s %s: "+format, append([]any{l.kind, l.name}, args...)...)
}

// beginOpen checks that the sink can be opened.
func (l *sinkLife) beginOpen(ctx context.Context, schema *arrow.Schema) error {
	if l.state != sinkNew {
		return l.errorf("Open called twice or after Commit/Abort: %w", ErrClosed)
	}
	if schema == nil {
		return l.errorf("nil schema: %w", ErrSchema)
	}
	return ctx.Err()
}

// opened records a successful Open.
func (l *sinkLife) opened(schema *arrow.Schema) {
	l.state = sinkOpen
	l.schema = schema
}

// failed records a failure after which the sink has released everything.
func (l *sinkLife) failed(err error) error {
	l.state = sinkFailed
	l.err = err
	return err
}

// beginWrite checks that batch may be written now. An error from it means
// nothing was written and the sink is unchanged.
func (l *sinkLife) beginWrite(ctx context.Context, batch arrow.RecordBatch) error {
	switch l.state {
	case sinkNew:
		return l.errorf("Write before Open: %w", ErrClosed)
	case sinkFailed:
		return l.errorf("Write after a failure: %w: %w", ErrClosed, l.err)
	case sinkCommitted, sinkAborted:
		return l.errorf("Write after Commit or Abort: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if batch == nil {
		return l.errorf("nil batch")
	}
	if err := checkSinkBatch(l.schema, batch); err != nil {
		return l.errorf("%w", err)
	}
	return nil
}

// beginCommit checks that the sink can be committed. When it returns an
// error and the state is still sinkOpen, the context was cancelled and the
// sink must release everything.
func (l *sinkLife) beginCommit(ctx context.Context) error {
	switch l.state {
	case sinkNew:
		return l.errorf("Commit before Open: %w", ErrClosed)
	case sinkFailed:
		return l.errorf("Commit after a failure: %w: %w", ErrClosed, l.err)
	case sinkCommitted, sinkAborted:
		return l.errorf("Commit after Commit or Abort: %w", ErrClosed)
	}
	return ctx.Err()
}

// beginAbort moves the sink to sinkAborted and reports whether it holds
// resources to release; aborting a committed sink is an error.
func (l *sinkLife) beginAbort() (bool, error) {
	switch l.state {
	case sinkCommitted:
		return false, l.errorf("Abort after Commit: %w", ErrClosed)
	case sinkOpen:
		l.state = sinkAborted
		return true, nil
	}
	l.state = sinkAborted
	return false, nil
}

// recoverEncoder turns a panic in an encoder (arrow-go's or the sink's own,
// on arrays whose buffers contradict each other) into an error.
func recoverEncoder(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s panicked: %v", what, r)
	}
}

// checkSinkBatch reports how batch differs from the schema a sink was opened
// with. Field names and types must match; field metadata is ignored; a
// column of a non-nullable field must hold no nulls.
func checkSinkBatch(want *arrow.Schema, batch arrow.RecordBatch) error {
	got := batch.Schema()
	if got != want && !got.Equal(want) {
		if d := sinkSchemaDiff(want, got); d != "" {
			return fmt.Errorf("%w: batch schema differs from the opened schema: %s", ErrSchema, d)
		}
	}
	for i, f := range want.Fields() {
		if !f.Nullable {
			if n := batch.Column(i).NullN(); n > 0 {
				return fmt.Errorf("%w: column %q is not nullable but the batch holds %d nulls", ErrSchema, f.Name, n)
			}
		}
	}
	return nil
}

// sinkSchemaDiff describes how got differs from want in names or types, or
// returns "" when they agree.
func sinkSchemaDiff(want, got *arrow.Schema) string {
	var diffs []string
	if want.NumFields() != got.NumFields() {
		diffs = append(diffs, fmt.Sprintf("%d columns, want %d", got.NumFields(), want.NumFields()))
	}
	for i := range min(want.NumFields(), got.NumFields()) {
		w, g := want.Field(i), got.Field(i)
		switch {
		case w.Name != g.Name:
			diffs = append(diffs, fmt.Sprintf("column %d is %q %s, want %q %s", i+1, g.Name, g.Type, w.Name, w.Type))
		case !arrow.TypeEqual(w.Type, g.Type):
			diffs = append(diffs, fmt.Sprintf("column %q is %s, want %s", w.Name, g.Type, w.Type))
		}
		if len(diffs) >= 5 {
			diffs = append(diffs, "…")
			break
		}
	}
	return strings.Join(diffs, "; ")
}

// atomicFile is a temporary file beside a destination that is renamed over
// the destination on commit and removed on abort.
type atomicFile struct {
	f    *os.File
	tmp  string
	path string
}

// createAtomicFile creates ".NAME.kiln-tmp-XXXX" in the directory of path. The
// directory must exist.
func createAtomicFile(path string) (*atomicFile, error) {
	if path == "" {
		return nil, errors.New("empty path")
	}
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("%s names a directory, not a file", path)
	}
	if dir == "" {
		dir = "."
	}
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("directory %s does not exist: %w", dir, err)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".kiln-tmp-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{f: f, tmp: f.Name(), path: path}, nil
}

// commit syncs the temporary file, gives it the destination's mode (or 0644
// for a new file) and renames it over the destination. On failure the
// temporary file is removed.
func (a *atomicFile) commit() error {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(a.path); err == nil && st.Mode().IsRegular() {
		mode = st.Mode().Perm()
	}
	err := a.f.Chmod(mode)
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	a.f = nil
	if err == nil {
		err = os.Rename(a.tmp, a.path)
	}
	if err != nil {
		os.Remove(a.tmp)
		return err
	}
	syncSinkDir(filepath.Dir(a.path))
	return nil
}

// abort closes and removes the temporary file.
func (a *atomicFile) abort() error {
	var err error
	if a.f != nil {
		err = a.f.Close()
		a.f = nil
	}
	if rerr := os.Remove(a.tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	return err
}

// syncSinkDir makes a rename durable where the platform allows it; failure is
// not reported since the rename itself has succeeded.
func syncSinkDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// sinkOutput is where a sink writes bytes: a temporary file (atomic, for the
// path sinks) or a caller's writer, through a 1 MiB buffer and, for paths
// ending in .gz or .zst, a compressor.
// writeTextRows writes the rows of a batch as text, for the CSV and NDJSON sinks.
// It binds each column to its format in bound, appends each row to buf with
// row, and hands the text to w in pieces of about 256 KiB, checking ctx
// between pieces. It returns buf emptied for reuse and leaves bound holding
// no reference to the batch.
func writeTextRows(ctx context.Context, w io.Writer, buf []byte, bound *[]textValues, formats []textFormat,
	batch arrow.RecordBatch, row func(b []byte, r int) []byte) ([]byte, error) {
	const flushAt = 256 << 10
	*bound = (*bound)[:0]
	for i, f := range formats {
		*bound = append(*bound, f.bind(batch.Column(i)))
	}
	defer clear(*bound)
	b := buf[:0]
	for r := range int(batch.NumRows()) {
		b = row(b, r)
		if len(b) >= flushAt {
			if _, err := w.Write(b); err != nil {
				return b[:0], err
			}
			b = b[:0]
			if err := ctx.Err(); err != nil {
				return b, err
			}
		}
	}
	_, err := w.Write(b)
	return b[:0], err
}

type sinkOutput struct {
	w      io.Writer // what the sink writes to
	buf    *bufio.Writer
	zw     io.WriteCloser // compressor between w and buf, if any
	atomic *atomicFile    // nil for a caller's writer
}

// createSinkOutput opens a temporary file for path, compressing when compress
// is set and the path ends in .gz or .zst.
func createSinkOutput(path string, compress bool) (*sinkOutput, error) {
	af, err := createAtomicFile(path)
	if err != nil {
		return nil, err
	}
	o := &sinkOutput{atomic: af, buf: bufio.NewWriterSize(af.f, 1<<20)}
	o.w = o.buf
	if compress {
		switch compression(path) {
		case "gzip":
			o.zw = gzip.NewWriter(o.buf)
		case "zstd":
			zw, err := zstd.NewWriter(o.buf)
			if err != nil {
				af.abort()
				return nil, err
			}
			o.zw = zw
		}
		if o.zw != nil {
			o.w = o.zw
		}
	}
	return o, nil
}

// newWriterOutput wraps a caller's writer in a 1 MiB buffer.
func newWriterOutput(w io.Writer) *sinkOutput {
	o := &sinkOutput{buf: bufio.NewWriterSize(w, 1<<20)}
	o.w = o.buf
	return o
}

// commit flushes everything and, for a file, renames it into place.
func (o *sinkOutput) commit() error {
	var err error
	if o.zw != nil {
		err = o.zw.Close()
		o.zw = nil
	}
	if err == nil {
		err = o.buf.Flush()
	}
	if o.atomic == nil {
		return err
	}
	if err != nil {
		o.atomic.abort()
		return err
	}
	return o.atomic.commit()
}

// abort discards the output: a file's temporary name is removed; what was
// already flushed to a caller's writer stays there.
func (o *sinkOutput) abort() error {
	if o.zw != nil {
		if zw, ok := o.zw.(*zstd.Encoder); ok {
			zw.Reset(io.Discard) // stop its goroutines without writing
		}
		o.zw.Close()
		o.zw = nil
	}
	o.buf.Reset(io.Discard)
	if o.atomic != nil {
		return o.atomic.abort()
	}
	return nil
}

// Text forms of values, shared by the CSV and NDJSON sinks. Formatting is
// done by hand with strconv.Append*: time.Format and fmt cost several times
// more per value and dominate exports of large tables.

// textValues formats the values of one array.
type textValues struct {
	hasNulls bool             // whether isNull can be true anywhere
	isNull   func(i int) bool // logical null (dictionary values included)
	app      func(b []byte, i int) []byte
}

// textFormat formats the values of one column.
type textFormat struct {
	bind func(arr arrow.Array) textValues
	// plain lists every byte that the text of a value can hold. "" means
	// free text: the CSV sink must check each value for quoting.
	plain string
}

// Byte sets of the values that are not free text.
const (
	textIntBytes    = "-0123456789"
	textFloatBytes  = "+-.0123456789eEInfNa"
	textBoolBytes   = "truefals"
	textTimeBytes   = "+-.:0123456789 TZ"
	textBase64Bytes = "+/=0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// textValidity returns the textValues of arr with its null bitmap and app.
func textValidity(arr arrow.Array, app func(b []byte, i int) []byte) textValues {
	return textValues{hasNulls: arr.NullN() > 0, isNull: arr.IsNull, app: app}
}

func signedText[T ~int8 | ~int16 | ~int32 | ~int64](arr arrow.Array) textValues {
	v := arr.(interface{ Values() []T }).Values()
	return textValidity(arr, func(b []byte, i int) []byte { return strconv.AppendInt(b, int64(v[i]), 10) })
}

func unsignedText[T ~uint8 | ~uint16 | ~uint32 | ~uint64](arr arrow.Array) textValues {
	v := arr.(interface{ Values() []T }).Values()
	return textValidity(arr, func(b []byte, i int) []byte { return strconv.AppendUint(b, uint64(v[i]), 10) })
}

// decimalText formats decimal values with the digits of their scale.
func decimalText[T interface{ ToString(int32) string }](v []T, scale int32) func(b []byte, i int) []byte {
	return func(b []byte, i int) []byte { return append(b, v[i].ToString(scale)...) }
}

// appendTextFloat writes f in the shortest form that reads back exactly; in
// JSON, NaN and infinities (which JSON cannot hold) become null.
func appendTextFloat(b []byte, f float64, bits int, json bool) []byte {
	if json && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// textQuoted wraps a formatter's output in JSON quotes (for text that never
// needs escaping: dates, times, base64).
func textQuoted(app func(b []byte, i int) []byte) func(b []byte, i int) []byte {
	return func(b []byte, i int) []byte {
		b = append(b, '"')
		b = app(b, i)
		return append(b, '"')
	}
}

// newTextFormat returns the text form of values of type dt, as CSV fields
// or, when json is set, as JSON values. Nested types are only accepted for
// JSON.
func newTextFormat(dt arrow.DataType, json bool) (textFormat, error) {
	q := func(f textFormat) textFormat {
		if json {
			bind := f.bind
			f.bind = func(arr arrow.Array) textValues {
				tv := bind(arr)
				tv.app = textQuoted(tv.app)
				return tv
			}
		}
		return f
	}
	switch dt := dt.(type) {
	case *arrow.NullType:
		return textFormat{plain: "-", bind: func(arr arrow.Array) textValues {
			return textValues{hasNulls: true, isNull: func(int) bool { return true }, app: func(b []byte, _ int) []byte { return b }}
		}}, nil
	case *arrow.BooleanType:
		return textFormat{plain: textBoolBytes, bind: func(arr arrow.Array) textValues {
			a := arr.(*array.Boolean)
			return textValidity(arr, func(b []byte, i int) []byte { return strconv.AppendBool(b, a.Value(i)) })
		}}, nil
	case *arrow.Int8Type:
		return textFormat{plain: textIntBytes, bind: signedText[int8]}, nil
	case *arrow.Int16Type:
		return textFormat{plain: textIntBytes, bind: signedText[int16]}, nil
	case *arrow.Int32Type:
		return textFormat{plain: textIntBytes, bind: signedText[int32]}, nil
	case *arrow.Int64Type:
		return textFormat{plain: textIntBytes, bind: signedText[int64]}, nil
	case *arrow.Uint8Type:
		return textFormat{plain: textIntBytes, bind: unsignedText[uint8]}, nil
	case *arrow.Uint16Type:
		return textFormat{plain: textIntBytes, bind: unsignedText[uint16]}, nil
	case *arrow.Uint32Type:
		return textFormat{plain: textIntBytes, bind: unsignedText[uint32]}, nil
	case *arrow.Uint64Type:
		return textFormat{plain: textIntBytes, bind: unsignedText[uint64]}, nil
	case *arrow.DurationType:
		// A duration is written as its count of the type's unit.
		return textFormat{plain: textIntBytes, bind: signedText[arrow.Duration]}, nil
	case *arrow.Float16Type:
		return textFormat{plain: textFloatBytes, bind: func(arr arrow.Array) textValues {
			a := arr.(*array.Float16)
			return textValidity(arr, func(b []byte, i int) []byte { return appendTextFloat(b, float64(a.Value(i).Float32()), 32, json) })
		}}, nil
	case *arrow.Float32Type:
		return textFormat{plain: textFloatBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Float32).Values()
			return textValidity(arr, func(b []byte, i int) []byte { return appendTextFloat(b, float64(v[i]), 32, json) })
		}}, nil
	case *arrow.Float64Type:
		return textFormat{plain: textFloatBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Float64).Values()
			return textValidity(arr, func(b []byte, i int) []byte { return appendTextFloat(b, v[i], 64, json) })
		}}, nil
	case *arrow.StringType:
		return textFormat{bind: func(arr arrow.Array) textValues {
			a := arr.(*array.String)
			if json {
				return textValidity(arr, func(b []byte, i int) []byte { return appendJSONText(b, a.Value(i)) })
			}
			return textValidity(arr, func(b []byte, i int) []byte { return append(b, a.Value(i)...) })
		}}, nil
	case *arrow.LargeStringType, *arrow.StringViewType:
		return textFormat{bind: func(arr arrow.Array) textValues {
			a := arr.(array.StringLike)
			if json {
				return textValidity(arr, func(b []byte, i int) []byte { return appendJSONText(b, a.Value(i)) })
			}
			return textValidity(arr, func(b []byte, i int) []byte { return append(b, a.Value(i)...) })
		}}, nil
	case *arrow.BinaryType, *arrow.LargeBinaryType, *arrow.BinaryViewType, *arrow.FixedSizeBinaryType:
		// Bytes are written in standard base64 (RFC 4648, padded).
		return q(textFormat{plain: textBase64Bytes, bind: func(arr arrow.Array) textValues {
			a := arr.(interface{ Value(int) []byte })
			return textValidity(arr, func(b []byte, i int) []byte { return base64.StdEncoding.AppendEncode(b, a.Value(i)) })
		}}), nil
	case *arrow.Date32Type:
		var cache dateCache
		return q(textFormat{plain: textTimeBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Date32).Values()
			return textValidity(arr, func(b []byte, i int) []byte { return cache.append(b, int64(v[i])) })
		}}), nil
	case *arrow.Date64Type:
		return q(textFormat{plain: textTimeBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Date64).Values()
			return textValidity(arr, func(b []byte, i int) []byte {
				days, _ := textDivMod(int64(v[i]), 86_400_000)
				return appendTextDate(b, days)
			})
		}}), nil
	case *arrow.Time32Type:
		per, digits := textUnitScale(dt.Unit)
		return q(textFormat{plain: textTimeBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Time32).Values()
			return textValidity(arr, func(b []byte, i int) []byte { return appendTextTimeOfDay(b, int64(v[i]), per, digits) })
		}}), nil
	case *arrow.Time64Type:
		per, digits := textUnitScale(dt.Unit)
		return q(textFormat{plain: textTimeBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Time64).Values()
			return textValidity(arr, func(b []byte, i int) []byte { return appendTextTimeOfDay(b, int64(v[i]), per, digits) })
		}}), nil
	case *arrow.TimestampType:
		f, err := newTimestampText(dt, json)
		if err != nil {
			return textFormat{}, err
		}
		return q(textFormat{plain: textTimeBytes, bind: func(arr arrow.Array) textValues {
			v := arr.(*array.Timestamp).Values()
			return textValidity(arr, func(b []byte, i int) []byte { return f.append(b, int64(v[i])) })
		}}), nil
	case arrow.DecimalType:
		// Decimals are written exactly, with all the digits of their scale,
		// as numbers in JSON too.
		scale := dt.GetScale()
		return textFormat{plain: "+-.0123456789eE", bind: func(arr arrow.Array) textValues {
			switch a := arr.(type) {
			case *array.Decimal32:
				return textValidity(arr, decimalText(a.Values(), scale))
			case *array.Decimal64:
				return textValidity(arr, decimalText(a.Values(), scale))
			case *array.Decimal128:
				return textValidity(arr, decimalText(a.Values(), scale))
			case *array.Decimal256:
				return textValidity(arr, decimalText(a.Values(), scale))
			}
			return textValidity(arr, func(b []byte, i int) []byte { return append(b, arr.ValueStr(i)...) })
		}}, nil
	case *arrow.DictionaryType:
		inner, err := newTextFormat(dt.ValueType, json)
		if err != nil {
			return textFormat{}, err
		}
		return textFormat{plain: inner.plain, bind: func(arr arrow.Array) textValues {
			d := arr.(*array.Dictionary)
			iv := inner.bind(d.Dictionary())
			tv := textValues{hasNulls: d.NullN() > 0 || iv.hasNulls, isNull: d.IsNull,
				app: func(b []byte, i int) []byte { return iv.app(b, d.GetValueIndex(i)) }}
			if iv.hasNulls {
				tv.isNull = func(i int) bool { return d.IsNull(i) || iv.isNull(d.GetValueIndex(i)) }
			}
			return tv
		}}, nil
	case arrow.ExtensionType:
		inner, err := newTextFormat(dt.StorageType(), json)
		if err != nil {
			return textFormat{}, err
		}
		return textFormat{plain: inner.plain, bind: func(arr arrow.Array) textValues {
			return inner.bind(arr.(array.ExtensionArray).Storage())
		}}, nil
	}
	if json {
		return newJSONNestedFormat(dt)
	}
	switch dt.ID() {
	case arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO:
		return textFormat{bind: func(arr arrow.Array) textValues {
			return textValidity(arr, func(b []byte, i int) []byte { return append(b, arr.ValueStr(i)...) })
		}}, nil
	}
	return textFormat{}, fmt.Errorf("%w: type %s cannot be written as CSV", ErrSchema, dt)
}

// newJSONNestedFormat formats lists as JSON arrays, structs as objects, maps
// with string keys as objects and intervals as strings.
func newJSONNestedFormat(dt arrow.DataType) (textFormat, error) {
	switch dt := dt.(type) {
	case *arrow.MapType:
		switch dt.KeyType().ID() {
		case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW:
		default:
			return textFormat{}, fmt.Errorf("%w: map with %s keys cannot be written as a JSON object", ErrSchema, dt.KeyType())
		}
		keys, err := newTextFormat(dt.KeyType(), true)
		if err != nil {
			return textFormat{}, err
		}
		items, err := newTextFormat(dt.ItemType(), true)
		if err != nil {
			return textFormat{}, err
		}
		return textFormat{bind: func(arr arrow.Array) textValues {
			m := arr.(*array.Map)
			kv, iv := keys.bind(m.Keys()), items.bind(m.Items())
			return textValidity(arr, func(b []byte, i int) []byte {
				start, end := m.ValueOffsets(i)
				b = append(b, '{')
				for j := int(start); j < int(end); j++ {
					if j > int(start) {
						b = append(b, ',')
					}
					b = kv.app(b, j)
					b = append(b, ':')
					b = appendJSONTextValue(b, iv, j)
				}
				return append(b, '}')
			})
		}}, nil
	case arrow.ListLikeType:
		elems, err := newTextFormat(dt.Elem(), true)
		if err != nil {
			return textFormat{}, err
		}
		return textFormat{bind: func(arr arrow.Array) textValues {
			l := arr.(array.ListLike)
			ev := elems.bind(l.ListValues())
			return textValidity(arr, func(b []byte, i int) []byte {
				start, end := l.ValueOffsets(i)
				b = append(b, '[')
				for j := int(start); j < int(end); j++ {
					if j > int(start) {
						b = append(b, ',')
					}
					b = appendJSONTextValue(b, ev, j)
				}
				return append(b, ']')
			})
		}}, nil
	case *arrow.StructType:
		fields := make([]textFormat, dt.NumFields())
		keys := make([]string, dt.NumFields())
		for k, f := range dt.Fields() {
			var err error
			if fields[k], err = newTextFormat(f.Type, true); err != nil {
				return textFormat{}, fmt.Errorf("field %q: %w", f.Name, err)
			}
			keys[k] = string(appendJSONText(nil, f.Name)) + ":"
		}
		return textFormat{bind: func(arr arrow.Array) textValues {
			s := arr.(*array.Struct)
			fv := make([]textValues, len(fields))
			for k := range fields {
				fv[k] = fields[k].bind(s.Field(k))
			}
			return textValidity(arr, func(b []byte, i int) []byte {
				b = append(b, '{')
				for k := range fv {
					if k > 0 {
						b = append(b, ',')
					}
					b = append(b, keys[k]...)
					b = appendJSONTextValue(b, fv[k], i)
				}
				return append(b, '}')
			})
		}}, nil
	}
	switch dt.ID() {
	case arrow.INTERVAL_MONTHS, arrow.INTERVAL_DAY_TIME, arrow.INTERVAL_MONTH_DAY_NANO:
		return textFormat{bind: func(arr arrow.Array) textValues {
			return textValidity(arr, func(b []byte, i int) []byte { return appendJSONText(b, arr.ValueStr(i)) })
		}}, nil
	}
	return textFormat{}, fmt.Errorf("%w: type %s cannot be written as JSON", ErrSchema, dt)
}

// appendJSONTextValue writes value i of tv, or null.
func appendJSONTextValue(b []byte, tv textValues, i int) []byte {
	if tv.hasNulls && tv.isNull(i) {
		return append(b, "null"...)
	}
	return tv.app(b, i)
}

// textUnitScale returns the number of a unit's ticks per second and the digits
// of its fraction.
func textUnitScale(u arrow.TimeUnit) (int64, int) {
	switch u {
	case arrow.Millisecond:
		return 1e3, 3
	case arrow.Microsecond:
		return 1e6, 6
	case arrow.Nanosecond:
		return 1e9, 9
	}
	return 1, 0
}

// textDivMod divides rounding toward negative infinity, so that the
// remainder is never negative.
func textDivMod(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// textCivil converts days since 1970-01-01 to a proleptic Gregorian
// date (H. Hinnant's algorithm, the inverse of daysFromCivil).
func textCivil(z int64) (y, m, d int64) {
	z += 719468
	era, doe := textDivMod(z, 146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func textAppend2(b []byte, v int64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

// appendTextDate writes days since the epoch as YYYY-MM-DD. Years outside
// 0..9999 get a sign or more digits.
func appendTextDate(b []byte, days int64) []byte {
	y, m, d := textCivil(days)
	switch {
	case y >= 0 && y <= 9999:
		b = textAppend2(b, y/100)
		b = textAppend2(b, y%100)
	case y < 0 && y > -10000:
		b = append(b, '-')
		b = textAppend2(b, -y/100)
		b = textAppend2(b, -y%100)
	default:
		b = strconv.AppendInt(b, y, 10)
	}
	b = append(b, '-')
	b = textAppend2(b, m)
	b = append(b, '-')
	return textAppend2(b, d)
}

// appendTextClock writes seconds since midnight as hh:mm:ss (hh may exceed 23
// for a time of day out of range).
func appendTextClock(b []byte, s int64) []byte {
	h := s / 3600
	if h < 100 {
		b = textAppend2(b, h)
	} else {
		b = strconv.AppendInt(b, h, 10)
	}
	b = append(b, ':')
	b = textAppend2(b, s/60%60)
	b = append(b, ':')
	return textAppend2(b, s%60)
}

// appendTextFrac writes a fraction of a second of the given digits as
// ".fff", without trailing zeros, or nothing when it is zero.
func appendTextFrac(b []byte, frac int64, digits int) []byte {
	if frac == 0 || digits == 0 {
		return b
	}
	var d [9]byte
	for k := digits - 1; k >= 0; k-- {
		d[k] = byte('0' + frac%10)
		frac /= 10
	}
	n := digits
	for n > 0 && d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}

// appendTextTimeOfDay writes a time32/time64 value as hh:mm:ss[.fff]; a
// negative value, which is out of range, gets a leading minus.
func appendTextTimeOfDay(b []byte, v, per int64, digits int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = appendTextClock(b, v/per)
	return appendTextFrac(b, v%per, digits)
}

// timestampText formats timestamps of one type.
type timestampText struct {
	per    int64          // ticks per second
	digits int            // digits of a fraction
	sep    byte           // between date and clock: ' ' (CSV) or 'T' (JSON)
	loc    *time.Location // nil for a naive timestamp, else its zone
	date   dateCache
}

// dateCache remembers the text of the last date formatted: timestamps in
// real data come clustered in time, and the calendar arithmetic is the
// larger part of formatting one.
type dateCache struct {
	days int64
	text []byte
}

func (c *dateCache) append(b []byte, days int64) []byte {
	if c.text == nil || days != c.days {
		c.days, c.text = days, appendTextDate(c.text[:0], days)
	}
	return append(b, c.text...)
}

func newTimestampText(dt *arrow.TimestampType, json bool) (*timestampText, error) {
	per, digits := textUnitScale(dt.Unit)
	f := &timestampText{per: per, digits: digits, sep: ' '}
	if json {
		f.sep = 'T'
	}
	loc, err := sinkLoadZone(dt.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("%w: timestamp time zone %q: %v", ErrSchema, dt.TimeZone, err)
	}
	f.loc = loc
	return f, nil
}

// append writes v as "2006-01-02 15:04:05[.fff]" for a naive type, or as
// the time in the type's zone followed by its offset ("Z" for UTC, else
// "+hh:mm") when the type has a zone.
func (f *timestampText) append(b []byte, v int64) []byte {
	sec, frac := textDivMod(v, f.per)
	var off int64
	if f.loc != nil && f.loc != time.UTC {
		_, o := time.Unix(sec, 0).In(f.loc).Zone()
		off = int64(o)
	}
	days, sod := textDivMod(sec+off, 86400)
	b = f.date.append(b, days)
	b = append(b, f.sep)
	b = appendTextClock(b, sod)
	b = appendTextFrac(b, frac, f.digits)
	if f.loc == nil {
		return b
	}
	if off == 0 {
		return append(b, 'Z')
	}
	if off < 0 {
		b = append(b, '-')
		off = -off
	} else {
		b = append(b, '+')
	}
	b = textAppend2(b, off/3600)
	b = append(b, ':')
	return textAppend2(b, off/60%60)
}

// sinkLoadZone returns the location an Arrow time zone names: nil for "",
// UTC, a fixed offset for "+hh:mm" or "-hh:mm", or a zone of the IANA
// database.
func sinkLoadZone(tz string) (*time.Location, error) {
	switch tz {
	case "":
		return nil, nil
	case "UTC", "utc", "Z", "Etc/UTC", "+00:00", "-00:00":
		return time.UTC, nil
	}
	if tz[0] == '+' || tz[0] == '-' {
		z := strings.ReplaceAll(tz[1:], ":", "")
		if len(z) == 4 {
			hh, err1 := strconv.Atoi(z[:2])
			mm, err2 := strconv.Atoi(z[2:])
			if err1 == nil && err2 == nil && hh < 24 && mm < 60 {
				off := hh*3600 + mm*60
				if tz[0] == '-' {
					off = -off
				}
				return time.FixedZone(tz, off), nil
			}
		}
		return nil, errors.New("bad offset")
	}
	return time.LoadLocation(tz)
}

// jsonPlainASCII marks the ASCII bytes a JSON string holds without escaping.
var jsonPlainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONText writes s as a JSON string. Control characters, quotes
// and backslashes are escaped; invalid UTF-8 becomes U+FFFD.
func appendJSONText(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonPlainASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
