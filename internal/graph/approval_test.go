package graph

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/overview-operator/overview-operator/pkg/graphtest"
)

// TestApprovalJustificationHeader encodes a justification as the documentation's example does.
func TestApprovalJustificationHeader(t *testing.T) {
	if got := approvalJustificationHeader("app only test"); got != "YXBwIG9ubHkgdGVzdA==" {
		t.Errorf("header %q, want the documentation's YXBwIG9ubHkgdGVzdA==", got)
	}
	if got := approvalJustificationHeader(""); got != "" {
		t.Errorf("no justification: header %q, want none", got)
	}
}

// TestApprovalRefusalOf reads the refusals of Multi Admin Approval as Microsoft's page, its older
// version and people's reports show them, and nothing else.
func TestApprovalRefusalOf(t *testing.T) {
	const code = "aabb1234-5678-9012-abcd-ef0123456789"
	message := "Approval Required. Request Approval using the request ID returned as part of the x-msft-approval-code response header. x-msft-approval-code: " + code
	for _, tc := range []struct {
		name          string
		status        int
		header        string
		code, message string
		want          *ApprovalRefusal
	}{
		{"the page's refusal with a request", http.StatusForbidden, code, "ApprovalRequired", message, &ApprovalRefusal{Code: code}},
		{"412 with the header, as people report it", http.StatusPreconditionFailed, code, "BadRequest", message, &ApprovalRefusal{Code: code}},
		{"ApprovalRequired without the header: the code from the message", http.StatusForbidden, "", "ApprovalRequired", message, &ApprovalRefusal{Code: code}},
		{"ApprovalRequired without any code", http.StatusForbidden, "", "ApprovalRequired", "Approval Required.", &ApprovalRefusal{}},
		{"a header that is no code", http.StatusForbidden, "a b/c", "ApprovalRequired", "", &ApprovalRefusal{}},
		{"no justification, 400 as reported", http.StatusBadRequest, "", "BadRequest", "Header 'x-msft-approval-justification' is required to request approval", &ApprovalRefusal{}},
		{"no justification, 403 as the page says", http.StatusForbidden, "", "Forbidden", "Header 'x-msft-approval-justification' is required to request approval", &ApprovalRefusal{}},
		{"the page's wording", http.StatusForbidden, "", "Forbidden", "The operation requires Multi Admin Approval.", &ApprovalRefusal{}},
		{"a justification too long is a bad request", http.StatusBadRequest, "", "BadRequest", "Decoded content of 'x-msft-approval-justification' header must be no greater than 1024 characters", nil},
		{"a missing permission", http.StatusForbidden, "", "Forbidden", "Application is not authorized to perform this operation.", nil},
		{"another status with the header", http.StatusNotFound, code, "ResourceNotFound", "", nil},
		{"a 429", http.StatusTooManyRequests, code, "TooManyRequests", message, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
			if tc.header != "" {
				resp.Header.Set(HeaderApprovalCode, tc.header)
			}
			got := approvalRefusalOf(resp, tc.code, tc.message)
			switch {
			case tc.want == nil && got != nil:
				t.Errorf("refusal %+v, want none", *got)
			case tc.want != nil && (got == nil || *got != *tc.want):
				t.Errorf("refusal %v, want %+v", got, *tc.want)
			}
		})
	}
}

