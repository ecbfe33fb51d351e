package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/kilnml/kiln/pipeline"
)

// flightsCSV is a small flights table for the stage examples.
const flightsCSV = `date,delay,distance,origin,destination
2024-03-01,12,954,SEA,SFO
2024-03-01,-4,129,SEA,PDX
2024-03-02,95,2421,LAX,JFK
2024-03-02,,337,SFO,LAX
2024-03-03,3,2421,JFK,LAX
`

// flights returns a source reading flightsCSV.
func flights() pipeline.Source {
	return pipeline.CSVReader(strings.NewReader(flightsCSV), "flights.csv", pipeline.CSVOptions{})
}

// runToStdout runs the stages over the flights and prints the result as CSV.
func runToStdout(stages ...pipeline.Stage) {
	p := pipeline.New(flights(), stages...)
	if _, err := p.Run(context.Background(), pipeline.ToCSVWriter(os.Stdout, pipeline.CSVWriteOptions{}), pipeline.RunOptions{}); err != nil {
		fmt.Println("error:", err)
	}
}

func ExampleSelect() {
	runToStdout(pipeline.Select("origin", "delay"))
	// Output:
	// origin,delay
	// SEA,12
	// SEA,-4
	// LAX,95
	// SFO,
	// JFK,3
}

func ExampleDrop() {
	runToStdout(pipeline.Drop("date", "distance"))
	// Output:
	// delay,origin,destination
	// 12,SEA,SFO
	// -4,SEA,PDX
	// 95,LAX,JFK
	// ,SFO,LAX
	// 3,JFK,LAX
}

func ExampleRename() {
	runToStdout(pipeline.Rename(map[string]string{"origin": "from", "destination": "to"}), pipeline.Select("from", "to"))
	// Output:
	// from,to
	// SEA,SFO
	// SEA,PDX
	// LAX,JFK
	// SFO,LAX
	// JFK,LAX
}

func ExampleCast() {
	p := pipeline.New(flights(),
		pipeline.Cast("delay", arrow.PrimitiveTypes.Float64),
		pipeline.Cast("date", arrow.BinaryTypes.String))
	schema, err := p.Schema(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range schema.Fields()[:2] {
		fmt.Println(f.Name, f.Type)
	}

	// A value that does not convert stops the run with a *ParseError.
	p = pipeline.New(flights(), pipeline.Cast("origin", arrow.PrimitiveTypes.Int64))
	_, err = p.Run(context.Background(), pipeline.Collect(), pipeline.RunOptions{})
	var pe *pipeline.ParseError
	if errors.As(err, &pe) {
		fmt.Printf("column %s, row %d of the batch, value %q\n", pe.Column, pe.Row, pe.Value)
	}
	// Output:
	// date utf8
	// delay float64
	// column origin, row 1 of the batch, value "SEA"
}

func ExampleFilter() {
	runToStdout(
		pipeline.Filter(pipeline.And(
			pipeline.Col("origin").In("SEA", "LAX"),
			pipeline.Col("date").Ge("2024-03-01"),
			pipeline.Not(pipeline.Col("delay").Lt(0)),
		)),
		pipeline.Select("date", "origin", "delay"))
	// Output:
	// date,origin,delay
	// 2024-03-01,SEA,12
	// 2024-03-02,LAX,95
}

func ExampleCol() {
	// Nulls never satisfy a comparison: the flight with no delay is in
	// neither result. IsNull finds it.
	for _, p := range []pipeline.Predicate{
		pipeline.Col("delay").Gt(10),
		pipeline.Not(pipeline.Col("delay").Gt(10)),
		pipeline.Col("delay").IsNull(),
		pipeline.Or(pipeline.Col("delay").Between(0, 5), pipeline.Col("distance").Ge(2000)),
	} {
		t := pipeline.Collect()
		if _, err := pipeline.New(flights(), pipeline.Filter(p)).Run(context.Background(), t, pipeline.RunOptions{}); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d flights\n", p, t.Table().NumRows())
		t.Table().Release()
	}
	// Output:
	// delay > 10: 2 flights
	// NOT delay > 10: 2 flights
	// delay IS NULL: 1 flights
	// (delay BETWEEN 0 AND 5 OR distance >= 2000): 2 flights
}

func ExampleDerive1() {
	runToStdout(
		pipeline.Derive1("weekday", "date", func(d time.Time) string { return d.Weekday().String() }),
		pipeline.Derive1("late", "delay", func(delay int64) bool { return delay > 15 }),
		pipeline.Select("date", "weekday", "delay", "late"))
	// Output:
	// date,weekday,delay,late
	// 2024-03-01,Friday,12,false
	// 2024-03-01,Friday,-4,false
	// 2024-03-02,Saturday,95,true
	// 2024-03-02,Saturday,,
	// 2024-03-03,Sunday,3,false
}

func ExampleDerive2() {
	runToStdout(
		pipeline.Derive2("route", "origin", "destination", func(from, to string) string { return from + "-" + to }),
		pipeline.Derive2("delay_per_100mi", "delay", "distance", func(delay, dist int64) float64 {
			return math.Round(float64(delay)/float64(dist)*1e4) / 100
		}),
		pipeline.Select("route", "delay_per_100mi"))
	// Output:
	// route,delay_per_100mi
	// SEA-SFO,1.26
	// SEA-PDX,-3.1
	// LAX-JFK,3.92
	// SFO-LAX,
	// JFK-LAX,0.12
}

func ExampleDerive3() {
	runToStdout(
		pipeline.Derive3("summary", "origin", "destination", "delay", func(from, to string, delay int64) string {
			return fmt.Sprintf("%s→%s %+dmin", from, to, delay)
		}),
		pipeline.Select("date", "summary"))
	// Output:
	// date,summary
	// 2024-03-01,SEA→SFO +12min
	// 2024-03-01,SEA→PDX -4min
	// 2024-03-02,LAX→JFK +95min
	// 2024-03-02,
	// 2024-03-03,JFK→LAX +3min
}

func ExampleMap() {
	// Map adds a column numbering the rows of each batch: work that needs
	// the whole batch at once.
	withIndex := pipeline.Map("index",
		func(in *arrow.Schema) (*arrow.Schema, error) {
			return arrow.NewSchema(append(in.Fields(), arrow.Field{Name: "index", Type: arrow.PrimitiveTypes.Int64}), nil), nil
		},
		func(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch) (arrow.RecordBatch, error) {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			for i := range in.NumRows() {
				b.Append(i)
			}
			idx := b.NewArray()
			defer idx.Release()
			schema := arrow.NewSchema(append(in.Schema().Fields(), arrow.Field{Name: "index", Type: arrow.PrimitiveTypes.Int64}), nil)
			return array.NewRecordBatch(schema, append(in.Columns(), idx), in.NumRows()), nil
		})
	runToStdout(withIndex, pipeline.Select("index", "origin"))
	// Output:
	// index,origin
	// 0,SEA
	// 1,SEA
	// 2,LAX
	// 3,SFO
	// 4,JFK
}

func ExampleValidate() {
	p := pipeline.New(flights(), pipeline.Validate(pipeline.ValidateOptions{
		Expect: []pipeline.Expectation{
			pipeline.Matches("origin", `^[A-Z]{3}$`),
			pipeline.InRange("delay", -60, 60),
		},
		// OnFailure is Stop: the first failing row ends the run.
	}))
	_, err := p.Run(context.Background(), pipeline.Collect(), pipeline.RunOptions{})
	var ve *pipeline.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Expectation, "failed at row", ve.Row, "with", ve.Value)
	}
	fmt.Println(errors.Is(err, pipeline.ErrValidation))
	// Output:
	// in_range(delay, -60, 60) failed at row 3 with 95
	// true
}

