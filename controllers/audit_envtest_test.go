package controllers_test

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var alice = graphtest.PortalUser{UserPrincipalName: "alice@contoso.com"}

// lookUpAudit sets auditLookup on the tenant's connection.
func (t *tenant) lookUpAudit() {
	GinkgoHelper()
	Eventually(func() error {
		conn := &intunev1alpha1.GraphConnection{}
		if err := k8sClient.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: t.connection}, conn); err != nil {
			return err
		}
		conn.Spec.AuditLookup = true
		return k8sClient.Update(ctx, conn)
	}).Should(Succeed())
}

// auditCalls counts the tenant's calls of Intune's audit log.
func (t *tenant) auditCalls() int {
	n := 0
	for _, r := range t.requests() {
		if strings.HasSuffix(r.Path, "/deviceManagement/auditEvents") {
			n++
		}
	}
	return n
}

// observeOnly makes a resource ObserveOnly.
func observeOnly(o *intunev1alpha1.DeviceConfigurationUserOverview) {
	o.Spec.ManagementPolicy = intunev1alpha1.ManagementPolicyObserveOnly
}

// eventNotes are the notes of the events of reason about the object named name in namespace.
func eventNotes(namespace, name, reason string) []string {
	GinkgoHelper()
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
	var notes []string
	for _, e := range list.Items {
		if e.Regarding.Name == name && e.Reason == reason {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// auditCondition is the connection's AuditLogReadable condition, nil when it has none.
func (t *tenant) auditCondition(g Gomega) *metav1.Condition {
	conn := &intunev1alpha1.GraphConnection{}
	g.Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: t.namespace, Name: t.connection}, conn)).To(Succeed())
	return meta.FindStatusCondition(conn.Status.Conditions, intunev1alpha1.ConditionAuditLogReadable)
}

