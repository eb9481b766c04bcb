// Package localenv runs overview-operator the way a user does, on one machine: a real control plane
// (kube-apiserver and etcd built by `make envtest`) with the CRDs installed, the Graph emulator, and
// the operator's own binary as a separate process. `make demo`, the end-to-end tests and the
// benchmark are built on it.
package localenv

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/overview-operator/overview-operator/internal/kubectl"
	"github.com/overview-operator/overview-operator/internal/scheme"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// Options configure an Env.
type Options struct {
	// Root is the repository's root: CRDs are read from config/crd/bases and binaries from bin/.
	Root string
	// Dir is where the kubeconfig, the CA file and the logs go (default: a new temporary directory).
	Dir string
	// Emulator configures the Graph emulator.
	Emulator graphtest.Options
}

// Env is a running local control plane and Graph emulator.
type Env struct {
	// Root is the repository's root.
	Root string
	// Dir holds the kubeconfig, the emulator's CA and the operator logs.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig for the control plane.
	Kubeconfig string
	// CAFile is the path of the emulator's CA certificate (PEM).
	CAFile string
	// Config is the admin's REST config, without a client-side rate limit.
	Config *rest.Config
	// Client is an uncached client with the operator's scheme.
	Client client.Client
	// Emulator is the Graph emulator.
	Emulator *graphtest.Server

	controlPlane *envtest.Environment
	ownDir       bool // Dir was made by Start, and Stop removes it
}

// UseBuilt checks that `make build` has built the operator under root (bin/manager, which the
// tests and the benchmark run as a process of their own) and then does UseBuiltControlPlane.
func UseBuilt(root string) error {
	manager := filepath.Join(root, "bin", "manager")
	if _, err := os.Stat(manager); err != nil {
		return fmt.Errorf("%s is missing: run make build (the tests run the operator's built binary)", manager)
	}
	return UseBuiltControlPlane(root)
}

// UseBuiltControlPlane points KUBEBUILDER_ASSETS, when it is unset, at the control plane `make
// envtest` built under root (bin/k8s), for envtest and everything else that reads it: a suite that
// starts a control plane of its own but no operator needs this and not bin/manager.
func UseBuiltControlPlane(root string) error {
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return nil
	}
	assets, err := filepath.Abs(controlPlaneAssets(root))
	if err != nil {
		return err
	}
	return os.Setenv("KUBEBUILDER_ASSETS", assets)
}

// controlPlaneAssets is the directory of kube-apiserver, etcd and kubectl: KUBEBUILDER_ASSETS, or
// where `make envtest` builds them under root.
func controlPlaneAssets(root string) string {
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		return assets
	}
	return filepath.Join(root, "bin", "k8s")
}

// Start starts the control plane (with the CRDs) and the emulator.
func Start(opts Options) (_ *Env, err error) {
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	dir, ownDir := opts.Dir, false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "overview-operator-"); err != nil {
			return nil, err
		}
		ownDir = true
	}
	e := &Env{Root: root, Dir: dir, ownDir: ownDir}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	assets := controlPlaneAssets(root)
	e.controlPlane = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	if _, err := e.controlPlane.Start(); err != nil {
		return nil, fmt.Errorf("start the control plane from %s (run `make envtest`): %w", assets, err)
	}
	admin, err := e.controlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	e.Config = admin.Config()
	// No client-side rate limit (client-go's default is 5 requests a second): the tests and the
	// benchmark create and change resources by the hundred, and the API server has its own fairness.
	e.Config.QPS = -1
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: scheme.New()}); err != nil {
		return nil, err
	}

	if e.Emulator, err = graphtest.NewServer(opts.Emulator); err != nil {
		return nil, fmt.Errorf("start the Graph emulator: %w", err)
	}
	e.CAFile = filepath.Join(dir, "graph-ca.pem")
	if err := os.WriteFile(e.CAFile, e.Emulator.CACertPEM(), 0o644); err != nil {
		return nil, err
	}
	return e, nil
}

// Stop stops the emulator and the control plane, and removes Dir if Start made it. Stop the
// operators first.
func (e *Env) Stop() {
	if e.Emulator != nil {
		e.Emulator.Close()
	}
	if e.controlPlane != nil {
		_ = e.controlPlane.Stop()
	}
	if e.ownDir {
		_ = os.RemoveAll(e.Dir)
	}
}

// Kubectl is the control plane's kubectl (the one `make envtest` built, in KUBEBUILDER_ASSETS or
// bin/k8s) as the admin, run from the repository's root.
func (e *Env) Kubectl() kubectl.Runner {
	return kubectl.Runner{Path: filepath.Join(controlPlaneAssets(e.Root), "kubectl"), Flags: []string{"--kubeconfig", e.Kubeconfig}, Dir: e.Root}
}

