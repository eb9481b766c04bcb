// Command bench is `make bench`: it measures how close overview-operator comes to Intune's throttling
// limits, and what it costs. It starts a local control plane with the CRDs, the Graph emulator with
// added latency and Intune's throttling windows (shortened by -time-scale so that a run fits in
// minutes), and the operator's own binary (bin/manager) with its Graph budget window shortened by
// the same factor; then it measures, for -n resources spread over -tenants tenants:
//
//  1. the first sync of drifted resources, next to the least time the emulator's windows allow;
//  2. the steady state over one full sync interval with no drift;
//  3. the latency from a spec change to the PATCH reaching the emulator;
//  4. the operator's peak heap, peak RSS and CPU seconds;
//  5. with -tenants >= 2, a small tenant's time to Ready while a big one has a backlog;
//  6. the Graph client alone (`go test -bench ./hack/bench/graphclient`);
//  7. the API server's writes alone;
//  8. with -replicas N >= 2, N operator processes with --sharding instead of one: the first sync
//     shared by tenant, one replica killed (SIGKILL) when half the resources are Ready and another
//     stopped (SIGTERM) when three quarters are; each replica's tenants, CPU and RSS, the
//     hand-over times, and the moments two replicas sent for one tenant (replicas.go). Figures 2,
//     3, 4 and 5 are left out then.
//
// It prints a markdown table and writes it, with the figures as JSON, to -out (bench.md and
// bench.json), and draws the first sync as firstsync.svg. With -sweep it runs instead a list of
// configurations of the first sync (sweep.go), each in a fresh environment, and writes sweep.md and
// sweep.json. docs/performance.md explains each figure in short, docs/performance-log.md in full.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	root           string
	out            string
	n              int
	deviceShare    float64 // the share of the n resources that are DeviceConfigurationDeviceOverviews
	tenants        int
	timeScale      float64
	latency        time.Duration
	syncInterval   time.Duration
	changes        int
	workers        int
	clientBench    bool
	apiServerBench bool
	steady         bool
	operatorArgs   string
	replicas       int // operator processes; 2 or more run them with --sharding (figure 8)

	sweep      bool    // run the sweep instead of the figures
	sweepOnly  string  // comma-separated labels of the entries to run; "" for all
	sweepScale float64 // factor on every sweep entry's n, for a quick smoke run

	// firstSyncOnly is set on a sweep entry's config: figures 1 and 5 alone, and a first sync that
	// times out is a result, not a failure.
	firstSyncOnly bool
}

