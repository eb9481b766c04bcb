// Command demo is `make demo`: it runs overview-operator end to end on this machine. It starts a
// local control plane with the CRDs, the Graph emulator with the samples' tenant and device
// configurations, the Secret and GraphConnection, and the operator's own binary; applies the sample
// DeviceConfigurationUserOverviews and DeviceConfigurationDeviceOverviews; waits for them all to be
// Ready; and prints them next to what the emulator received, and exports the whole tenant, two
// configurations not yet under management included, with the kubectl plugin (bin/kubectl-intune).
// Then it keeps running, printing every PATCH the emulator receives, until Ctrl-C; with --exit it
// stops after the table.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

const namespace = "default"

// samples are the resources the demo applies: the overviews of users and of devices of two
// configurations (the samples' connections point at the real Microsoft cloud, so the demo makes its
// own "contoso" instead).
var samples = []string{
	"config/samples/intune_v1alpha1_deviceconfigurationuseroverview_manage.yaml",
	"config/samples/intune_v1alpha1_deviceconfigurationuseroverview_observeonly.yaml",
	"config/samples/intune_v1alpha1_deviceconfigurationdeviceoverview_manage.yaml",
	"config/samples/intune_v1alpha1_deviceconfigurationdeviceoverview_observeonly.yaml",
}

func main() {
	exit := flag.Bool("exit", false, "Stop after printing the table (for tests and CI).")
	root := flag.String("root", ".", "The repository's root.")
	timeout := flag.Duration("timeout", 2*time.Minute, "How long to wait for the resources to be Ready.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *root, *exit, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, exit bool, timeout time.Duration) error {
	var live atomic.Bool // print the emulator's PATCHes once the table is out
	step(1, "Starting the local control plane (kube-apiserver and etcd from bin/k8s) with the CRDs")
	env, err := localenv.Start(localenv.Options{Root: root, Emulator: graphtest.Options{
		OnRequest: func(r graphtest.Request) {
			if live.Load() && r.Kind == graphtest.KindGraph && r.Method == http.MethodPatch {
				fmt.Printf("%s  emulator received PATCH %s/%s → %d  %s\n", r.Time.Format("15:04:05"), r.ConfigurationID, r.Entity, r.Status, r.Body)
			}
		},
	}})
	if err != nil {
		return err
	}
	defer env.Stop()

	step(2, "Graph emulator at %s: tenant %s, app %s, device configurations %s and %s",
		env.Emulator.URL(), localenv.SampleTenantID, localenv.SampleClientID, localenv.SampleWifiConfigID, localenv.SampleVPNConfigID)
	env.SeedSamples()
	// The samples' overviews of devices: the Manage one's differs from its spec, so that the
	// operator PATCHes it; the ObserveOnly one's has errors, which its status lists as drift.
	deviceLast := time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)
	env.Emulator.SeedDevice(localenv.SampleTenantID, localenv.SampleWifiConfigID, graphtest.Overview{
		PendingCount: 6, SuccessCount: 37, FailedCount: 4, ConfigurationVersion: 2, LastUpdateDateTime: deviceLast})
	env.Emulator.SeedDevice(localenv.SampleTenantID, localenv.SampleVPNConfigID, graphtest.Overview{
		PendingCount: 2, SuccessCount: 88, ErrorCount: 2, ConfigurationVersion: 5, LastUpdateDateTime: deviceLast})
	// Configurations no resource manages yet: what an export of the tenant brings under Git.
	for id, name := range unmanaged {
		last := time.Date(2026, 11, 30, 17, 45, 12, 123456700, time.UTC)
		env.Emulator.SeedConfiguration(localenv.SampleTenantID, id, graphtest.Configuration{DisplayName: name})
		env.Emulator.Seed(localenv.SampleTenantID, id, graphtest.Overview{SuccessCount: 41, PendingCount: 3, ConfigurationVersion: 7, LastUpdateDateTime: last})
		env.Emulator.SeedDevice(localenv.SampleTenantID, id, graphtest.Overview{SuccessCount: 58, PendingCount: 5, ConfigurationVersion: 7, LastUpdateDateTime: last})
	}

	step(3, "Creating Secret %q and GraphConnection %q in namespace %q", localenv.SampleSecret, localenv.SampleConnection, namespace)
	if err := env.CreateSampleConnection(ctx, namespace); err != nil {
		return err
	}

	step(4, "Starting the operator (bin/manager), log in %s", filepath.Join(env.Dir, "operator.log"))
	op, err := env.StartOperator("operator", "--sync-interval=1m", "--zap-log-level=info")
	if err != nil {
		return err
	}
	defer func() { _, _ = op.Stop(15 * time.Second) }()

	step(5, "Applying the samples: kubectl apply -f %s", strings.Join(samples, " -f "))
	args := []string{"apply", "-n", namespace}
	for _, s := range samples {
		args = append(args, "-f", s)
	}
	if _, _, err := env.Kubectl().Output(ctx, args...); err != nil {
		return err
	}

	step(6, "Waiting for Ready (kubectl wait --for=condition=Ready dcuo,dcdo --all)")
	out, _, err := env.Kubectl().Output(ctx, "wait", "-n", namespace, "--for=condition=Ready", "dcuo,dcdo", "--all",
		fmt.Sprintf("--timeout=%s", timeout))
	if err != nil {
		return fmt.Errorf("%w\noperator log:\n%s", err, op.Tail(20))
	}
	fmt.Print(out)

	if err := printTable(ctx, env); err != nil {
		return err
	}
	if err := exportTenant(ctx, env); err != nil {
		return err
	}
	if exit {
		return nil
	}

	live.Store(true)
	kubectl, _ := filepath.Rel(mustGetwd(), env.Kubectl().Path)
	fmt.Printf(`
The operator keeps running. In another terminal:

  export KUBECONFIG=%s
  %s get dcuo,dcdo -w
  %s patch dcdo wifi-baseline --type merge -p '{"spec":{"overview":{"successCount":20}}}'
  %s describe dcuo wifi-baseline

and watch the emulator receive the PATCH below. Ctrl-C stops everything.

`, env.Kubeconfig, kubectl, kubectl, kubectl)
	<-ctx.Done()
	fmt.Println("\nStopping the operator, the emulator and the control plane")
	return nil
}

