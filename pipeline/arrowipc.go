package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ArrowOptions configure an Arrow IPC source. The zero value reads every
// column.
type ArrowOptions struct {
	// Columns, when set, keeps only these columns, in this order. A name
	// the input does not have is an error that lists the names it has.
	Columns []string
	// Allocator allocates the batches. Nil means memory.DefaultAllocator.
	Allocator memory.Allocator
}

// arrowMagic opens an Arrow IPC file (the "Feather v2" format); the stream
// format has no magic.
var arrowMagic = []byte("ARROW1")

// maxStreamBody bounds the body of one message in an IPC stream: 2 GiB.
const maxStreamBody = 2 << 30

// ArrowSource reads Arrow IPC data, in the file format (random access, with a
// footer; .arrow, .feather) or the stream format (.arrows, what
// ipc.Writer writes), told apart by the file format's "ARROW1" magic. Batches
// come out as they were written, with every Arrow type passed through
// (dictionaries included).
type ArrowSource struct {
	path string    // file to open, or "" for a reader
	r    io.Reader // reader input, consumed once
	name string
	opts ArrowOptions

	mu      sync.Mutex
	schema  *arrow.Schema
	stream  *ipc.Reader // reader input: opened by Schema, consumed by Batches
	started bool

	read  atomic.Int64
	total atomic.Int64
}

// Arrow returns a source reading the Arrow IPC file at path, in the file or
// the stream format. A path ending in .gz or .zst is decompressed as it is
// read (the file format is then read sequentially, as the stream it
// contains).
func Arrow(path string, opts ArrowOptions) *ArrowSource {
	s := &ArrowSource{path: path, name: path, opts: opts}
	s.total.Store(-1)
	return s
}

// ArrowStream returns a source reading Arrow IPC data from r, in the stream
// format or the file format read sequentially; name identifies the input in
// errors. The reader is consumed by the first call to Batches, so the source
// can be read once.
func ArrowStream(r io.Reader, name string, opts ArrowOptions) *ArrowSource {
	s := &ArrowSource{r: r, name: name, opts: opts}
	s.total.Store(-1)
	return s
}

// BytesRead implements ByteCounter. For a compressed file it counts
// compressed bytes.
func (s *ArrowSource) BytesRead() int64 { return s.read.Load() }

// TotalBytes implements ByteCounter: the file's size on disk, or -1 for a
// reader.
func (s *ArrowSource) TotalBytes() int64 { return s.total.Load() }

func (s *ArrowSource) mem() memory.Allocator {
	if s.opts.Allocator != nil {
		return s.opts.Allocator
	}
	return memory.DefaultAllocator
}

// arrowInput is an opened IPC input: a file reader or a stream reader.
type arrowInput struct {
	file   *ipc.FileReader
	stream *ipc.Reader
	close  func() error
}

func (in *arrowInput) schema() *arrow.Schema {
	if in.file != nil {
		return in.file.Schema()
	}
	return in.stream.Schema()
}

func (in *arrowInput) release() {
	if in.file != nil {
		in.file.Close()
	}
	if in.stream != nil {
		in.stream.Release()
	}
	if in.close != nil {
		in.close()
	}
}

// streamReader makes an IPC stream reader from r, skipping the file format's
// magic and padding when r starts with it.
func (s *ArrowSource) streamReader(r io.Reader) (*ipc.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(8)
	if len(head) == 0 {
		return nil, fmt.Errorf("%w: %s: empty input: not Arrow IPC data", ErrSchema, s.name)
	}
	if bytes.HasPrefix(head, arrowMagic) {
		br.Discard(8)
	}
	// The message reader bounds message sizes, so that input that is not
	// Arrow cannot make the reader allocate gigabytes.
	opts := []ipc.Option{ipc.WithAllocator(s.mem()), ipc.WithBodySizeLimit(maxStreamBody)}
	rd, err := ipc.NewReaderFromMessageReader(ipc.NewMessageReader(br, opts...), opts...)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %s: not readable as Arrow IPC: %w", s.name, err)
	}
	return rd, nil
}

