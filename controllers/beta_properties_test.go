package controllers_test

import (
	"net/http"
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
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("Graph's beta properties", func() {
	It("are PATCHed through a beta connection like any other, read back, and shown in status.observed", func() {
		t := newTenant()
		beta := &intunev1alpha1.GraphConnection{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "contoso-beta"},
			Spec:       intunev1alpha1.GraphConnectionSpec{ConnectionSpec: t.connectionSpec()},
		}
		beta.Spec.APIVersion = intunev1alpha1.APIVersionBeta
		Expect(k8sClient.Create(ctx, beta)).To(Succeed())
		id := t.seed(graphtest.Overview{SuccessCount: 12, ConflictCount: 1, LastUpdateDateTime: lastUpdate})
		emulator.SeedDevice(t.id, id, graphtest.Overview{SuccessCount: 12, ConflictCount: 2, NotApplicablePlatformCount: 3, LastUpdateDateTime: lastUpdate})

		spec := intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: id,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: beta.Name},
			SyncInterval:          &metav1.Duration{Duration: time.Hour},
			Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12), ConflictCount: ptr.To[int32](7)},
		}
		users := &intunev1alpha1.DeviceConfigurationUserOverview{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "wifi"}, Spec: spec}
		devices := &intunev1alpha1.DeviceConfigurationDeviceOverview{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "wifi"}, Spec: spec}
		devices.Spec.Overview.NotApplicablePlatformCount = ptr.To[int32](0)
		Expect(k8sClient.Create(ctx, users)).To(Succeed())
		Expect(k8sClient.Create(ctx, devices)).To(Succeed())

		got := expectCondition(users, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(got.Status.Observed.ConflictCount).To(Equal(ptr.To[int32](7)))
		Expect(got.Status.Observed.NotApplicablePlatformCount).To(BeNil(), "the user overview has none")
		gotDevices := &intunev1alpha1.DeviceConfigurationDeviceOverview{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(devices), gotDevices)).To(Succeed())
			c := meta.FindStatusCondition(gotDevices.Status.Conditions, intunev1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(intunev1alpha1.ReasonUpToDate), c.Message)
			g.Expect(c.ObservedGeneration).To(Equal(gotDevices.Generation))
		}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		Expect(gotDevices.Status.Observed.ConflictCount).To(Equal(ptr.To[int32](7)))
		Expect(gotDevices.Status.Observed.NotApplicablePlatformCount).To(Equal(ptr.To[int32](0)))

		held, _ := emulator.Overview(t.id, id)
		Expect(held.ConflictCount).To(Equal(int32(7)))
		heldDevices, _ := emulator.DeviceOverview(t.id, id)
		Expect(heldDevices.ConflictCount).To(Equal(int32(7)))
		Expect(heldDevices.NotApplicablePlatformCount).To(Equal(int32(0)))

		bodies := map[string]string{}
		for _, r := range t.requests() {
			Expect(r.APIVersion).To(Equal("beta"), "%s %s", r.Method, r.Path)
			if r.Method == http.MethodPatch {
				bodies[r.Entity] = string(r.Body)
			}
		}
		Expect(bodies).To(Equal(map[string]string{
			graphtest.UserStatusOverview:   `{"conflictCount":7}`,
			graphtest.DeviceStatusOverview: `{"conflictCount":7,"notApplicablePlatformCount":0}`,
		}), "only the beta properties differed")
		Expect(t.count(http.MethodGet)).To(Equal(4), "each overview's GET and read back")
	})

	It("declared through a v1.0 connection say InvalidSpec at once, with no Graph call, until the connection is beta or the field is gone", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 12, ConflictCount: 1, LastUpdateDateTime: lastUpdate})
		withConflicts := func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.Overview.ConflictCount = ptr.To[int32](5)
		}
		a := newOverview(t, id, withConflicts)
		b := newOverview(t, id, withConflicts)

		for _, o := range []*intunev1alpha1.DeviceConfigurationUserOverview{a, b} {
			got := expectCondition(o, intunev1alpha1.ConditionStalled, metav1.ConditionTrue, intunev1alpha1.ReasonInvalidSpec)
			ready := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)
			Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			Expect(ready.Reason).To(Equal(intunev1alpha1.ReasonInvalidSpec))
			Expect(ready.Message).To(Equal(`spec.overview.conflictCount is a property of Graph's beta API: set apiVersion: beta on GraphConnection "contoso", or remove the field`))
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(intunev1alpha1.GroupVersion.WithKind("DeviceConfigurationUserOverview"))
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
			res, err := status.Compute(u)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Status).To(Equal(status.FailedStatus))
		}
		Consistently(func() int { return t.count("") }).WithTimeout(time.Second).Should(BeZero(), "no Graph call")

		By("removing the field from one: it syncs through v1.0")
		got := fetch(b)
		got.Spec.Overview.ConflictCount = nil
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		got = expectCondition(b, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(got.Status.Observed.ConflictCount).To(BeNil(), "v1.0 serves no conflictCount")
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeNil())
		Expect(patchBodies(t)).To(BeEmpty())

		By("setting apiVersion: beta on the connection: the other recovers by itself")
		conn := &intunev1alpha1.GraphConnection{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: t.connection}, conn)).To(Succeed())
		conn.Spec.APIVersion = intunev1alpha1.APIVersionBeta
		Expect(k8sClient.Update(ctx, conn)).To(Succeed())
		got = expectCondition(a, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(got.Status.Observed.ConflictCount).To(Equal(ptr.To[int32](5)))
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeNil())
		held, _ := emulator.Overview(t.id, id)
		Expect(held.ConflictCount).To(Equal(int32(5)))
		Expect(patchBodies(t)).To(Equal([]map[string]any{{"conflictCount": float64(5)}}))
	})
})
