package testutil

import (
	"io"
	"net"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	"k8s.io/client-go/tools/clientcmd"
)

// APIServerCut is a TCP proxy in front of the control plane's API server that a test can cut, as a
// network partition or a restarting API server would, for the operators that reach the API server
// through it (its Kubeconfig) and no one else.
type APIServerCut struct {
	// Kubeconfig is an admin kubeconfig whose server is the proxy.
	Kubeconfig string

	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// NewAPIServerCut starts a proxy in front of the API server at host (a URL, as rest.Config's Host),
// with a copy of kubeconfig that names the proxy in dir; the end of the node that calls it (a test,
// or an Ordered container's BeforeAll) stops it.
func NewAPIServerCut(host, kubeconfig, dir string) *APIServerCut {
	ginkgo.GinkgoHelper()
	u, err := url.Parse(host)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	p := &APIServerCut{ln: ln, target: u.Host, conns: map[net.Conn]struct{}{}}
	ginkgo.DeferCleanup(p.close)

	// The API server's certificate names 127.0.0.1, which is the proxy's address too.
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	gomega.Expect(err).NotTo(gomega.HaveOccurred())
	for _, c := range cfg.Clusters {
		c.Server = "https://" + ln.Addr().String()
	}
	p.Kubeconfig = filepath.Join(dir, "kubeconfig-through-proxy")
	gomega.Expect(clientcmd.WriteToFile(*cfg, p.Kubeconfig)).To(gomega.Succeed())

	go p.serve()
	return p
}

// Cut drops every connection through the proxy, and every new one until Restore.
func (p *APIServerCut) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Restore lets connections through again.
func (p *APIServerCut) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *APIServerCut) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		go p.forward(in)
	}
}

func (p *APIServerCut) forward(in net.Conn) {
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
func (p *APIServerCut) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *APIServerCut) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *APIServerCut) close() {
	_ = p.ln.Close()
	p.Cut()
}
