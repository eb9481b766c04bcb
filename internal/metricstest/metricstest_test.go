package metricstest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

const exposition = `# TYPE overview_graph_requests_total counter
overview_graph_requests_total{code="200",method="GET"} 3
overview_graph_requests_total{code="429",method="GET"} 1
overview_graph_requests_total{code="200",method="PATCH"} 2
# TYPE overview_connections gauge
overview_connections{kind="GraphConnection",ready="True"} 4
# TYPE overview_graph_budget_wait_seconds histogram
overview_graph_budget_wait_seconds_bucket{class="read",le="+Inf"} 5
overview_graph_budget_wait_seconds_sum{class="read"} 0.5
overview_graph_budget_wait_seconds_count{class="read"} 5
overview_graph_budget_wait_seconds_bucket{class="write",le="+Inf"} 2
overview_graph_budget_wait_seconds_sum{class="write"} 1.5
overview_graph_budget_wait_seconds_count{class="write"} 2
`

func TestParsedFamilies(t *testing.T) {
	families, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ got, want float64 }{
		"a counter, every series":         {families.Value("overview_graph_requests_total"), 6},
		"a counter, series with a label":  {families.Value("overview_graph_requests_total", "method", "GET"), 4},
		"a counter, series with labels":   {families.Value("overview_graph_requests_total", "method", "GET", "code", "200"), 3},
		"a gauge":                         {families.Value("overview_connections", "ready", "True"), 4},
		"labels no series has":            {families.Value("overview_graph_requests_total", "method", "DELETE"), 0},
		"a family that is not there":      {families.Value("overview_patches_applied_total"), 0},
		"a histogram, every series":       {float64(families.SampleCount("overview_graph_budget_wait_seconds")), 7},
		"a histogram, series with labels": {float64(families.SampleCount("overview_graph_budget_wait_seconds", "class", "write")), 2},
		"a histogram that is not there":   {float64(families.SampleCount("overview_graph_request_duration_seconds")), 0},
	}
	for name, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", name, c.got, c.want)
		}
	}
}

func TestGatheredFamilies(t *testing.T) {
	registry := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "overview_graph_requests_total"}, []string{"method", "code"})
	registry.MustRegister(requests)
	requests.WithLabelValues("GET", "200").Add(3)
	requests.WithLabelValues("PATCH", "200").Inc()

	families, err := Gather(registry)
	if err != nil {
		t.Fatal(err)
	}
	if got := families.Value("overview_graph_requests_total", "method", "GET"); got != 3 {
		t.Errorf("GETs: %v, want 3", got)
	}
}

func TestSeries(t *testing.T) {
	families, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := []Series{
		{Labels: map[string]string{"code": "200", "method": "GET"}, Value: 3},
		{Labels: map[string]string{"code": "429", "method": "GET"}, Value: 1},
		{Labels: map[string]string{"code": "200", "method": "PATCH"}, Value: 2},
	}
	if diff := cmp.Diff(want, families.Series("overview_graph_requests_total")); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	if got := families.Series("overview_patches_applied_total"); len(got) != 0 {
		t.Errorf("a family that is not there: %v, want no series", got)
	}
}
