package graphtest

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Fault is a misbehaviour that the emulator plays on matching requests, so that tests can see how
// a client copes, deterministically. A fault applies to Graph requests, or with Token set to
// Entra ID's token endpoint instead; never to both.
//
// Faults on Graph apply after the bearer check and the throttling check (a refused or throttled
// request does not use one up) and before everything else. Faults on the token endpoint apply
// before it reads the request: a faulted token request issues no token. For each request the first
// injected fault that matches and has uses left applies, and only that one. Status,
// DropConnection, MalformedBody, HTMLPage, Body and Hang answer in place of the service: the request
// changes nothing. NoContent and DiscardPatch change how a PATCH is handled, so a fault that sets
// only those (and maybe Latency) matches Graph PATCH requests only.
//
// Note on DropConnection: Go's http.Transport may resend an idempotent request (a GET) on a new
// connection when a reused connection closes without an answer, so a test that must see a GET fail
// lets the fault apply more than once (Times >= 2, or 0 and ClearFaults).
type Fault struct {
	// Token makes the fault apply to token requests (POST /{tenant}/oauth2/v2.0/token) instead of
	// Graph requests, for TenantID's tenant (the tenant in the path) or every tenant. Method,
	// if set, must then be "POST"; ConfigurationID, NoContent and DiscardPatch do not apply.
	Token bool
	// Method is "GET" or "PATCH" ("POST" for a token fault); "" matches any.
	Method string
	// TenantID restricts the fault to one tenant; "" matches any.
	TenantID string
	// ConfigurationID restricts the fault to one device configuration; "" matches any.
	ConfigurationID string
	// Entity restricts the fault to one overview, UserStatusOverview or DeviceStatusOverview
	// (Inject panics on another name); "" matches both. A fault that names an Entity or a
	// ConfigurationID does not apply to the list of configurations.
	Entity string
	// Times is how many matching requests the fault applies to; 0 means until ClearFaults.
	Times int
	// Latency is added before answering (the answer is abandoned if the client goes away first).
	Latency time.Duration
	// Hang holds the request without an answer until the client gives up (its context ends or its
	// timeout passes) or the server closes: an answer slower than any client's timeout.
	Hang bool
	// Status, if non-zero, is answered with Graph's error body, carrying Code (or the usual code for
	// the status) and Message (or a default); on the token endpoint, with Entra ID's OAuth error
	// body (Code, e.g. "temporarily_unavailable", or "server_error"), and Message as its
	// error_description. With HTMLPage it is the status of the page.
	Status  int
	Code    string
	Message string
	// RetryAfter is a raw Retry-After header value for a Status answer, e.g. "2.128".
	RetryAfter string
	// ThrottleScope and ThrottleInformation are raw x-ms-throttle-scope and
	// x-ms-throttle-information header values for a Status answer, e.g.
	// "Application/ReadWrite/{appId}/{tenantId}" and "ResourceUnitLimitExceeded".
	ThrottleScope, ThrottleInformation string
	// DropConnection closes the TCP connection without an answer.
	DropConnection bool
	// MalformedBody answers 200 with a body that is not valid JSON (a truncated entity, or a
	// truncated token response).
	MalformedBody bool
	// HTMLPage answers with an HTML page (text/html) and status 200, or Status if set, as a captive
	// portal, a TLS-inspecting proxy or an outage page gives.
	HTMLPage bool
	// Body, if set, answers 200 (or Status, when it is a 2xx) with exactly this body, labelled
	// ContentType (default application/json): an answer that is well-formed on the wire but not
	// what was asked for (another configuration's overview, a negative count, a token response
	// without expires_in), as a broken gateway or a compromised host gives.
	Body        string
	ContentType string
	// NoContent makes a PATCH apply and answer 204 with no body.
	NoContent bool
	// DiscardPatch makes a PATCH answer 200 with the request's values but not keep them.
	DiscardPatch bool
}

// answers reports whether the fault replaces the service's answer.
func (f Fault) answers() bool {
	return f.Status != 0 || f.DropConnection || f.MalformedBody || f.HTMLPage || f.Hang || f.Body != ""
}

// writeBody answers with the fault's Body.
func writeBody(w http.ResponseWriter, f Fault) int {
	status, contentType := f.Status, f.ContentType
	if status < 200 || status > 299 {
		status = http.StatusOK
	}
	if contentType == "" {
		contentType = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, f.Body)
	return status
}

// matches reports whether the fault applies to a request; token is true for a token request,
// whose configurationID and segment are "", as they are for the list.
func (f Fault) matches(token bool, method, tenantID, configurationID, segment string) bool {
	if f.Token != token {
		return false
	}
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if !f.answers() && (f.NoContent || f.DiscardPatch) && (token || method != http.MethodPatch) {
		return false
	}
	if f.TenantID != "" && !strings.EqualFold(f.TenantID, tenantID) {
		return false
	}
	if f.Entity != "" && !strings.EqualFold(f.Entity, segment) {
		return false
	}
	return f.ConfigurationID == "" || strings.EqualFold(f.ConfigurationID, configurationID)
}

// activeFault is an injected fault and how many uses it has left (<0: unlimited).
type activeFault struct {
	Fault
	left int
}

// Inject adds a fault after those already injected. It panics when f.Entity names no overview the
// emulator serves: such a fault would never apply, and the test would pass for the wrong reason.
func (s *Server) Inject(f Fault) {
	if _, ok := entityOfSegment(f.Entity); f.Entity != "" && !ok {
		panic("graphtest: Fault.Entity " + f.Entity + " is not " + UserStatusOverview + " or " + DeviceStatusOverview)
	}
	left := f.Times
	if left <= 0 {
		left = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &activeFault{Fault: f, left: left})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault finds the fault for a request and uses it up once; ok is false if none matches.
func (s *Server) takeFault(token bool, method, tenantID, configurationID, segment string) (f Fault, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		if !af.matches(token, method, tenantID, configurationID, segment) {
			continue
		}
		if af.left > 0 {
			af.left--
			if af.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return af.Fault, true
	}
	return Fault{}, false
}

// statusDropped is what a handler returns for a request whose connection is to be dropped:
// serveHTTP logs it (with status 0) and then drops it.
const statusDropped = -1

// dropConnection closes the client's connection without an answer. Hijacking closes the TCP
// connection itself; where hijacking is not possible, aborting the handler makes net/http drop it.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// delay plays a fault's Latency and Hang. It reports false when the client went away or the server
// closed first: the request then gets no answer.
func (s *Server) delay(r *http.Request, f Fault) bool {
	var wait <-chan time.Time
	switch {
	case f.Hang:
		// no timer: only the client or Close ends the wait
	case f.Latency > 0:
		t := time.NewTimer(f.Latency)
		defer t.Stop()
		wait = t.C
	default:
		return true
	}
	select {
	case <-wait:
		return true
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

// htmlPage is what a captive portal or an outage page answers instead of the service.
const htmlPage = `<!DOCTYPE html>
<html><head><title>Service unavailable</title></head>
<body><h1>We'll be back soon</h1><p>This site is temporarily unavailable. Please try again later.</p></body></html>
`

// writeHTMLPage answers with htmlPage and status (200 if 0).
func writeHTMLPage(w http.ResponseWriter, status int) int {
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, htmlPage)
	return status
}
