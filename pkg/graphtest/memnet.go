package graphtest

import (
	"context"
	"fmt"
	"net"
	"sync"
)

// inMemoryAddr is the address the emulator claims on an in-memory network (Options.InMemory): the
// loopback address its certificate covers, on HTTPS's port.
var inMemoryAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}

// memoryListener is a net.Listener whose connections are net.Pipe's, handed over by dial. A
// goroutine blocked in Accept, or on either end of a connection, waits on channels alone, so that
// a testing/synctest bubble counts it as durably blocked and its clock can move; a loopback socket
// would hold the bubble's clock still.
type memoryListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newMemoryListener() *memoryListener {
	return &memoryListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *memoryListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *memoryListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *memoryListener) Addr() net.Addr { return inMemoryAddr }

// dial connects to the listener: the server's end of a new pipe is accepted, the client's
// returned.
func (l *memoryListener) dial(ctx context.Context) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
	case <-ctx.Done():
		_ = server.Close()
		_ = client.Close()
		return nil, ctx.Err()
	}
	_ = server.Close()
	_ = client.Close()
	return nil, fmt.Errorf("graphtest: dial %s: %w", inMemoryAddr, net.ErrClosed)
}

// DialContext opens a connection to the emulator on its in-memory network (Options.InMemory), as a
// net.Dialer's DialContext would over TCP: give it to the client's transport. It refuses any other
// address, and a server on a real port.
func (s *Server) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ln, ok := s.listener.(*memoryListener)
	if !ok {
		return nil, fmt.Errorf("graphtest: DialContext needs a server with Options.InMemory; this one listens on %s", s.listener.Addr())
	}
	if addr != inMemoryAddr.String() {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("graphtest: only %s is on the in-memory network, not %s", inMemoryAddr, addr)}
	}
	return ln.dial(ctx)
}
