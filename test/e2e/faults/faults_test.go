package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/leaderelection"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/internal/scheme"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The fault suite runs the operator's binary against a control plane and a Graph emulator of its
// own, with 120 resources over two tenants, through every fault the emulator can play and the
// faults of the machinery around it: a SIGKILL in the middle of a first sync, the leader killed, the
// API server away, a client secret rotated, specs changed while Graph fails. Each step changes every
// spec and waits until every resource converges; the last step checks, over everything the
// emulator and a watch on the resources saw, the promises that must hold under any fault. It runs in
// two halves, the faults of Graph and of the token endpoint and the faults around the operator, each
// in a world of its own and each ending with those checks, so that a parallel run (ginkgo -p, as
// make test runs it) runs them side by side. Time is
// scaled twenty times (Intune's 20 s windows last 1 s in the emulator and in the operator's budget),
// and the checks count; none of them times anything. FAULTS_KEEP_LOGS=1 keeps the operators' logs
// of a run that passed (a failed run always keeps them, and says where).

const (
	faultTimeScale  = 20
	faultsPerTenant = 60
	// faultRequestBound is the most Graph requests one resource may take in one step: a step needs 3
	// (GET, PATCH, the read-back GET), and a fault adds a few more. A resource that keeps failing
	// (a PATCH Graph never keeps) tries again at most once every faultRetryMaxDelay/2, for 3
	// requests each time. A hot loop takes hundreds a second.
	faultRequestBound  = 40
	faultRetryMaxDelay = 2 * time.Second
	// faultTokenBound is the most token requests one tenant may take in one step: a new process
	// asks for a token per client it builds and a failed token request is tried again, on a
	// backoff, by each resource that needs it (refused credentials: about one each).
	faultTokenBound = faultsPerTenant + 20
	faultConverge   = 2 * time.Minute
	// statusCatchUp is how soon after the API server's return every resource's status shows what
	// was done while it was away: a failed status write is tried again within 5s.
	statusCatchUp = 15 * time.Second
)

// The second tenant and its app.
const (
	fabrikamTenantID   = "3c2d1e0f-9a8b-4c7d-8e6f-5a4b3c2d1e0f"
	fabrikamClientID   = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
	fabrikamConnection = "fabrikam"
	fabrikamSecret     = "fabrikam-graph"
)

// faultResource is one DeviceConfigurationUserOverview of the suite and every spec it was given.
type faultResource struct {
	name, tenant, id string
	specs            map[int64]int32 // metadata.generation → spec.overview.successCount
}

// readyObservation is a Ready=True that the watch saw, at the generation its condition names.
type readyObservation struct {
	name       string
	generation int64
	at         time.Time
}

// faultRun is the suite's world: its own control plane and emulator, the resources, the operators
// it started, and a watch that notes every Ready=True.
type faultRun struct {
	env     *localenv.Env
	ns      string
	proxy   *testutil.APIServerCut // between the operators and the API server, to take the API server away
	secrets []string               // every client secret the suite used, which must never show anywhere

	mu        sync.Mutex
	resources []*faultResource
	byName    map[string]*faultResource
	ready     []readyObservation
	steps     []faultStep
	waves     int // how many times changeEverySpec ran
	// superseded counts the waves whose specs a later wave replaced before Graph could be sent
	// them: their resources are never Ready at those generations, and no PATCH carries them.
	superseded int
	operators  []*localenv.Operator
	stopWatch  func()
}

// faultStep is one step's part of the emulator's log.
type faultStep struct {
	name       string
	start, end int           // indexes into the emulator's request log
	took       time.Duration // how long the step ran
}

