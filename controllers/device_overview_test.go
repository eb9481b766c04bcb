package controllers_test

import (
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("A DeviceConfigurationDeviceOverview", func() {
	It("is applied to the configuration's deviceStatusOverview, leaving its userStatusOverview alone, and shares the tenant's connection with the user kind", func() {
		t := newTenant()
		id := uuid.NewString()
		emulator.Seed(t.id, id, graphtest.Overview{SuccessCount: 5, LastUpdateDateTime: lastUpdate})
		emulator.SeedDevice(t.id, id, graphtest.Overview{SuccessCount: 3, FailedCount: 4, PendingCount: 7, LastUpdateDateTime: lastUpdate.Add(-time.Hour)})
		spec := intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: id,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: t.connection},
			SyncInterval:          &metav1.Duration{Duration: time.Hour},
			Overview: intunev1alpha1.OverviewFields{
				SuccessCount:       ptr.To[int32](12),
				FailedCount:        ptr.To[int32](0),
				LastUpdateDateTime: ptr.To("2026-11-28T10:00:00Z"),
			},
		}
		devices := &intunev1alpha1.DeviceConfigurationDeviceOverview{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "wifi"}, Spec: spec}
		users := &intunev1alpha1.DeviceConfigurationUserOverview{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "wifi"}, Spec: spec}
		users.Spec.Overview = intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](5)}
		Expect(k8sClient.Create(ctx, devices)).To(Succeed())
		Expect(k8sClient.Create(ctx, users)).To(Succeed(), "a resource of the other kind may take the same name")

		got := &intunev1alpha1.DeviceConfigurationDeviceOverview{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(devices), got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(intunev1alpha1.ReasonUpToDate), c.Message)
			g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
		}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		expectCondition(users, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		held, ok := emulator.DeviceOverview(t.id, id)
		Expect(ok).To(BeTrue())
		Expect(held.SuccessCount).To(Equal(int32(12)))
		Expect(held.FailedCount).To(Equal(int32(0)))
		Expect(held.LastUpdateDateTime).To(Equal(lastUpdate))
		Expect(got.Status.Observed).To(Equal(&intunev1alpha1.ObservedOverview{
			ID: held.ID, PendingCount: 7, SuccessCount: 12, FailedCount: 0,
			ConfigurationVersion: held.ConfigurationVersion, LastUpdateDateTime: "2026-11-28T10:00:00Z",
		}))
		userHeld, _ := emulator.Overview(t.id, id)
		Expect(userHeld.SuccessCount).To(Equal(int32(5)), "the user overview was not PATCHed")

		var byEntity = map[string][]string{}
		for _, r := range t.requests() {
			byEntity[r.Entity] = append(byEntity[r.Entity], r.Method)
		}
		Expect(byEntity).To(Equal(map[string][]string{
			graphtest.DeviceStatusOverview: {http.MethodGet, http.MethodPatch, http.MethodGet},
			graphtest.UserStatusOverview:   {http.MethodGet},
		}), "the device overview's GET, PATCH and read back; the user overview's one GET")
		Expect(patchBodies(t)).To(Equal([]map[string]any{{
			"successCount": float64(12), "failedCount": float64(0), "lastUpdateDateTime": "2026-11-28T10:00:00Z",
		}}))

		By("counting each kind apart in overview_resources, though the two resources share a name")
		families, err := metricstest.Gather(metrics.Registry)
		Expect(err).NotTo(HaveOccurred())
		for _, kind := range []string{"DeviceConfigurationUserOverview", "DeviceConfigurationDeviceOverview"} {
			Expect(families.Value("overview_resources", "kind", kind, "ready", "True", "reason", intunev1alpha1.ReasonUpToDate)).
				To(BeNumerically(">=", 1), kind)
		}

		out := kubectl.Run("get", "dcdo", "-n", t.namespace, "wifi", "-o", "custom-columns=READY:.status.conditions[?(@.type==\"Ready\")].status,DRIFT:.status.driftCount", "--no-headers")
		Expect(strings.Fields(out)).To(Equal([]string{"True", "0"}))
		Expect(k8sClient.Delete(ctx, devices)).To(Succeed())
		Expect(k8sClient.Delete(ctx, users)).To(Succeed())
	})
})
