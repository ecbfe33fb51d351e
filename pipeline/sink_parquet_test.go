package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	arrowcsv "github.com/apache/arrow-go/v18/arrow/csv"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// skReadParquet reads a whole Parquet file with pqarrow.
func skReadParquet(t testing.TB, path string, mem memory.Allocator) arrow.Table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tbl, err := pqarrow.ReadTable(context.Background(), f, nil, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return tbl
}

// skCheckTable compares tbl with the rows of batches, column by column:
// names, types and values (NaN equal to NaN).
func skCheckTable(t testing.TB, tbl arrow.Table, batches []arrow.RecordBatch) {
	t.Helper()
	schema := batches[0].Schema()
	var rows int64
	for _, b := range batches {
		rows += b.NumRows()
	}
	if tbl.NumRows() != rows || int(tbl.NumCols()) != schema.NumFields() {
		t.Fatalf("table is %d×%d, want %d×%d", tbl.NumRows(), tbl.NumCols(), rows, schema.NumFields())
	}
	for i, f := range schema.Fields() {
		got := tbl.Column(i)
		if got.Name() != f.Name || !arrow.TypeEqual(got.DataType(), f.Type) {
			t.Errorf("column %d is %s %s, want %s %s", i, got.Name(), got.DataType(), f.Name, f.Type)
			continue
		}
		chunks := make([]arrow.Array, len(batches))
		for j, b := range batches {
			chunks[j] = b.Column(i)
		}
		want := arrow.NewChunked(f.Type, chunks)
		if !array.ChunkedApproxEqual(want, got.Data(), array.WithNaNsEqual(true)) {
			t.Errorf("column %s differs:\n got %v\nwant %v", f.Name, got.Data(), want)
		}
		want.Release()
	}
}

// skWriteParquet writes batches to a new file and returns its path.
func skWriteParquet(t testing.TB, opts ParquetWriteOptions, batches ...arrow.RecordBatch) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.parquet")
	skWriteAll(t, ToParquet(path, opts), batches[0].Schema(), batches...)
	return path
}

// skParquetTypesBatch is skTypesBatch less the duration column, which Parquet
// cannot hold.
func skParquetTypesBatch(t testing.TB, mem memory.Allocator) arrow.RecordBatch {
	all := skTypesBatch(t, mem)
	defer all.Release()
	var fields []arrow.Field
	var cols []arrow.Array
	for i, f := range all.Schema().Fields() {
		if f.Type.ID() != arrow.DURATION {
			fields = append(fields, f)
			cols = append(cols, all.Column(i))
		}
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, all.NumRows())
}

// skParquetReadBack is what arrow-go's Parquet reader returns for rec, a
// skParquetTypesBatch: Parquet has no date64, no seconds for timestamps and
// no seconds for times of day, so those come back as date32, milliseconds
// and milliseconds (the same instants). The stored Arrow schema restores
// every other type.
func skParquetReadBack(t testing.TB, mem memory.Allocator, rec arrow.RecordBatch) arrow.RecordBatch {
	fields := slices.Clone(rec.Schema().Fields())
	cols := slices.Clone(rec.Columns())
	for i, f := range fields {
		var arr arrow.Array
		switch f.Name {
		case "d64":
			arr = skFromJSON(arrow.FixedWidthTypes.Date32, `[0, null, 11323, -1]`)(mem)
		case "ts_s":
			arr = skFromJSON(skTsNaiveMS, `[978352496000, null, 0, -1000]`)(mem)
		case "t32s":
			arr = skFromJSON(arrow.FixedWidthTypes.Time32ms, `[0, null, 45296000, 86399000]`)(mem)
		default:
			continue
		}
		defer arr.Release()
		fields[i].Type, cols[i] = arr.DataType(), arr
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())
}

func TestParquetSinkRoundTrip(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skParquetTypesBatch(t, mem)
	defer rec.Release()
	want := skParquetReadBack(t, mem, rec)
	defer want.Release()
	tests := []ParquetWriteOptions{
		{},
		{Parallelism: 1},
		{Parallelism: 64},
		{NoDictionary: true},
		{RowGroupRows: 3},
		{Compression: "none"},
		{Compression: "zstd", CompressionLevel: 3},
		{Compression: "gzip"},
		{Compression: "lz4"},
		{Compression: "brotli"},
		{Compression: "SNAPPY"},
	}
	for _, opts := range tests {
		t.Run(fmt.Sprintf("%+v", opts), func(t *testing.T) {
			opts.Allocator = mem
			path := skWriteParquet(t, opts, rec, rec)
			tbl := skReadParquet(t, path, mem)
			defer tbl.Release()
			skCheckTable(t, tbl, []arrow.RecordBatch{want, want})
		})
	}
}