// open opens a path input. The caller holds s.mu.
func (s *ArrowSource) open() (*arrowInput, error) {
	s.read.Store(0)
	if compression(s.path) == "" {
		f, err := os.Open(s.path)
		if err != nil {
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		st, err := f.Stat()
		if err != nil || st.IsDir() {
			f.Close()
			if err == nil {
				err = fmt.Errorf("open %s: is a directory", s.path)
			}
			return nil, fmt.Errorf("pipeline: %w", err)
		}
		s.total.Store(st.Size())
		head := make([]byte, len(arrowMagic))
		if n, _ := f.ReadAt(head, 0); n == len(head) && bytes.Equal(head, arrowMagic) {
			// The file's size bounds its messages' bodies.
			fr, err := ipc.NewFileReader(countingFile{f, &s.read}, ipc.WithAllocator(s.mem()), ipc.WithBodySizeLimit(0))
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("pipeline: %s: not a readable Arrow IPC file: %w", s.path, err)
			}
			return &arrowInput{file: fr, close: f.Close}, nil
		}
		rd, err := s.streamReader(&countingReader{r: f, n: &s.read})
		if err != nil {
			f.Close()
			return nil, err
		}
		return &arrowInput{stream: rd, close: f.Close}, nil
	}
	in, err := openInput(s.path, &s.read)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	s.total.Store(in.size)
	rd, err := s.streamReader(in)
	if err != nil {
		in.Close()
		return nil, err
	}
	return &arrowInput{stream: rd, close: in.Close}, nil
}

// openReader opens a reader input once. The caller holds s.mu.
func (s *ArrowSource) openReader() (*ipc.Reader, error) {
	if s.stream != nil {
		return s.stream, nil
	}
	if s.started {
		return nil, fmt.Errorf("pipeline: %s: an Arrow stream reader source can be read once", s.name)
	}
	s.started = true
	rd, err := s.streamReader(&countingReader{r: s.r, n: &s.read})
	if err != nil {
		return nil, err
	}
	s.stream = rd
	return rd, nil
}

// projection resolves opts.Columns against the input's schema: the indices
// of the kept columns and the output schema; nil indices mean all.
func (s *ArrowSource) projection(full *arrow.Schema) ([]int, *arrow.Schema, error) {
	if len(s.opts.Columns) == 0 {
		return nil, full, nil
	}
	idx := make([]int, 0, len(s.opts.Columns))
	fields := make([]arrow.Field, 0, len(s.opts.Columns))
	seen := make(map[string]bool, len(s.opts.Columns))
	for _, name := range s.opts.Columns {
		if seen[name] {
			return nil, nil, fmt.Errorf("pipeline: %s: column %q is listed twice in ArrowOptions.Columns", s.name, name)
		}
		seen[name] = true
		is := full.FieldIndices(name)
		if len(is) == 0 {
			return nil, nil, fmt.Errorf("%w: %s: no column %q; the input has %s", ErrSchema, s.name, name, fieldNames(full))
		}
		idx = append(idx, is[0])
		fields = append(fields, full.Field(is[0]))
	}
	md := full.Metadata()
	return idx, arrow.NewSchema(fields, &md), nil
}

// Schema reads the input's schema (a file's footer, a stream's first
// message) and applies the projection.
func (s *ArrowSource) Schema(ctx context.Context) (*arrow.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.schema != nil {
		return s.schema, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var full *arrow.Schema
	if s.path == "" {
		rd, err := s.openReader()
		if err != nil {
			return nil, err
		}
		full = rd.Schema()
	} else {
		in, err := s.open()
		if err != nil {
			return nil, err
		}
		full = in.schema()
		in.release()
	}
	_, sc, err := s.projection(full)
	if err != nil {
		return nil, err
	}
	s.schema = sc
	return sc, nil
}

// Batches yields the input's batches in order.
func (s *ArrowSource) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		s.mu.Lock()
		var in *arrowInput
		var err error
		if s.path == "" {
			var rd *ipc.Reader
			rd, err = s.openReader()
			s.stream = nil // this call consumes it
			in = &arrowInput{stream: rd}
		} else {
			in, err = s.open()
		}
		s.mu.Unlock()
		if err != nil {
			yield(nil, err)
			return
		}
		defer in.release()
		idx, schema, err := s.projection(in.schema())
		if err != nil {
			yield(nil, err)
			return
		}
		project := func(rec arrow.RecordBatch) arrow.RecordBatch {
			if idx == nil {
				return rec
			}
			cols := make([]arrow.Array, len(idx))
			for i, j := range idx {
				cols[i] = rec.Column(j)
			}
			out := array.NewRecordBatch(schema, cols, rec.NumRows())
			rec.Release()
			return out
		}
		if in.file != nil {
			for i := range in.file.NumRecords() {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
				rec, err := in.file.RecordBatchAt(i)
				if err != nil {
					yield(nil, fmt.Errorf("pipeline: %s: record batch %d: %w", s.name, i, err))
					return
				}
				if !yield(project(rec), nil) {
					return
				}
			}
			if err := ctx.Err(); err != nil {
				yield(nil, err)
			}
			return
		}
		for i := 0; in.stream.Next(); i++ {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			rec := in.stream.RecordBatch()
			rec.Retain()
			if !yield(project(rec), nil) {
				return
			}
		}
		if err := in.stream.Err(); err != nil && !errors.Is(err, io.EOF) {
			yield(nil, fmt.Errorf("pipeline: %s: %w", s.name, err))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(nil, err)
		}
	}
}
