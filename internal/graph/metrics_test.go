package graph

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

func TestMetrics(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	e.Inject(graphtest.Fault{Method: http.MethodGet, Status: 429, RetryAfter: "0.01", Times: 1})
	c := e.client(t, e.config(), fastOptions())

	get200 := testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "200"))
	get429 := testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "429"))
	patch200 := testutil.ToFloat64(requestsTotal.WithLabelValues("PATCH", "200"))
	throttled := testutil.ToFloat64(throttledTotal.WithLabelValues(testTenant))
	before, err := metricstest.Gather(metrics.Registry)
	if err != nil {
		t.Fatal(err)
	}

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

	after, err := metricstest.Gather(metrics.Registry)
	if err != nil {
		t.Fatal(err)
	}
	// observations is how many the histogram's series with labelPairs have gained.
	observations := func(name string, labelPairs ...string) float64 {
		return float64(after.SampleCount(name, labelPairs...) - before.SampleCount(name, labelPairs...))
	}
	for _, check := range []struct {
		name      string
		got, want float64
	}{
		{"requests GET 200", testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "200")) - get200, 1},
		{"requests GET 429", testutil.ToFloat64(requestsTotal.WithLabelValues("GET", "429")) - get429, 1},
		{"requests PATCH 200", testutil.ToFloat64(requestsTotal.WithLabelValues("PATCH", "200")) - patch200, 1},
		{"429s of the tenant", testutil.ToFloat64(throttledTotal.WithLabelValues(testTenant)) - throttled, 1},
		{"budget waits, read", observations("overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "read"), 2},
		{"budget waits, write", observations("overview_graph_budget_wait_seconds", "tenant", testTenant, "class", "write"), 1},
		{"GET durations", observations("overview_graph_request_duration_seconds", "method", "GET"), 2},
	} {
		if check.got != check.want {
			t.Errorf("%s: %v more, want %v", check.name, check.got, check.want)
		}
	}
}
