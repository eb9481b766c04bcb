package controllers

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// TestAJobCallsGraphOnlyWhileTheClusterWantsIt submits a resource's job, changes what the cluster
// says while the job waits (in the tenant's line, on its GET, or on a GET that Graph throttles),
// and runs it: no change that the cluster made since the job was queued may be overtaken by its
// PATCH, nor may its old client read for the resource's new state. The envtest specs of
// overview_trust_test.go play the same against the emulator's 429s and latency.
func TestAJobCallsGraphOnlyWhileTheClusterWantsIt(t *testing.T) {
	ctx := context.Background()
	update := func(t *testing.T, w *offline, obj client.Object, edit func()) {
		t.Helper()
		if err := w.kube.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		edit()
		if err := w.kube.Update(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	clusterWide := offlineClusterConnection
	cases := map[string]struct {
		edit   func(*intunev1alpha1.DeviceConfigurationUserOverview)
		setup  offlineSetup
		change func(t *testing.T, w *offline)
		// wanted: nothing changed, and the job must PATCH (the test can tell a PATCH from none)
		wanted bool
		// mayRead: the job may still read, with a client the resource still resolves to (a newer
		// spec is compared with Graph when the read comes back); only its PATCH must not go
		mayRead bool
	}{
		"nothing changed": {
			change: func(*testing.T, *offline) {},
			wanted: true,
		},
		"the resource deleted": {
			change: func(t *testing.T, w *offline) {
				if err := w.kube.Delete(ctx, w.object()); err != nil {
					t.Fatal(err)
				}
			},
		},
		"the resource deleted and created again": {
			change: func(t *testing.T, w *offline) {
				if err := w.kube.Delete(ctx, w.object()); err != nil {
					t.Fatal(err)
				}
				again := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) { o.UID = "another" })
				if err := w.kube.Create(ctx, again); err != nil {
					t.Fatal(err)
				}
			},
		},
		"the resource being deleted": {
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Finalizers = []string{"example.com/keep"}
			},
			change: func(t *testing.T, w *offline) {
				if err := w.kube.Delete(ctx, w.object()); err != nil {
					t.Fatal(err)
				}
			},
		},
		"the resource paused": {
			change: func(t *testing.T, w *offline) {
				o := w.object()
				update(t, w, o, func() { o.Annotations = map[string]string{intunev1alpha1.AnnotationPaused: "true"} })
			},
		},
		"a newer generation of the spec": {
			change: func(t *testing.T, w *offline) {
				o := w.object()
				update(t, w, o, func() { o.Generation, o.Spec.Overview.SuccessCount = 3, new(int32(20)) })
			},
			mayRead: true,
		},
		"a newer generation, ObserveOnly": {
			change: func(t *testing.T, w *offline) {
				o := w.object()
				update(t, w, o, func() {
					o.Generation, o.Spec.ManagementPolicy = 3, intunev1alpha1.ManagementPolicyObserveOnly
				})
			},
			mayRead: true,
		},
		"the connection moved to another tenant": {
			change: func(t *testing.T, w *offline) {
				c := offlineConnection("it")
				update(t, w, c, func() { c.Generation, c.Spec.TenantID = 2, "0f0e0d0c-0b0a-4908-8706-050403020100" })
			},
		},
		"the connection's Secret rotated": {
			change: func(t *testing.T, w *offline) {
				s := offlineSecret("it")
				update(t, w, s, func() { s.Data["clientSecret"] = []byte("rotated") })
			},
		},
		"the connection deleted": {
			change: func(t *testing.T, w *offline) {
				if err := w.kube.Delete(ctx, offlineConnection("it")); err != nil {
					t.Fatal(err)
				}
			},
		},
		"the namespace no longer admitted by the ClusterGraphConnection": {
			edit: func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: "tenant-wide"}
			},
			setup: offlineSetup{objects: []client.Object{clusterWide()}},
			change: func(t *testing.T, w *offline) {
				c := clusterWide()
				update(t, w, c, func() { c.Generation, c.Spec.AllowedNamespaces.Names = 2, []string{"someone-else"} })
			},
		},
	}
	// When the change lands: while the job waits in the tenant's line, while its GET is on its
	// way, or while a GET is on its way that Graph throttles (the job would go back in line).
	moments := []string{"in line", "on its GET", "on a throttled GET"}
	for name, tc := range cases {
		for _, moment := range moments {
			t.Run(name+" "+moment, func(t *testing.T) {
				var w *offline
				var job graph.Job
				var gets, patches int
				gc := &graphFns{
					SubmitFn: func(_ string, _ graph.JobKind, j graph.Job) { job = j },
					GetOverviewFn: func(context.Context, string) (graph.Response, error) {
						gets++
						switch {
						case moment == "on its GET" && gets == 1:
							tc.change(t, w)
						case moment == "on a throttled GET" && gets == 1:
							tc.change(t, w)
							return graph.Response{}, &graph.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second}
						}
						return graph.Response{Overview: graphOver(3)}, nil
					},
					PatchOverviewFn: func(context.Context, string, graph.Fields) (graph.Response, error) {
						patches++
						return graph.Response{}, nil
					},
				}
				obj := offlineOverview()
				if tc.edit != nil {
					tc.edit(obj)
				}
				w = newOffline(t, obj, gc, tc.setup)
				if _, err := w.pass(); err != nil || job.Run == nil {
					t.Fatalf("the first pass ended with %v, and submitted a job: %t", err, job.Run != nil)
				}
				if moment == "in line" {
					tc.change(t, w)
				}

				paced := runPaced(job, gc)
				ended := paced.run()
				for !ended && gets < 3 { // back in line, and run again after the pause
					ended = paced.run()
				}

				switch {
				case tc.wanted && (patches != 1 || !ended):
					t.Errorf("%d PATCHes and ended %t, want the one PATCH the cluster wants, ended", patches, ended)
				case tc.wanted:
				case patches > 0:
					t.Errorf("%d PATCHes the cluster no longer wants", patches)
				case !ended:
					t.Error("the job goes back in line though the cluster no longer wants it")
				case moment == "in line" && gets > 0 && !tc.mayRead:
					t.Errorf("%d GETs with the client of a job the cluster no longer wants", gets)
				}
			})
		}
	}
}

