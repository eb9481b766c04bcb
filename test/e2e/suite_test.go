package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The suite shares one control plane and one Graph emulator; each test makes its own namespace and
// runs its own operator processes, which it stops before it ends.

// root is the repository's root, relative to this package's directory (where go test runs).
const root = "../.."

// The suite's emulator keeps Intune's limits per window with its window shortened four times, to
// 5 s, so that the specs of several replicas, whose hand-overs wait for a window to be clear of the
// last owner's calls, wait a quarter as long; they give the operators the same window
// (graphWindowFlag). The other specs' operators keep Intune's 20 s budget, which stays under
// the emulator's limits.
const emulatorTimeScale = 4

var (
	// graphWindow is the suite's emulator's throttling window.
	graphWindow = graphtest.IntuneLimits().Window / emulatorTimeScale
	// graphWindowFlag gives an operator the emulator's window as its budget window.
	graphWindowFlag = "--graph-budget-window=" + graphWindow.String()
)

var (
	env *localenv.Env
	ctx context.Context
	// kubectl is bin/k8s/kubectl with the admin kubeconfig, run from the repository's root.
	kubectl testutil.Kubectl
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end suite")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	Expect(localenv.UseBuilt(root)).To(Succeed())
	var err error
	env, err = localenv.Start(localenv.Options{Root: root, Emulator: graphtest.Options{TimeScale: emulatorTimeScale}})
	Expect(err).NotTo(HaveOccurred(), "start the control plane and the Graph emulator; run make envtest to build it")
	DeferCleanup(env.Stop)
	kubectl = testutil.Kubectl{Runner: env.Kubectl()}
	env.SeedSamples()
})

// startOperator runs bin/manager with flags as a process of its own, waits until its readiness
// probe answers, and stops it (SIGTERM) when the test ends. A failed test prints the end of its log.
func startOperator(name string, flags ...string) *localenv.Operator {
	GinkgoHelper()
	return startOperatorWithEnv(name, nil, flags...)
}

// startOperatorWithEnv is startOperator with extra environment variables ("KEY=value").
func startOperatorWithEnv(name string, environ []string, flags ...string) *localenv.Operator {
	GinkgoHelper()
	op, err := env.StartOperatorWithEnv(fmt.Sprintf("%s-%d", name, time.Now().UnixNano()), environ, flags...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			fmt.Fprintf(GinkgoWriter, "--- log of operator %s (pid %d):\n%s\n", name, op.PID(), op.Tail(40))
		}
		_, _ = op.Stop(10 * time.Second) // returns at once if the test stopped or killed it
	})
	Eventually(func(g Gomega) {
		select {
		case <-op.Done():
			StopTrying(fmt.Sprintf("the operator exited (%v):%s", op.Err(), testutil.Lines(op.Tail(20)))).Now()
		default:
		}
		resp, err := http.Get("http://" + op.ProbeAddr + "/readyz")
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	}).WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).Should(Succeed(), "operator %s becomes ready", name)
	return op
}

// createOverview creates a DeviceConfigurationUserOverview that manages the successCount of the
// device configuration id through the samples' GraphConnection, at the operator's sync interval.
func createOverview(ns, name, id string, successCount int32) {
	GinkgoHelper()
	Expect(env.Client.Create(ctx, &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: id,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: localenv.SampleConnection},
			Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To(successCount)},
		},
	})).To(Succeed())
}
