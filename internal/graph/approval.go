package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// Intune's Multi Admin Approval (MAA), as "Use Multi Admin Approval with the Microsoft Graph API"
// (MicrosoftDocs/memdocs, intune/fundamentals/role-based-access-control/
// multi-admin-approval-graph-api.md, 2026-05-26) describes it for app-only callers:
//
//   - An access policy protects some kinds of Intune objects ("Configuration policies" among them);
//     a write (POST, PATCH, PUT, DELETE, never a GET) of such an object by an app that the policy
//     does not exclude is refused.
//   - Without an x-msft-approval-justification header the write fails: the page says 403, an
//     older version of it and the reports of people who met it say 400 BadRequest ("Header
//     'x-msft-approval-justification' is required to request approval"). Both are taken.
//   - With the header (the justification's text in Base64), the write fails with 403
//     ApprovalRequired and an x-msft-approval-code response header: an approval request was
//     created, which an approver approves or rejects in the Intune admin center. People who met it
//     report 412 Precondition Failed with the code BadRequest instead: any 400, 403 or 412 that
//     carries the header is taken as such a refusal.
//   - GET /beta/deviceManagement/operationApprovalRequests?$filter=requestId eq '<code>' reads the
//     request's status (operationApprovalRequestStatus: needsApproval, approved, rejected,
//     cancelled, completed, expired, ...).
//   - Once approved, the same request sent again with x-msft-approval-code: <code> instead of the
//     justification succeeds.
//
// The client sends the connection's justification with every write (Config.ApprovalJustification):
// a write that no policy protects goes through as it would without it. It never sends a write
// again by itself after such a refusal, not even with a fresh token after a 403: the second write
// would create a second approval request.

// The headers of Multi Admin Approval.
const (
	// HeaderApprovalJustification carries the Base64 of the justification of a write that may
	// need approval.
	HeaderApprovalJustification = "x-msft-approval-justification"
	// HeaderApprovalCode is, in a refusal, the id of the approval request Graph created; in a
	// request, the approved request's id, which lets the write through.
	HeaderApprovalCode = "x-msft-approval-code"
	// MaxApprovalJustification is the longest justification Intune takes, in characters:
	// operationApprovalRequest's requestJustification holds at most 1024, and a longer header is
	// refused with 400 ("Decoded content of 'x-msft-approval-justification' header must be no
	// greater than 1024 characters").
	MaxApprovalJustification = 1024
)

// The kinds of a write that Multi Admin Approval holds. They are numbered apart from the kinds of
// errors.go, so that a kind added there never takes their values.
const (
	// KindApprovalRequired: a Multi Admin Approval access policy protects the device configuration,
	// and Graph refused the write without creating an approval request: the write carried no
	// justification (or Graph gave no usable approval code). Needs a person: approve, exclude the
	// app from the policy, or give the connection a justification.
	KindApprovalRequired Kind = kindApprovalBase + iota
	// KindApprovalPending: Graph refused the write and created an approval request, whose code
	// ApprovalCode returns: the write goes through once an approver approves it and it is sent
	// again with the code. Needs a person (an approver), whom the caller waits for.
	KindApprovalPending
)

const kindApprovalBase Kind = 64

func init() {
	kindNames[KindApprovalRequired] = "ApprovalRequired"
	kindNames[KindApprovalPending] = "ApprovalPending"
}

// ApprovalRefusal is the cause of the *Error of a write that Multi Admin Approval refused.
type ApprovalRefusal struct {
	// Code is the id of the approval request Graph created (x-msft-approval-code); "" when it
	// created none (the write carried no justification), or gave one the client cannot use.
	Code string
}

// Error implements error.
func (a *ApprovalRefusal) Error() string {
	if a.Code == "" {
		return "Multi Admin Approval refused the write and created no approval request"
	}
	return "Multi Admin Approval created approval request " + a.Code
}

