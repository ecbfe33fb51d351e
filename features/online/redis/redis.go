// Package redisstore is the shared online feature store: an [online.Store]
// in Redis, through a github.com/redis/go-redis/v9 UniversalClient
// (standalone, Sentinel or Cluster).
//
// Layout: one Redis string per view and entity, named Options.Prefix, the
// view name, a zero byte and the encoded entity key, holding the record in
// online's codec (event time first, then the features with their names).
// Reading one entity is one GET, a single round trip returning all its
// features at once; reading many is one MGET (on a Cluster, a pipeline of
// GETs: one round trip per node). This was measured faster than a HASH per
// entity with a field per view (HGET, pipelined HGETs for many entities) and
// than a field per feature (HMGET): the server parses one command and sends
// one value per entity, and the client decodes all features in one pass
// (go run ./internal/bench online).
//
// Writes run a small Lua script per record, pipelined, that compares the
// stored record's event time with the new one and keeps the newer (an equal
// time replaces): a replay or a slow writer never overwrites newer values.
// Every script call touches a single key, so the layout works unchanged on
// Redis Cluster.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kilnml/kiln/features/online"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is the prefix of the store's Redis keys when Options.Prefix
// is empty.
const DefaultPrefix = "kiln:"

// Options configures a Store. The zero value is valid.
type Options struct {
	// Prefix starts the name of every Redis key of the store; empty means
	// DefaultPrefix. Stores with different prefixes share a server without
	// seeing each other's data.
	Prefix string
	// KeepClientOpen leaves the client open when the store is closed, for a
	// client shared with other code. By default Close closes it.
	KeepClientOpen bool
	// BatchSize bounds the commands sent in one pipeline; 0 means 1000.
	BatchSize int
}

// Store is an online store in Redis. Its methods are safe for concurrent
// use.
type Store struct {
	client redis.UniversalClient
	prefix string
	keep   bool
	batch  int
	closed atomic.Bool
}

var _ online.Store = (*Store)(nil)

