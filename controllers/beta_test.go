package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// v1API is the API of offlineConnection, which leaves apiVersion at its default.
var v1API = graphAPI{version: graph.APIVersionV1, kind: intunev1alpha1.ConnectionKindNamespaced, name: "contoso"}

// TestBetaPropertiesNeedABetaConnection: a spec that declares a beta-only property of its kind
// through a v1.0 connection is refused with InvalidSpec, naming the fields and both fixes; through
// a beta connection, or without them, it passes.
func TestBetaPropertiesNeedABetaConnection(t *testing.T) {
	cluster := graphAPI{version: graph.APIVersionV1, kind: intunev1alpha1.ConnectionKindCluster, name: "tenant-wide"}
	beta := v1API
	beta.version = graph.APIVersionBeta
	both := intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](1), ConflictCount: ptr.To[int32](2), NotApplicablePlatformCount: ptr.To[int32](3)}
	cases := map[string]struct {
		api    graphAPI
		entity graph.Entity
		want   intunev1alpha1.OverviewFields
		refuse string // the message; "" for none
	}{
		"conflictCount through v1.0": {api: v1API, entity: graph.UserOverview,
			want:   intunev1alpha1.OverviewFields{ConflictCount: ptr.To[int32](2)},
			refuse: `spec.overview.conflictCount is a property of Graph's beta API: set apiVersion: beta on GraphConnection "contoso", or remove the field`},
		"both of the device overview's through a v1.0 ClusterGraphConnection": {api: cluster, entity: graph.DeviceOverview, want: both,
			refuse: `spec.overview.notApplicablePlatformCount and spec.overview.conflictCount are properties of Graph's beta API: ` +
				`set apiVersion: beta on ClusterGraphConnection "tenant-wide", or remove the fields`},
		"a connection that does not say (v1.0)": {api: graphAPI{kind: intunev1alpha1.ConnectionKindNamespaced, name: "contoso"}, entity: graph.UserOverview,
			want:   intunev1alpha1.OverviewFields{ConflictCount: ptr.To[int32](0)},
			refuse: `spec.overview.conflictCount is a property of Graph's beta API`},
		"both through beta":              {api: beta, entity: graph.DeviceOverview, want: both},
		"conflictCount through beta":     {api: beta, entity: graph.UserOverview, want: intunev1alpha1.OverviewFields{ConflictCount: ptr.To[int32](2)}},
		"v1.0's properties through v1.0": {api: v1API, entity: graph.DeviceOverview, want: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](1)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.api.check(tc.entity, &tc.want)
			if tc.refuse == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			f := classify(err)
			if f.reason != intunev1alpha1.ReasonInvalidSpec || f.class != graph.ClassNeedsPerson || !strings.Contains(f.message, tc.refuse) {
				t.Errorf("%s (%v) %q, want InvalidSpec saying %q", f.reason, f.class, f.message, tc.refuse)
			}
		})
	}
}

// TestBetaPropertyThroughAV1Connection plays a resource that declares conflictCount through a v1.0
// connection: InvalidSpec (Ready False, Stalled) at once, with no job and no Graph call, and
// nothing until a person changes something; then either change a person may make (the connection
// to beta, or the field removed) brings it back by itself, on the next pass.
func TestBetaPropertyThroughAV1Connection(t *testing.T) {
	for _, fix := range []string{"the connection switched to beta", "the field removed"} {
		t.Run(fix, func(t *testing.T) {
			obj := offlineOverview(func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
				o.Spec.Overview.ConflictCount = ptr.To[int32](5)
			})
			gc := &graphFns{}
			w := newOffline(t, obj, gc, offlineSetup{})
			res, err := w.sync()
			if endingOf(res, err) != endsTerminal {
				t.Fatalf("the pass ended with %+v and %v, want a terminal error", res, err)
			}
			if len(gc.jobs()) > 0 {
				t.Fatalf("jobs %v submitted, want none", gc.jobs())
			}
			if d := cmp.Diff([]string{"Warning InvalidSpec"}, w.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			got := w.object()
			want := `spec.overview.conflictCount is a property of Graph's beta API: set apiVersion: beta on GraphConnection "contoso", or remove the field`
			for _, typ := range []string{intunev1alpha1.ConditionReady, intunev1alpha1.ConditionSynced} {
				c := meta.FindStatusCondition(got.Status.Conditions, typ)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != intunev1alpha1.ReasonInvalidSpec || c.Message != want {
					t.Fatalf("%s = %+v, want False, InvalidSpec, %q", typ, c, want)
				}
			}
			if s := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled); s == nil || s.Status != metav1.ConditionTrue ||
				s.Reason != intunev1alpha1.ReasonInvalidSpec || got.Status.ObservedGeneration != got.Generation {
				t.Fatalf("Stalled %+v at observedGeneration %d, want True, InvalidSpec, at %d", s, got.Status.ObservedGeneration, got.Generation)
			}

			// Graph holds conflictCount 1 and the rest of the spec; the fix sends what differs.
			var patches []graph.Fields
			gc.GetOverviewFn = getInTurn(
				holds(graph.Overview{ID: offlineConfigurationID, SuccessCount: 12, ConflictCount: ptr.To[int32](1)}),
				holds(graph.Overview{ID: offlineConfigurationID, SuccessCount: 12, ConflictCount: ptr.To[int32](5)}))
			gc.PatchOverviewFn = func(_ context.Context, _ string, f graph.Fields) (graph.Response, error) {
				patches = append(patches, f)
				return graph.Response{}, nil
			}
			wantPatches := []graph.Fields{{ConflictCount: ptr.To[int32](5)}}
			wantObserved := ptr.To[int32](5)
			if fix == "the connection switched to beta" {
				conn := &intunev1alpha1.GraphConnection{}
				if err := w.kube.Get(context.Background(), client.ObjectKey{Namespace: "it", Name: "contoso"}, conn); err != nil {
					t.Fatal(err)
				}
				conn.Spec.APIVersion = intunev1alpha1.APIVersionBeta
				conn.Generation++
				if err := w.kube.Update(context.Background(), conn); err != nil {
					t.Fatal(err)
				}
			} else {
				// v1.0 serves no conflictCount: Graph's answer has none.
				gc.GetOverviewFn = getInTurn(holds(graph.Overview{ID: offlineConfigurationID, SuccessCount: 12}))
				o := w.object()
				o.Generation++
				o.Spec.Overview.ConflictCount = nil
				if err := w.kube.Update(context.Background(), o); err != nil {
					t.Fatal(err)
				}
				wantPatches, wantObserved = nil, nil
			}
			w.advance(time.Second)
			// The watch on the connection (forConnection), or the new generation, brings the
			// resource back.
			if res, err := w.sync(); err != nil || res.RequeueAfter == 0 {
				t.Fatalf("the pass after the fix ended with %+v and %v", res, err)
			}
			got = w.object()
			ready := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != intunev1alpha1.ReasonUpToDate {
				t.Fatalf("Ready = %+v, want True, UpToDate", ready)
			}
			if s := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled); s != nil {
				t.Errorf("Stalled %+v after the fix", s)
			}
			if d := cmp.Diff(wantPatches, patches); d != "" {
				t.Errorf("PATCHes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantObserved, got.Status.Observed.ConflictCount); d != "" {
				t.Errorf("status.observed.conflictCount (-want +got):\n%s", d)
			}
		})
	}
}

