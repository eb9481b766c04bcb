package helm

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var (
	allOn     = filepath.Join("testdata", "all-on.yaml")
	plainHTTP = filepath.Join("testdata", "plain-http.yaml")
	// replicas3 is replicaCount: 3 and nothing else: sharding as docs/install.md deploys it.
	replicas3 = filepath.Join("testdata", "replicas-3.yaml")
	// sharded sets every value of sharding's, and a spread of the user's.
	sharded = filepath.Join("testdata", "sharded.yaml")
)

// kinds lists the kinds of objs, once each.
func kinds(objs []*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range objs {
		if !seen[o.GetKind()] {
			seen[o.GetKind()] = true
			out = append(out, o.GetKind())
		}
	}
	return out
}

// createNamespace creates a namespace the rendered objects name, unless it exists: a dry run does
// not create it, and would refuse objects in a namespace that does not exist. Each is labelled as
// docs/install.md says, so that the API server warns about anything the restricted Pod Security
// Standard would refuse.
func createNamespace(name string) {
	GinkgoHelper()
	Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: name,
		Labels: map[string]string{
			"pod-security.kubernetes.io/enforce": "restricted",
			"pod-security.kubernetes.io/warn":    "restricted",
		},
	}}))).To(Succeed())
}

// managerContainer returns the rendered Deployment's manager container.
func managerContainer(objs []*unstructured.Unstructured) map[string]any {
	GinkgoHelper()
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		Expect(err).NotTo(HaveOccurred())
		Expect(containers).To(HaveLen(1))
		return containers[0].(map[string]any)
	}
	Fail("no Deployment rendered")
	return nil
}

// managerHelp returns what bin/manager --help prints: the operator's flags, with their defaults.
func managerHelp() string {
	GinkgoHelper()
	manager := filepath.Join(root, "bin", "manager")
	help, _ := exec.CommandContext(ctx, manager, "--help").CombinedOutput()
	Expect(string(help)).To(ContainSubstring("-sync-interval"), "%s --help; run make build", manager)
	return string(help)
}

// expectFlagsOfManager fails unless the flag of each argument (--name or --name=value) is one that
// bin/manager defines.
func expectFlagsOfManager(args []any) {
	GinkgoHelper()
	help := managerHelp()
	for _, arg := range args {
		name := regexp.MustCompile(`^--([a-z-]+)`).FindStringSubmatch(arg.(string))[1]
		Expect(help).To(MatchRegexp(`(?m)^\s+-`+regexp.QuoteMeta(name)+`(\s|$)`), "%s is not a flag of bin/manager; run make build if it is stale", arg)
	}
}

