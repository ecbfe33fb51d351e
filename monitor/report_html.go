package monitor

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Chart geometry of the HTML report (SVG user units; the charts scale to
// the width of their card).
const (
	htmlNumBins    = 20  // display bins of a numeric chart
	htmlTopCats    = 15  // categories drawn before "other"
	htmlChartW     = 560 // chart width
	htmlNumChartH  = 230 // numeric chart height
	htmlCatRowH    = 22  // height of one category row
	htmlColorRef   = "#5b7db1"
	htmlColorCur   = "#e8883a"
	htmlColorDrift = "#c62828"
	htmlColorOK    = "#2e7d32"
	htmlColorUnc   = "#b26a00"
)

// WriteHTML writes the report as one self-contained HTML page: no
// external resources and no JavaScript. The page holds a header (name,
// window, rows, the dataset verdict and the share of drifted columns), a
// summary table (column, type, method, statistic, p-value, threshold,
// verdict, and "uncertain" where the statistic's error interval straddles
// the threshold) and, per column (and for the prediction column, when the
// report has one), an inline SVG chart of the reference distribution
// against the current one with the verdict and the statistic.
//
// Numeric columns are drawn as paired bars over 20 equal-width display
// bins: the report's bins (Distribution.Edges, bounded by Min and Max) are
// spread evenly over their width and summed into the display bins. When the
// extreme values are far from the bulk of the data, the display range is the
// span of the reference's and current's inner edges and the values beyond it
// are drawn in the first and last display bins (their axis labels then read
// "≤" and "≥"). Categorical columns are drawn as paired horizontal bars of
// the 15 categories with the largest share (reference or current), the rest
// summed into "other".
//
// Column names and categories are HTML-escaped (and made valid UTF-8).
// The output depends only on the report: the same report always gives the
// same bytes.
func (r *Report) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := &htmlPrinter{w: bw}
	p.page(r)
	if p.err != nil {
		return p.err
	}
	return bw.Flush()
}

// htmlPrinter writes HTML and remembers the first write error.
type htmlPrinter struct {
	w   *bufio.Writer
	err error
}

func (p *htmlPrinter) printf(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format, args...)
}

func (p *htmlPrinter) str(s string) {
	if p.err != nil {
		return
	}
	_, p.err = p.w.WriteString(s)
}

// esc makes s safe as HTML or XML text and attribute values: valid UTF-8,
// no control characters XML forbids, and <, >, &, ' and " escaped.
func esc(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return '\uFFFD'
		}
		if r == 0xFFFE || r == 0xFFFF {
			return '\uFFFD'
		}
		return r
	}, s)
	return html.EscapeString(s)
}

