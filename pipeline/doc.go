// Package pipeline turns the data a team has — CSV exports, Parquet lakes,
// NDJSON logs, Arrow streams, Go structs in a service — into typed Arrow
// record batches, checks and transforms them in concurrent stages, and writes
// them out.
//
// A pipeline is a [Source], zero or more [Stage] values and a [Sink]:
//
//	src := pipeline.CSV("flights.csv.gz", pipeline.CSVOptions{})
//	p := pipeline.New(src,
//		pipeline.Validate(pipeline.ValidateOptions{
//			Expect:     []pipeline.Expectation{pipeline.NotNull("origin"), pipeline.InRange("delay", -60, 600)},
//			OnFailure:  pipeline.QuarantineRow,
//			Quarantine: pipeline.ToCSV("rejected.csv", pipeline.CSVWriteOptions{}),
//		}),
//		pipeline.Derive1("late", "delay", func(d int64) bool { return d > 15 }),
//	)
//	stats, err := p.Run(ctx, pipeline.ToParquet("flights.parquet", pipeline.ParquetWriteOptions{}), pipeline.RunOptions{})
//
// # Sources
//
// [CSV] and [CSVReader] cut the input into chunks at record boundaries
// (quote-aware) and parse the chunks on every core; they infer int64,
// float64, bool, date32, timestamp and string columns from a sample of rows
// or take an explicit schema. [Parquet] decodes row groups in parallel with
// column projection and bounded memory. [NDJSON], [Arrow] (IPC file or
// stream), [FromBatches], [FromTable], [FromStructs] and [FromSeq] cover the
// rest, and [Glob] and [Dir] read many files, turning hive-style key=value
// folders into columns. Files ending in .gz or .zst are decompressed as they
// are read. Every source yields batches in input order.
//
// # Stages
//
// A stage is bound to its input schema before any data flows ([Stage.Bind]),
// so a pipeline with a missing column or a wrong type fails at once, with
// the stage named. [Select], [Drop], [Rename], [Cast], [Filter] (with
// predicates built from [Col]), [Derive1] to [Derive3] (a new column from a
// typed Go function), [Map] (any batch to batch function) and [Validate]
// (expectations; stop, drop the row, or quarantine it with the reason).
//
// # Sinks
//
// [ToParquet], [ToArrow], [ToCSV] and [ToNDJSON] write to a temporary file
// beside the destination and rename it when the run commits, so a failed or
// cancelled run leaves no partial output. [Collect] gathers an arrow.Table.
// [SinkFor] picks a file sink from a path's extension.
//
// # Running
//
// [Pipeline.Run] applies the stages to several batches at once (one per
// core by default), keeps the source's order, holds a bounded number of
// batches in flight (the source waits for the sink), stops within a batch
// when its context is cancelled, turns a panic in user code into an error
// wrapping [ErrPanic], reports [Progress] through a callback and returns
// [Stats] with the counts of every stage. A [Pipeline] is itself a [Source].
//
// # Memory and errors
//
// Whoever receives a batch owns it and releases it; every Options struct
// takes the memory.Allocator to build batches from. Bad input is a
// [*ParseError] carrying the source, row, byte offset, column and value;
// the package's sentinel errors say what kind of failure an error is.
package pipeline
