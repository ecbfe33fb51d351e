package version

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kilnml/kiln/store"
)

func TestDiffTrees(t *testing.T) {
	d := func(s string) store.Digest { return store.Sum([]byte(s)) }
	oldSchema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "score", Type: arrow.PrimitiveTypes.Int32},
		{Name: "gone", Type: arrow.BinaryTypes.String},
		{Name: "same", Type: arrow.BinaryTypes.String},
	}, nil)
	newSchema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "new", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "score", Type: arrow.PrimitiveTypes.Float64},
		{Name: "same", Type: arrow.BinaryTypes.String},
	}, nil)
	oldTable := &TableInfo{Schema: oldSchema, Rows: 100, Columns: []ColumnStats{
		{Name: "id", Type: "int64", Min: "1", Max: "100", Mean: f64(50.5), Distinct: 100},
		{Name: "score", Type: "int32", Nulls: 3, Min: "0", Max: "9", Mean: f64(4), Distinct: 10},
		{Name: "gone", Type: "utf8", Min: "a", Max: "z", Distinct: 26},
		{Name: "same", Type: "utf8", Min: "x", Max: "x", Distinct: 1},
	}}
	newTable := &TableInfo{Schema: newSchema, Rows: 150, Columns: []ColumnStats{
		{Name: "id", Type: "int64", Min: "1", Max: "150", Mean: f64(75.5), Distinct: 150},
		{Name: "new", Type: "bool", Min: "false", Max: "true", Distinct: 2},
		{Name: "score", Type: "double", Nulls: 1, Min: "0.5", Max: "9.5", Mean: f64(5), Distinct: 40},
		{Name: "same", Type: "utf8", Min: "x", Max: "x", Distinct: 1},
	}}
	oldTree := []Entry{
		{Path: "a.txt", Digest: d("a"), Size: 1, Mode: 0o644},
		{Path: "data.parquet", Digest: d("t1"), Size: 10, Mode: 0o644, Table: oldTable},
		{Path: "removed.parquet", Digest: d("r"), Size: 5, Mode: 0o644, Table: &TableInfo{Schema: oldSchema, Rows: 7}},
		{Path: "run.sh", Digest: d("sh"), Size: 2, Mode: 0o644},
		{Path: "z.txt", Digest: d("z"), Size: 1, Mode: 0o644},
	}
	newTree := []Entry{
		{Path: "a.txt", Digest: d("a"), Size: 1, Mode: 0o644},
		{Path: "added.parquet", Digest: d("n"), Size: 5, Mode: 0o644, Table: &TableInfo{Schema: newSchema, Rows: 3}},
		{Path: "data.parquet", Digest: d("t2"), Size: 12, Mode: 0o644, Table: newTable},
		{Path: "run.sh", Digest: d("sh"), Size: 2, Mode: 0o755},
		{Path: "z.txt", Digest: d("z2"), Size: 2, Mode: 0o644},
	}
	got := diffTrees(oldTree, newTree)
	want := []EntryDiff{
		{Path: "added.parquet", Kind: Added, New: &newTree[1], RowsDelta: 3},
		{Path: "data.parquet", Kind: Modified, Old: &oldTree[1], New: &newTree[2], RowsDelta: 50,
			Schema: []SchemaChange{
				{Column: "score", Kind: ColumnRetyped, OldType: "int32", NewType: "float64"},
				{Column: "gone", Kind: ColumnRemoved, OldType: "utf8"},
				{Column: "new", Kind: ColumnAdded, NewType: "bool"},
			},
			Columns: []ColumnDelta{
				{Column: "id", DistinctDelta: 50, OldMin: "1", NewMin: "1", OldMax: "100", NewMax: "150", MeanDelta: f64(25)},
				{Column: "score", NullsDelta: -2, DistinctDelta: 30, OldMin: "0", NewMin: "0.5", OldMax: "9", NewMax: "9.5", MeanDelta: f64(1)},
			}},
		{Path: "removed.parquet", Kind: Removed, Old: &oldTree[2], RowsDelta: -7},
		{Path: "run.sh", Kind: Modified, Old: &oldTree[3], New: &newTree[3]},
		{Path: "z.txt", Kind: Modified, Old: &oldTree[4], New: &newTree[4]},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(TableInfo{}, "Schema")); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
	if len(diffTrees(oldTree, oldTree)) != 0 || len(diffTrees(nil, nil)) != 0 {
		t.Error("equal trees differ")
	}
	if got := diffTrees(nil, oldTree); len(got) != len(oldTree) || got[0].Kind != Added {
		t.Errorf("from nothing: %+v", got)
	}
	if got := diffTrees(oldTree, nil); len(got) != len(oldTree) || got[4].Kind != Removed || got[1].RowsDelta != -100 {
		t.Errorf("to nothing: %+v", got)
	}
}

