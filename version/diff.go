package version

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// DiffReport says how two versions differ, entry by entry.
type DiffReport struct {
	From, To Commit
	// Changes lists the entries added, removed or modified, sorted by path.
	// Entries that are the same in both versions are left out.
	Changes []EntryDiff
}

// EntryDiff is one entry that differs between two versions.
type EntryDiff struct {
	Path string
	Kind ChangeKind
	// Old is the entry in the older version (nil when Added), New the one
	// in the newer version (nil when Removed).
	Old, New *Entry
	// Schema lists the column changes of a modified table: columns removed
	// or whose type changed, in the old column order, then columns added,
	// in the new order.
	Schema []SchemaChange
	// RowsDelta is the change of the number of rows: new minus old, where
	// a side that is not a table (or absent) counts as 0 rows.
	RowsDelta int64
	// Columns holds, for a modified table, the statistics of the columns
	// both versions have whose statistics differ, in the new column order.
	Columns []ColumnDelta
}

// Kinds of SchemaChange.
const (
	ColumnAdded   = "added"
	ColumnRemoved = "removed"
	ColumnRetyped = "type"
)

// SchemaChange is a column added, removed or changed in type.
type SchemaChange struct {
	Column string
	Kind   string // ColumnAdded, ColumnRemoved or ColumnRetyped
	// OldType and NewType are the column's Arrow types as text; OldType is
	// empty for an added column, NewType for a removed one.
	OldType, NewType string
}

// ColumnDelta compares the statistics of a column in two versions.
type ColumnDelta struct {
	Column string
	// NullsDelta and DistinctDelta are new minus old.
	NullsDelta    int64
	DistinctDelta int64
	// Minimums and maximums, in the canonical text of ColumnStats.
	OldMin, NewMin, OldMax, NewMax string
	// MeanDelta is the new mean minus the old one, nil unless both
	// versions have a mean.
	MeanDelta *float64
}

// Diff compares two versions of datasets named by specs (as Resolve takes
// them): which entries were added, removed or modified from the version
// from to the version to, and for tables, how their schema, row count and
// column statistics changed. The versions may be of different datasets.
// Entries are compared by digest and mode; statistics come from the
// commits' trees, so Diff reads no table data.
func (r *Repository) Diff(ctx context.Context, from, to string) (DiffReport, error) {
	if err := r.check(); err != nil {
		return DiffReport{}, err
	}
	var rep DiffReport
	var err error
	if rep.From, err = r.Resolve(ctx, from); err != nil {
		return DiffReport{}, err
	}
	if rep.To, err = r.Resolve(ctx, to); err != nil {
		return DiffReport{}, err
	}
	oldTree, err := r.Tree(ctx, rep.From)
	if err != nil {
		return DiffReport{}, fmt.Errorf("version: diff: %w", err)
	}
	newTree := oldTree
	if rep.To.Tree != rep.From.Tree {
		if newTree, err = r.Tree(ctx, rep.To); err != nil {
			return DiffReport{}, fmt.Errorf("version: diff: %w", err)
		}
	}
	rep.Changes = diffTrees(oldTree, newTree)
	return rep, nil
}

// diffTrees compares two trees, each sorted by path.
func diffTrees(oldTree, newTree []Entry) []EntryDiff {
	var out []EntryDiff
	i, j := 0, 0
	for i < len(oldTree) || j < len(newTree) {
		var c int
		switch {
		case i == len(oldTree):
			c = 1
		case j == len(newTree):
			c = -1
		default:
			c = strings.Compare(oldTree[i].Path, newTree[j].Path)
		}
		switch {
		case c < 0:
			o := &oldTree[i]
			out = append(out, EntryDiff{Path: o.Path, Kind: Removed, Old: o, RowsDelta: -rowsOf(o)})
			i++
		case c > 0:
			n := &newTree[j]
			out = append(out, EntryDiff{Path: n.Path, Kind: Added, New: n, RowsDelta: rowsOf(n)})
			j++
		default:
			o, n := &oldTree[i], &newTree[j]
			if o.Digest != n.Digest || o.Mode != n.Mode {
				out = append(out, diffEntry(o, n))
			}
			i++
			j++
		}
	}
	return out
}

func rowsOf(e *Entry) int64 {
	if e.Table == nil {
		return 0
	}
	return e.Table.Rows
}

// diffEntry describes a modified entry.
func diffEntry(o, n *Entry) EntryDiff {
	d := EntryDiff{Path: n.Path, Kind: Modified, Old: o, New: n, RowsDelta: rowsOf(n) - rowsOf(o)}
	if o.Table == nil || n.Table == nil {
		return d
	}
	d.Schema = diffSchemas(o.Table.Schema, n.Table.Schema)
	oldCols := make(map[string]*ColumnStats, len(o.Table.Columns))
	for k := range o.Table.Columns {
		oldCols[o.Table.Columns[k].Name] = &o.Table.Columns[k]
	}
	for k := range n.Table.Columns {
		nc := &n.Table.Columns[k]
		oc := oldCols[nc.Name]
		if oc == nil || sameStats(oc, nc) {
			continue
		}
		cd := ColumnDelta{
			Column:        nc.Name,
			NullsDelta:    nc.Nulls - oc.Nulls,
			DistinctDelta: nc.Distinct - oc.Distinct,
			OldMin:        oc.Min, NewMin: nc.Min,
			OldMax: oc.Max, NewMax: nc.Max,
		}
		if oc.Mean != nil && nc.Mean != nil {
			m := *nc.Mean - *oc.Mean
			cd.MeanDelta = &m
		}
		d.Columns = append(d.Columns, cd)
	}
	return d
}

func sameStats(a, b *ColumnStats) bool {
	if a.Nulls != b.Nulls || a.Distinct != b.Distinct || a.Min != b.Min || a.Max != b.Max || a.Type != b.Type {
		return false
	}
	if (a.Mean == nil) != (b.Mean == nil) {
		return false
	}
	return a.Mean == nil || *a.Mean == *b.Mean
}

// diffSchemas lists the columns removed or retyped from o to n (in o's
// order), then those added (in n's order).
func diffSchemas(o, n *arrow.Schema) []SchemaChange {
	if o == nil || n == nil {
		return nil
	}
	var out []SchemaChange
	for _, of := range o.Fields() {
		idx := n.FieldIndices(of.Name)
		if len(idx) == 0 {
			out = append(out, SchemaChange{Column: of.Name, Kind: ColumnRemoved, OldType: of.Type.String()})
			continue
		}
		if nf := n.Field(idx[0]); !arrow.TypeEqual(of.Type, nf.Type) {
			out = append(out, SchemaChange{Column: of.Name, Kind: ColumnRetyped, OldType: of.Type.String(), NewType: nf.Type.String()})
		}
	}
	for _, nf := range n.Fields() {
		if len(o.FieldIndices(nf.Name)) == 0 {
			out = append(out, SchemaChange{Column: nf.Name, Kind: ColumnAdded, NewType: nf.Type.String()})
		}
	}
	return out
}
