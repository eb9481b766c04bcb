package graphtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const clientAudit = "44444444-5555-4666-8777-888888888888"

// auditPageBody is one page of the audit log as a client decodes it.
type auditPageBody struct {
	Context  string           `json:"@odata.context"`
	NextLink string           `json:"@odata.nextLink"`
	Value    []map[string]any `json:"value"`
}

// newAuditServer is newTestServer with an app that may read the audit log, and its token.
func newAuditServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv := newTestServer(t, opts)
	srv.AddApp(App{TenantID: tenantA, ClientID: clientAudit, ClientSecret: secret,
		Permissions: []string{PermissionReadWrite, PermissionAuditRead}})
	return srv, mustToken(t, srv, tenantA, clientAudit)
}

func auditURL(srv *Server, filter string) string {
	u := srv.URL() + "/v1.0/deviceManagement/auditEvents"
	if filter != "" {
		u += "?$filter=" + strings.ReplaceAll(url.QueryEscape(filter), "+", "%20")
	}
	return u
}

// readAudit follows @odata.nextLink from first and returns every event.
func readAudit(t *testing.T, srv *Server, token, first string) (events []map[string]any, pages int) {
	t.Helper()
	for next := first; next != ""; pages++ {
		res := call(t, srv.Client(), http.MethodGet, next, token, "", nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", next, res.status, res.body)
		}
		var p auditPageBody
		if err := json.Unmarshal(res.body, &p); err != nil {
			t.Fatalf("page %s: %v", res.body, err)
		}
		events = append(events, p.Value...)
		next = p.NextLink
	}
	return events, pages
}

// Every PATCH the emulator accepts is an event of its tenant's audit log, naming the app that wrote
// (the token's client id), the configuration, and each property it changed; a change a test makes
// as a person in the admin center names the person.
func TestAuditLogRecordsWrites(t *testing.T) {
	srv, tok := newAuditServer(t, Options{})
	before := time.Now()
	u := srv.URL() + overviewPath("v1.0", configA)
	res := call(t, srv.Client(), http.MethodPatch, u, mustToken(t, srv, tenantA, clientRW), `{"successCount":12,"failedCount":1}`,
		map[string]string{"client-request-id": "c0ffee00-0000-4000-8000-000000000000"})
	if res.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", res.status, res.body)
	}
	// A refused PATCH (400) changes nothing and is not recorded.
	if res := call(t, srv.Client(), http.MethodPatch, u, mustToken(t, srv, tenantA, clientRW), `{"successCount":"x"}`, nil); res.status != http.StatusBadRequest {
		t.Fatalf("a bad PATCH: %d", res.status)
	}
	ev, ok := srv.Change(PortalUser{UserPrincipalName: "alice@contoso.com"}, tenantA, configA, UserStatusOverview,
		func(o *Overview) { o.SuccessCount = 40 })
	if !ok {
		t.Fatal("Change found no configuration")
	}
	if got, _ := srv.Overview(tenantA, configA); got.SuccessCount != 40 {
		t.Errorf("after Change, successCount %d, want 40", got.SuccessCount)
	}
	if _, ok := srv.Change(PortalUser{}, tenantA, "00000000-0000-4000-8000-000000000000", UserStatusOverview, func(*Overview) {}); ok {
		t.Error("Change changed a configuration that was never seeded")
	}

	log := srv.AuditEvents(tenantA)
	if len(log) != 2 {
		t.Fatalf("%d events, want the PATCH's and the person's", len(log))
	}
	app := log[0]
	if app.Actor.Type != ActorTypeApplication || app.Actor.ApplicationID != clientRW || app.Actor.UserPrincipalName != "" {
		t.Errorf("the PATCH's actor is %+v, want the app %s", app.Actor, clientRW)
	}
	if app.ActivityOperationType != "Patch" || app.ActivityResult != "Success" || app.CorrelationID != "c0ffee00-0000-4000-8000-000000000000" {
		t.Errorf("the PATCH's event is %+v", app)
	}
	if app.ActivityDateTime.Before(before.Add(-time.Second)) || app.ActivityDateTime.After(ev.ActivityDateTime) {
		t.Errorf("the PATCH's time %s is not between %s and the person's %s", app.ActivityDateTime, before, ev.ActivityDateTime)
	}
	want := []AuditResource{{DisplayName: configA, Type: "deviceConfigurationUserOverview", ResourceID: configA, ModifiedProperties: []AuditProperty{
		{DisplayName: "successCount", OldValue: "3", NewValue: "12"},
	}}}
	if d := cmp.Diff(want, app.Resources); d != "" {
		t.Errorf("the PATCH's resources (-want +got):\n%s", d)
	}
	if ev.Actor.UserPrincipalName != "alice@contoso.com" || ev.Actor.Type != ActorTypeUser || ev.Actor.ApplicationID != IntunePortalAppID || ev.Actor.UserID == "" {
		t.Errorf("the person's actor is %+v", ev.Actor)
	}
	if d := cmp.Diff([]AuditProperty{{DisplayName: "successCount", OldValue: "12", NewValue: "40"}}, ev.Resources[0].ModifiedProperties); d != "" {
		t.Errorf("the person's change (-want +got):\n%s", d)
	}

	// As Graph serves them: newest first, every property Graph documents, the time as Graph writes it.
	events, _ := readAudit(t, srv, tok, auditURL(srv, ""))
	if len(events) != 2 || events[0]["id"] != ev.ID || events[1]["id"] != app.ID {
		t.Fatalf("served %v, want the person's event and then the PATCH's", events)
	}
	actor := events[0]["actor"].(map[string]any)
	if actor["userPrincipalName"] != "alice@contoso.com" || actor["applicationDisplayName"] != IntunePortalAppName {
		t.Errorf("served actor %v", actor)
	}
	if events[1]["actor"].(map[string]any)["userPrincipalName"] != nil {
		t.Error("an app's event serves a userPrincipalName; Graph serves null")
	}
	if at, err := time.Parse(time.RFC3339Nano, events[0]["activityDateTime"].(string)); err != nil || !at.Equal(ev.ActivityDateTime) {
		t.Errorf("served activityDateTime %v (%v), want %s", events[0]["activityDateTime"], err, ev.ActivityDateTime)
	}
}

