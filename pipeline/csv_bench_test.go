package pipeline

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// BenchmarkCSVFlights parses the 20,000-row flights slice (timestamp, two
// integers, two strings) from memory, repeated to 200,000 rows.
func BenchmarkCSVFlights(b *testing.B) {
	raw, err := os.ReadFile("../testdata/flights-20k.csv")
	if err != nil {
		b.Fatal(err)
	}
	nl := bytes.IndexByte(raw, '\n')
	header, body := raw[:nl+1], raw[nl+1:]
	text := append([]byte{}, header...)
	for range 10 {
		text = append(text, body...)
	}
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		src := CSVReader(bytes.NewReader(text), "flights", CSVOptions{})
		rows := int64(0)
		for rec, err := range src.Batches(context.Background()) {
			if err != nil {
				b.Fatal(err)
			}
			rows += rec.NumRows()
			rec.Release()
		}
		if rows != 200000 {
			b.Fatalf("rows = %d", rows)
		}
	}
}
