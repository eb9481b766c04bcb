package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/overview-operator/overview-operator/hack/bench/proc"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/scheme"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// bench is one run: the environment, the operator and what the phases share.
type bench struct {
	cfg     config
	env     *localenv.Env
	op      *localenv.Operator
	client  client.Client // raised QPS and burst, for mass creates and updates
	tracker *tracker
	tenants []tenant
	limits  graphtest.Limits // the emulator's limits, Window already scaled
	budget  graph.Limits     // the operator's budget, Per already scaled
	main    []resource       // the -n resources of figures 1 to 3
	results *Results
	started time.Time // the operator's start
	idleRSS float64   // its resident set once it has its tokens, before any resource

	// With -replicas >= 2: the operator processes (op is the first), the replica the first sync
	// killed, and that sync's start and its resources' times to Ready, for figure 8.
	replicas     []*replica
	leaseSeconds float64 // the lease duration their Leases state
	killed       *handOver
	stopped      *handOver
	firstT0      time.Time
	firstReady   []time.Time
	firstCreated []time.Time
}

// run starts everything, runs the phases of figures 1 to 5 in order and stops everything. It
// returns the results gathered so far even when a phase fails.
func run(ctx context.Context, cfg config) (*Results, error) {
	b := &bench{cfg: cfg, results: newResults(cfg)}
	window := time.Duration(float64(graphtest.IntuneLimits().Window) / cfg.timeScale)
	b.limits = graphtest.IntuneLimits()
	b.limits.Window = window
	b.budget = graph.DefaultLimits()
	b.budget.Per = time.Duration(float64(b.budget.Per) / cfg.timeScale)
	b.results.Settings.EmulatorWindowSeconds = window.Seconds()
	b.results.Settings.BudgetWindowSeconds = b.budget.Per.Seconds()

	logf("Time scale %gx: Intune's 20s windows last %v in the emulator and in the operator's budget; sync interval %v",
		cfg.timeScale, window, cfg.syncInterval)
	logf("Starting the local control plane and the Graph emulator (latency %v, Intune's limits, fractional Retry-After)", cfg.latency)
	env, err := localenv.Start(localenv.Options{Root: cfg.root, Emulator: graphtest.Options{
		TimeScale:            cfg.timeScale,
		FractionalRetryAfter: true,
		HTTP2:                true, // as Graph: the operator's calls share a connection per tenant
	}})
	if err != nil {
		return b.results, err
	}
	b.env = env
	defer env.Stop()
	if cfg.latency > 0 {
		env.Emulator.Inject(graphtest.Fault{Latency: cfg.latency})
	}

	rc := rest.CopyConfig(env.Config)
	rc.QPS, rc.Burst = 2000, 4000
	wc, err := client.NewWithWatch(rc, client.Options{Scheme: scheme.New()})
	if err != nil {
		return b.results, err
	}
	b.client = wc
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	if b.tracker, err = startTracker(trackCtx, wc); err != nil {
		return b.results, err
	}

	for i := range cfg.tenants {
		t := newTenant(i)
		if err := t.setUp(ctx, env); err != nil {
			return b.results, err
		}
		b.tenants = append(b.tenants, t)
	}
	b.main = newResources("ov", 1, cfg.n, b.tenants, cfg.deviceShare)
	byKind := countKinds(b.main)
	b.results.Settings.UserOverviews, b.results.Settings.DeviceOverviews = byKind[userKind], byKind[deviceKind]
	seed(env.Emulator, b.main, true)

	if cfg.replicas > 1 {
		defer func() {
			for _, r := range b.replicas {
				r.op.Kill() // at once if it has stopped
			}
		}()
		if err := b.startReplicas(ctx); err != nil {
			return b.results, err
		}
		return b.results, b.runReplicas(ctx)
	}
	if err := b.startOperator(ctx); err != nil {
		return b.results, err
	}
	opStopped := false
	defer func() {
		if !opStopped {
			b.op.Kill()
		}
	}()

	phaseErr := b.phases(ctx)

	b.results.Cost = b.cost()
	if err := b.writeRequestLog(filepath.Join(cfg.out, "requests.csv")); err != nil {
		logf("Could not write the request log: %v", err)
	}
	logf("Stopping the operator")
	_, _ = b.op.Stop(30 * time.Second)
	opStopped = true
	if err := copyFile(b.op.Log, filepath.Join(cfg.out, "operator.log")); err != nil {
		logf("Could not keep the operator's log: %v", err)
	}
	return b.results, phaseErr
}