const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;background:#f5f6f8;color:#1d2430;font-size:14px;line-height:1.4}
main{max-width:1220px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 6px}
h2{font-size:18px;margin:28px 0 10px}
h3{font-size:15px;margin:0;overflow-wrap:anywhere}
.meta{color:#566072;margin:2px 0}
.verdict{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px;white-space:nowrap}
.drift{background:` + htmlColorDrift + `}.ok{background:` + htmlColorOK + `}
.unc{color:` + htmlColorUnc + `;font-weight:600;white-space:nowrap}
.banner{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 3px rgba(0,0,0,.1);display:flex;gap:32px;align-items:center;flex-wrap:wrap;margin-top:14px}
.banner .big{font-size:22px;font-weight:700}
.banner .lbl{color:#566072;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px rgba(0,0,0,.1);border-radius:8px;overflow:hidden}
th,td{padding:6px 10px;text-align:left;border-bottom:1px solid #e6e8ec;vertical-align:middle}
th{background:#eef0f4;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#3d4656}
td.num{text-align:right;font-variant-numeric:tabular-nums;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px}
td.name{overflow-wrap:anywhere;max-width:320px}
td.name a{color:#1d2430;text-decoration:none;border-bottom:1px dotted #8892a4}
tr.drifted td{background:#fdf1f1}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:16px;align-items:start}
.card{background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.1);border-left:5px solid ` + htmlColorOK + `}
.card.drifted{border-left-color:` + htmlColorDrift + `}
.card .head{display:flex;justify-content:space-between;align-items:center;gap:10px}
.card .stat{color:#3d4656;margin:6px 0 4px;font-size:13px}
.card .stat b{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
.card .extra{color:#566072;font-size:12px;margin:2px 0 0;font-family:ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.card svg{width:100%;height:auto;display:block;margin-top:6px}
.legend{font-size:12px;color:#566072}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px;vertical-align:-1px}
`

func (p *htmlPrinter) page(r *Report) {
	title := "Drift report"
	if r.Name != "" {
		title = "Drift report: " + r.Name
	}
	p.str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	p.str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	p.printf("<title>%s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", esc(title), htmlStyle)
	p.printf("<h1>%s</h1>\n", esc(title))
	if !r.Start.IsZero() || !r.End.IsZero() {
		p.printf("<p class=\"meta\">Window: %s – %s</p>\n", esc(htmlTime(r.Start)), esc(htmlTime(r.End)))
	}
	p.header(r)

	cols := r.Columns
	p.str("<h2>Columns</h2>\n")
	p.table(r)

	if r.Prediction != nil {
		p.str("<h2>Prediction drift</h2>\n<div class=\"grid\">\n")
		p.card(r.Prediction, "prediction")
		p.str("</div>\n")
	}
	if len(cols) > 0 {
		p.str("<h2>Distributions</h2>\n")
		p.printf("<p class=\"legend\">Share of values per bin or category:<span class=\"sw\" style=\"background:%s\"></span>reference<span class=\"sw\" style=\"background:%s\"></span>current</p>\n", htmlColorRef, htmlColorCur)
		p.str("<div class=\"grid\">\n")
		for i := range cols {
			p.card(&cols[i], "col-"+strconv.Itoa(i))
		}
		p.str("</div>\n")
	}
	p.str("</main>\n</body>\n</html>\n")
}

func htmlTime(t time.Time) string {
	if t.IsZero() {
		return "…"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func (p *htmlPrinter) header(r *Report) {
	p.str("<div class=\"banner\">\n")
	if r.DatasetDrift {
		p.printf("<div><div class=\"lbl\">Dataset</div><span class=\"verdict drift\">Dataset drift</span></div>\n")
	} else {
		p.printf("<div><div class=\"lbl\">Dataset</div><span class=\"verdict ok\">No dataset drift</span></div>\n")
	}
	p.printf("<div><div class=\"lbl\">Drifted columns</div><div class=\"big\">%d of %d</div></div>\n", r.Drifted, len(r.Columns))
	share := fmt.Sprintf("%.1f%%", 100*r.Share)
	if r.ShareThreshold > 0 {
		share += fmt.Sprintf(" <span class=\"meta\" style=\"font-size:13px;font-weight:400\">(drift at ≥ %.1f%%)</span>", 100*r.ShareThreshold)
	}
	p.printf("<div><div class=\"lbl\">Share drifted</div><div class=\"big\">%s</div></div>\n", share)
	p.printf("<div><div class=\"lbl\">Current rows</div><div class=\"big\">%s</div></div>\n", htmlInt(r.Rows))
	if r.Prediction != nil {
		v := "ok\">No drift"
		if r.Prediction.Drift {
			v = "drift\">Drift"
		}
		p.printf("<div><div class=\"lbl\">Prediction</div><span class=\"verdict %s</span></div>\n", v)
	}
	p.str("</div>\n")
}

// htmlInt formats n with thin-space thousands separators.
func htmlInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(",")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func (p *htmlPrinter) table(r *Report) {
	p.str("<table>\n<thead><tr><th>Column</th><th>Type</th><th>Method</th><th>Statistic</th><th>p-value</th><th>Threshold</th><th>Verdict</th><th></th></tr></thead>\n<tbody>\n")
	row := func(c *ColumnDrift, anchor string) {
		cls := ""
		if c.Drift {
			cls = " class=\"drifted\""
		}
		p.printf("<tr%s><td class=\"name\"><a href=\"#%s\">%s</a></td><td>%s</td><td>%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td>%s</td><td>%s</td></tr>\n",
			cls, anchor, esc(c.Column), esc(c.Kind.String()), esc(string(c.Method)),
			htmlNum(c.Statistic), htmlPValue(c.PValue), htmlNum(c.Threshold), htmlVerdict(c.Drift), htmlUncertain(c))
	}
	for i := range r.Columns {
		row(&r.Columns[i], "col-"+strconv.Itoa(i))
	}
	if r.Prediction != nil {
		row(r.Prediction, "prediction")
	}
	if len(r.Columns) == 0 && r.Prediction == nil {
		p.str("<tr><td colspan=\"8\">No columns compared.</td></tr>\n")
	}
	p.str("</tbody>\n</table>\n")
}

func htmlVerdict(drift bool) string {
	if drift {
		return "<span class=\"verdict drift\">Drift</span>"
	}
	return "<span class=\"verdict ok\">No drift</span>"
}

func htmlUncertain(c *ColumnDrift) string {
	if !c.Uncertain {
		return ""
	}
	return fmt.Sprintf("<span class=\"unc\" title=\"the statistic's error interval [%s, %s] straddles the threshold\">uncertain</span>",
		htmlNum(c.Low), htmlNum(c.High))
}

// htmlNum formats a statistic with 4 significant digits.
func htmlNum(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "∞"
	case math.IsInf(x, -1):
		return "−∞"
	case x == 0:
		return "0"
	}
	a := math.Abs(x)
	if a >= 1e-3 && a < 1e6 {
		return strconv.FormatFloat(x, 'g', 4, 64)
	}
	return strconv.FormatFloat(x, 'e', 2, 64)
}

func htmlPValue(p *float64) string {
	if p == nil {
		return "—"
	}
	if *p != 0 && *p < 1e-4 {
		return strconv.FormatFloat(*p, 'e', 2, 64)
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

// htmlAxis formats an axis label: 3 significant digits.
func htmlAxis(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return htmlNum(x)
	}
	a := math.Abs(x)
	if a >= 1e-2 && a < 1e5 {
		// Three significant digits, written without an exponent.
		r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 3, 64), 64)
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'e', 1, 64)
}

func (p *htmlPrinter) card(c *ColumnDrift, anchor string) {
	cls := "card"
	if c.Drift {
		cls += " drifted"
	}
	p.printf("<section class=\"%s\" id=\"%s\">\n<div class=\"head\"><h3>%s <span class=\"meta\" style=\"font-weight:400\">%s</span></h3>%s</div>\n",
		cls, anchor, esc(c.Column), esc(c.Kind.String()), htmlVerdict(c.Drift))
	// The statistic line.
	var stat strings.Builder
	fmt.Fprintf(&stat, "%s = <b>%s</b>", esc(string(c.Method)), htmlNum(c.Statistic))
	if c.PValue != nil {
		fmt.Fprintf(&stat, ", p = <b>%s</b> (drift when p &lt; %s)", htmlPValue(c.PValue), htmlNum(c.Threshold))
	} else {
		fmt.Fprintf(&stat, " (drift when &gt; %s)", htmlNum(c.Threshold))
	}
	if c.Low != c.High {
		fmt.Fprintf(&stat, "; interval [%s, %s]", htmlNum(c.Low), htmlNum(c.High))
	}
	if c.Uncertain {
		stat.WriteString(" " + htmlUncertain(c))
	}
	p.printf("<p class=\"stat\">%s</p>\n", stat.String())
	p.printf("<p class=\"extra\">reference %s values, current %s values", htmlInt(c.RefCount), htmlInt(c.CurCount))
	if len(c.Stats) > 0 {
		keys := make([]string, 0, len(c.Stats))
		for k := range c.Stats {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p.printf(" · %s %s", esc(k), htmlNum(c.Stats[k]))
		}
	}
	p.str("</p>\n")
	switch c.Kind {
	case Categorical:
		p.categoricalChart(c)
	default:
		p.numericChart(c)
	}
	p.str("</section>\n")
}

// svgOpen starts an SVG element of the given size with a title for
// accessibility.
func (p *htmlPrinter) svgOpen(w, h int, title string) {
	p.printf("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" font-family=\"system-ui,sans-serif\" font-size=\"11\">\n<title>%s</title>\n", w, h, w, h, esc(title))
}

func (p *htmlPrinter) noData(w, h int, title, msg string) {
	p.svgOpen(w, h, title)
	p.printf("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#8892a4\">%s</text>\n</svg>\n", w/2, h/2, esc(msg))
}

// bins returns a numeric distribution's bins as [lo, hi) intervals with
// their shares; the open first and last bins are bounded by Min and Max
// (or by the inner edges when Min and Max do not bound them).
func htmlBins(d *Distribution) (lo, hi, share []float64) {
	n := len(d.Shares)
	if n == 0 {
		return nil, nil, nil
	}
	if len(d.Edges) != n-1 {
		// Inconsistent: draw nothing rather than guess.
		return nil, nil, nil
	}
	mn, mx := d.Min, d.Max
	if n > 1 {
		first, last := d.Edges[0], d.Edges[n-2]
		if !(mn <= first) || (mn == 0 && mx == 0) {
			mn = first
		}
		if !(mx >= last) || (d.Min == 0 && mx == 0) {
			mx = last
		}
	}
	lo, hi, share = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		a, b := mn, mx
		if i > 0 {
			a = d.Edges[i-1]
		}
		if i < n-1 {
			b = d.Edges[i]
		}
		if b < a {
			b = a
		}
		lo[i], hi[i] = a, b
		s := d.Shares[i]
		if math.IsNaN(s) || s < 0 || math.IsInf(s, 0) {
			s = 0
		}
		share[i] = s
	}
	return lo, hi, share
}

// rebin spreads the bins [lo[i], hi[i]) evenly over their width and sums
// them into k equal-width display bins over [a, b]; values outside [a, b]
// go to the first or last display bin.
func htmlRebin(lo, hi, share []float64, a, b float64, k int) []float64 {
	out := make([]float64, k)
	w := (b - a) / float64(k)
	idx := func(x float64) int {
		if !(w > 0) {
			return 0
		}
		i := int(math.Floor((x - a) / w))
		return min(max(i, 0), k-1)
	}
	for i := range share {
		s := share[i]
		if s == 0 {
			continue
		}
		l, h := lo[i], hi[i]
		if !(h > l) || !(w > 0) {
			out[idx(l)] += s
			continue
		}
		// Parts below a and above b.
		if l < a {
			f := (min(h, a) - l) / (h - l)
			out[0] += s * f
		}
		if h > b {
			f := (h - max(l, b)) / (h - l)
			out[k-1] += s * f
		}
		cl, ch := max(l, a), min(h, b)
		if ch <= cl {
			continue
		}
		for j := idx(cl); j < k; j++ {
			ja := a + float64(j)*w
			jb := ja + w
			if j == k-1 {
				jb = b
			}
			if ja >= ch {
				break
			}
			ov := min(ch, jb) - max(cl, ja)
			if ov > 0 {
				out[j] += s * ov / (h - l)
			}
		}
	}
	return out
}

func (p *htmlPrinter) numericChart(c *ColumnDrift) {
	title := "Reference and current distribution of " + c.Column
	rlo, rhi, rs := htmlBins(&c.Reference)
	clo, chi, cs := htmlBins(&c.Current)
	if len(rs) == 0 && len(cs) == 0 {
		p.noData(htmlChartW, 60, title, "no distribution to draw")
		return
	}
	// Full range and core range (inner edges).
	a, b := math.Inf(1), math.Inf(-1)
	ca, cb := math.Inf(1), math.Inf(-1)
	for _, s := range [][]float64{rlo, clo} {
		for i, x := range s {
			a = min(a, x)
			if i > 0 {
				ca = min(ca, x)
			}
		}
	}
	for _, s := range [][]float64{rhi, chi} {
		for i, x := range s {
			b = max(b, x)
			if i < len(s)-1 {
				cb = max(cb, x)
			}
		}
	}
	clipLo, clipHi := false, false
	if cb > ca && b-a > 4*(cb-ca) {
		// Long tails: draw the bulk; the tails fall into the end bins.
		pad := (cb - ca) * 0.05
		if a < ca-pad {
			a, clipLo = ca-pad, true
		}
		if b > cb+pad {
			b, clipHi = cb+pad, true
		}
	}
	if !(b > a) {
		// One value: a unit-wide range around it.
		a, b = a-0.5, a+0.5
	}
	k := htmlNumBins
	var rd, cd []float64
	if len(rs) > 0 {
		rd = htmlRebin(rlo, rhi, rs, a, b, k)
	}
	if len(cs) > 0 {
		cd = htmlRebin(clo, chi, cs, a, b, k)
	}
	ymax := 0.0
	for _, v := range rd {
		ymax = max(ymax, v)
	}
	for _, v := range cd {
		ymax = max(ymax, v)
	}
	ymax, ystep := htmlNiceMax(ymax)

	const left, right, top, bottom = 46, 12, 10, 34
	W, H := htmlChartW, htmlNumChartH
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	p.svgOpen(W, H, title)
	// Grid and y labels.
	for i := 0; float64(i)*ystep <= ymax*(1+1e-9); i++ {
		v := float64(i) * ystep
		y := float64(top) + ph*(1-v/ymax)
		p.printf("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e6e8ec\"/>\n", left, y, W-right, y)
		p.printf("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#566072\">%s</text>\n", left-5, y+4, htmlPercent(v))
	}
	bw := pw / float64(k)
	bar := func(j int, v float64, off float64, color, who string) {
		if v <= 0 || ymax <= 0 {
			return
		}
		h := ph * v / ymax
		x := float64(left) + bw*float64(j) + off
		p.printf("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s %s</title></rect>\n",
			x, float64(top)+ph-h, bw*0.4, h, color, who, htmlPercent(v))
	}
	for j := range k {
		if rd != nil {
			bar(j, rd[j], bw*0.1, htmlColorRef, "reference")
		}
		if cd != nil {
			bar(j, cd[j], bw*0.5, htmlColorCur, "current")
		}
	}
	// X axis with labels at round values.
	y0 := top + int(ph)
	p.printf("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#8892a4\"/>\n", left, y0, W-right, y0)
	xstep := htmlNiceStep(b-a, 6)
	for v := math.Ceil(a/xstep) * xstep; v <= b; v += xstep {
		x := float64(left) + pw*(v-a)/(b-a)
		if math.Abs(v) < xstep*1e-9 {
			v = 0
		}
		p.printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#8892a4\"/>\n", x, y0, x, y0+4)
		p.printf("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#3d4656\">%s</text>\n", x, y0+17, esc(htmlAxis(v)))
	}
	var note []string
	if clipLo {
		note = append(note, "first bar includes values down to "+htmlAxis(min(htmlFirst(rlo), htmlFirst(clo))))
	}
	if clipHi {
		note = append(note, "last bar includes values up to "+htmlAxis(max(htmlLast(rhi), htmlLast(chi))))
	}
	if len(note) > 0 {
		p.printf("<text x=\"%d\" y=\"%d\" fill=\"#8892a4\">%s</text>\n", left, H-3, esc(strings.Join(note, "; ")))
	}
	p.str("</svg>\n")
}

// htmlNiceStep is a round step (1, 2, 2.5 or 5 times a power of ten) at
// least span/parts.
func htmlNiceStep(span, parts float64) float64 {
	raw := span / parts
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*e*1.0000001 {
			return m * e
		}
	}
	return 10 * e
}

// htmlNiceMax rounds a share up to a round axis maximum, returning it and
// the step between grid lines.
func htmlNiceMax(v float64) (top, step float64) {
	if !(v > 0) {
		return 1, 0.25
	}
	step = htmlNiceStep(v, 4)
	top = math.Ceil(v/step*(1-1e-9)) * step
	return top, step
}

func htmlPercent(v float64) string {
	pct := 100 * v
	switch {
	case pct == 0:
		return "0%"
	case pct < 1:
		return strconv.FormatFloat(pct, 'f', 2, 64) + "%"
	case pct < 10:
		return strconv.FormatFloat(pct, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(pct, 'f', 0, 64) + "%"
}

// htmlCategory is one row of a categorical chart.
type htmlCategory struct {
	name     string
	ref, cur float64
}

func htmlShares(d *Distribution) map[string]float64 {
	m := make(map[string]float64, len(d.Categories))
	for i, name := range d.Categories {
		if i < len(d.Shares) {
			s := d.Shares[i]
			if math.IsNaN(s) || s < 0 || math.IsInf(s, 0) {
				s = 0
			}
			m[name] += s
		}
	}
	return m
}

func (p *htmlPrinter) categoricalChart(c *ColumnDrift) {
	title := "Reference and current shares of the categories of " + c.Column
	rm, cm := htmlShares(&c.Reference), htmlShares(&c.Current)
	// Union of the categories, reference order first.
	var cats []htmlCategory
	seen := map[string]bool{}
	for _, d := range []*Distribution{&c.Reference, &c.Current} {
		for _, name := range d.Categories {
			if !seen[name] {
				seen[name] = true
				cats = append(cats, htmlCategory{name, rm[name], cm[name]})
			}
		}
	}
	if len(cats) == 0 {
		p.noData(htmlChartW, 60, title, "no categories to draw")
		return
	}
	slices.SortStableFunc(cats, func(x, y htmlCategory) int {
		mx, my := max(x.ref, x.cur), max(y.ref, y.cur)
		switch {
		case mx > my:
			return -1
		case mx < my:
			return 1
		}
		return strings.Compare(x.name, y.name)
	})
	other := -1 // the row of the summed rest, if any
	if len(cats) > htmlTopCats+1 {
		rest := htmlCategory{name: fmt.Sprintf("other (%d categories)", len(cats)-htmlTopCats)}
		for _, x := range cats[htmlTopCats:] {
			rest.ref += x.ref
			rest.cur += x.cur
		}
		cats = append(cats[:htmlTopCats:htmlTopCats], rest)
		other = htmlTopCats
	}
	// The axis fits the named categories; a much larger "other" row is cut
	// at the axis end (and marked) so that it does not flatten the rest.
	xmax := 0.0
	for i, x := range cats {
		if i != other {
			xmax = max(xmax, x.ref, x.cur)
		}
	}
	if other >= 0 && max(cats[other].ref, cats[other].cur) <= 1.5*xmax {
		xmax = max(xmax, cats[other].ref, cats[other].cur)
	}
	xmax, xstep := htmlNiceMax(xmax)

	const left, right, top, bottom = 170, 92, 8, 22
	W := htmlChartW
	H := top + bottom + htmlCatRowH*len(cats)
	pw := float64(W - left - right)
	p.svgOpen(W, H, title)
	for i := 0; float64(i)*xstep <= xmax*(1+1e-9); i++ {
		v := float64(i) * xstep
		x := float64(left) + pw*v/xmax
		p.printf("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e6e8ec\"/>\n", x, top, x, H-bottom)
		p.printf("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#566072\">%s</text>\n", x, H-bottom+15, htmlPercent(v))
	}
	for i, cat := range cats {
		y := float64(top + i*htmlCatRowH)
		label := cat.name
		if r := []rune(label); len(r) > 26 {
			label = string(r[:25]) + "…"
		}
		p.printf("<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1d2430\">%s<title>%s</title></text>\n",
			left-6, y+15, esc(label), esc(cat.name))
		cut := false
		bar := func(v, off float64, color, who string) {
			w := pw * v / xmax
			if w > pw {
				w, cut = pw, true
			}
			p.printf("<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"8\" fill=\"%s\"><title>%s %s</title></rect>\n",
				left, y+off, w, color, who, htmlPercent(v))
		}
		bar(cat.ref, 3, htmlColorRef, "reference")
		bar(cat.cur, 11, htmlColorCur, "current")
		end := float64(left) + pw*min(max(cat.ref, cat.cur)/xmax, 1)
		if cut {
			// A break mark: the bars are longer than drawn.
			p.printf("<path d=\"M%.1f %.1f l6 -20 M%.1f %.1f l6 -20\" stroke=\"#fff\" stroke-width=\"2\"/>\n",
				end-16, y+21, end-11, y+21)
		}
		p.printf("<text x=\"%.1f\" y=\"%.1f\" fill=\"#566072\" font-size=\"10\">%s → %s</text>\n",
			end+4, y+15, htmlPercent(cat.ref), htmlPercent(cat.cur))
	}
	p.str("</svg>\n")
}

func htmlFirst(s []float64) float64 {
	if len(s) == 0 {
		return math.Inf(1)
	}
	return s[0]
}

func htmlLast(s []float64) float64 {
	if len(s) == 0 {
		return math.Inf(-1)
	}
	return s[len(s)-1]
}
