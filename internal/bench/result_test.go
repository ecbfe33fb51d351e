package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"one", []time.Duration{7}, 7},
		{"odd unsorted", []time.Duration{9, 1, 5}, 5},
		{"even takes the mean of the middle two", []time.Duration{4, 1, 3, 10}, 3},
		{"even rounds down", []time.Duration{1, 2}, 1},
		{"outlier does not move it", []time.Duration{time.Second, time.Second, time.Hour}, time.Second},
		{"duplicates", []time.Duration{2, 2, 2, 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]time.Duration(nil), tt.in...)
			got, err := median(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("median(%v) = %v, want %v", orig, got, tt.want)
			}
			if diff := cmp.Diff(orig, tt.in); diff != "" {
				t.Errorf("median reordered its input (-before +after):\n%s", diff)
			}
		})
	}
	if _, err := median(nil); err == nil {
		t.Error("median(nil) returned no error")
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		kiln, peer float64
		want       float64
		wantErr    bool
	}{
		{200, 100, 2, false},
		{50, 100, 0.5, false},
		{0, 100, 0, false},
		{100, 0, 0, true},
		{100, -1, 0, true},
		{math.NaN(), 1, 0, true},
		{1, math.NaN(), 0, true},
		{math.Inf(1), 1, 0, true},
		{1, math.Inf(1), 0, true},
	}
	for _, tt := range tests {
		got, err := ratio(tt.kiln, tt.peer)
		if (err != nil) != tt.wantErr {
			t.Errorf("ratio(%v, %v) error = %v, want error %v", tt.kiln, tt.peer, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ratio(%v, %v) = %v, want %v", tt.kiln, tt.peer, got, tt.want)
		}
	}
}

func TestSpeed(t *testing.T) {
	if got := speed(106_000_000, 2*time.Second); got != 53 {
		t.Errorf("speed(106 MB, 2 s) = %v, want 53", got)
	}
	if got := speed(1, 0); !math.IsInf(got, 1) {
		t.Errorf("speed(1, 0) = %v, want +Inf", got)
	}
}

func TestTimingsSpeeds(t *testing.T) {
	tm := timings{
		kiln: []time.Duration{time.Second, 3 * time.Second, 2 * time.Second},
		peer: []time.Duration{4 * time.Second, 4 * time.Second, 100 * time.Second},
	}
	k, p, err := tm.speeds(8e6)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float64{4, 2}, []float64{k, p}); diff != "" {
		t.Errorf("speeds (-want +got):\n%s", diff)
	}
	if _, _, err := (timings{kiln: tm.kiln}).speeds(1); err == nil {
		t.Error("speeds with no peer runs returned no error")
	}
}

func TestJSONLine(t *testing.T) {
	tests := []struct {
		name    string
		r       result
		want    string
		wantErr bool
	}{
		{
			name: "common fields in order, rounded",
			r:    result{Suite: "ingest", Kiln: 301.23456, Peer: 130.1, PeerName: "duckdb", Unit: "MB/s"},
			want: `{"suite":"ingest","kiln":301.23,"peer":130.1,"peer_name":"duckdb","unit":"MB/s","ratio":2.315}`,
		},
		{
			name: "extras follow",
			r: result{Suite: "csv2parquet", Kiln: 100, Peer: 200, PeerName: "duckdb", Unit: "MB/s",
				Extra: []extra{{"kiln_peak_rss_mb", 251.123}, {"peer_process", 80}}},
			want: `{"suite":"csv2parquet","kiln":100,"peer":200,"peer_name":"duckdb","unit":"MB/s","ratio":0.5,"kiln_peak_rss_mb":251.12,"peer_process":80}`,
		},
		{
			name: "strings are escaped",
			r:    result{Suite: `a"b`, Kiln: 1, Peer: 1, PeerName: "x\ny", Unit: "MB/s"},
			want: `{"suite":"a\"b","kiln":1,"peer":1,"peer_name":"x\ny","unit":"MB/s","ratio":1}`,
		},
		{
			name:    "zero peer speed",
			r:       result{Suite: "s", Kiln: 1, Peer: 0, PeerName: "p", Unit: "MB/s"},
			wantErr: true,
		},
		{
			name:    "extra may not shadow a common field",
			r:       result{Suite: "s", Kiln: 1, Peer: 1, PeerName: "p", Unit: "MB/s", Extra: []extra{{"ratio", 3}}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.jsonLine()
			if (err != nil) != tt.wantErr {
				t.Fatalf("jsonLine() error = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("jsonLine() (-want +got):\n%s", diff)
			}
			if strings.Contains(got, "\n") {
				t.Errorf("jsonLine() spans several lines: %q", got)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil {
				t.Errorf("jsonLine() is not valid JSON: %v", err)
			}
		})
	}
}

func TestLastLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\nb\n", "b"},
		{"a\nb", "b"},
		{"only", "only"},
		{"x\r\n{\"rows\":1}\r\n\n", `{"rows":1}`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(lastLine([]byte(tt.in))); got != tt.want {
			t.Errorf("lastLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSQLString(t *testing.T) {
	if got, want := sqlString("/tmp/it's.csv"), `'/tmp/it''s.csv'`; got != want {
		t.Errorf("sqlString = %s, want %s", got, want)
	}
}

func TestSameRows(t *testing.T) {
	seen := int64(-1)
	if err := sameRows("kiln", &seen, 10); err != nil {
		t.Fatal(err)
	}
	if err := sameRows("kiln", &seen, 10); err != nil {
		t.Fatal(err)
	}
	if err := sameRows("kiln", &seen, 11); err == nil {
		t.Error("a changed row count was not reported")
	}
}
