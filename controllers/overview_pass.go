package controllers

import (
	"time"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// overviewPass is what one pass over one resource found: the object as read (base), a copy whose
// status the deferred patch derives from the facts below (obj), and the facts. Phases record facts
// only; deriveStatus turns them into status once, at the end.
type overviewPass struct {
	obj    intunev1alpha1.Overview
	base   intunev1alpha1.Overview
	entity graph.Entity // the Graph entity of the resource's kind
	now    time.Time

	paused   bool        // the paused annotation stopped the pass
	result   *syncResult // the job's result this pass reports, if any
	outdated bool        // result belongs to an older generation or was superseded: only lasting facts count
	failure  *failure    // why the pass failed, if it did
	reverted string      // managed fields back at their value from before the last PATCH
	synced   bool        // Graph was read and, under Manage, holds the spec of this generation
	// approval is what becomes of status.approvalRequest (approval.go); nil: it stays as it is.
	approval *approvalChange
	// settles is the entry of the connection's log that the reported result settles: status
	// shows its PATCH (or that Graph does not hold it) once the pass has written it.
	settles *intunev1alpha1.PendingPatch
	// recovered is true when Graph holds a logged PATCH that status did not show: a process
	// before this one sent it and died before it reported it.
	recovered bool
	// retold is true when an earlier pass reported the same result and could not write status:
	// its events and metrics were given then, and are not given twice.
	retold bool
	// finding is who changed the drift, as a look-up in Intune's audit log found (audit.go).
	finding *auditFinding
}