// ApprovalCode returns the id of the approval request that Graph created when it refused err's
// write, and false when err is no such refusal (or Graph created no request).
func ApprovalCode(err error) (string, bool) {
	var a *ApprovalRefusal
	if errors.As(err, &a) && a.Code != "" {
		return a.Code, true
	}
	return "", false
}

// codeInMessage finds the approval code in ApprovalRequired's message, which repeats the header:
// "... x-msft-approval-code: aabb1234-5678-9012-abcd-ef0123456789".
var codeInMessage = regexp.MustCompile(`(?i)x-msft-approval-code\s*:\s*([A-Za-z0-9._-]+)`)

// approvalRefusalOf tells whether an error answer is a refusal of Multi Admin Approval, from its
// x-msft-approval-code header, its code and its message (already decoded from the body); nil
// when it is not one.
func approvalRefusalOf(resp *http.Response, code, message string) *ApprovalRefusal {
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusPreconditionFailed:
	default:
		return nil
	}
	if h := strings.TrimSpace(resp.Header.Get(HeaderApprovalCode)); h != "" {
		if !validApprovalCode(h) {
			return &ApprovalRefusal{} // a request Graph made, which the client cannot name
		}
		return &ApprovalRefusal{Code: h}
	}
	lower := strings.ToLower(message)
	switch {
	case strings.EqualFold(code, "ApprovalRequired"):
		if m := codeInMessage.FindStringSubmatch(message); m != nil && validApprovalCode(m[1]) {
			return &ApprovalRefusal{Code: m[1]}
		}
		return &ApprovalRefusal{}
	case strings.Contains(lower, HeaderApprovalJustification) && strings.Contains(lower, "required"),
		strings.Contains(lower, "multi admin approval"):
		return &ApprovalRefusal{}
	}
	return nil
}

// approvalRefused reports whether resp, an answer to a write, is a refusal of Multi Admin
// Approval: it must not be sent again (a second write would make a second approval request).
func approvalRefused(resp *http.Response) bool {
	body, err := runtime.Payload(resp)
	if err != nil {
		return false
	}
	code, message, _ := decodeErrorBody(body)
	return approvalRefusalOf(resp, code, message) != nil
}

// validApprovalCode accepts what an approval code can be (a GUID, in practice): the code is sent
// back in a header and in a $filter, which nothing else may reach.
func validApprovalCode(code string) bool { return validConfigurationID(code) }

// classifyApproval classifies a refusal of Multi Admin Approval, and an unreadable answer to a
// read of an approval request; ok is false for any other error.
func classifyApproval(e *Error) (c Classification, ok bool) {
	var a *ApprovalRefusal
	switch {
	case errors.Is(e.Err, errMalformedApprovals):
		c = fact(ClassRetryable, KindUnreadableAnswer,
			fmt.Sprintf("%s answered with a body that is not a list of approval requests%s", graphAt(e.Host), malformedDetail(e.Err)))
		c.Host = e.Host
	case !errors.As(e.Err, &a):
		return Classification{}, false
	case a.Code != "":
		// The message repeats the request's code: the caller names it where it says so.
		c = fact(ClassNeedsPerson, KindApprovalPending,
			"Graph holds the write for Intune Multi Admin Approval: it created an approval request, which an approver must approve")
	default:
		c = fact(ClassNeedsPerson, KindApprovalRequired,
			"Graph refused the write: an Intune Multi Admin Approval access policy protects the device configuration, and no approval request was created"+graphSays(e))
	}
	c.Status, c.Code, c.Message = e.StatusCode, e.Code, e.Message
	return c, true
}

// approvalJustificationHeader is the header value of a justification: its UTF-8 in standard
// Base64, as the documentation's example encodes it ("app only test" is YXBwIG9ubHkgdGVzdA==).
func approvalJustificationHeader(justification string) string {
	if justification == "" {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(justification))
}

// approvalCodeKey is the context key of WithApprovalCode.
type approvalCodeKey struct{}

