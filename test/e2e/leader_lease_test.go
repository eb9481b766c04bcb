package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/overview-operator/overview-operator/internal/testutil"
)

// holder is the identity that holds the operator's Lease in ns ("" when released or absent).
func holder(g Gomega, ns string) string {
	l := lease(g, ns)
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// leaderFlags are the flags of a leader-electing operator whose Lease is in ns.
func leaderFlags(ns string, extra ...string) []string {
	return append([]string{"--leader-elect", "--leader-election-namespace=" + ns, "--watch-namespaces=" + ns}, extra...)
}

var _ = Describe("The leader's Lease", func() {
	It("survives an API server out of reach for 13s with the default timings, and the leader keeps running", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "lease-keep")
		cut := testutil.NewAPIServerCut(env.Config.Host, env.Kubeconfig, GinkgoT().TempDir())
		op := startOperator("keeper", leaderFlags(ns, "--kubeconfig="+cut.Kubeconfig)...)
		var leader string
		Eventually(func(g Gomega) { leader = holder(g, ns); g.Expect(leader).NotTo(BeEmpty()) }).
			WithTimeout(30*time.Second).Should(Succeed(), "the operator leads")

		By("cutting the API server off for 13s: longer than controller-runtime's 10s renew deadline")
		cut.Cut()
		Consistently(op.Done()).WithTimeout(13 * time.Second).ShouldNot(BeClosed())
		cut.Restore()
		before := lease(Default, ns).Spec.RenewTime.Time

		By("checking that it renews the same Lease and goes on running")
		Eventually(func(g Gomega) {
			l := lease(g, ns)
			g.Expect(l.Spec.RenewTime.Time).To(BeTemporally(">", before))
			g.Expect(l.Spec.HolderIdentity).To(HaveValue(Equal(leader)))
		}).WithTimeout(15*time.Second).WithPolling(500*time.Millisecond).Should(Succeed(), "the leader renews the Lease")
		Expect(op.Done()).NotTo(BeClosed(), "the operator still runs; log:%s", testutil.Lines(op.Tail(20)))
	})

	It("is released when the leader loses it, once the API server is back, so that a new process leads at once", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "lease-lost")
		cut := testutil.NewAPIServerCut(env.Config.Host, env.Kubeconfig, GinkgoT().TempDir())
		// Short timings, so that the Lease is lost quickly; a long lease, so that a new process
		// leading within a few seconds can only be the release's doing.
		// The lease is far longer than the successor's wait below, which leaves room for a process
		// that starts slowly on a loaded machine.
		timings := []string{"--leader-elect-lease-duration=60s", "--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s"}
		op := startOperator("loser", leaderFlags(ns, append(timings, "--kubeconfig="+cut.Kubeconfig)...)...)
		Eventually(func(g Gomega) { g.Expect(holder(g, ns)).NotTo(BeEmpty()) }).WithTimeout(30 * time.Second).Should(Succeed())
		// The Lease has a holder as soon as its create reached the API server; the process leads
		// once it has the answer, which a loaded machine may hold up past the cut below: then it
		// never led, and has nothing to lose.
		Eventually(func() string { return op.Tail(1000) }).WithTimeout(30*time.Second).
			Should(ContainSubstring("Successfully acquired lease"), "the process leads before the API server is cut off")

		renewed := lease(Default, ns).Spec.RenewTime.Time

		By("cutting the API server off for longer than the renew deadline")
		cut.Cut()
		time.Sleep(8 * time.Second) // the fault's length, not a wait for a result
		cut.Restore()

		By("checking that the leader exits with an error, having released the Lease")
		Eventually(op.Done()).WithTimeout(20 * time.Second).Should(BeClosed())
		Expect(op.Err()).To(HaveOccurred(), "losing the Lease is an error exit; log:%s", testutil.Lines(op.Tail(20)))
		Expect(op.Tail(40)).To(ContainSubstring("leader election lost"))
		Expect(holder(Default, ns)).To(BeEmpty(), "the Lease is released; log:%s", testutil.Lines(op.Tail(20)))

		By("starting a new process: it leads at once, not after the 60s lease duration")
		started := time.Now()
		startOperator("successor", leaderFlags(ns, timings...)...)
		// Before the 60 s Lease, last renewed before the cut, would have expired: only the release
		// lets the successor lead that soon.
		Eventually(func(g Gomega) { g.Expect(holder(g, ns)).NotTo(BeEmpty()) }).
			WithTimeout(time.Until(renewed.Add(60*time.Second-3*time.Second))).Should(Succeed(), "the successor leads before the Lease would have expired")
		AddReportEntry("new leader after a lost Lease", time.Since(started).Round(100*time.Millisecond).String())
	})

	It("is taken over at once by a restarted process after a clean exit, with the default 30s lease", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "lease-restart")
		first := startOperator("first", leaderFlags(ns)...)
		var was string
		Eventually(func(g Gomega) { was = holder(g, ns); g.Expect(was).NotTo(BeEmpty()) }).WithTimeout(30 * time.Second).Should(Succeed())
		renewed := lease(Default, ns).Spec.RenewTime.Time
		_, err := first.Stop(10 * time.Second)
		Expect(err).NotTo(HaveOccurred())

		started := time.Now()
		startOperator("second", leaderFlags(ns)...)
		Eventually(func(g Gomega) {
			now := holder(g, ns)
			g.Expect(now).NotTo(BeEmpty())
			g.Expect(now).NotTo(Equal(was))
		}).WithTimeout(beforeExpiry(renewed)).WithPolling(200*time.Millisecond).Should(Succeed(), "the new process leads before the old lease would have expired")
		AddReportEntry("new leader after SIGTERM", time.Since(started).Round(100*time.Millisecond).String())
		Expect(lease(Default, ns).Spec.LeaseDurationSeconds).To(HaveValue(BeEquivalentTo(30)), "the default lease duration")
	})
})

