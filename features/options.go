package features

import "github.com/apache/arrow-go/v18/arrow/memory"

// FitOptions configure ColumnTransformer.Fit. The zero value is valid: exact
// quantiles, one worker per CPU.
type FitOptions struct {
	// Workers bounds the goroutines that fit batches in parallel, each with
	// its own partial fit, merged at the end. 0 means runtime.GOMAXPROCS(0).
	// The fitted result does not depend on Workers (exact statistics merge
	// exactly), except for quantiles in sketch mode.
	Workers int
	// Quantiles is QuantilesExact ("", the default) or QuantilesSketch, for
	// the quantile statistics of median imputation, robust scaling and
	// quantile binning.
	Quantiles string
	// SketchK is the KLL accuracy parameter in sketch mode; 0 means 200.
	SketchK int
	// Progress, if set, is called after each fitted batch with the rows
	// fitted so far. It is called from the fitting goroutines, one call at
	// a time.
	Progress func(rows int64)
}

// StageOptions configure ColumnTransformer.Stage. The zero value is valid:
// the stage's output holds the transformer's outputs only.
type StageOptions struct {
	// Keep lists input columns copied to the output, before the transform
	// outputs (an id, a label).
	Keep []string
	// Mem allocates the output arrays; nil means the allocator the pipeline
	// binds the stage with.
	Mem memory.Allocator
}
