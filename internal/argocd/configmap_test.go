package argocd_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/overview-operator/overview-operator/internal/argocd"
)

// TestConfigMapCarriesTheTree reads config/argocd/argocd-cm.yaml back and requires exactly the
// tree's scripts in it, under the keys Argo CD reads, and the file to be what 'make argocd' writes.
func TestConfigMapCarriesTheTree(t *testing.T) {
	cs := loadTree(t)
	const file = "../../config/argocd/argocd-cm.yaml"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data, err := argocd.ParseConfigMapData(b)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, c := range cs {
		if c.Health != "" {
			want[c.HealthKey()] = true
			if data[c.HealthKey()] != c.Health {
				t.Errorf("%s in argocd-cm.yaml is not %s/health.lua", c.HealthKey(), c.Dir)
			}
		}
		if c.Discovery == "" {
			continue
		}
		want[c.ActionsKey()] = true
		var actions argocd.Actions
		if err := yaml.UnmarshalStrict([]byte(data[c.ActionsKey()]), &actions); err != nil {
			t.Errorf("%s: %v", c.ActionsKey(), err)
			continue
		}
		if actions.DiscoveryLua != c.Discovery {
			t.Errorf("%s discovery.lua is not %s/actions/discovery.lua", c.ActionsKey(), c.Dir)
		}
		got := map[string]string{}
		for _, d := range actions.Definitions {
			got[d.Name] = d.ActionLua
		}
		if d := cmp.Diff(c.Actions, got); d != "" {
			t.Errorf("%s definitions differ from %s/actions (-tree +argocd-cm):\n%s", c.ActionsKey(), c.Dir, d)
		}
	}
	for key := range data {
		if !want[key] {
			t.Errorf("argocd-cm.yaml has %s, which the tree does not", key)
		}
	}

	rendered, err := argocd.RenderConfigMap(cs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rendered, b) {
		t.Errorf("%s is stale: run 'make argocd'", file)
	}
}

// gitOpsPage is the docs' page on Argo CD, which says how to install the ConfigMap.
const gitOpsPage = "../../docs/gitops.md"

// TestGitOpsPageInstallsTheConfigMap requires the GitOps page's Argo CD section to name every key
// the ConfigMap sets and the command that applies it.
func TestGitOpsPageInstallsTheConfigMap(t *testing.T) {
	page, err := os.ReadFile(gitOpsPage)
	if err != nil {
		t.Fatal(err)
	}
	data, err := argocd.ConfigMapData(loadTree(t))
	if err != nil {
		t.Fatal(err)
	}
	for key := range data {
		if !bytes.Contains(page, []byte(key)) {
			t.Errorf("%s does not name the argocd-cm key %s", gitOpsPage, key)
		}
	}
	const apply = "kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm.yaml"
	if !bytes.Contains(page, []byte(apply)) {
		t.Errorf("%s does not show %q", gitOpsPage, apply)
	}
}
