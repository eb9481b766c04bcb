package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// approvalFns are graphFns that also read approval requests.
type approvalFns struct {
	*graphFns
	ApprovalFn func(code string) (graph.ApprovalRequest, bool, error)
	polls      int
	codes      []string // the approval code each PATCH carried
}

func (a *approvalFns) ApprovalRequest(_ context.Context, code string) (graph.ApprovalRequest, bool, error) {
	a.polls++
	if a.ApprovalFn == nil {
		panic("approvalFns: unexpected poll")
	}
	return a.ApprovalFn(code)
}

// pollSays answers a poll with status (found), or not found when status is "".
func pollSays(status graph.ApprovalStatus) func(string) (graph.ApprovalRequest, bool, error) {
	return func(code string) (graph.ApprovalRequest, bool, error) {
		return graph.ApprovalRequest{Code: code, Status: status}, status != "", nil
	}
}

// TestFollowApproval is what a job does with a held PATCH, by the request's status.
func TestFollowApproval(t *testing.T) {
	now := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	want := intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), FailedCount: ptr.To[int32](0)}
	heldFields := intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12)}
	newCode := &graph.Error{StatusCode: http.StatusForbidden, Code: "ApprovalRequired", Err: &graph.ApprovalRefusal{Code: "new-code"}}
	type outcome struct {
		followed bool
		reason   string // of the result's error; "" for none
		polls    int
		codes    []string // the codes the PATCHes carried ("" for none)
		approval string   // "keep", "clear", or the status the job records
		applied  bool
	}
	cases := map[string]struct {
		held       string // the held request's status; "" for no request
		generation int64  // the held request's generation (the spec's is 2)
		age        time.Duration
		poll       func(string) (graph.ApprovalRequest, bool, error)
		graph      graph.Overview
		patchErr   error
		want       outcome
	}{
		"no request": {want: outcome{}},
		"a request for another spec": {held: "needsApproval", generation: 1,
			want: outcome{}},
		"still waiting": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalNeedsApproval),
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalPending, polls: 1, approval: "keep"}},
		"a status the documentation does not list": {held: "needsApproval", generation: 2, poll: pollSays("unknownFutureValue"),
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalPending, polls: 1, approval: "unknownFutureValue"}},
		"not listed yet": {held: "needsApproval", generation: 2, poll: pollSays(""), age: time.Hour,
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalPending, polls: 1, approval: "keep"}},
		"approved: sent again with the code, once": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalApproved),
			graph: graph.Overview{SuccessCount: 3},
			want:  outcome{followed: true, polls: 1, codes: []string{"code"}, approval: "clear", applied: true}},
		"approved, and Graph holds the spec already: nothing sent": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalApproved),
			graph: graph.Overview{SuccessCount: 12},
			want:  outcome{followed: true, polls: 1, approval: "clear"}},
		"approved, and the code refused again with a new request": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalApproved),
			graph: graph.Overview{SuccessCount: 3}, patchErr: newCode,
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalPending, polls: 1, codes: []string{"code"}, approval: "needsApproval"}},
		"approved, and the code spent": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalApproved),
			graph: graph.Overview{SuccessCount: 3}, patchErr: &graph.Error{StatusCode: http.StatusBadRequest},
			want: outcome{followed: true, reason: intunev1alpha1.ReasonBadRequest, polls: 1, codes: []string{"code"}, approval: "clear"}},
		"rejected": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalRejected),
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalRejected, polls: 1, approval: "rejected"}},
		"cancelled": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalCancelled),
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalRejected, polls: 1, approval: "cancelled"}},
		"rejected before: no call at all": {held: "rejected", generation: 2,
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalRejected, approval: "keep"}},
		"expired: a new PATCH, which asks anew": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalExpired),
			graph: graph.Overview{SuccessCount: 3}, patchErr: newCode,
			want: outcome{followed: true, reason: intunev1alpha1.ReasonApprovalPending, polls: 1, codes: []string{""}, approval: "needsApproval"}},
		"completed, and Graph holds the spec": {held: "needsApproval", generation: 2, poll: pollSays(graph.ApprovalCompleted),
			graph: graph.Overview{SuccessCount: 12},
			want:  outcome{followed: true, polls: 1, approval: "clear"}},
		"not listed past its expiry: a new PATCH": {held: "needsApproval", generation: 2, poll: pollSays(""), age: 73 * time.Hour,
			graph: graph.Overview{SuccessCount: 3},
			want:  outcome{followed: true, polls: 1, codes: []string{""}, approval: "clear", applied: true}},
		"the poll fails": {held: "needsApproval", generation: 2,
			poll: func(string) (graph.ApprovalRequest, bool, error) {
				return graph.ApprovalRequest{}, false, &graph.Error{StatusCode: 503}
			},
			want: outcome{followed: true, reason: intunev1alpha1.ReasonGraphUnavailable, polls: 1, approval: "keep"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind), clock: clocktesting.NewFakePassiveClock(now), credsRetry: time.Second}
			obj := &intunev1alpha1.DeviceConfigurationUserOverview{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 2},
				Spec:       intunev1alpha1.OverviewSpec{Overview: want},
			}
			if tc.held != "" {
				obj.Status.ApprovalRequest = &intunev1alpha1.ApprovalRequest{Code: "code", Status: tc.held, Generation: tc.generation,
					RequestedAt: metav1.NewTime(now.Add(-tc.age)), Fields: heldFields}
			}
			rec := r.memory.recordFor(obj, now)
			calls := &approvalFns{ApprovalFn: tc.poll}
			calls.graphFns = &graphFns{
				GetOverviewFn: getInTurn(holds(tc.graph), holds(graph.Overview{SuccessCount: 12})),
				PatchOverviewFn: func(ctx context.Context, _ string, f graph.Fields) (graph.Response, error) {
					calls.codes = append(calls.codes, graph.ApprovalCodeFrom(ctx))
					if tc.want.codes != nil && tc.want.codes[0] == "code" && string(must(json.Marshal(f))) != `{"successCount":12}` {
						t.Errorf("resubmitted %+v, want the held fields only", f)
					}
					return graph.Response{}, tc.patchErr
				},
			}
			res, followed := r.followApproval(context.Background(), calls, rec, graphAPI{version: graph.APIVersionV1}, "id", alwaysWanted)
			if followed != tc.want.followed {
				t.Fatalf("followed %t, want %t", followed, tc.want.followed)
			}
			if !followed {
				return
			}
			reason := ""
			if res.err != nil {
				reason = classify(res.err).reason
			}
			if reason != tc.want.reason {
				t.Errorf("reason %q (%v), want %q", reason, res.err, tc.want.reason)
			}
			if calls.polls != tc.want.polls {
				t.Errorf("%d polls, want %d", calls.polls, tc.want.polls)
			}
			if len(calls.codes) != len(tc.want.codes) || len(calls.codes) > 0 && calls.codes[0] != tc.want.codes[0] {
				t.Errorf("PATCHes with codes %q, want %q", calls.codes, tc.want.codes)
			}
			approval := "keep"
			switch {
			case res.approval == nil:
			case res.approval.request == nil:
				approval = "clear"
			default:
				approval = res.approval.request.Status
			}
			if approval != tc.want.approval {
				t.Errorf("approval %q, want %q", approval, tc.want.approval)
			}
			if res.applied != tc.want.applied {
				t.Errorf("applied %t, want %t", res.applied, tc.want.applied)
			}
		})
	}
}

