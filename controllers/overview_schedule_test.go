package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/schedule"
)

// TestSyncDue plays the decision of a pass, whether to call Graph, on a fake clock: the events that
// must reach Graph at once, and the routine sync that waits for the resource's slot.
func TestSyncDue(t *testing.T) {
	const interval = 10 * time.Minute
	const uid = "0b9c1d2e-3f4a-4b6c-8d8e-000000000001"
	// The clock starts one second after a slot of the resource's grid.
	slot := schedule.Last(uid, interval, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	synced := metav1.Condition{Type: intunev1alpha1.ConditionSynced, Status: metav1.ConditionTrue}
	failing := metav1.Condition{Type: intunev1alpha1.ConditionSynced, Status: metav1.ConditionFalse}

	cases := map[string]struct {
		edit      func(*intunev1alpha1.DeviceConfigurationUserOverview)
		lastSync  time.Duration // before the clock's start; 0: first seen by this process now
		advance   time.Duration // how far the clock moves before the pass
		due       bool
		requeueIn time.Duration // for a pass that is not due: until the next slot
	}{
		"first seen after a restart, synced before: waits for its slot": {
			requeueIn: interval - time.Second,
		},
		"a new generation": {
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) { o.Generation = 3 },
			due:  true,
		},
		"a sync requested through the annotation": {
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Annotations = map[string]string{intunev1alpha1.AnnotationReconcileRequestedAt: "2026-12-01T10:00:00Z"}
			},
			due: true,
		},
		"the request already served": {
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Annotations = map[string]string{intunev1alpha1.AnnotationReconcileRequestedAt: "2026-12-01T10:00:00Z"}
				o.Status.LastHandledReconcileAt = "2026-12-01T10:00:00Z"
			},
			requeueIn: interval - time.Second,
		},
		"the last pass failed": {
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Status.Conditions = []metav1.Condition{failing}
			},
			due: true,
		},
		"synced before the slot that has come": {
			lastSync: 2 * time.Second,
			due:      true,
		},
		"synced after the slot: waits for the next one, however the clock moves within it": {
			advance:   interval - 3*time.Second,
			requeueIn: 2 * time.Second,
		},
		"the next slot has come": {
			advance: interval,
			due:     true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			start := slot.Add(time.Second)
			clk := clocktesting.NewFakePassiveClock(start)
			r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind), clock: clk, syncInterval: interval}
			obj := &intunev1alpha1.DeviceConfigurationUserOverview{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: uid, Generation: 2},
				Status: intunev1alpha1.OverviewStatus{
					ObservedGeneration: 2,
					Conditions:         []metav1.Condition{synced},
				},
			}
			if tc.edit != nil {
				tc.edit(obj)
			}
			rec := r.memory.recordFor(obj, clk.Now())
			if tc.lastSync != 0 {
				r.memory.synced(rec, start.Add(-tc.lastSync))
			}
			clk.SetTime(start.Add(tc.advance))
			p := &overviewPass{obj: obj.DeepCopy(), base: obj, now: clk.Now()}

			if got := r.syncDue(p, rec); got != tc.due {
				t.Fatalf("syncDue = %t, want %t", got, tc.due)
			}
			if !tc.due {
				if got := r.nextSync(p).RequeueAfter; got != tc.requeueIn {
					t.Errorf("requeued after %v, want %v", got, tc.requeueIn)
				}
			}
		})
	}
}
