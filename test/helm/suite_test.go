package helm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/overview-operator/overview-operator/internal/localenv"
)

const (
	// root is the repository's root, relative to this package's directory (where go test runs).
	root = "../.."
	// release and namespace are what the README and docs/install.md install with: the chart then
	// gives the objects config/default's names.
	release   = "overview-operator"
	namespace = "overview-operator-system"
)

var (
	chart     = filepath.Join(root, "charts", "overview-operator")
	helmBin   = filepath.Join(root, "bin", "helm")
	kustomize = filepath.Join(root, "bin", "kustomize")

	ctx       context.Context
	k8sClient client.Client
	warnings  *warningRecorder
)

func TestHelm(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Helm chart suite")
}

var _ = BeforeSuite(func() {
	ctx = context.Background()
	for _, bin := range []string{helmBin, kustomize} {
		_, err := os.Stat(bin)
		Expect(err).NotTo(HaveOccurred(), "%s is missing: run make helm kustomize (make test builds both)", bin)
	}
	Expect(localenv.UseBuiltControlPlane(root)).To(Succeed())

	// The chart's own CRDs, so that a crds/ out of step with the rendered objects shows here too.
	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(chart, "crds"), filepath.Join("testdata", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "start the control plane; run make envtest to build it")
	DeferCleanup(testEnv.Stop)

	warnings = &warningRecorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = warnings
	c, err := client.New(cfg, client.Options{})
	Expect(err).NotTo(HaveOccurred())
	k8sClient = client.WithFieldValidation(c, "Strict")
})

// run runs a tool from bin/ and returns its standard output; a failure carries its standard error.
func run(bin string, args ...string) (string, error) {
	c, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(c, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), errors.Join(err, errors.New(strings.TrimSpace(stderr.String())))
	}
	return stdout.String(), nil
}

// helmTemplate renders the chart as release in namespace, with the CRDs, and with the values files
// given (none: the defaults).
func helmTemplate(valuesFiles ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	var args []string
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	return helmTemplateArgs(args...)
}

// helmTemplateSet renders the chart as helmTemplate does, with the values set as helm's --set
// takes them (key=value).
func helmTemplateSet(sets ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	var args []string
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	return helmTemplateArgs(args...)
}

// helmTemplateArgs renders the chart as release in namespace, with the CRDs, and with further
// arguments of helm template.
func helmTemplateArgs(extra ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	args := append([]string{"template", release, chart, "--namespace", namespace, "--include-crds"}, extra...)
	out, err := run(helmBin, args...)
	Expect(err).NotTo(HaveOccurred(), "helm %s", strings.Join(args, " "))
	return decode(out)
}

// decode splits a multi-document YAML stream into objects, skipping empty documents.
func decode(manifests string) []*unstructured.Unstructured {
	GinkgoHelper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := d.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	Expect(objs).NotTo(BeEmpty())
	return objs
}

// warningRecorder keeps the warnings the API server answers with (deprecations, Pod Security
// violations of a namespace's warn level).
type warningRecorder struct {
	mu       sync.Mutex
	messages []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _, message string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.messages = append(w.messages, message)
}

// take returns the warnings recorded since the last call.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.messages
	w.messages = nil
	return m
}
