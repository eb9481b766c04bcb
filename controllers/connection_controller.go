package controllers

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// connectionObject is either connection kind.
type connectionObject interface {
	client.Object
	intunev1alpha1.Connection
}

// credentialsRecheck is how often working credentials are tried again, so that a secret revoked or
// expired in Entra ID shows on the connection without waiting for a resource to fail.
const credentialsRecheck = time.Hour

// ConnectionReconciler checks that a GraphConnection's or ClusterGraphConnection's credentials work
// (a token can be obtained) and says so in its Ready condition. It re-checks when the connection or
// its Secret changes, and hourly.
type ConnectionReconciler struct {
	client.Client
	connections *connections
	recorder    events.EventRecorder
	clock       clock.PassiveClock
	credsRetry  time.Duration // the first wait after refused credentials
	// retryBase and retryMax bound the wait after the token endpoint failed for a passing reason.
	retryBase, retryMax time.Duration
	newObject           func() connectionObject
	// reshard, when sharded, brings every connection back when the tenants this replica owns change.
	reshard chan event.TypedGenericEvent[reconcile.Request]
	// audit says whether Graph lets the connection's app read Intune's audit log (audit.go).
	audit *audits
}

// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=graphconnections;clustergraphconnections,verbs=get;list;watch
// +kubebuilder:rbac:groups=intune.overview-operator.io,resources=graphconnections/status;clustergraphconnections/status,verbs=get;update;patch

// Reconcile checks one connection's credentials.
func (r *ConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, err error) {
	obj := r.newObject()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			key := connectionKey(kindOf(obj), req.Namespace, req.Name)
			r.connections.forget(key)
			connectionMetrics.forget(key)
			r.audit.forgetConnection(key)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.connections.ownsConnection(obj) {
		// Sharded: the replica that owns the connection's tenant checks it and writes its status.
		connectionMetrics.forget(connectionKey(kindOf(obj), obj.GetNamespace(), obj.GetName()))
		return ctrl.Result{}, nil
	}
	base := obj.DeepCopyObject().(connectionObject)
	defer func() {
		if patchErr := r.patchStatus(ctx, base, obj); patchErr != nil {
			result, err = ctrl.Result{}, patchErr
		}
	}()

	gc, err := r.connections.forConnection(ctx, obj)
	if err == nil {
		err = gc.CheckCredentials(ctx)
	}
	now := r.clock.Now()
	st := obj.ConnectionStatus()
	st.LastCheckedTime = &metav1.Time{Time: now}
	c := conditions{list: &st.Conditions, observedGeneration: &st.ObservedGeneration, generation: obj.GetGeneration(), now: now}
	if refused, message := r.audit.auditCondition(c, obj); refused {
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, intunev1alpha1.ReasonForbidden, "ReadAuditLog", "%s", message)
	}
	if err == nil {
		st.ObservedGeneration = obj.GetGeneration()
		c.set(intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid,
			"A token was obtained with the credentials")
		c.stalled(nil)
		return ctrl.Result{RequeueAfter: credentialsRecheck}, nil
	}

	f := classify(err)
	if f.class == 0 {
		return ctrl.Result{}, err
	}
	was := c.find(intunev1alpha1.ConditionReady)
	c.set(intunev1alpha1.ConditionReady, metav1.ConditionFalse, f.reason, f.message)
	if was == nil || was.Reason != f.reason {
		r.recorder.Eventf(obj, nil, corev1.EventTypeWarning, f.reason, "CheckCredentials", "%s", f.message)
	}
	logf.FromContext(ctx).Info("Credentials do not work", "reason", f.reason, "message", f.message)
	// Stalled while it needs a person; checked again all the same, since a fix may come from
	// outside Kubernetes: a secret that Entra ID starts to accept, a permission granted.
	c.stalled(&f)
	switch f.class {
	case graph.ClassNeedsPerson:
		wait := credentialsRecheck
		switch {
		case f.reason == intunev1alpha1.ReasonInvalidCredentials:
			wait = credentialsBackoff(r.credsRetry, failingFor(was, f.reason, now))
		case f.retryAfter > 0: // a Secret no watch covers
			wait = min(wait, f.retryAfter)
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	case graph.ClassThrottled:
		return ctrl.Result{RequeueAfter: f.retryAfter}, nil
	default:
		// Waited out here rather than in the queue, whose backoff is the Kubernetes API's: it
		// grows as long as the token endpoint has failed.
		return ctrl.Result{RequeueAfter: failingBackoff(r.retryBase, r.retryMax, failingFor(was, f.reason, now))}, nil
	}
}

func (r *ConnectionReconciler) patchStatus(ctx context.Context, base, obj connectionObject) error {
	was, st := base.ConnectionStatus(), obj.ConnectionStatus()
	connectionMetrics.observe(connectionKey(kindOf(obj), obj.GetNamespace(), obj.GetName()), st.Conditions, string(kindOf(obj)))
	withoutTime := st.DeepCopy()
	withoutTime.LastCheckedTime = was.LastCheckedTime
	if equality.Semantic.DeepEqual(was, withoutTime) && was.LastCheckedTime != nil &&
		st.LastCheckedTime.Sub(was.LastCheckedTime.Time) < credentialsRecheck/2 {
		return nil // nothing new to say
	}
	return client.IgnoreNotFound(r.Status().Patch(ctx, obj, client.MergeFrom(base), client.FieldOwner(fieldOwner)))
}

// setupWithManager watches the connection kind and, by metadata only, the Secrets it reads.
func (r *ConnectionReconciler) setupWithManager(mgr ctrl.Manager, opts Options) error {
	obj := r.newObject()
	b := ctrl.NewControllerManagedBy(mgr).
		For(obj, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{}))
	if r.reshard != nil {
		b = b.WatchesRawSource(source.TypedChannel(r.reshard, resharded{}))
	}
	if r.audit != nil {
		b = b.WatchesRawSource(source.TypedChannel(r.audit.notify[kindOf(obj)], auditChanged{}))
	}
	return b.WithOptions(controllerOptions(opts)).
		Named(string(kindOf(obj))).
		Complete(r)
}

// forSecret maps a Secret to the connections of this kind that read it.
func (r *ConnectionReconciler) forSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	var reqs []reconcile.Request
	want := kindOf(r.newObject())
	for _, conn := range connectionsReading(ctx, r.Client, obj) {
		if kindOf(conn) == want {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(conn)})
		}
	}
	return reqs
}
