package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/sharding"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// shardTimings are short sharding timings, so that a SIGKILLed replica's tenant moves within
// seconds: the others take it 3 s after its last renewal they saw, and it stops sending 2 s after
// its last renewal that succeeded. The budget's window is the suite's emulator's (5 s): a hand-over
// waits for it to be clear of the last owner's calls.
var shardTimings = []string{"--sharding-lease-duration=3s", "--sharding-renew-deadline=2s", "--sharding-retry-period=500ms", graphWindowFlag}

// shardRing is the ring's name, the operator's default: the Leases are <shardRing>-<POD_NAME>.
const shardRing = "overview-operator"

// shardTenant is one tenant of the sharding spec: an app of its own in the emulator, a
// GraphConnection in the spec's namespace, and resources that each manage a configuration of it.
type shardTenant struct {
	name, tenantID, clientID string
	key                      string            // its shard (graph.PacerKey.ShardID), as the replicas claim it
	ids                      map[string]string // resource name → device configuration id
}

// shardReplica is one operator process of the ring and the name it sends as HeaderReplica.
type shardReplica struct {
	name string
	op   *localenv.Operator
}

var _ = Describe("Three replicas with --sharding and two tenants", func() {
	It("split the tenants, hand a SIGKILLed replica's tenant over with never two writers, and a SIGTERMed one's once it has left", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "shards")
		Expect(env.CreateSampleSecret(ctx, ns)).To(Succeed())
		tenants := []*shardTenant{newShardTenant(ns, "north"), newShardTenant(ns, "south")}

		By("starting three replicas with --sharding, POD_NAME naming each")
		// A long sync interval: no routine resync adds Graph calls during the test.
		flags := append([]string{"--sharding", "--sharding-namespace=" + ns, "--watch-namespaces=" + ns, "--sync-interval=10m"}, shardTimings...)
		var replicas []*shardReplica
		for _, name := range []string{"shard-a", "shard-b", "shard-c"} {
			op := startOperatorWithEnv(name, []string{"POD_NAME=" + name}, flags...)
			replicas = append(replicas, &shardReplica{name: name, op: op})
		}
		names := func(rs []*shardReplica) []string {
			out := make([]string, len(rs))
			for i, r := range rs {
				out[i] = r.name
			}
			return out
		}

		By("waiting until the ring has settled: three Leases, and each tenant claimed by one replica, another for each")
		var owners map[string]string // tenant name → the replica whose Lease claims its key
		Eventually(func(g Gomega) {
			// A replica that joined last may still be taking its tenant from the one that held it
			// while the ring had two members.
			owners = settledOwners(g, ns, tenants, names(replicas))
			g.Expect(owners[tenants[0].name]).NotTo(Equal(owners[tenants[1].name]), "the two tenants' owners")
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(claimedBy(g, shardClaims(g, ns), tenants)).To(Equal(owners))
		}).WithTimeout(2*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(), "the claims stay as they are")
		fmt.Fprintf(GinkgoWriter, "owners after the ring settled: %v\n", owners)

		By("creating three drifted resources in each tenant: every one becomes Ready with one PATCH")
		for _, t := range tenants {
			for i := range 3 {
				name := fmt.Sprintf("%s-%d", t.name, i)
				t.ids[name] = uuid.NewString()
				env.Emulator.Seed(t.tenantID, t.ids[name], graphtest.Overview{SuccessCount: 1})
				createShardOverview(ns, name, t.name, t.ids[name], 10)
			}
		}
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo", "--all", "--timeout=60s")
		for _, t := range tenants {
			for name, id := range t.ids {
				Expect(graphCalls(id, graphtest.UserStatusOverview, http.MethodPatch)).To(Equal(1), "PATCHes of %s", name)
			}
		}

		By("checking that each tenant's requests came from its owner alone, and that the owners differ")
		for _, t := range tenants {
			reqs := tenantRequests(t.tenantID)
			Expect(reqs).NotTo(BeEmpty(), "Graph requests of %s", t.name)
			Expect(replicasOf(reqs)).To(Equal([]string{owners[t.name]}), "the replicas that sent %s's requests:\n%s", t.name, formatRequests(reqs))
		}

		By("killing the replica that owns the first tenant (SIGKILL)")
		victim := replicaNamed(replicas, owners[tenants[0].name])
		victim.op.Kill()
		killed := time.Now()
		live := slices.DeleteFunc(slices.Clone(replicas), func(r *shardReplica) bool { return r == victim })

		By("changing a spec of the first tenant at once, while no live replica owns it yet")
		// The others see the change now and must leave it (they do not own the tenant): the one that
		// takes the tenant over must sync it then, without another event.
		changed := tenants[0].name + "-0"
		kubectl.Run("patch", "-n", ns, "dcuo", changed, "--type", "merge", "-p", `{"spec":{"overview":{"successCount":20}}}`)

		By("waiting until a live replica claims the first tenant")
		var heir string
		Eventually(func(g Gomega) {
			heir = claimedBy(g, shardClaims(g, ns), tenants[:1])[tenants[0].name]
			g.Expect(heir).To(BeElementOf(names(live)))
		}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(), "a live replica takes the killed one's tenant")
		AddReportEntry("tenant claimed by another replica after SIGKILL", time.Since(killed).Round(100*time.Millisecond).String())

		By("checking that the new owner syncs the changed spec, with one more PATCH")
		Eventually(func(g Gomega) {
			held, _ := env.Emulator.Overview(tenants[0].tenantID, tenants[0].ids[changed])
			g.Expect(held.SuccessCount).To(BeEquivalentTo(20))
		}).WithTimeout(30*time.Second).Should(Succeed(), "the PATCH of the changed spec reaches Graph")
		kubectl.Run("wait", "-n", ns, "--for=jsonpath={.status.observedGeneration}=2", "dcuo/"+changed, "--timeout=30s")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo", "--all", "--timeout=60s")
		patches := tenantRequests(tenants[0].tenantID, func(r graphtest.Request) bool {
			return r.Method == http.MethodPatch && r.ConfigurationID == tenants[0].ids[changed] && r.Time.After(killed)
		})
		Expect(patches).To(HaveLen(1), "PATCHes of %s after the kill", changed)
		Expect(patches[0].Replica).To(Equal(heir), "the PATCH after the kill comes from the replica that claims the tenant")
		if first := firstFrom(tenantRequests(tenants[0].tenantID), killed, victim.name); first != nil {
			AddReportEntry("first request of the tenant from another replica after SIGKILL",
				first.Time.Sub(killed).Round(100*time.Millisecond).String())
		}
		expectPatches(tenants, changed, 2)

		By("checking that no tenant's requests came from two replicas in turn, and none from the killed one after it died")
		for _, t := range tenants {
			reqs := tenantRequests(t.tenantID)
			expectOneRunEach(reqs, t.name)
			expectHandOversClear(reqs, t.name)
			for _, r := range reqs {
				Expect(r.Replica == victim.name && r.Time.After(killed)).To(BeFalse(), "a request of %s from the killed replica after its death:\n%s", t.name, formatRequests(reqs))
			}
		}

		By("stopping (SIGTERM) the replica that owns the second tenant: it deletes its Lease as it leaves")
		var leaver *shardReplica
		Eventually(func(g Gomega) {
			owner := claimedBy(g, shardClaims(g, ns), tenants[1:])[tenants[1].name]
			g.Expect(owner).To(BeElementOf(names(live)))
			leaver = replicaNamed(live, owner)
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
		last := slices.DeleteFunc(slices.Clone(live), func(r *shardReplica) bool { return r == leaver })[0]
		terminated := time.Now()
		done := make(chan error, 1)
		go func() {
			defer GinkgoRecover()
			_, err := leaver.op.Stop(30 * time.Second)
			done <- err
		}()
		// As in a rollout, the spec changes while the replica that owns its tenant shuts down.
		changed2 := tenants[1].name + "-0"
		kubectl.Run("patch", "-n", ns, "dcuo", changed2, "--type", "merge", "-p", `{"spec":{"overview":{"successCount":30}}}`)
		var err error
		Eventually(done).WithTimeout(40 * time.Second).Should(Receive(&err))
		Expect(err).NotTo(HaveOccurred(), "a clean exit; log:%s", testutil.Lines(leaver.op.Tail(20)))
		stopped := time.Now()
		took := stopped.Sub(terminated)
		AddReportEntry("SIGTERM to exit (the spec change made meanwhile)", took.Round(100*time.Millisecond).String())
		Expect(leaver.op.Tail(40)).To(ContainSubstring("Left the ring"))
		err = env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: shardRing + "-" + leaver.name}, &coordinationv1.Lease{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the leaver's Lease is gone when it has exited, not left to expire (err %v)", err)

		By("waiting until the last replica claims the second tenant and syncs the changed spec")
		Eventually(func(g Gomega) {
			g.Expect(claimedBy(g, shardClaims(g, ns), tenants[1:])[tenants[1].name]).To(Equal(last.name))
		}).WithTimeout(15*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(), "the last replica takes the leaver's tenant")
		AddReportEntry("tenant claimed by another replica after SIGTERM (the lease is 3s)", time.Since(terminated).Round(100*time.Millisecond).String())
		Eventually(func(g Gomega) {
			held, _ := env.Emulator.Overview(tenants[1].tenantID, tenants[1].ids[changed2])
			g.Expect(held.SuccessCount).To(BeEquivalentTo(30))
		}).WithTimeout(30*time.Second).Should(Succeed(), "the PATCH of the changed spec reaches Graph")
		kubectl.Run("wait", "-n", ns, "--for=jsonpath={.status.observedGeneration}=2", "dcuo/"+changed2, "--timeout=30s")
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo", "--all", "--timeout=60s")
		patches = tenantRequests(tenants[1].tenantID, func(r graphtest.Request) bool {
			return r.Method == http.MethodPatch && r.ConfigurationID == tenants[1].ids[changed2] && r.Time.After(terminated)
		})
		Expect(patches).To(HaveLen(1), "PATCHes of %s after the SIGTERM", changed2)
		Expect(patches[0].Replica).To(Equal(last.name), "the PATCH after the SIGTERM comes from the last replica")
		if first := firstFrom(tenantRequests(tenants[1].tenantID), terminated, leaver.name); first != nil {
			AddReportEntry("first request of the tenant from another replica after SIGTERM",
				first.Time.Sub(terminated).Round(100*time.Millisecond).String())
		}
		expectPatches(tenants[1:], changed2, 2)
		expectPatches(tenants[:1], changed, 2)

		By("checking again that no tenant's requests came from two replicas in turn, and none from the leaver after it exited")
		for _, t := range tenants {
			reqs := tenantRequests(t.tenantID)
			expectOneRunEach(reqs, t.name)
			expectHandOversClear(reqs, t.name)
			for _, r := range reqs {
				Expect(r.Replica).To(BeElementOf(names(replicas)), "every request names its replica")
				Expect(r.Replica == leaver.name && r.Time.After(stopped)).To(BeFalse(), "a request of %s from the leaver after it exited:\n%s", t.name, formatRequests(reqs))
			}
			fmt.Fprintf(GinkgoWriter, "%s: %s\n", t.name, strings.Join(runsOf(reqs), " → "))
		}
	})
})

