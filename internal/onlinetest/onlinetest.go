// Package onlinetest is the test suite that every online feature store
// passes: the memory store in features/online, the Badger store in
// features/online/badger and the Redis store in features/online/redis
// (against a real redis-server).
package onlinetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kilnml/kiln/features/online"
)

// Run runs the suite against fresh stores made by newStore, which is called
// once per subtest and must return an empty store; it registers its own
// cleanup with t (Run closes the store too; Close must tolerate that).
func Run(t *testing.T, newStore func(t *testing.T) online.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s online.Store)
	}{
		{"TypedRoundTrip", testTypedRoundTrip},
		{"NewerWins", testNewerWins},
		{"NewerWinsInOneWrite", testNewerWinsInOneWrite},
		{"Replay", testReplay},
		{"ConcurrentWriters", testConcurrentWriters},
		{"MaxAge", testMaxAge},
		{"NotFound", testNotFound},
		{"ReadInto", testReadInto},
		{"ManyKeys", testManyKeys},
		{"PartialFeatures", testPartialFeatures},
		{"ChangedFeatures", testChangedFeatures},
		{"BigValues", testBigValues},
		{"BadNames", testBadNames},
		{"BadRecords", testBadRecords},
		{"DeleteView", testDeleteView},
		{"ViewsAreSeparate", testViewsAreSeparate},
		{"Cancelled", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func key(id int) []byte { return online.EncodeKey(online.Int(int64(id))) }

func write(t *testing.T, s online.Store, view string, features []string, recs ...online.Record) {
	t.Helper()
	if err := s.Write(t.Context(), view, features, recs); err != nil {
		t.Fatalf("Write(%q, %d records): %v", view, len(recs), err)
	}
}

func read(t *testing.T, s online.Store, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time) [][]online.Result {
	t.Helper()
	out, err := s.Read(t.Context(), view, features, keys, maxAge, now)
	if err != nil {
		t.Fatalf("Read(%q, %d keys): %v", view, len(keys), err)
	}
	if len(out) != len(keys) {
		t.Fatalf("Read returned %d rows for %d keys", len(out), len(keys))
	}
	for i, row := range out {
		if len(row) != len(features) {
			t.Fatalf("Read row %d has %d results for %d features", i, len(row), len(features))
		}
	}
	return out
}

// check compares one result with the expected status, event time and value.
func check(t *testing.T, what string, got online.Result, status online.Status, et time.Time, v online.Value) {
	t.Helper()
	if got.Status != status {
		t.Errorf("%s: status %v, want %v", what, got.Status, status)
		return
	}
	if status == online.NotFound {
		if !got.EventTime.IsZero() || !got.Value.IsNull() {
			t.Errorf("%s: not found but event time %v, value %v", what, got.EventTime, got.Value)
		}
		return
	}
	if !got.EventTime.Equal(et) {
		t.Errorf("%s: event time %v, want %v", what, got.EventTime, et)
	}
	if status == online.Expired {
		if !got.Value.IsNull() {
			t.Errorf("%s: expired but value %v", what, got.Value)
		}
		return
	}
	if !got.Value.Equal(v) {
		t.Errorf("%s: value %v (%v), want %v (%v)", what, got.Value, got.Value.Kind(), v, v.Kind())
	}
}

func testTypedRoundTrip(t *testing.T, s online.Store) {
	vals := []online.Value{
		online.Null(),
		online.Int(0), online.Int(-1), online.Int(math.MaxInt64), online.Int(math.MinInt64),
		online.Float(0), online.Float(math.Copysign(0, -1)), online.Float(-1.5e300), online.Float(math.Inf(1)),
		online.Float(math.NaN()), online.Float(math.SmallestNonzeroFloat64),
		online.Bool(true), online.Bool(false),
		online.String(""), online.String("héllo, 世界"), online.String("nul\x00inside"),
		online.Bytes(nil), online.Bytes([]byte{0, 1, 2, 255}),
		online.Time(time.Date(2026, 3, 1, 12, 30, 15, 123456789, time.UTC)),
		online.Time(time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)),
		online.Time(time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", 3600))),
		online.Time(time.Unix(-1, 5)),
	}
	features := make([]string, len(vals))
	for i := range features {
		features[i] = fmt.Sprintf("f%02d", i)
	}
	et := time.Date(2026, 3, 1, 12, 0, 0, 987654321, time.FixedZone("y", -7200))
	keys := [][]byte{
		online.EncodeKey(online.Int(1)),
		online.EncodeKey(online.String("driver"), online.Int(7)),
		online.EncodeKey(online.Bytes([]byte{0, 0, 0})),
		online.EncodeKey(online.Time(t0), online.Bool(true), online.Float(2.5)),
	}
	var recs []online.Record
	for _, k := range keys {
		recs = append(recs, online.Record{Key: k, EventTime: et, Values: vals})
	}
	write(t, s, "types", features, recs...)
	out := read(t, s, "types", features, keys, 0, time.Now())
	for i := range keys {
		for j, v := range vals {
			check(t, fmt.Sprintf("key %d %s", i, features[j]), out[i][j], online.Present, et, v)
		}
	}
	// Times come back in UTC.
	tv, ok := out[0][18].Value.AsTime()
	if !ok || tv.Location() != time.UTC {
		t.Errorf("time value %v (ok %v): want UTC", tv, ok)
	}
	if out[0][0].EventTime.Location() != time.UTC {
		t.Errorf("event time %v: want UTC", out[0][0].EventTime)
	}
}

func testNewerWins(t *testing.T, s online.Store) {
	f := []string{"x"}
	k := [][]byte{key(1)}
	rec := func(et time.Time, v int64) online.Record {
		return online.Record{Key: k[0], EventTime: et, Values: []online.Value{online.Int(v)}}
	}
	steps := []struct {
		et       time.Time
		v        int64
		wantTime time.Time
		want     int64
	}{
		{t0, 1, t0, 1},
		{t0.Add(-time.Nanosecond), 2, t0, 1},         // older by 1 ns: ignored
		{t0.Add(time.Hour), 3, t0.Add(time.Hour), 3}, // newer: replaces
		{t0, 4, t0.Add(time.Hour), 3},                // older: ignored
		{t0.Add(time.Hour), 5, t0.Add(time.Hour), 5}, // same time: replaces
		{t0.Add(-100 * 365 * 24 * time.Hour), 6, t0.Add(time.Hour), 5},
		{t0.Add(time.Hour + time.Nanosecond), 7, t0.Add(time.Hour + time.Nanosecond), 7},
	}
	for i, st := range steps {
		write(t, s, "v", f, rec(st.et, st.v))
		out := read(t, s, "v", f, k, 0, t0)
		check(t, fmt.Sprintf("step %d", i), out[0][0], online.Present, st.wantTime, online.Int(st.want))
	}
}

func testNewerWinsInOneWrite(t *testing.T, s online.Store) {
	f := []string{"x"}
	k := key(1)
	var recs []online.Record
	for _, h := range []int{3, 1, 5, 2, 4} {
		recs = append(recs, online.Record{Key: k, EventTime: t0.Add(time.Duration(h) * time.Hour), Values: []online.Value{online.Int(int64(h))}})
	}
	write(t, s, "v", f, recs...)
	out := read(t, s, "v", f, [][]byte{k}, 0, t0)
	check(t, "batch", out[0][0], online.Present, t0.Add(5*time.Hour), online.Int(5))
}

func testReplay(t *testing.T, s online.Store) {
	f := []string{"a", "b"}
	const n = 50
	batch := func(hour int) []online.Record {
		recs := make([]online.Record, n)
		for i := range recs {
			recs[i] = online.Record{Key: key(i), EventTime: t0.Add(time.Duration(hour) * time.Hour),
				Values: []online.Value{online.Int(int64(hour*1000 + i)), online.String(fmt.Sprint("h", hour))}}
		}
		return recs
	}
	for _, h := range []int{1, 3, 2, 3, 1, 0} { // a replay of hours 1..3 after 3 was written
		write(t, s, "v", f, batch(h)...)
	}
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = key(i)
	}
	out := read(t, s, "v", f, keys, 0, t0)
	for i := range n {
		check(t, fmt.Sprint("key ", i, " a"), out[i][0], online.Present, t0.Add(3*time.Hour), online.Int(int64(3000+i)))
		check(t, fmt.Sprint("key ", i, " b"), out[i][1], online.Present, t0.Add(3*time.Hour), online.String("h3"))
	}
}

func testConcurrentWriters(t *testing.T, s online.Store) {
	const (
		writers = 8
		keys    = 10
		writes  = 40
	)
	f := []string{"v", "writer"}
	// Event times are distinct across all writes: writer w's write i of
	// key k has a time derived from a permutation.
	r := rand.New(rand.NewPCG(1, 2))
	perm := r.Perm(writers * writes * keys)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range writes {
				recs := make([]online.Record, keys)
				for k := range keys {
					p := perm[(w*writes+i)*keys+k]
					recs[k] = online.Record{Key: key(k), EventTime: t0.Add(time.Duration(p) * time.Second),
						Values: []online.Value{online.Int(int64(p)), online.Int(int64(w))}}
				}
				if err := s.Write(context.Background(), "v", f, recs); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ks := make([][]byte, keys)
	for k := range ks {
		ks[k] = key(k)
	}
	out := read(t, s, "v", f, ks, 0, t0)
	for k := range keys {
		best, bestW := -1, -1
		for w := range writers {
			for i := range writes {
				if p := perm[(w*writes+i)*keys+k]; p > best {
					best, bestW = p, w
				}
			}
		}
		et := t0.Add(time.Duration(best) * time.Second)
		check(t, fmt.Sprint("key ", k), out[k][0], online.Present, et, online.Int(int64(best)))
		check(t, fmt.Sprint("key ", k, " writer"), out[k][1], online.Present, et, online.Int(int64(bestW)))
	}
}

func testMaxAge(t *testing.T, s online.Store) {
	f := []string{"x", "y"}
	write(t, s, "v", f,
		online.Record{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1), online.Null()}},
		online.Record{Key: key(2), EventTime: t0.Add(-time.Hour), Values: []online.Value{online.Int(2), online.Float(2)}},
	)
	ks := [][]byte{key(1), key(2), key(3)}
	now := t0.Add(30 * time.Minute)
	// No max age: everything present.
	out := read(t, s, "v", f, ks, 0, now)
	check(t, "no max age, key 1", out[0][0], online.Present, t0, online.Int(1))
	check(t, "no max age, key 1 null", out[0][1], online.Present, t0, online.Null())
	check(t, "no max age, key 2", out[1][1], online.Present, t0.Add(-time.Hour), online.Float(2))
	check(t, "no max age, key 3", out[2][0], online.NotFound, time.Time{}, online.Null())
	// 1 h: key 2 is 90 minutes old.
	out = read(t, s, "v", f, ks, time.Hour, now)
	check(t, "1h, key 1", out[0][0], online.Present, t0, online.Int(1))
	check(t, "1h, key 2 x", out[1][0], online.Expired, t0.Add(-time.Hour), online.Null())
	check(t, "1h, key 2 y", out[1][1], online.Expired, t0.Add(-time.Hour), online.Null())
	check(t, "1h, key 3", out[2][1], online.NotFound, time.Time{}, online.Null())
	// Exactly max age old: still present; one nanosecond more: expired.
	out = read(t, s, "v", f, ks, 30*time.Minute, now)
	check(t, "edge, key 1", out[0][0], online.Present, t0, online.Int(1))
	out = read(t, s, "v", f, ks, 30*time.Minute-time.Nanosecond, now)
	check(t, "edge-1ns, key 1", out[0][0], online.Expired, t0, online.Null())
}

