package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Known BLAKE3-256 values, checked with b3sum 1.2.0.
var digestVectors = []struct {
	in   []byte
	want string
}{
	{[]byte{}, "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
	{[]byte("abc"), "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
	{make([]byte, 1<<20), "blake3:488de202f73bd976de4e7048f4e1f39a776d86d582b7348ff53bf432b987fca8"},
}

func TestSumVectors(t *testing.T) {
	for _, v := range digestVectors {
		if got := Sum(v.in).String(); got != v.want {
			t.Errorf("Sum(%d bytes) = %s, want %s", len(v.in), got, v.want)
		}
	}
}

func TestHasherMatchesSum(t *testing.T) {
	data := testData(7, 3<<20+123)
	want := Sum(data)
	// Write in pieces of many sizes, including pieces that straddle BLAKE3's
	// 1 KiB chunks and 64 B blocks.
	for _, piece := range []int{1, 63, 64, 65, 1023, 1024, 1025, 65536, 1 << 20, len(data)} {
		h := NewHasher()
		for off := 0; off < len(data); off += piece {
			n, err := h.Write(data[off:min(off+piece, len(data))])
			if err != nil || n != min(piece, len(data)-off) {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		if got := h.Sum(); got != want {
			t.Errorf("pieces of %d: Hasher.Sum = %v, want %v", piece, got, want)
		}
	}
}

func TestHasherSumKeepsState(t *testing.T) {
	h := NewHasher()
	h.Write([]byte("hello, "))
	if got, want := h.Sum(), Sum([]byte("hello, ")); got != want {
		t.Fatalf("first Sum = %v, want %v", got, want)
	}
	h.WriteString("world")
	if got, want := h.Sum(), Sum([]byte("hello, world")); got != want {
		t.Fatalf("Sum after more writes = %v, want %v", got, want)
	}
	h.Reset()
	if got, want := h.Sum(), Sum(nil); got != want {
		t.Fatalf("Sum after Reset = %v, want %v", got, want)
	}
}

func TestDigestTextRoundTrip(t *testing.T) {
	for i := range 100 {
		d := Sum([]byte{byte(i), byte(i >> 8)})
		s := d.String()
		if len(s) != 71 || !strings.HasPrefix(s, "blake3:") || s[7:] != d.Hex() {
			t.Fatalf("String = %q, Hex = %q", s, d.Hex())
		}
		back, err := ParseDigest(s)
		if err != nil || back != d {
			t.Fatalf("ParseDigest(%q) = %v, %v; want %v", s, back, err, d)
		}
		text, err := d.MarshalText()
		if err != nil || string(text) != s {
			t.Fatalf("MarshalText = %q, %v; want %q", text, err, s)
		}
		var u Digest
		if err := u.UnmarshalText(text); err != nil || u != d {
			t.Fatalf("UnmarshalText = %v, %v; want %v", u, err, d)
		}
	}
}

func TestDigestJSON(t *testing.T) {
	type doc struct {
		Root   Digest            `json:"root"`
		Chunks []Digest          `json:"chunks"`
		ByName map[string]Digest `json:"by_name"`
	}
	in := doc{Root: Sum([]byte("r")), Chunks: []Digest{Sum([]byte("a")), Sum([]byte("b"))}, ByName: map[string]Digest{"x": Sum(nil)}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"root":"blake3:`)) {
		t.Errorf("JSON %s does not hold the text form", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
	err = json.Unmarshal([]byte(`{"root":"blake3:XYZ"}`), &out)
	if !errors.Is(err, ErrBadDigest) {
		t.Errorf("Unmarshal of a bad digest: err = %v, want ErrBadDigest", err)
	}
}

func TestParseDigestRejects(t *testing.T) {
	good := Sum([]byte("abc")).String()
	hex := good[7:]
	for _, s := range []string{
		"",
		"blake3:",
		hex,                              // no prefix
		"BLAKE3:" + hex,                  // prefix case
		"sha256:" + hex,                  // other algorithm
		"blake3:" + strings.ToUpper(hex), // upper-case digits
		"blake3:" + hex[:63],             // short
		"blake3:" + hex + "0",            // long
		"blake3:" + hex[:62],             // short by a byte
		"blake3:" + hex + "00",           // long by a byte
		" " + good,                       // surrounding space
		good + " ",
		good + "\n",
		"blake3:" + hex[:10] + "g" + hex[11:], // not hex
		"blake3:" + hex[:10] + "\x00" + hex[11:],
		"blake3:" + hex[:63] + "é"[:1], // a byte of a multi-byte rune
		"blake3: " + hex[1:],
		"blake3:0x" + hex[2:],
		"blake3:" + strings.Repeat("z", 64),
		strings.Repeat("blake3:", 100),
	} {
		d, err := ParseDigest(s)
		if !errors.Is(err, ErrBadDigest) {
			t.Errorf("ParseDigest(%q) = %v, %v; want ErrBadDigest", s, d, err)
		}
		if !d.IsZero() {
			t.Errorf("ParseDigest(%q) returned a non-zero digest with an error", s)
		}
	}
	var u = Sum([]byte("keep"))
	if err := u.UnmarshalText([]byte("nope")); !errors.Is(err, ErrBadDigest) || u != Sum([]byte("keep")) {
		t.Errorf("UnmarshalText(nope) = %v and changed the digest to %v", err, u)
	}
}

func TestParseDigestErrorMessage(t *testing.T) {
	_, err := ParseDigest("blake3:" + strings.Repeat("A", 64))
	if err == nil || !strings.Contains(err.Error(), "not lowercase hexadecimal") || !strings.Contains(err.Error(), "blake3:AAAA") {
		t.Errorf("err = %v, want it to name the input and the reason", err)
	}
	_, err = ParseDigest(strings.Repeat("x", 10000))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a long input is %d bytes, want it truncated", len(err.Error()))
	}
}

func TestDigestIsZero(t *testing.T) {
	var z Digest
	if !z.IsZero() {
		t.Error("zero Digest: IsZero = false")
	}
	if Sum(nil).IsZero() {
		t.Error("Sum(nil).IsZero() = true")
	}
	if z.String() != "blake3:"+strings.Repeat("0", 64) {
		t.Errorf("zero String = %q", z.String())
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add(Sum(nil).String())
	f.Add("blake3:" + strings.Repeat("F", 64))
	f.Add("blake3:")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			if !errors.Is(err, ErrBadDigest) {
				t.Fatalf("ParseDigest(%q): error %v does not wrap ErrBadDigest", s, err)
			}
			if !d.IsZero() {
				t.Fatalf("ParseDigest(%q): non-zero digest with an error", s)
			}
			return
		}
		// Strict: only the canonical text is accepted, so it round-trips
		// exactly.
		if got := d.String(); got != s {
			t.Fatalf("ParseDigest(%q).String() = %q", s, got)
		}
	})
}

func BenchmarkSum(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		data := testData(1, size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				Sum(data)
			}
			reportGBs(b, int64(size))
		})
	}
}