// The machinery around the operator: processes killed and restarted, the API server away, the leader
// killed, a secret rotated, specs changed while Graph fails. A world of its own, so that it runs
// beside the other half when ginkgo runs the suite in parallel processes (make test does).
var _ = Describe("The fault suite, the machinery around the operator", Ordered, func() {
	var run *faultRun

	BeforeAll(func() {
		run = startFaultRun()
		DeferCleanup(run.stop)
	})

	It("converges after a SIGKILL in the middle of the first sync, and PATCHes nothing twice", func() {
		// The first operator PATCHes 4 a second per tenant, so that its first sync lasts 15 s and the
		// kill lands in the middle of it however late this process sees the first 30 (at the suite's
		// 20 a second, the 120 took 3 s, and a busy machine once let all of them through before the
		// kill).
		run.step("first sync, killed", func() {
			op := run.operators[0]
			Eventually(func() int { return run.keptPatches(0) }).WithTimeout(faultConverge).
				Should(BeNumerically(">=", 30), "PATCHes kept before the kill")
			op.Kill()
			Expect(run.keptPatches(0)).To(BeNumerically("<", 2*faultsPerTenant), "the kill came in the middle of the first sync")
			run.startOperator("after-kill")
			run.converge()
		}, "--graph-writes-per-window=4")
	})

	It("loses no PATCH Graph kept from the record when killed in the middle of a wave", func() {
		run.step("wave killed", func() {
			start := run.logLen()
			run.changeEverySpec()
			// Killed as soon as Graph has kept a few: the PATCHes of the last moment are still
			// being read back and reported.
			Eventually(func() int { return run.keptPatches(start) }).WithTimeout(faultConverge).WithPolling(time.Millisecond).
				Should(BeNumerically(">=", 20))
			for _, op := range run.operators {
				select {
				case <-op.Done():
				default:
					op.Kill()
				}
			}
			Expect(run.keptPatches(start)).To(BeNumerically("<", 2*faultsPerTenant), "the kill came in the middle of the wave")
			run.startOperator("after-kill")
			run.converge()
		})
		// The operator logged each PATCH in its connection's status before it sent it, and finds
		// those whose report the kill lost in Graph after the restart.
		run.expectEveryAcceptedPatchInStatus(run.steps[len(run.steps)-1])
		run.expectPatchedEvents(run.steps[len(run.steps)-1])
	})

	It("reads after a restart, without a place in the line of writes, the resources Graph already matches", func() {
		run.step("restarted, nothing to change", func() {
			from := run.logLen()
			// As if it had been down for longer than the sync interval: every resource is due.
			run.stopOperators()
			op := run.startOperator("due", "--sync-interval=1s")
			Eventually(func(g Gomega) {
				read := map[string]bool{}
				for _, r := range run.env.Emulator.Requests()[from:] {
					if r.Kind == graphtest.KindGraph && r.Method == http.MethodGet && r.Status == http.StatusOK {
						read[strings.ToLower(r.ConfigurationID)] = true
					}
				}
				g.Expect(read).To(HaveLen(len(run.resources)), "resources read since the restart")
			}).WithTimeout(faultConverge).WithPolling(250 * time.Millisecond).Should(Succeed())
			Expect(run.env.Emulator.CountRequests(func(r graphtest.Request) bool { return r.Method == http.MethodPatch })).To(
				Equal(run.countBefore(from, http.MethodPatch)), "PATCHes since the restart")
			families := scrapeUnsecured(op.MetricsAddr)
			Expect(families.SampleCount("overview_graph_budget_wait_seconds", "class", "write")).To(BeZero(), "jobs that queued for a write")
			Expect(families.SampleCount("overview_graph_budget_wait_seconds", "class", "read")).To(
				BeNumerically(">=", len(run.resources)), "jobs that queued for a read")
			run.restartOperators() // back to the suite's long sync interval
		})
	})

	It("says NotPersisted, never Ready, while Graph keeps no PATCH, and converges once it does", func() {
		run.step("PATCHes not kept for good", func() {
			lost := run.resources[:8]
			for _, r := range lost {
				run.env.Emulator.Inject(graphtest.Fault{ConfigurationID: r.id, DiscardPatch: true})
			}
			run.changeEverySpec()
			Eventually(func(g Gomega) {
				for _, r := range lost {
					o := run.get(g, r.name)
					ready := apimeta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
					g.Expect(ready).NotTo(BeNil(), r.name)
					g.Expect(ready.ObservedGeneration).To(Equal(o.Generation), r.name)
					g.Expect(ready.Reason).To(Equal(intunev1alpha1.ReasonNotPersisted), r.name)
				}
			}).WithTimeout(faultConverge).WithPolling(250 * time.Millisecond).Should(Succeed())

			By("restarting the operator: what it learnt is not lost, and it still does not say Ready")
			run.restartOperators()
			restarted := run.logLen()
			Eventually(func(g Gomega) {
				for _, r := range lost {
					n := 0
					for _, req := range run.env.Emulator.Requests()[restarted:] {
						if req.ConfigurationID == r.id && req.Method == http.MethodPatch && req.Discarded {
							n++
						}
					}
					g.Expect(n).To(BeNumerically(">=", 1), "%s was tried again after the restart", r.name)
				}
			}).WithTimeout(faultConverge).WithPolling(250 * time.Millisecond).Should(Succeed())
			for _, r := range lost {
				ready := apimeta.FindStatusCondition(run.get(Default, r.name).Status.Conditions, intunev1alpha1.ConditionReady)
				Expect(ready.Reason).To(Equal(intunev1alpha1.ReasonNotPersisted), r.name)
			}
			run.env.Emulator.ClearFaults()
			run.converge()
		})
	})

	It("records every PATCH Graph accepted while the API server was away for 20s, within seconds of its return", func() {
		// The operator's own longest Graph backoff (5m), not the suite's: the status writes that
		// failed while the API server was away must not wait on it.
		run.stopOperators()
		run.startOperator("api-away", "--retry-max-delay=5m")
		run.step("API server away", func() {
			// Slow PATCHes, so that the wave is still being served when the API server goes.
			run.env.Emulator.Inject(graphtest.Fault{Method: http.MethodPatch, Latency: 300 * time.Millisecond})
			start := run.logLen()
			run.changeEverySpec()
			Eventually(func() int { return run.keptPatches(start) }).WithTimeout(faultConverge).Should(BeNumerically(">=", 10))
			run.proxy.Cut()
			away := run.keptPatches(start)
			time.Sleep(20 * time.Second)
			// A PATCH goes only once its connection's status holds it: while the API server is
			// away, only those already logged do.
			AddReportEntry("PATCHes Graph kept while the API server was away", run.keptPatches(start)-away)
			run.proxy.Restore()
			run.env.Emulator.ClearFaults()
			// Graph was done with the wave while the API server was away: what is left is status,
			// whose failed writes are tried again every few seconds at most.
			run.convergeWithin(statusCatchUp)
		})
		run.expectEveryAcceptedPatchInStatus(run.steps[len(run.steps)-1])
		run.stopOperators() // the next step starts one with the suite's flags
	})

	It("hands over to the other replica when the leader is killed in the middle of a wave", func() {
		run.stopOperators()
		// Short lease timings, so that the follower takes over soon after the kill.
		flags := []string{"--leader-elect", "--leader-election-namespace=" + run.ns,
			"--leader-elect-lease-duration=6s", "--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s"}
		leader := run.startOperator("leader", flags...)
		Eventually(func(g Gomega) {
			l := &coordinationv1.Lease{}
			g.Expect(run.env.Client.Get(ctx, types.NamespacedName{Namespace: run.ns, Name: leaderelection.LeaseName}, l)).To(Succeed())
			g.Expect(l.Spec.HolderIdentity).NotTo(BeNil())
		}).WithTimeout(30*time.Second).Should(Succeed(), "the first replica leads")
		run.startOperator("follower", flags...)
		run.step("leader killed", func() {
			run.env.Emulator.Inject(graphtest.Fault{Method: http.MethodPatch, Latency: 200 * time.Millisecond})
			run.changeEverySpec()
			start := run.steps[len(run.steps)-1].start
			Eventually(func() int { return run.keptPatches(start) }).WithTimeout(faultConverge).Should(BeNumerically(">=", 10))
			leader.Kill()
			run.env.Emulator.ClearFaults()
			run.converge()
		})
	})

	It("recovers by itself when a client secret is written to the Secret before Entra ID accepts it", func() {
		run.step("secret rotated", func() {
			const rotated = "fabrikam-rotated-secret-value"
			run.secrets = append(run.secrets, rotated)
			secret := &corev1.Secret{}
			Expect(run.env.Client.Get(ctx, types.NamespacedName{Namespace: run.ns, Name: fabrikamSecret}, secret)).To(Succeed())
			secret.Data = map[string][]byte{"clientSecret": []byte(rotated)}
			Expect(run.env.Client.Update(ctx, secret)).To(Succeed())
			run.changeEverySpec()
			Eventually(func(g Gomega) {
				conn := &intunev1alpha1.GraphConnection{}
				g.Expect(run.env.Client.Get(ctx, types.NamespacedName{Namespace: run.ns, Name: fabrikamConnection}, conn)).To(Succeed())
				g.Expect(apimeta.FindStatusCondition(conn.Status.Conditions, intunev1alpha1.ConditionReady)).To(
					HaveField("Reason", intunev1alpha1.ReasonInvalidCredentials))
			}).WithTimeout(faultConverge).WithPolling(100*time.Millisecond).Should(Succeed(), "Entra ID refuses the new secret at first")
			run.env.Emulator.AddApp(graphtest.App{TenantID: fabrikamTenantID, ClientID: fabrikamClientID, ClientSecret: rotated})
			run.converge()
		})
	})

	It("sends only the newest spec after specs changed twice while Graph answered 503", func() {
		run.step("specs changed while Graph fails", func() {
			run.env.Emulator.Inject(graphtest.Fault{Status: 503})
			run.changeEverySpec()
			run.waitUntilSeen()
			run.changeEverySpec()
			run.superseded++
			run.waitUntilSeen()
			from := run.logLen()
			run.env.Emulator.ClearFaults()
			run.converge()
			for _, r := range run.env.Emulator.Requests()[from:] {
				if r.Kind != graphtest.KindGraph || r.Method != http.MethodPatch {
					continue
				}
				res := run.resourceOf(r.ConfigurationID)
				Expect(patchedValue(r)).To(Equal(res.newest()), "PATCH of %s after the fault ended", res.name)
			}
		})
	})

	It("kept every promise through all of it", func() { run.expectEveryPromiseKept() })
})

