package graph

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// hostile is a TLS server on a loopback address that answers whatever a test wants: a Graph or a
// login endpoint that is broken, compromised or behind a hostile proxy. It records every request
// it is sent, with its body.
type hostile struct {
	*httptest.Server
	mu       sync.Mutex
	requests []hostileRequest
	handlers map[string]http.HandlerFunc // by path; "" answers every other path
}

type hostileRequest struct {
	method, path, body string
}

// newHostile starts a hostile server listening on addr ("127.0.0.1" stands for an allowed host,
// "[::1]" for one the policy does not allow). Every hostile server has httptest's certificate,
// which names both addresses, so one CA bundle (hostileCA) trusts them all.
func newHostile(t *testing.T, addr string) *hostile {
	t.Helper()
	h := &hostile{handlers: map[string]http.HandlerFunc{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(h.serve))
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	_ = srv.Listener.Close()
	srv.Listener = l
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h.Server = srv
	return h
}

func (h *hostile) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	h.mu.Lock()
	h.requests = append(h.requests, hostileRequest{method: r.Method, path: r.URL.Path, body: string(body)})
	handler, ok := h.handlers[r.URL.Path]
	if !ok {
		handler = h.handlers[""]
	}
	h.mu.Unlock()
	if handler == nil {
		http.NotFound(w, r)
		return
	}
	handler(w, r)
}

// handle answers path with f.
func (h *hostile) handle(path string, f http.HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handlers[path] = f
}

// seen returns the requests the server was sent.
func (h *hostile) seen() []hostileRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hostileRequest(nil), h.requests...)
}

// hostileCA is the PEM of the certificate every hostile server presents.
func hostileCA(h *hostile) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h.Certificate().Raw})
}

// The paths of a login endpoint for testTenant.
const (
	openIDPath = "/" + testTenant + "/v2.0/.well-known/openid-configuration"
	tokenPath  = "/" + testTenant + "/oauth2/v2.0/token"
)

// serveOpenID answers the OpenID configuration with a token endpoint at tokenURL; the rest of the
// document names h, as MSAL requires of the issuer.
func (h *hostile) serveOpenID(tokenURL string) {
	h.handle(openIDPath, func(w http.ResponseWriter, r *http.Request) {
		base := h.URL + "/" + testTenant
		writeTestJSON(w, map[string]any{
			"issuer":                 base + "/v2.0",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         tokenURL,
		})
	})
}

// serveToken answers token requests at tokenPath with body.
func (h *hostile) serveToken(body map[string]any) {
	h.handle(tokenPath, func(w http.ResponseWriter, r *http.Request) { writeTestJSON(w, body) })
}

// aToken is a token response as Entra ID gives it.
func aToken() map[string]any {
	return map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "an-access-token"}
}

// redirectTo answers with status and a Location of target.
func redirectTo(status int, target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target)
		w.WriteHeader(status)
	}
}

func writeTestJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// hostileConfig is a connection to h as Graph and login endpoint both, with a client secret.
func hostileConfig(h *hostile) Config {
	return Config{
		Endpoint:      h.URL,
		AuthorityHost: h.URL,
		CABundle:      hostileCA(h),
		TenantID:      testTenant,
		ClientID:      testClient,
		Credential:    Credential{Kind: CredentialClientSecret, ClientSecret: testSecret},
	}
}

// allowOnly is a host policy of exactly hosts.
func allowOnly(hosts ...string) HostPolicy {
	return HostsFunc(func(h string) bool {
		for _, allowed := range hosts {
			if h == allowed {
				return true
			}
		}
		return false
	})
}
