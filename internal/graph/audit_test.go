package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// auditEvents reads one page of the audit log as a BackgroundJob of c's tenant, as the operator
// does.
func auditEvents(t *testing.T, c Client, since time.Time, next string) (AuditPage, error) {
	t.Helper()
	var page AuditPage
	err := runJob(t, c, BackgroundJob, func(ctx context.Context, calls Calls) error {
		ac, ok := calls.(AuditCalls)
		if !ok {
			t.Fatalf("a job's calls (%T) do not read the audit log", calls)
		}
		var err error
		page, err = ac.AuditEvents(ctx, since, next)
		return err
	})
	return page, err
}

// The audit log as the emulator serves it: the client reads the events since a time, a page at a
// time, and takes what naming the author of a change needs.
func TestAuditEventsFromTheEmulator(t *testing.T) {
	e := newEmulator(t, graphtest.Options{PageSize: 2})
	if err := e.Grant(testTenant, testClient, graphtest.PermissionReadWrite, graphtest.PermissionAuditRead); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, e.config(), fastOptions())
	since := time.Now().Add(-time.Second)
	e.AddAuditEvent(testTenant, graphtest.AuditEvent{ID: "before", ActivityDateTime: since.Add(-time.Hour)})
	n := int32(12)
	if _, err := c.Patch(testContext(t), UserOverview, configID, Fields{SuccessCount: &n}); err != nil {
		t.Fatal(err)
	}
	person, _ := e.Change(graphtest.PortalUser{UserPrincipalName: "alice@contoso.com", UserID: "u-1"}, testTenant, configID,
		graphtest.UserStatusOverview, func(o *graphtest.Overview) { o.FailedCount = 9 })
	e.AddAuditEvent(testTenant, graphtest.AuditEvent{ID: "third", ActivityDateTime: person.ActivityDateTime.Add(time.Millisecond)})

	var events []AuditEvent
	pages := 0
	for next := ""; ; {
		p, err := auditEvents(t, c, since, next)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		events = append(events, p.Events...)
		if p.RequestID == "" {
			t.Error("a page without its request-id")
		}
		if next = p.NextLink; next == "" {
			break
		}
	}
	if pages != 2 || len(events) != 3 {
		t.Fatalf("%d pages of %d events, want 2 pages of the 3 events since %s", pages, len(events), since)
	}
	got := events[1]
	want := AuditEvent{
		ID: person.ID, Activity: "Patch DeviceConfigurationUserOverview", ActivityDateTime: person.ActivityDateTime,
		ActivityOperationType: "Patch", ActivityResult: "Success",
		Actor: AuditActor{Type: "ItPro", UserPrincipalName: "alice@contoso.com", UserID: "u-1",
			ApplicationID: graphtest.IntunePortalAppID, ApplicationDisplayName: graphtest.IntunePortalAppName},
		Resources: []AuditResource{{ResourceID: configID, Type: "deviceConfigurationUserOverview", DisplayName: configID,
			ModifiedProperties: []AuditProperty{{DisplayName: "failedCount", OldValue: "5", NewValue: "9"}}}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the person's event (-want +got):\n%s", d)
	}
	if app := events[2]; app.Actor.ApplicationID != testClient || app.Actor.UserPrincipalName != "" {
		t.Errorf("the PATCH's actor is %+v, want the app %s", app.Actor, testClient)
	}

	// Every page was a call of the audit log, counted by the tenant's budget like any read.
	calls := 0
	for _, r := range e.graphRequests() {
		if strings.HasSuffix(r.Path, "/deviceManagement/auditEvents") {
			calls++
		}
	}
	if calls != 2 {
		t.Errorf("%d calls of the audit log, want 2 (one a page)", calls)
	}
}

// An app without the permission is refused with 403: a failure that needs a person.
func TestAuditEventsForbidden(t *testing.T) {
	e := newEmulator(t, graphtest.Options{})
	c := e.client(t, e.config(), fastOptions())
	_, err := auditEvents(t, c, time.Now().Add(-time.Minute), "")
	got := Classify(err)
	if got.Kind != KindForbidden || got.Class != ClassNeedsPerson {
		t.Fatalf("classified %s %s (%s), want a Forbidden that needs a person", got.Class, got.Kind, got.Description)
	}
	if !strings.Contains(err.Error(), PermissionAuditLog) {
		t.Errorf("the error %q does not carry Graph's word on the permission", err)
	}
}

