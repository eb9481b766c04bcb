package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// expectReadyReason waits until a resource's Ready condition is False with the reason, and returns
// its message.
func expectReadyReason(ns, name, reason string) string {
	GinkgoHelper()
	var message string
	Eventually(func(g Gomega) {
		o := &intunev1alpha1.DeviceConfigurationUserOverview{}
		g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, o)).To(Succeed())
		ready := meta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(BeEquivalentTo("False"))
		g.Expect(ready.Reason).To(Equal(reason), ready.Message)
		message = ready.Message
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return message
}

var _ = Describe("The operator's defaults", func() {
	It("refuse a GraphConnection whose endpoint is not a national cloud's host (the emulator's 127.0.0.1)", func() {
		ns := newNamespace("strict")
		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed())
		// Without the leave that localenv gives the emulator by default.
		startOperator("strict", "--watch-namespaces="+ns, "--allowed-endpoint-hosts=", "--allow-namespaced-ca-bundle=false")
		id := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		createOverview(ns, "wifi", id, 5)

		msg := expectReadyReason(ns, "wifi", intunev1alpha1.ReasonEndpointNotAllowed)
		Expect(msg).To(ContainSubstring(`host "127.0.0.1"`))
		Expect(msg).To(ContainSubstring("--allowed-endpoint-hosts"))
		Expect(graphCalls(id, "GET")).To(BeZero())
		kubectl("wait", "-n", ns, "--for=condition=Ready=False", "graphconnection/"+localenv.SampleConnection, "--timeout=30s")
	})
})
