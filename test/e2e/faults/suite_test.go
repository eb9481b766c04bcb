package faults

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// root is the repository's root: the CRDs, bin/manager and bin/k8s.
const root = "../../.."

var ctx = context.Background()

// TestFaults runs the fault suite in a test binary of its own, so that go test runs it beside the
// rest of the end-to-end suite: most of both is waiting on the operators they start.
func TestFaults(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Fault suite")
}

var _ = BeforeSuite(func() {
	manager := filepath.Join(root, "bin", "manager")
	if _, err := os.Stat(manager); err != nil {
		Fail(fmt.Sprintf("%s is missing: run make build (the tests run the operator's built binary)", manager))
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		assets, err := filepath.Abs(filepath.Join(root, "bin", "k8s"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.Setenv("KUBEBUILDER_ASSETS", assets)).To(Succeed())
	}
})