// The request is the documented list, with the one filter the operator sends: a range on
// activityDateTime, to the second, encoded so that Graph reads the spaces as spaces.
func TestAuditEventsRequest(t *testing.T) {
	var (
		mu    sync.Mutex
		query []string
	)
	h := hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		query = append(query, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		answerWith(200, jsonType, `{"value":[]}`)(w, r)
	})
	c := hostileClient(t, h, Options{})
	since := time.Date(2026, 11, 28, 11, 0, 30, 999_000_000, time.FixedZone("CET", 3600))
	p, err := auditEvents(t, c, since, "")
	if err != nil || len(p.Events) != 0 || p.NextLink != "" {
		t.Fatalf("an empty page: %+v, %v", p, err)
	}
	want := "/v1.0/deviceManagement/auditEvents?$filter=activityDateTime%20ge%202026-11-28T10%3A00%3A30Z"
	if len(query) != 1 || query[0] != want {
		t.Errorf("requested %q, want %q", query, want)
	}
	if _, err := auditEvents(t, c, time.Time{}, ""); err == nil {
		t.Error("read the audit log from no time on: the whole of it")
	}
	if len(query) != 1 {
		t.Errorf("a read from no time on was sent: %q", query)
	}
}

// What Graph answers is untrusted input: a page that is not a page of the audit log, holds
// properties of other types than Graph documents, more events than a page can, or a next link
// elsewhere, is an unreadable answer that names the host; none of it is taken.
func TestUntrustedAuditPages(t *testing.T) {
	event := func(props string) string {
		return `{"value":[{"id":"e1","activityDateTime":"2026-11-28T10:00:00Z","actor":{"userPrincipalName":"alice@contoso.com"},` + props + `}]}`
	}
	var many strings.Builder
	many.WriteString(`{"value":[`)
	for i := range maxAuditPageEvents + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		many.WriteString(`{"id":"e"}`)
	}
	many.WriteString(`]}`)
	cases := map[string]struct {
		body, contentType, says string
	}{
		"not an object":                {body: `[]`, says: "not a JSON object"},
		"no value":                     {body: `{"@odata.context":"x"}`, says: "it has no value array"},
		"a value that is not an array": {body: `{"value":{"id":"e1"}}`, says: "holds a JSON object"},
		"an actor that is a string":    {body: `{"value":[{"id":"e1","actor":"alice"}]}`, says: "holds a JSON string"},
		"a UPN that is a number":       {body: `{"value":[{"id":"e1","actor":{"userPrincipalName":7}}]}`, says: "holds a JSON number"},
		"a resourceId that is a list":  {body: event(`"resources":[{"resourceId":["a"]}]`), says: "holds a JSON array"},
		"an old value that is a number": {
			body: event(`"resources":[{"resourceId":"a","modifiedProperties":[{"displayName":"successCount","oldValue":3}]}]`),
			says: "holds a JSON number",
		},
		"a time that is not RFC 3339": {body: `{"value":[{"id":"e1","activityDateTime":"28/11/2026"}]}`, says: "not an RFC 3339 time"},
		"a time that is a number":     {body: `{"value":[{"id":"e1","activityDateTime":1764324000}]}`, says: "holds a JSON number"},
		"a time status cannot write":  {body: `{"value":[{"id":"e1","activityDateTime":"9999-12-31T23:00:00-05:00"}]}`, says: "outside the years 0001 to 9999"},
		"a UPN that is not UTF-8":     {body: "{\"value\":[{\"id\":\"e1\",\"actor\":{\"userPrincipalName\":\"al\xffce\"}}]}", says: "not valid UTF-8"},
		"more events than a page":     {body: many.String(), says: fmt.Sprintf("more than %d", maxAuditPageEvents)},
		"HTML":                        {body: `{"value":[]}`, contentType: "text/html", says: `it is labelled "text/html", not JSON`},
		"a next link to another host": {body: `{"value":[],"@odata.nextLink":"https://graph.evil.example/v1.0/deviceManagement/auditEvents?$skiptoken=x"}`, says: "is not the audit log on the Graph endpoint"},
		"a next link to another list": {body: `{"value":[],"@odata.nextLink":"%s/v1.0/deviceManagement/deviceConfigurations"}`, says: "is not the audit log on the Graph endpoint"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = jsonType
			}
			var h *hostile
			h = hostileGraph(t, func(w http.ResponseWriter, r *http.Request) {
				body := tc.body
				if strings.Contains(body, "%s") {
					body = fmt.Sprintf(body, h.URL)
				}
				answerWith(200, ct, body)(w, r)
			})
			c := hostileClient(t, h, Options{Hosts: allowOnly("127.0.0.1")})
			p, err := auditEvents(t, c, time.Now(), "")
			if err == nil {
				t.Fatalf("the answer was taken as a page: %+v", p)
			}
			got := Classify(err)
			if got.Kind != KindUnreadableAnswer || got.Class != ClassRetryable {
				t.Errorf("classified %s (%s), want a retryable UnreadableAnswer", got.Kind, got.Description)
			}
			if !strings.Contains(got.Description, tc.says) || !strings.Contains(got.Description, `"127.0.0.1"`) {
				t.Errorf("description %q does not say %q and name the host", got.Description, tc.says)
			}
		})
	}
}

