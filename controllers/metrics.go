package controllers

import (
	"slices"
	"strings"
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
	last  map[K]*labelValues // the label values each object counts under
	// states holds each set of label values once, by the values joined: there are a few of them
	// (kinds × statuses × reasons) and as many objects as the cluster holds.
	states map[string]*labelValues
}

// labelValues are the label values of one state, shared by every object in it.
type labelValues []string

func newConditionTracker[K comparable](gauge *prometheus.GaugeVec) *conditionTracker[K] {
	return &conditionTracker[K]{gauge: gauge, last: map[K]*labelValues{}, states: map[string]*labelValues{}}
}

// observe counts an object under the Ready condition in conds (Unknown, Progressing when there is
// none), after the leading label values (the connection kind).
func (t *conditionTracker[K]) observe(key K, conds []metav1.Condition, leading ...string) {
	status, reason := string(metav1.ConditionUnknown), intunev1alpha1.ReasonProgressing
	if c := meta.FindStatusCondition(conds, intunev1alpha1.ConditionReady); c != nil {
		status, reason = string(c.Status), c.Reason
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old, ok := t.last[key]
	if ok && old.is(leading, status, reason) {
		return
	}
	state := t.intern(leading, status, reason)
	if ok {
		t.gauge.WithLabelValues(*old...).Dec()
	}
	t.last[key] = state
	t.gauge.WithLabelValues(*state...).Inc()
}

// is reports whether v are leading, status and reason.
func (v *labelValues) is(leading []string, status, reason string) bool {
	n := len(leading)
	return len(*v) == n+2 && slices.Equal((*v)[:n], leading) && (*v)[n] == status && (*v)[n+1] == reason
}

// intern returns the one labelValues of leading, status and reason, with strings of its own (not
// the decoded object's, which it would keep alive). Called under t.mu.
func (t *conditionTracker[K]) intern(leading []string, status, reason string) *labelValues {
	values := append(slices.Clone(leading), status, reason)
	joined := strings.Join(values, "\x00")
	if v, ok := t.states[joined]; ok {
		return v
	}
	for i := range values {
		values[i] = strings.Clone(values[i])
	}
	v := labelValues(values)
	t.states[joined] = &v
	return &v
}

// forget stops counting a deleted object.
func (t *conditionTracker[K]) forget(key K) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.last[key]; ok {
		t.gauge.WithLabelValues(*old...).Dec()
		delete(t.last, key)
	}
}
