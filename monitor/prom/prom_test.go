package prom

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/kilnml/kiln/monitor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// batch returns rows of x0 ~ N(shift, 1), x1 ~ N(0, 1) and s in {a, b, c}.
func batch(rng *rand.Rand, rows int, shift float64) arrow.RecordBatch {
	mem := memory.DefaultAllocator
	b0, b1, bs := array.NewFloat64Builder(mem), array.NewFloat64Builder(mem), array.NewStringBuilder(mem)
	for i := 0; i < rows; i++ {
		b0.Append(rng.NormFloat64() + shift)
		b1.Append(rng.NormFloat64())
		bs.Append(string(rune('a' + rng.IntN(3))))
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x0", Type: arrow.PrimitiveTypes.Float64},
		{Name: "x1", Type: arrow.PrimitiveTypes.Float64},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{b0.NewArray(), b1.NewArray(), bs.NewArray()}, int64(rows))
}

func TestCollector(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref := batch(rng, 5000, 0)
	pr, err := monitor.NewProfiler(ref.Schema(), monitor.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pr.Add(ref); err != nil {
		t.Fatal(err)
	}
	m, err := monitor.New(monitor.Options{Name: "svc", Reference: pr.Profile(), Window: monitor.Tumbling(1000)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	perf, err := monitor.NewPerformance(monitor.PerformanceOptions{Name: "clf", Task: monitor.Classification, Window: monitor.Tumbling(4)})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(m)
	c.AddPerformance(perf)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	// Before any window: only the counters.
	if n := testutil.CollectAndCount(c); n != 2+5 {
		t.Fatalf("%d metrics before the first window", n)
	}
	if err := m.Observe(batch(rng, 1000, 3)); err != nil {
		t.Fatal(err)
	}
	for i, l := range []float64{0, 1, 1, 1} {
		id := strconv.Itoa(i)
		perf.Predict(id, 1)
		perf.Label(id, l)
	}
	perf.Predict("late", 1)
	expected := `
# HELP kiln_monitor_rows_observed_total Rows observed by the drift monitor.
# TYPE kiln_monitor_rows_observed_total counter
kiln_monitor_rows_observed_total{monitor="svc"} 1000
# HELP kiln_monitor_windows_evaluated_total Windows evaluated by the drift monitor.
# TYPE kiln_monitor_windows_evaluated_total counter
kiln_monitor_windows_evaluated_total{monitor="svc"} 1
# HELP kiln_monitor_window_rows Rows in the last evaluated window.
# TYPE kiln_monitor_window_rows gauge
kiln_monitor_window_rows{monitor="svc"} 1000
# HELP kiln_monitor_dataset_drift 1 when the dataset drifted in the last window, else 0.
# TYPE kiln_monitor_dataset_drift gauge
kiln_monitor_dataset_drift{monitor="svc"} 0
# HELP kiln_monitor_drifted_columns_share Share of the monitored columns that drifted in the last window (ratio).
# TYPE kiln_monitor_drifted_columns_share gauge
kiln_monitor_drifted_columns_share{monitor="svc"} 0.3333333333333333
# HELP kiln_monitor_column_drift 1 when the column drifted in the last window, else 0.
# TYPE kiln_monitor_column_drift gauge
kiln_monitor_column_drift{column="s",method="js",monitor="svc"} 0
kiln_monitor_column_drift{column="x0",method="wasserstein_norm",monitor="svc"} 1
kiln_monitor_column_drift{column="x1",method="wasserstein_norm",monitor="svc"} 0
# HELP kiln_monitor_performance_accuracy Accuracy of the joined predictions in the last window (classification, ratio).
# TYPE kiln_monitor_performance_accuracy gauge
kiln_monitor_performance_accuracy{monitor="clf"} 0.75
# HELP kiln_monitor_labels_joined_total Labels joined with their prediction.
# TYPE kiln_monitor_labels_joined_total counter
kiln_monitor_labels_joined_total{monitor="clf"} 4
# HELP kiln_monitor_labels_expired_total Labels dropped because they came later than the horizon after their prediction.
# TYPE kiln_monitor_labels_expired_total counter
kiln_monitor_labels_expired_total{monitor="clf"} 0
# HELP kiln_monitor_predictions_total Predictions recorded.
# TYPE kiln_monitor_predictions_total counter
kiln_monitor_predictions_total{monitor="clf"} 5
`
	names := []string{"kiln_monitor_rows_observed_total", "kiln_monitor_windows_evaluated_total", "kiln_monitor_window_rows",
		"kiln_monitor_dataset_drift", "kiln_monitor_drifted_columns_share", "kiln_monitor_column_drift",
		"kiln_monitor_performance_accuracy", "kiln_monitor_labels_joined_total", "kiln_monitor_labels_expired_total",
		"kiln_monitor_predictions_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(expected), names...); err != nil {
		t.Fatal(err)
	}
	// The scores are the last report's statistics.
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	last := m.Last()
	found := 0
	for _, f := range fams {
		if f.GetName() != "kiln_monitor_column_drift_score" {
			continue
		}
		for _, mt := range f.GetMetric() {
			col := ""
			for _, l := range mt.GetLabel() {
				if l.GetName() == "column" {
					col = l.GetValue()
				}
			}
			for _, cd := range last.Columns {
				if cd.Column == col {
					found++
					if mt.GetGauge().GetValue() != cd.Statistic {
						t.Errorf("%s score %v, report %v", col, mt.GetGauge().GetValue(), cd.Statistic)
					}
				}
			}
		}
	}
	if found != 3 {
		t.Fatalf("%d scores", found)
	}
	if n := testutil.CollectAndCount(c, "kiln_monitor_column_p_value"); n != 0 {
		t.Fatalf("%d p-values for distance methods", n)
	}
}
