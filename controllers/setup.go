package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// clientFactory builds the Graph client of one connection (graph.NewClient).
type clientFactory func(graph.Config, graph.Options) (graph.Client, error)

// GraphBudget is what Graph allows per window each app in a tenant (Requests of any kind, and of
// them Writes, PATCHes), and each tenant, all its apps together (TenantRequests, TenantWrites).
// Each zero field takes Intune's limit: 1000 requests and 100 writes per app, 2000 and 200 per
// tenant, per 20s.
type GraphBudget struct {
	Requests, Writes             int
	TenantRequests, TenantWrites int
	Window                       time.Duration
}

// limits are the pacers' limits of b: Intune's for each zero field.
func (b GraphBudget) limits() graph.Limits {
	l := graph.Limits{Requests: b.Requests, Writes: b.Writes, TenantRequests: b.TenantRequests, TenantWrites: b.TenantWrites, Per: b.Window}
	d := graph.DefaultLimits()
	if l.TenantRequests <= 0 {
		l.TenantRequests = d.TenantRequests
	}
	if l.TenantWrites <= 0 {
		l.TenantWrites = d.TenantWrites
	}
	return l // the pacers take Intune's for the app's zero fields
}

// Options configure the reconcilers. The zero value is usable: every field has a default.
type Options struct {
	// SyncInterval is how often a resource without spec.syncInterval reads Graph (default 10m).
	SyncInterval time.Duration
	// WatchNamespaces are the namespaces the manager's cache watches (default: all). Set it to the
	// cache's DefaultNamespaces so that no watch asks the cache for a namespace it does not hold.
	// A connection's Secret in another namespace (a ClusterGraphConnection's secretNamespace) is
	// read from the API server directly, and read again every SyncInterval while it fails, since no
	// watch sees it change.
	WatchNamespaces []string
	// AllowedEndpointHosts are the host names a connection's endpoint and authorityHost may name
	// besides the national clouds' (graph.microsoft.com, login.microsoftonline.com, ...). A leading
	// "*." matches every name under a domain. A connection naming any other host says
	// EndpointNotAllowed, and no request goes there.
	AllowedEndpointHosts []string
	// AllowNamespacedCABundle lets a GraphConnection set caBundle (default: only a
	// ClusterGraphConnection may), which makes hosts with private certificates reachable.
	AllowNamespacedCABundle bool
	// SecretSelector, when set, restricts the Secrets connections may use to those it matches; a
	// connection naming another Secret says SecretNotFound, with the selector. Give the manager's
	// cache the same selector for Secrets (cache.Options.ByObject), so that it neither lists nor
	// watches any other Secret.
	SecretSelector labels.Selector
	// MaxConcurrentReconciles is how many passes run at once (default 16). A pass never waits on
	// Graph (the tenants' pacers call Graph on goroutines of their own), so this bounds the work on
	// the API server, not the calls to Graph.
	MaxConcurrentReconciles int
	// GraphBudget is the Graph budget of each app in a tenant and of each tenant (default: Intune's
	// limits).
	GraphBudget GraphBudget
	// MaxGraphInFlight bounds the Graph jobs in flight across all tenants (default 1024); each
	// tenant runs as many as its budget and Graph's latency need.
	MaxGraphInFlight int
	// GraphTimeout bounds one Graph call, its token included (default 30s).
	GraphTimeout time.Duration
	// ForbiddenRenewal is the least time between two fresh tokens that a 403 asks for (default 1m):
	// a permission granted since the token was issued shows only in a new token.
	ForbiddenRenewal time.Duration
	// WorkloadIdentityTokenFile is the federated token of WorkloadIdentity connections (default: the
	// AZURE_FEDERATED_TOKEN_FILE environment variable that Azure workload identity sets).
	WorkloadIdentityTokenFile string
	// Clock tells the time (default: the real clock).
	Clock clock.PassiveClock
	// RetryBaseDelay and RetryMaxDelay bound the jittered exponential backoff after a retryable
	// failure of Graph (defaults 1s and 5m). A failure of the Kubernetes API (a status write while
	// the API server is away) is tried again from RetryBaseDelay too, but never more than 5s later.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// CredentialsRetry is the first wait before credentials that Entra ID refused are tried again
	// (default 30s); the wait grows with how long they have been failing, up to an hour. A new
	// secret takes a while to work everywhere after it is written, so a refusal is not final.
	// A refusal also answers every call of the connection for that long, without another token
	// request: Entra ID hears from the connection, not from each of its resources.
	CredentialsRetry time.Duration
	// Sharding, when set, shares the work by tenant with the other replicas of a ring: every
	// replica runs the reconcilers, and each works for the tenants it owns. Run no leader election
	// with it. Nil: this process works for every tenant.
	Sharding *ShardingOptions
	// EventRecorder records the reconcilers' Events (default: the manager's, whose memory of the
	// Events it recorded has no bound).
	EventRecorder events.EventRecorder
}

