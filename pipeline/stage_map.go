package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Map transforms whole batches with fn, for what the other stages do not
// cover. schema declares the output schema from the input schema when the
// pipeline is bound; a nil schema function declares that the output schema
// is the input's.
//
// fn gets the allocator to build new arrays from and one input batch, which
// it must not release. It returns a new batch owned by the caller (to
// return in itself, Retain it first) whose schema equals the declared one,
// field for field (metadata aside); otherwise the run fails with ErrSchema.
// fn is called from several goroutines at once and must be safe for that.
// A panic in fn or in schema becomes an error wrapping ErrPanic.
func Map(name string,
	schema func(in *arrow.Schema) (*arrow.Schema, error),
	fn func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error),
) Stage {
	return &mapStage{name: name, schema: schema, fn: fn}
}

type mapStage struct {
	name   string
	schema func(*arrow.Schema) (*arrow.Schema, error)
	fn     func(context.Context, memory.Allocator, arrow.RecordBatch) (arrow.RecordBatch, error)
}

func (s *mapStage) Name() string {
	if s.name == "" {
		return "map"
	}
	return s.name
}

func (s *mapStage) Bind(mem memory.Allocator, in *arrow.Schema) (st Step, err error) {
	if s.fn == nil {
		return nil, errors.New("map: nil function")
	}
	out := in
	if s.schema != nil {
		defer func() {
			if r := recover(); r != nil {
				st, err = nil, fmt.Errorf("map %s: schema: %w: %v\n%s", s.Name(), ErrPanic, r, debug.Stack())
			}
		}()
		if out, err = s.schema(in); err != nil {
			return nil, err
		}
		if out == nil {
			return nil, fmt.Errorf("%w: map %s: schema function returned no schema", ErrSchema, s.Name())
		}
	}
	return &mapStep{stage: s, mem: mem, schema: out}, nil
}

type mapStep struct {
	stage  *mapStage
	mem    memory.Allocator
	schema *arrow.Schema
}

func (s *mapStep) Schema() *arrow.Schema { return s.schema }

func (s *mapStep) Apply(ctx context.Context, in arrow.RecordBatch) (out arrow.RecordBatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			if out != nil {
				out.Release()
			}
			out, err = nil, fmt.Errorf("map %s: %w: %v\n%s", s.stage.Name(), ErrPanic, r, debug.Stack())
		}
	}()
	out, err = s.stage.fn(ctx, s.mem, in)
	if err != nil {
		if out != nil {
			out.Release()
		}
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("map %s: function returned neither a batch nor an error", s.stage.Name())
	}
	if !out.Schema().Equal(s.schema) {
		got := out.Schema()
		out.Release()
		return nil, fmt.Errorf("%w: map %s: batch schema differs from the declared one:\ngot:  %s\nwant: %s",
			ErrSchema, s.stage.Name(), got, s.schema)
	}
	return out, nil
}
