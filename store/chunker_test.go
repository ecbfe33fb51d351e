package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// testData returns n pseudo-random bytes from splitmix64 seeded with seed:
// the same bytes on every platform and Go version, so golden values hold.
func testData(seed uint64, n int) []byte {
	b := make([]byte, n+7)
	s := seed
	for i := 0; i < n; i += 8 {
		var v uint64
		v, s = splitmix64(s)
		binary.LittleEndian.PutUint64(b[i:], v)
	}
	return b[:n:n]
}

// chunkAll reads every chunk of r, copying each.
func chunkAll(t testing.TB, r io.Reader, p ChunkerParams) [][]byte {
	t.Helper()
	c := NewChunker(r, p)
	var chunks [][]byte
	for {
		ch, err := c.Next()
		if err == io.EOF {
			if ch != nil {
				t.Fatalf("Next returned %d bytes with io.EOF", len(ch))
			}
			return chunks
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if len(ch) == 0 {
			t.Fatal("Next returned an empty chunk")
		}
		chunks = append(chunks, bytes.Clone(ch))
	}
}

// checkChunks checks that chunks concatenate to data, that all but the last
// are within [Min, Max] and the last within [1, Max], and that they agree
// with Boundaries.
func checkChunks(t *testing.T, chunks [][]byte, data []byte, p ChunkerParams) {
	t.Helper()
	if got := bytes.Join(chunks, nil); !bytes.Equal(got, data) {
		t.Fatalf("concatenated chunks (%d bytes) differ from the input (%d bytes)", len(got), len(data))
	}
	var ends []int
	off := 0
	for i, ch := range chunks {
		if len(ch) > p.Max || (i < len(chunks)-1 && len(ch) < p.Min) {
			t.Errorf("chunk %d of %d has %d bytes, outside [%d, %d]", i, len(chunks), len(ch), p.Min, p.Max)
		}
		off += len(ch)
		ends = append(ends, off)
	}
	if diff := cmp.Diff(ends, Boundaries(data, p)); diff != "" {
		t.Errorf("Chunker and Boundaries disagree (-chunker +boundaries):\n%s", diff)
	}
}

func TestGearTablePinned(t *testing.T) {
	// The gear table is part of the chunk format: these values must never
	// change, or existing repositories stop deduplicating against new data.
	want := map[int]uint64{
		0:   0x142e3acb5911271c,
		1:   0x1af70134848f7e15,
		2:   0xf941da39bffb144d,
		127: 0x1fca0cfbb419e9b3,
		255: 0x7e10aacca5616a25,
	}
	for i, v := range want {
		if gear[i] != v {
			t.Errorf("gear[%d] = %#x, want %#x", i, gear[i], v)
		}
	}
	seen := map[uint64]bool{}
	for _, v := range gear {
		seen[v] = true
	}
	if len(seen) != 256 {
		t.Errorf("gear table has %d distinct values, want 256", len(seen))
	}
	if _, next := splitmix64(0); next != 0x9e3779b97f4a7c15 {
		t.Errorf("splitmix64 state step = %#x", next)
	}
	// splitmix64 reference: the first output from seed 0 is
	// 0xe220a8397b1dcdaf (Vigna's splitmix64.c).
	if v, _ := splitmix64(0); v != 0xe220a8397b1dcdaf {
		t.Errorf("splitmix64(0) = %#x, want 0xe220a8397b1dcdaf", v)
	}
}

func TestChunkerGoldenCuts(t *testing.T) {
	// Cut points of a fixed 4 MiB input with the default parameters. They
	// pin the chunk format (gear table, masks, cut rule): a change here
	// breaks deduplication against every existing repository.
	want := []int{
		84444, 163823, 268523, 343479, 421421, 458363, 529057, 630578,
		709825, 783804, 860970, 900338, 977312, 1045506, 1111438, 1145912,
		1221437, 1296972, 1451953, 1527989, 1601029, 1667540, 1688999, 1755606,
		1837761, 1925783, 1996059, 2022563, 2088318, 2124175, 2239483, 2303977,
		2376717, 2467540, 2542443, 2678615, 2752633, 2836030, 2866031, 2946793,
		2994858, 3074752, 3102023, 3129330, 3213310, 3280811, 3358005, 3445984,
		3567284, 3644492, 3711209, 3803182, 3825379, 3914809, 3992452, 4062714,
		4135143, 4194304,
	}
	data := testData(42, 4<<20)
	if diff := cmp.Diff(want, Boundaries(data, DefaultChunkerParams)); diff != "" {
		t.Errorf("cut points changed (-want +got):\n%s", diff)
	}
	checkChunks(t, chunkAll(t, bytes.NewReader(data), DefaultChunkerParams), data, DefaultChunkerParams)
}

func TestChunkerEdgeSizes(t *testing.T) {
	p := DefaultChunkerParams
	data := testData(5, 3*p.Max+10)
	for _, n := range []int{0, 1, p.Min - 1, p.Min, p.Min + 1, p.Avg, p.Max - 1, p.Max, p.Max + 1, 2 * p.Max, 3*p.Max + 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			in := data[:n]
			chunks := chunkAll(t, bytes.NewReader(in), p)
			checkChunks(t, chunks, in, p)
			switch {
			case n == 0 && len(chunks) != 0:
				t.Errorf("empty input gave %d chunks", len(chunks))
			case n > 0 && n <= p.Min && len(chunks) != 1:
				t.Errorf("%d bytes gave %d chunks, want 1", n, len(chunks))
			case n > p.Max && len(chunks) < 2:
				t.Errorf("%d bytes gave %d chunks, want at least 2", n, len(chunks))
			}
		})
	}
}

