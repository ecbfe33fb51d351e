package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/google/go-cmp/cmp"
)

var idName = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// writeFile writes data to root/rel, making folders as needed, and returns
// the path.
func srcWriteFile(t testing.TB, root, rel string, data []byte) string {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// idNameBatch makes a batch of idName with ids from first and names
// "n<id>".
func idNameBatch(t testing.TB, first, n int) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, idName)
	defer b.Release()
	for i := first; i < first+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(int64(i))
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("n%d", i))
	}
	return b.NewRecordBatch()
}

// idNameFile writes rows first..first+n-1 of idName to root/rel in the
// format its extension names.
func idNameFile(t testing.TB, root, rel string, first, n int) string {
	t.Helper()
	rec := idNameBatch(t, first, n)
	defer rec.Release()
	tbl := array.NewTableFromRecords(idName, []arrow.RecordBatch{rec})
	defer tbl.Release()
	var text bytes.Buffer
	switch format(rel) {
	case "parquet":
		path := srcWriteFile(t, root, rel, nil)
		pqWriteTable(t, path, tbl, 1<<20, true)
		return path
	case "arrow":
		return srcWriteFile(t, root, rel, ipcBytes(t, tbl, true, 1<<20))
	case "ndjson":
		for i := first; i < first+n; i++ {
			fmt.Fprintf(&text, "{\"id\":%d,\"name\":\"n%d\"}\n", i, i)
		}
	case "csv", "tsv":
		sep := ","
		if format(rel) == "tsv" {
			sep = "\t"
		}
		text.WriteString("id" + sep + "name\n")
		for i := first; i < first+n; i++ {
			fmt.Fprintf(&text, "%d%sn%d\n", i, sep, i)
		}
	default:
		t.Fatalf("no format for %s", rel)
	}
	data := text.Bytes()
	if c := compression(rel); c != "" {
		data = srcCompress(t, data, c)
	}
	return srcWriteFile(t, root, rel, data)
}

func TestDirHivePartitions(t *testing.T) {
	root := t.TempDir()
	idNameFile(t, root, "year=2023/city=New%20York/part-0.parquet", 0, 2)
	idNameFile(t, root, "year=2023/city=a%2Fb/part-0.parquet", 2, 1)
	idNameFile(t, root, "year=2024/city=__HIVE_DEFAULT_PARTITION__/part-0.parquet", 3, 1)
	idNameFile(t, root, "year=2024/city=Zürich/part-0.parquet", 4, 1)
	// Skipped: hidden and underscore names, files and folders.
	srcWriteFile(t, root, "_SUCCESS", nil)
	srcWriteFile(t, root, ".DS_Store", []byte("junk"))
	srcWriteFile(t, root, "year=2024/.tmp/x.parquet", []byte("junk"))
	srcWriteFile(t, root, "_temporary/0/x.parquet", []byte("junk"))

	mem := checkedAlloc(t)
	src := Dir(root, GlobOptions{Allocator: mem})
	schema, err := src.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantFields := []string{"id int64 nullable", "name utf8 nullable", "year int64 nullable", "city utf8 nullable"}
	if diff := cmp.Diff(wantFields, fieldList(schema)); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	recs := mustRead(t, src)
	want := [][]string{
		{"0", "n0", "2023", "New York"},
		{"1", "n1", "2023", "New York"},
		{"2", "n2", "2023", "a/b"},
		{"4", "n4", "2024", "Zürich"},
		{"3", "n3", "2024", "(null)"}, // '_' sorts after 'Z'
	}
	if diff := cmp.Diff(want, textRows(recs)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	for _, r := range recs {
		if !r.Schema().Equal(schema) {
			t.Errorf("batch schema %v", r.Schema())
		}
	}
	var size int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if strings.HasSuffix(p, "part-0.parquet") {
			st, _ := os.Stat(p)
			size += st.Size()
		}
		return nil
	})
	if src.TotalBytes() != size || src.BytesRead() <= 0 || src.BytesRead() > size {
		t.Errorf("BytesRead %d, TotalBytes %d, want total %d", src.BytesRead(), src.TotalBytes(), size)
	}

	// Without partitioning the folders add nothing.
	src = Dir(root, GlobOptions{Allocator: mem, NoPartitions: true})
	recs = mustRead(t, src)
	if diff := cmp.Diff(fieldList(idName), fieldList(recs[0].Schema())); diff != "" {
		t.Errorf("NoPartitions schema (-want +got):\n%s", diff)
	}
	if n := len(textRows(recs)); n != 5 {
		t.Errorf("NoPartitions: %d rows", n)
	}
}

