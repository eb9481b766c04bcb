// Command manager runs overview-operator: it keeps Microsoft Intune's deviceConfigurationUserOverview
// in the state declared by DeviceConfigurationUserOverview resources, and its
// deviceConfigurationDeviceOverview in the state declared by DeviceConfigurationDeviceOverview
// resources. See docs/flags.md for its flags.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/controllers"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/leaderelection"
	"github.com/overview-operator/overview-operator/internal/metricsauth"
	"github.com/overview-operator/overview-operator/internal/scheme"
)

// flags are the operator's command-line settings.
type flags struct {
	metricsAddr, probeAddr string
	metricsSecure          bool
	leaderElection         leaderElection
	sharding               shardingFlags
	syncInterval           time.Duration
	maxConcurrent          int
	watchNamespaces        string
	watchLabelSelector     string
	graphRequests          int
	graphWrites            int
	graphTenantRequests    int
	graphTenantWrites      int
	graphWindow            time.Duration
	graphMaxInFlight       int
	graphTimeout           time.Duration
	retryBaseDelay         time.Duration
	retryMaxDelay          time.Duration
	credentialsRetry       time.Duration
	shutdownTimeout        time.Duration
	allowedEndpointHosts   string
	namespacedCABundle     bool
	secretLabelSelector    string
	pprofAddr              string
}

