package controllers

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// passEnding is how a pass ended, as the controller's queue sees it.
type passEnding int

const (
	endsRequeued  passEnding = iota + 1 // RequeueAfter, and a nil error
	endsTerminal                        // a terminal error: nothing until something changes
	endsWithError                       // an error, for the queue's backoff
)

// endingOf says how a pass that returned res and err ended.
func endingOf(res reconcile.Result, err error) passEnding {
	switch {
	case err != nil && errors.Is(err, reconcile.TerminalError(nil)):
		return endsTerminal
	case err != nil:
		return endsWithError
	case res.RequeueAfter > 0:
		return endsRequeued
	}
	return 0
}

// graphOver is Graph's overview when it matches offlineOverview's spec but for successCount.
func graphOver(successCount int32) graph.Overview {
	return graph.Overview{ID: offlineConfigurationID, SuccessCount: successCount}
}

// acceptPatch accepts every PATCH.
func acceptPatch(context.Context, string, graph.Fields) (graph.Response, error) {
	return graph.Response{}, nil
}

// getFails is a Graph whose every GET fails with err.
func getFails(err error) func() *graphFns {
	return func() *graphFns { return &graphFns{GetOverviewFn: getInTurn(fails(err))} }
}

// noGraph is a Graph the pass must not call.
func noGraph() *graphFns { return &graphFns{} }

// failingSince is the status of a resource whose syncs have failed with reason since ago, and
// that needed a person.
func failingSince(reason string, ago time.Duration) intunev1alpha1.OverviewStatus {
	at := metav1.NewTime(offlineStart.Add(-ago))
	c := func(typ string, s metav1.ConditionStatus) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: "earlier", ObservedGeneration: 2, LastTransitionTime: at}
	}
	return intunev1alpha1.OverviewStatus{
		ObservedGeneration: 2,
		Conditions: []metav1.Condition{
			c(intunev1alpha1.ConditionReady, metav1.ConditionFalse),
			c(intunev1alpha1.ConditionSynced, metav1.ConditionFalse),
			c(intunev1alpha1.ConditionStalled, metav1.ConditionTrue),
		},
	}
}

// connectionThat is offlineConnection, whose Ready condition has said reason since ago.
func connectionThat(reason string, ready metav1.ConditionStatus, ago time.Duration) *intunev1alpha1.GraphConnection {
	conn := offlineConnection("it")
	conn.Status = connectionWas(reason, ready, ago)
	return conn
}

