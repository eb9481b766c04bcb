package controllers

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
)

// setupWithManager wires the resource reconciler's watches. A status write does not trigger a pass
// (only a new generation or annotation does), a connection or Secret change reaches the resources
// that use it through field indexes, and Secrets are watched by metadata only: their values are never
// cached.
func (r *OverviewReconciler) setupWithManager(mgr ctrl.Manager, opts Options) error {
	b := ctrl.NewControllerManagedBy(mgr)
	if r.reshard != nil {
		b = b.WatchesRawSource(source.TypedChannel(r.reshard, resharded{}))
	}
	return b.
		For(r.kind.newObject(), builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&intunev1alpha1.GraphConnection{}, handler.EnqueueRequestsFromMapFunc(r.forConnection),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, credentialsStartWorking))).
		Watches(&intunev1alpha1.ClusterGraphConnection{}, handler.EnqueueRequestsFromMapFunc(r.forConnection),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, credentialsStartWorking))).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(source.TypedChannel(r.done, jobEnded{})).
		WithOptions(controllerOptions(opts)).
		Named(r.kind.name()).
		WithLogConstructor(r.logConstructor(mgr.GetLogger())).
		Complete(r)
}

// credentialsStartWorking passes a connection whose Ready condition turns from False to True: its
// check, which failed, passes now. Its resources that wait on refused credentials are tried at
// once, rather than at the end of their own backoff, which grew as long as the credentials failed:
// a cause fixed outside Kubernetes (a secret Entra ID starts to accept) needs no second edit. A
// resource that is fine waits for its sync slot as for any other event. A new connection's first
// check passes nothing: its resources are being synced for the first time, and a pass in the
// middle of that would only read a status the cache does not hold yet.
var credentialsStartWorking = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return connectionReady(e.ObjectOld) == metav1.ConditionFalse && connectionReady(e.ObjectNew) == metav1.ConditionTrue
	},
}

// connectionReady is the status of a connection's Ready condition ("" when it has none).
func connectionReady(obj client.Object) metav1.ConditionStatus {
	conn, ok := obj.(intunev1alpha1.Connection)
	if !ok {
		return ""
	}
	if c := meta.FindStatusCondition(conn.ConnectionStatus().Conditions, intunev1alpha1.ConditionReady); c != nil {
		return c.Status
	}
	return ""
}

// jobsDoneBuffer is how many ended jobs may wait for the queue before a job's goroutine waits too.
const jobsDoneBuffer = 1024

// reportPriority is the queue priority of the pass that reports a job's result: below a change
// (0), above a routine resync (handler.LowPriority). When both wait, a changed or new resource is
// submitted first, so that its job takes its place in the tenant's line (and a window's writes go
// out) before the workers write the status of the jobs already done: a status write waits on the
// API server, a submission does not. The result waits in the resource's record meanwhile.
const reportPriority = handler.LowPriority / 2

// jobEnded enqueues the resource whose job has ended, at reportPriority: its result is waiting to
// be reported.
type jobEnded struct {
	handler.TypedFuncs[reconcile.Request, reconcile.Request]
}

// Generic implements handler.TypedEventHandler.
func (jobEnded) Generic(_ context.Context, e event.TypedGenericEvent[reconcile.Request], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(reportPriority)}, e.Object)
		return
	}
	q.Add(e.Object)
}

// controllerOptions are the queue settings both kinds of reconciler share: the priority queue, so
// that a change is served before routine resyncs, and jittered exponential backoff for the errors
// a pass returns, which are the Kubernetes API's alone (a failed status write above all), capped
// at kubeRetryMax: the API server's return is taken up within seconds, however long it was away.
func controllerOptions(opts Options) controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		UsePriorityQueue:        ptr.To(true),
		RateLimiter:             newJitteredBackoff(opts.RetryBaseDelay, min(opts.RetryMaxDelay, kubeRetryMax)),
	}
}

// forConnection maps a connection to the resources that refer to it.
func (r *OverviewReconciler) forConnection(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.usersOf(ctx, connectionKey(kindOf(obj.(intunev1alpha1.Connection)), obj.GetNamespace(), obj.GetName()))
}

// forSecret maps a Secret to the resources whose connections read it.
func (r *OverviewReconciler) forSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	for _, conn := range connectionsReading(ctx, r.Client, obj) {
		reqs = append(reqs, r.usersOf(ctx, connectionKey(kindOf(conn), conn.GetNamespace(), conn.GetName()))...)
	}
	return reqs
}

// forNamespace maps a namespace whose labels changed to its resources: a ClusterGraphConnection's
// selector may now admit or refuse them.
func (r *OverviewReconciler) forNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	if len(r.namespaces) > 0 && !slices.Contains(r.namespaces, obj.GetName()) {
		return nil // not watched: it holds no resource of ours
	}
	list := r.kind.newList()
	if err := r.List(ctx, list, client.InNamespace(obj.GetName())); err != nil {
		logf.FromContext(ctx).Error(err, "Unable to list the resources of a namespace", "namespace", obj.GetName())
		return nil
	}
	return r.requestsFor(list)
}

func (r *OverviewReconciler) usersOf(ctx context.Context, key string) []reconcile.Request {
	list := r.kind.newList()
	if err := r.List(ctx, list, client.MatchingFields{indexConnection: key}); err != nil {
		logf.FromContext(ctx).Error(err, "Unable to list the resources of a connection", "connection", key)
		return nil
	}
	return r.requestsFor(list)
}

// requestsFor returns a request for each resource of list, a list of the reconciler's kind.
func (r *OverviewReconciler) requestsFor(list client.ObjectList) []reconcile.Request {
	items := r.kind.items(list)
	reqs := make([]reconcile.Request, len(items))
	for i, o := range items {
		reqs[i] = reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)}
	}
	return reqs
}

// connectionsReading lists the connections of both kinds that read a Secret.
func connectionsReading(ctx context.Context, c client.Client, secret client.Object) []connectionObject {
	key := client.MatchingFields{indexSecret: secret.GetNamespace() + "/" + secret.GetName()}
	var conns []connectionObject
	namespaced := &intunev1alpha1.GraphConnectionList{}
	if err := c.List(ctx, namespaced, key); err != nil {
		logf.FromContext(ctx).Error(err, "Unable to list the connections of a Secret")
	}
	for i := range namespaced.Items {
		conns = append(conns, &namespaced.Items[i])
	}
	cluster := &intunev1alpha1.ClusterGraphConnectionList{}
	if err := c.List(ctx, cluster, key); err != nil {
		logf.FromContext(ctx).Error(err, "Unable to list the cluster connections of a Secret")
	}
	for i := range cluster.Items {
		conns = append(conns, &cluster.Items[i])
	}
	return conns
}
