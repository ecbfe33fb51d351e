package version

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"
	"github.com/kilnml/kiln/store"
)

// treeCmp compares trees: schemas by arrow's Equal.
var treeCmp = cmp.Comparer(func(a, b *arrow.Schema) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
})

func ptrF64(v float64) *float64 { return &v }

// sampleTree is a tree with plain and table entries.
func sampleTree() []Entry {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "carrier", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "delay", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "when", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	}, nil)
	return []Entry{
		{Path: "README.md", Digest: store.Sum([]byte("readme")), Size: 6, Mode: 0o644},
		{Path: "data/2024-01.parquet", Digest: store.Sum([]byte("jan")), Size: 1 << 40, Mode: 0o644, Table: &TableInfo{
			Schema: schema, Rows: 123456,
			Columns: []ColumnStats{
				{Name: "carrier", Type: "utf8", Nulls: 3, Min: "AA", Max: "WN", Distinct: 14},
				{Name: "delay", Type: "int64", Min: "-30", Max: "1200", Mean: ptrF64(12.5), Distinct: 900},
				{Name: "when", Type: "timestamp[us, tz=UTC]", Mean: ptrF64(math.NaN())},
			},
		}},
		{Path: "data/2024-02.parquet", Digest: store.Sum([]byte("feb")), Size: 0, Mode: 0o644},
		{Path: "run.sh", Digest: store.Sum([]byte("#!/bin/sh")), Size: 9, Mode: 0o755},
		{Path: "ünï/名前 with spaces.txt", Digest: store.Sum(nil), Mode: 0o644},
	}
}

// sortedSample is sampleTree sorted by path, as a tree must be.
func sortedSample() []Entry {
	es := sampleTree()
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Path, b.Path) })
	return es
}

func TestTreeRoundTrip(t *testing.T) {
	nan := cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })
	for _, tree := range [][]Entry{nil, sortedSample(), manyEntries(1000)} {
		enc, err := encodeTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeTree(enc)
		if err != nil {
			t.Fatal(err)
		}
		if len(tree) == 0 && len(got) == 0 {
			continue
		}
		if diff := cmp.Diff(tree, got, treeCmp, nan); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
		again, err := encodeTree(got)
		if err != nil || !bytes.Equal(again, enc) {
			t.Errorf("encoding is not deterministic (err %v)", err)
		}
	}
}

func manyEntries(n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{Path: fmt.Sprintf("part/%03d/file-%06d.bin", i/100, i), Digest: store.Sum([]byte{byte(i), byte(i >> 8)}), Size: int64(i * 37), Mode: 0o644}
	}
	return es
}

func TestEncodeTreeRefuses(t *testing.T) {
	good := sortedSample()
	cases := map[string]func([]Entry) []Entry{
		"unsorted":  func(es []Entry) []Entry { es[0], es[1] = es[1], es[0]; return es },
		"twice":     func(es []Entry) []Entry { es[1].Path = es[0].Path; return es },
		"bad path":  func(es []Entry) []Entry { es[0].Path = "../x"; return es },
		"bad mode":  func(es []Entry) []Entry { es[0].Mode = 0o600; return es },
		"negative":  func(es []Entry) []Entry { es[0].Size = -1; return es },
		"no schema": func(es []Entry) []Entry { es[3].Table = &TableInfo{}; return es },
		"columns":   func(es []Entry) []Entry { es[3].Table = &TableInfo{Schema: good[1].Table.Schema}; return es },
		"column names": func(es []Entry) []Entry {
			t := *good[1].Table
			t.Columns = []ColumnStats{{Name: "x"}, {}, {}}
			es[3].Table = &t
			return es
		},
		"no fields": func(es []Entry) []Entry { es[3].Table = &TableInfo{Schema: arrow.NewSchema(nil, nil)}; return es },
		"odd type": func(es []Entry) []Entry {
			es[3].Table = &TableInfo{Schema: arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int8)}}, nil), Columns: []ColumnStats{{Name: "l"}}}
			return es
		},
	}
	for name, f := range cases {
		if _, err := encodeTree(f(sortedSample())); err == nil {
			t.Errorf("%s: encodeTree accepted it", name)
		}
	}
}

