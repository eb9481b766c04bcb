package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// rolloutResource is one resource of the rolling update spec and every successCount its spec has
// held, in the order the spec set them (the values only grow, and none is set twice).
type rolloutResource struct {
	tenant   *shardTenant
	name, id string

	mu     sync.Mutex
	values []int32
}

func (r *rolloutResource) set(v int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, v)
}

func (r *rolloutResource) held() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.values)
}

func (r *rolloutResource) newest() int32 {
	v := r.held()
	return v[len(v)-1]
}

// rolloutStep is what happened to one replica of the rollout and its replacement.
type rolloutStep struct {
	old, new                     string
	terminated, exited, readyNew time.Time
}

var _ = Describe("A rolling update of three replicas with --sharding", func() {
	It("loses no PATCH, sends none twice and never has two writers of a tenant, while specs keep changing", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "rollout")
		Expect(env.CreateSampleSecret(ctx, ns)).To(Succeed())
		// The pods of the old ReplicaSet, and those of the new one that replace them in this order:
		// a new ReplicaSet's pod has a new name, hence a new Lease and a new place on the ring.
		olds := []string{"shard-a", "shard-b", "shard-c"}
		news := []string{"shard-a-2", "shard-b-2", "shard-c-2"}

		var tenants []*shardTenant
		for _, name := range []string{"amber", "birch", "cedar"} {
			tenants = append(tenants, newShardTenant(ns, name))
		}

		By("starting three replicas with --sharding, POD_NAME naming each")
		// A long sync interval: no routine resync adds Graph calls during the test. The default
		// graceful shutdown timeout (30 s): a leaving replica holds a tenant until its last calls
		// are out of Graph's window (the suite's 5 s), and one replaced in the middle of the changes has sent
		// some within the last second (the old default, 15 s, ended such a process first, with
		// exit status 1 and its Lease left to expire).
		flags := append([]string{"--sharding", "--sharding-namespace=" + ns, "--watch-namespaces=" + ns, "--sync-interval=10m"}, shardTimings...)
		start := func(name string) *shardReplica {
			return &shardReplica{name: name, op: startOperatorWithEnv(name, []string{"POD_NAME=" + name}, flags...)}
		}
		var live []*shardReplica
		for _, name := range olds {
			live = append(live, start(name))
		}

		By("waiting until the ring has settled: each tenant claimed by one replica, one each")
		var owners map[string]string
		Eventually(func(g Gomega) {
			owners = settledOwners(g, ns, tenants, olds)
		}).WithTimeout(30 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())

		By("creating four drifted resources in each tenant: every one becomes Ready with one PATCH")
		// Listed a tenant at a time in turn, so that successive spec changes go to different tenants.
		var resources []*rolloutResource
		for i := range 4 {
			for _, t := range tenants {
				r := &rolloutResource{tenant: t, name: fmt.Sprintf("%s-%d", t.name, i), id: uuid.NewString(), values: []int32{10}}
				t.ids[r.name] = r.id
				env.Emulator.Seed(t.tenantID, r.id, graphtest.Overview{SuccessCount: 1})
				createShardOverview(ns, r.name, t.name, r.id, 10)
				resources = append(resources, r)
			}
		}
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo", "--all", "--timeout=60s")
		for _, r := range resources {
			Expect(graphCalls(r.id, graphtest.UserStatusOverview, http.MethodPatch)).To(Equal(1), "PATCHes of %s", r.name)
		}
		for _, t := range tenants {
			reqs := tenantRequests(t.tenantID)
			Expect(replicasOf(reqs)).To(Equal([]string{owners[t.name]}), "the replicas that sent %s's requests:\n%s", t.name, formatRequests(reqs))
		}

		By("changing a spec every 250 ms, each time another resource's and never to a value used before")
		next := int32(100) // above the 10 they were created with and the 1 Graph was seeded with
		stop, changed := make(chan struct{}), make(chan error, 1)
		go func() {
			defer GinkgoRecover()
			for i := 0; ; i++ {
				select {
				case <-stop:
					changed <- nil
					return
				case <-time.After(250 * time.Millisecond):
				}
				r := resources[i%len(resources)]
				// Recorded before it is sent: a change the API server made but answered with an
				// error for is still a value the spec held.
				r.set(next)
				if err := setSuccessCount(ns, r.name, next); err != nil {
					changed <- fmt.Errorf("change %s to %d: %w", r.name, next, err)
					return
				}
				next++
			}
		}()
		var stopOnce sync.Once
		stopChanges := func() error {
			var err error
			stopOnce.Do(func() {
				close(stop)
				err = <-changed
			})
			return err
		}
		DeferCleanup(func() { _ = stopChanges() })

		// A Deployment's RollingUpdate with maxUnavailable 1 and maxSurge 0: an old pod goes (SIGTERM),
		// its replacement starts, and the next old pod goes once the new one is ready. Kubernetes
		// starts the replacement as soon as the old pod is terminating; here it starts once the old
		// process has exited, so that each step's order is plain in the log. (The default strategy,
		// maxSurge 1 and maxUnavailable 0 at three replicas, starts the new pod first: another order,
		// the same one pod at a time.)
		var steps []rolloutStep
		exited := map[string]time.Time{}
		rolloutStarted := time.Now()
		for i, old := range olds {
			By(fmt.Sprintf("replacing %s with %s: SIGTERM, a clean exit, then the new replica until it is ready", old, news[i]))
			leaver := replicaNamed(live, old)
			step := rolloutStep{old: old, new: news[i], terminated: time.Now()}
			took, err := leaver.op.Stop(40 * time.Second)
			step.exited = time.Now()
			exited[old] = step.exited
			Expect(err).NotTo(HaveOccurred(), "a clean exit of %s after %v; log:%s", old, took.Round(100*time.Millisecond), testutil.Lines(leaver.op.Tail(30)))
			AddReportEntry(fmt.Sprintf("%s: SIGTERM to exit", old), took.Round(100*time.Millisecond).String())
			Expect(leaver.op.Tail(40)).To(ContainSubstring("Left the ring"), "%s deleted its Lease as it left", old)
			live = slices.DeleteFunc(live, func(r *shardReplica) bool { return r == leaver })

			live = append(live, start(news[i]))
			step.readyNew = time.Now()
			AddReportEntry(fmt.Sprintf("%s: start to ready", news[i]), step.readyNew.Sub(step.exited).Round(100*time.Millisecond).String())
			steps = append(steps, step)
		}
		AddReportEntry("rolling update of three replicas (SIGTERM of the first to the last new one ready)", time.Since(rolloutStarted).Round(100*time.Millisecond).String())
		Expect(stopChanges()).To(Succeed(), "the spec changes during the rollout")

		By("changing one spec in each tenant after the rollout: the new replicas alone can send it")
		for _, t := range tenants {
			r := resources[slices.IndexFunc(resources, func(r *rolloutResource) bool { return r.tenant == t })]
			r.set(next)
			Expect(setSuccessCount(ns, r.name, next)).To(Succeed())
			next++
		}
		lastChange := time.Now()

		By("waiting until every resource is Ready at its newest generation and Graph holds its newest value")
		Eventually(func(g Gomega) {
			for _, r := range resources {
				o := &intunev1alpha1.DeviceConfigurationUserOverview{}
				g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: r.name}, o)).To(Succeed())
				g.Expect(*o.Spec.Overview.SuccessCount).To(Equal(r.newest()), "the spec of %s", r.name)
				g.Expect(o.Status.ObservedGeneration).To(Equal(o.Generation), "the observed generation of %s", r.name)
				ready := meta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil(), "the Ready condition of %s", r.name)
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s is Ready (%s: %s)", r.name, ready.Reason, ready.Message)
				g.Expect(ready.ObservedGeneration).To(Equal(o.Generation), "the generation %s is Ready at", r.name)
				held, _ := env.Emulator.Overview(r.tenant.tenantID, r.id)
				g.Expect(held.SuccessCount).To(Equal(r.newest()), "what Graph holds of %s", r.name)
			}
		}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
		AddReportEntry("last change to every resource converged", time.Since(lastChange).Round(100*time.Millisecond).String())

		log := env.Emulator.Requests()

		By("checking that no PATCH was lost, none was sent twice, and none went back to an older value")
		changes, patches := 0, 0
		for _, r := range resources {
			values := r.held()
			changes += len(values)
			var sent []graphtest.Request
			for _, q := range log {
				if q.Kind == graphtest.KindGraph && q.ConfigurationID == r.id && q.Method == http.MethodPatch {
					sent = append(sent, q)
				}
			}
			slices.SortStableFunc(sent, func(a, b graphtest.Request) int { return a.Time.Compare(b.Time) })
			patches += len(sent)
			var lastKept int32 = -1
			newestSent := int32(-1)
			kept := map[int32]graphtest.Request{}
			for _, q := range sent {
				v := rolloutPatched(q)
				if v < 0 && q.Status == 0 {
					continue // the client went away before its body arrived: nothing reached Graph
				}
				Expect(values).To(ContainElement(v), "%s was PATCHed with successCount %d, which its spec never held (answered %d, body %q):\n%s", r.name, v, q.Status, q.Body, formatPatches(sent))
				Expect(v).To(BeNumerically(">=", newestSent), "%s was PATCHed with %d after %d had been sent:\n%s", r.name, v, newestSent, formatPatches(sent))
				newestSent = v
				if first, ok := kept[v]; ok {
					Fail(fmt.Sprintf("%s was PATCHed with successCount %d by %s at %s after Graph had kept it from %s at %s:\n%s",
						r.name, v, q.Replica, q.Time.Format(time.StampMilli), first.Replica, first.Time.Format(time.StampMilli), formatPatches(sent)))
				}
				if q.Status/100 == 2 && q.Held != nil && !q.Discarded {
					kept[v] = q
					lastKept = v
				}
			}
			// Graph holds the newest value (checked above) through the last PATCH it kept: no PATCH
			// it answered 2xx came after it with an older value and was lost under it.
			Expect(lastKept).To(Equal(r.newest()), "the last PATCH of %s that Graph kept carries its newest value:\n%s", r.name, formatPatches(sent))
		}
		AddReportEntry("spec values set / PATCHes sent", fmt.Sprintf("%d / %d", changes, patches))

		By("checking that each tenant's requests came from one replica at a time, each taking over only once Graph's window was clear of the last, and none from a replica after it exited")
		// Where each tenant goes depends on where it was as each replica left and joined (the
		// assignment keeps a tenant with its holder while the holder has room) and on how long
		// each hand-over took, so the check is of the hand-overs themselves, not of a path.
		everyone := append(slices.Clone(olds), news...)
		for _, t := range tenants {
			reqs := tenantRequests(t.tenantID)
			expectHandOversClear(reqs, t.name)
			for _, q := range reqs {
				Expect(q.Replica).To(BeElementOf(everyone), "every request names its replica")
				if at, ok := exited[q.Replica]; ok {
					Expect(q.Time.After(at)).To(BeFalse(), "a request of %s from %s after it exited:\n%s", t.name, q.Replica, formatRequests(reqs))
				}
			}
			runs := runsOf(reqs)
			Expect(olds).To(ContainElement(runs[0]), "%s's first requests came from an old replica", t.name)
			Expect(news).To(ContainElement(runs[len(runs)-1]), "%s's last requests came from a new replica", t.name)
			fmt.Fprintf(GinkgoWriter, "%s: %s\n", t.name, strings.Join(runs, " → "))
			reportHandOvers(t, reqs, steps)
		}
	})
})

