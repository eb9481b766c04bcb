package graph

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// The Graph client's metrics, registered once in controller-runtime's
// registry so that the manager's metrics endpoint serves them. No label holds
// a secret; tenant is the tenant id of a connection.
var (
	requestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overview_graph_requests_total",
		Help: "Graph requests (each try), by HTTP method and status code (\"error\" when Graph did not answer).",
	}, []string{"method", "code"})

	requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "overview_graph_request_duration_seconds",
		Help:    "Duration of Graph requests (each try), by HTTP method.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"method"})

	throttledTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overview_graph_throttled_total",
		Help: "Graph answers 429 Too Many Requests, by tenant id and the scope Graph said it counted the call in (x-ms-throttle-scope): Tenant_Application (the app in the tenant), Tenant (all its apps), Application (the app in all its tenants), none (it did not say) or unknown.",
	}, []string{"tenant", "scope"})

	budgetWaitSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "overview_graph_budget_wait_seconds",
		Help:    "Time jobs waited in their tenant's line before they started, by tenant id and class (read or write).",
		Buckets: []float64{0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300},
	}, []string{"tenant", "class"})
)

func init() {
	metrics.Registry.MustRegister(requestsTotal, requestDuration, throttledTotal, budgetWaitSeconds)
}