// newShardTenant registers an app of a new tenant in the emulator, with the samples' client secret,
// and creates its GraphConnection (named after the tenant) in ns, which reads the samples' Secret.
func newShardTenant(ns, name string) *shardTenant {
	GinkgoHelper()
	t := &shardTenant{name: name, tenantID: uuid.NewString(), clientID: uuid.NewString(), ids: map[string]string{}}
	env.Emulator.AddApp(graphtest.App{TenantID: t.tenantID, ClientID: t.clientID, ClientSecret: localenv.SampleClientSecret})
	Expect(env.CreateConnection(ctx, ns, name, t.tenantID, t.clientID, localenv.SampleSecret)).To(Succeed())
	conn := &intunev1alpha1.GraphConnection{}
	Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, conn)).To(Succeed())
	spec := conn.Spec.ConnectionSpec
	key, err := graph.KeyOf(graph.Config{Cloud: graph.Cloud(spec.Cloud), AuthorityHost: spec.AuthorityHost, TenantID: spec.TenantID, ClientID: spec.ClientID})
	Expect(err).NotTo(HaveOccurred())
	t.key = key.ShardID()
	return t
}

// createShardOverview creates a DeviceConfigurationUserOverview of the device configuration id
// through the connection conn.
func createShardOverview(ns, name, conn, id string, successCount int32) {
	GinkgoHelper()
	Expect(env.Client.Create(ctx, &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: id,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: conn},
			Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To(successCount)},
		},
	})).To(Succeed())
}

