package pipeline

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/google/go-cmp/cmp"
)

// stgSink is a Sink for tests: it keeps the rows as text and records the
// calls it gets.
type stgSink struct {
	mu        sync.Mutex
	schema    *arrow.Schema
	rows      [][]string
	writes    int
	opened    int
	committed int
	aborted   int
	// failWrite, when > 0, makes that Write (1-based) fail.
	failWrite int
	// onWrite, when set, runs at the start of each Write with its number.
	onWrite func(n int)
}

var errSinkWrite = errors.New("test sink: write failed")

func (s *stgSink) Open(ctx context.Context, schema *arrow.Schema) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened++
	s.schema = schema
	return nil
}

func (s *stgSink) Write(ctx context.Context, b arrow.RecordBatch) error {
	s.mu.Lock()
	s.writes++
	n := s.writes
	hook := s.onWrite
	s.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if n == s.failWrite {
		return errSinkWrite
	}
	if !b.Schema().Equal(s.schema) {
		return fmt.Errorf("test sink: batch schema %s, opened with %s", b.Schema(), s.schema)
	}
	rows := stgRows(b)
	s.mu.Lock()
	s.rows = append(s.rows, rows...)
	s.mu.Unlock()
	return nil
}

func (s *stgSink) Commit(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed++
	return nil
}

func (s *stgSink) Abort() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted++
	return nil
}

// state summarizes the calls: "open=1 commit=1 abort=0".
func (s *stgSink) state() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("open=%d commit=%d abort=%d", s.opened, s.committed, s.aborted)
}

// stgValidate binds a Validate stage, opens its quarantine sink (as a run
// would) and applies it to each batch in turn. It returns the rows that
// passed, the step's counts and the first error.
func stgValidate(t *testing.T, opts ValidateOptions, batches ...arrow.RecordBatch) ([][]string, map[string]int64, error) {
	t.Helper()
	mem := checkedAlloc(t)
	step, err := Validate(opts).Bind(mem, batches[0].Schema())
	if err != nil {
		return nil, nil, err
	}
	if s, ok := step.(Sequential); !ok || !s.Sequential() {
		t.Error("Validate step is not Sequential")
	}
	for _, sc := range step.(sidecar).sidecars() {
		if err := sc.sink.Open(context.Background(), sc.schema); err != nil {
			t.Fatal(err)
		}
	}
	rows := [][]string{}
	for _, b := range batches {
		out, err := step.Apply(context.Background(), b)
		if err != nil {
			return rows, step.(Counter).Counts(), err
		}
		if !out.Schema().Equal(step.Schema()) {
			t.Errorf("output schema %s, declared %s", out.Schema(), step.Schema())
		}
		rows = append(rows, stgRows(out)...)
		out.Release()
	}
	return rows, step.(Counter).Counts(), nil
}