func testNotFound(t *testing.T, s online.Store) {
	f := []string{"x"}
	out := read(t, s, "never_written", f, [][]byte{key(1)}, 0, t0)
	check(t, "unknown view", out[0][0], online.NotFound, time.Time{}, online.Null())
	write(t, s, "v", f, online.Record{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1)}})
	out = read(t, s, "v", []string{"x", "nope"}, [][]byte{key(2), key(1), key(1)}, 0, t0)
	check(t, "unknown key", out[0][0], online.NotFound, time.Time{}, online.Null())
	check(t, "unknown feature", out[1][1], online.NotFound, time.Time{}, online.Null())
	check(t, "known", out[1][0], online.Present, t0, online.Int(1))
	check(t, "repeated key", out[2][0], online.Present, t0, online.Int(1))
	// A key that is a prefix of a stored key is another key.
	k1 := online.EncodeKey(online.String("ab"))
	write(t, s, "p", f, online.Record{Key: k1, EventTime: t0, Values: []online.Value{online.Int(1)}})
	out = read(t, s, "p", f, [][]byte{k1[:len(k1)-1], online.EncodeKey(online.String("a"), online.String("b"))}, 0, t0)
	check(t, "prefix key", out[0][0], online.NotFound, time.Time{}, online.Null())
	check(t, "split key", out[1][0], online.NotFound, time.Time{}, online.Null())
	// No keys: no rows.
	out = read(t, s, "v", f, nil, 0, t0)
	if len(out) != 0 {
		t.Errorf("read of no keys: %d rows", len(out))
	}
}