// TestAJobInLineForAConnectionThatChangedGivesItsPlaceBack changes a resource's connection while
// its job waits in the tenant's line, and runs the pass the change brings about: the job gives its
// place back at once, rather than wait out the old tenant's line (a 429 pause may hold it for
// minutes) only to find itself unwanted, and the resource takes a line as it is now, or says why
// it cannot.
func TestAJobInLineForAConnectionThatChangedGivesItsPlaceBack(t *testing.T) {
	ctx := context.Background()
	clusterWide := offlineClusterConnection()
	cases := map[string]struct {
		cluster bool // the resource uses clusterWide
		change  func(t *testing.T, w *offline)
		// what the pass after the change does with the waiting job, and what it says
		withdrawn, resubmitted bool
		reason                 string // of Ready, if the pass writes one
	}{
		"nothing changed": {
			change: func(*testing.T, *offline) {},
		},
		"the connection's Secret rotated": {
			change: func(t *testing.T, w *offline) {
				s := offlineSecret("it")
				if err := w.kube.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
					t.Fatal(err)
				}
				s.Data["clientSecret"] = []byte("rotated")
				if err := w.kube.Update(ctx, s); err != nil {
					t.Fatal(err)
				}
			},
			withdrawn: true, resubmitted: true,
		},
		"the namespace no longer admitted": {
			cluster: true,
			change: func(t *testing.T, w *offline) {
				c := clusterWide.DeepCopy()
				if err := w.kube.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
					t.Fatal(err)
				}
				c.Generation, c.Spec.AllowedNamespaces.Names = 2, nil
				if err := w.kube.Update(ctx, c); err != nil {
					t.Fatal(err)
				}
			},
			withdrawn: true,
			reason:    intunev1alpha1.ReasonConnectionNotAllowed,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := newHeldGraph()
			obj := offlineOverview()
			var setup offlineSetup
			if tc.cluster {
				obj.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: clusterWide.Name}
				setup.objects = []client.Object{clusterWide.DeepCopy()}
			}
			w := newOffline(t, obj, &g.graphFns, setup)
			if _, err := w.pass(); err != nil || len(g.waiting) != 1 {
				t.Fatalf("the first pass: %v, %d jobs waiting", err, len(g.waiting))
			}
			tc.change(t, w)
			_, _ = w.pass() // a terminal error when the connection refuses the resource

			if withdrawn := len(g.withdrawn) > 0; withdrawn != tc.withdrawn {
				t.Errorf("withdrawn %v, want withdrawn %t", g.withdrawn, tc.withdrawn)
			}
			if resubmitted := len(g.jobs()) == 2; resubmitted != tc.resubmitted {
				t.Errorf("jobs submitted %v, want submitted again %t", g.jobs(), tc.resubmitted)
			}
			if want := !tc.withdrawn || tc.resubmitted; (len(g.waiting) == 1) != want {
				t.Errorf("%d jobs waiting, want one waiting %t", len(g.waiting), want)
			}
			ready := meta.FindStatusCondition(w.object().Status.Conditions, intunev1alpha1.ConditionReady)
			switch {
			case tc.reason == "" && ready != nil:
				t.Errorf("Ready = %+v, want none until the job ends", ready)
			case tc.reason != "" && (ready == nil || ready.Reason != tc.reason):
				t.Errorf("Ready = %+v, want reason %s", ready, tc.reason)
			}
		})
	}
}

