package graphtest

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/overview-operator/overview-operator/internal/graph/entity"
)

// graphRoute is a parsed Graph path.
type graphRoute struct {
	apiVersion      string        // "v1.0" or "beta"
	configurationID string        // "" when the path is not an overview's
	entity          entity.Entity // the overview the path names, when configurationID is set
	list            bool          // the path is the list of device configurations
	audit           bool          // the path is Intune's audit log, deviceManagement/auditEvents
}

// parseGraphPath recognises /{v1.0|beta}/deviceManagement/deviceConfigurations/{id}/{segment},
// where segment is an entity's of the table (userStatusOverview, deviceStatusOverview), and the
// list, /{v1.0|beta}/deviceManagement/deviceConfigurations.
// Graph matches segment names without regard to case; ok is false for paths outside /v1.0 and /beta.
func parseGraphPath(path string) (route graphRoute, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch strings.ToLower(segs[0]) {
	case "v1.0":
		route.apiVersion = "v1.0"
	case "beta":
		route.apiVersion = "beta"
	default:
		return route, false
	}
	if len(segs) == 5 && strings.EqualFold(segs[1], "deviceManagement") &&
		strings.EqualFold(segs[2], "deviceConfigurations") && segs[3] != "" {
		if e, ok := entityOfSegment(segs[4]); ok {
			route.configurationID, route.entity = segs[3], e
		}
	}
	route.list = len(segs) == 3 && strings.EqualFold(segs[1], "deviceManagement") &&
		strings.EqualFold(segs[2], "deviceConfigurations")
	route.audit = len(segs) == 3 && strings.EqualFold(segs[1], "deviceManagement") && strings.EqualFold(segs[2], "auditEvents")
	return route, true
}