func ExampleValidate_quarantine() {
	var rejected strings.Builder
	p := pipeline.New(flights(),
		pipeline.Validate(pipeline.ValidateOptions{
			Expect: []pipeline.Expectation{
				pipeline.NotNull("delay"),
				pipeline.OneOf("origin", "SEA", "SFO", "LAX"),
				pipeline.Unique("distance"),
			},
			OnFailure:  pipeline.QuarantineRow,
			Quarantine: pipeline.ToCSVWriter(&rejected, pipeline.CSVWriteOptions{}),
		}),
		pipeline.Select("origin", "destination"))
	stats, err := p.Run(context.Background(), pipeline.ToCSVWriter(os.Stdout, pipeline.CSVWriteOptions{}), pipeline.RunOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print("rejected:\n", rejected.String())
	c := stats.Stages[0].Counts
	fmt.Println("quarantined:", c["quarantined"], "not null:", c["not_null(delay)"], "duplicates:", c["unique(distance)"])
	// Output:
	// origin,destination
	// SEA,SFO
	// SEA,PDX
	// LAX,JFK
	// rejected:
	// date,delay,distance,origin,destination,_reason
	// 2024-03-02,,337,SFO,LAX,not_null(delay)
	// 2024-03-03,3,2421,JFK,LAX,"one_of(origin, ""SEA"", ""SFO"", ""LAX"")"
	// quarantined: 2 not null: 1 duplicates: 0
}

func ExamplePipeline_Run() {
	p := pipeline.New(
		pipeline.CSV("../testdata/flights-20k.csv", pipeline.CSVOptions{BatchRows: 5000}),
		pipeline.Filter(pipeline.Col("delay").Gt(60)),
		pipeline.Derive1("hours", "delay", func(min int64) float64 { return float64(min) / 60 }),
		pipeline.Select("origin", "destination", "hours"),
	)
	out := pipeline.Collect()
	stats, err := p.Run(context.Background(), out, pipeline.RunOptions{
		Parallelism: 4,
		Progress: func(pr pipeline.Progress) {
			// Called after each batch reaches the sink, and at the end:
			// draw a progress bar from pr.RowsWritten, pr.BytesRead and
			// pr.TotalBytes.
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	tbl := out.Table()
	defer tbl.Release()
	fmt.Println("read", stats.RowsRead, "rows, kept", tbl.NumRows())
	for _, s := range stats.Stages {
		fmt.Printf("%-20s in %5d out %5d\n", s.Name, s.RowsIn, s.RowsOut)
	}
	// Output:
	// read 20000 rows, kept 1662
	// filter(delay > 60)   in 20000 out  1662
	// derive(hours)        in  1662 out  1662
	// select               in  1662 out  1662
}
