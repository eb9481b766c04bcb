package testutil

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// kubectlTimeout bounds one kubectl command, so that one that hangs (on an API server that has
// gone) fails its spec instead of the whole suite at go test's timeout.
const kubectlTimeout = 2 * time.Minute

// Kubectl runs a control plane's kubectl in a spec.
type Kubectl struct {
	// Path is the kubectl binary; `make envtest` builds it into bin/k8s.
	Path string
	// Flags come before each command's arguments: the kubeconfig of the user it runs as.
	Flags []string
	// Dir is the directory it runs in, which file arguments are relative to ("": the test's).
	Dir string
}

// AdminKubectl adds an administrator (a user in system:masters) to an envtest control plane that
// has started, and returns kubectl as that user.
func AdminKubectl(env *envtest.Environment) Kubectl {
	ginkgo.GinkgoHelper()
	admin, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	k, err := admin.Kubectl()
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	return Kubectl{Path: k.Path, Flags: k.Opts}
}

// Run runs kubectl with args and returns what it wrote to standard output. The spec fails when
// kubectl does, with what it wrote to standard error.
func (k Kubectl) Run(args ...string) string {
	ginkgo.GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.Path, append(slices.Clone(k.Flags), args...)...)
	cmd.Dir = k.Dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	gomega.Expect(cmd.Run()).To(gomega.Succeed(), "kubectl %s: %s", strings.Join(args, " "), stderr.String())
	return stdout.String()
}