// unmanaged are device configurations of the demo tenant that no sample manages.
var unmanaged = map[string]string{
	"3c9a7e21-5b4d-4f6e-8a1b-2c3d4e5f6a7b": "BitLocker encryption",
	"8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968": "Windows Update ring (pilot)",
}

// exportTenant runs `kubectl intune export` over the demo tenant's connection, as a platform team
// adopting the tenant would, and shows what it wrote.
func exportTenant(ctx context.Context, env *localenv.Env) error {
	dir := filepath.Join(env.Dir, "export")
	args := []string{"export", "--kubeconfig", env.Kubeconfig, "--connection", localenv.SampleConnection, "-n", namespace,
		"--target-namespace", "adopted", "--allowed-endpoint-hosts", "127.0.0.1", "--output-dir", dir}
	step(7, "Exporting the tenant: kubectl intune %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(env.Root, "bin", "kubectl-intune"), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl intune export (run make build): %w", err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println("  " + filepath.Join(dir, f.Name()))
	}
	if len(files) > 0 {
		first, err := os.ReadFile(filepath.Join(dir, files[0].Name()))
		if err != nil {
			return err
		}
		fmt.Printf("\n%s:\n%s", files[0].Name(), first)
	}
	return nil
}

// kinds are the kinds the demo shows, with their short names and what the emulator holds of their
// overview.
var kinds = []struct {
	short, segment string
	list           client.ObjectList
	held           func(s *graphtest.Server, tenantID, configurationID string) (graphtest.Overview, bool)
}{
	{"dcuo", graphtest.UserStatusOverview, &intunev1alpha1.DeviceConfigurationUserOverviewList{}, (*graphtest.Server).Overview},
	{"dcdo", graphtest.DeviceStatusOverview, &intunev1alpha1.DeviceConfigurationDeviceOverviewList{}, (*graphtest.Server).DeviceOverview},
}

// printTable shows each resource's status next to what the emulator holds and received.
func printTable(ctx context.Context, env *localenv.Env) error {
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "RESOURCE\tPOLICY\tREADY\tREASON\tDRIFT\tSTATUS.OBSERVED\tEMULATOR HOLDS\tGET\tPATCH\tPATCH BODY")
	for _, k := range kinds {
		if err := env.Client.List(ctx, k.list, client.InNamespace(namespace)); err != nil {
			return err
		}
		items, err := meta.ExtractList(k.list)
		if err != nil {
			return err
		}
		for _, item := range items {
			o, ok := item.(intunev1alpha1.Overview)
			if !ok {
				return fmt.Errorf("a %T is not an overview", item)
			}
			spec, status := o.OverviewSpec(), o.OverviewStatus()
			var ready, reason string
			if c := meta.FindStatusCondition(status.Conditions, intunev1alpha1.ConditionReady); c != nil {
				ready, reason = string(c.Status), c.Reason
			}
			id := spec.DeviceConfigurationID
			held, _ := k.held(env.Emulator, localenv.SampleTenantID, id)
			gets, patches, body := 0, 0, "-"
			for _, r := range env.Emulator.Requests() {
				if r.Kind != graphtest.KindGraph || r.ConfigurationID != id || r.Entity != k.segment {
					continue
				}
				switch r.Method {
				case http.MethodGet:
					gets++
				case http.MethodPatch:
					patches++
					body = string(r.Body)
				}
			}
			fmt.Fprintf(w, "%s/%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%s\n", k.short, o.GetName(), spec.ManagementPolicy, ready, reason,
				status.DriftCount, counts(status.Observed), heldCounts(held), gets, patches, body)
		}
	}
	return w.Flush()
}

func counts(o *intunev1alpha1.ObservedOverview) string {
	if o == nil {
		return "-"
	}
	return fmt.Sprintf("success=%d failed=%d error=%d v%d", o.SuccessCount, o.FailedCount, o.ErrorCount, o.ConfigurationVersion)
}

func heldCounts(o graphtest.Overview) string {
	return fmt.Sprintf("success=%d failed=%d error=%d v%d", o.SuccessCount, o.FailedCount, o.ErrorCount, o.ConfigurationVersion)
}

func step(n int, format string, args ...any) {
	fmt.Printf("[%d/7] %s\n", n, fmt.Sprintf(format, args...))
}

func mustGetwd() string {
	wd, _ := os.Getwd()
	return wd
}