// testReadInto reuses one result buffer across reads: every result of the
// second read is its own, none left over from the first.
func testReadInto(t *testing.T, s online.Store) {
	ctx := t.Context()
	f := []string{"x", "y"}
	write(t, s, "v", f,
		online.Record{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1), online.String("one")}},
		online.Record{Key: key(2), EventTime: t0.Add(-time.Hour), Values: []online.Value{online.Int(2), online.String("two")}},
		online.Record{Key: key(3), EventTime: t0, Values: []online.Value{online.Int(3), online.String("three")}})
	out := online.NewResults(3, len(f))
	// Many keys take the batched path, one key the single-key path.
	if err := s.ReadInto(ctx, "v", f, [][]byte{key(1), key(2), key(3)}, 0, t0, out); err != nil {
		t.Fatal(err)
	}
	check(t, "first read", out[2][1], online.Present, t0, online.String("three"))
	if err := s.ReadInto(ctx, "v", f, [][]byte{key(9), key(2), key(1)}, 30*time.Minute, t0, out); err != nil {
		t.Fatal(err)
	}
	check(t, "missing key over a present result", out[0][0], online.NotFound, time.Time{}, online.Null())
	check(t, "expired over a present result", out[1][1], online.Expired, t0.Add(-time.Hour), online.Null())
	check(t, "present", out[2][1], online.Present, t0, online.String("one"))
	one := out[:1]
	if err := s.ReadInto(ctx, "v", f, [][]byte{key(7)}, 0, t0, one); err != nil {
		t.Fatal(err)
	}
	check(t, "one missing key", one[0][0], online.NotFound, time.Time{}, online.Null())
	if err := s.ReadInto(ctx, "never_written", f, [][]byte{key(1)}, 0, t0, one); err != nil {
		t.Fatal(err)
	}
	check(t, "unknown view", one[0][1], online.NotFound, time.Time{}, online.Null())
	// Results that do not match the keys or the features are refused.
	if err := s.ReadInto(ctx, "v", f, [][]byte{key(1), key(2)}, 0, t0, one); !errors.Is(err, online.ErrShape) {
		t.Errorf("two keys into one row: %v, want ErrShape", err)
	}
	if err := s.ReadInto(ctx, "v", []string{"x"}, [][]byte{key(1)}, 0, t0, one); !errors.Is(err, online.ErrShape) {
		t.Errorf("one feature into rows of two: %v, want ErrShape", err)
	}
}