// TestFailedPass plays a pass that fails, each class of failure, through the reconciler on a fake
// clock: how the pass ends (and after how long it looks again), what status says, and which events
// a person sees.
func TestFailedPass(t *testing.T) {
	cases := map[string]struct {
		graph func() *graphFns // a Graph for each draw
		edit  func(*intunev1alpha1.DeviceConfigurationUserOverview)
		setup offlineSetup
		was   *intunev1alpha1.OverviewStatus
		// how the pass ends, and within which bounds it looks again
		ending          passEnding
		atLeast, atMost time.Duration
		reason          string // of Ready and Synced
		stalled         bool
		events          []string
		noJob           bool // no job may be submitted
		statusAsWas     bool // no status may be written
	}{
		"Graph unavailable: the backoff's first wait": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusServiceUnavailable}),
			ending:  endsRequeued,
			atLeast: offlineRetryBase / 2, atMost: offlineRetryBase,
			reason: intunev1alpha1.ReasonGraphUnavailable,
			events: []string{"Warning GraphUnavailable"},
		},
		"throttled on the read-back of a PATCH: Retry-After, and up to a tenth more": {
			graph: func() *graphFns {
				return &graphFns{
					GetOverviewFn:   getInTurn(holds(graphOver(3)), fails(&graph.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: 20 * time.Second})),
					PatchOverviewFn: acceptPatch,
				}
			},
			ending:  endsRequeued,
			atLeast: 20 * time.Second, atMost: 22 * time.Second,
			reason: intunev1alpha1.ReasonThrottled,
			events: []string{"Normal Patched", "Warning Throttled"},
		},
		"Graph did not keep a PATCH: the backoff's first wait": {
			graph: func() *graphFns {
				return &graphFns{GetOverviewFn: getInTurn(holds(graphOver(3))), PatchOverviewFn: acceptPatch}
			},
			ending:  endsRequeued,
			atLeast: offlineRetryBase / 2, atMost: offlineRetryBase,
			reason: intunev1alpha1.ReasonNotPersisted,
			events: []string{"Normal Patched", "Warning NotPersisted"},
		},
		"no such configuration: looks again slowly": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusNotFound}),
			ending:  endsRequeued,
			atLeast: notFoundRetry, atMost: notFoundRetry,
			reason: intunev1alpha1.ReasonNotFound,
			events: []string{"Warning NotFound"},
		},
		"a request Graph refuses: nothing until a person changes something": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusBadRequest}),
			ending:  endsTerminal,
			reason:  intunev1alpha1.ReasonBadRequest,
			stalled: true,
			events:  []string{"Warning BadRequest"},
		},
		"credentials refused: the credentials' first wait": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusUnauthorized}),
			ending:  endsRequeued,
			atLeast: offlineCredsRetry / 2, atMost: offlineCredsRetry,
			reason:  intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
			events:  []string{"Warning InvalidCredentials"},
		},
		"credentials refused for ten minutes: about as long again, and no new event": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusUnauthorized}),
			was:     new(failingSince(intunev1alpha1.ReasonInvalidCredentials, 10*time.Minute)),
			ending:  endsRequeued,
			atLeast: 5 * time.Minute, atMost: 10 * time.Minute,
			reason:  intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
		},
		"credentials refused for ten minutes, and again just after the connection's check passed: the first wait again": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusUnauthorized}),
			was:     new(failingSince(intunev1alpha1.ReasonInvalidCredentials, 10*time.Minute)),
			setup:   offlineSetup{noConnection: true, objects: []client.Object{connectionThat(intunev1alpha1.ReasonCredentialsValid, metav1.ConditionTrue, 2*time.Second)}},
			ending:  endsRequeued,
			atLeast: offlineCredsRetry / 2, atMost: offlineCredsRetry,
			reason:  intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
		},
		"credentials refused for ten minutes, as long as the connection's: about as long again": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusUnauthorized}),
			was:     new(failingSince(intunev1alpha1.ReasonInvalidCredentials, 10*time.Minute)),
			setup:   offlineSetup{noConnection: true, objects: []client.Object{connectionThat(intunev1alpha1.ReasonInvalidCredentials, metav1.ConditionFalse, 10*time.Minute)}},
			ending:  endsRequeued,
			atLeast: 5 * time.Minute, atMost: 10 * time.Minute,
			reason:  intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
		},
		"credentials refused for three hours: an hour at most": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusUnauthorized}),
			was:     new(failingSince(intunev1alpha1.ReasonInvalidCredentials, 3*time.Hour)),
			ending:  endsRequeued,
			atLeast: credentialsRecheck / 2, atMost: credentialsRecheck,
			reason:  intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
		},
		"a permission missing: the credentials' first wait": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusForbidden}),
			ending:  endsRequeued,
			atLeast: offlineCredsRetry / 2, atMost: offlineCredsRetry,
			reason:  intunev1alpha1.ReasonForbidden,
			stalled: true,
			events:  []string{"Warning Forbidden"},
		},
		"a permission missing for twenty minutes: about as long again": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusForbidden}),
			was:     new(failingSince(intunev1alpha1.ReasonForbidden, 20*time.Minute)),
			ending:  endsRequeued,
			atLeast: 10 * time.Minute, atMost: 20 * time.Minute,
			reason:  intunev1alpha1.ReasonForbidden,
			stalled: true,
		},
		"a permission missing after credentials refused for hours: the wait starts again": {
			graph:   getFails(&graph.Error{StatusCode: http.StatusForbidden}),
			was:     new(failingSince(intunev1alpha1.ReasonInvalidCredentials, 3*time.Hour)),
			ending:  endsRequeued,
			atLeast: offlineCredsRetry / 2, atMost: offlineCredsRetry,
			reason:  intunev1alpha1.ReasonForbidden,
			stalled: true,
			events:  []string{"Warning Forbidden"},
		},
		"the connection does not exist: nothing until a person creates it, and no Graph call": {
			graph:   noGraph,
			setup:   offlineSetup{noConnection: true},
			ending:  endsTerminal,
			reason:  intunev1alpha1.ReasonConnectionNotFound,
			stalled: true,
			events:  []string{"Warning ConnectionNotFound"},
			noJob:   true,
		},
		"a ClusterGraphConnection that does not admit the namespace: nothing until a person changes it, and no Graph call": {
			graph: noGraph,
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: "tenant-wide"}
			},
			setup: offlineSetup{objects: []client.Object{&intunev1alpha1.ClusterGraphConnection{
				ObjectMeta: metav1.ObjectMeta{Name: "tenant-wide"},
				Spec: intunev1alpha1.ClusterGraphConnectionSpec{
					AllowedNamespaces: intunev1alpha1.AllowedNamespaces{Names: []string{"someone-else"}},
				},
			}}},
			ending:  endsTerminal,
			reason:  intunev1alpha1.ReasonConnectionNotAllowed,
			stalled: true,
			events:  []string{"Warning ConnectionNotAllowed"},
			noJob:   true,
		},
		"a missing Secret that no watch sees: looked for again every sync interval": {
			graph:   noGraph,
			setup:   offlineSetup{noSecret: true, watched: []string{"elsewhere"}},
			ending:  endsRequeued,
			atLeast: offlineInterval, atMost: offlineInterval,
			reason:  intunev1alpha1.ReasonSecretNotFound,
			stalled: true,
			events:  []string{"Warning SecretNotFound"},
			noJob:   true,
		},
		"the API server fails: the error for the queue's backoff, and status untouched": {
			graph: noGraph,
			setup: offlineSetup{funcs: interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					if _, ok := obj.(*intunev1alpha1.GraphConnection); ok {
						return apierrors.NewServiceUnavailable("etcd is down")
					}
					return c.Get(ctx, key, obj, opts...)
				},
			}},
			ending:      endsWithError,
			noJob:       true,
			statusAsWas: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// A wait within bounds is drawn at random: a few draws, so that a bound too wide shows.
			draws := 1
			if tc.atLeast != tc.atMost {
				draws = 20
			}
			for range draws {
				obj := offlineOverview()
				if tc.edit != nil {
					tc.edit(obj)
				}
				if tc.was != nil {
					obj.Status = *tc.was
				}
				w := newOffline(t, obj, tc.graph(), tc.setup)
				res, err := w.sync()

				if got := endingOf(res, err); got != tc.ending {
					t.Fatalf("the pass ended with %+v and %v, want ending %d", res, err, tc.ending)
				}
				if res.RequeueAfter < tc.atLeast || res.RequeueAfter > tc.atMost {
					t.Fatalf("looks again after %v, want within [%v, %v]", res.RequeueAfter, tc.atLeast, tc.atMost)
				}
				if d := cmp.Diff(tc.events, w.events()); d != "" {
					t.Fatalf("events (-want +got):\n%s", d)
				}
				if tc.noJob && len(w.graph.jobs()) > 0 {
					t.Fatalf("jobs %v submitted, want none", w.graph.jobs())
				}
				got := w.object()
				if tc.statusAsWas {
					if d := cmp.Diff(obj.Status, got.Status); d != "" || len(w.writes) > 0 {
						t.Fatalf("status written %d times (-was +now):\n%s", len(w.writes), d)
					}
					continue
				}
				for _, typ := range []string{intunev1alpha1.ConditionReady, intunev1alpha1.ConditionSynced} {
					c := meta.FindStatusCondition(got.Status.Conditions, typ)
					if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tc.reason || c.Message == "" {
						t.Fatalf("%s = %+v, want False with reason %s and a message", typ, c, tc.reason)
					}
				}
				if s := meta.IsStatusConditionTrue(got.Status.Conditions, intunev1alpha1.ConditionStalled); s != tc.stalled {
					t.Fatalf("Stalled %t, want %t", s, tc.stalled)
				}
			}
		})
	}
}

