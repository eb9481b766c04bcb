package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// syncDue says whether the pass must call Graph: for a new generation, a sync requested through the
// annotation, after a failed or paused pass, and when the resource's sync slot has come. Any other
// event (a restart, a connection that changed while the resource was fine) waits for the slot.
func (r *OverviewReconciler) syncDue(p *overviewPass) bool {
	obj := p.obj
	if obj.Status.ObservedGeneration != obj.Generation {
		return true
	}
	if at := obj.Annotations[intunev1alpha1.AnnotationReconcileRequestedAt]; at != "" && at != obj.Status.LastHandledReconcileAt {
		return true
	}
	if !meta.IsStatusConditionTrue(obj.Status.Conditions, intunev1alpha1.ConditionSynced) {
		return true
	}
	key := client.ObjectKeyFromObject(obj)
	last, ok := r.lastSync.Load(key)
	if !ok || last.(syncMark).uid != obj.UID {
		// Synced before this process started: wait for the slot rather than sync every resource at
		// start-up.
		r.lastSync.Store(key, syncMark{uid: obj.UID, at: p.now})
		return false
	}
	return last.(syncMark).at.Before(lastSlot(obj.UID, r.interval(obj), p.now))
}

// nextSync requeues the resource at its next sync slot, behind any change that is waiting.
func (r *OverviewReconciler) nextSync(p *overviewPass) reconcile.Result {
	next := nextSlot(p.obj.UID, r.interval(p.obj), p.now)
	return reconcile.Result{RequeueAfter: next.Sub(p.now), Priority: ptr.To(handler.LowPriority)}
}

// observeAtTurn observes Graph, minding the tenant's line of writes. A resource back at its turn
// sends the PATCH an earlier pass observed the need for, without reading Graph again. A new spec
// that will most likely be PATCHed takes a turn before even reading when the tenant's writes are
// queued, so that a backlog neither holds a worker nor delays other tenants: the wait until the turn
// is returned, and the pass ends there.
func (r *OverviewReconciler) observeAtTurn(ctx context.Context, p *overviewPass, gc graph.Client) (context.Context, time.Duration, error) {
	t, atTurn := r.takeTurn(p)
	if atTurn {
		ctx = graph.WithTurn(ctx)
		if t.observed {
			p.resume(t)
			return ctx, 0, nil
		}
	} else if r.likelyToWrite(p) {
		if wait := gc.WriteTurn(); wait > 0 {
			r.storeTurn(p, turn{})
			return ctx, wait, nil
		}
	}
	return ctx, 0, r.observe(ctx, p, gc)
}

// observe reads the overview from Graph, records it in status and works out the drift.
func (r *OverviewReconciler) observe(ctx context.Context, p *overviewPass, gc graph.Client) error {
	resp, err := gc.GetOverview(ctx, p.obj.Spec.DeviceConfigurationID)
	if err != nil {
		return err
	}
	st := &p.obj.Status
	st.LastRequestID = resp.RequestID
	st.Observed = observedFrom(&resp.Overview)
	patch, drift, err := diffOverview(&p.obj.Spec.Overview, &resp.Overview)
	if err != nil {
		return stalledf(intunev1alpha1.ReasonBadRequest, "%v", err)
	}
	p.patch = patch
	st.Drift, st.DriftCount = drift, int32(len(drift))
	key := client.ObjectKeyFromObject(p.obj)
	if v, ok := r.patched.Load(key); ok {
		if m := v.(patchMark); m.uid == p.obj.UID && m.generation == p.obj.Generation {
			p.reverted = m.reverted(drift)
		}
		if len(drift) == 0 {
			r.patched.Delete(key)
		}
	}
	if len(drift) > 0 {
		driftDetected.WithLabelValues(string(policyOf(p.obj))).Inc()
		// Under Manage the PATCH that follows makes the event ("Patched"); an event per drift would
		// double what the API server and the recorder's cache hold during a mass first sync.
		if policyOf(p.obj) == intunev1alpha1.ManagementPolicyObserveOnly && len(p.base.Status.Drift) == 0 {
			r.recorder.Eventf(p.obj, nil, corev1.EventTypeNormal, intunev1alpha1.ReasonDriftDetected, "Observe",
				"Graph differs from the spec in %s", driftFields(drift))
		}
	}
	logf.FromContext(ctx).V(1).Info("Observed the overview", "requestID", resp.RequestID, "drift", len(drift))
	return nil
}

