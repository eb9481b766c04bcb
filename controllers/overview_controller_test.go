package controllers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var lastUpdate = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// newOverview creates a resource for a configuration of the tenant that manages successCount,
// failedCount and lastUpdateDateTime; edit adjusts it before it is created.
func newOverview(t *tenant, configurationID string, edit ...func(*intunev1alpha1.DeviceConfigurationUserOverview)) *intunev1alpha1.DeviceConfigurationUserOverview {
	GinkgoHelper()
	o := &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, GenerateName: "wifi-"},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: configurationID,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: t.connection},
			Overview: intunev1alpha1.OverviewFields{
				SuccessCount:       ptr.To[int32](12),
				FailedCount:        ptr.To[int32](0),
				LastUpdateDateTime: ptr.To("2026-11-28T10:00:00Z"),
			},
		},
	}
	for _, e := range edit {
		e(o)
	}
	Expect(k8sClient.Create(ctx, o)).To(Succeed())
	return o
}

// fetch reads the resource again from the API server.
func fetch(o *intunev1alpha1.DeviceConfigurationUserOverview) *intunev1alpha1.DeviceConfigurationUserOverview {
	GinkgoHelper()
	got := &intunev1alpha1.DeviceConfigurationUserOverview{}
	Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed())
	return got
}

