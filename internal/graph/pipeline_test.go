package graph

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimitedTransport(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			_, _ = io.WriteString(w, strings.Repeat("x", maxBodySize+1))
			return
		}
		_, _ = io.WriteString(w, `{"id":"x"}`)
	}))
	defer srv.Close()
	tr := guardedTransport{client: srv.Client(), hosts: HostsFunc(func(h string) bool { return h == "127.0.0.1" })}

	for path, wantErr := range map[string]error{"/small": nil, "/large": errBodyTooLarge} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		resp, err := tr.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !errors.Is(err, wantErr) {
			t.Errorf("%s: error %v, want %v", path, err, wantErr)
		}
	}
}

func TestTLSVersion(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	c := newHTTPClient(nil, nil)
	tr := c.Transport.(*http.Transport)
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", tr.TLSClientConfig.MinVersion)
	}
	tr.TLSClientConfig.InsecureSkipVerify = true // only the version is under test
	if _, err := c.Get(srv.URL); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("a TLS 1.1 server: error %v, want a protocol version failure", err)
	}
}