func BenchmarkHasher1MiBWrites(b *testing.B) {
	data := testData(1, 1<<20)
	h := NewHasher()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h.Write(data)
	}
	h.Sum()
	reportGBs(b, int64(len(data)))
}

// BenchmarkSumParallel1GiB hashes a generated 1 GiB buffer cut into 64 KiB
// pieces (the default average chunk) on every core, as Put hashes chunks,
// and reports b3sum's throughput on the same bytes in a temporary file
// (page cache, all cores, hashing only) when b3sum is installed.
func BenchmarkSumParallel1GiB(b *testing.B) {
	const size, piece = 1 << 30, 64 << 10
	data := testData(3, size)
	b3 := 0.0
	if path, err := exec.LookPath("b3sum"); err == nil {
		b3 = b3sumGBs(b, path, data)
	}
	workers := runtime.GOMAXPROCS(0)
	sums := make([]Digest, size/piece)
	b.SetBytes(size)
	for b.Loop() {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(sums); i += workers {
					sums[i] = Sum(data[i*piece : (i+1)*piece])
				}
			})
		}
		wg.Wait()
	}
	reportGBs(b, size)
	if b3 > 0 { // after the loop: b.Loop's timer reset drops earlier metrics
		b.ReportMetric(b3, "b3sum-GB/s")
	}
}

// b3sumGBs writes data to a temporary file and returns the best throughput
// of three b3sum runs on it, after a warm-up run, in GB/s.
func b3sumGBs(b *testing.B, b3sum string, data []byte) float64 {
	path := filepath.Join(b.TempDir(), "data")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	var out []byte
	best := time.Duration(1 << 62)
	for i := range 4 {
		start := time.Now()
		var err error
		out, err = exec.Command(b3sum, "--no-names", path).Output()
		if err != nil {
			b.Fatalf("b3sum: %v", err)
		}
		if d := time.Since(start); i > 0 && d < best {
			best = d
		}
	}
	if got, want := "blake3:"+strings.TrimSpace(string(out)), Sum(data).String(); got != want {
		b.Fatalf("b3sum says %s, Sum says %s", got, want)
	}
	return float64(len(data)) / best.Seconds() / 1e9
}

// reportGBs reports the throughput of the measured loop in GB/s (10^9 bytes
// per second), beside the MB/s of SetBytes.
func reportGBs(b *testing.B, bytesPerOp int64) {
	if b.N > 0 && b.Elapsed() > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	}
}
