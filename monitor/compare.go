package monitor

import (
	"math"
)

// Compare compares two profiles column by column: every column of ref
// (which cur must have, of the same kind) with its method and threshold
// from opts. Profiles hold sketches, not data, so statistics are
// estimated: the current profile is projected onto the reference's fine
// bins through its quantile sketch, and each statistic comes with an
// interval [Low, High] that accounts for both sketches' rank errors and
// the bins' width (see ColumnDrift). For exact figures from the data
// itself, use CompareExact.
//
// Methods that need the raw values (anderson, cvm, energy) are an error
// here.
func Compare(ref, cur *Profile, opts DriftOptions) (*Report, error) {
	if ref == nil || cur == nil {
		return nil, inputErr("Compare needs two profiles")
	}
	cols := make([]ColumnDrift, 0, len(ref.Columns))
	for _, rc := range ref.Columns {
		cc := cur.Column(rc.Name)
		if cc == nil {
			return nil, inputErr("column %q of the reference profile is not in the current one", rc.Name)
		}
		if cc.Kind != rc.Kind {
			return nil, inputErr("column %q is %s in the reference profile but %s in the current one", rc.Name, rc.Kind, cc.Kind)
		}
		m, t, err := methodFor(rc, opts)
		if err != nil {
			return nil, err
		}
		switch rc.Kind {
		case Numeric:
			b := projectNumeric(rc, cc)
			cols = append(cols, compareNumeric(rc, b, cc.RankError(), m, t, opts.Strict))
		default:
			counts, topErr := projectCategorical(rc, cc)
			d := compareCategorical(rc, counts, m, t, opts.Strict)
			if topErr > 0 && d.Method != MethodChi2 && d.Method != MethodZTest {
				// The current counts are uncertain too: widen the interval.
				p, q := d.Reference.Shares, d.Current.Shares
				delta := float64(rc.TopError)/max(float64(rc.Count), 1) + topErr/max(float64(cc.Count), 1)
				lo, hi := sensitivity(d.Method, p, q, delta)
				d.Low, d.High = min(d.Low, lo), max(d.High, hi)
				verdict(&d, opts.Strict, 0, 0)
			}
			cols = append(cols, d)
		}
	}
	r := summarize(cols, nil, opts)
	r.Rows = cur.Rows
	return r, nil
}

// projectNumeric spreads cur's values over ref's fine bins through cur's
// sketch: the share of cur below each of ref's edges.
func projectNumeric(ref, cur *ColumnProfile) *binnedNumeric {
	b := &binnedNumeric{
		Counts: make([]float64, len(ref.Counts)),
		Count:  cur.Count, Nulls: cur.Nulls, NonFinite: cur.NonFinite,
		Min: cur.Min, Max: cur.Max, Mean: cur.Mean, M2: cur.M2,
		LowSum: math.NaN(), HighSum: math.NaN(),
	}
	if cur.Count == 0 {
		return b
	}
	n := float64(cur.Count)
	prev := 0.0
	for i, e := range ref.Edges {
		var below float64
		switch {
		case e <= cur.Min:
			below = 0
		case e > cur.Max:
			below = n
		default:
			// The share of values < e: the rank at the largest float below e.
			below = math.Round(cur.Rank(math.Nextafter(e, math.Inf(-1))) * n)
		}
		below = max(below, prev)
		b.Counts[i] = below - prev
		prev = below
	}
	b.Counts[len(ref.Edges)] = n - prev
	t := profileTails(cur, ref.Edges)
	b.LowSum, b.HighSum = t[0]*b.Counts[0], t[1]*b.Counts[len(ref.Edges)]
	return b
}

// projectCategorical counts cur's Top values per ref Top value, the rest
// (cur's other values and its Other) in the last slot. topErr is cur's
// bound on the overcount of any of its Top counts.
func projectCategorical(ref, cur *ColumnProfile) ([]float64, float64) {
	counts := make([]float64, len(ref.Top)+1)
	idx := make(map[string]int, len(ref.Top))
	for i, f := range ref.Top {
		idx[f.Value] = i
	}
	for _, f := range cur.Top {
		if i, ok := idx[f.Value]; ok {
			counts[i] += float64(f.Count)
		} else {
			counts[len(ref.Top)] += float64(f.Count)
		}
	}
	counts[len(ref.Top)] += float64(cur.Other)
	return counts, float64(cur.TopError)
}