func TestParquetSinkOptions(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skSimpleBatch(mem, 10)
	defer rec.Release()
	sink := ToParquet(filepath.Join(t.TempDir(), "x.parquet"), ParquetWriteOptions{Compression: "lzo"})
	err := sink.Open(context.Background(), rec.Schema())
	if err == nil || !strings.Contains(err.Error(), `unknown compression "lzo"`) {
		t.Errorf("Open with lzo: %v", err)
	}
	if names := skDirNames(t, filepath.Dir(sink.path)); len(names) != 0 {
		t.Errorf("failed Open left %q", names)
	}
	all := skTypesBatch(t, mem)
	defer all.Release()
	err = ToParquet(filepath.Join(t.TempDir(), "x.parquet"), ParquetWriteOptions{}).Open(context.Background(), all.Schema())
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), `column "dur" of type duration[ms] cannot be written to Parquet`) {
		t.Errorf("Open with a duration column: %v", err)
	}

	// Row groups hold RowGroupRows rows; batches are split across them.
	path := skWriteParquet(t, ParquetWriteOptions{Allocator: mem, RowGroupRows: 4}, rec, rec, rec)
	md := skParquetMeta(t, path)
	var sizes []int64
	for i := range md.NumRowGroups() {
		sizes = append(sizes, md.RowGroup(i).NumRows())
	}
	if want := []int64{4, 4, 4, 4, 4, 4, 4, 2}; !slices.Equal(sizes, want) {
		t.Errorf("row groups of %v rows, want %v", sizes, want)
	}
	if md.KeyValueMetadata().FindValue("ARROW:schema") == nil {
		t.Errorf("no ARROW:schema in the file's metadata")
	}
	if cc, err := md.RowGroup(0).ColumnChunk(0); err != nil || cc.Compression() != compress.Codecs.Snappy {
		t.Errorf("default compression %v (%v), want SNAPPY", cc.Compression(), err)
	}
}

// skParquetMeta reads a file's footer.
func skParquetMeta(t testing.TB, path string) *metadata.FileMetaData {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return r.MetaData()
}

// TestParquetSinkDeterministic writes real data with different numbers of
// encoding goroutines: the files must be identical.
func TestParquetSinkDeterministic(t *testing.T) {
	mem := checkedAlloc(t)
	batches := skReadArrowFile(t, "../testdata/flights-200k.arrow", mem)
	var first []byte
	for _, par := range []int{1, 2, 3, 8} {
		path := skWriteParquet(t, ParquetWriteOptions{Allocator: mem, Parallelism: par, RowGroupRows: 50_000}, batches...)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = data
			tbl := skReadParquet(t, path, mem)
			skCheckTable(t, tbl, batches)
			tbl.Release()
		} else if !bytes.Equal(first, data) {
			t.Errorf("Parallelism %d wrote a different file", par)
		}
	}
}