// expectCondition waits until the resource's condition has the status and reason.
func expectCondition(o *intunev1alpha1.DeviceConfigurationUserOverview, typ string, status metav1.ConditionStatus, reason string) *intunev1alpha1.DeviceConfigurationUserOverview {
	GinkgoHelper()
	var got *intunev1alpha1.DeviceConfigurationUserOverview
	Eventually(func(g Gomega) {
		got = &intunev1alpha1.DeviceConfigurationUserOverview{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, typ)
		g.Expect(c).NotTo(BeNil(), "no %s condition yet", typ)
		g.Expect(c.Status).To(Equal(status), "%s: %s", c.Reason, c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
		g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
	}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	return got
}

// patchBodies are the JSON bodies of the tenant's PATCHes.
func patchBodies(t *tenant) []map[string]any {
	GinkgoHelper()
	var bodies []map[string]any
	for _, r := range t.requests() {
		if r.Method == http.MethodPatch {
			var body map[string]any
			Expect(json.Unmarshal(r.Body, &body)).To(Succeed(), string(r.Body))
			bodies = append(bodies, body)
		}
	}
	return bodies
}

var _ = Describe("A DeviceConfigurationUserOverview", func() {
	It("is applied with one GET and one PATCH of exactly the differing fields, read back, and reports what Graph holds", func() {
		// The package's offline tests run in this process too, and count their PATCHes.
		before, err := metricstest.Gather(metrics.Registry)
		Expect(err).NotTo(HaveOccurred())
		patchesBefore := before.Value("overview_patches_applied_total")
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 3, FailedCount: 0, PendingCount: 7, LastUpdateDateTime: lastUpdate.Add(-time.Hour)})
		// An hourly interval: a routine resync of the suite's 3s must not add a GET to the count.
		o := newOverview(t, id, func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.SyncInterval = &metav1.Duration{Duration: time.Hour}
		})

		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(t.count(http.MethodGet)).To(Equal(2), "the GET before the PATCH and the read-back after it")
		reqs := t.requests()
		Expect(reqs[len(reqs)-1].Method).To(Equal(http.MethodGet), "Ready comes after the read-back")
		Expect(patchBodies(t)).To(Equal([]map[string]any{{
			"successCount":       float64(12), // a JSON number; failedCount already matched
			"lastUpdateDateTime": "2026-11-28T10:00:00Z",
		}}))

		state, ok := emulator.Overview(t.id, id)
		Expect(ok).To(BeTrue())
		Expect(got.Status.Observed).To(Equal(&intunev1alpha1.ObservedOverview{
			ID:                   state.ID,
			PendingCount:         state.PendingCount,
			SuccessCount:         12,
			FailedCount:          0,
			ConfigurationVersion: state.ConfigurationVersion,
			LastUpdateDateTime:   "2026-11-28T10:00:00Z",
		}))
		Expect(state.SuccessCount).To(Equal(int32(12)))
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(got.Status.Drift).To(BeEmpty())
		Expect(got.Status.LastAppliedTime).NotTo(BeNil())
		Expect(got.Status.LastSyncTime).NotTo(BeNil())
		Expect(got.Status.LastRequestID).To(Equal(t.requests()[len(t.requests())-1].RequestID))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, intunev1alpha1.ConditionSynced)).To(BeTrue())

		By("telling a person what happened, with events and metrics")
		Eventually(func(g Gomega) {
			list := &eventsv1.EventList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(o.Namespace))).To(Succeed())
			var reasons []string
			for _, e := range list.Items {
				if e.Regarding.Name == o.Name {
					reasons = append(reasons, e.Reason)
				}
			}
			g.Expect(reasons).To(ConsistOf("Patched"))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		families, err := metricstest.Gather(metrics.Registry)
		Expect(err).NotTo(HaveOccurred())
		Expect(families.Value("overview_patches_applied_total") - patchesBefore).To(BeNumerically(">=", 1))
		Expect(families.Value("overview_graph_requests_total")).To(BeNumerically(">=", 2))
	})

	It("is waited for with kubectl wait --for=condition=Ready", func() {
		t := newTenant()
		o := newOverview(t, t.seed(graphtest.Overview{}))
		out := kubectl.Run("wait", "--for=condition=Ready", "--timeout=30s", "-n", o.Namespace, "dcuo/"+o.Name)
		Expect(out).To(ContainSubstring("condition met"))
	})

	It("shows a drift count of 0, not a blank, in kubectl get once Graph matches", func() {
		t := newTenant()
		o := newOverview(t, t.seed(graphtest.Overview{}))
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		out := kubectl.Run("get", "dcuo", "-n", o.Namespace, o.Name,
			"-o", "custom-columns=DRIFT:.status.driftCount", "--no-headers")
		Expect(strings.TrimSpace(out)).To(Equal("0"), "the DRIFT column reads .status.driftCount")
	})

	It("corrects drift made in Graph within one resync", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		state, _ := emulator.Overview(t.id, id)
		state.SuccessCount, state.FailedCount = 40, 2
		emulator.Seed(t.id, id, state)
		Eventually(func(g Gomega) {
			now, _ := emulator.Overview(t.id, id)
			g.Expect(now.SuccessCount).To(Equal(int32(12)))
			g.Expect(now.FailedCount).To(Equal(int32(0)))
		}).WithTimeout(syncInterval + 5*time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		Expect(patchBodies(t)).To(HaveLen(2))
		Expect(patchBodies(t)[1]).To(Equal(map[string]any{"successCount": float64(12), "failedCount": float64(0)}))
	})

	It("under ObserveOnly never PATCHes and lists the drift", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 3, FailedCount: 1, LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id, func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ManagementPolicy = intunev1alpha1.ManagementPolicyObserveOnly
		})
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonDriftDetected)
		Expect(got.Status.Drift).To(Equal([]intunev1alpha1.FieldDrift{
			{Field: "successCount", Desired: "12", Observed: "3"},
			{Field: "failedCount", Desired: "0", Observed: "1"},
		}))
		Expect(got.Status.DriftCount).To(Equal(int32(2)))
		Eventually(func(g Gomega) {
			list := &eventsv1.EventList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(o.Namespace))).To(Succeed())
			g.Expect(list.Items).To(ContainElement(And(HaveField("Reason", intunev1alpha1.ReasonDriftDetected),
				HaveField("Note", ContainSubstring("successCount: spec 12, Graph 3")))))
		}).WithTimeout(10 * time.Second).Should(Succeed())
		// It keeps observing, and its first job sent no PATCH; that no resync's job does either is
		// TestObserveOnlyNeverPatches's.
		Eventually(func() int { return t.count(http.MethodGet) }).
			WithTimeout(syncInterval + 5*time.Second).WithPolling(100 * time.Millisecond).Should(BeNumerically(">=", 2))
		Expect(t.count(http.MethodPatch)).To(BeZero())
	})

	It("makes no Graph call while paused, and syncs once unpaused", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{})
		o := newOverview(t, id, func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Annotations = map[string]string{intunev1alpha1.AnnotationPaused: "true"}
		})
		expectCondition(o, intunev1alpha1.ConditionSynced, metav1.ConditionFalse, intunev1alpha1.ReasonPaused)
		// No paused pass submits a job, whatever brings it back (TestPassesThatCallNoGraph).
		Expect(t.count("")).To(BeZero())

		got := fetch(o)
		delete(got.Annotations, intunev1alpha1.AnnotationPaused)
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
	})

	It("does not claim Ready for a spec changed while paused", func() {
		t := newTenant()
		o := newOverview(t, t.seed(graphtest.Overview{}))
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		got := fetch(o)
		got.Annotations = map[string]string{intunev1alpha1.AnnotationPaused: "true"}
		got.Spec.Overview.SuccessCount = ptr.To[int32](13)
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonPaused)
		Expect(t.count(http.MethodPatch)).To(Equal(1), "the new value is not sent while paused")
	})

	It("resyncs a steady resource with exactly one GET per interval, no PATCH and no status write", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{SuccessCount: 12, LastUpdateDateTime: lastUpdate})
		o := newOverview(t, id)
		synced := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		before := t.count(http.MethodGet)

		Eventually(func() int { return t.count(http.MethodGet) }).
			WithTimeout(3*syncInterval + 5*time.Second).WithPolling(100 * time.Millisecond).Should(BeNumerically(">=", before+3))
		Expect(t.count(http.MethodPatch)).To(BeZero())
		Expect(fetch(o).ResourceVersion).To(Equal(synced.ResourceVersion), "a steady resync wrote status")

		// The first resync falls at the resource's phase, anywhere in the interval after creation;
		// from then on the resyncs are one interval apart.
		var gets []time.Time
		for _, r := range t.requests() {
			gets = append(gets, r.Time)
		}
		for i := 2; i < len(gets); i++ {
			Expect(gets[i].Sub(gets[i-1])).To(BeNumerically(">", syncInterval*8/10),
				"GETs %d and %d came closer than one interval", i-1, i)
		}
	})

	It("syncs at once when the sync-now annotation changes, and echoes it in status", func() {
		t := newTenant()
		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.SyncInterval = &metav1.Duration{Duration: time.Hour}
		})
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		gets := t.count(http.MethodGet)

		got := fetch(o)
		got.Annotations = map[string]string{intunev1alpha1.AnnotationReconcileRequestedAt: "2026-11-28T12:00:00Z"}
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		Eventually(func() string { return fetch(o).Status.LastHandledReconcileAt }).
			WithTimeout(10 * time.Second).Should(Equal("2026-11-28T12:00:00Z"))
		Expect(t.count(http.MethodGet)).To(Equal(gets + 1))
	})

	It("makes no Graph call when deleted", func() {
		t := newTenant()
		o := newOverview(t, t.seed(graphtest.Overview{}))
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		// Deleted just after a resync's read, so that the next resync is a whole interval away: on a
		// loaded machine the test can see Ready so late that a resync before the delete reads Graph.
		reads := t.count(http.MethodGet)
		Eventually(func() int { return t.count(http.MethodGet) }).WithTimeout(3*syncInterval).WithPolling(10*time.Millisecond).
			Should(BeNumerically(">", reads), "a resync's read")
		Expect(k8sClient.Delete(ctx, o)).To(Succeed())
		before := t.count("")
		// The resync it was queued for comes within an interval, and finds it gone; what a pass does
		// with a deleted resource is TestPassesThatCallNoGraph's.
		Consistently(func() int { return t.count("") }).
			WithTimeout(syncInterval + time.Second).WithPolling(200 * time.Millisecond).Should(Equal(before))
	})

	It("says NotFound for an unknown configuration and retries slowly", func() {
		t := newTenant()
		o := newOverview(t, "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d")
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonNotFound)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionSynced).Reason).To(Equal(intunev1alpha1.ReasonNotFound))
		// It looks again in 2 minutes (TestFailedPass); here, that its status write does not bring it
		// back at once.
		Consistently(func() int { return t.count("") }).
			WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(BeNumerically("<=", 2))
	})

	DescribeTable("stops on what needs a person, says what to fix, and does not hot-loop",
		func(setup func(*tenant) *intunev1alpha1.DeviceConfigurationUserOverview, reason string) {
			t := newTenant()
			o := setup(t)
			got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, reason)
			Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady).Message).NotTo(BeEmpty())
			// How each ends and when it looks again is TestFailedPass's; here, that a status write does
			// not bring it back at once.
			before := t.count("")
			Consistently(func() int { return t.count("") - before }).
				WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(BeNumerically("<=", 2))
		},
		Entry("400 from Graph", func(t *tenant) *intunev1alpha1.DeviceConfigurationUserOverview {
			id := t.seed(graphtest.Overview{})
			emulator.Inject(graphtest.Fault{ConfigurationID: id, Status: http.StatusBadRequest})
			return newOverview(t, id)
		}, intunev1alpha1.ReasonBadRequest),
		Entry("a wrong client secret", func(t *tenant) *intunev1alpha1.DeviceConfigurationUserOverview {
			Expect(k8sClient.Update(ctx, t.secretObject("not-the-secret"))).To(Succeed())
			return newOverview(t, t.seed(graphtest.Overview{}))
		}, intunev1alpha1.ReasonInvalidCredentials),
		Entry("a missing Secret", func(t *tenant) *intunev1alpha1.DeviceConfigurationUserOverview {
			Expect(k8sClient.Delete(ctx, t.secretObject(""))).To(Succeed())
			return newOverview(t, t.seed(graphtest.Overview{}))
		}, intunev1alpha1.ReasonSecretNotFound),
	)

	It("recovers from Forbidden by itself once the permission is granted and consented", func() {
		// The app may only read; the resource needs a PATCH.
		t := newTenant(graphtest.PermissionRead)
		o := newOverview(t, t.seed(graphtest.Overview{}))
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonForbidden)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).NotTo(BeNil())

		// The admin grants the permission and consents, in Entra ID: nothing changes in Kubernetes.
		Expect(emulator.Grant(t.id, t.clientID, graphtest.PermissionReadWrite)).To(Succeed())
		got = expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeNil())
		// Tried again on the credentials' backoff (its waits are TestFailedPass's), not in a hot loop.
		Expect(emulator.CountRequests(func(r graphtest.Request) bool {
			return r.TenantID == t.id && r.Status == http.StatusForbidden
		})).To(BeNumerically("<=", 10), "403s before the grant took effect")
	})

	It("sends nothing to a throttled tenant before Retry-After has passed, for any of its resources", func() {
		t := newTenant()
		other := newOverview(t, t.seed(graphtest.Overview{}))
		expectCondition(other, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)

		id := t.seed(graphtest.Overview{})
		emulator.Inject(graphtest.Fault{ConfigurationID: id, Status: http.StatusTooManyRequests, RetryAfter: "2.5", Times: 1})
		o := newOverview(t, id)
		Eventually(func() int {
			return emulator.CountRequests(func(r graphtest.Request) bool {
				return r.ConfigurationID == id && r.Status == http.StatusTooManyRequests
			})
		}).WithTimeout(10 * time.Second).Should(Equal(1))
		By("asking the tenant's other resource to sync during the wait")
		got := fetch(other)
		got.Annotations = map[string]string{intunev1alpha1.AnnotationReconcileRequestedAt: "during-the-429"}
		Expect(k8sClient.Update(ctx, got)).To(Succeed())

		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Eventually(func() string { return fetch(other).Status.LastHandledReconcileAt }).
			WithTimeout(10 * time.Second).Should(Equal("during-the-429"))
		var throttledAt time.Time
		for _, r := range t.requests() {
			if r.Status == http.StatusTooManyRequests {
				throttledAt = r.Time
				continue
			}
			if !throttledAt.IsZero() {
				Expect(r.Time.Sub(throttledAt)).To(BeNumerically(">=", 2500*time.Millisecond),
					"%s %s came %v after the 429", r.Method, r.ConfigurationID, r.Time.Sub(throttledAt))
			}
		}
		Expect(throttledAt.IsZero()).To(BeFalse())
	})

	It("never says Ready for a PATCH Graph answered but did not keep", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{})
		emulator.Inject(graphtest.Fault{ConfigurationID: id, DiscardPatch: true})
		DeferCleanup(emulator.ClearFaults)
		o := newOverview(t, id)
		// That no status write says Ready on the way is TestNeverReadyForAPatchGraphDoesNotKeep's.
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonNotPersisted)
		Expect(got.Status.Observed.SuccessCount).To(Equal(int32(0)), "status shows what Graph holds, read back")
		Expect(got.Status.LastAppliedTime).NotTo(BeNil(), "the PATCH Graph accepted is recorded")
	})

	It("says NotPersisted when Graph does not keep a PATCH, and backs off", func() {
		t := newTenant()
		id := t.seed(graphtest.Overview{})
		emulator.Inject(graphtest.Fault{ConfigurationID: id, DiscardPatch: true})
		DeferCleanup(emulator.ClearFaults)
		o := newOverview(t, id)
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonNotPersisted)
		// Two retries, which come with the backoff's first waits; that each doubles is
		// TestNeverReadyForAPatchGraphDoesNotKeep's, on a fake clock.
		before := t.count(http.MethodPatch)
		Eventually(func() int { return t.count(http.MethodPatch) }).
			WithTimeout(10 * time.Second).WithPolling(50 * time.Millisecond).Should(BeNumerically(">=", before+2))
		var patches []time.Time
		for _, r := range t.requests() {
			if r.Method == http.MethodPatch {
				patches = append(patches, r.Time)
			}
		}
		// The first PATCH is the creation's, whose read-back finds the value gone; from then on the
		// retries back off with jitter from 1s: [0.5s, 1s], [1s, 2s], ... and no retry comes sooner.
		for i := 2; i < len(patches); i++ {
			gap := patches[i].Sub(patches[i-1])
			Expect(gap).To(BeNumerically(">=", 500*time.Millisecond), "retry %d came %v after the last", i-1, gap)
		}
	})
})

