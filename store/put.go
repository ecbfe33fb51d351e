package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// putBatchSize is the amount of input one Put batch holds (plus one Max).
const putBatchSize = 4 << 20

// putBatch is a run of consecutive chunks of a Put's input.
type putBatch struct {
	buf  []byte
	ends []int // end offset in buf of each chunk
	res  []chunkResult
	done chan struct{} // closed when res is filled
	refs atomic.Int32  // users left before the batch is recycled
}

type chunkResult struct {
	digest Digest
	data   []byte // what to store: compressed bytes, or a slice of buf
	flags  uint8
}

func (b *putBatch) chunk(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.buf[start:b.ends[i]:b.ends[i]]
}

// Put stores the content read from r and returns its Digest, the BLAKE3-256
// hash of the whole content. It reads r to the end (or to the first error)
// with bounded memory (about 4 MiB per core plus two packs, whatever the
// size), cutting the stream into content-defined chunks and hashing and
// compressing them on all cores. Chunks already in the store are not stored
// again. When Put returns without error, the blob and every chunk it needs
// are durable on the backend.
//
// Concurrent Puts of the same content store it once.
func (s *Store) Put(ctx context.Context, r io.Reader) (Digest, error) {
	deps := make(map[*packState]struct{})
	d, err := s.put(ctx, r, deps)
	if err != nil {
		return Digest{}, err
	}
	if err := s.waitDurable(ctx, deps); err != nil {
		return Digest{}, err
	}
	return d, nil
}

