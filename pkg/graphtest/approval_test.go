package graphtest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// approvalList reads the tenant's approval requests, with filter when it is not "".
func approvalList(t *testing.T, srv *Server, tok, version, filter string) (response, []map[string]any) {
	t.Helper()
	u := srv.URL() + "/" + version + "/deviceManagement/operationApprovalRequests"
	if filter != "" {
		u += "?$filter=" + url.QueryEscape(filter)
	}
	res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil)
	if res.status != http.StatusOK {
		return res, nil
	}
	var body struct {
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(res.body, &body); err != nil {
		t.Fatalf("list: %v: %s", err, res.body)
	}
	return res, body.Value
}

func justification(text string) map[string]string {
	return map[string]string{headerApprovalJustification: base64.StdEncoding.EncodeToString([]byte(text))}
}

// TestApprovalWorkflow follows a protected write from its refusal to its resubmission, as the
// documentation's steps go.
func TestApprovalWorkflow(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.RequireApproval(tenantA, configA, true)
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("v1.0", configA)
	body := `{"successCount":12}`

	// Reads are never held.
	if res := call(t, srv.Client(), http.MethodGet, u, tok, "", nil); res.status != http.StatusOK {
		t.Fatalf("GET: %d %s", res.status, res.body)
	}
	// No justification: refused, no request.
	res := call(t, srv.Client(), http.MethodPatch, u, tok, body, nil)
	if res.status != http.StatusForbidden || !strings.Contains(res.graphError(t).Message, "Header 'x-msft-approval-justification' is required to request approval") {
		t.Fatalf("without a justification: %d %s", res.status, res.body)
	}
	if len(srv.ApprovalRequests(tenantA)) != 0 {
		t.Fatal("a request without a justification")
	}
	// Justifications Intune refuses.
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, body, map[string]string{headerApprovalJustification: "not base64!"}); res.status != http.StatusBadRequest {
		t.Errorf("a justification that is not Base64: %d", res.status)
	}
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, body, justification(strings.Repeat("é", 1025))); res.status != http.StatusBadRequest ||
		!strings.Contains(res.graphError(t).Message, "must be no greater than 1024 characters") {
		t.Errorf("a justification of 1025 characters: %d %s", res.status, res.body)
	}

	// Step 1 and 2: a justification creates a request, named in the header and the message.
	res = call(t, srv.Client(), http.MethodPatch, u, tok, body, justification("app only test"))
	code := res.header.Get(headerApprovalCode)
	e := res.graphError(t)
	if res.status != http.StatusForbidden || e.Code != "ApprovalRequired" || !guid.MatchString(code) || !strings.HasSuffix(e.Message, "x-msft-approval-code: "+code) {
		t.Fatalf("with a justification: %d %s (code %q)", res.status, res.body, code)
	}
	reqs := srv.ApprovalRequests(tenantA)
	if len(reqs) != 1 || reqs[0].Code != code || reqs[0].Justification != "app only test" || reqs[0].ClientID != clientRW ||
		reqs[0].Status != ApprovalNeedsApproval || reqs[0].Expires.Sub(reqs[0].Requested) != approvalExpiry {
		t.Fatalf("requests: %+v", reqs)
	}
	if got, _ := srv.Overview(tenantA, configA); got.SuccessCount != 3 {
		t.Errorf("successCount %d: a held write was applied", got.SuccessCount)
	}

	// Step 3: the request's status, by the documentation's filter, on beta only.
	_, items := approvalList(t, srv, tok, "beta", "requestId eq '"+code+"'")
	if len(items) != 1 || items[0]["id"] != code || items[0]["status"] != ApprovalNeedsApproval || items[0]["requestJustification"] != "app only test" {
		t.Fatalf("filtered list: %v", items)
	}
	if _, items := approvalList(t, srv, mustToken(t, srv, tenantA, clientRO), "beta", ""); len(items) != 1 {
		t.Errorf("unfiltered list with Read.All: %v", items)
	}
	if _, items := approvalList(t, srv, tok, "beta", "requestId eq '00000000-0000-0000-0000-000000000000'"); len(items) != 0 {
		t.Errorf("another id: %v", items)
	}
	if res, _ := approvalList(t, srv, tok, "beta", "status eq 'approved'"); res.status != http.StatusBadRequest {
		t.Errorf("another filter: %d", res.status)
	}
	if res, _ := approvalList(t, srv, tok, "v1.0", ""); res.status != http.StatusBadRequest {
		t.Errorf("the list on v1.0: %d %s, want Graph's 400 for an unknown segment", res.status, res.body)
	}

	// Before approval the code does not let the write through.
	withCode := map[string]string{headerApprovalCode: code}
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, body, withCode); res.status != http.StatusForbidden || res.header.Get(headerApprovalCode) != code {
		t.Errorf("the code before approval: %d %s", res.status, res.body)
	}
	if err := srv.Approve(code); err != nil {
		t.Fatal(err)
	}
	// Step 4: only the same write goes through, once.
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":13}`, withCode); res.status != http.StatusBadRequest {
		t.Errorf("another body with the code: %d %s", res.status, res.body)
	}
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, ` { "successCount" : 12 } `, withCode); res.status != http.StatusOK {
		t.Fatalf("resubmission: %d %s", res.status, res.body)
	}
	if got, _ := srv.Overview(tenantA, configA); got.SuccessCount != 12 {
		t.Errorf("successCount %d after the resubmission", got.SuccessCount)
	}
	if reqs := srv.ApprovalRequests(tenantA); reqs[0].Status != ApprovalCompleted || reqs[0].Resubmissions != 1 {
		t.Errorf("after the resubmission: %+v", reqs[0])
	}
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, body, withCode); res.status != http.StatusBadRequest {
		t.Errorf("a spent code: %d", res.status)
	}

	// Excluded (off): the writes go through without any header.
	srv.RequireApproval(tenantA, configA, false)
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":14}`, nil); res.status != http.StatusOK {
		t.Errorf("after the exclusion: %d %s", res.status, res.body)
	}
}

