package graphtest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestGetAndPatchRoundTrip(t *testing.T) {
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			srv.Seed(tenantA, configA, Overview{ConflictCount: 7, LastUpdateDateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
			client, tok := srv.Client(), mustToken(t, srv, tenantA, clientRW)
			u := srv.URL() + overviewPath(version, configA)

			get := call(t, client, http.MethodGet, u, tok, "", nil)
			if get.status != http.StatusOK {
				t.Fatalf("GET: %d %s", get.status, get.body)
			}
			want := map[string]any{
				"@odata.context":       srv.URL() + "/" + version + "/$metadata#deviceManagement/deviceConfigurations('" + configA + "')/userStatusOverview/$entity",
				"@odata.type":          "#microsoft.graph.deviceConfigurationUserOverview",
				"id":                   configA,
				"pendingCount":         0.0,
				"notApplicableCount":   0.0,
				"successCount":         0.0,
				"errorCount":           0.0,
				"failedCount":          0.0,
				"configurationVersion": 0.0,
				"lastUpdateDateTime":   "2026-01-02T03:04:05Z",
			}
			if version == "beta" {
				want["conflictCount"] = 7.0
			}
			var got map[string]any
			if err := json.Unmarshal(get.body, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("GET body (-want +got):\n%s", d)
			}
			if ct := get.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}

			body := `{"@odata.type":"#microsoft.graph.deviceConfigurationUserOverview","successCount":12,"failedCount":2147483647,"lastUpdateDateTime":"2026-11-28T11:00:00+01:00"}`
			if version == "beta" {
				body = `{"conflictCount":-1,"successCount":12,"failedCount":2147483647,"lastUpdateDateTime":"2026-11-28T11:00:00+01:00"}`
				want["conflictCount"] = -1.0
			}
			patch := call(t, client, http.MethodPatch, u, tok, body, nil)
			if patch.status != http.StatusOK {
				t.Fatalf("PATCH: %d %s", patch.status, patch.body)
			}
			want["successCount"], want["failedCount"], want["lastUpdateDateTime"] = 12.0, 2147483647.0, "2026-11-28T10:00:00Z"
			got = nil
			if err := json.Unmarshal(patch.body, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("PATCH answer (-want +got):\n%s", d)
			}
			// Numbers go out as JSON numbers, not strings.
			if !strings.Contains(string(patch.body), `"failedCount":2147483647`) {
				t.Errorf("failedCount is not a JSON number: %s", patch.body)
			}

			again := call(t, client, http.MethodGet, u, tok, "", nil)
			if string(again.body) != string(patch.body) {
				t.Errorf("GET after PATCH = %s, want %s", again.body, patch.body)
			}
			o, _ := srv.Overview(tenantA, configA)
			wantState := Overview{ID: configA, SuccessCount: 12, FailedCount: 2147483647, ConflictCount: 7,
				LastUpdateDateTime: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
			if version == "beta" {
				wantState.ConflictCount = -1
			}
			if d := cmp.Diff(wantState, o); d != "" {
				t.Errorf("state (-want +got):\n%s", d)
			}
		})
	}
}

func TestGraphHeaders(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)

	res := call(t, srv.Client(), http.MethodGet, u, tok, "", map[string]string{"client-request-id": "c0ffee00-0000-4000-8000-000000000001"})
	if got := res.header.Get("client-request-id"); got != "c0ffee00-0000-4000-8000-000000000001" {
		t.Errorf("client-request-id = %q, want it echoed", got)
	}
	if !guid.MatchString(res.header.Get("request-id")) {
		t.Errorf("request-id = %q, want a GUID", res.header.Get("request-id"))
	}
	if res.header.Get("x-ms-ags-diagnostic") == "" {
		t.Error("no x-ms-ags-diagnostic")
	}
	second := call(t, srv.Client(), http.MethodGet, u, tok, "", nil)
	if second.header.Get("request-id") == res.header.Get("request-id") {
		t.Error("request-id is not fresh")
	}

	// Errors carry the same headers, repeated in innerError.
	nf := call(t, srv.Client(), http.MethodGet, srv.URL()+overviewPath("v1.0", "00000000-0000-4000-8000-000000000000"), tok, "", map[string]string{"client-request-id": "abc"})
	e := nf.graphError(t)
	if e.InnerError.RequestID != nf.header.Get("request-id") || e.InnerError.ClientRequestID != "abc" || e.InnerError.Date == "" {
		t.Errorf("innerError %+v, headers %v", e.InnerError, nf.header)
	}
}

