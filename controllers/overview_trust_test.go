package controllers_test

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// A job waits in its tenant's line, behind a 429 pause here, for as long as Graph makes it. These
// specs change the cluster while it waits (the emulator's 429 faults and latency hold it there, and
// each spec checks that it was waiting when the change landed), and expect no call the cluster no
// longer wants: a write happens only if the cluster still wants it at the moment it is sent.

// throttlePatch makes the tenant's next PATCH wait latency and then answer 429 with a Retry-After
// of pause, which holds every call of the tenant (the job back in line included) for that long.
func throttlePatch(t *tenant, latency, pause time.Duration) {
	emulator.Inject(graphtest.Fault{TenantID: t.id, Method: http.MethodPatch, Times: 1,
		Latency: latency, Status: http.StatusTooManyRequests, RetryAfter: strconv.Itoa(int(pause.Seconds()))})
	DeferCleanup(emulator.ClearFaults)
}

// patchesAnswered counts the tenant's PATCHes answered with status.
func patchesAnswered(t *tenant, status int) int {
	n := 0
	for _, r := range t.requests() {
		if r.Method == http.MethodPatch && r.Status == status {
			n++
		}
	}
	return n
}

// expectNoPatchAccepted checks, for the time given, that Graph accepts no PATCH of the tenant.
func expectNoPatchAccepted(t *tenant, within time.Duration, why string) {
	GinkgoHelper()
	Consistently(func() int { return patchesAnswered(t, http.StatusOK) + patchesAnswered(t, http.StatusNoContent) }).
		WithTimeout(within).WithPolling(100*time.Millisecond).Should(BeZero(), why)
}

// waitForThrottledPatch waits until Graph has answered the tenant's PATCH 429: its job is back in
// line, behind the pause.
func waitForThrottledPatch(t *tenant) time.Time {
	GinkgoHelper()
	Eventually(func() int { return patchesAnswered(t, http.StatusTooManyRequests) }).
		WithTimeout(20 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(1))
	return time.Now()
}

// expectSeenByTheOperator waits until the connection reconciler has checked the connection's
// newest generation: the operator's cache, which the overview reconciler and its jobs read too,
// holds the change.
func expectSeenByTheOperator(conn client.Object) {
	GinkgoHelper()
	generation := conn.GetGeneration()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(conn), conn)).To(Succeed())
		g.Expect(conn.(intunev1alpha1.Connection).ConnectionStatus().ObservedGeneration).To(Equal(generation))
	}).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(Succeed())
}

// expectStillWaiting checks that the tenant's pause, which began at throttled and lasts pause, has
// not ended: the job was still waiting in line when the change that the spec made landed.
func expectStillWaiting(throttled time.Time, pause time.Duration) {
	GinkgoHelper()
	Expect(time.Since(throttled)).To(BeNumerically("<", pause-time.Second),
		"the change landed after the pause ended: the job was not waiting, and the spec proves nothing")
}

var _ = Describe("A write the cluster no longer wants", func() {
	const pause = 5 * time.Second

	It("is not sent for a namespace a ClusterGraphConnection stopped admitting while the job waited", func() {
		t := newTenant()
		cc := newClusterConnection(t, intunev1alpha1.AllowedNamespaces{Names: []string{t.namespace}})
		throttlePatch(t, 0, pause)
		o := newOverview(t, t.seed(graphtest.Overview{SuccessCount: 3}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: cc}
		})
		throttled := waitForThrottledPatch(t)

		By("revoking the namespace while the job waits behind the pause")
		conn := &intunev1alpha1.ClusterGraphConnection{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: cc}, conn)).To(Succeed())
		base := conn.DeepCopy()
		conn.Spec.AllowedNamespaces.Names = []string{"someone-else"}
		Expect(k8sClient.Patch(ctx, conn, client.MergeFrom(base))).To(Succeed())
		expectSeenByTheOperator(conn)
		expectStillWaiting(throttled, pause)

		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonConnectionNotAllowed)
		expectNoPatchAccepted(t, pause+2*time.Second, "a PATCH went after the namespace was revoked")
		state, _ := emulator.Overview(t.id, o.Spec.DeviceConfigurationID)
		Expect(state.SuccessCount).To(Equal(int32(3)))
	})

	It("is not sent for a resource deleted while its PATCH was answered 429", func() {
		t := newTenant()
		throttlePatch(t, 0, pause)
		id := t.seed(graphtest.Overview{SuccessCount: 3})
		o := newOverview(t, id)
		throttled := waitForThrottledPatch(t)

		By("deleting the resource while its job waits out the 429's pause")
		Expect(k8sClient.Delete(ctx, o)).To(Succeed())
		expectStillWaiting(throttled, pause)

		expectNoPatchAccepted(t, pause+2*time.Second, "a deleted resource was PATCHed")
		state, _ := emulator.Overview(t.id, id)
		Expect(state.SuccessCount).To(Equal(int32(3)))
	})

	It("is not sent with the old client after the connection moved to another tenant while the job waited", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 3, PendingCount: 1})
		// The same configuration in another tenant, where the connection is about to point.
		other := &tenant{id: uuid.NewString(), clientID: uuid.NewString(), secret: "s3cr3t-" + uuid.NewString(),
			namespace: t.namespace, connection: t.connection}
		emulator.AddApp(graphtest.App{TenantID: other.id, ClientID: other.clientID, ClientSecret: other.secret})
		emulator.Seed(other.id, id, graphtest.Overview{SuccessCount: 5, PendingCount: 2})
		throttlePatch(t, 0, pause)
		o := newOverview(t, id)
		throttled := waitForThrottledPatch(t)

		By("moving the connection and its Secret to the other tenant while the job waits")
		Expect(k8sClient.Update(ctx, other.secretObject(other.secret))).To(Succeed())
		conn := &intunev1alpha1.GraphConnection{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: t.namespace, Name: t.connection}, conn)).To(Succeed())
		base := conn.DeepCopy()
		conn.Spec.ConnectionSpec = other.connectionSpec()
		Expect(k8sClient.Patch(ctx, conn, client.MergeFrom(base))).To(Succeed())
		expectSeenByTheOperator(conn)
		expectStillWaiting(throttled, pause)

		By("syncing the other tenant, and reporting its answer")
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(got.Status.Observed.PendingCount).To(Equal(int32(2)), "status reports the other tenant's overview")
		Expect(other.count(http.MethodPatch)).To(Equal(1))
		expectNoPatchAccepted(t, pause, "the old tenant was PATCHed after the connection moved")
		state, _ := emulator.Overview(t.id, id)
		Expect(state.SuccessCount).To(Equal(int32(3)))
	})
})