// Graph's faults and the token endpoint's, each through a wave of spec changes after a first sync.
var _ = Describe("The fault suite, Graph's and the token endpoint's faults", Ordered, func() {
	var run *faultRun

	BeforeAll(func() {
		run = startFaultRun()
		DeferCleanup(run.stop)
	})

	It("converges on the first sync", func() {
		run.step("first sync", run.converge)
	})

	DescribeTable("converges through a Graph fault",
		func(faults ...graphtest.Fault) {
			run.step(CurrentSpecReport().LeafNodeText, func() {
				for _, f := range faults {
					run.env.Emulator.Inject(f)
				}
				run.changeEverySpec()
				run.converge()
				run.env.Emulator.ClearFaults()
			})
		},
		Entry("429 with Retry-After", graphtest.Fault{Status: 429, RetryAfter: "1", Times: 12}),
		Entry("429 without Retry-After", graphtest.Fault{Status: 429, Times: 12}),
		Entry("429 with Retry-After 0", graphtest.Fault{Status: 429, RetryAfter: "0", Times: 12}),
		Entry("429 with a Retry-After date in the past", graphtest.Fault{Status: 429, RetryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", Times: 12}),
		Entry("500", graphtest.Fault{Status: 500, Times: 60}),
		Entry("502", graphtest.Fault{Status: 502, Times: 60}),
		Entry("503 with Retry-After", graphtest.Fault{Status: 503, RetryAfter: "1", Times: 12}),
		Entry("503 without Retry-After", graphtest.Fault{Status: 503, Times: 60}),
		Entry("504", graphtest.Fault{Status: 504, Times: 60}),
		Entry("dropped connections", graphtest.Fault{DropConnection: true, Times: 60}),
		Entry("malformed bodies on GET", graphtest.Fault{Method: http.MethodGet, MalformedBody: true, Times: 60}),
		Entry("malformed bodies on PATCH", graphtest.Fault{Method: http.MethodPatch, MalformedBody: true, Times: 60}),
		Entry("answers slower than the per-try timeout", graphtest.Fault{Latency: 2 * time.Second, Times: 30}),
		Entry("204 to every PATCH", graphtest.Fault{NoContent: true}),
		Entry("204 to every PATCH, and the read-back refused", graphtest.Fault{NoContent: true},
			graphtest.Fault{Method: http.MethodGet, Status: 503, Times: 200}),
		Entry("PATCHes not kept for a while", graphtest.Fault{DiscardPatch: true, Times: 60}),
	)

	DescribeTable("converges through a fault of the token endpoint, which a restarted operator must call",
		func(fault graphtest.Fault) {
			run.step(CurrentSpecReport().LeafNodeText, func() {
				fault.Token = true
				run.env.Emulator.Inject(fault)
				run.restartOperators()
				run.changeEverySpec()
				run.converge()
				run.env.Emulator.ClearFaults()
			})
		},
		Entry("token endpoint hangs", graphtest.Fault{Hang: true, Times: 2}),
		Entry("token endpoint answers 503", graphtest.Fault{Status: 503, Times: 4}),
		Entry("token endpoint answers 500", graphtest.Fault{Status: 500, Times: 4}),
		Entry("token endpoint answers an HTML page with status 200", graphtest.Fault{HTMLPage: true, Times: 4}),
	)

	It("kept every promise through all of it", func() { run.expectEveryPromiseKept() })
})

// expectEveryPromiseKept checks, over everything the emulator and the watch on the resources saw in
// the run's steps, the promises that must hold under any fault.
func (run *faultRun) expectEveryPromiseKept() {
	GinkgoHelper()
	run.stopWatch()
	log := run.env.Emulator.Requests()

	By("never saying Ready while Graph did not hold the spec")
	observations := run.readyObservations()
	// Each wave of spec changes (and the first sync) ends with every resource Ready at its new
	// generation, but for the waves superseded before Graph was sent them.
	completed := run.waves + 1 - run.superseded
	Expect(len(observations)).To(BeNumerically(">=", len(run.resources)*completed), "Ready=True seen at least once per resource and wave")
	for _, o := range observations {
		res := run.byName[o.name]
		want, ok := res.specs[o.generation]
		Expect(ok).To(BeTrue(), "%s was Ready at generation %d, which the suite never wrote", o.name, o.generation)
		held := slices.ContainsFunc(log, func(r graphtest.Request) bool {
			return r.ConfigurationID == res.id && r.Held != nil && r.Held.SuccessCount == want && !r.Time.After(o.at)
		})
		Expect(held).To(BeTrue(), "%s was Ready at generation %d (successCount %d) before Graph held it", o.name, o.generation, want)
	}

	By("PATCHing no body twice when once would do, and never a value older than one already sent")
	Expect(run.env.Emulator.CountRequests(func(r graphtest.Request) bool { return r.Method == http.MethodPatch })).To(
		BeNumerically(">=", len(run.resources)*completed), "PATCHes to check")
	for _, res := range run.resources {
		var kept *graphtest.Request
		newestSent := int64(0)
		for i := range log {
			r := &log[i]
			if r.Kind != graphtest.KindGraph || r.ConfigurationID != res.id || r.Method != http.MethodPatch {
				continue
			}
			v := patchedValue(*r)
			if v < 0 && r.Status == 0 {
				continue // the client went away before its body arrived: nothing reached Graph
			}
			gen := res.generationOf(v)
			Expect(gen).NotTo(BeZero(), "%s was PATCHed with successCount %d, which no spec held (answered %d, body %q)", res.name, v, r.Status, r.Body)
			Expect(gen).To(BeNumerically(">=", newestSent), "%s was PATCHed with the spec of generation %d after that of %d", res.name, gen, newestSent)
			newestSent = gen
			if kept != nil && patchedValue(*kept) == v {
				Fail(fmt.Sprintf("%s was PATCHed with successCount %d again after Graph had kept it (%s)", res.name, v, r.Time.Format(time.StampMilli)))
			}
			if r.Status/100 == 2 && r.Held != nil && !r.Discarded {
				kept = r
			}
		}
	}

	By("sending each resource a bounded number of Graph requests in every step, and each tenant a bounded number of token requests")
	for _, s := range run.steps {
		counts, tokens := map[string]int{}, map[string]int{}
		for _, r := range log[s.start:s.end] {
			switch r.Kind {
			case graphtest.KindGraph:
				counts[r.ConfigurationID]++
			case graphtest.KindToken:
				tokens[r.TenantID]++
			}
		}
		for tenant, n := range tokens {
			Expect(n).To(BeNumerically("<=", faultTokenBound), "token requests of tenant %s in step %q", tenant, s.name)
		}
		bound := faultRequestBound + 3*int(s.took/(faultRetryMaxDelay/2))
		for id, n := range counts {
			Expect(n).To(BeNumerically("<=", bound), "Graph requests for %s in step %q, which took %v", run.resourceOf(id).name, s.name, s.took)
		}
	}

	By("leaving no secret and no token in the logs, the events or the status")
	var texts []string
	logs, err := filepath.Glob(filepath.Join(run.env.Dir, "*.log"))
	Expect(err).NotTo(HaveOccurred())
	for _, name := range logs {
		b, err := os.ReadFile(name)
		Expect(err).NotTo(HaveOccurred())
		texts = append(texts, string(b))
	}
	for _, kind := range []string{"events", "dcuo", "graphconnections"} {
		out, _, err := run.env.Kubectl().Output(ctx, "get", "-n", run.ns, kind, "-o", "yaml")
		Expect(err).NotTo(HaveOccurred())
		texts = append(texts, out)
	}
	all := strings.Join(texts, "\n")
	for _, s := range run.secrets {
		Expect(all).NotTo(ContainSubstring(s), "a client secret")
	}
	Expect(all).NotTo(ContainSubstring("eyJ"), "an access token (a JWT)")
}

// startFaultRun starts the suite's control plane, emulator and proxy, and creates the two
// connections and the resources, which Graph holds at values that differ from their specs.
func startFaultRun() *faultRun {
	GinkgoHelper()
	// The logs stay when the suite fails, for a person to read.
	dir, err := os.MkdirTemp("", "overview-operator-faults-")
	Expect(err).NotTo(HaveOccurred())
	env, err := localenv.Start(localenv.Options{Root: root, Dir: dir, Emulator: graphtest.Options{TimeScale: faultTimeScale}})
	Expect(err).NotTo(HaveOccurred())
	run := &faultRun{env: env, ns: "faults", byName: map[string]*faultResource{},
		secrets: []string{localenv.SampleClientSecret, "fabrikam-first-secret-value"}}
	run.proxy = testutil.NewAPIServerCut(env.Config.Host, env.Kubeconfig, dir)

	env.SeedSamples()
	Expect(env.CreateSampleConnection(ctx, run.ns)).To(Succeed())
	env.Emulator.AddApp(graphtest.App{TenantID: fabrikamTenantID, ClientID: fabrikamClientID, ClientSecret: run.secrets[1]})
	Expect(env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: run.ns, Name: fabrikamSecret},
		StringData: map[string]string{"clientSecret": run.secrets[1]},
	})).To(Succeed())
	Expect(env.CreateConnection(ctx, run.ns, fabrikamConnection, fabrikamTenantID, fabrikamClientID, fabrikamSecret)).To(Succeed())

	for t, tenant := range []struct{ id, connection string }{{localenv.SampleTenantID, localenv.SampleConnection}, {fabrikamTenantID, fabrikamConnection}} {
		for i := range faultsPerTenant {
			r := &faultResource{
				name:   fmt.Sprintf("%s-%02d", tenant.connection, i),
				tenant: tenant.id,
				id:     fmt.Sprintf("%08x-0000-4000-8000-%012x", t+1, i),
				specs:  map[int64]int32{1: int32(100000 + len(run.resources))},
			}
			env.Emulator.Seed(tenant.id, r.id, graphtest.Overview{SuccessCount: 1})
			Expect(env.Client.Create(ctx, &intunev1alpha1.DeviceConfigurationUserOverview{
				ObjectMeta: metav1.ObjectMeta{Namespace: run.ns, Name: r.name},
				Spec: intunev1alpha1.OverviewSpec{
					DeviceConfigurationID: r.id,
					ConnectionRef:         intunev1alpha1.ConnectionReference{Name: tenant.connection},
					Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To(r.specs[1])},
				},
			})).To(Succeed())
			run.resources = append(run.resources, r)
			run.byName[r.name] = r
		}
	}
	run.watchReady()
	return run
}

