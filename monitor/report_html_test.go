package monitor

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// htmlTestReport builds a report with a numeric column over 100 quantile
// bins (shifted current), a heavy-tailed numeric column, a categorical
// column with more than 15 categories, and hostile names.
func htmlTestReport() *Report {
	// Numeric: standard normal reference quantile bins, current shifted by 0.5.
	edges := make([]float64, 99)
	for i := range edges {
		edges[i] = math.Sqrt2 * math.Erfinv(2*float64(i+1)/100-1)
	}
	refShares := make([]float64, 100)
	curShares := make([]float64, 100)
	cdf := func(x float64) float64 { return 0.5 * math.Erfc(-(x-0.5)/math.Sqrt2) }
	for i := range refShares {
		refShares[i] = 0.01
		lo, hi := 0.0, 1.0
		if i > 0 {
			lo = cdf(edges[i-1])
		}
		if i < 99 {
			hi = cdf(edges[i])
		}
		curShares[i] = hi - lo
	}
	// Heavy tail: lognormal-like edges with a huge maximum.
	tail := make([]float64, 9)
	for i := range tail {
		tail[i] = math.Exp(float64(i) / 3)
	}
	tailShares := []float64{.1, .1, .1, .1, .1, .1, .1, .1, .1, .1}
	var cats []string
	var rc, cc []float64
	for i := range 20 {
		cats = append(cats, "cat-"+string(rune('a'+i)))
		rc = append(rc, float64(20-i)/210)
		cc = append(cc, float64(i+1)/210)
	}
	cats[3] = `<script>alert("x")</script>`
	p1, p2 := 1.5e-12, 0.31
	return &Report{
		Name:  `January vs June <b>&</b>`,
		Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		End:   time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Rows:  123456,
		Columns: []ColumnDrift{
			{
				Column: "delay", Kind: Numeric, Method: MethodKS, Statistic: 0.19, PValue: &p1,
				Threshold: 0.05, Drift: true, Low: 0.18, High: 0.2, RefCount: 1000000, CurCount: 100000,
				Reference: Distribution{Edges: edges, Min: -4.5, Max: 4.7, Shares: refShares},
				Current:   Distribution{Edges: edges, Min: -3.9, Max: 5.2, Shares: curShares},
				Stats:     map[string]float64{"wasserstein": 0.5, "ks_d": 0.19, "psi": 0.27},
			},
			{
				Column: `<script>alert(1)</script>`, Kind: Numeric, Method: MethodWassersteinNorm, Statistic: 0.07,
				Threshold: 0.1, Drift: false, Uncertain: true, Low: 0.05, High: 0.12, RefCount: 5000, CurCount: 400,
				Reference: Distribution{Edges: tail, Min: 0.01, Max: 1e6, Shares: tailShares},
				Current:   Distribution{Edges: tail, Min: 0.02, Max: 3e5, Shares: tailShares},
			},
			{
				Column: "carrier", Kind: Categorical, Method: MethodChi2, Statistic: 812.5, PValue: &p2,
				Threshold: 0.05, RefCount: 5000, CurCount: 500,
				Reference: Distribution{Categories: cats, Shares: rc},
				Current:   Distribution{Categories: cats[:19], Shares: cc[:19]},
			},
			{
				Column: "empty", Kind: Numeric, Method: MethodPSI, Statistic: math.NaN(), Threshold: 0.1,
			},
			{
				Column: "bad\x00utf8\xff", Kind: Categorical, Method: MethodJS, Statistic: 0.3, Threshold: 0.1, Drift: true,
				Reference: Distribution{Categories: []string{"a\x01", "\xfe"}, Shares: []float64{0.5, 0.5}},
				Current:   Distribution{Categories: []string{"a\x01"}, Shares: []float64{1}},
			},
		},
		Prediction: &ColumnDrift{
			Column: "prediction", Kind: Categorical, Method: MethodJS, Statistic: 0.02, Threshold: 0.1,
			Reference: Distribution{Categories: []string{"0", "1"}, Shares: []float64{0.6, 0.4}},
			Current:   Distribution{Categories: []string{"0", "1"}, Shares: []float64{0.55, 0.45}},
		},
		Drifted: 2, Share: 0.4, DatasetDrift: false, ShareThreshold: 0.5,
	}
}