// runReplicas is a -replicas run once the replicas are up: the first sync (with one replica killed
// half-way), the SIGTERM hand-over and figure 8; then it stops the replicas and keeps their logs.
func (b *bench) runReplicas(ctx context.Context) error {
	logf("-replicas %d: the first sync alone (figures 2, 3, 4 and 5 are left out), then figure 8", b.cfg.replicas)
	phaseErr := b.replicaPhases(ctx)
	if err := b.writeRequestLog(filepath.Join(b.cfg.out, "requests.csv")); err != nil {
		logf("Could not write the request log: %v", err)
	}
	logf("Stopping the replicas")
	for _, r := range b.live() {
		_, _ = r.op.Stop(30 * time.Second)
	}
	for _, r := range b.replicas {
		if err := copyFile(r.op.Log, filepath.Join(b.cfg.out, "operator-"+r.name+".log")); err != nil {
			logf("Could not keep %s's log: %v", r.name, err)
		}
	}
	return phaseErr
}

// startOperator runs bin/manager with the scaled budget window and plain-HTTP metrics, and waits
// until it has a token for every tenant.
func (b *bench) startOperator(ctx context.Context) error {
	flags := append(b.baseOperatorFlags(), strings.Fields(b.cfg.operatorArgs)...) // later flags win
	b.results.Settings.OperatorFlags = flags
	logf("Starting the operator: bin/manager %v", flags)
	// The runtime's GC trace goes to the operator's log: the heap at each collection, and what is
	// left live after it, without scraping the operator while it works. Only the operator's: the go
	// commands the benchmark runs later (figure 6) would print theirs.
	op, err := b.env.StartOperatorWithEnv("operator", []string{"GODEBUG=gctrace=1"}, flags...)
	if err != nil {
		return err
	}
	b.op, b.started = op, time.Now()
	for _, t := range b.tenants {
		if err := t.waitConnectionReady(ctx, b.env, time.Minute); err != nil {
			op.Kill()
			return fmt.Errorf("%w\noperator log:\n%s", err, op.Tail(20))
		}
	}
	b.idleRSS, _ = procStatus(op.PID(), "VmRSS")
	return nil
}

// baseOperatorFlags are the operator's flags before -operator-args: the scaled budget window and
// sync interval, plain-HTTP metrics, and -workers.
func (b *bench) baseOperatorFlags() []string {
	flags := []string{
		"--metrics-secure=false",
		"--sync-interval=" + b.cfg.syncInterval.String(),
		"--graph-budget-window=" + b.budget.Per.String(),
		"--zap-log-level=info",
	}
	if b.cfg.workers > 0 {
		flags = append(flags, "--max-concurrent-reconciles="+strconv.Itoa(b.cfg.workers))
	}
	return flags
}

// replicaPhases are the phases of a -replicas run: the first sync, during which disrupt kills a
// replica and stops another, and figure 8, from what they did.
func (b *bench) replicaPhases(ctx context.Context) error {
	var err error
	b.mark("first sync", func() { b.results.FirstSync, err = b.firstSync(ctx) })
	if err != nil {
		err = fmt.Errorf("first sync: %w\n%s", err, b.tails())
	}
	if b.results.FirstSync != nil {
		b.results.Replicas = b.replicaFigures(b.results.FirstSync, b.firstT0, b.firstReady, b.killed, b.stopped)
		logReplicas(b.results.Replicas)
	}
	return err
}

