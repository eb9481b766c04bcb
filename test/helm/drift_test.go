package helm

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// kustomizeBuild returns what bin/kustomize builds from dir.
func kustomizeBuild(dir string) []*unstructured.Unstructured {
	GinkgoHelper()
	out, err := run(kustomize, "build", dir)
	Expect(err).NotTo(HaveOccurred(), "kustomize build %s", dir)
	return decode(out)
}

// configWithOptionalParts copies config/ and enables in config/default/kustomization.yaml what it
// lists commented out: the ServiceMonitor, the NetworkPolicy and the workload identity patch.
func configWithOptionalParts() string {
	GinkgoHelper()
	dir := filepath.Join(GinkgoT().TempDir(), "config")
	Expect(os.CopyFS(dir, os.DirFS(filepath.Join(root, "config")))).To(Succeed())
	path := filepath.Join(dir, "default", "kustomization.yaml")
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	k := string(b)
	for _, line := range []string{"#- ../prometheus\n", "#- ../network-policy\n", "#patches:\n", "#- path: workload_identity_patch.yaml\n",
		"#components:\n", "#- ../prometheus/rules\n"} {
		Expect(k).To(ContainSubstring(line), "config/default/kustomization.yaml no longer lists %q commented out: update this test", line)
		k = strings.Replace(k, line, strings.TrimPrefix(line, "#"), 1)
	}
	Expect(os.WriteFile(path, []byte(k), 0o644)).To(Succeed())
	return filepath.Join(dir, "default")
}

// comparableObjects keys objs by kind, namespace and name, and leaves out what the two install paths may
// do differently: the labels (each has its own set, but the editor and viewer roles' aggregation
// labels and workload identity's pod label are kept), and the selectors, which are checked here to
// select the Deployment's pods (the Service's, the NetworkPolicy's, the PodDisruptionBudget's and
// the topology spread's) or the Service (the ServiceMonitor's) instead. What is left is compared
// field by field: RBAC rules, bindings, the Deployment's replicas and pod spec (image, args, env,
// ports, probes, resources, securityContext, spread), the Service's ports, the ServiceMonitor's
// endpoints, the NetworkPolicy's rules, the PodDisruptionBudget's budget, the CRDs.
func comparableObjects(objs []*unstructured.Unstructured) map[string]map[string]any {
	GinkgoHelper()
	var podLabels, serviceLabels labels.Set
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			l, _, _ := unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
			podLabels = l
		case "Service":
			serviceLabels = o.GetLabels()
		}
	}
	Expect(podLabels).NotTo(BeEmpty(), "the Deployment's pod labels")
	selects := func(o *unstructured.Unstructured, target labels.Set, path ...string) {
		GinkgoHelper()
		sel, found, err := unstructured.NestedStringMap(o.Object, path...)
		Expect(err).NotTo(HaveOccurred())
		Expect(found && len(sel) > 0).To(BeTrue(), "%s %s has no %s", o.GetKind(), o.GetName(), strings.Join(path, "."))
		Expect(labels.SelectorFromSet(sel).Matches(target)).To(BeTrue(),
			"%s %s: %s %v does not select %v", o.GetKind(), o.GetName(), strings.Join(path, "."), sel, target)
		unstructured.RemoveNestedField(o.Object, path...)
	}

	out := map[string]map[string]any{}
	for _, orig := range objs {
		o := orig.DeepCopy()
		if o.GetKind() == "Namespace" {
			// Helm installs into a namespace it is given (--create-namespace), not one of its own
			// objects; the README and docs/install.md label it for Pod Security as config/manager does.
			continue
		}
		switch o.GetKind() {
		case "Deployment":
			selects(o, podLabels, "spec", "selector", "matchLabels")
			keep := map[string]string{}
			if v, ok := podLabels["azure.workload.identity/use"]; ok {
				keep["azure.workload.identity/use"] = v
			}
			Expect(unstructured.SetNestedStringMap(o.Object, keep, "spec", "template", "metadata", "labels")).To(Succeed())
			spread, found, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "topologySpreadConstraints")
			Expect(err).NotTo(HaveOccurred())
			if found {
				for i, c := range spread {
					constraint := &unstructured.Unstructured{Object: c.(map[string]any)}
					selects(constraint, podLabels, "labelSelector", "matchLabels")
					unstructured.RemoveNestedField(constraint.Object, "labelSelector")
					spread[i] = constraint.Object
				}
				Expect(unstructured.SetNestedSlice(o.Object, spread, "spec", "template", "spec", "topologySpreadConstraints")).To(Succeed())
			}
		case "Service":
			selects(o, podLabels, "spec", "selector")
		case "ServiceMonitor":
			selects(o, serviceLabels, "spec", "selector", "matchLabels")
		case "NetworkPolicy":
			selects(o, podLabels, "spec", "podSelector", "matchLabels")
		case "PodDisruptionBudget":
			selects(o, podLabels, "spec", "selector", "matchLabels")
		}
		keep := map[string]string{}
		for k, v := range o.GetLabels() {
			if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
				keep[k] = v
			}
		}
		o.SetLabels(keep)
		out[o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName()] = o.Object
	}
	return out
}

var _ = Describe("The Helm chart and config/default", func() {
	It("install the same objects with the same settings, with the default values", func() {
		want := comparableObjects(kustomizeBuild(filepath.Join(root, "config", "default")))
		got := comparableObjects(helmTemplate())
		Expect(cmp.Diff(want, got)).To(BeEmpty(), "kustomize build config/default (-) vs helm template (+)")
	})

	It("install the same objects with the same settings, with the ServiceMonitor, the NetworkPolicy and workload identity on", func() {
		want := comparableObjects(kustomizeBuild(configWithOptionalParts()))
		got := comparableObjects(helmTemplate(filepath.Join("testdata", "optional-parts.yaml")))
		Expect(want).To(HaveKey(HavePrefix("ServiceMonitor ")))
		Expect(want).To(HaveKey(HavePrefix("NetworkPolicy ")))
		Expect(cmp.Diff(want, got)).To(BeEmpty(), "kustomize build config/default with its optional parts (-) vs helm template (+)")
	})

	It("install the same objects with the same settings, as config/least-privilege", func() {
		want := comparableObjects(kustomizeBuild(filepath.Join(root, "config", "least-privilege")))
		got := comparableObjects(helmTemplate(filepath.Join("testdata", "least-privilege.yaml")))
		Expect(want).To(HaveKey("Role it-ops/overview-operator-secrets"))
		Expect(cmp.Diff(want, got)).To(BeEmpty(), "kustomize build config/least-privilege (-) vs helm template (+)")
	})

	It("install the same objects with the same settings, as config/sharded with replicaCount 3", func() {
		want := comparableObjects(kustomizeBuild(filepath.Join(root, "config", "sharded")))
		got := comparableObjects(helmTemplate(replicas3))
		Expect(want).To(HaveKey("PodDisruptionBudget " + namespace + "/overview-operator-controller-manager"))
		Expect(cmp.Diff(want, got)).To(BeEmpty(), "kustomize build config/sharded (-) vs helm template with replicaCount 3 (+)")
	})
})
