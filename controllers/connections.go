package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/connection"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// connectionKey names a connection of either kind: "GraphConnection/<namespace>/<name>" or
// "ClusterGraphConnection/<name>". It is also the value of the field index that finds the resources
// using a connection.
func connectionKey(kind intunev1alpha1.ConnectionKind, namespace, name string) string {
	if kind == intunev1alpha1.ConnectionKindCluster {
		return string(kind) + "/" + name
	}
	return string(kind) + "/" + namespace + "/" + name
}

// refKey is the connectionKey of the connection a resource refers to.
func refKey(o intunev1alpha1.Overview) string {
	kind := o.OverviewSpec().ConnectionRef.Kind
	if kind == "" {
		kind = intunev1alpha1.ConnectionKindNamespaced
	}
	return connectionKey(kind, o.GetNamespace(), o.OverviewSpec().ConnectionRef.Name)
}

// connections resolves connection references, enforces the namespace rules, and builds (and caches)
// one Graph client per connection.
type connections struct {
	client    client.Client // cached reads: connections and namespaces
	secrets   *secrets
	endpoints endpointPolicy
	factory   clientFactory
	opts      graph.Options
	tokenFile string
	// shards says which tenants this replica works for (all of them without sharding).
	shards *shards

	mu      sync.Mutex
	clients map[string]cachedClient
	// keys is the clientKey last made for each connection: every pass and every job asks for its
	// resource's key (a job twice), and each record holds one; made once per version of the
	// connection and its Secret, the records of a tenant share its two strings.
	keys map[connectionRef]madeKey
}

// connectionRef is a connection by kind, namespace and name, as the cache's object gives them.
type connectionRef struct {
	kind            intunev1alpha1.ConnectionKind
	namespace, name string
}

// madeKey is a clientKey and the versions it was made from.
type madeKey struct {
	uid           types.UID
	generation    int64
	secretVersion string
	key           clientKey
}

// owns reports whether this replica works for the resource o of kind: it owns the key of o's
// connection, or, when o's connection gives no key (it is missing, does not admit o's namespace
// or names no valid tenant), it is the one replica that speaks for o, whose status then says why.
func (c *connections) owns(ctx context.Context, kind string, o intunev1alpha1.Overview) bool {
	if !c.shards.sharded() {
		return true
	}
	if conn, err := c.resolve(ctx, o); err == nil {
		if key, err := keyOfConnection(conn); err == nil {
			return c.shards.owns(key)
		}
	}
	return c.shards.leads(kind + "/" + o.GetNamespace() + "/" + o.GetName())
}

// ownsConnection reports whether this replica works for conn: it owns conn's key, or, when conn
// names no valid key, it speaks for conn.
func (c *connections) ownsConnection(conn connectionObject) bool {
	if !c.shards.sharded() {
		return true
	}
	if key, err := keyOfConnection(conn); err == nil {
		return c.shards.owns(key)
	}
	return c.shards.leads(string(kindOf(conn)) + "/" + conn.GetNamespace() + "/" + conn.GetName())
}

// cachedClient is a Graph client and the version of its inputs it was built from.
type cachedClient struct {
	version string
	client  graph.Client
}

// clientKey names the Graph client a connection's inputs build: the connection, and the versions
// of the connection and of its Secret. A job runs with the client of one key; when the key a
// resource resolves to is another, the job's client is not the one the cluster wants any more.
type clientKey struct {
	connection string // connectionKey
	version    string // the connection's UID and generation, and its Secret's resourceVersion
}

// clientKeyFor is the key of the client a resource resolves to, without building it: what a job
// about to write compares its own client's key with. It only reads (the caches, and the API server for a Secret outside them).
func (c *connections) clientKeyFor(ctx context.Context, o intunev1alpha1.Overview) (clientKey, error) {
	conn, err := c.resolve(ctx, o)
	if err != nil {
		return clientKey{}, err
	}
	return c.keyOf(ctx, conn)
}

// resolve finds the connection a resource refers to and checks that the resource may use it. It
// returns the cache's object itself, not a copy (each pass and each job asks, some several times):
// read only. Whatever keeps it beyond the pass copies it first (patchLogs does).
func (c *connections) resolve(ctx context.Context, o intunev1alpha1.Overview) (connectionObject, error) {
	ref := o.OverviewSpec().ConnectionRef
	switch ref.Kind {
	case intunev1alpha1.ConnectionKindCluster:
		cc := &intunev1alpha1.ClusterGraphConnection{}
		if err := c.client.Get(ctx, types.NamespacedName{Name: ref.Name}, cc, client.UnsafeDisableDeepCopy); err != nil {
			return nil, notFoundAs(err, intunev1alpha1.ReasonConnectionNotFound,
				"ClusterGraphConnection %q does not exist: create it, or recreate this resource with another connectionRef (spec.connectionRef cannot change)", ref.Name)
		}
		if err := c.admits(ctx, cc, o.GetNamespace()); err != nil {
			return nil, err
		}
		return cc, nil
	default:
		// A namespaced reference has no namespace field: it can only name a connection of the
		// resource's own namespace.
		gc := &intunev1alpha1.GraphConnection{}
		if err := c.client.Get(ctx, types.NamespacedName{Namespace: o.GetNamespace(), Name: ref.Name}, gc, client.UnsafeDisableDeepCopy); err != nil {
			return nil, notFoundAs(err, intunev1alpha1.ReasonConnectionNotFound,
				"GraphConnection %q does not exist in namespace %q: create it, or recreate this resource with another connectionRef (spec.connectionRef cannot change)", ref.Name, o.GetNamespace())
		}
		return gc, nil
	}
}

