package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/schedule"
)

// syncDue says whether the pass must call Graph: for a new generation, a sync requested through the
// annotation, after a failed or paused pass, and when the resource's sync slot has come. Any other
// event (a restart, a connection that changed while the resource was fine) waits for the slot.
func (r *OverviewReconciler) syncDue(p *overviewPass, rec *record) bool {
	obj := p.base
	if obj.OverviewStatus().ObservedGeneration != obj.GetGeneration() {
		return true
	}
	if at := obj.GetAnnotations()[intunev1alpha1.AnnotationReconcileRequestedAt]; at != "" && at != obj.OverviewStatus().LastHandledReconcileAt {
		return true
	}
	if !meta.IsStatusConditionTrue(obj.OverviewStatus().Conditions, intunev1alpha1.ConditionSynced) {
		return true
	}
	return r.memory.lastSyncOf(rec).Before(schedule.Last(obj.GetUID(), r.interval(obj), p.now))
}

// nextSync requeues the resource at its next sync slot, behind any change that is waiting.
func (r *OverviewReconciler) nextSync(p *overviewPass) reconcile.Result {
	next := schedule.Next(p.base.GetUID(), r.interval(p.base), p.now)
	return reconcile.Result{RequeueAfter: next.Sub(p.now), Priority: ptr.To(handler.LowPriority)}
}

// likelyToWrite says whether the resource's job will most likely PATCH: a new generation of a
// managed spec. Such a job takes its place in the tenant's line of writes before it even reads, so
// that a backlog costs no read until its turn.
func (r *OverviewReconciler) likelyToWrite(obj intunev1alpha1.Overview) bool {
	return policyOf(obj) == intunev1alpha1.ManagementPolicyManage &&
		obj.OverviewStatus().ObservedGeneration != obj.GetGeneration() &&
		obj.OverviewSpec().Overview != (intunev1alpha1.OverviewFields{}) &&
		!awaitsApproval(obj)
}

// submit resolves the resource's connection and puts its job in the tenant's line: the line of
// writes when it will most likely PATCH. The pass ends there; the job's end brings the resource
// back. A spec that declares a beta-only property through a v1.0 connection fails here, at once,
// with no job.
func (r *OverviewReconciler) submit(ctx context.Context, p *overviewPass, rec *record, write bool) (reconcile.Result, error) {
	conn, err := r.connections.resolve(ctx, p.base)
	if err != nil {
		return r.failed(ctx, p, rec, err)
	}
	api := apiOf(conn)
	if err := api.check(r.kind.entity, &p.base.OverviewSpec().Overview); err != nil {
		return r.failed(ctx, p, rec, err)
	}
	r.prepareApproval(p, rec, conn)
	via, err := r.connections.keyOf(ctx, conn)
	var gc graph.Client
	if err == nil {
		gc, err = r.connections.build(ctx, conn, via)
	}
	if err != nil {
		return r.failed(ctx, p, rec, err)
	}
	key := client.ObjectKeyFromObject(p.base)
	kind := graph.ReadJob
	if write {
		kind = graph.WriteJob
	}
	// The connection's log starts before steadyOf asks it: after a restart, it holds what the
	// process before this one PATCHed and never reported.
	logged := loggedCalls{logs: r.patchLogs, conn: r.patchLogs.start(conn), uid: string(p.base.GetUID()), now: r.clock.Now}
	steady := r.steadyOf(p)
	r.memory.queue(rec, gc.Line(), via, steady)
	job := r.syncJob(key, rec, via, api, p.base.OverviewSpec().DeviceConfigurationID, logged)
	gc.Line().Submit(r.memory.lineKey(key), kind, job)
	if steady != nil {
		// A routine resync: a quiet result ends without a pass, so this one asks for the next slot.
		return r.nextSync(p), nil
	}
	return reconcile.Result{}, nil
}

