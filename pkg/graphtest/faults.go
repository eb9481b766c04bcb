package graphtest

import (
	"net/http"
	"strings"
	"time"
)

// Fault is a misbehaviour that the emulator plays on matching Graph requests (never on token
// requests), so that tests can see how a client copes, deterministically.
//
// Faults apply after the bearer check and the throttling check (a refused or throttled request
// does not use one up) and before everything else. For each request the first injected fault that
// matches and has uses left applies, and only that one. Status, DropConnection and MalformedBody
// answer in place of the service: the request changes nothing. NoContent and DiscardPatch change
// how a PATCH is handled, so a fault that sets only those (and maybe Latency) matches PATCH
// requests only.
//
// Note on DropConnection: Go's http.Transport may resend an idempotent request (a GET) on a new
// connection when a reused connection closes without an answer, so a test that must see a GET fail
// lets the fault apply more than once (Times >= 2, or 0 and ClearFaults).
type Fault struct {
	// Method is "GET" or "PATCH"; "" matches both.
	Method string
	// TenantID restricts the fault to one tenant; "" matches any.
	TenantID string
	// ConfigurationID restricts the fault to one device configuration; "" matches any.
	ConfigurationID string
	// Times is how many matching requests the fault applies to; 0 means until ClearFaults.
	Times int
	// Latency is added before answering (the answer is abandoned if the client goes away first).
	Latency time.Duration
	// Status, if non-zero, is answered with Graph's error body, carrying Code (or the usual code for
	// the status) and Message (or a default).
	Status  int
	Code    string
	Message string
	// RetryAfter is a raw Retry-After header value for a Status answer, e.g. "2.128".
	RetryAfter string
	// DropConnection closes the TCP connection without an answer.
	DropConnection bool
	// MalformedBody answers 200 with a body that is not valid JSON.
	MalformedBody bool
	// NoContent makes a PATCH apply and answer 204 with no body.
	NoContent bool
	// DiscardPatch makes a PATCH answer 200 with the request's values but not keep them.
	DiscardPatch bool
}

// answers reports whether the fault replaces the service's answer.
func (f Fault) answers() bool {
	return f.Status != 0 || f.DropConnection || f.MalformedBody
}

func (f Fault) matches(method, tenantID, configurationID string) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, method) {
		return false
	}
	if !f.answers() && (f.NoContent || f.DiscardPatch) && method != http.MethodPatch {
		return false
	}
	if f.TenantID != "" && !strings.EqualFold(f.TenantID, tenantID) {
		return false
	}
	return f.ConfigurationID == "" || strings.EqualFold(f.ConfigurationID, configurationID)
}

// activeFault is an injected fault and how many uses it has left (<0: unlimited).
type activeFault struct {
	Fault
	left int
}

// Inject adds a fault after those already injected.
func (s *Server) Inject(f Fault) {
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
func (s *Server) takeFault(method, tenantID, configurationID string) (f Fault, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, af := range s.faults {
		if !af.matches(method, tenantID, configurationID) {
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
