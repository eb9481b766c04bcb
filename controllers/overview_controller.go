package controllers

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// OverviewReconciler keeps the status overviews of one kind (a deviceConfigurationUserOverview
// or a deviceConfigurationDeviceOverview) in Graph in the state their resources declare. A pass never calls Graph itself: it submits the
// resource's job to its tenant's pacer (which reads, diffs and PATCHes when the tenant's budget
// admits it) and reports the job's result in a later pass, which the job's end brings about.
// One resource: paused? → a result to report? → a job under way? → due? → submit → requeue at the
// next sync slot.
type OverviewReconciler struct {
	client.Client
	// kind is the kind of resource it reconciles: one reconciler per kind.
	kind         kind
	connections  *connections
	recorder     events.EventRecorder
	clock        clock.PassiveClock
	syncInterval time.Duration
	namespaces   []string // the watched namespaces; empty: all
	log          logr.Logger
	// retryBase and retryMax bound the backoff after a failed sync; credsRetry is the first wait
	// after refused credentials.
	retryBase, retryMax, credsRetry time.Duration
	// quietPause is the longest pause of a throttled tenant that a job waits out in its place
	// without a word (a window of the budget); a longer one is reported in Synced, with when the
	// tenant's calls resume.
	quietPause time.Duration

	memory *memory
	// patchLogs record each PATCH in its connection's status before it is sent.
	patchLogs *patchLogs
	// audit looks up who changed a drifted field in Intune's audit log (audit.go); nil: nobody.
	audit *audits
	// done brings a resource back to the queue when its job has ended.
	done chan event.TypedGenericEvent[reconcile.Request]
	// reshard, when sharded, brings every resource back when the tenants this replica owns change.
	reshard chan event.TypedGenericEvent[reconcile.Request]
}

// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=deviceconfigurationuseroverviews;deviceconfigurationdeviceoverviews,verbs=get;list;watch
// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=deviceconfigurationuseroverviews/status;deviceconfigurationdeviceoverviews/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=graphconnections;clustergraphconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=graphconnections/status;clustergraphconnections/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile runs one pass for one resource.
func (r *OverviewReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	obj := r.kind.newObject()
	// The cache's object itself, not a copy: it is the pass's base, which nothing writes to (the
	// status is derived into the one copy below, and the patch is computed from the two).
	if err := r.Get(ctx, req.NamespacedName, obj, client.UnsafeDisableDeepCopy); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted: management stops and Graph is left as it is.
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		// Being deleted, held only by another's finalizer (a foreground deletion, a GitOps tool):
		// management stops as if it were gone, and its job, if any, finds itself unwanted.
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if !r.connections.owns(ctx, r.kind.entity.Kind, obj) {
		// Sharded: another replica owns the resource's tenant, and reports it. If this one comes to
		// own it, the ring's change brings the resource back.
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	log := logf.FromContext(ctx, "deviceConfigurationId", obj.OverviewSpec().DeviceConfigurationID)
	ctx = logf.IntoContext(ctx, log)

	pass := &overviewPass{obj: obj.DeepCopyObject().(intunev1alpha1.Overview), base: obj, entity: r.kind.entity, now: r.clock.Now()}
	rec := r.memory.recordFor(obj, pass.now)
	was := r.memory.judgedOf(rec)
	r.takeFinding(pass, req.NamespacedName)
	defer func() {
		if patchErr := r.patchStatus(ctx, pass); patchErr != nil {
			// What the job found is not in status yet: the retry, on the queue's short backoff,
			// reports it again, judged from the same state.
			r.memory.restore(rec, pass.result, was)
			r.keepFinding(pass, req.NamespacedName, false)
			result, err = ctrl.Result{}, patchErr
			return
		}
		r.keepFinding(pass, req.NamespacedName, true)
		if e := pass.settles; e != nil {
			r.patchLogs.reported(refKey(obj), e.UID, e.SentAt)
		}
	}()

	if obj.GetAnnotations()[intunev1alpha1.AnnotationPaused] == "true" {
		pass.paused = true
		r.memory.withdraw(req.NamespacedName, rec)
		return ctrl.Result{}, nil
	}
	res, retold, busy := r.memory.take(rec)
	pass.retold = retold
	switch {
	case res != nil:
		return r.report(ctx, pass, rec, res)
	case busy:
		return r.whileQueued(ctx, pass, rec)
	case !r.syncDue(pass, rec):
		return r.nextSync(pass), nil
	}
	return r.submit(ctx, pass, rec, r.likelyToWrite(obj))
}

// interval is the resource's sync interval.
func (r *OverviewReconciler) interval(obj intunev1alpha1.Overview) time.Duration {
	if obj.OverviewSpec().SyncInterval != nil && obj.OverviewSpec().SyncInterval.Duration > 0 {
		return obj.OverviewSpec().SyncInterval.Duration
	}
	return r.syncInterval
}
