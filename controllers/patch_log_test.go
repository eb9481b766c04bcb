package controllers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// loggedConnection is offlineConnection, whose status holds a PATCH of the offline resource that
// set successCount to value at sentAt: what a process that died before its report left.
func loggedConnection(value int32, sentAt time.Time) *intunev1alpha1.GraphConnection {
	conn := offlineConnection("it")
	conn.Status.PendingPatches = []intunev1alpha1.PendingPatch{{
		UID:    string(offlineOverview().UID),
		Fields: intunev1alpha1.OverviewFields{SuccessCount: ptr.To(value)},
		SentAt: metav1.NewTime(sentAt),
	}}
	return conn
}

// TestAPatchSentBeforeARestart plays the first pass of a process over a resource whose PATCH a
// process before it logged, and maybe sent, but never reported: status shows the PATCH (the
// time, the Patched event) when Graph holds it, and nothing is claimed when Graph does not.
func TestAPatchSentBeforeARestart(t *testing.T) {
	sentAt := offlineStart.Add(-time.Minute)
	cases := map[string]struct {
		was    *metav1.Time // status.lastAppliedTime
		logged int32        // the logged PATCH's successCount
		graph  int32        // Graph's successCount
		// want: lastAppliedTime set by the pass, the events, and the PATCHes sent
		applied bool
		events  []string
		patches int
	}{
		"Graph holds the logged PATCH, status does not show it: it does now": {
			logged: 12, graph: 12,
			applied: true, events: []string{"Normal Patched"},
		},
		"Graph holds the logged PATCH, status shows an older one: it shows this one now": {
			was:    ptr.To(metav1.NewTime(sentAt.Add(-time.Hour))),
			logged: 12, graph: 12,
			applied: true, events: []string{"Normal Patched"},
		},
		"status shows the logged PATCH already: nothing more": {
			was:    ptr.To(metav1.NewTime(sentAt)),
			logged: 12, graph: 12,
		},
		"Graph does not hold the logged PATCH (it never arrived): nothing claimed, and it is sent": {
			logged: 12, graph: 3,
			applied: true, events: []string{"Normal Patched"}, patches: 1,
		},
		"Graph holds other values than the logged PATCH of an older spec: nothing claimed": {
			logged: 7, graph: 12,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Spec.Overview.FailedCount = nil
				o.Status.LastAppliedTime = tc.was
			})
			patches := 0
			gc := &graphFns{
				GetOverviewFn: func(context.Context, string) (graph.Response, error) {
					if patches > 0 {
						return graph.Response{Overview: graphOver(12)}, nil
					}
					return graph.Response{Overview: graphOver(tc.graph)}, nil
				},
				PatchOverviewFn: func(context.Context, string, graph.Fields) (graph.Response, error) {
					patches++
					return graph.Response{}, nil
				},
			}
			w := newOffline(t, obj, gc, offlineSetup{noConnection: true, objects: []client.Object{loggedConnection(tc.logged, sentAt)}})

			if res, err := w.sync(); err != nil || res.RequeueAfter <= 0 {
				t.Fatalf("the pass ended with %+v and %v", res, err)
			}
			got := w.object()
			if applied := got.Status.LastAppliedTime != nil && !got.Status.LastAppliedTime.Equal(tc.was); applied != tc.applied {
				t.Errorf("lastAppliedTime %v (was %v): set by the pass %t, want %t", got.Status.LastAppliedTime, tc.was, applied, tc.applied)
			}
			if d := cmp.Diff(tc.events, w.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			if patches != tc.patches {
				t.Errorf("PATCHes sent: %d, want %d", patches, tc.patches)
			}
			if e, ok := w.r.patchLogs.pending(logKey(loggedConnection(0, sentAt)), string(obj.UID)); ok {
				t.Errorf("the log still holds %+v after the report", e)
			}
		})
	}
}

