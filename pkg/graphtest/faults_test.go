package graphtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusFaults(t *testing.T) {
	cases := map[string]struct {
		fault          Fault
		wantStatus     int
		wantCode       string
		wantRetryAfter string
	}{
		"503 with a fractional Retry-After": {Fault{Status: 503, RetryAfter: "1.5"}, 503, "serviceNotAvailable", "1.5"},
		"429 burst":                         {Fault{Status: 429, RetryAfter: "2.128"}, 429, "TooManyRequests", "2.128"},
		"500 with a code":                   {Fault{Status: 500, Code: "generalException"}, 500, "generalException", ""},
		"504":                               {Fault{Status: 504}, 504, "UnknownError", ""},
		"409":                               {Fault{Status: 409}, 409, "Conflict", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			tok := mustToken(t, srv, tenantA, clientRW)
			u := srv.URL() + overviewPath("v1.0", configA)
			tc.fault.Times = 2
			srv.Inject(tc.fault)
			for i := range 2 {
				res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":9}`, nil)
				if res.status != tc.wantStatus || res.graphError(t).Code != tc.wantCode || res.header.Get("Retry-After") != tc.wantRetryAfter {
					t.Fatalf("answer %d: %d %q %s, want %d %q Retry-After %q", i, res.status, res.header.Get("Retry-After"), res.body, tc.wantStatus, tc.wantCode, tc.wantRetryAfter)
				}
				if res.header.Get("request-id") == "" {
					t.Error("a fault's answer has no request-id")
				}
			}
			if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 9 {
				t.Error("a faulted PATCH changed the state")
			}
			// Times counts down: the third request is served.
			if res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":9}`, nil); res.status != http.StatusOK {
				t.Fatalf("after the fault: %d %s", res.status, res.body)
			}
			// Faults are not throttling.
			if n := srv.CountRequests(func(r Request) bool { return r.Throttled }); n != 0 {
				t.Errorf("%d faulted requests marked throttled", n)
			}
		})
	}
}

func TestLatencyFault(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	srv.Inject(Fault{Method: http.MethodGet, Latency: 300 * time.Millisecond, Times: 1})
	u := srv.URL() + overviewPath("v1.0", configA)
	start := time.Now()
	if res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil); res.status != http.StatusOK {
		t.Fatalf("status %d", res.status)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %v, want at least 300ms", d)
	}
	start = time.Now()
	call(t, srv.Client(), http.MethodGet, u, tok, "", nil)
	if d := time.Since(start); d >= 300*time.Millisecond {
		t.Errorf("the latency applied twice (%v)", d)
	}

	// A client that gives up during the latency gets nothing, and its PATCH does not apply.
	srv.Inject(Fault{Latency: time.Minute, Times: 1})
	impatient := srv.Client()
	impatient.Timeout = 100 * time.Millisecond
	req, _ := http.NewRequest(http.MethodPatch, u, strings.NewReader(`{"successCount":77}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, err := impatient.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("the request did not time out")
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.CountRequests(func(r Request) bool { return r.Method == http.MethodPatch }) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the handler notices the client went away asynchronously
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 77 {
		t.Error("an abandoned PATCH applied")
	}
	if log := srv.Requests(); log[len(log)-1].Status != 0 {
		t.Errorf("abandoned request logged with status %d, want 0", log[len(log)-1].Status)
	}
}

func TestDropConnectionFault(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	client := srv.Client()
	send := func(method, body string) (*http.Response, error) {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		return client.Do(req)
	}
	// Until cleared, since the transport may resend a GET on a fresh connection.
	srv.Inject(Fault{Method: http.MethodGet, DropConnection: true})
	if res, err := send(http.MethodGet, ""); err == nil {
		res.Body.Close()
		t.Fatalf("GET got an answer (%d) through a dropped connection", res.StatusCode)
	}
	srv.ClearFaults()
	res, err := send(http.MethodGet, "")
	if err != nil {
		t.Fatalf("GET after the fault: %v", err)
	}
	res.Body.Close()

	srv.Inject(Fault{Method: http.MethodPatch, DropConnection: true, Times: 1})
	if res, err := send(http.MethodPatch, `{"successCount":8}`); err == nil {
		res.Body.Close()
		t.Fatal("PATCH got an answer through a dropped connection")
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 8 {
		t.Error("a dropped PATCH applied")
	}
	if res, err := send(http.MethodPatch, `{"successCount":8}`); err != nil {
		t.Fatalf("PATCH after the fault was used up: %v", err)
	} else {
		res.Body.Close()
	}
	dropped := srv.CountRequests(func(r Request) bool { return r.Method == http.MethodPatch && r.Status == 0 })
	if dropped != 1 {
		t.Errorf("%d dropped PATCHes logged with status 0, want 1", dropped)
	}
}

func TestMalformedBodyFault(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	srv.Inject(Fault{MalformedBody: true, Times: 1})
	res := call(t, srv.Client(), http.MethodPatch, srv.URL()+overviewPath("beta", configA), tok, `{"successCount":6}`, nil)
	if res.status != http.StatusOK || json.Valid(res.body) || len(res.body) == 0 {
		t.Fatalf("got %d %q, want 200 with a body that is not JSON", res.status, res.body)
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 6 {
		t.Error("a PATCH answered by a malformed-body fault applied")
	}
}

func TestNoContentFault(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	srv.Inject(Fault{NoContent: true, Times: 1})
	// A GET does not match a fault that only changes PATCH, and does not use it up.
	if res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil); res.status != http.StatusOK {
		t.Fatalf("GET: %d", res.status)
	}
	res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":21}`, nil)
	if res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("PATCH: %d %q, want 204 without a body", res.status, res.body)
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount != 21 {
		t.Errorf("successCount %d: the 204 PATCH did not apply", o.SuccessCount)
	}
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":22}`, nil); res.status != http.StatusOK {
		t.Errorf("second PATCH: %d, want 200", res.status)
	}
}

