package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// PermissionAuditLog is the application permission that Graph's "List auditEvents" names first
// (least privileged) for GET /deviceManagement/auditEvents, on v1.0 and beta alike. The
// operator needs it for nothing else: a connection asks for the audit log only when it opts in.
const PermissionAuditLog = "DeviceManagementApps.Read.All"

// AuditEvent is one entry of Intune's audit log (Graph's auditEvent): who did what, to which
// resources, when. It holds what naming the author of a change needs; decoding ignores the other
// properties and the @odata.* annotations. Every string is as clean() leaves it: valid UTF-8,
// without control characters, at most maxMessage bytes.
type AuditEvent struct {
	// ID is the event's key.
	ID string `json:"id"`
	// Activity is the friendly name of the activity, e.g. "Patch DeviceConfiguration".
	Activity string `json:"activity"`
	// ActivityDateTime is when the activity was performed (Graph: "in UTC"); the zero time when
	// the event does not say.
	ActivityDateTime time.Time `json:"activityDateTime"`
	// ActivityOperationType is the HTTP operation of the activity, e.g. "Patch".
	ActivityOperationType string `json:"activityOperationType"`
	// ActivityResult is the result of the activity, e.g. "Success".
	ActivityResult string `json:"activityResult"`
	// Actor is the user and the app behind the activity.
	Actor AuditActor `json:"actor"`
	// Resources are the resources it modified.
	Resources []AuditResource `json:"resources"`
}

// AuditActor is the Entra ID user and app of an audit event (Graph's auditActor).
type AuditActor struct {
	// Type is the actor's type as Intune names it (e.g. "ItPro" for an administrator).
	Type string `json:"type"`
	// UserPrincipalName is the user's UPN; "" for an app acting as itself.
	UserPrincipalName string `json:"userPrincipalName"`
	// UserID is the user's object id.
	UserID string `json:"userId"`
	// ApplicationID is the Entra ID application (client) id of the app that made the call.
	ApplicationID string `json:"applicationId"`
	// ApplicationDisplayName is the app's name.
	ApplicationDisplayName string `json:"applicationDisplayName"`
	// ServicePrincipalName is the app's service principal name.
	ServicePrincipalName string `json:"servicePrincipalName"`
}

// AuditResource is a resource an audit event modified (Graph's auditResource).
type AuditResource struct {
	// ResourceID is the resource's id.
	ResourceID string `json:"resourceId"`
	// Type is the resource's type as Intune names it.
	Type string `json:"type"`
	// DisplayName is the resource's name.
	DisplayName string `json:"displayName"`
	// ModifiedProperties are the properties the activity changed, with their old and new values.
	ModifiedProperties []AuditProperty `json:"modifiedProperties"`
}

// AuditProperty is one property an audit event changed (Graph's auditProperty).
type AuditProperty struct {
	DisplayName string `json:"displayName"`
	OldValue    string `json:"oldValue"`
	NewValue    string `json:"newValue"`
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	// Events are the page's events, in the order Graph served them.
	Events []AuditEvent
	// NextLink is the URL of the next page, checked to be the audit log's on the client's Graph
	// endpoint; "" on the last page.
	NextLink string
	// RequestID is Graph's request-id of the page.
	RequestID string
}

// AuditCalls read Intune's audit log. The calls a tenant's Line gives its jobs implement them.
type AuditCalls interface {
	// AuditEvents reads one page of the tenant's audit log: the first page of the events
	// performed at or after since ($filter=activityDateTime ge since, to the second), or, when
	// next is not "", the page next names (an AuditPage's NextLink). Like the other calls it
	// sends one request (one more with a fresh token after a 401, or after a 403 at most once a
	// minute) and never retries or sleeps. A 403 is an *Error classified KindForbidden: the app
	// lacks PermissionAuditLog.
	AuditEvents(ctx context.Context, since time.Time, next string) (AuditPage, error)
}

// The bounds of a page of the audit log, which is untrusted input like every answer: a page of
// more events is refused rather than read. Graph does not document the page size of auditEvents;
// Graph's collections serve at most a thousand items to a page.
const maxAuditPageEvents = 1000

// errMalformedAuditPage is the cause of an *Error for an answer that is not a page of the audit
// log.
var errMalformedAuditPage = errors.New("response body is not a valid page of Intune's audit log")

// auditEventsSegment is the audit log's path under deviceManagement.
const auditEventsSegment = "/auditEvents"

// auditURL is the URL of the audit log, /{version}/deviceManagement/auditEvents.
func (c *client) auditURL() string {
	return strings.TrimSuffix(c.base, "/deviceConfigurations") + auditEventsSegment
}