// stop stops the operators, the proxy and the control plane.
func (run *faultRun) stop() {
	for _, op := range run.operators {
		if CurrentSpecReport().Failed() {
			fmt.Fprintf(GinkgoWriter, "--- log of an operator (pid %d):\n%s\n", op.PID(), op.Tail(40))
		}
		_, _ = op.Stop(20 * time.Second)
	}
	if run.stopWatch != nil {
		run.stopWatch()
	}
	run.env.Stop()
	if CurrentSpecReport().Failed() || os.Getenv("FAULTS_KEEP_LOGS") != "" {
		fmt.Fprintf(GinkgoWriter, "The operators' logs are in %s\n", run.env.Dir)
	} else {
		_ = os.RemoveAll(run.env.Dir)
	}
}

// startOperator starts bin/manager through the proxy, with the suite's scaled budget and backoffs.
// It does not wait for it: a replica that is not the leader is never ready to reconcile.
func (run *faultRun) startOperator(name string, flags ...string) *localenv.Operator {
	GinkgoHelper()
	window := time.Duration(float64(20*time.Second) / faultTimeScale)
	args := append([]string{
		"--kubeconfig=" + run.proxy.Kubeconfig,
		"--watch-namespaces=" + run.ns,
		"--sync-interval=10m", // no routine resync adds requests
		"--graph-budget-window=" + window.String(),
		"--graph-writes-per-window=20", // 20 PATCHes a second per tenant: a wave takes 3 s, and a kill lands in the middle
		"--graph-requests-per-window=200",
		"--graph-timeout=1s",
		"--retry-base-delay=100ms",
		"--retry-max-delay=" + faultRetryMaxDelay.String(),
		"--credentials-retry=500ms",
		"--zap-log-level=debug",  // where a leak would most likely be
		"--metrics-secure=false", // scraped without a token
	}, flags...)
	op, err := run.env.StartOperator(fmt.Sprintf("faults-%s-%d", name, len(run.operators)), args...)
	Expect(err).NotTo(HaveOccurred())
	run.operators = append(run.operators, op)
	return op
}

