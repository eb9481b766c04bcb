package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// Intune's Multi Admin Approval (MAA), as the operator meets it (internal/graph/approval.go says
// what Graph does). An access policy may protect a resource's device configuration:
//
//   - A PATCH refused without an approval request (the connection has no approvalJustification)
//     says ApprovalRequired: Stalled (kstatus Failed), and tried again on a slow, growing backoff,
//     never as a passing fault, so that an app excluded from the policy meanwhile is seen by itself.
//   - A PATCH refused with an approval request (x-msft-approval-code) is recorded in
//     status.approvalRequest (its code, when, the spec's generation and the fields the PATCH
//     carried), and the resource says ApprovalPending: Ready=False, not Stalled, since the operator
//     follows the request. Its job then reads the request's status, a read at low priority within
//     the tenant's budget (a ReadJob in the tenant's line, which only the replica that owns the
//     tenant sends), on a backoff that grows with the request's age.
//   - Approved: the job sends the same PATCH again, with the code instead of the justification,
//     only while the spec is still of the generation the request was made for, and reads it back
//     as every PATCH. A newer spec drops the request: the next PATCH asks anew.
//   - Rejected or cancelled: ApprovalRejected, Stalled, without another call, until the spec or the
//     connection changes. Expired or completed (the approved PATCH went, from a process that died
//     before it said so), or no longer listed once it would have expired: the request is over, and
//     the job syncs as usual (a new request, if the policy still holds the PATCH).

// approvalExpiry is how long an approval request waits for a decision in Intune: three days, as
// people report (the documentation does not say). A request Graph does not list is followed for
// that long, then asked for anew.
const approvalExpiry = 72 * time.Hour

// approvalPollMax is the longest wait between two reads of a pending request's status.
const approvalPollMax = 10 * time.Minute

// approvalChange is what a job or a pass makes of status.approvalRequest: request, or none (nil).
type approvalChange struct {
	request *intunev1alpha1.ApprovalRequest
}

// approvalPending is a PATCH that Multi Admin Approval holds for an approver.
type approvalPending struct {
	request *intunev1alpha1.ApprovalRequest
	fields  string // what the PATCH sets, as "successCount=12, failedCount=0"
	// unlisted is true when Graph does not list the request (yet).
	unlisted bool
	// wait is how long until its status is read again.
	wait time.Duration
}

func (e *approvalPending) Error() string {
	status := e.request.Status
	if e.unlisted {
		status = "not listed by Graph yet"
	}
	return fmt.Sprintf("Graph holds the PATCH of %s for Intune Multi Admin Approval: approve request %s in the Intune admin center "+
		"(Tenant administration > Multi Admin Approval > Received requests); the operator sends the PATCH again once it is approved "+
		"(requested at %s, status %s)",
		e.fields, e.request.Code, e.request.RequestedAt.UTC().Format(time.RFC3339), status)
}

// failure is what a pending approval means: Ready=False, not Stalled, and its status read again
// after wait.
func (e *approvalPending) failure() failure {
	return failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonApprovalPending, message: e.Error(), retryAfter: e.wait}
}

// approvalFailure is the failure of a Multi Admin Approval refusal that no job turned into a
// pending request; ok is false for any other failure.
func approvalFailure(c graph.Classification) (failure, bool) {
	switch c.Kind {
	case graph.KindApprovalRequired:
		return failure{class: graph.ClassNeedsPerson, reason: intunev1alpha1.ReasonApprovalRequired, message: c.Description +
			"; an Intune administrator can exclude the app from the access policy (Tenant administration > Multi Admin Approval > Access policies, Exclusions), " +
			"or set the connection's spec.approvalJustification so that each change asks an approver; tried again on a slow backoff"}, true
	case graph.KindApprovalPending:
		return failure{class: graph.ClassRetryable, reason: intunev1alpha1.ReasonApprovalPending,
			message: c.Description + "; approve it in the Intune admin center (Tenant administration > Multi Admin Approval > Received requests)"}, true
	}
	return failure{}, false
}

