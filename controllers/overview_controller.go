package controllers

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// OverviewReconciler keeps a deviceConfigurationUserOverview in Graph in the state its
// DeviceConfigurationUserOverview declares. One pass: paused? → resolve the connection → GET →
// diff → PATCH (Manage) or report drift (ObserveOnly) → status → requeue at the next sync slot.
type OverviewReconciler struct {
	client.Client
	connections  *connections
	recorder     events.EventRecorder
	clock        clock.PassiveClock
	syncInterval time.Duration
	namespaces   []string // the watched namespaces; empty: all

	// lastSync is when each resource last read Graph successfully, to tell a due sync from an event
	// that needs none. It is kept in memory only: after a restart each resource waits for its slot.
	lastSync sync.Map // types.NamespacedName → syncMark
	// patched remembers each resource's last PATCH until Graph shows it kept (see patchMark).
	patched sync.Map // types.NamespacedName → patchMark
	// turns holds the PATCHes waiting for their turn in their tenant's line of writes (see turn).
	turns sync.Map // types.NamespacedName → turn
}

// syncMark is a resource's last successful sync.
type syncMark struct {
	uid types.UID
	at  time.Time
}

// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=deviceconfigurationuseroverviews,verbs=get;list;watch
// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=deviceconfigurationuseroverviews/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=graphconnections;clustergraphconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile runs one pass for one resource.
func (r *OverviewReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	obj := &intunev1alpha1.DeviceConfigurationUserOverview{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted: management stops and Graph is left as it is.
			r.lastSync.Delete(req.NamespacedName)
			r.patched.Delete(req.NamespacedName)
			r.turns.Delete(req.NamespacedName)
			resourceMetrics.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	log := logf.FromContext(ctx, "deviceConfigurationId", obj.Spec.DeviceConfigurationID)
	ctx = logf.IntoContext(ctx, log)

	pass := &overviewPass{obj: obj, base: obj.DeepCopy(), now: r.clock.Now()}
	defer func() {
		if patchErr := r.patchStatus(ctx, pass); patchErr != nil {
			result, err = ctrl.Result{}, patchErr
		}
	}()

	if obj.Annotations[intunev1alpha1.AnnotationPaused] == "true" {
		pass.markPaused()
		return ctrl.Result{}, nil
	}
	if !r.syncDue(pass) {
		return r.nextSync(pass), nil
	}

	gc, err := r.connections.forResource(ctx, obj)
	if err != nil {
		return r.failed(ctx, pass, err)
	}
	ctx, wait, err := r.observeAtTurn(ctx, pass, gc)
	switch {
	case err != nil:
		return r.failed(ctx, pass, err)
	case wait > 0:
		return ctrl.Result{RequeueAfter: wait}, nil // back at its turn in the tenant's line of writes
	}
	if err := r.apply(ctx, pass, gc); err != nil {
		return r.failed(ctx, pass, err)
	}
	r.lastSync.Store(req.NamespacedName, syncMark{uid: obj.UID, at: pass.now})
	pass.markSynced()
	return r.nextSync(pass), nil
}

// interval is the resource's sync interval.
func (r *OverviewReconciler) interval(obj *intunev1alpha1.DeviceConfigurationUserOverview) time.Duration {
	if obj.Spec.SyncInterval != nil && obj.Spec.SyncInterval.Duration > 0 {
		return obj.Spec.SyncInterval.Duration
	}
	return r.syncInterval
}