func TestValidate(t *testing.T) {
	schema := stgSchema("id:int64", "age:int64", "delay:float64", "origin:string", "code:string", "day:date32")
	rows := `[
	{"id":1,"age":30,"delay":5,"origin":"SEA","code":"AB1","day":"2020-01-01"},
	{"id":2,"age":null,"delay":-100,"origin":"PDX","code":"ab2","day":"2020-01-02"},
	{"id":3,"age":200,"delay":0,"origin":"LAX","code":"CD3","day":"2019-06-01"},
	{"id":4,"age":40,"delay":null,"origin":null,"code":null,"day":null},
	{"id":1,"age":50,"delay":700,"origin":"SEA","code":"EF4","day":"2021-01-01"}
	]`
	ids := func(ids ...string) [][]string {
		out := [][]string{}
		for _, id := range ids {
			out = append(out, []string{id})
		}
		return out
	}
	tests := []struct {
		name   string
		expect []Expectation
		keep   [][]string // ids kept with DropRow
		counts map[string]int64
		reason [][]string // ids and reasons quarantined
	}{
		{name: "not null", expect: []Expectation{NotNull("age")}, keep: ids("1", "3", "4", "1"),
			counts: map[string]int64{"not_null(age)": 1}, reason: [][]string{{"2", "not_null(age)"}}},
		{name: "in range", expect: []Expectation{InRange("delay", -60, 600)}, keep: ids("1", "3", "4"),
			counts: map[string]int64{"in_range(delay, -60, 600)": 2},
			reason: [][]string{{"2", "in_range(delay, -60, 600)"}, {"1", "in_range(delay, -60, 600)"}}},
		{name: "open range", expect: []Expectation{InRange("age", nil, 100)}, keep: ids("1", "2", "4", "1"),
			counts: map[string]int64{"in_range(age, nil, 100)": 1}, reason: [][]string{{"3", "in_range(age, nil, 100)"}}},
		{name: "date range", expect: []Expectation{InRange("day", "2020-01-01", "2020-12-31")}, keep: ids("1", "2", "4"),
			counts: map[string]int64{`in_range(day, "2020-01-01", "2020-12-31")`: 2},
			reason: [][]string{{"3", `in_range(day, "2020-01-01", "2020-12-31")`}, {"1", `in_range(day, "2020-01-01", "2020-12-31")`}}},
		{name: "one of", expect: []Expectation{OneOf("origin", "SEA", "PDX")}, keep: ids("1", "2", "4", "1"),
			counts: map[string]int64{`one_of(origin, "SEA", "PDX")`: 1}, reason: [][]string{{"3", `one_of(origin, "SEA", "PDX")`}}},
		{name: "matches", expect: []Expectation{Matches("code", `^[A-Z]{2}[0-9]$`)}, keep: ids("1", "3", "4", "1"),
			counts: map[string]int64{`matches(code, "^[A-Z]{2}[0-9]$")`: 1}, reason: [][]string{{"2", `matches(code, "^[A-Z]{2}[0-9]$")`}}},
		{name: "unique", expect: []Expectation{Unique("id")}, keep: ids("1", "2", "3", "4"),
			counts: map[string]int64{"unique(id)": 1}, reason: [][]string{{"1", "unique(id)"}}},
		{name: "several", expect: []Expectation{NotNull("age"), InRange("age", 0, 120), InRange("delay", -60, 600), NotNull("origin")},
			keep: ids("1"),
			counts: map[string]int64{"not_null(age)": 1, "in_range(age, 0, 120)": 1, "in_range(delay, -60, 600)": 2,
				"not_null(origin)": 1},
			reason: [][]string{{"2", "not_null(age); in_range(delay, -60, 600)"}, {"3", "in_range(age, 0, 120)"},
				{"4", "not_null(origin)"}, {"1", "in_range(delay, -60, 600)"}}},
		{name: "unique after others", expect: []Expectation{Unique("id"), InRange("delay", -60, 600)},
			// Row 5 (id 1 again) fails the range, so it is not also a duplicate.
			keep:   ids("1", "3", "4"),
			counts: map[string]int64{"unique(id)": 0, "in_range(delay, -60, 600)": 2},
			reason: [][]string{{"2", "in_range(delay, -60, 600)"}, {"1", "in_range(delay, -60, 600)"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedAlloc(t)
			in := stgBatch(t, mem, schema, rows)
			defer in.Release()
			failed := int64(len(tc.reason))

			// DropRow.
			got, counts, err := stgValidate(t, ValidateOptions{Expect: tc.expect, OnFailure: DropRow}, in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.keep, stgProject(got, 0)); d != "" {
				t.Errorf("DropRow kept (-want +got):\n%s", d)
			}
			want := map[string]int64{"rows_failed": failed, "dropped": failed, "quarantined": 0}
			for k, v := range tc.counts {
				want[k] = v
			}
			if d := cmp.Diff(want, counts); d != "" {
				t.Errorf("DropRow counts (-want +got):\n%s", d)
			}

			// QuarantineRow.
			q := &stgSink{}
			got, counts, err = stgValidate(t, ValidateOptions{Expect: tc.expect, OnFailure: QuarantineRow, Quarantine: q}, in)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.keep, stgProject(got, 0)); d != "" {
				t.Errorf("QuarantineRow kept (-want +got):\n%s", d)
			}
			want["dropped"], want["quarantined"] = 0, failed
			if d := cmp.Diff(want, counts); d != "" {
				t.Errorf("QuarantineRow counts (-want +got):\n%s", d)
			}
			wantFields := append(stgFields(schema), "_reason:utf8")
			if failed > 0 && q.schema != nil {
				if d := cmp.Diff(wantFields, stgFields(q.schema)); d != "" {
					t.Errorf("quarantine schema (-want +got):\n%s", d)
				}
			}
			if d := cmp.Diff(tc.reason, stgProject(q.rows, 0, 6)); d != "" && !(len(tc.reason) == 0 && len(q.rows) == 0) {
				t.Errorf("quarantined (-want +got):\n%s", d)
			}
			for i, r := range q.rows {
				if len(r) != len(wantFields) {
					t.Errorf("quarantined row %d has %d columns, want %d", i, len(r), len(wantFields))
				}
			}

			// Stop reports the first failure.
			_, _, err = stgValidate(t, ValidateOptions{Expect: tc.expect}, in)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrValidation) {
				t.Fatalf("Stop: error %v, want a *ValidationError", err)
			}
		})
	}
}

