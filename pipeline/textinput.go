package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
)

// textInput is where a text source (CSV, NDJSON) reads from: a file, opened
// anew for every read, or a reader, which can be streamed once. Schema
// inference may consume the start of a reader; those bytes are kept and
// replayed to the stream. The source serialises calls with its own mutex.
type textInput struct {
	path    string    // file to open, or "" for a reader
	r       io.Reader // reader input
	name    string    // the input in errors
	prefix  []byte    // reader input consumed while inferring
	started bool      // reader input already streamed
	read    atomic.Int64
	total   atomic.Int64
	block   int // read size; zero means blockSize (tests make it small)
}

func (in *textInput) init(path string, r io.Reader, name string) {
	in.path, in.r, in.name = path, r, name
	in.total.Store(-1)
}

func (in *textInput) blockBytes() int {
	if in.block > 0 {
		return in.block
	}
	return blockSize
}

// open returns the input from its start and a function that closes it.
func (in *textInput) open(kind string) (io.Reader, func() error, error) {
	in.read.Store(0)
	if in.path == "" {
		if in.started {
			return nil, nil, fmt.Errorf("pipeline: %s: a %s reader source can be read once", in.name, kind)
		}
		r := io.MultiReader(bytes.NewReader(in.prefix), in.r)
		return &countingReader{r: r, n: &in.read}, func() error { return nil }, nil
	}
	f, err := openInput(in.path, &in.read)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline: %w", err)
	}
	in.total.Store(f.size)
	return f, f.Close, nil
}

// openSample opens the input for schema inference. The returned function
// closes it and, for a reader, keeps what was read for the stream.
func (in *textInput) openSample(kind string) (io.Reader, func(), error) {
	r, closer, err := in.open(kind)
	if err != nil {
		return nil, nil, err
	}
	if in.path != "" {
		return r, func() { closer() }, nil
	}
	rec := &recordingReader{r: r}
	return rec, func() { in.prefix = rec.buf }, nil
}

// openStream opens the input for reading it whole.
func (in *textInput) openStream(kind string) (io.Reader, func() error, error) {
	r, closer, err := in.open(kind)
	if err == nil && in.path == "" {
		in.started, in.prefix = true, nil
	}
	return r, closer, err
}

func (in *textInput) ioErr(err error) error {
	return fmt.Errorf("pipeline: read %s: %w", in.name, err)
}

// recordingReader keeps a copy of what it reads.
type recordingReader struct {
	r   io.Reader
	buf []byte
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.buf = append(r.buf, p[:n]...)
	return n, err
}

// blockReader reads input a block at a time and keeps the bytes not yet cut
// into chunks at the front of a fresh block, so chunks already handed out are
// never overwritten.
type blockReader struct {
	r      io.Reader
	size   int    // bytes to read at a time
	buf    []byte // unconsumed input
	offset int64  // input offset of buf[0]
	eof    bool
}

func (br *blockReader) more() error {
	size := max(br.size, 2*len(br.buf))
	nb := make([]byte, size)
	n := copy(nb, br.buf)
	for n < size && !br.eof {
		m, err := br.r.Read(nb[n:])
		n += m
		if err == io.EOF {
			br.eof = true
		} else if err != nil {
			return err
		}
	}
	br.buf = nb[:n]
	return nil
}

func (br *blockReader) consume(n int) {
	br.buf = br.buf[n:]
	br.offset += int64(n)
}

// skipBOM drops a UTF-8 byte order mark at the start of the input.
func (br *blockReader) skipBOM() error {
	for len(br.buf) < 3 && !br.eof {
		if err := br.more(); err != nil {
			return err
		}
	}
	if bytes.HasPrefix(br.buf, []byte("\xef\xbb\xbf")) {
		br.consume(3)
	}
	return nil
}
