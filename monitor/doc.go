// Package monitor watches data and models for drift, inside the Go
// service that serves them: it keeps compact statistics of a reference
// data set instead of the data, feeds every request through a monitor with
// bounded memory and nanoseconds of work per value, and says (to a
// callback, to Prometheus, in a JSON or HTML report) when the inputs, the
// predictions or the model's measured performance move away from the
// reference.
//
// # Profiles
//
// A [Profile] summarizes a batch source in one pass, per column: count,
// nulls, minimum, maximum, mean and variance, a KLL quantile sketch (rank
// error stated by [ColumnProfile.RankError]), a histogram of fine bins
// frozen at the reference's quantiles, a HyperLogLog distinct count, and
// the most frequent values of categorical columns. Profiles of shards
// merge into the profile of the whole, and they serialize to a few KiB per
// column ([Profile.MarshalBinary]), so they can be stored with a model
// version and replace the raw reference data:
//
//	ref, err := monitor.ProfileSource(ctx, pipeline.Parquet("train.parquet", pipeline.ParquetOptions{}), monitor.ProfileOptions{})
//
// # Statistics
//
// Every statistic is exported with its exact definition and matches SciPy
// 1.10 where SciPy has it: [KS2Samp] (exact and asymptotic p-values, as
// scipy.stats.ks_2samp), [Wasserstein], [EnergyDistance], [PSI],
// [JensenShannon], [KLDivergence], [Hellinger], [Chi2Contingency],
// [ZTestProportions], [AndersonKSamp] and [CramerVonMises2].
//
// # Drift
//
// [CompareExact] compares two sources from their full data. [Compare]
// compares two profiles, and a [Monitor] compares each window of live
// data with a reference profile; both estimate from sketches and bins and
// give every statistic an error interval ([ColumnDrift.Low],
// [ColumnDrift.High]) that the verdict takes into account
// ([ColumnDrift.Uncertain], [DriftOptions.Strict]).
//
// Each column gets a method by its kind and the reference's size, unless
// [DriftOptions.Methods] names one: with at most 1000 reference values
// ([DriftOptions.SmallReference]), the two-sample Kolmogorov–Smirnov test
// for numeric columns, the Z-test for two proportions for categorical
// columns of at most two categories and the chi-square test for more, all
// drifting at p < 0.05; with more, the Wasserstein distance over the
// reference's standard deviation for numeric columns and the
// Jensen–Shannon distance for categorical ones, drifting above 0.1. The
// dataset drifts when at least half the columns do ([DriftOptions.Share]).
//
// # Monitors
//
// A [Monitor] takes batches ([Monitor.Observe]) or single rows
// ([Monitor.ObserveRow]) from many goroutines at once, without a global
// lock, into tumbling or sliding windows by row count or by time
// ([Window]). Each finished window is compared with the reference; the
// report goes to [Options.OnWindow] and verdict changes to
// [Options.OnChange]. Naming the model's output column
// ([Options.Prediction]) monitors prediction drift. A [Performance]
// monitor joins predictions with labels that arrive later, by id and
// within a horizon, into accuracy or RMSE per window.
//
// The subpackage monitor/prom exports monitors to Prometheus;
// [Report.WriteJSON] and [Report.WriteHTML] write reports (the HTML page
// is self-contained, with an SVG chart per column).
package monitor
