package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Select keeps the named columns, in the order given, and drops the others.
// It copies no data: the output batch shares the input's arrays.
//
// Binding fails with ErrSchema when a column is missing or named twice, or
// when no column is named.
func Select(cols ...string) Stage {
	return &selectStage{cols: slices.Clone(cols)}
}

type selectStage struct{ cols []string }

func (s *selectStage) Name() string { return "select" }

func (s *selectStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	if len(s.cols) == 0 {
		return nil, fmt.Errorf("%w: select: no columns named", ErrSchema)
	}
	idx := make([]int, len(s.cols))
	seen := make(map[string]bool, len(s.cols))
	for i, name := range s.cols {
		if seen[name] {
			return nil, fmt.Errorf("%w: select: column %q named twice", ErrSchema, name)
		}
		seen[name] = true
		j, err := fieldIndex(in, name)
		if err != nil {
			return nil, err
		}
		idx[i] = j
	}
	return newProjectStep(in, idx, nil), nil
}

// Drop removes the named columns and keeps the others in their order. It
// copies no data.
//
// Binding fails with ErrSchema when a column is missing or when every column
// would be dropped.
func Drop(cols ...string) Stage {
	return &dropStage{cols: slices.Clone(cols)}
}

type dropStage struct{ cols []string }

func (s *dropStage) Name() string { return "drop" }

func (s *dropStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	drop := make(map[int]bool, len(s.cols))
	for _, name := range s.cols {
		j, err := fieldIndex(in, name)
		if err != nil {
			return nil, err
		}
		drop[j] = true
	}
	var idx []int
	for j := range in.NumFields() {
		if !drop[j] {
			idx = append(idx, j)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%w: drop: no column would be left", ErrSchema)
	}
	return newProjectStep(in, idx, nil), nil
}

// Rename renames columns: each key of m is an existing column, its value the
// new name. Columns keep their order, types and data (nothing is copied).
// Swapping names (a→b, b→a) is allowed.
//
// Binding fails with ErrSchema when a key is not a column, when a new name is
// empty, or when the result would have two columns of one name (renaming onto
// a column that keeps its name, or two columns onto one name).
func Rename(m map[string]string) Stage {
	return &renameStage{m: maps.Clone(m)}
}

type renameStage struct{ m map[string]string }

func (s *renameStage) Name() string { return "rename" }

func (s *renameStage) Bind(mem memory.Allocator, in *arrow.Schema) (Step, error) {
	// Check keys in sorted order so that errors do not depend on map order.
	for _, old := range slices.Sorted(maps.Keys(s.m)) {
		if _, err := fieldIndex(in, old); err != nil {
			return nil, err
		}
		if s.m[old] == "" {
			return nil, fmt.Errorf("%w: rename: new name for column %q is empty", ErrSchema, old)
		}
	}
	names := make([]string, in.NumFields())
	seen := make(map[string]string, len(names))
	for j, f := range in.Fields() {
		name := f.Name
		if nn, ok := s.m[f.Name]; ok {
			name = nn
		}
		if prev, dup := seen[name]; dup {
			switch {
			case prev != name && f.Name != name:
				return nil, fmt.Errorf("%w: rename: columns %q and %q are both renamed to %q", ErrSchema, prev, f.Name, name)
			case prev == name:
				return nil, fmt.Errorf("%w: rename %q to %q: column %q already exists", ErrSchema, f.Name, name, name)
			default:
				return nil, fmt.Errorf("%w: rename %q to %q: column %q already exists", ErrSchema, prev, name, name)
			}
		}
		seen[name] = f.Name
		names[j] = name
	}
	idx := make([]int, in.NumFields())
	for j := range idx {
		idx[j] = j
	}
	return newProjectStep(in, idx, names), nil
}

// projectStep picks input columns by index, optionally under new names.
type projectStep struct {
	in     *arrow.Schema
	idx    []int
	schema *arrow.Schema
}

func newProjectStep(in *arrow.Schema, idx []int, names []string) *projectStep {
	fields := make([]arrow.Field, len(idx))
	for i, j := range idx {
		fields[i] = in.Field(j)
		if names != nil {
			fields[i].Name = names[i]
		}
	}
	md := in.Metadata()
	return &projectStep{in: in, idx: idx, schema: arrow.NewSchema(fields, &md)}
}

func (p *projectStep) Schema() *arrow.Schema { return p.schema }

func (p *projectStep) Apply(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := checkBatch(in, p.in); err != nil {
		return nil, err
	}
	cols := make([]arrow.Array, len(p.idx))
	for i, j := range p.idx {
		cols[i] = in.Column(j)
	}
	return array.NewRecordBatch(p.schema, cols, in.NumRows()), nil
}

// fieldIndex returns the index of the column called name. A missing column
// gives an error wrapping ErrSchema that lists the columns there are.
func fieldIndex(s *arrow.Schema, name string) (int, error) {
	idx := s.FieldIndices(name)
	switch len(idx) {
	case 1:
		return idx[0], nil
	case 0:
		return -1, fmt.Errorf("%w: no column %q (columns: %s)", ErrSchema, name, columnList(s))
	default:
		return -1, fmt.Errorf("%w: column name %q is ambiguous: %d columns have it", ErrSchema, name, len(idx))
	}
}

// columnList lists a schema's column names for error messages.
func columnList(s *arrow.Schema) string {
	if s.NumFields() == 0 {
		return "none"
	}
	var b strings.Builder
	for i, f := range s.Fields() {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 32 {
			fmt.Fprintf(&b, "and %d more", s.NumFields()-i)
			break
		}
		b.WriteString(f.Name)
	}
	return b.String()
}

// checkBatch reports a batch whose columns do not have the types of the
// schema a step was bound to, which would otherwise make the step read the
// wrong column or misread one.
func checkBatch(in arrow.RecordBatch, want *arrow.Schema) error {
	got := in.Schema()
	if got == want {
		return nil
	}
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("%w: batch has %d columns, the stage was bound to %d", ErrSchema, got.NumFields(), want.NumFields())
	}
	for i := range want.NumFields() {
		g, w := got.Field(i), want.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) {
			return fmt.Errorf("%w: batch column %d is %s %s, the stage was bound to %s %s",
				ErrSchema, i+1, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return nil
}
