package graphtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// Intune's Multi Admin Approval (MAA) for app-only writes, as "Use Multi Admin Approval with the
// Microsoft Graph API" (MicrosoftDocs/memdocs, 2026-05-26) describes it. A configuration under
// RequireApproval is protected by an access policy that does not exclude the app: a PATCH of
// either overview is refused
//
//   - without an x-msft-approval-justification header: 403 (SetApprovalRefusals can make it 400,
//     as an older version of the page and people's reports have it), with the message people
//     report, "Header 'x-msft-approval-justification' is required to request approval";
//   - with one (Base64 of at most 1024 characters): an approval request is created, and the write
//     is refused with 403 ApprovalRequired, the page's message and an x-msft-approval-code header
//     (SetApprovalRefusals can make it 412 with the code BadRequest, as people report it);
//
// and let through when it carries x-msft-approval-code with the id of a request that an approver
// approved (Approve) for this very write: the same tenant, configuration, overview and body. The
// request is then completed. GET /beta/deviceManagement/operationApprovalRequests lists the
// tenant's requests, with $filter=requestId eq '<id>' (or id eq '<id>'), as Graph documents it on
// beta only: on v1.0 the path is an unknown segment. A request that nobody decides expires after
// three days, as people report Intune's fixed expiry.
//
// Where the documentation is silent, the emulator chooses: a write with a code of a request that
// still needs approval is refused again like the one that created it; a code that is unknown,
// of another tenant, of a request rejected, cancelled, expired or completed, or approved for
// another write, is refused with 400 BadRequest; a justification that is not Base64 is refused
// with 400.

// The statuses of an approval request (operationApprovalRequestStatus).
const (
	ApprovalNeedsApproval = "needsApproval"
	ApprovalApproved      = "approved"
	ApprovalRejected      = "rejected"
	ApprovalCancelled     = "cancelled"
	ApprovalCompleted     = "completed"
	ApprovalExpired       = "expired"
)

// approvalExpiry is how long a request waits for a decision before it expires.
const approvalExpiry = 72 * time.Hour

// The headers of Multi Admin Approval.
const (
	headerApprovalJustification = "x-msft-approval-justification"
	headerApprovalCode          = "x-msft-approval-code"
)

// maxJustification is the longest justification Intune takes, in UTF-16 code units (.NET's
// characters).
const maxJustification = 1024

// ApprovalRequest is an approval request the emulator holds, as a test reads it.
type ApprovalRequest struct {
	// Code is the request's id: the x-msft-approval-code of the refusal that created it.
	Code string
	// TenantID and ClientID are the tenant and the app whose write it holds.
	TenantID, ClientID string
	// ConfigurationID and Entity name the overview the write was for (Entity is its segment).
	ConfigurationID, Entity string
	// Body is the body of the write it holds.
	Body []byte
	// Justification is the decoded x-msft-approval-justification of that write.
	Justification string
	// Status is one of the Approval* statuses.
	Status string
	// Requested and Expires are its requestDateTime and expirationDateTime.
	Requested, Expires time.Time
	// Resubmissions counts the writes its code let through (at most one: it is then completed).
	Resubmissions int
}

// ApprovalRefusals are the statuses of the two refusals of a protected write; a zero field is 403,
// as the documentation of 2026-05-26 says.
type ApprovalRefusals struct {
	// MissingJustification is the status of a write without x-msft-approval-justification: 403,
	// or 400 as an older version of the page and people's reports say.
	MissingJustification int
	// RequestCreated is the status of a write that created an approval request: 403
	// (ApprovalRequired), or 412 (BadRequest) as people report it.
	RequestCreated int
}

// approvals is the emulator's Multi Admin Approval; its zero value holds nothing. Guarded by the
// server's mu.
type approvals struct {
	protected map[configurationKey]bool
	requests  map[string]*ApprovalRequest // by lower-case code
	refusals  ApprovalRefusals
}

// RequireApproval puts a device configuration of a tenant under a Multi Admin Approval access
// policy that does not exclude the app (on), or takes it out (off: no policy, or the app excluded
// from it). It holds the writes of both overviews; reads are never held.
func (s *Server) RequireApproval(tenantID, configurationID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.approvals.protected == nil {
		s.approvals.protected = map[configurationKey]bool{}
	}
	key := newConfigurationKey(tenantID, configurationID)
	if on {
		s.approvals.protected[key] = true
	} else {
		delete(s.approvals.protected, key)
	}
}

