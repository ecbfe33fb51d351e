package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Digest Digest
	Size   int64 // length of the content in bytes
	Chunks int   // number of chunks the content is cut into (0 for the empty blob)
}

// segMax is the most bytes one prefetch request reads from a pack.
const segMax = 4 << 20

// lookup finds the record of key (a manifest, or with chunkOnly a chunk; without
// chunkOnly a manifest is preferred), waiting for its pack if it is being
// written and looking at the backend for indexes written by others if the
// key is unknown.
func (s *Store) lookup(ctx context.Context, key Digest, chunkOnly bool) (loc, uint8, packID, bool, error) {
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		kind := uint8(kindManifest)
		l, ok := loc{}, false
		if !chunkOnly {
			l, ok = s.manifests[key]
		}
		if !ok {
			kind = kindChunk
			l, ok = s.chunks[key]
		}
		var st *packState
		mem := false
		if ok {
			st = s.packs[l.pack]
			mem = s.inMem[st.id] != nil
		}
		s.mu.Unlock()
		if mem { // not yet written (a Batch's, or a Put's in progress): read from memory
			return l, kind, st.id, true, nil
		}
		if ok {
			select {
			case <-st.done:
			case <-ctx.Done():
				return loc{}, 0, packID{}, false, ctx.Err()
			}
			if st.err == nil {
				return l, kind, st.id, true, nil
			}
			continue // its pack failed and the entry is gone; look again
		}
		if attempt > 0 {
			return loc{}, 0, packID{}, false, nil
		}
		if err := s.refresh(ctx); err != nil {
			return loc{}, 0, packID{}, false, err
		}
	}
}

// Has reports whether the blob d is in the store.
func (s *Store) Has(ctx context.Context, d Digest) (bool, error) {
	_, _, _, ok, err := s.lookup(ctx, d, false)
	return ok, err
}

// Stat describes the blob d, or fails with an error wrapping ErrNotFound.
// It reads the blob's manifest (verified) but none of its chunks.
func (s *Store) Stat(ctx context.Context, d Digest) (BlobInfo, error) {
	size, entries, err := s.resolve(ctx, d)
	if err != nil {
		return BlobInfo{}, err
	}
	n := len(entries)
	if size == 0 {
		n = 0
	}
	return BlobInfo{Digest: d, Size: size, Chunks: n}, nil
}

// resolve returns the size and chunks of blob d.
func (s *Store) resolve(ctx context.Context, d Digest) (int64, []manifestEntry, error) {
	var (
		l    loc
		kind uint8
		pid  packID
		rec  []byte
	)
	for attempt := 0; ; attempt++ {
		var ok bool
		var err error
		l, kind, pid, ok, err = s.lookup(ctx, d, false)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			return 0, nil, fmt.Errorf("store: blob %s: %w", d, ErrNotFound)
		}
		if kind == kindChunk {
			return int64(l.raw), []manifestEntry{{Digest: d, Raw: l.raw}}, nil
		}
		rec, err = s.readRange(ctx, pid, int64(l.off), recordHdrSize+int64(l.stored), nil)
		if err == nil {
			break
		}
		if attempt > 0 || !errors.Is(err, ErrNotFound) {
			return 0, nil, fmt.Errorf("store: blob %s: read manifest: %w", d, err)
		}
		// The pack is gone: a GC in another process may have moved the
		// record into a new pack. Forget the deleted packs and look again.
		if ferr := s.forgetMissing(ctx); ferr != nil {
			return 0, nil, ferr
		}
	}
	data, err := s.openRecord(rec, d, kindManifest, l)
	if err != nil {
		return 0, nil, fmt.Errorf("store: blob %s: manifest in pack %s: %w", d, pid, err)
	}
	size, entries, err := decodeManifest(data)
	if err != nil {
		return 0, nil, fmt.Errorf("store: blob %s: manifest in pack %s: %w: %v", d, pid, ErrCorrupt, err)
	}
	return size, entries, nil
}

// readRange reads n bytes at off of pack id into buf (grown as needed).
func (s *Store) readRange(ctx context.Context, id packID, off, n int64, buf []byte) ([]byte, error) {
	if data, ok := s.readMem(id, off, n, buf); ok {
		return data, nil
	}
	rc, err := s.b.Get(ctx, packName(id), off, n)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("pack %s missing: %w: %w", id, ErrCorrupt, err)
		}
		return nil, err
	}
	defer rc.Close()
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(rc, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("pack %s truncated: %w", id, ErrCorrupt)
		}
		return nil, err
	}
	return buf, nil
}

