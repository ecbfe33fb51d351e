// Package kiln is the root of Kiln, an embeddable Go SDK for ML pipelines and
// feature engineering. The root package holds no code; the work is done by the
// packages below it, which a Go service, a data pipeline or a go test
// experiment imports directly, with nothing to deploy beside it.
//
// # How the packages compose
//
// Arrow record batches (arrow.RecordBatch from github.com/apache/arrow-go)
// are the one currency between packages:
//
//   - pipeline turns files and Go values into typed record batches (CSV,
//     Parquet, NDJSON, Arrow IPC, Go structs, globs of partitioned files),
//     checks and transforms them in concurrent stages, and writes them out.
//   - store keeps bytes content-addressed: BLAKE3 digests, content-defined
//     chunks deduplicated within and across files, packs on the local disk,
//     in memory or on S3-compatible storage (store/s3), verified on every
//     read, checked and garbage-collected.
//   - version versions datasets and models in a repository folder:
//     hash-linked commits, branches and tags, statistics and diffs of
//     tables, a model registry, experiment runs, lineage, and remotes on S3.
//   - features fits transforms once and applies them identically in
//     training and serving, and is a feature store: point-in-time training
//     sets, online serving from Badger or Redis, a Feast-compatible server.
//
// A pipeline is a Source, Stages and a Sink. Stages are bound to their input
// schema before any data flows, so a missing column or a wrong type fails at
// once, and the run is concurrent, ordered, bounded in memory and
// cancellable:
//
//	src := pipeline.CSV("flights.csv", pipeline.CSVOptions{})
//	p := pipeline.New(src,
//		pipeline.Validate(pipeline.ValidateOptions{
//			Expect:    []pipeline.Expectation{pipeline.NotNull("origin")},
//			OnFailure: pipeline.DropRow,
//		}),
//		pipeline.Filter(pipeline.Col("delay").Gt(15)),
//	)
//	stats, err := p.Run(ctx, pipeline.ToParquet("late.parquet", pipeline.ParquetWriteOptions{}), pipeline.RunOptions{})
//
// The packages that run tensor kernels, train models and monitor drift will
// build on the same batches; README.md lists what exists today.
package kiln
