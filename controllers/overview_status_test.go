package controllers

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// The times of the status tests: an earlier pass's, and this one's.
var (
	lastPass = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	thisPass = lastPass.Add(time.Hour)
)

// conditionAt is a condition as setCondition writes it; the message is left out of comparisons
// (ignoreMessages), since its wording belongs to the error's classification, not to these tests.
func conditionAt(typ string, status metav1.ConditionStatus, reason string, generation int64, at time.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, ObservedGeneration: generation,
		LastTransitionTime: metav1.NewTime(at), Message: "said"}
}

var ignoreMessages = cmpopts.IgnoreFields(metav1.Condition{}, "Message")

// failureOf is what a pass that failed with err records.
func failureOf(err error) *failure {
	f := classify(err)
	return &f
}

func TestDeriveStatus(t *testing.T) {
	const (
		ready, synced, stalled = intunev1alpha1.ConditionReady, intunev1alpha1.ConditionSynced, intunev1alpha1.ConditionStalled
		yes, no                = metav1.ConditionTrue, metav1.ConditionFalse
	)
	observed := &graph.Overview{ID: "id", SuccessCount: 12, PendingCount: 7}
	drift := []intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "3"}}
	// upToDate is the status of a resource synced at generation 2 on the last pass.
	upToDate := intunev1alpha1.OverviewStatus{
		ObservedGeneration: 2,
		Conditions: []metav1.Condition{
			conditionAt(ready, yes, intunev1alpha1.ReasonUpToDate, 2, lastPass),
			conditionAt(synced, yes, intunev1alpha1.ReasonSucceeded, 2, lastPass),
		},
		Observed:        &intunev1alpha1.ObservedOverview{ID: "id", SuccessCount: 12},
		LastSyncTime:    ptr.To(metav1.NewTime(lastPass)),
		LastAppliedTime: ptr.To(metav1.NewTime(lastPass)),
		LastRequestID:   "r0",
	}
	// withConditions is upToDate with other conditions.
	withConditions := func(cs ...metav1.Condition) intunev1alpha1.OverviewStatus {
		st := *upToDate.DeepCopy()
		st.Conditions = cs
		return st
	}

	cases := map[string]struct {
		generation  int64
		annotations map[string]string
		was         intunev1alpha1.OverviewStatus
		pass        overviewPass // the facts
		want        intunev1alpha1.OverviewStatus
	}{
		"the first sync, a PATCH Graph kept: Ready and Synced since now, the generation observed": {
			generation:  2,
			annotations: map[string]string{intunev1alpha1.AnnotationReconcileRequestedAt: "req-1"},
			pass: overviewPass{synced: true,
				result: &syncResult{generation: 2, observed: observed, requestID: "r1", applied: true, at: thisPass.Add(-time.Second)}},
			want: intunev1alpha1.OverviewStatus{
				ObservedGeneration: 2,
				Conditions: []metav1.Condition{
					conditionAt(ready, yes, intunev1alpha1.ReasonUpToDate, 2, thisPass),
					conditionAt(synced, yes, intunev1alpha1.ReasonSucceeded, 2, thisPass),
				},
				Observed:               observedFrom(graph.UserOverview, observed),
				LastAppliedTime:        ptr.To(metav1.NewTime(thisPass.Add(-time.Second))),
				LastRequestID:          "r1",
				LastHandledReconcileAt: "req-1",
			},
		},
		"a steady resync: every condition keeps its lastTransitionTime, lastAppliedTime stays": {
			generation: 2,
			was:        upToDate,
			pass:       overviewPass{synced: true, result: &syncResult{generation: 2, observed: observed, requestID: "r1", at: thisPass}},
			want: func() intunev1alpha1.OverviewStatus {
				st := *upToDate.DeepCopy()
				st.Observed, st.LastRequestID = observedFrom(graph.UserOverview, observed), "r1"
				return st
			}(),
		},
		"ObserveOnly finds drift: Ready stays True with DriftDetected, since the last transition; drift and driftCount": {
			generation: 2,
			was:        upToDate,
			pass:       overviewPass{synced: true, result: &syncResult{generation: 2, observed: observed, drift: drift, at: thisPass}},
			want: func() intunev1alpha1.OverviewStatus {
				st := *upToDate.DeepCopy()
				st.Conditions[0].Reason = intunev1alpha1.ReasonDriftDetected
				st.Observed, st.LastRequestID = observedFrom(graph.UserOverview, observed), ""
				st.Drift, st.DriftCount = drift, 1
				return st
			}(),
		},
		"a new generation synced: the conditions observe it, and keep their lastTransitionTime": {
			generation: 3,
			was:        upToDate,
			pass:       overviewPass{synced: true, result: &syncResult{generation: 3, observed: observed, applied: true, at: thisPass}},
			want: func() intunev1alpha1.OverviewStatus {
				st := *upToDate.DeepCopy()
				st.ObservedGeneration = 3
				st.Conditions[0].ObservedGeneration, st.Conditions[1].ObservedGeneration = 3, 3
				st.Observed, st.LastRequestID = observedFrom(graph.UserOverview, observed), ""
				st.LastAppliedTime = ptr.To(metav1.NewTime(thisPass))
				return st
			}(),
		},
		"Graph unavailable a while: Synced False, Ready of this generation holds": {
			generation: 2,
			was:        upToDate,
			pass:       overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusServiceUnavailable})},
			want: withConditions(
				conditionAt(ready, yes, intunev1alpha1.ReasonUpToDate, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonGraphUnavailable, 2, thisPass),
			),
		},
		"throttled a while: Synced False, Ready of this generation holds": {
			generation: 2,
			was:        upToDate,
			pass:       overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: time.Minute})},
			want: withConditions(
				conditionAt(ready, yes, intunev1alpha1.ReasonUpToDate, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonThrottled, 2, thisPass),
			),
		},
		"Graph unavailable for a new generation: Ready False, the generation not observed": {
			generation: 3,
			was:        upToDate,
			pass:       overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusBadGateway})},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonGraphUnavailable, 3, thisPass),
				conditionAt(synced, no, intunev1alpha1.ReasonGraphUnavailable, 3, thisPass),
			),
		},
		"the configuration is gone: Ready False, though it was True for this generation": {
			generation: 2,
			was:        upToDate,
			pass:       overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusNotFound})},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonNotFound, 2, thisPass),
				conditionAt(synced, no, intunev1alpha1.ReasonNotFound, 2, thisPass),
			),
		},
		"a failure that needs a person: Stalled, and the generation it stalled on observed": {
			generation: 3,
			was:        upToDate,
			pass:       overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusBadRequest})},
			want: func() intunev1alpha1.OverviewStatus {
				st := withConditions(
					conditionAt(ready, no, intunev1alpha1.ReasonBadRequest, 3, thisPass),
					conditionAt(synced, no, intunev1alpha1.ReasonBadRequest, 3, thisPass),
					conditionAt(stalled, yes, intunev1alpha1.ReasonBadRequest, 3, thisPass),
				)
				st.ObservedGeneration = 3
				return st
			}(),
		},
		"the same failure again: nothing moves": {
			generation: 2,
			was: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(stalled, yes, intunev1alpha1.ReasonForbidden, 2, lastPass),
			),
			pass: overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusForbidden})},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(stalled, yes, intunev1alpha1.ReasonForbidden, 2, lastPass),
			),
		},
		"another failure with the same status: the reason changes, the lastTransitionTime stays": {
			generation: 2,
			was: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonGraphUnavailable, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonGraphUnavailable, 2, lastPass),
			),
			pass: overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusNotFound})},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonNotFound, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonNotFound, 2, lastPass),
			),
		},
		"a retryable failure after a stall: no longer Stalled": {
			generation: 2,
			was: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(stalled, yes, intunev1alpha1.ReasonForbidden, 2, lastPass),
			),
			pass: overviewPass{failure: failureOf(&graph.Error{StatusCode: http.StatusInternalServerError})},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonGraphUnavailable, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonGraphUnavailable, 2, lastPass),
			),
		},
		"a sync after a stall: Ready and Synced True since now, Stalled gone": {
			generation: 2,
			was: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonForbidden, 2, lastPass),
				conditionAt(stalled, yes, intunev1alpha1.ReasonForbidden, 2, lastPass),
			),
			pass: overviewPass{synced: true, result: &syncResult{generation: 2, observed: observed, at: thisPass}},
			want: func() intunev1alpha1.OverviewStatus {
				st := withConditions(
					conditionAt(ready, yes, intunev1alpha1.ReasonUpToDate, 2, thisPass),
					conditionAt(synced, yes, intunev1alpha1.ReasonSucceeded, 2, thisPass),
				)
				st.Observed, st.LastRequestID = observedFrom(graph.UserOverview, observed), ""
				return st
			}(),
		},
		"a PATCH Graph accepted and a read-back that failed: what Graph answered, when, and Ready False": {
			generation: 3,
			was:        upToDate,
			pass: overviewPass{
				result: &syncResult{generation: 3, observed: observed, requestID: "r1", applied: true, at: thisPass,
					err: &graph.Error{StatusCode: http.StatusServiceUnavailable}},
				failure: failureOf(&graph.Error{StatusCode: http.StatusServiceUnavailable}),
			},
			want: func() intunev1alpha1.OverviewStatus {
				st := withConditions(
					conditionAt(ready, no, intunev1alpha1.ReasonGraphUnavailable, 3, thisPass),
					conditionAt(synced, no, intunev1alpha1.ReasonGraphUnavailable, 3, thisPass),
				)
				st.Observed, st.LastRequestID = observedFrom(graph.UserOverview, observed), "r1"
				st.LastAppliedTime = ptr.To(metav1.NewTime(thisPass))
				return st
			}(),
		},
		"a GET that failed: what was observed before stays": {
			generation: 2,
			was:        upToDate,
			pass: overviewPass{
				result:  &syncResult{generation: 2, at: thisPass, err: &graph.Error{StatusCode: http.StatusNotFound}},
				failure: failureOf(&graph.Error{StatusCode: http.StatusNotFound}),
			},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonNotFound, 2, thisPass),
				conditionAt(synced, no, intunev1alpha1.ReasonNotFound, 2, thisPass),
			),
		},
		"paused after a sync of this generation: Synced False, Ready holds": {
			generation: 2,
			was:        upToDate,
			pass:       overviewPass{paused: true},
			want: withConditions(
				conditionAt(ready, yes, intunev1alpha1.ReasonUpToDate, 2, lastPass),
				conditionAt(synced, no, intunev1alpha1.ReasonPaused, 2, thisPass),
			),
		},
		"paused with a spec that was never synced: Ready False": {
			generation: 3,
			was:        upToDate,
			pass:       overviewPass{paused: true},
			want: withConditions(
				conditionAt(ready, no, intunev1alpha1.ReasonPaused, 3, thisPass),
				conditionAt(synced, no, intunev1alpha1.ReasonPaused, 3, thisPass),
			),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			base := &intunev1alpha1.DeviceConfigurationUserOverview{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", Generation: tc.generation, Annotations: tc.annotations},
				Status:     tc.was,
			}
			p := tc.pass
			p.base, p.obj, p.entity, p.now = base, base.DeepCopy(), graph.UserOverview, thisPass
			p.deriveStatus()
			if d := cmp.Diff(tc.want, *p.obj.OverviewStatus(), ignoreMessages, cmpopts.SortSlices(func(a, b metav1.Condition) bool { return a.Type < b.Type })); d != "" {
				t.Errorf("status (-want +got):\n%s", d)
			}
			for _, c := range p.obj.OverviewStatus().Conditions {
				if c.Message == "" {
					t.Errorf("%s says %s with no message", c.Type, c.Reason)
				}
			}
		})
	}
}