// phases runs the measurements in order; each needs the state the one before left. A sweep entry
// (firstSyncOnly) runs the first sync and fairness alone, and takes a first sync that timed out as
// a result: the entry's row says how many were left.
func (b *bench) phases(ctx context.Context) error {
	var err error
	b.mark("first sync", func() { b.results.FirstSync, err = b.firstSync(ctx) })
	if b.cfg.firstSyncOnly && errors.Is(err, errNotReady) {
		// The backlog still draining would be in fairness's way: its figure would not mean much.
		logf("First sync: %v; the entry records them and skips fairness", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("first sync: %w\noperator log:\n%s", err, b.op.Tail(20))
	}
	if b.cfg.firstSyncOnly {
		// What figure 2 does first: fairness starts once the first sync's status writes are over.
		b.tracker.waitQuiet(ctx, 2*time.Second, 30*time.Second)
	} else if err := b.settledPhases(ctx); err != nil {
		return err
	}
	if len(b.tenants) >= 2 {
		b.mark("fairness", func() { b.results.Fairness, err = b.fairness(ctx) })
		if err != nil {
			return fmt.Errorf("fairness: %w\noperator log:\n%s", err, b.op.Tail(20))
		}
	}
	return nil
}

// settledPhases are figures 2 and 3, which start from a first sync that has settled.
func (b *bench) settledPhases(ctx context.Context) error {
	var err error
	if b.cfg.steady {
		b.mark("steady state", func() { b.results.Steady, err = b.steadyState(ctx) })
		if err != nil {
			return fmt.Errorf("steady state: %w", err)
		}
	} else {
		// As the steady state does first, and then until the first sync's last writes have left
		// Graph's window, which the steady state's interval leaves behind: the changes go into an
		// idle tenant.
		b.tracker.waitQuiet(ctx, 2*time.Second, 30*time.Second)
		if err := b.waitWindow(ctx); err != nil {
			return err
		}
	}
	b.mark("change latency", func() { b.results.Change, err = b.changeLatency(ctx) })
	if err != nil {
		return fmt.Errorf("change latency: %w\noperator log:\n%s", err, b.op.Tail(20))
	}
	return nil
}

// mark runs a phase and notes when it started and ended, in seconds since the operator started.
func (b *bench) mark(name string, phase func()) {
	start := time.Since(b.started).Seconds()
	phase()
	b.results.Phases = append(b.results.Phases, Phase{Name: name, StartSeconds: start, EndSeconds: time.Since(b.started).Seconds()})
}

// cost reads the operator's peak heap (sampled), peak RSS and CPU time so far.
func (b *bench) cost() *Cost {
	c := &Cost{WallSeconds: time.Since(b.started).Seconds()}
	c.PeakRSSBytes, _ = procStatus(b.op.PID(), "VmHWM")
	c.CPUSeconds, _ = proc.CPUSeconds(b.op.PID())
	c.IdleRSSBytes = b.idleRSS
	c.PeakHeapBytes, c.PeakLiveHeapBytes, c.GCs = gcFigures(b.op.Log)
	c.Resources = b.tracker.counts().objects
	c.ObjectBytes, c.ManagedFieldsBytes = b.objectSizes()
	if families, err := readMetrics(context.Background(), "http://"+b.op.MetricsAddr+"/metrics"); err == nil {
		c.Metrics = samples(families,
			"controller_runtime_reconcile_total", "overview_graph_requests_total", "overview_graph_throttled_total",
			"overview_graph_budget_wait_seconds", "overview_patches_applied_total", "workqueue_retries_total",
			"process_cpu_seconds_total")
	}
	return c
}

// reconciles is how many passes the operator's overview controllers (both kinds') have run so far,
// whatever their result (-1 if its metrics cannot be read).
func (b *bench) reconciles() float64 {
	if len(b.replicas) > 0 {
		sum := 0.0
		for _, r := range b.replicas {
			u := r.use()
			if u.passes < 0 {
				return -1
			}
			sum += u.passes
		}
		return sum
	}
	families, err := readMetrics(context.Background(), "http://"+b.op.MetricsAddr+"/metrics")
	if err != nil {
		return -1
	}
	sum := 0.0
	for _, k := range kinds {
		sum += families.Value("controller_runtime_reconcile_total", "controller", k.controller())
	}
	return sum
}

// objectSizes is the mean size, as JSON, of an overview resource (of either kind) and of its
// metadata.managedFields: what each one costs in the operator's cache, roughly.
func (b *bench) objectSizes() (obj, managed float64) {
	n := 0
	for _, k := range kinds {
		list := k.newList()
		if err := b.client.List(context.Background(), list); err != nil {
			continue
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			all, _ := json.Marshal(o)
			mf, _ := json.Marshal(o.(metav1.Object).GetManagedFields())
			obj += float64(len(all))
			managed += float64(len(mf))
			n++
			return nil
		})
	}
	if n == 0 {
		return 0, 0
	}
	return obj / float64(n), managed / float64(n)
}

// writeRequestLog writes the emulator's Graph requests as CSV, with times in seconds since the
// operator started (the phases' times in bench.json use the same origin) and the replica that sent
// each (its X-Overview-Operator-Replica header; empty without -replicas).
func (b *bench) writeRequestLog(path string) error {
	return writeCSV(path, "seconds,method,status,throttled,tenant,configuration,entity,replica", func(w io.Writer) {
		for _, r := range b.graphLog(time.Time{}, time.Now().Add(time.Hour)) {
			fmt.Fprintf(w, "%.4f,%s,%d,%t,%s,%s,%s,%s\n", r.Time.Sub(b.started).Seconds(), r.Method, r.Status, r.Throttled, r.TenantID, r.ConfigurationID, r.Entity, r.Replica)
		}
	})
}

// writeCSV writes a CSV file: its header line, then what rows writes.
func writeCSV(path, header string, rows func(w io.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, header)
	rows(w)
	return errors.Join(w.Flush(), f.Close())
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// apiServerMetrics scrapes the API server's own metrics, or returns nil (the figures that need them
// are then left out).
func (b *bench) apiServerMetrics(ctx context.Context) []byte {
	cs, err := kubernetes.NewForConfig(b.env.Config)
	if err != nil {
		return nil
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		logf("Could not read the API server's metrics: %v", err)
		return nil
	}
	return body
}
