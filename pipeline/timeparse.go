package pipeline

import (
	"errors"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// Dates and timestamps in the ISO 8601 forms that CSV and NDJSON exports
// use are parsed here by hand: time.Parse costs several times more per value
// and dominates ingestion of time-heavy files.

var (
	errNotDate      = errors.New("not a date (want YYYY-MM-DD)")
	errNotTimestamp = errors.New("not a timestamp (want YYYY-MM-DD[ T]hh:mm[:ss[.fffffffff]][Z|±hh:mm] or a configured layout)")
	errTSRange      = errors.New("timestamp out of range for its unit")
)

// daysFromCivil returns the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (the era-based algorithm from H. Hinnant's
// "chrono-compatible low-level date algorithms").
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func digits2(b []byte) (int64, bool) {
	c0, c1 := b[0]-'0', b[1]-'0'
	if c0 > 9 || c1 > 9 {
		return 0, false
	}
	return int64(c0)*10 + int64(c1), true
}

var daysIn = [13]int64{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// parseISODate parses YYYY-MM-DD at the start of b and returns the days
// since the epoch.
func parseISODate(b []byte) (int64, bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	hi, ok1 := digits2(b[0:2])
	lo, ok2 := digits2(b[2:4])
	m, ok3 := digits2(b[5:7])
	d, ok4 := digits2(b[8:10])
	if !(ok1 && ok2 && ok3 && ok4) || m < 1 || m > 12 || d < 1 || d > daysIn[m] {
		return 0, false
	}
	y := hi*100 + lo
	if m == 2 && d == 29 && !(y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// parseISOTimestamp parses an ISO 8601 timestamp: a date, 'T' or ' ', hh:mm,
// optional :ss and a fraction of up to 9 digits, then an optional zone (Z,
// ±hh:mm, ±hhmm, ±hh). A bare date is midnight. It returns seconds and
// nanoseconds since the epoch in UTC and whether the text carried a zone.
func parseISOTimestamp(b []byte) (sec int64, nsec int64, zoned bool, ok bool) {
	days, ok := parseISODate(b)
	if !ok {
		return 0, 0, false, false
	}
	return isoTimeOfDay(b, days)
}

// isoTimeOfDay parses what follows the date of an ISO 8601 timestamp whose
// date part, b[:10], is days since the epoch.
func isoTimeOfDay(b []byte, days int64) (sec int64, nsec int64, zoned bool, ok bool) {
	sec = days * 86400
	if len(b) == 10 {
		return sec, 0, false, true
	}
	if len(b) < 16 || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' {
		return 0, 0, false, false
	}
	hh, ok1 := digits2(b[11:13])
	mm, ok2 := digits2(b[14:16])
	if !ok1 || !ok2 || hh > 23 || mm > 59 {
		return 0, 0, false, false
	}
	sec += hh*3600 + mm*60
	i := 16
	if i < len(b) && b[i] == ':' {
		if len(b) < i+3 {
			return 0, 0, false, false
		}
		ss, ok := digits2(b[i+1 : i+3])
		if !ok || ss > 60 {
			return 0, 0, false, false
		}
		sec += ss
		i += 3
		if i < len(b) && (b[i] == '.' || b[i] == ',') {
			i++
			start := i
			var frac int64
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				if i-start < 9 {
					frac = frac*10 + int64(b[i]-'0')
				}
				i++
			}
			n := i - start
			if n == 0 {
				return 0, 0, false, false
			}
			for ; n < 9; n++ {
				frac *= 10
			}
			nsec = frac
		}
	}
	if i == len(b) {
		return sec, nsec, false, true
	}
	switch b[i] {
	case 'Z', 'z':
		if i+1 != len(b) {
			return 0, 0, false, false
		}
		return sec, nsec, true, true
	case '+', '-':
		sign := int64(1)
		if b[i] == '-' {
			sign = -1
		}
		z := b[i+1:]
		var oh, om int64
		var ok bool
		switch {
		case len(z) == 2:
			oh, ok = digits2(z)
		case len(z) == 4:
			oh, ok = digits2(z[0:2])
			if ok {
				om, ok = digits2(z[2:4])
			}
		case len(z) == 5 && z[2] == ':':
			oh, ok = digits2(z[0:2])
			if ok {
				om, ok = digits2(z[3:5])
			}
		}
		if !ok || oh > 23 || om > 59 {
			return 0, 0, false, false
		}
		return sec - sign*(oh*3600+om*60), nsec, true, true
	}
	return 0, 0, false, false
}

// toUnit converts seconds and nanoseconds to a count of unit, reporting
// overflow.
func toUnit(sec, nsec int64, unit arrow.TimeUnit) (int64, bool) {
	var mul, div int64
	switch unit {
	case arrow.Second:
		return sec, true
	case arrow.Millisecond:
		mul, div = 1e3, 1e6
	case arrow.Microsecond:
		mul, div = 1e6, 1e3
	default:
		mul, div = 1e9, 1
	}
	if sec > math.MaxInt64/mul-1 || sec < math.MinInt64/mul+1 {
		return 0, false
	}
	return sec*mul + nsec/div, true
}

// tsParser parses timestamps as ISO 8601 first, then with extra layouts.
type tsParser struct {
	layouts []string
	loc     *time.Location // zone of naive values parsed by layouts
}

// parse returns seconds, nanoseconds and whether a zone was present.
func (p *tsParser) parse(b []byte) (int64, int64, bool, bool) {
	if sec, nsec, zoned, ok := parseISOTimestamp(b); ok {
		return sec, nsec, zoned, true
	}
	if len(p.layouts) == 0 {
		return 0, 0, false, false
	}
	s := string(b)
	for _, l := range p.layouts {
		t, err := time.ParseInLocation(l, s, time.UTC)
		if err == nil {
			_, off := t.Zone()
			zoned := off != 0 || t.Location() != time.UTC || hasZone(l)
			return t.Unix(), int64(t.Nanosecond()), zoned, true
		}
	}
	return 0, 0, false, false
}

// hasZone reports whether a Go time layout carries a zone.
func hasZone(layout string) bool {
	return strings.Contains(layout, "Z07") || strings.Contains(layout, "-07") || strings.Contains(layout, "MST")
}