// shardClaims reads the ring's live Leases in ns (renewed within their duration, by this
// machine's clock, which the replicas share): the keys each holder claims, by holder. A killed
// replica's Lease stays, with its claims, until it expires.
func shardClaims(g Gomega, ns string) map[string][]string {
	var list coordinationv1.LeaseList
	g.Expect(env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{sharding.RingLabel: shardRing})).To(Succeed())
	out := map[string][]string{}
	for _, l := range list.Items {
		if l.Spec.RenewTime == nil || time.Since(l.Spec.RenewTime.Time) >= time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0))*time.Second {
			continue
		}
		out[ptr.Deref(l.Spec.HolderIdentity, "")] = strings.Fields(l.Annotations[sharding.ClaimsAnnotation])
	}
	return out
}

// settledOwners is the holder of each tenant once the ring over members has settled: each member's
// Lease there, every tenant claimed by one of them, no claim being released, and each member
// holding its share of the keys claimed (their number over the members, or one more: the ring's
// keys include those of connections other specs left, a ClusterGraphConnection of the samples).
// Which member holds which tenant depends on the order they joined in: the assignment leaves a
// tenant with its holder while the holder has room (sharding.Assign).
func settledOwners(g Gomega, ns string, tenants []*shardTenant, members []string) map[string]string {
	var list coordinationv1.LeaseList
	g.Expect(env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{sharding.RingLabel: shardRing})).To(Succeed())
	for _, l := range list.Items {
		g.Expect(l.Annotations[sharding.ReleasingAnnotation]).To(BeEmpty(), "the claims %s releases", l.Name)
	}
	claims := shardClaims(g, ns)
	g.Expect(slices.Sorted(maps.Keys(claims))).To(Equal(slices.Sorted(slices.Values(members))), "the ring's Leases")
	owners := claimedBy(g, claims, tenants)
	keys := map[string]bool{}
	for _, ks := range claims {
		for _, k := range ks {
			keys[k] = true
		}
	}
	for _, m := range members {
		g.Expect(len(claims[m])).To(And(BeNumerically(">=", len(keys)/len(members)), BeNumerically("<=", (len(keys)+len(members)-1)/len(members))),
			"%s's share of the %d keys claimed: %v", m, len(keys), claims)
	}
	return owners
}