func TestUnauthorized(t *testing.T) {
	srv := newTestServer(t, Options{})
	app, _ := srv.app(tenantA, clientRW)
	signed := func(change func(*accessClaims)) string {
		c := &accessClaims{
			RegisteredClaims: jwt.RegisteredClaims{Issuer: srv.tokenIssuer(tenantA), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))},
			Audience:         srv.URL(), TenantID: tenantA, AppID: clientRW, Roles: app.Permissions,
		}
		change(c)
		tok, err := srv.tokenKey.sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	other := otherServer(t)
	other.AddApp(App{TenantID: tenantA, ClientID: clientRW})

	cases := map[string]struct {
		header      string
		wantMessage string
	}{
		"no Authorization header": {"", "Access token is empty."},
		"not a bearer token":      {"Basic dXNlcjpwYXNz", "Access token is empty."},
		"not a JWT":               {"Bearer not-a-jwt", "IDX14100"},
		"expired": {"Bearer " + signed(func(c *accessClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
		}), "expired"},
		"signed by another emulator": {"Bearer " + mustToken(t, other, tenantA, clientRW), "Invalid signature"},
		"tampered":                   {"Bearer " + tamper(mustToken(t, srv, tenantA, clientRW)), "Invalid signature"},
		"for Microsoft's Graph": {"Bearer " + signed(func(c *accessClaims) {
			c.Audience = "https://graph.microsoft.com"
		}), "Invalid audience"},
		"no expiry": {"Bearer " + signed(func(c *accessClaims) { c.ExpiresAt = nil }), "validation failure"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL()+overviewPath("v1.0", configA), nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body graphErrorBody
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != http.StatusUnauthorized || body.Error.Code != "InvalidAuthenticationToken" {
				t.Fatalf("got %d %+v, want 401 InvalidAuthenticationToken", res.StatusCode, body.Error)
			}
			if !strings.Contains(body.Error.Message, tc.wantMessage) {
				t.Errorf("message %q, want it to mention %q", body.Error.Message, tc.wantMessage)
			}
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestTokenExpiresAfterTokenLifetime(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, Options{TokenLifetime: time.Second})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	if res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil); res.status != http.StatusOK {
		t.Fatalf("fresh token: %d", res.status)
	}
	// JWT expiry has a resolution of one second.
	time.Sleep(2 * time.Second)
	res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil)
	if res.status != http.StatusUnauthorized {
		t.Fatalf("expired token: %d %s", res.status, res.body)
	}
	if log := srv.Requests(); log[len(log)-1].ClientID != clientRW {
		t.Errorf("the 401 of an expired token does not name the app: %+v", log[len(log)-1])
	}
}

func TestForbidden(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddApp(App{TenantID: tenantA, ClientID: clientRW2, ClientSecret: secret, Permissions: []string{}})
	u := srv.URL() + overviewPath("v1.0", configA)
	cases := map[string]struct {
		client, method string
		wantStatus     int
	}{
		"read-only app GET":       {clientRO, http.MethodGet, http.StatusOK},
		"read-only app PATCH":     {clientRO, http.MethodPatch, http.StatusForbidden},
		"app without roles GET":   {clientRW2, http.MethodGet, http.StatusForbidden},
		"app without roles PATCH": {clientRW2, http.MethodPatch, http.StatusForbidden},
		"read-write app PATCH":    {clientRW, http.MethodPatch, http.StatusOK},
		"read-write app GET":      {clientRW, http.MethodGet, http.StatusOK},
		"read-only app DELETE":    {clientRO, http.MethodDelete, http.StatusMethodNotAllowed},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			body := ""
			if tc.method == http.MethodPatch {
				body = `{"successCount":4}`
			}
			res := call(t, srv.Client(), tc.method, u, mustToken(t, srv, tenantA, tc.client), body, nil)
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tc.wantStatus, res.body)
			}
			if res.status == http.StatusForbidden && res.graphError(t).Code != "Forbidden" {
				t.Errorf("code %q", res.graphError(t).Code)
			}
		})
	}
	if o, _ := srv.Overview(tenantA, configA); o.SuccessCount != 4 {
		t.Errorf("successCount = %d; only the read-write app's PATCH should have applied", o.SuccessCount)
	}
}