// TestAPatchSentBeforeARestartUnderASteadyStatus: a process PATCHed drift away and died before it
// reported it, so the status still shows the resource steady (Ready, no drift) as it was before the
// drift. The next process's routine resync of it must not end quietly on finding Graph as the
// status says: the connection's log holds the PATCH, which status then shows.
func TestAPatchSentBeforeARestartUnderASteadyStatus(t *testing.T) {
	sentAt := offlineStart.Add(-time.Minute)
	obj := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
		o.Spec.Overview.FailedCount = nil
		o.Status = syncedStatus(30*time.Minute, graphOver(12))
	})
	g := &steadyGraph{o: graphOver(12)} // the PATCH went: Graph holds the spec again
	w := newOffline(t, obj, &graphFns{GetOverviewFn: g.get}, offlineSetup{noConnection: true, objects: []client.Object{loggedConnection(12, sentAt)}})

	res, err := w.pass() // first seen by this process: it waits for its slot
	if err != nil || res.RequeueAfter <= 0 {
		t.Fatalf("the first pass ended with %+v and %v", res, err)
	}
	w.advance(res.RequeueAfter)
	if _, err := w.sync(); err != nil {
		t.Fatal(err)
	}
	if g.gets != 1 {
		t.Fatalf("%d GETs, want the resync's one", g.gets)
	}
	if got := w.object().Status.LastAppliedTime; got == nil || got.Before(&metav1.Time{Time: sentAt.Truncate(time.Second)}) {
		t.Errorf("lastAppliedTime %v, want the logged PATCH's time %v", got, sentAt)
	}
	if d := cmp.Diff([]string{"Normal Patched"}, w.events()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if e, ok := w.r.patchLogs.pending(logKey(loggedConnection(0, sentAt)), string(obj.UID)); ok {
		t.Errorf("the log still holds %+v after the report", e)
	}
}

// TestEveryPatchIsLoggedBeforeItIsSent plays one PATCH through the reconciler with the API server
// there, and one with it away: a PATCH goes only once the connection's status holds it.
func TestEveryPatchIsLoggedBeforeItIsSent(t *testing.T) {
	for name, away := range map[string]bool{"the API server there": false, "the API server away": true} {
		t.Run(name, func(t *testing.T) {
			var w *offline
			var logged []intunev1alpha1.PendingPatch
			gc := &graphFns{
				GetOverviewFn: getInTurn(holds(graphOver(3)), holds(graphOver(12))),
				PatchOverviewFn: func(ctx context.Context, _ string, f graph.Fields) (graph.Response, error) {
					conn := &intunev1alpha1.GraphConnection{}
					if err := w.kube.Get(ctx, client.ObjectKey{Namespace: "it", Name: "contoso"}, conn); err != nil {
						t.Fatal(err)
					}
					logged = conn.Status.PendingPatches
					return graph.Response{}, nil
				},
			}
			funcs := interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				if away {
					return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
				}
				return c.SubResource(sub).Patch(ctx, o, p, opts...)
			}}
			w = newOffline(t, offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Spec.Overview.FailedCount = nil
			}), gc, offlineSetup{funcs: funcs})

			res, err := w.sync()
			if away {
				if err == nil || logged != nil {
					t.Errorf("with the API server away: the pass ended with %+v and %v, and a PATCH went with the log %+v; want an error and no PATCH", res, err, logged)
				}
				return
			}
			want := []intunev1alpha1.PendingPatch{{UID: string(offlineOverview().UID),
				Fields: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12)}, SentAt: metav1.NewTime(offlineStart)}}
			if err != nil || cmp.Diff(want, logged) != "" {
				t.Errorf("the pass ended with %+v and %v; the log when the PATCH went (-want +got):\n%s", res, err, cmp.Diff(want, logged))
			}
		})
	}
}

// TestPatchLogWritesABurstTogether records many PATCHes at once through a connection whose status
// writes are slow: they are written in a few writes, not one each, and each record returns only
// once a write holds it.
func TestPatchLogWritesABurstTogether(t *testing.T) {
	var mu sync.Mutex
	writes := 0
	release := make(chan struct{})
	conn := offlineConnection("it")
	kube := fake.NewClientBuilder().
		WithScheme(offlineScheme).
		WithObjects(conn.DeepCopy()).
		WithStatusSubresource(&intunev1alpha1.GraphConnection{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			<-release
			mu.Lock()
			writes++
			mu.Unlock()
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		}}).
		Build()
	logs := newPatchLogs(kube, clocktesting.NewFakePassiveClock(offlineStart))
	const burst = 50
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Go(func() {
			errs <- logs.record(context.Background(), conn, intunev1alpha1.PendingPatch{
				UID: string(rune('a'+i%26)) + string(rune('a'+i/26)), Fields: intunev1alpha1.OverviewFields{SuccessCount: ptr.To(int32(i))},
				SentAt: metav1.NewTime(offlineStart),
			})
		})
	}
	// The first write waits on the API server until the whole burst has been recorded behind it.
	for recorded := 0; recorded < burst; runtime.Gosched() {
		logs.mu.Lock()
		recorded = int(logs.logFor(conn).version)
		logs.mu.Unlock()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := &intunev1alpha1.GraphConnection{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(conn), got); err != nil {
		t.Fatal(err)
	}
	if len(got.Status.PendingPatches) != burst {
		t.Errorf("the connection's status holds %d PATCHes, want %d", len(got.Status.PendingPatches), burst)
	}
	if writes > 3 {
		t.Errorf("%d writes for a burst of %d PATCHes, want 3 at most", writes, burst)
	}
}