// The list serves the range of activityDateTime a client filters on, a page at a time, newest
// first; every other filter, and a caller without the permission, is refused.
func TestAuditLogFilterAndPages(t *testing.T) {
	srv, tok := newAuditServer(t, Options{PageSize: 4})
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i := range 10 {
		srv.AddAuditEvent(tenantA, AuditEvent{ID: string(rune('a' + i)), ActivityDateTime: t0.Add(time.Duration(i) * time.Minute)})
	}
	srv.AddAuditEvent(tenantB, AuditEvent{ID: "other tenant", ActivityDateTime: t0.Add(time.Hour)})

	events, pages := readAudit(t, srv, tok, auditURL(srv, "activityDateTime ge 2026-11-28T10:03:00Z"))
	var got []string
	for _, e := range events {
		got = append(got, e["id"].(string))
	}
	if d := cmp.Diff([]string{"j", "i", "h", "g", "f", "e", "d"}, got); d != "" || pages != 2 {
		t.Errorf("%d pages, ids (-want +got):\n%s", pages, d)
	}
	events, _ = readAudit(t, srv, tok, auditURL(srv, "activityDateTime gt 2026-11-28T10:03:00Z and activityDateTime le 2026-11-28T10:05:00Z"))
	if len(events) != 2 {
		t.Errorf("a range of two events served %d", len(events))
	}

	for name, filter := range map[string]string{
		"on a resource": "resources/any(r: r/resourceId eq '" + configA + "')",
		"on the actor":  "actor/userPrincipalName eq 'alice@contoso.com'",
		"not a time":    "activityDateTime ge yesterday",
		"an operator":   "activityDateTime ne 2026-11-28T10:03:00Z",
	} {
		if res := call(t, srv.Client(), http.MethodGet, auditURL(srv, filter), tok, "", nil); res.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, res.status)
		}
	}
	if res := call(t, srv.Client(), http.MethodGet, auditURL(srv, "")+"?$orderby=activityDateTime", tok, "", nil); res.status != http.StatusBadRequest {
		t.Errorf("$orderby: %d, want 400", res.status)
	}

	// The operator's own app, granted only what it needs for the overviews, is refused.
	res := call(t, srv.Client(), http.MethodGet, auditURL(srv, ""), mustToken(t, srv, tenantA, clientRW), "", nil)
	if res.status != http.StatusForbidden || !strings.Contains(res.graphError(t).Message, PermissionAuditRead) {
		t.Errorf("an app without %s: %d %s, want 403 naming it", PermissionAuditRead, res.status, res.body)
	}
	// Granted, it reads the log with a new token (the old one keeps its roles, as in Entra ID).
	if err := srv.Grant(tenantA, clientRW, PermissionReadWrite, PermissionAuditReadWrite); err != nil {
		t.Fatal(err)
	}
	if res := call(t, srv.Client(), http.MethodGet, auditURL(srv, ""), mustToken(t, srv, tenantA, clientRW), "", nil); res.status != http.StatusOK {
		t.Errorf("after the grant: %d %s", res.status, res.body)
	}
}

// The log of a long-running emulator stays bounded.
func TestAuditLogBounded(t *testing.T) {
	srv, _ := newAuditServer(t, Options{})
	for range maxAuditEvents + 1 {
		srv.AddAuditEvent(tenantA, AuditEvent{})
	}
	if n := len(srv.AuditEvents(tenantA)); n > maxAuditEvents {
		t.Errorf("%d events kept, at most %d", n, maxAuditEvents)
	}
}
