package controllers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/schedule"
)

// toObserveOnly applies generation 3 of the resource, ObserveOnly, as a person's kubectl apply
// would while generation 2's job is on its way to Graph.
func toObserveOnly(t *testing.T, w *offline) {
	t.Helper()
	o := w.object()
	o.Generation = 3
	o.Spec.ManagementPolicy = intunev1alpha1.ManagementPolicyObserveOnly
	if err := w.kube.Update(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := w.object().Generation; got != 3 {
		t.Fatalf("the fake API server holds generation %d, want 3", got)
	}
}

// TestAResultBelongsToItsGeneration plays a job of generation 2 whose call Graph answers after
// generation 3 was applied (ObserveOnly, which never PATCHes), on a fake clock: whatever generation
// 2's call met, generation 3 is synced at once and its status says only what its own job found.
// Only a fact that stays true (Graph accepted generation 2's PATCH) is recorded. A failure that an
// older generation met does not set generation 3's backoff either.
func TestAResultBelongsToItsGeneration(t *testing.T) {
	type graphAnswers struct {
		get, patch answer // generation 2's first GET and its PATCH
	}
	forbidden := fails(&graph.Error{StatusCode: http.StatusForbidden})
	cases := map[string]struct {
		answers graphAnswers
		// during is the call of generation 2 answered after generation 3 was applied: "GET" or
		// "PATCH"; "" when the resource is at generation 3, with was, before its first pass.
		during string
		was    *intunev1alpha1.OverviewStatus
		// how the last pass ends (0 and 0: at the next sync slot), and what status then says
		atLeast, atMost time.Duration
		readyReason     string // Ready True with this reason, or ...
		failedReason    string // ... Ready and Synced False with this one, and Stalled
		applied         bool   // lastAppliedTime set
		events          []string
	}{
		"a PATCH refused (403) after the new spec: no Stalled, no credentials' backoff": {
			answers:     graphAnswers{get: holds(graphOver(3)), patch: forbidden},
			during:      http.MethodPatch,
			readyReason: intunev1alpha1.ReasonDriftDetected,
			events:      []string{"Normal DriftDetected"},
		},
		"a PATCH refused as a bad request (400) after the new spec: not terminal": {
			answers:     graphAnswers{get: holds(graphOver(3)), patch: fails(&graph.Error{StatusCode: http.StatusBadRequest})},
			during:      http.MethodPatch,
			readyReason: intunev1alpha1.ReasonDriftDetected,
			events:      []string{"Normal DriftDetected"},
		},
		"a PATCH that found Graph unavailable (503) after the new spec: no backoff": {
			answers:     graphAnswers{get: holds(graphOver(3)), patch: fails(&graph.Error{StatusCode: http.StatusServiceUnavailable})},
			during:      http.MethodPatch,
			readyReason: intunev1alpha1.ReasonDriftDetected,
			events:      []string{"Normal DriftDetected"},
		},
		"credentials refused (401) on the GET after the new spec": {
			answers:     graphAnswers{get: fails(&graph.Error{StatusCode: http.StatusUnauthorized})},
			during:      http.MethodGet,
			readyReason: intunev1alpha1.ReasonDriftDetected,
			events:      []string{"Normal DriftDetected"},
		},
		"a PATCH Graph accepted after the new spec: lastAppliedTime stays a fact": {
			answers:     graphAnswers{get: holds(graphOver(3)), patch: answer{}},
			during:      http.MethodPatch,
			readyReason: intunev1alpha1.ReasonDriftDetected,
			applied:     true,
			events:      []string{"Normal Patched", "Normal DriftDetected"},
		},
		"generation 2 refused (403) for an hour, and generation 3 refused too: the credentials' first wait": {
			answers:      graphAnswers{get: forbidden},
			was:          new(failingSince(intunev1alpha1.ReasonForbidden, time.Hour)),
			atLeast:      offlineCredsRetry / 2,
			atMost:       offlineCredsRetry,
			failedReason: intunev1alpha1.ReasonForbidden,
			events:       []string{"Warning Forbidden"}, // to the person who applied generation 3
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var w *offline
			steady := holds(graphOver(3))
			gets := 0
			gc := &graphFns{
				GetOverviewFn: func(context.Context, string) (graph.Response, error) {
					gets++
					if gets > 1 {
						return steady.resp, steady.err
					}
					if tc.during == http.MethodGet {
						toObserveOnly(t, w)
					}
					return tc.answers.get.resp, tc.answers.get.err
				},
				PatchOverviewFn: func(context.Context, string, graph.Fields) (graph.Response, error) {
					if tc.during != http.MethodPatch {
						t.Fatal("a PATCH of generation 3, which is ObserveOnly")
					}
					toObserveOnly(t, w)
					return tc.answers.patch.resp, tc.answers.patch.err
				},
			}
			obj := offlineOverview()
			if tc.during == "" {
				obj.Generation = 3
			}
			if tc.was != nil {
				obj.Status = *tc.was
			}
			w = newOffline(t, obj, gc, offlineSetup{})

			res, err := w.sync()
			got := w.object()
			if got.Generation != 3 {
				t.Fatalf("the resource is at generation %d, want 3", got.Generation)
			}
			if err != nil {
				t.Fatalf("the last pass ended with %v and status %+v", err, got.Status.Conditions)
			}
			atLeast, atMost := tc.atLeast, tc.atMost
			if atMost == 0 { // the next sync slot
				next := schedule.Next(got.UID, offlineInterval, w.clock.Now()).Sub(w.clock.Now())
				atLeast, atMost = next, next
			}
			if res.RequeueAfter < atLeast || res.RequeueAfter > atMost {
				t.Errorf("looks again after %v, want within [%v, %v]", res.RequeueAfter, atLeast, atMost)
			}
			if got.Status.ObservedGeneration != 3 {
				t.Errorf("observedGeneration %d, want 3", got.Status.ObservedGeneration)
			}
			ready := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)
			stalled := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)
			switch {
			case tc.readyReason != "":
				if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != tc.readyReason || ready.ObservedGeneration != 3 {
					t.Errorf("Ready = %+v, want True %s of generation 3", ready, tc.readyReason)
				}
				if stalled != nil {
					t.Errorf("Stalled = %+v, want none", stalled)
				}
			default:
				if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != tc.failedReason {
					t.Errorf("Ready = %+v, want False %s", ready, tc.failedReason)
				}
				if stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != tc.failedReason {
					t.Errorf("Stalled = %+v, want True %s", stalled, tc.failedReason)
				}
			}
			if applied := got.Status.LastAppliedTime != nil; applied != tc.applied {
				t.Errorf("lastAppliedTime %v, want set %t", got.Status.LastAppliedTime, tc.applied)
			}
			if d := cmp.Diff(tc.events, w.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestANewGenerationStartsItsOwnBackoff fails generation 2's syncs until its backoff is long, then
// applies generation 3, whose first failure waits the backoff's first wait: the failures in a row
// were generation 2's.
func TestANewGenerationStartsItsOwnBackoff(t *testing.T) {
	gc := &graphFns{GetOverviewFn: getInTurn(fails(&graph.Error{StatusCode: http.StatusBadGateway}))}
	w := newOffline(t, offlineOverview(), gc, offlineSetup{})
	for n := range 6 {
		res, err := w.sync()
		if want := offlineRetryBase << n; err != nil || res.RequeueAfter < want/2 || res.RequeueAfter > want {
			t.Fatalf("generation 2's failure %d: looks again after %v (error %v), want within [%v, %v]", n+1, res.RequeueAfter, err, want/2, want)
		}
		w.advance(res.RequeueAfter.Truncate(time.Second))
	}

	o := w.object()
	o.Generation, o.Spec.Overview.SuccessCount = 3, new(int32(20))
	if err := w.kube.Update(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	res, err := w.sync()
	if err != nil || res.RequeueAfter < offlineRetryBase/2 || res.RequeueAfter > offlineRetryBase {
		t.Errorf("generation 3's first failure looks again after %v (error %v), want within [%v, %v]", res.RequeueAfter, err, offlineRetryBase/2, offlineRetryBase)
	}
}