// readMem reads n bytes at off of pack id into buf (grown as needed) if
// the pack is still in memory; the bytes are copied, since the open pack
// grows and a written one's buffer is reused.
func (s *Store) readMem(id packID, off, n int64, buf []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op := s.inMem[id]
	if op == nil {
		return nil, false
	}
	pack := *op.buf
	if off < 0 || n < 0 || off+n > int64(len(pack)) {
		return nil, false // cannot happen for a record of the pack; let the backend say
	}
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	copy(buf, pack[off:off+n])
	return buf, true
}

// openRecord checks a record's header against what the index said and
// returns its raw bytes, decompressed; a chunk's bytes are verified against
// its digest. Errors wrap ErrCorrupt.
func (s *Store) openRecord(rec []byte, key Digest, kind uint8, l loc) ([]byte, error) {
	h, err := parseRecordHeader(rec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", key, ErrCorrupt, err)
	}
	if h.Key != key || h.Kind != kind || h.Flags != l.flags || h.Raw != l.raw || h.Stored != l.stored || len(rec) != recordHdrSize+int(h.Stored) {
		return nil, fmt.Errorf("%s: %w: record header does not match the index", key, ErrCorrupt)
	}
	data := rec[recordHdrSize:]
	if h.Flags&flagZstd != 0 {
		data, err = s.dec.DecodeAll(data, make([]byte, 0, h.Raw))
		if err != nil || len(data) != int(h.Raw) {
			return nil, fmt.Errorf("%s: %w: cannot decompress", key, ErrCorrupt)
		}
	}
	if kind == kindChunk && Sum(data) != key {
		return nil, fmt.Errorf("chunk %s: %w: digest mismatch", key, ErrCorrupt)
	}
	return data, nil
}

// Get returns a reader of the content of blob d, or an error wrapping
// ErrNotFound. Every chunk is verified against its digest before its bytes
// are returned, and at the end the whole content against d; a mismatch is
// an error wrapping ErrCorrupt that names the digest. The reader prefetches
// chunks in parallel with bounded memory (about 4 MiB per core). The caller
// must close it.
func (s *Store) Get(ctx context.Context, d Digest) (io.ReadCloser, error) {
	size, entries, err := s.resolve(ctx, d)
	if err != nil {
		return nil, err
	}
	r := s.newReader(ctx, d, entries, 0, size)
	r.whole = NewHasher()
	return r, nil
}

// ReadRange returns a reader of n bytes of blob d starting at byte off; n
// -1 reads to the end, and a range past the end is clipped to it. An off
// outside [0, size] is an error wrapping ErrRange. Only the chunks covering
// the range are read, each verified against its digest (the whole blob is
// not, since it is not read). The caller must close the reader.
func (s *Store) ReadRange(ctx context.Context, d Digest, off, n int64) (io.ReadCloser, error) {
	size, entries, err := s.resolve(ctx, d)
	if err != nil {
		return nil, err
	}
	if off < 0 || n < -1 || off > size {
		return nil, fmt.Errorf("store: blob %s: range at %d of %d bytes: %w", d, off, size, ErrRange)
	}
	if n == -1 || n > size-off {
		n = size - off
	}
	// Find the first chunk covering off.
	var start int64
	i := 0
	if off > 0 {
		ends := make([]int64, len(entries))
		var e int64
		for j, m := range entries {
			e += int64(m.Raw)
			ends[j] = e
		}
		i = sort.Search(len(ends), func(j int) bool { return ends[j] > off })
		if i > 0 {
			start = ends[i-1]
		}
	}
	var picked []manifestEntry
	var covered int64
	for j := i; j < len(entries) && (covered < n+off-start || len(picked) == 0); j++ {
		picked = append(picked, entries[j])
		covered += int64(entries[j].Raw)
	}
	r := s.newReader(ctx, d, picked, off-start, n)
	return r, nil
}

// segment is one prefetch request: consecutive records of one pack.
type segment struct {
	pack    packID
	off     int64 // of the first record
	n       int64
	entries []manifestEntry
	locs    []loc
	done    chan struct{}
	chunks  [][]byte
	buf     *[]byte
	err     error
}