// rejected is the stalled error of a request an approver rejected, or that was cancelled.
func rejected(held *intunev1alpha1.ApprovalRequest, fields string) error {
	how := "an approver rejected"
	if held.Status == string(graph.ApprovalCancelled) {
		how = "Intune cancelled"
	}
	return stalledf(intunev1alpha1.ReasonApprovalRejected,
		"%s approval request %s, for the PATCH of %s: nothing is asked again until the spec or the connection changes "+
			"(to ask again, change the spec, or the connection's approvalJustification to explain the change; or exclude the app from the access policy and change either)",
		how, held.Code, fields)
}

// awaitsApproval reports whether the resource's status holds an approval request of its
// generation: its job reads the request's status first, a read, rather than PATCH at once.
func awaitsApproval(obj intunev1alpha1.Overview) bool {
	a := obj.OverviewStatus().ApprovalRequest
	return a != nil && a.Generation == obj.GetGeneration()
}

// approvalOf returns a copy of the record's held PATCH (nil: none) and the connection's generation.
func (m *memory) approvalOf(rec *record) (*intunev1alpha1.ApprovalRequest, int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rec.approval.DeepCopy(), rec.connectionGeneration
}

// setApproval replaces the record's held PATCH (nil: none).
func (m *memory) setApproval(rec *record, a *intunev1alpha1.ApprovalRequest) {
	m.mu.Lock()
	rec.approval = a.DeepCopy()
	m.mu.Unlock()
}

// prepareApproval notes the generation of the connection the pass submits the job through, and
// drops a held PATCH that is not the resource's any more: made for another spec, or under a policy
// that no longer writes; and a rejected one once the connection changed (a new justification, say).
// A request still open outlives a change of the connection: an approver may be deciding it. The
// pass's status says so.
func (r *OverviewReconciler) prepareApproval(p *overviewPass, rec *record, conn connectionObject) {
	r.memory.mu.Lock()
	rec.connectionGeneration = conn.GetGeneration()
	r.memory.mu.Unlock()
	held, _ := r.memory.approvalOf(rec)
	if held == nil {
		return
	}
	decided := held.Status == string(graph.ApprovalRejected) || held.Status == string(graph.ApprovalCancelled)
	if held.Generation != p.base.GetGeneration() || decided && held.ConnectionGeneration != conn.GetGeneration() ||
		policyOf(p.base) != intunev1alpha1.ManagementPolicyManage {
		r.memory.setApproval(rec, nil)
		p.approval = &approvalChange{}
	}
}

// reportApproval records what a job's result makes of the held PATCH: what the job said, or none
// once a read shows that Graph holds the spec.
func (r *OverviewReconciler) reportApproval(p *overviewPass, rec *record, res *syncResult) {
	change := res.approval
	if held, _ := r.memory.approvalOf(rec); change == nil && held != nil && res.err == nil && res.observed != nil && len(res.drift) == 0 {
		change = &approvalChange{}
	}
	if change != nil {
		p.approval = change
		r.memory.setApproval(rec, change.request)
	}
}

// deriveApproval writes status.approvalRequest: none once Graph holds the spec, else what the pass
// made of it.
func (p *overviewPass) deriveApproval() {
	st := p.obj.OverviewStatus()
	switch {
	case p.synced:
		st.ApprovalRequest = nil
	case p.approval != nil:
		st.ApprovalRequest = p.approval.request.DeepCopy()
	}
}