// TestGrantLater: a permission granted after a token was issued shows in the next token only.
func TestGrantLater(t *testing.T) {
	srv := newTestServer(t, Options{})
	u := srv.URL() + overviewPath("v1.0", configA)
	before := mustToken(t, srv, tenantA, clientRO)
	if err := srv.Grant(tenantA, clientRO, PermissionReadWrite); err != nil {
		t.Fatal(err)
	}
	if res := call(t, srv.Client(), http.MethodPatch, u, before, `{"successCount":4}`, nil); res.status != http.StatusForbidden {
		t.Errorf("PATCH with the token issued before the grant: %d, want 403", res.status)
	}
	if res := call(t, srv.Client(), http.MethodPatch, u, mustToken(t, srv, tenantA, clientRO), `{"successCount":4}`, nil); res.status != http.StatusOK {
		t.Errorf("PATCH with a token issued after the grant: %d %s, want 200", res.status, res.body)
	}
	if err := srv.Grant(tenantA, clientRO); err != nil {
		t.Fatal(err)
	}
	if res := call(t, srv.Client(), http.MethodGet, u, mustToken(t, srv, tenantA, clientRO), "", nil); res.status != http.StatusForbidden {
		t.Errorf("GET after every permission was removed: %d, want 403", res.status)
	}
	if err := srv.Grant(tenantB, clientRO, PermissionRead); err == nil {
		t.Error("Grant to an app that is not registered succeeded")
	}
}

func TestNotFound(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddApp(App{TenantID: tenantB, ClientID: clientRW})
	cases := map[string]struct {
		tenant, method, path string
		wantStatus           int
		wantCode             string
	}{
		"unknown configuration GET":       {tenantA, http.MethodGet, overviewPath("v1.0", "00000000-0000-4000-8000-000000000000"), http.StatusNotFound, "ResourceNotFound"},
		"unknown configuration PATCH":     {tenantA, http.MethodPatch, overviewPath("beta", "00000000-0000-4000-8000-000000000000"), http.StatusNotFound, "ResourceNotFound"},
		"configuration of another tenant": {tenantB, http.MethodGet, overviewPath("v1.0", configA), http.StatusNotFound, "ResourceNotFound"},
		"ids and segments ignore case":    {tenantA, http.MethodGet, "/V1.0/DeviceManagement/deviceconfigurations/" + strings.ToUpper(configA) + "/userStatusOverview", http.StatusOK, ""},
		"another resource":                {tenantA, http.MethodGet, "/v1.0/deviceManagement/deviceCompliancePolicies", http.StatusBadRequest, "BadRequest"},
		"outside Graph":                   {tenantA, http.MethodGet, "/v2.0/me", http.StatusNotFound, "ResourceNotFound"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := call(t, srv.Client(), tc.method, srv.URL()+tc.path, mustToken(t, srv, tc.tenant, clientRW), `{}`, nil)
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tc.wantStatus, res.body)
			}
			if tc.wantCode != "" && res.graphError(t).Code != tc.wantCode {
				t.Errorf("code %q, want %q", res.graphError(t).Code, tc.wantCode)
			}
		})
	}
}