// stgProject keeps the given columns of rows.
func stgProject(rows [][]string, cols ...int) [][]string {
	out := [][]string{}
	for _, r := range rows {
		p := make([]string, len(cols))
		for i, c := range cols {
			p[i] = r[c]
		}
		out = append(out, p)
	}
	return out
}

func TestValidateStop(t *testing.T) {
	mem := checkedAlloc(t)
	schema := stgSchema("id:int64", "age:int64", "name:string")
	b1 := stgBatch(t, mem, schema, `[{"id":1,"age":3,"name":"a"},{"id":2,"age":4,"name":"b"},{"id":3,"age":5,"name":"c"}]`)
	b2 := stgBatch(t, mem, schema, `[{"id":4,"age":6,"name":"d"},{"id":5,"age":null,"name":"x"},{"id":6,"age":99,"name":"x"}]`)
	defer b1.Release()
	defer b2.Release()
	tests := []struct {
		expect []Expectation
		want   ValidationError
		msg    string
	}{
		{[]Expectation{NotNull("age")}, ValidationError{Expectation: "not_null(age)", Column: "age", Null: true, Row: 5},
			`pipeline: validation failed: row 5: column "age": value null fails not_null(age)`},
		{[]Expectation{InRange("age", 0, 50)}, ValidationError{Expectation: "in_range(age, 0, 50)", Column: "age", Value: "99", Row: 6},
			`pipeline: validation failed: row 6: column "age": value "99" fails in_range(age, 0, 50)`},
		{[]Expectation{OneOf("name", "a", "b", "c", "d")}, ValidationError{Expectation: `one_of(name, "a", "b", "c", "d")`, Column: "name", Value: "x", Row: 5}, ""},
		{[]Expectation{Unique("name"), NotNull("id")}, ValidationError{Expectation: "unique(name)", Column: "name", Value: "x", Row: 6}, ""},
	}
	for _, tc := range tests {
		_, counts, err := stgValidate(t, ValidateOptions{Expect: tc.expect, OnFailure: Stop}, b1, b2)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%v: error %v, want *ValidationError", tc.expect[0].Name(), err)
		}
		if d := cmp.Diff(tc.want, *ve); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.want.Expectation, d)
		}
		if tc.msg != "" && err.Error() != tc.msg {
			t.Errorf("message %q, want %q", err, tc.msg)
		}
		if counts["rows_failed"] != 1 || counts[tc.want.Expectation] != 1 {
			t.Errorf("%s: counts %v, want one failure", tc.want.Expectation, counts)
		}
	}
}

