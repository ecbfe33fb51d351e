package features_test

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/features"
	"github.com/kilnml/kiln/pipeline"
)

// pitBatch builds a batch of origin (string), ts (timestamp) and, when
// values is not nil, delay (float64).
func pitBatch(origins []string, hours []int, values []float64) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	tsType := &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	ob := array.NewStringBuilder(mem)
	tb := array.NewTimestampBuilder(mem, tsType)
	ob.AppendValues(origins, nil)
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, h := range hours {
		tb.Append(arrow.Timestamp(base + int64(h)*3600))
	}
	fields := []arrow.Field{{Name: "origin", Type: arrow.BinaryTypes.String}, {Name: "ts", Type: tsType}}
	cols := []arrow.Array{ob.NewArray(), tb.NewArray()}
	if values != nil {
		vb := array.NewFloat64Builder(mem)
		vb.AppendValues(values, nil)
		fields = append(fields, arrow.Field{Name: "delay", Type: arrow.PrimitiveTypes.Float64})
		cols = append(cols, vb.NewArray())
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(len(origins)))
}

// Flights (the entity rows) get the hourly average delay of their airport
// as it was known at their departure time, at most 24 hours old.
func ExamplePointInTimeJoin() {
	ctx := context.Background()
	flights := pipeline.FromBatches(nil, pitBatch([]string{"SFO", "SFO", "LAX", "SFO"}, []int{1, 3, 3, 40}, nil))
	hourly := pipeline.FromBatches(nil, pitBatch([]string{"SFO", "SFO", "LAX"}, []int{1, 2, 4}, []float64{12.5, 7, 3}))
	out, err := features.PointInTimeJoin(ctx, flights, features.EntityColumns{Timestamp: "ts"},
		[]features.PITView{{Name: "airport", Source: hourly, Keys: []string{"origin"}, Timestamp: "ts", TTL: 24 * time.Hour}},
		features.PITOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for b, err := range out.Batches(ctx) {
		if err != nil {
			fmt.Println(err)
			return
		}
		for i := range int(b.NumRows()) {
			fmt.Println(b.Column(0).ValueStr(i), b.Column(1).ValueStr(i), b.Schema().Field(2).Name, b.Column(2).ValueStr(i))
		}
		b.Release()
	}
	// Output:
	// SFO 2001-01-01T01:00:00Z airport__delay 12.5
	// SFO 2001-01-01T03:00:00Z airport__delay 7
	// LAX 2001-01-01T03:00:00Z airport__delay (null)
	// SFO 2001-01-02T16:00:00Z airport__delay (null)
}
