package graphtest

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

// Intune's audit log, as the emulator keeps it: every write it accepts (a PATCH of an overview)
// and every change a test makes as a person in the Intune admin center (Change) adds an event,
// which GET /{v1.0|beta}/deviceManagement/auditEvents serves, newest first.

// Permissions of the audit log. Graph's "List auditEvents" names DeviceManagementApps.Read.All
// (least privileged) and DeviceManagementApps.ReadWrite.All, on v1.0 and beta; an app granted
// neither is refused the list with 403. Apps added without Permissions have neither: grant one
// (AddApp, Grant) to let an app read the log.
const (
	PermissionAuditRead      = "DeviceManagementApps.Read.All"
	PermissionAuditReadWrite = "DeviceManagementApps.ReadWrite.All"
)

// IntunePortalAppID and IntunePortalAppName name the app a person's change in the Intune admin
// center is made through, as the audit log names it.
const (
	IntunePortalAppID   = "5926fc8e-304e-4f59-8bed-58ca97cc39a4"
	IntunePortalAppName = "Microsoft Intune portal extension"
)

// Actor types the emulator writes: a person in the admin center, and an app acting as itself.
const (
	ActorTypeUser        = "ItPro"
	ActorTypeApplication = "Application"
)

// maxAuditEvents bounds each tenant's audit log: past it, the oldest half is dropped, so that a
// long-running emulator (hack/graphsim) keeps its memory flat.
const maxAuditEvents = 10_000

// AuditEvent is one entry of the audit log, with the properties of Graph's auditEvent.
type AuditEvent struct {
	ID                    string          `json:"id"`
	DisplayName           string          `json:"displayName"`
	ComponentName         string          `json:"componentName"`
	Actor                 AuditActor      `json:"actor"`
	Activity              string          `json:"activity"`
	ActivityDateTime      time.Time       `json:"activityDateTime"`
	ActivityType          string          `json:"activityType"`
	ActivityOperationType string          `json:"activityOperationType"`
	ActivityResult        string          `json:"activityResult"`
	CorrelationID         string          `json:"correlationId"`
	Resources             []AuditResource `json:"resources"`
	Category              string          `json:"category"`
}

// AuditActor is Graph's auditActor: the user and the app behind an event.
type AuditActor struct {
	Type                   string   `json:"type"`
	UserPermissions        []string `json:"userPermissions"`
	ApplicationID          string   `json:"applicationId"`
	ApplicationDisplayName string   `json:"applicationDisplayName"`
	UserPrincipalName      string   `json:"userPrincipalName"`
	ServicePrincipalName   string   `json:"servicePrincipalName"`
	IPAddress              string   `json:"ipAddress"`
	UserID                 string   `json:"userId"`
}

// AuditResource is Graph's auditResource: a resource an event modified.
type AuditResource struct {
	DisplayName        string          `json:"displayName"`
	ModifiedProperties []AuditProperty `json:"modifiedProperties"`
	Type               string          `json:"type"`
	ResourceID         string          `json:"resourceId"`
}

// AuditProperty is Graph's auditProperty: a property an event changed.
type AuditProperty struct {
	DisplayName string `json:"displayName"`
	OldValue    string `json:"oldValue"`
	NewValue    string `json:"newValue"`
}

// PortalUser is a person who changes Intune in its admin center (Change), as the audit log names
// them.
type PortalUser struct {
	// UserPrincipalName is the person's UPN, such as alice@contoso.com.
	UserPrincipalName string
	// UserID is the person's object id; a GUID is made up when empty.
	UserID string
	// IPAddress is where they signed in from; empty by default.
	IPAddress string
}

// Change changes the overview segment (UserStatusOverview or DeviceStatusOverview) of a
// configuration as user does in the Intune admin center: edit changes a copy of it, which the
// emulator then holds, and the audit log records the change, made through the Intune portal
// extension by user, now. It returns the event, and false (with nothing changed) when the
// configuration was never seeded or segment names no overview.
func (s *Server) Change(user PortalUser, tenantID, configurationID, segment string, edit func(*Overview)) (AuditEvent, bool) {
	e, ok := entityOfSegment(segment)
	if !ok {
		return AuditEvent{}, false
	}
	if user.UserID == "" {
		user.UserID = newGUID()
	}
	actor := AuditActor{
		Type: ActorTypeUser, UserPrincipalName: user.UserPrincipalName, UserID: user.UserID, IPAddress: user.IPAddress,
		ApplicationID: IntunePortalAppID, ApplicationDisplayName: IntunePortalAppName, UserPermissions: []string{"*"},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configurations[newConfigurationKey(tenantID, configurationID)]
	if !ok {
		return AuditEvent{}, false
	}
	old := c.overviews[e.Segment]
	o := old
	edit(&o)
	o.ID = old.ID
	o.LastUpdateDateTime = graphTime(o.LastUpdateDateTime)
	c.overviews[e.Segment] = o
	return s.auditLocked(tenantID, c, e, actor, old, o, newGUID()), true
}

// AuditEvents returns a copy of a tenant's audit log, oldest first.
func (s *Server) AuditEvents(tenantID string) []AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit[strings.ToLower(tenantID)])
}