// steadyOf returns what a routine resync of the pass's resource could change in its status, when
// that status is steady: this generation synced, Ready because Graph holds the spec, no drift, no
// request waiting in the annotation, no PATCH of its own that Graph has yet to show kept or that
// the connection's log holds. Otherwise, nil: the job's result is reported by a pass.
func (r *OverviewReconciler) steadyOf(p *overviewPass) *steadyStatus {
	obj, st := p.base, p.base.OverviewStatus()
	ready := meta.FindStatusCondition(st.Conditions, intunev1alpha1.ConditionReady)
	switch {
	case p.result != nil, st.Observed == nil, st.LastSyncTime == nil, len(st.Drift) > 0,
		st.ObservedGeneration != obj.GetGeneration(),
		obj.GetAnnotations()[intunev1alpha1.AnnotationReconcileRequestedAt] != st.LastHandledReconcileAt,
		!meta.IsStatusConditionTrue(st.Conditions, intunev1alpha1.ConditionSynced),
		ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != intunev1alpha1.ReasonUpToDate ||
			ready.ObservedGeneration != obj.GetGeneration():
		return nil
	}
	if _, logged := r.patchLogs.pending(refKey(obj), string(obj.GetUID())); logged {
		return nil
	}
	return &steadyStatus{generation: obj.GetGeneration(), observed: *st.Observed, heartbeat: st.LastSyncTime.Add(heartbeat)}
}

// whileQueued ends a pass that finds the resource's job under way: the job's end brings the
// resource back. A job that waits in the line of a client the resource no longer resolves to (its
// connection changed, or no longer admits it) gives its place back at once instead of waiting out
// that tenant's line for nothing, and the resource as it is takes a line (or says why it cannot).
// A job already running finds out itself (stillWanted).
func (r *OverviewReconciler) whileQueued(ctx context.Context, p *overviewPass, rec *record) (reconcile.Result, error) {
	via, err := r.connections.clientKeyFor(ctx, p.base)
	switch {
	case err == nil && via == r.memory.queuedVia(rec):
		return reconcile.Result{}, nil
	case err != nil && classify(err).class == 0:
		return reconcile.Result{}, nil // the API server failed us: the job asks again before it calls
	}
	if !r.memory.withdraw(client.ObjectKeyFromObject(p.base), rec) {
		return reconcile.Result{}, nil
	}
	return r.submit(ctx, p, rec, r.likelyToWrite(p.base))
}

// report records what the resource's job found, as facts of the pass, and ends the pass as they
// say: a PATCH still to send, a failure, a newer spec to sync, or the next sync slot.
func (r *OverviewReconciler) report(ctx context.Context, p *overviewPass, rec *record, res *syncResult) (reconcile.Result, error) {
	if res.needsWrite {
		return r.submit(ctx, p, rec, true) // nothing new to say until the PATCH has gone
	}
	if res.superseded != "" || res.generation != p.base.GetGeneration() {
		return r.reportOutdated(ctx, p, rec, res)
	}
	p.result = res
	r.reportApproval(p, rec, res)
	r.settle(p, res)
	if res.observed != nil && len(res.found) > 0 && !p.retold {
		driftDetected.WithLabelValues(r.kind.entity.Kind, string(policyOf(p.base))).Inc()
	}
	mark := r.memory.markOf(rec)
	if mark != nil && res.observed != nil && len(res.found) == 0 {
		r.memory.setMark(rec, nil) // Graph showed it kept
	}
	if res.applied {
		r.applied(ctx, p, rec, res)
	}
	if p.recovered && !p.retold {
		fields := loggedFields(r.kind.entity, &p.settles.Fields)
		r.recorder.Eventf(p.base, nil, corev1.EventTypeNormal, "Patched", "Patch",
			"Set %s in Graph before the operator restarted: Graph holds it", fields)
		logf.FromContext(ctx).Info("Graph holds a PATCH sent before the operator restarted", "fields", fields)
	}
	j := judge(res, policyOf(p.base), mark)
	p.reverted = j.reverted
	switch {
	case j.failure != nil:
		return r.failed(ctx, p, rec, j.failure)
	case j.again:
		// Graph kept what the PATCH sent, and a field it did not send changed meanwhile.
		logf.FromContext(ctx).Info("Graph changed a managed field while it was PATCHed; syncing again", "fields", driftBoth(res.drift))
		return r.submit(ctx, p, rec, true)
	}
	r.memory.synced(rec, p.now)
	p.synced = true
	if !r.lookUpDrift(ctx, p, res) && len(res.drift) > 0 && len(p.base.OverviewStatus().Drift) == 0 && !p.retold {
		r.recorder.Eventf(p.base, nil, corev1.EventTypeNormal, intunev1alpha1.ReasonDriftDetected, "Observe",
			"Graph differs from the spec in %s", driftBoth(res.drift))
	}
	logf.FromContext(ctx).V(1).Info("Observed the overview", "requestID", res.requestID, "drift", len(res.drift))
	return r.nextSync(p), nil
}