// parseFlags reads args (without the program's name) into fs. With flag.CommandLine, a flag that
// does not parse exits the program with the usage, as flag.Parse does.
func parseFlags(fs *flag.FlagSet, args []string) (flags, zap.Options, error) {
	var f flags
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; \"0\" turns it off.")
	fs.BoolVar(&f.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, to callers that the API server authenticates and authorises (get on /metrics). false serves plain HTTP to anyone.")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	fs.BoolVar(&f.leaderElection.enabled, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time. A leader that cannot renew the Lease for --leader-elect-renew-deadline exits (to be restarted). It releases the Lease when it exits, whenever the API server lets it, and with POD_NAME set (as config/manager does) a container restarted in its pod renews its own Lease at once.")
	fs.StringVar(&f.leaderElection.namespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.DurationVar(&f.leaderElection.leaseDuration, "leader-elect-lease-duration", defaultLeaseDuration, "How long other replicas wait after the leader's last renewal before they take the Lease: the hand-over time after a crash.")
	fs.DurationVar(&f.leaderElection.renewDeadline, "leader-elect-renew-deadline", defaultRenewDeadline, "How long the leader keeps trying to renew the Lease before it stops leading and exits: the API server absence it survives. Must be shorter than the lease duration.")
	fs.DurationVar(&f.leaderElection.retryPeriod, "leader-elect-retry-period", defaultRetryPeriod, "How often the leader renews the Lease, and other replicas try to take it. Must be shorter than the renew deadline / 1.2.")
	fs.BoolVar(&f.sharding.enabled, "sharding", false, "Share the work by tenant with the other replicas of the ring: every replica is active, and each tenant (in a cloud, with all its apps) is owned by one live replica at a time, which alone calls Graph for it and writes the status of its resources and connections. A tenant changes hands only after its owner stopped sending for it: its Lease expired (--sharding-lease-duration), or it let go on SIGTERM. Not with --leader-elect.")
	fs.StringVar(&f.sharding.ring, "sharding-ring", "overview-operator", "The ring's name: the replicas' Leases are named <ring>-<POD_NAME> and labelled with it. Deployments in one namespace that must not share work use different rings, and then must not share a tenant either.")
	fs.StringVar(&f.sharding.namespace, "sharding-namespace", "", "Namespace of the replicas' Leases (default: the pod's namespace).")
	fs.DurationVar(&f.sharding.leaseDuration, "sharding-lease-duration", defaultShardLeaseDuration, "How long the other replicas wait after a replica's last renewal before they take its tenants: the hand-over time after a crash.")
	fs.DurationVar(&f.sharding.renewDeadline, "sharding-renew-deadline", defaultShardRenewDeadline, "How long a replica keeps sending after its last successful renewal: it stops before the others may take its tenants. Must be shorter than the lease duration.")
	fs.DurationVar(&f.sharding.retryPeriod, "sharding-retry-period", defaultShardRetryPeriod, "How often a replica renews its Lease and looks at the ring. At most half the renew deadline.")
	fs.DurationVar(&f.syncInterval, "sync-interval", 10*time.Minute, "How often Graph is read for a resource without spec.syncInterval.")
	fs.IntVar(&f.maxConcurrent, "max-concurrent-reconciles", 16, "How many passes over resources run at once. A pass never waits on Graph (each tenant's pacer calls Graph on its own goroutines), so this bounds the work on the API server, not the calls to Graph.")
	fs.StringVar(&f.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch (default: all).")
	fs.StringVar(&f.watchLabelSelector, "watch-label-selector", "", "Only DeviceConfigurationUserOverviews and DeviceConfigurationDeviceOverviews matching this label selector are reconciled. To split the work between deployments, split it by tenant: two deployments that serve one tenant each spend its whole Graph budget, and Graph answers 429s.")
	fs.IntVar(&f.graphRequests, "graph-requests-per-window", graph.DefaultLimits().Requests, "Graph requests (reads and writes) the operator sends per tenant and app in each budget window.")
	fs.IntVar(&f.graphWrites, "graph-writes-per-window", graph.DefaultLimits().Writes, "Graph PATCHes the operator sends per tenant and app in each budget window.")
	fs.IntVar(&f.graphTenantRequests, "graph-tenant-requests-per-window", graph.DefaultLimits().TenantRequests, "Graph requests (reads and writes) the operator sends per tenant in each budget window, all the tenant's apps (connections with other client ids) together: Intune's limit across apps. Lower it to leave room for other apps of the tenant.")
	fs.IntVar(&f.graphTenantWrites, "graph-tenant-writes-per-window", graph.DefaultLimits().TenantWrites, "Graph PATCHes the operator sends per tenant in each budget window, all the tenant's apps together: Intune's limit across apps. Lower it to leave room for other apps of the tenant.")
	fs.DurationVar(&f.graphWindow, "graph-budget-window", graph.DefaultLimits().Per, "The window of the Graph budget (Intune's limits are per 20s).")
	fs.IntVar(&f.graphMaxInFlight, "graph-max-in-flight", graph.DefaultMaxInFlight, "The most Graph calls in flight across all tenants. Each tenant runs as many as its budget and Graph's latency need, up to 256.")
	fs.DurationVar(&f.graphTimeout, "graph-timeout", graph.DefaultTimeout, "How long one Graph call may take before it is abandoned and counted as failed.")
	fs.DurationVar(&f.retryBaseDelay, "retry-base-delay", time.Second, "The first wait before a resource whose Graph call failed is tried again; it doubles, with jitter, on each failure in a row.")
	fs.DurationVar(&f.retryMaxDelay, "retry-max-delay", 5*time.Minute, "The longest wait before a failed resource is tried again.")
	fs.DurationVar(&f.credentialsRetry, "credentials-retry", 30*time.Second, "The first wait before credentials that Entra ID refused are tried again; it grows the longer they fail, up to an hour. Until then the refusal answers every resource of the connection without another token request.")
	fs.DurationVar(&f.shutdownTimeout, "graceful-shutdown-timeout", 30*time.Second, "How long in-flight reconciles may take to finish after SIGTERM; with --sharding, also how long a replica may hold the tenants whose calls Graph may still count (up to --graph-budget-window after its last call) before it deletes its Lease. Keep it below the pod's terminationGracePeriodSeconds.")
	fs.StringVar(&f.allowedEndpointHosts, "allowed-endpoint-hosts", "", "Comma-separated host names that a connection's endpoint and authorityHost may name besides the national clouds' (graph.microsoft.com, graph.microsoft.us, dod-graph.microsoft.us, microsoftgraph.chinacloudapi.cn, login.microsoftonline.com, login.microsoftonline.us, login.chinacloudapi.cn). \"*.example.com\" allows every name under example.com. A connection naming another host is refused (EndpointNotAllowed): the operator sends its requests, with a bearer token, wherever a connection says.")
	fs.BoolVar(&f.namespacedCABundle, "allow-namespaced-ca-bundle", false, "Let a GraphConnection set caBundle (a ClusterGraphConnection always may). CA certificates of a namespace's own make hosts with private certificates reachable.")
	fs.StringVar(&f.secretLabelSelector, "secret-label-selector", "", "Only Secrets matching this label selector (e.g. intune.overview-operator.io/credentials=true) are watched and read; a connection naming another Secret says SecretNotFound. Default: every Secret a connection names.")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "", "Address of Go's profiling endpoints (/debug/pprof/), for diagnosing CPU and memory use, e.g. 127.0.0.1:8082; empty or \"0\" (the default) turns them off. They are plain HTTP without authentication: bind them to localhost.")
	opts := zap.Options{}
	opts.BindFlags(fs)
	err := fs.Parse(args)
	return f, opts, err
}

