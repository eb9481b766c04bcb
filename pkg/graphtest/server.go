package graphtest

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configure a Server. The zero value is a server on a free loopback port with Intune's
// throttling limits.
type Options struct {
	// Limits are the throttling limits; the zero value means IntuneLimits(), and a zero field takes
	// Intune's value for that field.
	Limits Limits
	// ThrottlingDisabled turns throttling off.
	ThrottlingDisabled bool
	// TimeScale > 1 shortens the throttling window to Limits.Window/TimeScale, so that the allowed
	// rates scale up by the same factor and a test waits less. Default 1.
	TimeScale float64
	// FractionalRetryAfter makes a 429's Retry-After carry milliseconds, like "2.128", instead of a
	// whole number of seconds (rounded up).
	FractionalRetryAfter bool
	// TokenLifetime is the lifetime of access tokens; default one hour.
	TokenLifetime time.Duration
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// InMemory serves on an in-memory network instead of a TCP port (Addr is then unused): the
	// server's URL is https://127.0.0.1:443, reached only through Server.DialContext (Client
	// uses it). A test that runs the emulator and its client in a testing/synctest bubble needs
	// it: a goroutine blocked on a socket keeps the bubble's clock from moving, so that a window
	// of Graph's throttling then passes in no time.
	InMemory bool
	// MaxRequests bounds the request log to about this many newest entries; 0 keeps every entry.
	// A long-running emulator (hack/graphsim) sets it so that its memory stays flat.
	MaxRequests int
	// PageSize is how many device configurations a page of the list holds at most; a client's
	// $top can lower it. Default DefaultPageSize.
	PageSize int
	// OnRequest, if set, is called with every entry as it is added to the request log, from the
	// request's goroutine. hack/graphsim prints them.
	OnRequest func(Request)
	// HTTP2 serves HTTP/2 as well as HTTP/1.1, as Graph does: a client then carries all its calls
	// on one connection instead of a TLS handshake per call in flight. A DropConnection fault then
	// resets the call's stream rather than closing the connection. Off by default: the fault
	// tests drop TCP connections.
	HTTP2 bool
}

// Server is the emulator: one HTTPS server that is both the Entra ID authority host and the Graph
// endpoint. All its methods are safe for concurrent use.
type Server struct {
	opts     Options
	url      string
	certs    *certificates
	listener net.Listener
	http     *http.Server
	closed   chan struct{}
	done     chan struct{}
	started  time.Time // the zero of the throttling clock; time.Since uses the monotonic clock

	tokenKey      signingKey // signs access tokens
	federationKey signingKey // signs federated (service account) tokens
	approvals     approvals  // Multi Admin Approval (approval.go); guarded by mu

	mu             sync.Mutex // guards everything below
	apps           map[appKey]App
	tenants        map[string]bool // lower case; a tenant exists once it has an app or a seeded configuration
	configurations map[configurationKey]*deviceConfiguration
	faults         []*activeFault
	audit          map[string][]AuditEvent
	throttle       *throttle // nil when disabled
	log            []Request
	tokens         map[string]*accessClaims // verified access tokens
	closeOnce      sync.Once
}

// NewServer starts a TLS server with its own CA. It is ready to serve when NewServer returns.
func NewServer(opts Options) (*Server, error) {
	if opts.TimeScale == 0 {
		opts.TimeScale = 1
	}
	if opts.TimeScale < 0 || math.IsNaN(opts.TimeScale) || math.IsInf(opts.TimeScale, 0) {
		return nil, fmt.Errorf("graphtest: TimeScale must be a positive number, not %v", opts.TimeScale)
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.Limits = opts.Limits.withDefaults()

	certs, err := newCertificates()
	if err != nil {
		return nil, fmt.Errorf("graphtest: %w", err)
	}
	tokenKey, err := newSigningKey()
	if err != nil {
		return nil, fmt.Errorf("graphtest: %w", err)
	}
	federationKey, err := newSigningKey()
	if err != nil {
		return nil, fmt.Errorf("graphtest: %w", err)
	}
	var ln net.Listener
	if opts.InMemory {
		ln = newMemoryListener()
	} else if ln, err = net.Listen("tcp", opts.Addr); err != nil {
		return nil, fmt.Errorf("graphtest: %w", err)
	}

	s := &Server{
		opts:           opts,
		url:            "https://" + dialableAddr(ln.Addr().(*net.TCPAddr)),
		certs:          certs,
		listener:       ln,
		closed:         make(chan struct{}),
		done:           make(chan struct{}),
		started:        time.Now(),
		tokenKey:       tokenKey,
		federationKey:  federationKey,
		apps:           map[appKey]App{},
		tenants:        map[string]bool{},
		configurations: map[configurationKey]*deviceConfiguration{},
		tokens:         map[string]*accessClaims{},
	}
	if !opts.ThrottlingDisabled {
		s.throttle = newThrottle(opts.Limits, opts.TimeScale)
	}

	// HTTP/1.1 only unless asked: a dropped-connection fault must close a TCP connection, which
	// HTTP/2's multiplexing would turn into resetting one stream.
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	nextProtos := []string{"http/1.1"}
	if opts.HTTP2 {
		protocols.SetHTTP2(true)
		nextProtos = []string{"h2", "http/1.1"}
	}
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		Protocols:         &protocols,
		// Clients that do not trust the CA make the server log TLS handshake errors; they are the
		// test's business, not noise for its output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	tlsConfig := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{certs.server},
		NextProtos:   nextProtos,
	}
	go func() {
		defer close(s.done)
		_ = s.http.Serve(tls.NewListener(ln, tlsConfig))
	}()
	return s, nil
}