// setSuccessCount changes a resource's spec.overview.successCount.
func setSuccessCount(ns, name string, v int32) error {
	o := &intunev1alpha1.DeviceConfigurationUserOverview{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return env.Client.Patch(ctx, o, client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"overview":{"successCount":%d}}}`, v)))
}

// rolloutPatched is the successCount a PATCH carried, -1 if its body had none.
func rolloutPatched(r graphtest.Request) int32 {
	var body struct {
		SuccessCount *int32 `json:"successCount"`
	}
	if json.Unmarshal(r.Body, &body) != nil || body.SuccessCount == nil {
		return -1
	}
	return *body.SuccessCount
}

// formatPatches lists PATCHes one a line with the value each carried, for a failure's message.
func formatPatches(reqs []graphtest.Request) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "  %s %s successCount=%d answered %d kept=%t\n", r.Time.Format("15:04:05.000"), r.Replica, rolloutPatched(r), r.Status, r.Held != nil && !r.Discarded)
	}
	return b.String()
}

// reportHandOvers adds a report entry for each time a tenant's requests passed from one replica to
// another: how long after the previous replica's last request, after its SIGTERM when it was
// stopped by then, and after the next replica was ready when it is a new one.
func reportHandOvers(t *shardTenant, reqs []graphtest.Request, steps []rolloutStep) {
	for i := 1; i < len(reqs); i++ {
		from, to := reqs[i-1], reqs[i]
		if from.Replica == to.Replica {
			continue
		}
		value := fmt.Sprintf("%v after %s's last request", to.Time.Sub(from.Time).Round(100*time.Millisecond), from.Replica)
		for _, s := range steps {
			if s.old == from.Replica && to.Time.After(s.terminated) {
				value += fmt.Sprintf(", %v after its SIGTERM", to.Time.Sub(s.terminated).Round(100*time.Millisecond))
			}
			if s.new == to.Replica && to.Time.After(s.readyNew) {
				value += fmt.Sprintf(", %v after %s was ready", to.Time.Sub(s.readyNew).Round(100*time.Millisecond), s.new)
			}
		}
		AddReportEntry(fmt.Sprintf("hand-over of %s from %s to %s", t.name, from.Replica, to.Replica), value)
	}
}
