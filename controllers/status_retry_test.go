package controllers

import (
	"context"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// TestStatusWriteWhileTheAPIServerIsAway plays the API server away for a while as a resource's job
// reports, on a fake clock and through the queue's own rate limiter: each failed status write is
// tried again within seconds, however long the API server stays away, and once it answers, the
// resource's next Graph try waits as the Graph failures alone say, not as long as the status
// writes failed.
func TestStatusWriteWhileTheAPIServerIsAway(t *testing.T) {
	unavailable := fails(&graph.Error{StatusCode: http.StatusBadGateway})
	cases := map[string]struct {
		gets []answer // Graph's answers to GETs, in turn
		// away is how many status writes in a row fail.
		away int
		// The pass that writes status at last ends as ending, looking again within these bounds,
		// and Ready says reason.
		ending          passEnding
		atLeast, atMost time.Duration
		reason          string
		// events are what a person hears over all the passes: each once, however many times the
		// result had to be reported again.
		events []string
	}{
		"Graph failing once, status unwritten for a minute: the first Graph wait": {
			gets: []answer{unavailable}, away: 30,
			ending: endsRequeued, atLeast: offlineRetryBase / 2, atMost: offlineRetryBase,
			reason: intunev1alpha1.ReasonGraphUnavailable,
			events: []string{"Warning GraphUnavailable"},
		},
		"Graph failing once, status unwritten twice: the first Graph wait": {
			gets: []answer{unavailable}, away: 2,
			ending: endsRequeued, atLeast: offlineRetryBase / 2, atMost: offlineRetryBase,
			reason: intunev1alpha1.ReasonGraphUnavailable,
			events: []string{"Warning GraphUnavailable"},
		},
		"Graph read, status unwritten for a minute: the next sync slot": {
			gets: []answer{holds(graphOver(12))}, away: 30,
			ending: endsRequeued, atLeast: time.Second, atMost: offlineInterval,
			reason: intunev1alpha1.ReasonUpToDate,
		},
		"a PATCH Graph kept, status unwritten for a minute: one Patched event, and the next sync slot": {
			gets: []answer{holds(graphOver(3)), holds(graphOver(12))}, away: 30,
			ending: endsRequeued, atLeast: time.Second, atMost: offlineInterval,
			reason: intunev1alpha1.ReasonUpToDate,
			events: []string{"Normal Patched"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			failedWrites := 0
			funcs := interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				// Away after the job's PATCH was logged in the connection's status: the
				// resource's status writes fail.
				if _, ok := o.(*intunev1alpha1.DeviceConfigurationUserOverview); ok && failedWrites < tc.away {
					failedWrites++
					return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED} // the API server away
				}
				return c.SubResource(sub).Patch(ctx, o, p, opts...)
			}}
			gc := &graphFns{GetOverviewFn: getInTurn(tc.gets...), PatchOverviewFn: acceptPatch}
			w := newOffline(t, offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Spec.Overview.FailedCount = nil
			}), gc, offlineSetup{funcs: funcs})
			queue := controllerOptions(Options{}.withDefaults()).RateLimiter
			item := reconcile.Request{NamespacedName: w.key}

			var res reconcile.Result
			var err error
			for failedWrites < tc.away {
				res, err = w.sync()
				if endingOf(res, err) != endsWithError {
					t.Fatalf("a pass whose status write failed ended with %+v and %v, want an error for the queue", res, err)
				}
				wait := queue.When(item)
				if wait > 5*time.Second {
					t.Fatalf("status write %d failed: the queue waits %v before trying again, want 5s at most", failedWrites, wait)
				}
				w.advance(wait.Truncate(time.Second) + time.Second)
			}
			res, err = w.sync()
			if got := endingOf(res, err); got != tc.ending || res.RequeueAfter < tc.atLeast || res.RequeueAfter > tc.atMost {
				t.Errorf("the pass that wrote status ended with %+v and %v, want %v within [%v, %v]", res, err, tc.ending, tc.atLeast, tc.atMost)
			}
			queue.Forget(item)
			got := w.object()
			ready := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)
			if ready == nil || ready.Reason != tc.reason {
				t.Errorf("Ready: %+v, want reason %s", ready, tc.reason)
			}
			if d := cmp.Diff(tc.events, w.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if applied := len(tc.events) > 0 && tc.events[0] == "Normal Patched"; applied != (got.Status.LastAppliedTime != nil) {
				t.Errorf("lastAppliedTime %v, want it set: %t", got.Status.LastAppliedTime, applied)
			}
		})
	}
}