// TestApprovalRefusalStatuses: the refusals can take the statuses people report.
func TestApprovalRefusalStatuses(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.RequireApproval(tenantA, configA, true)
	srv.SetApprovalRefusals(ApprovalRefusals{MissingJustification: http.StatusBadRequest, RequestCreated: http.StatusPreconditionFailed})
	tok := mustToken(t, srv, tenantA, clientRW)
	u := srv.URL() + overviewPath("beta", configA)
	if res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":1}`, nil); res.status != http.StatusBadRequest || res.graphError(t).Code != "BadRequest" {
		t.Errorf("without a justification: %d %s", res.status, res.body)
	}
	res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":1}`, justification("x"))
	if res.status != http.StatusPreconditionFailed || res.graphError(t).Code != "BadRequest" || res.header.Get(headerApprovalCode) == "" {
		t.Errorf("with a justification: %d %s", res.status, res.body)
	}
}

// TestApprovalDecisions: rejected, cancelled and expired requests let nothing through; a test can
// only decide a request that exists.
func TestApprovalDecisions(t *testing.T) {
	for _, status := range []string{ApprovalRejected, ApprovalCancelled, ApprovalExpired} {
		t.Run(status, func(t *testing.T) {
			srv := newTestServer(t, Options{})
			srv.RequireApproval(tenantA, configA, true)
			tok := mustToken(t, srv, tenantA, clientRW)
			u := srv.URL() + overviewPath("v1.0", configA)
			code := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":1}`, justification("x")).header.Get(headerApprovalCode)
			if err := srv.SetApprovalStatus(code, status); err != nil {
				t.Fatal(err)
			}
			res := call(t, srv.Client(), http.MethodPatch, u, tok, `{"successCount":1}`, map[string]string{headerApprovalCode: code})
			if res.status != http.StatusBadRequest || !strings.Contains(res.graphError(t).Message, status) {
				t.Errorf("resubmission: %d %s", res.status, res.body)
			}
			if _, items := approvalList(t, srv, tok, "beta", "requestId eq '"+code+"'"); len(items) != 1 || items[0]["status"] != status {
				t.Errorf("list: %v", items)
			}
			// Another tenant does not see it, nor use its code.
			srv.AddApp(App{TenantID: tenantB, ClientID: clientRW, ClientSecret: "b"})
			if _, items := approvalList(t, srv, mustToken(t, srv, tenantB, clientRW), "beta", ""); len(items) != 0 {
				t.Errorf("another tenant lists %v", items)
			}
		})
	}
	srv := newTestServer(t, Options{})
	if err := srv.Approve("00000000-0000-0000-0000-000000000000"); err == nil {
		t.Error("approved a request that does not exist")
	}
}