// SetApprovalRefusals sets the statuses of the refusals of protected writes.
func (s *Server) SetApprovalRefusals(r ApprovalRefusals) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approvals.refusals = r
}

// ApprovalRequests returns copies of a tenant's approval requests, oldest first.
func (s *Server) ApprovalRequests(tenantID string) []ApprovalRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []ApprovalRequest
	for _, r := range s.approvals.requests {
		if strings.EqualFold(r.TenantID, tenantID) {
			r.expire(now)
			c := *r
			c.Body = slices.Clone(r.Body)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b ApprovalRequest) int { return a.Requested.Compare(b.Requested) })
	return out
}

// Approve approves the approval request code, as an approver does in the Intune admin center.
func (s *Server) Approve(code string) error { return s.SetApprovalStatus(code, ApprovalApproved) }

// Reject rejects the approval request code, as an approver does in the Intune admin center.
func (s *Server) Reject(code string) error { return s.SetApprovalStatus(code, ApprovalRejected) }

// SetApprovalStatus sets the status of the approval request code, to any of the Approval*
// statuses: cancelled as its requestor cancels it, expired as if its three days had passed.
func (s *Server) SetApprovalStatus(code, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.approvals.requests[strings.ToLower(code)]
	if !ok {
		return fmt.Errorf("graphtest: no approval request %q", code)
	}
	r.Status = status
	return nil
}

// expire makes a request that waited past its expiry expired.
func (r *ApprovalRequest) expire(now time.Time) {
	if (r.Status == ApprovalNeedsApproval || r.Status == ApprovalApproved) && now.After(r.Expires) {
		r.Status = ApprovalExpired
	}
}

// holdForApproval answers a write of a protected configuration as Multi Admin Approval does, and
// reports whether it answered; a write of a configuration no policy protects, or one an approved
// code lets through, goes on (and the code's request is completed).
func (s *Server) holdForApproval(w http.ResponseWriter, r *http.Request, route graphRoute, claims *accessClaims, body []byte) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &s.approvals
	if !a.protected[newConfigurationKey(claims.TenantID, route.configurationID)] {
		return 0, false
	}
	if code := strings.TrimSpace(r.Header.Get(headerApprovalCode)); code != "" {
		return a.resubmitted(w, code, route, claims, body)
	}
	raw := strings.TrimSpace(r.Header.Get(headerApprovalJustification))
	if raw == "" {
		status := cmpOr(a.refusals.MissingJustification, http.StatusForbidden)
		return writeGraphError(w, status, "", "Header '"+headerApprovalJustification+"' is required to request approval"), true
	}
	text, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", "Header '"+headerApprovalJustification+"' must be Base64-encoded"), true
	}
	if len(utf16.Encode([]rune(string(text)))) > maxJustification {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest",
			fmt.Sprintf("Decoded content of '%s' header must be no greater than %d characters", headerApprovalJustification, maxJustification)), true
	}
	now := time.Now()
	req := &ApprovalRequest{
		Code: newGUID(), TenantID: claims.TenantID, ClientID: claims.AppID,
		ConfigurationID: route.configurationID, Entity: route.entity.Segment,
		Body: slices.Clone(body), Justification: string(text),
		Status: ApprovalNeedsApproval, Requested: graphTime(now), Expires: graphTime(now.Add(approvalExpiry)),
	}
	if a.requests == nil {
		a.requests = map[string]*ApprovalRequest{}
	}
	a.requests[strings.ToLower(req.Code)] = req
	return a.approvalRequired(w, req.Code), true
}

// approvalRequired is the refusal of a write that an approval request holds.
func (a *approvals) approvalRequired(w http.ResponseWriter, code string) int {
	status, errorCode := http.StatusForbidden, "ApprovalRequired"
	if a.refusals.RequestCreated != 0 && a.refusals.RequestCreated != http.StatusForbidden {
		status, errorCode = a.refusals.RequestCreated, "BadRequest"
	}
	w.Header().Set(headerApprovalCode, code)
	return writeGraphError(w, status, errorCode,
		"Approval Required. Request Approval using the request ID returned as part of the x-msft-approval-code response header. x-msft-approval-code: "+code)
}