// dialableAddr turns a listen address into one a client can dial and the server certificate
// covers: an unspecified address (":8443", "0.0.0.0") is reached through loopback.
func dialableAddr(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}

// URL returns the server's base URL, like "https://127.0.0.1:PORT". It is both the Graph endpoint
// and the authority host, and the token scope is URL()+"/.default".
func (s *Server) URL() string { return s.url }

// CACertPEM returns the PEM of the CA that signed the server certificate, which clients must trust.
func (s *Server) CACertPEM() []byte { return append([]byte(nil), s.certs.caPEM...) }

// Client returns a new HTTP client that trusts the server's CA (and dials its in-memory network,
// with Options.InMemory).
func (s *Server) Client() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: s.certs.caPool, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 16,
	}
	if s.opts.InMemory {
		tr.DialContext = s.DialContext
	}
	return &http.Client{
		Transport: tr,
		Timeout:   time.Minute,
	}
}

// Close stops the server at once, closing all connections, and waits for it to stop.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.http.Close()
		<-s.done
	})
}

// serveHTTP routes a request to the Entra ID or Graph part and logs it.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Time:            time.Now(),
		Method:          r.Method,
		Path:            r.URL.Path,
		RequestID:       newGUID(),
		ClientRequestID: r.Header.Get("client-request-id"),
		Replica:         r.Header.Get(HeaderReplica),
	}
	defer func() {
		// A dropped connection is logged before it is closed: a client that sees it closed finds
		// it in the log.
		drop := rec.Status == statusDropped
		if drop {
			rec.Status = 0
		}
		s.record(rec)
		if drop {
			dropConnection(w)
		}
	}()

	h := w.Header()
	h.Set("request-id", rec.RequestID)
	// Graph answers with its request-id as client-request-id when the client sent none.
	h.Set("client-request-id", rec.ClientRequestID)
	if rec.ClientRequestID == "" {
		h.Set("client-request-id", rec.RequestID)
	}
	h.Set("Strict-Transport-Security", "max-age=31536000")

	if route, ok := parseGraphPath(r.URL.Path); ok {
		h.Set("x-ms-ags-diagnostic", `{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"graphtest"}}`)
		h.Set("OData-Version", "4.0")
		rec.Status = s.serveGraph(w, r, route, &rec)
		return
	}

	h.Set("x-ms-request-id", rec.RequestID)
	segs := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	tenant := segs[0]
	rest := strings.ToLower(strings.Join(segs[1:], "/"))
	switch {
	case tenant != "" && rest == "v2.0/.well-known/openid-configuration":
		rec.Kind, rec.TenantID = KindMetadata, tenant
		rec.Status = s.serveOpenIDConfiguration(w, r, tenant)
	case tenant != "" && rest == "discovery/v2.0/keys":
		rec.Kind, rec.TenantID = KindMetadata, tenant
		rec.Status = s.serveKeys(w)
	case tenant != "" && rest == "oauth2/v2.0/token":
		rec.Kind, rec.TenantID = KindToken, tenant
		rec.Status = s.serveToken(w, r, tenant, &rec)
	default:
		rec.Kind = KindGraph
		rec.Status = writeGraphError(w, http.StatusNotFound, "ResourceNotFound",
			"This emulator serves /{v1.0|beta}/deviceManagement/deviceConfigurations, .../deviceConfigurations/{id}/userStatusOverview and .../deviceStatusOverview, and Entra ID's /{tenant}/v2.0/.well-known/openid-configuration and /{tenant}/oauth2/v2.0/token.")
	}
}

func newGUID() string { return uuid.NewString() }