// serveGraph answers a Graph call. The checks come in this order: the bearer token (so that an
// anonymous caller learns nothing), throttling, any injected fault, the route, the permission, the
// body, the configuration.
func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request, route graphRoute, rec *Request) int {
	rec.Kind = KindGraph
	rec.APIVersion = route.apiVersion
	rec.ConfigurationID = route.configurationID
	rec.Entity = route.entity.Segment

	var body []byte
	if r.Body != nil && r.Method != http.MethodGet {
		b, raw, err := readBody(w, r)
		rec.Body, rec.ContentEncoding = raw, r.Header.Get("Content-Encoding")
		if err != nil {
			return writeBodyError(w, err)
		}
		rec.Body, body = b, b
	}

	claims, err := s.authenticate(r.Header.Get("Authorization"))
	if claims != nil {
		rec.TenantID, rec.ClientID = claims.TenantID, claims.AppID
	}
	if err != nil {
		return writeGraphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", err.Error())
	}

	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if wait, class := s.admit(rec.Time, claims.TenantID, claims.AppID, write); wait > 0 {
		rec.Throttled = true
		w.Header().Set("Retry-After", formatRetryAfter(wait, s.opts.FractionalRetryAfter))
		scope, information := throttleHeaders(class, claims.TenantID, claims.AppID)
		w.Header().Set(headerThrottleScope, scope)
		w.Header().Set(headerThrottleInformation, information)
		return writeGraphError(w, http.StatusTooManyRequests, "TooManyRequests", "")
	}

	fault, faulted := s.takeFault(false, r.Method, claims.TenantID, route.configurationID, route.entity.Segment)
	if faulted && !s.delay(r, fault) {
		return 0
	}
	switch {
	case faulted && fault.DropConnection:
		return statusDropped
	case faulted && fault.HTMLPage:
		return writeHTMLPage(w, fault.Status)
	case faulted && fault.Body != "":
		return writeBody(w, fault)
	case faulted && fault.Status != 0:
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		if fault.ThrottleScope != "" {
			w.Header().Set(headerThrottleScope, fault.ThrottleScope)
		}
		if fault.ThrottleInformation != "" {
			w.Header().Set(headerThrottleInformation, fault.ThrottleInformation)
		}
		return writeGraphError(w, fault.Status, fault.Code, fault.Message)
	case faulted && fault.MalformedBody:
		w.Header().Set("Content-Type", graphContentType)
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"@odata.context":"`+s.url+`/$metadata#deviceManagement","id":`)
		return http.StatusOK
	}

	if isApprovalList(r.URL.Path) {
		return s.serveApprovals(w, r, claims)
	}
	if route.list {
		return s.serveList(w, r, route, claims)
	}
	if route.audit {
		return s.serveAuditEvents(w, r, route, claims)
	}
	if route.configurationID == "" {
		segment := strings.Trim(r.URL.Path, "/")
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+segment+"'.")
	}
	switch r.Method {
	case http.MethodGet:
		if !claims.hasRole(PermissionRead, PermissionReadWrite) {
			return forbiddenRead(w)
		}
		return s.getOverview(w, r, route, claims.TenantID, rec)
	case http.MethodPatch:
		if !claims.hasRole(PermissionReadWrite) {
			return writeGraphError(w, http.StatusForbidden, "Forbidden", "Application is not authorized to perform this operation. Application must have one of the following scopes: "+PermissionReadWrite)
		}
		if status, held := s.holdForApproval(w, r, route, claims, body); held {
			return status
		}
		return s.patchOverview(w, r, route, claims.TenantID, body, fault, rec)
	default:
		w.Header().Set("Allow", "GET, PATCH")
		return writeGraphError(w, http.StatusMethodNotAllowed, "", "The HTTP method '"+r.Method+"' is not allowed on "+route.entity.Segment+".")
	}
}

// admit decides whether a request that arrived at arrived fits the throttling limits: Graph counts
// a call when it arrives, not when the server gets round to deciding.
func (s *Server) admit(arrived time.Time, tenantID, clientID string, write bool) (time.Duration, throttleClass) {
	if s.throttle == nil {
		return 0, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttle.admit(arrived.Sub(s.started), tenantID, clientID, write)
}

func forbiddenRead(w http.ResponseWriter) int {
	return writeGraphError(w, http.StatusForbidden, "Forbidden", "Application is not authorized to perform this operation. Application must have one of the following scopes: "+PermissionRead+", "+PermissionReadWrite)
}

func notFound(w http.ResponseWriter, configurationID string) int {
	return writeGraphError(w, http.StatusNotFound, "ResourceNotFound",
		intuneMessage("No deviceConfiguration with id '"+configurationID+"' was found.", w.Header().Get("request-id")))
}

func (s *Server) getOverview(w http.ResponseWriter, r *http.Request, route graphRoute, tenantID string, rec *Request) int {
	sel, err := parseSelect(r.URL.Query(), "microsoft.graph."+route.entity.Type, properties(route.entity, route.apiVersion))
	if err != nil {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", err.Error())
	}
	o, ok := s.overview(tenantID, route.configurationID, route.entity.Segment)
	if !ok {
		return notFound(w, route.configurationID)
	}
	rec.Held = &o
	return writeEntity(w, marshalEntity(o, "https://"+r.Host, route, sel))
}

// patchOverview validates the body and applies it, unless the fault says to discard it; it answers
// with the updated entity, or 204 when the fault says so. It notes in rec what Graph holds after it.
func (s *Server) patchOverview(w http.ResponseWriter, r *http.Request, route graphRoute, tenantID string, body []byte, fault Fault, rec *Request) int {
	p, err := parsePatch(body, route.entity, route.apiVersion)
	if err != nil {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", err.Error())
	}
	s.mu.Lock()
	c, ok := s.configurations[newConfigurationKey(tenantID, route.configurationID)]
	if !ok {
		s.mu.Unlock()
		return notFound(w, route.configurationID)
	}
	old := c.overviews[route.entity.Segment]
	if p.id != nil && *p.id != old.ID {
		s.mu.Unlock()
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", "The key property 'id' cannot be changed.")
	}
	o := old
	p.apply(&o)
	held := o
	if fault.DiscardPatch {
		rec.Discarded = true
		held = old
	} else {
		c.overviews[route.entity.Segment] = o
	}
	s.mu.Unlock()
	rec.Held = &held
	s.auditWrite(tenantID, rec.ClientID, route, old, o, rec.ClientRequestID)
	if fault.NoContent {
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	// The answer to a PATCH is the whole entity; $select applies to reads.
	return writeEntity(w, marshalEntity(o, "https://"+r.Host, route, nil))
}

func writeEntity(w http.ResponseWriter, b []byte) int {
	w.Header().Set("Content-Type", graphContentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return http.StatusOK
}
