package controllers_test

import (
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("Under GitOps", func() {
	It("leaves spec to the applier: argocd owns spec, the operator owns only status, and kstatus goes InProgress → Current", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 1})
		manifest := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": intunev1alpha1.GroupVersion.String(),
			"kind":       "DeviceConfigurationUserOverview",
			"metadata":   map[string]any{"name": "wifi-baseline", "namespace": t.namespace},
			"spec": map[string]any{
				"deviceConfigurationId": id,
				"connectionRef":         map[string]any{"name": t.connection},
				"overview":              map[string]any{"successCount": int64(12)},
			},
		}}
		applied := manifest.DeepCopy()
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner("argocd"))).To(Succeed())

		res, err := status.Compute(applied)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Status).To(Equal(status.InProgressStatus), "before the first sync: %s", res.Message)

		o := &intunev1alpha1.DeviceConfigurationUserOverview{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "wifi-baseline"}}
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		Eventually(func(g Gomega) {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(intunev1alpha1.GroupVersion.WithKind("DeviceConfigurationUserOverview"))
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
			res, err := status.Compute(u)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Status).To(Equal(status.CurrentStatus), res.Message)

			owners := map[string][]string{}
			for _, mf := range u.GetManagedFields() {
				var fields map[string]any
				g.Expect(json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields)).To(Succeed())
				for top := range fields {
					owners[mf.Manager] = append(owners[mf.Manager], top+"@"+mf.Subresource)
				}
			}
			g.Expect(owners["argocd"]).To(ContainElement("f:spec@"))
			g.Expect(owners["argocd"]).NotTo(ContainElement("f:status@status"))
			g.Expect(owners["overview-operator"]).To(ConsistOf("f:status@status"))
		}).WithTimeout(10 * time.Second).Should(Succeed())

		By("applying the same manifest again, as a sync does: nothing changes and nothing conflicts")
		before := fetch(o)
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(manifest.DeepCopy()), client.FieldOwner("argocd"))).To(Succeed())
		after := fetch(o)
		Expect(after.Generation).To(Equal(before.Generation))
		Expect(after.Spec).To(Equal(before.Spec))
	})

	It("shows kstatus a failure that needs a person as Failed, and Current once it is fixed", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{})
		emulator.Inject(graphtest.Fault{ConfigurationID: id, Status: http.StatusBadRequest})
		DeferCleanup(emulator.ClearFaults)
		o := newOverview(t, id)
		kstatus := func(g Gomega) status.Status {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(intunev1alpha1.GroupVersion.WithKind("DeviceConfigurationUserOverview"))
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
			res, err := status.Compute(u)
			g.Expect(err).NotTo(HaveOccurred())
			return res.Status
		}
		Eventually(kstatus).WithTimeout(20 * time.Second).Should(Equal(status.FailedStatus))
		got := expectCondition(o, intunev1alpha1.ConditionStalled, metav1.ConditionTrue, intunev1alpha1.ReasonBadRequest)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))

		emulator.ClearFaults()
		got = fetch(o)
		got.Annotations = map[string]string{intunev1alpha1.AnnotationReconcileRequestedAt: "fixed"}
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		Eventually(kstatus).WithTimeout(20 * time.Second).Should(Equal(status.CurrentStatus))
		Expect(meta.FindStatusCondition(fetch(o).Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeNil())
	})
})
