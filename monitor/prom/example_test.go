package prom_test

import (
	"bufio"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kilnml/kiln/monitor"
	"github.com/kilnml/kiln/monitor/prom"
)

// rows returns n rows of a numeric column "delay" (0 to 99, plus shift) and
// a categorical column "carrier" (AA, DL, UA in turn).
func rows(n int, shift float64) arrow.RecordBatch {
	delay := array.NewFloat64Builder(memory.DefaultAllocator)
	defer delay.Release()
	carrier := array.NewStringBuilder(memory.DefaultAllocator)
	defer carrier.Release()
	for i := range n {
		delay.Append(float64(i%100) + shift)
		carrier.Append([]string{"AA", "DL", "UA"}[i%3])
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "delay", Type: arrow.PrimitiveTypes.Float64},
		{Name: "carrier", Type: arrow.BinaryTypes.String},
	}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{delay.NewArray(), carrier.NewArray()}, int64(n))
}

// A service registers a Collector of its drift monitor with the registry
// it serves on /metrics; every scrape reads the monitor's counters and its
// last window's verdicts.
func Example() {
	// The reference profile, from the training data.
	ref := rows(1000, 0)
	defer ref.Release()
	pr, err := monitor.NewProfiler(ref.Schema(), monitor.ProfileOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if err := pr.Add(ref); err != nil {
		log.Fatal(err)
	}
	m, err := monitor.New(monitor.Options{Name: "delays", Reference: pr.Profile(), Window: monitor.Tumbling(300)})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(m))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	// Requests whose delays run 30 minutes late: one window of 300 rows.
	live := rows(300, 30)
	defer live.Release()
	if err := m.Observe(live); err != nil {
		log.Fatal(err)
	}

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue // HELP and TYPE lines
		}
		// Print the samples with 3 significant digits.
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %.3g\n", line[:i], v)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// kiln_monitor_column_drift{column="carrier",method="chi2",monitor="delays"} 0
	// kiln_monitor_column_drift{column="delay",method="ks",monitor="delays"} 1
	// kiln_monitor_column_drift_score{column="carrier",method="chi2",monitor="delays"} 0.000461
	// kiln_monitor_column_drift_score{column="delay",method="ks",monitor="delays"} 0.298
	// kiln_monitor_column_p_value{column="carrier",method="chi2",monitor="delays"} 1
	// kiln_monitor_column_p_value{column="delay",method="ks",monitor="delays"} 1.36e-18
	// kiln_monitor_dataset_drift{monitor="delays"} 1
	// kiln_monitor_drifted_columns_share{monitor="delays"} 0.5
	// kiln_monitor_rows_observed_total{monitor="delays"} 300
	// kiln_monitor_window_rows{monitor="delays"} 300
	// kiln_monitor_windows_evaluated_total{monitor="delays"} 1
}
