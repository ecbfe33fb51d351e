package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// This file reads and writes the repository format described in pack.go for
// GC: it lists packs and indexes, parses indexes, reads and verifies records
// and writes new packs. It is separate from the writer used by Put so that
// GC depends only on the documented format.

const (
	gcPackMagic    = "KILNPCK1"
	gcIndexMagic   = "KILNIDX1"
	gcRecordHeader = 44
	gcIndexEntry   = 48
	gcKindChunk    = 1
	gcKindManifest = 2
	gcFlagZstd     = 1
)

// gcEntry is one record of a pack, as its index describes it.
type gcEntry struct {
	Key    Digest
	Kind   uint8
	Flags  uint8
	Offset uint32
	Raw    uint32
	Stored uint32
}

// size is the record's length in the pack, header included.
func (e gcEntry) size() int64 { return gcRecordHeader + int64(e.Stored) }

// gcIndex is a parsed index object.
type gcIndex struct {
	Pack     string // pack id, 32 hex digits
	PackSize uint64
	Entries  []gcEntry
}

func gcPackName(id string) string  { return "packs/" + id[:2] + "/" + id + ".pack" }
func gcIndexName(id string) string { return "index/" + id + ".idx" }

// gcPackID returns the id in a pack object's name, or "" for another name.
func gcPackID(name string) string {
	rest, ok := strings.CutPrefix(name, "packs/")
	if !ok {
		return ""
	}
	dir, file, ok := strings.Cut(rest, "/")
	id, ok2 := strings.CutSuffix(file, ".pack")
	if !ok || !ok2 || !gcValidID(id) || dir != id[:2] {
		return ""
	}
	return id
}

// gcIndexID returns the id in an index object's name, or "".
func gcIndexID(name string) string {
	rest, ok := strings.CutPrefix(name, "index/")
	if !ok {
		return ""
	}
	id, ok := strings.CutSuffix(rest, ".idx")
	if !ok || !gcValidID(id) {
		return ""
	}
	return id
}

func gcValidID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func gcNewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// gcParseIndex decodes an index object and checks its checksum and that its
// entries fit in the pack it names.
func gcParseIndex(name string, data []byte) (*gcIndex, error) {
	bad := func(why string) error { return fmt.Errorf("%w: index %s: %s", ErrCorrupt, name, why) }
	const head = 8 + 16 + 8 + 4
	if len(data) < head+32 {
		return nil, bad("too short")
	}
	if string(data[:8]) != gcIndexMagic {
		return nil, bad("bad magic")
	}
	body := data[:len(data)-32]
	if Sum(body) != Digest(data[len(data)-32:]) {
		return nil, bad("checksum mismatch")
	}
	ix := &gcIndex{Pack: hex.EncodeToString(data[8:24]), PackSize: binary.LittleEndian.Uint64(data[24:32])}
	n := binary.LittleEndian.Uint32(data[32:36])
	if uint64(len(body)-head) != uint64(n)*gcIndexEntry {
		return nil, bad("entry count does not match its length")
	}
	ix.Entries = make([]gcEntry, n)
	for i := range ix.Entries {
		p := body[head+i*gcIndexEntry:]
		e := gcEntry{
			Kind:   p[32],
			Flags:  p[33],
			Offset: binary.LittleEndian.Uint32(p[36:]),
			Raw:    binary.LittleEndian.Uint32(p[40:]),
			Stored: binary.LittleEndian.Uint32(p[44:]),
		}
		copy(e.Key[:], p[:32])
		if e.Kind != gcKindChunk && e.Kind != gcKindManifest {
			return nil, bad(fmt.Sprintf("entry %d: unknown kind %d", i, e.Kind))
		}
		if uint64(e.Offset)+uint64(e.size()) > ix.PackSize || e.Offset < uint32(len(gcPackMagic)) {
			return nil, bad(fmt.Sprintf("entry %d lies outside the pack", i))
		}
		ix.Entries[i] = e
	}
	return ix, nil
}

// gcEncodeIndex renders an index object.
func gcEncodeIndex(packID string, packSize uint64, entries []gcEntry) ([]byte, error) {
	id, err := hex.DecodeString(packID)
	if err != nil || len(id) != 16 {
		return nil, fmt.Errorf("bad pack id %q", packID)
	}
	b := make([]byte, 0, 36+len(entries)*gcIndexEntry+32)
	b = append(b, gcIndexMagic...)
	b = append(b, id...)
	b = binary.LittleEndian.AppendUint64(b, packSize)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e.Key[:]...)
		b = append(b, e.Kind, e.Flags, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, e.Offset)
		b = binary.LittleEndian.AppendUint32(b, e.Raw)
		b = binary.LittleEndian.AppendUint32(b, e.Stored)
	}
	sum := Sum(b)
	return append(b, sum[:]...), nil
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
	if len(raw) < 12+32 {
		return nil, errors.New("manifest too short")
	}
	body := raw[:len(raw)-32]
	if Sum(body) != Digest(raw[len(raw)-32:]) {
		return nil, errors.New("manifest checksum mismatch")
	}
	n := binary.LittleEndian.Uint32(body[8:12])
	if uint64(len(body)-12) != uint64(n)*36 {
		return nil, errors.New("manifest entry count does not match its length")
	}
	out := make([]Digest, n)
	for i := range out {
		copy(out[i][:], body[12+i*36:])
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