// ensureOperator starts an operator, with the suite's flags and then flags, unless one is running.
func (run *faultRun) ensureOperator(flags ...string) {
	GinkgoHelper()
	for _, op := range run.operators {
		select {
		case <-op.Done():
		default:
			return
		}
	}
	run.startOperator("operator", flags...)
}

// countBefore counts the Graph requests with method before the log index to.
func (run *faultRun) countBefore(to int, method string) int {
	n := 0
	for _, r := range run.env.Emulator.Requests()[:to] {
		if r.Kind == graphtest.KindGraph && r.Method == method {
			n++
		}
	}
	return n
}

// scrapeUnsecured reads the metrics of an operator run with --metrics-secure=false.
func scrapeUnsecured(addr string) metricstest.Families {
	GinkgoHelper()
	resp, err := http.Get("http://" + addr + "/metrics")
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	families, err := metricstest.Parse(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return families
}

// restartOperators stops every operator (SIGTERM) and starts a new one.
func (run *faultRun) restartOperators() {
	GinkgoHelper()
	run.stopOperators()
	run.startOperator("restarted")
}

// stopOperators stops every operator still running, with SIGTERM, and expects a clean exit.
func (run *faultRun) stopOperators() {
	GinkgoHelper()
	for _, op := range run.operators {
		select {
		case <-op.Done():
			continue // killed
		default:
		}
		_, err := op.Stop(20 * time.Second)
		Expect(err).NotTo(HaveOccurred(), "the operator stops on SIGTERM:%s", testutil.Lines(op.Tail(10)))
	}
}

// step runs body as a named step of the suite, noting its part of the emulator's log. An operator is
// started first unless one runs, with the suite's flags and then operatorFlags.
func (run *faultRun) step(name string, body func(), operatorFlags ...string) {
	GinkgoHelper()
	start, began := run.logLen(), time.Now()
	run.steps = append(run.steps, faultStep{name: name, start: start})
	defer func() {
		s := &run.steps[len(run.steps)-1]
		s.end, s.took = run.logLen(), time.Since(began)
		tokens := 0
		for _, r := range run.env.Emulator.Requests()[s.start:s.end] {
			if r.Kind == graphtest.KindToken {
				tokens++
			}
		}
		AddReportEntry("step "+name, fmt.Sprintf("%d requests (%d for tokens) in %v", s.end-s.start, tokens, s.took.Round(100*time.Millisecond)))
	}()
	run.ensureOperator(operatorFlags...)
	body()
}

func (run *faultRun) logLen() int { return len(run.env.Emulator.Requests()) }

// keptPatches counts the PATCHes Graph kept since the log index from.
func (run *faultRun) keptPatches(from int) int {
	n := 0
	for _, r := range run.env.Emulator.Requests()[from:] {
		if r.Kind == graphtest.KindGraph && r.Method == http.MethodPatch && r.Status/100 == 2 && r.Held != nil && !r.Discarded {
			n++
		}
	}
	return n
}

// changeEverySpec gives every resource a new successCount, never used before, eight at a time.
func (run *faultRun) changeEverySpec() {
	GinkgoHelper()
	run.waves++
	began := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(run.resources))
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				r := run.resources[i]
				value := int32(100000*(run.waves+1) + i)
				o := &intunev1alpha1.DeviceConfigurationUserOverview{}
				o.Namespace, o.Name = run.ns, r.name
				patch := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"overview":{"successCount":%d}}}`, value))
				if err := run.env.Client.Patch(ctx, o, patch); err != nil {
					errs <- fmt.Errorf("%s: %w", r.name, err)
					continue
				}
				run.mu.Lock()
				r.specs[o.Generation] = value
				run.mu.Unlock()
			}
		})
	}
	for i := range run.resources {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	AddReportEntry(fmt.Sprintf("wave %d", run.waves), time.Since(began).Round(10*time.Millisecond).String())
	for err := range errs {
		Expect(err).NotTo(HaveOccurred(), "change a spec")
	}
}

// converge waits until every resource is Ready at its generation and Graph holds its spec.
func (run *faultRun) converge() {
	GinkgoHelper()
	run.convergeWithin(faultConverge)
}

// convergeWithin is converge, failing after timeout.
func (run *faultRun) convergeWithin(timeout time.Duration) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		list := &intunev1alpha1.DeviceConfigurationUserOverviewList{}
		g.Expect(run.env.Client.List(ctx, list, client.InNamespace(run.ns))).To(Succeed())
		var behind []string
		for _, o := range list.Items {
			res := run.byName[o.Name]
			ready := apimeta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
			held, _ := run.env.Emulator.Overview(res.tenant, res.id)
			if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != o.Generation ||
				held.SuccessCount != *o.Spec.Overview.SuccessCount {
				reason := "no Ready"
				if ready != nil {
					reason = ready.Reason + ": " + ready.Message
				}
				behind = append(behind, o.Name+" ("+reason+")")
			}
		}
		g.Expect(behind).To(BeEmpty(), "resources that have not converged")
	}).WithTimeout(timeout).WithPolling(250 * time.Millisecond).Should(Succeed())
}

// waitUntilSeen waits until every resource's Ready condition speaks of its newest generation.
func (run *faultRun) waitUntilSeen() {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		list := &intunev1alpha1.DeviceConfigurationUserOverviewList{}
		g.Expect(run.env.Client.List(ctx, list, client.InNamespace(run.ns))).To(Succeed())
		for _, o := range list.Items {
			ready := apimeta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil(), o.Name)
			g.Expect(ready.ObservedGeneration).To(Equal(o.Generation), "%s: %s", o.Name, ready.Message)
		}
	}).WithTimeout(faultConverge).WithPolling(250 * time.Millisecond).Should(Succeed())
}

// expectEveryAcceptedPatchInStatus checks that each resource's lastAppliedTime is no earlier than
// the last PATCH of it that Graph kept in the step.
func (run *faultRun) expectEveryAcceptedPatchInStatus(s faultStep) {
	GinkgoHelper()
	last := map[string]time.Time{}
	for _, r := range run.env.Emulator.Requests()[s.start:s.end] {
		if r.Kind == graphtest.KindGraph && r.Method == http.MethodPatch && r.Status/100 == 2 && r.Held != nil && !r.Discarded {
			last[r.ConfigurationID] = r.Time
		}
	}
	Expect(last).NotTo(BeEmpty())
	for id, at := range last {
		res := run.resourceOf(id)
		o := run.get(Default, res.name)
		Expect(o.Status.LastAppliedTime).NotTo(BeNil(), "%s: Graph accepted a PATCH that status does not show", res.name)
		Expect(o.Status.LastAppliedTime.Time).NotTo(BeTemporally("<", at.Truncate(time.Second)),
			"%s: Graph accepted a PATCH at %s, status says it last applied at %s", res.name, at.Format(time.StampMilli), o.Status.LastAppliedTime)
	}
}

// expectPatchedEvents checks that each resource with a PATCH Graph kept in the step has a Patched
// event.
func (run *faultRun) expectPatchedEvents(s faultStep) {
	GinkgoHelper()
	kept := map[string]bool{}
	for _, r := range run.env.Emulator.Requests()[s.start:s.end] {
		if r.Kind == graphtest.KindGraph && r.Method == http.MethodPatch && r.Status/100 == 2 && r.Held != nil && !r.Discarded {
			kept[run.resourceOf(r.ConfigurationID).name] = true
		}
	}
	Expect(kept).NotTo(BeEmpty())
	Eventually(func(g Gomega) {
		events := &eventsv1.EventList{}
		g.Expect(run.env.Client.List(ctx, events, client.InNamespace(run.ns))).To(Succeed())
		patched := map[string]bool{}
		for _, e := range events.Items {
			if e.Reason == "Patched" {
				patched[e.Regarding.Name] = true
			}
		}
		var missing []string
		for name := range kept {
			if !patched[name] {
				missing = append(missing, name)
			}
		}
		slices.Sort(missing)
		g.Expect(missing).To(BeEmpty(), "resources with a PATCH Graph kept and no Patched event")
	}).WithTimeout(30 * time.Second).WithPolling(time.Second).Should(Succeed())
}

func (run *faultRun) get(g Gomega, name string) *intunev1alpha1.DeviceConfigurationUserOverview {
	o := &intunev1alpha1.DeviceConfigurationUserOverview{}
	g.Expect(run.env.Client.Get(ctx, types.NamespacedName{Namespace: run.ns, Name: name}, o)).To(Succeed())
	return o
}

func (run *faultRun) resourceOf(configurationID string) *faultResource {
	for _, r := range run.resources {
		if strings.EqualFold(r.id, configurationID) {
			return r
		}
	}
	Fail("a Graph request for a configuration the suite does not know: " + configurationID)
	return nil
}

// watchReady notes every Ready=True the resources show, with the generation it is for.
func (run *faultRun) watchReady() {
	GinkgoHelper()
	wc, err := client.NewWithWatch(run.env.Config, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())
	stop := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	run.stopWatch = func() {
		once.Do(func() { close(stop) })
		<-done
	}
	go func() {
		defer close(done)
		for {
			w, err := wc.Watch(ctx, &intunev1alpha1.DeviceConfigurationUserOverviewList{}, client.InNamespace(run.ns))
			if err != nil {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					continue
				}
			}
			for open := true; open; {
				select {
				case <-stop:
					w.Stop()
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						open = false
						break
					}
					o, isOverview := ev.Object.(*intunev1alpha1.DeviceConfigurationUserOverview)
					if !isOverview {
						continue
					}
					if c := apimeta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady); c != nil && c.Status == metav1.ConditionTrue {
						run.mu.Lock()
						run.ready = append(run.ready, readyObservation{name: o.Name, generation: c.ObservedGeneration, at: time.Now()})
						run.mu.Unlock()
					}
				}
			}
		}
	}()
}

func (run *faultRun) readyObservations() []readyObservation {
	run.mu.Lock()
	defer run.mu.Unlock()
	return slices.Clone(run.ready)
}

// newest is the successCount of the resource's newest spec.
func (r *faultResource) newest() int32 {
	var gen int64
	for g := range r.specs {
		gen = max(gen, g)
	}
	return r.specs[gen]
}

// generationOf is the generation whose spec held successCount v (0: none).
func (r *faultResource) generationOf(v int32) int64 {
	for g, s := range r.specs {
		if s == v {
			return g
		}
	}
	return 0
}

// patchedValue is the successCount a PATCH carried (-1 if none).
func patchedValue(r graphtest.Request) int32 {
	var body struct {
		SuccessCount *int32 `json:"successCount"`
	}
	if json.Unmarshal(r.Body, &body) != nil || body.SuccessCount == nil {
		return -1
	}
	return *body.SuccessCount
}