// TestDiff commits two versions of a table and a file and compares them
// through the repository.
func TestDiff(t *testing.T) {
	ctx := context.Background()
	r := openTableRepo(t)
	whole := flightsWhole(t)

	first := whole.NewSlice(0, 15000)
	defer first.Release()
	c1, err := r.CommitTable(ctx, "flights", sourceOf(t, first, 5000), TableOptions{CommitOptions: CommitOptions{Message: "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Tag(ctx, "flights", "v1", c1.ID); err != nil {
		t.Fatal(err)
	}
	// v2: all rows, delay as float64, a new column, and a README.
	schema := arrow.NewSchema([]arrow.Field{
		whole.Schema().Field(0),
		{Name: "delay", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		whole.Schema().Field(2), whole.Schema().Field(3), whole.Schema().Field(4),
		{Name: "late", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	delays := whole.Column(1).(*array.Int64)
	fb := array.NewFloat64Builder(memory.DefaultAllocator)
	lb := array.NewBooleanBuilder(memory.DefaultAllocator)
	for i := range delays.Len() {
		fb.Append(float64(delays.Value(i)))
		lb.Append(delays.Value(i) > 15)
	}
	fd, late := fb.NewArray(), lb.NewArray()
	defer fd.Release()
	defer late.Release()
	v2 := array.NewRecordBatch(schema, []arrow.Array{whole.Column(0), fd, whole.Column(2), whole.Column(3), whole.Column(4), late}, whole.NumRows())
	defer v2.Release()
	if _, err := r.CommitTable(ctx, "flights", sourceOf(t, v2, 8000), TableOptions{}); err != nil {
		t.Fatal(err)
	}
	readme, err := r.Store().Put(ctx, strings.NewReader("flights\n"))
	if err != nil {
		t.Fatal(err)
	}
	head := mustResolve(t, r, "flights")
	tree, _ := r.Tree(ctx, head)
	c3, err := r.CommitEntries(ctx, "flights", append(tree, Entry{Path: "README", Digest: readme, Size: 8}), CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}

	rep, err := r.Diff(ctx, "flights@v1", "flights")
	if err != nil {
		t.Fatal(err)
	}
	if rep.From.ID != c1.ID || rep.To.ID != c3.ID {
		t.Errorf("from %s to %s, want %s to %s", rep.From.ID, rep.To.ID, c1.ID, c3.ID)
	}
	if len(rep.Changes) != 2 || rep.Changes[0].Path != "README" || rep.Changes[0].Kind != Added {
		t.Fatalf("changes %+v", rep.Changes)
	}
	ch := rep.Changes[1]
	if ch.Path != "data.parquet" || ch.Kind != Modified || ch.RowsDelta != 5000 {
		t.Fatalf("table change %+v", ch)
	}
	wantSchema := []SchemaChange{
		{Column: "delay", Kind: ColumnRetyped, OldType: "int64", NewType: "float64"},
		{Column: "late", Kind: ColumnAdded, NewType: "bool"},
	}
	if diff := cmp.Diff(wantSchema, ch.Schema); diff != "" {
		t.Errorf("schema changes (-want +got):\n%s", diff)
	}
	byName := map[string]ColumnDelta{}
	for _, c := range ch.Columns {
		byName[c.Column] = c
	}
	date, ok := byName["date"]
	if !ok || date.OldMin != "2001-01-01T00:01:00Z" || date.NewMax != "2001-01-02T10:44:00Z" || date.OldMax >= date.NewMax || date.DistinctDelta <= 0 {
		t.Errorf("date delta %+v", date)
	}
	if d := byName["delay"]; d.MeanDelta == nil {
		t.Errorf("delay delta without a mean delta: %+v", d)
	}
	if _, ok := byName["late"]; ok {
		t.Error("a column only in the new version has a delta")
	}

	// The reverse diff mirrors it; a version against itself is empty.
	back, err := r.Diff(ctx, "flights", "flights@v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Changes) != 2 || back.Changes[0].Kind != Removed || back.Changes[1].RowsDelta != -5000 {
		t.Errorf("reverse diff %+v", back.Changes)
	}
	same, err := r.Diff(ctx, "flights", "flights")
	if err != nil || len(same.Changes) != 0 {
		t.Errorf("diff with itself: %+v, %v", same.Changes, err)
	}
	if _, err := r.Diff(ctx, "flights@nope", "flights"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown ref: %v", err)
	}
	if _, err := r.Diff(ctx, "flights", "bad name!"); !errors.Is(err, ErrBadName) {
		t.Errorf("bad spec: %v", err)
	}
}
