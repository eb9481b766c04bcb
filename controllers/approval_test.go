package controllers_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/argocd"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// Intune's Multi Admin Approval, as the emulator models it (graphtest.RequireApproval): a
// protected configuration's PATCH is held until an approver approves it.
var _ = Describe("Multi Admin Approval", func() {
	// justify sets the tenant's connection's approvalJustification.
	justify := func(t *tenant, text string) {
		GinkgoHelper()
		conn := &intunev1alpha1.GraphConnection{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: t.connection}, conn)).To(Succeed())
		was := conn.DeepCopy()
		conn.Spec.ApprovalJustification = text
		// A merge patch: the operator writes the connection's status meanwhile.
		Expect(k8sClient.Patch(ctx, conn, client.MergeFrom(was))).To(Succeed())
	}
	// setSuccessCount changes the resource's spec with a merge patch (the operator writes its
	// status meanwhile), and returns it as changed.
	setSuccessCount := func(o *intunev1alpha1.DeviceConfigurationUserOverview, n int32) *intunev1alpha1.DeviceConfigurationUserOverview {
		GinkgoHelper()
		got := fetch(o)
		was := got.DeepCopy()
		got.Spec.Overview.SuccessCount = ptr.To(n)
		Expect(k8sClient.Patch(ctx, got, client.MergeFrom(was))).To(Succeed())
		return got
	}
	// patches counts the PATCHes of one configuration.
	patches := func(id string) func() int {
		return func() int {
			return emulator.CountRequests(func(r graphtest.Request) bool { return r.ConfigurationID == id && r.Method == http.MethodPatch })
		}
	}
	// polls counts the reads of the tenant's approval requests.
	polls := func(t *tenant) func() int {
		return func() int {
			return emulator.CountRequests(func(r graphtest.Request) bool {
				return r.TenantID == t.id && r.APIVersion == "beta" && strings.HasSuffix(r.Path, "/operationApprovalRequests")
			})
		}
	}
	kstatus := func(o client.Object) status.Status {
		GinkgoHelper()
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(intunev1alpha1.GroupVersion.WithKind("DeviceConfigurationUserOverview"))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
		res, err := status.Compute(u)
		Expect(err).NotTo(HaveOccurred())
		return res.Status
	}
	argoHealth := func(o client.Object) string {
		GinkgoHelper()
		cs, err := argocd.Load(os.DirFS(filepath.Join("..", "config", "argocd", "resource_customizations")))
		Expect(err).NotTo(HaveOccurred())
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(intunev1alpha1.GroupVersion.WithKind("DeviceConfigurationUserOverview"))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
		for _, c := range cs {
			if c.Kind == u.GetKind() {
				hs, err := argocd.VM{}.Health(c.Health, u.Object)
				Expect(err).NotTo(HaveOccurred())
				return hs.Status
			}
		}
		Fail("no health check")
		return ""
	}

	It("says ApprovalRequired without a justification, waits on a growing backoff, and syncs by itself once the app is excluded", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{})
		emulator.RequireApproval(t.id, id, true)
		o := newOverview(t, id)

		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonApprovalRequired)
		ready := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)
		Expect(ready.Message).To(ContainSubstring("Multi Admin Approval"))
		Expect(ready.Message).To(ContainSubstring("exclude the app from the access policy"))
		Expect(ready.Message).To(ContainSubstring("spec.approvalJustification"))
		Expect(ready.Message).NotTo(ContainSubstring("lacks"), "not a missing permission")
		stalled := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Reason).To(Equal(intunev1alpha1.ReasonApprovalRequired))
		Expect(kstatus(o)).To(Equal(status.FailedStatus))
		Expect(argoHealth(o)).To(Equal("Degraded"))
		Expect(got.Status.ApprovalRequest).To(BeNil())

		By("not sending the PATCH again soon: no fresh-token retry, no transient backoff")
		Expect(patches(id)()).To(Equal(1))
		Consistently(patches(id)).WithTimeout(800 * time.Millisecond).WithPolling(50 * time.Millisecond).Should(Equal(1))

		By("an administrator excludes the app from the access policy, outside Kubernetes")
		emulator.RequireApproval(t.id, id, false)
		got = expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeNil())
		held, _ := emulator.Overview(t.id, id)
		Expect(held.SuccessCount).To(BeEquivalentTo(12))
		// Tried again on a backoff that grows, not in a loop.
		Expect(patches(id)()).To(BeNumerically("<=", 8))
	})

	It("follows the approval request a justification creates, and sends the PATCH again, once, when it is approved", func() {
		t := newTenant()
		justify(t, "Managed by overview-operator from git")
		id := t.seed(graphtest.Overview{SuccessCount: 1})
		emulator.RequireApproval(t.id, id, true)
		o := newOverview(t, id)

		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonApprovalPending)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeNil(), "the operator follows it: not Stalled")
		Expect(kstatus(o)).To(Equal(status.InProgressStatus))
		Expect(argoHealth(o)).To(Equal("Progressing"))
		requests := emulator.ApprovalRequests(t.id)
		Expect(requests).To(HaveLen(1))
		Expect(requests[0].Justification).To(Equal("Managed by overview-operator from git"))
		Eventually(func() *intunev1alpha1.ApprovalRequest { return fetch(o).Status.ApprovalRequest }).
			WithTimeout(10 * time.Second).ShouldNot(BeNil())
		held := fetch(o).Status.ApprovalRequest
		Expect(held.Code).To(Equal(requests[0].Code))
		Expect(held.Generation).To(Equal(got.Generation))
		Expect(held.Status).To(Equal("needsApproval"))
		Expect(held.Fields.SuccessCount).To(Equal(ptr.To[int32](12)))
		Expect(held.Fields.LastUpdateDateTime).To(Equal(ptr.To("2026-11-28T10:00:00Z")))
		Expect(meta.FindStatusCondition(fetch(o).Status.Conditions, intunev1alpha1.ConditionReady).Message).
			To(ContainSubstring("approve request " + held.Code + " in the Intune admin center"))

		By("following the request with reads, and no other PATCH")
		Eventually(polls(t)).WithTimeout(10 * time.Second).Should(BeNumerically(">=", 2))
		Consistently(patches(id)).WithTimeout(2 * time.Second).Should(Equal(1))

		By("an approver approves it in the Intune admin center: no edit")
		Expect(emulator.Approve(held.Code)).To(Succeed())
		got = expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(got.Status.ApprovalRequest).To(BeNil())
		Expect(got.Status.LastAppliedTime).NotTo(BeNil())
		inGraph, _ := emulator.Overview(t.id, id)
		Expect(inGraph.SuccessCount).To(BeEquivalentTo(12))
		requests = emulator.ApprovalRequests(t.id)
		Expect(requests).To(HaveLen(1))
		Expect(requests[0].Resubmissions).To(Equal(1))
		Expect(requests[0].Status).To(Equal(graphtest.ApprovalCompleted))
		Consistently(patches(id)).WithTimeout(time.Second).Should(Equal(2), "the refused PATCH and its one resubmission")
	})

	It("asks anew for a newer spec, and never sends the PATCH an older one was approved for", func() {
		t := newTenant()
		justify(t, "gitops")
		id := t.seed(graphtest.Overview{})
		emulator.RequireApproval(t.id, id, true)
		o := newOverview(t, id)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonApprovalPending)
		Eventually(func() *intunev1alpha1.ApprovalRequest { return fetch(o).Status.ApprovalRequest }).ShouldNot(BeNil())
		first := fetch(o).Status.ApprovalRequest.Code

		got := setSuccessCount(o, 13)
		Eventually(func(g Gomega) {
			held := fetch(o).Status.ApprovalRequest
			g.Expect(held).NotTo(BeNil())
			g.Expect(held.Code).NotTo(Equal(first))
			g.Expect(held.Generation).To(Equal(got.Generation))
			g.Expect(held.Fields.SuccessCount).To(Equal(ptr.To[int32](13)))
		}).WithTimeout(20 * time.Second).Should(Succeed())
		second := fetch(o).Status.ApprovalRequest.Code

		By("approving the older request changes nothing")
		Expect(emulator.Approve(first)).To(Succeed())
		Consistently(func() int32 { o, _ := emulator.Overview(t.id, id); return o.SuccessCount }).
			WithTimeout(2 * time.Second).Should(BeZero())
		Expect(emulator.ApprovalRequests(t.id)[0].Resubmissions).To(BeZero())

		Expect(emulator.Approve(second)).To(Succeed())
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		inGraph, _ := emulator.Overview(t.id, id)
		Expect(inGraph.SuccessCount).To(BeEquivalentTo(13))
	})

	It("says ApprovalRejected when an approver rejects the request, and asks nothing until the spec changes", func() {
		t := newTenant()
		justify(t, "gitops")
		id := t.seed(graphtest.Overview{})
		emulator.RequireApproval(t.id, id, true)
		o := newOverview(t, id)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonApprovalPending)
		Eventually(func() *intunev1alpha1.ApprovalRequest { return fetch(o).Status.ApprovalRequest }).ShouldNot(BeNil())
		code := fetch(o).Status.ApprovalRequest.Code

		Expect(emulator.Reject(code)).To(Succeed())
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonApprovalRejected)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).NotTo(BeNil())
		Expect(got.Status.ApprovalRequest).NotTo(BeNil())
		Expect(got.Status.ApprovalRequest.Status).To(Equal("rejected"))
		Expect(kstatus(o)).To(Equal(status.FailedStatus))
		Expect(argoHealth(o)).To(Equal("Degraded"))

		By("sending nothing more for the configuration")
		calls := func() int {
			return emulator.CountRequests(func(r graphtest.Request) bool {
				return r.ConfigurationID == id || r.TenantID == t.id && strings.HasSuffix(r.Path, "/operationApprovalRequests")
			})
		}
		before := calls()
		Consistently(calls).WithTimeout(3 * time.Second).Should(Equal(before))
		Expect(emulator.ApprovalRequests(t.id)).To(HaveLen(1))

		By("a change of the spec asks anew")
		setSuccessCount(o, 14)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonApprovalPending)
		Eventually(func() []graphtest.ApprovalRequest { return emulator.ApprovalRequests(t.id) }).Should(HaveLen(2))
	})
})
