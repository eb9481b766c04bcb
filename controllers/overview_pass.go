package controllers

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// What one pass over a resource knows, and what the reconciler remembers between passes.

// overviewPass is the state of one pass over one resource: the object as read (base), the object
// whose status the pass writes, and what Graph answered.
type overviewPass struct {
	obj      *intunev1alpha1.DeviceConfigurationUserOverview
	base     *intunev1alpha1.DeviceConfigurationUserOverview
	now      time.Time
	patch    graph.Fields // what the managed fields need to match the spec
	reverted string       // managed fields back at their value from before the last PATCH
	synced   bool         // the pass read Graph successfully
}

// patchMark remembers the values a PATCH replaced, to recognise a PATCH that Graph answered with
// success but did not keep: the next observation finds the old values again.
type patchMark struct {
	uid        types.UID
	generation int64
	replaced   map[string]string // field → the value Graph had before the PATCH
}

// reverted lists the drifting fields that are back at the value the PATCH replaced.
func (m patchMark) reverted(drift []intunev1alpha1.FieldDrift) string {
	var back []intunev1alpha1.FieldDrift
	for _, d := range drift {
		if old, ok := m.replaced[d.Field]; ok && old == d.Observed {
			back = append(back, d)
		}
	}
	return driftFields(back)
}

// turn is a PATCH that its tenant's budget put in line: the pass that observed the need for it
// ended, and the next pass sends it at its turn without a second GET.
type turn struct {
	uid        types.UID
	generation int64
	expires    time.Time
	observed   bool // the pass read Graph: what follows is the PATCH it would have sent
	patch      graph.Fields
	reverted   string
	status     intunev1alpha1.DeviceConfigurationUserOverviewStatus // observed, drift, request-id
}

// storeTurn remembers that the resource waits for a turn in its tenant's line of writes, with what
// the pass knows (t), until one interval has passed.
func (r *OverviewReconciler) storeTurn(p *overviewPass, t turn) {
	t.uid, t.generation, t.expires = p.obj.UID, p.obj.Generation, p.now.Add(r.interval(p.obj))
	r.turns.Store(client.ObjectKeyFromObject(p.obj), t)
}

// likelyToWrite says whether the pass will most likely PATCH: a new generation of a managed spec.
func (r *OverviewReconciler) likelyToWrite(p *overviewPass) bool {
	return policyOf(p.obj) == intunev1alpha1.ManagementPolicyManage &&
		p.obj.Status.ObservedGeneration != p.obj.Generation &&
		p.obj.Spec.Overview != (intunev1alpha1.OverviewFields{})
}

// takeTurn returns the resource's PATCH waiting for its turn, if it still applies.
func (r *OverviewReconciler) takeTurn(p *overviewPass) (turn, bool) {
	v, ok := r.turns.LoadAndDelete(client.ObjectKeyFromObject(p.obj))
	if !ok {
		return turn{}, false
	}
	t := v.(turn)
	return t, t.uid == p.obj.UID && t.generation == p.obj.Generation && p.now.Before(t.expires)
}

// resume sets the pass up as the one that put the PATCH in line had it.
func (p *overviewPass) resume(t turn) {
	st := &p.obj.Status
	st.Observed, st.Drift, st.DriftCount, st.LastRequestID = t.status.Observed, t.status.Drift, t.status.DriftCount, t.status.LastRequestID
	p.patch, p.reverted = t.patch, t.reverted
}
