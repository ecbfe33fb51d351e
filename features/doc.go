// Package features fits feature-engineering transforms on Arrow data and
// applies them, identically, to batches in a pipeline and to single rows in
// a service; and it is an in-process feature store: definitions in a
// versioned registry, point-in-time correct training sets, and online
// serving from Badger or Redis (see "Feature store" below).
//
// The most common silent bug in production ML is training/serving skew: the
// scaler or encoder used at serving time is not exactly the one fitted for
// training. A [ColumnTransformer] is fitted once on Arrow record batches
// (streaming, in parallel, with partial fits merged), saved as a small JSON
// document with a format version ([ColumnTransformer.MarshalJSON], [Load]),
// and applied by the same code to a batch ([ColumnTransformer.Apply],
// [ColumnTransformer.Matrix], [ColumnTransformer.Stage]) or to one row
// ([ColumnTransformer.ApplyRow], [ColumnTransformer.ApplyRowInto]): the two
// paths give bit-identical outputs.
//
// # Specs
//
// A transformer is declared by a [Spec], usually parsed from JSON with
// [ParseSpec]:
//
//	{"transforms": [
//	  {"name": "impute",   "columns": ["delay"], "strategy": "median", "add_indicator": true},
//	  {"name": "standard", "columns": ["distance"]},
//	  {"name": "onehot",   "columns": ["origin"], "handle_unknown": "ignore"}
//	]}
//
// Each entry names a transform kind, its input columns and its parameters,
// named as scikit-learn names them. Outputs are float64 columns in spec
// order: one per input column for scalers, "<column>_<category>" for
// one-hot, "<column>_<part>" for date parts, "<column>_missing" for missing
// indicators. Two transforms may not produce the same output name.
//
// # Kinds
//
// Numeric: standard (StandardScaler, population standard deviation;
// with_mean, with_std), minmax (MinMaxScaler; feature_range, clip), maxabs
// (MaxAbsScaler), robust (RobustScaler; with_centering, with_scaling,
// quantile_range, unit_variance), log1p (numpy.log1p), clip (min, max),
// impute (SimpleImputer; strategy mean|median|most_frequent|constant,
// fill_value, add_indicator, keep_empty_features), passthrough.
// Categorical and others: onehot, ordinal, hash, cross, target, kbins,
// datetime; see each kind's documentation in the spec reference of
// examples/transform and the parameters listed by their errors.
// [Kinds] lists the registered names.
//
// scikit-learn 1.2's definitions are the default semantics, and tests
// compare every kind with values scikit-learn computes on real data sets.
// Where Kiln differs it says so: means and variances are computed exactly
// (a superaccumulator) and rounded once, so they do not depend on how the
// data was partitioned, and may differ from scikit-learn's floating-point
// sums in the last bits; impute accepts numeric columns only (encoders
// handle missing strings).
//
// # Missing and bad values
//
// In numeric columns an Arrow null and a NaN are both missing values.
// Scalers pass them through as NaN (as scikit-learn does); impute replaces
// them. ±Inf is an error at fit and at apply time ([ErrNonFinite], in an
// [*InputError] naming the column and row), except for passthrough, which
// copies it. A column of the wrong type is an error wrapping [ErrType] that
// names the column; a column absent at fit or apply time is an error
// wrapping [ErrMissingColumn]. Outputs never hold nulls.
//
// # Quantiles
//
// Median imputation, robust scaling and quantile binning need quantiles.
// By default ([QuantilesExact]) the values of each such column are kept in
// memory and the quantiles are exact, with NumPy's default linear
// interpolation. For data that does not fit in memory, [FitOptions]
// Quantiles = [QuantilesSketch] summarizes each column in a KLL sketch
// whose normalized rank error is about 1.7/k (about 1% at the default
// k = 200) with high probability.
//
// # Fitting
//
// [ColumnTransformer.Fit] reads a [pipeline.Source] with FitOptions.Workers
// goroutines, each with its own partial fit ([Fitter]); partial fits merge
// exactly, so the fitted state does not depend on the number of workers or
// on batch boundaries (sketch-mode quantiles aside). Fitting is also a
// pipeline sink ([ColumnTransformer.FitSink]) whose Commit finishes the
// fit, so it composes with ingestion, validation and other stages. A
// one-hot encoding with many categories is best read back as a sparse
// matrix ([ColumnTransformer.Sparse]), which never writes its zeros.
//
// # Feature store
//
// Definitions: an [Entity] names join keys, a [FeatureView] typed features
// of entities with a TTL and a batch source (Parquet files or a version
// dataset), a [FeatureService] the features one model reads, and an
// [OnDemandFeature] a Go function of request data and fetched features.
// [Registry.Apply] validates them against each other and against their
// sources' schemas and commits them as a new registry version in a
// version.Repository, so a view can be read as it was ("driver_stats@3").
//
// Training sets: [PointInTimeJoin] (and [FeatureStore.GetHistoricalFeatures],
// or [FeatureStore.GetHistoricalFeaturesAt] to rebuild one exactly as of a
// registry version) gives each entity row the latest feature row at or
// before its time and within the TTL, ties broken by the created time, in
// input order, in parallel and spilling to disk past a memory budget.
//
// Serving: online stores implement the interface of package
// features/online (memory; features/online/badger, the embedded default;
// features/online/redis). [FeatureStore.Materialize],
// [FeatureStore.MaterializeIncremental] and [FeatureStore.Push] fill them,
// never replacing a newer value with an older one, and
// [FeatureStore.GetOnlineFeatures] reads many entities in one round trip
// with a status per value. Package features/server serves them over
// Feast's HTTP API.
package features
