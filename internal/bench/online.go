package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
	redisstore "github.com/kilnml/kiln/features/online/redis"
	"github.com/kilnml/kiln/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// runOnline is the online suite: read latencies of the online stores, as
// the feature store's acceptance criteria state them. One entity × 50
// features from Badger (p99); one entity × 50 features from Redis through
// the store against a bare go-redis HMGET of 50 fields from a plain hash,
// alternating in the same run (the ratio of their p99s); 100 entities × 50
// features from Redis (p99). A redis-server from PATH is started on a
// loopback port in a temporary folder.
func runOnline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("online", flag.ContinueOnError)
	entities := fs.Int("entities", 10000, "`number` of entities written to each store")
	nfeat := fs.Int("features", 50, "`number` of features per entity")
	reads := fs.Int("reads", 20000, "timed single-entity `reads` per measure (after 2,000 warm-up reads)")
	batch := fs.Int("batch", 100, "entities per read of the multi-entity measure")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *entities < *batch || *nfeat < 1 || *reads < 100 {
		return fmt.Errorf("need -entities >= -batch, -features >= 1, -reads >= 100")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server not found on PATH (%s)", redistest.InstallCommand)
	}
	work, err := os.MkdirTemp("", "kiln-bench-online-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Printf("%d entities × %d float features, %d timed reads per measure, GOMAXPROCS %d, %d CPUs\n",
		*entities, *nfeat, *reads, runtime.GOMAXPROCS(0), runtime.NumCPU())

	features := make([]string, *nfeat)
	for j := range features {
		features[j] = fmt.Sprintf("feature_%02d", j)
	}
	r := rand.New(rand.NewPCG(7, 11))
	now := time.Now().UTC()
	keys := make([][]byte, *entities)
	recs := make([]online.Record, *entities)
	for i := range recs {
		keys[i] = online.EncodeKey(online.Int(int64(i)))
		vals := make([]online.Value, *nfeat)
		for j := range vals {
			vals[j] = online.Float(r.NormFloat64() * 100)
		}
		recs[i] = online.Record{Key: keys[i], EventTime: now.Add(-time.Duration(r.IntN(3600)) * time.Second), Values: vals}
	}
	const view = "bench_view"
	const maxAge = 24 * time.Hour
	pick := func() []byte { return keys[r.IntN(len(keys))] }
	check := func(out [][]online.Result) error {
		for _, row := range out {
			for _, res := range row {
				if res.Status != online.Present {
					return fmt.Errorf("read status %v, want present", res.Status)
				}
			}
		}
		return nil
	}

	// Badger, 1 × 50.
	bs, err := badgerstore.Open(work+"/badger", badgerstore.Options{})
	if err != nil {
		return err
	}
	defer bs.Close()
	if err := bs.Write(ctx, view, features, recs); err != nil {
		return err
	}
	// Reads reuse one result buffer, as FeatureStore.GetOnlineFeatures does
	// with its pool.
	one, many := online.NewResults(1, *nfeat), online.NewResults(*batch, *nfeat)
	oneKey := make([][]byte, 1)
	badgerLat, err := measure(*reads, func() error {
		oneKey[0] = pick()
		if err := bs.ReadInto(ctx, view, features, oneKey, maxAge, now, one); err != nil {
			return err
		}
		return check(one)
	})
	if err != nil {
		return fmt.Errorf("badger: %w", err)
	}
	printLatency("badger 1×"+strconv.Itoa(*nfeat), badgerLat)

	// Redis.
	srv, err := redistest.Launch(bin, work)
	if err != nil {
		return err
	}
	defer srv.Kill()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	rs := redisstore.New(client, redisstore.Options{KeepClientOpen: true})
	if err := rs.Write(ctx, view, features, recs); err != nil {
		return err
	}
	// The peer's layout: a plain hash per entity, a field per feature.
	pipe := client.Pipeline()
	for i, rec := range recs {
		fv := make([]any, 0, 2**nfeat)
		for j, v := range rec.Values {
			f, _ := v.AsFloat()
			fv = append(fv, features[j], strconv.FormatFloat(f, 'g', -1, 64))
		}
		pipe.HSet(ctx, "peer:"+strconv.Itoa(i), fv...)
		if pipe.Len() >= 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	kilnRead := func() error {
		oneKey[0] = pick()
		if err := rs.ReadInto(ctx, view, features, oneKey, maxAge, now, one); err != nil {
			return err
		}
		return check(one)
	}
	peerRead := func() error {
		vals, err := client.HMGet(ctx, "peer:"+strconv.Itoa(r.IntN(*entities)), features...).Result()
		if err != nil {
			return err
		}
		if len(vals) != *nfeat || vals[0] == nil {
			return fmt.Errorf("HMGET returned %d values (first %v)", len(vals), vals[0])
		}
		return nil
	}
	redisLat, hmgetLat, err := measurePair(*reads, kilnRead, peerRead)
	if err != nil {
		return fmt.Errorf("redis 1×%d: %w", *nfeat, err)
	}
	printLatency("redis 1×"+strconv.Itoa(*nfeat)+" (kiln)", redisLat)
	printLatency("redis HMGET "+strconv.Itoa(*nfeat)+" fields (bare go-redis)", hmgetLat)

	batchKeys := make([][]byte, *batch)
	multiLat, err := measure(max(*reads/10, 100), func() error {
		for i := range batchKeys {
			batchKeys[i] = pick()
		}
		if err := rs.ReadInto(ctx, view, features, batchKeys, maxAge, now, many); err != nil {
			return err
		}
		return check(many)
	})
	if err != nil {
		return fmt.Errorf("redis %d×%d: %w", *batch, *nfeat, err)
	}
	printLatency(fmt.Sprintf("redis %d×%d (kiln)", *batch, *nfeat), multiLat)

	bp99, rp99, hp99, mp99 := pct(badgerLat, 99), pct(redisLat, 99), pct(hmgetLat, 99), pct(multiLat, 99)
	fmt.Printf("targets: badger 1×50 p99 %.1f µs (≤ 25); redis 1×50 p99 / HMGET p99 = %.3f (≤ 1.25); redis 100×50 p99 %.1f µs (≤ 1000)\n",
		us(bp99), float64(rp99)/float64(hp99), us(mp99))
	res := result{Suite: "online", Kiln: 1e6 / us(rp99), Peer: 1e6 / us(hp99), PeerName: "go-redis-hmget", Unit: "1/p99 (reads/s)",
		Extra: []extra{
			{"badger_1x50_p50_us", us(pct(badgerLat, 50))}, {"badger_1x50_p99_us", us(bp99)},
			{"redis_1x50_p50_us", us(pct(redisLat, 50))}, {"redis_1x50_p99_us", us(rp99)},
			{"hmget_1x50_p50_us", us(pct(hmgetLat, 50))}, {"hmget_1x50_p99_us", us(hp99)},
			{"redis_100x50_p50_us", us(pct(multiLat, 50))}, {"redis_100x50_p99_us", us(mp99)},
		}}
	line, err := res.jsonLine()
	if err != nil {
		return err
	}
	fmt.Println(line)
	return nil
}

