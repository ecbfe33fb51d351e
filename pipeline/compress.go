package pipeline

import (
	"bufio"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// input is an opened input file, decompressed when its name ends in .gz or
// .zst, that counts the compressed bytes consumed.
type input struct {
	io.Reader
	file    *os.File
	closers []func() error
	size    int64 // on-disk size, or -1 when unknown
}

func (in *input) Close() error {
	var first error
	for i := len(in.closers) - 1; i >= 0; i-- {
		if err := in.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// compression returns the codec named by a file's extension: "gzip", "zstd"
// or "".
func compression(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz", ".gzip":
		return "gzip"
	case ".zst", ".zstd":
		return "zstd"
	}
	return ""
}

// stripCompression removes a compression extension: "a.csv.gz" → "a.csv".
func stripCompression(path string) string {
	if compression(path) != "" {
		return strings.TrimSuffix(path, filepath.Ext(path))
	}
	return path
}

// openInput opens path for reading, decompressing it transparently, and adds
// the number of on-disk bytes read to *counter as it goes.
func openInput(path string, counter *atomic.Int64) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	in := &input{file: f, size: -1, closers: []func() error{f.Close}}
	if st, err := f.Stat(); err == nil {
		if st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("open %s: is a directory", path)
		}
		in.size = st.Size()
	}
	var r io.Reader = f
	if counter != nil {
		r = &countingReader{r: f, n: counter}
	}
	switch compression(path) {
	case "gzip":
		zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<20))
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("open %s: gzip: %w", path, err)
		}
		in.closers = append(in.closers, zr.Close)
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(r, zstd.WithDecoderMaxMemory(1<<31))
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("open %s: zstd: %w", path, err)
		}
		in.closers = append(in.closers, func() error { zr.Close(); return nil })
		r = zr
	}
	in.Reader = r
	return in, nil
}

// countingReader adds the bytes it reads to n.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
