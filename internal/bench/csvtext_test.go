package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/google/go-cmp/cmp"
)

func TestAppendDateMatchesTime(t *testing.T) {
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	last := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400
	check := func(days int64) {
		want := time.Unix(days*86400, 0).UTC().Format("2006-01-02")
		if got := string(appendDate(nil, days)); got != want {
			t.Fatalf("appendDate(%d) = %s, want %s", days, got, want)
		}
	}
	for d := first; d <= last; d += 7 {
		check(d)
	}
	// Every day around the epoch and two leap days of special centuries.
	for d := int64(-800); d <= 800; d++ {
		check(d)
	}
	for _, s := range []string{"2000-02-29", "1900-02-28", "1900-03-01", "2100-03-01", "9999-12-31", "0001-01-01"} {
		tm, _ := time.Parse("2006-01-02", s)
		check(tm.Unix() / 86400)
	}
}

func TestTimestampText(t *testing.T) {
	tests := []struct {
		name string
		v    int64
		unit arrow.TimeUnit
		want string
	}{
		{"whole second us", time.Date(2001, 1, 1, 0, 1, 0, 0, time.UTC).UnixMicro(), arrow.Microsecond, "2001-01-01 00:01:00"},
		{"fraction us", time.Date(2001, 6, 30, 23, 59, 59, 5000, time.UTC).UnixMicro(), arrow.Microsecond, "2001-06-30 23:59:59.000005"},
		{"seconds", time.Date(1999, 12, 31, 12, 0, 0, 0, time.UTC).Unix(), arrow.Second, "1999-12-31 12:00:00"},
		{"milliseconds", time.Date(2020, 2, 29, 1, 2, 3, 4e6, time.UTC).UnixMilli(), arrow.Millisecond, "2020-02-29 01:02:03.004000"},
		{"nanoseconds", time.Date(2020, 2, 29, 1, 2, 3, 7, time.UTC).UnixNano(), arrow.Nanosecond, "2020-02-29 01:02:03.000000007"},
		{"before the epoch", time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC).UnixMicro(), arrow.Microsecond, "1969-12-31 23:59:59.500000"},
		{"epoch", 0, arrow.Microsecond, "1970-01-01 00:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := newCSVWriter(arrow.NewSchema([]arrow.Field{{Name: "t", Type: &arrow.TimestampType{Unit: tt.unit}}}, nil))
			if err != nil {
				t.Fatal(err)
			}
			// Twice: the second call goes through the per-second cache.
			for range 2 {
				if got := string(w.timestamp(nil, 0, tt.v, tt.unit)); got != tt.want {
					t.Errorf("timestamp(%d, %s) = %s, want %s", tt.v, tt.unit, got, tt.want)
				}
			}
		})
	}
}

func TestCSVWriterBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	schema := arrow.NewSchema([]arrow.Field{
		{Name: "when", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "small", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "a,b", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	ts := time.Date(2001, 3, 4, 5, 6, 7, 0, time.UTC).UnixMicro()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ts), arrow.Timestamp(ts), 0}, []bool{true, true, false})
	b.Field(1).(*array.Date32Builder).AppendValues([]arrow.Date32{11323, 0, -1}, nil)
	b.Field(2).(*array.Int64Builder).AppendValues([]int64{-42, 0, 9223372036854775807}, []bool{true, false, true})
	b.Field(3).(*array.Uint8Builder).AppendValues([]uint8{255, 0, 7}, nil)
	b.Field(4).(*array.Float64Builder).AppendValues([]float64{0.1, 1e21, -2.5}, nil)
	b.Field(5).(*array.Float32Builder).AppendValues([]float32{0.1, 3, 1.5}, nil)
	b.Field(6).(*array.BooleanBuilder).AppendValues([]bool{true, false, true}, []bool{true, true, false})
	b.Field(7).(*array.StringBuilder).AppendValues([]string{"plain", `say "hi"`, ""}, []bool{true, true, true})
	b.Field(8).(*array.LargeStringBuilder).AppendValues([]string{"x,y", "two\nlines", "cr\r"}, []bool{true, true, true})
	rec := b.NewRecordBatch()
	defer rec.Release()

	w, err := newCSVWriter(schema)
	if err != nil {
		t.Fatal(err)
	}
	got := string(w.batch(w.header(nil), rec))
	want := "when,day,n,small,x,f,ok,s,\"a,b\"\n" +
		"2001-03-04 05:06:07,2001-01-01,-42,255,0.1,0.1,true,plain,\"x,y\"\n" +
		"2001-03-04 05:06:07,1970-01-01,,0,1e+21,3,false,\"say \"\"hi\"\"\",\"two\nlines\"\n" +
		",1969-12-31,9223372036854775807,7,-2.5,1.5,,\"\",\"cr\r\"\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CSV text (-want +got):\n%s", diff)
	}
}

