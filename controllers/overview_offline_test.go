package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/scheme"
)

// The offline reconciler's settings.
const (
	offlineInterval   = 10 * time.Minute
	offlineRetryBase  = time.Second
	offlineRetryMax   = 5 * time.Minute
	offlineCredsRetry = 30 * time.Second
	// offlineConfigurationID is the resource's device configuration.
	offlineConfigurationID = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
)

var (
	// offlineStart is when the offline clock starts.
	offlineStart = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// offlineScheme is the fake client's scheme, made once: it costs more than a pass.
	offlineScheme = scheme.New()
)

// offline runs the overview reconciler's passes with no API server and no Graph, for tests of what
// the passes decide: a fake client holds the resource, its connection and the connection's Secret,
// graph answers for Graph, clock tells the time and recorder hears the events. Times are whole
// seconds, since status keeps no finer ones.
type offline struct {
	t        *testing.T
	r        *OverviewReconciler
	key      types.NamespacedName
	graph    *graphFns
	clock    *clocktesting.FakePassiveClock
	recorder *events.FakeRecorder
	kube     client.Client
	// passes counts the passes run.
	passes int
	// writes are the statuses the passes wrote, in turn.
	writes []intunev1alpha1.OverviewStatus
}

// offlineSetup says what the offline world holds besides the resource.
type offlineSetup struct {
	noConnection bool            // the resource's GraphConnection does not exist
	noSecret     bool            // the connection's Secret does not exist
	watched      []string        // the namespaces the cache holds (default: all)
	objects      []client.Object // more objects the fake API server holds
	// funcs intercept the fake client's calls, e.g. to fail them.
	funcs interceptor.Funcs
}

// offlineOverview is a resource of generation 2 under Manage, as the API server would hold it
// before its first sync; edit adjusts it.
func offlineOverview(edit ...func(*intunev1alpha1.DeviceConfigurationUserOverview)) *intunev1alpha1.DeviceConfigurationUserOverview {
	o := &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: "it", Name: "wifi", UID: "0b9c1d2e-3f4a-4b6c-8d8e-000000000002", Generation: 2},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: offlineConfigurationID,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: "contoso"},
			Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), FailedCount: ptr.To[int32](0)},
		},
	}
	for _, e := range edit {
		e(o)
	}
	return o
}

// newOffline makes an offline world holding obj, whose connection's client is gc.
func newOffline(t *testing.T, obj *intunev1alpha1.DeviceConfigurationUserOverview, gc *graphFns, setup offlineSetup) *offline {
	t.Helper()
	w := &offline{
		t:        t,
		key:      client.ObjectKeyFromObject(obj),
		graph:    gc,
		clock:    clocktesting.NewFakePassiveClock(offlineStart),
		recorder: events.NewFakeRecorder(100),
	}
	// The resources gauge is the process's: the envtest suite, in the same binary, reads it.
	t.Cleanup(func() { resourceMetrics.forget(resourceKey{kinds[0].entity.Kind, w.key}) })
	objects := append([]client.Object{obj}, setup.objects...)
	if !setup.noConnection {
		objects = append(objects, offlineConnection(obj.Namespace))
	}
	if !setup.noSecret {
		objects = append(objects, offlineSecret(obj.Namespace))
	}
	funcs := setup.funcs
	patch := funcs.SubResourcePatch
	funcs.SubResourcePatch = func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		if patch != nil {
			if err := patch(ctx, c, sub, o, p, opts...); err != nil {
				return err
			}
		} else if err := c.SubResource(sub).Patch(ctx, o, p, opts...); err != nil {
			return err
		}
		if d, ok := o.(*intunev1alpha1.DeviceConfigurationUserOverview); ok && sub == "status" {
			w.writes = append(w.writes, *d.Status.DeepCopy())
		}
		return nil
	}
	w.kube = fake.NewClientBuilder().
		WithScheme(offlineScheme).
		WithObjects(objects...).
		WithStatusSubresource(&intunev1alpha1.DeviceConfigurationUserOverview{}, &intunev1alpha1.GraphConnection{}, &intunev1alpha1.ClusterGraphConnection{}).
		WithInterceptorFuncs(funcs).
		Build()
	w.r = &OverviewReconciler{
		Client:       w.kube,
		kind:         kinds[0],
		connections:  offlineConnections(t, w.kube, gc, setup.watched),
		recorder:     w.recorder,
		clock:        w.clock,
		syncInterval: offlineInterval,
		log:          logr.Discard(),
		retryBase:    offlineRetryBase,
		retryMax:     offlineRetryMax,
		credsRetry:   offlineCredsRetry,
		memory:       newMemory(kinds[0].entity.Kind),
		patchLogs:    newPatchLogs(w.kube, w.clock),
		done:         make(chan event.TypedGenericEvent[reconcile.Request], 10),
	}
	return w
}

