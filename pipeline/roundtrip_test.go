package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/go-cmp/cmp"
)

// collect runs src into a table and returns its rows as strings.
func collectRows(t *testing.T, src Source) (*arrow.Schema, [][]any) {
	t.Helper()
	sc, rows, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return sc, rows
}

// CSV → Parquet → Arrow IPC → CSV gives back the rows and types read from
// the original CSV, and the Parquet equals the slice of flights-3m that the
// CSV was exported from.
func TestRoundTripCSVParquetArrow(t *testing.T) {
	ctx := context.Background()
	mem := checkedAlloc(t)
	dir := t.TempDir()
	csvPath := filepath.Join("..", "testdata", "flights-20k.csv")
	wantSchema, want := collectRows(t, CSV(csvPath, CSVOptions{Allocator: mem}))

	pq := filepath.Join(dir, "f.parquet")
	if _, err := New(CSV(csvPath, CSVOptions{Allocator: mem})).Run(ctx, ToParquet(pq, ParquetWriteOptions{Allocator: mem}), RunOptions{Allocator: mem}); err != nil {
		t.Fatal(err)
	}
	ipc := filepath.Join(dir, "f.arrow")
	if _, err := New(Parquet(pq, ParquetOptions{Allocator: mem})).Run(ctx, ToArrow(ipc, ArrowWriteOptions{}), RunOptions{Allocator: mem}); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "f.csv")
	if _, err := New(Arrow(ipc, ArrowOptions{Allocator: mem})).Run(ctx, ToCSV(back, CSVWriteOptions{}), RunOptions{Allocator: mem}); err != nil {
		t.Fatal(err)
	}
	for _, src := range []Source{
		Parquet(pq, ParquetOptions{Allocator: mem}),
		Arrow(ipc, ArrowOptions{Allocator: mem}),
		CSV(back, CSVOptions{Allocator: mem}),
	} {
		sc, got := collectRows(t, src)
		if !sc.Equal(wantSchema) {
			t.Errorf("%T schema\n%v\nwant\n%v", src, sc, wantSchema)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%T rows differ (-csv +round trip):\n%s", src, diff)
		}
	}

	// The original Parquet slice holds the same values (its types may be
	// wider or narrower, so compare the text of each value).
	_, orig := collectRows(t, Parquet(filepath.Join("..", "testdata", "flights-20k.parquet"), ParquetOptions{Allocator: mem}))
	if diff := cmp.Diff(want, orig); diff != "" {
		t.Errorf("CSV and the Parquet it was exported from differ (-csv +parquet):\n%s", diff)
	}
}

// The same rows come out whether a table is collected or streamed.
func TestCollectMatchesStream(t *testing.T) {
	mem := checkedAlloc(t)
	path := filepath.Join("..", "testdata", "seattle-weather.csv")
	_, want := collectRows(t, CSV(path, CSVOptions{Allocator: mem, BatchRows: 100}))
	sink := Collect()
	if _, err := New(CSV(path, CSVOptions{Allocator: mem, BatchRows: 100})).Run(context.Background(), sink, RunOptions{Allocator: mem}); err != nil {
		t.Fatal(err)
	}
	tbl := sink.Table()
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1000)
	defer tr.Release()
	var got [][]any
	for tr.Next() {
		b := tr.RecordBatch()
		for i := range int(b.NumRows()) {
			row := make([]any, b.NumCols())
			for j, c := range b.Columns() {
				if !c.IsNull(i) {
					row[j] = c.ValueStr(i)
				}
			}
			got = append(got, row)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collected table differs (-stream +table):\n%s", diff)
	}
}