func testManyKeys(t *testing.T, s online.Store) {
	const n = 5000
	f := []string{"id", "name", "score"}
	recs := make([]online.Record, n)
	for i := range recs {
		recs[i] = online.Record{Key: online.EncodeKey(online.String(fmt.Sprint("entity-", i))), EventTime: t0.Add(time.Duration(i) * time.Millisecond),
			Values: []online.Value{online.Int(int64(i)), online.String(strings.Repeat("n", i%37)), online.Float(float64(i) / 7)}}
	}
	write(t, s, "many", f, recs...)
	keys := make([][]byte, 0, n+n/10)
	for i := n - 1; i >= 0; i-- {
		keys = append(keys, online.EncodeKey(online.String(fmt.Sprint("entity-", i))))
		if i%10 == 0 {
			keys = append(keys, online.EncodeKey(online.String(fmt.Sprint("missing-", i))))
		}
	}
	out := read(t, s, "many", f, keys, 0, t0)
	row := 0
	for i := n - 1; i >= 0; i-- {
		et := t0.Add(time.Duration(i) * time.Millisecond)
		check(t, fmt.Sprint("entity ", i, " id"), out[row][0], online.Present, et, online.Int(int64(i)))
		check(t, fmt.Sprint("entity ", i, " name"), out[row][1], online.Present, et, online.String(strings.Repeat("n", i%37)))
		check(t, fmt.Sprint("entity ", i, " score"), out[row][2], online.Present, et, online.Float(float64(i)/7))
		row++
		if i%10 == 0 {
			check(t, fmt.Sprint("missing ", i), out[row][2], online.NotFound, time.Time{}, online.Null())
			row++
		}
		if t.Failed() {
			return
		}
	}
}