// claimedBy is the holder whose Lease claims each tenant's key, by tenant name; it fails when a
// key is claimed by none or by more than one.
func claimedBy(g Gomega, claims map[string][]string, tenants []*shardTenant) map[string]string {
	out := map[string]string{}
	for _, t := range tenants {
		var by []string
		for holder, keys := range claims {
			if slices.Contains(keys, t.key) {
				by = append(by, holder)
			}
		}
		g.Expect(by).To(HaveLen(1), "the Leases that claim %s's key %s: %v", t.name, t.key, claims)
		out[t.name] = by[0]
	}
	return out
}

// tenantRequests are the emulator's Graph requests of a tenant that match every filter, by arrival.
func tenantRequests(tenantID string, filters ...func(graphtest.Request) bool) []graphtest.Request {
	var out []graphtest.Request
next:
	for _, r := range env.Emulator.Requests() {
		if r.Kind != graphtest.KindGraph || r.TenantID != tenantID {
			continue
		}
		for _, f := range filters {
			if !f(r) {
				continue next
			}
		}
		r.Body = nil
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b graphtest.Request) int { return a.Time.Compare(b.Time) })
	return out
}

// replicasOf are the replicas that sent reqs, sorted.
func replicasOf(reqs []graphtest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Replica)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// runsOf is the replica of each run of requests in a row from one replica, in order: a clean
// hand-over gives each replica one run.
func runsOf(reqs []graphtest.Request) []string {
	var out []string
	for _, r := range reqs {
		if len(out) == 0 || out[len(out)-1] != r.Replica {
			out = append(out, r.Replica)
		}
	}
	return out
}

