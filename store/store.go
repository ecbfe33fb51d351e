package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"
)

// Pack size bounds and default (see [Options.PackSize]).
const (
	DefaultPackSize = 32 << 20
	MinPackSize     = 16 << 20
	MaxPackSize     = 64 << 20
)

// Compression names for [Options.Compression].
const (
	CompressionZstd = "zstd"
	CompressionNone = "none"
)

const (
	configName    = "config"
	formatName    = "kiln-store"
	formatVersion = 1
)

// Options configure [Open]. The zero value is valid: it opens an existing
// repository with the settings in its config, or creates one with the
// defaults.
type Options struct {
	// Chunker are the content-defined chunking parameters used when the
	// repository is created. Zero means DefaultChunkerParams. For an existing
	// repository, a non-zero value that differs from its config is an error
	// wrapping ErrConfig: the parameters are part of the format.
	Chunker ChunkerParams

	// PackSize is the target size of a pack object in bytes, between
	// MinPackSize and MaxPackSize, recorded in the config when the repository
	// is created. Zero means the config's value, or DefaultPackSize (32 MiB)
	// for a new repository. A non-zero value that differs from an existing
	// config is an error wrapping ErrConfig.
	PackSize int

	// Compression is CompressionZstd or CompressionNone, recorded when the
	// repository is created. "" means the config's value, or zstd for a new
	// repository. A non-empty value that differs from an existing config is
	// an error wrapping ErrConfig. With zstd a chunk is stored compressed
	// only when that saves at least 1/8 of its size.
	Compression string

	// Concurrency bounds the goroutines that hash, compress and verify
	// chunks in one Put, Get or Check. Zero means runtime.GOMAXPROCS(0).
	Concurrency int

	// Progress, if not nil, is called by Put after each batch of chunks
	// (about every 4 MiB of input) and once at the end, from the goroutine
	// that called Put, with that Put's running totals. Concurrent Puts call
	// it concurrently.
	Progress func(PutProgress)
}

// PutProgress reports the work of one [Store.Put] so far.
type PutProgress struct {
	Read      int64 // bytes read from the input
	Chunks    int64 // chunks cut so far
	NewChunks int64 // chunks not already in the store
	Stored    int64 // bytes written to packs for those chunks (after compression)
	Done      bool  // true in the last call
}

// config is the JSON content of the "config" object (see the format
// description in pack.go).
type config struct {
	Format      string        `json:"format"`
	Version     int           `json:"version"`
	Chunker     configChunker `json:"chunker"`
	PackSize    int           `json:"pack_size"`
	Compression string        `json:"compression"`
}

type configChunker struct {
	Min int `json:"min"`
	Avg int `json:"avg"`
	Max int `json:"max"`
}

func (c config) params() ChunkerParams {
	return ChunkerParams{Min: c.Chunker.Min, Avg: c.Chunker.Avg, Max: c.Chunker.Max}
}

func (c config) validate() error {
	if c.Format != formatName || c.Version != formatVersion {
		return fmt.Errorf("format %q version %d, want %q version %d", c.Format, c.Version, formatName, formatVersion)
	}
	if err := c.params().Validate(); err != nil {
		return err
	}
	if c.PackSize < MinPackSize || c.PackSize > MaxPackSize {
		return fmt.Errorf("pack size %d outside [%d, %d]", c.PackSize, MinPackSize, MaxPackSize)
	}
	if c.Compression != CompressionZstd && c.Compression != CompressionNone {
		return fmt.Errorf("compression %q, want %q or %q", c.Compression, CompressionZstd, CompressionNone)
	}
	return nil
}

// Store is a content-addressed repository of blobs on a [Backend]. A blob is
// any sequence of bytes, named by its [Digest] (BLAKE3-256 of the content).
// Blobs are cut into content-defined chunks; each distinct chunk is stored
// once, packed with others into pack objects of PackSize bytes.
//
// A Store is safe for concurrent use by multiple goroutines. Several
// processes may write to one repository at the same time; a Store sees
// objects written by others when it looks up a digest it does not know.
type Store struct {
	b        Backend
	cfg      config
	params   ChunkerParams
	workers  int
	compress bool
	progress func(PutProgress)

	enc *zstd.Encoder
	dec *zstd.Decoder

	flushSem  chan struct{} // bounds packs being written
	packPool  sync.Pool     // *[]byte pack buffers
	batchPool sync.Pool     // *putBatch input buffers of Put
	wg        sync.WaitGroup

	refreshMu sync.Mutex // serializes loads of index objects

	mu        sync.Mutex
	chunks    map[Digest]loc
	manifests map[Digest]loc
	packs     []*packState // by loc.pack
	loaded    map[packID]bool
	open      *openPack
	// inMem holds the packs whose bytes are still only in memory: the
	// open one, and those being written until their pack object is in the
	// backend. Reads of their records are served from memory.
	inMem  map[packID]*openPack
	closed bool
}

// loc is where a record lives.
type loc struct {
	pack   int32
	flags  uint8
	off    uint32 // of the record header
	raw    uint32
	stored uint32
}

// packState follows a pack from creation until its index is durable.
type packState struct {
	id   packID
	done chan struct{} // closed when written (err == nil) or failed
	err  error
	// written is when the pack's index was written (the backend's time for
	// a loaded index; the pack's creation, a little earlier, for our own).
	// Put relies on records only in packs younger than reuseWindow.
	written time.Time
}

func (p *packState) durable() bool {
	select {
	case <-p.done:
		return p.err == nil
	default:
		return false
	}
}

// openPack is the pack new records are appended to.
type openPack struct {
	idx     int32
	st      *packState
	buf     *[]byte
	entries []indexEntry
	deps    map[*packState]struct{}
}

