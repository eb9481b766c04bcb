package controllers_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/controllers"
	"github.com/overview-operator/overview-operator/internal/scheme"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// The suite runs the reconcilers in a manager against a real API server (`make envtest`) and the
// Graph emulator, as a user's own suite would (docs/envtest.md).

// syncInterval is the operator-wide default in this suite: short, so that resyncs can be watched.
const syncInterval = 3 * time.Second

var (
	testEnv   *envtest.Environment
	kubectl   testutil.Kubectl // as an administrator
	k8sClient client.Client
	emulator  *graphtest.Server
	ctx       context.Context
	cancel    context.CancelFunc
	tokenFile string
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(false)))
	ctx, cancel = context.WithCancel(context.Background())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start the control plane; run `make envtest` to build it")
	kubectl = testutil.AdminKubectl(testEnv)

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())

	emulator, err = graphtest.NewServer(graphtest.Options{FractionalRetryAfter: true})
	Expect(err).NotTo(HaveOccurred())
	tokenFile = filepath.Join(GinkgoT().TempDir(), "azure-identity-token")

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  k8sClient.Scheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		// Every namespace but ownNamespace, which the spec of a manager that stops gives a manager
		// of its own: a selector no object matches keeps it out of this cache.
		Cache: cache.Options{DefaultNamespaces: map[string]cache.Config{
			cache.AllNamespaces: {},
			ownNamespace:        {LabelSelector: labels.SelectorFromSet(labels.Set{"overview-operator.test/never": "cached"})},
		}},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.SetupWithManager(ctx, mgr, controllers.Options{
		SyncInterval:              syncInterval,
		WorkloadIdentityTokenFile: tokenFile,
		CredentialsRetry:          time.Second,
		// A fresh token after a 403 every 2s rather than every minute, as CredentialsRetry scales.
		ForbiddenRenewal: 2 * time.Second,
		// The emulator listens on the loopback, with a CA of its own.
		AllowedEndpointHosts:    []string{"127.0.0.1", "localhost"},
		AllowNamespacedCABundle: true,
	})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if emulator != nil {
		emulator.Close()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// tenant is one test's own Entra ID tenant and app in the emulator, and the namespace, Secret and
// GraphConnection that reach it, so that tests neither share requests nor throttling windows.
type tenant struct {
	id, clientID, secret string
	namespace            string
	connection           string
}

// newTenant registers an app in a fresh tenant and creates its namespace, Secret and connection.
func newTenant(permissions ...string) *tenant {
	GinkgoHelper()
	return newTenantIn(testutil.NewNamespace(ctx, k8sClient, "it-ops"), permissions...)
}

// newTenantIn is newTenant in an existing namespace.
func newTenantIn(namespace string, permissions ...string) *tenant {
	GinkgoHelper()
	t := &tenant{id: uuid.NewString(), clientID: uuid.NewString(), secret: "s3cr3t-" + uuid.NewString(), connection: "contoso"}
	app := graphtest.App{TenantID: t.id, ClientID: t.clientID, ClientSecret: t.secret}
	if len(permissions) > 0 {
		app.Permissions = permissions
	}
	emulator.AddApp(app)
	t.namespace = namespace
	Expect(k8sClient.Create(ctx, t.secretObject(t.secret))).To(Succeed())
	Expect(k8sClient.Create(ctx, &intunev1alpha1.GraphConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.connection},
		Spec:       intunev1alpha1.GraphConnectionSpec{ConnectionSpec: t.connectionSpec()},
	})).To(Succeed())
	return t
}

func (t *tenant) secretObject(value string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "contoso-graph"},
		Data:       map[string][]byte{"clientSecret": []byte(value)},
	}
}

// connectionSpec reaches the emulator as this tenant's app, with a client secret.
func (t *tenant) connectionSpec() intunev1alpha1.ConnectionSpec {
	return intunev1alpha1.ConnectionSpec{
		TenantID:      t.id,
		ClientID:      t.clientID,
		Endpoint:      emulator.URL(),
		AuthorityHost: emulator.URL(),
		CABundle:      string(emulator.CACertPEM()),
		Credentials: intunev1alpha1.Credentials{
			Source:       intunev1alpha1.CredentialSourceClientSecret,
			ClientSecret: &intunev1alpha1.SecretKeyReference{Name: "contoso-graph", Key: "clientSecret"},
		},
	}
}

// seed creates a device configuration in the tenant and returns its id.
func (t *tenant) seed(o graphtest.Overview) string {
	id := uuid.NewString()
	emulator.Seed(t.id, id, o)
	return id
}

// requests returns the emulator's log of this tenant's Graph calls (token requests excluded).
func (t *tenant) requests() []graphtest.Request {
	var out []graphtest.Request
	for _, r := range emulator.Requests() {
		if r.TenantID == t.id && r.Kind == graphtest.KindGraph {
			out = append(out, r)
		}
	}
	return out
}

// count counts this tenant's Graph calls with the method ("" for any).
func (t *tenant) count(method string) int {
	n := 0
	for _, r := range t.requests() {
		if method == "" || r.Method == method {
			n++
		}
	}
	return n
}
