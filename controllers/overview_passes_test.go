package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// steadyGraph answers every GET with o and a new request-id, and counts them.
type steadyGraph struct {
	mu   sync.Mutex
	o    graph.Overview
	gets int
}

func (g *steadyGraph) get(context.Context, string) (graph.Response, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gets++
	return graph.Response{Overview: g.o, RequestID: fmt.Sprintf("r%d", g.gets)}, nil
}

// syncedStatus is the status of a resource of generation 2 that Graph matched, last written ago.
func syncedStatus(ago time.Duration, o graph.Overview) intunev1alpha1.OverviewStatus {
	at := metav1.NewTime(offlineStart.Add(-ago))
	return intunev1alpha1.OverviewStatus{
		ObservedGeneration: 2,
		Conditions: []metav1.Condition{
			{Type: intunev1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: intunev1alpha1.ReasonUpToDate,
				Message: "Graph holds every managed value", ObservedGeneration: 2, LastTransitionTime: at},
			{Type: intunev1alpha1.ConditionSynced, Status: metav1.ConditionTrue, Reason: intunev1alpha1.ReasonSucceeded,
				Message: "Graph was read successfully", ObservedGeneration: 2, LastTransitionTime: at},
		},
		Observed:      observedFrom(graph.UserOverview, &o),
		LastSyncTime:  &at,
		LastRequestID: "r0",
	}
}

// TestSteadyResyncWritesOnlyTheHeartbeat plays two hours of a steady resource on a fake clock: one
// GET and one pass per sync slot, no PATCH, and a status write only when lastSyncTime is an hour
// old (that slot's result takes a second pass, which writes it).
func TestSteadyResyncWritesOnlyTheHeartbeat(t *testing.T) {
	g := &steadyGraph{o: graphOver(12)}
	obj := offlineOverview()
	obj.Status = syncedStatus(30*time.Minute, g.o)
	w := newOffline(t, obj, &graphFns{GetOverviewFn: g.get}, offlineSetup{})

	res, err := w.pass() // first seen by this process: it waits for its slot
	var syncs []time.Time
	for w.clock.Now().Before(offlineStart.Add(2 * time.Hour)) {
		if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > offlineInterval {
			t.Fatalf("a steady pass ended with %+v and %v, want a requeue at the next slot", res, err)
		}
		w.advance(res.RequeueAfter)
		syncs = append(syncs, w.clock.Now())
		res, err = w.sync()
	}

	if g.gets != len(syncs) {
		t.Errorf("%d GETs in %d sync slots", g.gets, len(syncs))
	}
	if wantPasses := 1 + len(syncs) + len(w.writes); w.passes != wantPasses {
		t.Errorf("%d passes for %d sync slots and %d heartbeats, want %d: one per slot, and one more to write a heartbeat",
			w.passes, len(syncs), len(w.writes), wantPasses)
	}
	// The heartbeats: the first slot an hour after the last write (30 minutes before the start),
	// and the slot an hour after that.
	var want []time.Time
	last := offlineStart.Add(-30 * time.Minute)
	for i, at := range syncs {
		if at.Sub(last) >= heartbeat {
			want = append(want, at.Truncate(time.Second))
			last = at
			if i == 0 {
				t.Fatalf("a heartbeat at the first slot, %v after the last write", at.Sub(offlineStart))
			}
		}
	}
	var got []time.Time
	for _, st := range w.writes {
		got = append(got, st.LastSyncTime.Time)
		if !meta.IsStatusConditionTrue(st.Conditions, intunev1alpha1.ConditionReady) {
			t.Errorf("a heartbeat wrote %+v", st.Conditions)
		}
	}
	if len(want) != 2 {
		t.Fatalf("the test expects two heartbeats in two hours, not %d", len(want))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the status writes' lastSyncTime (-want +got):\n%s", d)
	}
	if c := meta.FindStatusCondition(w.object().Status.Conditions, intunev1alpha1.ConditionReady); !c.LastTransitionTime.Equal(ptr.To(metav1.NewTime(offlineStart.Add(-30 * time.Minute)))) {
		t.Errorf("Ready moved: %+v", c)
	}
	if events := w.events(); len(events) > 0 {
		t.Errorf("events %v for a steady resource", events)
	}
}

