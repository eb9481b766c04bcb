package e2e

import (
	"os"
	"path/filepath"
	"regexp"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// deployNamespace is the namespace config/default installs the operator into.
const deployNamespace = "overview-operator-system"

var _ = Describe("The deployment manifests", func() {
	DescribeTable("are accepted by the API server: kubectl apply --server-side --dry-run=server -k",
		func(dir string, alsoApplied ...string) {
			_, err := os.Stat(filepath.Join(root, dir, "kustomization.yaml"))
			Expect(err).NotTo(HaveOccurred(), "%s/kustomization.yaml", dir)

			// A dry run does not create the namespace, so objects in it would be refused as in a
			// namespace that does not exist: create it for real first.
			Expect(client.IgnoreAlreadyExists(env.Client.Create(ctx, &corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: deployNamespace},
			}))).To(Succeed())

			// The server validates every object against its schema (the CRDs', the Deployment's, the
			// RBAC kinds') and runs admission, but stores nothing. Warnings, the API server's and
			// kustomize's, go to standard error, which Output returns beside the output.
			out, warnings, err := kubectl.Output(ctx, "apply", "--server-side", "--dry-run=server", "-k", dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(MatchRegexp(`deployment\.apps/\S+ serverside-applied \(server dry run\)`))
			Expect(out).To(MatchRegexp(`customresourcedefinition\.apiextensions\.k8s\.io/deviceconfigurationuseroverviews\.intune\.overview-operator\.io serverside-applied`))
			Expect(out).To(MatchRegexp(`customresourcedefinition\.apiextensions\.k8s\.io/deviceconfigurationdeviceoverviews\.intune\.overview-operator\.io serverside-applied`))
			Expect(out).To(MatchRegexp(`clusterrole\.rbac\.authorization\.k8s\.io/\S+ serverside-applied`))
			for _, kind := range alsoApplied {
				Expect(out).To(MatchRegexp(regexp.QuoteMeta(kind) + `/\S+ serverside-applied`))
			}
			Expect(out + warnings).NotTo(ContainSubstring("Warning"))
		},
		Entry("config/default", "config/default"),
		// Three replicas sharing the work by tenant, with their PodDisruptionBudget and spread.
		Entry("config/sharded", "config/sharded", "poddisruptionbudget.policy"),
	)
})