// A next link the caller hands back is checked again before the token goes with it.
func TestAuditNextLinkCheckedBeforeItIsFollowed(t *testing.T) {
	h := hostileGraph(t, answerWith(200, jsonType, `{"value":[]}`))
	c := hostileClient(t, h, Options{})
	for _, link := range []string{
		"https://graph.evil.example/v1.0/deviceManagement/auditEvents",
		h.URL + "/v1.0/deviceManagement/deviceConfigurations",
		"http://" + strings.TrimPrefix(h.URL, "https://") + "/v1.0/deviceManagement/auditEvents",
	} {
		if _, err := auditEvents(t, c, time.Time{}, link); err == nil {
			t.Errorf("followed %s", link)
		}
	}
	for _, r := range h.seen() {
		if strings.Contains(r.path, "deviceManagement") {
			t.Errorf("sent %s %s", r.method, r.path)
		}
	}
}

// Decoding keeps Graph's nulls as empty strings, takes the time in UTC and cleans every string: a
// name with control characters or of any length cannot reach an event or status as it came.
func TestDecodeAuditPage(t *testing.T) {
	long := strings.Repeat("x", 2*maxMessage)
	body := `{"@odata.context":"c","value":[{"@odata.type":"#microsoft.graph.auditEvent","id":"e1","displayName":"d",` +
		`"activityDateTime":"2026-11-28T11:00:00.1234567+01:00","activityResult":null,` +
		`"actor":{"type":"ItPro","userPrincipalName":"alice@contoso.com\n\u0007bob","applicationDisplayName":"` + long + `","userPermissions":["*"],"ipAddress":null},` +
		`"resources":[{"resourceId":"r","modifiedProperties":null}],"category":"DeviceConfiguration"}],"@odata.nextLink":"n"}`
	p, err := decodeAuditPage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	e := p.Events[0]
	if !e.ActivityDateTime.Equal(time.Date(2026, 11, 28, 10, 0, 0, 123456700, time.UTC)) || e.ActivityDateTime.Location() != time.UTC {
		t.Errorf("activityDateTime %s", e.ActivityDateTime)
	}
	if e.Actor.UserPrincipalName != "alice@contoso.com bob" {
		t.Errorf("UPN %q, want the control characters gone", e.Actor.UserPrincipalName)
	}
	if n := len(e.Actor.ApplicationDisplayName); n > maxMessage {
		t.Errorf("a display name of %d bytes kept, at most %d", n, maxMessage)
	}
	if e.ActivityResult != "" || p.NextLink != "n" || len(e.Resources) != 1 || e.Resources[0].ModifiedProperties != nil {
		t.Errorf("decoded %+v", p)
	}
}

func FuzzDecodeAuditPage(f *testing.F) {
	f.Add([]byte(`{"value":[{"id":"e1","activityDateTime":"2026-11-28T10:00:00Z","actor":{"userPrincipalName":"a"},"resources":[{"resourceId":"r"}]}]}`))
	f.Add([]byte(`{"value":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeAuditPage(body)
		if err != nil {
			return
		}
		for _, e := range p.Events {
			if y := e.ActivityDateTime.Year(); !e.ActivityDateTime.IsZero() && (y < 1 || y > 9999) {
				t.Errorf("kept a time status cannot write: %s", e.ActivityDateTime)
			}
			for _, s := range []string{e.ID, e.Actor.UserPrincipalName, e.Actor.ApplicationDisplayName} {
				if clean(s) != s {
					t.Errorf("kept a string clean() changes: %q", s)
				}
			}
		}
	})
}