// TestDecodeApprovals finds the request in a list, and only it.
func TestDecodeApprovals(t *testing.T) {
	const code = "aabb1234-5678-9012-abcd-ef0123456789"
	for _, tc := range []struct {
		name       string
		body       string
		found      bool
		status     ApprovalStatus
		malformed  bool
		wantExpiry bool
	}{
		{"by id", `{"value":[{"id":"other","status":"approved"},{"id":"` + strings.ToUpper(code) + `","status":"needsApproval","expirationDateTime":"2026-06-01T10:00:00Z"}]}`, true, ApprovalNeedsApproval, false, true},
		{"by requestId", `{"value":[{"id":"x","requestId":"` + code + `","status":"approved"}]}`, true, ApprovalApproved, false, false},
		{"a lone item without requestId: the filter's", `{"value":[{"id":"x","status":"rejected"}]}`, true, ApprovalRejected, false, false},
		{"a lone item of another requestId", `{"value":[{"id":"x","requestId":"y","status":"approved"}]}`, false, "", false, false},
		{"none", `{"value":[]}`, false, "", false, false},
		{"a status that is no word", `{"value":[{"id":"` + code + `","status":"approved; drop"}]}`, true, "", false, false},
		{"no value", `{}`, false, "", true, false},
		{"not JSON", `<html>`, false, "", true, false},
		{"a status of the wrong type", `{"value":[{"id":"` + code + `","status":2}]}`, false, "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, found, err := decodeApprovals([]byte(tc.body), code)
			if tc.malformed {
				if !errors.Is(err, errMalformedApprovals) {
					t.Fatalf("error %v, want a malformed list", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found || r.Status != tc.status {
				t.Errorf("found %v, status %q; want %v, %q", found, r.Status, tc.found, tc.status)
			}
			if found && r.Code != code {
				t.Errorf("code %q, want %q", r.Code, code)
			}
			if tc.wantExpiry && r.Expires.IsZero() {
				t.Error("no expiry read")
			}
		})
	}
}

// approvalTenant is the tenant of these tests: one of their own, so that their pacers, dropped
// some time after they end, take no metric series of testTenant's with them.
const approvalTenant = "00000000-0000-0000-0000-0000000000aa"

// approvalEmulator is an emulator with approvalTenant's app and seeded configuration, and its
// connection.
func approvalEmulator(t *testing.T) (*emulator, Config) {
	t.Helper()
	e := newEmulator(t, graphtest.Options{})
	e.AddApp(graphtest.App{TenantID: approvalTenant, ClientID: testClient, ClientSecret: testSecret})
	e.Seed(approvalTenant, configID, e.seeded)
	cfg := e.config()
	cfg.TenantID = approvalTenant
	return e, cfg
}

// TestApprovalRequired: a protected configuration's PATCH without a justification is refused,
// classified as ApprovalRequired (not a missing permission), and sent once: no fresh token and
// second PATCH after the 403, as after a plain 403.
func TestApprovalRequired(t *testing.T) {
	for _, status := range []int{0, http.StatusBadRequest} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e, cfg := approvalEmulator(t)
			e.RequireApproval(approvalTenant, configID, true)
			e.SetApprovalRefusals(graphtest.ApprovalRefusals{MissingJustification: status})
			c := e.client(t, cfg, fastOptions())
			_, err := c.Patch(testContext(t), UserOverview, configID, Fields{SuccessCount: ptr[int32](12)})
			cl := Classify(err)
			if cl.Kind != KindApprovalRequired || cl.Class != ClassNeedsPerson {
				t.Fatalf("classified %v/%v (%s), want ApprovalRequired, NeedsPerson", cl.Kind, cl.Class, cl.Description)
			}
			if _, ok := ApprovalCode(err); ok {
				t.Error("an approval code without a request")
			}
			if !strings.Contains(cl.Description, "Multi Admin Approval") || strings.Contains(cl.Description, "lacks a permission") {
				t.Errorf("description %q", cl.Description)
			}
			if n := e.CountRequests(func(r graphtest.Request) bool { return r.Method == http.MethodPatch }); n != 1 {
				t.Errorf("%d PATCHes sent, want 1", n)
			}
			if n := e.tokenRequests(); n != 1 {
				t.Errorf("%d token requests, want 1: no fresh token after the refusal", n)
			}
			if got, _ := e.Overview(approvalTenant, configID); got.SuccessCount != e.seeded.SuccessCount {
				t.Errorf("successCount %d: the refused PATCH was applied", got.SuccessCount)
			}
			// Reads are never held.
			if _, err := c.Get(testContext(t), UserOverview, configID); err != nil {
				t.Errorf("GET of a protected configuration: %v", err)
			}
		})
	}
}