// approvalWait ends a pass that Multi Admin Approval holds up. ApprovalRequired tries again on a
// slow backoff that grows with how long it has lasted (from twice the credentials' first wait to
// an hour): an app excluded from the access policy in the Intune admin center, where no watch sees
// it, is found out by itself. ApprovalPending reads the request's status again at low priority.
func (r *OverviewReconciler) approvalWait(ctx context.Context, p *overviewPass, f failure, was *metav1.Condition) reconcile.Result {
	log := logf.FromContext(ctx)
	if f.reason == intunev1alpha1.ReasonApprovalPending {
		wait := f.retryAfter
		if wait <= 0 {
			wait = failingBackoff(r.credsRetry, approvalPollMax, 0)
		}
		log.Info("Graph holds the PATCH for Multi Admin Approval; reading the request's status again later", "message", f.message, "retryAfter", wait)
		return reconcile.Result{RequeueAfter: wait, Priority: ptr.To(handler.LowPriority)}
	}
	wait := failingBackoff(2*r.credsRetry, credentialsRecheck, failingFor(was, f.reason, p.now))
	log.Info("Multi Admin Approval refused the PATCH; trying again later", "message", f.message, "retryAfter", wait)
	return reconcile.Result{RequeueAfter: wait}
}

// pollWait is the wait before the status of a request made at requested is read again: at least
// the credentials' first wait, about as long again as the request has waited, at most
// approvalPollMax.
func (r *OverviewReconciler) pollWait(requested time.Time) time.Duration {
	return failingBackoff(r.credsRetry, approvalPollMax, r.clock.Since(requested))
}

// noteApproval turns a PATCH that Graph refused and holds in an approval request into the
// request held: res says ApprovalPending and records it.
func (r *OverviewReconciler) noteApproval(rec *record, res *syncResult, patch graph.Fields) {
	code, ok := graph.ApprovalCode(res.err)
	if !ok {
		return
	}
	_, connGeneration := r.memory.approvalOf(rec)
	held := &intunev1alpha1.ApprovalRequest{
		Code:                 code,
		RequestedAt:          metav1.NewTime(r.clock.Now().Truncate(time.Second)),
		Generation:           res.generation,
		ConnectionGeneration: connGeneration,
		Fields:               overviewFieldsOf(r.kind.entity, patch),
		Status:               string(graph.ApprovalNeedsApproval),
	}
	res.approval = &approvalChange{request: held}
	res.err = &approvalPending{request: held, fields: loggedFields(r.kind.entity, &held.Fields), wait: r.pollWait(held.RequestedAt.Time)}
}

// followApproval is the job of a resource whose PATCH Multi Admin Approval holds for its spec's
// generation: it reads the request's status and does what it says. followed is false when there
// is none: the job syncs as usual.
func (r *OverviewReconciler) followApproval(ctx context.Context, calls graph.Calls, rec *record, api graphAPI, configurationID string, wanted wantedFunc) (res *syncResult, followed bool) {
	held, _ := r.memory.approvalOf(rec)
	_, generation, _ := r.memory.desiredOf(rec)
	if held == nil || held.Generation != generation {
		return nil, false // none, or one for another spec, which the next pass drops
	}
	fields := loggedFields(r.kind.entity, &held.Fields)
	res = &syncResult{generation: generation}
	if s := graph.ApprovalStatus(held.Status); s == graph.ApprovalRejected || s == graph.ApprovalCancelled {
		res.err = rejected(held, fields) // decided: nothing to ask Graph
		return res, true
	}
	got, found, err := graph.ReadApproval(ctx, calls, held.Code)
	if err != nil {
		res.err = err
		return res, true
	}
	now := r.clock.Now()
	over := !found && now.Sub(held.RequestedAt.Time) > approvalExpiry
	updated := held.DeepCopy()
	if found && got.Status != "" {
		updated.Status = string(got.Status)
	}
	switch s := graph.ApprovalStatus(updated.Status); {
	case over || s == graph.ApprovalExpired || s == graph.ApprovalCompleted:
		// The request is over: a read tells whether Graph holds the spec, and a PATCH that the
		// policy holds again asks anew.
		logf.FromContext(ctx).Info("The approval request is over; syncing anew", "code", held.Code, "status", s, "listed", found)
		res = r.syncGraph(ctx, calls, rec, api, configurationID, wanted)
		if res.approval == nil {
			res.approval = &approvalChange{}
		}
		return res, true
	case s == graph.ApprovalApproved:
		return r.resubmit(ctx, calls, rec, held, configurationID, wanted), true
	case s == graph.ApprovalRejected || s == graph.ApprovalCancelled:
		res.approval = &approvalChange{request: updated}
		res.err = rejected(updated, fields)
		return res, true
	default: // needsApproval, unknown, or a status the documentation does not list: still waiting
		if updated.Status != held.Status {
			res.approval = &approvalChange{request: updated}
		}
		res.err = &approvalPending{request: updated, fields: fields, unlisted: !found, wait: r.pollWait(held.RequestedAt.Time)}
		return res, true
	}
}

