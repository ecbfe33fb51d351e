package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/kilnml/kiln/examples/internal/story"
)

// TestFlights runs the flights story on the 20,000-row Parquet slice.
func TestFlights(t *testing.T) {
	var out bytes.Buffer
	c := story.Config{Data: "../../testdata/flights-20k.parquet", Dir: t.TempDir(), Out: &out, Timings: true, Seed: 1, Epochs: 3, MaxTrainRows: 10000}
	if err := run(context.Background(), c, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	for _, want := range []string{"step times:", "10. monitor a drifted batch", "registered flight_delay/1", "20000 passed validation", "total"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