func main() {
	f, zapOpts, _ := parseFlags(flag.CommandLine, os.Args[1:]) // flag.CommandLine exits on an error
	if err := f.validate(); err != nil {
		// Plain text, one line per refused flag: a person reads it at the terminal or in the
		// pod's last state, before anything has started.
		fmt.Fprintf(os.Stderr, "The operator cannot start with these flags:\n%v\n", err)
		os.Exit(1)
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	setMemoryLimit(log, memlimit.FromCgroup)
	if f.sharding.enabled && f.shutdownTimeout >= 0 && f.shutdownTimeout <= f.graphWindow {
		log.Info("--graceful-shutdown-timeout is not longer than --graph-budget-window: a replica stopped within a window of its last call exits before it can hand its tenants over, and they wait for its Lease to expire",
			"gracefulShutdownTimeout", f.shutdownTimeout, "graphBudgetWindow", f.graphWindow)
	}
	// Every Graph request carries a client-request-id, a random UUID: take its random bytes from a
	// pool filled in batches instead of a system call each (4.6% of the CPU of a routine resync in
	// its profile). The ids are no secret. Enabled before anything could make a UUID concurrently.
	uuid.EnableRandPool()
	if err := run(f); err != nil {
		log.Error(err, "The operator stopped")
		os.Exit(1)
	}
}

func run(f flags) error {
	cacheOpts, err := cacheOptions(f)
	if err != nil {
		return err
	}
	secrets, _ := secretSelector(f) // checked by cacheOptions
	metricsOpts := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.metricsSecure,
		// HTTP/2 stays off: it is open to the "rapid reset" and stream-cancellation CVEs.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if f.metricsSecure {
		metricsOpts.FilterProvider = metricsauth.WithAuthenticationAndAuthorization
	}
	sharded, err := f.sharding.options()
	if err != nil {
		return err
	}
	cfg := ctrl.GetConfigOrDie()
	le := f.leaderElection
	opts := ctrl.Options{
		Scheme:                 scheme.New(),
		Cache:                  cacheOpts,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: f.probeAddr,
		PprofBindAddress:       f.pprofAddr,
		LeaderElection:         le.enabled,
		LeaderElectionID:       leaderelection.LeaseName,
		LeaseDuration:          &le.leaseDuration,
		RenewDeadline:          &le.renewDeadline,
		RetryPeriod:            &le.retryPeriod,
		// A new leader starts at once when the old one steps down cleanly on SIGTERM.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &f.shutdownTimeout,
	}
	var lock resourcelock.Interface
	if le.enabled {
		var stopEvents func()
		if lock, stopEvents, err = newLeaseLock(cfg, opts.Scheme, le); err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		defer stopEvents()
		opts.LeaderElectionResourceLockInterface = lock
	}
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return fmt.Errorf("create the manager: %w", err)
	}
	if lock != nil {
		// However the manager ends (SIGTERM, the Lease lost, a failed runnable), a leader's Lease
		// goes with it. controller-runtime releases it when it can; this covers an API server that
		// was away at that moment, which is how a leader loses the Lease.
		defer func() {
			select {
			case <-mgr.Elected():
				releaseLease(context.Background(), lock, le)
			default: // never led
			}
		}()
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}

	recorder, err := newEventRecorder(mgr)
	if err != nil {
		return err
	}

	ctx := ctrl.SetupSignalHandler()
	if err := controllers.SetupWithManager(ctx, mgr, controllers.Options{
		SyncInterval:            f.syncInterval,
		WatchNamespaces:         slices.Collect(maps.Keys(cacheOpts.DefaultNamespaces)),
		MaxConcurrentReconciles: f.maxConcurrent,
		GraphBudget: controllers.GraphBudget{Requests: f.graphRequests, Writes: f.graphWrites,
			TenantRequests: f.graphTenantRequests, TenantWrites: f.graphTenantWrites, Window: f.graphWindow},
		MaxGraphInFlight:        f.graphMaxInFlight,
		AllowedEndpointHosts:    strings.Split(f.allowedEndpointHosts, ","),
		AllowNamespacedCABundle: f.namespacedCABundle,
		SecretSelector:          secrets,
		GraphTimeout:            f.graphTimeout,
		RetryBaseDelay:          f.retryBaseDelay,
		RetryMaxDelay:           f.retryMaxDelay,
		CredentialsRetry:        f.credentialsRetry,
		Sharding:                sharded,
		EventRecorder:           recorder,
	}); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the operator", "syncInterval", f.syncInterval,
		"watchNamespaces", f.watchNamespaces, "watchLabelSelector", f.watchLabelSelector, "secretLabelSelector", f.secretLabelSelector)
	return mgr.Start(ctx)
}

