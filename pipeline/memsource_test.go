package pipeline

import (
	"context"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

// readSource reads every batch of src. The batches are released when the
// test ends; the error is the one that ended the iteration, if any.
func readSource(t testing.TB, src Source) ([]arrow.RecordBatch, error) {
	t.Helper()
	var recs []arrow.RecordBatch
	t.Cleanup(func() {
		for _, r := range recs {
			r.Release()
		}
	})
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			if rec != nil {
				t.Errorf("batch %v yielded with error %v", rec, err)
			}
			return recs, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// mustRead is readSource failing the test on error.
func mustRead(t testing.TB, src Source) []arrow.RecordBatch {
	t.Helper()
	recs, err := readSource(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// textRows renders batches as rows of value strings ("(null)" for nulls),
// for comparison with cmp.Diff.
func textRows(recs []arrow.RecordBatch) [][]string {
	var out [][]string
	for _, r := range recs {
		for i := range int(r.NumRows()) {
			row := make([]string, r.NumCols())
			for j, c := range r.Columns() {
				row[j] = c.ValueStr(i)
			}
			out = append(out, row)
		}
	}
	return out
}

// diffRows is cmp.Diff for rows of text, quick when they are equal.
func diffRows(want, got [][]string) string {
	if slices.EqualFunc(want, got, slices.Equal) {
		return ""
	}
	return cmp.Diff(want, got)
}

// fieldList renders a schema's fields as "name type [nullable]".
func fieldList(s *arrow.Schema) []string {
	var out []string
	for _, f := range s.Fields() {
		d := f.Name + " " + f.Type.String()
		if f.Nullable {
			d += " nullable"
		}
		out = append(out, d)
	}
	return out
}

// batchSizes lists the number of rows in each batch.
func batchSizes(recs []arrow.RecordBatch) []int64 {
	var out []int64
	for _, r := range recs {
		out = append(out, r.NumRows())
	}
	return out
}

// readFlightsArrow reads testdata/flights-200k.arrow into a table.
func readFlightsArrow(t testing.TB, mem memory.Allocator) arrow.Table {
	t.Helper()
	f, err := os.Open("../testdata/flights-200k.arrow")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.RecordBatch
	for i := range r.NumRecords() {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	tbl := array.NewTableFromRecords(r.Schema(), recs)
	for _, rec := range recs {
		rec.Release()
	}
	t.Cleanup(tbl.Release)
	return tbl
}

// tableRows renders a table like textRows.
func tableRows(t testing.TB, tbl arrow.Table) [][]string {
	t.Helper()
	tr := array.NewTableReader(tbl, 1<<20)
	defer tr.Release()
	var out [][]string
	for tr.Next() {
		out = append(out, textRows([]arrow.RecordBatch{tr.RecordBatch()})...)
	}
	return out
}

func smallBatch(t testing.TB, mem memory.Allocator, schema *arrow.Schema, ints []int64, strs []string) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues(ints, nil)
	b.Field(1).(*array.StringBuilder).AppendValues(strs, nil)
	return b.NewRecordBatch()
}

func TestFromBatches(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b1 := smallBatch(t, mem, schema, []int64{1, 2}, []string{"a", "b"})
	b2 := smallBatch(t, mem, schema, []int64{3}, []string{"c"})
	src := FromBatches(schema, b1, b2)
	b1.Release() // the source holds its own references
	b2.Release()
	defer src.Release()

	got, err := src.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(schema) {
		t.Errorf("schema %v, want %v", got, schema)
	}
	want := [][]string{{"1", "a"}, {"2", "b"}, {"3", "c"}}
	for pass := range 2 { // a memory source can be read again
		if diff := diffRows(want, textRows(mustRead(t, src))); diff != "" {
			t.Errorf("pass %d rows (-want +got):\n%s", pass, diff)
		}
	}
	if src.NumRows() != 3 {
		t.Errorf("NumRows = %d, want 3", src.NumRows())
	}

	// Breaking out early: the yielded batch is the consumer's to release.
	for rec, err := range src.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		break
	}
}

func TestFromBatchesErrors(t *testing.T) {
	mem := checkedAlloc(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	other := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b1 := smallBatch(t, mem, schema, []int64{1}, []string{"a"})
	defer b1.Release()
	b2 := smallBatch(t, mem, other, []int64{2}, []string{"b"})
	defer b2.Release()

	tests := []struct {
		name string
		src  *MemorySource
	}{
		{"different schema", FromBatches(schema, b1, b2)},
		{"nil schema takes the first batch's", FromBatches(nil, b1, b2)},
		{"no schema at all", FromBatches(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.src.Release()
			if _, err := tc.src.Schema(context.Background()); !errors.Is(err, ErrSchema) {
				t.Errorf("Schema error = %v, want ErrSchema", err)
			}
			if _, err := readSource(t, tc.src); !errors.Is(err, ErrSchema) {
				t.Errorf("Batches error = %v, want ErrSchema", err)
			}
		})
	}
}

func TestFromTable(t *testing.T) {
	mem := checkedAlloc(t)
	tbl := readFlightsArrow(t, mem)
	want := tableRows(t, tbl)
	tests := []struct {
		batchRows int
		wantMax   int64
	}{
		{0, 65536},
		{50000, 50000},
		{7, 7},
	}
	for _, tc := range tests {
		src := FromTable(tbl, tc.batchRows)
		recs := mustRead(t, src)
		var total int64
		for _, r := range recs {
			if r.NumRows() > tc.wantMax || r.NumRows() == 0 {
				t.Errorf("batchRows %d: a batch of %d rows", tc.batchRows, r.NumRows())
				break
			}
			total += r.NumRows()
		}
		if total != tbl.NumRows() {
			t.Errorf("batchRows %d: %d rows, want %d", tc.batchRows, total, tbl.NumRows())
		}
		if tc.batchRows == 50000 {
			if diff := diffRows(want, textRows(recs)); diff != "" {
				t.Errorf("rows differ from the table (-want +got):\n%s", diff)
			}
		}
		src.Release()
	}
}

func TestMemorySourceCancel(t *testing.T) {
	mem := checkedAlloc(t)
	tbl := readFlightsArrow(t, mem)
	src := FromTable(tbl, 1000)
	defer src.Release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for rec, err := range src.Batches(ctx) {
		if err != nil {
			last = err
			break
		}
		rec.Release()
		n++
		if n == 3 {
			cancel()
		}
	}
	if n != 3 || !errors.Is(last, context.Canceled) {
		t.Errorf("after cancel: %d batches, error %v; want 3 and context.Canceled", n, last)
	}
}

// The sources implement Source, and those that read bytes ByteCounter.
var (
	_ Source      = (*MemorySource)(nil)
	_ Source      = (*StructSource[stPoint])(nil)
	_ ByteCounter = (*ParquetSource)(nil)
	_ ByteCounter = (*NDJSONSource)(nil)
	_ ByteCounter = (*ArrowSource)(nil)
	_ ByteCounter = (*GlobSource)(nil)
	_ Source      = (*ParquetSource)(nil)
	_ Source      = (*NDJSONSource)(nil)
	_ Source      = (*ArrowSource)(nil)
	_ Source      = (*GlobSource)(nil)
)