// TestASpecChangedDuringA429KeepsTheJobsPlace applies a new spec while the resource's GET is on
// its way to a 429: the job keeps its place in line (the informer has the new spec before the pass
// that records it has run) and, when it runs again after the pause, PATCHes the newest spec, which
// that pass recorded meanwhile.
func TestASpecChangedDuringA429KeepsTheJobsPlace(t *testing.T) {
	ctx := context.Background()
	var w *offline
	var job graph.Job
	var patches []graph.Fields
	gets := 0
	gc := &graphFns{
		SubmitFn: func(_ string, _ graph.JobKind, j graph.Job) { job = j },
		GetOverviewFn: func(context.Context, string) (graph.Response, error) {
			if gets++; gets > 1 {
				return graph.Response{Overview: graphOver(3)}, nil
			}
			o := w.object()
			o.Generation, o.Spec.Overview.SuccessCount = 3, new(int32(20))
			if err := w.kube.Update(ctx, o); err != nil {
				t.Fatal(err)
			}
			return graph.Response{}, &graph.Error{StatusCode: http.StatusTooManyRequests, RetryAfter: time.Second}
		},
		PatchOverviewFn: func(_ context.Context, _ string, f graph.Fields) (graph.Response, error) {
			patches = append(patches, f)
			return graph.Response{}, nil
		},
	}
	w = newOffline(t, offlineOverview(), gc, offlineSetup{})
	if _, err := w.pass(); err != nil || job.Run == nil {
		t.Fatalf("the first pass ended with %v, and submitted a job: %t", err, job.Run != nil)
	}
	paced := runPaced(job, gc)
	if paced.run() {
		t.Fatal("the throttled job of a spec changed meanwhile ended, want it back at its place")
	}
	if res, err := w.pass(); err != nil || res != (reconcile.Result{}) {
		t.Fatalf("the pass of the new spec ended with %+v and %v, want nothing until the job ends", res, err)
	}
	if !paced.run() {
		t.Fatal("the job did not end after the pause")
	}
	if d := cmp.Diff([]graph.Fields{{SuccessCount: new(int32(20))}}, patches); d != "" {
		t.Errorf("PATCHes (-want +got):\n%s", d)
	}
	if len(gc.jobs()) != 1 {
		t.Errorf("jobs submitted %v, want the one that kept its place", gc.jobs())
	}
}

// offlineClusterConnection is a ClusterGraphConnection that admits the namespace "it", with the
// same app as offlineConnection.
func offlineClusterConnection() *intunev1alpha1.ClusterGraphConnection {
	return &intunev1alpha1.ClusterGraphConnection{
		ObjectMeta: metav1.ObjectMeta{Name: "tenant-wide", UID: "cc1", Generation: 1},
		Spec: intunev1alpha1.ClusterGraphConnectionSpec{
			ConnectionSpec:    offlineConnection("it").Spec.ConnectionSpec,
			SecretNamespace:   "it",
			AllowedNamespaces: intunev1alpha1.AllowedNamespaces{Names: []string{"it"}},
		},
	}
}
