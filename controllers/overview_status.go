package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// fieldOwner is the operator's field manager. It writes status only, never spec, so that GitOps
// tools see no diff after a reconcile.
const fieldOwner = "overview-operator"

// heartbeat is how often lastSyncTime is refreshed when nothing else in status changes.
const heartbeat = time.Hour

// deriveStatus turns the facts of the pass into the resource's status, once, on p.obj (a copy of
// what the pass read).
func (p *overviewPass) deriveStatus() {
	p.nameAuthors()
	if p.paused {
		p.markPaused()
		return
	}
	st := p.obj.OverviewStatus()
	if res := p.result; res != nil && p.outdated {
		// What it found is not this generation's (or this connection's); a PATCH Graph accepted
		// stays a fact.
		if res.applied {
			st.LastAppliedTime = ptr.To(metav1.NewTime(res.at))
		}
	} else if res != nil && res.observed != nil {
		st.LastRequestID = res.requestID
		st.Observed = observedFrom(p.entity, res.observed)
		st.Drift, st.DriftCount = keepAuthors(res.drift, st.Drift), int32(len(res.drift))
		if res.applied || p.recovered {
			st.LastAppliedTime = ptr.To(metav1.NewTime(res.at))
		}
	}
	p.deriveApproval()
	if p.failure != nil {
		p.markFailed(*p.failure)
	}
	if p.synced {
		p.markSynced()
	}
}

// markSynced records a pass that read Graph (and, under Manage, made it match).
func (p *overviewPass) markSynced() {
	st, c := p.obj.OverviewStatus(), p.conditions()
	st.ObservedGeneration = p.obj.GetGeneration()
	st.LastHandledReconcileAt = p.obj.GetAnnotations()[intunev1alpha1.AnnotationReconcileRequestedAt]
	if len(st.Drift) > 0 { // ObserveOnly: Graph was observed and the difference is reported
		c.set(intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonDriftDetected,
			fmt.Sprintf("ObserveOnly: Graph differs from the spec in %d managed fields (see status.drift)", len(st.Drift)))
	} else {
		c.set(intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate, "Graph holds every managed value")
	}
	c.set(intunev1alpha1.ConditionSynced, metav1.ConditionTrue, intunev1alpha1.ReasonSucceeded, "Graph was read successfully")
	c.stalled(nil)
}

// markPaused records a pass that made no Graph call because of the paused annotation. Ready is
// not claimed for a generation that was never synced.
func (p *overviewPass) markPaused() {
	c := p.conditions()
	msg := "The " + intunev1alpha1.AnnotationPaused + " annotation is \"true\": no Graph calls are made until it is removed"
	c.set(intunev1alpha1.ConditionSynced, metav1.ConditionFalse, intunev1alpha1.ReasonPaused, msg)
	if p.obj.OverviewStatus().ObservedGeneration != p.obj.GetGeneration() {
		c.set(intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonPaused, "The spec changed while paused, and was not synced: "+msg)
	}
}

// markFailed records a failed pass. A passing fault (throttling, an unavailable Graph) leaves a Ready
// condition that holds for this generation alone: Graph did not stop matching because it could not
// be read for a while.
func (p *overviewPass) markFailed(f failure) {
	c := p.conditions()
	c.set(intunev1alpha1.ConditionSynced, metav1.ConditionFalse, f.reason, f.message)
	c.stalled(&f)
	ready := c.find(intunev1alpha1.ConditionReady)
	passing := f.reason == intunev1alpha1.ReasonThrottled || f.reason == intunev1alpha1.ReasonGraphUnavailable
	if passing && ready != nil && ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == p.obj.GetGeneration() {
		return
	}
	c.set(intunev1alpha1.ConditionReady, metav1.ConditionFalse, f.reason, f.message)
}

// conditions sets the conditions of the pass's status.
func (p *overviewPass) conditions() conditions {
	st := p.obj.OverviewStatus()
	return conditions{list: &st.Conditions, observedGeneration: &st.ObservedGeneration, generation: p.obj.GetGeneration(), now: p.now}
}

// patchStatus writes the pass's status in one merge patch, and nothing when only the request-id or
// the sync time would change: a steady resource costs no writes but a heartbeat once an hour.
func (r *OverviewReconciler) patchStatus(ctx context.Context, p *overviewPass) error {
	p.deriveStatus()
	st := p.obj.OverviewStatus()
	resourceMetrics.observe(resourceKey{r.kind.entity.Kind, client.ObjectKeyFromObject(p.obj)}, st.Conditions, r.kind.entity.Kind)

	if !p.statusWriteDue() {
		return nil
	}
	if p.synced {
		st.LastSyncTime = &metav1.Time{Time: p.now}
	}
	// Deleted during the pass: nothing left to report on.
	return client.IgnoreNotFound(r.Status().Patch(ctx, p.obj, client.MergeFrom(p.base), client.FieldOwner(fieldOwner)))
}

// statusWriteDue says whether the status the pass derived must be written: when anything but the
// request-id and the sync time changed, or, after a pass that read Graph, when lastSyncTime is a
// heartbeat old (or unset).
func (p *overviewPass) statusWriteDue() bool {
	was, now := p.base.OverviewStatus(), p.obj.OverviewStatus()
	syncTime, requestID := now.LastSyncTime, now.LastRequestID
	now.LastSyncTime, now.LastRequestID = was.LastSyncTime, was.LastRequestID
	same := statusEqual(was, now)
	now.LastSyncTime, now.LastRequestID = syncTime, requestID
	if !same {
		return true
	}
	return p.synced && (was.LastSyncTime == nil || p.now.Sub(was.LastSyncTime.Time) >= heartbeat)
}
