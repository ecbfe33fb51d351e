package online_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kilnml/kiln/features/online"
)

// Write the latest features of two drivers to an in-memory store, replay
// an older row (it is ignored) and read them back as a service would: by
// entity key, with a maximum age.
func ExampleMemory() {
	ctx := context.Background()
	var st online.Store = online.NewMemory() // or badgerstore.Open, redisstore.Open
	defer st.Close()

	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	features := []string{"trips_today", "avg_rating", "city"}
	driver := func(id int64) []byte { return online.EncodeKey(online.Int(id)) }
	err := st.Write(ctx, "driver_stats", features, []online.Record{
		{Key: driver(1001), EventTime: noon, Values: []online.Value{online.Int(12), online.Float(4.8), online.String("Lisbon")}},
		{Key: driver(1002), EventTime: noon.Add(-3 * time.Hour), Values: []online.Value{online.Int(3), online.Float(4.5), online.String("Porto")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// A replayed row older than the stored one changes nothing.
	err = st.Write(ctx, "driver_stats", features, []online.Record{
		{Key: driver(1001), EventTime: noon.Add(-time.Hour), Values: []online.Value{online.Int(9), online.Float(4.7), online.String("Lisbon")}},
	})
	if err != nil {
		log.Fatal(err)
	}

	// Values older than two hours at 12:30 are expired; driver 1003 has none.
	keys := [][]byte{driver(1001), driver(1002), driver(1003)}
	res, err := st.Read(ctx, "driver_stats", []string{"trips_today", "avg_rating"}, keys, 2*time.Hour, noon.Add(30*time.Minute))
	if err != nil {
		log.Fatal(err)
	}
	for i, row := range res {
		fmt.Printf("driver %d:", 1001+i)
		for _, r := range row {
			if r.Status == online.Present {
				fmt.Printf(" %v", r.Value)
			} else {
				fmt.Printf(" %v", r.Status)
			}
		}
		fmt.Println()
	}
	// Output:
	// driver 1001: 12 4.8
	// driver 1002: expired expired
	// driver 1003: not_found not_found
}

// A service that reads the same features for every request keeps one
// results buffer and reads into it, allocating nothing per value.
func ExampleStore_ReadInto() {
	ctx := context.Background()
	st := online.NewMemory()
	defer st.Close()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// An entity with a composite key: a driver in a city.
	key := online.EncodeKey(online.Int(1001), online.String("Lisbon"))
	if err := st.Write(ctx, "driver_city", []string{"trips"}, []online.Record{
		{Key: key, EventTime: at, Values: []online.Value{online.Int(7)}},
	}); err != nil {
		log.Fatal(err)
	}

	features := []string{"trips"}
	keys := [][]byte{key}
	out := online.NewResults(len(keys), len(features)) // reused by every request
	for range 3 {
		if err := st.ReadInto(ctx, "driver_city", features, keys, 0, at, out); err != nil {
			log.Fatal(err)
		}
	}
	trips, _ := out[0][0].Value.AsInt()
	fmt.Println(out[0][0].Status, trips, out[0][0].EventTime.Format(time.DateTime))
	// Output: present 7 2026-03-01 12:00:00
}