// resubmit sends the approved PATCH again, with the request's code, and reads it back. It reads
// Graph first: when Graph holds the spec already, nothing is sent.
func (r *OverviewReconciler) resubmit(ctx context.Context, calls graph.Calls, rec *record, held *intunev1alpha1.ApprovalRequest, configurationID string, wanted wantedFunc) *syncResult {
	desired, generation, _ := r.memory.desiredOf(rec)
	res := &syncResult{generation: generation}
	got, err := calls.Get(ctx, r.kind.entity, configurationID)
	if err != nil {
		res.err = err
		return res
	}
	res.observed, res.requestID = &got.Overview, got.RequestID
	_, found, err := diffOverview(r.kind.entity, &desired, &got.Overview)
	if err == nil {
		res.drift = found
	}
	patch, perr := fieldsOf(r.kind.entity, &held.Fields)
	switch {
	case err != nil:
		res.err = err
		return res
	case len(found) == 0:
		res.approval = &approvalChange{} // Graph holds the spec: nothing left to send
		return res
	case perr != nil:
		res.err, res.approval = perr, &approvalChange{}
		return res
	}
	// Only what the PATCH carries can be lost; another field that differs is synced again after it.
	for _, d := range found {
		if declaredFields.Declared(&held.Fields, d.Field) != nil {
			res.found = append(res.found, d)
		}
	}
	patched, ok := r.sendPatch(graph.WithApprovalCode(ctx, held.Code), calls, configurationID, patch, generation, wanted, res)
	if !ok {
		if res.err == nil {
			return res
		}
		if graph.Classify(res.err).Class == graph.ClassNeedsPerson {
			// The code did not let the PATCH through: it is spent, and a new request is needed.
			res.approval = &approvalChange{}
		}
		r.noteApproval(rec, res, patch)
		return res
	}
	logf.FromContext(ctx).Info("Sent the approved PATCH again", "code", held.Code)
	res.applied, res.requestID = true, patched.RequestID
	res.approval = &approvalChange{}
	if patched.Entity {
		res.observed = &patched.Overview
	}
	r.readBack(ctx, calls, configurationID, &desired, res)
	return res
}

// fieldsOf is the PATCH of entity e that sets the fields f declares: the body a held PATCH is sent
// again with.
func fieldsOf(e graph.Entity, f *intunev1alpha1.OverviewFields) (graph.Fields, error) {
	var patch graph.Fields
	for _, field := range e.Declared() {
		switch v := declaredFields.Declared(f, field.Name).(type) {
		case *int32:
			if field.Kind == graph.Count {
				graph.FieldsFields.SetCount(&patch, field.Name, *v)
			}
		case *string:
			if field.Kind != graph.DateTime {
				continue
			}
			t, err := parseDateTime(field.Name, *v)
			if err != nil {
				return graph.Fields{}, err
			}
			graph.FieldsFields.Set(&patch, field.Name, &t)
		}
	}
	return patch, nil
}

// ApprovalRequest implements graph.ApprovalReader: a read is not logged.
func (c loggedCalls) ApprovalRequest(ctx context.Context, code string) (graph.ApprovalRequest, bool, error) {
	return graph.ReadApproval(ctx, c.Calls, code)
}