func (o Options) withDefaults() Options {
	if o.SyncInterval <= 0 {
		o.SyncInterval = 10 * time.Minute
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 16
	}
	if o.WorkloadIdentityTokenFile == "" {
		o.WorkloadIdentityTokenFile = federatedTokenFile()
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.RetryBaseDelay <= 0 {
		o.RetryBaseDelay = time.Second
	}
	if o.RetryMaxDelay <= 0 {
		o.RetryMaxDelay = 5 * time.Minute
	}
	if o.CredentialsRetry <= 0 {
		o.CredentialsRetry = 30 * time.Second
	}
	return o
}

// Field indexes that map a change to the objects it concerns, so that no watch lists everything.
const (
	// indexConnection indexes the resources of each kind by the connectionKey they refer to.
	indexConnection = ".spec.connectionRef.key"
	// indexSecret indexes both connection kinds by "<namespace>/<name>" of the Secret they read.
	indexSecret = ".spec.credentials.secret"
)

// SetupWithManager registers the reconcilers of DeviceConfigurationUserOverview,
// DeviceConfigurationDeviceOverview, GraphConnection and ClusterGraphConnection, and the field
// indexes they use, with mgr.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	opts = opts.withDefaults()
	endpoints, err := newEndpointPolicy(opts.AllowedEndpointHosts, opts.AllowNamespacedCABundle)
	if err != nil {
		return fmt.Errorf("--allowed-endpoint-hosts (Options.AllowedEndpointHosts): %w", err)
	}
	if err := setupIndexes(ctx, mgr); err != nil {
		return err
	}
	var sh *shards
	pacers := graph.NewPacersWith(graph.PacersOptions{
		Limits:      opts.GraphBudget.limits(),
		MaxInFlight: opts.MaxGraphInFlight,
		// Sharded, a call goes only while this replica owns its tenant: asked as it is sent.
		Owns: func(k graph.PacerKey) bool { return sh.owns(k) },
	})
	window := opts.GraphBudget.Window
	if window <= 0 {
		window = graph.DefaultLimits().Per
	}
	sh, err = newShards(mgr, opts.Sharding, pacers, window)
	if err != nil {
		return fmt.Errorf("sharding (Options.Sharding): %w", err)
	}
	// The jobs run while the reconcilers do: when the manager stops, or this process loses its
	// leadership, every call in flight is cancelled and no job still in line sends anything. A
	// RunnableFunc runs under leader election, like the reconcilers.
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		pacers.Close()
		return nil
	})); err != nil {
		return fmt.Errorf("close the Graph jobs with the manager: %w", err)
	}
	conns := &connections{
		client: mgr.GetClient(),
		secrets: &secrets{
			cache:      mgr.GetClient(),
			apiReader:  mgr.GetAPIReader(),
			namespaces: opts.WatchNamespaces,
			selector:   opts.SecretSelector,
			recheck:    opts.SyncInterval,
		},
		endpoints: endpoints,
		factory:   graph.NewClient,
		opts: graph.Options{
			Pacers: pacers,
			// Every request a client sends is held to the policy, wherever an answer points.
			Hosts:            endpoints.hosts,
			Timeout:          opts.GraphTimeout,
			ForbiddenRenewal: opts.ForbiddenRenewal,
			// Refused credentials are not asked for again sooner than they are tried again.
			RefusalHold: opts.CredentialsRetry,
			Logger:      mgr.GetLogger().WithName("graph"),
		},
		tokenFile: opts.WorkloadIdentityTokenFile,
		shards:    sh,
		clients:   map[string]cachedClient{},
	}
	if opts.Sharding != nil {
		conns.opts.Replica = opts.Sharding.Identity
	}
	patchLogs := newPatchLogs(mgr.GetClient(), opts.Clock)
	audit := newAudits(opts.Clock, opts.ForbiddenRenewal)
	if sh.sharded() {
		if err := addRing(mgr, sh, patchLogs, conns); err != nil {
			return err
		}
	}
	recorder := opts.EventRecorder
	if recorder == nil {
		recorder = mgr.GetEventRecorder("overview-operator")
	}
	for _, k := range kinds {
		overviews := &OverviewReconciler{
			Client:       mgr.GetClient(),
			kind:         k,
			connections:  conns,
			recorder:     recorder,
			clock:        opts.Clock,
			syncInterval: opts.SyncInterval,
			namespaces:   opts.WatchNamespaces,
			log:          mgr.GetLogger().WithName(k.name()),
			retryBase:    opts.RetryBaseDelay,
			retryMax:     opts.RetryMaxDelay,
			credsRetry:   opts.CredentialsRetry,
			quietPause:   opts.GraphBudget.Window,
			memory:       newMemory(k.entity.Kind),
			patchLogs:    patchLogs,
			audit:        audit,
			done:         make(chan event.TypedGenericEvent[reconcile.Request], jobsDoneBuffer),
		}
		if sh.sharded() {
			overviews.reshard = make(chan event.TypedGenericEvent[reconcile.Request])
			sh.onChange(requeueAll(objectKeys(mgr.GetClient(), k.newList), overviews.reshard))
		}
		if err := overviews.setupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("set up the %s controller: %w", k.entity.Kind, err)
		}
	}
	for _, conn := range []connectionObject{&intunev1alpha1.GraphConnection{}, &intunev1alpha1.ClusterGraphConnection{}} {
		r := &ConnectionReconciler{
			Client:      mgr.GetClient(),
			connections: conns,
			recorder:    recorder,
			clock:       opts.Clock,
			credsRetry:  opts.CredentialsRetry,
			retryBase:   opts.RetryBaseDelay,
			retryMax:    opts.RetryMaxDelay,
			newObject:   func() connectionObject { return conn.DeepCopyObject().(connectionObject) },
			audit:       audit,
		}
		if sh.sharded() {
			r.reshard = make(chan event.TypedGenericEvent[reconcile.Request])
			newList := func() client.ObjectList { return &intunev1alpha1.GraphConnectionList{} }
			if kindOf(conn) == intunev1alpha1.ConnectionKindCluster {
				newList = func() client.ObjectList { return &intunev1alpha1.ClusterGraphConnectionList{} }
			}
			sh.onChange(requeueAll(objectKeys(mgr.GetClient(), newList), r.reshard))
		}
		if err := r.setupWithManager(mgr, opts); err != nil {
			return fmt.Errorf("set up the %T controller: %w", conn, err)
		}
	}
	return nil
}

func setupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	for _, k := range kinds {
		if err := indexer.IndexField(ctx, k.newObject(), indexConnection, func(obj client.Object) []string {
			return []string{refKey(obj.(intunev1alpha1.Overview))}
		}); err != nil {
			return fmt.Errorf("index %ss by connection: %w", k.entity.Kind, err)
		}
	}
	for _, conn := range []connectionObject{&intunev1alpha1.GraphConnection{}, &intunev1alpha1.ClusterGraphConnection{}} {
		if err := indexer.IndexField(ctx, conn, indexSecret, func(obj client.Object) []string {
			c := obj.(connectionObject)
			name := c.Settings().Credentials.SecretName()
			if name == "" {
				return nil
			}
			return []string{c.SecretNamespace() + "/" + name}
		}); err != nil {
			return fmt.Errorf("index connections by Secret: %w", err)
		}
	}
	return nil
}
