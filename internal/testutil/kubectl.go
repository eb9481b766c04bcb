package testutil

import (
	"context"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/overview-operator/overview-operator/internal/kubectl"
)

// kubectlTimeout bounds one kubectl command, so that one that hangs (on an API server that has
// gone) fails its spec instead of the whole suite at go test's timeout.
const kubectlTimeout = 2 * time.Minute

// Kubectl is a control plane's kubectl in a spec: Run fails the spec when kubectl fails, and the
// Runner's Output is there for a spec that expects a failure or reads the warnings.
type Kubectl struct {
	kubectl.Runner
}

// AdminKubectl adds an administrator (a user in system:masters) to an envtest control plane that
// has started, and returns kubectl as that user.
func AdminKubectl(env *envtest.Environment) Kubectl {
	ginkgo.GinkgoHelper()
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	k, err := admin.Kubectl()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return Kubectl{kubectl.Runner{Path: k.Path, Flags: k.Opts}}
}

// Run runs kubectl with args and returns what it wrote to standard output. The spec fails when
// kubectl does, with what it wrote to standard error.
func (k Kubectl) Run(args ...string) string {
	ginkgo.GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	stdout, _, err := k.Output(ctx, args...)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return stdout
}