func testPartialFeatures(t *testing.T, s online.Store) {
	f := make([]string, 60)
	vals := make([]online.Value, len(f))
	for i := range f {
		f[i] = fmt.Sprint("feature_", i)
		vals[i] = online.Int(int64(i * i))
	}
	write(t, s, "v", f, online.Record{Key: key(1), EventTime: t0, Values: vals})
	subsets := [][]int{{0}, {59}, {59, 0}, {3, 1, 4, 15, 9, 26, 5, 35}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}}
	for _, sub := range subsets {
		names := make([]string, len(sub))
		for i, j := range sub {
			names[i] = f[j]
		}
		out := read(t, s, "v", names, [][]byte{key(1)}, 0, t0)
		for i, j := range sub {
			check(t, fmt.Sprint("subset ", sub, " ", names[i]), out[0][i], online.Present, t0, vals[j])
		}
	}
}

func testChangedFeatures(t *testing.T, s online.Store) {
	write(t, s, "v", []string{"a", "b", "c"}, online.Record{Key: key(1), EventTime: t0,
		Values: []online.Value{online.Int(1), online.Int(2), online.Int(3)}})
	// A newer record with other features replaces the record as a whole.
	write(t, s, "v", []string{"c", "d"}, online.Record{Key: key(1), EventTime: t0.Add(time.Second),
		Values: []online.Value{online.String("c2"), online.String("d2")}})
	out := read(t, s, "v", []string{"a", "b", "c", "d"}, [][]byte{key(1)}, 0, t0)
	et := t0.Add(time.Second)
	check(t, "a", out[0][0], online.NotFound, time.Time{}, online.Null())
	check(t, "b", out[0][1], online.NotFound, time.Time{}, online.Null())
	check(t, "c", out[0][2], online.Present, et, online.String("c2"))
	check(t, "d", out[0][3], online.Present, et, online.String("d2"))
}

