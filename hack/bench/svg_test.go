package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// testBench is a bench with Intune's limits at 5× (4 s windows) and 20 ms of latency: what
// throttlingBound needs, without an environment.
func testBench() *bench {
	b := &bench{cfg: config{latency: 20 * time.Millisecond}, limits: graphtest.IntuneLimits()}
	b.limits.Window = 4 * time.Second
	return b
}

// TestStaircase checks the steps against their formula and the last step against the bound.
func TestStaircase(t *testing.T) {
	b := testBench()
	lw, w, lat := b.writeLimit(), b.limits.Window.Seconds(), b.cfg.latency.Seconds()
	if lw != 100 {
		t.Fatalf("write limit %d, want Intune's 100 per app", lw)
	}
	pts := staircase(1000, lw, w, lat)
	want := []point{{1, 0.04}, {101, 0.04}, {101, 4.04}, {201, 4.04}}
	if len(pts) != 20 {
		t.Fatalf("1000 resources at 100 a window: %d points, want 2 per step, 20", len(pts))
	}
	for i, p := range want {
		if !near(pts[i], p) {
			t.Errorf("point %d = %v, want %v", i, pts[i], p)
		}
	}
	if last := pts[len(pts)-1]; !near(last, point{1000, 36.04}) {
		t.Errorf("last point %v, want {1000 36.04}: 9 windows + 2 latencies", last)
	}
	// The last step is where the bound of n PATCHes lies, whatever n.
	for _, n := range []int{1, 99, 100, 101, 250, 1000, 4000} {
		pts := staircase(n, lw, w, lat)
		if got := len(pts); got != 2*ceilDiv(n, lw) {
			t.Errorf("n %d: %d points, want %d", n, got, 2*ceilDiv(n, lw))
		}
		bound := b.boundFor(map[string]int{"t": n}).Seconds()
		if last := pts[len(pts)-1]; last.x != float64(n) || math.Abs(last.y-bound) > 1e-9 {
			t.Errorf("n %d: last point %v, want {%d %v} (the bound)", n, last, n, bound)
		}
	}
	if pts := staircase(10, 0, w, lat); pts != nil {
		t.Errorf("no write limit: %v, want no staircase", pts)
	}
}

// TestFirstSyncSVG decodes the picture of two tenants and counts each polyline's points.
func TestFirstSyncSVG(t *testing.T) {
	series := [][]float64{ramp(30, 0.3), ramp(29, 0.35)}
	r := &Results{
		Settings: Settings{Resources: 59, Tenants: 2, TimeScale: 5, EmulatorWindowSeconds: 4, LatencySeconds: 0.02},
		FirstSync: &FirstSync{Resources: 59, ReadySeconds: 10.15, BoundSeconds: 8.04, Ratio: 10.15 / 8.04,
			WriteLimit: 10, readyByTenant: series},
	}
	svg := firstSyncSVG(r)
	counts := map[string]int{} // points by polyline, "series 0", "series 1", "staircase"
	root := ""
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = el.Name.Space + " " + el.Name.Local
		}
		if el.Name.Local != "polyline" {
			continue
		}
		name := attr(el, "class")
		if tenant := attr(el, "data-tenant"); tenant != "" {
			name += " " + tenant
		}
		counts[name] += len(strings.Fields(attr(el, "points")))
	}
	if root != "http://www.w3.org/2000/svg svg" {
		t.Errorf("root element %q, want an svg in the SVG namespace", root)
	}
	// Each tenant's series has a point per resource; the staircase 2 per step of the largest tenant
	// (30 resources at 10 a window: 3 steps).
	want := map[string]int{"series 0": 30, "series 1": 29, "staircase": 6}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d points, want %d (all: %v)", k, counts[k], n, counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("polylines %v, want %v", counts, want)
	}
	for _, s := range []string{"59 resources", "2 tenants", "latency 20 ms", "time scale 5×", "ratio 1.26"} {
		if !bytes.Contains(svg, []byte(s)) {
			t.Errorf("the title does not name %q", s)
		}
	}
}

// ramp is n times to Ready, step seconds apart.
func ramp(n int, step float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i+1) * step
	}
	return out
}

// attr is the value of an element's attribute, "" without it.
func attr(el xml.StartElement, name string) string {
	for _, a := range el.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// near compares points to a nanosecond's precision.
func near(a, b point) bool {
	return math.Abs(a.x-b.x) < 1e-9 && math.Abs(a.y-b.y) < 1e-9
}