// TestParquetSinkDictionary exercises the sink's own dictionary encoders:
// short and long strings, empty strings, nulls, dictionaries that outgrow
// their page limit, and row groups that start in the middle of a batch.
func TestParquetSinkDictionary(t *testing.T) {
	mem := checkedAlloc(t)
	const n = 20_000
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "short", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "long", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "unique", Type: arrow.BinaryTypes.String}, // outgrows 1 MiB
		{Name: "bytes", Type: arrow.BinaryTypes.Binary},  // short and long
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "many", Type: arrow.PrimitiveTypes.Int64}, // 131072+ values
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32},
		{Name: "ts", Type: skTsNaiveUS, Nullable: true},
		{Name: "t64", Type: arrow.FixedWidthTypes.Time64ns},
		{Name: "allnull", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "uniquenull", Type: arrow.BinaryTypes.String, Nullable: true}, // outgrows 1 MiB
		{Name: "manynull", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, // outgrows 1 MiB
	}, nil)
	build := func(batch int) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		for i := range n {
			r := batch*n + i
			short := b.Field(0).(*array.StringBuilder)
			switch r % 7 {
			case 0:
				short.AppendNull()
			case 1:
				short.Append("")
			default:
				short.Append(fmt.Sprint(r % 13))
			}
			long := b.Field(1).(*array.LargeStringBuilder)
			if r%11 == 0 {
				long.AppendNull()
			} else {
				long.Append(fmt.Sprintf("a longer value number %d", r%29))
			}
			b.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("unique value %08d with some padding to grow the dictionary", r))
			if r%2 == 0 {
				b.Field(3).(*array.BinaryBuilder).Append([]byte{byte(r % 5), 0, 1})
			} else {
				b.Field(3).(*array.BinaryBuilder).Append(bytes.Repeat([]byte{byte(r % 3)}, 12))
			}
			if r%5 == 0 {
				b.Field(4).(*array.Int64Builder).AppendNull()
			} else {
				b.Field(4).(*array.Int64Builder).Append(int64(r%100) - 50)
			}
			b.Field(5).(*array.Int64Builder).Append(int64(r) * 7919)
			if r%3 == 0 {
				b.Field(6).(*array.Int32Builder).AppendNull()
			} else {
				b.Field(6).(*array.Int32Builder).Append(int32(r % 17))
			}
			b.Field(7).(*array.Date32Builder).Append(arrow.Date32(11000 + r%400))
			if r%9 == 0 {
				b.Field(8).(*array.TimestampBuilder).AppendNull()
			} else {
				b.Field(8).(*array.TimestampBuilder).Append(arrow.Timestamp(978352496000000 + int64(r%1000)*60_000_000))
			}
			b.Field(9).(*array.Time64Builder).Append(arrow.Time64(int64(r%86400) * 1e9))
			b.Field(10).(*array.StringBuilder).AppendNull()
			if r%4 == 1 {
				b.Field(11).(*array.StringBuilder).AppendNull()
			} else {
				b.Field(11).(*array.StringBuilder).Append(fmt.Sprintf("another unique value %08d, also padded to grow the dictionary", r))
			}
			if r%50 == 1 {
				b.Field(12).(*array.Int64Builder).AppendNull()
			} else {
				b.Field(12).(*array.Int64Builder).Append(int64(r) << 20)
			}
		}
		return b.NewRecordBatch()
	}
	var batches []arrow.RecordBatch
	for i := range 8 {
		batches = append(batches, build(i))
	}
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	for _, par := range []int{1, 4} {
		path := skWriteParquet(t, ParquetWriteOptions{Allocator: mem, RowGroupRows: 140_000, Parallelism: par}, batches...)
		tbl := skReadParquet(t, path, mem)
		skCheckTable(t, tbl, batches)
		tbl.Release()

		md := skParquetMeta(t, path)
		if md.NumRowGroups() != 2 {
			t.Fatalf("%d row groups, want 2", md.NumRowGroups())
		}
		// "unique" and "many" outgrow the dictionary limit in the first
		// row group and are written plain from then on.
		for g := range 2 {
			for col, want := range []bool{true, true, false, true, true, false, true, true, true, true, true, false, false} {
				cc, err := md.RowGroup(g).ColumnChunk(col)
				if err != nil {
					t.Fatal(err)
				}
				if got := cc.HasDictionaryPage(); got != want {
					t.Errorf("row group %d column %s: dictionary page %v, want %v", g, schema.Field(col).Name, got, want)
				}
			}
		}
		rg := md.RowGroup(0)
		// Statistics cover the row group: min, max and nulls.
		cc, _ := rg.ColumnChunk(4)
		st, err := cc.Statistics()
		if err != nil || st == nil {
			t.Fatalf("no statistics for i64: %v", err)
		}
		i64 := st.(*metadata.Int64Statistics)
		if i64.Min() != -49 || i64.Max() != 49 || i64.NullCount() != 28_000 {
			t.Errorf("i64 statistics: min %d max %d nulls %d, want -49 49 28000", i64.Min(), i64.Max(), i64.NullCount())
		}
		cc, _ = rg.ColumnChunk(1)
		st, _ = cc.Statistics()
		bs := st.(*metadata.ByteArrayStatistics)
		if string(bs.Min()) != "a longer value number 0" || string(bs.Max()) != "a longer value number 9" {
			t.Errorf("long statistics: min %q max %q", bs.Min(), bs.Max())
		}
	}
}

func TestParquetSinkNested(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "point", Type: arrow.StructOf(
			arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Float64},
			arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Float64, Nullable: true}), Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[
		{"id": 1, "tags": ["a", "b"], "point": {"x": 1, "y": 2}},
		{"id": 2, "tags": null, "point": null},
		{"id": 3, "tags": [], "point": {"x": 3, "y": null}},
		{"id": 4, "tags": [null, "c"], "point": {"x": 4, "y": 5}}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	path := skWriteParquet(t, ParquetWriteOptions{Allocator: mem, RowGroupRows: 3}, rec, rec)
	tbl := skReadParquet(t, path, mem)
	defer tbl.Release()
	skCheckTable(t, tbl, []arrow.RecordBatch{rec, rec})
}

