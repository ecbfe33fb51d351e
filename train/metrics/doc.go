// Package metrics computes classification and regression metrics with
// scikit-learn's definitions, so that a number reported by a Go program can be
// compared directly with one reported by a Python notebook.
//
// Every function takes plain slices: class labels as []int32 (non-negative
// integers, usually 0..k-1), scores and probabilities as []float64, and
// multiclass probabilities as an n×k row-major slice (row i holds sample i's
// k class probabilities). Nothing is modified and nothing is retained.
//
// The definitions follow scikit-learn 1.2.1:
//
//   - [Accuracy], [Precision], [Recall], [F1] and [ConfusionMatrix] follow
//     accuracy_score, precision_score, recall_score, f1_score (with
//     zero_division=0: a class with no predicted or no true samples scores 0)
//     and confusion_matrix.
//   - [ROCAUC] and [ROCAUCMulti] follow roc_auc_score (trapezoidal area under
//     the ROC curve, tied scores forming one threshold; one-vs-rest for
//     multiclass).
//   - [PRAUC] follows average_precision_score (the step-function integral of
//     the precision-recall curve, not the trapezoidal area).
//   - [LogLoss] and [BinaryLogLoss] follow log_loss with its default eps
//     (float64 machine epsilon) and its row renormalisation.
//   - [RMSE], [MAE] and [R2] follow mean_squared_error(squared=False),
//     mean_absolute_error and r2_score.
//
// Results agree with scikit-learn up to floating-point rounding (only the
// order of summation differs); the package tests check them against values
// produced by scikit-learn within 1e-12 relative.
//
// Bad input (empty or mismatched slices, negative labels, NaN scores, a
// metric that is undefined for the data such as ROC AUC with one class) is
// reported as an error that wraps [ErrInput] and says which function, which
// argument and why. No function panics on bad input.
package metrics

import (
	"errors"
	"fmt"
)

// ErrInput is wrapped by every error that reports invalid input: slices of
// different lengths, empty input, negative labels, non-finite scores,
// an invalid [Average], or a metric that is undefined for the given labels
// (for example ROC AUC when only one class is present). Test for it with
// errors.Is.
var ErrInput = errors.New("metrics: invalid input")

// inputError is an invalid-input error; it unwraps to ErrInput.
type inputError struct {
	fn  string
	msg string
}

func (e *inputError) Error() string { return "metrics: " + e.fn + ": " + e.msg }
func (e *inputError) Unwrap() error { return ErrInput }

func inputErr(fn, format string, args ...any) error {
	return &inputError{fn: fn, msg: fmt.Sprintf(format, args...)}
}

// Average selects how a per-class metric is reduced to one number, as the
// average argument of scikit-learn's precision_score, recall_score, f1_score
// and roc_auc_score.
type Average uint8

const (
	// Binary reports the metric for the positive class 1 only. Labels must
	// be 0 or 1. It is the zero value, matching scikit-learn's default
	// average="binary" with pos_label=1.
	Binary Average = iota
	// Macro is the unweighted mean of the per-class metrics over every
	// label that appears in yTrue or yPred.
	Macro
	// Micro computes the metric once from the true positives, false
	// positives and false negatives summed over all classes. For
	// single-label multiclass data, micro precision, recall and F1 all
	// equal the accuracy.
	Micro
	// Weighted is the mean of the per-class metrics weighted by each
	// class's support (its number of samples in yTrue).
	Weighted
)

// String returns the scikit-learn name of the average: "binary", "macro",
// "micro" or "weighted".
func (a Average) String() string {
	switch a {
	case Binary:
		return "binary"
	case Macro:
		return "macro"
	case Micro:
		return "micro"
	case Weighted:
		return "weighted"
	}
	return fmt.Sprintf("Average(%d)", uint8(a))
}
