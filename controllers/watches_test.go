package controllers

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
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