// TestPatchLogDropsWhatNothingSettles checks that a connection's log does not keep, past the next
// write, the entry of a resource deleted while this process ran, nor, after a week, one that no
// report settles (a resource deleted while no process ran).
func TestPatchLogDropsWhatNothingSettles(t *testing.T) {
	conn := offlineConnection("it")
	conn.Status.PendingPatches = []intunev1alpha1.PendingPatch{
		pendingEntry("deleted", offlineStart.Add(-time.Minute)),
		pendingEntry("long-gone", offlineStart.Add(-8*24*time.Hour)),
		pendingEntry("in-flight", offlineStart.Add(-time.Second)),
	}
	kube := fake.NewClientBuilder().WithScheme(offlineScheme).WithObjects(conn.DeepCopy()).
		WithStatusSubresource(&intunev1alpha1.GraphConnection{}).Build()
	logs := newPatchLogs(kube, clocktesting.NewFakePassiveClock(offlineStart))
	logs.start(conn) // as a pass does when it submits a job through the connection

	if _, ok := logs.pending(logKey(conn), "deleted"); !ok {
		t.Fatal("the log did not start from what the connection's status holds")
	}
	logs.forget("deleted")
	if err := logs.record(context.Background(), conn, pendingEntry("new", offlineStart)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"in-flight", "new"}, storedUIDs(t, kube, conn)); d != "" {
		t.Errorf("the connection's pendingPatches (-want +got):\n%s", d)
	}
}

// TestPatchLogKeepsOnlyWhatMayHaveGone checks that a PATCH whose record could not be written
// leaves the log as it found it (it is not sent, so nothing of it needs recovering), and that a
// full log refuses a new resource's PATCH without a write until a report makes room: a log the
// API server is slow to take does not grow with the PATCHes it held back, nor past what the
// connection's status may hold.
func TestPatchLogKeepsOnlyWhatMayHaveGone(t *testing.T) {
	entry := func(uid string, value int32, sentAt time.Time) intunev1alpha1.PendingPatch {
		return intunev1alpha1.PendingPatch{UID: uid, Fields: intunev1alpha1.OverviewFields{SuccessCount: ptr.To(value)}, SentAt: metav1.NewTime(sentAt)}
	}
	conn := offlineConnection("it")
	earlier := entry("a", 1, offlineStart.Add(-time.Second)) // sent, not reported yet
	conn.Status.PendingPatches = []intunev1alpha1.PendingPatch{earlier}
	fail, writes := false, 0
	kube := fake.NewClientBuilder().WithScheme(offlineScheme).WithObjects(conn.DeepCopy()).
		WithStatusSubresource(&intunev1alpha1.GraphConnection{}).
		WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			writes++
			if fail {
				return context.DeadlineExceeded
			}
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		}}).Build()
	logs := newPatchLogs(kube, clocktesting.NewFakePassiveClock(offlineStart))
	logs.start(conn)
	stored := func() []intunev1alpha1.PendingPatch {
		t.Helper()
		got := &intunev1alpha1.GraphConnection{}
		if err := kube.Get(context.Background(), client.ObjectKeyFromObject(conn), got); err != nil {
			t.Fatal(err)
		}
		return got.Status.PendingPatches
	}

	fail = true
	if err := logs.record(context.Background(), conn, entry("a", 2, offlineStart)); err == nil {
		t.Fatal("a record whose write failed returned no error")
	}
	if err := logs.record(context.Background(), conn, entry("b", 2, offlineStart)); err == nil {
		t.Fatal("a record whose write failed returned no error")
	}
	fail = false
	if err := logs.record(context.Background(), conn, entry("c", 3, offlineStart)); err != nil {
		t.Fatal(err)
	}
	want := []intunev1alpha1.PendingPatch{earlier, entry("c", 3, offlineStart)}
	if d := cmp.Diff(want, stored()); d != "" {
		t.Errorf("after two failed records and one written, the connection's pendingPatches (-want +got):\n%s", d)
	}

	for i := len(want); i < patchLogMax; i++ {
		logs.mu.Lock()
		log := logs.logFor(conn)
		log.entries[fmt.Sprint("filler-", i)] = entry(fmt.Sprint("filler-", i), 1, offlineStart)
		log.version++
		logs.mu.Unlock()
	}
	writes = 0
	if err := logs.record(context.Background(), conn, entry("d", 4, offlineStart)); !errors.Is(err, errPatchLogFull) || writes != 0 {
		t.Errorf("a new resource's record in a full log: %v after %d writes, want errPatchLogFull and none", err, writes)
	}
	if err := logs.record(context.Background(), conn, entry("a", 5, offlineStart)); err != nil {
		t.Errorf("a logged resource's next record in a full log: %v, want it written", err)
	}
	logs.reported(logKey(conn), "c", metav1.NewTime(offlineStart))
	if err := logs.record(context.Background(), conn, entry("d", 4, offlineStart)); err != nil {
		t.Errorf("a new resource's record once a report made room: %v, want it written", err)
	}
	if n := len(stored()); n != patchLogMax {
		t.Errorf("the connection's status holds %d PATCHes, want %d", n, patchLogMax)
	}
}