func main() {
	var c config
	flag.StringVar(&c.root, "root", ".", "The repository's root (CRDs, bin/manager, bin/k8s).")
	flag.StringVar(&c.out, "out", "bin/bench", "Directory for the results: bench.md, bench.json, requests.csv (the emulator's log) and operator.log.")
	flag.IntVar(&c.n, "n", 1000, "Resources (DeviceConfigurationUserOverviews, and DeviceConfigurationDeviceOverviews by -device-overviews), 1 to 100000 (above 10,000, for the memory figure of issue 21: give it a larger -time-scale, and expect tens of minutes).")
	flag.Float64Var(&c.deviceShare, "device-overviews", 0, "The share of the resources, 0 to 1, that are DeviceConfigurationDeviceOverviews, the rest DeviceConfigurationUserOverviews, in every tenant and every figure; e.g. 0.5 for 500 + 500 at -n 1000. Both kinds share their tenant's budget.")
	flag.IntVar(&c.tenants, "tenants", 1, "Tenants the resources are spread over; 2 or more adds the fairness figure.")
	flag.Float64Var(&c.timeScale, "time-scale", 5, "Factor that shortens Intune's 20s throttling window in the emulator, and the operator's budget window alike (and the default sync interval), so that a run fits in minutes.")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "Latency the emulator adds to every Graph answer.")
	flag.DurationVar(&c.syncInterval, "sync-interval", 0, "The operator's --sync-interval (default: its 10m default divided by -time-scale).")
	flag.IntVar(&c.changes, "changes", 100, "Resources whose spec is changed for the change-latency figure.")
	flag.IntVar(&c.workers, "workers", 0, "The operator's --max-concurrent-reconciles (default: the operator's default).")
	flag.BoolVar(&c.clientBench, "client-bench", true, "Run the Graph client benchmark (figure 6).")
	flag.BoolVar(&c.apiServerBench, "apiserver-bench", true, "Run the API server benchmark (figure 7): what a create, a status write, a spec update and an event cost the API server alone.")
	flag.BoolVar(&c.steady, "steady", true, "Run the steady state (figure 2), which watches one whole sync interval; without it, the change latency (figure 3) follows the first sync once its status writes are over.")
	flag.StringVar(&c.operatorArgs, "operator-args", "", "More flags for the operator, space-separated, e.g. \"--zap-log-level=debug\" to see its budget waits in operator.log.")
	flag.IntVar(&c.replicas, "replicas", 1, "Operator processes. 1 runs one operator, without --sharding, as always; 2 or more run that many with --sharding (each a POD_NAME of its own, their Leases in the namespace bench-shards) for the first sync alone, kill one (SIGKILL) when half the resources are Ready and stop another (SIGTERM) when three quarters are, and add figure 8. Use with -tenants of at least the replicas.")
	flag.BoolVar(&c.sweep, "sweep", false, "Run the first-sync sweep instead (each entry in a fresh environment; -n, -tenants, -latency, -time-scale and -sync-interval are the entries' own): writes sweep.md, sweep.json and firstsync-<label>.svg to -out, each entry's results to -out/<label>/.")
	flag.StringVar(&c.sweepOnly, "sweep-only", "", "With -sweep, the comma-separated labels of the entries to run, e.g. \"lat20-t1,drain4000\" (default: all of "+sweepLabels()+").")
	flag.Float64Var(&c.sweepScale, "sweep-scale", 1, "With -sweep, a factor on every entry's resources (at least 10 each), for a quick smoke run of the sweep itself, e.g. 0.05.")
	flag.Parse()

	if err := c.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.sweep {
		if err := runSweep(ctx, c); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	res, err := run(ctx, c)
	if err == nil && c.clientBench {
		logf("Figure 6: the Graph client alone (go test -bench %s)", clientBenchPackage)
		res.Client, err = runClientBench(ctx, c.root)
	}
	if err == nil && c.apiServerBench {
		logf("Figure 7: the API server's writes alone (go test -bench %s)", apiServerBenchPackage)
		res.APIServer, err = runAPIServerBench(ctx, c.root)
	}
	if res != nil {
		if werr := writeResults(c.out, res); werr != nil {
			fmt.Fprintln(os.Stderr, "bench: write the results:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// validate checks the flags and fills in what follows from them: the sync interval, the absolute
// root and -out (created).
func (c *config) validate() error {
	if err := c.validateSweep(); err != nil {
		return err
	}
	switch {
	case c.n < 1 || c.n > 100000:
		return fmt.Errorf("-n must be between 1 and 100000, not %d", c.n)
	case !(c.deviceShare >= 0 && c.deviceShare <= 1): // NaN too
		return fmt.Errorf("-device-overviews is the share of the resources that are DeviceConfigurationDeviceOverviews: between 0 and 1, not %v", c.deviceShare)
	case c.tenants < 1 || c.tenants > c.n:
		return fmt.Errorf("-tenants must be between 1 and -n, not %d", c.tenants)
	case c.timeScale < 1 || c.timeScale > 100:
		return fmt.Errorf("-time-scale must be between 1 and 100, not %v", c.timeScale)
	case c.latency < 0:
		return fmt.Errorf("-latency must not be negative")
	case c.changes < 1:
		return fmt.Errorf("-changes must be at least 1")
	case c.replicas < 0 || c.replicas > 10: // 0, in a config built in code, is 1
		return fmt.Errorf("-replicas must be between 1 and 10, not %d", c.replicas)
	case c.replicas > 1 && c.sweep:
		return fmt.Errorf("-replicas and -sweep cannot be used together")
	}
	if c.syncInterval == 0 {
		c.syncInterval = defaultSyncInterval(c.timeScale)
	}
	c.changes = min(c.changes, c.n)
	var err error
	if c.root, err = filepath.Abs(c.root); err != nil {
		return err
	}
	if !filepath.IsAbs(c.out) {
		c.out = filepath.Join(c.root, c.out)
	}
	return os.MkdirAll(c.out, 0o755)
}

// defaultSyncInterval is the operator's 10 min default divided by the time scale, in whole seconds.
func defaultSyncInterval(timeScale float64) time.Duration {
	return time.Duration(float64(10*time.Minute) / timeScale).Round(time.Second)
}

// logf prints a progress line, with the time of day, to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