var _ = Describe("A leader killed and restarted in its pod (config/manager sets POD_NAME)", func() {
	It("leads again at once, though nothing released the Lease, as the same identity", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "lease-pod")
		pod := []string{"POD_NAME=overview-operator-controller-manager-7d9f-x2x4q"}
		first := startOperatorWithEnv("pod-first", pod, leaderFlags(ns)...)
		Eventually(func(g Gomega) { g.Expect(holder(g, ns)).To(Equal("overview-operator-controller-manager-7d9f-x2x4q")) }).
			WithTimeout(30 * time.Second).Should(Succeed())
		first.Kill()
		renewed := lease(Default, ns).Spec.RenewTime.Time

		started := time.Now()
		startOperatorWithEnv("pod-restarted", pod, leaderFlags(ns)...)
		Eventually(func(g Gomega) {
			g.Expect(lease(g, ns).Spec.RenewTime.Time).To(BeTemporally(">", renewed))
		}).WithTimeout(beforeExpiry(renewed)).WithPolling(200*time.Millisecond).Should(Succeed(), "the restarted process renews the Lease before the old one would have expired")
		AddReportEntry("leading again after SIGKILL, same pod", time.Since(started).Round(100*time.Millisecond).String())
	})
})

var _ = Describe("The leader election flags", func() {
	DescribeTable("refuse timings a leader cannot keep, before the operator starts",
		func(want string, flags ...string) {
			cmd := exec.Command(filepath.Join(root, "bin", "manager"), append([]string{"--leader-elect"}, flags...)...)
			out, err := cmd.CombinedOutput()
			Expect(err).To(HaveOccurred(), "exit status; output:%s", testutil.Lines(string(out)))
			Expect(cmd.ProcessState.ExitCode()).To(Equal(1))
			Expect(string(out)).To(ContainSubstring(want))
			Expect(strings.Count(string(out), "Starting the operator")).To(BeZero())
		},
		Entry("a renew deadline as long as the lease", "--leader-elect-renew-deadline (30s) must be shorter than --leader-elect-lease-duration (30s)",
			"--leader-elect-renew-deadline=30s"),
		Entry("a retry period with no room before the renew deadline", "--leader-elect-retry-period (10s) must be shorter than --leader-elect-renew-deadline (10s) / 1.2",
			"--leader-elect-lease-duration=15s", "--leader-elect-renew-deadline=10s", "--leader-elect-retry-period=10s"),
		Entry("a zero retry period", "--leader-elect-retry-period must be positive, not 0s", "--leader-elect-retry-period=0"),
	)
})

// beforeExpiry is how long a successor has to lead, from now, for it to have taken the Lease
// before a Lease of the default 30 s duration, last renewed at renewed, would have expired (with
// 3 s to spare): it can then only be the release's doing, or the same identity's, however slowly
// the successor started on a loaded machine.
func beforeExpiry(renewed time.Time) time.Duration {
	return time.Until(renewed.Add(30*time.Second - 3*time.Second))
}
