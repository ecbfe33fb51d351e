package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/kilnml/kiln/features/online"
	redisstore "github.com/kilnml/kiln/features/online/redis"
	"github.com/kilnml/kiln/internal/onlinetest"
	"github.com/kilnml/kiln/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	n := 0
	onlinetest.Run(t, func(t *testing.T) online.Store {
		n++
		// One server, a prefix per subtest.
		s, err := redisstore.Open(t.Context(), &redis.UniversalOptions{Addrs: []string{srv.Addr()}},
			redisstore.Options{Prefix: fmt.Sprintf("t%d:", n), BatchSize: 300})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestPrefixes checks that stores with different prefixes on one server do
// not see each other, and that DeleteView leaves the other prefix alone even
// when the prefix holds glob characters.
func TestPrefixes(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer c.Close()
	a := redisstore.New(c, redisstore.Options{Prefix: "a*", KeepClientOpen: true})
	b := redisstore.New(c, redisstore.Options{Prefix: "ab", KeepClientOpen: true})
	ctx := t.Context()
	et := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k := online.EncodeKey(online.Int(1))
	for i, s := range []*redisstore.Store{a, b} {
		if err := s.Write(ctx, "v", []string{"x"}, []online.Record{{Key: k, EventTime: et, Values: []online.Value{online.Int(int64(i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DeleteView(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	out, err := b.Read(ctx, "v", []string{"x"}, [][]byte{k}, 0, et)
	if err != nil {
		t.Fatal(err)
	}
	if out[0][0].Status != online.Present || !out[0][0].Value.Equal(online.Int(1)) {
		t.Errorf("prefix ab after deleting the view under a*: %+v", out[0][0])
	}
	out, err = a.Read(ctx, "v", []string{"x"}, [][]byte{k}, 0, et)
	if err != nil {
		t.Fatal(err)
	}
	if out[0][0].Status != online.NotFound {
		t.Errorf("prefix a* after DeleteView: %+v", out[0][0])
	}
	a.Close()
	b.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("client closed by a store with KeepClientOpen: %v", err)
	}
}

// TestScriptFlushed checks that writes survive a server that forgot the
// script (restart, failover).
func TestScriptFlushed(t *testing.T) {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	s := redisstore.New(c, redisstore.Options{})
	defer s.Close()
	ctx := t.Context()
	et := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		recs := []online.Record{{Key: online.EncodeKey(online.Int(1)), EventTime: et.Add(time.Duration(i) * time.Second), Values: []online.Value{online.Int(int64(i))}}}
		if err := s.Write(ctx, "v", []string{"x"}, recs); err != nil {
			t.Fatalf("write %d after SCRIPT FLUSH: %v", i, err)
		}
	}
	out, err := s.Read(ctx, "v", []string{"x"}, [][]byte{online.EncodeKey(online.Int(1))}, 0, et)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0][0].Value.Equal(online.Int(2)) {
		t.Errorf("got %+v, want 2", out[0][0])
	}
}

// TestServerKilled checks that reads and writes fail with an error, not a
// hang or a panic, once the server is gone.
func TestServerKilled(t *testing.T) {
	srv := redistest.Start(t)
	s, err := redisstore.Open(t.Context(), &redis.UniversalOptions{Addrs: []string{srv.Addr()}, MaxRetries: -1, DialTimeout: time.Second}, redisstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Kill()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	k := online.EncodeKey(online.Int(1))
	err = s.Write(ctx, "v", []string{"x"}, []online.Record{{Key: k, EventTime: time.Now(), Values: []online.Value{online.Int(1)}}})
	if err == nil {
		t.Error("Write to a killed server succeeded")
	}
	if _, err := s.Read(ctx, "v", []string{"x"}, [][]byte{k, k}, 0, time.Now()); err == nil {
		t.Error("Read from a killed server succeeded")
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("calls took until the deadline")
	}
}

func benchStore(b *testing.B, nkeys int) {
	srv := redistest.Start(b)
	s, err := redisstore.Open(b.Context(), &redis.UniversalOptions{Addrs: []string{srv.Addr()}}, redisstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	features, recs := onlinetest.BenchRecords(1000, 50)
	if err := s.Write(b.Context(), "v", features, recs); err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, nkeys)
	for i := range keys {
		keys[i] = recs[(i*7919)%len(recs)].Key
	}
	now := time.Now()
	for b.Loop() {
		if _, err := s.Read(b.Context(), "v", features, keys, time.Hour, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead1x50(b *testing.B)   { benchStore(b, 1) }
func BenchmarkRead100x50(b *testing.B) { benchStore(b, 100) }
