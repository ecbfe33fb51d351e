package monitor

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The golden values in testdata/stats.json come from SciPy 1.10; regenerate
// them (from the repository root) with
//
//	cd monitor/testdata && /usr/bin/python3 golden_stats.py > stats.json

// stFloat decodes a JSON number or one of the strings "+Inf", "-Inf",
// "NaN".
type stFloat float64

func (g *stFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "+Inf":
			*g = stFloat(math.Inf(1))
		case "-Inf":
			*g = stFloat(math.Inf(-1))
		case "NaN":
			*g = stFloat(math.NaN())
		default:
			return fmt.Errorf("bad golden float %q", s)
		}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*g = stFloat(f)
	return nil
}

// stSampleSpec is either a selection of a CSV column (rows whose Where
// column starts with Prefix, after Offset of them, at most Limit) or, when
// it decodes from a JSON array, the values themselves.
type stSampleSpec struct {
	File, Column, Where, Prefix string
	Offset                      int
	Limit                       *int
	Values                      []float64
}

func (s *stSampleSpec) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &s.Values)
	}
	type plain stSampleSpec
	return json.Unmarshal(b, (*plain)(s))
}

type stGoldenFile struct {
	Numeric []struct {
		Name    string
		Samples []stSampleSpec
		Sizes   []int
		Want    struct {
			Wasserstein  *stFloat  `json:"wasserstein"`
			Energy       *stFloat  `json:"energy"`
			CvMStatistic *stFloat  `json:"cvm_statistic"`
			CvMPValue    *stFloat  `json:"cvm_pvalue"`
			CvMExact     bool      `json:"cvm_exact"`
			ADStatistic  stFloat   `json:"ad_statistic"`
			ADPValue     stFloat   `json:"ad_pvalue"`
			ADCritical   []stFloat `json:"ad_critical"`
		}
	}
	Distributions []struct {
		Name       string
		Categories []string
		RefSpec    *stSampleSpec `json:"ref_spec"`
		CurSpec    *stSampleSpec `json:"cur_spec"`
		P, Q       []float64
		Want       struct {
			PSI           stFloat   `json:"psi"`
			JS            stFloat   `json:"js"`
			JSZero        stFloat   `json:"js_zero"`
			KL            stFloat   `json:"kl"`
			KLZero        stFloat   `json:"kl_zero"`
			Hellinger     stFloat   `json:"hellinger"`
			ReplaceZerosP []stFloat `json:"replace_zeros_p"`
		}
	}
	Tables []struct {
		Name         string
		Table        [][]float64
		Yates, Plain struct {
			Statistic, PValue stFloat
			DOF               int
			Expected          [][]stFloat
		}
	}
	ZTest []struct {
		X1, N1, X2, N2 int64
		Z, P           stFloat
	}
	Chi2SF []struct {
		X  stFloat
		K  int
		SF stFloat
	}
}

var (
	stGoldenOnce sync.Once
	stGolden     stGoldenFile
	stGoldenErr  error
	stCSVCache   = map[string][][]string{}
	stCSVMu      sync.Mutex
)

func stLoadGolden(t testing.TB) *stGoldenFile {
	t.Helper()
	stGoldenOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join("testdata", "stats.json"))
		if err != nil {
			stGoldenErr = err
			return
		}
		stGoldenErr = json.Unmarshal(b, &stGolden)
	})
	if stGoldenErr != nil {
		t.Fatalf("golden stats (testdata/stats.json): %v", stGoldenErr)
	}
	return &stGolden
}