func TestChunkerUniformInput(t *testing.T) {
	// Runs of one byte value have no content to cut on: every chunk is Max
	// bytes (or every one is cut at once after Min); either way within
	// bounds and deterministic.
	p := DefaultChunkerParams
	for _, v := range []byte{0, 0xff, 'a'} {
		data := bytes.Repeat([]byte{v}, 3*p.Max+5)
		chunks := chunkAll(t, bytes.NewReader(data), p)
		checkChunks(t, chunks, data, p)
	}
}

func TestChunkerReaders(t *testing.T) {
	// Short reads and readers that return data with io.EOF must not change
	// the cut points.
	p := ChunkerParams{Min: 1 << 10, Avg: 4 << 10, Max: 16 << 10}
	data := testData(9, 9<<20+333) // more than one 4 MiB block
	want := Boundaries(data, p)
	for name, r := range map[string]io.Reader{
		"plain":   bytes.NewReader(data),
		"half":    iotest.HalfReader(bytes.NewReader(data)),
		"dataErr": iotest.DataErrReader(bytes.NewReader(data)),
		"odd":     &oddReader{data: data},
	} {
		t.Run(name, func(t *testing.T) {
			chunks := chunkAll(t, r, p)
			checkChunks(t, chunks, data, p)
			if len(chunks) != len(want) {
				t.Errorf("%d chunks, want %d", len(chunks), len(want))
			}
		})
	}
}

// oddReader returns reads of varying small sizes, sometimes empty.
type oddReader struct {
	data []byte
	n    int
}

func (r *oddReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.n++
	k := min(len(p), len(r.data), (r.n*7919)%70000)
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

func TestChunkerReadError(t *testing.T) {
	boom := errors.New("boom")
	p := DefaultChunkerParams
	r := io.MultiReader(bytes.NewReader(testData(1, 1<<20)), iotest.ErrReader(boom))
	c := NewChunker(r, p)
	for range 2 {
		if _, err := c.Next(); !errors.Is(err, boom) {
			t.Fatalf("Next = %v, want the read error", err)
		}
	}
	// A reader that never makes progress.
	c = NewChunker(stuckReader{}, p)
	if _, err := c.Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Next on a stuck reader = %v, want io.ErrNoProgress", err)
	}
}

type stuckReader struct{}

func (stuckReader) Read([]byte) (int, error) { return 0, nil }

func TestChunkerDeterministic(t *testing.T) {
	data := testData(11, 8<<20)
	a := Boundaries(data, DefaultChunkerParams)
	b := Boundaries(bytes.Clone(data), DefaultChunkerParams)
	if !slices.Equal(a, b) {
		t.Fatal("two runs on the same data cut differently")
	}
}

// sharedFraction returns the fraction of the chunks of b whose content
// also is a chunk of a, and the chunks of b that are not.
func sharedFraction(a, b []byte, p ChunkerParams) (float64, []int) {
	have := map[Digest]bool{}
	off := 0
	for _, end := range Boundaries(a, p) {
		have[Sum(a[off:end])] = true
		off = end
	}
	var fresh []int // start offsets in b of chunks not in a
	shared, total := 0, 0
	off = 0
	for _, end := range Boundaries(b, p) {
		total++
		if have[Sum(b[off:end])] {
			shared++
		} else {
			fresh = append(fresh, off)
		}
		off = end
	}
	return float64(shared) / float64(total), fresh
}

