package graph

import (
	"context"
	"net/http"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

func TestMetrics(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Method: http.MethodGet, Status: 429, RetryAfter: "0.01", Times: 1})
	c := e.client(t, e.config(), fastOptions())

	before, err := metricstest.Gather(metrics.Registry)
	if err != nil {
		t.Fatal(err)
	}

	// A read job throttled once, then run again; a write job.
	if err := runJob(t, c, ReadJob, func(ctx context.Context, calls Calls) error {
		_, err := calls.Get(ctx, UserOverview, configID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := runJob(t, c, WriteJob, func(ctx context.Context, calls Calls) error {
		_, err := calls.Patch(ctx, UserOverview, configID, Fields{ErrorCount: ptr[int32](0)})
		return err
	}); err != nil {
		t.Fatal(err)
	}

	after, err := metricstest.Gather(metrics.Registry)
	if err != nil {
		t.Fatal(err)
	}
	// counted is how much the counter's series with labelPairs have gained.
	counted := func(name string, labelPairs ...string) float64 {
		return after.Value(name, labelPairs...) - before.Value(name, labelPairs...)
	}
	// observations is how many the histogram's series with labelPairs have gained.
	observations := func(name string, labelPairs ...string) float64 {
		return float64(after.SampleCount(name, labelPairs...) - before.SampleCount(name, labelPairs...))
	}
	for _, check := range []struct {
		name      string
		got, want float64
	}{
		{"requests GET 200", counted("overview_graph_requests_total", "method", "GET", "code", "200"), 1},
		{"requests GET 429", counted("overview_graph_requests_total", "method", "GET", "code", "429"), 1},
		{"requests PATCH 200", counted("overview_graph_requests_total", "method", "PATCH", "code", "200"), 1},
		{"429s of the tenant", counted("overview_graph_throttled_total", "tenant", testTenant), 1},
		{"budget waits, read", observations("overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "read"), 2},
		{"budget waits, write", observations("overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "write"), 1},
		{"GET durations", observations("overview_graph_request_duration_seconds", "method", "GET"), 2},
	} {
		if check.got != check.want {
			t.Errorf("%s: %v more, want %v", check.name, check.got, check.want)
		}
	}
}
