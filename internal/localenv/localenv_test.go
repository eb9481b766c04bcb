package localenv

import (
	"net"
	"strconv"
	"testing"
)

// TestFreeAddr: the port is on the loopback, free, and outside the ephemeral ports that any
// outgoing connection may take before the operator binds it.
func TestFreeAddr(t *testing.T) {
	low := ephemeralPortsLow()
	for range 20 {
		addr := freeAddr()
		host, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		port, _ := strconv.Atoi(p)
		if host != "127.0.0.1" || port < 1024 || port >= low {
			t.Fatalf("freeAddr() = %s, want 127.0.0.1 and a port in [1024, %d)", addr, low)
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is not free: %v", addr, err)
		}
		_ = l.Close()
	}
}
