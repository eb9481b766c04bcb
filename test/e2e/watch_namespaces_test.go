package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	intunev1alpha1 "github.com/overview-operator/overview-operator/api/v1alpha1"
	"github.com/overview-operator/overview-operator/internal/localenv"
	"github.com/overview-operator/overview-operator/internal/testutil"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

var _ = Describe("--watch-namespaces with a ClusterGraphConnection whose secretNamespace is not watched", func() {
	It("reads the Secret from the API server, says SecretNotFound while it is missing, and recovers when it is created", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "watched")
		secretNS := testutil.NewNamespace(ctx, env.Client, "unwatched-secrets")
		conn := &intunev1alpha1.ClusterGraphConnection{
			ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + ns},
			Spec: intunev1alpha1.ClusterGraphConnectionSpec{
				ConnectionSpec: intunev1alpha1.ConnectionSpec{
					TenantID: localenv.SampleTenantID,
					ClientID: localenv.SampleClientID,
					Credentials: intunev1alpha1.Credentials{
						Source:       intunev1alpha1.CredentialSourceClientSecret,
						ClientSecret: &intunev1alpha1.SecretKeyReference{Name: localenv.SampleSecret, Key: "clientSecret"},
					},
				},
				SecretNamespace:   secretNS,
				AllowedNamespaces: intunev1alpha1.AllowedNamespaces{Names: []string{ns}},
			},
		}
		env.EmulatorSettings(&conn.Spec.ConnectionSpec)
		Expect(env.Client.Create(ctx, conn)).To(Succeed())
		DeferCleanup(func() { _ = env.Client.Delete(ctx, conn) })
		// A Secret outside the cache is looked at again every sync interval while it fails.
		startOperator("watch-ns", "--watch-namespaces="+ns, "--sync-interval=3s")

		id := seedConfiguration(graphtest.Overview{SuccessCount: 1})
		Expect(env.Client.Create(ctx, &intunev1alpha1.DeviceConfigurationUserOverview{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wifi"},
			Spec: intunev1alpha1.OverviewSpec{
				DeviceConfigurationID: id,
				ConnectionRef:         intunev1alpha1.ConnectionReference{Kind: intunev1alpha1.ConnectionKindCluster, Name: conn.Name},
				Overview:              intunev1alpha1.OverviewFields{SuccessCount: ptr.To[int32](7)},
			},
		})).To(Succeed())

		By("saying SecretNotFound, naming the namespace, while the Secret is missing")
		Eventually(func(g Gomega) {
			o := &intunev1alpha1.DeviceConfigurationUserOverview{}
			g.Expect(env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "wifi"}, o)).To(Succeed())
			ready := meta.FindStatusCondition(o.Status.Conditions, intunev1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(intunev1alpha1.ReasonSecretNotFound))
			g.Expect(ready.Message).To(ContainSubstring(secretNS))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("creating the Secret: no watch sees it, the recheck does")
		Expect(env.CreateSampleSecret(ctx, secretNS)).To(Succeed())
		kubectl.Run("wait", "-n", ns, "--for=condition=Ready", "dcuo/wifi", "--timeout=60s")
		held, _ := env.Emulator.Overview(localenv.SampleTenantID, id)
		Expect(held.SuccessCount).To(BeEquivalentTo(7))
		kubectl.Run("wait", "--for=condition=Ready", "clustergraphconnection/"+conn.Name, "--timeout=30s")
	})
})