// Operator is the operator's binary running as a process of its own.
type Operator struct {
	// Log is the path of its log file.
	Log string
	// MetricsAddr and ProbeAddr are where it serves metrics and probes ("" when off).
	MetricsAddr, ProbeAddr string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has ended
	err  error         // the process's exit error, set before done is closed
}

// StartOperator starts bin/manager against the control plane with extra flags (the admin
// kubeconfig, free loopback ports for metrics and probes, and leave to use the emulator's host and
// CA, unless the flags set them). It returns once the process is started.
func (e *Env) StartOperator(name string, flags ...string) (*Operator, error) {
	return e.StartOperatorWithEnv(name, nil, flags...)
}

// StartOperatorWithEnv is StartOperator with extra environment variables ("KEY=value").
func (e *Env) StartOperatorWithEnv(name string, environ []string, flags ...string) (*Operator, error) {
	o := &Operator{Log: filepath.Join(e.Dir, name+".log"), done: make(chan struct{})}
	var args []string
	if !hasFlag(flags, "--kubeconfig") {
		args = append(args, "--kubeconfig", e.Kubeconfig)
	}
	if !hasFlag(flags, "--metrics-bind-address") {
		o.MetricsAddr = freeAddr()
		args = append(args, "--metrics-bind-address", o.MetricsAddr)
	}
	if !hasFlag(flags, "--health-probe-bind-address") {
		o.ProbeAddr = freeAddr()
		args = append(args, "--health-probe-bind-address", o.ProbeAddr)
	}
	// The emulator listens on the loopback, with a CA of its own: hosts and a caBundle that the
	// operator refuses by default.
	if !hasFlag(flags, "--allowed-endpoint-hosts") {
		args = append(args, "--allowed-endpoint-hosts=127.0.0.1,localhost")
	}
	if !hasFlag(flags, "--allow-namespaced-ca-bundle") {
		args = append(args, "--allow-namespaced-ca-bundle")
	}
	args = append(args, flags...)

	logFile, err := os.Create(o.Log)
	if err != nil {
		return nil, err
	}
	o.cmd = exec.Command(filepath.Join(e.Root, "bin", "manager"), args...)
	o.cmd.Stdout, o.cmd.Stderr = logFile, logFile
	o.cmd.Env = append(append(os.Environ(), "GOMAXPROCS=2"), environ...)
	if err := o.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start bin/manager (run `make build`): %w", err)
	}
	go func() {
		o.err = o.cmd.Wait()
		logFile.Close()
		close(o.done)
	}()
	return o, nil
}

// PID is the operator's process id.
func (o *Operator) PID() int { return o.cmd.Process.Pid }

// Done is closed when the process has ended; Err then returns its exit error. Any number of
// callers may wait on it, before or after Stop or Kill.
func (o *Operator) Done() <-chan struct{} { return o.done }

// Err is the process's exit error once Done is closed (nil for a clean exit), and nil before.
func (o *Operator) Err() error {
	select {
	case <-o.done:
		return o.err
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits up to timeout for the process to end; it kills it after that.
// It returns how long the shutdown took and the process's exit error.
func (o *Operator) Stop(timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := o.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 0, err
	}
	select {
	case <-o.done:
		return time.Since(start), o.err
	case <-time.After(timeout):
		_ = o.cmd.Process.Kill()
		<-o.done
		return time.Since(start), fmt.Errorf("the operator did not stop within %v after SIGTERM", timeout)
	}
}

// Kill ends the process at once, as a crash or a lost node would.
func (o *Operator) Kill() {
	_ = o.cmd.Process.Kill()
	<-o.done
}

// Tail returns the last lines of the operator's log, for error messages.
func (o *Operator) Tail(lines int) string {
	f, err := os.Open(o.Log)
	if err != nil {
		return ""
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

func hasFlag(flags []string, name string) bool {
	for _, f := range flags {
		if f == name || strings.HasPrefix(f, name+"=") {
			return true
		}
	}
	return false
}

// freeAddr returns a loopback address with a port that was free a moment ago, for a process that
// binds it a moment later. The port is below the kernel's range of ephemeral ports: a port of that
// range (the one a listener on port 0 gets) may be taken in between by any outgoing connection on
// the machine, and the process then fails with "bind: address already in use"; one below it only by
// another listener that chose the same port at the same time.
func freeAddr() string {
	low := ephemeralPortsLow()
	first := max(1024, low-20000)
	for range 100 {
		port := first + rand.IntN(low-first)
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			_ = l.Close()
			return l.Addr().String()
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// ephemeralPortsLow is the first port of the kernel's range of ephemeral ports (Linux's
// ip_local_port_range), or Linux's default where it cannot be read.
func ephemeralPortsLow() int {
	const linuxDefault = 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return linuxDefault
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return linuxDefault
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 1024 {
		return linuxDefault
	}
	return low
}