// admits checks a ClusterGraphConnection's allowedNamespaces against a namespace.
func (c *connections) admits(ctx context.Context, cc *intunev1alpha1.ClusterGraphConnection, namespace string) error {
	allowed := cc.Spec.AllowedNamespaces
	if slices.Contains(allowed.Names, namespace) {
		return nil
	}
	if allowed.Selector != nil {
		selector, err := metav1.LabelSelectorAsSelector(allowed.Selector)
		if err != nil {
			return stalledf(intunev1alpha1.ReasonConnectionNotAllowed,
				"ClusterGraphConnection %q has an invalid allowedNamespaces.selector: %v", cc.Name, err)
		}
		ns := &metav1.PartialObjectMetadata{}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		if err := c.client.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
			return err
		}
		if selector.Matches(labels.Set(ns.Labels)) {
			return nil
		}
	}
	return stalledf(intunev1alpha1.ReasonConnectionNotAllowed,
		"ClusterGraphConnection %q does not admit namespace %q: add it to the connection's spec.allowedNamespaces", cc.Name, namespace)
}

// forConnection returns the connection's Graph client, building it again when the connection or its
// Secret has changed since the cached one was built, so that a rotated secret takes effect at once.
func (c *connections) forConnection(ctx context.Context, conn connectionObject) (graph.Client, error) {
	key, err := c.keyOf(ctx, conn)
	if err != nil {
		return nil, err
	}
	return c.build(ctx, conn, key)
}

// keyOf is the key of the client the connection builds as it is now.
func (c *connections) keyOf(ctx context.Context, conn connectionObject) (clientKey, error) {
	secretVersion := ""
	if secretName := conn.Settings().Credentials.SecretName(); secretName != "" {
		var err error
		if secretVersion, err = c.secrets.version(ctx, conn.SecretNamespace(), secretName); err != nil {
			return clientKey{}, err
		}
	}
	ref := connectionRef{kind: kindOf(conn), namespace: conn.GetNamespace(), name: conn.GetName()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if made, ok := c.keys[ref]; ok && made.uid == conn.GetUID() && made.generation == conn.GetGeneration() && made.secretVersion == secretVersion {
		return made.key, nil
	}
	key := clientKey{
		connection: connectionKey(ref.kind, ref.namespace, ref.name),
		version:    fmt.Sprintf("%s/%d/%s", conn.GetUID(), conn.GetGeneration(), secretVersion),
	}
	if c.keys == nil {
		c.keys = map[connectionRef]madeKey{}
	}
	c.keys[ref] = madeKey{uid: conn.GetUID(), generation: conn.GetGeneration(), secretVersion: secretVersion, key: key}
	return key, nil
}

// build returns the client of key, the cached one when it was built from the same versions.
func (c *connections) build(ctx context.Context, conn connectionObject, key clientKey) (graph.Client, error) {
	c.mu.Lock()
	cached, ok := c.clients[key.connection]
	c.mu.Unlock()
	if ok && cached.version == key.version {
		return cached.client, nil
	}

	cfg, err := c.config(ctx, conn)
	if err != nil {
		return nil, err
	}
	gc, err := c.factory(cfg, c.opts)
	if err != nil {
		return nil, stalledf(intunev1alpha1.ReasonInvalidConfiguration, "%s %q cannot be used: %v", kindOf(conn), conn.GetName(), err)
	}
	c.mu.Lock()
	c.clients[key.connection] = cachedClient{version: key.version, client: gc}
	c.mu.Unlock()
	return gc, nil
}

// forget drops the client of a deleted connection.
func (c *connections) forget(key string) {
	c.mu.Lock()
	delete(c.clients, key)
	for ref, made := range c.keys {
		if made.key.connection == key {
			delete(c.keys, ref)
		}
	}
	c.mu.Unlock()
}

// config turns a connection and its Secret into the Graph client's settings.
func (c *connections) config(ctx context.Context, conn connectionObject) (graph.Config, error) {
	if err := c.endpoints.check(conn); err != nil {
		return graph.Config{}, err
	}
	spec := conn.Settings()
	var data map[string][]byte
	if name, keys := connection.SecretKeys(spec.Credentials); name != "" {
		var err error
		if data, err = c.secrets.data(ctx, conn.SecretNamespace(), name, keys...); err != nil {
			return graph.Config{}, err
		}
	}
	cfg, err := connection.GraphConfig(spec, data, c.tokenFile)
	switch {
	case errors.Is(err, connection.ErrNoFederatedToken):
		return cfg, stalledf(intunev1alpha1.ReasonInvalidConfiguration,
			"the operator has no federated token (AZURE_FEDERATED_TOKEN_FILE is unset): label its service account and pod for Azure workload identity")
	case err != nil:
		return cfg, stalledf(intunev1alpha1.ReasonInvalidConfiguration, "%s %q: %v", kindOf(conn), conn.GetName(), err)
	}
	return cfg, nil
}

// kindOf is the connection's kind, from its Go type (typed objects read from the cache carry no GVK).
func kindOf(conn intunev1alpha1.Connection) intunev1alpha1.ConnectionKind {
	if _, ok := conn.(*intunev1alpha1.ClusterGraphConnection); ok {
		return intunev1alpha1.ConnectionKindCluster
	}
	return intunev1alpha1.ConnectionKindNamespaced
}

// notFoundAs turns a NotFound from the API server into a stalled error; other errors pass through
// to be retried.
func notFoundAs(err error, reason, format string, args ...any) error {
	if apierrors.IsNotFound(err) {
		return stalledf(reason, format, args...)
	}
	return err
}

// federatedTokenFile is where Azure workload identity's webhook mounts the pod's token.
func federatedTokenFile() string { return os.Getenv("AZURE_FEDERATED_TOKEN_FILE") }
