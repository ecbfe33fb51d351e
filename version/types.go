package version

import (
	"io/fs"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/kilnml/kiln/store"
)

// A Commit is an immutable snapshot of one dataset: a tree of entries, the
// commits it follows, and who made it, when and why. Its ID is the digest of
// its canonical encoding, which is stored in the repository's store like
// any blob, so commits are hash-linked through Parents.
type Commit struct {
	ID      store.Digest      `json:"-"`
	Dataset string            `json:"dataset"`
	Parents []store.Digest    `json:"parents,omitempty"`
	Tree    store.Digest      `json:"tree"` // digest of the encoded tree blob
	Message string            `json:"message"`
	Author  string            `json:"author"`
	Time    time.Time         `json:"time"`
	Meta    map[string]string `json:"meta,omitempty"`
}

// An Entry is one file of a commit's tree.
type Entry struct {
	Path   string       // slash-separated, relative, valid by ValidPath
	Digest store.Digest // of the file's content (a blob in the store)
	Size   int64
	Mode   fs.FileMode // permission bits only: 0o644 or 0o755
	// Table describes a tabular entry (a Parquet file): schema, rows and
	// column statistics. Nil for other files.
	Table *TableInfo
}

// TableInfo describes a tabular entry.
type TableInfo struct {
	Schema  *arrow.Schema
	Rows    int64
	Columns []ColumnStats // one per top-level field of Schema, in order
}

// ColumnStats are the statistics of one column of a table.
type ColumnStats struct {
	Name  string `json:"name"`
	Type  string `json:"type"` // the Arrow type, as arrow.DataType.String
	Nulls int64  `json:"nulls"`
	// Min and Max are the smallest and largest non-null values in canonical
	// text: integers in decimal, floats as strconv 'g' -1, booleans,
	// timestamps and dates RFC 3339 (UTC), strings as they are (the first
	// 64 bytes). Empty when the column has no non-null value or the type
	// has no order.
	Min string `json:"min,omitempty"`
	Max string `json:"max,omitempty"`
	// Mean of the non-null values of a numeric column; nil otherwise.
	Mean *float64 `json:"mean,omitempty"`
	// Distinct estimates the number of distinct non-null values
	// (HyperLogLog, about 1% standard error).
	Distinct int64 `json:"distinct"`
}

// CommitOptions describe a commit.
type CommitOptions struct {
	// Branch to commit on. Empty means "main".
	Branch string
	// Parent, when set, is the head the caller expects the branch to have:
	// if the branch has moved since, the commit fails with ErrConflict and
	// changes nothing. Zero means the branch's head at the time of the
	// commit (or none for a new branch): the commit goes on top of whatever
	// others committed meanwhile and never fails with ErrConflict.
	Parent  store.Digest
	Message string
	// Author; empty means the repository's default (Options.Author).
	Author string
	// Time; zero means now.
	Time time.Time
	Meta map[string]string
}