func testBigValues(t *testing.T, s online.Store) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	big[12345] = 0
	long := strings.Repeat("é", 50_000)
	f := []string{"blob", "text", strings.Repeat("n", online.MaxFeatureNameLen)}
	vals := []online.Value{online.Bytes(big), online.String(long), online.Int(42)}
	write(t, s, "big", f, online.Record{Key: key(1), EventTime: t0, Values: vals},
		online.Record{Key: online.EncodeKey(online.Bytes(big[:4096])), EventTime: t0, Values: vals})
	out := read(t, s, "big", f, [][]byte{key(1), online.EncodeKey(online.Bytes(big[:4096]))}, 0, t0)
	for i := range 2 {
		for j := range f {
			check(t, fmt.Sprint("row ", i, " feature ", j), out[i][j], online.Present, t0, vals[j])
		}
	}
	if b, _ := out[0][0].Value.AsBytes(); !bytes.Equal(b, big) {
		t.Errorf("blob differs")
	}
}

func testBadNames(t *testing.T, s online.Store) {
	ctx := t.Context()
	rec := []online.Record{{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1)}}}
	for _, view := range []string{"", "a b", "a/b", "-a", ".a", "a\x00b", "é", strings.Repeat("v", online.MaxViewNameLen+1), "a*", "{tag}"} {
		if err := s.Write(ctx, view, []string{"x"}, rec); !errors.Is(err, online.ErrInvalidName) {
			t.Errorf("Write(view %q): %v, want ErrInvalidName", view, err)
		}
		if _, err := s.Read(ctx, view, []string{"x"}, [][]byte{key(1)}, 0, t0); !errors.Is(err, online.ErrInvalidName) {
			t.Errorf("Read(view %q): %v, want ErrInvalidName", view, err)
		}
		if err := s.DeleteView(ctx, view); !errors.Is(err, online.ErrInvalidName) {
			t.Errorf("DeleteView(%q): %v, want ErrInvalidName", view, err)
		}
	}
	for _, view := range []string{"a", "driver_stats", "Driver-Stats.v2:hourly", strings.Repeat("v", online.MaxViewNameLen)} {
		if err := s.Write(ctx, view, []string{"x"}, rec); err != nil {
			t.Errorf("Write(view %q): %v", view, err)
		}
	}
	for _, fs := range [][]string{nil, {""}, {"x", "x"}, {"a", "b", "c", "d", "e", "f", "g", "h", "i", "a"}, {strings.Repeat("n", online.MaxFeatureNameLen+1)}} {
		vals := make([]online.Value, len(fs))
		r := []online.Record{{Key: key(1), EventTime: t0, Values: vals}}
		if err := s.Write(ctx, "v", fs, r); !errors.Is(err, online.ErrInvalidName) {
			t.Errorf("Write(features %q): %v, want ErrInvalidName", fs, err)
		}
		if _, err := s.Read(ctx, "v", fs, [][]byte{key(1)}, 0, t0); !errors.Is(err, online.ErrInvalidName) {
			t.Errorf("Read(features %q): %v, want ErrInvalidName", fs, err)
		}
	}
}

func testBadRecords(t *testing.T, s online.Store) {
	ctx := t.Context()
	f := []string{"x", "y"}
	good := online.Record{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1), online.Int(2)}}
	bad := []online.Record{
		{Key: nil, EventTime: t0, Values: good.Values},
		{Key: key(2), Values: good.Values},
		{Key: key(2), EventTime: t0, Values: good.Values[:1]},
		{Key: key(2), EventTime: t0, Values: append(good.Values, online.Int(3))},
	}
	for i, b := range bad {
		if err := s.Write(ctx, "v", f, []online.Record{good, b}); !errors.Is(err, online.ErrInvalidRecord) {
			t.Errorf("bad record %d: %v, want ErrInvalidRecord", i, err)
		}
	}
	// Nothing of a rejected write was stored.
	out := read(t, s, "v", f, [][]byte{key(1)}, 0, t0)
	check(t, "after rejected writes", out[0][0], online.NotFound, time.Time{}, online.Null())
	// An empty write is fine.
	write(t, s, "v", f)
}

