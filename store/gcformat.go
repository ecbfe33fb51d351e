package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// This file gives GC the repository format of pack.go in the terms GC works
// in: pack ids as hex strings, records read and verified from whole packs,
// new packs written with their index.

const (
	gcPackMagic    = packMagic
	gcRecordHeader = recordHdrSize
	gcKindChunk    = kindChunk
	gcKindManifest = kindManifest
	gcFlagZstd     = flagZstd
)

// gcEntry is one record of a pack, as its index describes it.
type gcEntry = indexEntry

// size is the record's length in the pack, header included.
func (e indexEntry) size() int64 { return recordHdrSize + int64(e.Stored) }

// gcIndex is a parsed index object.
type gcIndex struct {
	Pack     string // pack id, 32 hex digits
	PackSize uint64
	Entries  []gcEntry
}

// gcParseID parses a pack id in its canonical (lower-case hex) form.
func gcParseID(id string) (packID, bool) {
	var pid packID
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != len(pid) {
		return pid, false
	}
	copy(pid[:], b)
	return pid, pid.String() == id
}

func gcPackName(id string) string {
	pid, _ := gcParseID(id)
	return packName(pid)
}

func gcIndexName(id string) string {
	pid, _ := gcParseID(id)
	return indexName(pid)
}

// gcPackID returns the id in a pack object's name, or "" for another name.
func gcPackID(name string) string {
	if id, ok := parsePackName(name); ok {
		return id.String()
	}
	return ""
}

// gcIndexID returns the id in an index object's name, or "".
func gcIndexID(name string) string {
	if id, ok := parseIndexName(name); ok {
		return id.String()
	}
	return ""
}

func gcNewID() (string, error) { return newPackID().String(), nil }

// gcParseIndex decodes the index object called name and checks it (see
// decodeIndex).
func gcParseIndex(name string, data []byte) (*gcIndex, error) {
	id, ok := parseIndexName(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not an index name", ErrCorrupt, name)
	}
	size, entries, err := decodeIndex(data, id)
	if err != nil {
		return nil, fmt.Errorf("%w: index %s: %v", ErrCorrupt, name, err)
	}
	return &gcIndex{Pack: id.String(), PackSize: uint64(size), Entries: entries}, nil
}

// gcEncodeIndex renders an index object.
func gcEncodeIndex(packID string, packSize uint64, entries []gcEntry) ([]byte, error) {
	id, ok := gcParseID(packID)
	if !ok {
		return nil, fmt.Errorf("bad pack id %q", packID)
	}
	return encodeIndex(id, int64(packSize), entries), nil
}

// gcReadAll reads a whole object.
func gcReadAll(ctx context.Context, b Backend, name string) ([]byte, error) {
	rc, err := b.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

var (
	gcDecoderOnce sync.Once
	gcDecoder     *zstd.Decoder
	gcDecoderErr  error
)

func gcZstd() (*zstd.Decoder, error) {
	gcDecoderOnce.Do(func() {
		gcDecoder, gcDecoderErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	})
	return gcDecoder, gcDecoderErr
}

// gcRecord checks the record at e in the pack bytes against its index entry
// and its content (chunk hash, manifest checksum) and returns the stored
// bytes (header included) and the decoded raw bytes.
func gcRecord(pack []byte, packName string, e gcEntry) (rec, raw []byte, err error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s record %s in %s: %s", ErrCorrupt, gcKindName(e.Kind), e.Key, packName, why)
	}
	end := int64(e.Offset) + e.size()
	if end > int64(len(pack)) {
		return nil, nil, bad("past the end of the pack")
	}
	rec = pack[e.Offset:end]
	h := rec[:gcRecordHeader]
	if !bytes.Equal(h[:32], e.Key[:]) || h[32] != e.Kind || h[33] != e.Flags ||
		binary.LittleEndian.Uint32(h[36:]) != e.Raw || binary.LittleEndian.Uint32(h[40:]) != e.Stored {
		return nil, nil, bad("header does not match the index")
	}
	raw = rec[gcRecordHeader:]
	if e.Flags&gcFlagZstd != 0 {
		d, err := gcZstd()
		if err != nil {
			return nil, nil, err
		}
		raw, err = d.DecodeAll(raw, make([]byte, 0, e.Raw))
		if err != nil {
			return nil, nil, bad(err.Error())
		}
	}
	if len(raw) != int(e.Raw) {
		return nil, nil, bad("wrong length")
	}
	switch e.Kind {
	case gcKindChunk:
		if Sum(raw) != e.Key {
			return nil, nil, bad("content does not match its digest")
		}
	case gcKindManifest:
		if _, err := gcParseManifest(raw); err != nil {
			return nil, nil, bad(err.Error())
		}
	}
	return rec, raw, nil
}

func gcKindName(k uint8) string {
	if k == gcKindManifest {
		return "manifest"
	}
	return "chunk"
}

// gcParseManifest decodes a manifest record's bytes into its chunk digests.
func gcParseManifest(raw []byte) ([]Digest, error) {
	_, entries, err := decodeManifest(raw)
	if err != nil {
		return nil, err
	}
	out := make([]Digest, len(entries))
	for i, e := range entries {
		out[i] = e.Digest
	}
	return out, nil
}

// gcPackSize reads the target pack size from the config object; 32 MiB if
// it is missing or says nothing.
func gcPackSize(ctx context.Context, b Backend) (int, error) {
	data, err := gcReadAll(ctx, b, "config")
	if errors.Is(err, ErrNotFound) {
		return 32 << 20, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read config: %w", err)
	}
	var c struct {
		PackSize int `json:"pack_size"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return 0, fmt.Errorf("%w: config: %v", ErrCorrupt, err)
	}
	if c.PackSize <= 0 {
		return 32 << 20, nil
	}
	return c.PackSize, nil
}

// gcPackWriter collects records copied by a repack into new packs of about
// target bytes, writing each pack and then its index.
type gcPackWriter struct {
	b       Backend
	target  int
	buf     []byte
	entries []gcEntry
	written []string // ids of packs written (with their index)
	bytes   int64
}

// add appends a verified record (header and stored bytes) to the current
// pack, flushing it first when the record would overflow it.
func (w *gcPackWriter) add(ctx context.Context, e gcEntry, rec []byte) error {
	if len(w.buf) > len(gcPackMagic) && len(w.buf)+len(rec) > w.target {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	if len(w.buf) == 0 {
		w.buf = append(w.buf, gcPackMagic...)
	}
	e.Offset = uint32(len(w.buf))
	w.buf = append(w.buf, rec...)
	w.entries = append(w.entries, e)
	return nil
}

// flush writes the pending pack and then its index.
func (w *gcPackWriter) flush(ctx context.Context) error {
	if len(w.entries) == 0 {
		return nil
	}
	id, err := gcNewID()
	if err != nil {
		return err
	}
	if err := w.b.Put(ctx, gcPackName(id), bytes.NewReader(w.buf), int64(len(w.buf))); err != nil {
		return fmt.Errorf("write pack %s: %w", id, err)
	}
	idx, err := gcEncodeIndex(id, uint64(len(w.buf)), w.entries)
	if err != nil {
		return err
	}
	if err := w.b.Put(ctx, gcIndexName(id), bytes.NewReader(idx), int64(len(idx))); err != nil {
		return fmt.Errorf("write index %s: %w", id, err)
	}
	w.written = append(w.written, id)
	w.bytes += int64(len(w.buf))
	w.buf = w.buf[:0]
	w.entries = w.entries[:0]
	return nil
}
