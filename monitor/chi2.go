package monitor

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Chi2Result is the outcome of Pearson's chi-square test of independence
// on a contingency table.
type Chi2Result struct {
	// Statistic is Σ (O − E)² / E over the cells (after Yates' correction
	// when it applies).
	Statistic float64
	// PValue is P(χ²_DOF ≥ Statistic).
	PValue float64
	// DOF is (rows − 1)·(columns − 1).
	DOF int
	// Expected holds the expected frequencies E_ij = R_i·C_j / N under
	// independence, R and C being the row and column sums and N the total.
	Expected [][]float64
}

// Chi2Contingency is Pearson's chi-square test of independence of the rows
// and columns of a contingency table of nonnegative counts (table[i][j]:
// row i, column j), with Yates' continuity correction when DOF is 1. It
// matches scipy.stats.chi2_contingency(table) with its default options
// (correction=True, lambda_=None). See Chi2ContingencyOpts.
func Chi2Contingency(table [][]float64) (Chi2Result, error) {
	return Chi2ContingencyOpts(table, true)
}

// Chi2ContingencyOpts is Chi2Contingency with Yates' correction chosen by
// correction, as scipy.stats.chi2_contingency(table, correction=correction).
//
// The expected frequencies are E_ij = R_i·C_j / N. DOF = (r−1)(c−1) for an
// r×c table; when DOF is 0 (a single row or column) the statistic is 0 and
// the p-value 1. When DOF is 1 and correction is true, every observed count
// is moved towards its expected count by min(0.5, |E − O|) before the
// statistic Σ (O − E)²/E is taken. The p-value is ChiSquareSF(statistic,
// DOF).
//
// A table with no rows or no cells, rows of different lengths, a negative,
// NaN or infinite count, or a zero expected frequency (a row or column
// summing to 0, which SciPy also rejects) is an error wrapping ErrInput.
func Chi2ContingencyOpts(table [][]float64, correction bool) (Chi2Result, error) {
	r := len(table)
	if r == 0 || len(table[0]) == 0 {
		return Chi2Result{}, inputErr("Chi2Contingency: empty table")
	}
	c := len(table[0])
	rows := make([]float64, r)
	cols := make([]float64, c)
	for i, row := range table {
		if len(row) != c {
			return Chi2Result{}, inputErr("Chi2Contingency: row %d has %d cells, row 0 has %d (tables must be rectangular)", i, len(row), c)
		}
		for j, v := range row {
			if !(v >= 0) || math.IsInf(v, 1) {
				return Chi2Result{}, inputErr("Chi2Contingency: cell [%d][%d] = %v (counts must be finite and nonnegative)", i, j, v)
			}
		}
	}
	// Margins and total, summed as NumPy does over each axis.
	buf := make([]float64, max(r, c))
	for i, row := range table {
		rows[i] = stPairSum(row)
	}
	for j := range c {
		for i := range r {
			buf[i] = table[i][j]
		}
		cols[j] = stPairSum(buf[:r])
	}
	flat := make([]float64, 0, r*c)
	for _, row := range table {
		flat = append(flat, row...)
	}
	total := stPairSum(flat)
	exp := make([][]float64, r)
	for i := range r {
		exp[i] = make([]float64, c)
		for j := range c {
			e := rows[i] * cols[j] / total
			if !(e != 0) {
				return Chi2Result{}, inputErr("Chi2Contingency: expected frequency at [%d][%d] is %v (row %d sums to %v, column %d to %v); drop empty rows and columns", i, j, e, i, rows[i], j, cols[j])
			}
			exp[i][j] = e
		}
	}
	dof := r*c - r - c + 1
	res := Chi2Result{DOF: dof, Expected: exp}
	if dof == 0 {
		res.Statistic, res.PValue = 0, 1
		return res, nil
	}
	terms := flat[:0]
	for i := range r {
		for j := range c {
			o, e := table[i][j], exp[i][j]
			if dof == 1 && correction {
				d := e - o
				mag := math.Min(0.5, math.Abs(d))
				switch {
				case d > 0:
					o += mag
				case d < 0:
					o -= mag
				}
			}
			terms = append(terms, (o-e)*(o-e)/e)
		}
	}
	res.Statistic = stPairSum(terms)
	res.PValue = ChiSquareSF(res.Statistic, dof)
	return res, nil
}

// ChiSquareSF is the survival function P(χ²_k > x) of the chi-square
// distribution with k degrees of freedom, the regularized upper incomplete
// gamma function Q(k/2, x/2) (scipy.stats.chi2.sf(x, k)). It is 1 for
// x ≤ 0 and NaN for k < 1 or a NaN x.
func ChiSquareSF(x float64, k int) float64 {
	if k < 1 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	if math.IsInf(x, 1) {
		return 0
	}
	return mathext.GammaIncRegComp(float64(k)/2, x/2)
}
