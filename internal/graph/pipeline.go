package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/go-logr/logr"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

// HeaderReplica names the replica that sent a request (Options.Replica).
const HeaderReplica = "X-Overview-Operator-Replica"

// Graph's headers.
const (
	headerClientRequestID = "client-request-id"
	headerRequestID       = "request-id"
	headerRetryAfter      = "Retry-After"
)

// maxBodySize bounds the response bodies the client reads: an overview is a
// few hundred bytes and an error body a few kilobytes.
const maxBodySize = 1 << 20

// newHTTPClient returns the HTTP client of one connection, for Graph and the
// login endpoint both: TLS 1.2 or newer, trusting roots (nil: the system's),
// following no redirect (guardedTransport refuses them).
// Graph speaks HTTP/2, where one connection carries every call. Over HTTP/1.1
// (a proxy without HTTP/2), each call in flight holds a connection of its
// own: as many stay open between two windows as the tenant's pacer may run at
// once, so that the next window's burst finds them instead of paying a TLS
// handshake per call.
func newHTTPClient(roots *x509.CertPool, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if dial != nil {
		tr.DialContext = dial
	}
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	tr.ForceAttemptHTTP2 = true
	tr.MaxIdleConnsPerHost = pacer.MaxTenantInFlight
	tr.MaxIdleConns = 0          // no limit across hosts: each host has its own
	tr.ResponseHeaderTimeout = 0 // each try has its own deadline
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

// limitedBody reads a response body up to left bytes: past it, reading fails with errBodyTooLarge.
// It wraps the body after the transport decompressed it, so that a small compressed body cannot
// grow past the bound.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	host string // who answered, for the error
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var probe [1]byte
		n, err := b.rc.Read(probe[:])
		if n > 0 {
			return 0, &bodyTooLargeError{host: b.host}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// bodyTooLargeError is an answer body over maxBodySize, from host.
type bodyTooLargeError struct{ host string }

func (e *bodyTooLargeError) Error() string {
	return fmt.Sprintf("the answer of host %q is larger than %d bytes", e.host, maxBodySize)
}
func (e *bodyTooLargeError) Unwrap() error { return errBodyTooLarge }

// userAgent is the User-Agent of every request to Graph, which Microsoft asks
// of callers so that it can tell them apart.
const userAgent = "overview-operator"

// send sends one try through the guarded transport and reads its whole body
// (up to maxBodySize) before it returns, so that the caller can parse it after
// the try's context ends; a body that cannot be read is the try's error. The
// try is counted and logged (observe).
func (c *client) send(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := c.transport.Do(req)
	if err == nil {
		_, err = runtime.Payload(resp)
		if err == nil {
			// A body that ends as the try's deadline passes may have been cut by it (the transport
			// closed the connection, and the server's end of it finished the body): it is no answer.
			err = req.Context().Err()
		}
		if err != nil {
			_ = resp.Body.Close()
		}
	}
	c.observe(req, time.Since(start), resp, err)
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// observe counts and logs one try that reached the network (resp or err). It
// logs no header at all, so never the Authorization header.
func (c *client) observe(req *http.Request, elapsed time.Duration, resp *http.Response, err error) {
	method := req.Method
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	requestsTotal.WithLabelValues(method, code).Inc()
	requestDuration.WithLabelValues(method).Observe(elapsed.Seconds())

	log := loggerFor(req.Context(), c.logger).V(1)
	if log.Enabled() {
		kv := []any{"tenant", c.tenant, "method", method, "path", req.URL.Path,
			"clientRequestID", req.Header.Get(headerClientRequestID), "duration", elapsed}
		switch {
		case resp != nil:
			kv = append(kv, "status", resp.StatusCode, "requestID", resp.Header.Get(headerRequestID))
			if err != nil {
				kv = append(kv, "error", err.Error())
			}
			log.Info("Graph request", kv...)
		default:
			log.Info("Graph request failed", append(kv, "error", err.Error())...)
		}
	}
}

// loggerFor returns the logger of ctx if it has one (it carries the resource
// being reconciled), else base.
func loggerFor(ctx context.Context, base logr.Logger) logr.Logger {
	if l, err := logr.FromContext(ctx); err == nil {
		return l
	}
	return base
}
