package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("SIGTERM", func() {
	It("ends the operator cleanly within a few seconds and releases the leader Lease", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "shutdown")
		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed())
		op := startOperator("shutdown", "--leader-elect", "--leader-election-namespace="+ns, "--watch-namespaces="+ns)

		By("letting it lead and manage a resource")
		createOverview(ns, "wifi", seedConfiguration(graphtest.Overview{}), 3)
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo/wifi", "--timeout=60s")
		Expect(lease(Default, ns).Spec.HolderIdentity).To(HaveValue(Not(BeEmpty())))

		By("sending SIGTERM")
		took, err := op.Stop(10 * time.Second)
		AddReportEntry("shutdown after SIGTERM", took.Round(10*time.Millisecond).String())
		Expect(err).NotTo(HaveOccurred(), "exit status after SIGTERM; log:%s", testutil.Lines(op.Tail(20)))
		Expect(took).To(BeNumerically("<", 5*time.Second))

		By("checking that it stepped down, so that a new replica need not wait for the Lease to expire")
		Expect(lease(Default, ns).Spec.HolderIdentity).To(Or(BeNil(), HaveValue(BeEmpty())))
	})
})
