package monitor

import (
	"encoding/json"
	"io"
	"math"
)

// WriteJSON writes the report as one indented JSON object. Statistics that
// are not numbers (NaN, ±Inf: a column with no values on one side, a
// normalized distance over a constant reference) are written as null.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.jsonSafe())
}

// jsonSafe returns a copy of r whose non-finite figures are replaced so
// that encoding/json accepts it.
func (r *Report) jsonSafe() *jsonReport {
	out := &jsonReport{Report: *r}
	out.cols = make([]jsonColumn, len(r.Columns))
	for i := range r.Columns {
		out.cols[i] = safeColumn(r.Columns[i])
	}
	if r.Prediction != nil {
		p := safeColumn(*r.Prediction)
		out.pred = &p
	}
	return out
}

// jsonReport encodes a Report with safe columns.
type jsonReport struct {
	Report
	cols []jsonColumn
	pred *jsonColumn
}

func (j *jsonReport) MarshalJSON() ([]byte, error) {
	type plain Report // without methods
	return json.Marshal(struct {
		plain
		Columns    []jsonColumn `json:"columns"`
		Prediction *jsonColumn  `json:"prediction,omitempty"`
	}{plain(j.Report), j.cols, j.pred})
}

// jsonColumn is a ColumnDrift whose floats may be null.
type jsonColumn struct {
	Column    string              `json:"column"`
	Kind      Kind                `json:"type"`
	Method    Method              `json:"method"`
	Statistic *float64            `json:"statistic"`
	PValue    *float64            `json:"p_value"`
	Threshold float64             `json:"threshold"`
	Drift     bool                `json:"drift"`
	Uncertain bool                `json:"uncertain,omitempty"`
	Low       *float64            `json:"low"`
	High      *float64            `json:"high"`
	RefCount  int64               `json:"ref_count"`
	CurCount  int64               `json:"cur_count"`
	Reference Distribution        `json:"reference"`
	Current   Distribution        `json:"current"`
	Stats     map[string]*float64 `json:"stats,omitempty"`
}

// finite returns &x, or nil when x is NaN or infinite.
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func safeColumn(c ColumnDrift) jsonColumn {
	j := jsonColumn{
		Column: c.Column, Kind: c.Kind, Method: c.Method,
		Statistic: finite(c.Statistic), Threshold: c.Threshold,
		Drift: c.Drift, Uncertain: c.Uncertain,
		Low: finite(c.Low), High: finite(c.High),
		RefCount: c.RefCount, CurCount: c.CurCount,
		Reference: c.Reference, Current: c.Current,
	}
	if c.PValue != nil {
		j.PValue = finite(*c.PValue)
	}
	if len(c.Stats) > 0 {
		j.Stats = make(map[string]*float64, len(c.Stats))
		for k, v := range c.Stats {
			j.Stats[k] = finite(v)
		}
	}
	return j
}