func TestParquetSinkEmpty(t *testing.T) {
	mem := checkedAlloc(t)
	rec := skParquetTypesBatch(t, mem)
	defer rec.Release()
	want := skParquetReadBack(t, mem, rec)
	defer want.Release()
	path := filepath.Join(t.TempDir(), "empty.parquet")
	skWriteAll(t, ToParquet(path, ParquetWriteOptions{Allocator: mem}), rec.Schema())
	tbl := skReadParquet(t, path, mem)
	defer tbl.Release()
	if tbl.NumRows() != 0 {
		t.Errorf("empty file has %d rows", tbl.NumRows())
	}
	if d := sinkSchemaDiff(want.Schema(), tbl.Schema()); d != "" {
		t.Errorf("schema of the empty file: %s", d)
	}
}

// TestParquetSinkFailedWrite makes the encoder fail on a string array
// whose offsets go backwards (which panics inside the encoder): the
// panic becomes an error naming the column, the temporary file goes at once
// and nothing leaks.
func TestParquetSinkFailedWrite(t *testing.T) {
	mem := checkedAlloc(t)
	offsets := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 3, 1}))
	values := memory.NewBufferBytes([]byte("abc"))
	data := array.NewData(arrow.BinaryTypes.String, 2, []*memory.Buffer{nil, offsets, values}, nil, 0, 0)
	arr := array.MakeFromData(data)
	data.Release()
	defer arr.Release()
	rec := skOneColumn("s", arr)
	defer rec.Release()
	good := skSimpleBatch(mem, 5)
	defer good.Release()
	for _, opts := range []ParquetWriteOptions{{Parallelism: 1}, {Parallelism: 2}, {NoDictionary: true}} {
		opts.Allocator = mem
		dir := t.TempDir()
		schema := good.Schema()
		ids := array.NewSlice(good.Column(0), 0, 2)
		bad := array.NewRecordBatch(schema, []arrow.Array{ids, arr}, 2)
		ids.Release()
		sink := ToParquet(filepath.Join(dir, "bad.parquet"), opts)
		ctx := context.Background()
		if err := sink.Open(ctx, schema); err != nil {
			t.Fatal(err)
		}
		err := sink.Write(ctx, good)
		if err == nil {
			err = sink.Write(ctx, bad)
		}
		bad.Release()
		if err == nil || !strings.Contains(err.Error(), `column "name": `) {
			t.Errorf("%+v: Write of a corrupt array: %v", opts, err)
		}
		if names := skDirNames(t, dir); len(names) != 0 {
			t.Errorf("after a failed Write, files = %q", names)
		}
		if err := sink.Commit(ctx); !errors.Is(err, ErrClosed) {
			t.Errorf("Commit after a failed Write: %v, want ErrClosed", err)
		}
		if err := sink.Abort(); err != nil {
			t.Errorf("Abort: %v", err)
		}
	}
}

// TestParquetSinkReal writes iris.csv (read by arrow-go) and the flights
// sample, and reads them back.
func TestParquetSinkReal(t *testing.T) {
	mem := checkedAlloc(t)
	f, err := os.Open("../testdata/iris.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := arrowcsv.NewInferringReader(f, arrowcsv.WithHeader(true), arrowcsv.WithAllocator(mem), arrowcsv.WithChunk(40))
	defer r.Release()
	var iris []arrow.RecordBatch
	for r.Next() {
		rec := r.RecordBatch()
		rec.Retain()
		iris = append(iris, rec)
	}
	if r.Err() != nil || len(iris) != 4 {
		t.Fatalf("iris: %d batches, %v", len(iris), r.Err())
	}
	defer func() {
		for _, b := range iris {
			b.Release()
		}
	}()
	path := skWriteParquet(t, ParquetWriteOptions{Allocator: mem}, iris...)
	tbl := skReadParquet(t, path, mem)
	skCheckTable(t, tbl, iris)
	tbl.Release()

	flights := skReadArrowFile(t, "../testdata/flights-200k.arrow", mem)
	path = skWriteParquet(t, ParquetWriteOptions{Allocator: mem, Compression: "zstd"}, flights...)
	tbl = skReadParquet(t, path, mem)
	skCheckTable(t, tbl, flights)
	tbl.Release()
	if cc, err := skParquetMeta(t, path).RowGroup(0).ColumnChunk(0); err != nil || cc.Compression() != compress.Codecs.Zstd {
		t.Errorf("compression %v (%v), want zstd", cc.Compression(), err)
	}
}
