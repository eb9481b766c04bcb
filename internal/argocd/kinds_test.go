package argocd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/overview-operator/overview-operator/internal/argocd"
)

// crds is where make manifests writes the CRDs.
const crds = "../../config/crd/bases"

// families are the kinds that share a status type, and so one health check and one set of actions:
// Argo CD reads them under one key per kind, so each kind has its folder in the tree, with the same
// scripts and the same test cases as the family's first kind and testdata of its own kind. A new
// kind is one more name here and a copy of its family's folder.
var families = map[string][]string{
	"connections": {"GraphConnection", "ClusterGraphConnection"},
	"overviews":   {"DeviceConfigurationUserOverview", "DeviceConfigurationDeviceOverview"},
}

// crdKinds returns the group and kind of every CRD in config/crd/bases.
func crdKinds(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(crds, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, f := range files {
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
			} `json:"spec"`
		}
		readYAMLLoose(t, f, &crd)
		kinds[crd.Spec.Names.Kind] = crd.Spec.Group
	}
	if len(kinds) == 0 {
		t.Fatalf("no CRDs under %s", crds)
	}
	return kinds
}

// TestEveryKindHasAHealthCheck requires a health check for every kind the operator serves, in a
// family of kinds that share it: without one Argo CD shows the kind's resources as always healthy.
func TestEveryKindHasAHealthCheck(t *testing.T) {
	byKind := map[string]argocd.Customization{}
	for _, c := range loadTree(t) {
		byKind[c.Kind] = c
	}
	inFamily := map[string]bool{}
	for _, kinds := range families {
		for _, k := range kinds {
			inFamily[k] = true
		}
	}
	for kind, group := range crdKinds(t) {
		c, ok := byKind[kind]
		switch {
		case !ok:
			t.Errorf("%s has no folder %s/%s in %s", kind, group, kind, tree)
		case c.Group != group:
			t.Errorf("%s's folder is under %s, its CRD's group is %s", kind, c.Group, group)
		case c.Health == "":
			t.Errorf("%s has no health.lua", kind)
		}
		if !inFamily[kind] {
			t.Errorf("%s is in no family of this test: add it to the family whose status it shares", kind)
		}
	}
}

// TestFamiliesShareScriptsAndTests requires each kind of a family to carry its family's scripts
// and test cases unchanged, with testdata of its own kind: a fix made to one kind's script is made
// to all, and each runs the whole suite (TestHealthChecks, TestActions) against objects of its kind.
func TestFamiliesShareScriptsAndTests(t *testing.T) {
	byKind := map[string]argocd.Customization{}
	for _, c := range loadTree(t) {
		byKind[c.Kind] = c
	}
	for family, kinds := range families {
		t.Run(family, func(t *testing.T) {
			first, ok := byKind[kinds[0]]
			if !ok {
				t.Fatalf("no folder for %s", kinds[0])
			}
			for _, kind := range kinds {
				c, ok := byKind[kind]
				if !ok {
					t.Errorf("no folder for %s", kind)
					continue
				}
				if c.Health != first.Health || c.Discovery != first.Discovery {
					t.Errorf("%s's health.lua or actions/discovery.lua differs from %s's", kind, first.Kind)
				}
				if d := cmp.Diff(first.Actions, c.Actions); d != "" {
					t.Errorf("%s's actions differ from %s's (-%s +%s):\n%s", kind, first.Kind, first.Kind, kind, d)
				}
				for _, spec := range []string{"health_test.yaml", filepath.Join("actions", "action_test.yaml")} {
					if !sameFile(t, filepath.Join(tree, first.Dir, spec), filepath.Join(tree, c.Dir, spec)) {
						t.Errorf("%s's %s differs from %s's", kind, spec, first.Kind)
					}
				}
				for _, dir := range []string{"testdata", filepath.Join("actions", "testdata")} {
					testdataOfKind(t, filepath.Join(tree, c.Dir, dir), kind, filepath.Join(tree, first.Dir, dir))
				}
			}
		})
	}
}

// sameFile says whether two files have the same bytes; both missing is the same.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	ab, aerr := os.ReadFile(a)
	bb, berr := os.ReadFile(b)
	if os.IsNotExist(aerr) && os.IsNotExist(berr) {
		return true
	}
	if aerr != nil || berr != nil {
		return false
	}
	return bytes.Equal(ab, bb)
}

// testdataOfKind requires dir to hold the files of like (the family's first kind's testdata),
// each an object of kind.
func testdataOfKind(t *testing.T, dir, kind, like string) {
	t.Helper()
	names := func(d string) []string {
		files, err := filepath.Glob(filepath.Join(d, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range files {
			files[i] = filepath.Base(f)
		}
		slices.Sort(files)
		return files
	}
	got := names(dir)
	if d := cmp.Diff(names(like), got); d != "" {
		t.Errorf("%s holds other files than %s (-%s +%s):\n%s", dir, like, like, dir, d)
	}
	for _, f := range got {
		if k := readObject(t, filepath.Join(dir, f))["kind"]; k != kind {
			t.Errorf("%s is a %v, not a %s", filepath.Join(dir, f), k, kind)
		}
	}
}

// readYAMLLoose reads the fields of a YAML file that into has, ignoring the others.
func readYAMLLoose(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