// stCSVRows reads ../testdata/file (header first).
func stCSVRows(t testing.TB, file string) [][]string {
	t.Helper()
	stCSVMu.Lock()
	defer stCSVMu.Unlock()
	if r, ok := stCSVCache[file]; ok {
		return r
	}
	f, err := os.Open(filepath.Join("..", "testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	stCSVCache[file] = rows
	return rows
}

// stSelect returns the selected column's text values.
func stSelect(t testing.TB, s *stSampleSpec) []string {
	t.Helper()
	rows := stCSVRows(t, s.File)
	col, where := slices.Index(rows[0], s.Column), slices.Index(rows[0], s.Where)
	if col < 0 || where < 0 {
		t.Fatalf("%s: no column %q or %q", s.File, s.Column, s.Where)
	}
	var out []string
	for _, r := range rows[1:] {
		if strings.HasPrefix(r[where], s.Prefix) {
			out = append(out, r[col])
		}
	}
	out = out[min(s.Offset, len(out)):]
	if s.Limit != nil && *s.Limit < len(out) {
		out = out[:*s.Limit]
	}
	return out
}

func (s *stSampleSpec) resolve(t testing.TB) []float64 {
	t.Helper()
	if s.File == "" {
		return s.Values
	}
	var out []float64
	for _, v := range stSelect(t, s) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s %s: %v", s.File, s.Column, err)
		}
		out = append(out, f)
	}
	return out
}

// stClose reports whether got agrees with want within rel relative error,
// or within abs absolute error (for values near 0).
func stClose(got, want, rel, abs float64) bool {
	if math.IsNaN(want) || math.IsInf(want, 0) {
		return got == want || (math.IsNaN(got) && math.IsNaN(want))
	}
	d := math.Abs(got - want)
	return d <= abs || d <= rel*math.Abs(want)
}

const (
	stRel = 1e-9
	stAbs = 1e-300
	// SciPy's asymptotic Cramér–von Mises p-value is 1 − V(T′); V is summed
	// from Bessel K values whose SciPy (AMOS) implementation is off by up
	// to ~7e-14 relative near x = 2, so tiny p-values can only agree in
	// absolute terms.
	stCvMAsymAbs = 1e-13
)

func stCheck(t *testing.T, what string, got, want, rel, abs float64) {
	t.Helper()
	if !stClose(got, want, rel, abs) {
		t.Errorf("%s = %.17g, want %.17g (rel err %.3g)", what, got, want, math.Abs(got-want)/math.Abs(want))
	}
}

func TestNumericGolden(t *testing.T) {
	g := stLoadGolden(t)
	if len(g.Numeric) < 20 {
		t.Fatalf("only %d numeric golden cases", len(g.Numeric))
	}
	var exact, asym, capHi, capLo, interp int
	for _, c := range g.Numeric {
		t.Run(c.Name, func(t *testing.T) {
			var samples [][]float64
			for i := range c.Samples {
				s := c.Samples[i].resolve(t)
				if len(s) != c.Sizes[i] {
					t.Fatalf("sample %d has %d values, golden says %d", i, len(s), c.Sizes[i])
				}
				samples = append(samples, s)
			}
			w := c.Want
			if len(samples) == 2 {
				a, b := samples[0], samples[1]
				ac, bc := slices.Clone(a), slices.Clone(b)
				got, err := Wasserstein(a, b)
				if err != nil {
					t.Fatal(err)
				}
				stCheck(t, "Wasserstein", got, float64(*w.Wasserstein), stRel, stAbs)
				got, err = EnergyDistance(a, b)
				if err != nil {
					t.Fatal(err)
				}
				stCheck(t, "EnergyDistance", got, float64(*w.Energy), stRel, stAbs)
				sa, sb := slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
				got, err = WassersteinSorted(sa, sb)
				if err != nil {
					t.Fatal(err)
				}
				stCheck(t, "WassersteinSorted", got, float64(*w.Wasserstein), stRel, stAbs)
				got, err = EnergyDistanceSorted(sa, sb)
				if err != nil {
					t.Fatal(err)
				}
				stCheck(t, "EnergyDistanceSorted", got, float64(*w.Energy), stRel, stAbs)

				r, err := CramerVonMises2(a, b)
				if err != nil {
					t.Fatal(err)
				}
				stCheck(t, "CvM statistic", r.Statistic, float64(*w.CvMStatistic), stRel, 1e-15)
				pAbs := stAbs
				if w.CvMExact {
					exact++
				} else {
					asym++
					pAbs = stCvMAsymAbs
				}
				stCheck(t, "CvM p-value", r.PValue, float64(*w.CvMPValue), stRel, pAbs)
				if !slices.Equal(a, ac) || !slices.Equal(b, bc) {
					t.Error("inputs modified")
				}
			}
			r, err := AndersonKSamp(samples...)
			if err != nil {
				t.Fatal(err)
			}
			stCheck(t, "AD statistic", r.Statistic, float64(w.ADStatistic), stRel, 1e-12)
			stCheck(t, "AD p-value", r.PValue, float64(w.ADPValue), stRel, stAbs)
			if len(r.CriticalValues) != len(w.ADCritical) {
				t.Fatalf("%d critical values, want %d", len(r.CriticalValues), len(w.ADCritical))
			}
			for i, cv := range w.ADCritical {
				stCheck(t, fmt.Sprintf("AD critical[%d]", i), r.CriticalValues[i], float64(cv), stRel, stAbs)
			}
			switch r.PValue {
			case 0.25:
				capHi++
			case 0.001:
				capLo++
			default:
				interp++
			}
		})
	}
	// Every code path must be exercised by the golden cases.
	if exact < 3 || asym < 3 || capHi < 3 || capLo < 3 || interp < 3 {
		t.Errorf("paths: CvM exact %d, asymptotic %d; AD capped 0.25 %d, floored 0.001 %d, interpolated %d",
			exact, asym, capHi, capLo, interp)
	}
}

