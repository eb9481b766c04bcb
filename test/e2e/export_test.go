package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The export's own tenant in the suite's emulator, so that its configurations are the only ones
// listed.
const (
	exportTenant = "e0e0e0e0-0000-4000-8000-000000000001"
	exportApp    = "e0e0e0e0-0000-4000-8000-000000000002"
	exportSecret = "export-e2e-secret"
)

var _ = Describe("kubectl intune export", Ordered, func() {
	const configurations = 60 // two pages of 25 and one of 10
	var ns string

	BeforeAll(func() {
		plugin := filepath.Join(root, "bin", "kubectl-intune")
		if _, err := os.Stat(plugin); err != nil {
			Fail(plugin + " is missing: run make build")
		}
		env.Emulator.AddApp(graphtest.App{TenantID: exportTenant, ClientID: exportApp, ClientSecret: exportSecret})
		for i := range configurations {
			id := fmt.Sprintf("%08x-2222-4000-8000-%012x", (i*7919)%configurations, i)
			name := fmt.Sprintf("Windows baseline %d", i)
			if i < 2 {
				name = "Wi-Fi HQ" // two configurations with the same display name
			}
			env.Emulator.SeedConfiguration(exportTenant, id, graphtest.Configuration{DisplayName: name})
			o := graphtest.Overview{
				PendingCount: int32(i % 7), SuccessCount: int32(i), ErrorCount: int32(i % 2), FailedCount: int32(i % 3),
				ConfigurationVersion: int32(i%5 + 1),
				// Graph's 7 fractional digits, which the spec must carry to the tick.
				LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute + 1234567*100*time.Nanosecond),
			}
			env.Emulator.Seed(exportTenant, id, o)
			o.SuccessCount, o.NotApplicableCount = int32(2*i), int32(i%4)
			env.Emulator.SeedDevice(exportTenant, id, o)
		}
		ns = testutil.NewNamespace(ctx, env.Client, "export")
		Expect(env.Client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-graph"},
			StringData: map[string]string{"clientSecret": exportSecret},
		})).To(Succeed())
		createExportConnection(ns, "tenant", exportTenant, "tenant-graph")
	})

	It("exports every configuration once of each kind, and the output applied becomes Ready under the operator with no PATCH and no drift", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "tenant")
		By("running the plugin through kubectl, as a user does, with a GraphConnection that points at the emulator")
		stdout, stderr, err := kubectlIntune("export", "--connection", "tenant", "-n", ns, "--policy", "Manage",
			"--allowed-endpoint-hosts", "127.0.0.1", "--output-dir", dir)
		Expect(err).NotTo(HaveOccurred(), "stderr:%s", testutil.Lines(stderr))
		Expect(stdout).To(BeEmpty())
		Expect(stderr).To(ContainSubstring("listed 25 device configurations"))
		Expect(stderr).To(ContainSubstring(fmt.Sprintf("wrote %d DeviceConfigurationUserOverviews and %d DeviceConfigurationDeviceOverviews", configurations, configurations)))

		files, err := os.ReadDir(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(configurations), "a file per configuration, holding its two resources")
		wifi := 0
		for _, f := range files {
			name := strings.TrimSuffix(f.Name(), ".yaml")
			Expect(validation.IsDNS1123Subdomain(name)).To(BeEmpty(), name)
			if strings.HasPrefix(name, "wi-fi-hq-") {
				wifi++
			}
		}
		Expect(wifi).To(Equal(2), "the two Wi-Fi HQ configurations get a name each")

		By("applying the directory")
		kubectl.Run("apply", "-f", dir)
		users, devices := &intunev1alpha1.DeviceConfigurationUserOverviewList{}, &intunev1alpha1.DeviceConfigurationDeviceOverviewList{}
		listed := func() []intunev1alpha1.Overview {
			GinkgoHelper()
			Expect(env.Client.List(ctx, users, client.InNamespace(ns))).To(Succeed())
			Expect(env.Client.List(ctx, devices, client.InNamespace(ns))).To(Succeed())
			var all []intunev1alpha1.Overview
			for i := range users.Items {
				all = append(all, &users.Items[i])
			}
			for i := range devices.Items {
				all = append(all, &devices.Items[i])
			}
			return all
		}
		all := listed()
		Expect(users.Items).To(HaveLen(configurations))
		Expect(devices.Items).To(HaveLen(configurations))
		ids := map[string]bool{}
		for _, o := range all {
			key := o.GetObjectKind().GroupVersionKind().Kind + "/" + o.OverviewSpec().DeviceConfigurationID
			Expect(ids).NotTo(HaveKey(key))
			ids[key] = true
		}

		By("running the operator: every resource becomes Ready, UpToDate, without a PATCH")
		startOperator("export", "--watch-namespaces="+ns)
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo", "--all", "--timeout=180s")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcdo", "--all", "--timeout=180s")
		for _, o := range listed() {
			status := o.OverviewStatus()
			ready := meta.FindStatusCondition(status.Conditions, intunev1alpha1.ConditionReady)
			Expect(ready).NotTo(BeNil(), o.GetName())
			Expect(ready.Reason).To(Equal(intunev1alpha1.ReasonUpToDate), "%s: %s", o.GetName(), ready.Message)
			Expect(status.DriftCount).To(BeZero(), o.GetName())
		}
		Expect(env.Emulator.CountRequests(func(r graphtest.Request) bool {
			return r.Kind == graphtest.KindGraph && r.TenantID == exportTenant && r.Method == http.MethodPatch
		})).To(BeZero())
		Expect(env.Emulator.CountRequests(func(r graphtest.Request) bool {
			return r.TenantID == exportTenant && r.Throttled
		})).To(BeZero(), "the export and the operator together stay under the tenant's limits")
	})

	It("writes a YAML stream that kubectl accepts", func() {
		stdout, stderr, err := kubectlIntune("export", "--connection", "tenant", "-n", ns, "--name-filter", "wi-fi",
			"--target-namespace", "elsewhere", "--allowed-endpoint-hosts", "127.0.0.1")
		Expect(err).NotTo(HaveOccurred(), "stderr:%s", testutil.Lines(stderr))
		Expect(strings.Count(stdout, "kind: DeviceConfigurationUserOverview\n")).To(Equal(2))
		Expect(strings.Count(stdout, "kind: DeviceConfigurationDeviceOverview\n")).To(Equal(2))
		Expect(stdout).To(ContainSubstring("namespace: elsewhere"))
		Expect(stdout).To(ContainSubstring("managementPolicy: ObserveOnly"))
		stream := filepath.Join(GinkgoT().TempDir(), "export.yaml")
		Expect(os.WriteFile(stream, []byte(stdout), 0o600)).To(Succeed())
		out := kubectl.Run("apply", "--dry-run=client", "-f", stream)
		Expect(strings.Count(out, "created (dry run)")).To(Equal(4), out)
	})

	It("writes one kind with --kind, and refuses a kind it does not know before it signs in", func() {
		stdout, stderr, err := kubectlIntune("export", "--connection", "tenant", "-n", ns, "--name-filter", "wi-fi",
			"--kind", "DeviceConfigurationDeviceOverview", "--allowed-endpoint-hosts", "127.0.0.1")
		Expect(err).NotTo(HaveOccurred(), "stderr:%s", testutil.Lines(stderr))
		Expect(strings.Count(stdout, "kind: DeviceConfigurationDeviceOverview\n")).To(Equal(2))
		Expect(stdout).NotTo(ContainSubstring("kind: DeviceConfigurationUserOverview"))

		_, stderr, err = kubectlIntune("export", "--connection", "nope", "-n", ns, "--kind", "dcuo")
		Expect(err).To(HaveOccurred())
		Expect(stderr).To(ContainSubstring(`--kind "dcuo": want DeviceConfigurationUserOverview, DeviceConfigurationDeviceOverview or all`))
	})

	DescribeTable("fails with a clear error, a non-zero exit and nothing written",
		func(setup func() []string, want string) {
			dir := filepath.Join(GinkgoT().TempDir(), "out")
			stdout, stderr, err := kubectlIntune(append(setup(), "--output-dir", dir)...)
			var exit *exec.ExitError
			Expect(errors.As(err, &exit)).To(BeTrue(), "kubectl intune ran and exited non-zero: %v", err)
			Expect(stderr).To(ContainSubstring(want))
			Expect(stdout).To(BeEmpty())
			Expect(dir).NotTo(BeADirectory())
			left, _ := os.ReadDir(filepath.Dir(dir))
			Expect(left).To(BeEmpty(), "no temporary directory left behind")
		},
		Entry("an unknown connection", func() []string {
			return []string{"export", "--connection", "nope", "-n", ns, "--allowed-endpoint-hosts", "127.0.0.1"}
		}, `GraphConnection "nope" in namespace`),
		Entry("a wrong secret", func() []string {
			Expect(env.Client.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wrong-graph"},
				StringData: map[string]string{"clientSecret": "not-the-secret"},
			})).To(Succeed())
			createExportConnection(ns, "wrong", exportTenant, "wrong-graph")
			return []string{"export", "--connection", "wrong", "-n", ns, "--allowed-endpoint-hosts", "127.0.0.1"}
		}, "Invalid client secret"),
		Entry("a tenant with no configurations", func() []string {
			const empty = "e0e0e0e0-0000-4000-8000-0000000000ee"
			env.Emulator.AddApp(graphtest.App{TenantID: empty, ClientID: exportApp, ClientSecret: exportSecret})
			createExportConnection(ns, "empty", empty, "tenant-graph")
			return []string{"export", "--connection", "empty", "-n", ns, "--allowed-endpoint-hosts", "127.0.0.1"}
		}, "the tenant has no device configurations"),
		Entry("a connection whose endpoint is not a national cloud's, without --allowed-endpoint-hosts", func() []string {
			return []string{"export", "--connection", "tenant", "-n", ns}
		}, "--allowed-endpoint-hosts=127.0.0.1"),
	)
})

// createExportConnection creates a GraphConnection to a tenant in the emulator, as the export's app,
// that reads its client secret from secret.
func createExportConnection(ns, name, tenant, secret string) {
	GinkgoHelper()
	Expect(env.CreateConnection(ctx, ns, name, tenant, exportApp, secret)).To(Succeed())
}

// kubectlIntune runs `kubectl intune args...` with bin/ on PATH, so that kubectl finds the plugin
// as a user's would, and the admin kubeconfig.
func kubectlIntune(args ...string) (stdout, stderr string, err error) {
	GinkgoHelper()
	bin, err := filepath.Abs(filepath.Join(root, "bin"))
	Expect(err).NotTo(HaveOccurred())
	k := env.Kubectl()
	// kubectl takes no flags before a plugin's name, so the kubeconfig goes in the environment.
	k.Flags, k.Dir = nil, ""
	k.Env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "KUBECONFIG=" + env.Kubeconfig}
	return k.Output(ctx, append([]string{"intune"}, args...)...)
}
