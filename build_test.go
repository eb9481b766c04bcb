package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/modfile"
)

// TestGoBuildKeepsAnUnchangedBinarysTime: hack/go-build.sh, which make build runs, leaves a binary
// that came out the same with its modification time (go's test cache then keeps the results of
// the tests that open it), and gives a changed one a new time.
func TestGoBuildKeepsAnUnchangedBinarysTime(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("hack", "go-build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/tiny\n\ngo 1.26\n")
	write("main.go", "package main\n\nfunc main() { println(1) }\n")
	out := filepath.Join(dir, "tiny")
	build := func() time.Time {
		t.Helper()
		cmd := exec.Command(script, out, ".")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, b)
		}
		info, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		return info.ModTime()
	}

	build()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(out, past, past); err != nil {
		t.Fatal(err)
	}
	if got := build(); !got.Equal(past) {
		t.Errorf("an unchanged binary's time went from %v to %v", past, got)
	}
	write("main.go", "package main\n\nfunc main() { println(2) }\n")
	if got := build(); got.Equal(past) {
		t.Error("a changed binary kept its old time")
	}
}

// TestToolsShareTheOperatorsModules: every module that the operator and the modules of the tools it
// builds from source (hack/controlplane: kube-apiserver and kubectl, built by
// hack/build-controlplane.sh; hack/tools: helm, kustomize, controller-gen, golangci-lint) both
// require is required at the same version, so that building a tool finds the packages `go vet`
// and `go test` compiled for the operator in the build cache. A module bumped in go.mod alone fails
// here: run `go get <module>@<version>` and `go mod tidy` in the tool's module too (or, where the
// tool needs a newer one, bump the operator's).
func TestToolsShareTheOperatorsModules(t *testing.T) {
	operator := moduleVersions(t, "go.mod")
	for _, dir := range []string{filepath.Join("hack", "controlplane"), filepath.Join("hack", "tools")} {
		shared := 0
		for path, v := range moduleVersions(t, filepath.Join(dir, "go.mod")) {
			if ov, ok := operator[path]; ok {
				shared++
				if ov != v {
					t.Errorf("%s: the operator requires %s, %s %s", path, ov, dir, v)
				}
			}
		}
		if shared < 20 {
			t.Errorf("%s: only %d modules in common with the operator: the check reads the go.mod files wrong", dir, shared)
		}
	}
}

// moduleVersions are the versions a go.mod requires, after its replace directives.
func moduleVersions(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, r := range f.Require {
		versions[r.Mod.Path] = r.Mod.Version
	}
	for _, r := range f.Replace {
		if _, ok := versions[r.Old.Path]; ok && r.New.Version != "" {
			versions[r.Old.Path] = r.New.Version
		}
	}
	return versions
}
