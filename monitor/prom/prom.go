// Package prom exports monitor.Monitor and monitor.Performance state as
// Prometheus metrics.
//
// A Collector reads each monitor's counters and its last evaluated window
// when it is scraped. Metric names start with kiln_monitor_, values are in
// base units (counts, ratios in [0, 1], p-values, distances), and labels
// have low cardinality: monitor (Options.Name), column and method.
//
//	reg := prometheus.NewRegistry()
//	c := prom.NewCollector(m)
//	c.AddPerformance(perf)
//	reg.MustRegister(c)
package prom

import (
	"math"
	"sync"

	"github.com/kilnml/kiln/monitor"
	"github.com/prometheus/client_golang/prometheus"
)

const ns = "kiln_monitor_"

var (
	rowsObserved = prometheus.NewDesc(ns+"rows_observed_total",
		"Rows observed by the drift monitor.", []string{"monitor"}, nil)
	windowsEvaluated = prometheus.NewDesc(ns+"windows_evaluated_total",
		"Windows evaluated by the drift monitor.", []string{"monitor"}, nil)
	windowRows = prometheus.NewDesc(ns+"window_rows",
		"Rows in the last evaluated window.", []string{"monitor"}, nil)
	columnScore = prometheus.NewDesc(ns+"column_drift_score",
		"Drift statistic of a column in the last window (the method's test statistic or distance).",
		[]string{"monitor", "column", "method"}, nil)
	columnDrift = prometheus.NewDesc(ns+"column_drift",
		"1 when the column drifted in the last window, else 0.", []string{"monitor", "column", "method"}, nil)
	columnP = prometheus.NewDesc(ns+"column_p_value",
		"P-value of the column's drift test in the last window (test methods only).",
		[]string{"monitor", "column", "method"}, nil)
	datasetDrift = prometheus.NewDesc(ns+"dataset_drift",
		"1 when the dataset drifted in the last window, else 0.", []string{"monitor"}, nil)
	driftedShare = prometheus.NewDesc(ns+"drifted_columns_share",
		"Share of the monitored columns that drifted in the last window (ratio).", []string{"monitor"}, nil)
	predictionDrift = prometheus.NewDesc(ns+"prediction_drift",
		"1 when the prediction column drifted in the last window, else 0.", []string{"monitor", "column", "method"}, nil)
	predictionScore = prometheus.NewDesc(ns+"prediction_drift_score",
		"Drift statistic of the prediction column in the last window.", []string{"monitor", "column", "method"}, nil)

	perfAccuracy = prometheus.NewDesc(ns+"performance_accuracy",
		"Accuracy of the joined predictions in the last window (classification, ratio).", []string{"monitor"}, nil)
	perfRMSE = prometheus.NewDesc(ns+"performance_rmse",
		"Root mean squared error of the joined predictions in the last window (regression).", []string{"monitor"}, nil)
	perfMAE = prometheus.NewDesc(ns+"performance_mae",
		"Mean absolute error of the joined predictions in the last window (regression).", []string{"monitor"}, nil)
	perfWindowLabels = prometheus.NewDesc(ns+"performance_window_labels",
		"Labels joined in the last window.", []string{"monitor"}, nil)
	labelsJoined = prometheus.NewDesc(ns+"labels_joined_total",
		"Labels joined with their prediction.", []string{"monitor"}, nil)
	labelsExpired = prometheus.NewDesc(ns+"labels_expired_total",
		"Labels dropped because they came later than the horizon after their prediction.", []string{"monitor"}, nil)
	labelsUnmatched = prometheus.NewDesc(ns+"labels_unmatched_total",
		"Labels dropped because their prediction did not come within the horizon.", []string{"monitor"}, nil)
	pendingEvicted = prometheus.NewDesc(ns+"pending_evicted_total",
		"Pending predictions and labels evicted by the MaxPending bound.", []string{"monitor"}, nil)
	predictionsTotal = prometheus.NewDesc(ns+"predictions_total",
		"Predictions recorded.", []string{"monitor"}, nil)
)

// Collector is a prometheus.Collector of monitors. It is safe for
// concurrent use; monitors may be added while it is registered.
type Collector struct {
	mu    sync.Mutex
	ms    []*monitor.Monitor
	perfs []*monitor.Performance
}

// NewCollector returns a Collector of the drift monitors ms.
func NewCollector(ms ...*monitor.Monitor) *Collector {
	return &Collector{ms: append([]*monitor.Monitor(nil), ms...)}
}

// Add adds drift monitors.
func (c *Collector) Add(ms ...*monitor.Monitor) {
	c.mu.Lock()
	c.ms = append(c.ms, ms...)
	c.mu.Unlock()
}

// AddPerformance adds performance monitors.
func (c *Collector) AddPerformance(ps ...*monitor.Performance) {
	c.mu.Lock()
	c.perfs = append(c.perfs, ps...)
	c.mu.Unlock()
}

// Describe sends the descriptors of every metric the Collector may export.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{rowsObserved, windowsEvaluated, windowRows, columnScore, columnDrift,
		columnP, datasetDrift, driftedShare, predictionDrift, predictionScore, perfAccuracy, perfRMSE, perfMAE,
		perfWindowLabels, labelsJoined, labelsExpired, labelsUnmatched, pendingEvicted, predictionsTotal} {
		ch <- d
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Collect sends the current metrics. Window metrics come from each
// monitor's last evaluated window and are absent before the first; NaN
// statistics (a column without values in the window) are left out.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ms := append([]*monitor.Monitor(nil), c.ms...)
	ps := append([]*monitor.Performance(nil), c.perfs...)
	c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		if !math.IsNaN(v) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, m := range ms {
		name := m.Name()
		st := m.Stats()
		counter(rowsObserved, st.Rows, name)
		counter(windowsEvaluated, st.Windows, name)
		r := m.Last()
		if r == nil {
			continue
		}
		gauge(windowRows, float64(r.Rows), name)
		gauge(datasetDrift, b2f(r.DatasetDrift), name)
		gauge(driftedShare, r.Share, name)
		for _, col := range r.Columns {
			method := string(col.Method)
			gauge(columnScore, col.Statistic, name, col.Column, method)
			gauge(columnDrift, b2f(col.Drift), name, col.Column, method)
			if col.PValue != nil {
				gauge(columnP, *col.PValue, name, col.Column, method)
			}
		}
		if p := r.Prediction; p != nil {
			gauge(predictionDrift, b2f(p.Drift), name, p.Column, string(p.Method))
			gauge(predictionScore, p.Statistic, name, p.Column, string(p.Method))
		}
	}
	for _, p := range ps {
		name := p.Name()
		st := p.Stats()
		counter(predictionsTotal, st.Predictions, name)
		counter(labelsJoined, st.Joined, name)
		counter(labelsExpired, st.Expired, name)
		counter(labelsUnmatched, st.Unmatched, name)
		counter(pendingEvicted, st.Evicted, name)
		if st.Windows == 0 {
			continue
		}
		r := p.Last()
		gauge(perfWindowLabels, float64(r.Joined), name)
		if r.Joined == 0 {
			continue
		}
		if r.Task == monitor.Classification {
			gauge(perfAccuracy, r.Accuracy, name)
		} else {
			gauge(perfRMSE, r.RMSE, name)
			gauge(perfMAE, r.MAE, name)
		}
	}
}
