package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