// AddAuditEvent appends an event to a tenant's audit log as it is: a test's way to serve entries
// no write of the emulator makes (another resource's, a failed activity, an odd actor). Its id
// defaults to a new GUID and its time to now.
func (s *Server) AddAuditEvent(tenantID string, e AuditEvent) {
	if e.ID == "" {
		e.ID = newGUID()
	}
	if e.ActivityDateTime.IsZero() {
		e.ActivityDateTime = time.Now()
	}
	e.ActivityDateTime = graphTime(e.ActivityDateTime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendAuditLocked(tenantID, e)
}

// auditWrite records a PATCH the emulator accepted: the app clientID of tenantID changed entity
// route.entity of route.configurationID from old to o. correlationID is the client's
// client-request-id.
func (s *Server) auditWrite(tenantID, clientID string, route graphRoute, old, o Overview, correlationID string) {
	actor := AuditActor{Type: ActorTypeApplication, ApplicationID: clientID, UserPermissions: []string{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.configurations[newConfigurationKey(tenantID, route.configurationID)]
	if !ok {
		return
	}
	if correlationID == "" {
		correlationID = newGUID()
	}
	s.auditLocked(tenantID, c, route.entity, actor, old, o, correlationID)
}

// auditLocked records that actor changed entity e of configuration c from old to o, now, and
// returns the event. s.mu must be held.
func (s *Server) auditLocked(tenantID string, c *deviceConfiguration, e entity.Entity, actor AuditActor, old, o Overview, correlationID string) AuditEvent {
	var modified []AuditProperty
	oldValues, newValues := old.values(e, "beta"), o.values(e, "beta")
	for i := range newValues {
		if ov, nv := fmt.Sprint(oldValues[i].value), fmt.Sprint(newValues[i].value); ov != nv {
			modified = append(modified, AuditProperty{DisplayName: newValues[i].name, OldValue: ov, NewValue: nv})
		}
	}
	activity := "Patch " + strings.ToUpper(e.Type[:1]) + e.Type[1:]
	ev := AuditEvent{
		ID:                    newGUID(),
		DisplayName:           activity,
		ComponentName:         "DeviceConfiguration",
		Actor:                 actor,
		Activity:              activity,
		ActivityDateTime:      graphTime(time.Now()),
		ActivityType:          activity,
		ActivityOperationType: "Patch",
		ActivityResult:        "Success",
		CorrelationID:         correlationID,
		Resources: []AuditResource{{
			DisplayName: c.props.DisplayName, Type: e.Type, ResourceID: c.id, ModifiedProperties: modified,
		}},
		Category: "DeviceConfiguration",
	}
	s.appendAuditLocked(tenantID, ev)
	return ev
}

// appendAuditLocked appends ev to the tenant's log, dropping the oldest half past maxAuditEvents.
// s.mu must be held.
func (s *Server) appendAuditLocked(tenantID string, ev AuditEvent) {
	if s.audit == nil {
		s.audit = map[string][]AuditEvent{}
	}
	key := strings.ToLower(tenantID)
	log := append(s.audit[key], ev)
	if len(log) > maxAuditEvents {
		log = slices.Clone(log[len(log)-maxAuditEvents/2:])
	}
	s.audit[key] = log
}

// auditQuery is what the query options of a request of the audit log ask for.
type auditQuery struct {
	clauses  []timeClause
	filter   string // $filter as given, repeated in @odata.nextLink
	pageSize int
	top      string
	after    *auditCursor // the page starts after it; nil for the first page
}

// timeClause is one comparison of activityDateTime with a time.
type timeClause struct {
	op string // ge, gt, le, lt, eq
	at time.Time
}

func (c timeClause) admits(t time.Time) bool {
	switch c.op {
	case "ge":
		return !t.Before(c.at)
	case "gt":
		return t.After(c.at)
	case "le":
		return !t.After(c.at)
	case "lt":
		return t.Before(c.at)
	default:
		return t.Equal(c.at)
	}
}

// auditCursor is the last event a page served: the next starts after it in the log's order.
type auditCursor struct {
	at time.Time
	id string
}

// newestFirst orders the log as the emulator serves it: newest first, then by id.
func newestFirst(a, b AuditEvent) int {
	if c := b.ActivityDateTime.Compare(a.ActivityDateTime); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// serveAuditEvents answers GET /{v1.0|beta}/deviceManagement/auditEvents: the token's tenant's
// audit log, newest first, a page at a time, with $filter on activityDateTime (comparisons joined
// by "and"), $top and $skiptoken. Graph's "List auditEvents" documents no query parameter; the
// emulator serves the range on activityDateTime that the Intune admin center sends, and refuses
// any other clause (resources/any(...), an actor) with 400, so that a client relying on one
// learns that it is not documented.
func (s *Server) serveAuditEvents(w http.ResponseWriter, r *http.Request, route graphRoute, claims *accessClaims) int {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return writeGraphError(w, http.StatusMethodNotAllowed, "", "The HTTP method '"+r.Method+"' is not allowed on auditEvents by the emulator.")
	}
	if !claims.hasRole(PermissionAuditRead, PermissionAuditReadWrite) {
		return writeGraphError(w, http.StatusForbidden, "Forbidden",
			"Application is not authorized to perform this operation. Application must have one of the following scopes: "+PermissionAuditRead+", "+PermissionAuditReadWrite)
	}
	q, err := parseAuditQuery(r.URL.Query(), s.pageSize())
	if err != nil {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", err.Error())
	}
	var matched []AuditEvent
	for _, ev := range s.AuditEvents(claims.TenantID) {
		if q.admits(ev) {
			matched = append(matched, ev)
		}
	}
	slices.SortFunc(matched, newestFirst)
	if q.after != nil {
		cursor := AuditEvent{ActivityDateTime: q.after.at, ID: q.after.id}
		i, _ := slices.BinarySearchFunc(matched, cursor, newestFirst)
		for i < len(matched) && newestFirst(matched[i], cursor) <= 0 {
			i++
		}
		matched = matched[i:]
	}
	page, more := matched, false
	if len(page) > q.pageSize {
		page, more = page[:q.pageSize], q.pageSize > 0
	}

	base := "https://" + r.Host + "/" + route.apiVersion
	out := map[string]any{"@odata.context": base + "/$metadata#deviceManagement/auditEvents"}
	if more {
		out["@odata.nextLink"] = base + "/deviceManagement/auditEvents?" + q.next(page[len(page)-1])
	}
	items := make([]map[string]any, len(page))
	for i, ev := range page {
		items[i] = ev.wire()
	}
	out["value"] = items
	b, _ := json.Marshal(out)
	return writeEntity(w, b)
}

// wire is the event as Graph serves it, with its @odata.type annotations and Graph's time format.
func (e AuditEvent) wire() map[string]any {
	resources := make([]map[string]any, len(e.Resources))
	for i, r := range e.Resources {
		props := make([]map[string]any, len(r.ModifiedProperties))
		for j, p := range r.ModifiedProperties {
			props[j] = map[string]any{"@odata.type": "microsoft.graph.auditProperty", "displayName": p.DisplayName, "oldValue": p.OldValue, "newValue": p.NewValue}
		}
		resources[i] = map[string]any{"@odata.type": "microsoft.graph.auditResource", "displayName": r.DisplayName,
			"modifiedProperties": props, "type": r.Type, "resourceId": r.ResourceID}
	}
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	perms := e.Actor.UserPermissions
	if perms == nil {
		perms = []string{}
	}
	return map[string]any{
		"@odata.type":   "#microsoft.graph.auditEvent",
		"id":            e.ID,
		"displayName":   e.DisplayName,
		"componentName": e.ComponentName,
		"actor": map[string]any{
			"@odata.type":            "microsoft.graph.auditActor",
			"type":                   e.Actor.Type,
			"userPermissions":        perms,
			"applicationId":          nullable(e.Actor.ApplicationID),
			"applicationDisplayName": nullable(e.Actor.ApplicationDisplayName),
			"userPrincipalName":      nullable(e.Actor.UserPrincipalName),
			"servicePrincipalName":   nullable(e.Actor.ServicePrincipalName),
			"ipAddress":              nullable(e.Actor.IPAddress),
			"userId":                 nullable(e.Actor.UserID),
		},
		"activity":              e.Activity,
		"activityDateTime":      e.ActivityDateTime.UTC().Format(dateTimeLayout),
		"activityType":          e.ActivityType,
		"activityOperationType": e.ActivityOperationType,
		"activityResult":        e.ActivityResult,
		"correlationId":         e.CorrelationID,
		"resources":             resources,
		"category":              e.Category,
	}
}

// admits reports whether the query's $filter admits ev.
func (q auditQuery) admits(ev AuditEvent) bool {
	for _, c := range q.clauses {
		if !c.admits(ev.ActivityDateTime) {
			return false
		}
	}
	return true
}

// next is the query of the page after the one that ended with last.
func (q auditQuery) next(last AuditEvent) string {
	var parts []string
	if q.filter != "" {
		parts = append(parts, "$filter="+strings.ReplaceAll(url.QueryEscape(q.filter), "+", "%20"))
	}
	if q.top != "" {
		parts = append(parts, "$top="+q.top)
	}
	cursor := last.ActivityDateTime.UTC().Format(time.RFC3339Nano) + "|" + last.ID
	parts = append(parts, "$skiptoken="+base64.RawURLEncoding.EncodeToString([]byte(cursor)))
	return strings.Join(parts, "&")
}

// parseAuditQuery reads $filter, $top and $skiptoken; any other query option is refused.
func parseAuditQuery(query url.Values, serverPageSize int) (auditQuery, error) {
	q := auditQuery{pageSize: serverPageSize}
	for name, values := range query {
		switch name {
		case "$filter", "$top", "$skiptoken":
			if len(values) > 1 {
				return q, refuse("Query option '%s' was specified more than once, but it must be specified at most once.", name)
			}
		default:
			if strings.HasPrefix(name, "$") {
				return q, refuse("The query option '%s' is not supported by the emulator on auditEvents; it serves $filter (on activityDateTime), $top and $skiptoken.", name)
			}
		}
	}
	if f, ok := query["$filter"]; ok {
		clauses, err := parseTimeFilter(f[0])
		if err != nil {
			return q, err
		}
		q.clauses, q.filter = clauses, f[0]
	}
	if top, ok := query["$top"]; ok {
		n, err := strconv.Atoi(top[0])
		if err != nil || n < 0 {
			return q, refuse("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", top[0])
		}
		q.top, q.pageSize = top[0], min(n, serverPageSize)
	}
	if token, ok := query["$skiptoken"]; ok {
		raw, err := base64.RawURLEncoding.DecodeString(token[0])
		at, id, found := strings.Cut(string(raw), "|")
		t, terr := time.Parse(time.RFC3339Nano, at)
		if err != nil || !found || terr != nil {
			return q, refuse("The $skiptoken '%s' is not valid.", token[0])
		}
		q.after = &auditCursor{at: t, id: id}
	}
	return q, nil
}

// parseTimeFilter reads a $filter of comparisons of activityDateTime with a DateTimeOffset
// literal, joined by "and": "activityDateTime ge 2026-11-28T10:00:00Z and activityDateTime lt
// 2026-11-29T00:00:00Z".
func parseTimeFilter(filter string) ([]timeClause, error) {
	var clauses []timeClause
	for _, part := range strings.Split(strings.TrimSpace(filter), " and ") {
		fields := strings.Fields(part)
		if len(fields) != 3 || !strings.EqualFold(fields[0], "activityDateTime") {
			return nil, refuse("Invalid filter clause '%s': the emulator filters auditEvents on activityDateTime only (ge, gt, le, lt or eq a DateTimeOffset, joined by 'and'), since Graph's documentation of List auditEvents names no filter.", strings.TrimSpace(part))
		}
		op := strings.ToLower(fields[1])
		if !slices.Contains([]string{"ge", "gt", "le", "lt", "eq"}, op) {
			return nil, refuse("Invalid filter clause '%s': unsupported operator '%s'.", strings.TrimSpace(part), fields[1])
		}
		at, err := time.Parse(time.RFC3339Nano, fields[2])
		if err != nil {
			return nil, refuse("The DateTimeOffset literal '%s' in $filter is not valid.", fields[2])
		}
		clauses = append(clauses, timeClause{op: op, at: at})
	}
	return clauses, nil
}
