package graphtest

import (
	"slices"
	"time"
)

// Kinds of requests in the log.
const (
	// KindGraph is a call of the Graph API.
	KindGraph = "graph"
	// KindToken is a call of the token endpoint.
	KindToken = "token"
	// KindMetadata is a read of the OpenID configuration or the signing keys, which MSAL makes
	// once per authority before its first token request.
	KindMetadata = "metadata"
)

// HeaderReplica is the header in which each replica of an operator that shares its work (the
// operator's --sharding) names itself on every Graph request; the log keeps it as Request.Replica.
// It is the operator's graph.HeaderReplica.
const HeaderReplica = "X-Overview-Operator-Replica"

// Request is one entry of the request log. Graph, token and metadata requests are all logged;
// Kind tells them apart.
type Request struct {
	// Time is when the request arrived (the emulator's clock).
	Time time.Time
	// Kind is KindGraph, KindToken or KindMetadata.
	Kind   string
	Method string
	Path   string
	// APIVersion is "v1.0" or "beta" for Graph requests.
	APIVersion string
	// TenantID is the tenant of a Graph call (the token's tid) or of a token request (its path).
	TenantID string
	// ClientID is the app of a Graph call (the token's appid) or of a token request (client_id).
	ClientID        string
	ConfigurationID string
	// Entity is the overview a Graph call named (UserStatusOverview or DeviceStatusOverview); ""
	// for the list and for token and metadata requests.
	Entity string
	// Status is the status answered; 0 when the connection was dropped without an answer (a fault,
	// or a client that went away during injected latency).
	Status int
	// Body is the request body of a Graph call that has one (PATCH), decompressed when it came
	// with Content-Encoding: gzip (or as sent, when it did not decompress). Token requests' bodies
	// are not kept, since they hold secrets.
	Body []byte
	// ContentEncoding is the Content-Encoding header the client sent with the body, such as "gzip".
	ContentEncoding string
	// RequestID is the request-id the emulator answered with.
	RequestID string
	// ClientRequestID is the client-request-id the client sent.
	ClientRequestID string
	// Replica is the HeaderReplica header the client sent ("" without one): which replica of a
	// sharded operator sent the request, so that a test can tell the replicas' requests apart.
	Replica string
	// Held is what Graph held when it answered a Graph call on an existing overview (Entity's) with 2xx: the
	// values a GET returned, or after a PATCH the values kept (for a discarded PATCH, the old ones).
	// It is nil for every other answer. Tests use it to check what a client could have seen.
	Held *Overview
	// Discarded is true for a PATCH that a DiscardPatch fault answered with success but did not keep.
	Discarded bool
	// Throttled is true when the emulator's throttling refused the request (429). A 429 from an
	// injected fault is not marked.
	Throttled bool
}

// record appends a finished request to the log, in the order the answers were sent. The log is
// append-only between resets, and trimming copies, so a snapshot taken under the lock stays valid
// after it is released.
func (s *Server) record(r Request) {
	s.mu.Lock()
	s.log = append(s.log, r)
	if limit := s.opts.MaxRequests; limit > 0 && len(s.log) > limit {
		// Keep the newest half at once, so that trimming costs O(1) per request on average.
		s.log = slices.Clone(s.log[len(s.log)-(limit+1)/2:])
	}
	s.mu.Unlock()
	if s.opts.OnRequest != nil {
		s.opts.OnRequest(r)
	}
}

func (s *Server) snapshot() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	log := s.snapshot()
	out := make([]Request, len(log))
	for i, r := range log {
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// CountRequests returns how many logged requests match (all of them when match is nil). match is
// called without the server's lock held, so it may call the server.
func (s *Server) CountRequests(match func(Request) bool) int {
	log := s.snapshot()
	if match == nil {
		return len(log)
	}
	n := 0
	for _, r := range log {
		if match(r) {
			n++
		}
	}
	return n
}

// ResetRequests empties the request log. It does not reset throttling or faults.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}
