package version

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
	"strings"

	"github.com/kilnml/kiln/pipeline"
	"github.com/kilnml/kiln/store"
)

// A tree is stored as one blob in the store, in a compact binary form:
//
//	"kilntree" version(1 byte = 1)
//	uvarint  number of entries
//	entries, in strictly increasing path order, each:
//	  uvarint  bytes shared with the previous entry's path
//	  uvarint  length of the rest of the path, then those bytes
//	  32 bytes digest of the content
//	  uvarint  size
//	  byte     flags: 1 = executable (mode 0o755, else 0o644), 2 = table
//	  if table:
//	    uvarint length of the schema (pipeline.MarshalSchemaJSON), then it
//	    uvarint rows
//	    uvarint number of columns (that of the schema's fields), then each:
//	      string name, string type, uvarint nulls, string min, string max,
//	      byte 1 + 8 bytes little-endian float64 mean, or byte 0,
//	      uvarint distinct
//
// where a string is a uvarint length and that many bytes. The encoding of
// a tree is deterministic, so equal trees have equal digests.
const (
	treeMagic   = "kilntree"
	treeVersion = 1

	flagExec  = 1
	flagTable = 2

	// minEntryLen is the fewest bytes an encoded entry takes.
	minEntryLen = 1 + 1 + store.DigestSize + 1 + 1
	// maxTreeBlob is the largest tree blob read back (about 10 million
	// entries).
	maxTreeBlob = 1 << 30
)

// encodeTree encodes entries, which must be sorted by path without
// duplicates, have valid paths and modes 0o644 or 0o755.
func encodeTree(entries []Entry) ([]byte, error) {
	n := len(treeMagic) + 1 + binary.MaxVarintLen64
	for _, e := range entries {
		n += len(e.Path) + store.DigestSize + 16
	}
	b := make([]byte, 0, n)
	b = append(b, treeMagic...)
	b = append(b, treeVersion)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	prev := ""
	for i, e := range entries {
		if err := ValidPath(e.Path); err != nil {
			return nil, err
		}
		if i > 0 && e.Path <= prev {
			if e.Path == prev {
				return nil, fmt.Errorf("%w: path %q appears twice", ErrBadName, e.Path)
			}
			return nil, fmt.Errorf("version: encode tree: entries not sorted by path (%q after %q)", e.Path, prev)
		}
		if e.Size < 0 {
			return nil, fmt.Errorf("version: entry %q: negative size %d", e.Path, e.Size)
		}
		var flags byte
		switch e.Mode {
		case 0o644:
		case 0o755:
			flags |= flagExec
		default:
			return nil, fmt.Errorf("version: entry %q: mode %v, want 0644 or 0755", e.Path, e.Mode)
		}
		if e.Table != nil {
			flags |= flagTable
		}
		shared := commonPrefix(prev, e.Path)
		b = binary.AppendUvarint(b, uint64(shared))
		b = appendString(b, e.Path[shared:])
		b = append(b, e.Digest[:]...)
		b = binary.AppendUvarint(b, uint64(e.Size))
		b = append(b, flags)
		if e.Table != nil {
			var err error
			if b, err = appendTable(b, e.Table); err != nil {
				return nil, fmt.Errorf("version: entry %q: %w", e.Path, err)
			}
		}
		prev = e.Path
	}
	return b, nil
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTable(b []byte, t *TableInfo) ([]byte, error) {
	if t.Schema == nil {
		return nil, errors.New("table without a schema")
	}
	sj, err := pipeline.MarshalSchemaJSON(t.Schema)
	if err != nil {
		return nil, err
	}
	// The decoder parses the schema back: refuse what it would refuse (no
	// fields, a repeated or empty field name).
	if _, err := pipeline.ParseSchemaJSON(sj); err != nil {
		return nil, err
	}
	fields := t.Schema.Fields()
	if len(t.Columns) != len(fields) {
		return nil, fmt.Errorf("table has %d column statistics for %d fields", len(t.Columns), len(fields))
	}
	if t.Rows < 0 {
		return nil, fmt.Errorf("table has %d rows", t.Rows)
	}
	b = appendString(b, string(sj))
	b = binary.AppendUvarint(b, uint64(t.Rows))
	b = binary.AppendUvarint(b, uint64(len(t.Columns)))
	for i, c := range t.Columns {
		if c.Name != fields[i].Name {
			return nil, fmt.Errorf("column statistics %d are of %q, field %d is %q", i, c.Name, i, fields[i].Name)
		}
		if c.Nulls < 0 || c.Distinct < 0 {
			return nil, fmt.Errorf("column %q: negative count", c.Name)
		}
		b = appendString(b, c.Name)
		b = appendString(b, c.Type)
		b = binary.AppendUvarint(b, uint64(c.Nulls))
		b = appendString(b, c.Min)
		b = appendString(b, c.Max)
		if c.Mean != nil {
			b = append(b, 1)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(*c.Mean))
		} else {
			b = append(b, 0)
		}
		b = binary.AppendUvarint(b, uint64(c.Distinct))
	}
	return b, nil
}