// TestStatusWriteDue plays the decision to write status: a steady resource writes nothing but a
// heartbeat an hour.
func TestStatusWriteDue(t *testing.T) {
	steady := intunev1alpha1.OverviewStatus{
		ObservedGeneration: 2,
		Conditions: []metav1.Condition{
			conditionAt(intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate, 2, lastPass),
			conditionAt(intunev1alpha1.ConditionSynced, metav1.ConditionTrue, intunev1alpha1.ReasonSucceeded, 2, lastPass),
		},
		Observed:      &intunev1alpha1.ObservedOverview{ID: "id", SuccessCount: 12},
		LastSyncTime:  ptr.To(metav1.NewTime(lastPass)),
		LastRequestID: "r0",
	}
	cases := map[string]struct {
		synced   bool
		since    time.Duration // from the last sync time to the pass
		noSync   bool          // status has no lastSyncTime
		edit     func(*intunev1alpha1.OverviewStatus)
		writeDue bool
	}{
		"nothing changed, synced 59 minutes ago": {synced: true, since: 59 * time.Minute},
		"nothing changed, synced an hour ago: the heartbeat": {
			synced: true, since: heartbeat, writeDue: true,
		},
		"nothing changed, never synced before": {synced: true, noSync: true, since: time.Second, writeDue: true},
		"only the request-id changed": {
			synced: true, since: time.Minute,
			edit: func(st *intunev1alpha1.OverviewStatus) { st.LastRequestID = "r1" },
		},
		"a failed pass whose failure is in status already: no heartbeat, however old the sync": {
			since: 3 * time.Hour,
		},
		"what Graph holds changed": {
			synced: true, since: time.Minute, writeDue: true,
			edit: func(st *intunev1alpha1.OverviewStatus) { st.Observed.PendingCount = 1 },
		},
		"a condition's reason changed": {
			since: time.Minute, writeDue: true,
			edit: func(st *intunev1alpha1.OverviewStatus) {
				st.Conditions[0].Reason = intunev1alpha1.ReasonDriftDetected
			},
		},
		"a new generation observed": {
			synced: true, since: time.Minute, writeDue: true,
			edit: func(st *intunev1alpha1.OverviewStatus) { st.ObservedGeneration = 3 },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			base := &intunev1alpha1.DeviceConfigurationUserOverview{Status: *steady.DeepCopy()}
			if tc.noSync {
				base.Status.LastSyncTime = nil
			}
			p := &overviewPass{base: base, obj: base.DeepCopy(), now: lastPass.Add(tc.since), synced: tc.synced}
			if tc.edit != nil {
				tc.edit(p.obj.OverviewStatus())
			}
			if got := p.statusWriteDue(); got != tc.writeDue {
				t.Errorf("statusWriteDue = %t, want %t", got, tc.writeDue)
			}
		})
	}
}
