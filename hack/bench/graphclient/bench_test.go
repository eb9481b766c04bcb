package graphclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph"
	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

const (
	tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	clientID = "0b9c1d2e-3f4a-4b6c-8d8e-9f0a1b2c3d4e"
	secret   = "bench-client-secret"
	configID = "6d6c3b5e-0f9a-4c1e-9d7e-2f1f3a4b5c6d"
)

// newEmulator starts an emulator without throttling or latency, with one app and one overview, so
// that the benchmarks measure the client and the loopback round trips, not Intune's limits.
func newEmulator(b *testing.B) *graphtest.Server {
	b.Helper()
	srv, err := graphtest.NewServer(graphtest.Options{ThrottlingDisabled: true, MaxRequests: 1024})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	srv.AddApp(graphtest.App{TenantID: tenantID, ClientID: clientID, ClientSecret: secret})
	srv.Seed(tenantID, configID, graphtest.Overview{SuccessCount: 1, ConfigurationVersion: 1,
		LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)})
	return srv
}

// BenchmarkClientGetPatch is one reconcile's Graph traffic through the operator's client: GetOverview
// then PatchOverview of one field (a new value each time, so that Graph has something to change).
// The calls are made outside any job (Client's Calls), each counted in a budget set far above what
// a loop can use, so that nothing waits. The emulator runs in the same process: allocs/op counts
// its side too; BenchmarkHTTPGetPatch is the same traffic without the client, and the difference
// is the client's own cost.
func BenchmarkClientGetPatch(b *testing.B) {
	srv := newEmulator(b)
	c, err := graph.NewClient(graph.Config{
		Endpoint:      srv.URL(),
		AuthorityHost: srv.URL(),
		CABundle:      srv.CACertPEM(),
		TenantID:      tenantID,
		ClientID:      clientID,
		Credential:    graph.Credential{Kind: graph.CredentialClientSecret, ClientSecret: secret},
	}, graph.Options{Pacers: graph.NewPacers(graph.Limits{Requests: 1 << 30, Writes: 1 << 30, Per: time.Second}, 0)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.CheckCredentials(ctx); err != nil { // the token is fetched once, outside the loop
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Get(ctx, graph.UserOverview, configID); err != nil {
			b.Fatal(err)
		}
		n := int32(i)
		if _, err := c.Patch(ctx, graph.UserOverview, configID, graph.Fields{SuccessCount: &n}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHTTPGetPatch sends the same GET and PATCH with net/http and a token issued once: the cost
// of the emulator, TLS and HTTP on their own.
func BenchmarkHTTPGetPatch(b *testing.B) {
	srv := newEmulator(b)
	token, err := srv.IssueToken(tenantID, clientID)
	if err != nil {
		b.Fatal(err)
	}
	u := srv.URL() + "/v1.0/deviceManagement/deviceConfigurations/" + configID + "/userStatusOverview"
	hc := srv.Client()
	do := func(method string, body []byte) {
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d", method, res.StatusCode)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		do(http.MethodGet, nil)
		do(http.MethodPatch, fmt.Appendf(nil, `{"successCount":%d}`, i))
	}
}
