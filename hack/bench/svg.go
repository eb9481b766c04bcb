package main

import (
	"encoding/xml"
	"fmt"
	"math"
	"strings"
)

// The picture's size and its plot area, in pixels.
const (
	svgWidth, svgHeight = 860, 540
	plotLeft, plotRight = 80, 830
	plotTop, plotBottom = 80, 480
)

// seriesColours are the tenants' colours, in tenant order (a ninth tenant takes the first again).
var seriesColours = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// point is one point of the picture in data units: x a resource's rank (1-based), y seconds.
type point struct{ x, y float64 }

// staircase is the throttling bound of n resources of one tenant as steps: the k-th write
// (0-based) cannot arrive before ⌊k/L⌋·W after the first (bound.go), and its resource is not Ready
// before two latencies more (its GET before the PATCH, the PATCH's answer after). The resource of
// rank x = k+1 is on step ⌊k/L⌋, so each step is drawn from its first rank to the next step's first
// rank (the last one to n): two points per step, ⌈n/L⌉ steps. It is the bound's own formula, so the
// last step's height is the bound of n PATCHes.
func staircase(n, limit int, window, latency float64) []point {
	if n <= 0 || limit <= 0 {
		return nil
	}
	pts := make([]point, 0, 2*ceilDiv(n, limit))
	for s := 0; s*limit < n; s++ {
		y := float64(s)*window + 2*latency
		pts = append(pts, point{float64(s*limit + 1), y}, point{float64(min((s+1)*limit+1, n)), y})
	}
	return pts
}

// plotScale maps data units to the plot area's pixels, with 0 at the bottom left.
type plotScale struct{ xMax, yMax float64 }

// px is the pixel column of x.
func (s plotScale) px(x float64) float64 { return plotLeft + x/s.xMax*(plotRight-plotLeft) }

// py is the pixel row of y: SVG rows grow downwards.
func (s plotScale) py(y float64) float64 { return plotBottom - y/s.yMax*(plotBottom-plotTop) }

// points renders pts as a polyline's points attribute.
func (s plotScale) points(pts []point) string {
	parts := make([]string, len(pts))
	for i, p := range pts {
		parts[i] = fmt.Sprintf("%.1f,%.1f", s.px(p.x), s.py(p.y))
	}
	return strings.Join(parts, " ")
}

// firstSyncSVG draws figure 1 of r: each tenant's resources in the order they became Ready against
// their time to Ready, and the staircase the throttling windows allow. Every tenant has its own
// limits (one app each), so one staircase, over the largest tenant's resources, serves them all.
func firstSyncSVG(r *Results) []byte {
	f, s := r.FirstSync, r.Settings
	most := 0
	yMax := f.BoundSeconds
	for _, ts := range f.readyByTenant {
		most = max(most, len(ts))
		for _, t := range ts {
			yMax = max(yMax, t)
		}
	}
	// The staircase runs over every resource of a tenant, Ready or not.
	stairN := ceilDiv(max(f.Resources, 1), max(s.Tenants, 1))
	stairs := staircase(stairN, f.WriteLimit, s.EmulatorWindowSeconds, s.LatencySeconds)
	if len(stairs) > 0 {
		yMax = max(yMax, stairs[len(stairs)-1].y)
	}
	xStep, yStep := max(1, niceStep(float64(max(most, stairN)), 8)), niceStep(yMax, 6)
	sc := plotScale{xMax: roundUp(float64(max(most, stairN)), xStep), yMax: roundUp(yMax, yStep)}

	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, svgHeight, svgWidth, svgHeight)
	title, subtitle := firstSyncTitle(r)
	fmt.Fprintf(&b, "<title>%s</title>\n", esc(title+"; "+subtitle))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, svgHeight)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="15" font-weight="bold">%s</text>`+"\n", plotLeft, esc(title))
	fmt.Fprintf(&b, `<text x="%d" y="50" font-size="13">%s</text>`+"\n", plotLeft, esc(subtitle))
	writeAxes(&b, sc, xStep, yStep, s.Tenants)
	if f.BoundSeconds > 0 {
		// The bound of what Graph actually admitted (which may be set by all requests, not the
		// writes): the ratio is the last Ready over this line.
		y := sc.py(f.BoundSeconds)
		fmt.Fprintf(&b, `<line class="bound-line" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#888" stroke-dasharray="2 3"/>`+"\n",
			plotLeft, y, plotRight, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">bound %.2f s</text>`+"\n", plotRight-4, y-4, f.BoundSeconds)
	}
	if len(stairs) > 0 {
		fmt.Fprintf(&b, `<polyline class="staircase" fill="none" stroke="#222" stroke-width="1.5" stroke-dasharray="6 3" points="%s"/>`+"\n",
			sc.points(stairs))
	}
	for i, ts := range f.readyByTenant {
		pts := make([]point, len(ts))
		for j, t := range ts {
			pts[j] = point{float64(j + 1), t}
		}
		fmt.Fprintf(&b, `<polyline class="series" data-tenant="%d" fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n",
			i, seriesColours[i%len(seriesColours)], sc.points(pts))
	}
	writeLegend(&b, f, s)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// firstSyncTitle names the run (n, tenants, latency, time scale) and what it measured (the ratio).
func firstSyncTitle(r *Results) (title, subtitle string) {
	f, s := r.FirstSync, r.Settings
	tenants := "1 tenant"
	if s.Tenants != 1 {
		tenants = fmt.Sprintf("%d tenants", s.Tenants)
	}
	title = fmt.Sprintf("First sync: %d resources, %s, latency %.0f ms, time scale %g×",
		f.Resources, tenants, s.LatencySeconds*1000, s.TimeScale)
	subtitle = fmt.Sprintf("all Ready after %.2f s; throttling bound %.2f s; ratio %.2f", f.ReadySeconds, f.BoundSeconds, f.Ratio)
	if f.NotReady > 0 {
		subtitle = fmt.Sprintf("%d not Ready when the wait gave up after %.2f s; throttling bound %.2f s; ratio ≥ %.2f",
			f.NotReady, f.ReadySeconds, f.BoundSeconds, f.Ratio)
	}
	return title, subtitle
}

// writeAxes draws the plot area's frame, the grid, the tick labels and the axes' names.
func writeAxes(b *strings.Builder, sc plotScale, xStep, yStep float64, tenants int) {
	xs, ys := ticks(sc.xMax, xStep), ticks(sc.yMax, yStep)
	fmt.Fprintf(b, `<g class="axes" stroke="#ccc">`+"\n")
	for _, x := range xs {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", sc.px(x), plotTop, sc.px(x), plotBottom)
	}
	for _, y := range ys {
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`+"\n", plotLeft, sc.py(y), plotRight, sc.py(y))
	}
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", plotLeft, plotTop, plotRight-plotLeft, plotBottom-plotTop)
	b.WriteString("</g>\n")
	for _, x := range xs {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", sc.px(x), plotBottom+18, tickLabel(x, xStep))
	}
	for _, y := range ys {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", plotLeft-6, sc.py(y)+4, tickLabel(y, yStep))
	}
	xName := "resources, in the order they became Ready"
	if tenants > 1 {
		xName = "resources of each tenant, in the order they became Ready"
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", (plotLeft+plotRight)/2, plotBottom+42, xName)
	fmt.Fprintf(b, `<text x="20" y="%d" text-anchor="middle" transform="rotate(-90 20 %d)">seconds since the first create</text>`+"\n",
		(plotTop+plotBottom)/2, (plotTop+plotBottom)/2)
}