// pass runs one pass.
func (w *offline) pass() (reconcile.Result, error) {
	w.t.Helper()
	w.passes++
	return w.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: w.key})
}

// sync runs passes until one ends with no job left to report (as the end of a job brings the
// resource back), and returns how that one ended.
func (w *offline) sync() (reconcile.Result, error) {
	w.t.Helper()
	for range 10 {
		res, err := w.pass()
		select {
		case <-w.r.done:
		default:
			return res, err
		}
	}
	w.t.Fatal("the passes kept submitting jobs")
	return reconcile.Result{}, nil
}

// advance moves the clock by d.
func (w *offline) advance(d time.Duration) { w.clock.SetTime(w.clock.Now().Add(d)) }

// object reads the resource as the fake API server holds it.
func (w *offline) object() *intunev1alpha1.DeviceConfigurationUserOverview {
	w.t.Helper()
	o := &intunev1alpha1.DeviceConfigurationUserOverview{}
	if err := w.kube.Get(context.Background(), w.key, o); err != nil {
		w.t.Fatal(err)
	}
	return o
}

// events returns the events recorded since the last call, as "type reason".
func (w *offline) events() []string {
	var got []string
	for {
		select {
		case e := <-w.recorder.Events:
			got = append(got, eventTypeAndReason(e))
		default:
			return got
		}
	}
}

// eventTypeAndReason is an event the fake recorder heard, as "type reason".
func eventTypeAndReason(e string) string {
	f := strings.Fields(e)
	return f[0] + " " + f[1]
}

// offlineConnection is the GraphConnection "contoso" of namespace, generation 1, whose client
// secret is in offlineSecret.
func offlineConnection(namespace string) *intunev1alpha1.GraphConnection {
	return &intunev1alpha1.GraphConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "contoso", UID: "c1", Generation: 1},
		Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: intunev1alpha1.ConnectionSpec{
			TenantID: "5b7f1a3c-4d2e-4f6a-8b9c-0d1e2f3a4b5c",
			ClientID: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
			Credentials: intunev1alpha1.Credentials{
				Source:       intunev1alpha1.CredentialSourceClientSecret,
				ClientSecret: &intunev1alpha1.SecretKeyReference{Name: "contoso-graph", Key: "clientSecret"},
			},
		}},
	}
}

// offlineSecret is the Secret of offlineConnection's client secret.
func offlineSecret(namespace string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "contoso-graph"},
		Data:       map[string][]byte{"clientSecret": []byte("s3cr3t")},
	}
}

// offlineConnections resolves connections through kube, with the cache holding the watched
// namespaces (nil: all), and gives every connection the client gc.
func offlineConnections(t *testing.T, kube client.Client, gc graph.Client, watched []string) *connections {
	t.Helper()
	endpoints, err := newEndpointPolicy(nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return &connections{
		client:    kube,
		secrets:   &secrets{cache: kube, apiReader: kube, namespaces: watched, recheck: offlineInterval},
		endpoints: endpoints,
		factory:   func(graph.Config, graph.Options) (graph.Client, error) { return gc, nil },
		clients:   map[string]cachedClient{},
	}
}