// judgement is what a job's result of the resource's current generation says.
type judgement struct {
	// failure is why the sync failed: Graph's error, or a PATCH Graph did not keep.
	failure error
	// again is true when the PATCH went and Graph changed another managed field meanwhile: the
	// resource syncs again at once, as a write.
	again bool
	// reverted lists the managed fields that are back at the value the resource's last accepted
	// PATCH replaced.
	reverted string
}

// judge judges a job's result of the resource's current generation, under policy, with mark the
// last PATCH Graph accepted for the resource and has not shown kept (nil: none). It is a pure
// function of what the job observed: synced is a judgement with neither failure nor again.
func judge(res *syncResult, policy intunev1alpha1.ManagementPolicy, mark *patchMark) judgement {
	var j judgement
	if mark != nil && res.observed != nil && mark.generation == res.generation {
		j.reverted = mark.reverted(res.found)
	}
	manage := policy == intunev1alpha1.ManagementPolicyManage
	switch {
	case res.err != nil:
		j.failure = res.err
	case manage && len(res.lost) > 0:
		j.failure = &notPersisted{fields: driftFields(res.lost)}
	case manage && res.applied && len(res.drift) > 0:
		j.again = true
	case manage && len(res.drift) > 0:
		j.failure = &notPersisted{fields: driftFields(res.drift)}
	case j.reverted != "":
		j.failure = &notPersisted{fields: j.reverted}
	}
	return j
}

// reportOutdated reports the result of a job that does not belong to the resource as it is now:
// one of an older generation (the spec changed while the job waited or ran), or one the job found
// superseded (another connection, a pause). It says nothing of this generation: no condition, no
// observedGeneration, no failure and no backoff. Only what stays true is recorded (a PATCH Graph
// accepted: lastAppliedTime, the event), and the resource as it is takes a job of its own, whose
// pass resolves its connection anew.
func (r *OverviewReconciler) reportOutdated(ctx context.Context, p *overviewPass, rec *record, res *syncResult) (reconcile.Result, error) {
	p.result, p.outdated = res, true
	if res.applied {
		r.applied(ctx, p, rec, res)
	}
	why := res.superseded
	if why == "" {
		why = fmt.Sprintf("generation %d replaced generation %d", p.base.GetGeneration(), res.generation)
	}
	logf.FromContext(ctx).V(1).Info("The job's result is outdated; syncing the resource as it is", "why", why, "err", res.err)
	return r.submit(ctx, p, rec, r.likelyToWrite(p.base))
}

// settle finds the entry of the connection's log that the result settles: the job's own PATCH,
// which status will show; or, when the job sent none and read Graph, an earlier one, which Graph
// holds (a process before this one sent it and died before it reported it: status shows it
// now) or does not (it did not reach Graph, or did not stay). A PATCH that failed settles nothing:
// Graph may have taken it all the same, which the next read tells.
func (r *OverviewReconciler) settle(p *overviewPass, res *syncResult) {
	if !res.applied && res.err != nil {
		return
	}
	e, ok := r.patchLogs.pending(refKey(p.base), string(p.base.GetUID()))
	if !ok || e.SentAt.After(res.at) {
		return // none, or one a newer job wrote
	}
	p.settles = &e
	if res.applied || res.observed == nil {
		return
	}
	if at := p.base.OverviewStatus().LastAppliedTime; at != nil && !at.Before(&metav1.Time{Time: e.SentAt.Truncate(time.Second)}) {
		return // status shows it already
	}
	if _, drift, err := diffOverview(r.kind.entity, &e.Fields, res.observed); err == nil && len(drift) == 0 {
		p.recovered = true
	}
}

