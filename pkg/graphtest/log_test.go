package graphtest

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRequestLog(t *testing.T) {
	srv := newTestServer(t, Options{})
	client := srv.Client()
	start := time.Now()

	tokRes := postForm(t, client, tokenURL(srv, tenantA), secretForm(srv))
	tok := decodeToken(t, tokRes).AccessToken
	body := `{"successCount":12,"failedCount":0}`
	patch := call(t, client, http.MethodPatch, srv.URL()+overviewPath("beta", configA), tok, body,
		map[string]string{"client-request-id": "0b0b0b0b-0000-4000-8000-000000000001", HeaderReplica: "overview-operator-7d9f-x2x4q"})

	held, _ := srv.Overview(tenantA, configA)
	want := []Request{
		{Kind: KindToken, Method: http.MethodPost, Path: "/" + tenantA + "/oauth2/v2.0/token",
			TenantID: tenantA, ClientID: clientRW, Status: http.StatusOK,
			RequestID: tokRes.header.Get("x-ms-request-id")},
		{Kind: KindGraph, Method: http.MethodPatch, Path: overviewPath("beta", configA), APIVersion: "beta",
			TenantID: tenantA, ClientID: clientRW, ConfigurationID: configA, Status: http.StatusOK,
			Body: []byte(body), RequestID: patch.header.Get("request-id"),
			ClientRequestID: "0b0b0b0b-0000-4000-8000-000000000001", Replica: "overview-operator-7d9f-x2x4q",
			Held: &held, Entity: UserStatusOverview},
	}
	got := srv.Requests()
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(Request{}, "Time")); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
	for _, r := range got {
		if r.Time.Before(start) || r.Time.After(time.Now()) {
			t.Errorf("time %v is not when the request arrived", r.Time)
		}
	}

	// Requests returns a copy.
	got[1].Body[0] = 'X'
	if srv.Requests()[1].Body[0] != '{' {
		t.Error("changing the returned log changed the server's")
	}

	if n := srv.CountRequests(func(r Request) bool { return r.Kind == KindGraph && r.Method == http.MethodPatch }); n != 1 {
		t.Errorf("CountRequests(PATCH) = %d, want 1", n)
	}
	if n := srv.CountRequests(nil); n != 2 {
		t.Errorf("CountRequests(nil) = %d, want 2", n)
	}
	srv.ResetRequests()
	if n := srv.CountRequests(nil); n != 0 {
		t.Errorf("after ResetRequests: %d entries", n)
	}
}

func TestMaxRequestsAndOnRequest(t *testing.T) {
	var seen atomic.Int32
	srv := newTestServer(t, Options{MaxRequests: 10, OnRequest: func(Request) { seen.Add(1) }})
	tok := mustToken(t, srv, tenantA, clientRW)
	for range 25 {
		call(t, srv.Client(), http.MethodGet, srv.URL()+overviewPath("v1.0", configA), tok, "", nil)
	}
	if n := srv.CountRequests(nil); n > 10 || n < 5 {
		t.Errorf("log holds %d entries, want between 5 and 10", n)
	}
	if seen.Load() != 25 {
		t.Errorf("OnRequest saw %d requests, want 25", seen.Load())
	}
}

// TestConcurrentRequests runs readers and writers in parallel (meant for -race) and checks that
// every request was answered and logged.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{ThrottlingDisabled: true})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	const workers, each = 8, 40
	var wg sync.WaitGroup
	var failures atomic.Int32
	for w := range workers {
		wg.Go(func() {
			client := srv.Client()
			for i := range each {
				method, body := http.MethodGet, ""
				if (w+i)%4 == 0 {
					method, body = http.MethodPatch, `{"pendingCount":1}`
				}
				req, _ := http.NewRequest(method, u, nil)
				if body != "" {
					req, _ = http.NewRequest(method, u, strings.NewReader(body))
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := client.Do(req)
				if err != nil || res.StatusCode != http.StatusOK {
					failures.Add(1)
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body) // so that the connection is reused
					res.Body.Close()
				}
				if i%10 == 0 {
					srv.CountRequests(func(r Request) bool { return r.Status == http.StatusOK })
				}
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d requests failed", failures.Load())
	}
	if n := srv.CountRequests(func(r Request) bool { return r.Kind == KindGraph }); n != workers*each {
		t.Errorf("%d requests logged, want %d", n, workers*each)
	}
}
