package e2e

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/overview-operator/overview-operator/internal/argocd"
	"github.com/overview-operator/overview-operator/internal/testutil"
)

var _ = Describe("The argocd-cm patch", func() {
	It("merges into an existing argocd-cm with the GitOps page's kubectl command, keeping its other keys", func() {
		ns := testutil.NewNamespace(ctx, env.Client, "argocd")
		existing := map[string]string{
			"url": "https://argocd.example.com",
			"resource.customizations.health.batch_Job": "hs = {status = \"Healthy\"}\nreturn hs\n",
		}
		Expect(env.Client.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "argocd-cm"},
			Data:       existing,
		})).To(Succeed())

		page, err := os.ReadFile(filepath.Join(root, "docs", "gitops.md"))
		Expect(err).NotTo(HaveOccurred())
		const command = "kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm.yaml"
		Expect(string(page)).To(ContainSubstring(command))
		args := strings.Fields(strings.TrimPrefix(command, "kubectl "))
		args[1] = ns
		kubectl.Run(args...)

		cs, err := argocd.Load(os.DirFS(filepath.Join(root, "config", "argocd", "resource_customizations")))
		Expect(err).NotTo(HaveOccurred())
		want, err := argocd.ConfigMapData(cs)
		Expect(err).NotTo(HaveOccurred())
		for k, v := range existing {
			want[k] = v
		}
		got := &corev1.ConfigMap{}
		Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "argocd-cm"}, got)).To(Succeed())
		Expect(got.Data).To(Equal(want))
	})
})
