package controllers_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/metricstest"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// newClusterConnection creates a ClusterGraphConnection to the tenant, reading the tenant's Secret,
// and returns its name.
func newClusterConnection(t *tenant, allowed intunev1alpha1.AllowedNamespaces) string {
	GinkgoHelper()
	cc := &intunev1alpha1.ClusterGraphConnection{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "shared-"},
		Spec: intunev1alpha1.ClusterGraphConnectionSpec{
			ConnectionSpec:    t.connectionSpec(),
			SecretNamespace:   t.namespace,
			AllowedNamespaces: allowed,
		},
	}
	Expect(k8sClient.Create(ctx, cc)).To(Succeed())
	return cc.Name
}

// expectConnectionReady waits until a connection's Ready condition has the status and reason.
func expectConnectionReady(obj client.Object, status metav1.ConditionStatus, reason string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		c := meta.FindStatusCondition(obj.(intunev1alpha1.Connection).ConnectionStatus().Conditions, intunev1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(status), c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
	}).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
}

var _ = Describe("A GraphConnection", func() {
	It("is Ready when its client secret gets a token, and says InvalidCredentials when not", func() {
		t := newTenant()
		conn := &intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.connection}}
		expectConnectionReady(conn, metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid)

		Expect(k8sClient.Update(ctx, t.secretObject("revoked"))).To(Succeed())
		expectConnectionReady(conn, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)
		c := meta.FindStatusCondition(conn.Status.Conditions, intunev1alpha1.ConditionReady)
		Expect(c.Message).NotTo(ContainSubstring("revoked"), "the secret's value leaked into status")
	})

	It("counts in overview_connections under its Ready reason, and no more once deleted", func() {
		failing := func() float64 {
			families, err := metricstest.Gather(metrics.Registry)
			Expect(err).NotTo(HaveOccurred())
			return families.Value("overview_connections", "kind", "GraphConnection", "ready", "False", "reason", intunev1alpha1.ReasonInvalidCredentials)
		}
		before := failing()
		t := newTenant()
		conn := &intunev1alpha1.GraphConnection{ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: t.connection}}
		expectConnectionReady(conn, metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid)

		Expect(k8sClient.Update(ctx, t.secretObject("revoked"))).To(Succeed())
		expectConnectionReady(conn, metav1.ConditionFalse, intunev1alpha1.ReasonInvalidCredentials)
		Eventually(failing).WithTimeout(10 * time.Second).Should(Equal(before + 1))

		Expect(k8sClient.Delete(ctx, conn)).To(Succeed())
		Eventually(failing).WithTimeout(10 * time.Second).Should(Equal(before))
	})

	It("signs in with a client certificate from a kubernetes.io/tls Secret", func() {
		t := newTenant()
		cert := testutil.SelfSignedCertificate()
		emulator.AddApp(graphtest.App{TenantID: t.id, ClientID: t.clientID, Certificate: cert.Cert})
		// The key in PKCS #1, as cert-manager writes an RSA key by default (internal/graph's tests
		// read the PKCS #8 one).
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(cert.Key)})
		Expect(k8sClient.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "contoso-cert"},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: cert.CertPEM, corev1.TLSPrivateKeyKey: keyPEM},
		})).To(Succeed())
		spec := t.connectionSpec()
		spec.Credentials = intunev1alpha1.Credentials{
			Source: intunev1alpha1.CredentialSourceClientCertificate,
			ClientCertificate: &intunev1alpha1.CertificateReference{Name: "contoso-cert",
				CertificateKey: corev1.TLSCertKey, PrivateKeyKey: corev1.TLSPrivateKeyKey},
		}
		conn := &intunev1alpha1.GraphConnection{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "contoso-cert"},
			Spec:       intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec},
		}
		Expect(k8sClient.Create(ctx, conn)).To(Succeed())
		expectConnectionReady(conn, metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid)

		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef.Name = "contoso-cert"
		})
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
	})
})

var _ = Describe("A ClusterGraphConnection", func() {
	It("signs in with workload identity from the operator's federated token file", func() {
		t := newTenant()
		Expect(os.WriteFile(tokenFile, []byte(emulator.FederatedToken(t.id, t.clientID, time.Hour)), 0o600)).To(Succeed())
		spec := t.connectionSpec()
		spec.Credentials = intunev1alpha1.Credentials{Source: intunev1alpha1.CredentialSourceWorkloadIdentity}
		cc := &intunev1alpha1.ClusterGraphConnection{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "federated-"},
			Spec: intunev1alpha1.ClusterGraphConnectionSpec{ConnectionSpec: spec,
				AllowedNamespaces: intunev1alpha1.AllowedNamespaces{Names: []string{t.namespace}}},
		}
		Expect(k8sClient.Create(ctx, cc)).To(Succeed())
		expectConnectionReady(cc, metav1.ConditionTrue, intunev1alpha1.ReasonCredentialsValid)

		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef = intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: cc.Name}
		})
		expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionTrue, intunev1alpha1.ReasonUpToDate)
	})

	It("reads its Secret from secretNamespace and says SecretNotFound when it is missing", func() {
		t := newTenant()
		spec := t.connectionSpec()
		spec.Credentials.ClientSecret.Name = "nowhere"
		cc := &intunev1alpha1.ClusterGraphConnection{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "missing-"},
			Spec:       intunev1alpha1.ClusterGraphConnectionSpec{ConnectionSpec: spec, SecretNamespace: t.namespace},
		}
		Expect(k8sClient.Create(ctx, cc)).To(Succeed())
		expectConnectionReady(cc, metav1.ConditionFalse, intunev1alpha1.ReasonSecretNotFound)
	})
})

var _ = Describe("An endpoint override to a host the operator does not allow", func() {
	It("leaves the connection and its resources Ready=False, EndpointNotAllowed, naming the host and the flag, with no request sent", func() {
		t := newTenant()
		spec := t.connectionSpec()
		spec.Endpoint = "https://graph.contoso.internal"
		conn := &intunev1alpha1.GraphConnection{
			ObjectMeta: metav1.ObjectMeta{Namespace: t.namespace, Name: "elsewhere"},
			Spec:       intunev1alpha1.GraphConnectionSpec{ConnectionSpec: spec},
		}
		Expect(k8sClient.Create(ctx, conn)).To(Succeed())
		expectConnectionReady(conn, metav1.ConditionFalse, intunev1alpha1.ReasonEndpointNotAllowed)
		c := meta.FindStatusCondition(conn.Status.Conditions, intunev1alpha1.ConditionReady)
		Expect(c.Message).To(ContainSubstring(`"graph.contoso.internal"`))
		Expect(c.Message).To(ContainSubstring("--allowed-endpoint-hosts"))

		o := newOverview(t, t.seed(graphtest.Overview{}), func(o *intunev1alpha1.DeviceConfigurationUserOverview) {
			o.Spec.ConnectionRef.Name = conn.Name
		})
		got := expectCondition(o, intunev1alpha1.ConditionReady, metav1.ConditionFalse, intunev1alpha1.ReasonEndpointNotAllowed)
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, intunev1alpha1.ConditionStalled)).To(BeTrue())
		Expect(t.count("")).To(BeZero(), "Graph calls of the tenant")
	})
})