// AuditFilter is the $filter of the first page of the events performed at or after since: the
// only kind of clause the operator sends. Graph's "List auditEvents" documents no query
// parameter; activityDateTime is the log's DateTimeOffset, and a range on it is what the Intune
// admin center and public tools send. The rest (the resource, the end of the range, the newest
// event) is filtered by the caller.
func AuditFilter(since time.Time) string {
	return "activityDateTime ge " + since.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// AuditEvents implements AuditCalls.
func (c *client) AuditEvents(ctx context.Context, since time.Time, next string) (AuditPage, error) {
	u := next
	if u == "" {
		if since.IsZero() {
			// The whole log of a tenant (a year of it) is never read: a look-up is always bounded.
			return AuditPage{}, &Error{Err: errors.New("the audit log is read from a time on, and none was given")}
		}
		u = c.auditURL() + "?$filter=" + strings.ReplaceAll(url.QueryEscape(AuditFilter(since)), "+", "%20")
	} else if err := c.checkAuditLink(next); err != nil {
		return AuditPage{}, &Error{Err: err}
	}
	resp, err := c.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return AuditPage{}, asError(err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return AuditPage{}, answerError(resp, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return AuditPage{}, newResponseError(resp, body, c.pacer.Now())
	}
	if err := checkJSONLabel(resp, errMalformedAuditPage); err != nil {
		return AuditPage{}, answerError(resp, err)
	}
	p, err := decodeAuditPage(body)
	if err == nil && p.NextLink != "" {
		err = c.checkAuditLink(p.NextLink)
	}
	if err != nil {
		return AuditPage{}, answerError(resp, err)
	}
	p.RequestID = clean(resp.Header.Get(headerRequestID))
	return p, nil
}

// checkAuditLink accepts a next link only to the audit log on the Graph endpoint the client calls:
// the token goes with it, and a link elsewhere (a hostile or broken answer) must take it nowhere
// else, nor make the client read another collection as the audit log.
func (c *client) checkAuditLink(link string) error {
	u, err := url.Parse(link)
	base, berr := url.Parse(c.auditURL())
	if err != nil || berr != nil || u.Scheme != base.Scheme || u.Host != base.Host || !strings.EqualFold(u.Path, base.Path) {
		host := ""
		if berr == nil {
			host = base.Host
		}
		return fmt.Errorf("%w: @odata.nextLink %q is not the audit log on the Graph endpoint %s", errMalformedAuditPage, clean(link), host)
	}
	return nil
}

// auditPageWire is a page of the audit log as Graph serves it.
type auditPageWire struct {
	Value    *[]auditEventWire `json:"value"`
	NextLink string            `json:"@odata.nextLink"`
}

// auditEventWire is an event as Graph serves it: its time is parsed apart, so that a time of
// another type or form says so.
type auditEventWire struct {
	AuditEvent
	ActivityDateTime *string `json:"activityDateTime"`
}

// decodeAuditPage decodes a page of the audit log and holds it to what the operator writes of it:
// an object with a value array of at most maxAuditPageEvents events, each property of the type
// Graph documents (strings, an RFC 3339 activityDateTime in years 0001 to 9999), valid UTF-8.
// Every string is cleaned.
func decodeAuditPage(body []byte) (AuditPage, error) {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return AuditPage{}, fmt.Errorf("%w: not a JSON object", errMalformedAuditPage)
	}
	if !utf8.Valid(trimmed) {
		return AuditPage{}, fmt.Errorf("%w: it is not valid UTF-8", errMalformedAuditPage)
	}
	var w auditPageWire
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return AuditPage{}, fmt.Errorf("%w: %s", errMalformedAuditPage, describeJSONError(err))
	}
	if w.Value == nil {
		return AuditPage{}, fmt.Errorf("%w: it has no value array", errMalformedAuditPage)
	}
	if n := len(*w.Value); n > maxAuditPageEvents {
		return AuditPage{}, fmt.Errorf("%w: it holds %d events, more than %d", errMalformedAuditPage, n, maxAuditPageEvents)
	}
	p := AuditPage{Events: make([]AuditEvent, len(*w.Value)), NextLink: w.NextLink}
	for i, ew := range *w.Value {
		e := ew.AuditEvent
		if ew.ActivityDateTime != nil {
			t, err := time.Parse(time.RFC3339Nano, *ew.ActivityDateTime)
			if err != nil {
				return AuditPage{}, fmt.Errorf("%w: the activityDateTime of event %q is not an RFC 3339 time", errMalformedAuditPage, clean(e.ID))
			}
			e.ActivityDateTime = t
		}
		if err := e.clean(); err != nil {
			return AuditPage{}, fmt.Errorf("%w: %v", errMalformedAuditPage, err)
		}
		p.Events[i] = e
	}
	return p, nil
}

// clean holds an event to what status and events can carry: its time in the years RFC 3339 can
// write, and each string cleaned.
func (e *AuditEvent) clean() error {
	if y := e.ActivityDateTime.UTC().Year(); !e.ActivityDateTime.IsZero() && (y < 1 || y > 9999) {
		return fmt.Errorf("the activityDateTime of event %q is outside the years 0001 to 9999", clean(e.ID))
	}
	e.ActivityDateTime = e.ActivityDateTime.UTC()
	for _, s := range []*string{&e.ID, &e.Activity, &e.ActivityOperationType, &e.ActivityResult,
		&e.Actor.Type, &e.Actor.UserPrincipalName, &e.Actor.UserID, &e.Actor.ApplicationID,
		&e.Actor.ApplicationDisplayName, &e.Actor.ServicePrincipalName} {
		*s = clean(*s)
	}
	for i := range e.Resources {
		r := &e.Resources[i]
		r.ResourceID, r.Type, r.DisplayName = clean(r.ResourceID), clean(r.Type), clean(r.DisplayName)
		for j := range r.ModifiedProperties {
			m := &r.ModifiedProperties[j]
			m.DisplayName, m.OldValue, m.NewValue = clean(m.DisplayName), clean(m.OldValue), clean(m.NewValue)
		}
	}
	return nil
}