// TestValidateUniqueAcrossBatches checks that uniqueness holds for the run,
// and that it works for each kind of column.
func TestValidateUniqueAcrossBatches(t *testing.T) {
	mem := checkedAlloc(t)
	schema := stgSchema("i:int64", "s:string", "f:float64", "b:bool", "t:ts", "u:uint64", "ls:large_string")
	b1 := stgBatch(t, mem, schema, `[
	{"i":1,"s":"a","f":0.5,"b":true,"t":"2020-01-01T00:00:00","u":1,"ls":"a"},
	{"i":2,"s":"","f":-0.0,"b":false,"t":"2020-01-02T00:00:00","u":18446744073709551615,"ls":""},
	{"i":null,"s":null,"f":null,"b":null,"t":null,"u":null,"ls":null}]`)
	b2 := stgBatch(t, mem, schema, `[
	{"i":null,"s":null,"f":null,"b":null,"t":null,"u":null,"ls":null},
	{"i":3,"s":"c","f":0,"b":true,"t":"2020-01-02T00:00:00","u":18446744073709551615,"ls":"c"},
	{"i":3,"s":"a","f":1.5,"b":true,"t":"2020-01-03T00:00:00","u":3,"ls":"a"},
	{"i":1,"s":"d","f":2.5,"b":false,"t":"2020-01-01T00:00:00","u":1,"ls":"d"}]`)
	defer b1.Release()
	defer b2.Release()
	// The rows kept (by their position 0..6 over both batches) for each column.
	for col, want := range map[string][]int{
		"i":  {0, 1, 2, 3, 4},    // second 3 and second 1 dropped
		"s":  {0, 1, 2, 3, 4, 6}, // second "a"
		"f":  {0, 1, 2, 3, 5, 6}, // 0 equals -0
		"b":  {0, 1, 2, 3},
		"t":  {0, 1, 2, 3, 5},
		"u":  {0, 1, 2, 3, 5},
		"ls": {0, 1, 2, 3, 4, 6},
	} {
		got, counts, err := stgValidate(t, ValidateOptions{Expect: []Expectation{Unique(col)}, OnFailure: DropRow}, b1, b2)
		if err != nil {
			t.Fatal(err)
		}
		all := append(stgRows(b1), stgRows(b2)...)
		var wantRows [][]string
		for _, i := range want {
			wantRows = append(wantRows, all[i])
		}
		if d := cmp.Diff(wantRows, got); d != "" {
			t.Errorf("unique(%s) kept (-want +got):\n%s", col, d)
		}
		if n := counts["unique("+col+")"]; n != int64(7-len(want)) {
			t.Errorf("unique(%s) count %d, want %d", col, n, 7-len(want))
		}
	}
}

func TestValidateBindErrors(t *testing.T) {
	schema := stgSchema("id:int64", "name:string", "_reason:string")
	q := &stgSink{}
	tests := []struct {
		opts     ValidateOptions
		want     string
		sentinel error
	}{
		{ValidateOptions{}, "no expectations", nil},
		{ValidateOptions{Expect: []Expectation{NotNull("id")}, OnFailure: QuarantineRow}, "Quarantine is nil", nil},
		{ValidateOptions{Expect: []Expectation{NotNull("id")}, OnFailure: QuarantineRow, Quarantine: q}, `already has a "_reason" column`, ErrSchema},
		{ValidateOptions{Expect: []Expectation{NotNull("id")}, OnFailure: Action(7)}, "unknown OnFailure Action(7)", nil},
		{ValidateOptions{Expect: []Expectation{NotNull("nope")}}, `not_null(nope): pipeline: schema mismatch: no column "nope" (columns: id, name, _reason)`, ErrSchema},
		{ValidateOptions{Expect: []Expectation{Unique("nope")}}, `no column "nope"`, ErrSchema},
		{ValidateOptions{Expect: []Expectation{InRange("id", "a", "z")}}, `"a" is not an integer`, ErrSchema},
		{ValidateOptions{Expect: []Expectation{InRange("id", nil, nil)}}, `both bounds are nil`, nil},
		{ValidateOptions{Expect: []Expectation{OneOf("name", 1, 2)}}, `1 is not a string`, ErrSchema},
		{ValidateOptions{Expect: []Expectation{Matches("id", "x")}}, `a pattern applies to string columns only`, ErrSchema},
		{ValidateOptions{Expect: []Expectation{Matches("name", "(")}}, "matches(name): error parsing regexp", nil},
		{ValidateOptions{Expect: []Expectation{nil}}, "nil expectation", nil},
	}
	for _, tc := range tests {
		_, err := Validate(tc.opts).Bind(checkedAlloc(t), schema)
		stgWantErr(t, err, tc.want, tc.sentinel)
	}
}