var _ = Describe("The Helm chart", func() {
	DescribeTable("passes helm lint --strict",
		func(valuesFiles ...string) {
			args := []string{"lint", "--strict", chart}
			for _, f := range valuesFiles {
				args = append(args, "--values", f)
			}
			out, err := run(helmBin, args...)
			Expect(err).NotTo(HaveOccurred(), out)
			Expect(out).To(ContainSubstring("1 chart(s) linted, 0 chart(s) failed"))
		},
		Entry("with the default values"),
		Entry("with every toggle on", allOn),
		Entry("with plain HTTP metrics and no leader election", plainHTTP),
		Entry("with three replicas sharing the work", replicas3),
		Entry("with every sharding setting", sharded),
	)

	DescribeTable("renders the optional objects only when they are turned on",
		func(want, notWant []string, valuesFiles ...string) {
			got := kinds(helmTemplate(valuesFiles...))
			for _, k := range want {
				Expect(got).To(ContainElement(k))
			}
			for _, k := range notWant {
				Expect(got).NotTo(ContainElement(k))
			}
		},
		Entry("with the default values",
			[]string{"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"},
			[]string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget"}),
		Entry("with every toggle on", []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Role", "PodDisruptionBudget"}, nil, allOn),
		Entry("with plain HTTP metrics and no leader election", []string{"ServiceMonitor", "NetworkPolicy"}, []string{"Role", "RoleBinding", "PodDisruptionBudget"}, plainHTTP),
		Entry("with three replicas sharing the work", []string{"Role", "RoleBinding", "PodDisruptionBudget"}, []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy"}, replicas3),
	)

	It("leaves the Go runtime's memory limit to the operator, and keeps a memory limit for it to read, as config/default does", func() {
		// GOMEMLIMIT from the downward API would be the container's whole limit: the heap would
		// crowd the binary's pages out (docs/performance-log.md, "The Go runtime's limit and the
		// binary's pages"). The operator reads the limit itself and leaves them room.
		for source, objs := range map[string][]*unstructured.Unstructured{
			"the chart": helmTemplate(), "config/default": kustomizeBuild(filepath.Join(root, "config", "default")),
		} {
			c := managerContainer(objs)
			env, _, err := unstructured.NestedSlice(c, "env")
			Expect(err).NotTo(HaveOccurred())
			for _, e := range env {
				Expect(e.(map[string]any)["name"]).NotTo(Equal("GOMEMLIMIT"), source)
			}
			limit, _, err := unstructured.NestedString(c, "resources", "limits", "memory")
			Expect(err).NotTo(HaveOccurred())
			Expect(limit).NotTo(BeEmpty(), "%s: the container's memory limit", source)
		}
	})

	It("passes every operator setting as the flag the operator defines", func() {
		c := managerContainer(helmTemplate(allOn))
		want := []any{
			"--leader-elect",
			"--health-probe-bind-address=:8081",
			"--metrics-bind-address=:8443",
			"--leader-elect-lease-duration=40s",
			"--leader-elect-renew-deadline=30s",
			"--leader-elect-retry-period=5s",
			"--sync-interval=5m",
			"--max-concurrent-reconciles=32",
			"--watch-namespaces=it-ops,it-sec",
			"--watch-label-selector=shard in (a,b)",
			"--secret-label-selector=intune.overview-operator.io/credentials=true",
			"--allowed-endpoint-hosts=graph-proxy.example.com,*.corp.example.com",
			"--allow-namespaced-ca-bundle",
			"--graph-requests-per-window=500",
			"--graph-writes-per-window=50",
			"--graph-tenant-requests-per-window=1500",
			"--graph-tenant-writes-per-window=150",
			"--graph-budget-window=20s",
			"--graph-max-in-flight=512",
			"--graph-timeout=20s",
			"--retry-base-delay=2s",
			"--retry-max-delay=10m",
			"--credentials-retry=1m",
			"--graceful-shutdown-timeout=20s",
			"--zap-log-level=debug",
			"--zap-devel=false",
		}
		Expect(cmp.Diff(want, c["args"])).To(BeEmpty(), "args (-want +got)")
		Expect(c["image"]).To(Equal("registry.example.com/overview-operator:v0.1.0"))

		// The operator's own flag set decides: a misspelt flag would stop it at start.
		expectFlagsOfManager(want)
	})

	DescribeTable("is accepted by a server-side dry run, without warnings",
		func(valuesFiles ...string) {
			objs := helmTemplate(valuesFiles...)
			for _, o := range objs {
				if o.GetNamespace() != "" {
					createNamespace(o.GetNamespace())
				}
			}
			warnings.take()
			for _, o := range objs {
				Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(o),
					client.DryRunAll, client.FieldOwner("helm-chart-test"))).To(Succeed(),
					"%s %s", o.GetKind(), o.GetName())
			}
			Expect(warnings.take()).To(BeEmpty())
		},
		Entry("with the default values"),
		Entry("with every toggle on", allOn),
		Entry("with plain HTTP metrics and no leader election", plainHTTP),
		Entry("with three replicas sharing the work", replicas3),
		Entry("with every sharding setting", sharded),
	)
})

// The schema (values.schema.json) and the templates refuse values that would not work.
var _ = DescribeTable("The Helm chart refuses",
	func(set, message string) {
		out, err := run(helmBin, "template", release, chart, "--set", set)
		Expect(err).To(HaveOccurred(), out)
		Expect(err.Error()).To(ContainSubstring(message))
	},
	Entry("a sync interval that is no duration", "operator.syncInterval=ten minutes", "syncInterval"),
	Entry("a misspelt setting", "operator.syncIntervall=5m", "syncIntervall"),
	Entry("workload identity without a client id", "workloadIdentity.enabled=true", "clientId"),
	Entry("Secrets readable only in the watched namespaces, with every namespace watched",
		"rbac.secretsInWatchNamespacesOnly=true", "needs operator.watchNamespaces"),
	Entry("a PodDisruptionBudget that blocks every drain", "podDisruptionBudget.maxUnavailable=0", "maxUnavailable"),
	Entry("a PodDisruptionBudget of no percentage", "podDisruptionBudget.maxUnavailable=0%", "maxUnavailable"),
	Entry("a ring name that is no label value", "sharding.ring=Blue_1", "ring"),
	Entry("sharding neither on, off nor unset", "sharding.enabled=yes", "enabled"),
	Entry("no sharding lease", "sharding.leaseDuration=0s", "leaseDuration"),
	Entry("no sharding renew deadline", "sharding.renewDeadline=0s", "renewDeadline"),
	Entry("no sharding retry period", "sharding.retryPeriod=0m", "retryPeriod"),
	Entry("a sharding lease that is no duration", "sharding.leaseDuration=15", "leaseDuration"),
)

// What the operator refuses at start (flags.validate in main), the schema refuses at helm install,
// so that a release never runs a pod that exits at once or never writes.
var _ = DescribeTable("The Helm chart refuses what the operator would refuse at start",
	func(set, arg string) {
		out, err := run(helmBin, "template", release, chart, "--set", set)
		Expect(err).To(HaveOccurred(), out)
		setting := set[strings.LastIndex(set[:strings.Index(set, "=")], ".")+1 : strings.Index(set, "=")]
		Expect(err.Error()).To(ContainSubstring(setting))

		manager := filepath.Join(root, "bin", "manager")
		cmd := exec.CommandContext(ctx, manager, arg)
		stdout, err := cmd.CombinedOutput()
		Expect(err).To(HaveOccurred(), "%s %s started; run make build if it is stale:\n%s", manager, arg, stdout)
		Expect(cmd.ProcessState.ExitCode()).To(Equal(1), "%s %s: %s", manager, arg, stdout)
		Expect(string(stdout)).To(ContainSubstring(arg[:strings.Index(arg, "=")] + " must"))
	},
	Entry("a request budget one write does not fit in", "operator.graph.requestsPerWindow=2", "--graph-requests-per-window=2"),
	Entry("no write budget", "operator.graph.writesPerWindow=0", "--graph-writes-per-window=0"),
	Entry("a tenant request budget one write does not fit in", "operator.graph.tenantRequestsPerWindow=2", "--graph-tenant-requests-per-window=2"),
	Entry("no tenant write budget", "operator.graph.tenantWritesPerWindow=0", "--graph-tenant-writes-per-window=0"),
	Entry("no budget window", "operator.graph.budgetWindow=0s", "--graph-budget-window=0s"),
	Entry("no Graph call in flight", "operator.graph.maxInFlight=0", "--graph-max-in-flight=0"),
	Entry("no Graph timeout", "operator.graph.timeout=0.0s", "--graph-timeout=0.0s"),
	Entry("a negative Graph timeout", "operator.graph.timeout=-1s", "--graph-timeout=-1s"),
	Entry("no sync interval", "operator.syncInterval=0m0s", "--sync-interval=0m0s"),
	Entry("no workers", "operator.maxConcurrentReconciles=0", "--max-concurrent-reconciles=0"),
	Entry("no retry delay", "operator.retryBaseDelay=0ms", "--retry-base-delay=0ms"),
	Entry("no longest retry delay", "operator.retryMaxDelay=0s", "--retry-max-delay=0s"),
	Entry("no credentials retry", "operator.credentialsRetry=0s", "--credentials-retry=0s"),
	Entry("no lease", "leaderElection.leaseDuration=0s", "--leader-elect-lease-duration=0s"),
	Entry("no renew deadline", "leaderElection.renewDeadline=0s", "--leader-elect-renew-deadline=0s"),
	Entry("no retry period", "leaderElection.retryPeriod=0s", "--leader-elect-retry-period=0s"),
)
