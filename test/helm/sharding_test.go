package helm

import (
	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// shardRingLabel labels each replica's Lease with the ring it belongs to (the operator sets it; the
// docs/install.md and the chart's NOTES name it).
const shardRingLabel = "intune.overview-operator.io/shard-ring"

// objectsOf returns the rendered objects of kind.
func objectsOf(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// managerArgs returns the manager container's arguments.
func managerArgs(objs []*unstructured.Unstructured) []string {
	GinkgoHelper()
	var args []string
	for _, a := range managerContainer(objs)["args"].([]any) {
		args = append(args, a.(string))
	}
	return args
}

// podLabelsOf returns the labels of the Deployment's pods.
func podLabelsOf(objs []*unstructured.Unstructured) labels.Set {
	GinkgoHelper()
	deployments := objectsOf(objs, "Deployment")
	Expect(deployments).To(HaveLen(1))
	l, _, err := unstructured.NestedStringMap(deployments[0].Object, "spec", "template", "metadata", "labels")
	Expect(err).NotTo(HaveOccurred())
	return l
}

// replicasOf returns the Deployment's replicas (a number as decoded from YAML: float64).
func replicasOf(objs []*unstructured.Unstructured) any {
	GinkgoHelper()
	deployments := objectsOf(objs, "Deployment")
	Expect(deployments).To(HaveLen(1))
	n, found, err := unstructured.NestedFieldNoCopy(deployments[0].Object, "spec", "replicas")
	Expect(err).NotTo(HaveOccurred())
	Expect(found).To(BeTrue(), "the Deployment's replicas")
	return n
}

// spreadOf returns the pods' topologySpreadConstraints (nil: none).
func spreadOf(objs []*unstructured.Unstructured) []any {
	GinkgoHelper()
	deployments := objectsOf(objs, "Deployment")
	Expect(deployments).To(HaveLen(1))
	spread, _, err := unstructured.NestedSlice(deployments[0].Object, "spec", "template", "spec", "topologySpreadConstraints")
	Expect(err).NotTo(HaveOccurred())
	return spread
}

// expectLeaderElection checks the rendered objects for what one replica, or several without
// sharding, run: --leader-elect and no sharding flag.
func expectLeaderElection(objs []*unstructured.Unstructured) {
	GinkgoHelper()
	args := managerArgs(objs)
	Expect(args).To(ContainElement("--leader-elect"))
	for _, a := range args {
		Expect(a).NotTo(HavePrefix("--sharding"))
	}
}

// expectSharded checks the rendered objects (the chart's, or config/sharded's) for what docs/install.md
// promises of several replicas: replicas of them with --sharding in ring and no leader election, a
// PodDisruptionBudget of maxUnavailable over the pods, the pods spread across nodes by their labels,
// and the Role that lets each replica keep its Lease in the namespace.
func expectSharded(objs []*unstructured.Unstructured, replicas int64, ring string, maxUnavailable int) {
	GinkgoHelper()
	Expect(replicasOf(objs)).To(BeNumerically("==", replicas))
	args := managerArgs(objs)
	Expect(args).To(ContainElements("--sharding", "--sharding-ring="+ring))
	for _, a := range args {
		Expect(a).NotTo(HavePrefix("--leader-elect"))
	}
	podLabels := podLabelsOf(objs)

	pdbs := objectsOf(objs, "PodDisruptionBudget")
	Expect(pdbs).To(HaveLen(1))
	budget, _, _ := unstructured.NestedFieldNoCopy(pdbs[0].Object, "spec", "maxUnavailable")
	Expect(budget).To(BeNumerically("==", maxUnavailable), "the PodDisruptionBudget's maxUnavailable")
	sel, _, err := unstructured.NestedStringMap(pdbs[0].Object, "spec", "selector", "matchLabels")
	Expect(err).NotTo(HaveOccurred())
	Expect(sel).NotTo(BeEmpty())
	Expect(labels.SelectorFromSet(sel).Matches(podLabels)).To(BeTrue(), "the PodDisruptionBudget's selector %v, the pods' labels %v", sel, podLabels)

	spread := spreadOf(objs)
	Expect(spread).To(HaveLen(1))
	c := spread[0].(map[string]any)
	Expect(c).To(HaveKeyWithValue("topologyKey", "kubernetes.io/hostname"))
	Expect(c).To(HaveKeyWithValue("whenUnsatisfiable", "ScheduleAnyway"))
	Expect(c).To(HaveKeyWithValue("maxSkew", BeNumerically("==", 1)))
	spreadSel, _, err := unstructured.NestedStringMap(c, "labelSelector", "matchLabels")
	Expect(err).NotTo(HaveOccurred())
	Expect(spreadSel).NotTo(BeEmpty())
	Expect(labels.SelectorFromSet(spreadSel).Matches(podLabels)).To(BeTrue(), "the spread's selector %v, the pods' labels %v", spreadSel, podLabels)
	// The selector labels, not the pod's own (podLabels, workload identity's): those may change.
	deployments := objectsOf(objs, "Deployment")
	deploymentSel, _, _ := unstructured.NestedStringMap(deployments[0].Object, "spec", "selector", "matchLabels")
	Expect(spreadSel).To(Equal(deploymentSel))

	expectLeaseRole(objs)
}

// expectLeaseRole checks that a Role in the Deployment's namespace grants what the sharding contract
// needs on Leases, and is bound to the Deployment's ServiceAccount.
func expectLeaseRole(objs []*unstructured.Unstructured) {
	GinkgoHelper()
	deployments := objectsOf(objs, "Deployment")
	Expect(deployments).To(HaveLen(1))
	ns := deployments[0].GetNamespace()
	sa, _, _ := unstructured.NestedString(deployments[0].Object, "spec", "template", "spec", "serviceAccountName")
	var roles []string
	for _, r := range objectsOf(objs, "Role") {
		if r.GetNamespace() != ns {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(r.Object, "rules")
		for _, rule := range rules {
			m := rule.(map[string]any)
			if cmp.Equal(m["apiGroups"], []any{"coordination.k8s.io"}) && cmp.Equal(m["resources"], []any{"leases"}) {
				Expect(m["verbs"]).To(ConsistOf("get", "list", "watch", "create", "update", "patch", "delete"))
				roles = append(roles, r.GetName())
			}
		}
	}
	Expect(roles).To(HaveLen(1), "a Role in %s with the Leases' verbs", ns)
	bound := false
	for _, b := range objectsOf(objs, "RoleBinding") {
		ref, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
		subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
		for _, s := range subjects {
			m := s.(map[string]any)
			if b.GetNamespace() == ns && ref == roles[0] && m["kind"] == "ServiceAccount" && m["name"] == sa && m["namespace"] == ns {
				bound = true
			}
		}
	}
	Expect(bound).To(BeTrue(), "Role %s bound to ServiceAccount %s/%s", roles[0], ns, sa)
}

var _ = Describe("The Helm chart's replicas", func() {
	It("share the work by tenant with replicaCount 3: --sharding, a PodDisruptionBudget and a spread across nodes", func() {
		objs := helmTemplate(replicas3)
		expectSharded(objs, 3, release, 1)
		Expect(managerArgs(objs)).To(Equal([]string{
			"--sharding",
			"--health-probe-bind-address=:8081",
			"--metrics-bind-address=:8443",
			"--sharding-ring=" + release,
		}))
	})

	It("are one, with leader election and neither --sharding nor a PodDisruptionBudget nor a spread, with replicaCount 1: what the chart rendered before", func() {
		objs := helmTemplateSet("replicaCount=1")
		Expect(replicasOf(objs)).To(BeNumerically("==", 1))
		Expect(managerArgs(objs)).To(Equal([]string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443"}))
		Expect(kinds(objs)).NotTo(ContainElement("PodDisruptionBudget"))
		Expect(spreadOf(objs)).To(BeNil())
		Expect(cmp.Diff(helmTemplate(), objs)).To(BeEmpty(), "replicaCount 1 is the default")
	})

	It("name the ring after the release, so that two releases in one namespace are two rings", func() {
		objs := helmTemplateArgs("--set", "replicaCount=2", "--set", "fullnameOverride=tenants-a")
		expectSharded(objs, 2, "tenants-a", 1)
	})

	It("keep leader election with several replicas when sharding.enabled is false, with the PodDisruptionBudget and the spread", func() {
		objs := helmTemplateSet("replicaCount=3", "sharding.enabled=false")
		expectLeaderElection(objs)
		Expect(objectsOf(objs, "PodDisruptionBudget")).To(HaveLen(1))
		Expect(spreadOf(objs)).To(HaveLen(1))
	})

	It("shard one replica when sharding.enabled is true, with the Leases' Role though leader election is off", func() {
		objs := helmTemplateSet("sharding.enabled=true", "leaderElection.enabled=false")
		Expect(managerArgs(objs)).To(ContainElements("--sharding", "--sharding-ring="+release))
		Expect(managerArgs(objs)).NotTo(ContainElement("--leader-elect"))
		Expect(kinds(objs)).NotTo(ContainElement("PodDisruptionBudget"))
		Expect(spreadOf(objs)).To(BeNil())
		expectLeaseRole(objs)
	})

	It("follow replicaCount again when sharding.enabled is unset (null)", func() {
		expectSharded(helmTemplateSet("replicaCount=3", "sharding.enabled=null"), 3, release, 1)
	})

	It("render no PodDisruptionBudget when podDisruptionBudget.enabled is false", func() {
		objs := helmTemplateSet("replicaCount=3", "podDisruptionBudget.enabled=false")
		Expect(kinds(objs)).NotTo(ContainElement("PodDisruptionBudget"))
		Expect(managerArgs(objs)).To(ContainElement("--sharding"))
	})

	It("pass sharding's settings, not leader election's, and keep the user's spread", func() {
		objs := helmTemplate(sharded)
		Expect(managerArgs(objs)).To(Equal([]string{
			"--sharding",
			"--health-probe-bind-address=:8081",
			"--metrics-bind-address=:8443",
			"--sharding-ring=blue",
			"--sharding-lease-duration=20s",
			"--sharding-renew-deadline=12s",
			"--sharding-retry-period=3s",
		}))
		pdbs := objectsOf(objs, "PodDisruptionBudget")
		Expect(pdbs).To(HaveLen(1))
		Expect(pdbs[0].Object["spec"]).To(HaveKeyWithValue("maxUnavailable", BeNumerically("==", 2)))
		Expect(spreadOf(objs)).To(Equal([]any{map[string]any{
			"maxSkew":           float64(1),
			"topologyKey":       "topology.kubernetes.io/zone",
			"whenUnsatisfiable": "DoNotSchedule",
			"labelSelector": map[string]any{"matchLabels": map[string]any{
				"app.kubernetes.io/name":     "overview-operator",
				"app.kubernetes.io/instance": "overview-operator",
			}},
		}}))
		expectLeaseRole(objs)
	})

	It("pass sharding's settings as flags the operator defines", func() {
		var args []any
		for _, a := range managerArgs(helmTemplate(sharded)) {
			args = append(args, a)
		}
		expectFlagsOfManager(args)
	})

	It("tell how to see the ring's Leases after install", func() {
		out, err := run(helmBin, "install", release, chart, "--namespace", namespace, "--dry-run=client", "--values", replicas3)
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("get leases -l " + shardRingLabel + "=" + release))
		out, err = run(helmBin, "install", release, chart, "--namespace", namespace, "--dry-run=client")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).NotTo(ContainSubstring(shardRingLabel))
	})
})