// TestNoteApproval: a PATCH refused with an approval request is held, with what it carried.
func TestNoteApproval(t *testing.T) {
	now := time.Date(2026, 6, 1, 10, 0, 0, 500, time.UTC)
	r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind), clock: clocktesting.NewFakePassiveClock(now), credsRetry: time.Second}
	obj := &intunev1alpha1.DeviceConfigurationUserOverview{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: 3}}
	rec := r.memory.recordFor(obj, now)
	r.memory.mu.Lock()
	rec.connectionGeneration = 7
	r.memory.mu.Unlock()
	patch := graph.Fields{SuccessCount: ptr.To[int32](12), LastUpdateDateTime: ptr.To(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))}

	plain := &syncResult{generation: 3, err: &graph.Error{StatusCode: http.StatusForbidden, Err: &graph.ApprovalRefusal{}}}
	r.noteApproval(rec, plain, patch)
	if plain.approval != nil || classify(plain.err).reason != intunev1alpha1.ReasonApprovalRequired {
		t.Errorf("a refusal without a request: approval %v, reason %q", plain.approval, classify(plain.err).reason)
	}

	res := &syncResult{generation: 3, err: &graph.Error{StatusCode: http.StatusForbidden, Err: &graph.ApprovalRefusal{Code: "c0de"}}}
	r.noteApproval(rec, res, patch)
	held := res.approval.request
	want := intunev1alpha1.ApprovalRequest{Code: "c0de", RequestedAt: metav1.NewTime(now.Truncate(time.Second)), Generation: 3, ConnectionGeneration: 7,
		Fields: intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), LastUpdateDateTime: ptr.To("2026-11-28T10:00:00Z")}, Status: "needsApproval"}
	if got, _ := json.Marshal(held); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("held %s, want %+v", got, want)
	}
	f := classify(res.err)
	if f.reason != intunev1alpha1.ReasonApprovalPending || f.class == graph.ClassNeedsPerson || f.retryAfter <= 0 {
		t.Errorf("failure %+v: want ApprovalPending, not a failure that stalls, with a wait", f)
	}
	// What is held is what is sent again.
	again, err := fieldsOf(kinds[0].entity, &held.Fields)
	if err != nil || string(must(json.Marshal(again))) != string(must(json.Marshal(patch))) {
		t.Errorf("sent again %s (%v), want %s", must(json.Marshal(again)), err, must(json.Marshal(patch)))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestApprovalConditions: what each approval says, and which stalls.
func TestApprovalConditions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		reason  string
		stalled bool
	}{
		{"no justification", &graph.Error{StatusCode: http.StatusBadRequest, Message: "Header 'x-msft-approval-justification' is required to request approval", Err: &graph.ApprovalRefusal{}},
			intunev1alpha1.ReasonApprovalRequired, true},
		{"a request no job recorded", &graph.Error{StatusCode: http.StatusForbidden, Err: &graph.ApprovalRefusal{Code: "c"}},
			intunev1alpha1.ReasonApprovalPending, false},
		{"rejected", rejected(&intunev1alpha1.ApprovalRequest{Code: "c", Status: "rejected"}, "successCount=12"),
			intunev1alpha1.ReasonApprovalRejected, true},
		{"a plain 403 is still a permission", &graph.Error{StatusCode: http.StatusForbidden, Code: "Forbidden"},
			intunev1alpha1.ReasonForbidden, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := classify(tc.err)
			if f.reason != tc.reason || (f.class == graph.ClassNeedsPerson) != tc.stalled || f.message == "" {
				t.Errorf("failure %+v, want reason %s, stalled %t", f, tc.reason, tc.stalled)
			}
		})
	}
	if !errors.As(rejected(&intunev1alpha1.ApprovalRequest{Status: "cancelled"}, ""), new(*stalled)) {
		t.Error("a cancelled request does not stall")
	}
}