func TestDiscardPatchFault(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	srv.Inject(Fault{DiscardPatch: true})
	res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":42}`, nil)
	var answered map[string]any
	if err := json.Unmarshal(res.body, &answered); err != nil || res.status != http.StatusOK || answered["successCount"] != 42.0 {
		t.Fatalf("PATCH: %d %s, want 200 with successCount 42", res.status, res.body)
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount != 3 {
		t.Errorf("successCount %d: a discarded PATCH was kept", o.SuccessCount)
	}
	get := call(t, srv.Client(), http.MethodGet, u, tok, "", nil)
	if strings.Contains(string(get.body), `"successCount":42`) {
		t.Errorf("GET shows the discarded value: %s", get.body)
	}
	srv.ClearFaults()
	call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":42}`, nil)
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount != 42 {
		t.Errorf("successCount %d after ClearFaults", o.SuccessCount)
	}
}

func TestFaultMatching(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddApp(App{TenantID: tenantB, ClientID: clientRW, ClientSecret: secret})
	const configB = "7e7d4c6f-1a0b-4d2f-8e8f-3a2b4c5d6e7f"
	srv.Seed(tenantA, configB, Overview{})
	srv.Seed(tenantB, configA, Overview{})
	srv.Inject(Fault{Method: http.MethodPatch, TenantID: tenantA, ConfigurationID: configB, Status: 500})
	srv.Inject(Fault{TenantID: tenantB, Status: 502, Times: 1})
	srv.Inject(Fault{TenantID: tenantB, Status: 504, Times: 1})

	type req struct{ tenant, method, config string }
	reqs := []req{
		{tenantA, http.MethodPatch, configB}, // the first fault
		{tenantA, http.MethodGet, configB},   // not the method
		{tenantA, http.MethodPatch, configA}, // not the configuration
		{tenantB, http.MethodGet, configA},   // the second fault, used up
		{tenantB, http.MethodGet, configA},   // then the third
		{tenantB, http.MethodGet, configA},   // then none
		{tenantA, http.MethodPatch, configB}, // the first fault has no limit
	}
	var got []int
	for _, r := range reqs {
		body := ""
		if r.method == http.MethodPatch {
			body = `{}`
		}
		got = append(got, call(t, srv.Client(), r.method, srv.URL()+overviewPath("v1.0", r.config), mustToken(t, srv, r.tenant, clientRW), body, nil).status)
	}
	if d := cmp.Diff([]int{500, 200, 200, 502, 504, 200, 500}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}

	// Graph faults never apply to token requests.
	res := postForm(t, srv.Client(), tokenURL(srv, tenantB), secretForm(srv))
	if res.status != http.StatusOK {
		t.Errorf("a token request was faulted: %d", res.status)
	}
}

func TestLogHoldsWhatGraphHeld(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	call(t, srv.Client(), http.MethodGet, u, tok, "", nil)
	srv.Inject(Fault{DiscardPatch: true, Times: 1})
	call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":42}`, nil)
	call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":43}`, nil)
	srv.Inject(Fault{Method: http.MethodGet, Status: http.StatusServiceUnavailable, Times: 1})
	call(t, srv.Client(), http.MethodGet, u, tok, "", nil)

	var held []string
	for _, r := range srv.Requests() {
		if r.Kind != KindGraph {
			continue
		}
		h := "nil"
		if r.Held != nil {
			h = fmt.Sprint(r.Held.SuccessCount)
		}
		held = append(held, fmt.Sprintf("%s %d held=%s discarded=%t", r.Method, r.Status, h, r.Discarded))
	}
	want := []string{
		"GET 200 held=3 discarded=false",
		"PATCH 200 held=3 discarded=true",
		"PATCH 200 held=43 discarded=false",
		"GET 503 held=nil discarded=false",
	}
	if !slices.Equal(held, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(held, "\n"), strings.Join(want, "\n"))
	}
}

