package faults

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/overview-operator/overview-operator/internal/localenv"
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
	Expect(localenv.UseBuilt(root)).To(Succeed())
})
