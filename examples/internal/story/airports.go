package story

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// flights holds the validated flights compactly (about 20 bytes a flight),
// so that the 3-million-row data set fits in memory easily.
type flights struct {
	when     []int64   // departure, Unix seconds (UTC)
	delay    []float32 // minutes
	distance []float32 // miles
	origin   []uint16  // index into airports
	dest     []uint16
	airports []string
	index    map[string]uint16
}

func (f *flights) len() int { return len(f.when) }

func (f *flights) airport(code string) uint16 {
	if i, ok := f.index[code]; ok {
		return i
	}
	i := uint16(len(f.airports))
	f.airports = append(f.airports, code)
	f.index[code] = i
	return i
}

// readFlights reads the flights of src (the committed dataset) into memory.
func readFlights(ctx context.Context, src pipeline.Source) (*flights, error) {
	f := &flights{index: map[string]uint16{}}
	for b, err := range src.Batches(ctx) {
		if err != nil {
			return nil, err
		}
		err := f.add(b)
		b.Release()
		if err != nil {
			return nil, err
		}
	}
	if len(f.airports) > math.MaxUint16 {
		return nil, fmt.Errorf("story: %d airports, at most %d", len(f.airports), math.MaxUint16)
	}
	return f, nil
}

func (f *flights) add(b arrow.RecordBatch) error {
	col := func(name string) (arrow.Array, error) {
		idx := b.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil, fmt.Errorf("story: the flights have no column %q", name)
		}
		return b.Column(idx[0]), nil
	}
	date, err := col("date")
	if err != nil {
		return err
	}
	ts, ok := date.(*array.Timestamp)
	if !ok {
		return fmt.Errorf("story: column date is %s, want a timestamp", date.DataType())
	}
	unit := ts.DataType().(*arrow.TimestampType).Unit
	delay, err := col("delay")
	if err != nil {
		return err
	}
	dist, err := col("distance")
	if err != nil {
		return err
	}
	org, err := col("origin")
	if err != nil {
		return err
	}
	dst, err := col("destination")
	if err != nil {
		return err
	}
	for i := 0; i < int(b.NumRows()); i++ {
		if ts.IsNull(i) {
			continue // validation let no null through; be safe anyway
		}
		f.when = append(f.when, ts.Value(i).ToTime(unit).Unix())
		f.delay = append(f.delay, float32(number(delay, i)))
		f.distance = append(f.distance, float32(number(dist, i)))
		f.origin = append(f.origin, f.airport(text(org, i)))
		f.dest = append(f.dest, f.airport(text(dst, i)))
	}
	return nil
}

// number reads row i of an integer or floating-point column.
func number(a arrow.Array, i int) float64 {
	switch a := a.(type) {
	case *array.Int64:
		return float64(a.Value(i))
	case *array.Int32:
		return float64(a.Value(i))
	case *array.Int16:
		return float64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	}
	return math.NaN()
}

// text reads row i of a string column.
func text(a arrow.Array, i int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	}
	return ""
}

// Airport traffic features. For every airport and every hour H, the
// departures from the airport in the window [H-window, H) summarize how
// congested and how late it is running: how many flights left, their mean
// delay and the share delayed by more than 15 minutes. The row is
// timestamped H, the end of its window, so a flight leaving at time t only
// ever sees flights that left before the hour it leaves in: a point-in-time
// join cannot leak its own delay, nor any later one, into its features.
const (
	trafficView   = "airport_traffic"
	trafficWindow = 3 * time.Hour
	lateMinutes   = 15
)

// trafficFeatures are the view's features, in the model's order.
var trafficFeatures = []string{"departures", "mean_delay", "share_delayed"}

// trafficRows computes the feature rows as Arrow batches with columns
// airport, window_end, departures, mean_delay, share_delayed.
func trafficRows(f *flights) (*arrow.Schema, []arrow.RecordBatch, int) {
	type agg struct {
		n, late int64
		sum     float64
	}
	// Per airport, per hour of departure.
	hours := make([]map[int64]*agg, len(f.airports))
	for i := range f.when {
		a := f.origin[i]
		if hours[a] == nil {
			hours[a] = map[int64]*agg{}
		}
		h := f.when[i] / 3600
		g := hours[a][h]
		if g == nil {
			g = &agg{}
			hours[a][h] = g
		}
		g.n++
		g.sum += float64(f.delay[i])
		if f.delay[i] > lateMinutes {
			g.late++
		}
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "airport", Type: arrow.BinaryTypes.String},
		{Name: "window_end", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
		{Name: "departures", Type: arrow.PrimitiveTypes.Int64},
		{Name: "mean_delay", Type: arrow.PrimitiveTypes.Float64},
		{Name: "share_delayed", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	var batches []arrow.RecordBatch
	rows := 0
	w := int64(trafficWindow / time.Hour)
	for a, hs := range hours {
		if hs == nil {
			continue
		}
		// The window ends that see at least one departure.
		ends := map[int64]bool{}
		for h := range hs {
			for k := int64(1); k <= w; k++ {
				ends[h+k] = true
			}
		}
		sorted := make([]int64, 0, len(ends))
		for e := range ends {
			sorted = append(sorted, e)
		}
		slices.Sort(sorted)
		for _, end := range sorted {
			var s agg
			for h := end - w; h < end; h++ {
				if g := hs[h]; g != nil {
					s.n += g.n
					s.late += g.late
					s.sum += g.sum
				}
			}
			bld.Field(0).(*array.StringBuilder).Append(f.airports[a])
			bld.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(end * 3600))
			bld.Field(2).(*array.Int64Builder).Append(s.n)
			bld.Field(3).(*array.Float64Builder).Append(s.sum / float64(s.n))
			bld.Field(4).(*array.Float64Builder).Append(float64(s.late) / float64(s.n))
			rows++
			if rows%65536 == 0 {
				batches = append(batches, bld.NewRecordBatch())
			}
		}
	}
	if rows%65536 != 0 || rows == 0 {
		batches = append(batches, bld.NewRecordBatch())
	}
	return schema, batches, rows
}
