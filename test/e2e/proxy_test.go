package e2e

import (
	"io"
	"net"
	"net/url"
	"sync"

	"k8s.io/client-go/tools/clientcmd"
)

// tcpProxy forwards TCP connections from a loopback port to the API server, so that a test can take
// the API server away from an operator (Stop: the port refuses connections and open ones are cut)
// and bring it back (Start), while its own client keeps talking to the API server directly. TLS
// passes through untouched; the API server's certificate names 127.0.0.1, whatever the port.
type tcpProxy struct {
	target string // host:port of the API server
	addr   string // host:port the proxy listens on

	mu       sync.Mutex
	listener net.Listener // nil while stopped
	conns    map[net.Conn]struct{}
}

// startTCPProxy listens on a free loopback port and forwards to the API server at host (an URL).
func startTCPProxy(host string) (*tcpProxy, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, err
	}
	p := &tcpProxy{target: u.Host, conns: map[net.Conn]struct{}{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.addr = l.Addr().String()
	p.serve(l)
	return p, nil
}

// writeKubeconfig writes a copy of the kubeconfig at from to to, with every cluster's server
// pointed at the proxy.
func (p *tcpProxy) writeKubeconfig(from, to string) error {
	cfg, err := clientcmd.LoadFromFile(from)
	if err != nil {
		return err
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + p.addr
	}
	return clientcmd.WriteToFile(*cfg, to)
}

func (p *tcpProxy) serve(l net.Listener) {
	p.mu.Lock()
	p.listener = l
	p.mu.Unlock()
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go p.forward(in)
		}
	}()
}

func (p *tcpProxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	if p.listener == nil { // stopped while dialling
		p.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		dst.Close()
	}
	go pipe(out, in)
	go pipe(in, out)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// Stop closes the port and cuts every open connection.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener != nil {
		p.listener.Close()
		p.listener = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Start opens the port again, at the same address.
func (p *tcpProxy) Start() error {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.serve(l)
	return nil
}

// Close stops the proxy for good.
func (p *tcpProxy) Close() { p.Stop() }