// loggedFields lists a logged PATCH's values as "successCount=12, failedCount=0", in the order of
// entity e's table.
func loggedFields(e graph.Entity, f *intunev1alpha1.OverviewFields) string {
	var parts []string
	for _, field := range e.Declared() {
		switch v := declaredFields.Declared(f, field.Name).(type) {
		case *int32:
			parts = append(parts, fmt.Sprintf("%s=%d", field.Name, *v))
		case *string:
			parts = append(parts, field.Name+"="+*v)
		}
	}
	return strings.Join(parts, ", ")
}

// applied records a PATCH Graph accepted: what it replaced, to tell whether Graph kept it, and,
// the first time the result is reported, the event and the metric.
func (r *OverviewReconciler) applied(ctx context.Context, p *overviewPass, rec *record, res *syncResult) {
	replaced := make(map[string]string, len(res.found))
	for _, d := range res.found {
		replaced[d.Field] = d.Observed
	}
	r.memory.setMark(rec, &patchMark{generation: res.generation, replaced: replaced})
	if p.retold {
		return
	}
	patchesApplied.WithLabelValues(r.kind.entity.Kind).Inc()
	fields := driftFields(res.found)
	r.recorder.Eventf(p.base, nil, corev1.EventTypeNormal, "Patched", "Patch", "Set %s in Graph", fields)
	logf.FromContext(ctx).Info("Patched the overview", "fields", fields, "requestID", res.requestID)
}

// failed records a failed pass and ends it as its class says: backoff, a wait, or nothing until a
// person changes something. The backoff of a Graph failure counts in the resource's record: the
// queue's own is reset by the pass that submits the next job.
func (r *OverviewReconciler) failed(ctx context.Context, p *overviewPass, rec *record, err error) (reconcile.Result, error) {
	f := classify(err)
	if f.class == 0 {
		return reconcile.Result{}, err // the Kubernetes API failed us: retried with backoff, status untouched
	}
	p.failure = &f
	was := meta.FindStatusCondition(p.base.OverviewStatus().Conditions, intunev1alpha1.ConditionSynced)
	if was != nil && was.ObservedGeneration != p.base.GetGeneration() {
		// What failed before failed for an older spec: this generation's backoff starts afresh.
		was = nil
	}
	if (was == nil || was.Reason != f.reason) && !p.retold {
		r.recorder.Eventf(p.base, nil, corev1.EventTypeWarning, f.reason, "Sync", "%s", f.message)
	}
	log := logf.FromContext(ctx)
	switch {
	case f.reason == intunev1alpha1.ReasonApprovalRequired || f.reason == intunev1alpha1.ReasonApprovalPending:
		return r.approvalWait(ctx, p, f, was), nil
	case f.reason == intunev1alpha1.ReasonInvalidCredentials:
		wait := credentialsBackoff(r.credsRetry, r.credentialsFailingFor(ctx, p, was))
		log.Info("Entra ID refused the credentials; trying again later", "message", f.message, "retryAfter", wait)
		return reconcile.Result{RequeueAfter: wait}, nil
	case f.reason == intunev1alpha1.ReasonForbidden:
		// Permissions are granted and consented in Entra ID, where no watch sees it: look again on
		// the credentials' slow backoff (the Graph client gets a fresh token on a 403 for this).
		wait := credentialsBackoff(r.credsRetry, failingFor(was, f.reason, p.now))
		log.Info("Graph refused the app the call; trying again later", "message", f.message, "retryAfter", wait)
		return reconcile.Result{RequeueAfter: wait}, nil
	case f.class == graph.ClassNeedsPerson && f.retryAfter > 0:
		// What needs fixing is out of the watches' sight (a Secret outside the watched namespaces).
		log.Info("Graph sync needs a person; looking again later", "reason", f.reason, "message", f.message, "retryAfter", f.retryAfter)
		return reconcile.Result{RequeueAfter: f.retryAfter}, nil
	case f.class == graph.ClassNeedsPerson:
		log.Info("Graph sync needs a person", "reason", f.reason, "message", f.message)
		return reconcile.Result{}, reconcile.TerminalError(err)
	case f.class == graph.ClassThrottled:
		wait := f.retryAfter + time.Duration(rand.Int64N(int64(f.retryAfter/10)+1))
		log.V(1).Info("Throttled", "retryAfter", wait)
		return reconcile.Result{RequeueAfter: wait}, nil
	case f.class == graph.ClassNotFound:
		return reconcile.Result{RequeueAfter: notFoundRetry}, nil
	default:
		wait := jittered(r.retryBase, r.retryMax, r.memory.failed(rec))
		log.Info("Graph sync failed, retrying", "reason", f.reason, "message", f.message, "retryAfter", wait)
		return reconcile.Result{RequeueAfter: wait}, nil
	}
}

