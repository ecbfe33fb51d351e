package monitor

import (
	"time"
)

// Method names a drift statistic.
type Method string

// The drift methods. Each is defined where it is computed: KS2Samp,
// Chi2Contingency, ZTestProportions, Wasserstein, PSI, JensenShannon,
// KLDivergence, Hellinger, AndersonKSamp, CramerVonMises2, EnergyDistance.
const (
	MethodKS              Method = "ks"               // numeric; p-value < threshold (0.05)
	MethodChi2            Method = "chi2"             // categorical; p-value < threshold (0.05)
	MethodZTest           Method = "ztest"            // binary categorical; p-value < threshold (0.05)
	MethodWasserstein     Method = "wasserstein"      // numeric; distance > threshold (no default: set one)
	MethodWassersteinNorm Method = "wasserstein_norm" // numeric; distance / reference std > threshold (0.1)
	MethodPSI             Method = "psi"              // both; PSI > threshold (0.1)
	MethodJS              Method = "js"               // both; Jensen–Shannon distance > threshold (0.1)
	MethodKL              Method = "kl"               // both; KL divergence > threshold (0.1)
	MethodHellinger       Method = "hellinger"        // both; Hellinger distance > threshold (0.1)
	MethodAnderson        Method = "anderson"         // numeric, exact data only; p-value < threshold (0.05)
	MethodCvM             Method = "cvm"              // numeric, exact data only; p-value < threshold (0.05)
	MethodEnergy          Method = "energy"           // numeric, exact data only; distance > threshold (0.1)
)

// DriftOptions choose the method and threshold of each column and how
// column verdicts add up to a dataset verdict.
type DriftOptions struct {
	// Methods overrides the default method of the named columns.
	Methods map[string]Method
	// Thresholds overrides the method's default threshold for the named
	// columns.
	Thresholds map[string]float64
	// Share is the share of drifted columns at or above which the dataset
	// drifts (0: 0.5).
	Share float64
	// Strict makes a column drift only when the whole error interval of its
	// statistic is past the threshold. By default the estimate decides and
	// an interval that straddles the threshold marks the verdict Uncertain.
	Strict bool
	// SmallReference is the reference size (non-null values) up to which the
	// default methods are the tests (KS, chi-square, Z); above it they are
	// the distances (normalized Wasserstein, Jensen–Shannon). 0: 1000.
	SmallReference int64
}

// Distribution is a column's distribution as a report draws it: shares of
// the values in bins (numeric, between Edges) or per category.
type Distribution struct {
	// Edges are the inner bin edges of a numeric column: bin i holds
	// Edges[i-1] <= x < Edges[i], the first and last bins are open.
	Edges []float64 `json:"edges,omitempty"`
	// Min and Max bound a numeric column's values.
	Min float64 `json:"min,omitempty"`
	Max float64 `json:"max,omitempty"`
	// Categories name the categories of a categorical column, in order.
	Categories []string `json:"categories,omitempty"`
	// Shares are the fractions of values per bin or category (sum 1).
	Shares []float64 `json:"shares"`
}

// ColumnDrift is the verdict on one column.
type ColumnDrift struct {
	Column string `json:"column"`
	Kind   Kind   `json:"type"`
	Method Method `json:"method"`
	// Statistic is the method's value: a p-value's test statistic or a
	// distance.
	Statistic float64 `json:"statistic"`
	// PValue is the test's p-value; nil for distances.
	PValue *float64 `json:"p_value"`
	// Threshold is what Statistic (distances) or PValue (tests) is compared
	// with.
	Threshold float64 `json:"threshold"`
	Drift     bool    `json:"drift"`
	// Uncertain is set when the statistic comes from sketches or bins and
	// its error interval [Low, High] straddles the threshold.
	Uncertain bool `json:"uncertain,omitempty"`
	// Low and High bound Statistic when it is computed from profiles or
	// window bins; both equal Statistic when it is exact.
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// RefCount and CurCount are the non-null values compared.
	RefCount int64 `json:"ref_count"`
	CurCount int64 `json:"cur_count"`
	// Reference and Current are the two distributions, for charts.
	Reference Distribution `json:"reference"`
	Current   Distribution `json:"current"`
	// Stats holds further statistics by name (ks_d, ks_p, wasserstein,
	// wasserstein_norm, psi, js, chi2, chi2_p, ...).
	Stats map[string]float64 `json:"stats,omitempty"`
}

// Report is the drift verdict on a dataset or a window.
type Report struct {
	Name  string    `json:"name,omitempty"`
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Rows is the number of current rows compared.
	Rows int64 `json:"rows"`
	// Columns holds the verdict per column, in the reference's order.
	Columns []ColumnDrift `json:"columns"`
	// Prediction is the prediction column's verdict (prediction drift),
	// when one was named; it does not count towards Share.
	Prediction *ColumnDrift `json:"prediction,omitempty"`
	// Drifted is the number of drifted columns and Share their fraction.
	Drifted      int     `json:"drifted"`
	Share        float64 `json:"share"`
	DatasetDrift bool    `json:"dataset_drift"`
	// ShareThreshold is the share at or above which the dataset drifts.
	ShareThreshold float64 `json:"share_threshold"`
}
