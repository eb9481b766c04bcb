package controllers

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// TestReportsWaitBehindChanges checks the order in which the controller's queue hands out what
// waits in it: a changed resource first (its job must take its place in the tenant's line), then
// the results of ended jobs (a status write each), then the routine resyncs.
func TestReportsWaitBehindChanges(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	defer q.ShutDown()
	req := func(name string) reconcile.Request {
		return reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "it-ops", Name: name}}
	}
	// Added in the order a busy first sync sees them: a resync due, jobs that ended, new resources.
	q.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(handler.LowPriority)}, req("resync"))
	for _, name := range []string{"ended-1", "ended-2"} {
		jobEnded{}.Generic(context.Background(), event.TypedGenericEvent[reconcile.Request]{Object: req(name)}, q)
	}
	q.Add(req("created-1"))
	q.Add(req("created-2"))

	var got []string
	for range 5 {
		item, _ := q.Get()
		got = append(got, item.Name)
		q.Done(item)
	}
	want := []string{"created-1", "created-2", "ended-1", "ended-2", "resync"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the order of the passes (-want +got):\n%s", diff)
	}
}

// TestConnectionEventsThatBringResourcesBack checks which changes of a connection bring its
// resources to the queue: a new generation, and credentials that start to work (Ready turns True),
// which the resources waiting on refused credentials must not wait out on their own backoff.
func TestConnectionEventsThatBringResourcesBack(t *testing.T) {
	ready := func(status metav1.ConditionStatus, reason string) intunev1alpha1.ConnectionStatus {
		return intunev1alpha1.ConnectionStatus{Conditions: []metav1.Condition{{Type: intunev1alpha1.ConditionReady, Status: status, Reason: reason}}}
	}
	refused := ready(metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)
	valid := ready(metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid)
	cases := map[string]struct {
		oldGen, newGen int64
		was, now       intunev1alpha1.ConnectionStatus
		want           bool
	}{
		"credentials refused, then valid":           {oldGen: 1, newGen: 1, was: refused, now: valid, want: true},
		"checked for the first time, valid":         {oldGen: 1, newGen: 1, now: valid},
		"valid, then refused":                       {oldGen: 1, newGen: 1, was: valid, now: refused},
		"valid, and checked again":                  {oldGen: 1, newGen: 1, was: valid, now: valid},
		"refused, then unavailable":                 {oldGen: 1, newGen: 1, was: refused, now: ready(metav1.ConditionFalse, intunev1alpha1.ReasonGraphUnavailable)},
		"a new generation":                          {oldGen: 1, newGen: 2, was: valid, now: valid, want: true},
		"a cluster connection: refused, then valid": {oldGen: 1, newGen: 1, was: refused, now: valid, want: true},
	}
	watched := predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, credentialsStartWorking)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var old, now client.Object
			if strings.HasPrefix(name, "a cluster connection") {
				o, n := &intunev1alpha1.ClusterGraphConnection{}, &intunev1alpha1.ClusterGraphConnection{}
				o.Generation, o.Status, n.Generation, n.Status = tc.oldGen, tc.was, tc.newGen, tc.now
				old, now = o, n
			} else {
				o, n := &intunev1alpha1.GraphConnection{}, &intunev1alpha1.GraphConnection{}
				o.Generation, o.Status, n.Generation, n.Status = tc.oldGen, tc.was, tc.newGen, tc.now
				old, now = o, n
			}
			if got := watched.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: now}); got != tc.want {
				t.Errorf("resources brought back: %t, want %t", got, tc.want)
			}
		})
	}
}
