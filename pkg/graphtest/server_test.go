package graphtest

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const (
	tenantA   = "6f1d2c3b-4a59-4e8d-9c7b-0a1b2c3d4e5f"
	tenantB   = "0e9d8c7b-6a59-4483-a2b1-c0d9e8f7a6b5"
	clientRW  = "11111111-2222-4333-8444-555555555555"
	clientRO  = "22222222-3333-4444-8555-666666666666"
	clientRW2 = "33333333-4444-4555-8666-777777777777"
	secret    = "correct horse battery staple"
	configA   = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
)

// newTestServer starts an emulator with a read-write app and a read-only app in tenantA and one
// seeded configuration, and stops it when the test ends.
func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW, ClientSecret: secret})
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRO, ClientSecret: secret, Permissions: []string{PermissionRead}})
	srv.Seed(tenantA, configA, Overview{SuccessCount: 3, FailedCount: 1, ConfigurationVersion: 2,
		LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)})
	return srv
}

func mustToken(t *testing.T, srv *Server, tenantID, clientID string) string {
	t.Helper()
	tok, err := srv.IssueToken(tenantID, clientID)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func overviewPath(version, configurationID string) string {
	return "/" + version + "/deviceManagement/deviceConfigurations/" + configurationID + "/userStatusOverview"
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// graphError decodes a Graph error body, failing the test if it is not one.
func (r response) graphError(t *testing.T) graphError {
	t.Helper()
	var b graphErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error.Code == "" {
		t.Fatalf("not a Graph error body (%v): %s", err, r.body)
	}
	return b.Error
}

// call sends one request with the client that trusts the server's CA. header holds extra headers;
// a token is sent as a bearer token when non-empty.
func call(t *testing.T, client *http.Client, method, target, token, body string, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// postForm sends a token request.
func postForm(t *testing.T, client *http.Client, target string, form url.Values) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestNewServerRefusesBadTimeScale(t *testing.T) {
	if _, err := NewServer(Options{TimeScale: -1}); err == nil {
		t.Fatal("NewServer accepted a negative TimeScale")
	}
}

func TestCloseIsIdempotentAndStopsServing(t *testing.T) {
	srv, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	srv.Close()
	srv.Close()
	if _, err := client.Get(srv.URL() + overviewPath("v1.0", configA)); err == nil {
		t.Fatal("a closed server answered")
	}
}

func TestCACertPEMIsTheServersRoot(t *testing.T) {
	srv := newTestServer(t, Options{})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(srv.CACertPEM()) {
		t.Fatal("CACertPEM holds no certificate")
	}
	// A client that trusts only the PEM (not the server's own pool) reaches the server, by IP and
	// by name.
	client := srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs = pool
	for _, base := range []string{srv.URL(), strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)} {
		res := call(t, client, http.MethodGet, base+"/"+tenantA+"/v2.0/.well-known/openid-configuration", "", "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", base, res.status, res.body)
		}
	}
	// A client that does not trust it is refused.
	if _, err := http.Get(srv.URL() + "/"); err == nil {
		t.Fatal("a client without the CA was not refused")
	}
}

// TestHTTP2: with Options.HTTP2 the emulator speaks HTTP/2 to a client that offers it, as Graph
// does, and a dropped connection fails the one call; without it, HTTP/1.1 only.
func TestHTTP2(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		srv := newTestServer(t, Options{HTTP2: h2})
		client := srv.Client()
		client.Transport.(*http.Transport).ForceAttemptHTTP2 = true
		token := mustToken(t, srv, tenantA, clientRW)
		get := func() (*http.Response, error) {
			req, err := http.NewRequest(http.MethodGet, srv.URL()+overviewPath("v1.0", configA), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			return client.Do(req)
		}
		resp, err := get()
		if err != nil {
			t.Fatalf("HTTP2 %v: %v", h2, err)
		}
		_ = resp.Body.Close()
		if want := map[bool]int{false: 1, true: 2}[h2]; resp.ProtoMajor != want || resp.StatusCode != http.StatusOK {
			t.Errorf("HTTP2 %v: %s %d, want HTTP/%d.x 200", h2, resp.Proto, resp.StatusCode, want)
		}
		srv.Inject(Fault{DropConnection: true, Times: 1})
		if resp, err := get(); err == nil {
			_ = resp.Body.Close()
			t.Errorf("HTTP2 %v: a dropped connection answered %d, want an error", h2, resp.StatusCode)
		}
		if resp, err := get(); err != nil {
			t.Errorf("HTTP2 %v: the call after the dropped one: %v", h2, err)
		} else {
			_ = resp.Body.Close()
		}
	}
}

// TestInMemory: a server on the in-memory network serves its client in a testing/synctest bubble,
// where a throttling window passes as soon as every goroutine waits; its DialContext reaches it
// alone, and a server on a TCP port has none.
func TestInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newTestServer(t, Options{InMemory: true, Limits: Limits{Window: 20 * time.Second, AppRequests: 2}})
		if got, want := srv.URL(), "https://127.0.0.1:443"; got != want {
			t.Errorf("URL %q, want %q", got, want)
		}
		client := srv.Client()
		defer client.CloseIdleConnections()
		token := mustToken(t, srv, tenantA, clientRW)
		target := srv.URL() + overviewPath("v1.0", configA)
		var statuses []int
		for range 3 {
			statuses = append(statuses, call(t, client, http.MethodGet, target, token, "", nil).status)
		}
		start := time.Now()
		time.Sleep(20 * time.Second) // the bubble's clock: no time on the wall clock
		statuses = append(statuses, call(t, client, http.MethodGet, target, token, "", nil).status)
		if want := []int{200, 200, 429, 200}; !slices.Equal(statuses, want) {
			t.Errorf("statuses %v, want %v: a window of 2 requests, then the next window", statuses, want)
		}
		if d := time.Since(start); d != 20*time.Second {
			t.Errorf("the bubble's clock moved %v, want 20s: a call takes no time on it", d)
		}

		if _, err := srv.DialContext(t.Context(), "tcp", "127.0.0.1:8443"); err == nil {
			t.Error("DialContext reached another address")
		}
		srv.Close()
		if _, err := srv.DialContext(t.Context(), "tcp", "127.0.0.1:443"); !errors.Is(err, net.ErrClosed) {
			t.Errorf("DialContext of a closed server: %v, want net.ErrClosed", err)
		}
	})
	tcp := newTestServer(t, Options{})
	if _, err := tcp.DialContext(t.Context(), "tcp", strings.TrimPrefix(tcp.URL(), "https://")); err == nil {
		t.Error("DialContext of a server on a TCP port succeeded")
	}
}
