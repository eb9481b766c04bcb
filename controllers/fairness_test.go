package controllers_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("Tenants", func() {
	It("are served fairly: a backlog of writes in one tenant does not hold up another, nor draw a 429", func() {
		// Intune lets an app PATCH about 5 times a second in a tenant, after a burst of 5: 30 PATCHes
		// take the big tenant about 6 s, while the small tenant's budget is untouched.
		big, small := newTenant(), newTenant()
		hourly := func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.SyncInterval = &metav1.Duration{Duration: time.Hour} // no resync during the test
		}
		var bigOnes []*intunev1alpha1.DeviceConfigurationUserOverview
		for range 30 {
			bigOnes = append(bigOnes, newOverview(big, big.seed(graphtest.Overview{}), hourly))
		}
		smallOne := newOverview(small, small.seed(graphtest.Overview{}), hourly)

		expectCondition(smallOne, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		for _, o := range bigOnes {
			expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
		}

		var smallPatch time.Time
		for _, r := range small.requests() {
			if r.Method == http.MethodPatch {
				smallPatch = r.Time
			}
		}
		bigAfter, bigPatches := 0, 0
		for _, r := range big.requests() {
			Expect(r.Status).To(Equal(http.StatusOK), "%s at %v was answered %d", r.Method, r.Time, r.Status)
			if r.Method == http.MethodPatch {
				bigPatches++
				if r.Time.After(smallPatch) {
					bigAfter++
				}
			}
		}
		Expect(bigPatches).To(Equal(30), "one PATCH per resource, none repeated")
		Expect(bigAfter).To(BeNumerically(">=", 10),
			"the small tenant's PATCH waited behind %d of the big tenant's 30", 30-bigAfter)
		Expect(big.count(http.MethodGet)).To(Equal(30), "a PATCH that waited for its turn did not read Graph again")
	})
})