func TestDistributionsGolden(t *testing.T) {
	g := stLoadGolden(t)
	for _, c := range g.Distributions {
		t.Run(c.Name, func(t *testing.T) {
			p, q := c.P, c.Q
			if c.RefSpec != nil {
				// Recount the categories from the CSV (last bin: others).
				for _, side := range []struct {
					spec *stSampleSpec
					want []float64
				}{{c.RefSpec, p}, {c.CurSpec, q}} {
					vals := stSelect(t, side.spec)
					got := make([]float64, len(c.Categories)+1)
					for _, v := range vals {
						i := slices.Index(c.Categories, v)
						if i < 0 {
							i = len(c.Categories)
						}
						got[i]++
					}
					if !slices.Equal(got, side.want) {
						t.Fatalf("counts from CSV %v, golden %v", got, side.want)
					}
				}
			}
			w := c.Want
			for _, f := range []struct {
				name string
				fn   func(p, q []float64) (float64, error)
				want stFloat
				zero bool
			}{
				{"PSI", PSI, w.PSI, false},
				{"JensenShannon", JensenShannon, w.JS, false},
				{"JensenShannon(zeros replaced)", JensenShannon, w.JSZero, true},
				{"KLDivergence", KLDivergence, w.KL, false},
				{"KLDivergence(zeros replaced)", KLDivergence, w.KLZero, true},
				{"Hellinger", Hellinger, w.Hellinger, false},
			} {
				pp, qq := p, q
				if f.zero {
					pp, qq = ReplaceZeros(p, PSIZero), ReplaceZeros(q, PSIZero)
				}
				got, err := f.fn(pp, qq)
				if err != nil {
					t.Fatalf("%s: %v", f.name, err)
				}
				// Distances of (nearly) identical distributions are sums
				// that cancel to ~1e-16; compare those absolutely.
				stCheck(t, f.name, got, float64(f.want), stRel, 1e-15)
			}
			rz := ReplaceZeros(p, PSIZero)
			for i, v := range w.ReplaceZerosP {
				stCheck(t, fmt.Sprintf("ReplaceZeros[%d]", i), rz[i], float64(v), 1e-15, 0)
			}
		})
	}
}

