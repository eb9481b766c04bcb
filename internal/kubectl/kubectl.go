// Package kubectl runs a kubectl binary against a control plane, as a user at a terminal does. It is
// the one way overview-operator's programs (`make demo`) and test suites run kubectl: the local
// harness (internal/localenv) hands one out for its control plane, and internal/testutil wraps it
// so that a failure fails the spec. It imports neither Ginkgo, whose flags a program must not get,
// nor the harness, which the Graph emulator's own tests cannot import.
package kubectl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Runner runs one kubectl binary with the same flags, directory and environment each time.
type Runner struct {
	// Path is the kubectl binary; `make envtest` builds it into bin/k8s.
	Path string
	// Flags come before each command's arguments: the kubeconfig of the user it runs as. kubectl
	// refuses flags before a plugin's name, so a Runner for plugins has none and sets KUBECONFIG in
	// Env instead.
	Flags []string
	// Dir is the directory it runs in, which file arguments are relative to ("": the caller's).
	Dir string
	// Env is added to the caller's environment ("KEY=value", a later one winning), as a PATH on which
	// kubectl finds a plugin.
	Env []string
}

// Output runs kubectl with args and returns what it wrote to standard output and to standard error
// apart: a caller that checks the output is not misled by warnings, and one that checks the warnings
// finds them. The error, when kubectl failed or could not start, names the command and holds its
// standard error; it wraps exec's (an *exec.ExitError when kubectl ran and exited non-zero, as
// `kubectl auth can-i` does to say no).
func (r Runner) Output(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, r.Path, append(slices.Clone(r.Flags), args...)...)
	cmd.Dir = r.Dir
	if len(r.Env) > 0 {
		cmd.Env = append(os.Environ(), r.Env...)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), errOut.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), nil
}
