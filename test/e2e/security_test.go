package e2e

import (
	"errors"
	"io"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// expectReadyReason waits until a resource's Ready condition is False with the reason, and returns
// its message.
func expectReadyReason(ns, name, reason string) string {
	GinkgoHelper()
	var message string
	Eventually(func(g Gomega) {
		o := &intunev1alpha1.DeviceConfigurationUserOverview{}
		g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, o)).To(Succeed())
		ready := meta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Reason).To(Equal(reason), ready.Message)
		message = ready.Message
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return message
}

var _ = Describe("The operator's defaults", func() {
	It("refuse a GraphConnection whose endpoint is not a national cloud's host (the emulator's 127.0.0.1)", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "strict")
		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed())
		// Without the leave that localenv gives the emulator by default.
		startOperator("strict", "--watch-namespaces="+ns, "--allowed-endpoint-hosts=", "--allow-namespaced-ca-bundle=false")
		id := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		createOverview(ns, "wifi", id, 5)

		msg := expectReadyReason(ns, "wifi", intunev1alpha1.ReasonEndpointNotAllowed)
		Expect(msg).To(ContainSubstring(`host "127.0.0.1"`))
		Expect(msg).To(ContainSubstring("--allowed-endpoint-hosts"))
		Expect(graphCalls(id, "", "GET")).To(BeZero())
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready=False", "graphconnection/"+localenv.SampleConnection, "--timeout=30s")
	})
})

// leastPrivilegeRBAC applies the RBAC objects of config/least-privilege for real, with its it-ops
// and the operator's namespace both replaced by ns, and removes them when the test ends. It returns
// the operator's ServiceAccount name.
func leastPrivilegeRBAC(ns string) string {
	GinkgoHelper()
	const sa = "overview-operator-controller-manager"
	built := kubectl.Run("kustomize", "config/least-privilege")
	built = strings.NewReplacer("it-ops", ns, "overview-operator-system", ns).Replace(built)
	keep := map[string]string{
		"ServiceAccount":     sa,
		"ClusterRole":        "overview-operator-manager-role",
		"ClusterRoleBinding": "overview-operator-manager-rolebinding",
		"Role":               "overview-operator-secrets",
		"RoleBinding":        "overview-operator-secrets",
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(built), 4096)
	applied := 0
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		if obj.Object == nil || keep[obj.GetKind()] != obj.GetName() {
			continue
		}
		if obj.GetKind() == "ClusterRole" {
			rules, _, _ := unstructured.NestedSlice(obj.Object, "rules")
			for _, r := range rules {
				resources, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				Expect(resources).NotTo(ContainElement("secrets"), "the least-privilege ClusterRole grants Secrets")
			}
		}
		Expect(env.Client.Create(ctx, obj)).To(Succeed(), "%s %s", obj.GetKind(), obj.GetName())
		DeferCleanup(func() { _ = env.Client.Delete(ctx, obj) })
		applied++
	}
	Expect(applied).To(Equal(len(keep)), "RBAC objects found in config/least-privilege")
	return sa
}

// kubeconfigWithToken writes a kubeconfig for the control plane that authenticates with token.
func kubeconfigWithToken(token string) string {
	GinkgoHelper()
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	for name := range cfg.AuthInfos {
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	}
	path := filepath.Join(GinkgoT().TempDir(), "kubeconfig-token")
	Expect(clientcmd.WriteToFile(*cfg, path)).To(Succeed())
	return path
}

var _ = Describe("Least privilege for Secrets (config/least-privilege: --watch-namespaces, a Role per namespace, --secret-label-selector)", func() {
	It("runs with no cluster-wide access to Secrets, and uses a Secret only once it carries the label, saying so until then", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "least")
		sa := leastPrivilegeRBAC(ns)
		subject := "system:serviceaccount:" + ns + ":" + sa
		// can-i says no with a non-zero exit, and its answer on standard output.
		can, _, _ := kubectl.Output(ctx, "auth", "can-i", "list", "secrets", "--all-namespaces", "--as="+subject)
		Expect(strings.TrimSpace(can)).To(Equal("no"), "cluster-wide list of Secrets")
		can, _, _ = kubectl.Output(ctx, "auth", "can-i", "watch", "secrets", "-n", ns, "--as="+subject)
		Expect(strings.TrimSpace(can)).To(Equal("yes"), "watch of Secrets in the served namespace")

		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed()) // its Secret has no label
		startOperator("least", "--kubeconfig="+kubeconfigWithToken(serviceAccountToken(ns, sa)), "--metrics-bind-address=0",
			"--watch-namespaces="+ns, "--secret-label-selector=intune.overview-operator.io/credentials=true")
		id := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		createOverview(ns, "wifi", id, 4)

		By("saying SecretNotFound, with the label it lacks, while the Secret is unlabelled")
		msg := expectReadyReason(ns, "wifi", intunev1alpha1.ReasonSecretNotFound)
		Expect(msg).To(ContainSubstring("lacks the labels"))
		Expect(msg).To(ContainSubstring("intune.overview-operator.io/credentials=true"))
		Expect(graphCalls(id, "", "GET")).To(BeZero())

		By("labelling the Secret: the watch of labelled Secrets brings the resource back")
		kubectl.Run("label", "secret", "-n", ns, localenv.SampleSecret, "intune.overview-operator.io/credentials=true")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo/wifi", "--timeout=60s")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "graphconnection/"+localenv.SampleConnection, "--timeout=30s")
	})
})
