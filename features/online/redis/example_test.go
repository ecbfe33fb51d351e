package redisstore_test

import (
	"context"
	"log"
	"time"

	"github.com/kilnml/kiln/features/online"
	redisstore "github.com/kilnml/kiln/features/online/redis"
	"github.com/redis/go-redis/v9"
)

// Open a store on a Redis server shared by several services. The example
// needs a server at localhost:6379, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	st, err := redisstore.Open(ctx,
		&redis.UniversalOptions{Addrs: []string{"localhost:6379"}}, // several addresses: a Cluster; MasterName: Sentinel
		redisstore.Options{Prefix: "fraud:"},                       // keys "fraud:<view>\x00<entity key>"
	)
	if err != nil {
		log.Fatal(err) // Open pings the server
	}
	defer st.Close()

	key := online.EncodeKey(online.Int(42))
	err = st.Write(ctx, "user_stats", []string{"orders_7d"}, []online.Record{
		{Key: key, EventTime: time.Now(), Values: []online.Value{online.Int(3)}},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := st.Read(ctx, "user_stats", []string{"orders_7d"}, [][]byte{key}, 24*time.Hour, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	log.Println(res[0][0].Status, res[0][0].Value)
}

// New wraps a client the program already has; with KeepClientOpen the
// store's Close leaves it open for the rest of the program.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", PoolSize: 32})
	defer client.Close()
	st := redisstore.New(client, redisstore.Options{KeepClientOpen: true, BatchSize: 500})
	defer st.Close()
	var _ online.Store = st
}