var _ = Describe("Who changed it (auditLookup)", func() {
	It("names the person who made the drift, and when, in the DriftDetected event and next to the field in status.drift", func() {
		t := newTenant(graphtest.PermissionReadWrite, graphtest.PermissionAuditRead)
		t.lookUpAudit()
		id := t.seed(graphtest.Overview{SuccessCount: 12, LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id, observeOnly)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(t.auditCalls()).To(BeZero(), "no drift, no look-up")

		ev, ok := emulator.Change(alice, t.id, id, graphtest.UserStatusOverview, func(o *graphtest.Overview) { o.SuccessCount = 3 })
		Expect(ok).To(BeTrue())
		at := ev.ActivityDateTime.UTC().Truncate(time.Second)

		var got *intunev1alpha1.DeviceConfigurationUserOverview
		Eventually(func(g Gomega) {
			got = fetch(o)
			g.Expect(got.Status.Drift).To(HaveLen(1))
			d := got.Status.Drift[0]
			g.Expect(d.Field).To(Equal("successCount"))
			g.Expect(d.Observed).To(Equal("3"))
			g.Expect(d.ChangedBy).To(Equal("alice@contoso.com"))
			g.Expect(d.ChangedAt).NotTo(BeNil())
			g.Expect(d.ChangedAt.Time.Equal(at)).To(BeTrue(), "changedAt %s, want %s", d.ChangedAt, at)
		}).WithTimeout(syncInterval + 15*time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, intunev1alpha1.ConditionSynced)).To(BeTrue())

		Eventually(func(g Gomega) {
			g.Expect(eventNotes(o.Namespace, o.Name, intunev1alpha1.ReasonDriftDetected)).To(ContainElement(
				"Graph differs from the spec in successCount: spec 12, Graph 3 (changed by alice@contoso.com at " + at.Format(time.RFC3339) + ")"))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			c := t.auditCondition(g)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(intunev1alpha1.ReasonAuditLogRead))
		}).WithTimeout(10 * time.Second).Should(Succeed())

		By("keeping the name while the drift stays, without looking it up again")
		calls := t.auditCalls()
		Expect(calls).To(Equal(1), "one page of the log since the last sync")
		Consistently(func(g Gomega) {
			g.Expect(fetch(o).Status.Drift[0].ChangedBy).To(Equal("alice@contoso.com"))
		}).WithTimeout(syncInterval + time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		Expect(t.auditCalls()).To(Equal(calls))
	})

	It("under Manage, names who changed what the operator sets back", func() {
		t := newTenant(graphtest.PermissionReadWrite, graphtest.PermissionAuditRead)
		t.lookUpAudit()
		id := t.seed(graphtest.Overview{LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		bob := graphtest.PortalUser{UserPrincipalName: "bob@contoso.com"}
		ev, _ := emulator.Change(bob, t.id, id, graphtest.UserStatusOverview, func(o *graphtest.Overview) { o.FailedCount = 4 })
		at := ev.ActivityDateTime.UTC().Truncate(time.Second).Format(time.RFC3339)
		Eventually(func(g Gomega) {
			g.Expect(eventNotes(o.Namespace, o.Name, intunev1alpha1.ReasonDriftDetected)).To(ContainElement(
				"Graph was changed outside the operator in failedCount: spec 0, Graph 4 (changed by bob@contoso.com at " + at + "); the operator set it back to the spec"))
		}).WithTimeout(syncInterval + 15*time.Second).Should(Succeed())
		now, _ := emulator.Overview(t.id, id)
		Expect(now.FailedCount).To(BeZero(), "the sync did not wait for the look-up")
		Expect(fetch(o).Status.Drift).To(BeEmpty())
	})

	It("makes no call of the audit log for a connection without auditLookup", func() {
		t := newTenant(graphtest.PermissionReadWrite, graphtest.PermissionAuditRead)
		id := t.seed(graphtest.Overview{SuccessCount: 12, LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id, observeOnly)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		emulator.Change(alice, t.id, id, graphtest.UserStatusOverview, func(o *graphtest.Overview) { o.SuccessCount = 3 })
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonDriftDetected)
		Eventually(func(g Gomega) {
			g.Expect(eventNotes(o.Namespace, o.Name, intunev1alpha1.ReasonDriftDetected)).To(ContainElement(
				"Graph differs from the spec in successCount: spec 12, Graph 3"))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Consistently(t.auditCalls).WithTimeout(syncInterval + time.Second).WithPolling(200 * time.Millisecond).Should(BeZero())
		Expect(fetch(o).Status.Drift[0].ChangedBy).To(BeEmpty())
		Eventually(func(g Gomega) { g.Expect(t.auditCondition(g)).To(BeNil()) }).Should(Succeed())
	})

	It("says once on the connection that the app lacks the permission, syncs all the same, and does not ask again within the backoff", func() {
		before, err := metricstest.Gather(metrics.Registry)
		Expect(err).NotTo(HaveOccurred())
		t := newTenant() // DeviceManagementConfiguration.ReadWrite.All only, as the operator needs
		t.lookUpAudit()
		id := t.seed(graphtest.Overview{SuccessCount: 12, LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id, observeOnly)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		emulator.Change(alice, t.id, id, graphtest.UserStatusOverview, func(o *graphtest.Overview) { o.SuccessCount = 3 })
		Eventually(func(g Gomega) {
			c := t.auditCondition(g)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(intunev1alpha1.ReasonForbidden))
			g.Expect(c.Message).To(ContainSubstring("grant it the application permission DeviceManagementApps.Read.All"))
		}).WithTimeout(syncInterval + 15*time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())

		By("syncing the resource all the same, with the drift reported without a name")
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonDriftDetected)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, intunev1alpha1.ConditionSynced)).To(BeTrue())
		Expect(got.Status.Drift).To(HaveLen(1))
		Expect(got.Status.Drift[0].ChangedBy).To(BeEmpty())
		Eventually(func(g Gomega) {
			notes := eventNotes(o.Namespace, o.Name, intunev1alpha1.ReasonDriftDetected)
			g.Expect(notes).To(ContainElement(And(HavePrefix("Graph differs from the spec in successCount: spec 12, Graph 3; who changed it is not known"),
				ContainSubstring("DeviceManagementApps.Read.All"))))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(eventNotes(t.namespace, t.connection, intunev1alpha1.ReasonForbidden)).To(HaveLen(1))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		families, err := metricstest.Gather(metrics.Registry)
		Expect(err).NotTo(HaveOccurred())
		Expect(families.Value("overview_audit_log_forbidden_connections")).To(BeNumerically(">=", 1))
		Expect(families.Value("overview_audit_lookups_total", "result", "forbidden") -
			before.Value("overview_audit_lookups_total", "result", "forbidden")).To(BeNumerically(">=", 1))

		By("not asking again at the next drift, within the backoff")
		calls := t.auditCalls()
		Expect(calls).To(BeNumerically(">=", 1))
		emulator.Change(alice, t.id, id, graphtest.UserStatusOverview, func(o *graphtest.Overview) { o.FailedCount = 7 })
		Eventually(func(g Gomega) {
			g.Expect(fetch(o).Status.Drift).To(ContainElement(HaveField("Field", "failedCount")))
		}).WithTimeout(syncInterval + 5*time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		Consistently(t.auditCalls).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(calls))
		Expect(eventNotes(t.namespace, t.connection, intunev1alpha1.ReasonForbidden)).To(HaveLen(1), "said once")
		Expect(t.count(http.MethodPatch)).To(BeZero())
	})
})
