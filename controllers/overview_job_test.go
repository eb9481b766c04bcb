package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

func TestReadBackJudgesOnlyWhatThePatchSent(t *testing.T) {
	want := intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](10), FailedCount: ptr.To[int32](0)}
	cases := map[string]struct {
		before, after graph.Overview
		lost, drift   []string
	}{
		"kept": {
			before: graph.Overview{SuccessCount: 3}, after: graph.Overview{SuccessCount: 10},
		},
		"the sent field not kept": {
			before: graph.Overview{SuccessCount: 3}, after: graph.Overview{SuccessCount: 3},
			lost: []string{"successCount"}, drift: []string{"successCount"},
		},
		"a field the PATCH did not send changed meanwhile": {
			before: graph.Overview{SuccessCount: 3}, after: graph.Overview{SuccessCount: 10, FailedCount: 2},
			drift: []string{"failedCount"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind)}
			obj := &intunev1alpha1.DeviceConfigurationUserOverview{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 2},
				Spec:       intunev1alpha1.OverviewSpec{Overview: want},
			}
			rec := r.memory.recordFor(obj, time.Now())
			var patches []graph.Fields
			calls := &graphFns{
				GetOverviewFn: getInTurn(holds(tc.before), holds(tc.after)),
				PatchOverviewFn: func(_ context.Context, _ string, f graph.Fields) (graph.Response, error) {
					patches = append(patches, f)
					return graph.Response{}, nil
				},
			}
			res := r.runSync(context.Background(), calls, rec, v1API, "id", alwaysWanted)
			if res.err != nil || !res.applied {
				t.Fatalf("err %v, applied %t", res.err, res.applied)
			}
			if d := cmp.Diff([]graph.Fields{{SuccessCount: ptr.To[int32](10)}}, patches); d != "" {
				t.Errorf("PATCHes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.lost, fieldNames(res.lost)); d != "" {
				t.Errorf("lost (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.drift, fieldNames(res.drift)); d != "" {
				t.Errorf("drift (-want +got):\n%s", d)
			}
		})
	}
}

func TestAPanicInAJobIsItsError(t *testing.T) {
	r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind)}
	obj := &intunev1alpha1.DeviceConfigurationUserOverview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 4}}
	rec := r.memory.recordFor(obj, time.Now())
	buggy := &graphFns{GetOverviewFn: func(context.Context, string) (graph.Response, error) { panic("a bug") }}
	res := r.runSafely(context.Background(), buggy, rec, v1API, "id", alwaysWanted)
	if res == nil || res.err == nil || res.generation != 4 {
		t.Fatalf("result %+v: want the panic as its error, for generation 4", res)
	}
}

func fieldNames(ds []intunev1alpha1.FieldDrift) []string {
	var names []string
	for _, d := range ds {
		names = append(names, d.Field)
	}
	return names
}

// A throttled call waits in its place without a word while the tenant's pause is no longer than a
// window; a longer pause (a Retry-After of minutes, or of a year, which the client holds to its
// longest pause) ends the job with the error, so that Synced says until when the tenant waits. The
// pacer decides, with the job's QuietPause; the job runs here through a real pacer on a clock that
// stands still.
func TestALongPauseIsReported(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	throttledFor := func(d time.Duration) error {
		return &graph.Error{StatusCode: 429, RetryAfter: d, PausedUntil: now.Add(d)}
	}
	cases := map[string]struct {
		err         error
		wantAgain   bool
		wantMessage string
	}{
		"a pause of a second":     {err: throttledFor(time.Second), wantAgain: true},
		"a pause of a window":     {err: throttledFor(20 * time.Second), wantAgain: true},
		"a 429 without a pause":   {err: &graph.Error{StatusCode: 429}, wantAgain: true},
		"a pause of five minutes": {err: throttledFor(5 * time.Minute), wantMessage: "wait until 2026-12-07T03:05:00Z"},
	}
	for name, tc := range cases {
		for _, call := range []string{"GET", "PATCH"} {
			t.Run(name+" on the "+call, func(t *testing.T) {
				r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind), clock: clocktesting.NewFakePassiveClock(now), quietPause: 20 * time.Second}
				obj := &intunev1alpha1.DeviceConfigurationUserOverview{
					ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 2},
					Spec:       intunev1alpha1.OverviewSpec{Overview: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](10)}},
				}
				rec := r.memory.recordFor(obj, now)
				calls := &graphFns{Now: now, GetOverviewFn: getInTurn(fails(tc.err))}
				if call == "PATCH" {
					calls = &graphFns{
						Now:           now,
						GetOverviewFn: getInTurn(holds(graph.Overview{SuccessCount: 3})),
						PatchOverviewFn: func(context.Context, string, graph.Fields) (graph.Response, error) {
							return graph.Response{}, tc.err
						},
					}
				}
				var res *syncResult
				delivered := false
				calls.Submit("ns/o", graph.ReadJob, graph.Job{
					Run: func(ctx context.Context, c graph.Calls) error {
						res = r.runSync(ctx, c, rec, v1API, "id", alwaysWanted)
						return res.err
					},
					Done:       func(error) { delivered = true },
					QuietPause: r.quietPause,
				})
				if again := calls.again() == 1 && !delivered; again != tc.wantAgain {
					t.Fatalf("back in line without a word: %t, want %t", again, tc.wantAgain)
				}
				if tc.wantAgain {
					return
				}
				f := classify(res.err)
				if f.reason != intunev1alpha1.ReasonThrottled || !strings.Contains(f.message, tc.wantMessage) || f.retryAfter != 5*time.Minute {
					t.Errorf("failure %s %q (retry after %s), want Throttled saying %q, retrying after 5m", f.reason, f.message, f.retryAfter, tc.wantMessage)
				}
			})
		}
	}
}

// alwaysWanted is a cluster that wants every call of a job.
func alwaysWanted(context.Context, int64) string { return "" }

// The cluster is asked again at the moment the PATCH is sent, not only before the client waits
// for a token or the write window: a change that lands in between sends nothing.
func TestTheWriteIsAskedForAsItIsSent(t *testing.T) {
	r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind)}
	obj := &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 2},
		Spec:       intunev1alpha1.OverviewSpec{Overview: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](10)}},
	}
	rec := r.memory.recordFor(obj, time.Now())
	asked := 0
	// Wanted at the job's start and just before it PATCHes; deleted by the time the write goes.
	wanted := func(context.Context, int64) string {
		asked++
		if asked > 2 {
			return "the resource was deleted"
		}
		return ""
	}
	patches := 0
	calls := &graphFns{
		GetOverviewFn: getInTurn(holds(graph.Overview{SuccessCount: 3})),
		PatchOverviewFn: func(context.Context, string, graph.Fields) (graph.Response, error) {
			patches++
			return graph.Response{}, nil
		},
	}
	res := r.runSync(context.Background(), calls, rec, v1API, "id", wanted)
	if patches != 0 || res.applied || res.superseded != "the resource was deleted" {
		t.Errorf("%d PATCHes, applied %t, superseded %q: want no PATCH and the result superseded", patches, res.applied, res.superseded)
	}
}
