package graphtest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestGzipRequestBody: a PATCH gzipped as Microsoft's SDKs send it applies, as through Graph's
// gateway, and the log shows the JSON the client meant.
func TestGzipRequestBody(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	for encoding, want := range map[string]int32{"gzip": 12, "GZIP": 13, "identity, gzip": 14} {
		body := fmt.Sprintf(`{"successCount":%d}`, want)
		res := call(t, srv.Client(), http.MethodPatch, u, tok, gzipped(t, body), map[string]string{"Content-Encoding": encoding})
		if res.status != http.StatusOK {
			t.Fatalf("Content-Encoding %q: %d %s", encoding, res.status, res.body)
		}
		if o, _ := srv.Overview(tenantA, configA); o.SuccessCount != want {
			t.Errorf("Content-Encoding %q: successCount %d, want %d", encoding, o.SuccessCount, want)
		}
		log := srv.Requests()
		if last := log[len(log)-1]; string(last.Body) != body || last.ContentEncoding != encoding {
			t.Errorf("logged body %q with encoding %q, want %q and %q", last.Body, last.ContentEncoding, body, encoding)
		}
	}
}

func TestRefusedRequestBodyEncoding(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	// A few kilobytes on the wire that inflate past the limit.
	bomb := gzipped(t, `{"successCount":7,"x":"`+strings.Repeat(" ", 2*maxBodyBytes)+`"}`)
	if len(bomb) > maxBodyBytes/100 {
		t.Fatalf("the bomb is %d bytes compressed", len(bomb))
	}
	cases := map[string]struct {
		encoding, body string
		wantStatus     int
		wantCode       string
	}{
		"a gzip bomb":              {"gzip", bomb, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge"},
		"brotli":                   {"br", `{"successCount":7}`, http.StatusUnsupportedMediaType, "UnsupportedMediaType"},
		"deflate":                  {"deflate", `{"successCount":7}`, http.StatusUnsupportedMediaType, "UnsupportedMediaType"},
		"gzip twice":               {"gzip, gzip", gzipped(t, gzipped(t, `{"successCount":7}`)), http.StatusUnsupportedMediaType, "UnsupportedMediaType"},
		"marked gzip but plain":    {"gzip", `{"successCount":7}`, http.StatusBadRequest, "BadRequest"},
		"gzip cut short":           {"gzip", gzipped(t, `{"successCount":7}`)[:15], http.StatusBadRequest, "BadRequest"},
		"an unknown coding in two": {"gzip, zstd", `{"successCount":7}`, http.StatusUnsupportedMediaType, "UnsupportedMediaType"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := call(t, srv.Client(), http.MethodPatch, u, tok, tc.body, map[string]string{"Content-Encoding": tc.encoding})
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tc.wantStatus, res.body)
			}
			if e := res.graphError(t); e.Code != tc.wantCode || e.InnerError.RequestID == "" {
				t.Errorf("error %+v, want code %q and an innerError", e, tc.wantCode)
			}
		})
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 7 {
		t.Error("a refused body applied")
	}
}