// TestApprovalFollowed: with a justification, a protected PATCH creates an approval request
// (the justification sent, the code read), which the client follows on beta, whatever the
// connection's version, and sends again with the code once approved.
func TestApprovalFollowed(t *testing.T) {
	for _, status := range []int{0, http.StatusPreconditionFailed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e, cfg := approvalEmulator(t)
			e.RequireApproval(approvalTenant, configID, true)
			e.SetApprovalRefusals(graphtest.ApprovalRefusals{RequestCreated: status})
			cfg.ApprovalJustification = "Managed by overview-operator: ticket CHG-7 — réseau"
			c := e.client(t, cfg, fastOptions())
			ctx := testContext(t)
			f := Fields{SuccessCount: ptr[int32](12)}

			_, err := c.Patch(ctx, UserOverview, configID, f)
			cl := Classify(err)
			if cl.Kind != KindApprovalPending || cl.Class != ClassNeedsPerson {
				t.Fatalf("classified %v/%v (%s), want ApprovalPending", cl.Kind, cl.Class, cl.Description)
			}
			code, ok := ApprovalCode(err)
			reqs := e.ApprovalRequests(approvalTenant)
			if !ok || len(reqs) != 1 || reqs[0].Code != code {
				t.Fatalf("code %q (%v), emulator's requests %+v", code, ok, reqs)
			}
			if reqs[0].Justification != cfg.ApprovalJustification {
				t.Errorf("justification %q arrived, want %q", reqs[0].Justification, cfg.ApprovalJustification)
			}

			r, found, err := ReadApproval(ctx, c, code)
			if err != nil || !found || r.Status != ApprovalNeedsApproval || r.Expires.IsZero() {
				t.Fatalf("read %+v, found %v, err %v", r, found, err)
			}
			last := e.graphRequests()[len(e.graphRequests())-1]
			if last.APIVersion != "beta" || !strings.HasSuffix(last.Path, "/operationApprovalRequests") {
				t.Errorf("the request's status was read at %s %s, want beta", last.APIVersion, last.Path)
			}

			// Sent again before approval: refused again, with the same request.
			_, err = c.Patch(WithApprovalCode(ctx, code), UserOverview, configID, f)
			if again, _ := ApprovalCode(err); again != code {
				t.Fatalf("before approval: %v, want the same request", err)
			}
			if err := e.Approve(code); err != nil {
				t.Fatal(err)
			}
			if r, _, _ := ReadApproval(ctx, c, code); r.Status != ApprovalApproved {
				t.Fatalf("status %q after approval", r.Status)
			}
			if _, err := c.Patch(WithApprovalCode(ctx, code), UserOverview, configID, f); err != nil {
				t.Fatalf("resubmission: %v", err)
			}
			if got, _ := e.Overview(approvalTenant, configID); got.SuccessCount != 12 {
				t.Errorf("successCount %d after the resubmission, want 12", got.SuccessCount)
			}
			reqs = e.ApprovalRequests(approvalTenant)
			if len(reqs) != 1 || reqs[0].Resubmissions != 1 || reqs[0].Status != graphtest.ApprovalCompleted {
				t.Errorf("requests after the resubmission: %+v", reqs)
			}
			// The code is spent: a second resubmission is a bad request.
			if _, err := c.Patch(WithApprovalCode(ctx, code), UserOverview, configID, f); Classify(err).Kind != KindBadRequest {
				t.Errorf("a spent code: %v", err)
			}
		})
	}
}

// TestApprovalNotListed: a code Graph does not list is not found; one the client will not send
// is refused before any call.
func TestApprovalNotListed(t *testing.T) {
	e, cfg := approvalEmulator(t)
	c := e.client(t, cfg, fastOptions())
	_, found, err := ReadApproval(testContext(t), c, "aabb1234-5678-9012-abcd-ef0123456789")
	if err != nil || found {
		t.Errorf("found %v, err %v; want not found", found, err)
	}
	before := len(e.graphRequests())
	if _, _, err := ReadApproval(testContext(t), c, "x' or id ne '"); !errors.Is(err, errInvalidApprovalCode) {
		t.Errorf("error %v, want an invalid code", err)
	}
	if len(e.graphRequests()) != before {
		t.Error("a call was sent with an invalid code")
	}
	if _, _, err := ReadApproval(testContext(t), guardedCalls{Calls: c, wanted: func() error { return nil }}, "aabb"); err != nil {
		t.Errorf("through Guarded's calls: %v", err)
	}
}

// TestApprovalUnreadable: an answer that is not a list of approval requests is unreadable, and
// retried, not a failure that needs a person.
func TestApprovalUnreadable(t *testing.T) {
	e, cfg := approvalEmulator(t)
	e.Inject(graphtest.Fault{Method: http.MethodGet, Body: `{"items":[]}`})
	c := e.client(t, cfg, fastOptions())
	_, _, err := ReadApproval(testContext(t), c, "aabb1234-5678-9012-abcd-ef0123456789")
	cl := Classify(err)
	if cl.Kind != KindUnreadableAnswer || cl.Class != ClassRetryable || !strings.Contains(cl.Description, "not a list of approval requests") {
		t.Errorf("classified %v/%v: %s", cl.Kind, cl.Class, cl.Description)
	}
}