// Started early (SpecPriority): its spec of credentials that start to work waits out a backoff.
var _ = Describe("Connections", SpecPriority(1), func() {
	It("recover by themselves when Entra ID starts to accept a secret it refused at first", func() {
		// A rotation written to the Secret before Entra ID has the new secret everywhere: refused at
		// first, accepted a little later, with no second edit of anything in Kubernetes.
		t := newTenant()
		rotated := "rotated-" + t.secret
		Expect(k8sClient.Update(ctx, t.secretObject(rotated))).To(Succeed())
		o := newOverview(t, t.seed(graphtest.Overview{}))
		conn := &intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.connection}}
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)
		expectConnectionReady(conn, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)

		emulator.AddApp(graphtest.App{TenantID: t.id, ClientID: t.clientID, ClientSecret: rotated})
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		expectConnectionReady(conn, metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid)
	})

	It("bring their resources back at once when the credentials start to work, not at the end of each resource's backoff", func() {
		// The Secret rotated first and Entra ID accepting the new secret a while later: the
		// resources' own backoff grew as long as the credentials failed, but a connection whose
		// check passes again brings them back with it, without another edit.
		t := newTenant()
		var resources []*intunev1alpha1.DeviceConfigurationUserOverview
		for range 8 {
			resources = append(resources, newOverview(t, t.seed(graphtest.Overview{})))
		}
		for _, o := range resources {
			expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		}
		rotated := "rotated-" + t.secret
		Expect(k8sClient.Update(ctx, t.secretObject(rotated))).To(Succeed())
		conn := &intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.connection}}
		expectConnectionReady(conn, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)
		for _, o := range resources {
			expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)
		}
		// Refused for a while (the suite's first wait is 1s): each resource now waits seconds.
		Consistently(func(g Gomega) {
			for _, o := range resources {
				got := &intunev1alpha1.DeviceConfigurationUserOverview{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed())
				g.Expect(meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady)).To(
					HaveField("Reason", intunev1alpha1.ReasonInvalidCredentials), got.Name)
			}
		}).WithTimeout(10 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())

		emulator.AddApp(graphtest.App{TenantID: t.id, ClientID: t.clientID, ClientSecret: rotated})
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(conn), conn)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(conn.Status.Conditions, intunev1alpha1.ConditionReady)).To(BeTrue())
		}).WithTimeout(30 * time.Second).WithPolling(50 * time.Millisecond).Should(Succeed())
		Eventually(func(g Gomega) {
			var behind []string
			for _, o := range resources {
				got := &intunev1alpha1.DeviceConfigurationUserOverview{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(o), got)).To(Succeed())
				if ready := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue {
					behind = append(behind, got.Name)
				}
			}
			g.Expect(behind).To(BeEmpty(), "resources still not Ready after their connection was")
		}).WithTimeout(3*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(),
			"every resource Ready within 3s of its connection")
	})

	It("take a fixed client secret without a restart", func() {
		t := newTenant()
		Expect(k8sClient.Update(ctx, t.secretObject("an-old-secret"))).To(Succeed())
		o := newOverview(t, t.seed(graphtest.Overview{}))
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)

		Expect(k8sClient.Update(ctx, t.secretObject(t.secret))).To(Succeed())
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
	})

	It("refuse a GraphConnection of another namespace, without a Graph call", func() {
		t := newTenant()
		elsewhere := testutil.NewNamespace(ctx, k8sClient, "it-ops")
		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Namespace = elsewhere // the connection "contoso" lives in t.namespace only
		})
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonConnectionNotFound)
		msg := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady).Message
		Expect(msg).To(ContainSubstring(fmt.Sprintf("in namespace %q", elsewhere)))
		Expect(msg).To(ContainSubstring("create it, or recreate this resource with another connectionRef"),
			"spec.connectionRef is immutable: the message says what works")
		Expect(msg).NotTo(ContainSubstring("fix spec.connectionRef"))
		// No pass without a connection submits a job (TestFailedPass).
		Expect(t.count("")).To(BeZero())
	})

	It("say what works when a ClusterGraphConnection does not exist", func() {
		t := newTenant()
		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: "nowhere"}
		})
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonConnectionNotFound)
		msg := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady).Message
		Expect(msg).To(Equal(`ClusterGraphConnection "nowhere" does not exist: create it, or recreate this resource with another connectionRef (spec.connectionRef cannot change)`))
	})

	It("refuse a ClusterGraphConnection whose allowedNamespaces exclude the namespace, without a Graph call", func() {
		t := newTenant()
		cc := newClusterConnection(t, intunev1alpha1.AllowedNamespaces{
			Names:    []string{"someone-else"},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "it"}},
		})
		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: cc}
		})
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonConnectionNotAllowed)
		// No pass the connection refuses submits a job (TestFailedPass).
		Expect(t.count("")).To(BeZero())

		By("admitting the namespace by label")
		nsObj := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: t.namespace}, nsObj)).To(Succeed())
		nsObj.Labels = map[string]string{"team": "it"}
		Expect(k8sClient.Update(ctx, nsObj)).To(Succeed())
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
	})

	It("admit a namespace listed by name in a ClusterGraphConnection", func() {
		t := newTenant()
		cc := newClusterConnection(t, intunev1alpha1.AllowedNamespaces{Names: []string{t.namespace}})
		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: cc}
		})
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
	})
})