func writeHTMLString(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

func TestWriteHTMLStructure(t *testing.T) {
	r := htmlTestReport()
	out := writeHTMLString(t, r)
	if dir := os.Getenv("KILN_HTML_OUT"); dir != "" {
		// For looking at the page: KILN_HTML_OUT=/tmp go test -run TestWriteHTMLStructure ./monitor/
		if err := os.WriteFile(dir+"/kiln-report-test.html", []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		"<!DOCTYPE html>", "</html>",
		"<title>Drift report: January vs June &lt;b&gt;&amp;&lt;/b&gt;</title>",
		"2026-01-01 00:00:00 UTC", "123,456", "No dataset drift", "2 of 5", "40.0%", "(drift at ≥ 50.0%)",
		"<th>Column</th><th>Type</th><th>Method</th><th>Statistic</th><th>p-value</th><th>Threshold</th><th>Verdict</th>",
		">1.50e-12<", ">0.3100<", ">wasserstein_norm<", ">uncertain<",
		"ks_d 0.19 · psi 0.27 · wasserstein 0.5", // stats sorted by name
		"other (5 categories)",                   // 20 categories: 15 drawn plus other
		"Prediction drift",
		"first bar includes values down to 0.01", "last bar includes values up to 1.0e+06", // the heavy-tailed column
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// No external resources, no script.
	for _, bad := range []string{"<script", "src=", "<link", "@import", "url("} {
		if strings.Contains(strings.ToLower(out), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// One chart per column plus one for the prediction.
	if got, want := strings.Count(out, "<svg "), len(r.Columns)+1; got != want {
		t.Errorf("%d charts, want %d", got, want)
	}
	// One card per column (and the prediction), each holding one chart.
	if got := strings.Count(out, "<section "); got != len(r.Columns)+1 {
		t.Errorf("%d sections, want %d", got, len(r.Columns)+1)
	}
	// Verdicts: two drifted columns in the table and in the cards.
	if got := strings.Count(out, `<tr class="drifted">`); got != 2 {
		t.Errorf("%d drifted table rows, want 2", got)
	}
	if got := strings.Count(out, `class="card drifted"`); got != 2 {
		t.Errorf("%d drifted cards, want 2", got)
	}
	// A numeric chart of 20 display bins: 20 bars per side at most.
	sec := out[strings.Index(out, `id="col-0"`):]
	sec = sec[:strings.Index(sec, "</section>")]
	if n := strings.Count(sec, "<rect "); n < 30 || n > 40 {
		t.Errorf("numeric chart has %d bars, want 2×20 (less empty ones)", n)
	}
	// The categorical chart: 16 rows × 2 bars.
	sec = out[strings.Index(out, `id="col-2"`):]
	sec = sec[:strings.Index(sec, "</section>")]
	if n := strings.Count(sec, "<rect "); n != 32 {
		t.Errorf("categorical chart has %d bars, want 32", n)
	}
	// "other" (20%) is over 1.5 times the largest named category (9.5%):
	// its bars are cut at the axis end and marked.
	if !strings.Contains(sec, `stroke="#fff" stroke-width="2"`) {
		t.Error("the other row's bars are not cut")
	}
}

func TestWriteHTMLEscaping(t *testing.T) {
	out := writeHTMLString(t, htmlTestReport())
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>&</b>") {
		t.Fatal("user text reached the page unescaped")
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks escaped %q", want)
		}
	}
	if strings.ContainsRune(out, 0) || strings.ContainsRune(out, 1) || !isValidUTF8(out) {
		t.Error("control characters or invalid UTF-8 reached the page")
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "") == s }

// TestWriteHTMLSVGWellFormed parses every <svg> element as XML.
func TestWriteHTMLSVGWellFormed(t *testing.T) {
	out := writeHTMLString(t, htmlTestReport())
	re := regexp.MustCompile(`(?s)<svg .*?</svg>`)
	svgs := re.FindAllString(out, -1)
	if len(svgs) == 0 {
		t.Fatal("no SVG")
	}
	for i, s := range svgs {
		d := xml.NewDecoder(strings.NewReader(s))
		depth, elems := 0, 0
		for {
			tok, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("svg %d is not well-formed XML: %v\n%s", i, err, s)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				if depth == 0 && tok.Name.Local != "svg" {
					t.Errorf("svg %d: root element %q", i, tok.Name.Local)
				}
				depth++
				elems++
			case xml.EndElement:
				depth--
			}
		}
		if depth != 0 || elems < 2 {
			t.Errorf("svg %d: depth %d at the end, %d elements", i, depth, elems)
		}
	}
}

func TestWriteHTMLDeterministic(t *testing.T) {
	a := writeHTMLString(t, htmlTestReport())
	for range 5 {
		if b := writeHTMLString(t, htmlTestReport()); a != b {
			t.Fatal("two writes of the same report differ")
		}
	}
}

func TestWriteHTMLEmpty(t *testing.T) {
	out := writeHTMLString(t, &Report{})
	if !strings.Contains(out, "No columns compared.") || strings.Contains(out, "<svg") {
		t.Errorf("empty report:\n%s", out)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteHTMLWriteError(t *testing.T) {
	if err := htmlTestReport().WriteHTML(&failWriter{n: 100}); err == nil {
		t.Fatal("no error from a failing writer")
	}
}

func TestHTMLRebin(t *testing.T) {
	// Two bins [0,1) 0.5 and [1,3) 0.5 into 3 bins over [0,3]: 0.5, 0.25, 0.25.
	got := htmlRebin([]float64{0, 1}, []float64{1, 3}, []float64{0.5, 0.5}, 0, 3, 3)
	want := []float64{0.5, 0.25, 0.25}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("rebin = %v, want %v", got, want)
		}
	}
	// Mass outside [a, b] goes to the end bins; a zero-width bin to its point.
	got = htmlRebin([]float64{-10, 2, 5}, []float64{0, 2, 10}, []float64{0.2, 0.3, 0.5}, 0, 4, 2)
	want = []float64{0.2, 0.8}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("rebin = %v, want %v", got, want)
		}
	}
}

func TestHTMLAxis(t *testing.T) {
	for _, tc := range []struct {
		x    float64
		want string
	}{
		{0, "0"}, {2000, "2000"}, {1690.4, "1690"}, {0.30000000000000004, "0.3"}, {-84, "-84"},
		{12345, "12300"}, {1e6, "1.0e+06"}, {0.001234, "1.2e-03"}, {-2.5, "-2.5"},
	} {
		if got := htmlAxis(tc.x); got != tc.want {
			t.Errorf("htmlAxis(%v) = %q, want %q", tc.x, got, tc.want)
		}
	}
}
