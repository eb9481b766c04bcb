package e2e

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deployNamespace is the namespace config/default installs the operator into.
const deployNamespace = "overview-operator-system"

var _ = Describe("The deployment manifests", func() {
	It("are accepted by the API server: kubectl apply --server-side --dry-run=server -k config/default", func() {
		_, err := os.Stat(filepath.Join(root, "config", "default", "kustomization.yaml"))
		Expect(err).NotTo(HaveOccurred(), "config/default/kustomization.yaml")

		// A dry run does not create the namespace, so objects in it would be refused as in a
		// namespace that does not exist: create it for real first.
		Expect(client.IgnoreAlreadyExists(env.Client.Create(ctx, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: deployNamespace},
		}))).To(Succeed())

		// The server validates every object against its schema (the CRDs', the Deployment's, the
		// RBAC kinds') and runs admission, but stores nothing. Warnings, the API server's and
		// kustomize's, go to standard error, which Output returns beside the output.
		out, warnings, err := kubectl.Output(ctx, "apply", "--server-side", "--dry-run=server", "-k", "config/default")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`deployment\.apps/\S+ serverside-applied \(server dry run\)`))
		Expect(out).To(MatchRegexp(`customresourcedefinition\.apiextensions\.k8s\.io/deviceconfigurationuseroverviews\.intune\.overview-operator\.io serverside-applied`))
		Expect(out).To(MatchRegexp(`customresourcedefinition\.apiextensions\.k8s\.io/deviceconfigurationdeviceoverviews\.intune\.overview-operator\.io serverside-applied`))
		Expect(out).To(MatchRegexp(`clusterrole\.rbac\.authorization\.k8s\.io/\S+ serverside-applied`))
		Expect(out + warnings).NotTo(ContainSubstring("Warning"))
	})
})