// writeLegend draws the legend in the plot's top left corner, which the rising series leave empty:
// one line per tenant, then the staircase.
func writeLegend(b *strings.Builder, f *FirstSync, s Settings) {
	type entry struct{ colour, dash, text string }
	var entries []entry
	for i, ts := range f.readyByTenant {
		text := fmt.Sprintf("time to Ready (%d of %d)", len(ts), f.Resources)
		if len(f.readyByTenant) > 1 {
			text = fmt.Sprintf("tenant %d: time to Ready (%d)", i, len(ts))
		}
		entries = append(entries, entry{seriesColours[i%len(seriesColours)], "", text})
	}
	entries = append(entries, entry{"#222", "6 3", fmt.Sprintf("bound: ⌊k/L⌋·W + 2·latency (L = %d, W = %g s, latency %.0f ms)",
		f.WriteLimit, s.EmulatorWindowSeconds, s.LatencySeconds*1000)})
	x, y := plotLeft+10, plotTop+10
	fmt.Fprintf(b, `<rect class="legend" x="%d" y="%d" width="400" height="%d" fill="white" fill-opacity="0.85" stroke="#ccc"/>`+"\n",
		x, y, 18*len(entries)+8)
	for i, e := range entries {
		ly := y + 16 + 18*i
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n",
			x+8, ly-4, x+36, ly-4, e.colour, e.dash)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x+44, ly, esc(e.text))
	}
}

// ticks are 0, step, 2·step … up to top, computed from their index so that no error accumulates.
func ticks(top, step float64) []float64 {
	var out []float64
	for i := 0; float64(i)*step <= top+step/2; i++ {
		out = append(out, float64(i)*step)
	}
	return out
}

// niceStep is a tick spacing for about n ticks from 0 to top: 1, 2 or 5 times a power of ten.
func niceStep(top float64, n int) float64 {
	if top <= 0 || n <= 0 {
		return 1
	}
	raw := top / float64(n)
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if raw <= m*pow {
			return m * pow
		}
	}
	return 10 * pow
}

// roundUp is v rounded up to a whole number of steps, at least one step.
func roundUp(v, step float64) float64 {
	return max(step, math.Ceil(v/step-1e-9)*step)
}

// tickLabel renders v with as many decimals as step needs, so that 0.1+0.2 reads 0.3.
func tickLabel(v, step float64) string {
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	return fmt.Sprintf("%.*f", decimals, v)
}

// esc escapes text for an SVG element or attribute.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
