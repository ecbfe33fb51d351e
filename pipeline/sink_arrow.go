package pipeline

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ArrowWriteOptions configure an Arrow IPC sink. The zero value writes the
// IPC file format (Feather v2) without compression.
type ArrowWriteOptions struct {
	// Stream writes the IPC stream format instead of the file format. A
	// stream has no footer, so it can be read while it is written, but it
	// cannot be read at random. ToArrowStream always writes a stream.
	Stream bool
	// Compression compresses each batch's buffers: "" (none), "zstd" or
	// "lz4" (LZ4 frame). Open fails for any other name.
	Compression string
	// Parallelism bounds the goroutines that compress one batch's buffers.
	// Zero means runtime.GOMAXPROCS(0). It has no effect without
	// Compression.
	Parallelism int
	// Allocator allocates the writer's scratch buffers. Nil means
	// memory.DefaultAllocator.
	Allocator memory.Allocator
}

// ArrowSink writes batches in the Arrow IPC format, file or stream. Values
// are written as they are, so every Arrow type round-trips. Dictionary
// columns whose dictionary changes from batch to batch can only be written
// to a stream: the file format does not allow dictionary replacement.
type ArrowSink struct {
	lc   sinkLife
	path string
	w    io.Writer
	opts ArrowWriteOptions
	out  *sinkOutput
	ipcw interface {
		Write(arrow.RecordBatch) error
		Close() error
	}
}

// ToArrow returns a sink that writes an Arrow IPC file to path (the stream
// format when opts.Stream is set). The file appears under its name only
// when Commit succeeds; its directory must exist.
func ToArrow(path string, opts ArrowWriteOptions) *ArrowSink {
	return &ArrowSink{path: path, opts: opts, lc: sinkLife{kind: "arrow sink", name: path}}
}

// ToArrowStream returns a sink that writes the Arrow IPC stream format to w,
// whatever opts.Stream says. Unlike a file sink it is not atomic: batches
// are written to w (through a buffer) as they come, Commit writes the
// end-of-stream marker and flushes, Abort stops without the marker, and
// what was flushed to w before stays there. The sink does not close w.
func ToArrowStream(w io.Writer, opts ArrowWriteOptions) *ArrowSink {
	opts.Stream = true
	return &ArrowSink{w: w, opts: opts, lc: sinkLife{kind: "arrow sink", name: "writer"}}
}

// Open checks the options and creates the temporary file.
func (s *ArrowSink) Open(ctx context.Context, schema *arrow.Schema) error {
	if err := s.lc.beginOpen(ctx, schema); err != nil {
		return err
	}
	if err := s.open(schema); err != nil {
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	s.lc.opened(schema)
	return nil
}

func (s *ArrowSink) open(schema *arrow.Schema) error {
	mem := s.opts.Allocator
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	opts := []ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(mem)}
	switch strings.ToLower(s.opts.Compression) {
	case "", "none":
	case "zstd":
		opts = append(opts, ipc.WithZstd())
	case "lz4", "lz4_frame":
		opts = append(opts, ipc.WithLZ4())
	default:
		return fmt.Errorf("unknown compression %q: want zstd, lz4 or none", s.opts.Compression)
	}
	if s.opts.Compression != "" {
		par := s.opts.Parallelism
		if par <= 0 {
			par = runtime.GOMAXPROCS(0)
		}
		opts = append(opts, ipc.WithCompressConcurrency(par))
	}
	if s.w != nil {
		s.out = newWriterOutput(s.w)
	} else {
		out, err := createSinkOutput(s.path, false)
		if err != nil {
			return err
		}
		s.out = out
	}
	if s.opts.Stream {
		s.ipcw = ipc.NewWriter(s.out.w, opts...)
		return nil
	}
	fw, err := ipc.NewFileWriter(s.out.w, opts...)
	if err != nil {
		s.out.abort()
		return err
	}
	s.ipcw = fw
	return nil
}

// Write appends batch.
func (s *ArrowSink) Write(ctx context.Context, batch arrow.RecordBatch) error {
	if err := s.lc.beginWrite(ctx, batch); err != nil {
		return err
	}
	if err := s.write(batch); err != nil {
		s.release()
		return s.lc.failed(s.lc.errorf("%w", err))
	}
	return nil
}

func (s *ArrowSink) write(batch arrow.RecordBatch) (err error) {
	defer recoverEncoder(&err, "ipc writer")
	if !batch.Schema().Equal(s.lc.schema) {
		batch = array.NewRecordBatch(s.lc.schema, batch.Columns(), batch.NumRows())
		defer batch.Release()
	}
	return s.ipcw.Write(batch)
}

// Commit writes the footer (file format) or end-of-stream marker, and for
// a file renames it to its final name. A failed Commit removes the
// temporary file.
func (s *ArrowSink) Commit(ctx context.Context) error {
	if err := s.lc.beginCommit(ctx); err != nil {
		if s.lc.state == sinkOpen {
			s.release()
			s.lc.failed(err)
		}
		return err
	}
	err := s.ipcw.Close()
	s.ipcw = nil
	if err != nil {
		s.release()
		return s.lc.failed(s.lc.errorf("commit: %w", err))
	}
	if err := s.out.commit(); err != nil {
		return s.lc.failed(s.lc.errorf("commit: %w", err))
	}
	s.lc.state = sinkCommitted
	return nil
}

// Abort discards the output: a file sink removes its temporary file. It
// may be called after a failed Open, Write or Commit.
func (s *ArrowSink) Abort() error {
	if ok, err := s.lc.beginAbort(); !ok {
		return err
	}
	return s.release()
}

// release drops the output, then closes the IPC writer into the discarded
// buffer so that it frees what it holds.
func (s *ArrowSink) release() error {
	err := s.out.abort()
	if s.ipcw != nil {
		func() {
			defer func() { recover() }()
			s.ipcw.Close()
		}()
		s.ipcw = nil
	}
	return err
}