func TestPartitionTypes(t *testing.T) {
	root := t.TempDir()
	idNameFile(t, root, "k=1/n=007/a.ndjson", 0, 1)
	idNameFile(t, root, "k=-20/n=x/b.ndjson", 1, 1)
	idNameFile(t, root, "k=__HIVE_DEFAULT_PARTITION__/n=3/c.ndjson", 2, 1)
	src := Dir(root, GlobOptions{Allocator: checkedAlloc(t)})
	recs := mustRead(t, src)
	if diff := cmp.Diff([]string{"id int64 nullable", "name utf8 nullable", "k int64 nullable", "n utf8 nullable"}, fieldList(recs[0].Schema())); diff != "" {
		t.Errorf("schema (-want +got):\n%s", diff)
	}
	want := [][]string{{"1", "n1", "-20", "x"}, {"0", "n0", "1", "007"}, {"2", "n2", "(null)", "3"}} // in path order
	if diff := cmp.Diff(want, textRows(recs)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

func TestGlobMixedFormats(t *testing.T) {
	root := t.TempDir()
	idNameFile(t, root, "a/1.csv", 0, 2)
	idNameFile(t, root, "a/2.tsv.gz", 2, 2)
	idNameFile(t, root, "b/3.parquet", 4, 2)
	idNameFile(t, root, "b/4.ndjson.zst", 6, 2)
	idNameFile(t, root, "c/5.arrow", 8, 2)
	idNameFile(t, root, "c/6.jsonl", 10, 2)
	idNameFile(t, root, "c/d/7.feather", 12, 2)
	srcWriteFile(t, root, "x/notes.txt", []byte("not data"))
	var want [][]string
	for i := range 14 {
		want = append(want, []string{fmt.Sprint(i), fmt.Sprintf("n%d", i)})
	}
	tests := []struct {
		pattern string
		rows    [][]string
	}{
		{filepath.Join(root, "[abc]", "*"), want[:12]}, // not the folder c/d
		{filepath.Join(root, "[abc]", "**"), want},
		{filepath.Join(root, "**", "d", "*"), want[12:]},
		{filepath.Join(root, "**"), nil}, // includes notes.txt: an error
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.pattern, root), func(t *testing.T) {
			src := Glob(tc.pattern, GlobOptions{Allocator: checkedAlloc(t)})
			recs, err := readSource(t, src)
			if tc.rows == nil {
				if err == nil || !strings.Contains(err.Error(), "notes.txt: unknown file format") {
					t.Errorf("error %v, want one about notes.txt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.rows, textRows(recs)); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGlobInferredSchemaCarriesOver checks that text formats read the later
// files with the schema inferred from the first: a column that is all null
// in the first file (so a string) stays a string where the second file has
// numbers.
func TestGlobInferredSchemaCarriesOver(t *testing.T) {
	root := t.TempDir()
	srcWriteFile(t, root, "1.csv", []byte("id,x\n1,\n"))
	srcWriteFile(t, root, "2.csv", []byte("id,x\n2,42\n"))
	srcWriteFile(t, root, "1.ndjson", []byte(`{"id":1,"x":null}`+"\n"))
	srcWriteFile(t, root, "2.ndjson", []byte(`{"id":2,"x":42}`+"\n"))
	for _, ext := range []string{"csv", "ndjson"} {
		src := Glob(filepath.Join(root, "*."+ext), GlobOptions{Allocator: checkedAlloc(t)})
		recs := mustRead(t, src)
		if diff := cmp.Diff([]string{"id int64 nullable", "x utf8 nullable"}, fieldList(recs[0].Schema())); diff != "" {
			t.Errorf("%s: schema (-want +got):\n%s", ext, diff)
		}
		if diff := cmp.Diff([][]string{{"1", "(null)"}, {"2", "42"}}, textRows(recs)); diff != "" {
			t.Errorf("%s: rows (-want +got):\n%s", ext, diff)
		}
	}
}

func TestGlobOpen(t *testing.T) {
	root := t.TempDir()
	srcWriteFile(t, root, "x=1/a.txt", []byte(`{"v":1}`))
	srcWriteFile(t, root, "x=2/b.txt", []byte(`{"v":2}`))
	var opened []string
	src := Dir(root, GlobOptions{Allocator: checkedAlloc(t), Open: func(path string) (Source, error) {
		opened = append(opened, filepath.Base(path))
		return NDJSON(path, NDJSONOptions{}), nil
	}})
	recs := mustRead(t, src)
	if diff := cmp.Diff([][]string{{"1", "1"}, {"2", "2"}}, textRows(recs)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if len(opened) == 0 || opened[len(opened)-1] != "b.txt" {
		t.Errorf("opened %v", opened)
	}
	failing := Dir(root, GlobOptions{Open: func(path string) (Source, error) { return nil, errors.New("refused") }})
	if _, err := failing.Schema(context.Background()); err == nil || !strings.Contains(err.Error(), "a.txt: refused") {
		t.Errorf("error %v, want the Open error with the path", err)
	}
}

func TestGlobErrors(t *testing.T) {
	root := t.TempDir()
	mismatch := filepath.Join(root, "mismatch")
	idNameFile(t, mismatch, "a.parquet", 0, 1)
	srcWriteFile(t, mismatch, "b.ndjson", []byte(`{"id":"one","name":"x"}`))
	pqOther := filepath.Join(root, "pqother")
	idNameFile(t, pqOther, "a.parquet", 0, 1)
	other := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "label", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "extra", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	{
		b := array.NewRecordBuilder(memory.DefaultAllocator, other)
		b.Field(0).(*array.Int32Builder).Append(1)
		b.Field(1).(*array.StringBuilder).Append("x")
		b.Field(2).(*array.StringBuilder).Append("y")
		rec := b.NewRecordBatch()
		pqWriteBatches(t, srcWriteFile(t, pqOther, "b.parquet", nil), rec)
		rec.Release()
		b.Release()
	}
	csvHeader := filepath.Join(root, "csvheader")
	srcWriteFile(t, csvHeader, "a.csv", []byte("id,name\n1,x\n"))
	srcWriteFile(t, csvHeader, "b.csv", []byte("id,label\n2,y\n"))
	keys := filepath.Join(root, "keys")
	idNameFile(t, keys, "a=1/x.ndjson", 0, 1)
	idNameFile(t, keys, "b=1/y.ndjson", 0, 1)
	collide := filepath.Join(root, "collide")
	idNameFile(t, collide, "id=1/x.ndjson", 0, 1)
	twice := filepath.Join(root, "twice")
	idNameFile(t, twice, "k=1/k=2/x.ndjson", 0, 1)
	unknown := filepath.Join(root, "unknown")
	srcWriteFile(t, unknown, "data.xlsx", []byte("PK"))
	empty := filepath.Join(root, "empty")
	srcWriteFile(t, empty, "_SUCCESS", nil)
	file := idNameFile(t, root, "plain.csv", 0, 1)

	tests := []struct {
		name string
		src  *GlobSource
		is   error
		says []string
	}{
		{"type differs", Dir(mismatch, GlobOptions{}), ErrParse, []string{"b.ndjson", `column "id"`}},
		{"columns differ", Dir(pqOther, GlobOptions{}), ErrSchema, []string{
			"a.parquet and ", "b.parquet have different columns",
			`column "id" is int32, want int64`, `column 2 is "label", want "name"`, `extra column 3 "extra" (utf8)`}},
		{"csv header differs", Dir(csvHeader, GlobOptions{}), ErrSchema, []string{"b.csv read with the columns of", "a.csv"}},
		{"partition keys differ", Dir(keys, GlobOptions{}), ErrSchema, []string{"partition folders differ", `["a"]`, `["b"]`}},
		{"partition key is a column", Dir(collide, GlobOptions{}), ErrSchema, []string{`partition key "id" is also a column`}},
		{"partition key twice", Dir(twice, GlobOptions{}), ErrSchema, []string{`partition key "k" appears twice`}},
		{"unknown format", Dir(unknown, GlobOptions{}), nil, []string{"data.xlsx: unknown file format", "GlobOptions.Open"}},
		{"no files in dir", Dir(empty, GlobOptions{}), fs.ErrNotExist, []string{"no files"}},
		{"no such dir", Dir(filepath.Join(root, "nope"), GlobOptions{}), fs.ErrNotExist, nil},
		{"dir is a file", Dir(file, GlobOptions{}), nil, []string{"not a directory"}},
		{"no match", Glob(filepath.Join(root, "*.nope"), GlobOptions{}), fs.ErrNotExist, []string{"no files match"}},
		{"no match under **", Glob(filepath.Join(root, "nope", "**", "*.csv"), GlobOptions{}), fs.ErrNotExist, []string{"no files match"}},
		{"bad pattern", Glob(filepath.Join(root, "[*.csv"), GlobOptions{}), filepath.ErrBadPattern, nil},
		{"bad pattern under **", Glob(filepath.Join(root, "**", "[*.csv"), GlobOptions{}), filepath.ErrBadPattern, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.opts.Allocator = checkedAlloc(t)
			_, err := readSource(t, tc.src)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v, want one wrapping %v", err, tc.is)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// TestGlobNullability accepts a later file whose column is non-nullable
// where the first file's is nullable, and rejects nulls in the other
// direction.
func TestGlobNullability(t *testing.T) {
	strict := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	loose := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	batch := func(s *arrow.Schema, null bool) arrow.RecordBatch {
		b := array.NewRecordBuilder(memory.DefaultAllocator, s)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).Append(1)
		if null {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(2)
		}
		return b.NewRecordBatch()
	}
	write := func(dir, name string, s *arrow.Schema, null bool) {
		rec := batch(s, null)
		defer rec.Release()
		tbl := array.NewTableFromRecords(s, []arrow.RecordBatch{rec})
		defer tbl.Release()
		srcWriteFile(t, dir, name, ipcBytes(t, tbl, true, 10))
	}
	ok := t.TempDir()
	write(ok, "a.arrow", loose, true)
	write(ok, "b.arrow", strict, false)
	recs := mustRead(t, Dir(ok, GlobOptions{Allocator: checkedAlloc(t)}))
	if diff := cmp.Diff([][]string{{"1"}, {"(null)"}, {"1"}, {"2"}}, textRows(recs)); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	bad := t.TempDir()
	write(bad, "a.arrow", strict, false)
	write(bad, "b.arrow", loose, true)
	_, err := readSource(t, Dir(bad, GlobOptions{Allocator: checkedAlloc(t)}))
	if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "is nullable, want non-nullable") {
		t.Errorf("error %v, want ErrSchema about nullability", err)
	}
}

func TestGlobEarlyBreakAndCancel(t *testing.T) {
	root := t.TempDir()
	for i := range 4 {
		idNameFile(t, root, fmt.Sprintf("p=%d/f.parquet", i), i*10, 10)
	}
	mem := checkedAlloc(t)
	src := Dir(root, GlobOptions{Allocator: mem})
	checkEarlyStop(t, src, 2)
	checkCancel(t, src)
}

func TestGlobRoot(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"data/*.csv", "data"},
		{"data/year=*/m=*/*.parquet", "data"},
		{"data/year=2024/*.parquet", "data/year=2024"},
		{"*.csv", "."},
		{"/abs/**/x.csv", "/abs"},
		{"[ab]/c/*.csv", "."},
	}
	for _, tc := range tests {
		if got := globRoot(filepath.FromSlash(tc.pattern)); got != filepath.FromSlash(tc.want) {
			t.Errorf("globRoot(%q) = %q, want %q", tc.pattern, got, tc.want)
		}
	}
}

func TestMatchSegments(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"a/**/*.csv", "a/x.csv", true},
		{"a/**/*.csv", "a/b/c/x.csv", true},
		{"a/**/*.csv", "b/x.csv", false},
		{"a/**", "a/b/c", true},
		{"**/d/*", "a/b/d/x", true},
		{"**/d/*", "a/b/d/x/y", false},
		{"a/*/x", "a/b/c/x", false},
	}
	for _, tc := range tests {
		if got := matchSegments(strings.Split(tc.pattern, "/"), strings.Split(tc.path, "/")); got != tc.want {
			t.Errorf("matchSegments(%q, %q) = %v, want %v", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestSchemaDiff(t *testing.T) {
	f := func(name string, typ arrow.DataType, nullable bool) arrow.Field {
		return arrow.Field{Name: name, Type: typ, Nullable: nullable}
	}
	i64, str := arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String
	base := arrow.NewSchema([]arrow.Field{f("a", i64, true), f("b", str, false)}, nil)
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	tests := []struct {
		name string
		got  *arrow.Schema
		want string
	}{
		{"same", arrow.NewSchema([]arrow.Field{f("a", i64, true), f("b", str, false)}, nil), ""},
		{"metadata is ignored", arrow.NewSchema([]arrow.Field{f("a", i64, true), f("b", str, false)}, &md), ""},
		{"non-nullable where nullable is fine", arrow.NewSchema([]arrow.Field{f("a", i64, false), f("b", str, false)}, nil), ""},
		{"nullable where non-nullable", arrow.NewSchema([]arrow.Field{f("a", i64, true), f("b", str, true)}, nil),
			`column "b" is nullable, want non-nullable`},
		{"missing", arrow.NewSchema([]arrow.Field{f("a", i64, true)}, nil), `missing column 2 "b" (utf8)`},
		{"many", arrow.NewSchema([]arrow.Field{f("x", i64, true), f("b", i64, false), f("c", str, true), f("d", str, true)}, nil),
			`column 1 is "x", want "a"; column "b" is int64, want utf8; extra column 3 "c" (utf8); and 1 more`},
	}
	for _, tc := range tests {
		if got := schemaDiff(base, tc.got); got != tc.want {
			t.Errorf("%s: schemaDiff = %q, want %q", tc.name, got, tc.want)
		}
	}
}
