package store

// Repository format, version 1.
//
// A repository is a set of immutable objects on a [Backend]. Nothing is ever
// rewritten in place; new data only adds objects, and only GC deletes them.
// Integers are little-endian. Pack ids are 16 random bytes written as 32
// lowercase hex characters.
//
// # config
//
// The object "config" is JSON written once when a repository is created:
//
//	{"format":"kiln-store","version":1,
//	 "chunker":{"min":16384,"avg":65536,"max":262144},
//	 "pack_size":33554432,"compression":"zstd"}
//
// The chunker parameters are part of the format (they decide chunk
// boundaries and so deduplication); pack_size is the target size of a pack
// (16–64 MiB); compression is "zstd" or "none" and only decides how new
// records are written: readers accept compressed records either way.
//
// # Packs: packs/<first 2 hex of id>/<id>.pack
//
// A pack is the 8-byte magic "KILNPCK1" followed by records, each a 44-byte
// header and its stored bytes:
//
//	key      [32]byte  chunk digest (kind 1) or blob digest (kind 2)
//	kind     uint8     1 = chunk, 2 = blob manifest
//	flags    uint8     bit 0: stored bytes are one zstd frame
//	reserved [2]byte   zero
//	raw      uint32    length of the record's bytes after decompression
//	stored   uint32    length of the stored bytes that follow the header
//
// A chunk record's bytes (decompressed) hash with BLAKE3 to its key. A chunk
// is compressed only when that saves at least 1/8 of its raw length.
// Manifest records are never compressed.
//
// # Manifests (kind 2)
//
// A blob whose content is one chunk (every blob smaller than the chunker's
// Min, and the empty blob) has no manifest: its Digest is its chunk's
// digest, and reading the blob reads the chunk. Any chunk is therefore also
// a readable blob. A blob of two or more chunks has a manifest record whose
// key is the blob's Digest (BLAKE3 of the whole content):
//
//	size     uint64    total raw size of the blob
//	count    uint32    number of chunks
//	entries  count × { digest [32]byte; raw uint32 }   chunks in order
//	check    [32]byte  BLAKE3 of all the bytes above
//
// # Indexes: index/<id>.idx
//
// Each pack has one index describing every record in it:
//
//	magic    [8]byte   "KILNIDX1"
//	pack     [16]byte  the pack id
//	packSize uint64    length of the pack object
//	count    uint32    number of entries
//	entries  count × 48 bytes:
//	    key [32]byte; kind uint8; flags uint8; reserved [2]byte (zero);
//	    offset uint32 (of the record header in the pack); raw uint32; stored uint32
//	check    [32]byte  BLAKE3 of all the bytes above
//
// A pack without an index is not part of the repository (readers ignore it).
// The same key may appear in several packs (concurrent writers, retried
// work, repacking); any valid copy serves. A key may also exist both as a
// chunk and as a manifest (a blob between Min and Max that was chunked on
// its own); both describe the same bytes. A reader prefers the manifest when
// asked for a blob and needs a kind-1 record when following a manifest
// entry, so whoever keeps records alive (GC) must keep, for each live
// manifest entry, a kind-1 record with that key.
//
// # Write order and crash safety
//
// A writer writes a pack, then its index, and a manifest only goes into a
// pack whose index is written after the indexes of every pack holding the
// chunks it lists. A crash at any point therefore leaves only packs without
// an index or records nobody refers to; [Store.Check] reports such a
// repository as clean and GC removes the leftovers.

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

const (
	packMagic      = "KILNPCK1"
	indexMagic     = "KILNIDX1"
	recordHdrSize  = 44
	indexEntrySize = 48
	indexHdrSize   = 8 + 16 + 8 + 4

	kindChunk    = 1
	kindManifest = 2

	flagZstd = 1

	manifestEntrySize = 36
)

// packID names a pack and its index.
type packID [16]byte

func newPackID() packID {
	var id packID
	rand.Read(id[:]) // never returns an error (crypto/rand documents it)
	return id
}

func (id packID) String() string { return hex.EncodeToString(id[:]) }

func packName(id packID) string {
	s := id.String()
	return "packs/" + s[:2] + "/" + s + ".pack"
}

func indexName(id packID) string { return "index/" + id.String() + ".idx" }

