package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// A job waits in its tenant's line, behind a backlog of writes or a 429 pause, for as long as
// Graph makes it: the cluster may have changed its mind meanwhile. So a job asks, just before it
// calls Graph (when it starts, before its PATCH, when a 429 sends it back in line, and before its
// result is delivered), whether the cluster still wants the call: one predicate, here, reading the
// informer caches and the reconciler's memory as they are at that moment.

// wantedFunc says why a job's call is no longer wanted for the spec of generation (anyGeneration:
// for the resource's newest spec, whichever it is), or "" when it still is.
type wantedFunc func(ctx context.Context, generation int64) string

// anyGeneration asks whether a job is still wanted at all, whatever the resource's generation: a
// job about to read (it starts, or goes back in line after a 429) compares Graph with the newest
// spec the reconciler has seen when its read comes back, so a newer spec needs no new job, and the
// job keeps its place in line. Kubernetes starts generations at 1.
const anyGeneration int64 = 0

// stillWanted says why the job that key's record rec submitted through the client of via should
// not call Graph for generation any more, or "" when it should: the resource still exists with the
// same UID, is not being deleted, is not paused, generation is its newest (unless anyGeneration),
// and its connection still admits its namespace and resolves to the same client (the same
// connection, at the same generation, with the same Secret). It only reads.
func (r *OverviewReconciler) stillWanted(ctx context.Context, key types.NamespacedName, rec *record, via clientKey, generation int64) string {
	if !r.memory.current(key, rec) {
		return "the resource was deleted"
	}
	obj := r.kind.newObject()
	// Read only, and asked several times per job: the cache's object itself, not a copy of it.
	if err := r.Get(ctx, key, obj, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			return "the resource was deleted"
		}
		return fmt.Sprintf("the resource could not be read: %v", err)
	}
	switch {
	case obj.GetUID() != rec.uid:
		return "the resource was deleted and created again"
	case obj.GetDeletionTimestamp() != nil:
		return "the resource is being deleted"
	case obj.GetAnnotations()[intunev1alpha1.AnnotationPaused] == "true":
		return "the resource was paused"
	case generation != anyGeneration && obj.GetGeneration() != generation:
		return fmt.Sprintf("generation %d replaced generation %d", obj.GetGeneration(), generation)
	}
	now, err := r.connections.clientKeyFor(ctx, obj)
	switch {
	case err != nil:
		return fmt.Sprintf("the connection cannot be used any more: %v", err)
	case now != via:
		return "the connection or its Secret changed"
	case !r.connections.owns(ctx, r.kind.entity.Kind, obj):
		return "another replica owns the resource's tenant now"
	}
	return ""
}