// TestPatchLogDroppedAndStartedAgain checks that a job whose connection's log was dropped after it
// was submitted (another replica owned the connection's key for a while, and wrote the log) starts
// the log again from the connection as it is, with what the other replica left in its status: a
// job names its connection by name only, and a log started from that alone would write its own
// entry over every other.
func TestPatchLogDroppedAndStartedAgain(t *testing.T) {
	conn := offlineConnection("it")
	conn.Status.PendingPatches = []intunev1alpha1.PendingPatch{pendingEntry("before", offlineStart.Add(-2*time.Second))}
	kube := fake.NewClientBuilder().WithScheme(offlineScheme).WithObjects(conn.DeepCopy()).
		WithStatusSubresource(&intunev1alpha1.GraphConnection{}).Build()
	logs := newPatchLogs(kube, clocktesting.NewFakePassiveClock(offlineStart))
	ref := logs.start(conn) // the job's name for the connection

	logs.dropUnowned(func(connectionObject) bool { return false })
	// The other replica, owner meanwhile, PATCHed a resource and wrote its entry.
	other := &intunev1alpha1.GraphConnection{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(conn), other); err != nil {
		t.Fatal(err)
	}
	other.Status.PendingPatches = append(other.Status.PendingPatches, pendingEntry("other", offlineStart.Add(-time.Second)))
	if err := kube.Status().Update(context.Background(), other); err != nil {
		t.Fatal(err)
	}

	if err := logs.record(context.Background(), ref, pendingEntry("mine", offlineStart)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"before", "mine", "other"}, storedUIDs(t, kube, conn)); d != "" {
		t.Errorf("the connection's pendingPatches (-want +got):\n%s", d)
	}

	logs.dropUnowned(func(connectionObject) bool { return false })
	if err := kube.Delete(context.Background(), conn.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	if err := logs.record(context.Background(), ref, pendingEntry("gone", offlineStart)); err == nil {
		t.Error("a record through a connection that is gone returned no error: its PATCH would go unlogged")
	}
}

// pendingEntry is a log entry of the resource uid, a PATCH of successCount 1 sent at sentAt.
func pendingEntry(uid string, sentAt time.Time) intunev1alpha1.PendingPatch {
	return intunev1alpha1.PendingPatch{UID: uid, Fields: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](1)}, SentAt: metav1.NewTime(sentAt)}
}

// storedUIDs are the resources whose entries conn's status holds, in its order.
func storedUIDs(t *testing.T, kube client.Client, conn *intunev1alpha1.GraphConnection) []string {
	t.Helper()
	got := &intunev1alpha1.GraphConnection{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(conn), got); err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, e := range got.Status.PendingPatches {
		uids = append(uids, e.UID)
	}
	return uids
}
