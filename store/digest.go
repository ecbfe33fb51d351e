package store

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/zeebo/blake3"
)

// DigestPrefix is the algorithm prefix of a digest's text form.
const DigestPrefix = "blake3:"

// DigestSize is the length of a digest in bytes.
const DigestSize = 32

// digestTextLen is the length of the text form: the prefix and 64 hex digits.
const digestTextLen = len(DigestPrefix) + 2*DigestSize

// A Digest is the BLAKE3-256 hash of some bytes: a blob's whole content, a
// chunk, or a stored object. Digests are comparable and usable as map keys.
// The zero Digest is a sentinel for "no digest", never the hash of any
// content in practice.
//
// Its text form, returned by [Digest.String] and MarshalText and accepted by
// [ParseDigest], is "blake3:" followed by 64 lowercase hexadecimal digits.
type Digest [DigestSize]byte

// Sum returns the BLAKE3-256 digest of b.
func Sum(b []byte) Digest {
	return Digest(blake3.Sum256(b))
}

// String returns the text form "blake3:<64 lowercase hex digits>".
func (d Digest) String() string {
	var buf [digestTextLen]byte
	d.appendText(buf[:0])
	return string(buf[:])
}

// Hex returns the 64 lowercase hexadecimal digits of d, without the prefix.
// It suits object names and file names.
func (d Digest) Hex() string {
	return hex.EncodeToString(d[:])
}

func (d Digest) appendText(b []byte) []byte {
	b = append(b, DigestPrefix...)
	return hex.AppendEncode(b, d[:])
}

// IsZero reports whether d is the zero Digest.
func (d Digest) IsZero() bool {
	return d == Digest{}
}

// MarshalText implements [encoding.TextMarshaler]; the result is the text
// form, so digests appear as strings in JSON.
func (d Digest) MarshalText() ([]byte, error) {
	return d.appendText(make([]byte, 0, digestTextLen)), nil
}

// AppendText implements [encoding.TextAppender].
func (d Digest) AppendText(b []byte) ([]byte, error) {
	return d.appendText(b), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with the rules of
// [ParseDigest]. On error d is left unchanged.
func (d *Digest) UnmarshalText(text []byte) error {
	v, err := ParseDigest(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDigest parses the text form of a digest: exactly "blake3:" followed by
// 64 lowercase hexadecimal digits. Anything else — another or a missing
// prefix, upper-case digits, surrounding spaces, a wrong length — is refused
// with an error wrapping [ErrBadDigest].
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if !strings.HasPrefix(s, DigestPrefix) {
		return d, badDigest(s, `missing "blake3:" prefix`)
	}
	h := s[len(DigestPrefix):]
	if len(h) != 2*DigestSize {
		return d, badDigest(s, fmt.Sprintf("want %d hex digits, got %d characters", 2*DigestSize, len(h)))
	}
	for i := range DigestSize {
		hi, ok1 := fromHexLower(h[2*i])
		lo, ok2 := fromHexLower(h[2*i+1])
		if !ok1 || !ok2 {
			return Digest{}, badDigest(s, "not lowercase hexadecimal")
		}
		d[i] = hi<<4 | lo
	}
	return d, nil
}

func fromHexLower(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func badDigest(s, why string) error {
	const maxShown = 80
	if len(s) > maxShown {
		s = s[:maxShown] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrBadDigest, s, why)
}

// A Hasher computes a [Digest] of a stream of bytes written to it; the
// result equals [Sum] of their concatenation. It implements [io.Writer].
// The zero Hasher is not usable: create one with [NewHasher]. A Hasher is
// not safe for concurrent use.
type Hasher struct {
	h *blake3.Hasher
}

// NewHasher returns a Hasher with nothing written yet.
func NewHasher() *Hasher {
	return &Hasher{h: blake3.New()}
}

// Write adds p to the hashed stream. It never returns an error.
func (h *Hasher) Write(p []byte) (int, error) {
	return h.h.Write(p)
}

// WriteString adds s to the hashed stream. It never returns an error.
func (h *Hasher) WriteString(s string) (int, error) {
	return h.h.WriteString(s)
}

// Sum returns the digest of everything written so far. It does not change
// the state: more bytes may be written and Sum called again.
func (h *Hasher) Sum() Digest {
	var d Digest
	h.h.Sum(d[:0])
	return d
}

// Reset discards everything written, as if the Hasher were new.
func (h *Hasher) Reset() {
	h.h.Reset()
}