// WithApprovalCode returns a context whose writes carry code, an approved request's id, in
// x-msft-approval-code instead of the connection's justification: the resubmission of the write
// the request holds.
func WithApprovalCode(ctx context.Context, code string) context.Context {
	return context.WithValue(ctx, approvalCodeKey{}, code)
}

// ApprovalCodeFrom returns the approval code WithApprovalCode put in ctx, or "".
func ApprovalCodeFrom(ctx context.Context) string {
	code, _ := ctx.Value(approvalCodeKey{}).(string)
	return code
}

// setApprovalHeaders sets the approval headers of a write: the approved request's code from ctx,
// or else the connection's justification.
func (c *client) setApprovalHeaders(ctx context.Context, req *http.Request) {
	if req.Method == http.MethodGet {
		return
	}
	if code := ApprovalCodeFrom(ctx); code != "" {
		req.Header.Set(HeaderApprovalCode, code)
		return
	}
	if c.approval != "" {
		req.Header.Set(HeaderApprovalJustification, c.approval)
	}
}

// ApprovalStatus is an operationApprovalRequest's status (operationApprovalRequestStatus).
type ApprovalStatus string

// The statuses the documentation lists. A value not among them (unknownFutureValue, or one added
// later) is kept as Graph wrote it.
const (
	ApprovalUnknown       ApprovalStatus = "unknown"
	ApprovalNeedsApproval ApprovalStatus = "needsApproval"
	ApprovalApproved      ApprovalStatus = "approved"
	ApprovalRejected      ApprovalStatus = "rejected"
	ApprovalCancelled     ApprovalStatus = "cancelled"
	ApprovalCompleted     ApprovalStatus = "completed"
	ApprovalExpired       ApprovalStatus = "expired"
)

// ApprovalRequest is an operationApprovalRequest, as much of it as the operator reads.
type ApprovalRequest struct {
	// Code is the request's id, the x-msft-approval-code of the refusal that created it.
	Code string
	// Status is its status; "" when Graph served none.
	Status ApprovalStatus
	// Requested is its requestDateTime, and Expires its expirationDateTime; zero when Graph
	// served none (or one that is not a time).
	Requested, Expires time.Time
}

// ApprovalReader reads approval requests. A job's calls on this package's client implement it.
type ApprovalReader interface {
	// ApprovalRequest reads the approval request code; found is false when Graph lists none by
	// that id.
	ApprovalRequest(ctx context.Context, code string) (r ApprovalRequest, found bool, err error)
}

// errNoApprovalReader is the cause of ReadApproval's error for calls that cannot read approvals.
var errNoApprovalReader = errors.New("these calls cannot read approval requests")

// ReadApproval reads the approval request code with calls, which must be an ApprovalReader (the
// client's own calls, and those Guarded returns, are).
func ReadApproval(ctx context.Context, calls Calls, code string) (ApprovalRequest, bool, error) {
	r, ok := calls.(ApprovalReader)
	if !ok {
		return ApprovalRequest{}, false, &Error{Err: errNoApprovalReader}
	}
	return r.ApprovalRequest(ctx, code)
}

// ApprovalRequest implements ApprovalReader for Guarded's calls: a read is never guarded.
func (g guardedCalls) ApprovalRequest(ctx context.Context, code string) (ApprovalRequest, bool, error) {
	return ReadApproval(ctx, g.Calls, code)
}

// errInvalidApprovalCode is the cause of an *Error for an approval code the client will not send.
var errInvalidApprovalCode = errors.New("the approval code is empty or holds characters a code cannot have")

// errMalformedApprovals is the cause of an *Error for a body that is not a list of approval requests.
var errMalformedApprovals = errors.New("response body is not a valid list of approval requests")