func testDeleteView(t *testing.T, s online.Store) {
	f := []string{"x"}
	var recs []online.Record
	for i := range 300 {
		recs = append(recs, online.Record{Key: key(i), EventTime: t0, Values: []online.Value{online.Int(int64(i))}})
	}
	write(t, s, "gone", f, recs...)
	write(t, s, "kept", f, recs...)
	write(t, s, "gone2", f, recs[:1]...) // a view whose name extends the deleted one's
	if err := s.DeleteView(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteView(t.Context(), "never_written"); err != nil {
		t.Errorf("DeleteView of an unknown view: %v", err)
	}
	keys := [][]byte{key(0), key(299)}
	out := read(t, s, "gone", f, keys, 0, t0)
	check(t, "deleted", out[0][0], online.NotFound, time.Time{}, online.Null())
	check(t, "deleted", out[1][0], online.NotFound, time.Time{}, online.Null())
	out = read(t, s, "kept", f, keys, 0, t0)
	check(t, "kept", out[1][0], online.Present, t0, online.Int(299))
	out = read(t, s, "gone2", f, keys, 0, t0)
	check(t, "gone2", out[0][0], online.Present, t0, online.Int(0))
	// The view can be written again, with older times than before.
	write(t, s, "gone", f, online.Record{Key: key(0), EventTime: t0.Add(-time.Hour), Values: []online.Value{online.Int(-1)}})
	out = read(t, s, "gone", f, keys, 0, t0)
	check(t, "rewritten", out[0][0], online.Present, t0.Add(-time.Hour), online.Int(-1))
}

func testViewsAreSeparate(t *testing.T, s online.Store) {
	write(t, s, "a", []string{"x"}, online.Record{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1)}})
	write(t, s, "b", []string{"x"}, online.Record{Key: key(1), EventTime: t0.Add(-time.Hour), Values: []online.Value{online.Int(2)}})
	out := read(t, s, "a", []string{"x"}, [][]byte{key(1)}, 0, t0)
	check(t, "a", out[0][0], online.Present, t0, online.Int(1))
	out = read(t, s, "b", []string{"x"}, [][]byte{key(1)}, 0, t0)
	check(t, "b", out[0][0], online.Present, t0.Add(-time.Hour), online.Int(2))
}

func testCancelled(t *testing.T, s online.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := []online.Record{{Key: key(1), EventTime: t0, Values: []online.Value{online.Int(1)}}}
	if err := s.Write(ctx, "v", []string{"x"}, rec); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context: %v", err)
	}
	if _, err := s.Read(ctx, "v", []string{"x"}, [][]byte{key(1)}, 0, t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: %v", err)
	}
}

// BenchRecords returns n records of nfeat float features (named
// feature_00...) with integer keys 0..n-1 and event times within the last
// minute, for benchmarks.
func BenchRecords(n, nfeat int) ([]string, []online.Record) {
	features := make([]string, nfeat)
	for j := range features {
		features[j] = fmt.Sprintf("feature_%02d", j)
	}
	r := rand.New(rand.NewPCG(uint64(n), uint64(nfeat)))
	now := time.Now()
	recs := make([]online.Record, n)
	for i := range recs {
		vals := make([]online.Value, nfeat)
		for j := range vals {
			vals[j] = online.Float(r.NormFloat64())
		}
		recs[i] = online.Record{Key: key(i), EventTime: now.Add(-time.Duration(r.IntN(60)) * time.Second), Values: vals}
	}
	return features, recs
}
