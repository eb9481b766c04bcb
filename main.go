// Command manager runs overview-operator: it keeps Microsoft Intune's deviceConfigurationUserOverview
// in the state declared by DeviceConfigurationUserOverview resources. See README.md for its flags.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/controllers"
	"github.com/overview-operator/overview-operator/internal/graph"
)

// flags are the operator's command-line settings.
type flags struct {
	metricsAddr, probeAddr  string
	metricsSecure           bool
	leaderElect             bool
	leaderElectionNamespace string
	syncInterval            time.Duration
	maxConcurrent           int
	watchNamespaces         string
	watchLabelSelector      string
	graphRequests           int
	graphWrites             int
	graphWindow             time.Duration
	graphMaxInFlight        int
	graphTimeout            time.Duration
	retryBaseDelay          time.Duration
	retryMaxDelay           time.Duration
	credentialsRetry        time.Duration
	shutdownTimeout         time.Duration
}

func parseFlags() (flags, zap.Options) {
	var f flags
	flag.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443", "Address of the metrics endpoint; \"0\" turns it off.")
	flag.BoolVar(&f.metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS, to callers that the API server authenticates and authorises (get on /metrics). false serves plain HTTP to anyone.")
	flag.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz probes.")
	flag.BoolVar(&f.leaderElect, "leader-elect", false, "Elect a leader, so that only one replica reconciles at a time.")
	flag.StringVar(&f.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	flag.DurationVar(&f.syncInterval, "sync-interval", 10*time.Minute, "How often Graph is read for a resource without spec.syncInterval.")
	flag.IntVar(&f.maxConcurrent, "max-concurrent-reconciles", 16, "How many passes over resources run at once. A pass never waits on Graph (each tenant's pacer calls Graph on its own goroutines), so this bounds the work on the API server, not the calls to Graph.")
	flag.StringVar(&f.watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch (default: all).")
	flag.StringVar(&f.watchLabelSelector, "watch-label-selector", "", "Only DeviceConfigurationUserOverviews matching this label selector are reconciled, to shard them across operator deployments.")
	flag.IntVar(&f.graphRequests, "graph-requests-per-window", graph.DefaultLimits().Requests, "Graph requests (reads and writes) the operator sends per tenant and app in each budget window.")
	flag.IntVar(&f.graphWrites, "graph-writes-per-window", graph.DefaultLimits().Writes, "Graph PATCHes the operator sends per tenant and app in each budget window.")
	flag.DurationVar(&f.graphWindow, "graph-budget-window", graph.DefaultLimits().Per, "The window of the Graph budget (Intune's limits are per 20s).")
	flag.IntVar(&f.graphMaxInFlight, "graph-max-in-flight", graph.DefaultMaxInFlight, "The most Graph calls in flight across all tenants. Each tenant runs as many as its budget and Graph's latency need, up to 256.")
	flag.DurationVar(&f.graphTimeout, "graph-timeout", graph.DefaultTimeout, "How long one Graph call may take before it is abandoned and counted as failed.")
	flag.DurationVar(&f.retryBaseDelay, "retry-base-delay", time.Second, "The first wait before a resource whose Graph call failed is tried again; it doubles, with jitter, on each failure in a row.")
	flag.DurationVar(&f.retryMaxDelay, "retry-max-delay", 5*time.Minute, "The longest wait before a failed resource is tried again.")
	flag.DurationVar(&f.credentialsRetry, "credentials-retry", 30*time.Second, "The first wait before credentials that Entra ID refused are tried again; it grows the longer they fail, up to an hour.")
	flag.DurationVar(&f.shutdownTimeout, "graceful-shutdown-timeout", 15*time.Second, "How long in-flight reconciles may take to finish after SIGTERM.")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	return f, opts
}

func main() {
	f, zapOpts := parseFlags()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	if err := run(f); err != nil {
		log.Error(err, "The operator stopped")
		os.Exit(1)
	}
}

func run(f flags) error {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(intunev1alpha1.AddToScheme(scheme))

	cacheOpts, err := cacheOptions(f)
	if err != nil {
		return err
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.metricsSecure,
		// HTTP/2 stays off: it is open to the "rapid reset" and stream-cancellation CVEs.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if f.metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Cache:                   cacheOpts,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  f.probeAddr,
		LeaderElection:          f.leaderElect,
		LeaderElectionID:        "overview-operator.intune.overview-operator.io",
		LeaderElectionNamespace: f.leaderElectionNamespace,
		// A new leader starts at once when the old one steps down cleanly on SIGTERM.
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       &f.shutdownTimeout,
	})
	if err != nil {
		return fmt.Errorf("create the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}

	ctx := ctrl.SetupSignalHandler()
	if err := controllers.SetupWithManager(ctx, mgr, controllers.Options{
		SyncInterval:            f.syncInterval,
		WatchNamespaces:         slices.Collect(maps.Keys(cacheOpts.DefaultNamespaces)),
		MaxConcurrentReconciles: f.maxConcurrent,
		Limits:                  graph.Limits{Requests: f.graphRequests, Writes: f.graphWrites, Per: f.graphWindow},
		MaxGraphInFlight:        f.graphMaxInFlight,
		GraphOptions:            graph.Options{Timeout: f.graphTimeout, Logger: ctrl.Log.WithName("graph")},
		RetryBaseDelay:          f.retryBaseDelay,
		RetryMaxDelay:           f.retryMaxDelay,
		CredentialsRetry:        f.credentialsRetry,
	}); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the operator", "syncInterval", f.syncInterval,
		"watchNamespaces", f.watchNamespaces, "watchLabelSelector", f.watchLabelSelector)
	return mgr.Start(ctx)
}

// cacheOptions limits what the operator watches: some namespaces, and for sharding, the resources
// that match a label selector.
func cacheOptions(f flags) (cache.Options, error) {
	// managedFields are half of a resource's size and the operator never reads them.
	opts := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if f.watchNamespaces != "" {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range strings.Split(f.watchNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns != "" {
				opts.DefaultNamespaces[ns] = cache.Config{}
			}
		}
	}
	if f.watchLabelSelector != "" {
		selector, err := labels.Parse(f.watchLabelSelector)
		if err != nil {
			return opts, fmt.Errorf("--watch-label-selector: %w", err)
		}
		opts.ByObject = map[client.Object]cache.ByObject{
			&intunev1alpha1.DeviceConfigurationUserOverview{}: {Label: selector},
		}
	}
	return opts, nil
}