// newerWins stores ARGV[1] in KEYS[1] unless it holds a record with a later
// event time (the first 12 bytes of a record,
// compared byte by byte: Lua's string comparison follows the server's
// locale). It returns 1 when it wrote.
var newerWins = redis.NewScript(`
local old = redis.call('GET', KEYS[1])
if old and #old >= 12 then
  local new = ARGV[1]
  for i = 1, 12 do
    local a, b = string.byte(new, i), string.byte(old, i)
    if a ~= b then
      if a < b then return 0 end
      break
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// New returns a store on client, which it owns unless
// Options.KeepClientOpen is set.
func New(client redis.UniversalClient, opts Options) *Store {
	s := &Store{client: client, prefix: opts.Prefix, keep: opts.KeepClientOpen, batch: opts.BatchSize}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.batch <= 0 {
		s.batch = 1000
	}
	return s
}

// Open connects to Redis with ro (see redis.NewUniversalClient: one address
// for a standalone server, MasterName for Sentinel, several addresses for a
// Cluster), checks the connection with PING and returns a store that owns
// the client.
func Open(ctx context.Context, ro *redis.UniversalOptions, opts Options) (*Store, error) {
	c := redis.NewUniversalClient(ro)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisstore: connect to %v: %w", ro.Addrs, err)
	}
	opts.KeepClientOpen = false
	return New(c, opts), nil
}

// viewPrefix returns the start of the names of view's keys.
func (s *Store) viewPrefix(view string) string { return s.prefix + view + "\x00" }

// key returns the name of the key of entity k in the view of viewPrefix vp.
func key(vp string, k []byte) string { return vp + string(k) }

// Write implements [online.Store.Write].
func (s *Store) Write(ctx context.Context, view string, features []string, recs []online.Record) error {
	if err := online.CheckWrite(view, features, recs); err != nil {
		return err
	}
	if s.closed.Load() {
		return online.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	vp := s.viewPrefix(view)
	for len(recs) > 0 {
		n := min(len(recs), s.batch)
		if err := s.writeBatch(ctx, vp, features, recs[:n]); err != nil {
			return fmt.Errorf("redisstore: write %q: %w", view, err)
		}
		recs = recs[n:]
	}
	return nil
}

func (s *Store) writeBatch(ctx context.Context, vp string, features []string, recs []online.Record) error {
	vals := make([][]byte, len(recs))
	for i, r := range recs {
		vals[i] = online.AppendRecord(make([]byte, 0, online.RecordSize(features, r.Values)), r.EventTime, features, r.Values)
	}
	for attempt := 0; ; attempt++ {
		pipe := s.client.Pipeline()
		cmds := make([]*redis.Cmd, len(recs))
		for i, r := range recs {
			cmds[i] = newerWins.EvalSha(ctx, pipe, []string{key(vp, r.Key)}, vals[i])
		}
		_, err := pipe.Exec(ctx)
		if err == nil {
			return nil
		}
		noScript := false
		for _, c := range cmds {
			if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				noScript = true
				break
			}
		}
		if !noScript || attempt > 0 {
			return err
		}
		// The server does not know the script yet (first write, or a
		// restarted or failed-over server): load it and run the batch
		// again, which is safe: a record written by the first attempt is
		// replaced by itself.
		if err := newerWins.Load(ctx, s.client).Err(); err != nil {
			return fmt.Errorf("load script: %w", err)
		}
	}
}

// Read implements [online.Store.Read].
func (s *Store) Read(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time) ([][]online.Result, error) {
	out := online.NewResults(len(keys), len(features))
	if err := s.ReadInto(ctx, view, features, keys, maxAge, now, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadInto implements [online.Store.ReadInto].
func (s *Store) ReadInto(ctx context.Context, view string, features []string, keys [][]byte, maxAge time.Duration, now time.Time, out [][]online.Result) error {
	if err := online.CheckReadInto(view, features, keys, out); err != nil {
		return err
	}
	if s.closed.Load() {
		return online.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d := online.NewDecoder(features)
	vp := s.viewPrefix(view)
	if len(keys) == 1 {
		rec, err := s.client.Get(ctx, key(vp, keys[0])).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("redisstore: read %q: %w", view, err)
		}
		if err := d.Decode(rec, maxAge, now, out[0]); err != nil {
			return fmt.Errorf("redisstore: read %q: %w", view, err)
		}
		return nil
	}
	_, cluster := s.client.(*redis.ClusterClient)
	names := make([]string, 0, min(len(keys), s.batch))
	for start := 0; start < len(keys); start += s.batch {
		end := min(len(keys), start+s.batch)
		names = names[:0]
		for _, k := range keys[start:end] {
			names = append(names, key(vp, k))
		}
		if err := s.fetch(ctx, names, cluster, func(i int, rec string) error {
			return d.Decode(rec, maxAge, now, out[start+i])
		}); err != nil {
			return fmt.Errorf("redisstore: read %q: %w", view, err)
		}
	}
	return nil
}

// fetch gets the values of keys in one round trip (MGET, or pipelined GETs
// on a Cluster, whose MGET needs all keys in one slot) and calls fn with the
// index and value of each key that exists.
func (s *Store) fetch(ctx context.Context, keys []string, cluster bool, fn func(i int, rec string) error) error {
	if !cluster {
		vals, err := s.client.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		if len(vals) != len(keys) {
			return fmt.Errorf("MGET of %d keys returned %d values", len(keys), len(vals))
		}
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
			case string:
				if err := fn(i, v); err != nil {
					return err
				}
			default:
				return fmt.Errorf("MGET returned a %T", v)
			}
		}
		return nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for i, c := range cmds {
		rec, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(i, rec); err != nil {
			return err
		}
	}
	return nil
}

// DeleteView implements [online.Store.DeleteView]: it scans the view's keys
// (on every master of a Cluster) and unlinks them. It
// is not atomic: records written while it runs may survive.
func (s *Store) DeleteView(ctx context.Context, view string) error {
	if err := online.ValidViewName(view); err != nil {
		return err
	}
	if s.closed.Load() {
		return online.ErrClosed
	}
	var err error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return s.deleteOn(ctx, n, view)
		})
	default:
		err = s.deleteOn(ctx, s.client, view)
	}
	if err != nil {
		return fmt.Errorf("redisstore: delete view %q: %w", view, err)
	}
	return nil
}

// deleteOn removes view's keys on one node.
func (s *Store) deleteOn(ctx context.Context, c redis.Cmdable, view string) error {
	match := globEscape(s.viewPrefix(view)) + "*"
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			pipe := c.Pipeline()
			for _, k := range keys {
				pipe.Unlink(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// globEscape escapes the characters special to Redis' glob patterns.
func globEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Close closes the client, unless Options.KeepClientOpen was set. Calling
// it again does nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) || s.keep {
		return nil
	}
	return s.client.Close()
}