func TestCSVWriterRejectsNested(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)
	if _, err := newCSVWriter(schema); err == nil {
		t.Error("newCSVWriter accepted a list column")
	}
}

// TestExportCSVReproducesTestdata checks the testdata command's two halves
// against the committed slices: exporting the Parquet slice gives the CSV
// slice byte for byte, and headRows reads the same leading rows.
func TestExportCSVReproducesTestdata(t *testing.T) {
	const pq, csvFile = "../../testdata/flights-20k.parquet", "../../testdata/flights-20k.csv"
	want, err := os.ReadFile(csvFile)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit int64
		rows  int64
		lines int
	}{
		{"all", -1, 20000, 20001},
		{"head", 5, 5, 6},
		{"none", 0, 0, 1},
		{"more than there is", 50000, 20000, 20001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.csv")
			rows, size, err := exportCSV(context.Background(), pq, out, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if rows != tt.rows || size != int64(len(got)) {
				t.Errorf("exportCSV reported %d rows, %d bytes; want %d rows, %d bytes", rows, size, tt.rows, len(got))
			}
			wantText := firstLines(want, tt.lines)
			if !bytes.Equal(got, wantText) {
				t.Errorf("exported %d bytes differ from the first %d lines of %s (%d bytes)", len(got), tt.lines, csvFile, len(wantText))
			}
		})
	}

	rec, err := headRows(context.Background(), pq, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got, want := schemaLine(rec.Schema()), "date timestamp[us], delay int64, distance int64, origin utf8, destination utf8"; got != want {
		t.Errorf("headRows schema = %s, want %s", got, want)
	}
	w, err := newCSVWriter(rec.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(firstLines(want, 4)), string(w.batch(w.header(nil), rec))); diff != "" {
		t.Errorf("headRows text (-want +got):\n%s", diff)
	}
	if _, err := headRows(context.Background(), pq, 20001); err == nil {
		t.Error("headRows returned no error when asked for more rows than the file has")
	}
}

func TestWriteParquetRoundTrip(t *testing.T) {
	rec, err := headRows(context.Background(), "../../testdata/flights-20k.parquet", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	out := filepath.Join(t.TempDir(), "x.parquet")
	if err := writeParquetFile(out, rec); err != nil {
		t.Fatal(err)
	}
	fr, closeFile, err := openParquet(out, pqarrow.ArrowReadProperties{})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFile()
	md := fr.ParquetReader().MetaData()
	if got := fr.ParquetReader().NumRowGroups(); got != 1 {
		t.Errorf("%d row groups, want 1", got)
	}
	for c := range md.Schema.NumColumns() {
		cc, err := md.RowGroup(0).ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := cc.Compression().String(); got != "SNAPPY" {
			t.Errorf("column %d compressed with %s, want SNAPPY", c, got)
		}
	}
	if md.KeyValueMetadata().FindValue("ARROW:schema") == nil {
		t.Error("the Arrow schema is not stored")
	}
	back, err := headRows(context.Background(), out, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Release()
	if !array.RecordEqual(rec, back) {
		t.Error("the rows read back differ from the rows written")
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("output mode = %v (%v), want 0644", st.Mode().Perm(), err)
	}
}

func firstLines(b []byte, n int) []byte {
	end := 0
	for range n {
		i := bytes.IndexByte(b[end:], '\n')
		if i < 0 {
			return b
		}
		end += i + 1
	}
	return b[:end]
}