func TestTokenFaults(t *testing.T) {
	cases := map[string]struct {
		fault       Fault
		wantStatus  int
		wantType    string // the Content-Type's media type
		wantOAuth   string // the OAuth error code, for a Status answer
		wantRetryAt string
	}{
		"500":                      {Fault{Status: 500}, 500, "application/json", "server_error", ""},
		"502":                      {Fault{Status: 502}, 502, "application/json", "server_error", ""},
		"503 with Retry-After":     {Fault{Status: 503, RetryAfter: "5"}, 503, "application/json", "temporarily_unavailable", "5"},
		"504 with a code":          {Fault{Status: 504, Code: "gateway_timeout"}, 504, "application/json", "gateway_timeout", ""},
		"an HTML page with 200":    {Fault{HTMLPage: true}, 200, "text/html", "", ""},
		"an HTML page with 502":    {Fault{HTMLPage: true, Status: 502}, 502, "text/html", "", ""},
		"a truncated token answer": {Fault{MalformedBody: true}, 200, "application/json", "", ""},
		"a body of the test's":     {Fault{Body: `{"token_type":"Bearer"}`}, 200, "application/json", "", ""},
		"a body labelled as text":  {Fault{Body: `{}`, ContentType: "text/plain"}, 200, "text/plain", "", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			tc.fault.Token, tc.fault.Times = true, 2
			srv.Inject(tc.fault)
			// A fault on the token endpoint leaves Graph alone, and is not used up by it.
			if res := call(t, srv.Client(), http.MethodGet, srv.URL()+overviewPath("v1.0", configA), mustToken(t, srv, tenantA, clientRW), "", nil); res.status != http.StatusOK {
				t.Fatalf("Graph GET: %d %s", res.status, res.body)
			}
			for i := range 2 {
				res := postForm(t, srv.Client(), tokenURL(srv, tenantA), secretForm(srv))
				mediaType, _, _ := strings.Cut(res.header.Get("Content-Type"), ";")
				if res.status != tc.wantStatus || mediaType != tc.wantType || res.header.Get("Retry-After") != tc.wantRetryAt {
					t.Fatalf("answer %d: %d %q Retry-After %q, want %d %q %q: %s", i, res.status, mediaType,
						res.header.Get("Retry-After"), tc.wantStatus, tc.wantType, tc.wantRetryAt, res.body)
				}
				if strings.Contains(string(res.body), "access_token") && json.Valid(res.body) {
					t.Fatalf("answer %d issued a token: %s", i, res.body)
				}
				if tc.wantOAuth != "" {
					if tr := decodeToken(t, res); tr.Error != tc.wantOAuth || tr.ErrorDescription == "" {
						t.Errorf("answer %d: error %q %q, want %q with a description", i, tr.Error, tr.ErrorDescription, tc.wantOAuth)
					}
				}
			}
			// Times counts down: the third token request gets a token.
			res := postForm(t, srv.Client(), tokenURL(srv, tenantA), secretForm(srv))
			if tr := decodeToken(t, res); res.status != http.StatusOK || tr.AccessToken == "" {
				t.Fatalf("after the fault: %d %s", res.status, res.body)
			}
			if n := srv.CountRequests(func(r Request) bool { return r.Kind == KindToken }); n != 3 {
				t.Errorf("%d token requests logged, want 3", n)
			}
		})
	}
}