// TestTheResyncAfterAPatchTakesOnePass: a resource PATCHed in its first sync, then steady: its
// routine resyncs take one pass each, the first one too, which finds the PATCH kept (the memory
// of the PATCH, kept to recognise a Graph that reverts it, goes without a pass).
func TestTheResyncAfterAPatchTakesOnePass(t *testing.T) {
	g := &steadyGraph{o: graphOver(3)}
	gc := &graphFns{GetOverviewFn: g.get, PatchOverviewFn: func(_ context.Context, _ string, f graph.Fields) (graph.Response, error) {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.o.SuccessCount, g.o.FailedCount = *f.SuccessCount, 0
		return graph.Response{}, nil
	}}
	w := newOffline(t, offlineOverview(), gc, offlineSetup{})
	res, err := w.sync()
	if err != nil || !meta.IsStatusConditionTrue(w.object().Status.Conditions, intunev1alpha1.ConditionReady) {
		t.Fatalf("the first sync ended with %+v, %v and conditions %+v", res, err, w.object().Status.Conditions)
	}
	for slot := range 3 {
		passes, writes := w.passes, len(w.writes)
		w.advance(res.RequeueAfter)
		if res, err = w.sync(); err != nil || res.RequeueAfter <= 0 {
			t.Fatalf("resync %d ended with %+v and %v", slot, res, err)
		}
		if w.passes-passes != 1 || len(w.writes) != writes {
			t.Errorf("resync %d took %d passes and %d status writes, want 1 and 0", slot, w.passes-passes, len(w.writes)-writes)
		}
	}
	if g.gets != 2+3 {
		t.Errorf("%d GETs: want the first sync's two and one per resync", g.gets)
	}
}

// TestObserveOnlyNeverPatches plays an ObserveOnly resource whose Graph differs from the spec, over
// a few sync slots: no PATCH (graphFns has none to give), Ready with DriftDetected, the drift
// reported once.
func TestObserveOnlyNeverPatches(t *testing.T) {
	g := &steadyGraph{o: graphOver(3)}
	obj := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
		o.Spec.ManagementPolicy = intunev1alpha1.ManagementPolicyObserveOnly
	})
	w := newOffline(t, obj, &graphFns{GetOverviewFn: g.get}, offlineSetup{})

	for range 3 {
		res, err := w.sync()
		if err != nil || res.RequeueAfter <= 0 || res.RequeueAfter > offlineInterval {
			t.Fatalf("the pass ended with %+v and %v, want a requeue at the next slot", res, err)
		}
		st := w.object().Status
		if c := meta.FindStatusCondition(st.Conditions, intunev1alpha1.ConditionReady); c == nil ||
			c.Status != metav1.ConditionTrue || c.Reason != intunev1alpha1.ReasonDriftDetected {
			t.Fatalf("Ready = %+v, want True with DriftDetected", c)
		}
		if d := cmp.Diff([]intunev1alpha1.FieldDrift{{Field: "successCount", Desired: "12", Observed: "3"}}, st.Drift); d != "" || st.DriftCount != 1 {
			t.Errorf("drift (-want +got), count %d:\n%s", st.DriftCount, d)
		}
		w.advance(res.RequeueAfter)
	}
	if g.gets != 3 {
		t.Errorf("%d GETs in 3 syncs", g.gets)
	}
	if d := cmp.Diff([]graph.JobKind{graph.ReadJob, graph.ReadJob, graph.ReadJob}, w.graph.jobs()); d != "" {
		t.Errorf("jobs (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"Normal DriftDetected"}, w.events()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if len(w.writes) != 1 {
		t.Errorf("%d status writes, want the first sync's only", len(w.writes))
	}
}