func TestValidateQuarantineWriteError(t *testing.T) {
	mem := checkedAlloc(t)
	in := stgBatch(t, mem, stgSchema("a:int64"), `[{"a":1},{"a":null}]`)
	defer in.Release()
	q := &stgSink{failWrite: 1}
	_, _, err := stgValidate(t, ValidateOptions{Expect: []Expectation{NotNull("a")}, OnFailure: QuarantineRow, Quarantine: q}, in)
	if !errors.Is(err, errSinkWrite) {
		t.Errorf("error %v, want the sink's", err)
	}
}

// TestValidateSeattleWeather runs a real file through Validate with a
// quarantine and checks the counts against encoding/csv.
func TestValidateSeattleWeather(t *testing.T) {
	const path = "../testdata/seattle-weather.csv"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// date,precipitation,temp_max,temp_min,wind,weather
	var wantKept, wantQuarantined int64
	wantReasons := map[string]int64{}
	for _, r := range recs[1:] {
		var reasons []string
		if r[5] != "rain" && r[5] != "sun" && r[5] != "fog" && r[5] != "drizzle" {
			reasons = append(reasons, `one_of(weather, "rain", "sun", "fog", "drizzle")`)
		}
		if tmax, err := strconv.ParseFloat(r[2], 64); err != nil || tmax < -5 || tmax > 30 {
			reasons = append(reasons, "in_range(temp_max, -5, 30)")
		}
		if len(reasons) == 0 {
			wantKept++
		} else {
			wantQuarantined++
			for _, x := range reasons {
				wantReasons[x]++
			}
		}
	}
	if wantQuarantined == 0 || wantReasons["in_range(temp_max, -5, 30)"] == 0 {
		t.Fatal("reference finds nothing to quarantine; the test would prove nothing")
	}
	mem := checkedAlloc(t)
	q := &stgSink{}
	out := &stgSink{}
	p := New(CSV(path, CSVOptions{Allocator: mem, BatchRows: 128}),
		Validate(ValidateOptions{
			Expect: []Expectation{
				NotNull("date"), Unique("date"),
				OneOf("weather", "rain", "sun", "fog", "drizzle"),
				InRange("temp_max", -5, 30),
			},
			OnFailure:  QuarantineRow,
			Quarantine: q,
		}))
	stats, err := p.Run(context.Background(), out, RunOptions{Allocator: mem, Parallelism: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(len(out.rows)); got != wantKept {
		t.Errorf("kept %d rows, want %d", got, wantKept)
	}
	if got := int64(len(q.rows)); got != wantQuarantined {
		t.Errorf("quarantined %d rows, want %d", got, wantQuarantined)
	}
	c := stats.Stages[0].Counts
	for k, v := range wantReasons {
		if c[k] != v {
			t.Errorf("count %s = %d, want %d", k, c[k], v)
		}
	}
	if c["quarantined"] != wantQuarantined || c["rows_failed"] != wantQuarantined || c["unique(date)"] != 0 {
		t.Errorf("counts %v", c)
	}
	if q.state() != "open=1 commit=1 abort=0" || out.state() != "open=1 commit=1 abort=0" {
		t.Errorf("sinks: quarantine %s, output %s", q.state(), out.state())
	}
}
