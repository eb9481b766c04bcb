package controllers

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/sharding"
)

var (
	driftDetected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overview_drift_detected_total",
		Help: "Observations in which a managed field differed from Graph, by kind of resource and management policy.",
	}, []string{"kind", "policy"})
	patchesApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overview_patches_applied_total",
		Help: "PATCHes that Graph accepted, by kind of resource.",
	}, []string{"kind"})
	resourcesByCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "overview_resources",
		Help: "DeviceConfigurationUserOverviews and DeviceConfigurationDeviceOverviews by kind and the status and reason of their Ready condition.",
	}, []string{"kind", "ready", "reason"})
	connectionsByCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "overview_connections",
		Help: "GraphConnections and ClusterGraphConnections by kind and the status and reason of their Ready condition.",
	}, []string{"kind", "ready", "reason"})
)

// shardRing is the ring the shard gauges read, nil without sharding.
var shardRing atomic.Pointer[sharding.Ring]

func init() {
	metrics.Registry.MustRegister(driftDetected, patchesApplied, resourcesByCondition, connectionsByCondition,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "overview_shard_members",
			Help: "Live replicas of the ring, this one among them, as this replica saw them last; 0 without --sharding.",
		}, func() float64 {
			if r := shardRing.Load(); r != nil {
				return float64(len(r.Members()))
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "overview_shard_keys_owned",
			Help: "Apps in tenants (pacer keys) this replica owns and calls Graph for now; 0 without --sharding.",
		}, func() float64 {
			if r := shardRing.Load(); r != nil {
				return float64(r.Owned())
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "overview_shard_shared_keys",
			Help: "Apps in tenants this replica claims that a replica of another ring (another deployment) in its namespace claims too: both spend the tenant's whole Graph budget. Shard by tenant. 0 without --sharding.",
		}, func() float64 {
			if r := shardRing.Load(); r != nil {
				return float64(r.Shared())
			}
			return 0
		}))
}

// resourceMetrics keeps overview_resources: each resource counts once, under its kind and its
// latest Ready state.
var resourceMetrics = newConditionTracker[resourceKey](resourcesByCondition)

// resourceKey names a resource of any kind.
type resourceKey struct {
	kind string
	types.NamespacedName
}

// connectionMetrics keeps overview_connections, keyed by connectionKey; the kind label comes first.
var connectionMetrics = newConditionTracker[string](connectionsByCondition)

// conditionTracker counts objects in a gauge by their Ready condition, each under the state its
// last status showed, so that the gauge stays right as conditions change and objects go.
type conditionTracker[K comparable] struct {
	gauge *prometheus.GaugeVec
	mu    sync.Mutex
	last  map[K][]string // the label values each object counts under
}

func newConditionTracker[K comparable](gauge *prometheus.GaugeVec) *conditionTracker[K] {
	return &conditionTracker[K]{gauge: gauge, last: map[K][]string{}}
}

// observe counts an object under the Ready condition in conds (Unknown, Progressing when there is
// none), after the leading label values (the connection kind).
func (t *conditionTracker[K]) observe(key K, conds []metav1.Condition, leading ...string) {
	state := append(slices.Clone(leading), string(metav1.ConditionUnknown), intunev1alpha1.ReasonProgressing)
	if c := meta.FindStatusCondition(conds, intunev1alpha1.ConditionReady); c != nil {
		state[len(leading)], state[len(leading)+1] = string(c.Status), c.Reason
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.last[key]; ok {
		if slices.Equal(old, state) {
			return
		}
		t.gauge.WithLabelValues(old...).Dec()
	}
	t.last[key] = state
	t.gauge.WithLabelValues(state...).Inc()
}

// forget stops counting a deleted object.
func (t *conditionTracker[K]) forget(key K) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.last[key]; ok {
		t.gauge.WithLabelValues(old...).Dec()
		delete(t.last, key)
	}
}
