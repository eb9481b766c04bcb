package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/go-logr/logr"
	"github.com/google/uuid"

	"github.com/overview-operator/overview-operator/internal/pacer"
)

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
func newHTTPClient(roots *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
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

// clientRequestIDPolicy sets Graph's client-request-id to a fresh GUID on
// every try (azcore's request-id policy sets x-ms-client-request-id, which
// Graph does not echo).
func clientRequestIDPolicy(req *policy.Request) (*http.Response, error) {
	req.Raw().Header.Set(headerClientRequestID, uuid.NewString())
	return req.Next()
}

// observePolicy counts and logs every try that reached the network. It logs
// no header at all, so never the Authorization header.
type observePolicy struct {
	logger logr.Logger
	tenant string
}

// Do implements policy.Policy.
func (p observePolicy) Do(req *policy.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := req.Next()
	elapsed := time.Since(start)
	method := req.Raw().Method
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	requestsTotal.WithLabelValues(method, code).Inc()
	requestDuration.WithLabelValues(method).Observe(elapsed.Seconds())

	log := loggerFor(req.Raw().Context(), p.logger).V(1)
	if log.Enabled() {
		kv := []any{"tenant", p.tenant, "method", method, "path", req.Raw().URL.Path,
			"clientRequestID", req.Raw().Header.Get(headerClientRequestID), "duration", elapsed}
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
	return resp, err
}

// loggerFor returns the logger of ctx if it has one (it carries the resource
// being reconciled), else base.
func loggerFor(ctx context.Context, base logr.Logger) logr.Logger {
	if l, err := logr.FromContext(ctx); err == nil {
		return l
	}
	return base
}

// newPipeline assembles the client's azcore pipeline: the client-request-id and the observation
// of the try (the caller sets the Authorization header, from its bearer). It sends each request
// once: azcore's retry policy is switched off, since a retry would spend budget the pacer did not
// grant and hold the job's goroutine; the caller tries again later instead.
func newPipeline(observe observePolicy, transport policy.Transporter) runtime.Pipeline {
	return runtime.NewPipeline("overview-operator-graph", "v1", runtime.PipelineOptions{
		PerRetry: []policy.Policy{
			policyFunc(clientRequestIDPolicy),
			observe,
		},
	}, &policy.ClientOptions{
		Retry:     policy.RetryOptions{MaxRetries: -1, ShouldRetry: func(*http.Response, error) bool { return false }},
		Transport: transport,
	})
}

// policyFunc adapts a function to policy.Policy.
type policyFunc func(*policy.Request) (*http.Response, error)

// Do implements policy.Policy.
func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }
