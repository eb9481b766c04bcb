package graph

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// sampleCount is the sample count of the histogram series of family whose labels include
// labelPairs (name, value, name, value...) in controller-runtime's registry, summed.
func sampleCount(t *testing.T, family string, labelPairs ...string) uint64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() != family {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labelPairs) {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if have[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Method: http.MethodGet, Status: 429, RetryAfter: "0.01", Times: 1})
	c := e.client(t, e.config(), fastOptions())

	get200 := testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "200"))
	get429 := testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "429"))
	patch200 := testutil.ToFloat64(requestsTotal.WithLabelValues("PATCH", "200"))
	throttled := testutil.ToFloat64(throttledTotal.WithLabelValues(testTenant))
	reads := sampleCount(t, "overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "read")
	writes := sampleCount(t, "overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "write")
	durations := sampleCount(t, "overview_graph_request_duration_seconds", "method", "GET")

	// A read job throttled once, then run again; a write job.
	if err := runJob(t, c, ReadJob, func(ctx context.Context, calls Calls) error {
		_, err := calls.GetOverview(ctx, configID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := runJob(t, c, WriteJob, func(ctx context.Context, calls Calls) error {
		_, err := calls.PatchOverview(ctx, configID, Fields{ErrorCount: ptr[int32](0)})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	for _, check := range []struct {
		name      string
		got, want float64
	}{
		{"requests GET 200", testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "200")) - get200, 1},
		{"requests GET 429", testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "429")) - get429, 1},
		{"requests PATCH 200", testutil.ToFloat64(requestsTotal.WithLabelValues("PATCH", "200")) - patch200, 1},
		{"429s of the tenant", testutil.ToFloat64(throttledTotal.WithLabelValues(testTenant)) - throttled, 1},
		{"budget waits, read", float64(sampleCount(t, "overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "read") - reads), 2},
		{"budget waits, write", float64(sampleCount(t, "overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "write") - writes), 1},
		{"GET durations", float64(sampleCount(t, "overview_graph_request_duration_seconds", "method", "GET") - durations), 2},
	} {
		if check.got != check.want {
			t.Errorf("%s: %v more, want %v", check.name, check.got, check.want)
		}
	}
}