func TestPatchBadRequest(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	before, _ := srv.Overview(tenantA, configA)
	cases := map[string]struct {
		version, body, wantMessage string
	}{
		"not JSON":                         {"v1.0", `{"successCount":`, "Unable to read JSON"},
		"empty body":                       {"v1.0", ``, "Empty Payload"},
		"an array":                         {"v1.0", `[{"successCount":1}]`, "StartArray"},
		"the documentation's Integer":      {"v1.0", `{"successCount":"Integer"}`, "Edm.Int32"},
		"a number in a string":             {"v1.0", `{"successCount":"12"}`, "Edm.Int32"},
		"a boolean":                        {"v1.0", `{"failedCount":true}`, "Edm.Int32"},
		"a fraction":                       {"v1.0", `{"pendingCount":1.5}`, "'1.5'"},
		"an exponent":                      {"v1.0", `{"pendingCount":1e3}`, "'1e3'"},
		"above Int32":                      {"v1.0", `{"errorCount":2147483648}`, "'2147483648'"},
		"below Int32":                      {"v1.0", `{"errorCount":-2147483649}`, "'-2147483649'"},
		"null":                             {"v1.0", `{"successCount":null}`, "null value"},
		"unknown property":                 {"v1.0", `{"successCount":1,"warningCount":1}`, "'warningCount' does not exist"},
		"conflictCount on v1.0":            {"v1.0", `{"conflictCount":1}`, "'conflictCount' does not exist"},
		"duplicate property":               {"v1.0", `{"successCount":1,"successCount":2}`, "Duplicate property"},
		"the documentation's timestamp":    {"v1.0", `{"lastUpdateDateTime":"String (timestamp)"}`, "Edm.DateTimeOffset"},
		"a date without time":              {"beta", `{"lastUpdateDateTime":"2026-11-28"}`, "Edm.DateTimeOffset"},
		"a timestamp without zone":         {"beta", `{"lastUpdateDateTime":"2026-11-28T10:00:00"}`, "Edm.DateTimeOffset"},
		"a timestamp as a number":          {"beta", `{"lastUpdateDateTime":1764324000}`, "Edm.DateTimeOffset"},
		"another @odata.type":              {"beta", `{"@odata.type":"#microsoft.graph.deviceConfiguration"}`, "could not be resolved"},
		"a changed id":                     {"beta", `{"id":"something-else"}`, "cannot be changed"},
		"a valid property, then a bad one": {"beta", `{"successCount":99,"failedCount":"x"}`, "Edm.Int32"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := call(t, srv.Client(), http.MethodPatch, srv.URL()+overviewPath(tc.version, configA), tok, tc.body, nil)
			if res.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.status, res.body)
			}
			e := res.graphError(t)
			if e.Code != "BadRequest" || !strings.Contains(e.Message, tc.wantMessage) {
				t.Errorf("error %+v, want BadRequest mentioning %q", e, tc.wantMessage)
			}
		})
	}
	if after, _ := srv.Overview(tenantA, configA); after != before {
		t.Errorf("a refused PATCH changed the state: %+v", after)
	}
}

func TestPatchAccepts(t *testing.T) {
	srv := newTestServer(t, Options{})
	tok := mustToken(t, srv, tenantA, clientRW)
	cases := map[string]struct {
		version, body string
	}{
		"an empty object":              {"v1.0", `{}`},
		"@odata.type without #":        {"v1.0", `{"@odata.type":"microsoft.graph.deviceConfigurationUserOverview"}`},
		"the same id":                  {"v1.0", `{"id":"` + configA + `"}`},
		"the extremes of Int32":        {"beta", `{"pendingCount":-2147483648,"conflictCount":2147483647}`},
		"fractional seconds":           {"beta", `{"lastUpdateDateTime":"2026-11-28T10:00:00.1234567Z"}`},
		"whitespace around everything": {"v1.0", " \n{ \"successCount\" : 5 }\n "},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := call(t, srv.Client(), http.MethodPatch, srv.URL()+overviewPath(tc.version, configA), tok, tc.body, nil)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
		})
	}
}

// FuzzParsePatch checks that no body makes the parser panic, and that whatever it accepts
// applies and renders as valid JSON.
func FuzzParsePatch(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"successCount":12,"failedCount":0}`, `{"successCount":"Integer"}`,
		`{"lastUpdateDateTime":"String (timestamp)"}`, `{"lastUpdateDateTime":"2026-11-28T10:00:00Z"}`,
		`{"@odata.type":"#microsoft.graph.deviceConfigurationUserOverview","conflictCount":1}`,
		`{"a":1,"a":2}`, `[1]`, `null`, `{"errorCount":2147483648}`, ``, `{`,
	} {
		f.Add([]byte(seed), true, false)
	}
	f.Add([]byte(`{"notApplicablePlatformCount":3,"conflictCount":1}`), true, true)
	f.Fuzz(func(t *testing.T, body []byte, beta, device bool) {
		route := graphRoute{apiVersion: "v1.0", configurationID: "x", entity: entity.UserOverview}
		if beta {
			route.apiVersion = "beta"
		}
		if device {
			route.entity = entity.DeviceOverview
		}
		p, err := parsePatch(body, route.entity, route.apiVersion)
		if err != nil {
			if _, ok := err.(invalidBody); !ok && json.Valid(body) {
				t.Errorf("a valid JSON body got an unworded error: %v", err)
			}
			return
		}
		o := Overview{ID: "x"}
		p.apply(&o)
		if !json.Valid(marshalEntity(o, "https://h", route, nil)) {
			t.Errorf("entity after %q is not JSON", body)
		}
	})
}