// resubmitted answers a protected write that carries an approval code.
func (a *approvals) resubmitted(w http.ResponseWriter, code string, route graphRoute, claims *accessClaims, body []byte) (int, bool) {
	req, ok := a.requests[strings.ToLower(code)]
	if !ok || !strings.EqualFold(req.TenantID, claims.TenantID) {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest", "The approval code '"+code+"' is not valid."), true
	}
	req.expire(time.Now())
	switch req.Status {
	case ApprovalNeedsApproval:
		return a.approvalRequired(w, req.Code), true
	case ApprovalApproved:
	default:
		return writeGraphError(w, http.StatusBadRequest, "BadRequest",
			"The approval request '"+req.Code+"' is "+req.Status+": a new approval request must be made and approved."), true
	}
	if !strings.EqualFold(req.ConfigurationID, route.configurationID) || req.Entity != route.entity.Segment || !sameJSON(req.Body, body) {
		return writeGraphError(w, http.StatusBadRequest, "BadRequest",
			"The approval request '"+req.Code+"' was approved for another request: resubmit the original request."), true
	}
	req.Status = ApprovalCompleted
	req.Resubmissions++
	return 0, false
}

// sameJSON reports whether two bodies are the same JSON value (or the same bytes, when either is
// not JSON).
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

func cmpOr(v, fallback int) int {
	if v == 0 {
		return fallback
	}
	return v
}

// isApprovalList reports whether path is the list of approval requests on beta, the only version
// Graph documents it on.
func isApprovalList(path string) bool {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	return len(segs) == 3 && strings.EqualFold(segs[0], "beta") && strings.EqualFold(segs[1], "deviceManagement") &&
		strings.EqualFold(segs[2], "operationApprovalRequests")
}

// The permissions that allow listing approval requests, besides the device configurations' own.
const (
	permissionRBACRead      = "DeviceManagementRBAC.Read.All"
	permissionRBACReadWrite = "DeviceManagementRBAC.ReadWrite.All"
)

// approvalFilter is the $filter the documentation shows, on requestId, or on the key.
var approvalFilter = regexp.MustCompile(`^\s*(requestId|id)\s+eq\s+'([^']*)'\s*$`)

// serveApprovals answers GET /beta/deviceManagement/operationApprovalRequests: the token's tenant's
// approval requests, those $filter names.
func (s *Server) serveApprovals(w http.ResponseWriter, r *http.Request, claims *accessClaims) int {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		return writeGraphError(w, http.StatusMethodNotAllowed, "", "The HTTP method '"+r.Method+"' is not allowed on operationApprovalRequests by the emulator.")
	}
	if !claims.hasRole(PermissionRead, PermissionReadWrite, permissionRBACRead, permissionRBACReadWrite) {
		return writeGraphError(w, http.StatusForbidden, "Forbidden", "Application is not authorized to perform this operation. Application must have one of the following scopes: "+
			strings.Join([]string{PermissionRead, PermissionReadWrite, permissionRBACRead, permissionRBACReadWrite}, ", "))
	}
	want := ""
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := approvalFilter.FindStringSubmatch(f)
		if m == nil {
			return writeGraphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: the emulator filters operationApprovalRequests on requestId eq '<id>' only.")
		}
		want = m[2]
		if want == "" {
			return writeGraphError(w, http.StatusBadRequest, "BadRequest", "Invalid filter clause: the id is empty.")
		}
	}
	items := []json.RawMessage{}
	for _, req := range s.ApprovalRequests(claims.TenantID) {
		if want == "" || strings.EqualFold(req.Code, want) {
			items = append(items, req.marshal())
		}
	}
	context := property{"@odata.context", "https://" + r.Host + "/beta/$metadata#deviceManagement/operationApprovalRequests"}
	return writeEntity(w, marshalObject([]property{context}, []property{{"value", items}}, nil))
}

// marshal writes the request as Graph's operationApprovalRequest.
func (r ApprovalRequest) marshal() json.RawMessage {
	identity := func(id string) map[string]any {
		return map[string]any{"@odata.type": "microsoft.graph.identity", "id": id, "displayName": nil}
	}
	return marshalObject([]property{{"@odata.type", "#microsoft.graph.operationApprovalRequest"}}, []property{
		{"id", r.Code},
		{"requestDateTime", r.Requested.Format(dateTimeLayout)},
		{"expirationDateTime", r.Expires.Format(dateTimeLayout)},
		{"lastModifiedDateTime", r.Requested.Format(dateTimeLayout)},
		{"requestor", map[string]any{"@odata.type": "microsoft.graph.identitySet", "application": identity(r.ClientID), "device": nil, "user": nil}},
		{"approver", nil},
		{"status", r.Status},
		{"requestJustification", r.Justification},
		{"approvalJustification", nil},
		{"requiredOperationApprovalPolicyTypes", []string{}},
	}, nil)
}