// apply PATCHes the differing managed fields (Manage only) and checks that Graph kept them.
func (r *OverviewReconciler) apply(ctx context.Context, p *overviewPass, gc graph.Client) error {
	if policyOf(p.obj) == intunev1alpha1.ManagementPolicyObserveOnly || p.patch.IsEmpty() {
		return nil
	}
	resp, err := gc.PatchOverview(ctx, p.obj.Spec.DeviceConfigurationID, p.patch)
	if errors.Is(err, graph.ErrBudgetExhausted) {
		r.storeTurn(p, turn{observed: true, patch: p.patch, reverted: p.reverted, status: *p.obj.Status.DeepCopy()})
	}
	if err != nil {
		return err
	}
	st := &p.obj.Status
	st.LastRequestID = resp.RequestID
	st.Observed = observedFrom(&resp.Overview)
	st.LastAppliedTime = ptr.To(metav1.NewTime(p.now))
	patchesApplied.Inc()
	replaced := make(map[string]string, len(st.Drift))
	for _, d := range st.Drift {
		replaced[d.Field] = d.Observed
	}
	r.patched.Store(client.ObjectKeyFromObject(p.obj), patchMark{uid: p.obj.UID, generation: p.obj.Generation, replaced: replaced})
	fields := driftFields(st.Drift)
	r.recorder.Eventf(p.obj, nil, corev1.EventTypeNormal, "Patched", "Patch", "Set %s in Graph", fields)
	logf.FromContext(ctx).Info("Patched the overview", "fields", fields, "requestID", resp.RequestID)

	_, remaining, err := diffOverview(&p.obj.Spec.Overview, &resp.Overview)
	if err != nil {
		return stalledf(intunev1alpha1.ReasonBadRequest, "%v", err)
	}
	st.Drift, st.DriftCount = remaining, int32(len(remaining))
	switch {
	case len(remaining) > 0:
		return &notPersisted{fields: driftFields(remaining)}
	case p.reverted != "":
		return &notPersisted{fields: p.reverted}
	}
	return nil
}

// failed records a failed pass in the conditions and ends it as its class says: backoff, a wait, or
// nothing until a person changes something.
func (r *OverviewReconciler) failed(ctx context.Context, p *overviewPass, err error) (reconcile.Result, error) {
	f := classify(err)
	if f.class == 0 {
		return reconcile.Result{}, err // the Kubernetes API failed us: retried with backoff, status untouched
	}
	if errors.Is(err, graph.ErrBudgetExhausted) {
		// The operator is pacing itself under the tenant's limits: nothing failed, and nothing is
		// worth a status write. The resource comes back at its turn, and the worker is free for
		// other tenants meanwhile.
		p.obj.Status = *p.base.Status.DeepCopy()
		logf.FromContext(ctx).V(1).Info("Waiting for the tenant's Graph budget", "retryAfter", f.retryAfter)
		return reconcile.Result{RequeueAfter: f.retryAfter}, nil
	}
	was := meta.FindStatusCondition(p.base.Status.Conditions, intunev1alpha1.ConditionSynced)
	p.markFailed(f)
	if was == nil || was.Reason != f.reason {
		eventType := corev1.EventTypeWarning
		r.recorder.Eventf(p.obj, nil, eventType, f.reason, "Sync", "%s", f.message)
	}
	log := logf.FromContext(ctx)
	switch f.class {
	case graph.ClassNeedsPerson:
		log.Info("Graph sync needs a person", "reason", f.reason, "message", f.message)
		return reconcile.Result{}, reconcile.TerminalError(err)
	case graph.ClassThrottled:
		wait := f.retryAfter + time.Duration(rand.Int64N(int64(f.retryAfter/10)+1))
		log.V(1).Info("Throttled", "retryAfter", wait)
		return reconcile.Result{RequeueAfter: wait}, nil
	case graph.ClassNotFound:
		return reconcile.Result{RequeueAfter: notFoundRetry}, nil
	default:
		return reconcile.Result{}, err
	}
}

// policyOf is the resource's management policy, Manage when unset.
func policyOf(o *intunev1alpha1.DeviceConfigurationUserOverview) intunev1alpha1.ManagementPolicy {
	if o.Spec.ManagementPolicy == "" {
		return intunev1alpha1.ManagementPolicyManage
	}
	return o.Spec.ManagementPolicy
}

// driftFields lists drift as "successCount=12, failedCount=0" (the desired values).
func driftFields(drift []intunev1alpha1.FieldDrift) string {
	parts := make([]string, len(drift))
	for i, d := range drift {
		parts[i] = fmt.Sprintf("%s=%s", d.Field, d.Desired)
	}
	return strings.Join(parts, ", ")
}