// treeDecoder reads an encoded tree; the first problem sticks in err.
type treeDecoder struct {
	b   []byte
	off int
	err error
}

func (d *treeDecoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("at byte %d: %s", d.off, fmt.Sprintf(format, a...))
	}
}

func (d *treeDecoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.off += n
	return v
}

// int64 reads a uvarint that must fit in an int64.
func (d *treeDecoder) int64(what string) int64 {
	v := d.uvarint(what)
	if v > math.MaxInt64 {
		d.fail("%s %d out of range", what, v)
		return 0
	}
	return int64(v)
}

func (d *treeDecoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("%s of %d bytes past the end", what, n)
		return nil
	}
	s := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *treeDecoder) string(what string) string {
	return string(d.bytes(d.uvarint(what+" length"), what))
}

func (d *treeDecoder) byte(what string) byte {
	b := d.bytes(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

// decodeTree decodes an encoded tree, refusing anything that encodeTree
// would not write with an error wrapping ErrCorrupt.
func decodeTree(b []byte) ([]Entry, error) {
	if len(b) < len(treeMagic)+1 || string(b[:len(treeMagic)]) != treeMagic {
		return nil, fmt.Errorf("%w: tree: bad magic", ErrCorrupt)
	}
	if v := b[len(treeMagic)]; v != treeVersion {
		return nil, fmt.Errorf("%w: tree: format version %d, want %d", ErrCorrupt, v, treeVersion)
	}
	d := &treeDecoder{b: b, off: len(treeMagic) + 1}
	n := d.uvarint("entry count")
	if d.err == nil && n > uint64(len(b)-d.off)/minEntryLen {
		d.fail("%d entries cannot fit in %d bytes", n, len(b)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: tree: %v", ErrCorrupt, d.err)
	}
	entries := make([]Entry, n)
	prev := ""
	var sb strings.Builder
	for i := range entries {
		e := &entries[i]
		shared := d.uvarint("shared prefix")
		rest := d.bytes(d.uvarint("path length"), "path")
		if d.err != nil {
			break
		}
		if shared > uint64(len(prev)) {
			d.fail("entry %d shares %d bytes of a %d-byte path", i, shared, len(prev))
			break
		}
		sb.Reset()
		sb.Grow(int(shared) + len(rest))
		sb.WriteString(prev[:shared])
		sb.Write(rest)
		e.Path = sb.String()
		if why := pathProblem(e.Path); why != "" {
			d.fail("entry %d: path %s: %s", i, quoteShort(e.Path), why)
			break
		}
		if i > 0 && e.Path <= prev {
			d.fail("entry %d: path %q not after %q", i, e.Path, prev)
			break
		}
		prev = e.Path
		copy(e.Digest[:], d.bytes(store.DigestSize, "digest"))
		e.Size = d.int64("size")
		flags := d.byte("flags")
		if d.err != nil {
			break
		}
		if flags&^(flagExec|flagTable) != 0 {
			d.fail("entry %q: unknown flags %#x", e.Path, flags)
			break
		}
		e.Mode = 0o644
		if flags&flagExec != 0 {
			e.Mode = 0o755
		}
		if flags&flagTable != 0 {
			e.Table = d.table(e.Path)
		}
		if d.err != nil {
			break
		}
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d bytes after the last entry", len(b)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: tree: %v", ErrCorrupt, d.err)
	}
	return entries, nil
}

func (d *treeDecoder) table(path string) *TableInfo {
	sj := d.bytes(d.uvarint("schema length"), "schema")
	if d.err != nil {
		return nil
	}
	schema, err := pipeline.ParseSchemaJSON(sj)
	if err != nil {
		d.fail("entry %q: schema: %v", path, err)
		return nil
	}
	if canon, err := pipeline.MarshalSchemaJSON(schema); err != nil || !bytes.Equal(canon, sj) {
		d.fail("entry %q: schema not in canonical form", path)
		return nil
	}
	t := &TableInfo{Schema: schema, Rows: d.int64("rows")}
	nc := d.uvarint("column count")
	fields := schema.Fields()
	if d.err == nil && nc != uint64(len(fields)) {
		d.fail("entry %q: %d column statistics for %d fields", path, nc, len(fields))
	}
	if d.err != nil {
		return nil
	}
	t.Columns = make([]ColumnStats, nc)
	for i := range t.Columns {
		c := &t.Columns[i]
		c.Name = d.string("column name")
		c.Type = d.string("column type")
		c.Nulls = d.int64("nulls")
		c.Min = d.string("min")
		c.Max = d.string("max")
		switch d.byte("mean flag") {
		case 0:
		case 1:
			if m := d.bytes(8, "mean"); m != nil {
				v := math.Float64frombits(binary.LittleEndian.Uint64(m))
				c.Mean = &v
			}
		default:
			d.fail("entry %q: column %d: bad mean flag", path, i)
		}
		c.Distinct = d.int64("distinct")
		if d.err != nil {
			return nil
		}
		if c.Name != fields[i].Name {
			d.fail("entry %q: column statistics %d are of %q, field is %q", path, i, c.Name, fields[i].Name)
			return nil
		}
	}
	return t
}

// Tree returns the entries of commit c, sorted by path. A tree blob that is
// missing or does not decode gives an error wrapping ErrCorrupt.
func (r *Repository) Tree(ctx context.Context, c Commit) ([]Entry, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	return r.readTree(ctx, c.Tree)
}

// readTree reads and decodes the tree blob d.
func (r *Repository) readTree(ctx context.Context, d store.Digest) ([]Entry, error) {
	data, err := r.readBlob(ctx, d, maxTreeBlob)
	if err != nil {
		return nil, fmt.Errorf("version: tree %s: %w", d, corruptIf(err))
	}
	entries, err := decodeTree(data)
	if err != nil {
		return nil, fmt.Errorf("version: tree %s: %w", d, err)
	}
	return entries, nil
}

// corruptIf makes a missing or corrupt store object also an ErrCorrupt of
// this package: metadata that should be there is not.
func corruptIf(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

// readBlob reads a whole blob of at most limit bytes from the store,
// verified against its digest.
func (r *Repository) readBlob(ctx context.Context, d store.Digest, limit int64) ([]byte, error) {
	info, err := r.st.Stat(ctx, d)
	if err != nil {
		return nil, err
	}
	if info.Size > limit {
		return nil, fmt.Errorf("%w: blob %s has %d bytes, more than %d", ErrCorrupt, d, info.Size, limit)
	}
	rc, err := r.st.Get(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, 0, info.Size+1)
	w := bytes.NewBuffer(buf)
	if _, err := io.Copy(w, rc); err != nil {
		return nil, err
	}
	if int64(w.Len()) != info.Size {
		return nil, fmt.Errorf("%w: blob %s: read %d bytes, want %d", store.ErrCorrupt, d, w.Len(), info.Size)
	}
	return w.Bytes(), nil
}

// findEntry returns the entry at path in sorted entries, or nil.
func findEntry(entries []Entry, path string) *Entry {
	i, ok := slices.BinarySearchFunc(entries, path, func(e Entry, p string) int { return strings.Compare(e.Path, p) })
	if !ok {
		return nil
	}
	return &entries[i]
}

// normMode is the mode an entry gets for a file of mode m: 0o755 if any
// execute bit is set, else 0o644.
func normMode(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// tableEncodable reports whether t can be encoded in a tree (its schema has a
// SchemaJSON form and one column statistic per field).
func tableEncodable(t *TableInfo) bool {
	_, err := appendTable(nil, t)
	return err == nil
}
