package controllers_test

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// What Graph answers is untrusted input: an answer that is not the overview asked for never
// reaches status, and the resource says what was wrong and which host said it.
var _ = Describe("An answer from Graph that is not the overview asked for", func() {
	DescribeTable("is never taken as the overview, and the resource names the host and what was wrong",
		func(body func(id string) string, contentType, says string) {
			t := newTenant()
			id := t.seed(graphtest.Overview{SuccessCount: 3})
			emulator.Inject(graphtest.Fault{TenantID: t.id, ConfigurationID: id, Body: body(id), ContentType: contentType})
			o := newOverview(t, id)

			got := expectCondition(o, intunev1alpha1.ConditionSynced, metav1.ConditionFalse, intunev1alpha1.ReasonGraphUnavailable)
			synced := meta.FindStatusCondition(got.Status.Conditions, intunev1alpha1.ConditionSynced)
			Expect(synced.Message).To(ContainSubstring(`host "127.0.0.1"`))
			Expect(synced.Message).To(ContainSubstring(says))
			Expect(meta.IsStatusConditionTrue(got.Status.Conditions, intunev1alpha1.ConditionReady)).To(BeFalse())
			Expect(got.Status.Observed).To(BeNil(), "nothing of the answer reached status")
			Expect(t.count(http.MethodPatch)).To(BeZero(), "no PATCH was judged from it")
			Consistently(func() *intunev1alpha1.ObservedOverview { return fetch(o).Status.Observed }).
				WithTimeout(2 * time.Second).Should(BeNil())
		},
		Entry("another configuration's overview", func(string) string {
			return `{"id":"0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b","successCount":12,"failedCount":0,"lastUpdateDateTime":"2026-11-28T10:00:00Z"}`
		}, "", "another configuration's overview"),
		Entry("a negative count", func(id string) string {
			return `{"id":"` + id + `","successCount":12,"failedCount":-1,"lastUpdateDateTime":"2026-11-28T10:00:00Z"}`
		}, "", "failedCount is negative"),
		Entry("an id that is not UTF-8", func(id string) string {
			return `{"id":"` + strings.TrimSuffix(id, id[len(id)-1:]) + "\xff" + `","successCount":12}`
		}, "", "not valid UTF-8"),
		Entry("JSON labelled as text", func(id string) string {
			return `{"id":"` + id + `","successCount":12,"failedCount":0,"lastUpdateDateTime":"2026-11-28T10:00:00Z"}`
		}, "text/plain", `labelled "text/plain"`),
	)
})
