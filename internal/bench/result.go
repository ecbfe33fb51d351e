package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// result is the outcome of one suite: Kiln's figure and the peer's, both in
// unit, where a larger figure is faster.
type result struct {
	Suite    string
	Kiln     float64
	Peer     float64
	PeerName string
	Unit     string
	// Extra holds suite-specific figures, appended to the JSON object in
	// order after the common fields.
	Extra []extra
}

// extra is one additional named figure of a result.
type extra struct {
	Key   string
	Value float64
}

// ratio is Kiln's speed over the peer's: above 1, Kiln is faster.
func ratio(kiln, peer float64) (float64, error) {
	if !(peer > 0) || math.IsInf(peer, 0) || !(kiln >= 0) || math.IsInf(kiln, 0) {
		return 0, fmt.Errorf("cannot compare speeds %v (kiln) and %v (peer)", kiln, peer)
	}
	return kiln / peer, nil
}

// median returns the median of ds: the middle value, or the mean of the two
// middle values when there is an even number. It does not reorder ds.
func median(ds []time.Duration) (time.Duration, error) {
	if len(ds) == 0 {
		return 0, errors.New("median of no measurements")
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], nil
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2, nil
}

// speed is size bytes over d, in MB/s (1 MB = 10^6 bytes).
func speed(size int64, d time.Duration) float64 {
	if d <= 0 {
		return math.Inf(1)
	}
	return float64(size) / 1e6 / d.Seconds()
}

// round rounds x to the given number of decimal places.
func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// jsonLine renders r as one JSON object on one line, with the common fields
// first in a fixed order: suite, kiln, peer, peer_name, unit, ratio, then the
// extras. Speeds are rounded to 2 decimal places and the ratio to 3.
func (r result) jsonLine() (string, error) {
	q, err := ratio(r.Kiln, r.Peer)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(key string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		val, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("field %s: %w", key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(val)
		return nil
	}
	fields := []struct {
		k string
		v any
	}{
		{"suite", r.Suite},
		{"kiln", round(r.Kiln, 2)},
		{"peer", round(r.Peer, 2)},
		{"peer_name", r.PeerName},
		{"unit", r.Unit},
		{"ratio", round(q, 3)},
	}
	for _, e := range r.Extra {
		fields = append(fields, struct {
			k string
			v any
		}{e.Key, round(e.Value, 2)})
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.k] {
			return "", fmt.Errorf("duplicate field %q", f.k)
		}
		seen[f.k] = true
		if err := field(f.k, f.v); err != nil {
			return "", err
		}
	}
	b.WriteByte('}')
	return b.String(), nil
}

// timings holds the durations measured for both sides of a suite.
type timings struct {
	kiln, peer []time.Duration
}

// speeds turns the median durations into speeds over size bytes.
func (t timings) speeds(size int64) (kiln, peer float64, err error) {
	km, err := median(t.kiln)
	if err != nil {
		return 0, 0, fmt.Errorf("kiln: %w", err)
	}
	pm, err := median(t.peer)
	if err != nil {
		return 0, 0, fmt.Errorf("peer: %w", err)
	}
	return speed(size, km), speed(size, pm), nil
}
