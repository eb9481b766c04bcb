// Package envtest_test is the example suite of docs/envtest.md: a platform team's own envtest suite
// that runs overview-operator's reconcilers in-process against the Graph emulator, and checks that
// its manifests converge. It runs in this repository's `make test`, so it cannot go stale.
package envtest_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/controllers"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// In your own module, find the CRDs in the module cache:
//
//	go list -m -f '{{.Dir}}/config/crd/bases' github.com/overview-operator/overview-operator
var crdDir = filepath.Join("..", "..", "config", "crd", "bases")

const (
	tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID = "0b9c1d2e-3f4a-4b6c-8d8e-9f0a1b2c3d4e"
	secret   = "test-secret"
	configID = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
)

var (
	k8sClient client.Client
	graph     *graphtest.Server
)

func TestPlatformManifests(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Intune manifests")
}

var _ = BeforeSuite(func() {
	// 1. A real API server with the operator's CRDs.
	testEnv := &envtest.Environment{CRDDirectoryPaths: []string{crdDir}, ErrorIfCRDPathMissing: true}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(testEnv.Stop)

	scheme := runtime.NewScheme()
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(intunev1alpha1.AddToScheme(scheme)).To(Succeed())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	// 2. The Graph emulator, with the tenant's app and the device configuration.
	graph, err = graphtest.NewServer(graphtest.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(graph.Close)
	graph.AddApp(graphtest.App{TenantID: tenantID, ClientID: clientID, ClientSecret: secret})
	graph.Seed(tenantID, configID, graphtest.Overview{SuccessCount: 3})
	graph.SeedDevice(tenantID, configID, graphtest.Overview{SuccessCount: 2})

	// 3. The operator's reconcilers in the suite's manager.
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	// The emulator listens on the loopback with a CA of its own: hosts and a caBundle that the
	// operator refuses by default.
	Expect(controllers.SetupWithManager(context.Background(), mgr, controllers.Options{
		AllowedEndpointHosts:    []string{"127.0.0.1", "localhost"},
		AllowNamespacedCABundle: true,
	})).To(Succeed())
	ctx, cancel := context.WithCancel(context.Background())
	DeferCleanup(cancel) // cleanups run last-in first-out: the manager stops before the API server
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = It("converges the team's overview", func(ctx SpecContext) {
	// What the team keeps in Git, with the connection pointed at the emulator.
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "it-ops"}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "contoso-graph"},
		StringData: map[string]string{"clientSecret": secret},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &intunev1alpha1.GraphConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "contoso"},
		Spec: intunev1alpha1.GraphConnectionSpec{ConnectionSpec: intunev1alpha1.ConnectionSpec{
			TenantID: tenantID, ClientID: clientID,
			Endpoint: graph.URL(), AuthorityHost: graph.URL(), CABundle: string(graph.CACertPEM()),
			Credentials: intunev1alpha1.Credentials{
				Source:       intunev1alpha1.CredentialSourceClientSecret,
				ClientSecret: &intunev1alpha1.SecretKeyReference{Name: "contoso-graph", Key: "clientSecret"},
			},
		}},
	})).To(Succeed())
	overview := &intunev1alpha1.DeviceConfigurationUserOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "wifi-baseline"},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: configID,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: "contoso"},
			Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](12)},
		},
	}
	Expect(k8sClient.Create(ctx, overview)).To(Succeed())
	// The same configuration's overview of devices: a kind of its own, with the same spec.
	devices := &intunev1alpha1.DeviceConfigurationDeviceOverview{
		ObjectMeta: metav1.ObjectMeta{Namespace: "it-ops", Name: "wifi-baseline"},
		Spec: intunev1alpha1.OverviewSpec{
			DeviceConfigurationID: configID,
			ConnectionRef:         intunev1alpha1.ConnectionReference{Name: "contoso"},
			Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](20)},
		},
	}
	Expect(k8sClient.Create(ctx, devices)).To(Succeed())

	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(overview), overview)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(overview.Status.Conditions, intunev1alpha1.ConditionReady)).To(BeTrue())
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(devices), devices)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(devices.Status.Conditions, intunev1alpha1.ConditionReady)).To(BeTrue())
	}).WithTimeout(30 * time.Second).Should(Succeed())
	held, _ := graph.Overview(tenantID, configID)
	Expect(held.SuccessCount).To(Equal(int32(12)))
	heldDevices, _ := graph.DeviceOverview(tenantID, configID)
	Expect(heldDevices.SuccessCount).To(Equal(int32(20)))
}, SpecTimeout(time.Minute))
