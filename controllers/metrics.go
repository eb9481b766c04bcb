package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

var (
	driftDetected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overview_drift_detected_total",
		Help: "Observations in which a managed field differed from Graph, by management policy.",
	}, []string{"policy"})
	patchesApplied = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "overview_patches_applied_total",
		Help: "PATCHes that Graph accepted.",
	})
	resourcesByCondition = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "overview_resources",
		Help: "DeviceConfigurationUserOverviews by the status and reason of their Ready condition.",
	}, []string{"ready", "reason"})
)

func init() {
	metrics.Registry.MustRegister(driftDetected, patchesApplied, resourcesByCondition)
}

// resourceMetrics keeps overview_resources: each resource counts once, under its latest Ready state.
var resourceMetrics = &conditionTracker{last: map[types.NamespacedName][2]string{}}

type conditionTracker struct {
	mu   sync.Mutex
	last map[types.NamespacedName][2]string
}

// observe counts a resource under the Ready condition in conds (Unknown when there is none).
func (t *conditionTracker) observe(key types.NamespacedName, conds []metav1.Condition) {
	state := [2]string{string(metav1.ConditionUnknown), intunev1alpha1.ReasonProgressing}
	if c := meta.FindStatusCondition(conds, intunev1alpha1.ConditionReady); c != nil {
		state = [2]string{string(c.Status), c.Reason}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.last[key]; ok {
		if old == state {
			return
		}
		resourcesByCondition.WithLabelValues(old[0], old[1]).Dec()
	}
	t.last[key] = state
	resourcesByCondition.WithLabelValues(state[0], state[1]).Inc()
}

// forget stops counting a deleted resource.
func (t *conditionTracker) forget(key types.NamespacedName) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.last[key]; ok {
		resourcesByCondition.WithLabelValues(old[0], old[1]).Dec()
		delete(t.last, key)
	}
}