// TestAJobChecksTheNewestSpec: a spec that came to declare a beta-only property while its job
// waited in a v1.0 client's line fails the job before its GET; one that came while the GET was on
// its way fails it before a PATCH. Either is InvalidSpec, not drift from a property v1.0 does not
// serve.
func TestAJobChecksTheNewestSpec(t *testing.T) {
	newRecord := func(r *OverviewReconciler, conflictCount *int32) *record {
		obj := &intunev1alpha1.DeviceConfigurationUserOverview{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 3},
			Spec:       intunev1alpha1.OverviewSpec{Overview: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](10), ConflictCount: conflictCount}},
		}
		return r.memory.recordFor(obj, time.Now())
	}

	r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind)}
	rec := newRecord(r, ptr.To[int32](5))
	gets := 0
	calls := &graphFns{GetOverviewFn: func(context.Context, string) (graph.Response, error) {
		gets++
		return graph.Response{}, nil
	}}
	res := r.runSync(context.Background(), calls, rec, v1API, "id", alwaysWanted)
	if f := classify(res.err); gets != 0 || f.reason != intunev1alpha1.ReasonInvalidSpec || res.generation != 3 {
		t.Errorf("%d GETs, failure %s %q for generation %d: want no call and InvalidSpec for generation 3", gets, f.reason, f.message, res.generation)
	}

	r = &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind)}
	rec = newRecord(r, nil)
	calls = &graphFns{GetOverviewFn: func(context.Context, string) (graph.Response, error) {
		newRecord(r, ptr.To[int32](5)) // applied while the GET was on its way; no PATCH may follow
		return graph.Response{Overview: graph.Overview{SuccessCount: 3}}, nil
	}}
	res = r.runSync(context.Background(), calls, rec, v1API, "id", alwaysWanted)
	if f := classify(res.err); f.reason != intunev1alpha1.ReasonInvalidSpec || res.applied || res.observed == nil {
		t.Errorf("failure %s %q, applied %t, observed %v: want InvalidSpec, no PATCH, and what the GET read", f.reason, f.message, res.applied, res.observed)
	}
}

// TestDiffOfBetaProperties: through beta, a declared beta-only property is diffed and PATCHed like
// any count; one Graph's answer lacks (beta changed) is InvalidSpec, not drift from 0.
func TestDiffOfBetaProperties(t *testing.T) {
	want := intunev1alpha1.OverviewFields{ConflictCount: ptr.To[int32](5), NotApplicablePlatformCount: ptr.To[int32](0), SuccessCount: ptr.To[int32](12)}
	got := graph.Overview{SuccessCount: 12, ConflictCount: ptr.To[int32](2), NotApplicablePlatformCount: ptr.To[int32](4)}
	patch, drift, err := diffOverview(graph.DeviceOverview, &want, &got)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(graph.Fields{ConflictCount: ptr.To[int32](5), NotApplicablePlatformCount: ptr.To[int32](0)}, patch); d != "" {
		t.Errorf("PATCH (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]intunev1alpha1.FieldDrift{
		{Field: "notApplicablePlatformCount", Desired: "0", Observed: "4"},
		{Field: "conflictCount", Desired: "5", Observed: "2"},
	}, drift); d != "" {
		t.Errorf("drift (-want +got):\n%s", d)
	}

	// The user overview has no notApplicablePlatformCount (the API server refuses it there): a
	// spec that held one anyway is not diffed on it.
	if patch, _, err := diffOverview(graph.UserOverview, &want, &got); err != nil || patch.NotApplicablePlatformCount != nil {
		t.Errorf("the user overview's PATCH %+v, %v", patch, err)
	}

	_, _, err = diffOverview(graph.UserOverview, &want, &graph.Overview{SuccessCount: 12})
	if f := classify(err); f.reason != intunev1alpha1.ReasonInvalidSpec || !strings.Contains(f.message, "spec.overview.conflictCount") ||
		!strings.Contains(f.message, "did not return") {
		t.Errorf("a beta-only property Graph did not return: %s %q, want InvalidSpec naming it", f.reason, f.message)
	}
}