// TestApprovalStatus: status.approvalRequest goes once Graph holds the spec, and a pass drops one
// made for another spec or through the connection before it changed.
func TestApprovalStatus(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		status                 string
		generation, connection int64
		policy                 intunev1alpha1.ManagementPolicy
		dropped                bool
	}{
		{"the same spec and connection", "needsApproval", 2, 1, "", false},
		{"a newer spec", "needsApproval", 3, 1, "", true},
		{"an open request, and a changed connection", "needsApproval", 2, 2, "", false},
		{"a rejected request, and the same connection", "rejected", 2, 1, "", false},
		{"a rejected request, and a changed connection", "rejected", 2, 2, "", true},
		{"a cancelled request, and a changed connection", "cancelled", 2, 2, "", true},
		{"ObserveOnly", "needsApproval", 2, 1, intunev1alpha1.ManagementPolicyObserveOnly, true},
	} {
		held := &intunev1alpha1.ApprovalRequest{Code: "c", Generation: 2, ConnectionGeneration: 1, Status: tc.status}
		t.Run(tc.name, func(t *testing.T) {
			r := &OverviewReconciler{kind: kinds[0], memory: newMemory(kinds[0].entity.Kind)}
			obj := &intunev1alpha1.DeviceConfigurationUserOverview{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "o", UID: "u", Generation: tc.generation},
				Spec:       intunev1alpha1.OverviewSpec{ManagementPolicy: tc.policy},
				Status:     intunev1alpha1.OverviewStatus{ApprovalRequest: held.DeepCopy()},
			}
			rec := r.memory.recordFor(obj, time.Now())
			p := &overviewPass{obj: obj.DeepCopy(), base: obj}
			conn := &intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Generation: tc.connection}}
			r.prepareApproval(p, rec, conn)
			p.deriveApproval()
			kept, _ := r.memory.approvalOf(rec)
			if dropped := p.obj.OverviewStatus().ApprovalRequest == nil; dropped != tc.dropped || (kept == nil) != tc.dropped {
				t.Errorf("status %v, memory %v; want dropped %t", p.obj.OverviewStatus().ApprovalRequest, kept, tc.dropped)
			}
			if awaitsApproval(obj) == (tc.generation != held.Generation) {
				t.Errorf("awaitsApproval %t", awaitsApproval(obj))
			}
		})
	}
	held := &intunev1alpha1.ApprovalRequest{Code: "c", Generation: 2}
	p := &overviewPass{obj: &intunev1alpha1.DeviceConfigurationUserOverview{Status: intunev1alpha1.OverviewStatus{ApprovalRequest: held}}, synced: true}
	p.deriveApproval()
	if p.obj.OverviewStatus().ApprovalRequest != nil {
		t.Error("a synced pass keeps the request")
	}
}
