package graphtest

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkGet measures a GET over a kept-alive TLS connection, parallel clients.
func BenchmarkGet(b *testing.B) {
	srv, err := NewServer(Options{ThrottlingDisabled: true})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW})
	srv.Seed(tenantA, configA, Overview{})
	tok, _ := srv.IssueToken(tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	client := srv.Client()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body) // so that the connection is reused
			res.Body.Close()
		}
	})
}
