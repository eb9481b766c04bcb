package controllers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// connectionWas is a connection's status after a check ago, whose Ready said reason (with the
// reconciler's own message when the credentials worked).
func connectionWas(reason string, ready metav1.ConditionStatus, ago time.Duration) intunev1alpha1.ConnectionStatus {
	at := metav1.NewTime(offlineStart.Add(-ago))
	message := "earlier"
	if ready == metav1.ConditionTrue {
		message = "A token was obtained with the credentials"
	}
	st := intunev1alpha1.ConnectionStatus{
		ObservedGeneration: 3,
		LastCheckedTime:    &at,
		Conditions: []metav1.Condition{{Type: intunev1alpha1.ConditionReady, Status: ready, Reason: reason,
			Message: message, ObservedGeneration: 3, LastTransitionTime: at}},
	}
	if ready == metav1.ConditionFalse {
		st.Conditions = append(st.Conditions, metav1.Condition{Type: intunev1alpha1.ConditionStalled,
			Status: metav1.ConditionTrue, Reason: reason, Message: "earlier", ObservedGeneration: 3, LastTransitionTime: at})
	}
	return st
}

// TestConnectionCheck plays the connection reconciler's check of the credentials on a fake clock:
// what Ready and Stalled say, whether status is written, which events a person sees, and when the
// connection is checked again.
func TestConnectionCheck(t *testing.T) {
	refused := &graph.Error{StatusCode: http.StatusUnauthorized}
	cases := map[string]struct {
		check error // what CheckCredentials answers
		was   intunev1alpha1.ConnectionStatus
		// how the pass ends, and within which bounds it looks again
		ending          passEnding
		atLeast, atMost time.Duration
		ready           metav1.ConditionStatus
		reason          string // of Ready; "" with statusAsWas
		stalled         bool
		events          []string
		statusAsWas     bool // no status may be written
	}{
		"a new connection whose credentials work: Ready, checked again in an hour": {
			ending:  endsRequeued,
			atLeast: credentialsRecheck, atMost: credentialsRecheck,
			ready: metav1.ConditionTrue, reason: intunev1alpha1.ReasonCredentialsValid,
		},
		"credentials that worked ten minutes ago and still do: nothing written": {
			was:     connectionWas(intunev1alpha1.ReasonCredentialsValid, metav1.ConditionTrue, 10*time.Minute),
			ending:  endsRequeued,
			atLeast: credentialsRecheck, atMost: credentialsRecheck,
			statusAsWas: true,
		},
		"credentials that worked an hour ago and still do: the check's time is written": {
			was:     connectionWas(intunev1alpha1.ReasonCredentialsValid, metav1.ConditionTrue, credentialsRecheck),
			ending:  endsRequeued,
			atLeast: credentialsRecheck, atMost: credentialsRecheck,
			ready: metav1.ConditionTrue, reason: intunev1alpha1.ReasonCredentialsValid,
		},
		"credentials refused: Stalled, an event, and the credentials' first wait": {
			check:   refused,
			ending:  endsRequeued,
			atLeast: offlineCredsRetry / 2, atMost: offlineCredsRetry,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
			events:  []string{"Warning InvalidCredentials"},
		},
		"credentials refused for ten minutes: about as long again, and no new event": {
			check:   refused,
			was:     connectionWas(intunev1alpha1.ReasonInvalidCredentials, metav1.ConditionFalse, 10*time.Minute),
			ending:  endsRequeued,
			atLeast: 5 * time.Minute, atMost: 10 * time.Minute,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
		},
		"credentials refused for three hours: an hour at most": {
			check:   refused,
			was:     connectionWas(intunev1alpha1.ReasonInvalidCredentials, metav1.ConditionFalse, 3*time.Hour),
			ending:  endsRequeued,
			atLeast: credentialsRecheck / 2, atMost: credentialsRecheck,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
		},
		"credentials refused, then accepted: Ready again, and no longer Stalled": {
			was:     connectionWas(intunev1alpha1.ReasonInvalidCredentials, metav1.ConditionFalse, 3*time.Minute),
			ending:  endsRequeued,
			atLeast: credentialsRecheck, atMost: credentialsRecheck,
			ready: metav1.ConditionTrue, reason: intunev1alpha1.ReasonCredentialsValid,
		},
		"the token endpoint unavailable: the backoff's first wait, and not Stalled": {
			check:   &graph.Error{StatusCode: http.StatusServiceUnavailable},
			ending:  endsRequeued,
			atLeast: offlineRetryBase / 2, atMost: offlineRetryBase,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonGraphUnavailable,
			events: []string{"Warning GraphUnavailable"},
		},
		"the token endpoint unavailable for ten minutes: about as long again, and no new event": {
			check: &graph.Error{StatusCode: http.StatusServiceUnavailable},
			was: func() intunev1alpha1.ConnectionStatus {
				st := connectionWas(intunev1alpha1.ReasonGraphUnavailable, metav1.ConditionFalse, 10*time.Minute)
				meta.RemoveStatusCondition(&st.Conditions, intunev1alpha1.ConditionStalled)
				return st
			}(),
			ending:  endsRequeued,
			atLeast: offlineRetryMax / 2, atMost: offlineRetryMax,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonGraphUnavailable,
		},
		"the token endpoint unavailable for ten minutes, then credentials refused: Stalled, an event, and the credentials' first wait": {
			check: refused,
			was: func() intunev1alpha1.ConnectionStatus {
				st := connectionWas(intunev1alpha1.ReasonGraphUnavailable, metav1.ConditionFalse, 10*time.Minute)
				meta.RemoveStatusCondition(&st.Conditions, intunev1alpha1.ConditionStalled)
				return st
			}(),
			ending:  endsRequeued,
			atLeast: offlineCredsRetry / 2, atMost: offlineCredsRetry,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonInvalidCredentials,
			stalled: true,
			events:  []string{"Warning InvalidCredentials"},
		},
		"throttled: looks again after Retry-After": {
			check:   &graph.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: 20 * time.Second},
			ending:  endsRequeued,
			atLeast: 20 * time.Second, atMost: 20 * time.Second,
			ready: metav1.ConditionFalse, reason: intunev1alpha1.ReasonThrottled,
			events: []string{"Warning Throttled"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			checks := 0
			gc := &graphFns{CheckCredentialsFn: func(context.Context) error {
				checks++
				return tc.check
			}}
			conn := offlineConnection("it")
			conn.Generation, conn.Status = 3, tc.was
			writes := 0
			kube := fake.NewClientBuilder().
				WithScheme(offlineScheme).
				WithObjects(conn, offlineSecret("it")).
				WithStatusSubresource(&intunev1alpha1.GraphConnection{}).
				WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
					writes++
					return c.SubResource(sub).Patch(ctx, o, p, opts...)
				}}).
				Build()
			recorder := events.NewFakeRecorder(10)
			r := &ConnectionReconciler{
				Client:      kube,
				connections: offlineConnections(t, kube, gc, nil),
				recorder:    recorder,
				clock:       clocktesting.NewFakePassiveClock(offlineStart),
				credsRetry:  offlineCredsRetry,
				retryBase:   offlineRetryBase,
				retryMax:    offlineRetryMax,
				newObject:   func() connectionObject { return &intunev1alpha1.GraphConnection{} },
			}
			key := client.ObjectKeyFromObject(conn)
			t.Cleanup(func() {
				connectionMetrics.forget(connectionKey(intunev1alpha1.ConnectionKindNamespaced, key.Namespace, key.Name))
			})

			res, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key})

			if checks != 1 {
				t.Errorf("credential checks: %d, want 1", checks)
			}
			if got := endingOf(res, err); got != tc.ending {
				t.Errorf("the pass ended %v (result %+v, error %v), want %v", got, res, err, tc.ending)
			}
			if tc.ending == endsRequeued && (res.RequeueAfter < tc.atLeast || res.RequeueAfter > tc.atMost) {
				t.Errorf("looks again after %v, want between %v and %v", res.RequeueAfter, tc.atLeast, tc.atMost)
			}
			var got []string
			for len(recorder.Events) > 0 {
				got = append(got, eventTypeAndReason(<-recorder.Events))
			}
			if diff := cmp.Diff(tc.events, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tc.statusAsWas {
				if writes != 0 {
					t.Errorf("status writes: %d, want none", writes)
				}
				return
			}
			if writes != 1 {
				t.Fatalf("status writes: %d, want 1", writes)
			}
			now := &intunev1alpha1.GraphConnection{}
			if err := kube.Get(context.Background(), key, now); err != nil {
				t.Fatal(err)
			}
			ready := meta.FindStatusCondition(now.Status.Conditions, intunev1alpha1.ConditionReady)
			if ready == nil || ready.Status != tc.ready || ready.Reason != tc.reason || ready.ObservedGeneration != 3 {
				t.Errorf("Ready: %+v, want %s %s at generation 3", ready, tc.ready, tc.reason)
			}
			if stalled := meta.IsStatusConditionTrue(now.Status.Conditions, intunev1alpha1.ConditionStalled); stalled != tc.stalled {
				t.Errorf("Stalled: %v, want %v", stalled, tc.stalled)
			}
			if now.Status.LastCheckedTime == nil || !now.Status.LastCheckedTime.Time.Equal(offlineStart) {
				t.Errorf("lastCheckedTime: %v, want the clock's %v", now.Status.LastCheckedTime, offlineStart)
			}
		})
	}
}
