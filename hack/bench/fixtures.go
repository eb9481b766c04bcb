package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// connectionName is the GraphConnection of every tenant's namespace.
const connectionName = "bench"

// secretKey is the key of the client secret in each tenant's Secret.
const secretKey = "clientSecret"

// tenant is one Entra ID tenant with one app (the operator's), and the namespace whose
// GraphConnection uses it.
type tenant struct {
	index     int
	id        string
	clientID  string
	secret    string
	namespace string
}

func newTenant(i int) tenant {
	return tenant{
		index:     i,
		id:        fmt.Sprintf("%08x-7e7e-4000-8000-000000000000", i+1),
		clientID:  fmt.Sprintf("%08x-c11e-4000-8000-000000000000", i+1),
		secret:    fmt.Sprintf("bench-secret-%d", i+1),
		namespace: fmt.Sprintf("bench-t%d", i),
	}
}

// setUp registers the tenant's app in the emulator and creates its namespace, Secret and
// GraphConnection, pointed at the emulator.
func (t tenant) setUp(ctx context.Context, env *localenv.Env) error {
	env.Emulator.AddApp(graphtest.App{TenantID: t.id, ClientID: t.clientID, ClientSecret: t.secret})
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.namespace}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: connectionName},
			StringData: map[string]string{secretKey: t.secret}},
	}
	conn := &intunev1alpha1.GraphConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: connectionName},
		Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: intunev1alpha1.ConnectionSpec{
			TenantID: t.id,
			ClientID: t.clientID,
			Credentials: intunev1alpha1.Credentials{
				Source:       intunev1alpha1.CredentialSourceClientSecret,
				ClientSecret: &intunev1alpha1.SecretKeyReference{Name: connectionName, Key: secretKey},
			},
		}},
	}
	env.EmulatorSettings(&conn.Spec.ConnectionSpec)
	for _, o := range append(objs, conn) {
		if err := env.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// waitConnectionReady waits until the operator has obtained a token for the tenant's connection.
func (t tenant) waitConnectionReady(ctx context.Context, env *localenv.Env, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn := &intunev1alpha1.GraphConnection{}
		err := env.Client.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: connectionName}, conn)
		if err == nil && meta.IsStatusConditionTrue(conn.Status.Conditions, intunev1alpha1.ConditionReady) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GraphConnection %s/%s is not Ready after %v", t.namespace, connectionName, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// resource is one overview resource (a DeviceConfigurationUserOverview or a
// DeviceConfigurationDeviceOverview, by its kind) and its device configuration in the emulator.
type resource struct {
	key      types.NamespacedName
	kind     kind
	tenant   tenant
	configID string
}

// ref is the resource as the tracker knows it.
func (r resource) ref() ref { return ref{kind: r.kind, NamespacedName: r.key} }

// target is the overview in Graph that the resource manages, as the emulator's log names it.
func (r resource) target() target { return target{configID: r.configID, entity: r.kind.entity()} }

// target is one overview of one device configuration in Graph.
type target struct{ configID, entity string }

// targetOf is the overview a Graph request named.
func targetOf(r graphtest.Request) target {
	return target{configID: r.ConfigurationID, entity: r.Entity}
}

// Desired and seeded values: the spec asks for specSuccess/specFailed/specVersion; a drifted
// configuration holds the seeded values, so that the first sync PATCHes three fields.
const (
	specSuccess, specFailed, specVersion       = 12, 0, 2
	seededSuccess, seededFailed, seededVersion = 1, 3, 1
)

// newResources names count resources with the prefix, spread round-robin over tenants, each with a
// device configuration of its own (ids are unique per prefix number, whatever the kind). A share
// deviceShare of each tenant's resources are DeviceConfigurationDeviceOverviews (kindOf), the rest
// DeviceConfigurationUserOverviews.
func newResources(prefix string, series, count int, tenants []tenant, deviceShare float64) []resource {
	out := make([]resource, count)
	for i := range out {
		t := tenants[i%len(tenants)]
		out[i] = resource{
			key:      types.NamespacedName{Namespace: t.namespace, Name: fmt.Sprintf("%s-%05d", prefix, i)},
			kind:     kindOf(i/len(tenants), deviceShare),
			tenant:   t,
			configID: fmt.Sprintf("%08x-0000-4000-8000-%012x", series, i),
		}
	}
	return out
}

// kindOf is the kind of a tenant's j-th resource: the device kind when round((j+1)·share) exceeds
// round(j·share), so that the two kinds are interleaved evenly in every tenant (every
// prefix of its resources has its share of each: a first sync cut short, or figure 3's picks,
// still see both) and the tenant's n resources hold round(n·share) of the device kind.
func kindOf(j int, deviceShare float64) kind {
	if math.Round(float64(j+1)*deviceShare) > math.Round(float64(j)*deviceShare) {
		return deviceKind
	}
	return userKind
}

// seed puts the resources' device configurations in the emulator, drifted from the spec or not: the
// overview of each resource's kind (the configuration's other overview is left at zeros).
func seed(srv *graphtest.Server, rs []resource, drifted bool) {
	last := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, r := range rs {
		o := graphtest.Overview{SuccessCount: specSuccess, FailedCount: specFailed, ConfigurationVersion: specVersion,
			PendingCount: 2, LastUpdateDateTime: last}
		if drifted {
			o.SuccessCount, o.FailedCount, o.ConfigurationVersion = seededSuccess, seededFailed, seededVersion
		}
		if r.kind == deviceKind {
			srv.SeedDevice(r.tenant.id, r.configID, o)
		} else {
			srv.Seed(r.tenant.id, r.configID, o)
		}
	}
}

// object is the resource to create: its kind, with the spec the first sync brings Graph to.
func (r resource) object() intunev1alpha1.Overview {
	o := r.kind.newObject()
	o.SetNamespace(r.key.Namespace)
	o.SetName(r.key.Name)
	*o.OverviewSpec() = intunev1alpha1.OverviewSpec{
		DeviceConfigurationID: r.configID,
		ConnectionRef:         intunev1alpha1.ConnectionReference{Name: connectionName},
		Overview: intunev1alpha1.OverviewFields{
			SuccessCount:         ptr.To[int32](specSuccess),
			FailedCount:          ptr.To[int32](specFailed),
			ConfigurationVersion: ptr.To[int32](specVersion),
		},
	}
	return o
}

// createConcurrency is how many creates are in flight at once: enough to keep the API server busy
// without queueing in its priority and fairness.
const createConcurrency = 32

// createAll creates the resources, createConcurrency at a time, and returns how long it took.
func createAll(ctx context.Context, c client.Client, rs []resource) (time.Duration, error) {
	took, _, err := createAllAt(ctx, c, rs)
	return took, err
}

// createAllAt is createAll that also returns when each resource's create returned: the earliest
// the operator could have known of it.
func createAllAt(ctx context.Context, c client.Client, rs []resource) (time.Duration, []time.Time, error) {
	start := time.Now()
	created := make([]time.Time, len(rs))
	err := forEach(ctx, len(rs), createConcurrency, func(i int) error {
		err := c.Create(ctx, rs[i].object())
		created[i] = time.Now()
		return err
	})
	return time.Since(start), created, err
}

// forEach calls f(0..n-1) with at most width calls at once and returns the first error.
func forEach(ctx context.Context, n, width int, f func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	next := make(chan int)
	for range min(width, n) {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
