package controllers_test

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/overview-operator/overview-operator/controllers"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// ownNamespace is the one namespace the suite's manager does not cache, for a spec that runs a
// manager of its own.
const ownNamespace = "manager-stops"

var _ = Describe("A manager that stops", func() {
	// A user's envtest suite starts and stops managers in one process; so does an operator that
	// loses its leadership on its way out. The jobs a manager's reconcilers gave its pacers run on
	// their own goroutines, and must end with it.
	It("cancels its Graph calls in flight and sends none of those in line", func() {
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ownNamespace}})).To(Succeed())
		mgrCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		mgr, err := ctrl.NewManager(testEnv.Config, ctrl.Options{
			Scheme:  k8sClient.Scheme(),
			Metrics: metricsserver.Options{BindAddress: "0"},
			Cache:   cache.Options{DefaultNamespaces: map[string]cache.Config{ownNamespace: {}}},
			// Its controllers have the names of the suite manager's, in the same process.
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(controllers.SetupWithManager(mgrCtx, mgr, controllers.Options{
			SyncInterval:            time.Hour,
			WatchNamespaces:         []string{ownNamespace},
			AllowedEndpointHosts:    []string{"127.0.0.1", "localhost"},
			AllowNamespacedCABundle: true,
			// Longer than the spec: a call that ends without an answer was cancelled, not timed out.
			GraphTimeout: 10 * time.Minute,
			// Six calls in the spec's time: the rest of its reads wait in the tenant's line.
			GraphBudget: controllers.GraphBudget{Requests: 6, Window: 10 * time.Minute},
		})).To(Succeed())
		stopped := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(stopped)
			Expect(mgr.Start(mgrCtx)).To(Succeed())
		}()

		t := newTenantIn(ownNamespace)
		// The tenant's first read is answered; every read after it is held until the client gives up.
		// While the resources are created, the budget's next reads go out and are held, and the rest
		// wait in the tenant's line for a window that comes after the spec.
		emulator.Inject(graphtest.Fault{TenantID: t.id, Method: http.MethodGet, Times: 1, Latency: time.Millisecond})
		emulator.Inject(graphtest.Fault{TenantID: t.id, Method: http.MethodGet, Hang: true})
		DeferCleanup(emulator.ClearFaults)
		const resources = 40
		for range resources {
			newOverview(t, t.seed(graphtest.Overview{}))
		}
		Eventually(func() int { return t.count(http.MethodGet) }).WithTimeout(time.Minute).WithPolling(10*time.Millisecond).
			Should(Equal(1), "the first read answered")

		stop()
		Eventually(stopped).WithTimeout(time.Minute).Should(BeClosed())
		// The calls in flight were cancelled: the emulator logs each as gone without an answer
		// (status 0), which a held call gets only from its client (its timeout is 10 minutes).
		cancelled := func() int {
			return emulator.CountRequests(func(r graphtest.Request) bool {
				return r.TenantID == t.id && r.Kind == graphtest.KindGraph && r.Status == 0
			})
		}
		Eventually(cancelled).WithTimeout(30*time.Second).WithPolling(10*time.Millisecond).Should(BeNumerically(">=", 1),
			"a call in flight when the manager stopped was cancelled")
		// No job in line sends: from now on every read is answered at once, and logged.
		emulator.ClearFaults()
		settled := t.count("")
		Consistently(func() int { return t.count("") }).WithTimeout(3*time.Second).WithPolling(100*time.Millisecond).
			Should(Equal(settled), "a Graph call after the manager stopped")
		Expect(t.count(http.MethodGet)).To(BeNumerically("<", resources), "every resource was read: none was left in line")
	})
})
