package argocd_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/overview-operator/overview-operator/internal/argocd"
)

// tree is the resource_customizations tree, laid out as in argoproj/argo-cd.
const tree = "../../config/argocd/resource_customizations"

// actionClock is the time the action tests run at: in a zone other than UTC, so that an
// os.date without "!" writes the wrong hour.
var actionClock = time.Date(2026, 11, 28, 11, 5, 0, 0, time.FixedZone("CET", 3600))

// healthTests is a health_test.yaml, in Argo CD's format.
type healthTests struct {
	Tests []struct {
		InputPath    string              `json:"inputPath"`
		HealthStatus argocd.HealthStatus `json:"healthStatus"`
	} `json:"tests"`
}

// actionTests is an action_test.yaml, in Argo CD's format.
type actionTests struct {
	DiscoveryTests []struct {
		InputPath string          `json:"inputPath"`
		Result    []argocd.Action `json:"result"`
	} `json:"discoveryTests"`
	ActionTests []struct {
		Action             string `json:"action"`
		InputPath          string `json:"inputPath"`
		ExpectedOutputPath string `json:"expectedOutputPath"`
	} `json:"actionTests"`
}

func loadTree(t *testing.T) []argocd.Customization {
	t.Helper()
	cs, err := argocd.Load(os.DirFS(tree))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) == 0 {
		t.Fatalf("no customizations under %s", tree)
	}
	return cs
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	obj := map[string]any{}
	readYAML(t, path, &obj)
	return obj
}

// healthFailures runs a kind's health_test.yaml against script and says which cases differ.
func healthFailures(t *testing.T, c argocd.Customization, script string) []string {
	t.Helper()
	dir := filepath.Join(tree, c.Dir)
	var cases healthTests
	readYAML(t, filepath.Join(dir, "health_test.yaml"), &cases)
	if len(cases.Tests) == 0 {
		t.Fatalf("%s: health_test.yaml has no tests", c.Dir)
	}
	var failures []string
	for _, tc := range cases.Tests {
		got, err := argocd.VM{}.Health(script, readObject(t, filepath.Join(dir, tc.InputPath)))
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", tc.InputPath, err))
			continue
		}
		if d := cmp.Diff(tc.HealthStatus, got); d != "" {
			failures = append(failures, fmt.Sprintf("%s (-want +got):\n%s", tc.InputPath, d))
		}
	}
	return failures
}

// TestHealthChecks runs every health_test.yaml of the tree, as Argo CD's TestLuaHealthScript does
// (but with the libraries of a script installed through argocd-cm, not those of a built-in one).
func TestHealthChecks(t *testing.T) {
	for _, c := range loadTree(t) {
		if c.Health == "" {
			continue
		}
		t.Run(c.Dir, func(t *testing.T) {
			for _, f := range healthFailures(t, c, c.Health) {
				t.Error(f)
			}
			usesEveryTestdataFile(t, filepath.Join(tree, c.Dir, "health_test.yaml"), filepath.Join(tree, c.Dir, "testdata"))
		})
	}
}

// TestHealthChecksAreCovered changes each status a health script can return into another one, and
// requires a case of its health_test.yaml to notice: every branch of every script is tested.
func TestHealthChecksAreCovered(t *testing.T) {
	assignment := regexp.MustCompile(`hs\.status = "([A-Za-z]+)"`)
	for _, c := range loadTree(t) {
		if c.Health == "" {
			continue
		}
		t.Run(c.Dir, func(t *testing.T) {
			found := assignment.FindAllStringSubmatchIndex(c.Health, -1)
			if len(found) == 0 {
				t.Fatal("no hs.status assignment found")
			}
			for _, m := range found {
				was := c.Health[m[2]:m[3]]
				instead := "Healthy"
				if was == "Healthy" {
					instead = "Progressing"
				}
				mutant := c.Health[:m[2]] + instead + c.Health[m[3]:]
				if len(healthFailures(t, c, mutant)) == 0 {
					line := strings.Count(c.Health[:m[0]], "\n") + 1
					t.Errorf("health.lua:%d returns %s; returning %s instead fails no test", line, was, instead)
				}
			}
		})
	}
}

// TestActions runs every action_test.yaml of the tree, as Argo CD's TestLuaResourceActionsScript
// does: the discovery script offers exactly the listed actions, and each action turns its input
// into the expected object.
func TestActions(t *testing.T) {
	for _, c := range loadTree(t) {
		if c.Discovery == "" {
			continue
		}
		t.Run(c.Dir, func(t *testing.T) {
			dir := filepath.Join(tree, c.Dir, "actions")
			var cases actionTests
			readYAML(t, filepath.Join(dir, "action_test.yaml"), &cases)
			if len(cases.DiscoveryTests) == 0 || len(cases.ActionTests) == 0 {
				t.Fatal("action_test.yaml needs discoveryTests and actionTests")
			}
			tested := map[string]bool{}
			for _, tc := range cases.DiscoveryTests {
				got, err := argocd.VM{}.Discover(c.Discovery, readObject(t, filepath.Join(dir, tc.InputPath)))
				if err != nil {
					t.Errorf("discovery of %s: %v", tc.InputPath, err)
					continue
				}
				want := append([]argocd.Action(nil), tc.Result...)
				sort.Slice(want, func(i, j int) bool { return want[i].Name < want[j].Name })
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("discovery of %s (-want +got):\n%s", tc.InputPath, d)
				}
				for _, a := range got {
					if _, ok := c.Actions[a.Name]; !ok {
						t.Errorf("discovery offers %s, which has no actions/%s/action.lua", a.Name, a.Name)
					}
				}
			}
			for _, tc := range cases.ActionTests {
				script, ok := c.Actions[tc.Action]
				if !ok {
					t.Errorf("no actions/%s/action.lua", tc.Action)
					continue
				}
				tested[tc.Action] = true
				vm := argocd.VM{Now: func() time.Time { return actionClock }}
				got, err := vm.Act(script, readObject(t, filepath.Join(dir, tc.InputPath)))
				if err != nil {
					t.Errorf("%s on %s: %v", tc.Action, tc.InputPath, err)
					continue
				}
				want := readObject(t, filepath.Join(dir, tc.ExpectedOutputPath))
				if d := cmp.Diff(want, jsonRoundTrip(t, got)); d != "" {
					t.Errorf("%s on %s (-%s +got):\n%s", tc.Action, tc.InputPath, tc.ExpectedOutputPath, d)
				}
			}
			for name := range c.Actions {
				if !tested[name] {
					t.Errorf("action %s has no test in action_test.yaml", name)
				}
			}
			usesEveryTestdataFile(t, filepath.Join(dir, "action_test.yaml"), filepath.Join(dir, "testdata"))
		})
	}
}

// jsonRoundTrip makes v what reading it from YAML would: the same numbers and empty values.
func jsonRoundTrip(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// usesEveryTestdataFile fails for a testdata file no test names: a case someone meant to add.
func usesEveryTestdataFile(t *testing.T, testFile, testdata string) {
	t.Helper()
	spec, err := os.ReadFile(testFile)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !bytes.Contains(spec, []byte("testdata/"+filepath.Base(f))) {
			t.Errorf("%s names no test of %s", testFile, f)
		}
	}
}