// cacheOptions limits what the operator watches: some namespaces, and for sharding, the resources
// that match a label selector.
func cacheOptions(f flags) (cache.Options, error) {
	// What the operator never reads is not cached (stripUnread says what goes and what stays).
	opts := cache.Options{DefaultTransform: stripUnread}
	if f.watchNamespaces != "" {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(f.watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				opts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	opts.ByObject = map[client.Object]cache.ByObject{}
	if f.watchLabelSelector != "" {
		selector, err := labels.Parse(f.watchLabelSelector)
		if err != nil {
			return opts, fmt.Errorf("--watch-label-selector: %w", err)
		}
		opts.ByObject[&intunev1alpha1.DeviceConfigurationUserOverview{}] = cache.ByObject{Label: selector}
		opts.ByObject[&intunev1alpha1.DeviceConfigurationDeviceOverview{}] = cache.ByObject{Label: selector}
	}
	selector, err := secretSelector(f)
	if err != nil {
		return opts, err
	}
	if selector != nil {
		// The Secrets' metadata informer (keyed by GVK, as the typed one) lists and watches only these.
		opts.ByObject[&corev1.Secret{}] = cache.ByObject{Label: selector}
	}
	return opts, nil
}

// secretSelector is the selector of --secret-label-selector, nil when unset.
func secretSelector(f flags) (labels.Selector, error) {
	if strings.TrimSpace(f.secretLabelSelector) == "" {
		return nil, nil
	}
	selector, err := labels.Parse(f.secretLabelSelector)
	if err != nil {
		return nil, fmt.Errorf("--secret-label-selector: %w", err)
	}
	if selector.Empty() {
		return nil, nil
	}
	return selector, nil
}