func TestTokenFaultMatching(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddApp(App{TenantID: tenantB, ClientID: clientRW, ClientSecret: secret})
	srv.Inject(Fault{Token: true, TenantID: tenantB, Status: 503, Times: 1})
	srv.Inject(Fault{Token: true, Method: http.MethodGet, Status: 500}) // token requests are POSTs
	srv.Inject(Fault{Token: true, NoContent: true})                     // does nothing to a token request
	srv.Inject(Fault{Token: true, Status: 502, Times: 1})               // any tenant

	var got []int
	for _, tenant := range []string{tenantA, tenantB, tenantB, tenantA} {
		got = append(got, postForm(t, srv.Client(), tokenURL(srv, tenant), secretForm(srv)).status)
	}
	if d := cmp.Diff([]int{502, 503, 200, 200}, got); d != "" {
		t.Errorf("statuses (-want +got):\n%s", d)
	}
	// Graph is not faulted by token faults.
	srv.Inject(Fault{Token: true, Status: 500})
	if res := call(t, srv.Client(), http.MethodGet, srv.URL()+overviewPath("v1.0", configA), mustToken(t, srv, tenantA, clientRW), "", nil); res.status != http.StatusOK {
		t.Errorf("Graph GET under a token fault: %d", res.status)
	}
}

func TestTokenHangAndDrop(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{})
	srv.Inject(Fault{Token: true, Hang: true, Times: 1})
	impatient := srv.Client()
	impatient.Timeout = 200 * time.Millisecond
	form := secretForm(srv)
	if res, err := impatient.PostForm(tokenURL(srv, tenantA), form); err == nil {
		res.Body.Close()
		t.Fatalf("a hanging token request was answered %d", res.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.CountRequests(func(r Request) bool { return r.Kind == KindToken }) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the handler notices the client went away asynchronously
	}
	if log := srv.Requests(); len(log) != 1 || log[0].Kind != KindToken || log[0].Status != 0 {
		t.Errorf("log %+v, want one token request without an answer", log)
	}

	srv.Inject(Fault{Token: true, DropConnection: true, Times: 1})
	if res, err := srv.Client().PostForm(tokenURL(srv, tenantA), form); err == nil {
		res.Body.Close()
		t.Fatalf("a dropped token request was answered %d", res.StatusCode)
	}
	// Latency alone delays the token, which is then issued.
	srv.Inject(Fault{Token: true, Latency: 100 * time.Millisecond, Times: 1})
	start := time.Now()
	res := postForm(t, srv.Client(), tokenURL(srv, tenantA), form)
	if tr := decodeToken(t, res); res.status != http.StatusOK || tr.AccessToken == "" || time.Since(start) < 100*time.Millisecond {
		t.Errorf("after a latency fault: %d %s in %v", res.status, res.body, time.Since(start))
	}
}

func TestHangAndHTMLPageOnGraph(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	srv.Inject(Fault{HTMLPage: true, Times: 1})
	res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":5}`, nil)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") || json.Valid(res.body) {
		t.Fatalf("got %d %q %q, want 200 with an HTML page", res.status, res.header.Get("Content-Type"), res.body)
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 5 {
		t.Error("a PATCH answered by an HTML page applied")
	}

	srv.Inject(Fault{Hang: true, Times: 1})
	impatient := srv.Client()
	impatient.Timeout = 200 * time.Millisecond
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, err := impatient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("a hanging GET was answered %d", res.StatusCode)
	}
}

func TestBodyOnGraph(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	srv.Inject(Fault{Body: `{"id":"another","successCount":-1}`, Times: 1})
	res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":5}`, nil)
	if res.status != http.StatusOK || string(res.body) != `{"id":"another","successCount":-1}` {
		t.Fatalf("got %d %q, want 200 with the fault's body", res.status, res.body)
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount == 5 {
		t.Error("a PATCH answered by the fault's body applied")
	}
	if res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil); res.status != http.StatusOK || strings.Contains(string(res.body), "another") {
		t.Errorf("the fault applied twice: %d %s", res.status, res.body)
	}
}
