package controllers_test

import (
	"net/http"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/argocd"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The Argo CD health checks and actions of config/argocd, run on what the operator really writes,
// with the actions applied as Argo CD applies them (a merge patch of the live object).
var _ = Describe("Argo CD's health checks and actions", func() {
	var customizations map[string]argocd.Customization
	BeforeEach(func() {
		cs, err := argocd.Load(os.DirFS(filepath.Join("..", "config", "argocd", "resource_customizations")))
		Expect(err).NotTo(HaveOccurred())
		customizations = map[string]argocd.Customization{}
		for _, c := range cs {
			customizations[c.Kind] = c
		}
	})

	live := func(obj client.Object) *unstructured.Unstructured {
		GinkgoHelper()
		u := &unstructured.Unstructured{}
		gvks, _, err := k8sClient.Scheme().ObjectKinds(obj)
		Expect(err).NotTo(HaveOccurred())
		u.SetGroupVersionKind(gvks[0])
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), u)).To(Succeed())
		return u
	}
	healthOf := func(u *unstructured.Unstructured) argocd.HealthStatus {
		GinkgoHelper()
		script := customizations[u.GetKind()].Health
		Expect(script).NotTo(BeEmpty(), "no health check for %q", u.GetKind())
		hs, err := argocd.VM{}.Health(script, u.Object)
		Expect(err).NotTo(HaveOccurred())
		return hs
	}
	health := func(obj client.Object) func() string {
		return func() string { return healthOf(live(obj)).Status }
	}
	// runAction runs an action on the live object and patches it as Argo CD does, returning what
	// the API server answered.
	runAction := func(obj client.Object, name string) *unstructured.Unstructured {
		GinkgoHelper()
		was := live(obj)
		c := customizations[was.GetKind()]
		actions, err := argocd.VM{}.Discover(c.Discovery, was.DeepCopy().Object)
		Expect(err).NotTo(HaveOccurred())
		Expect(actions).To(ContainElement(HaveField("Name", name)))
		for _, a := range actions {
			Expect(a.Name != name || !a.Disabled).To(BeTrue(), "%s is disabled", name)
		}
		out, err := argocd.VM{}.Act(c.Actions[name], was.DeepCopy().Object)
		Expect(err).NotTo(HaveOccurred())
		changed := &unstructured.Unstructured{Object: out}
		Expect(k8sClient.Patch(ctx, changed, client.MergeFrom(was))).To(Succeed())
		return changed
	}

	It("follow an overview from Progressing to Healthy, Suspended by pause, Progressing until a sync-now is served, and Degraded when it needs a person", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 1})
		o := newOverview(t, id)
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		Expect(err).NotTo(HaveOccurred())
		asCreated := &unstructured.Unstructured{Object: u}
		asCreated.SetGroupVersionKind(intunev1alpha1.GroupVersion.WithKind("DeviceConfigurationUserOverview"))
		Expect(healthOf(asCreated).Status).To(Equal("Progressing"), "as created, before the first sync")
		Eventually(health(o)).WithTimeout(20 * time.Second).Should(Equal("Healthy"))

		By("pause, then resume")
		runAction(o, "pause")
		Eventually(health(o)).WithTimeout(20 * time.Second).Should(Equal("Suspended"))
		expectCondition(o, intunev1alpha1.ConditionSynced, "False", intunev1alpha1.ReasonPaused)
		runAction(o, "resume")
		Expect(fetch(o).Annotations).NotTo(HaveKey(intunev1alpha1.AnnotationPaused))
		Eventually(health(o)).WithTimeout(20 * time.Second).Should(Equal("Healthy"))
		expectCondition(o, intunev1alpha1.ConditionSynced, "True", intunev1alpha1.ReasonSucceeded)

		By("sync-now: Progressing until the operator serves it")
		requested := runAction(o, "sync-now")
		Expect(healthOf(requested).Status).To(Equal("Progressing"), "the object the patch returned, before the operator saw it")
		at := requested.GetAnnotations()[intunev1alpha1.AnnotationReconcileRequestedAt]
		Expect(time.Parse(time.RFC3339, at)).To(BeTemporally("~", time.Now(), 5*time.Second))
		Eventually(func() string { return fetch(o).Status.LastHandledReconcileAt }).WithTimeout(20 * time.Second).Should(Equal(at))
		Expect(health(o)()).To(Equal("Healthy"))

		By("a spec Graph refuses")
		emulator.Inject(graphtest.Fault{ConfigurationID: id, Method: http.MethodPatch, Status: http.StatusBadRequest})
		DeferCleanup(emulator.ClearFaults)
		got := fetch(o)
		got.Spec.Overview.SuccessCount = ptr.To[int32](13)
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		Eventually(health(o)).WithTimeout(20 * time.Second).Should(Equal("Degraded"))
		Expect(healthOf(live(o)).Message).To(HavePrefix(intunev1alpha1.ReasonBadRequest + ": "))
	})

	It("find both connection kinds Healthy when their credentials work, and Degraded when their Secret is missing", func() {
		t := newTenant()
		gc := &intunev1alpha1.GraphConnection{}
		gc.Namespace, gc.Name = t.namespace, t.connection
		Eventually(health(gc)).WithTimeout(20 * time.Second).Should(Equal("Healthy"))

		cc := &intunev1alpha1.ClusterGraphConnection{}
		cc.Name = newClusterConnection(t, intunev1alpha1.AllowedNamespaces{Names: []string{t.namespace}})
		Eventually(health(cc)).WithTimeout(20 * time.Second).Should(Equal("Healthy"))

		missing := &intunev1alpha1.GraphConnection{Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: t.connectionSpec()}}
		missing.Namespace, missing.Name = t.namespace, "no-secret"
		missing.Spec.Credentials.ClientSecret.Name = "not-there"
		Expect(k8sClient.Create(ctx, missing)).To(Succeed())
		Eventually(health(missing)).WithTimeout(20 * time.Second).Should(Equal("Degraded"))
		Expect(healthOf(live(missing)).Message).To(HavePrefix(intunev1alpha1.ReasonSecretNotFound + ": "))
	})
})