// credentialsFailingFor is how long the resource's credentials have been refused, as far as it can
// tell: since its Synced condition said so, or since its connection's Ready condition last changed,
// whichever came later. A connection whose check passed (or failed anew) since tried the
// credentials afresh: a resource refused after that starts its backoff again from the first wait,
// rather than from how long it had been refused before.
func (r *OverviewReconciler) credentialsFailingFor(ctx context.Context, p *overviewPass, was *metav1.Condition) time.Duration {
	failing := failingFor(was, intunev1alpha1.ReasonInvalidCredentials, p.now)
	conn, err := r.connections.resolve(ctx, p.base)
	if err != nil {
		return failing
	}
	if ready := meta.FindStatusCondition(conn.ConnectionStatus().Conditions, intunev1alpha1.ConditionReady); ready != nil {
		failing = min(failing, max(p.now.Sub(ready.LastTransitionTime.Time), 0))
	}
	return failing
}

// failingFor is how long a condition has said reason, as of now (0 if it says another).
func failingFor(c *metav1.Condition, reason string, now time.Time) time.Duration {
	if c == nil || c.Reason != reason {
		return 0
	}
	return now.Sub(c.LastTransitionTime.Time)
}

// forget is what the reconciler does when a resource is gone.
func (r *OverviewReconciler) forget(key types.NamespacedName) {
	if uid := r.memory.forget(key); uid != "" {
		r.patchLogs.forget(string(uid))
	}
	resourceMetrics.forget(resourceKey{r.kind.entity.Kind, key})
	r.audit.forget(auditKey{kind: r.kind.entity.Kind, NamespacedName: key})
}

// policyOf is the resource's management policy, Manage when unset.
func policyOf(o intunev1alpha1.Overview) intunev1alpha1.ManagementPolicy {
	if o.OverviewSpec().ManagementPolicy == "" {
		return intunev1alpha1.ManagementPolicyManage
	}
	return o.OverviewSpec().ManagementPolicy
}

// driftBoth lists drift with both sides, as "successCount: spec 12, Graph 3; failedCount: spec 0,
// Graph 1", so that an event cannot be read as if Graph held the desired value.
func driftBoth(drift []intunev1alpha1.FieldDrift) string {
	parts := make([]string, len(drift))
	for i, d := range drift {
		parts[i] = fmt.Sprintf("%s: spec %s, Graph %s", d.Field, d.Desired, d.Observed)
	}
	return strings.Join(parts, "; ")
}

// driftFields lists drift as "successCount=12, failedCount=0" (the desired values).
func driftFields(drift []intunev1alpha1.FieldDrift) string {
	parts := make([]string, len(drift))
	for i, d := range drift {
		parts[i] = fmt.Sprintf("%s=%s", d.Field, d.Desired)
	}
	return strings.Join(parts, ", ")
}