type blobReader struct {
	s      *Store
	d      Digest
	cancel context.CancelFunc
	segs   chan *segment
	wg     sync.WaitGroup

	cur    *segment
	ci     int    // next chunk of cur
	rest   []byte // unread part of the current chunk
	skip   int64  // bytes still to drop from the start
	remain int64  // bytes still to deliver
	whole  *Hasher
	err    error
}

var segPool sync.Pool // *[]byte of capacity segMax or more

// putSegBuf gives a segment's buffer back to segPool if it is a large one.
func putSegBuf(bp *[]byte) {
	if bp != nil && cap(*bp) >= segMax {
		segPool.Put(bp)
	}
}

func (s *Store) newReader(ctx context.Context, d Digest, entries []manifestEntry, skip, n int64) *blobReader {
	ctx, cancel := context.WithCancel(ctx)
	depth := 2*s.workers + 2
	r := &blobReader{s: s, d: d, cancel: cancel, segs: make(chan *segment, depth), skip: skip, remain: n}
	fetchSem := make(chan struct{}, s.workers+2)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(r.segs)
		var seg *segment
		emit := func() bool {
			sg := seg
			seg = nil
			select {
			case r.segs <- sg:
			case <-ctx.Done():
				return false
			}
			select {
			case fetchSem <- struct{}{}:
			case <-ctx.Done():
				sg.err = ctx.Err()
				close(sg.done)
				return false
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				s.fetch(ctx, d, sg)
				<-fetchSem
			}()
			return true
		}
		for _, e := range entries {
			l, kind, pid, ok, err := s.lookup(ctx, e.Digest, true)
			if err == nil && (!ok || kind != kindChunk || l.raw != e.Raw) {
				err = fmt.Errorf("store: blob %s: chunk %s: %w: missing or wrong size", d, e.Digest, ErrCorrupt)
			}
			if err != nil {
				if seg != nil && !emit() {
					return
				}
				bad := &segment{done: make(chan struct{}), err: err}
				close(bad.done)
				select {
				case r.segs <- bad:
				case <-ctx.Done():
				}
				return
			}
			rec := recordHdrSize + int64(l.stored)
			if seg != nil && (seg.pack != pid || seg.off+seg.n != int64(l.off) || seg.n+rec > segMax) {
				if !emit() {
					return
				}
			}
			if seg == nil {
				seg = &segment{pack: pid, off: int64(l.off), done: make(chan struct{})}
			}
			seg.n += rec
			seg.entries = append(seg.entries, e)
			seg.locs = append(seg.locs, l)
		}
		if seg != nil {
			emit()
		}
	}()
	return r
}

// fetch reads and verifies the records of a segment.
func (s *Store) fetch(ctx context.Context, d Digest, sg *segment) {
	defer close(sg.done)
	var bp *[]byte
	if sg.n >= segMax/4 {
		bp, _ = segPool.Get().(*[]byte)
	}
	if bp == nil {
		// A small segment (a small blob's) gets a buffer of its size, not
		// a pooled one of segMax.
		b := make([]byte, 0, sg.n)
		if sg.n >= segMax/4 {
			b = make([]byte, 0, segMax+recordHdrSize+s.params.Max)
		}
		bp = &b
	}
	buf, err := s.readRange(ctx, sg.pack, sg.off, sg.n, *bp)
	if errors.Is(err, ErrNotFound) {
		putSegBuf(bp)
		s.fetchMoved(ctx, d, sg)
		return
	}
	if err != nil {
		putSegBuf(bp)
		sg.err = fmt.Errorf("store: blob %s: %w", d, err)
		return
	}
	*bp = buf
	sg.buf = bp
	sg.chunks = make([][]byte, len(sg.entries))
	var p int64
	for i, e := range sg.entries {
		l := sg.locs[i]
		n := recordHdrSize + int64(l.stored)
		data, err := s.openRecord(buf[p:p+n], e.Digest, kindChunk, l)
		if err != nil {
			sg.err = fmt.Errorf("store: blob %s: pack %s: %w", d, sg.pack, err)
			return
		}
		sg.chunks[i] = data
		p += n
	}
}

