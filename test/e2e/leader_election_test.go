package e2e

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/overview-operator/overview-operator/internal/leaderelection"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// handoverTimeout is how soon after the leader dies the other replica must lead, with the timings
// of quickHandover (lease 15s, retry 2s). A candidate polls the Lease every retry period plus up to
// 1.2 times as much jitter (up to 4.4s), and counts the 15s from when it saw the last renewal: so
// up to 15s + 4.4s after the last renewal, and one more poll.
const handoverTimeout = 25 * time.Second

// quickHandover are controller-runtime's own timings, shorter than the operator's defaults (30s,
// 20s, 4s, which survive a longer API server absence), so that a crash's hand-over is quick to test.
var quickHandover = []string{"--leader-elect-lease-duration=15s", "--leader-elect-renew-deadline=10s", "--leader-elect-retry-period=2s"}

var _ = Describe("Two replicas with leader election", func() {
	It("let only the leader call Graph, hand over within the lease time when it dies, and PATCH nothing twice", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "leader")
		Expect(env.CreateSampleConnection(ctx, ns)).To(Succeed())
		scraper := newMetricsScraper(ns)
		// A long sync interval: no routine resync may add Graph calls during the test.
		flags := append([]string{"--leader-elect", "--leader-election-namespace=" + ns, "--watch-namespaces=" + ns, "--sync-interval=10m"}, quickHandover...)
		replicas := []*localenv.Operator{startOperator("replica-a", flags...), startOperator("replica-b", flags...)}

		By("creating resources that each need one PATCH")
		ids := map[string]string{} // resource name → device configuration id
		for i := range 3 {
			name := fmt.Sprintf("baseline-%d", i)
			ids[name] = seedConfiguration(graphtest.Overview{SuccessCount: 1})
			createOverview(ns, name, ids[name], 10)
		}
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo", "--all", "--timeout=60s")
		for name, id := range ids {
			Expect(graphCalls(id, graphtest.UserStatusOverview, http.MethodPatch)).To(Equal(1), "PATCHes of %s", name)
		}

		By("finding the leader: the Lease names a holder, and exactly one replica reports that it leads")
		first := lease(Default, ns)
		Expect(first.Spec.HolderIdentity).NotTo(BeNil())
		var leader, follower *localenv.Operator
		Eventually(func(g Gomega) {
			leading := []bool{isLeader(scraper.scrape(replicas[0].MetricsAddr)), isLeader(scraper.scrape(replicas[1].MetricsAddr))}
			g.Expect(leading).To(ConsistOf(true, false))
			leader, follower = replicas[0], replicas[1]
			if leading[1] {
				leader, follower = replicas[1], replicas[0]
			}
		}).WithTimeout(10 * time.Second).Should(Succeed())

		By("checking that every Graph call came from the leader")
		ours := func(r graphtest.Request) bool {
			for _, id := range ids {
				if r.Kind == graphtest.KindGraph && r.ConfigurationID == id {
					return true
				}
			}
			return false
		}
		Expect(graphRequests(scraper.scrape(follower.MetricsAddr))).To(BeZero(), "Graph calls by the follower")
		Expect(graphRequests(scraper.scrape(leader.MetricsAddr))).To(BeEquivalentTo(env.Emulator.CountRequests(ours)),
			"Graph calls by the leader, against those the emulator received")

		By("killing the leader (SIGKILL): the other replica takes over once the Lease expires")
		leader.Kill()
		killed := time.Now()
		Eventually(func(g Gomega) {
			l := lease(g, ns)
			g.Expect(l.Spec.HolderIdentity).NotTo(BeNil())
			g.Expect(*l.Spec.HolderIdentity).NotTo(Equal(*first.Spec.HolderIdentity))
		}).WithTimeout(handoverTimeout).WithPolling(200*time.Millisecond).Should(Succeed(), "handover within %v", handoverTimeout)
		handover := time.Since(killed)
		AddReportEntry("handover after SIGKILL", handover.Round(100*time.Millisecond).String())
		Expect(isLeader(scraper.scrape(follower.MetricsAddr))).To(BeTrue(), "the other replica reports that it leads")

		By("checking that the new leader looked at every resource and PATCHed none of them again")
		Eventually(func(g Gomega) {
			g.Expect(scraper.scrape(follower.MetricsAddr).Value("controller_runtime_reconcile_total",
				"controller", "deviceconfigurationuseroverview")).To(BeNumerically(">=", len(ids)))
		}).WithTimeout(20*time.Second).Should(Succeed(), "the new leader reconciles the resources it finds")
		for name, id := range ids {
			Expect(graphCalls(id, graphtest.UserStatusOverview, http.MethodPatch)).To(Equal(1), "PATCHes of %s", name)
		}

		By("changing a spec: the new leader serves it with one more PATCH")
		kubectl.Run("patch", "-n", ns, "dcuo", "baseline-0", "--type", "merge", "-p", `{"spec":{"overview":{"successCount":20}}}`)
		Eventually(func(g Gomega) {
			held, _ := env.Emulator.Overview(localenv.SampleTenantID, ids["baseline-0"])
			g.Expect(held.SuccessCount).To(BeEquivalentTo(20))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		kubectl.Run("wait", "-n", ns, "--for=jsonpath={.status.observedGeneration}=2", "dcuo/baseline-0", "--timeout=30s")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo/baseline-0", "--timeout=30s")
		Expect(scraper.scrape(follower.MetricsAddr).Value("overview_graph_requests_total", "method", "PATCH")).To(BeEquivalentTo(1),
			"PATCHes by the new leader")
		for name, id := range ids {
			want := 1
			if name == "baseline-0" {
				want = 2
			}
			Expect(graphCalls(id, graphtest.UserStatusOverview, http.MethodPatch)).To(Equal(want), "PATCHes of %s", name)
		}
	})
})

// lease is the operator's leader election Lease in ns.
func lease(g Gomega, ns string) *coordinationv1.Lease {
	GinkgoHelper()
	l := &coordinationv1.Lease{}
	g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: leaderelection.LeaseName}, l)).To(Succeed())
	return l
}

// isLeader says whether an operator's metrics report that it holds the Lease.
func isLeader(families metricstest.Families) bool {
	return families.Value("leader_election_master_status", "name", leaderelection.LeaseName) == 1
}

// graphRequests is how many Graph calls an operator's metrics count.
func graphRequests(families metricstest.Families) float64 {
	return families.Value("overview_graph_requests_total")
}