// approvalsPath is where Graph lists the approval requests: on beta only, since Graph documents
// operationApprovalRequest on beta and nowhere else. The client reads them there whatever the
// connection's apiVersion: a v1.0 connection's writes can be held for approval too, and its
// requests can only be followed on beta.
const approvalsPath = "/beta/deviceManagement/operationApprovalRequests"

// approvalsURL is the URL of the list of approval requests on the connection's Graph endpoint
// (its path prefix, if it has one, kept).
func (c *client) approvalsURL() string {
	root := strings.TrimSuffix(c.base, "/deviceManagement/deviceConfigurations") // {graph}/{version}
	if i := strings.LastIndex(root, "/"); i >= 0 {
		root = root[:i]
	}
	return root + approvalsPath
}

// ApprovalRequest implements ApprovalReader: GET .../operationApprovalRequests?$filter=requestId eq
// '<code>', as the documentation shows it. The answer is untrusted input: it must be a JSON list,
// and only an item whose id (or requestId) is the code is taken. Graph's resource page does not
// list a requestId property, though the documented $filter names one: a lone item that carries
// no requestId is taken as the one the filter found.
func (c *client) ApprovalRequest(ctx context.Context, code string) (ApprovalRequest, bool, error) {
	if !validApprovalCode(code) {
		return ApprovalRequest{}, false, &Error{Err: errInvalidApprovalCode}
	}
	filter := strings.ReplaceAll(url.QueryEscape("requestId eq '"+code+"'"), "+", "%20")
	resp, err := c.do(ctx, http.MethodGet, c.approvalsURL()+"?$filter="+filter, nil)
	if err != nil {
		return ApprovalRequest{}, false, asError(err)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return ApprovalRequest{}, false, answerError(resp, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ApprovalRequest{}, false, newResponseError(resp, body, c.pacer.Now())
	}
	if err := checkJSONLabel(resp, errMalformedApprovals); err != nil {
		return ApprovalRequest{}, false, answerError(resp, err)
	}
	r, found, err := decodeApprovals(body, code)
	if err != nil {
		return ApprovalRequest{}, false, answerError(resp, err)
	}
	return r, found, nil
}

// approvalItem is an operationApprovalRequest as the list serves it.
type approvalItem struct {
	ID                 string  `json:"id"`
	RequestID          *string `json:"requestId"`
	Status             string  `json:"status"`
	RequestDateTime    string  `json:"requestDateTime"`
	ExpirationDateTime string  `json:"expirationDateTime"`
}

// decodeApprovals finds the request code in a list of approval requests.
func decodeApprovals(body []byte, code string) (ApprovalRequest, bool, error) {
	var list struct {
		Value *[]approvalItem `json:"value"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return ApprovalRequest{}, false, fmt.Errorf("%w: %s", errMalformedApprovals, describeJSONError(err))
	}
	if list.Value == nil {
		return ApprovalRequest{}, false, fmt.Errorf("%w: it has no value", errMalformedApprovals)
	}
	items := *list.Value
	for _, it := range items {
		if strings.EqualFold(it.ID, code) || it.RequestID != nil && strings.EqualFold(*it.RequestID, code) {
			return approvalOf(it, code), true, nil
		}
	}
	if len(items) == 1 && items[0].RequestID == nil {
		return approvalOf(items[0], code), true, nil
	}
	return ApprovalRequest{}, false, nil
}

// statusWord is what a status can be: an enum member's name. Anything else is no status at all.
var statusWord = regexp.MustCompile(`^[A-Za-z]{1,64}$`)

// approvalOf is what the operator reads of an item: its status, and its times.
func approvalOf(it approvalItem, code string) ApprovalRequest {
	r := ApprovalRequest{Code: code}
	if statusWord.MatchString(it.Status) {
		r.Status = ApprovalStatus(it.Status)
	}
	r.Requested, _ = time.Parse(time.RFC3339Nano, it.RequestDateTime)
	r.Expires, _ = time.Parse(time.RFC3339Nano, it.ExpirationDateTime)
	return r
}