// fetchMoved reads the records of a segment whose pack is gone, one at a
// time from wherever they are now: a GC in another process may have copied
// them into new packs and deleted this one after the reader looked them up.
// A record that is nowhere else is an error wrapping ErrCorrupt.
func (s *Store) fetchMoved(ctx context.Context, d Digest, sg *segment) {
	if err := s.forgetMissing(ctx); err != nil {
		sg.err = fmt.Errorf("store: blob %s: %w", d, err)
		return
	}
	sg.chunks = make([][]byte, len(sg.entries))
	for i, e := range sg.entries {
		l, kind, pid, ok, err := s.lookup(ctx, e.Digest, true)
		if err == nil && (!ok || kind != kindChunk || l.raw != e.Raw) {
			err = fmt.Errorf("chunk %s: %w: missing or wrong size (its pack %s is gone)", e.Digest, ErrCorrupt, sg.pack)
		}
		if err != nil {
			sg.err = fmt.Errorf("store: blob %s: %w", d, err)
			return
		}
		rec, err := s.readRange(ctx, pid, int64(l.off), recordHdrSize+int64(l.stored), nil)
		if err != nil {
			sg.err = fmt.Errorf("store: blob %s: %w", d, err)
			return
		}
		data, err := s.openRecord(rec, e.Digest, kindChunk, l)
		if err != nil {
			sg.err = fmt.Errorf("store: blob %s: pack %s: %w", d, pid, err)
			return
		}
		sg.chunks[i] = data
	}
}

// next returns the next verified chunk, or io.EOF.
func (r *blobReader) next() ([]byte, error) {
	for {
		if r.cur != nil && r.ci < len(r.cur.chunks) {
			c := r.cur.chunks[r.ci]
			r.ci++
			return c, nil
		}
		if r.cur != nil {
			if r.cur.buf != nil {
				putSegBuf(r.cur.buf)
			}
			r.cur = nil
		}
		sg, ok := <-r.segs
		if !ok {
			return nil, io.EOF
		}
		<-sg.done
		if sg.err != nil {
			return nil, sg.err
		}
		r.cur, r.ci = sg, 0
	}
}

// fill makes r.rest non-empty, or sets r.err.
func (r *blobReader) fill() {
	for len(r.rest) == 0 && r.err == nil {
		if r.remain == 0 {
			r.finish()
			return
		}
		c, err := r.next()
		if err == io.EOF {
			if r.remain > 0 {
				err = fmt.Errorf("store: blob %s: %w: content shorter than its manifest says", r.d, ErrCorrupt)
			} else {
				r.finish()
				return
			}
		}
		if err != nil {
			r.err = err
			return
		}
		if r.whole != nil {
			r.whole.Write(c)
		}
		if r.skip > 0 {
			k := min(r.skip, int64(len(c)))
			c = c[k:]
			r.skip -= k
		}
		if int64(len(c)) > r.remain {
			c = c[:r.remain]
		}
		r.rest = c
		r.remain -= int64(len(c))
	}
}

func (r *blobReader) finish() {
	r.err = io.EOF
	if r.whole != nil && r.whole.Sum() != r.d {
		r.err = fmt.Errorf("store: blob %s: %w: content does not match the blob digest", r.d, ErrCorrupt)
	}
}

func (r *blobReader) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		r.fill()
		if len(r.rest) == 0 {
			return 0, r.err
		}
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// WriteTo writes the rest of the content to w (used by io.Copy; it saves a
// copy).
func (r *blobReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.rest) == 0 {
			r.fill()
			if len(r.rest) == 0 {
				if r.err == io.EOF {
					return total, nil
				}
				return total, r.err
			}
		}
		n, err := w.Write(r.rest)
		total += int64(n)
		r.rest = r.rest[n:]
		if err != nil {
			return total, err
		}
	}
}

// Close stops prefetching and releases the reader's buffers.
func (r *blobReader) Close() error {
	r.cancel()
	go func() {
		for sg := range r.segs {
			<-sg.done
			putSegBuf(sg.buf)
		}
	}()
	r.wg.Wait()
	if r.cur != nil {
		putSegBuf(r.cur.buf)
		r.cur = nil
	}
	r.rest, r.err = nil, errReadAfterClose
	return nil
}

var errReadAfterClose = errors.New("store: read of a closed blob reader")