// measure times n calls of fn after 2,000 untimed warm-up calls.
func measure(n int, fn func() error) ([]time.Duration, error) {
	for range 2000 {
		if err := fn(); err != nil {
			return nil, err
		}
	}
	runtime.GC()
	lat := make([]time.Duration, n)
	for i := range lat {
		start := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		lat[i] = time.Since(start)
	}
	return lat, nil
}

// measurePair times n calls of a and of b, alternating which goes first, so
// that both see the same machine.
func measurePair(n int, a, b func() error) (la, lb []time.Duration, err error) {
	for range 2000 {
		if err := a(); err != nil {
			return nil, nil, err
		}
		if err := b(); err != nil {
			return nil, nil, err
		}
	}
	runtime.GC()
	la, lb = make([]time.Duration, n), make([]time.Duration, n)
	timed := func(fn func() error, d *time.Duration) error {
		start := time.Now()
		err := fn()
		*d = time.Since(start)
		return err
	}
	for i := range n {
		first, second := func() error { return timed(a, &la[i]) }, func() error { return timed(b, &lb[i]) }
		if i%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return nil, nil, err
		}
		if err := second(); err != nil {
			return nil, nil, err
		}
	}
	return la, lb, nil
}

// pct returns the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func printLatency(name string, ds []time.Duration) {
	fmt.Printf("%-44s p50 %8.1f µs  p90 %8.1f µs  p99 %8.1f µs  max %8.1f µs  (%d reads)\n", name,
		us(pct(ds, 50)), us(pct(ds, 90)), us(pct(ds, 99)), us(pct(ds, 100)), len(ds))
}