func TestDecodeTreeRefuses(t *testing.T) {
	enc, err := encodeTree(sortedSample())
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func([]byte) []byte) []byte { return f(bytes.Clone(enc)) }
	cases := map[string][]byte{
		"empty":      nil,
		"magic":      mutate(func(b []byte) []byte { b[0] = 'K'; return b }),
		"version":    mutate(func(b []byte) []byte { b[len(treeMagic)] = 2; return b }),
		"truncated":  enc[:len(enc)-1],
		"trailing":   append(bytes.Clone(enc), 0),
		"count":      mutate(func(b []byte) []byte { b[len(treeMagic)+1] = 0x7f; return b }),
		"huge count": append([]byte(treeMagic+"\x01"), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
	}
	// Every one-byte truncation and a bit flip at every offset either fails
	// with ErrCorrupt or decodes to something that encodes back the same.
	for i := range enc {
		for _, b := range [][]byte{enc[:i], mutate(func(b []byte) []byte { b[i] ^= 0x40; return b })} {
			tree, err := decodeTree(b)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("offset %d: %v, want ErrCorrupt", i, err)
				}
				continue
			}
			if _, err := encodeTree(tree); err != nil {
				t.Fatalf("offset %d: decoded a tree that does not encode: %v", i, err)
			}
		}
	}
	for name, b := range cases {
		if _, err := decodeTree(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	// Hand-made entries that the encoder would not write.
	entry := func(shared int, rest string, flags byte, extra ...byte) []byte {
		b := []byte(treeMagic + "\x01\x01")
		b = append(b, byte(shared), byte(len(rest)))
		b = append(b, rest...)
		b = append(b, make([]byte, store.DigestSize)...)
		b = append(b, 5, flags)
		return append(b, extra...)
	}
	for name, b := range map[string][]byte{
		"dotdot":       entry(0, "a/../b", 0),
		"absolute":     entry(0, "/etc", 0),
		"nul":          entry(0, "a\x00", 0),
		"shared":       entry(3, "x", 0),
		"flags":        entry(0, "a", 8),
		"empty path":   entry(0, "", 0),
		"table schema": entry(0, "t", flagTable, 2, '{', '}', 0, 0),
	} {
		if _, err := decodeTree(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := decodeTree(entry(0, "a", flagExec)); err != nil {
		t.Errorf("a hand-made good entry: %v", err)
	}
}

// FuzzDecodeTree checks that decodeTree never panics, refuses bad input
// with ErrCorrupt, and that what it accepts encodes and decodes to the
// same tree. Its seed corpus is in testdata/fuzz/FuzzDecodeTree.
func FuzzDecodeTree(f *testing.F) {
	for _, tree := range [][]Entry{nil, sortedSample(), manyEntries(3)} {
		enc, err := encodeTree(tree)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := decodeTree(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		enc, err := encodeTree(tree)
		if err != nil {
			t.Fatalf("decoded tree does not encode: %v", err)
		}
		again, err := decodeTree(enc)
		if err != nil {
			t.Fatalf("re-encoded tree does not decode: %v", err)
		}
		nan := cmp.Comparer(func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })
		if diff := cmp.Diff(tree, again, treeCmp, nan); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

// TestFuzzCorpus keeps the seed corpus of FuzzDecodeTree meaningful: it
// holds valid trees, one with tables, and invalid ones.
func TestFuzzCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzDecodeTree/*")
	if err != nil {
		t.Fatal(err)
	}
	var valid, tables, invalid int
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b, ok := parseCorpusBytes(string(data))
		if !ok {
			t.Fatalf("%s: not a []byte corpus file", name)
		}
		tree, err := decodeTree(b)
		switch {
		case err != nil:
			invalid++
		default:
			valid++
			for _, e := range tree {
				if e.Table != nil {
					tables++
					break
				}
			}
		}
	}
	if valid < 2 || tables < 1 || invalid < 2 {
		t.Errorf("corpus: %d valid trees (%d with tables), %d invalid; want at least 2, 1, 2", valid, tables, invalid)
	}
}

// parseCorpusBytes reads a "go test fuzz v1" file of one []byte value.
func parseCorpusBytes(s string) ([]byte, bool) {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	v := strings.TrimSpace(lines[1])
	if !strings.HasPrefix(v, "[]byte(") || !strings.HasSuffix(v, ")") {
		return nil, false
	}
	q := v[len("[]byte(") : len(v)-1]
	u, err := strconv.Unquote(q)
	if err != nil {
		return nil, false
	}
	return []byte(u), true
}
