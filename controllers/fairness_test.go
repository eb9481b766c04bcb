package controllers_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// createOverviews creates n drifted resources in t, each with a device configuration of its own.
func createOverviews(t *tenant, n int) []*intunev1alpha1.DeviceConfigurationUserOverview {
	GinkgoHelper()
	var os []*intunev1alpha1.DeviceConfigurationUserOverview
	for range n {
		os = append(os, newOverview(t, t.seed(graphtest.Overview{})))
	}
	return os
}

// readyCount counts the resources Ready at their generation.
func readyCount(os []*intunev1alpha1.DeviceConfigurationUserOverview) int {
	n := 0
	for _, o := range os {
		got := &intunev1alpha1.DeviceConfigurationUserOverview{}
		if k8sClient.Get(ctx, client.ObjectKeyFromObject(o), got) != nil {
			continue
		}
		if c := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionReady); c != nil &&
			c.Status == metav1.ConditionTrue && c.ObservedGeneration == got.Generation {
			n++
		}
	}
	return n
}

// patchTimes are the arrival times of a tenant's PATCHes that Graph accepted, in order.
func patchTimes(t *tenant) []time.Time {
	var ts []time.Time
	for _, r := range t.requests() {
		if r.Method == http.MethodPatch && r.Status == http.StatusOK {
			ts = append(ts, r.Time)
		}
	}
	return ts
}

// The suite's longest specs start first (SpecPriority), so that none of them is left to run alone
// at the end of the parallel run: these wait two of Intune's 20 s windows, and Graph's pauses.
var _ = Describe("Tenants", SpecPriority(2), func() {
	It("drain a line of writes longer than the sync interval, in one PATCH each, without holding another tenant up", func() {
		// Intune admits 100 PATCHes of an app in a tenant per 20 s: 120 drifted resources make a
		// line of writes two windows long, against the suite's 3 s sync interval. Each resource is
		// PATCHed once, none is throttled, and the small tenant's PATCH goes within the first
		// window, ahead of the big tenant's second.
		// The small tenant's resource comes once the big tenant's line has started (its first
		// PATCH), while the rest of the line is still being created: how long creating 120
		// resources takes on a loaded machine then costs the small tenant nothing of its window.
		big, small := newTenant(), newTenant()
		var bigOnes []*intunev1alpha1.DeviceConfigurationUserOverview
		created := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(created)
			bigOnes = createOverviews(big, 120)
		}()
		Eventually(func() []time.Time { return patchTimes(big) }).WithTimeout(60*time.Second).ShouldNot(BeEmpty(), "the big tenant's first PATCH")
		smallOne := createOverviews(small, 1)
		Eventually(created).WithTimeout(2 * time.Minute).Should(BeClosed())
		expectCondition(smallOne[0], intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		Eventually(func() int { return readyCount(bigOnes) }).WithTimeout(90*time.Second).WithPolling(time.Second).
			Should(Equal(len(bigOnes)), "every resource of the line becomes Ready")

		for _, r := range big.requests() {
			Expect(r.Status).To(Equal(http.StatusOK), "%s at %v was answered %d", r.Method, r.Time, r.Status)
		}
		bigPatches := patchTimes(big)
		Expect(bigPatches).To(HaveLen(120), "one PATCH per resource, none repeated")
		// A resource waiting in the line read Graph once, at its turn, just before its PATCH.
		readsBefore := map[string]int{}
		patched := map[string]bool{}
		for _, r := range big.requests() {
			switch {
			case r.Method == http.MethodPatch:
				patched[r.ConfigurationID] = true
			case !patched[r.ConfigurationID]:
				readsBefore[r.ConfigurationID]++
			}
		}
		for id, n := range readsBefore {
			Expect(n).To(Equal(1), "configuration %s was read %d times before its PATCH", id, n)
		}
		smallPatch := patchTimes(small)
		Expect(smallPatch).To(HaveLen(1))
		after := 0
		for _, at := range bigPatches {
			if at.After(smallPatch[0]) {
				after++
			}
		}
		Expect(after).To(BeNumerically(">=", 20), "the small tenant's PATCH waited for the big tenant's second window")
	})

	It("are not held up by a tenant whose Graph hangs", func() {
		slow, other := newTenant(), newTenant()
		emulator.Inject(graphtest.Fault{TenantID: slow.id, Latency: 8 * time.Second})
		DeferCleanup(emulator.ClearFaults)
		slowOnes := createOverviews(slow, 20)
		otherOnes := createOverviews(other, 5)
		for _, o := range otherOnes {
			expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		}
		Expect(readyCount(slowOnes)).To(BeZero(), "the other tenant was served while every call of the slow one hung")
		Expect(patchTimes(slow)).To(BeEmpty())
		emulator.ClearFaults()
		Eventually(func() int { return readyCount(slowOnes) }).WithTimeout(60*time.Second).WithPolling(time.Second).
			Should(Equal(len(slowOnes)), "the slow tenant's resources become Ready once its answers come")
	})

	It("are not held up by a tenant Graph throttles, and the throttled one makes no call during its pause", func() {
		throttled, other := newTenant(), newTenant()
		emulator.Inject(graphtest.Fault{TenantID: throttled.id, Status: http.StatusTooManyRequests, RetryAfter: "2"})
		DeferCleanup(emulator.ClearFaults)
		throttledOnes := createOverviews(throttled, 20)
		Eventually(func() int { return throttled.count("") }).WithTimeout(10 * time.Second).Should(BeNumerically(">=", 1))
		otherOnes := createOverviews(other, 5)
		for _, o := range otherOnes {
			expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		}
		count429 := func() int {
			n := 0
			for _, r := range throttled.requests() {
				if r.Status == http.StatusTooManyRequests {
					n++
				}
			}
			return n
		}
		Eventually(count429).WithTimeout(20*time.Second).Should(BeNumerically(">=", 3), "Graph throttles the tenant over several pauses")
		emulator.ClearFaults()
		Eventually(func() int { return readyCount(throttledOnes) }).WithTimeout(60 * time.Second).WithPolling(time.Second).
			Should(Equal(len(throttledOnes)))
		// Every 429 paused the whole tenant for its Retry-After: apart from the calls already on
		// their way with it, no call came within 2 s after one, and after a pause one call probes
		// Graph before the others follow.
		reqs := throttled.requests()
		throttledCalls := 0
		for i, r := range reqs {
			if r.Status != http.StatusTooManyRequests {
				continue
			}
			throttledCalls++
			for _, later := range reqs[i+1:] {
				gap := later.Time.Sub(r.Time)
				Expect(gap < 500*time.Millisecond || gap >= 2*time.Second-50*time.Millisecond).To(BeTrue(),
					"%s came %v after a 429", later.Method, gap)
			}
		}
		Expect(throttledCalls).To(BeNumerically(">=", 3))
		Expect(throttledCalls).To(BeNumerically("<", 40), "a throttled tenant probes with one call per pause")
		Expect(patchTimes(throttled)).To(HaveLen(20), "one PATCH per resource")
	})
})