// TestBackoffOfFailuresInARow plays Graph failing again and again on a fake clock: each wait
// doubles, up to the longest, a person hears of it once, and a sync in between starts the backoff
// again.
func TestBackoffOfFailuresInARow(t *testing.T) {
	unavailable := fails(&graph.Error{StatusCode: http.StatusBadGateway})
	ok := holds(graphOver(12))
	gc := &graphFns{GetOverviewFn: getInTurn(unavailable, unavailable, unavailable, unavailable, unavailable, unavailable, unavailable, unavailable, unavailable, unavailable, ok, unavailable)}
	w := newOffline(t, offlineOverview(), gc, offlineSetup{})

	for n := range 10 {
		res, err := w.sync()
		want := min(offlineRetryBase<<n, offlineRetryMax)
		if err != nil || res.RequeueAfter < want/2 || res.RequeueAfter > want {
			t.Fatalf("failure %d: looks again after %v (error %v), want within [%v, %v]", n+1, res.RequeueAfter, err, want/2, want)
		}
		w.advance(res.RequeueAfter.Truncate(time.Second))
	}
	if d := cmp.Diff([]string{"Warning GraphUnavailable"}, w.events()); d != "" {
		t.Errorf("events over ten failures (-want +got):\n%s", d)
	}

	if res, err := w.sync(); err != nil || !meta.IsStatusConditionTrue(w.object().Status.Conditions, intunev1alpha1.ConditionReady) {
		t.Fatalf("the sync after the failures ended with %+v and %v, and status %+v", res, err, w.object().Status.Conditions)
	}
	w.advance(offlineInterval) // the next sync slot
	res, err := w.sync()
	if err != nil || res.RequeueAfter < offlineRetryBase/2 || res.RequeueAfter > offlineRetryBase {
		t.Errorf("the failure after a sync looks again after %v (error %v), want the first wait again", res.RequeueAfter, err)
	}
}