// put stores the content of r and adds to deps the packs that must be
// written before the blob is durable.
func (s *Store) put(ctx context.Context, r io.Reader, deps map[*packState]struct{}) (Digest, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)

	// Up to nbuf input buffers, taken from the Store's pool as needed (a
	// small blob needs one), and given back to it at the end.
	nbuf := 2*s.workers + 2
	free := make(chan *putBatch, nbuf)
	taken := 0
	getBatch := func() (*putBatch, error) {
		select {
		case b := <-free:
			return b, nil
		default:
		}
		if taken < nbuf {
			taken++
			if b, ok := s.batchPool.Get().(*putBatch); ok {
				return b, nil
			}
			return &putBatch{buf: make([]byte, 0, putBatchSize+s.params.Max)}, nil
		}
		select {
		case b := <-free:
			return b, nil
		case <-gctx.Done():
			return nil, gctx.Err()
		}
	}
	defer func() {
		// After a failure some batches may still be in use: those are left
		// to the garbage collector.
		for {
			select {
			case b := <-free:
				b.res = b.res[:0]
				s.batchPool.Put(b)
			default:
				return
			}
		}
	}()
	work := make(chan *putBatch, nbuf)
	whole := make(chan *putBatch, nbuf)
	ordered := make(chan *putBatch, nbuf)
	release := func(b *putBatch) {
		if b.refs.Add(-1) == 0 {
			free <- b
		}
	}

	// Reader: read batches of input straight into batch buffers and cut
	// them into chunks there. The piece after a batch's last cut may still
	// grow with more input, so it moves to the front of the next batch; a
	// chunk's cut depends only on its own bytes, so the cuts are those a
	// Chunker would make.
	g.Go(func() error {
		defer close(work)
		defer close(whole)
		defer close(ordered)
		c := newCutter(s.params)
		var carry []byte // grows to at most Max
		for eof := false; !eof; {
			b, err := getBatch()
			if err != nil {
				return err
			}
			b.buf = append(b.buf[:0], carry...)
			full := b.buf[:cap(b.buf)]
			n, err := io.ReadFull(r, full[len(b.buf):])
			b.buf = full[:len(b.buf)+n]
			switch {
			case err == io.EOF || err == io.ErrUnexpectedEOF:
				eof = true
			case err != nil:
				return fmt.Errorf("store: put: read: %w", err)
			}
			b.ends = b.ends[:0]
			for off := 0; off < len(b.buf); {
				cut := c.cut(b.buf[off:])
				if off+cut == len(b.buf) && cut < s.params.Max && !eof {
					break // ran out of input, not a cut
				}
				off += cut
				b.ends = append(b.ends, off)
			}
			last := 0
			if len(b.ends) > 0 {
				last = b.ends[len(b.ends)-1]
			}
			carry = append(carry[:0], b.buf[last:]...)
			b.buf = b.buf[:last]
			if len(b.ends) == 0 {
				free <- b
				continue
			}
			b.refs.Store(3)
			b.done = make(chan struct{})
			for _, ch := range []chan *putBatch{ordered, whole, work} {
				select {
				case ch <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		}
		return nil
	})

	// Whole-content hash, in input order.
	h := NewHasher()
	g.Go(func() error {
		for b := range whole {
			h.Write(b.buf)
			release(b)
		}
		return nil
	})

	// Chunk hashing and compression on all cores.
	for range s.workers {
		g.Go(func() error {
			for b := range work {
				b.res = b.res[:0]
				for i := range b.ends {
					c := b.chunk(i)
					d := Sum(c)
					res := chunkResult{digest: d, data: c}
					if s.compress && !s.knownChunk(d) {
						res.data, res.flags = s.maybeCompress(c)
					}
					b.res = append(b.res, res)
				}
				close(b.done)
				release(b)
			}
			return nil
		})
	}

	// Collector: in input order, add new chunks to the open pack.
	var (
		entries []manifestEntry
		prog    PutProgress
		size    int64
	)
	g.Go(func() error {
		for b := range ordered {
			select {
			case <-b.done:
			case <-gctx.Done():
				return gctx.Err()
			}
			for i, res := range b.res {
				raw := len(b.chunk(i))
				st, stored, err := s.addRecord(res.digest, kindChunk, res.flags, raw, res.data, nil)
				if err != nil {
					return err
				}
				if st != nil {
					deps[st] = struct{}{}
				}
				if stored > 0 {
					prog.NewChunks++
					prog.Stored += int64(stored)
				}
				entries = append(entries, manifestEntry{Digest: res.digest, Raw: uint32(raw)})
				size += int64(raw)
			}
			prog.Read = size
			prog.Chunks = int64(len(entries))
			release(b)
			if s.progress != nil {
				s.progress(prog)
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return Digest{}, err
	}
	d := h.Sum()

	switch len(entries) {
	case 0: // the empty blob is one empty chunk
		st, stored, err := s.addRecord(d, kindChunk, 0, 0, nil, nil)
		if err != nil {
			return Digest{}, err
		}
		if st != nil {
			deps[st] = struct{}{}
		}
		if stored > 0 {
			prog.NewChunks++
			prog.Stored += int64(stored)
		}
	case 1: // a one-chunk blob is its chunk
	default:
		if size > math.MaxUint32*int64(len(entries)) {
			return Digest{}, fmt.Errorf("store: put: blob too large")
		}
		m := encodeManifest(size, entries)
		st, stored, err := s.addRecord(d, kindManifest, 0, len(m), m, deps)
		if err != nil {
			return Digest{}, err
		}
		if st != nil {
			deps[st] = struct{}{}
		}
		if stored > 0 {
			prog.Stored += int64(stored)
		}
	}
	if s.progress != nil {
		prog.Done = true
		s.progress(prog)
	}
	return d, nil
}

// A Batch stores many blobs into shared packs and makes them durable
// together, in [Batch.Flush]: Puts of small blobs (the files of a dataset
// folder, say) then fill a few packs instead of writing one pack and one
// index object each, as [Store.Put] must to be durable when it returns.
//
// A Batch's Puts behave as Store.Put in every other way, and may run from
// many goroutines at once. Until Flush returns without error, a crash may
// lose any of them; what Flush has made durable stays so.
type Batch struct {
	s    *Store
	mu   sync.Mutex
	deps map[*packState]struct{}
}

// Batch starts a batch of Puts.
func (s *Store) Batch() *Batch {
	return &Batch{s: s, deps: make(map[*packState]struct{})}
}

// Put stores the content read from r, as [Store.Put] does, and returns its
// Digest; the blob is readable from this Store at once, and durable once
// Flush returns.
func (b *Batch) Put(ctx context.Context, r io.Reader) (Digest, error) {
	deps := make(map[*packState]struct{})
	d, err := b.s.put(ctx, r, deps)
	if err != nil {
		return Digest{}, err
	}
	b.mu.Lock()
	for st := range deps {
		if !st.durable() {
			b.deps[st] = struct{}{}
		}
	}
	b.mu.Unlock()
	return d, nil
}

// Flush writes the packs that the batch's Puts so far need and waits until
// they are durable. It fails if one of them could not be written; the
// blobs of the batch must then be put again. The Batch may be used after
// Flush.
func (b *Batch) Flush(ctx context.Context) error {
	b.mu.Lock()
	deps := b.deps
	b.deps = make(map[*packState]struct{})
	b.mu.Unlock()
	if err := b.s.waitDurable(ctx, deps); err != nil {
		b.mu.Lock()
		for st := range deps { // Flush again waits for them again
			b.deps[st] = struct{}{}
		}
		b.mu.Unlock()
		return err
	}
	return nil
}

// reuseWindow is how old a pack may be for Put to rely on its records
// instead of storing them again: half of the default GC grace period. With
// it, a GC that runs with at least the default grace never deletes a pack
// that a concurrent Put (in any process) has just decided to rely on; see
// the safety argument in gc.go.
const reuseWindow = DefaultGCGrace / 2

// reusable reports whether a record at l may be relied on by a Put.
// s.mu is held.
func (s *Store) reusable(l loc) bool {
	st := s.packs[l.pack]
	return st.written.IsZero() || time.Since(st.written) < reuseWindow
}

func (s *Store) knownChunk(d Digest) bool {
	s.mu.Lock()
	l, ok := s.chunks[d]
	ok = ok && s.reusable(l)
	s.mu.Unlock()
	return ok
}

// maybeCompress returns the zstd encoding of c if it saves at least 1/8,
// else c. A chunk whose bytes look random (order-0 entropy of a sample above
// 7.2 bits per byte) is not tried.
func (s *Store) maybeCompress(c []byte) ([]byte, uint8) {
	if len(c) < 64 || looksIncompressible(c) {
		return c, 0
	}
	z := s.enc.EncodeAll(c, make([]byte, 0, len(c)-len(c)/8))
	if len(z) <= len(c)-len(c)/8 {
		return z, flagZstd
	}
	return c, 0
}

// looksIncompressible estimates the order-0 entropy of up to 4 KiB from the
// start of c.
func looksIncompressible(c []byte) bool {
	sample := c[:min(len(c), entropySample)]
	if len(sample) == 0 {
		return false
	}
	var hist [256]uint32
	for _, x := range sample {
		hist[x]++
	}
	// H = log2(n) - Σ k·log2(k) / n over the byte counts k.
	var sum float64
	for _, k := range hist {
		sum += kLog2K[k]
	}
	n := float64(len(sample))
	bits := math.Log2(n) - sum/n
	// Sampling 4 KiB of uniform random bytes gives about 7.95 bits.
	return bits > 7.2
}

// entropySample is how many bytes of a chunk looksIncompressible counts.
const entropySample = 4096

// kLog2K[k] is k·log2(k), for the byte counts of a sample.
var kLog2K = func() (t [entropySample + 1]float64) {
	for k := 1; k <= entropySample; k++ {
		t[k] = float64(k) * math.Log2(float64(k))
	}
	return t
}()

// addRecord adds a record to the open pack unless a record of that kind and
// key is known. It returns the pack holding the record if that pack is not
// yet durable (nil if it is), and the bytes it added (0 if known). deps are
// the packs whose indexes must be written before the record's pack's.
func (s *Store) addRecord(key Digest, kind uint8, flags uint8, raw int, data []byte, deps map[*packState]struct{}) (*packState, int, error) {
	s.mu.Lock()
	m := s.chunks
	if kind == kindManifest {
		m = s.manifests
	}
	if l, ok := m[key]; ok && s.reusable(l) {
		st := s.packs[l.pack]
		s.mu.Unlock()
		if st.durable() {
			return nil, 0, nil
		}
		return st, 0, nil
	}
	if kind == kindManifest {
		if l, ok := s.chunks[key]; ok && s.reusable(l) { // the blob is also a chunk: readable already
			st := s.packs[l.pack]
			s.mu.Unlock()
			if st.durable() {
				return nil, 0, nil
			}
			return st, 0, nil
		}
	}
	if s.closed {
		s.mu.Unlock()
		return nil, 0, fmt.Errorf("store: put after Close")
	}
	op := s.open
	if op == nil {
		op = s.newOpenPackLocked()
	}
	buf := *op.buf
	e := indexEntry{Key: key, Kind: kind, Flags: flags, Offset: uint32(len(buf)), Raw: uint32(raw), Stored: uint32(len(data))}
	var hdr [recordHdrSize]byte
	putRecordHeader(hdr[:], e)
	buf = append(buf, hdr[:]...)
	buf = append(buf, data...)
	*op.buf = buf
	op.entries = append(op.entries, e)
	m[key] = loc{pack: op.idx, flags: flags, off: e.Offset, raw: e.Raw, stored: e.Stored}
	for d := range deps {
		if d != op.st && !d.durable() {
			op.deps[d] = struct{}{}
		}
	}
	st := op.st
	var full *openPack
	if len(buf) >= s.cfg.PackSize {
		full = op
		s.open = nil
	}
	s.mu.Unlock()
	if full != nil {
		s.startFlush(full)
	}
	return st, recordHdrSize + len(data), nil
}

func (s *Store) newOpenPackLocked() *openPack {
	id := newPackID()
	st := &packState{id: id, done: make(chan struct{}), written: time.Now()}
	bp, _ := s.packPool.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, s.cfg.PackSize+recordHdrSize+s.params.Max+64<<10)
		bp = &b
	}
	*bp = append((*bp)[:0], packMagic...)
	op := &openPack{idx: int32(len(s.packs)), st: st, buf: bp, deps: make(map[*packState]struct{})}
	s.packs = append(s.packs, st)
	s.loaded[id] = true
	s.inMem[id] = op
	s.open = op
	return op
}

// waitDurable flushes the open pack if it is among deps and waits until
// every pack in deps is written.
func (s *Store) waitDurable(ctx context.Context, deps map[*packState]struct{}) error {
	s.mu.Lock()
	var flush *openPack
	if op := s.open; op != nil {
		if _, ok := deps[op.st]; ok {
			flush = op
			s.open = nil
		}
	}
	s.mu.Unlock()
	if flush != nil {
		s.startFlush(flush)
	}
	for st := range deps {
		select {
		case <-st.done:
			if st.err != nil {
				return st.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// startFlush writes a detached open pack in the background: the pack, then
// (after the indexes of the packs it depends on) its index. It blocks while
// two pack objects are being written, which bounds memory.
func (s *Store) startFlush(op *openPack) {
	s.flushSem <- struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.writePack(op)
		s.mu.Lock()
		if err != nil {
			for _, e := range op.entries {
				m := s.chunks
				if e.Kind == kindManifest {
					m = s.manifests
				}
				if l, ok := m[e.Key]; ok && l.pack == op.idx {
					delete(m, e.Key)
				}
			}
			op.st.err = fmt.Errorf("store: write pack %s: %w", op.st.id, err)
		}
		s.mu.Unlock()
		close(op.st.done)
	}()
}

// writePack writes the pack object (holding a flushSem slot, released here),
// then waits for the packs it depends on and writes its index.
func (s *Store) writePack(op *openPack) error {
	ctx := context.Background() // others may depend on this pack: never abandon it halfway
	buf := *op.buf
	size := int64(len(buf))
	err := s.b.Put(ctx, packName(op.st.id), bytes.NewReader(buf), size)
	s.mu.Lock()
	delete(s.inMem, op.st.id) // readers now find the pack object (or its failure)
	s.mu.Unlock()
	*op.buf = buf[:0]
	s.packPool.Put(op.buf)
	op.buf = nil
	<-s.flushSem
	if err != nil {
		return err
	}
	for d := range op.deps {
		<-d.done
		if d.err != nil {
			return fmt.Errorf("a pack it depends on failed: %w", d.err)
		}
	}
	idx := encodeIndex(op.st.id, size, op.entries)
	return s.b.Put(ctx, indexName(op.st.id), bytes.NewReader(idx), int64(len(idx)))
}