// TestNeverReadyForAPatchGraphDoesNotKeep plays Graphs that accept PATCHes and do not keep them:
// no status write ever says Ready for them.
func TestNeverReadyForAPatchGraphDoesNotKeep(t *testing.T) {
	cases := map[string]struct {
		reads []answer
		// readyFirst is true when the first sync may say Ready: its read-back showed the value.
		readyFirst bool
	}{
		"every read shows the old value": {
			reads: []answer{holds(graphOver(3))},
		},
		"every read-back shows the value, every next read the old one again": {
			reads:      []answer{holds(graphOver(3)), holds(graphOver(12))},
			readyFirst: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			patches := 0
			gc := &graphFns{
				GetOverviewFn: getInTurn(tc.reads...),
				PatchOverviewFn: func(context.Context, string, graph.Fields) (graph.Response, error) {
					patches++
					return graph.Response{}, nil
				},
			}
			w := newOffline(t, offlineOverview(), gc, offlineSetup{})
			failures := 0
			for range 5 {
				res, err := w.sync()
				if err != nil || res.RequeueAfter <= 0 {
					t.Fatalf("the pass ended with %+v and %v", res, err)
				}
				if !meta.IsStatusConditionTrue(w.object().Status.Conditions, intunev1alpha1.ConditionSynced) {
					// Retried with backoff: each wait doubles.
					want := offlineRetryBase << failures
					if res.RequeueAfter < want/2 || res.RequeueAfter > want {
						t.Errorf("failure %d looks again after %v, want within [%v, %v]", failures+1, res.RequeueAfter, want/2, want)
					}
					failures++
				}
				w.advance(res.RequeueAfter)
			}
			if patches < 2 {
				t.Fatalf("%d PATCHes in five syncs", patches)
			}
			for i, st := range w.writes {
				if i == 0 && tc.readyFirst {
					continue
				}
				if meta.IsStatusConditionTrue(st.Conditions, intunev1alpha1.ConditionReady) {
					t.Errorf("write %d says Ready: %+v", i+1, st.Conditions)
				}
			}
			st := w.object().Status
			if c := meta.FindStatusCondition(st.Conditions, intunev1alpha1.ConditionReady); c == nil || c.Reason != intunev1alpha1.ReasonNotPersisted {
				t.Errorf("Ready = %+v, want NotPersisted", c)
			}
			if st.LastAppliedTime == nil || st.Observed == nil {
				t.Errorf("status shows lastAppliedTime %v and observed %+v, want the PATCH and what Graph answered", st.LastAppliedTime, st.Observed)
			}
		})
	}
}

// heldGraph keeps the jobs submitted to it waiting, as a tenant's line does, and records what is
// withdrawn.
type heldGraph struct {
	graphFns
	waiting   map[string]graph.Job
	withdrawn []string
}

func newHeldGraph() *heldGraph {
	g := &heldGraph{waiting: map[string]graph.Job{}}
	g.SubmitFn = func(key string, _ graph.JobKind, job graph.Job) { g.waiting[key] = job }
	g.WithdrawFn = func(key string) bool {
		_, ok := g.waiting[key]
		delete(g.waiting, key)
		g.withdrawn = append(g.withdrawn, key)
		return ok
	}
	return g
}