// parseIndexName returns the pack id of an index object name.
func parseIndexName(name string) (packID, bool) {
	var id packID
	s, ok := cutAffixes(name, "index/", ".idx")
	if !ok || len(s) != 32 {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || id.String() != s {
		return id, false
	}
	return id, true
}

// parsePackName returns the pack id of a pack object name.
func parsePackName(name string) (packID, bool) {
	var id packID
	s, ok := cutAffixes(name, "packs/", ".pack")
	if !ok || len(s) != 35 || s[2] != '/' || s[:2] != s[3:5] {
		return id, false
	}
	s = s[3:]
	if _, err := hex.Decode(id[:], []byte(s)); err != nil || id.String() != s {
		return id, false
	}
	return id, true
}

func cutAffixes(s, prefix, suffix string) (string, bool) {
	if len(s) < len(prefix)+len(suffix) || s[:len(prefix)] != prefix || s[len(s)-len(suffix):] != suffix {
		return "", false
	}
	return s[len(prefix) : len(s)-len(suffix)], true
}

// indexEntry describes one record of a pack.
type indexEntry struct {
	Key    Digest
	Kind   uint8
	Flags  uint8
	Offset uint32 // of the record header in the pack
	Raw    uint32
	Stored uint32
}

func putRecordHeader(b []byte, e indexEntry) {
	copy(b[0:32], e.Key[:])
	b[32] = e.Kind
	b[33] = e.Flags
	b[34], b[35] = 0, 0
	binary.LittleEndian.PutUint32(b[36:], e.Raw)
	binary.LittleEndian.PutUint32(b[40:], e.Stored)
}

// parseRecordHeader decodes a record header; Offset is left zero.
func parseRecordHeader(b []byte) (indexEntry, error) {
	var e indexEntry
	if len(b) < recordHdrSize {
		return e, fmt.Errorf("short record header")
	}
	copy(e.Key[:], b[0:32])
	e.Kind, e.Flags = b[32], b[33]
	e.Raw = binary.LittleEndian.Uint32(b[36:])
	e.Stored = binary.LittleEndian.Uint32(b[40:])
	if (e.Kind != kindChunk && e.Kind != kindManifest) || e.Flags&^flagZstd != 0 || b[34] != 0 || b[35] != 0 {
		return e, fmt.Errorf("bad record header (kind %d, flags %#x)", e.Kind, e.Flags)
	}
	if e.Flags&flagZstd == 0 && e.Raw != e.Stored {
		return e, fmt.Errorf("bad record header: uncompressed record with raw %d != stored %d", e.Raw, e.Stored)
	}
	return e, nil
}

// encodeIndex serializes the index of a pack.
func encodeIndex(id packID, packSize int64, entries []indexEntry) []byte {
	b := make([]byte, 0, indexHdrSize+len(entries)*indexEntrySize+32)
	b = append(b, indexMagic...)
	b = append(b, id[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(packSize))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e.Key[:]...)
		b = append(b, e.Kind, e.Flags, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, e.Offset)
		b = binary.LittleEndian.AppendUint32(b, e.Raw)
		b = binary.LittleEndian.AppendUint32(b, e.Stored)
	}
	sum := Sum(b)
	return append(b, sum[:]...)
}

// decodeIndex parses and verifies an index object. It checks the checksum,
// that the pack id matches want, and that every record lies inside the pack
// without overlapping the magic.
func decodeIndex(b []byte, want packID) (packSize int64, entries []indexEntry, err error) {
	if len(b) < indexHdrSize+32 || string(b[:8]) != indexMagic {
		return 0, nil, fmt.Errorf("not an index (bad magic or too short)")
	}
	body, check := b[:len(b)-32], b[len(b)-32:]
	if sum := Sum(body); !bytes.Equal(sum[:], check) {
		return 0, nil, fmt.Errorf("index checksum mismatch")
	}
	var id packID
	copy(id[:], b[8:24])
	if id != want {
		return 0, nil, fmt.Errorf("index names pack %s", id)
	}
	packSize = int64(binary.LittleEndian.Uint64(b[24:32]))
	n := int(binary.LittleEndian.Uint32(b[32:36]))
	if len(body) != indexHdrSize+n*indexEntrySize {
		return 0, nil, fmt.Errorf("index length %d does not match %d entries", len(b), n)
	}
	entries = make([]indexEntry, n)
	p := body[indexHdrSize:]
	for i := range entries {
		q := p[i*indexEntrySize:]
		e := &entries[i]
		copy(e.Key[:], q[:32])
		e.Kind, e.Flags = q[32], q[33]
		e.Offset = binary.LittleEndian.Uint32(q[36:])
		e.Raw = binary.LittleEndian.Uint32(q[40:])
		e.Stored = binary.LittleEndian.Uint32(q[44:])
		if (e.Kind != kindChunk && e.Kind != kindManifest) || e.Flags&^flagZstd != 0 {
			return 0, nil, fmt.Errorf("index entry %d: bad kind %d or flags %#x", i, e.Kind, e.Flags)
		}
		if int64(e.Offset) < int64(len(packMagic)) || int64(e.Offset)+recordHdrSize+int64(e.Stored) > packSize {
			return 0, nil, fmt.Errorf("index entry %d: record [%d, +%d) outside pack of %d bytes", i, e.Offset, recordHdrSize+e.Stored, packSize)
		}
	}
	return packSize, entries, nil
}

// manifestEntry is one chunk of a blob.
type manifestEntry struct {
	Digest Digest
	Raw    uint32
}

func encodeManifest(size int64, entries []manifestEntry) []byte {
	b := make([]byte, 0, 12+len(entries)*manifestEntrySize+32)
	b = binary.LittleEndian.AppendUint64(b, uint64(size))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e.Digest[:]...)
		b = binary.LittleEndian.AppendUint32(b, e.Raw)
	}
	sum := Sum(b)
	return append(b, sum[:]...)
}

// decodeManifest parses and verifies a manifest.
func decodeManifest(b []byte) (size int64, entries []manifestEntry, err error) {
	if len(b) < 12+32 {
		return 0, nil, fmt.Errorf("manifest too short (%d bytes)", len(b))
	}
	body, check := b[:len(b)-32], b[len(b)-32:]
	if sum := Sum(body); !bytes.Equal(sum[:], check) {
		return 0, nil, fmt.Errorf("manifest checksum mismatch")
	}
	size = int64(binary.LittleEndian.Uint64(b))
	n := int(binary.LittleEndian.Uint32(b[8:]))
	if len(body) != 12+n*manifestEntrySize {
		return 0, nil, fmt.Errorf("manifest length does not match %d entries", n)
	}
	entries = make([]manifestEntry, n)
	var total int64
	for i := range entries {
		q := body[12+i*manifestEntrySize:]
		copy(entries[i].Digest[:], q[:32])
		entries[i].Raw = binary.LittleEndian.Uint32(q[32:])
		total += int64(entries[i].Raw)
	}
	if total != size {
		return 0, nil, fmt.Errorf("manifest size %d != sum of chunk sizes %d", size, total)
	}
	return size, entries, nil
}