// expectOneRunEach fails when a replica sent requests of the tenant, then another did, and then
// the first again: two writers of one tenant.
func expectOneRunEach(reqs []graphtest.Request, tenant string) {
	GinkgoHelper()
	runs := runsOf(reqs)
	seen := map[string]bool{}
	for _, r := range runs {
		Expect(seen[r]).To(BeFalse(), "%s's requests came from %s in turn (%s):\n%s", tenant, r, strings.Join(runs, " → "), formatRequests(reqs))
		seen[r] = true
	}
}

// handOverSlack is how much earlier than a whole Graph window after the last request of a tenant's
// previous owner the next owner's first request may reach the emulator: the previous owner counts
// its calls from when it sent them, the emulator from when they arrive.
const handOverSlack = time.Second

// expectHandOversClear checks that whenever a tenant's requests went from one replica to another,
// the other's first came once Graph's window was clear of the one's last (less handOverSlack): a
// replica takes a tenant over only after its previous owner stopped sending and its last calls
// left the window, so that two replicas never send for a tenant at once, nor spend its budget
// together. A tenant may come back to a replica that had it, through the same hand-over.
func expectHandOversClear(reqs []graphtest.Request, tenant string) {
	GinkgoHelper()
	window := graphWindow
	for i := 1; i < len(reqs); i++ {
		from, to := reqs[i-1], reqs[i]
		if from.Replica == to.Replica {
			continue
		}
		Expect(to.Time.Sub(from.Time)).To(BeNumerically(">=", window-handOverSlack),
			"%s went from %s to %s %v after %s's last request, within Graph's %v window (%s):\n%s", tenant, from.Replica, to.Replica,
			to.Time.Sub(from.Time).Round(time.Millisecond), from.Replica, window, strings.Join(runsOf(reqs), " → "), formatRequests(reqs))
	}
}

// firstFrom is the first request after t from a replica other than not, nil if none.
func firstFrom(reqs []graphtest.Request, t time.Time, not string) *graphtest.Request {
	for i, r := range reqs {
		if r.Time.After(t) && r.Replica != not {
			return &reqs[i]
		}
	}
	return nil
}

// expectPatches checks that every resource of the tenants was PATCHed once, and changed want times.
func expectPatches(tenants []*shardTenant, changed string, want int) {
	GinkgoHelper()
	for _, t := range tenants {
		for name, id := range t.ids {
			n := 1
			if name == changed {
				n = want
			}
			Expect(graphCalls(id, graphtest.UserStatusOverview, http.MethodPatch)).To(Equal(n), "PATCHes of %s", name)
		}
	}
}

func replicaNamed(rs []*shardReplica, name string) *shardReplica {
	GinkgoHelper()
	i := slices.IndexFunc(rs, func(r *shardReplica) bool { return r.name == name })
	Expect(i).NotTo(BeNumerically("<", 0), "no replica %q among %d", name, len(rs))
	return rs[i]
}

// formatRequests lists requests one a line, for a failure's message.
func formatRequests(reqs []graphtest.Request) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s %-5s %s %s %d\n", r.Time.Format("15:04:05.000"), r.Method, r.Replica, r.ConfigurationID, r.Status)
	}
	return b.String()
}