// Open opens the repository on b, creating its config if b holds none.
func Open(ctx context.Context, b Backend, opts Options) (*Store, error) {
	cfg, err := openConfig(ctx, b, opts)
	if err != nil {
		return nil, err
	}
	workers := opts.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s := &Store{
		b:         b,
		cfg:       cfg,
		params:    cfg.params(),
		workers:   workers,
		compress:  cfg.Compression == CompressionZstd,
		progress:  opts.Progress,
		flushSem:  make(chan struct{}, 2),
		chunks:    make(map[Digest]loc),
		manifests: make(map[Digest]loc),
		loaded:    make(map[packID]bool),
		inMem:     make(map[packID]*openPack),
	}
	s.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(workers), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false))
	if err != nil {
		return nil, fmt.Errorf("store: zstd: %w", err)
	}
	s.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(workers), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, fmt.Errorf("store: zstd: %w", err)
	}
	if err := s.refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func openConfig(ctx context.Context, b Backend, opts Options) (config, error) {
	rc, err := b.Get(ctx, configName, 0, -1)
	if errors.Is(err, ErrNotFound) {
		cfg := config{Format: formatName, Version: formatVersion, PackSize: opts.PackSize, Compression: opts.Compression}
		p := opts.Chunker
		if p == (ChunkerParams{}) {
			p = DefaultChunkerParams
		}
		cfg.Chunker = configChunker{Min: p.Min, Avg: p.Avg, Max: p.Max}
		if cfg.PackSize == 0 {
			cfg.PackSize = DefaultPackSize
		}
		if cfg.Compression == "" {
			cfg.Compression = CompressionZstd
		}
		if err := cfg.validate(); err != nil {
			return config{}, fmt.Errorf("store: options: %w", err)
		}
		data, err := json.Marshal(cfg)
		if err != nil {
			return config{}, err
		}
		data = append(data, '\n')
		if err := b.Put(ctx, configName, bytes.NewReader(data), int64(len(data))); err != nil {
			return config{}, fmt.Errorf("store: write config: %w", err)
		}
		return cfg, nil
	}
	if err != nil {
		return config{}, fmt.Errorf("store: read config: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if err != nil {
		return config{}, fmt.Errorf("store: read config: %w", err)
	}
	var cfg config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return config{}, fmt.Errorf("%w: cannot decode config: %v", ErrConfig, err)
	}
	if err := cfg.validate(); err != nil {
		return config{}, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if opts.Chunker != (ChunkerParams{}) && opts.Chunker != cfg.params() {
		return config{}, fmt.Errorf("%w: repository chunker is %v, options ask for %v", ErrConfig, cfg.params(), opts.Chunker)
	}
	if opts.PackSize != 0 && opts.PackSize != cfg.PackSize {
		return config{}, fmt.Errorf("%w: repository pack size is %d, options ask for %d", ErrConfig, cfg.PackSize, opts.PackSize)
	}
	if opts.Compression != "" && opts.Compression != cfg.Compression {
		return config{}, fmt.Errorf("%w: repository compression is %q, options ask for %q", ErrConfig, cfg.Compression, opts.Compression)
	}
	return cfg, nil
}

// ChunkerParams returns the repository's chunking parameters.
func (s *Store) ChunkerParams() ChunkerParams { return s.params }

// Backend returns the backend the store keeps its objects on.
func (s *Store) Backend() Backend { return s.b }

// Close waits for packs being written to finish and flushes records not yet
// written (from Puts that failed or were cancelled). The Store must not be
// used after Close.
func (s *Store) Close() error {
	s.mu.Lock()
	op := s.open
	s.open = nil
	s.closed = true
	s.mu.Unlock()
	var err error
	if op != nil {
		s.startFlush(op)
		<-op.st.done
		err = op.st.err
	}
	s.wg.Wait()
	s.enc.Close()
	s.dec.Close()
	return err
}

// refresh loads the index objects the store has not seen yet.
func (s *Store) refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	var todo []packID
	written := map[packID]time.Time{}
	for oi, err := range s.b.List(ctx, "index/") {
		if err != nil {
			return fmt.Errorf("store: list indexes: %w", err)
		}
		id, ok := parseIndexName(oi.Name)
		if !ok {
			continue
		}
		s.mu.Lock()
		seen := s.loaded[id]
		s.mu.Unlock()
		if !seen {
			todo = append(todo, id)
			written[id] = oi.Modified
		}
	}
	if len(todo) == 0 {
		return nil
	}
	results := make([][]indexEntry, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(4, s.workers))
	for i, id := range todo {
		g.Go(func() error {
			data, err := readObject(gctx, s.b, indexName(id))
			if errors.Is(err, ErrNotFound) {
				return nil // removed meanwhile (GC)
			}
			if err != nil {
				return fmt.Errorf("store: read index %s: %w", id, err)
			}
			_, entries, err := decodeIndex(data, id)
			if err != nil {
				// A damaged index hides its pack: its chunks are stored
				// again when needed, and Check reports it.
				return nil
			}
			results[i] = entries
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range todo {
		if results[i] == nil || s.loaded[id] {
			continue
		}
		s.loaded[id] = true
		st := &packState{id: id, done: make(chan struct{}), written: written[id]}
		close(st.done)
		idx := int32(len(s.packs))
		s.packs = append(s.packs, st)
		for _, e := range results[i] {
			l := loc{pack: idx, flags: e.Flags, off: e.Offset, raw: e.Raw, stored: e.Stored}
			m := s.chunks
			if e.Kind == kindManifest {
				m = s.manifests
			}
			if _, ok := m[e.Key]; !ok {
				m[e.Key] = l
			}
		}
	}
	return nil
}

// readObject reads a whole object.
func readObject(ctx context.Context, b Backend, name string) ([]byte, error) {
	rc, err := b.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