// TestPassesThatCallNoGraph plays passes of a paused and of a deleted resource: neither calls
// Graph, whatever brings it back, and a job that waits in the tenant's line is withdrawn.
func TestPassesThatCallNoGraph(t *testing.T) {
	t.Run("created paused", func(t *testing.T) {
		obj := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Annotations = map[string]string{intunev1alpha1.AnnotationPaused: "true"}
		})
		g := newHeldGraph()
		w := newOffline(t, obj, &g.graphFns, offlineSetup{})
		for range 3 {
			if res, err := w.pass(); err != nil || res != (reconcile.Result{}) {
				t.Fatalf("a paused pass ended with %+v and %v, want nothing to come back for", res, err)
			}
			w.advance(offlineInterval)
		}
		if len(g.jobs()) > 0 {
			t.Errorf("jobs %v submitted while paused", g.jobs())
		}
		if c := meta.FindStatusCondition(w.object().Status.Conditions, intunev1alpha1.ConditionSynced); c == nil || c.Reason != intunev1alpha1.ReasonPaused {
			t.Errorf("Synced = %+v, want Paused", c)
		}
		if len(w.writes) != 1 {
			t.Errorf("%d status writes in three paused passes, want one", len(w.writes))
		}
	})
	t.Run("paused while its job waits", func(t *testing.T) {
		g := newHeldGraph()
		w := newOffline(t, offlineOverview(), &g.graphFns, offlineSetup{})
		if _, err := w.pass(); err != nil || len(g.waiting) != 1 {
			t.Fatalf("the first pass: %v, %d jobs waiting", err, len(g.waiting))
		}
		obj := w.object()
		obj.Annotations = map[string]string{intunev1alpha1.AnnotationPaused: "true"}
		if err := w.kube.Update(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
		if res, err := w.pass(); err != nil || res != (reconcile.Result{}) {
			t.Fatalf("the paused pass ended with %+v and %v", res, err)
		}
		if len(g.waiting) != 0 || len(g.withdrawn) != 1 {
			t.Errorf("%d jobs still waiting, %v withdrawn", len(g.waiting), g.withdrawn)
		}
	})
	t.Run("being deleted, held by another's finalizer, while its job waits", func(t *testing.T) {
		g := newHeldGraph()
		obj := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Finalizers = []string{"example.com/hold"}
		})
		w := newOffline(t, obj, &g.graphFns, offlineSetup{})
		if _, err := w.pass(); err != nil || len(g.waiting) != 1 {
			t.Fatalf("the first pass: %v, %d jobs waiting", err, len(g.waiting))
		}
		if err := w.kube.Delete(context.Background(), w.object()); err != nil {
			t.Fatal(err)
		}
		for range 3 { // whatever brings it back
			if res, err := w.pass(); err != nil || res != (reconcile.Result{}) {
				t.Fatalf("a pass of the resource being deleted ended with %+v and %v", res, err)
			}
		}
		if len(g.waiting) != 0 || len(g.withdrawn) != 1 || len(g.jobs()) != 1 {
			t.Errorf("%d jobs still waiting, %v withdrawn, %v submitted", len(g.waiting), g.withdrawn, g.jobs())
		}
		if len(w.writes) != 0 {
			t.Errorf("%d status writes", len(w.writes))
		}
	})
	t.Run("deleted while its job waits, and the job already running", func(t *testing.T) {
		g := newHeldGraph()
		w := newOffline(t, offlineOverview(), &g.graphFns, offlineSetup{})
		if _, err := w.pass(); err != nil || len(g.waiting) != 1 {
			t.Fatalf("the first pass: %v, %d jobs waiting", err, len(g.waiting))
		}
		job := g.waiting[w.r.memory.lineKey(w.key)]
		if err := w.kube.Delete(context.Background(), w.object()); err != nil {
			t.Fatal(err)
		}
		if res, err := w.pass(); err != nil || res != (reconcile.Result{}) {
			t.Fatalf("the pass of the deleted resource ended with %+v and %v", res, err)
		}
		if len(g.waiting) != 0 || len(g.withdrawn) != 1 {
			t.Errorf("%d jobs still waiting, %v withdrawn", len(g.waiting), g.withdrawn)
		}
		// The pacer had started the job before it was withdrawn: its end brings nothing back.
		g.GetOverviewFn = getInTurn(holds(graphOver(12)))
		runPaced(job, g).run()
		select {
		case <-w.r.done:
			t.Error("the job of a deleted resource brought it back")
		default:
		}
		if len(w.writes) != 0 {
			t.Errorf("%d status writes", len(w.writes))
		}
	})
}

// TestThrottledJobGoesBackInLine plays a 429 on a job's first GET: the job goes back to its place
// in the tenant's line, and the resource costs no pass, no status write and no event meanwhile.
func TestThrottledJobGoesBackInLine(t *testing.T) {
	gc := &graphFns{GetOverviewFn: getInTurn(fails(&graph.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: time.Minute}))}
	w := newOffline(t, offlineOverview(), gc, offlineSetup{})
	if res, err := w.sync(); err != nil || res != (reconcile.Result{}) {
		t.Fatalf("the pass ended with %+v and %v, want nothing until the job ends", res, err)
	}
	if n := gc.again(); n != 1 {
		t.Errorf("%d jobs went back in line, want 1", n)
	}
	if events := w.events(); len(w.writes) > 0 || len(events) > 0 {
		t.Errorf("%d status writes and events %v for a job that has not ended", len(w.writes), events)
	}
}
