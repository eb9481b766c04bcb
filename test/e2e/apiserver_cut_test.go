package e2e

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/overview-operator/overview-operator/internal/localenv"
)

// apiServerCut is a TCP proxy in front of the control plane's API server that a test can cut, as a
// network partition or a restarting API server would, for the operators that reach the API server
// through it (its Kubeconfig) and no one else.
type apiServerCut struct {
	// Kubeconfig is an admin kubeconfig whose server is the proxy.
	Kubeconfig string

	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// newAPIServerCut starts a proxy in front of the suite's control plane, which the test's end stops.
func newAPIServerCut() *apiServerCut {
	GinkgoHelper()
	return newAPIServerCutFor(env, GinkgoT().TempDir())
}

// newAPIServerCutFor starts a proxy in front of e's control plane, with its kubeconfig in dir; the
// end of the node that calls it (a test, or an Ordered container's BeforeAll) stops it.
func newAPIServerCutFor(e *localenv.Env, dir string) *apiServerCut {
	GinkgoHelper()
	u, err := url.Parse(e.Config.Host)
	Expect(err).NotTo(HaveOccurred())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	p := &apiServerCut{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	DeferCleanup(p.close)

	// The API server's certificate names 127.0.0.1, which is the proxy's address too.
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	for _, c := range cfg.Clusters {
		c.Server = "https://" + ln.Addr().String()
	}
	p.Kubeconfig = filepath.Join(dir, "kubeconfig-through-proxy")
	Expect(clientcmd.WriteToFile(*cfg, p.Kubeconfig)).To(Succeed())

	go p.serve()
	return p
}

// Cut drops every connection through the proxy, and every new one until Restore.
func (p *apiServerCut) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore lets connections through again.
func (p *apiServerCut) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *apiServerCut) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		go p.forward(in)
	}
}

func (p *apiServerCut) forward(in net.Conn) {
	if !p.track(in) {
		_ = in.Close()
		return
	}
	defer p.untrack(in)
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = in.Close()
		return
	}
	if !p.track(out) {
		_ = in.Close()
		_ = out.Close()
		return
	}
	defer p.untrack(out)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
}

// track registers a connection, unless the proxy is cut.
func (p *apiServerCut) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *apiServerCut) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *apiServerCut) close() {
	_ = p.ln.Close()
	p.Cut()
}
