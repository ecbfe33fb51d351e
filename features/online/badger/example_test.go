package badgerstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/kilnml/kiln/features/online"
	badgerstore "github.com/kilnml/kiln/features/online/badger"
)

// Open the embedded store in a folder, write the features of two airports,
// close it, and read them back after opening it again: the records outlive
// the process that wrote them.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kiln-online-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	hour := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	features := []string{"mean_delay", "departures"}
	airport := func(code string) []byte { return online.EncodeKey(online.String(code)) }
	err = st.Write(ctx, "airport_hourly", features, []online.Record{
		{Key: airport("ORD"), EventTime: hour, Values: []online.Value{online.Float(21.5), online.Int(64)}},
		{Key: airport("SFO"), EventTime: hour, Values: []online.Value{online.Float(7.25), online.Int(41)}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := st.Close(); err != nil { // Badger allows one process at a time in a folder
		log.Fatal(err)
	}

	st, err = badgerstore.Open(dir, badgerstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	codes := []string{"ORD", "SFO", "JFK"}
	keys := [][]byte{airport("ORD"), airport("SFO"), airport("JFK")}
	res, err := st.Read(ctx, "airport_hourly", features, keys, 0, time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	for i, row := range res {
		if row[0].Status != online.Present {
			fmt.Println(codes[i], row[0].Status)
			continue
		}
		fmt.Printf("%s at %s: mean delay %v min, %v departures\n",
			codes[i], row[0].EventTime.Format("15:04"), row[0].Value, row[1].Value)
	}
	// Output:
	// ORD at 08:00: mean delay 21.5 min, 64 departures
	// SFO at 08:00: mean delay 7.25 min, 41 departures
	// JFK not_found
}

// InMemory keeps the database in memory: the Badger store without a
// folder, for tests and caches.
func ExampleOptions_inMemory() {
	ctx := context.Background()
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	key := online.EncodeKey(online.String("ORD"))
	if err := st.Write(ctx, "airport_hourly", []string{"departures"}, []online.Record{
		{Key: key, EventTime: at, Values: []online.Value{online.Int(64)}},
	}); err != nil {
		log.Fatal(err)
	}
	res, err := st.Read(ctx, "airport_hourly", []string{"departures"}, [][]byte{key}, time.Hour, at.Add(2*time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0][0].Status, "since", res[0][0].EventTime.Format("15:04"))
	// Output: expired since 08:00
}