func TestChi2ContingencyGolden(t *testing.T) {
	g := stLoadGolden(t)
	dofs := map[int]bool{}
	for _, c := range g.Tables {
		t.Run(c.Name, func(t *testing.T) {
			for _, corr := range []bool{true, false} {
				want := c.Plain
				if corr {
					want = c.Yates
				}
				var r Chi2Result
				var err error
				if corr {
					r, err = Chi2Contingency(c.Table)
				} else {
					r, err = Chi2ContingencyOpts(c.Table, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				if r.DOF != want.DOF {
					t.Fatalf("DOF = %d, want %d", r.DOF, want.DOF)
				}
				dofs[r.DOF] = true
				stCheck(t, fmt.Sprintf("statistic (correction %v)", corr), r.Statistic, float64(want.Statistic), stRel, 1e-13)
				stCheck(t, fmt.Sprintf("p-value (correction %v)", corr), r.PValue, float64(want.PValue), stRel, stAbs)
				for i := range want.Expected {
					for j := range want.Expected[i] {
						stCheck(t, fmt.Sprintf("expected[%d][%d]", i, j), r.Expected[i][j], float64(want.Expected[i][j]), 1e-14, 0)
					}
				}
			}
		})
	}
	if !dofs[0] || !dofs[1] || len(dofs) < 4 {
		t.Errorf("degrees of freedom covered: %v", dofs)
	}
}

func TestZTestGolden(t *testing.T) {
	for _, c := range stLoadGolden(t).ZTest {
		z, p, err := ZTestProportions(c.X1, c.N1, c.X2, c.N2)
		if err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("ZTestProportions(%d, %d, %d, %d)", c.X1, c.N1, c.X2, c.N2)
		stCheck(t, what+" z", z, float64(c.Z), stRel, 1e-15)
		stCheck(t, what+" p", p, float64(c.P), stRel, stAbs)
	}
}

func TestChiSquareSFGolden(t *testing.T) {
	for _, c := range stLoadGolden(t).Chi2SF {
		stCheck(t, fmt.Sprintf("ChiSquareSF(%v, %d)", c.X, c.K), ChiSquareSF(float64(c.X), c.K), float64(c.SF), 1e-13, stAbs)
	}
}

// Values published in SciPy's documentation or computed by hand.
func TestStatsPublished(t *testing.T) {
	mustF := func(v float64, err error) float64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	stCheck(t, "Wasserstein([0 1 3], [5 6 8])", mustF(Wasserstein([]float64{0, 1, 3}, []float64{5, 6, 8})), 5, 1e-15, 0)
	stCheck(t, "EnergyDistance([0], [2])", mustF(EnergyDistance([]float64{0}, []float64{2})), 2, 1e-15, 0)
	// 2·E|X−Y| − E|X−X'| − E|Y−Y'| = 4 − ½ − ½ = 3.
	stCheck(t, "EnergyDistance([0 1], [2 3])", mustF(EnergyDistance([]float64{0, 1}, []float64{2, 3})), math.Sqrt(3), 1e-15, 0)
	stCheck(t, "JensenShannon(disjoint)", mustF(JensenShannon([]float64{1, 0, 0}, []float64{0, 1, 0})), 1, 1e-15, 0)
	stCheck(t, "KLDivergence([½ ½], [0.9 0.1])", mustF(KLDivergence([]float64{1, 1}, []float64{9, 1})), math.Log(5.0/3), 1e-15, 0)
	if v := mustF(KLDivergence([]float64{1, 1}, []float64{1, 0})); !math.IsInf(v, 1) {
		t.Errorf("KL with q = 0 < p: %v, want +Inf", v)
	}
	stCheck(t, "Hellinger(disjoint)", mustF(Hellinger([]float64{1, 0}, []float64{0, 3})), 1, 1e-15, 0)
	// PSI of [½ ½] against [¼ ¾]: ¼·ln(3/2) − ¼·ln(1/2) = ¼·ln 3.
	stCheck(t, "PSI", mustF(PSI([]float64{1, 1}, []float64{1, 3})), math.Log(3)/4, 1e-15, 0)
	// A zero share becomes 0.0001 without renormalizing.
	stCheck(t, "PSI with zero", mustF(PSI([]float64{1, 0}, []float64{1, 1})),
		(0.5-1)*math.Log(0.5/1)+(0.5-0.0001)*math.Log(0.5/0.0001), 1e-15, 0)

	// scipy.stats.chi2_contingency documentation example.
	r, err := Chi2Contingency([][]float64{{10, 10, 20}, {20, 20, 20}})
	if err != nil {
		t.Fatal(err)
	}
	stCheck(t, "chi2 statistic", r.Statistic, 2.7777777777777777, 1e-15, 0)
	stCheck(t, "chi2 p-value", r.PValue, 0.24935220877729619, 1e-13, 0)
	if r.DOF != 2 {
		t.Errorf("DOF %d", r.DOF)
	}
	want := [][]float64{{12, 12, 16}, {18, 18, 24}}
	for i := range want {
		for j := range want[i] {
			stCheck(t, "expected", r.Expected[i][j], want[i][j], 1e-15, 0)
		}
	}
	// Yates: every |E − O| in [[10 10] [10 11]] is below 0.5, and the
	// correction moves a cell by at most |E − O| (never past E), so the
	// corrected table equals E.
	r, err = Chi2Contingency([][]float64{{10, 10}, {10, 11}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Statistic != 0 || r.PValue != 1 {
		t.Errorf("Yates capped: statistic %v p %v, want 0 and 1", r.Statistic, r.PValue)
	}
	// χ²₂ survival is e^{−x/2}.
	stCheck(t, "ChiSquareSF(3, 2)", ChiSquareSF(3, 2), math.Exp(-1.5), 1e-15, 0)
	if ChiSquareSF(0, 3) != 1 || ChiSquareSF(-1, 3) != 1 || !math.IsNaN(ChiSquareSF(1, 0)) {
		t.Error("ChiSquareSF edge cases")
	}
	// z-test: 30/100 vs 45/100: pooled 0.375, z = −0.15/√(0.375·0.625·0.02).
	z, p, err := ZTestProportions(30, 100, 45, 100)
	if err != nil {
		t.Fatal(err)
	}
	wz := -0.15 / math.Sqrt(0.375*0.625*0.02)
	stCheck(t, "z", z, wz, 1e-14, 0)
	stCheck(t, "p", p, math.Erfc(-wz/math.Sqrt2), 1e-14, 0)
	// The exact CvM p-value of two samples of two with no overlap: U is
	// maximal for 2 of the C(4,2) = 6 orderings.
	cr, err := CramerVonMises2([]float64{1, 2}, []float64{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	stCheck(t, "CvM exact p", cr.PValue, 2.0/6, 1e-15, 0)
}

func TestStatsErrors(t *testing.T) {
	nan := math.NaN()
	inf := math.Inf(1)
	errs := map[string]error{}
	add := func(name string, err error) { errs[name] = err }
	_, err := Wasserstein(nil, []float64{1})
	add("Wasserstein empty", err)
	_, err = Wasserstein([]float64{1, nan}, []float64{1})
	add("Wasserstein NaN", err)
	_, err = EnergyDistance([]float64{1}, []float64{inf})
	add("EnergyDistance Inf", err)
	_, err = WassersteinSorted([]float64{2, 1}, []float64{1})
	add("WassersteinSorted unsorted", err)
	_, err = EnergyDistanceSorted([]float64{1}, []float64{3, 2})
	add("EnergyDistanceSorted unsorted", err)
	_, err = PSI([]float64{1, 2}, []float64{1})
	add("PSI length", err)
	_, err = PSI([]float64{0, 0}, []float64{1, 1})
	add("PSI zero sum", err)
	_, err = JensenShannon([]float64{-1, 2}, []float64{1, 1})
	add("JS negative", err)
	_, err = KLDivergence([]float64{nan, 2}, []float64{1, 1})
	add("KL NaN", err)
	_, err = Hellinger(nil, nil)
	add("Hellinger empty", err)
	_, err = Chi2Contingency(nil)
	add("chi2 empty", err)
	_, err = Chi2Contingency([][]float64{{1, 2}, {3}})
	add("chi2 ragged", err)
	_, err = Chi2Contingency([][]float64{{1, -2}, {3, 4}})
	add("chi2 negative", err)
	_, err = Chi2Contingency([][]float64{{1, 0}, {3, 0}})
	add("chi2 zero expected", err)
	_, _, err = ZTestProportions(5, 0, 1, 2)
	add("ztest n", err)
	_, _, err = ZTestProportions(5, 4, 1, 2)
	add("ztest x > n", err)
	_, err = AndersonKSamp([]float64{1, 2})
	add("AD one sample", err)
	_, err = AndersonKSamp([]float64{1, 2}, nil)
	add("AD empty sample", err)
	_, err = AndersonKSamp([]float64{1, 1}, []float64{1, 1})
	add("AD one distinct value", err)
	_, err = AndersonKSamp([]float64{1, 2}, []float64{3})
	add("AD three values", err)
	_, err = AndersonKSamp([]float64{1, 2}, []float64{3, nan})
	add("AD NaN", err)
	_, err = CramerVonMises2([]float64{1}, []float64{1, 2})
	add("CvM one value", err)
	_, err = CramerVonMises2([]float64{1, 3}, []float64{1, inf})
	add("CvM Inf", err)
	for name, err := range errs {
		if !errors.Is(err, ErrInput) {
			t.Errorf("%s: error %v, want one wrapping ErrInput", name, err)
		}
	}
	// ZTest with a pooled share of 0 or 1 is no evidence of a difference.
	if z, p, err := ZTestProportions(0, 10, 0, 20); err != nil || z != 0 || p != 1 {
		t.Errorf("ZTest all zero: %v %v %v", z, p, err)
	}
	// ReplaceZeros leaves invalid input for the distances to reject.
	if got := ReplaceZeros([]float64{0, 0}, PSIZero); !slices.Equal(got, []float64{0, 0}) {
		t.Errorf("ReplaceZeros of zeros: %v", got)
	}
	// dof 0: one row.
	r, err := Chi2Contingency([][]float64{{3, 5, 2}})
	if err != nil || r.Statistic != 0 || r.PValue != 1 || r.DOF != 0 {
		t.Errorf("1×3 table: %+v %v", r, err)
	}
}

// The exact Cramér–von Mises distribution sums to 1 and its p-value is
// monotone in the statistic: stCheck on every U of small samples against a
// brute-force enumeration of the orderings.
func TestCvMExactBruteForce(t *testing.T) {
	for _, nm := range [][2]int{{2, 3}, {4, 4}, {3, 7}, {6, 5}} {
		n, m := nm[0], nm[1]
		N := n + m
		// Enumerate subsets of ranks for the first sample.
		var us []float64
		for mask := 0; mask < 1<<N; mask++ {
			if stPopcount(mask) != n {
				continue
			}
			var sx, sy float64
			i, j := 0, 0
			for r := 1; r <= N; r++ {
				if mask&(1<<(r-1)) != 0 {
					i++
					sx += float64((r - i) * (r - i))
				} else {
					j++
					sy += float64((r - j) * (r - j))
				}
			}
			us = append(us, float64(n)*sx+float64(m)*sy)
		}
		for _, u := range us {
			var ge int
			for _, v := range us {
				if v >= u {
					ge++
				}
			}
			want := float64(ge) / float64(len(us))
			got := cvmExactP(u, n, m)
			if math.Abs(got-want) > 1e-15 {
				t.Fatalf("n=%d m=%d U=%v: p %v, brute force %v", n, m, u, got, want)
			}
		}
	}
}

func stPopcount(x int) int {
	c := 0
	for ; x != 0; x &= x - 1 {
		c++
	}
	return c
}

func BenchmarkWassersteinSorted(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ref := make([]float64, 1_000_000)
	cur := make([]float64, 100_000)
	for i := range ref {
		ref[i] = rng.NormFloat64()
	}
	for i := range cur {
		cur[i] = rng.NormFloat64() + 0.1
	}
	slices.Sort(ref)
	slices.Sort(cur)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := WassersteinSorted(ref, cur); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ref)+len(cur)), "ns/value")
}