func TestChunkerEditInMiddle(t *testing.T) {
	p := DefaultChunkerParams
	orig := testData(21, 16<<20)
	edited := bytes.Clone(orig)
	const at, n = 8<<20 + 12345, 4 << 10
	copy(edited[at:at+n], testData(22, n))
	frac, fresh := sharedFraction(orig, edited, p)
	if frac < 0.95 {
		t.Errorf("%.1f%% of chunks shared after a 4 KiB edit, want ≥ 95%%", 100*frac)
	}
	for _, off := range fresh {
		if off < at-p.Max || off > at+n+p.Max {
			t.Errorf("chunk at %d changed, far from the edit at [%d, %d)", off, at, at+n)
		}
	}
	t.Logf("edit: %.2f%% shared, %d new chunks", 100*frac, len(fresh))
}

func TestChunkerInsertionResyncs(t *testing.T) {
	p := DefaultChunkerParams
	orig := testData(31, 16<<20)
	const at, n = 100 << 10, 1 << 10
	ins := slices.Concat(orig[:at], testData(32, n), orig[at:])
	frac, fresh := sharedFraction(orig, ins, p)
	if frac < 0.95 {
		t.Errorf("%.1f%% of chunks shared after a 1 KiB insertion, want ≥ 95%%", 100*frac)
	}
	for _, off := range fresh {
		if off > at+n+2*p.Max {
			t.Errorf("chunk at %d changed, far after the insertion at %d", off, at)
		}
	}
	// Deleting the same bytes again resynchronises too.
	frac, _ = sharedFraction(ins, orig, p)
	if frac < 0.95 {
		t.Errorf("%.1f%% of chunks shared after a 1 KiB deletion, want ≥ 95%%", 100*frac)
	}
}

func TestChunkerAverageSize(t *testing.T) {
	for _, p := range []ChunkerParams{
		DefaultChunkerParams,
		{Min: 2 << 10, Avg: 8 << 10, Max: 32 << 10},
		{Min: 256, Avg: 1 << 10, Max: 8 << 10},
	} {
		data := testData(uint64(p.Avg), 256*p.Avg)
		cuts := Boundaries(data, p)
		avg := float64(len(data)) / float64(len(cuts))
		t.Logf("%v: %d chunks, average %.0f bytes (%.2f× Avg)", p, len(cuts), avg, avg/float64(p.Avg))
		if avg < 0.75*float64(p.Avg) || avg > 1.25*float64(p.Avg) {
			t.Errorf("%v: average chunk %.0f bytes, want within 25%% of %d", p, avg, p.Avg)
		}
	}
}

func TestChunkerParamsValidate(t *testing.T) {
	for _, p := range []ChunkerParams{
		DefaultChunkerParams,
		{Min: 64, Avg: 256, Max: 257},
		{Min: 1 << 20, Avg: 4 << 20, Max: 64 << 20},
	} {
		if err := p.Validate(); err != nil {
			t.Errorf("%v: Validate = %v, want nil", p, err)
		}
	}
	for _, p := range []ChunkerParams{
		{},
		{Min: 64 << 10, Avg: 64 << 10, Max: 256 << 10},    // min = avg
		{Min: 128 << 10, Avg: 64 << 10, Max: 256 << 10},   // min > avg
		{Min: 16 << 10, Avg: 256 << 10, Max: 256 << 10},   // avg = max
		{Min: 16 << 10, Avg: 64 << 10, Max: 32 << 10},     // avg > max
		{Min: 16 << 10, Avg: 48 << 10, Max: 256 << 10},    // avg not a power of two
		{Min: 16, Avg: 64 << 10, Max: 256 << 10},          // tiny min
		{Min: 64, Avg: 128, Max: 256 << 10},               // tiny avg
		{Min: -1, Avg: 64 << 10, Max: 256 << 10},          // negative
		{Min: 16 << 10, Avg: 64 << 10, Max: 128 << 20},    // huge max
		{Min: 16 << 10, Avg: 64 << 10, Max: -(256 << 10)}, // negative max
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%v: Validate = nil, want an error", p)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NewChunker with invalid params did not panic")
		}
	}()
	NewChunker(bytes.NewReader(nil), ChunkerParams{})
}

func BenchmarkChunker256MiB(b *testing.B) {
	data := testData(99, 256<<20)
	b.SetBytes(int64(len(data)))
	chunks := 0
	for b.Loop() {
		c := NewChunker(bytes.NewReader(data), DefaultChunkerParams)
		chunks = 0
		for {
			_, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			chunks++
		}
	}
	b.ReportMetric(float64(len(data))/float64(chunks), "B/chunk")
	reportGBs(b, int64(len(data)))
}

func BenchmarkBoundaries256MiB(b *testing.B) {
	data := testData(99, 256<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Boundaries(data, DefaultChunkerParams)
	}
	reportGBs(b, int64(len(data)))
}
